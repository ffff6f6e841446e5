/**
 * The PersonalData service's request token (docs/adr/0005): the metadata header
 * `x-yui-auth: <public key hex>.<unix ms>.<signature hex>`, signing
 * "yui/v1/auth\0" || method path || unix ms as decimal. A node takes it once, within 60 s.
 */
import type { SigningKey } from "./ed25519.js";
import { AUTH, concat, toHex } from "./wire.js";

export const AUTH_HEADER = "x-yui-auth";

/** "Get" -> "/yui.v1.PersonalData/Get" (a full path is kept as it is). */
export function methodPath(method: string): string {
  return method.startsWith("/") ? method : `/yui.v1.PersonalData/${method}`;
}

export function authMessage(method: string, unixMs: number): Uint8Array {
  const enc = new TextEncoder();
  return concat(AUTH, enc.encode(methodPath(method)), enc.encode(String(unixMs)));
}

export function authHeader(key: SigningKey, method: string, unixMs: number = Date.now()): string {
  return `${toHex(key.publicKey)}.${unixMs}.${toHex(key.sign(authMessage(method, unixMs)))}`;
}

/** Call options for one PersonalData call: `client.personalData.get(req, pdOptions(key, "Get"))`. */
export function pdOptions(key: SigningKey, method: string): { headers: Record<string, string> } {
  return { headers: { [AUTH_HEADER]: authHeader(key, method) } };
}
