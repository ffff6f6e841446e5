// The SDK against a real devnet (./devnet.ts), in Node over gRPC (HTTP/2) and over gRPC-web:
// the three examples, receipts and typed errors, bad input as a developer meets it, events
// resumed from a file checkpoint, the PersonalData token, proofs checked offline.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { InclusionProofSchema } from "../gen/yui/v1/ledger_pb.js";
import { ReliefCallSchema, ShipmentStatus } from "../gen/yui/v1/relief_pb.js";
import { PersonalDataPurpose } from "../gen/yui/v1/personal_data_pb.js";
import { SignedTransactionSchema, TxBodySchema } from "../gen/yui/v1/tx_pb.js";
import {
  AFTER_BLOCK,
  connect,
  FileCheckpointer,
  keyFromFile,
  proof,
  RejectedError,
  SigningKey,
  TransactionFailed,
  tx,
  ValidatorSet,
  type YuiClient,
} from "../src/node.js";
import { connectWeb } from "../src/web.js";
import { startDevnet, type Devnet } from "./devnet.js";
import * as reliefFlow from "../examples/relief-flow.js";
import * as meterGateway from "../examples/meter-gateway.js";
import * as certificateCheck from "../examples/certificate-check.js";

let net: Devnet;
let c: YuiClient;
let admin: SigningKey;

before(async () => {
  net = await startDevnet();
  admin = await keyFromFile(net.adminKeyFile);
  c = connect(net.endpoint, { key: admin });
});
after(async () => {
  await net?.stop();
});

const openDisaster = (id: string) => create(ReliefCallSchema, { call: { case: "openDisaster", value: { disasterId: `d-${id}`, name: "Flood" } } });

