//! The volunteer contract (CONTRACTS.md). Its calls, state and events are defined by its own issue;
//! until then it rejects every call as unknown.

use crate::error::{invalid_argument, Result};
use crate::governance::Account;
use crate::{pb, Exec, State, StateRead};

/// Execute a volunteer call.
pub fn execute(_x: &mut Exec<'_>, _call: &pb::VolunteerCall) -> Result<()> {
    Err(invalid_argument(
        "volunteer.unknown_call",
        "the volunteer contract has no calls yet",
    ))
}

/// Mempool pre-check of the signer's role for a volunteer call.
pub fn authorize(
    _state: &dyn StateRead,
    _account: &Account,
    _call: &pb::VolunteerCall,
) -> Result<()> {
    Err(invalid_argument(
        "volunteer.unknown_call",
        "the volunteer contract has no calls yet",
    ))
}

/// Name of a volunteer call.
pub fn call_name(_call: &pb::VolunteerCall) -> &'static str {
    "volunteer.unknown"
}

/// Initial volunteer state.
pub fn init_genesis(_state: &mut dyn State) -> Result<()> {
    Ok(())
}
