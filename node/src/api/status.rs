//! The one place where an error becomes a gRPC status: an admission rejection, a contract's
//! error, a local failure. A caller's mistake gets the code of its kind and a sentence a
//! person understands; this node's own failure is INTERNAL and logged, and never carries a
//! client's data.

use crate::chain::tx::Reject;
use tonic::Status;

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
        match r {
            Reject::InvalidArgument(m) => Status::invalid_argument(m),
            Reject::FailedPrecondition(m) => Status::failed_precondition(m),
            Reject::PermissionDenied(m) => Status::permission_denied(m),
            Reject::AlreadyExists(m) => Status::already_exists(m),
            Reject::ResourceExhausted(m) => Status::resource_exhausted(m),
            Reject::NotFound(m) => Status::not_found(m),
            Reject::Internal(m) => Status::internal(m),
        }
    }
}
