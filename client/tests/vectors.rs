//! The cross-language test vectors (`clients/vectors/vectors.json`), made by the Rust code the
//! nodes run: keys, transaction bodies, signatures and ids, auth headers, ZIP 215 signature
//! cases, validator-set and header encodings and hashes, precommit bytes, Merkle trees, and
//! inclusion proofs and volunteer certificates, valid and invalid, each invalid one with the
//! stable reason code every SDK must give. The TypeScript and Python SDKs check every vector in
//! their own tests, so the three implementations cannot drift.
//!
//! This test fails when the committed file differs from what the code makes now; after a
//! deliberate change of the wire format, rewrite it with
//! `YUI_WRITE_VECTORS=1 cargo test -p yui-client --test vectors` (and say so in the ADR that
//! changes the format: every client must follow).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::{Signer as _, SigningKey};
use prost::Message as _;
use serde_json::{json, Value};
use yui_client::{auth, certificate, convert, pb, proof, tx};
use yui_consensus::hash::{domain, hash_parts};
use yui_consensus::{
    merkle, CommitCertificate, FaultModel, Hash, Header, Validator, ValidatorSet, VoteData,
    VoteType,
};

const CHAIN: &str = "yui-vectors";

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn h(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(bytes)
}

fn sample_hash(label: &str) -> Hash {
    hash_parts(b"yui/vectors\0", &[label.as_bytes()])
}

fn keys() -> Value {
    let seeds: Vec<[u8; 32]> = vec![
        [0; 32],
        [1; 32],
        [0x42; 32],
        core::array::from_fn(|i| i as u8),
    ];
    Value::Array(
        seeds
            .iter()
            .map(|s| {
                let k = SigningKey::from_bytes(s);
                json!({"seed": h(s), "public_key": h(k.verifying_key().as_bytes())})
            })
            .collect(),
    )
}

/// One transaction vector: inputs (seed, chain, expiry, nonce, the call's field number in
/// `TxBody` and its encoded message) and outputs.
fn tx_vector(
    name: &str,
    seed: u8,
    chain: &str,
    expiry: u64,
    nonce: [u8; 16],
    call: pb::tx_body::Call,
) -> Value {
    let k = key(seed);
    let (field, call_bytes) = match &call {
        pb::tx_body::Call::Governance(c) => (10, c.encode_to_vec()),
        pb::tx_body::Call::Relief(c) => (11, c.encode_to_vec()),
        pb::tx_body::Call::Points(c) => (12, c.encode_to_vec()),
        pb::tx_body::Call::Eco(c) => (13, c.encode_to_vec()),
        pb::tx_body::Call::Volunteer(c) => (14, c.encode_to_vec()),
    };
    let body = tx::body_with_nonce(&k, chain, expiry, nonce, call);
    let signed = tx::sign(&k, &body);
    let raw = tx::RawTx::from_proto(signed.clone());
    json!({
        "name": name,
        "seed": h([seed; 32]),
        "chain_id": chain,
        "expires_at_height": expiry,
        "nonce": h(nonce),
        "call_field": field,
        "call": h(call_bytes),
        "body": h(&signed.body),
        "sign_bytes": h(tx::sign_bytes(&signed.body)),
        "signature": h(&signed.signature),
        "tx_id": h(raw.id().0),
        "body_hash": h(raw.body_hash().0),
    })
}

fn post_need(details: &str, quantity: u64) -> pb::tx_body::Call {
    pb::tx_body::Call::Relief(pb::ReliefCall {
        call: Some(pb::relief_call::Call::PostNeed(pb::PostNeed {
            disaster_id: "d-2026-tama-01".into(),
            shelter_id: "tama-shelter-3".into(),
            item_id: "water-2l".into(),
            quantity,
            details: details.into(),
            priority: pb::Priority::High as i32,
            needed_by_ms: 1_790_000_000_000,
        })),
    })
}

