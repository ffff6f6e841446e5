// A real devnet for the SDK's tests: `yui devnet` in a temporary directory, its gRPC endpoint
// read from what it prints, stopped (its whole process group) by `stop()`.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect } from "../src/node.js";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));

export interface Devnet {
  endpoint: string;
  dir: string;
  adminKeyFile: string;
  stop(): Promise<void>;
}

export async function startDevnet(): Promise<Devnet> {
  const bin = process.env.YUI_BIN ?? join(REPO, "target", "debug", "yui");
  if (!existsSync(bin)) throw new Error(`no yui binary at ${bin}: run \`cargo build --bin yui\` or set YUI_BIN`);
  const dir = mkdtempSync(join(tmpdir(), "yui-sdk-ts-"));
  const proc: ChildProcess = spawn(bin, ["devnet", "--validators", "1", "--dir", dir], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  const stop = async () => {
    if (proc.exitCode === null && proc.pid) {
      const exited = new Promise((r) => proc.once("exit", r));
      process.kill(-proc.pid, "SIGINT");
      const timer = setTimeout(() => proc.pid && process.kill(-proc.pid, "SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the devnet printed no endpoint in 60 s:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /gRPC http:\/\/(127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the devnet exited (${code}):\n${out}`));
    });
  }).catch(async (e) => {
    await stop();
    throw e;
  });
  // Wait for the first block (bounded).
  const c = connect(endpoint);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      if ((await c.chainInfo()).height >= 1n) break;
    } catch {
      // not serving yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error("the devnet committed no block within 60 s");
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { endpoint, dir, adminKeyFile: join(dir, "keys", "hachioji-admin-1.key"), stop };
}
