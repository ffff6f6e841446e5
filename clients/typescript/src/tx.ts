/**
 * Signed transactions (proto/yui/v1/tx.proto, docs/wire.md "Transactions"): a canonical
 * `TxBody` with a random 16-byte nonce and an expiry height, signed over
 * "yui/v1/tx-signature\0" || body; the id covers body and signature.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { SignedTransactionSchema, TxBodySchema, type SignedTransaction, type TxBody } from "../gen/yui/v1/tx_pb.js";
import type { GovernanceCall } from "../gen/yui/v1/governance_pb.js";
import type { ReliefCall } from "../gen/yui/v1/relief_pb.js";
import type { PointsCall } from "../gen/yui/v1/points_pb.js";
import type { EcoCall } from "../gen/yui/v1/eco_pb.js";
import type { VolunteerCall } from "../gen/yui/v1/volunteer_pb.js";
import { concat, hashParts, TX_BODY, TX_ID, TX_SIGNATURE, u32 } from "./wire.js";
import type { SigningKey } from "./ed25519.js";

export const NONCE_BYTES = 16;

/** One contract's call message. */
export type Call = GovernanceCall | ReliefCall | PointsCall | EcoCall | VolunteerCall;

function callField(call: Call): TxBody["call"] {
  switch (call.$typeName) {
    case "yui.v1.GovernanceCall":
      return { case: "governance", value: call };
    case "yui.v1.ReliefCall":
      return { case: "relief", value: call };
    case "yui.v1.PointsCall":
      return { case: "points", value: call };
    case "yui.v1.EcoCall":
      return { case: "eco", value: call };
    case "yui.v1.VolunteerCall":
      return { case: "volunteer", value: call };
  }
}

/** The body of `call` by `key`, valid up to `expiresAtHeight`, with a random nonce (or `nonce`). */
export function body(key: SigningKey, chainId: string, expiresAtHeight: bigint, call: Call, nonce?: Uint8Array): TxBody {
  const n = nonce ?? crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  if (n.length !== NONCE_BYTES) throw new Error(`the nonce is ${NONCE_BYTES} bytes`);
  return create(TxBodySchema, { chainId, signer: key.publicKey, expiresAtHeight, nonce: n, call: callField(call) });
}

export function signBytes(bodyBytes: Uint8Array): Uint8Array {
  return concat(TX_SIGNATURE, bodyBytes);
}

/** Sign already-encoded body bytes exactly as they are (a node refuses them unless they are
 * the body's canonical encoding). */
export function signBodyBytes(key: SigningKey, bodyBytes: Uint8Array): SignedTransaction {
  return create(SignedTransactionSchema, { body: bodyBytes, signature: key.sign(signBytes(bodyBytes)) });
}

/** Encode `b` canonically (fields in number order, defaults omitted) and sign it. */
export function sign(key: SigningKey, b: TxBody): SignedTransaction {
  return signBodyBytes(key, toBinary(TxBodySchema, b, { writeUnknownFields: false }));
}

/** blake3("yui/v1/tx-id\0" || u32_le(len(body)) || body || signature). */
export function txId(bodyBytes: Uint8Array, signature: Uint8Array): Uint8Array {
  return hashParts(TX_ID, u32(bodyBytes.length), bodyBytes, signature);
}

/** The replay-protection key: one body is accepted once within its expiry window. */
export function bodyHash(bodyBytes: Uint8Array): Uint8Array {
  return hashParts(TX_BODY, bodyBytes);
}
