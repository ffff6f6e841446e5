/**
 * Notification records (`GovernanceCall.recordNotification`, docs/wire.md, "Notification
 * records"): the recipient goes on the ledger only as HMAC-SHA256, under the organization's own
 * notification key, of the normalized address. Keep the key with the backend; without it the
 * hash links nothing, with it the organization shows that a given address was notified.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concat } from "./wire.js";

export const RECIPIENT_DOMAIN = new TextEncoder().encode("yui/v1/recipient\0");

/** The channel's short name, as in `NotificationChannel` without its prefix. */
export type Channel = "EMAIL" | "SMS" | "PUSH" | "POST" | "PHONE";

/** A fresh 32-byte notification key. */
export function newKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

const isAsciiSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";

/** The address as it is hashed. */
export function normalize(channel: Channel, address: string): string {
  let a = address;
  while (a.length > 0 && isAsciiSpace(a[0]!)) a = a.slice(1);
  while (a.length > 0 && isAsciiSpace(a[a.length - 1]!)) a = a.slice(0, -1);
  if (channel === "EMAIL") return a.replace(/[A-Z]/g, (c) => c.toLowerCase());
  if (channel === "SMS" || channel === "PHONE") {
    const digits = a.replace(/[^0-9]/g, "");
    return a.startsWith("+") ? `+${digits}` : digits;
  }
  return a;
}

/** The 32 bytes to put in `RecordNotification.recipientHash`. */
export function recipientHash(key: Uint8Array, channel: Channel, address: string): Uint8Array {
  return hmac(sha256, key, concat(RECIPIENT_DOMAIN, new TextEncoder().encode(normalize(channel, address))));
}
