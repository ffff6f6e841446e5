/**
 * Yui SDK for TypeScript: build, sign and submit transactions and wait for their receipts,
 * follow events from a stored checkpoint, call PersonalData with its auth header, and verify
 * inclusion proofs and volunteer certificates offline under the chain's rule (ZIP 215). The
 * generated messages and services are under `gen/yui/v1/*_pb.js`. In Node use `./node`
 * (`connect`), in a browser `./web` (`connectWeb`).
 */
export * as auth from "./auth.js";
export * as certificate from "./certificate.js";
export * as notification from "./notification.js";
export * as presence from "./presence.js";
export * as proof from "./proof.js";
export * as tx from "./tx.js";
export * as wire from "./wire.js";
export { SigningKey, verify as verifySignature } from "./ed25519.js";
export { ValidatorSet } from "./wire.js";
export {
  AFTER_BLOCK,
  MemoryCheckpointer,
  RejectedError,
  TransactionFailed,
  YuiClient,
  type Checkpointer,
  type Committed,
  type SubmitOptions,
} from "./client.js";
