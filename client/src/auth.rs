//! The `PersonalData` service's request token (ADR 0005). Every call carries the metadata
//! header `x-yui-auth: <account public key hex>.<unix ms>.<signature hex>`, where the
//! signature is ed25519 over `"yui/v1/auth\0" || <gRPC method path> || <unix ms as decimal
//! ASCII>`. A node accepts a token within [`AUTH_WINDOW_MS`] of its clock, once.

use ed25519_dalek::{Signer as _, SigningKey};

/// The metadata header carrying the signed request token.
pub const AUTH_HEADER: &str = "x-yui-auth";
/// Domain separator of the signed message.
pub const AUTH_DOMAIN: &[u8] = b"yui/v1/auth\0";
/// Largest allowed difference between a token's time and the node's clock.
pub const AUTH_WINDOW_MS: u64 = 60_000;

/// gRPC method paths of the `PersonalData` service, as signed.
pub mod method {
    /// `Put`.
    pub const PUT: &str = "/yui.v1.PersonalData/Put";
    /// `Get`.
    pub const GET: &str = "/yui.v1.PersonalData/Get";
    /// `Update`.
    pub const UPDATE: &str = "/yui.v1.PersonalData/Update";
    /// `Erase`.
    pub const ERASE: &str = "/yui.v1.PersonalData/Erase";
    /// `Disclose`.
    pub const DISCLOSE: &str = "/yui.v1.PersonalData/Disclose";
    /// `ReadAccessLog`.
    pub const READ_ACCESS_LOG: &str = "/yui.v1.PersonalData/ReadAccessLog";
    /// `GetReleased`.
    pub const GET_RELEASED: &str = "/yui.v1.PersonalData/GetReleased";
    /// `Backup`.
    pub const BACKUP: &str = "/yui.v1.PersonalData/Backup";
    /// `Restore`.
    pub const RESTORE: &str = "/yui.v1.PersonalData/Restore";
}

/// The message a token signs.
pub fn auth_message(method_path: &str, unix_ms: u64) -> Vec<u8> {
    let ms = unix_ms.to_string();
    let mut m = Vec::with_capacity(AUTH_DOMAIN.len() + method_path.len() + ms.len());
    m.extend_from_slice(AUTH_DOMAIN);
    m.extend_from_slice(method_path.as_bytes());
    m.extend_from_slice(ms.as_bytes());
    m
}

/// The `x-yui-auth` header value for a call of `method_path` at `unix_ms`.
pub fn auth_header(key: &SigningKey, method_path: &str, unix_ms: u64) -> String {
    let sig = key.sign(&auth_message(method_path, unix_ms));
    format!(
        "{}.{}.{}",
        hex::encode(key.verifying_key().as_bytes()),
        unix_ms,
        hex::encode(sig.to_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier as _};

    #[test]
    fn the_header_names_the_key_and_time_and_signs_method_and_time() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let h = auth_header(&key, method::GET, 1_700_000_000_123);
        let parts: Vec<&str> = h.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], hex::encode(key.verifying_key().as_bytes()));
        assert_eq!(parts[1], "1700000000123");
        let sig = Signature::from_slice(&hex::decode(parts[2]).unwrap()).unwrap();
        let vk = key.verifying_key();
        assert!(vk
            .verify(&auth_message(method::GET, 1_700_000_000_123), &sig)
            .is_ok());
        // Not valid for another method or another time.
        assert!(vk
            .verify(&auth_message(method::PUT, 1_700_000_000_123), &sig)
            .is_err());
        assert!(vk
            .verify(&auth_message(method::GET, 1_700_000_000_124), &sig)
            .is_err());
    }
}
