//! The engine in a lossless in-memory network: one validator decides alone through the same
//! interface; four decide the same block at every height; an observer follows; a restarted
//! validator re-sends what it signed and never signs anything else for those steps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kit;

use ed25519_dalek::SigningKey;
use kit::{block_hash, keys, set_of};
use std::collections::VecDeque;
use yui_consensus::*;

fn set(keys: &[SigningKey]) -> ValidatorSet {
    set_of(keys, FaultModel::Byzantine)
}

/// Run engines to `heights` decisions with instant delivery. Returns decisions per node.
fn run(engines: &mut [Engine], vs: &ValidatorSet, heights: u64) -> Vec<Vec<CommitCertificate>> {
    let n = engines.len();
    let mut decided: Vec<Vec<CommitCertificate>> = vec![Vec::new(); n];
    let mut queue: VecDeque<(usize, Event)> = VecDeque::new();
    for i in 0..n {
        queue.push_back((
            i,
            Event::StartHeight {
                height: 1,
                validators: vs.clone(),
            },
        ));
    }
    let mut now = 0u64;
    let mut timers: Vec<(u64, usize, Timeout)> = Vec::new();
    for _ in 0..200_000 {
        let Some((i, ev)) = queue.pop_front() else {
            // Advance the clock to the next timer.
            if timers.is_empty() {
                break;
            }
            timers.sort_by_key(|t| t.0);
            let (at, i, t) = timers.remove(0);
            now = now.max(at);
            queue.push_back((i, Event::Timeout(t)));
            continue;
        };
        for a in engines[i].handle(now, ev) {
            match a {
                Action::Broadcast(m) => {
                    for j in 0..n {
                        if j != i {
                            queue.push_back((
                                j,
                                match &m {
                                    Message::Proposal(p) => Event::Proposal(p.clone()),
                                    Message::Vote(v) => Event::Vote(v.clone()),
                                },
                            ));
                        }
                    }
                }
                Action::BuildProposal { height, round } => queue.push_back((
                    i,
                    Event::ProposalReady {
                        height,
                        round,
                        block_hash: block_hash(height, round, i),
                    },
                )),
                Action::ValidateBlock {
                    height,
                    round,
                    block_hash,
                } => queue.push_back((
                    i,
                    Event::BlockValidated {
                        height,
                        round,
                        block_hash,
                        valid: true,
                    },
                )),
                Action::ScheduleTimeout { timeout, at_ms } => timers.push((at_ms, i, timeout)),
                Action::Decide(c) => {
                    c.verify("c", c.height, &c.block_hash, vs)
                        .expect("certificate verifies");
                    let h = c.height;
                    decided[i].push(c);
                    if h < heights {
                        timers.retain(|t| t.1 != i);
                        queue.push_back((
                            i,
                            Event::StartHeight {
                                height: h + 1,
                                validators: vs.clone(),
                            },
                        ));
                    }
                }
                Action::Persist(_) | Action::Evidence(_) => {}
            }
        }
        if decided.iter().all(|d| d.len() as u64 >= heights) {
            break;
        }
    }
    decided
}

#[test]
fn a_single_validator_decides_through_the_engine_interface() {
    let k = keys(1);
    let vs = set(&k);
    let mut e = vec![Engine::new(
        EngineConfig::with_chain_id("c"),
        Some(k[0].clone()),
    )];
    let d = run(&mut e, &vs, 5);
    assert_eq!(d[0].len(), 5);
    for (i, c) in d[0].iter().enumerate() {
        assert_eq!(c.height, i as u64 + 1);
        assert_eq!(c.round, 0);
    }
}

#[test]
fn four_validators_and_an_observer_agree_at_every_height() {
    let k = keys(4);
    let vs = set(&k);
    let mut e: Vec<Engine> = k
        .iter()
        .map(|k| Engine::new(EngineConfig::with_chain_id("c"), Some(k.clone())))
        .collect();
    e.push(Engine::new(EngineConfig::with_chain_id("c"), None));
    let d = run(&mut e, &vs, 6);
    for h in 0..6 {
        let hashes: std::collections::BTreeSet<Hash> = d.iter().map(|x| x[h].block_hash).collect();
        assert_eq!(hashes.len(), 1, "disagreement at height {}", h + 1);
    }
}

