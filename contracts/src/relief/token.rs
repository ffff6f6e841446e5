//! The shipment QR token: `YUI1-` + base32(shipment id ‖ 16-byte secret). The donor's backend
//! draws the secret (`Relief.NewShipmentLabel` does it for them), prints the token on the label
//! and commits to it when marking the shipment shipped; the receiver scans it at arrival and the
//! contract checks it against the commitment with public state only.

use crate::error::{invalid_argument, Result};

/// Prefix of every shipment QR token; the digit versions the format.
pub const TOKEN_PREFIX: &str = "YUI1-";
/// Length in bytes of the per-shipment token secret carried in the QR code.
pub const TOKEN_SECRET_LEN: usize = 16;
/// Token payload: shipment id (8 bytes, big endian) followed by the secret.
const TOKEN_PAYLOAD_LEN: usize = 8 + TOKEN_SECRET_LEN;
/// Base32 characters for the payload (24 bytes = 192 bits = 38.4 → 39 characters, no padding).
const TOKEN_BODY_LEN: usize = (TOKEN_PAYLOAD_LEN * 8).div_ceil(5);

/// Build the QR token string for a shipment from its id and the secret the receiver's backend
/// generated at go-ahead, e.g. `YUI1-AAAAAAAAAAAAAAAB...` (44 characters).
pub fn token_string(shipment_id: u64, secret: &[u8; TOKEN_SECRET_LEN]) -> String {
    let mut payload = [0u8; TOKEN_PAYLOAD_LEN];
    payload[..8].copy_from_slice(&shipment_id.to_be_bytes());
    payload[8..].copy_from_slice(secret);
    // RFC 4648 base32: upper case letters and digits only, so the token fits the QR
    // alphanumeric mode (denser than byte mode) and survives being typed from a label.
    format!(
        "{TOKEN_PREFIX}{}",
        data_encoding::BASE32_NOPAD.encode(&payload)
    )
}

/// Parse a QR token string into (shipment id, secret). Accepts lower case (scanners and people
/// sometimes lower-case it); rejects anything else with `relief.bad_token`.
pub fn parse_token(token: &str) -> Result<(u64, [u8; TOKEN_SECRET_LEN])> {
    let bad = || {
        invalid_argument(
            "relief.bad_token",
            "the QR token is not a valid Yui shipment token",
        )
    };
    let body = token
        .get(..TOKEN_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(TOKEN_PREFIX))
        .and_then(|_| token.get(TOKEN_PREFIX.len()..))
        .ok_or_else(bad)?;
    if body.len() != TOKEN_BODY_LEN {
        return Err(bad());
    }
    // Decoding refuses non-zero trailing bits, so each payload has exactly one token string.
    let payload = data_encoding::BASE32_NOPAD
        .decode(body.to_ascii_uppercase().as_bytes())
        .map_err(|_| bad())?;
    if payload.len() != TOKEN_PAYLOAD_LEN {
        return Err(bad());
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&payload[..8]);
    let mut secret = [0u8; TOKEN_SECRET_LEN];
    secret.copy_from_slice(&payload[8..]);
    Ok((u64::from_be_bytes(id), secret))
}

/// Commitment to a shipment's token secret, supplied by the donor when marking it shipped and
/// stored with the shipment. Domain-separated and bound to the shipment id, so a secret is useless for any
/// other shipment and the commitment (public in events) does not reveal the secret.
pub fn token_commitment(shipment_id: u64, secret: &[u8; TOKEN_SECRET_LEN]) -> [u8; 32] {
    let mut h = blake3::Hasher::new_derive_key("yui relief shipment qr token v1");
    h.update(&shipment_id.to_be_bytes());
    h.update(secret);
    *h.finalize().as_bytes()
}

/// Whether a scanned token belongs to the shipment with this id and commitment. Every validator
/// can check it with public state only; forging one needs a blake3 preimage.
pub fn verify_token(token: &str, shipment_id: u64, commitment: &[u8; 32]) -> bool {
    match parse_token(token) {
        Ok((id, secret)) => {
            id == shipment_id
                && blake3::Hash::from(token_commitment(id, &secret))
                    == blake3::Hash::from(*commitment)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ContractError;
    use proptest::prelude::*;

    #[test]
    fn token_is_short_and_qr_alphanumeric() {
        let t = token_string(7, &[0xab; TOKEN_SECRET_LEN]);
        assert_eq!(t.len(), 44);
        assert!(t.starts_with("YUI1-"));
        assert!(t
            .bytes()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'-'));
        assert_eq!(parse_token(&t).unwrap(), (7, [0xab; TOKEN_SECRET_LEN]));
        assert_eq!(
            parse_token(&t.to_ascii_lowercase()).unwrap(),
            (7, [0xab; TOKEN_SECRET_LEN])
        );
    }

    #[test]
    fn known_vector() {
        // Zero id and zero secret encode as all 'A'.
        assert_eq!(
            token_string(0, &[0; TOKEN_SECRET_LEN]),
            format!("YUI1-{}", "A".repeat(39))
        );
        assert_eq!(
            token_string(1, &[0; TOKEN_SECRET_LEN]),
            format!("YUI1-{}C{}", "A".repeat(12), "A".repeat(26))
        );
    }

    #[test]
    fn malformed_tokens_rejected() {
        let good = token_string(42, &[1; TOKEN_SECRET_LEN]);
        for bad in [
            "",
            "YUI1-",
            "YUI2-AAAA",
            "YUI1-AAAA",
            &good[1..],
            &format!("{good}A"),
        ] {
            match parse_token(bad) {
                Err(ContractError::Invalid(e)) => assert_eq!(e.code, "relief.bad_token", "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        let mut wrong_char = good.clone();
        wrong_char.replace_range(10..11, "1");
        assert!(parse_token(&wrong_char).is_err());
        // Non-zero trailing bits (last char 'B' instead of a multiple of 8) are rejected.
        let mut trailing = format!("YUI1-{}", "A".repeat(38));
        trailing.push('B');
        assert!(parse_token(&trailing).is_err());
        // Multi-byte UTF-8 at the prefix boundary must not panic.
        assert!(parse_token("YUI1\u{3042}AAAA").is_err());
    }

    #[test]
    fn verify_binds_id_and_secret() {
        let secret = [9u8; TOKEN_SECRET_LEN];
        let c = token_commitment(5, &secret);
        assert!(verify_token(&token_string(5, &secret), 5, &c));
        assert!(!verify_token(&token_string(6, &secret), 6, &c));
        assert!(!verify_token(
            &token_string(5, &[8; TOKEN_SECRET_LEN]),
            5,
            &c
        ));
        // A token for shipment 5 does not verify as shipment 6, even with 6's commitment.
        assert!(!verify_token(
            &token_string(5, &secret),
            6,
            &token_commitment(6, &secret)
        ));
    }

    proptest! {
        #[test]
        fn token_round_trips(id in any::<u64>(), secret in any::<[u8; TOKEN_SECRET_LEN]>()) {
            let t = token_string(id, &secret);
            prop_assert_eq!(t.len(), 44);
            prop_assert_eq!(parse_token(&t).unwrap(), (id, secret));
            prop_assert!(verify_token(&t, id, &token_commitment(id, &secret)));
        }

        #[test]
        fn parse_never_panics_and_accepted_tokens_are_canonical(s in "(YUI1-|yui1-)?[A-Za-z0-9=\\-]{0,48}") {
            if let Ok((id, secret)) = parse_token(&s) {
                prop_assert_eq!(token_string(id, &secret), s.to_ascii_uppercase());
            }
        }
    }
}
