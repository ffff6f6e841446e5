// The cross-language vectors (clients/vectors/vectors.json, made by the Rust code the nodes
// run): this SDK must give the same bytes, hashes and verdicts, reason codes included.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BlockHeaderSchema, MerkleProofSchema } from "../gen/yui/v1/ledger_pb.js";
import { TxBodySchema } from "../gen/yui/v1/tx_pb.js";
import { EventSchema } from "../gen/yui/v1/events_pb.js";
import { auth, certificate, notification, presence, proof, SigningKey, tx, ValidatorSet, verifySignature, wire } from "../src/index.js";

const V = JSON.parse(readFileSync(fileURLToPath(new URL("../../../vectors/vectors.json", import.meta.url)), "utf8"));
const x = wire.fromHex;
const hex = wire.toHex;

test("domains are the chain's", () => {
  const d = new TextDecoder();
  assert.equal(d.decode(wire.TX_SIGNATURE), V.domains.tx_signature);
  assert.equal(d.decode(wire.TX_ID), V.domains.tx_id);
  assert.equal(d.decode(wire.HEADER), V.domains.header);
  assert.equal(d.decode(wire.VOTE), V.domains.vote);
  assert.equal(d.decode(wire.VALIDATOR_SET), V.domains.validator_set);
  assert.equal(d.decode(wire.EVENT), V.domains.event);
  assert.equal(d.decode(wire.MERKLE_LEAF), V.domains.merkle_leaf);
  assert.equal(d.decode(wire.MERKLE_NODE), V.domains.merkle_node);
  assert.equal(d.decode(wire.AUTH), V.domains.auth);
});

test("keys", () => {
  for (const k of V.keys) assert.equal(hex(new SigningKey(x(k.seed)).publicKey), k.public_key);
});

test("transactions are built, signed and named alike", () => {
  for (const t of V.transactions) {
    const key = new SigningKey(x(t.seed));
    const field = TxBodySchema.fields.find((f) => f.number === t.call_field)!;
    assert.equal(field.fieldKind, "message");
    const call = fromBinary((field as any).message, x(t.call)) as tx.Call;
    const signed = tx.sign(key, tx.body(key, t.chain_id, BigInt(t.expires_at_height), call, x(t.nonce)));
    assert.equal(hex(signed.body), t.body, t.name);
    assert.equal(hex(tx.signBytes(signed.body)), t.sign_bytes);
    assert.equal(hex(signed.signature), t.signature);
    assert.equal(hex(tx.txId(signed.body, signed.signature)), t.tx_id);
    assert.equal(hex(tx.bodyHash(signed.body)), t.body_hash);
    wire.decodeCanonical(TxBodySchema, signed.body);
  }
});

test("hand-made bodies are not canonical", () => {
  for (const t of V.non_canonical_bodies) assert.throws(() => wire.decodeCanonical(TxBodySchema, x(t.body)), t.name);
});

test("auth headers", () => {
  for (const a of V.auth_headers) {
    assert.equal(hex(auth.authMessage(a.method, a.unix_ms)), a.message);
    assert.equal(auth.authHeader(new SigningKey(x(a.seed)), a.method, a.unix_ms), a.header);
  }
});

test("signatures follow ZIP 215", () => {
  for (const s of V.signatures) {
    assert.equal(verifySignature(x(s.public_key), x(s.message), x(s.signature)), s.valid, s.name);
  }
});

function sets(): ValidatorSet[] {
  return V.validator_sets.map(
    (s: any) =>
      new ValidatorSet(
        s.validators.map((v: any) => ({ organization: v.organization, name: v.name, publicKey: x(v.public_key), power: BigInt(v.power) })),
        s.fault_model,
      ),
  );
}

test("validator sets", () => {
  sets().forEach((s, i) => {
    const want = V.validator_sets[i];
    assert.equal(hex(s.encoding()), want.encoding);
    assert.equal(hex(s.hash()), want.hash);
    assert.equal(s.totalPower(), BigInt(want.total_power));
    assert.equal(s.quorumPower(), BigInt(want.quorum_power));
  });
});

