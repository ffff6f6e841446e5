//! One test per rule of Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon,
//! Milosevic, 2018), in the order of the paper's lines, as raft-rs tests its paper section by
//! section. Each drives one engine through the probe (`kit::probe`): the test plays the other
//! three of four validators (quorum 3, f + 1 = 2) and reads back what the engine signed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kit;

use kit::block_hash;
use kit::probe::*;
use yui_consensus::*;

const N: u8 = 4;

/// A block of the test's own (not the probe's).
fn v(tag: usize) -> Hash {
    block_hash(1, 0, tag)
}

/// The first round after `from` whose proposer is not the engine.
fn round_not_proposed_by_me(p: &Probe, from: Round) -> Round {
    (from + 1..from + 20)
        .find(|&r| p.proposer(1, r) != p.me)
        .expect("a round with another proposer")
}

/// The first round after `from` whose proposer is the engine.
fn round_proposed_by_me(p: &Probe, from: Round) -> Round {
    (from + 1..from + 20)
        .find(|&r| p.proposer(1, r) == p.me)
        .expect("a round the engine proposes in")
}

/// Move the engine to `round` with f + 1 = 2 nil precommits of that round (line 55).
fn jump_to(p: &mut Probe, round: Round) -> Vec<Action> {
    let who = p.others(2);
    p.votes(&who, VoteType::Precommit, 1, round, None)
}

/// Lock the follower on `block` in round 0: the proposal and a quorum of prevotes (line 36).
fn lock_in_round_0(p: &mut Probe, block: Hash) {
    p.proposal(1, 0, block, None);
    let who = p.others(2);
    let a = p.votes(&who, VoteType::Prevote, 1, 0, Some(block));
    assert_eq!(my_votes(&a, VoteType::Precommit), vec![(0, Some(block))]);
}

// ---- lines 11-21: StartRound --------------------------------------------------------------

#[test]
fn l11_the_proposer_of_round_0_proposes_a_new_block_and_everyone_bounds_the_propose_step() {
    let probe = Probe::follower(N);
    let proposer = probe.proposer(1, 0);
    let mut p = Probe::new(N, proposer);
    // `Probe::new` fed StartHeight; feed it again to a fresh engine to see its actions.
    p.engine = Engine::new(
        EngineConfig::with_chain_id(CHAIN),
        Some(p.keys[proposer].clone()),
    );
    let validators = p.set.clone();
    let a = p.feed(Event::StartHeight {
        height: 1,
        validators,
    });
    assert_eq!(my_proposals(&a), vec![(0, p.own_block(1, 0), None)]);
    assert!(timers(&a)
        .iter()
        .any(|t| t.step == Step::Propose && t.round == 0));
    // A follower signs nothing at the start of a round and only sets the propose timer.
    let mut f = Probe::follower(N);
    f.engine = Engine::new(
        EngineConfig::with_chain_id(CHAIN),
        Some(f.keys[f.me].clone()),
    );
    let validators = f.set.clone();
    let a = f.feed(Event::StartHeight {
        height: 1,
        validators,
    });
    assert!(my_proposals(&a).is_empty());
    assert!(my_votes(&a, VoteType::Prevote).is_empty());
    assert!(timers(&a)
        .iter()
        .any(|t| t.step == Step::Propose && t.round == 0));
}

#[test]
fn l15_a_proposer_with_a_valid_value_proposes_it_again_with_its_valid_round() {
    let mut p = Probe::follower(N);
    lock_in_round_0(&mut p, v(1));
    let mine = round_proposed_by_me(&p, 0);
    let a = jump_to(&mut p, mine);
    assert_eq!(my_proposals(&a), vec![(mine, v(1), Some(0))]);
}

// ---- lines 22-27: a new proposal -----------------------------------------------------------

#[test]
fn l22_a_valid_proposal_gets_a_prevote_for_it() {
    let mut p = Probe::follower(N);
    let a = p.proposal(1, 0, v(1), None);
    assert_eq!(my_votes(&a, VoteType::Prevote), vec![(0, Some(v(1)))]);
}

#[test]
fn l22_an_invalid_proposal_gets_a_nil_prevote() {
    let mut p = Probe::follower(N);
    p.invalid.insert(v(1));
    let a = p.proposal(1, 0, v(1), None);
    assert_eq!(my_votes(&a, VoteType::Prevote), vec![(0, None)]);
}

