//! `yui genesis init`: from a short TOML description of the organizations to a genesis file,
//! generating any key that does not exist yet.

use crate::setup::genesis::{
    ConsensusParams, FaultModelName, GenesisAccount, GenesisDoc, GenesisObserver, GenesisOrg,
    GenesisValidator,
};
use crate::setup::keys;
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// `network.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkDesc {
    /// Chain id.
    pub chain_id: String,
    /// "byzantine" or "crash".
    pub fault_model: FaultModelName,
    /// Expiry window in blocks (default 600).
    #[serde(default = "default_expiry")]
    pub max_expiry_blocks: u64,
    /// Consensus timings (defaults if absent).
    #[serde(default)]
    pub consensus: ConsensusParams,
    /// Initial parameters.
    #[serde(default)]
    pub parameters: BTreeMap<String, i64>,
    /// Organizations.
    pub organizations: Vec<OrgDesc>,
}

fn default_expiry() -> u64 {
    600
}

/// One organization.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgDesc {
    /// Short id.
    pub id: String,
    /// Public name.
    pub name: String,
    /// Kind: "municipality" (the default), "company", "npo" or "citizen_group".
    #[serde(default)]
    pub kind: crate::setup::genesis::OrgKindName,
    /// Validators it runs (keys `<id>-validator-<n>.key` are generated if missing).
    #[serde(default)]
    pub validators: u32,
    /// Observer nodes it runs (keys `<id>-observer-<n>.key`).
    #[serde(default)]
    pub observers: u32,
    /// Admin accounts (keys `<id>-admin-<n>.key`).
    #[serde(default = "one")]
    pub admins: u32,
    /// Roles of its admin accounts.
    #[serde(default = "default_admin_roles")]
    pub admin_roles: Vec<String>,
}

fn one() -> u32 {
    1
}

impl Default for OrgDesc {
    /// An organization with no nodes and one admin with the default roles.
    fn default() -> Self {
        OrgDesc {
            id: String::new(),
            name: String::new(),
            kind: Default::default(),
            validators: 0,
            observers: 0,
            admins: one(),
            admin_roles: default_admin_roles(),
        }
    }
}

fn default_admin_roles() -> Vec<String> {
    vec!["org_admin".into(), "municipality_admin".into()]
}

fn key_hex(keys_dir: &Path, name: &str) -> Result<String> {
    let path = keys_dir.join(format!("{name}.key"));
    let key = if path.exists() {
        keys::load(&path)?
    } else {
        keys::generate(&path)?
    };
    Ok(hex::encode(key.verifying_key().to_bytes()))
}

/// Build the genesis document, generating missing keys in `keys_dir`.
pub fn genesis_from(
    desc: &NetworkDesc,
    keys_dir: &Path,
    genesis_time_ms: u64,
) -> Result<GenesisDoc> {
    let mut validators = Vec::new();
    let mut accounts = Vec::new();
    let mut observers = Vec::new();
    for o in &desc.organizations {
        for n in 1..=o.observers {
            let name = format!("{}-observer-{n}", o.id);
            observers.push(GenesisObserver {
                organization: o.id.clone(),
                public_key: key_hex(keys_dir, &name)?,
                name,
            });
        }
        for n in 1..=o.validators {
            let name = format!("{}-validator-{n}", o.id);
            validators.push(GenesisValidator {
                organization: o.id.clone(),
                public_key: key_hex(keys_dir, &name)?,
                name,
                power: 1,
            });
        }
        for n in 1..=o.admins {
            accounts.push(GenesisAccount {
                public_key: key_hex(keys_dir, &format!("{}-admin-{n}", o.id))?,
                organization: o.id.clone(),
                roles: o.admin_roles.clone(),
            });
        }
    }
    let doc = GenesisDoc {
        chain_id: desc.chain_id.clone(),
        genesis_time_ms,
        fault_model: desc.fault_model,
        max_expiry_blocks: desc.max_expiry_blocks,
        consensus: desc.consensus.clone(),
        organizations: desc
            .organizations
            .iter()
            .map(|o| GenesisOrg {
                id: o.id.clone(),
                name: o.name.clone(),
                kind: o.kind,
            })
            .collect(),
        validators,
        observers,
        accounts,
        parameters: desc.parameters.clone(),
    };
    doc.contracts_genesis()
        .context("the network description is not valid")?;
    doc.validator_set()
        .context("the network description has no valid validator set")?;
    Ok(doc)
}

/// Read a network description.
pub fn load(path: &Path) -> Result<NetworkDesc> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid network description", path.display()))
}
