//! Volunteer certificates as a facility checks them: the QR payload a volunteer carries
//! (`YUICERT1:` and the base32 of an event inclusion proof) and its offline verification
//! against the consortium's validator keys. Whether a certificate was revoked since is an
//! online question (`Volunteer.VerifyCertificate`), not answered here.

use crate::proof::{self, ProofError};
use yui_consensus::{Hash, ValidatorSet};
use yui_proto::v1 as pb;

/// Prefix of a certificate QR payload.
pub const QR_PREFIX: &str = "YUICERT1:";

/// Why a certificate does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The text is not a Yui certificate code.
    #[error("this is not a Yui volunteer certificate (it does not start with {QR_PREFIX})")]
    NotACertificate,
    /// The code is not valid base32.
    #[error("the certificate code is damaged (not valid base32)")]
    Damaged,
    /// The proof does not verify.
    #[error("{0}")]
    Proof(#[from] ProofError),
    /// The proof is of a transaction, not of an event.
    #[error("the proof does not name an event")]
    NoEvent,
    /// The proven transaction failed.
    #[error("the proven transaction failed, so it issued nothing")]
    TransactionFailed,
    /// The proven event is something else.
    #[error("the proven event is not a certificate issuance")]
    NotIssuance,
}

impl CertificateError {
    /// A stable short code for this reason, as [`ProofError::code`].
    pub fn code(&self) -> &'static str {
        match self {
            CertificateError::NotACertificate => "not_a_certificate",
            CertificateError::Damaged => "damaged",
            CertificateError::Proof(p) => p.code(),
            CertificateError::NoEvent => "no_event",
            CertificateError::TransactionFailed => "transaction_failed",
            CertificateError::NotIssuance => "not_issuance",
        }
    }
}

/// The QR payload of a proof.
pub fn qr_text(proof: &[u8]) -> String {
    format!("{QR_PREFIX}{}", data_encoding::BASE32_NOPAD.encode(proof))
}

/// The proof bytes of a QR payload (spaces and line breaks ignored, case-insensitive).
pub fn proof_from_qr(text: &str) -> Result<Vec<u8>, CertificateError> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let body = t
        .strip_prefix(QR_PREFIX)
        .ok_or(CertificateError::NotACertificate)?;
    data_encoding::BASE32_NOPAD
        .decode(body.as_bytes())
        .map_err(|_| CertificateError::Damaged)
}

/// The `CertificateIssued` event inside an event, if it is one.
pub fn certificate_event(e: &pb::Event) -> Option<&pb::CertificateIssued> {
    match e.kind.as_ref()? {
        pb::event::Kind::Volunteer(pb::VolunteerEvent {
            kind: Some(pb::volunteer_event::Kind::CertificateIssued(c)),
        }) => Some(c),
        _ => None,
    }
}

/// What a valid certificate proof shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvenCertificate {
    /// The event as committed.
    pub certificate: pb::CertificateIssued,
    /// Height of the issuing block.
    pub height: u64,
    /// Hash of the issuing block.
    pub block_hash: Hash,
}

/// Check a certificate proof offline: canonical encoding, commit certificate by `set` (the
/// validator set trusted for its height), Merkle paths, and that the proven event is a
/// successful `CertificateIssued`.
pub fn verify(bytes: &[u8], set: &ValidatorSet) -> Result<ProvenCertificate, CertificateError> {
    let p = proof::decode(bytes)?;
    if p.event_cursor.is_none() {
        return Err(CertificateError::NoEvent);
    }
    let v = proof::verify(&p, set)?;
    if !v.success {
        return Err(CertificateError::TransactionFailed);
    }
    let event = v.event.ok_or(CertificateError::NoEvent)?;
    let certificate = certificate_event(&event)
        .cloned()
        .ok_or(CertificateError::NotIssuance)?;
    Ok(ProvenCertificate {
        certificate,
        height: v.height,
        block_hash: v.block_hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_payloads_round_trip_and_damage_is_named() {
        let bytes = vec![0u8, 1, 2, 250, 255, 17];
        let text = qr_text(&bytes);
        assert!(text.starts_with(QR_PREFIX));
        assert_eq!(proof_from_qr(&text), Ok(bytes.clone()));
        // Case and white space do not matter (a QR reader may add line breaks).
        let spaced = format!(" {}\n", text.to_ascii_lowercase());
        assert_eq!(proof_from_qr(&spaced), Ok(bytes));
        assert_eq!(
            proof_from_qr("YUIPROOF:AAAA"),
            Err(CertificateError::NotACertificate)
        );
        assert_eq!(
            proof_from_qr("YUICERT1:0189"),
            Err(CertificateError::Damaged)
        );
    }
}