#[test]
fn l22_a_proposal_from_a_validator_that_is_not_the_proposer_is_ignored() {
    let mut p = Probe::follower(N);
    let not_proposer = (0..N as usize)
        .find(|&i| i != p.me && i != p.proposer(1, 0))
        .unwrap();
    let a = p.proposal_from(not_proposer, 1, 0, v(1), None);
    assert!(my_votes(&a, VoteType::Prevote).is_empty());
}

#[test]
fn l22_a_locked_validator_prevotes_nil_for_another_block_and_for_its_own_lock() {
    let mut p = Probe::follower(N);
    lock_in_round_0(&mut p, v(1));
    let r = round_not_proposed_by_me(&p, 0);
    jump_to(&mut p, r);
    let a = p.proposal(1, r, v(2), None);
    assert_eq!(my_votes(&a, VoteType::Prevote), vec![(r, None)]);
    // The same lock, the locked block proposed again: it prevotes for it.
    let mut q = Probe::follower(N);
    lock_in_round_0(&mut q, v(1));
    jump_to(&mut q, r);
    let a = q.proposal(1, r, v(1), None);
    assert_eq!(my_votes(&a, VoteType::Prevote), vec![(r, Some(v(1)))]);
}

// ---- lines 28-33: a proposal with a valid round ------------------------------------------

#[test]
fn l28_a_polka_in_a_later_round_than_the_lock_unlocks() {
    // Locked on v1 in round 0; in round r1 the others prevote v2 (a polka the engine did not
    // join: it saw no proposal there); in round r2 v2 is proposed with valid round r1.
    let mut p = Probe::follower(N);
    lock_in_round_0(&mut p, v(1));
    let r1 = round_not_proposed_by_me(&p, 0);
    let who = p.others(3);
    p.votes(&who, VoteType::Prevote, 1, r1, Some(v(2)));
    let r2 = round_not_proposed_by_me(&p, r1);
    jump_to(&mut p, r2);
    let a = p.proposal(1, r2, v(2), Some(r1));
    assert_eq!(my_votes(&a, VoteType::Prevote), vec![(r2, Some(v(2)))]);
}

#[test]
fn l28_a_polka_older_than_the_lock_does_not_unlock() {
    // The others prevoted v2 in round 0 (a polka the engine missed); the engine locked on v1 in
    // a later round r1; a proposal of v2 with valid round 0 gets nil.
    let mut p = Probe::follower(N);
    let who = p.others(3);
    p.votes(&who[..1], VoteType::Prevote, 1, 0, Some(v(2)));
    let r1 = round_not_proposed_by_me(&p, 0);
    jump_to(&mut p, r1);
    p.proposal(1, r1, v(1), None);
    let a = p.votes(&who[..2], VoteType::Prevote, 1, r1, Some(v(1)));
    assert_eq!(my_votes(&a, VoteType::Precommit), vec![(r1, Some(v(1)))]);
    p.votes(&who[1..3], VoteType::Prevote, 1, 0, Some(v(2)));
    let r2 = round_not_proposed_by_me(&p, r1);
    jump_to(&mut p, r2);
    let a = p.proposal(1, r2, v(2), Some(0));
    assert_eq!(my_votes(&a, VoteType::Prevote), vec![(r2, None)]);
}

#[test]
fn l28_a_valid_round_without_its_polka_gets_no_prevote_until_the_polka_arrives() {
    let mut p = Probe::follower(N);
    let r = round_not_proposed_by_me(&p, 0);
    jump_to(&mut p, r);
    let a = p.proposal(1, r, v(2), Some(0));
    assert!(my_votes(&a, VoteType::Prevote).is_empty());
    let who = p.others(3);
    let a = p.votes(&who, VoteType::Prevote, 1, 0, Some(v(2)));
    assert_eq!(my_votes(&a, VoteType::Prevote), vec![(r, Some(v(2)))]);
}

// ---- line 34: any quorum of prevotes ------------------------------------------------------

#[test]
fn l34_a_quorum_of_mixed_prevotes_starts_the_prevote_timer_once() {
    let mut p = Probe::follower(N);
    p.proposal(1, 0, v(1), None);
    let who = p.others(2);
    let mut a = p.votes(&who[..1], VoteType::Prevote, 1, 0, Some(v(1)));
    assert!(!timers(&a).iter().any(|t| t.step == Step::Prevote));
    a = p.votes(&who[1..], VoteType::Prevote, 1, 0, None);
    let prevote_timers: Vec<_> = timers(&a)
        .into_iter()
        .filter(|t| t.step == Step::Prevote && t.round == 0)
        .collect();
    assert_eq!(prevote_timers.len(), 1);
    assert!(my_votes(&a, VoteType::Precommit).is_empty());
    let last = p.others(3)[2];
    let a = p.votes(&[last], VoteType::Prevote, 1, 0, None);
    assert!(!timers(&a).iter().any(|t| t.step == Step::Prevote));
}

