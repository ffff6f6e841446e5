/**
 * A Yui node over any Connect transport (gRPC over HTTP/2 in Node, gRPC-web in a browser):
 * `submit(call)` resolves with the committed receipt or rejects with a typed error (the shape
 * of Fabric Gateway's `submitTransaction`), events are followed from a checkpointer's cursor,
 * and every generated service client is at hand.
 */
import { create } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { Code, ConnectError, createClient, type Client as ServiceClient, type Transport } from "@connectrpc/connect";
import { CursorSchema, type Cursor } from "../gen/yui/v1/common_pb.js";
import { Eco } from "../gen/yui/v1/eco_pb.js";
import { Governance } from "../gen/yui/v1/governance_pb.js";
import { Ledger, TxStatus, type EventEnvelope, type GetChainInfoResponse, type Receipt } from "../gen/yui/v1/ledger_pb.js";
import { PersonalData } from "../gen/yui/v1/personal_data_pb.js";
import { Points } from "../gen/yui/v1/points_pb.js";
import { Relief } from "../gen/yui/v1/relief_pb.js";
import type { SignedTransaction } from "../gen/yui/v1/tx_pb.js";
import { Volunteer } from "../gen/yui/v1/volunteer_pb.js";
import { pdOptions } from "./auth.js";
import type { SigningKey } from "./ed25519.js";
import * as tx from "./tx.js";
import { toHex, ValidatorSet } from "./wire.js";

/** `after.index` meaning "after every event of that block": with the tip's height it starts
 * the stream from now. */
export const AFTER_BLOCK = 0xffffffff;

/** The node refused the transaction before it reached a block: nothing changed. `code` is the
 * gRPC status, `errorCode` the contracts' stable code when they refused it (docs/api.md,
 * "Error catalogue"), else "". */
export class RejectedError extends Error {
  constructor(
    readonly code: Code,
    readonly reason: string,
    readonly errorCode: string = "",
  ) {
    super(`${Code[code]}: ${reason}${errorCode ? ` (${errorCode})` : ""}`);
    this.name = "RejectedError";
  }
}

/** The transaction was committed but its call failed: it is in the block and changed nothing. */
export class TransactionFailed extends Error {
  readonly errorCode: string;
  constructor(readonly committed: Committed) {
    super(`${committed.receipt.error?.code}: ${committed.receipt.error?.message}`);
    this.name = "TransactionFailed";
    this.errorCode = committed.receipt.error?.code ?? "";
  }
}

export interface Committed {
  txId: Uint8Array;
  height: bigint;
  index: number;
  receipt: Receipt;
}

/** Where a follower keeps the cursor of the last event it handled. */
export interface Checkpointer {
  load(): Promise<Cursor | undefined>;
  save(cursor: Cursor): Promise<void>;
}

export class MemoryCheckpointer implements Checkpointer {
  private cursor?: Cursor;
  async load() {
    return this.cursor;
  }
  async save(c: Cursor) {
    this.cursor = create(CursorSchema, { height: c.height, index: c.index });
  }
}

/** `google.rpc.ErrorInfo.reason` of domain "yui" among a status's details, or "". */
export function errorCode(e: ConnectError): string {
  for (const d of e.details) {
    if (!("type" in d) || d.type !== "google.rpc.ErrorInfo") continue;
    const r = new BinaryReader(d.value);
    let reason = "";
    let domain = "";
    while (r.pos < r.len) {
      const [field, wt] = r.tag();
      if (field === 1 && wt === 2) reason = r.string();
      else if (field === 2 && wt === 2) domain = r.string();
      else r.skip(wt);
    }
    if (domain === "yui") return reason;
  }
  return "";
}

