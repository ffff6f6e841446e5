//! The eco contract (CONTRACTS.md). Its calls, state and events are defined by its own issue;
//! until then it rejects every call as unknown.

use crate::error::{invalid_argument, Result};
use crate::governance::Account;
use crate::{pb, Exec, State, StateRead};

/// Execute a eco call.
pub fn execute(_x: &mut Exec<'_>, _call: &pb::EcoCall) -> Result<()> {
    Err(invalid_argument(
        "eco.unknown_call",
        "the eco contract has no calls yet",
    ))
}

/// Mempool pre-check of the signer's role for a eco call.
pub fn authorize(_state: &dyn StateRead, _account: &Account, _call: &pb::EcoCall) -> Result<()> {
    Err(invalid_argument(
        "eco.unknown_call",
        "the eco contract has no calls yet",
    ))
}

/// Name of a eco call.
pub fn call_name(_call: &pb::EcoCall) -> &'static str {
    "eco.unknown"
}

/// Initial eco state.
pub fn init_genesis(_state: &mut dyn State) -> Result<()> {
    Ok(())
}
