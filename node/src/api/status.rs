//! The one place where an error becomes a gRPC status: an admission rejection, a contract's
//! error, a local failure. A caller's mistake gets the code of its kind and a sentence a
//! person understands; this node's own failure is INTERNAL and logged, and never carries a
//! client's data.

use crate::chain::tx::Reject;
use std::collections::HashMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

/// INTERNAL for a failure of this node (logged here, once).
pub fn internal(e: impl std::fmt::Display) -> Status {
    tracing::error!(error = %e, "internal error serving a request");
    Status::internal(format!("the node failed to read its store: {e}"))
}

/// The status for a contract query's error.
pub fn contract(e: yui_contracts::ContractError) -> Status {
    match e {
        yui_contracts::ContractError::Failed(f) => internal(f),
        invalid => Status::from(Reject::from(invalid)),
    }
}

impl From<Reject> for Status {
    fn from(r: Reject) -> Status {
        use yui_contracts::InvalidKind as K;
        let message = r.to_string();
        let code = match &r {
            Reject::TooLarge { .. } => Code::ResourceExhausted,
            Reject::Malformed(_)
            | Reject::WrongChain { .. }
            | Reject::BadSignature
            | Reject::PersonalData(_) => Code::InvalidArgument,
            Reject::Expired { .. } | Reject::ExpiryTooFar { .. } => Code::FailedPrecondition,
            Reject::DuplicatePending { .. } | Reject::DuplicateCommitted => Code::AlreadyExists,
            Reject::MempoolFull { .. } => Code::ResourceExhausted,
            Reject::Refused(i) => match i.kind {
                K::Argument => Code::InvalidArgument,
                K::Permission => Code::PermissionDenied,
                K::NotFound => Code::NotFound,
                K::AlreadyExists => Code::AlreadyExists,
                K::Precondition => Code::FailedPrecondition,
            },
            Reject::Internal(_) => Code::Internal,
        };
        match &r {
            // The contract's stable code travels as a standard `google.rpc.ErrorInfo` detail
            // (reason = the code, domain = "yui"), which stock gRPC clients decode.
            Reject::Refused(i) => Status::with_error_details(
                code,
                message,
                ErrorDetails::with_error_info(i.code.clone(), ERROR_DOMAIN, HashMap::new()),
            ),
            _ => Status::new(code, message),
        }
    }
}

/// The `ErrorInfo.domain` of every contract error.
pub const ERROR_DOMAIN: &str = "yui";

#[cfg(test)]
mod tests {
    use super::*;
    use yui_consensus::Hash;
    use yui_contracts::{Invalid, InvalidKind};

    #[test]
    fn every_rejection_gets_the_code_of_its_fact_and_its_sentence() {
        let cases = [
            (Reject::TooLarge { bytes: 70_000 }, Code::ResourceExhausted),
            (Reject::Malformed("x".into()), Code::InvalidArgument),
            (
                Reject::WrongChain {
                    got: "a".into(),
                    expected: "b".into(),
                },
                Code::InvalidArgument,
            ),
            (Reject::BadSignature, Code::InvalidArgument),
            (Reject::PersonalData("x".into()), Code::InvalidArgument),
            (
                Reject::Expired {
                    expires_at_height: 1,
                    next_height: 2,
                },
                Code::FailedPrecondition,
            ),
            (
                Reject::ExpiryTooFar {
                    expires_at_height: 9,
                    limit: 5,
                    next_height: 2,
                    max_expiry_blocks: 3,
                },
                Code::FailedPrecondition,
            ),
            (
                Reject::DuplicatePending {
                    pending: Hash([1; 32]),
                },
                Code::AlreadyExists,
            ),
            (Reject::DuplicateCommitted, Code::AlreadyExists),
            (Reject::MempoolFull { pending: 3 }, Code::ResourceExhausted),
            (
                Reject::Refused(Invalid::new(InvalidKind::Permission, "c.x", "no role")),
                Code::PermissionDenied,
            ),
            (
                Reject::Refused(Invalid::new(InvalidKind::NotFound, "c.x", "no such")),
                Code::NotFound,
            ),
            (Reject::Internal("disk".into()), Code::Internal),
        ];
        for (r, code) in cases {
            let sentence = r.to_string();
            let s = Status::from(r);
            assert_eq!(s.code(), code, "{sentence}");
            assert_eq!(s.message(), sentence);
            assert!(!sentence.is_empty());
        }
        let s = Status::from(Reject::TooLarge { bytes: 70_000 });
        assert!(s.message().contains("70000") && s.message().contains("65536"));
    }
}