#[test]
fn a_restored_validator_resends_its_vote_and_signs_nothing_else() {
    let k = keys(4);
    let vs = set(&k);
    // Validator 1 (not the proposer of height 1 round 0 necessarily) prevoted nil before a crash.
    let before = VoteData {
        chain_id: "c".into(),
        vote_type: VoteType::Prevote,
        height: 1,
        round: 0,
        block_hash: None,
        validator: k[1].verifying_key().to_bytes(),
    }
    .sign(&k[1]);
    let mut e = Engine::new(EngineConfig::with_chain_id("c"), Some(k[1].clone()));
    let mut out = e.handle(0, Event::Restored(Message::Vote(before.clone())));
    out.extend(e.handle(
        0,
        Event::StartHeight {
            height: 1,
            validators: vs.clone(),
        },
    ));
    assert!(
        out.contains(&Action::Broadcast(Message::Vote(before.clone()))),
        "the restored vote is re-sent"
    );
    // A valid proposal for a block now arrives: the engine must not prevote for it in round 0.
    let proposer = vs.proposer(1, 0).public_key;
    let pk = k
        .iter()
        .find(|x| x.verifying_key().to_bytes() == proposer)
        .unwrap();
    let p = ProposalData {
        chain_id: "c".into(),
        height: 1,
        round: 0,
        block_hash: Hash([9; 32]),
        pol_round: None,
        proposer,
    }
    .sign(pk);
    let mut all = e.handle(1, Event::Proposal(p));
    all.extend(e.handle(
        2,
        Event::BlockValidated {
            height: 1,
            round: 0,
            block_hash: Hash([9; 32]),
            valid: true,
        },
    ));
    for a in all {
        if let Action::Persist(Message::Vote(v)) | Action::Broadcast(Message::Vote(v)) = a {
            if v.data.round == 0 && v.data.vote_type == VoteType::Prevote {
                assert_eq!(v, before, "signed a second, different prevote for one step");
            }
        }
    }
}

#[test]
fn messages_from_outsiders_other_chains_or_bad_signatures_change_nothing() {
    let k = keys(4);
    let vs = set(&k);
    let mut e = Engine::new(EngineConfig::with_chain_id("c"), Some(k[0].clone()));
    let _ = e.handle(
        0,
        Event::StartHeight {
            height: 1,
            validators: vs.clone(),
        },
    );
    let outsider = SigningKey::from_bytes(&[99; 32]);
    let bad = [
        VoteData {
            chain_id: "c".into(),
            vote_type: VoteType::Precommit,
            height: 1,
            round: 0,
            block_hash: Some(Hash([1; 32])),
            validator: outsider.verifying_key().to_bytes(),
        }
        .sign(&outsider),
        VoteData {
            chain_id: "other".into(),
            vote_type: VoteType::Precommit,
            height: 1,
            round: 0,
            block_hash: Some(Hash([1; 32])),
            validator: k[1].verifying_key().to_bytes(),
        }
        .sign(&k[1]),
        {
            let mut v = VoteData {
                chain_id: "c".into(),
                vote_type: VoteType::Precommit,
                height: 1,
                round: 0,
                block_hash: Some(Hash([1; 32])),
                validator: k[2].verifying_key().to_bytes(),
            }
            .sign(&k[2]);
            v.signature[0] ^= 1;
            v
        },
    ];
    for v in bad {
        assert!(e.handle(1, Event::Vote(v)).is_empty());
    }
    // Two real precommits are not a quorum; with the forged ones it would have been.
    for i in [1, 2] {
        let v = VoteData {
            chain_id: "c".into(),
            vote_type: VoteType::Precommit,
            height: 1,
            round: 0,
            block_hash: Some(Hash([1; 32])),
            validator: k[i].verifying_key().to_bytes(),
        }
        .sign(&k[i]);
        let out = e.handle(2, Event::Vote(v));
        assert!(!out.iter().any(|a| matches!(a, Action::Decide(_))));
    }
}