fn transactions() -> Value {
    json!([
        tx_vector(
            "relief post_need",
            7,
            CHAIN,
            120,
            [0xab; 16],
            post_need("2 L bottles, sealed", 240)
        ),
        tx_vector(
            "relief post_need, Japanese free text",
            7,
            CHAIN,
            4_000_000_000,
            core::array::from_fn(|i| i as u8),
            post_need("飲料水 2L ペットボトル、未開封", 1),
        ),
        tx_vector(
            "volunteer check_out",
            9,
            "yui-devnet",
            88,
            [0x01; 16],
            pb::tx_body::Call::Volunteer(pb::VolunteerCall {
                call: Some(pb::volunteer_call::Call::CheckOut(pb::CheckOut {
                    activity_id: "act-17".into(),
                })),
            }),
        ),
        tx_vector(
            "governance, empty call",
            3,
            CHAIN,
            1,
            [0xff; 16],
            pb::tx_body::Call::Governance(pb::GovernanceCall { call: None }),
        ),
    ])
}

/// Bodies a node refuses as not canonical, built by hand: each decodes, but does not re-encode
/// to the same bytes.
fn non_canonical_bodies() -> Value {
    let k = key(7);
    let body = tx::body_with_nonce(&k, CHAIN, 120, [0xab; 16], post_need("x", 1));
    let good = body.encode_to_vec();
    // An unknown field (number 99, varint 1) at the end.
    let mut unknown = good.clone();
    unknown.extend_from_slice(&[0x98, 0x06, 0x01]);
    // A field set to its default value: expires_at_height = 0 written out, before the nonce.
    let mut zero = pb::TxBody {
        expires_at_height: 0,
        ..body.clone()
    }
    .encode_to_vec();
    let at = 2 + CHAIN.len() + 2 + 32;
    zero.splice(at..at, [0x18, 0x00]);
    // Fields out of order: the nonce (4) before the signer (2).
    let mut swapped = pb::TxBody {
        chain_id: CHAIN.into(),
        ..Default::default()
    }
    .encode_to_vec();
    swapped.extend_from_slice(&[0x22, 16]);
    swapped.extend_from_slice(&[0xab; 16]);
    swapped.extend_from_slice(&[0x12, 32]);
    swapped.extend_from_slice(k.verifying_key().as_bytes());
    swapped.extend_from_slice(&[0x18, 120]);
    for b in [&unknown, &zero, &swapped] {
        let decoded = pb::TxBody::decode(b.as_slice()).unwrap();
        assert_ne!(&decoded.encode_to_vec(), b, "{}", h(b));
    }
    json!([
        {"name": "unknown field 99 appended", "seed": h([7u8; 32]), "body": h(&unknown)},
        {"name": "expires_at_height = 0 written out", "seed": h([7u8; 32]), "body": h(&zero)},
        {"name": "nonce before signer", "seed": h([7u8; 32]), "body": h(&swapped)},
    ])
}

fn auth_headers() -> Value {
    let cases = [
        (5u8, auth::method::GET, 1_764_000_000_000u64),
        (5, auth::method::PUT, 1_764_000_000_001),
        (6, auth::method::GET_RELEASED, 1_800_000_000_000),
    ];
    Value::Array(
        cases
            .iter()
            .map(|(seed, method, ms)| {
                json!({
                    "seed": h([*seed; 32]),
                    "method": method,
                    "unix_ms": ms,
                    "message": h(auth::auth_message(method, *ms)),
                    "header": auth::auth_header(&key(*seed), method, *ms),
                })
            })
            .collect(),
    )
}

