//! The genesis document: a JSON file every node of a network shares, naming the chain, its
//! fault model, organizations, validators, initial accounts and roles, parameters and the
//! consensus timings. Its hash is the parent hash of block 1. Built by `yui genesis init` from
//! a short TOML description of the organizations (see genesis/README.md).

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use yui_consensus::hash::{domain, hash_borsh};
use yui_consensus::{FaultModel, Hash, Validator, ValidatorSet};
use yui_contracts::governance::{
    self, Account, ChainConfig, OrgKind, Organization, Role, RoleKind, ValidatorRecord,
};

/// The genesis file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GenesisDoc {
    /// Chain id.
    pub chain_id: String,
    /// Genesis time, ms since the Unix epoch; block 1 must be later.
    pub genesis_time_ms: u64,
    /// "byzantine" or "crash".
    pub fault_model: FaultModelName,
    /// How far ahead a transaction's expiry may be, in blocks.
    pub max_expiry_blocks: u64,
    /// Consensus and block timings.
    pub consensus: ConsensusParams,
    /// Consortium members.
    pub organizations: Vec<GenesisOrg>,
    /// Validators deciding height 1.
    pub validators: Vec<GenesisValidator>,
    /// Non-voting nodes (auditors' observers) allowed to connect.
    #[serde(default)]
    pub observers: Vec<GenesisObserver>,
    /// Accounts and their roles.
    pub accounts: Vec<GenesisAccount>,
    /// Initial parameter values.
    #[serde(default)]
    pub parameters: BTreeMap<String, i64>,
}

/// Fault model by name.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FaultModelName {
    /// More than 2/3 quorum; 3f+1 validators survive f arbitrary faults.
    Byzantine,
    /// Majority quorum; 2f+1 validators survive f crashes.
    Crash,
}

impl FaultModelName {
    /// As the consensus type.
    pub fn model(self) -> FaultModel {
        match self {
            FaultModelName::Byzantine => FaultModel::Byzantine,
            FaultModelName::Crash => FaultModel::Crash,
        }
    }
    /// As the protobuf enum value.
    pub fn proto(self) -> i32 {
        match self {
            FaultModelName::Byzantine => yui_proto::v1::FaultModel::Byzantine as i32,
            FaultModelName::Crash => yui_proto::v1::FaultModel::Crash as i32,
        }
    }
}

/// Consensus and block timings, milliseconds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusParams {
    /// Propose timeout in round 0.
    pub timeout_propose_ms: u64,
    /// Prevote timeout in round 0.
    pub timeout_prevote_ms: u64,
    /// Precommit timeout in round 0.
    pub timeout_precommit_ms: u64,
    /// Growth of each timeout per round.
    pub timeout_delta_ms: u64,
    /// Cap of every timeout.
    pub timeout_cap_ms: u64,
    /// Shortest time between blocks when transactions wait.
    pub min_block_interval_ms: u64,
    /// An empty block is made after this long without transactions, proving liveness.
    pub heartbeat_interval_ms: u64,
    /// Largest number of transactions per block.
    pub max_block_txs: u32,
    /// Largest total transaction bytes per block.
    pub max_block_bytes: u64,
    /// How far a block's time may be ahead of a validator's clock.
    pub max_clock_drift_ms: u64,
}

impl Default for ConsensusParams {
    fn default() -> Self {
        ConsensusParams {
            timeout_propose_ms: 3_000,
            timeout_prevote_ms: 1_000,
            timeout_precommit_ms: 1_000,
            timeout_delta_ms: 500,
            timeout_cap_ms: 10_000,
            min_block_interval_ms: 100,
            heartbeat_interval_ms: 2_000,
            max_block_txs: 5_000,
            max_block_bytes: 8 * 1024 * 1024,
            max_clock_drift_ms: 5_000,
        }
    }
}

/// An organization.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GenesisOrg {
    /// Short id, `[a-z0-9._-]`.
    pub id: String,
    /// Public name.
    pub name: String,
    /// "municipality" (the default), "company", "npo" or "citizen_group".
    #[serde(default)]
    pub kind: OrgKindName,
}

/// An organization kind by name.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OrgKindName {
    /// A municipality: may run validators and nodes.
    #[default]
    Municipality,
    /// A company.
    Company,
    /// A non-profit organization.
    Npo,
    /// A citizen group.
    CitizenGroup,
}

impl OrgKindName {
    /// As governance records it.
    pub fn record(self) -> OrgKind {
        match self {
            OrgKindName::Municipality => OrgKind::Municipality,
            OrgKindName::Company => OrgKind::Company,
            OrgKindName::Npo => OrgKind::Npo,
            OrgKindName::CitizenGroup => OrgKind::CitizenGroup,
        }
    }
}

/// A validator.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GenesisValidator {
    /// Organization id.
    pub organization: String,
    /// Human name.
    pub name: String,
    /// Consensus public key, hex.
    pub public_key: String,
    /// Voting power.
    #[serde(default = "one")]
    pub power: u64,
}

fn one() -> u64 {
    1
}

/// An observer node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GenesisObserver {
    /// Organization running it.
    pub organization: String,
    /// Human name.
    pub name: String,
    /// Its node public key, hex.
    pub public_key: String,
}

