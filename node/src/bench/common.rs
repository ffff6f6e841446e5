//! What the benchmarks share: the machine's own signature rate (the physical reference every
//! figure is compared with), a scratch directory, and the transactions the workloads submit.

use anyhow::Result;
use ed25519_dalek::{Signer, SigningKey, Verifier};
use std::time::Instant;
use yui_client::tx;
use yui_proto::v1 as pb;

/// Single-core strict ed25519 verifications per second (median of 5 runs of `n`).
pub fn sig_rate(n: usize) -> f64 {
    let key = SigningKey::from_bytes(&[7; 32]);
    let msg = [42u8; 200];
    let sig = key.sign(&msg);
    let vk = key.verifying_key();
    let mut rates: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                let _ = std::hint::black_box(vk.verify_strict(std::hint::black_box(&msg), &sig));
            }
            n as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    let _ = vk.verify(&msg, &sig);
    rates[2]
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
