// The SDK in a real browser: headless Chromium (Debian's package, which
// scripts/install-sdk-deps installs) opens a page served from another origin than the node's
// and talks to the node over gRPC-web (CORS, the gRPC-web translation on the node's port).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { startDevnet } from "./devnet.js";

const CHROMIUM = process.env.YUI_CHROMIUM ?? "/usr/bin/chromium";
const HERE = fileURLToPath(new URL(".", import.meta.url));
// The page's source: dist/test/ -> test/browser/page.ts.
const PAGE = join(HERE, "..", "..", "test", "browser", "page.ts");

test("a web page calls a node over gRPC-web from another origin", async (t) => {
  if (!existsSync(CHROMIUM)) {
    // CI installs Chromium (scripts/install-sdk-deps); elsewhere say why nothing ran.
    assert.ok(!process.env.CI, `CI must have Chromium at ${CHROMIUM}`);
    t.skip(`no Chromium at ${CHROMIUM} (set YUI_CHROMIUM, or run scripts/install-sdk-deps as root)`);
    return;
  }
  const bundle = await build({ entryPoints: [PAGE], bundle: true, format: "esm", write: false, platform: "browser", target: "es2022" });
  const js = bundle.outputFiles[0].text;
  const server = createServer((req, res) => {
    if (req.url === "/app.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(js);
    } else {
      res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><pre id="result"></pre><script type="module" src="/app.js"></script>');
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  // A fresh, empty profile for this run, removed after it.
  const profile = mkdtempSync(join(tmpdir(), "yui-sdk-chromium-"));
  let net: Awaited<ReturnType<typeof startDevnet>> | undefined;
  let context: Awaited<ReturnType<typeof chromium.launchPersistentContext>> | undefined;
  try {
    // Started inside the try, so a failure to start either stops what did start.
    net = await startDevnet();
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const page = await context.newPage();
    const key = readFileSync(net.adminKeyFile, "ascii").trim();
    await page.goto(`http://127.0.0.1:${port}/#node=${encodeURIComponent(`http://${net.endpoint}`)}&key=${key}`);
    await page.waitForFunction(() => document.getElementById("result")?.textContent !== "", undefined, { timeout: 60_000 });
    const r = JSON.parse((await page.textContent("#result")) ?? "{}");
    assert.equal(r.ok, true, r.error);
    assert.equal(r.chainId, "yui-devnet");
    assert.equal(r.provenHeight, r.height);
    assert.match(r.again, /^relief\./);
  } finally {
    await context?.close();
    server.close();
    await net?.stop();
    rmSync(profile, { recursive: true, force: true });
  }
});
