//! The relief contract (CONTRACTS.md). Its calls, state and events are defined by its own issue;
//! until then it rejects every call as unknown.

use crate::error::{invalid_argument, Result};
use crate::governance::Account;
use crate::{pb, Exec, State, StateRead};

/// Execute a relief call.
pub fn execute(_x: &mut Exec<'_>, _call: &pb::ReliefCall) -> Result<()> {
    Err(invalid_argument(
        "relief.unknown_call",
        "the relief contract has no calls yet",
    ))
}

/// Mempool pre-check of the signer's role for a relief call.
pub fn authorize(_state: &dyn StateRead, _account: &Account, _call: &pb::ReliefCall) -> Result<()> {
    Err(invalid_argument(
        "relief.unknown_call",
        "the relief contract has no calls yet",
    ))
}

/// Name of a relief call.
pub fn call_name(_call: &pb::ReliefCall) -> &'static str {
    "relief.unknown"
}

/// Initial relief state.
pub fn init_genesis(_state: &mut dyn State) -> Result<()> {
    Ok(())
}
