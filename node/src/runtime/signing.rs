//! What a restarted validator may sign, decided once at start from its own files: the
//! consensus WAL (every message it signed for the height in progress) and the last-signed
//! record (the highest point it ever signed, written before any message leaves the node).
//! The engine is told to sign nothing new at or below the result (`Engine::refrain_through`);
//! it still re-sends what the WAL holds, and follows the steps it may not sign as an observer.
//!
//! The rule (docs/adr/0011): a validator signs nothing new at or below its last-signed point;
//! and it signs nothing at all, through a whole height, when it cannot know what it signed
//! there — the WAL is damaged, the last-signed record is missing or damaged while the chain
//! is past genesis, or the last-signed point lies at a height still undecided but the WAL no
//! longer holds that message (it left the node, and the WAL lost it). A torn last WAL record
//! alone is safe: its append never completed, so its message was never sent.

use crate::storage::last_signed::LastSignedState;
use crate::storage::wal::{WalContents, WalTail};
use yui_consensus::{Height, SignPoint};

/// What the validator may sign from now on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningFloor {
    /// Sign nothing new at or below this point.
    pub floor: Option<SignPoint>,
    /// Why it refrains through a whole height, when it does (the floor is then the end of
    /// that height): a sentence for the operator.
    pub refrain: Option<(Height, String)>,
}

/// The floor of a validator whose next height is `next_height`.
pub fn floor(next_height: Height, wal: &WalContents, last: LastSignedState) -> SigningFloor {
    let wal_max = wal.records.iter().map(|r| r.message.sign_point()).max();
    let signed = match last {
        LastSignedState::Signed(p) => Some(p),
        _ => None,
    };
    let known = signed.max(wal_max);
    let unknown_through = known.map_or(next_height, |p| p.height.max(next_height));
    let past_genesis = next_height > 1;
    let why = match (wal.tail, last) {
        (WalTail::Damaged { record, offset }, _) => Some(format!(
            "the consensus WAL is damaged at record {record} (byte {offset}; the file is kept as consensus.wal.damaged)"
        )),
        (_, LastSignedState::Damaged) => Some("the last-signed record is damaged".to_string()),
        (_, LastSignedState::Missing) if past_genesis => Some(
            "there is no last-signed record (a data directory from an older version, or the file was lost)".to_string(),
        ),
        (_, LastSignedState::Signed(p)) if p.height >= next_height && wal_max < Some(p) => {
            Some(format!(
                "the consensus WAL no longer holds the last message this validator signed (height {}, round {}); {}",
                p.height,
                p.round,
                match wal.tail {
                    WalTail::Missing => "the WAL is missing",
                    WalTail::Torn { .. } => "its last record was cut short",
                    _ => "it was lost",
                }
            ))
        }
        _ => None,
    };
    match why {
        Some(why) => SigningFloor {
            floor: Some(SignPoint::end_of(unknown_through)),
            refrain: Some((unknown_through, why)),
        },
        None => SigningFloor {
            floor: known,
            refrain: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::wal::WalRecord;
    use ed25519_dalek::SigningKey;
    use yui_consensus::{Message, VoteData, VoteType};

    fn vote(h: u64, r: u32, t: VoteType) -> WalRecord {
        let k = SigningKey::from_bytes(&[3; 32]);
        WalRecord {
            height: h,
            message: Message::Vote(
                VoteData {
                    chain_id: "c".into(),
                    vote_type: t,
                    height: h,
                    round: r,
                    block_hash: None,
                    validator: k.verifying_key().to_bytes(),
                }
                .sign(&k),
            ),
        }
    }

    fn wal(records: Vec<WalRecord>, tail: WalTail) -> WalContents {
        WalContents { records, tail }
    }

    #[test]
    fn a_validator_refrains_exactly_when_it_cannot_know_what_it_signed() {
        let pv = vote(5, 1, VoteType::Prevote);
        let pc = vote(5, 1, VoteType::Precommit);
        let at = |r: &WalRecord| r.message.sign_point();
        let signed = |r: &WalRecord| LastSignedState::Signed(at(r));
        // A fresh validator at genesis: nothing to fear.
        let f = floor(1, &wal(vec![], WalTail::Missing), LastSignedState::Missing);
        assert_eq!(
            f,
            SigningFloor {
                floor: None,
                refrain: None
            }
        );
        // Intact WAL holding the last signed message: floor there, no refrain.
        let f = floor(
            5,
            &wal(vec![pv.clone(), pc.clone()], WalTail::Clean),
            signed(&pc),
        );
        assert_eq!(f.floor, Some(at(&pc)));
        assert!(f.refrain.is_none());
        // A torn tail whose message never left (the last-signed record is below it): fine.
        let f = floor(
            5,
            &wal(vec![pv.clone()], WalTail::Torn { bytes: 9 }),
            signed(&pv),
        );
        assert_eq!((f.floor, f.refrain), (Some(at(&pv)), None));
        // The WAL lost a message that left (last signed above what it holds): refrain.
        for tail in [WalTail::Torn { bytes: 9 }, WalTail::Clean, WalTail::Missing] {
            let f = floor(5, &wal(vec![pv.clone()], tail), signed(&pc));
            assert_eq!(f.floor, Some(SignPoint::end_of(5)), "{tail:?}");
            assert_eq!(f.refrain.as_ref().map(|r| r.0), Some(5));
        }
        // Damage anywhere: refrain through the height, whatever else is known.
        let f = floor(
            5,
            &wal(
                vec![pv.clone(), pc.clone()],
                WalTail::Damaged {
                    record: 2,
                    offset: 99,
                },
            ),
            signed(&pc),
        );
        assert_eq!(f.floor, Some(SignPoint::end_of(5)));
        // Missing or damaged last-signed record past genesis: unknown, refrain.
        for last in [LastSignedState::Missing, LastSignedState::Damaged] {
            let f = floor(5, &wal(vec![pv.clone()], WalTail::Clean), last);
            assert_eq!(f.floor, Some(SignPoint::end_of(5)), "{last:?}");
        }
        // What was signed at a decided height does not hold back the next one.
        let f = floor(6, &wal(vec![], WalTail::Missing), signed(&pc));
        assert_eq!((f.floor, f.refrain), (Some(at(&pc)), None));
        // An unknown past reaches as far as any height the files name.
        let f = floor(
            5,
            &wal(vec![vote(7, 0, VoteType::Prevote)], WalTail::Clean),
            LastSignedState::Damaged,
        );
        assert_eq!(f.floor, Some(SignPoint::end_of(7)));
    }
}