/// An account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    /// Public key, hex.
    pub public_key: String,
    /// Organization id.
    pub organization: String,
    /// Roles, e.g. "org_admin", "municipality_admin", "shelter_operator:shelter-1".
    pub roles: Vec<String>,
}

/// Parse a 32-byte hex key.
pub fn parse_key(hex_str: &str) -> Result<[u8; 32]> {
    let bytes = hex::decode(hex_str.trim()).with_context(|| format!("{hex_str:?} is not hex"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| anyhow!("a public key is 32 bytes (64 hex characters)"))
}

/// Parse "kind" or "kind:scope".
pub fn parse_role(s: &str) -> Result<Role> {
    let (kind, scope) = s.split_once(':').unwrap_or((s, ""));
    let kind = match kind {
        "org_admin" => RoleKind::OrgAdmin,
        "municipality_admin" => RoleKind::MunicipalityAdmin,
        "shelter_operator" => RoleKind::ShelterOperator,
        "donor" => RoleKind::Donor,
        "resident" => RoleKind::Resident,
        "store" => RoleKind::Store,
        "facility" => RoleKind::Facility,
        "meter" => RoleKind::Meter,
        "auditor" => RoleKind::Auditor,
        other => bail!("unknown role {other:?}"),
    };
    Ok(Role {
        kind,
        scope: scope.to_string(),
    })
}

impl GenesisDoc {
    /// Read and check a genesis file.
    pub fn load(path: &Path) -> Result<GenesisDoc> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read genesis file {}", path.display()))?;
        let doc: GenesisDoc = serde_json::from_str(&text)
            .with_context(|| format!("genesis file {} is not valid", path.display()))?;
        doc.contracts_genesis()?;
        doc.validator_set()?;
        Ok(doc)
    }

    /// The genesis as the contracts see it.
    pub fn contracts_genesis(&self) -> Result<governance::Genesis> {
        let validators = self
            .validators
            .iter()
            .map(|v| {
                Ok(ValidatorRecord {
                    organization: v.organization.clone(),
                    name: v.name.clone(),
                    public_key: parse_key(&v.public_key)
                        .with_context(|| format!("validator {}", v.name))?,
                    power: v.power,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let accounts = self
            .accounts
            .iter()
            .map(|a| {
                Ok(Account {
                    key: parse_key(&a.public_key)?,
                    organization: a.organization.clone(),
                    roles: a
                        .roles
                        .iter()
                        .map(|r| parse_role(r))
                        .collect::<Result<_>>()?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(governance::Genesis {
            chain: ChainConfig {
                chain_id: self.chain_id.clone(),
                fault_model: self.fault_model.proto(),
                max_expiry_blocks: self.max_expiry_blocks,
            },
            organizations: self
                .organizations
                .iter()
                .map(|o| Organization::genesis(&o.id, &o.name, o.kind.record()))
                .collect(),
            validators,
            accounts,
            parameters: self
                .parameters
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        })
    }

    /// The validator set of height 1.
    pub fn validator_set(&self) -> Result<ValidatorSet> {
        let g = self.contracts_genesis()?;
        records_to_set(&g.validators, self.fault_model.model())
    }

    /// Every node key allowed on the network: validators and observers.
    pub fn network_keys(&self) -> Result<Vec<[u8; 32]>> {
        self.validators
            .iter()
            .map(|v| parse_key(&v.public_key))
            .chain(self.observers.iter().map(|o| parse_key(&o.public_key)))
            .collect()
    }

    /// The observers' node keys.
    pub fn observer_keys(&self) -> Result<Vec<[u8; 32]>> {
        self.observers
            .iter()
            .map(|o| parse_key(&o.public_key))
            .collect()
    }

    /// The genesis hash: parent of block 1.
    pub fn hash(&self) -> Result<Hash> {
        let g = self.contracts_genesis()?;
        let observers: Vec<[u8; 32]> = self
            .observers
            .iter()
            .map(|o| parse_key(&o.public_key))
            .collect::<Result<_>>()?;
        Ok(hash_borsh(
            domain::GENESIS,
            &(
                g,
                self.genesis_time_ms,
                borsh_params(&self.consensus),
                observers,
            ),
        ))
    }
}

fn borsh_params(p: &ConsensusParams) -> Vec<u64> {
    vec![
        p.timeout_propose_ms,
        p.timeout_prevote_ms,
        p.timeout_precommit_ms,
        p.timeout_delta_ms,
        p.timeout_cap_ms,
        p.min_block_interval_ms,
        p.heartbeat_interval_ms,
        u64::from(p.max_block_txs),
        p.max_block_bytes,
        p.max_clock_drift_ms,
    ]
}

/// Governance records → consensus validator set.
pub fn records_to_set(records: &[ValidatorRecord], fm: FaultModel) -> Result<ValidatorSet> {
    Ok(ValidatorSet::new(
        records
            .iter()
            .map(|v| Validator {
                organization: v.organization.clone(),
                name: v.name.clone(),
                public_key: v.public_key,
                power: v.power,
            })
            .collect(),
        fm,
    )?)
}
