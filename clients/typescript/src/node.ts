/** Node.js: gRPC over HTTP/2, key files and a file-backed checkpointer. */
import { createGrpcTransport } from "@connectrpc/connect-node";
import { create } from "@bufbuild/protobuf";
import { readFile, rename, writeFile, open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CursorSchema, type Cursor } from "../gen/yui/v1/common_pb.js";
import { YuiClient, type Checkpointer } from "./client.js";
import { SigningKey } from "./ed25519.js";

export interface NodeClientOptions {
  key?: SigningKey;
  chainId?: string;
  /** PEM of the CA the node's certificate chains to, for a node that serves TLS. */
  rootCertificates?: string | Buffer;
}

/** A client of the node at `target` ("127.0.0.1:50051", "http://…" or "https://…"). */
export function connect(target: string, opts: NodeClientOptions = {}): YuiClient {
  const tls = opts.rootCertificates !== undefined || target.startsWith("https://");
  const baseUrl = /^https?:\/\//.test(target) ? target : `${tls ? "https" : "http"}://${target}`;
  const transport = createGrpcTransport({
    baseUrl,
    nodeOptions: opts.rootCertificates !== undefined ? { ca: opts.rootCertificates } : undefined,
  });
  return new YuiClient(transport, opts.key, opts.chainId);
}

/** Read a Yui key file (the 32-byte secret as hex; genesis/README.md, "Key files"). */
export async function keyFromFile(path: string): Promise<SigningKey> {
  try {
    return SigningKey.fromKeyFileText(await readFile(path, "ascii"));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

/** Keeps the cursor in a JSON file, replaced atomically (temporary file, fsync, rename), so a
 * backend restarted at any moment resumes after the last event it finished handling. */
export class FileCheckpointer implements Checkpointer {
  constructor(readonly path: string) {}
  async load(): Promise<Cursor | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    const d = JSON.parse(text);
    return create(CursorSchema, { height: BigInt(d.height), index: Number(d.index) });
  }
  async save(c: Cursor): Promise<void> {
    const tmp = join(dirname(this.path), `.cursor-${process.pid}-${Date.now()}`);
    await writeFile(tmp, JSON.stringify({ height: c.height.toString(), index: c.index }));
    const f = await open(tmp, "r+");
    try {
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, this.path);
  }
}

export * from "./index.js";
