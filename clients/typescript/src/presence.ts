/**
 * Presence at a volunteer check-in (docs/wire.md, "Presence at check-in"): the facility's
 * device shows fresh random bytes, the volunteer's device signs them with the volunteer's own
 * account key for the activity, and the facility sends both in its `CheckIn` (`challenge`,
 * `presenceSignature`).
 */
import type { SigningKey } from "./ed25519.js";
import { concat } from "./wire.js";

export const PRESENCE_DOMAIN = new TextEncoder().encode("yui/v1/presence\0");

/** 16 fresh random bytes for the facility's device to show. */
export function challenge(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

export function presenceMessage(activityId: string, challengeBytes: Uint8Array): Uint8Array {
  return concat(PRESENCE_DOMAIN, new TextEncoder().encode(activityId), challengeBytes);
}

/** The volunteer device's signature over the challenge for this activity. */
export function sign(volunteer: SigningKey, activityId: string, challengeBytes: Uint8Array): Uint8Array {
  return volunteer.sign(presenceMessage(activityId, challengeBytes));
}