#[test]
fn a_double_vote_becomes_evidence() {
    let k = keys(4);
    let vs = set(&k);
    let mut e = Engine::new(EngineConfig::with_chain_id("c"), Some(k[0].clone()));
    let _ = e.handle(
        0,
        Event::StartHeight {
            height: 1,
            validators: vs,
        },
    );
    let mk = |h: u8| {
        VoteData {
            chain_id: "c".into(),
            vote_type: VoteType::Prevote,
            height: 1,
            round: 0,
            block_hash: Some(Hash([h; 32])),
            validator: k[3].verifying_key().to_bytes(),
        }
        .sign(&k[3])
    };
    let _ = e.handle(1, Event::Vote(mk(1)));
    let out = e.handle(1, Event::Vote(mk(2)));
    let ev: Vec<_> = out
        .iter()
        .filter_map(|a| {
            if let Action::Evidence(x) = a {
                Some(x.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(ev.len(), 1);
    assert!(ev[0].is_valid());
    assert!(
        e.handle(1, Event::Vote(mk(2)))
            .iter()
            .all(|a| !matches!(a, Action::Evidence(_))),
        "reported once"
    );
}

#[test]
fn a_validator_refraining_through_a_height_signs_nothing_there_then_signs_again() {
    let k = keys(4);
    let vs = set(&k);
    let me = k[1].verifying_key().to_bytes();
    let mut e = Engine::new(EngineConfig::with_chain_id("c"), Some(k[1].clone()));
    e.refrain_through(SignPoint::end_of(1));
    let own = |actions: &[Action]| -> Vec<SignPoint> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Persist(m) | Action::Broadcast(m) => Some(m),
                _ => None,
            })
            .filter(|m| match m {
                Message::Vote(v) => v.data.validator == me,
                Message::Proposal(p) => p.data.proposer == me,
            })
            .map(Message::sign_point)
            .collect()
    };
    let mut all = e.handle(
        0,
        Event::StartHeight {
            height: 1,
            validators: vs.clone(),
        },
    );
    // Every round of height 1: the proposer's block, then a quorum of the others' prevotes
    // and precommits for it, and every timeout. A node that may sign would prevote and
    // precommit; this one follows and decides without a signature of its own.
    let mut decided = false;
    for round in 0..3u32 {
        let proposer = vs.proposer(1, round).public_key;
        let block = Hash([round as u8 + 1; 32]);
        if let Some(pk) = k.iter().find(|x| x.verifying_key().to_bytes() == proposer) {
            if pk.verifying_key().to_bytes() != me {
                let p = ProposalData {
                    chain_id: "c".into(),
                    height: 1,
                    round,
                    block_hash: block,
                    pol_round: None,
                    proposer,
                }
                .sign(pk);
                all.extend(e.handle(1, Event::Proposal(p)));
            }
        }
        all.extend(e.handle(
            2,
            Event::BlockValidated {
                height: 1,
                round,
                block_hash: block,
                valid: true,
            },
        ));
        for step in [Step::Propose, Step::Prevote, Step::Precommit] {
            all.extend(e.handle(
                3,
                Event::Timeout(Timeout {
                    height: 1,
                    round,
                    step,
                }),
            ));
        }
        if round == 2 {
            for vote_type in [VoteType::Prevote, VoteType::Precommit] {
                for other in k.iter().filter(|x| x.verifying_key().to_bytes() != me) {
                    let v = VoteData {
                        chain_id: "c".into(),
                        vote_type,
                        height: 1,
                        round,
                        block_hash: Some(block),
                        validator: other.verifying_key().to_bytes(),
                    }
                    .sign(other);
                    let out = e.handle(4, Event::Vote(v));
                    decided |= out.iter().any(|a| matches!(a, Action::Decide(_)));
                    all.extend(out);
                }
            }
        }
    }
    assert!(decided, "the others' quorum decides the height");
    assert_eq!(own(&all), vec![], "signed at height 1 while refraining");
    // Height 2 is above the floor: it signs again (a prevote nil at the propose timeout).
    let mut next = e.handle(
        5,
        Event::StartHeight {
            height: 2,
            validators: vs.clone(),
        },
    );
    next.extend(e.handle(
        6,
        Event::Timeout(Timeout {
            height: 2,
            round: 0,
            step: Step::Propose,
        }),
    ));
    assert!(
        own(&next).iter().any(|p| p.height == 2 && p.step == 1),
        "a prevote of height 2"
    );
}

#[test]
fn sign_points_order_heights_then_rounds_then_steps() {
    let p = |height, round, step| SignPoint {
        height,
        round,
        step,
    };
    assert!(p(1, 0, 2) < p(1, 1, 0));
    assert!(p(1, 5, 2) < p(2, 0, 0));
    assert!(p(3, 9, 2) < SignPoint::end_of(3));
    assert!(SignPoint::end_of(3) < p(4, 0, 0));
}

#[test]
fn a_node_with_a_valid_value_can_hand_over_its_justification() {
    let k = keys(4);
    let vs = set(&k);
    let mut e = Engine::new(EngineConfig::with_chain_id("c"), Some(k[0].clone()));
    e.handle(
        0,
        Event::StartHeight {
            height: 1,
            validators: vs.clone(),
        },
    );
    assert!(e.justification().is_empty(), "nothing valid yet");
    let proposer = vs.proposer(1, 0).public_key;
    let pk = k
        .iter()
        .find(|x| x.verifying_key().to_bytes() == proposer)
        .unwrap();
    let block = Hash([7; 32]);
    let p = ProposalData {
        chain_id: "c".into(),
        height: 1,
        round: 0,
        block_hash: block,
        pol_round: None,
        proposer,
    }
    .sign(pk);
    e.handle(1, Event::Proposal(p.clone()));
    e.handle(
        2,
        Event::BlockValidated {
            height: 1,
            round: 0,
            block_hash: block,
            valid: true,
        },
    );
    let prevotes: Vec<Vote> = k[1..]
        .iter()
        .map(|x| {
            VoteData {
                chain_id: "c".into(),
                vote_type: VoteType::Prevote,
                height: 1,
                round: 0,
                block_hash: Some(block),
                validator: x.verifying_key().to_bytes(),
            }
            .sign(x)
        })
        .collect();
    for v in &prevotes {
        e.handle(3, Event::Vote(v.clone()));
    }
    let j = e.justification();
    assert!(j.contains(&Message::Proposal(p)), "the proposal");
    for v in prevotes {
        assert!(
            j.contains(&Message::Vote(v)),
            "every prevote for the valid value"
        );
    }
    let power: usize = j
        .iter()
        .filter(|m| matches!(m, Message::Vote(v) if v.data.block_hash == Some(block)))
        .count();
    assert!(power >= 3, "a quorum of prevotes");
}
