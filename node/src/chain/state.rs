//! Contract state as the contracts see it: the store's `s/` keys without their prefix, through
//! the contracts' `StateRead` trait. Read-only; writes go through the commit batch.

use crate::chain::keys;
use crate::storage::Store;
use yui_contracts::state::Entries;
use yui_contracts::{Failed, StateRead};

/// Contract state read from the store.
pub struct StoreState<'a>(pub &'a dyn Store);

impl StateRead for StoreState<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Failed> {
        self.0
            .get(&keys::state(key))
            .map_err(|e| Failed(e.to_string()))
    }

    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Entries, Failed> {
        let p = keys::state(prefix);
        let a = after.map(keys::state);
        Ok(self
            .0
            .scan(&p, a.as_deref(), limit)
            .map_err(|e| Failed(e.to_string()))?
            .into_iter()
            .map(|(k, v)| (k[keys::STATE.len()..].to_vec(), v))
            .collect())
    }
}
