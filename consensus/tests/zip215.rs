//! The ZIP 215 edge cases: every combination of the fourteen encodings of small-order points
//! (the eight points of the torsion subgroup, canonically encoded, and their six non-canonical
//! encodings) as public key `A` and as signature point `R`, with `s = 0`. Under ZIP 215 all 196
//! are valid (both sides of the cofactored equation are the identity), and single and batch
//! verification give the same answer for each; the strict rule of the old chain rejected most.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use curve25519_dalek_5::constants::EIGHT_TORSION;
use yui_consensus::sig::{self, Batch};

/// p = 2^255 - 19, little-endian.
fn p_bytes() -> [u8; 32] {
    let mut p = [0xffu8; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
}

/// `a + b` of two 256-bit little-endian numbers (no overflow in our use).
fn add(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

/// The canonical encodings of the eight small-order points, then every other encoding of them
/// that decodes: the sign bit set where x = 0, and y + p where that still fits in 255 bits.
fn small_order_encodings() -> Vec<[u8; 32]> {
    let canonical: Vec<[u8; 32]> = EIGHT_TORSION.iter().map(|p| p.compress().0).collect();
    let mut all = canonical.clone();
    let mut candidates = Vec::new();
    for c in &canonical {
        // The other sign bit (an alias only where x = 0: elsewhere it is another point, which
        // is canonical and already listed).
        let mut flipped = *c;
        flipped[31] ^= 0x80;
        candidates.push(flipped);
        // y + p, if it fits in 255 bits, with either sign bit.
        let mut y = *c;
        y[31] &= 0x7f;
        let yp = add(&y, &p_bytes());
        if yp[31] & 0x80 == 0 {
            let mut negative = yp;
            negative[31] |= 0x80;
            candidates.extend([yp, negative]);
        }
    }
    for e in candidates {
        if !all.contains(&e) && ed25519_zebra::VerificationKey::try_from(e).is_ok() {
            all.push(e);
        }
    }
    all
}

#[test]
fn the_fourteen_small_order_encodings_are_found() {
    let e = small_order_encodings();
    assert_eq!(
        e.len(),
        14,
        "{:?}",
        e.iter().map(hex::encode).collect::<Vec<_>>()
    );
}

#[test]
fn all_196_small_order_cases_are_valid_alone_and_in_batches() {
    let encodings = small_order_encodings();
    let msg = b"Zcash".to_vec();
    let mut all = Batch::new();
    let mut strict_rejects = 0;
    for a in &encodings {
        for r in &encodings {
            let mut s = [0u8; 64];
            s[..32].copy_from_slice(r);
            let single = sig::verify(a, &msg, &s);
            assert!(single, "A {} R {}", hex::encode(a), hex::encode(r));
            let mut one = Batch::new();
            one.queue(*a, msg.clone(), s);
            // With a standard signature beside it, so the batch path (not the single
            // fallback) decides.
            let k = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
            let m = b"standard".to_vec();
            let good = ed25519_dalek::Signer::sign(&k, &m).to_bytes();
            one.queue(k.verifying_key().to_bytes(), m, good);
            assert_eq!(one.verify_all(), single);
            all.queue(*a, msg.clone(), s);
            let strict = ed25519_dalek::VerifyingKey::from_bytes(a)
                .map(|vk| {
                    vk.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&s))
                        .is_ok()
                })
                .unwrap_or(false);
            if !strict {
                strict_rejects += 1;
            }
        }
    }
    assert_eq!(all.len(), 196);
    assert!(all.verify_all());
    assert_eq!(all.verify_each(), vec![true; 196]);
    assert!(
        strict_rejects > 0,
        "the old strict rule should have rejected these"
    );
}

#[test]
fn a_non_canonical_s_is_invalid_alone_and_in_a_batch() {
    let k = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let msg = b"m".to_vec();
    let mut s = ed25519_dalek::Signer::sign(&k, &msg).to_bytes();
    // s + l is the same scalar, non-canonically encoded: refused by ZIP 215.
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut hi = [0u8; 32];
    hi.copy_from_slice(&s[32..]);
    s[32..].copy_from_slice(&add(&hi, &l));
    let pk = k.verifying_key().to_bytes();
    assert!(!sig::verify(&pk, &msg, &s));
    let mut b = Batch::new();
    b.queue(pk, msg.clone(), s);
    b.queue(
        pk,
        b"n".to_vec(),
        ed25519_dalek::Signer::sign(&k, b"n").to_bytes(),
    );
    assert!(!b.verify_all());
    assert_eq!(b.verify_each(), vec![false, true]);
}