test("headers", () => {
  for (const h of V.headers) {
    const header = create(BlockHeaderSchema, {
      chainId: h.chain_id,
      height: BigInt(h.height),
      timeMs: BigInt(h.time_ms),
      parentHash: x(h.parent_hash),
      proposer: x(h.proposer),
      validatorSetHash: x(h.validator_set_hash),
      txRoot: x(h.tx_root),
      stateRoot: x(h.state_root),
      eventRoot: x(h.event_root),
      protocolVersion: h.protocol_version,
    });
    assert.equal(hex(wire.headerBytes(header)), h.encoding);
    assert.equal(hex(wire.headerHash(header)), h.hash);
  }
});

test("precommits", () => {
  for (const p of V.precommits) {
    const b = wire.precommitBytes(p.chain_id, BigInt(p.height), p.round, x(p.block_hash), x(p.validator));
    assert.equal(hex(b), p.sign_bytes);
    assert.equal(hex(new SigningKey(x(p.seed)).sign(b)), p.signature);
    assert.ok(verifySignature(x(p.validator), b, x(p.signature)));
  }
});

test("merkle trees", () => {
  for (const m of V.merkle) {
    const items = m.items.map(x);
    assert.equal(hex(wire.merkleRoot(items)), m.root);
    m.proofs.forEach((pv: any, i: number) => {
      const p = create(MerkleProofSchema, {
        index: pv.index,
        leafCount: pv.leaf_count,
        steps: pv.steps.map((s: any) => ({ siblingIsLeft: s.sibling_is_left, hash: x(s.hash) })),
      });
      assert.equal(hex(wire.merkleRootFrom(p, wire.merkleLeaf(items[i]))!), m.root);
      assert.notEqual(hex(wire.merkleRootFrom(p, wire.merkleLeaf(x("00")))!), m.root);
    });
  }
});

test("proofs", () => {
  const all = sets();
  for (const pv of V.proofs) {
    const set = all[pv.validator_set];
    if (pv.valid) {
      const got = proof.verifyBytes(x(pv.proof), set);
      assert.equal(got.height, BigInt(pv.height));
      assert.equal(hex(got.blockHash), pv.block_hash);
      assert.equal(hex(got.txId), pv.tx_id);
      assert.equal(got.success, pv.success);
      assert.equal(got.event ? hex(toBinary(EventSchema, got.event)) : null, pv.event, pv.name);
    } else {
      assert.throws(
        () => proof.verifyBytes(x(pv.proof), set),
        (e: any) => e instanceof proof.ProofError && e.code === pv.code,
        `${pv.name}: expected ${pv.code}`,
      );
    }
  }
});

test("certificates", () => {
  const set = sets()[0];
  for (const cv of V.certificates) {
    if (cv.valid) {
      const c = certificate.verifyQr(cv.qr_text, set);
      assert.equal(c.certificate.certificateId, cv.certificate_id);
      assert.equal(c.certificate.volunteerId, cv.volunteer_id);
      assert.deepEqual(c.certificate.skills, cv.skills);
      assert.equal(c.height, BigInt(cv.height));
      assert.equal(hex(c.blockHash), cv.block_hash);
    } else {
      assert.throws(
        () => certificate.verifyQr(cv.qr_text, set),
        (e: any) => e instanceof certificate.CertificateError && e.code === cv.code,
        `${cv.name}: expected ${cv.code}`,
      );
    }
  }
});

test("presence at check-in", () => {
  assert.equal(new TextDecoder().decode(presence.PRESENCE_DOMAIN), V.domains.presence);
  for (const p of V.presence) {
    assert.equal(hex(presence.presenceMessage(p.activity_id, x(p.challenge))), p.message);
    assert.equal(hex(presence.sign(new SigningKey(x(p.seed)), p.activity_id, x(p.challenge))), p.signature);
  }
});

test("notification recipient hashes", () => {
  assert.equal(new TextDecoder().decode(notification.RECIPIENT_DOMAIN), V.domains.recipient);
  assert.ok(V.notifications.length >= 5);
  for (const n of V.notifications) {
    const ch = n.channel as notification.Channel;
    assert.equal(notification.normalize(ch, n.address), n.normalized);
    assert.equal(hex(notification.recipientHash(x(n.key), ch, n.address)), n.recipient_hash);
  }
});
