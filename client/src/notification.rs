//! Notification records (`GovernanceCall.record_notification`): the recipient is written on the
//! ledger only as a keyed hash, HMAC-SHA256 under the organization's notification key of the
//! recipient's normalized address (docs/wire.md, "Notification records"). The key stays with
//! the organization's backend; without it the hash links nothing, with it the organization can
//! show that a given address was notified.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use yui_proto::v1 as pb;

/// Prefix of the hashed message.
pub const RECIPIENT_DOMAIN: &[u8] = b"yui/v1/recipient\0";

/// A fresh 32-byte notification key from the operating system's generator.
///
/// # Panics
/// If the operating system has no random number generator to give.
pub fn new_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).expect("the operating system's random number generator failed");
    k
}

/// The address as it is hashed: ASCII whitespace trimmed; an e-mail address in ASCII lower
/// case; a phone number (SMS, phone) as its digits, with a leading `+` kept; anything else as
/// given.
pub fn normalize(channel: pb::NotificationChannel, address: &str) -> String {
    let a = address.trim_matches(|c: char| c.is_ascii_whitespace());
    match channel {
        pb::NotificationChannel::Email => a.to_ascii_lowercase(),
        pb::NotificationChannel::Sms | pb::NotificationChannel::Phone => {
            let digits: String = a.chars().filter(char::is_ascii_digit).collect();
            if a.starts_with('+') {
                format!("+{digits}")
            } else {
                digits
            }
        }
        _ => a.to_string(),
    }
}

/// The recipient hash to record for `address` sent by `channel`.
///
/// # Panics
/// Never: HMAC accepts a key of any length.
pub fn recipient_hash(key: &[u8], channel: pb::NotificationChannel, address: &str) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(RECIPIENT_DOMAIN);
    mac.update(normalize(channel, address).as_bytes());
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_address_written_differently_hashes_the_same_and_keys_separate() {
        let k = [1u8; 32];
        let e = pb::NotificationChannel::Email;
        assert_eq!(
            recipient_hash(&k, e, " Taro.Yamada@Example.JP\n"),
            recipient_hash(&k, e, "taro.yamada@example.jp")
        );
        let s = pb::NotificationChannel::Sms;
        assert_eq!(normalize(s, "+81 90-1234-5678"), "+819012345678");
        assert_eq!(normalize(s, "090 (1234) 5678"), "09012345678");
        assert_ne!(
            recipient_hash(&k, e, "a@example.jp"),
            recipient_hash(&[2u8; 32], e, "a@example.jp")
        );
        assert_ne!(
            recipient_hash(&k, e, "a@example.jp"),
            recipient_hash(&k, e, "b@example.jp")
        );
    }
}
