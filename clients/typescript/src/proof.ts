/**
 * Offline verification of inclusion proofs (`yui.v1.InclusionProof`, docs/wire.md "Proofs"), in
 * the order the nodes and the other SDKs check them, so every implementation names the same
 * reason (`ProofError.code`) for the same proof. The caller passes the validator set it trusts
 * for the proof's height; nothing here asks a node anything.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { InclusionProofSchema, ReceiptSchema, type CommitCertificate, type InclusionProof } from "../gen/yui/v1/ledger_pb.js";
import type { Event } from "../gen/yui/v1/events_pb.js";
import { verify as verifySignature } from "./ed25519.js";
import { txId as txIdOf } from "./tx.js";
import {
  concat,
  equal,
  EVENT,
  headerHash,
  MalformedError,
  merkleLeaf,
  merkleRootFrom,
  precommitBytes,
  toHex,
  type ValidatorSet,
} from "./wire.js";

/** A proof that does not prove what it claims: `code` is stable (docs/wire.md,
 * "Verification results"), the message a sentence for the person who checked it. */
export class ProofError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ProofError";
  }
}

export interface Proven {
  height: bigint;
  blockHash: Uint8Array;
  txId: Uint8Array;
  success: boolean;
  event?: Event;
}

/** Decode proof bytes, refusing any encoding but the canonical one. */
export function decode(bytes: Uint8Array): InclusionProof {
  let p: InclusionProof;
  try {
    p = fromBinary(InclusionProofSchema, bytes);
  } catch (e) {
    throw new ProofError("not_a_proof", `this is not an inclusion proof: ${(e as Error).message}`);
  }
  if (!equal(toBinary(InclusionProofSchema, p, { writeUnknownFields: false }), bytes)) {
    throw new ProofError("not_canonical", "the proof is not canonically encoded (extra, reordered or altered bytes)");
  }
  return p;
}

const malformed = (what: string) => new ProofError("malformed", `the proof is malformed: ${what}`);

function size(b: Uint8Array, n: number, what: string) {
  if (b.length !== n) throw malformed(`the ${what} must be ${n} bytes, got ${b.length}`);
}

const certFails = (code: string, why: string) => new ProofError(code, `the commit certificate does not verify: ${why}`);

/** Check a commit certificate: for this block, each signature a valid precommit (ZIP 215) by a
 * distinct member, together at least a quorum of voting power. */
export function verifyCommitCertificate(c: CommitCertificate, chainId: string, height: bigint, blockHash: Uint8Array, set: ValidatorSet): void {
  if (c.height !== height || !equal(c.blockHash, blockHash)) {
    throw certFails(
      "wrong_block",
      `certificate is for height ${c.height} block ${toHex(c.blockHash)}, expected height ${height} block ${toHex(blockHash)}`,
    );
  }
  const seen = new Set<number>();
  let power = 0n;
  for (const s of c.signatures) {
    const idx = set.validators.findIndex((v) => equal(v.publicKey, s.validator));
    if (idx < 0) throw certFails("unknown_validator", `signature by ${toHex(s.validator.slice(0, 4))} who is not a validator at this height`);
    const v = set.validators[idx];
    if (seen.has(idx)) throw certFails("duplicate_signature", `validator ${v.name} signed twice`);
    seen.add(idx);
    if (!verifySignature(s.validator, precommitBytes(chainId, c.height, c.round, c.blockHash, s.validator), s.signature)) {
      throw certFails("bad_signature", `invalid precommit signature by validator ${v.name}`);
    }
    power += v.power;
  }
  const need = set.quorumPower();
  if (power < need) throw certFails("no_quorum", `signatures carry ${power} voting power, a quorum needs ${need}`);
}

/** Check a decoded proof against the validator set trusted for its height. */
export function verify(p: InclusionProof, set: ValidatorSet): Proven {
  const h = p.header;
  if (!h) throw malformed("the header is missing");
  let blockHash: Uint8Array;
  try {
    blockHash = headerHash(h);
  } catch (e) {
    if (e instanceof MalformedError) throw malformed(e.message);
    throw e;
  }
  if (!equal(h.validatorSetHash, set.hash())) {
    throw new ProofError(
      "other_validator_set",
      "the block was decided by a different validator set than the one trusted here (changed by governance since?)",
    );
  }
  const cert = p.certificate;
  if (!cert) throw malformed("the commit certificate is missing");
  size(cert.blockHash, 32, "certificate's block hash");
  for (const s of cert.signatures) {
    size(s.validator, 32, "validator key");
    size(s.signature, 64, "precommit signature");
  }
  verifyCommitCertificate(cert, h.chainId, h.height, blockHash, set);
  const t = p.transaction;
  if (!t) throw malformed("the transaction is missing");
  const id = txIdOf(t.body, t.signature);
  if (!p.txProof) throw malformed("the transaction's Merkle path is missing");
  for (const s of p.txProof.steps) size(s.hash, 32, "Merkle sibling");
  const txRoot = merkleRootFrom(p.txProof, merkleLeaf(id));
  if (!txRoot || !equal(txRoot, h.txRoot)) {
    throw new ProofError("tx_not_in_block", "the transaction is not in the block (its Merkle path does not lead to the header's transaction root)");
  }
  const r = p.receipt;
  if (!r) throw malformed("the receipt is missing");
  if (r.firstEvent) throw new ProofError("receipt_has_cursor", "the receipt carries a cursor, which is not committed data");
  if (!p.receiptProof) throw malformed("the receipt's Merkle path is missing");
  for (const s of p.receiptProof.steps) size(s.hash, 32, "Merkle sibling");
  if (p.receiptProof.index !== p.txProof.index) {
    throw new ProofError("receipt_position", "the receipt path is for another position than the transaction");
  }
  const leaf = concat(EVENT, id, toBinary(ReceiptSchema, r, { writeUnknownFields: false }));
  const eventRoot = merkleRootFrom(p.receiptProof, merkleLeaf(leaf));
  if (!eventRoot || !equal(eventRoot, h.eventRoot)) {
    throw new ProofError(
      "receipt_not_committed",
      "the receipt is not the one committed for this transaction (its Merkle path does not lead to the header's event root)",
    );
  }
  let event: Event | undefined;
  if (p.eventCursor) {
    if (p.eventCursor.height !== h.height) {
      throw new ProofError("event_other_block", `the event cursor names block ${p.eventCursor.height}, but the proof is of block ${h.height}`);
    }
    event = r.events[p.eventIndex];
    if (!event) throw new ProofError("no_such_event", `the receipt has no event ${p.eventIndex}`);
  }
  return { height: h.height, blockHash, txId: id, success: r.success, event };
}

/** Decode and verify proof bytes. */
export function verifyBytes(bytes: Uint8Array, set: ValidatorSet): Proven {
  return verify(decode(bytes), set);
}