function rejected(e: unknown): unknown {
  if (e instanceof ConnectError) return new RejectedError(e.code, e.rawMessage, errorCode(e));
  return e;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SubmitOptions {
  /** Signer (default: the client's key). */
  key?: SigningKey;
  /** Blocks from the node's height until the transaction expires (capped by the chain). */
  expiresIn?: number;
  /** How long to wait for the receipt, ms. */
  timeoutMs?: number;
}

export class YuiClient {
  readonly ledger: ServiceClient<typeof Ledger>;
  readonly governance: ServiceClient<typeof Governance>;
  readonly relief: ServiceClient<typeof Relief>;
  readonly eco: ServiceClient<typeof Eco>;
  readonly points: ServiceClient<typeof Points>;
  readonly volunteer: ServiceClient<typeof Volunteer>;
  readonly personalData: ServiceClient<typeof PersonalData>;
  private chainIdCache?: string;

  constructor(
    readonly transport: Transport,
    readonly key?: SigningKey,
    chainId?: string,
  ) {
    this.ledger = createClient(Ledger, transport);
    this.governance = createClient(Governance, transport);
    this.relief = createClient(Relief, transport);
    this.eco = createClient(Eco, transport);
    this.points = createClient(Points, transport);
    this.volunteer = createClient(Volunteer, transport);
    this.personalData = createClient(PersonalData, transport);
    this.chainIdCache = chainId;
  }

  chainInfo(): Promise<GetChainInfoResponse> {
    return this.ledger.getChainInfo({});
  }

  /** The set deciding the next height, as the node reports it. To check a proof of an older
   * block, use the set you trust for that height (from genesis and governance). */
  async validatorSet(): Promise<ValidatorSet> {
    return ValidatorSet.fromChainInfo(await this.chainInfo());
  }

  private signer(k?: SigningKey): SigningKey {
    const key = k ?? this.key;
    if (!key) throw new Error("no signing key: pass one to YuiClient or to this call");
    return key;
  }

  /** `call` signed, valid for `expiresIn` blocks (at most the chain's `max_expiry_blocks`). */
  async sign(call: tx.Call, opts: SubmitOptions = {}): Promise<SignedTransaction> {
    const key = this.signer(opts.key);
    const info = await this.chainInfo();
    const max = Number(info.maxExpiryBlocks) || 100;
    const ahead = BigInt(Math.max(1, Math.min(opts.expiresIn ?? 100, max)));
    return tx.sign(key, tx.body(key, this.chainIdCache ?? info.chainId, info.height + ahead, call));
  }

  /** Submit a signed transaction and resolve with its committed, successful receipt. Rejects
   * with `RejectedError` (refused, nothing changed), `TransactionFailed` (committed, call
   * failed) or a timeout `Error` (not committed in time; it may still be). */
  async submitSigned(signed: SignedTransaction, opts: SubmitOptions = {}): Promise<Committed> {
    let id: Uint8Array;
    try {
      id = (await this.ledger.submitTransaction({ transaction: signed })).txId;
    } catch (e) {
      throw rejected(e);
    }
    return this.wait(id, opts.timeoutMs);
  }

  async submit(call: tx.Call, opts: SubmitOptions = {}): Promise<Committed> {
    return this.submitSigned(await this.sign(call, opts), opts);
  }

  /** Up to 1,000 signed transactions in one call: per transaction its id or a `RejectedError`. */
  async submitMany(signed: SignedTransaction[]): Promise<(Uint8Array | RejectedError)[]> {
    let resp;
    try {
      resp = await this.ledger.submitTransactions({ transactions: signed });
    } catch (e) {
      throw rejected(e);
    }
    return resp.results.map((r) => (r.code === 0 ? r.txId : new RejectedError(r.code as Code, r.message, r.errorCode)));
  }

  /** Wait until `txId` is committed; a failed call rejects with `TransactionFailed` unless
   * `fail` is false. */
  async wait(txId: Uint8Array, timeoutMs = 30_000, fail = true): Promise<Committed> {
    const deadline = Date.now() + timeoutMs;
    let delay = 50;
    for (;;) {
      const r = await this.ledger.getTransaction({ txId });
      if (r.status === TxStatus.COMMITTED && r.receipt) {
        const c: Committed = { txId, height: r.height, index: r.index, receipt: r.receipt };
        if (fail && !r.receipt.success) throw new TransactionFailed(c);
        return c;
      }
      if (Date.now() >= deadline) {
        const state = r.status === TxStatus.PENDING ? "pending" : "unknown to the node";
        throw new Error(`transaction ${toHex(txId)} not committed within ${timeoutMs} ms (it is ${state})`);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 500);
    }
  }

  /** Committed events after `after` (from the first event when absent, or from now with
   * `fromNow`), then live as blocks commit. */
  async *events(opts: { after?: Cursor; fromNow?: boolean; signal?: AbortSignal } = {}): AsyncGenerator<EventEnvelope> {
    let after = opts.after;
    if (opts.fromNow) after = create(CursorSchema, { height: (await this.chainInfo()).height, index: AFTER_BLOCK });
    yield* this.ledger.subscribeEvents({ after }, { signal: opts.signal });
  }

  /** Call `handler` for each event after the checkpointer's cursor, saving the cursor after
   * each handled one, so a restarted backend resumes where it stopped. Resolves with how many
   * were handled, after `limit` events or when `signal` aborts. */
  async follow(
    handler: (e: EventEnvelope) => void | Promise<void>,
    checkpointer: Checkpointer,
    opts: { limit?: number; signal?: AbortSignal; fromNowIfNew?: boolean } = {},
  ): Promise<number> {
    const after = await checkpointer.load();
    const stop = new AbortController();
    opts.signal?.addEventListener("abort", () => stop.abort());
    let n = 0;
    try {
      for await (const e of this.events({ after, fromNow: !after && opts.fromNowIfNew, signal: stop.signal })) {
        await handler(e);
        if (e.cursor) await checkpointer.save(e.cursor);
        n++;
        if (opts.limit !== undefined && n >= opts.limit) break;
      }
    } catch (e) {
      if (!(e instanceof ConnectError && e.code === Code.Canceled)) throw e;
    } finally {
      stop.abort();
    }
    return n;
  }

  /** Call options carrying a fresh PersonalData token for `method` ("Put", "Get", ...). */
  pd(method: string, key?: SigningKey) {
    return pdOptions(this.signer(key), method);
  }
}