test("the relief example runs to a received shipment", async () => {
  const out = await reliefFlow.run(net.endpoint, net.adminKeyFile);
  assert.equal(out.final.status, ShipmentStatus.SHIPMENT_RECEIVED);
  assert.equal(out.final.quantity, 60n);
  assert.deepEqual(Array.from(out.labelPng.slice(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
});

test("the meter gateway example commits a batch of readings", async () => {
  const out = await meterGateway.run(net.endpoint, net.adminKeyFile, 6);
  assert.equal(out.receipts.length, 6);
  for (const r of out.receipts) assert.ok(r.receipt.success);
  // 371 kWh at 438 g/kWh: 162,498 g of CO2 a month.
  for (const red of out.reductions) {
    assert.equal(red.reductionG, 162_498n);
    assert.equal(red.fiscalYear, 2026);
  }
});

test("the certificate example checks a real certificate offline and online", async () => {
  const out = await certificateCheck.run(net.endpoint, net.adminKeyFile);
  assert.equal(out.offline.certificate.certificateId, out.certificateId);
  assert.ok(out.online.valid);
  assert.equal(out.tampered.valid, false);
  assert.notEqual(out.tampered.reasonCode, "");
});

test("the validator set hash is the one in the headers, and the commit certificate checks", async () => {
  const set = await c.validatorSet();
  const { block } = await c.ledger.getBlock({ by: { case: "latest", value: true } });
  assert.ok(block?.header && block.certificate);
  assert.deepEqual(block.header.validatorSetHash, set.hash());
  proof.verifyCommitCertificate(block.certificate, block.header.chainId, block.header.height, block.hash, set);
});

test("a committed transaction is proven offline and a tampered proof is not", async () => {
  const done = await c.submit(openDisaster("proof"));
  const set = await c.validatorSet();
  const p = await c.ledger.getProof({ target: { case: "txId", value: done.txId } });
  const bytes = toBinary(InclusionProofSchema, p);
  const v = proof.verifyBytes(bytes, set);
  assert.deepEqual(v.txId, done.txId);
  assert.equal(v.height, done.height);
  const ev = await c.ledger.getProof({ target: { case: "event", value: done.receipt.firstEvent! } });
  assert.ok(proof.verifyBytes(toBinary(InclusionProofSchema, ev), set).event);
  const bad = structuredClone(p);
  bad.header!.stateRoot[0] ^= 1;
  assert.throws(() => proof.verifyBytes(toBinary(InclusionProofSchema, bad), set), (e: any) => e.code === "wrong_block");
  const other = new ValidatorSet([{ organization: "x", name: "x-1", publicKey: SigningKey.generate().publicKey, power: 1n }], "byzantine");
  assert.throws(() => proof.verifyBytes(bytes, other), (e: any) => e.code === "other_validator_set");
});

test("a failed call is a typed error with the contracts' code", async () => {
  await c.submit(openDisaster("twice"));
  await assert.rejects(c.submit(openDisaster("twice")), (e: any) => {
    assert.ok(e instanceof TransactionFailed || e instanceof RejectedError, String(e));
    assert.match(e.errorCode, /^relief\./);
    return true;
  });
});

test("bad input is refused with the right code and a sentence", async () => {
  const info = await c.chainInfo();
  const call = openDisaster("bad");
  // Another chain.
  await assert.rejects(c.submitSigned(tx.sign(admin, tx.body(admin, "another-chain", info.height + 10n, call))), (e: any) => {
    assert.ok(e instanceof RejectedError);
    assert.equal(e.code, Code.InvalidArgument);
    assert.match(e.reason, /chain/);
    return true;
  });
  // A non-canonical body built by hand: an unknown field appended, correctly signed.
  const body = toBinary(TxBodySchema, tx.body(admin, info.chainId, info.height + 10n, call));
  const withUnknown = new Uint8Array([...body, 0x98, 0x06, 0x01]);
  await assert.rejects(c.submitSigned(tx.signBodyBytes(admin, withUnknown)), (e: any) => {
    assert.equal(e.code, Code.InvalidArgument);
    assert.match(e.reason, /canonical|unknown/);
    return true;
  });
  // A signature by another key.
  const good = tx.sign(admin, tx.body(admin, info.chainId, info.height + 10n, call));
  const forged = create(SignedTransactionSchema, { body: good.body, signature: SigningKey.generate().sign(tx.signBytes(good.body)) });
  await assert.rejects(c.submitSigned(forged), (e: any) => e.code === Code.InvalidArgument);
  // An account the chain does not know.
  await assert.rejects(c.submit(call, { key: SigningKey.generate() }), (e: any) => e.code === Code.PermissionDenied);
  // The same body twice.
  const once = await c.sign(openDisaster("dup"));
  await c.submitSigned(once);
  await assert.rejects(c.submitSigned(once), (e: any) => e.code === Code.AlreadyExists);
});

test("batches report each transaction", async () => {
  const signed = await Promise.all([0, 1, 2].map((i) => c.sign(openDisaster(`batch-${i}`))));
  const results = await c.submitMany([...signed, signed[0]]);
  assert.deepEqual(
    results.map((r) => r instanceof Uint8Array),
    [true, true, true, false],
  );
  assert.equal((results[3] as RejectedError).code, Code.AlreadyExists);
  for (const r of results.slice(0, 3)) assert.ok((await c.wait(r as Uint8Array)).receipt.success);
});

test("events resume from a file checkpoint, neither lost nor repeated", async () => {
  const dir = mkdtempSync(join(tmpdir(), "yui-sdk-ts-cp-"));
  try {
    const path = join(dir, "cursor.json");
    const start = (await c.chainInfo()).height;
    await new FileCheckpointer(path).save({ $typeName: "yui.v1.Cursor", height: start, index: AFTER_BLOCK });
    const ids = [0, 1, 2, 3].map((i) => `ev-${start}-${i}`);
    for (const id of ids) await c.submit(openDisaster(id));
    const seen: string[] = [];
    const handle = (e: any) => {
      const k = e.event?.kind;
      if (k?.case === "relief" && k.value.kind.case === "disasterChanged") seen.push(k.value.kind.value.disasterId);
    };
    assert.equal(await c.follow(handle, new FileCheckpointer(path), { limit: 2 }), 2);
    // A "restart": a new checkpointer on the same file, stopped after a bounded wait.
    await c.follow(handle, new FileCheckpointer(path), { signal: AbortSignal.timeout(3000) });
    assert.deepEqual(seen, ids.map((i) => `d-${i}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("PersonalData calls carry the signed token; a token for another method is refused", async () => {
  const put = await c.personalData.put(
    { purpose: PersonalDataPurpose.RESIDENT_CONTACT, fields: [{ name: "phone", value: "090-0000-0000" }] },
    c.pd("Put"),
  );
  const got = await c.personalData.get({ id: put.id }, c.pd("Get"));
  assert.deepEqual(
    got.fields.map((f) => [f.name, f.value]),
    [["phone", "090-0000-0000"]],
  );
  await assert.rejects(c.personalData.get({ id: put.id }, c.pd("Put")), (e: any) => e instanceof ConnectError && e.code === Code.Unauthenticated);
});

test("gRPC-web (what a browser speaks) reaches the same node", async () => {
  const web = connectWeb(`http://${net.endpoint}`, { key: admin });
  const info = await web.chainInfo();
  assert.equal(info.chainId, (await c.chainInfo()).chainId);
  const done = await web.submit(openDisaster("web"));
  assert.ok(done.receipt.success);
  // Errors arrive typed over gRPC-web too.
  await assert.rejects(web.submit(openDisaster("web")), (e: any) => /^relief\./.test(e.errorCode));
});
