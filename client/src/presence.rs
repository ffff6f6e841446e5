//! Presence at a volunteer check-in (`CheckIn.challenge` and `presence_signature`): the
//! facility's device shows fresh random bytes, the volunteer's device signs them with the
//! volunteer's account key for the activity, and the facility submits both with its `CheckIn`.

use ed25519_dalek::{Signer as _, SigningKey};
pub use yui_proto::signed::{presence_message, PRESENCE_DOMAIN};

/// Length of the challenge a facility device draws.
pub const CHALLENGE_BYTES: usize = 16;

/// A fresh challenge from the operating system's random number generator.
///
/// # Panics
/// If the operating system has no random number generator to give.
pub fn challenge() -> [u8; CHALLENGE_BYTES] {
    let mut c = [0u8; CHALLENGE_BYTES];
    getrandom::fill(&mut c).expect("the operating system's random number generator failed");
    c
}

/// The volunteer's presence signature over `challenge` for `activity_id`.
pub fn sign(volunteer: &SigningKey, activity_id: &str, challenge: &[u8]) -> [u8; 64] {
    volunteer
        .sign(&presence_message(activity_id, challenge))
        .to_bytes()
}
