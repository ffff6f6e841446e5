//! The points contract (CONTRACTS.md). Its calls, state and events are defined by its own issue;
//! until then it rejects every call as unknown.

use crate::error::{invalid_argument, Result};
use crate::governance::Account;
use crate::{pb, Exec, State, StateRead};

/// Execute a points call.
pub fn execute(_x: &mut Exec<'_>, _call: &pb::PointsCall) -> Result<()> {
    Err(invalid_argument(
        "points.unknown_call",
        "the points contract has no calls yet",
    ))
}

/// Mempool pre-check of the signer's role for a points call.
pub fn authorize(_state: &dyn StateRead, _account: &Account, _call: &pb::PointsCall) -> Result<()> {
    Err(invalid_argument(
        "points.unknown_call",
        "the points contract has no calls yet",
    ))
}

/// Name of a points call.
pub fn call_name(_call: &pb::PointsCall) -> &'static str {
    "points.unknown"
}

/// Initial points state.
pub fn init_genesis(_state: &mut dyn State) -> Result<()> {
    Ok(())
}
