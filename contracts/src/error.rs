//! Contract errors. `Invalid` is the caller's fault and deterministic: every node rejects the
//! call the same way, it is recorded in the receipt, and it changes nothing. `Failed` is ours
//! and local (a storage read failed): the node must stop executing the block, not record it.

/// A local failure of this node (storage), never the transaction's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state access failed: {0}")]
pub struct Failed(pub String);

/// Why a call was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// The call is not acceptable; recorded in the receipt.
    #[error("{0}")]
    Invalid(#[from] Invalid),
    /// The node could not read its state.
    #[error(transparent)]
    Failed(#[from] Failed),
}

/// What kind of invalid call, so the API can choose a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidKind {
    /// Malformed or out-of-range arguments.
    Argument,
    /// The signer may not do this.
    Permission,
    /// The object does not exist.
    NotFound,
    /// The object already exists.
    AlreadyExists,
    /// The state does not allow it now (closed, already received, exceeds remaining, ...).
    Precondition,
}

/// A rejected call: a stable code, a kind, and a sentence for a person. Messages never
/// contain personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// Stable machine-readable code, `contract.reason`.
    pub code: String,
    /// The kind.
    pub kind: InvalidKind,
    /// A sentence a person reads.
    pub message: String,
}

impl Invalid {
    /// A new invalid-call error.
    pub fn new(kind: InvalidKind, code: &str, message: impl Into<String>) -> Self {
        Invalid {
            code: code.to_string(),
            kind,
            message: message.into(),
        }
    }
}

/// Shorthand constructors returning `ContractError`.
pub fn invalid_argument(code: &str, message: impl Into<String>) -> ContractError {
    Invalid::new(InvalidKind::Argument, code, message).into()
}
/// The signer lacks the role.
pub fn permission_denied(code: &str, message: impl Into<String>) -> ContractError {
    Invalid::new(InvalidKind::Permission, code, message).into()
}
/// The object does not exist.
pub fn not_found(code: &str, message: impl Into<String>) -> ContractError {
    Invalid::new(InvalidKind::NotFound, code, message).into()
}
/// The object exists already.
pub fn already_exists(code: &str, message: impl Into<String>) -> ContractError {
    Invalid::new(InvalidKind::AlreadyExists, code, message).into()
}
/// The state does not allow the call now.
pub fn precondition(code: &str, message: impl Into<String>) -> ContractError {
    Invalid::new(InvalidKind::Precondition, code, message).into()
}

/// Result of contract code.
pub type Result<T, E = ContractError> = std::result::Result<T, E>;

/// One stable error code of the contracts, as the error catalogue (docs/api.md) lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// The code, `contract.reason` (`<contract>.reason` where every contract uses it, and the
    /// shared `invalid_id`).
    pub code: &'static str,
    /// Its kind, which decides the gRPC status a refused submission gets.
    pub kind: InvalidKind,
    /// The sentences it says, with `{}` where a value is filled in.
    pub messages: &'static [&'static str],
    /// The source files under `contracts/src/` that raise it.
    pub sources: &'static [&'static str],
}

include!(concat!(env!("OUT_DIR"), "/error_catalogue.rs"));

impl InvalidKind {
    /// The gRPC status a submission refused with this kind gets (receipts carry the code).
    pub fn grpc_status(self) -> &'static str {
        match self {
            InvalidKind::Argument => "INVALID_ARGUMENT",
            InvalidKind::Permission => "PERMISSION_DENIED",
            InvalidKind::NotFound => "NOT_FOUND",
            InvalidKind::AlreadyExists => "ALREADY_EXISTS",
            InvalidKind::Precondition => "FAILED_PRECONDITION",
        }
    }

    /// What a client should do about an error of this kind.
    pub fn advice(self) -> &'static str {
        match self {
            InvalidKind::Argument => "Correct the request (the sentence names the field); the same call fails again.",
            InvalidKind::Permission => "Sign with an account that holds the role for the object's owner; an org admin grants roles (`GrantRole`).",
            InvalidKind::NotFound => "Check the id; an object created by a transaction exists only from its block on, so wait for that block on the node you ask.",
            InvalidKind::AlreadyExists => "The object exists: if it is the one you meant to create, treat the call as done; otherwise choose another id.",
            InvalidKind::Precondition => "The object's state does not allow this now: read it again (its list or get query) and decide; retrying unchanged fails again.",
        }
    }
}
