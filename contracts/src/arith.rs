//! Checked arithmetic for totals and counters. A total that would overflow refuses the call
//! (deterministically, on every node: `<contract>.total_overflow`); a counter that would go
//! below zero is a broken invariant, this node's failure, never silently clamped.

use crate::error::{precondition, ContractError, Failed, Result};

/// `a + b` for the total `what` of `contract`.
pub fn add(contract: &str, what: &str, a: u64, b: u64) -> Result<u64> {
    a.checked_add(b).ok_or_else(|| {
        precondition(
            &format!("{contract}.total_overflow"),
            format!("{what} would exceed {}", u64::MAX),
        )
    })
}

/// `a - b` for the counter `what`, which can only go below zero through a bug.
pub fn sub(what: &str, a: u64, b: u64) -> Result<u64> {
    a.checked_sub(b).ok_or_else(|| {
        ContractError::Failed(Failed(format!(
            "the counter {what} would go below zero ({a} - {b})"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_refuses_and_underflow_fails() {
        assert_eq!(add("c", "t", 1, 2).unwrap(), 3);
        assert!(matches!(
            add("c", "t", u64::MAX, 1),
            Err(ContractError::Invalid(i)) if i.code == "c.total_overflow"
        ));
        assert_eq!(sub("n", 3, 2).unwrap(), 1);
        assert!(matches!(sub("n", 2, 3), Err(ContractError::Failed(_))));
    }
}