/// `a + b` of two 256-bit little-endian numbers (no overflow in the uses here).
fn add_le(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

/// p = 2^255 - 19, little-endian.
const P: [u8; 32] = {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// ZIP 215 cases: standard signatures, a wrong message, a non-canonical s, and small-order
/// public keys and R points in canonical and non-canonical encodings (valid under ZIP 215,
/// refused by the strict rule). `valid` is what the chain's rule (`yui_consensus::sig`) says.
fn signatures() -> Value {
    let mut out = Vec::new();
    let mut push = |name: &str, pk: [u8; 32], msg: &[u8], sig: [u8; 64]| {
        let valid = yui_consensus::sig::verify(&pk, msg, &sig);
        out.push(json!({
            "name": name, "public_key": h(pk), "message": h(msg), "signature": h(sig), "valid": valid
        }));
    };
    let k = key(3);
    let pk = k.verifying_key().to_bytes();
    let good = k.sign(b"yui").to_bytes();
    push("standard signature", pk, b"yui", good);
    push("wrong message", pk, b"yuj", good);
    let mut flipped = good;
    flipped[10] ^= 1;
    push("changed R", pk, b"yui", flipped);
    // s + l: the same scalar, non-canonically encoded.
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut s = [0u8; 32];
    s.copy_from_slice(&good[32..]);
    let s = add_le(&s, &l);
    let mut big_s = good;
    big_s[32..].copy_from_slice(&s);
    push("non-canonical s (s + l)", pk, b"yui", big_s);
    // Small-order points: the eight torsion points and their other encodings that decode.
    let canonical: Vec<[u8; 32]> = curve25519_dalek_5::constants::EIGHT_TORSION
        .iter()
        .map(|p| p.compress().0)
        .collect();
    let mut all = canonical.clone();
    for c in &canonical {
        // The other sign bit (another encoding only where x = 0), and y + p where that still
        // fits in 255 bits, with either sign bit; only those that decode are kept.
        let mut flipped = *c;
        flipped[31] ^= 0x80;
        let mut y = *c;
        y[31] &= 0x7f;
        let yp = add_le(&y, &P);
        let mut candidates = vec![flipped];
        if yp[31] & 0x80 == 0 {
            let mut yp_neg = yp;
            yp_neg[31] |= 0x80;
            candidates.extend([yp, yp_neg]);
        }
        for e in candidates {
            if !all.contains(&e) && ed25519_zebra::VerificationKey::try_from(e).is_ok() {
                all.push(e);
            }
        }
    }
    assert_eq!(all.len(), 14, "the fourteen small-order encodings");
    for (i, a) in all.iter().enumerate() {
        for (j, r) in all.iter().enumerate() {
            // Every A with R = A's own and one other encoding keeps the file small but covers
            // each encoding on both sides.
            if j != i && j != (i + 1) % all.len() {
                continue;
            }
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(r);
            push(
                &format!("small-order A #{i}, R #{j}, s = 0"),
                *a,
                b"Zcash",
                sig,
            );
        }
    }
    // A public key that is not a point at all.
    let mut not_point = [0u8; 32];
    not_point[0] = 2;
    push("public key not on the curve", not_point, b"yui", good);
    Value::Array(out)
}

fn validators(seeds: &[u8], orgs: &[&str], powers: &[u64]) -> Vec<Validator> {
    seeds
        .iter()
        .zip(orgs)
        .zip(powers)
        .map(|((s, o), p)| Validator {
            organization: o.to_string(),
            name: format!("{o}-validator-1"),
            public_key: key(*s).verifying_key().to_bytes(),
            power: *p,
        })
        .collect()
}

fn set_json(set: &ValidatorSet) -> Value {
    json!({
        "validators": set.validators.iter().map(|v| json!({
            "organization": v.organization, "name": v.name,
            "public_key": h(v.public_key), "power": v.power,
        })).collect::<Vec<_>>(),
        "fault_model": match set.fault_model { FaultModel::Byzantine => "byzantine", FaultModel::Crash => "crash" },
        "encoding": h(borsh::to_vec(set).unwrap()),
        "hash": h(set.hash().0),
        "total_power": set.total_power(),
        "quorum_power": set.quorum_power(),
    })
}

fn the_sets() -> Vec<ValidatorSet> {
    let four = ["hachioji", "tama", "hino", "machida"];
    vec![
        ValidatorSet::new(
            validators(&[0x11, 0x12, 0x13, 0x14], &four, &[1, 1, 1, 1]),
            FaultModel::Byzantine,
        )
        .unwrap(),
        ValidatorSet::new(
            validators(&[0x21, 0x22, 0x23], &["多摩市", "tama", "hino"], &[5, 3, 1]),
            FaultModel::Crash,
        )
        .unwrap(),
    ]
}

fn header_json(hd: &Header) -> Value {
    json!({
        "chain_id": hd.chain_id, "height": hd.height, "time_ms": hd.time_ms,
        "parent_hash": h(hd.parent_hash.0), "proposer": h(hd.proposer),
        "validator_set_hash": h(hd.validator_set_hash.0), "tx_root": h(hd.tx_root.0),
        "state_root": h(hd.state_root.0), "event_root": h(hd.event_root.0),
        "protocol_version": hd.protocol_version,
        "encoding": h(borsh::to_vec(hd).unwrap()),
        "hash": h(hd.hash().0),
    })
}

fn precommit(chain: &str, height: u64, round: u32, block: Hash, seed: u8) -> (VoteData, [u8; 64]) {
    let data = VoteData {
        chain_id: chain.into(),
        vote_type: VoteType::Precommit,
        height,
        round,
        block_hash: Some(block),
        validator: key(seed).verifying_key().to_bytes(),
    };
    let sig = data.clone().sign(&key(seed)).signature;
    (data, sig)
}

fn merkle_vectors() -> Value {
    let mut out = Vec::new();
    for n in [0usize, 1, 2, 3, 5, 8] {
        let items: Vec<Vec<u8>> = (0..n).map(|i| format!("leaf {i}").into_bytes()).collect();
        let leaves: Vec<Hash> = items.iter().map(|i| merkle::leaf(i)).collect();
        let proofs: Vec<Value> = (0..n)
            .map(|i| {
                let p = merkle::prove(&leaves, i).unwrap();
                json!({
                    "index": p.index, "leaf_count": p.leaf_count,
                    "steps": p.siblings.iter().map(|(side, hash)| json!({
                        "sibling_is_left": matches!(side, merkle::Side::Left), "hash": h(hash.0)
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        out.push(json!({
            "items": items.iter().map(h).collect::<Vec<_>>(),
            "root": h(merkle::root(&items).0),
            "proofs": proofs,
        }));
    }
    Value::Array(out)
}

fn volunteer_event(kind: pb::volunteer_event::Kind) -> pb::Event {
    pb::Event {
        kind: Some(pb::event::Kind::Volunteer(pb::VolunteerEvent {
            kind: Some(kind),
        })),
    }
}

/// A block of three transactions with their receipts, committed by validators 0 to 2 of set 0.
struct Block {
    header: Header,
    txs: Vec<tx::RawTx>,
    receipts: Vec<pb::Receipt>,
    cert: CommitCertificate,
}

fn block(set: &ValidatorSet) -> Block {
    let resident = key(0x31);
    let txs: Vec<tx::RawTx> = (0..3u8)
        .map(|i| {
            let body = tx::body_with_nonce(&resident, CHAIN, 200, [i; 16], post_need("", 1));
            tx::RawTx::from_proto(tx::sign(&resident, &body))
        })
        .collect();
    let issued = pb::CertificateIssued {
        certificate_id: "cert-tama-0007".into(),
        volunteer_id: "vol-5f3a".into(),
        account: resident.verifying_key().to_bytes().to_vec(),
        person_commitment: sample_hash("commitment").0.to_vec(),
        skills: vec!["first-aid".into(), "運転".into()],
        issued_at_ms: 1_764_000_100_000,
        issuer_organization: "tama".into(),
        issued_by: key(0x32).verifying_key().to_bytes().to_vec(),
    };
    let receipts = vec![
        pb::Receipt {
            success: true,
            error: None,
            events: vec![
                volunteer_event(pb::volunteer_event::Kind::RegistrationRevoked(
                    pb::RegistrationRevoked {
                        volunteer_id: "vol-0001".into(),
                        certificate_id: "cert-tama-0001".into(),
                        reason: "moved away".into(),
                        revoked_at_ms: 1_764_000_100_000,
                    },
                )),
                volunteer_event(pb::volunteer_event::Kind::CertificateIssued(issued.clone())),
            ],
            first_event: None,
        },
        pb::Receipt {
            success: false,
            error: Some(pb::TxError {
                code: "relief.exceeds_need".into(),
                message: "the pledge is larger than what the need still lacks".into(),
            }),
            events: vec![],
            first_event: None,
        },
        // A failed transaction that (as no real one does) lists an issuance: a verifier must
        // still refuse it as a certificate.
        pb::Receipt {
            success: false,
            error: Some(pb::TxError {
                code: "volunteer.not_found".into(),
                message: "no such application".into(),
            }),
            events: vec![volunteer_event(
                pb::volunteer_event::Kind::CertificateIssued(issued),
            )],
            first_event: None,
        },
    ];
    let ids: Vec<[u8; 32]> = txs.iter().map(|t| t.id().0).collect();
    let leaves: Vec<Vec<u8>> = txs
        .iter()
        .zip(&receipts)
        .map(|(t, r)| yui_proto::commit::receipt_leaf(&t.id().0, r))
        .collect();
    let header = Header {
        chain_id: CHAIN.into(),
        height: 42,
        time_ms: 1_764_000_100_000,
        parent_hash: sample_hash("parent"),
        proposer: set.validators[1].public_key,
        validator_set_hash: set.hash(),
        tx_root: merkle::root(&ids),
        state_root: sample_hash("state"),
        event_root: merkle::root(&leaves),
        protocol_version: 1,
    };
    let cert = certify(&header, 3, &[0x11, 0x12, 0x13], CHAIN);
    Block {
        header,
        txs,
        receipts,
        cert,
    }
}

fn certify(header: &Header, round: u32, seeds: &[u8], chain: &str) -> CommitCertificate {
    let block = header.hash();
    CommitCertificate {
        height: header.height,
        round,
        block_hash: block,
        signatures: seeds
            .iter()
            .map(|s| {
                let (d, sig) = precommit(chain, header.height, round, block, *s);
                (d.validator, sig)
            })
            .collect(),
    }
}

fn proof_of(b: &Block, tx: usize, event: Option<u32>) -> pb::InclusionProof {
    let tx_leaves = proof::tx_leaves(&b.txs);
    let receipt_leaves: Vec<Hash> = b
        .txs
        .iter()
        .zip(&b.receipts)
        .map(|(t, r)| merkle::leaf(&yui_proto::commit::receipt_leaf(&t.id().0, r)))
        .collect();
    pb::InclusionProof {
        header: Some(convert::header_to_pb(&b.header)),
        certificate: Some(convert::certificate_to_pb(&b.cert)),
        transaction: Some(b.txs[tx].to_proto()),
        tx_proof: Some(convert::merkle_to_pb(
            &merkle::prove(&tx_leaves, tx).unwrap(),
        )),
        receipt: Some(b.receipts[tx].clone()),
        receipt_proof: Some(convert::merkle_to_pb(
            &merkle::prove(&receipt_leaves, tx).unwrap(),
        )),
        event_cursor: event.map(|i| pb::Cursor {
            height: b.header.height,
            index: 10 + i,
        }),
        event_index: event.unwrap_or(0),
    }
}

/// Every proof case: (name, bytes, validator set index).
fn proof_cases(b: &Block) -> Vec<(String, Vec<u8>, usize)> {
    let enc = |p: &pb::InclusionProof| p.encode_to_vec();
    let tx_proof = proof_of(b, 1, None);
    let event_proof = proof_of(b, 0, Some(1));
    let mut cases = vec![
        ("transaction proof".to_string(), enc(&tx_proof), 0),
        (
            "event proof (certificate issuance)".to_string(),
            enc(&event_proof),
            0,
        ),
        (
            "event proof (revocation)".to_string(),
            enc(&proof_of(b, 0, Some(0))),
            0,
        ),
        (
            "transaction proof, other validator set".to_string(),
            enc(&tx_proof),
            1,
        ),
    ];
    let mut add = |name: &str, f: &dyn Fn(&mut pb::InclusionProof)| {
        let mut p = event_proof.clone();
        f(&mut p);
        cases.push((name.to_string(), enc(&p), 0));
    };
    add("header state root changed", &|p| {
        p.header.as_mut().unwrap().state_root[0] ^= 1
    });
    add("header time changed", &|p| {
        p.header.as_mut().unwrap().time_ms += 1
    });
    add("precommits signed for another chain", &|p| {
        p.certificate = Some(convert::certificate_to_pb(&certify(
            &b.header,
            3,
            &[0x11, 0x12, 0x13],
            "yui-other",
        )))
    });
    add("precommit of another round", &|p| {
        p.certificate.as_mut().unwrap().round = 4
    });
    add("two precommits only", &|p| {
        p.certificate = Some(convert::certificate_to_pb(&certify(
            &b.header,
            3,
            &[0x11, 0x12],
            CHAIN,
        )))
    });
    add("one validator counted twice", &|p| {
        p.certificate = Some(convert::certificate_to_pb(&certify(
            &b.header,
            3,
            &[0x11, 0x12, 0x12],
            CHAIN,
        )))
    });
    add("a precommit by a key outside the set", &|p| {
        p.certificate = Some(convert::certificate_to_pb(&certify(
            &b.header,
            3,
            &[0x11, 0x12, 0x13, 0x99],
            CHAIN,
        )))
    });
    add("precommit signature changed", &|p| {
        p.certificate.as_mut().unwrap().signatures[2].signature[5] ^= 1
    });
    add("another transaction on this path", &|p| {
        p.transaction = Some(b.txs[2].to_proto())
    });
    add("receipt changed (success flipped)", &|p| {
        p.receipt.as_mut().unwrap().success = false
    });
    add("event changed", &|p| {
        p.receipt.as_mut().unwrap().events.swap(0, 1);
    });
    add("receipt carries a cursor", &|p| {
        p.receipt.as_mut().unwrap().first_event = Some(pb::Cursor {
            height: 42,
            index: 10,
        })
    });
    add("receipt path of another position", &|p| {
        p.receipt_proof = proof_of(b, 1, None).receipt_proof
    });
    add("event cursor of another block", &|p| {
        p.event_cursor.as_mut().unwrap().height = 41
    });
    add("event index out of range", &|p| p.event_index = 2);
    add("header missing", &|p| p.header = None);
    add("block hash of 31 bytes", &|p| {
        p.header.as_mut().unwrap().tx_root.pop();
    });
    let mut extra = enc(&event_proof);
    extra.extend_from_slice(&[0xc8, 0x01, 0x00]);
    cases.push(("unknown field appended (not canonical)".into(), extra, 0));
    cases.push(("not a protobuf message".into(), vec![0xff, 0xff, 0xff], 0));
    cases
}

fn proofs(b: &Block, sets: &[ValidatorSet]) -> Value {
    Value::Array(
        proof_cases(b)
            .into_iter()
            .map(|(name, bytes, set)| {
                let verdict = proof::decode(&bytes).and_then(|p| proof::verify(&p, &sets[set]));
                let mut v = json!({"name": name, "proof": h(&bytes), "validator_set": set});
                match verdict {
                    Ok(p) => {
                        v["valid"] = json!(true);
                        v["height"] = json!(p.height);
                        v["block_hash"] = json!(h(p.block_hash.0));
                        v["tx_id"] = json!(h(p.tx_id.0));
                        v["success"] = json!(p.success);
                        v["event"] = json!(p.event.map(|e| h(e.encode_to_vec())));
                    }
                    Err(e) => {
                        v["valid"] = json!(false);
                        v["code"] = json!(e.code());
                        v["message"] = json!(e.to_string());
                    }
                }
                v
            })
            .collect(),
    )
}

fn certificates(b: &Block, sets: &[ValidatorSet]) -> Value {
    let good = proof_of(b, 0, Some(1)).encode_to_vec();
    let mut broken = proof_of(b, 0, Some(1));
    broken.header.as_mut().unwrap().height += 1;
    let cases = vec![
        ("certificate".to_string(), certificate::qr_text(&good)),
        ("certificate, lower case with a line break".to_string(), {
            let t = certificate::qr_text(&good).to_ascii_lowercase();
            format!("{}\n{}", &t[..40], &t[40..])
        }),
        (
            "proof of a transaction, not an event".to_string(),
            certificate::qr_text(&proof_of(b, 1, None).encode_to_vec()),
        ),
        (
            "event is a revocation".to_string(),
            certificate::qr_text(&proof_of(b, 0, Some(0)).encode_to_vec()),
        ),
        (
            "issuance in a failed transaction".to_string(),
            certificate::qr_text(&proof_of(b, 2, Some(0)).encode_to_vec()),
        ),
        (
            "header height changed".to_string(),
            certificate::qr_text(&broken.encode_to_vec()),
        ),
        ("another prefix".to_string(), "YUIPROOF:AAAA".to_string()),
        ("damaged base32".to_string(), "YUICERT1:0189".to_string()),
    ];
    Value::Array(
        cases
            .into_iter()
            .map(|(name, text)| {
                let verdict = certificate::proof_from_qr(&text)
                    .and_then(|bytes| certificate::verify(&bytes, &sets[0]));
                let mut v = json!({"name": name, "qr_text": text, "validator_set": 0});
                match verdict {
                    Ok(c) => {
                        v["valid"] = json!(true);
                        v["certificate_id"] = json!(c.certificate.certificate_id);
                        v["volunteer_id"] = json!(c.certificate.volunteer_id);
                        v["skills"] = json!(c.certificate.skills);
                        v["height"] = json!(c.height);
                        v["block_hash"] = json!(h(c.block_hash.0));
                    }
                    Err(e) => {
                        v["valid"] = json!(false);
                        v["code"] = json!(e.code());
                        v["message"] = json!(e.to_string());
                    }
                }
                v
            })
            .collect(),
    )
}

fn presence() -> Value {
    let cases: [(u8, &str, Vec<u8>); 2] = [
        (0x51, "act-3f2a9c", vec![0x10; 16]),
        (0x52, "act-0001", (0..64).collect()),
    ];
    Value::Array(
        cases
            .iter()
            .map(|(seed, act, challenge)| {
                json!({
                    "seed": h([*seed; 32]), "activity_id": act, "challenge": h(challenge),
                    "message": h(yui_client::presence::presence_message(act, challenge)),
                    "signature": h(yui_client::presence::sign(&key(*seed), act, challenge)),
                })
            })
            .collect(),
    )
}

fn notifications() -> Value {
    use yui_client::notification::{normalize, recipient_hash};
    use yui_proto::v1::NotificationChannel as C;
    let cases: [(C, &str, &str, u8); 5] = [
        (C::Email, "EMAIL", " Taro.Yamada@Example.JP\n", 0x61),
        (C::Email, "EMAIL", "hanako@例え.jp", 0x61),
        (C::Sms, "SMS", "+81 90-1234-5678", 0x62),
        (C::Phone, "PHONE", "042 (123) 4567", 0x62),
        (C::Post, "POST", "  東京都八王子市元本郷町3-24-1 ", 0x63),
    ];
    Value::Array(
        cases
            .iter()
            .map(|(c, name, address, k)| {
                json!({
                    "channel": name, "key": h([*k; 32]), "address": address,
                    "normalized": normalize(*c, address),
                    "recipient_hash": h(recipient_hash(&[*k; 32], *c, address)),
                })
            })
            .collect(),
    )
}

fn vectors() -> Value {
    let sets = the_sets();
    let b = block(&sets[0]);
    let precommits: Vec<Value> = [(0x11u8, 0u32), (0x14, 7)]
        .iter()
        .map(|(seed, round)| {
            let (d, sig) = precommit(CHAIN, b.header.height, *round, b.header.hash(), *seed);
            json!({
                "chain_id": d.chain_id, "height": d.height, "round": d.round,
                "block_hash": h(b.header.hash().0), "validator": h(d.validator),
                "seed": h([*seed; 32]),
                "sign_bytes": h(d.sign_bytes()), "signature": h(sig),
            })
        })
        .collect();
    let mut other = b.header.clone();
    other.protocol_version = 2;
    other.chain_id = "多摩-test".into();
    json!({
        "about": "Yui wire-format test vectors, made by client/tests/vectors.rs; see docs/wire.md. All byte strings are hex.",
        "domains": {
            "tx_signature": String::from_utf8_lossy(domain::TX_SIGNATURE),
            "tx_id": String::from_utf8_lossy(domain::TX_ID),
            "tx_body": String::from_utf8_lossy(domain::TX_BODY),
            "header": String::from_utf8_lossy(domain::HEADER),
            "vote": String::from_utf8_lossy(domain::VOTE),
            "validator_set": String::from_utf8_lossy(domain::VALIDATOR_SET),
            "event": String::from_utf8_lossy(yui_proto::commit::EVENT_DOMAIN),
            "merkle_leaf": String::from_utf8_lossy(domain::MERKLE_LEAF),
            "merkle_node": String::from_utf8_lossy(domain::MERKLE_NODE),
            "auth": String::from_utf8_lossy(auth::AUTH_DOMAIN),
            "presence": String::from_utf8_lossy(yui_client::presence::PRESENCE_DOMAIN),
            "recipient": String::from_utf8_lossy(yui_client::notification::RECIPIENT_DOMAIN),
        },
        "keys": keys(),
        "transactions": transactions(),
        "non_canonical_bodies": non_canonical_bodies(),
        "auth_headers": auth_headers(),
        "signatures": signatures(),
        "validator_sets": sets.iter().map(set_json).collect::<Vec<_>>(),
        "headers": [header_json(&b.header), header_json(&other)],
        "precommits": precommits,
        "merkle": merkle_vectors(),
        "proofs": proofs(&b, &sets),
        "certificates": certificates(&b, &sets),
        "presence": presence(),
        "notifications": notifications(),
    })
}

#[test]
fn the_committed_vectors_are_what_the_code_makes() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/vectors/vectors.json");
    let now = serde_json::to_string_pretty(&vectors()).unwrap() + "\n";
    if std::env::var_os("YUI_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == now,
        "clients/vectors/vectors.json differs from what the code makes now: the wire format \
         changed (every SDK must follow), or the file was edited. Rewrite it with \
         YUI_WRITE_VECTORS=1 cargo test -p yui-client --test vectors if the change is meant."
    );
}

#[test]
fn the_vectors_cover_valid_and_invalid_cases() {
    let v = vectors();
    let count = |k: &str, valid: bool| {
        v[k].as_array()
            .unwrap()
            .iter()
            .filter(|c| c["valid"] == json!(valid))
            .count()
    };
    for k in ["signatures", "proofs", "certificates"] {
        assert!(count(k, true) >= 2 && count(k, false) >= 2, "{k}");
    }
    // Every distinct proof failure this verifier can name is in the file but the two that
    // need a proof to be decodable and sized wrong in ways already covered.
    let codes: std::collections::BTreeSet<&str> = v["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["code"].as_str())
        .collect();
    for c in [
        "not_a_proof",
        "not_canonical",
        "malformed",
        "other_validator_set",
        "unknown_validator",
        "duplicate_signature",
        "bad_signature",
        "no_quorum",
        "wrong_block",
        "tx_not_in_block",
        "receipt_has_cursor",
        "receipt_position",
        "receipt_not_committed",
        "event_other_block",
        "no_such_event",
    ] {
        assert!(
            codes.contains(c),
            "no proof vector fails with {c}: {codes:?}"
        );
    }
    // Small-order cases are valid under ZIP 215.
    assert!(v["signatures"].as_array().unwrap().iter().any(|s| s["name"]
        .as_str()
        .unwrap()
        .starts_with("small-order")
        && s["valid"] == json!(true)));
}

/// Generators that write fields in declaration order (protobuf-es, for one) produce canonical
/// bodies only if every message declares its fields in field-number order: kept so.
#[test]
fn every_message_declares_its_fields_in_number_order() {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet::decode(yui_proto::FILE_DESCRIPTOR_SET).unwrap();
    fn walk(prefix: &str, msgs: &[prost_types::DescriptorProto], bad: &mut Vec<String>) {
        for m in msgs {
            let name = format!("{prefix}{}", m.name());
            let nums: Vec<i32> = m.field.iter().map(|f| f.number()).collect();
            if !nums.is_sorted() {
                bad.push(format!("{name} {nums:?}"));
            }
            walk(&format!("{name}."), &m.nested_type, bad);
        }
    }
    let mut bad = Vec::new();
    let mut count = 0;
    for f in set.file.iter().filter(|f| f.package() == "yui.v1") {
        count += f.message_type.len();
        walk(&format!("{}:", f.name()), &f.message_type, &mut bad);
    }
    assert!(count > 100, "only {count} messages found");
    assert!(bad.is_empty(), "fields out of number order: {bad:?}");
}