// ---- lines 36-43: a polka for the proposal -------------------------------------------------

#[test]
fn l36_a_polka_for_the_proposal_locks_and_precommits_it() {
    let mut p = Probe::follower(N);
    let a = p.proposal(1, 0, v(1), None);
    assert_eq!(my_votes(&a, VoteType::Prevote), vec![(0, Some(v(1)))]);
    let who = p.others(2);
    let a = p.votes(&who, VoteType::Prevote, 1, 0, Some(v(1)));
    assert_eq!(my_votes(&a, VoteType::Precommit), vec![(0, Some(v(1)))]);
}

#[test]
fn l36_a_polka_seen_after_precommitting_nil_still_becomes_the_valid_value() {
    let mut p = Probe::follower(N);
    p.proposal(1, 0, v(1), None);
    let who = p.others(3);
    p.votes(&who[..1], VoteType::Prevote, 1, 0, None);
    p.votes(&who[1..2], VoteType::Prevote, 1, 0, Some(v(1)));
    let a = p.timeout(Step::Prevote, 1, 0);
    assert_eq!(my_votes(&a, VoteType::Precommit), vec![(0, None)]);
    // The late prevote completes a polka for v1: no second precommit, but v1 is now the
    // valid value the engine proposes when its turn comes.
    let a = p.votes(&who[2..], VoteType::Prevote, 1, 0, Some(v(1)));
    assert!(my_votes(&a, VoteType::Precommit).is_empty());
    let mine = round_proposed_by_me(&p, 0);
    let a = jump_to(&mut p, mine);
    assert_eq!(my_proposals(&a), vec![(mine, v(1), Some(0))]);
}

#[test]
fn l36_a_polka_for_an_invalid_block_is_not_precommitted() {
    let mut p = Probe::follower(N);
    p.invalid.insert(v(1));
    p.proposal(1, 0, v(1), None);
    let who = p.others(3);
    let a = p.votes(&who, VoteType::Prevote, 1, 0, Some(v(1)));
    assert!(!my_votes(&a, VoteType::Precommit).contains(&(0, Some(v(1)))));
}

// ---- line 44: a polka for nil ---------------------------------------------------------------

#[test]
fn l44_a_quorum_of_nil_prevotes_gets_a_nil_precommit() {
    let mut p = Probe::follower(N);
    p.proposal(1, 0, v(1), None);
    let who = p.others(3);
    let a = p.votes(&who, VoteType::Prevote, 1, 0, None);
    assert_eq!(my_votes(&a, VoteType::Precommit), vec![(0, None)]);
}

// ---- line 47: any quorum of precommits -----------------------------------------------------

#[test]
fn l47_a_quorum_of_mixed_precommits_starts_the_precommit_timer() {
    let mut p = Probe::follower(N);
    let who = p.others(3);
    let a = p.votes(&who[..2], VoteType::Precommit, 1, 0, None);
    assert!(!timers(&a).iter().any(|t| t.step == Step::Precommit));
    let a = p.votes(&who[2..], VoteType::Precommit, 1, 0, Some(v(1)));
    assert!(timers(&a)
        .iter()
        .any(|t| t.step == Step::Precommit && t.round == 0));
    assert_eq!(decided(&a), None);
}

// ---- line 49: a commit ----------------------------------------------------------------------

#[test]
fn l49_a_quorum_of_precommits_with_the_proposal_decides_in_any_round() {
    let mut p = Probe::follower(N);
    p.proposal(1, 0, v(1), None);
    // The engine moved on to a later round before the precommits of round 0 arrived.
    let r = round_not_proposed_by_me(&p, 0);
    jump_to(&mut p, r);
    let who = p.others(3);
    let a = p.votes(&who, VoteType::Precommit, 1, 0, Some(v(1)));
    assert_eq!(decided(&a), Some(v(1)));
}

