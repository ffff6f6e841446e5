/** Browsers: gRPC-web, which every Yui node serves on its gRPC port. */
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { YuiClient } from "./client.js";
import type { SigningKey } from "./ed25519.js";

/** A client of the node at `baseUrl` ("https://node.example.jp:50051") over gRPC-web. */
export function connectWeb(baseUrl: string, opts: { key?: SigningKey; chainId?: string } = {}): YuiClient {
  return new YuiClient(createGrpcWebTransport({ baseUrl }), opts.key, opts.chainId);
}

export * from "./index.js";
