/**
 * Yui's wire format (docs/wire.md): domain-separated blake3 hashes, the borsh encodings of
 * headers, validator sets and precommits, Merkle trees, and canonical protobuf decoding.
 */
import { blake3 } from "@noble/hashes/blake3.js";
import { fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { BlockHeader, GetChainInfoResponse, MerkleProof } from "../gen/yui/v1/ledger_pb.js";
import { FaultModel } from "../gen/yui/v1/governance_pb.js";

const utf8 = new TextEncoder();

export const TX_SIGNATURE = utf8.encode("yui/v1/tx-signature\0");
export const TX_ID = utf8.encode("yui/v1/tx-id\0");
export const TX_BODY = utf8.encode("yui/v1/tx-body\0");
export const HEADER = utf8.encode("yui/v1/header\0");
export const VOTE = utf8.encode("yui/v1/vote\0");
export const VALIDATOR_SET = utf8.encode("yui/v1/validator-set\0");
export const EVENT = utf8.encode("yui/v1/event\0");
export const MERKLE_LEAF = utf8.encode("yui/v1/merkle-leaf\0");
export const MERKLE_NODE = utf8.encode("yui/v1/merkle-node\0");
export const AUTH = utf8.encode("yui/v1/auth\0");

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) throw new Error("not a hex string");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** blake3(domain || parts...). */
export function hashParts(domain: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = blake3.create();
  h.update(domain);
  for (const p of parts) h.update(p);
  return h.digest();
}

// --- borsh -----------------------------------------------------------------------------------

export function u8(n: number): Uint8Array {
  return Uint8Array.of(n);
}
export function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}
export function u64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, n), true);
  return b;
}
export function str(s: string): Uint8Array {
  const b = utf8.encode(s);
  return concat(u32(b.length), b);
}

function fixed(b: Uint8Array, n: number, what: string): Uint8Array {
  if (b.length !== n) throw new MalformedError(`the ${what} must be ${n} bytes, got ${b.length}`);
  return b;
}

/** A field of a fixed size has another size. */
export class MalformedError extends Error {}

/** borsh(Header): the bytes a block hash covers. */
export function headerBytes(h: BlockHeader): Uint8Array {
  return concat(
    str(h.chainId),
    u64(h.height),
    u64(h.timeMs),
    fixed(h.parentHash, 32, "parent hash"),
    fixed(h.proposer, 32, "proposer key"),
    fixed(h.validatorSetHash, 32, "validator set hash"),
    fixed(h.txRoot, 32, "transaction root"),
    fixed(h.stateRoot, 32, "state root"),
    fixed(h.eventRoot, 32, "event root"),
    u32(h.protocolVersion),
  );
}

/** The block hash of a header. */
export function headerHash(h: BlockHeader): Uint8Array {
  return hashParts(HEADER, headerBytes(h));
}

export interface Validator {
  organization: string;
  name: string;
  publicKey: Uint8Array;
  power: bigint;
}

export type FaultModelName = "byzantine" | "crash";

/** The validators deciding a height, in their order, and the fault model. */
export class ValidatorSet {
  constructor(
    readonly validators: Validator[],
    readonly faultModel: FaultModelName,
  ) {}

  /** The set of a `GetChainInfoResponse` (the validators deciding its next height). */
  static fromChainInfo(info: GetChainInfoResponse): ValidatorSet {
    const model =
      info.faultModel === FaultModel.BYZANTINE ? "byzantine" : info.faultModel === FaultModel.CRASH ? "crash" : undefined;
    if (!model) throw new Error(`unknown fault model ${info.faultModel}`);
    return new ValidatorSet(
      info.validators.map((v) => ({ organization: v.organization, name: v.name, publicKey: v.publicKey, power: v.power })),
      model,
    );
  }

  encoding(): Uint8Array {
    const parts = [u32(this.validators.length)];
    for (const v of this.validators) {
      parts.push(str(v.organization), str(v.name), fixed(v.publicKey, 32, "validator key"), u64(v.power));
    }
    parts.push(u8(this.faultModel === "byzantine" ? 0 : 1));
    return concat(...parts);
  }

  hash(): Uint8Array {
    return hashParts(VALIDATOR_SET, this.encoding());
  }

  totalPower(): bigint {
    return this.validators.reduce((n, v) => n + v.power, 0n);
  }

  quorumPower(): bigint {
    const t = this.totalPower();
    return this.faultModel === "byzantine" ? (t / 3n) * 2n + ((t % 3n) * 2n) / 3n + 1n : t / 2n + 1n;
  }
}

/** "yui/v1/vote\0" || borsh(VoteData) of a precommit for `blockHash`. */
export function precommitBytes(chainId: string, height: bigint, round: number, blockHash: Uint8Array, validator: Uint8Array): Uint8Array {
  return concat(VOTE, str(chainId), u8(1), u64(height), u32(round), u8(1), fixed(blockHash, 32, "block hash"), fixed(validator, 32, "validator key"));
}

// --- Merkle trees ----------------------------------------------------------------------------

export function merkleLeaf(item: Uint8Array): Uint8Array {
  return hashParts(MERKLE_LEAF, item);
}

function merkleNode(l: Uint8Array, r: Uint8Array): Uint8Array {
  return hashParts(MERKLE_NODE, l, r);
}

/** Root of the tree over `items` (leaves hashed here); a lone last node is carried up. */
export function merkleRoot(items: Uint8Array[]): Uint8Array {
  let level = items.map(merkleLeaf);
  if (level.length === 0) return hashParts(MERKLE_NODE);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? merkleNode(level[i], level[i + 1]) : level[i]);
    level = next;
  }
  return level[0];
}

/** The root a path leads to from `leafHash`, or undefined if the path is not the one its index
 * and leaf count call for. */
export function merkleRootFrom(p: MerkleProof, leafHash: Uint8Array): Uint8Array | undefined {
  let index = p.index;
  let n = p.leafCount;
  if (index >= n) return undefined;
  let acc = leafHash;
  let k = 0;
  while (n > 1) {
    const sib = index ^ 1;
    if (sib < n) {
      const step = p.steps[k++];
      if (!step || step.siblingIsLeft !== sib < index || step.hash.length !== 32) return undefined;
      acc = step.siblingIsLeft ? merkleNode(step.hash, acc) : merkleNode(acc, step.hash);
    }
    index = Math.floor(index / 2);
    n = Math.ceil(n / 2);
  }
  return k === p.steps.length ? acc : undefined;
}

// --- canonical protobuf ----------------------------------------------------------------------

/** Decode `bytes` as `schema`, or throw unless they are its canonical encoding (no unknown
 * field at any depth; re-encoding gives the same bytes). */
export function decodeCanonical<D extends DescMessage>(schema: D, bytes: Uint8Array): MessageShape<D> {
  const m = fromBinary(schema, bytes);
  if (!equal(toBinary(schema, m, { writeUnknownFields: false }), bytes)) throw new Error("not canonically encoded");
  return m;
}