/// Where the engine departs from the paper's line 49 on purpose: a quorum of precommits
/// decides even before the proposal (the block) has arrived, as CometBFT does. A quorum holds
/// f + 1 correct validators that validated the block, so it is valid; the driver fetches it
/// from peers with the certificate (`runtime::driver`, "decided a block this node does not
/// have"). Less than a quorum decides nothing, block or not.
#[test]
fn l49_a_quorum_of_precommits_decides_before_the_block_arrives_and_less_never_decides() {
    let mut p = Probe::follower(N);
    let who = p.others(3);
    let a = p.votes(&who[..2], VoteType::Precommit, 1, 0, Some(v(1)));
    assert_eq!(decided(&a), None, "two of four is not a quorum");
    let mut q = Probe::follower(N);
    q.proposal(1, 0, v(1), None);
    let a = q.votes(&who[..2], VoteType::Precommit, 1, 0, Some(v(1)));
    assert_eq!(
        decided(&a),
        None,
        "two of four is not a quorum, with the block"
    );
    let a = p.votes(&who[2..], VoteType::Precommit, 1, 0, Some(v(1)));
    assert_eq!(
        decided(&a),
        Some(v(1)),
        "a quorum decides without the block"
    );
}

#[test]
fn l49_a_decided_height_takes_no_more_votes() {
    let mut p = Probe::follower(N);
    p.proposal(1, 0, v(1), None);
    let who = p.others(3);
    let a = p.votes(&who, VoteType::Precommit, 1, 0, Some(v(1)));
    assert_eq!(decided(&a), Some(v(1)));
    let r = round_not_proposed_by_me(&p, 0);
    let a = p.votes(&who, VoteType::Precommit, 1, r, None);
    assert!(a.is_empty(), "after the decision: {a:?}");
    let a = p.proposal(1, r, v(2), None);
    assert!(my_votes(&a, VoteType::Prevote).is_empty());
}

// ---- line 55: f + 1 messages of a later round ----------------------------------------------

#[test]
fn l55_f_plus_one_messages_of_a_later_round_move_the_engine_there() {
    let mut p = Probe::follower(N);
    let r = round_not_proposed_by_me(&p, 2);
    let who = p.others(2);
    p.votes(&who[..1], VoteType::Prevote, 1, r, None);
    assert_eq!(p.engine.round(), 0, "one message (f) is not enough");
    let a = p.votes(&who[1..], VoteType::Prevote, 1, r, None);
    assert_eq!(p.engine.round(), r);
    assert!(timers(&a)
        .iter()
        .any(|t| t.step == Step::Propose && t.round == r));
}

// ---- lines 57-64: timeouts of propose and prevote -----------------------------------------

#[test]
fn l57_the_propose_timeout_gets_a_nil_prevote_but_a_stale_one_does_nothing() {
    let mut p = Probe::follower(N);
    let a = p.timeout(Step::Propose, 1, 3);
    assert!(
        my_votes(&a, VoteType::Prevote).is_empty(),
        "another round's timer"
    );
    let a = p.timeout(Step::Propose, 1, 0);
    assert_eq!(my_votes(&a, VoteType::Prevote), vec![(0, None)]);
    // Once prevoted, the same timer again signs nothing new.
    let a = p.timeout(Step::Propose, 1, 0);
    assert!(my_votes(&a, VoteType::Prevote).is_empty());
}

#[test]
fn l61_the_prevote_timeout_gets_a_nil_precommit_only_in_the_prevote_step() {
    let mut p = Probe::follower(N);
    let a = p.timeout(Step::Prevote, 1, 0);
    assert!(
        my_votes(&a, VoteType::Precommit).is_empty(),
        "still in the propose step"
    );
    p.proposal(1, 0, v(1), None);
    let a = p.timeout(Step::Prevote, 1, 0);
    assert_eq!(my_votes(&a, VoteType::Precommit), vec![(0, None)]);
}

// ---- line 65: the precommit timeout ---------------------------------------------------------

#[test]
fn l65_the_precommit_timeout_starts_the_next_round() {
    let mut p = Probe::follower(N);
    assert_eq!(p.engine.round(), 0);
    let a = p.timeout(Step::Precommit, 1, 0);
    assert_eq!(p.engine.round(), 1);
    assert!(timers(&a)
        .iter()
        .any(|t| t.step == Step::Propose && t.round == 1));
    // A precommit timeout of a round already left changes nothing.
    p.timeout(Step::Precommit, 1, 0);
    assert_eq!(p.engine.round(), 1);
}
