//! The mempool's byte bound counts what a pending transaction holds in memory, not only its
//! signed bytes: this binary counts every allocation and checks the mempool's own estimate
//! ([`yui_node::admission::mempool::footprint`]) against the memory its transactions really
//! keep, for small and for large transactions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use cap::Cap;
use yui_client::tx::RawTx;
use yui_node::admission::mempool::{footprint, precheck, Mempool};
use yui_node::setup::config::MempoolConfig;
use yui_proto::v1 as pb;

/// The system allocator, keeping count of the bytes live.
#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// The count is the whole process's: the tests of this binary take turns, so none allocates
/// while another measures.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `n` checked transactions, each proposing a member change with a reason of `reason_bytes`.
fn txs(n: u64, reason_bytes: usize) -> Vec<yui_node::chain::tx::CheckedTx> {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let reason: String = "the joint consortium grows "
        .chars()
        .cycle()
        .take(reason_bytes)
        .collect();
    (0..n)
        .map(|seq| {
            let call = pb::tx_body::Call::Governance(pb::GovernanceCall {
                call: Some(pb::governance_call::Call::ProposeMemberChange(
                    pb::ProposeMemberChange {
                        change: Some(pb::MemberChange {
                            change: Some(pb::member_change::Change::Remove("kawasaki".into())),
                        }),
                        reason: reason.clone(),
                    },
                )),
            });
            let mut nonce = [0u8; 16];
            nonce[..8].copy_from_slice(&seq.to_le_bytes());
            let body = yui_client::tx::body_with_nonce(&key, "c", 10, nonce, call);
            let raw = RawTx::from_proto(yui_client::tx::sign(&key, &body));
            precheck(raw, "c").unwrap()
        })
        .collect()
}

/// The memory the mempool keeps for `n` transactions of that size, and its estimate of it.
fn held_and_estimated(n: u64, reason_bytes: usize) -> (usize, usize) {
    let mut m = Mempool::new(MempoolConfig {
        max_txs: usize::MAX,
        max_bytes: usize::MAX,
    });
    let before = ALLOCATOR.allocated();
    let batch = txs(n, reason_bytes);
    let estimated: usize = batch.iter().map(footprint).sum();
    m.remember_validated(&batch);
    drop(batch);
    let held = ALLOCATOR.allocated() - before;
    assert_eq!(m.len() as u64, n);
    (held, estimated)
}

#[test]
fn the_byte_bound_counts_what_pending_transactions_hold_in_memory() {
    let _turn = one_at_a_time();
    // What the first check allocates once and keeps (the guard's tables) is no transaction's.
    drop(txs(1, 16));
    for (n, reason_bytes) in [(4_000, 16), (2_000, 200), (200, 8_000), (40, 60_000)] {
        let (held, estimated) = held_and_estimated(n, reason_bytes);
        // Not below what is really held (the bound must bound memory), and not so far above
        // it that a mempool holds much less than configured.
        assert!(
            estimated >= held,
            "{n} transactions with {reason_bytes}-byte reasons hold {held} bytes, estimated {estimated}"
        );
        assert!(
            estimated <= held + held / 2,
            "{n} transactions with {reason_bytes}-byte reasons hold {held} bytes, estimated {estimated}"
        );
    }
}

#[test]
fn transactions_from_a_block_count_against_the_bound_too() {
    let _turn = one_at_a_time();
    let batch = txs(10, 100);
    let one = footprint(&batch[0]);
    let mut m = Mempool::new(MempoolConfig {
        max_txs: 100,
        max_bytes: 3 * one + one / 2,
    });
    m.remember_validated(&batch);
    assert_eq!(m.len(), 3, "remembered past the byte bound");
}
