//! What the benchmarks share: the machine's own signature rate (the physical reference every
//! figure is compared with), a scratch directory, and the transactions the workloads submit.

use anyhow::Result;
use ed25519_dalek::{Signer, SigningKey};
use std::time::Instant;
use yui_client::tx;
use yui_proto::v1 as pb;

/// Single-core ed25519 verifications per second under the chain's rule (ZIP 215, one by one;
/// median of 5 runs of `n`).
pub fn sig_rate(n: usize) -> f64 {
    let key = SigningKey::from_bytes(&[7; 32]);
    let msg = [42u8; 200];
    let sig = key.sign(&msg).to_bytes();
    let vk = yui_consensus::sig::Key::from_bytes(&key.verifying_key().to_bytes())
        .unwrap_or_else(|| unreachable!("a generated key decodes"));
    median_rate(n, |n| {
        for _ in 0..n {
            let _ = std::hint::black_box(vk.verify(std::hint::black_box(&msg), &sig));
        }
    })
}

/// Single-core ed25519 verifications per second in batches of 64 distinct signers (median of
/// 5 runs of about `n`).
pub fn batch_sig_rate(n: usize) -> f64 {
    let items: Vec<([u8; 32], Vec<u8>, [u8; 64])> = (0..64u16)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..2].copy_from_slice(&i.to_le_bytes());
            let key = SigningKey::from_bytes(&seed);
            let msg = vec![42u8; 200];
            let sig = key.sign(&msg).to_bytes();
            (key.verifying_key().to_bytes(), msg, sig)
        })
        .collect();
    let batches = (n / 64).max(1);
    median_rate(batches * 64, |_| {
        for _ in 0..batches {
            let mut b = yui_consensus::sig::Batch::new();
            for (k, m, s) in &items {
                b.queue(*k, m.clone(), *s);
            }
            let _ = std::hint::black_box(b.verify_all());
        }
    })
}

fn median_rate(n: usize, run: impl Fn(usize)) -> f64 {
    median(
        (0..5)
            .map(|_| {
                let t = Instant::now();
                run(n);
                n as f64 / t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// The median of `v` (the upper middle of an even count; NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A fresh scratch directory under the system's temporary directory.
pub fn tempfile_dir() -> Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!(
        "yui-bench-{}-{}",
        std::process::id(),
        crate::runtime::driver::now_ms()
    ));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Sign a body for `call` by `key`, with a random nonce.
pub fn signed(
    key: &SigningKey,
    chain_id: &str,
    expires: u64,
    call: pb::tx_body::Call,
) -> pb::SignedTransaction {
    tx::sign(key, &tx::body(key, chain_id, expires, call))
}

/// A signed governance grant of a resident role to a synthetic account `(client, seq)`.
pub fn grant_tx(
    admin: &SigningKey,
    chain_id: &str,
    expires: u64,
    client: u64,
    seq: u64,
) -> pb::SignedTransaction {
    let mut account = [0u8; 32];
    account[..8].copy_from_slice(&client.to_le_bytes());
    account[8..16].copy_from_slice(&seq.to_le_bytes());
    signed(
        admin,
        chain_id,
        expires,
        grant_call(&account, pb::RoleKind::RoleResident, ""),
    )
}

/// A governance call granting `account` a role.
pub fn grant_call(account: &[u8], kind: pb::RoleKind, scope: &str) -> pb::tx_body::Call {
    pb::tx_body::Call::Governance(pb::GovernanceCall {
        call: Some(pb::governance_call::Call::GrantRole(pb::GrantRole {
            account: account.to_vec(),
            role: Some(pb::Role {
                kind: kind as i32,
                scope: scope.into(),
            }),
        })),
    })
}

/// A relief call.
pub fn relief(c: pb::relief_call::Call) -> pb::tx_body::Call {
    pb::tx_body::Call::Relief(pb::ReliefCall { call: Some(c) })
}
