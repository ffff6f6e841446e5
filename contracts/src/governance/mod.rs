//! Governance, the system contract (CONTRACTS.md §0): organizations, ledger accounts and
//! their roles, versioned parameters, and validator-set changes approved by more than 2/3 of
//! the validator organizations.
//!
//! Invariants enforced here:
//! - every account belongs to exactly one organization, fixed when it is first granted a role;
//! - only an `org_admin` of that organization grants or revokes its roles;
//! - a parameter version applies from a height not in the past, and old versions stay;
//! - the validator set changes only through an approved proposal, never empty, and at a
//!   height at least `VALIDATOR_CHANGE_DELAY` blocks after the approval.

use crate::error::{
    already_exists, invalid_argument, not_found, permission_denied, precondition, Result,
};
use crate::state::{get_borsh, put_borsh, scan_borsh};
use crate::stored::stored_enum;
use crate::{pb, Exec, State, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};
use pb::governance_call::Call as G;

pub mod evidence;
pub mod notices;
mod proposals;
pub mod queries;

use proposals::{approve, propose, propose_member, propose_parameter};

/// Blocks between the approval of a validator change and the first height it decides.
pub const VALIDATOR_CHANGE_DELAY: u64 = 2;
/// Longest parameter key.
pub const MAX_PARAM_KEY_LEN: usize = 96;
/// Parameters no organization has a version of its own: they apply to the whole chain (the
/// node reads the ones in [`CONSENSUS_PARAMETERS`]).
pub const CONSORTIUM_ONLY_PREFIX: &str = "consensus.";
/// The consortium parameters the node obeys, each with the range a vote may set: `(key, lowest,
/// highest)`. A proposal for another `consensus.` key, or a value outside, is refused.
pub const CONSENSUS_PARAMETERS: &[(&str, i64, i64)] = &[
    // Transactions per block.
    ("consensus.max_block_txs", 1, 100_000),
    // Transaction bytes per block: at most half of what one gossip message carries.
    ("consensus.max_block_bytes", 1, 8 * 1024 * 1024),
    // How far ahead of the next block a transaction may expire. Replay protection keeps every
    // unexpired body in memory and re-reads that many blocks at start.
    ("consensus.max_expiry_blocks", 1, 100_000),
    // The protocol version blocks follow from the height the proposal names (an upgrade):
    // never lower than the newest one scheduled.
    ("consensus.protocol_version", 1, 1_000_000),
];

/// The consortium parameter of the protocol version.
pub const PROTOCOL_VERSION: &str = "consensus.protocol_version";

/// The range a vote may set consortium parameter `key` to, if the node knows it.
pub fn consensus_parameter_range(key: &str) -> Option<(i64, i64)> {
    CONSENSUS_PARAMETERS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, lo, hi)| (lo, hi))
}
/// Longest proposal reason.
pub const MAX_REASON_CHARS: usize = 280;

const K_ACCOUNT: &[u8] = b"gov/acct/";
const K_ORG: &[u8] = b"gov/org/";
const K_PARAM: &[u8] = b"gov/param/";
/// Per parameter, its version with the highest first height: `(from, value)`. Once that height
/// is reached it is the value in force, read with one lookup instead of a scan of the versions.
const K_PARAM_NEWEST: &[u8] = b"gov/paramnew/";
const K_VALSETS: &[u8] = b"gov/valsets";
const K_PROPOSAL: &[u8] = b"gov/proposal/";
const K_NEXT_PROPOSAL: &[u8] = b"gov/next_proposal";
const K_CHAIN: &[u8] = b"gov/chain";
const K_LOG_ANCHOR: &[u8] = b"gov/loganchor/";
const K_ERASED: &[u8] = b"gov/erased/";
/// Most erased records one access-log anchor lists.
pub const MAX_ERASED_PER_ANCHOR: usize = 10_000;

/// A role kind (mirrors `yui.v1.RoleKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub enum RoleKind {
    /// Manages the organization's accounts and votes on consortium proposals.
    OrgAdmin,
    /// Municipal staff.
    MunicipalityAdmin,
    /// Operates one shelter (scoped).
    ShelterOperator,
    /// Relief donor.
    Donor,
    /// Resident (pseudonymous).
    Resident,
    /// Local store.
    Store,
    /// Facility hosting volunteers.
    Facility,
    /// Meter gateway.
    Meter,
    /// Read-only auditor.
    Auditor,
}

impl RoleKind {
    /// From the protobuf enum value.
    pub fn from_proto(v: i32) -> Option<RoleKind> {
        use pb::RoleKind as P;
        Some(match P::try_from(v).ok()? {
            P::RoleUnspecified => return None,
            P::RoleOrgAdmin => RoleKind::OrgAdmin,
            P::RoleMunicipalityAdmin => RoleKind::MunicipalityAdmin,
            P::RoleShelterOperator => RoleKind::ShelterOperator,
            P::RoleDonor => RoleKind::Donor,
            P::RoleResident => RoleKind::Resident,
            P::RoleStore => RoleKind::Store,
            P::RoleFacility => RoleKind::Facility,
            P::RoleMeter => RoleKind::Meter,
            P::RoleAuditor => RoleKind::Auditor,
        })
    }

    /// To the protobuf enum.
    pub fn to_proto(self) -> pb::RoleKind {
        use pb::RoleKind as P;
        match self {
            RoleKind::OrgAdmin => P::RoleOrgAdmin,
            RoleKind::MunicipalityAdmin => P::RoleMunicipalityAdmin,
            RoleKind::ShelterOperator => P::RoleShelterOperator,
            RoleKind::Donor => P::RoleDonor,
            RoleKind::Resident => P::RoleResident,
            RoleKind::Store => P::RoleStore,
            RoleKind::Facility => P::RoleFacility,
            RoleKind::Meter => P::RoleMeter,
            RoleKind::Auditor => P::RoleAuditor,
        }
    }

    /// Whether the role must name an object.
    pub fn is_scoped(self) -> bool {
        matches!(self, RoleKind::ShelterOperator)
    }
}

/// A role, scoped to one object for scoped kinds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize)]
pub struct Role {
    /// Kind.
    pub kind: RoleKind,
    /// Object (shelter id) for scoped kinds, else empty.
    pub scope: String,
}

impl Role {
    /// An unscoped role.
    pub fn plain(kind: RoleKind) -> Role {
        Role {
            kind,
            scope: String::new(),
        }
    }

    /// From protobuf, validated.
    pub fn from_proto(r: Option<&pb::Role>) -> Result<Role> {
        let r =
            r.ok_or_else(|| invalid_argument("governance.missing_role", "the role is missing"))?;
        let kind = RoleKind::from_proto(r.kind).ok_or_else(|| {
            invalid_argument(
                "governance.unknown_role",
                format!("role kind {} is not a known role", r.kind),
            )
        })?;
        if kind.is_scoped() && r.scope.is_empty() {
            return Err(invalid_argument(
                "governance.scope_required",
                "a shelter operator role must name the shelter id in `scope`",
            ));
        }
        if !kind.is_scoped() && !r.scope.is_empty() {
            return Err(invalid_argument(
                "governance.scope_not_allowed",
                "only shelter operator roles take a `scope`",
            ));
        }
        check_id("scope", &r.scope, 64)?;
        Ok(Role {
            kind,
            scope: r.scope.clone(),
        })
    }

    /// To protobuf.
    pub fn to_proto(&self) -> pb::Role {
        pb::Role {
            kind: self.kind.to_proto() as i32,
            scope: self.scope.clone(),
        }
    }
}

/// A ledger account.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Account {
    /// Its public key.
    pub key: [u8; 32],
    /// The organization responsible for it.
    pub organization: String,
    /// Roles held, sorted.
    pub roles: Vec<Role>,
}

impl Account {
    /// Whether the account holds a role of this kind (any scope).
    pub fn has_kind(&self, kind: RoleKind) -> bool {
        self.roles.iter().any(|r| r.kind == kind)
    }

    /// Whether the account holds exactly this role.
    pub fn has(&self, kind: RoleKind, scope: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.kind == kind && r.scope == scope)
    }

    /// `Ok` if the account holds a role of one of `kinds`, else a permission error naming
    /// what is needed.
    pub fn require_any(&self, kinds: &[RoleKind], action: &str) -> Result<()> {
        if kinds.iter().any(|k| self.has_kind(*k)) {
            return Ok(());
        }
        let names: Vec<String> = kinds.iter().map(|k| format!("{k:?}")).collect();
        Err(permission_denied(
            "governance.missing_role",
            format!(
                "{action} needs one of the roles [{}]; the signer has none of them",
                names.join(", ")
            ),
        ))
    }
}

stored_enum!(
    /// What kind of member an organization is.
    OrgKind: pb::OrganizationKind {
        Municipality = Municipality,
        Company = Company,
        Npo = Npo,
        CitizenGroup = CitizenGroup,
    }
);

/// A consortium member.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Organization {
    /// Short id, e.g. "hachioji".
    pub id: String,
    /// Public name, e.g. "Hachioji City".
    pub name: String,
    /// Kind; only a municipality runs a validator or a node.
    pub kind: OrgKind,
    /// The key of a non-voting node it runs (admitted by vote), if any.
    pub node_key: Option<[u8; 32]>,
    /// Height of the approval that admitted it; 0 for genesis members.
    pub joined_at_height: u64,
    /// Height of the approval that removed it, if removed. A removed organization's accounts
    /// are refused; its id is never reused.
    pub removed_at_height: Option<u64>,
}

impl Organization {
    /// A member listed in genesis.
    pub fn genesis(id: &str, name: &str, kind: OrgKind) -> Organization {
        Organization {
            id: id.to_string(),
            name: name.to_string(),
            kind,
            node_key: None,
            joined_at_height: 0,
            removed_at_height: None,
        }
    }

    /// Whether it is a member now.
    pub fn active(&self) -> bool {
        self.removed_at_height.is_none()
    }
}

/// A validator as governance records it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ValidatorRecord {
    /// Organization id.
    pub organization: String,
    /// Human name.
    pub name: String,
    /// Consensus key.
    pub public_key: [u8; 32],
    /// Voting power.
    pub power: u64,
}

impl ValidatorRecord {
    /// To protobuf.
    pub fn to_proto(&self) -> pb::Validator {
        pb::Validator {
            organization: self.organization.clone(),
            name: self.name.clone(),
            public_key: self.public_key.to_vec(),
            power: self.power,
        }
    }
}

/// Chain-wide settings fixed in genesis.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChainConfig {
    /// Chain id.
    pub chain_id: String,
    /// `yui.v1.FaultModel` value.
    pub fault_model: i32,
    /// How far ahead a transaction's expiry may be.
    pub max_expiry_blocks: u64,
}

/// The genesis description governance starts from.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Genesis {
    /// Chain settings.
    pub chain: ChainConfig,
    /// Organizations.
    pub organizations: Vec<Organization>,
    /// Initial validators (deciding height 1).
    pub validators: Vec<ValidatorRecord>,
    /// Initial accounts with their roles.
    pub accounts: Vec<Account>,
    /// Initial parameters (applying from height 1).
    pub parameters: Vec<(String, i64)>,
}

/// The validator sets by the first height they decide, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ValidatorHistory {
    /// (first height, set).
    pub sets: Vec<(u64, Vec<ValidatorRecord>)>,
}

/// A recorded parameter version.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ParamVersion {
    /// Value.
    pub value: i64,
    /// Who set it (zero key for genesis).
    pub set_by: [u8; 32],
    /// Height of the transaction that set it (0 for genesis).
    pub set_at_height: u64,
    /// The proposal that set it, for a consortium-wide version set by vote.
    pub proposal: Option<u64>,
}

/// A proposal to change what belongs to all.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Proposal {
    /// Id.
    pub id: u64,
    /// The change (validated when opened and again when carried out).
    pub change: ProposalChange,
    /// Proposing organization.
    pub proposed_by: String,
    /// The reason given.
    pub reason: String,
    /// Approving organizations, sorted.
    pub approvals: Vec<String>,
    /// Whether it reached its quorum and was carried out.
    pub decided: bool,
    /// For a validator-set change, the first height of the new set.
    pub effective_height: Option<u64>,
    /// The equivocation evidence it cites, if any.
    pub cites: Option<[u8; 32]>,
}

/// What a proposal changes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ProposalChange {
    /// The validator set.
    Validator(ChangeRecord),
    /// A new member.
    Join(NewMemberRecord),
    /// A member leaves.
    Remove(String),
    /// A member's admin key is replaced.
    AdminKey {
        /// The organization.
        organization: String,
        /// The key losing the admin role.
        old: [u8; 32],
        /// The key getting it.
        new: [u8; 32],
    },
    /// A consortium-wide parameter version.
    Parameter {
        /// Name.
        key: String,
        /// Value.
        value: i64,
        /// Requested first height (0 = the block after the approval).
        from: u64,
    },
}

/// A new member as proposed.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct NewMemberRecord {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: OrgKind,
    /// First admin account.
    pub admin_key: [u8; 32],
    /// Its validator, if any (municipalities only).
    pub validator: Option<ValidatorRecord>,
    /// Its node key, if any (municipalities only).
    pub node_key: Option<[u8; 32]>,
}

/// A proposed validator-set change as state keeps it (borsh, never the API message).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ChangeRecord {
    /// Add a validator.
    Add(ValidatorRecord),
    /// Remove the validator with this key.
    Remove([u8; 32]),
    /// Replace a validator's key.
    RotateKey {
        /// The key in use.
        old: [u8; 32],
        /// Its replacement.
        new: [u8; 32],
    },
}

impl ChangeRecord {
    /// The record of a change a caller proposed; keys must be 32 bytes.
    pub fn from_api(change: &pb::ValidatorChange) -> Result<Self> {
        use pb::validator_change::Change;
        match change.change.as_ref() {
            None => Err(invalid_argument(
                "governance.empty_change",
                "the validator change is empty",
            )),
            Some(Change::Add(v)) => {
                let pb::Validator {
                    organization,
                    name,
                    public_key,
                    power,
                } = v;
                Ok(ChangeRecord::Add(ValidatorRecord {
                    organization: organization.clone(),
                    name: name.clone(),
                    public_key: key32("validator public_key", public_key)?,
                    power: *power,
                }))
            }
            Some(Change::Remove(k)) => Ok(ChangeRecord::Remove(key32("validator key", k)?)),
            Some(Change::RotateKey(r)) => Ok(ChangeRecord::RotateKey {
                old: key32("old_public_key", &r.old_public_key)?,
                new: key32("new_public_key", &r.new_public_key)?,
            }),
        }
    }

    /// The change as the API shows it.
    pub fn to_api(&self) -> pb::ValidatorChange {
        use pb::validator_change::Change;
        let change = match self {
            ChangeRecord::Add(v) => Change::Add(v.to_proto()),
            ChangeRecord::Remove(k) => Change::Remove(k.to_vec()),
            ChangeRecord::RotateKey { old, new } => Change::RotateKey(pb::KeyRotation {
                old_public_key: old.to_vec(),
                new_public_key: new.to_vec(),
            }),
        };
        pb::ValidatorChange {
            change: Some(change),
        }
    }
}

fn account_key(key: &[u8; 32]) -> Vec<u8> {
    [K_ACCOUNT, key.as_slice()].concat()
}

fn param_key(key: &str, height: u64) -> Vec<u8> {
    [K_PARAM, key.as_bytes(), b"\0", &height.to_be_bytes()].concat()
}

/// Store version `v` of parameter `key` in force from height `from`.
fn put_param(state: &mut dyn State, key: &str, from: u64, v: &ParamVersion) -> Result<()> {
    let newest_key = [K_PARAM_NEWEST, key.as_bytes()].concat();
    let newest: Option<(u64, i64)> = get_borsh(&*state, &newest_key)?;
    if newest.is_none_or(|(h, _)| h < from) {
        put_borsh(state, newest_key, &(from, v.value));
    }
    put_borsh(state, param_key(key, from), v);
    Ok(())
}

/// Check an identifier: non-empty unless `max` allows it, ASCII `[a-z0-9._-]`, bounded.
pub fn check_id(what: &str, id: &str, max: usize) -> Result<()> {
    if id.len() > max {
        return Err(invalid_argument(
            "invalid_id",
            format!("{what} is longer than {max} characters"),
        ));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(invalid_argument(
            "invalid_id",
            format!("{what} may contain only lowercase ASCII letters, digits, '.', '_' and '-'"),
        ));
    }
    Ok(())
}

/// Parse a 32-byte public key field.
pub fn key32(what: &str, bytes: &[u8]) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).map_err(|_| {
        invalid_argument(
            "invalid_key",
            format!(
                "{what} must be a 32-byte ed25519 public key, got {} bytes",
                bytes.len()
            ),
        )
    })
}

/// The account with this key.
pub fn account(state: &dyn StateRead, key: &[u8; 32]) -> Result<Option<Account>> {
    get_borsh(state, &account_key(key))
}

/// The account with this key if it may act: it exists and its organization (if it has one;
/// a self-registered donor has none) is still a member. Otherwise a permission error.
pub fn acting_account(state: &dyn StateRead, key: &[u8; 32]) -> Result<Account> {
    let a = account(state, key)?.ok_or_else(|| {
        permission_denied(
            "governance.unknown_signer",
            "the signer is not a ledger account; an organization admin must grant it a role first (a donor can register itself with RegisterDonor)",
        )
    })?;
    if !a.organization.is_empty()
        && !organization(state, &a.organization)?.is_some_and(|o| o.active())
    {
        return Err(permission_denied(
            "governance.organization_removed",
            format!(
                "organization {} is no longer a consortium member, so its accounts are refused",
                a.organization
            ),
        ));
    }
    Ok(a)
}

/// The signer's account, or a permission error (`acting_account`).
pub fn signer_account(x: &Exec<'_>) -> Result<Account> {
    acting_account(&*x.state, &x.ctx.signer)
}

/// The chain settings.
pub fn chain_config(state: &dyn StateRead) -> Result<Option<ChainConfig>> {
    get_borsh(state, K_CHAIN)
}

/// The organization with this id.
pub fn organization(state: &dyn StateRead, id: &str) -> Result<Option<Organization>> {
    get_borsh(state, &[K_ORG, id.as_bytes()].concat())
}

/// The value of parameter `key` in force at `height`.
pub fn parameter_at(state: &dyn StateRead, key: &str, height: u64) -> Result<Option<i64>> {
    match get_borsh::<(u64, i64)>(state, &[K_PARAM_NEWEST, key.as_bytes()].concat())? {
        None => return Ok(None),
        Some((from, value)) if from <= height => return Ok(Some(value)),
        Some(_) => {}
    }
    let prefix = [K_PARAM, key.as_bytes(), b"\0"].concat();
    let mut found = None;
    let mut after: Option<Vec<u8>> = None;
    loop {
        let batch: Vec<(Vec<u8>, ParamVersion)> = scan_borsh(state, &prefix, after.as_deref(), 64)?;
        let n = batch.len();
        for (k, v) in batch {
            let h = k[prefix.len()..]
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX);
            if h > height {
                return Ok(found);
            }
            found = Some(v.value);
            after = Some(k);
        }
        if n < 64 {
            return Ok(found);
        }
    }
}

/// The whole validator history.
pub fn validator_history(state: &dyn StateRead) -> Result<ValidatorHistory> {
    Ok(get_borsh(state, K_VALSETS)?.unwrap_or_default())
}

/// The validators deciding `height`, and the first height of that set.
pub fn validators_at(state: &dyn StateRead, height: u64) -> Result<(u64, Vec<ValidatorRecord>)> {
    let history = validator_history(state)?;
    Ok(history
        .sets
        .iter()
        .rev()
        .find(|(from, _)| *from <= height)
        .or(history.sets.first())
        .cloned()
        .unwrap_or_default())
}

/// Distinct organizations running a validator in `set`, sorted.
fn validator_orgs(set: &[ValidatorRecord]) -> Vec<String> {
    let mut orgs: Vec<String> = set.iter().map(|v| v.organization.clone()).collect();
    orgs.sort();
    orgs.dedup();
    orgs
}

/// Approvals a proposal needs: more than 2/3 of `n` validator organizations.
pub fn required_approvals(n: usize) -> usize {
    n * 2 / 3 + 1
}

/// Write genesis state.
pub fn init_genesis(state: &mut dyn State, g: &Genesis) -> Result<()> {
    check_id("chain id", &g.chain.chain_id, 64)?;
    if g.chain.chain_id.is_empty() {
        return Err(invalid_argument(
            "governance.genesis",
            "the chain id is empty",
        ));
    }
    put_borsh(state, K_CHAIN.to_vec(), &g.chain);
    for o in &g.organizations {
        check_id("organization id", &o.id, 64)?;
        if o.id.is_empty() {
            return Err(invalid_argument(
                "governance.genesis",
                "an organization id is empty",
            ));
        }
        put_borsh(state, [K_ORG, o.id.as_bytes()].concat(), o);
    }
    if g.validators.is_empty() {
        return Err(invalid_argument(
            "governance.genesis",
            "genesis lists no validators",
        ));
    }
    for v in &g.validators {
        if organization(&*state, &v.organization)?.is_some_and(|o| o.kind != OrgKind::Municipality)
        {
            return Err(invalid_argument(
                "governance.genesis",
                format!(
                    "validator {} belongs to {}, which is not a municipality; only municipalities run validators",
                    v.name, v.organization
                ),
            ));
        }
        if organization(&*state, &v.organization)?.is_none() {
            return Err(invalid_argument(
                "governance.genesis",
                format!(
                    "validator {} names unknown organization {}",
                    v.name, v.organization
                ),
            ));
        }
    }
    put_borsh(
        state,
        K_VALSETS.to_vec(),
        &ValidatorHistory {
            sets: vec![(1, g.validators.clone())],
        },
    );
    for a in &g.accounts {
        if organization(&*state, &a.organization)?.is_none() {
            return Err(invalid_argument(
                "governance.genesis",
                format!("an account names unknown organization {}", a.organization),
            ));
        }
        let mut a = a.clone();
        a.roles.sort();
        a.roles.dedup();
        put_borsh(state, account_key(&a.key), &a);
    }
    for (k, v) in &g.parameters {
        check_param_key(k)?;
        put_param(
            state,
            k,
            1,
            &ParamVersion {
                value: *v,
                set_by: [0; 32],
                set_at_height: 0,
                proposal: None,
            },
        )?;
    }
    put_borsh(state, K_NEXT_PROPOSAL.to_vec(), &1u64);
    Ok(())
}

fn check_param_key(k: &str) -> Result<()> {
    if k.is_empty() {
        return Err(invalid_argument(
            "governance.invalid_parameter",
            "the parameter key is empty",
        ));
    }
    check_id("parameter key", k, MAX_PARAM_KEY_LEN)
}

/// Mempool pre-check.
pub fn authorize(account: &Account, call: &pb::GovernanceCall) -> Result<()> {
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "governance.unknown_call",
            "the governance call is empty or unknown to this node",
        )),
        Some(
            G::GrantRole(_)
            | G::RevokeRole(_)
            | G::ProposeValidatorChange(_)
            | G::ProposeMemberChange(_)
            | G::ProposeParameterChange(_)
            | G::ApproveProposal(_),
        ) => account.require_any(&[RoleKind::OrgAdmin], "this governance call"),
        Some(G::RegisterDonor(_)) => Err(already_exists(
            "governance.already_registered",
            "the signer is already a ledger account",
        )),
        Some(G::ReportEvidence(_)) => Ok(()),
        Some(G::SetParameter(_)) => account.require_any(
            &[RoleKind::OrgAdmin, RoleKind::MunicipalityAdmin],
            "setting a parameter",
        ),
        Some(G::AnchorAccessLog(_)) => account.require_any(
            &[RoleKind::OrgAdmin, RoleKind::MunicipalityAdmin],
            "anchoring the access log",
        ),
        // Any account of an organization (a donor without one sends no notifications).
        Some(G::RecordNotification(_)) if account.organization.is_empty() => {
            Err(permission_denied(
                "governance.no_organization",
                "only an account of an organization records the notifications it sent",
            ))
        }
        Some(G::RecordNotification(_)) => Ok(()),
    }
}

/// Name of a governance call.
pub fn call_name(call: &pb::GovernanceCall) -> &'static str {
    match call.call {
        None => "governance.unknown",
        Some(G::GrantRole(_)) => "governance.grant_role",
        Some(G::RevokeRole(_)) => "governance.revoke_role",
        Some(G::SetParameter(_)) => "governance.set_parameter",
        Some(G::ProposeValidatorChange(_)) => "governance.propose_validator_change",
        Some(G::ApproveProposal(_)) => "governance.approve_proposal",
        Some(G::ProposeMemberChange(_)) => "governance.propose_member_change",
        Some(G::ProposeParameterChange(_)) => "governance.propose_parameter_change",
        Some(G::RegisterDonor(_)) => "governance.register_donor",
        Some(G::ReportEvidence(_)) => "governance.report_evidence",
        Some(G::AnchorAccessLog(_)) => "governance.anchor_access_log",
        Some(G::RecordNotification(_)) => "governance.record_notification",
    }
}

/// Execute a governance call.
pub fn execute(x: &mut Exec<'_>, call: &pb::GovernanceCall) -> Result<()> {
    match &call.call {
        Some(G::RegisterDonor(_)) => return register_donor(x),
        Some(G::ReportEvidence(c)) => return evidence::report_evidence(x, c),
        _ => {}
    }
    let signer = signer_account(x)?;
    authorize(&signer, call)?;
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "governance.unknown_call",
            "the governance call is empty",
        )),
        Some(G::GrantRole(c)) => grant_role(x, &signer, c),
        Some(G::RevokeRole(c)) => revoke_role(x, &signer, c),
        Some(G::SetParameter(c)) => set_parameter(x, &signer, c),
        Some(G::ProposeValidatorChange(c)) => propose(x, &signer, c),
        Some(G::ApproveProposal(c)) => approve(x, &signer, c.proposal_id),
        Some(G::ProposeMemberChange(c)) => propose_member(x, &signer, c),
        Some(G::ProposeParameterChange(c)) => propose_parameter(x, &signer, c),
        Some(G::RegisterDonor(_)) => register_donor(x),
        Some(G::ReportEvidence(c)) => evidence::report_evidence(x, c),
        Some(G::AnchorAccessLog(c)) => anchor_access_log(x, &signer, c),
        Some(G::RecordNotification(c)) => notices::record(x, &signer, c),
    }
}

/// One anchored day of an organization's access log.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct LogAnchor {
    /// Entries in the day's log.
    pub entries: u64,
    /// The day's digest.
    pub digest: [u8; 32],
    /// The height it was anchored at.
    pub height: u64,
}

fn log_anchor_key(organization: &str, day: &str) -> Vec<u8> {
    [K_LOG_ANCHOR, organization.as_bytes(), b"/", day.as_bytes()].concat()
}

fn erased_key(organization: &str, record_id: &str) -> Vec<u8> {
    [
        K_ERASED,
        organization.as_bytes(),
        b"/",
        record_id.as_bytes(),
    ]
    .concat()
}

/// Whether an anchored access log of `organization` lists vault record `record_id` as erased.
pub fn record_erased(state: &dyn StateRead, organization: &str, record_id: &str) -> Result<bool> {
    Ok(state.get(&erased_key(organization, record_id))?.is_some())
}

/// The anchor of `organization`'s access log for JST `day` (`YYYY-MM-DD`), if anchored.
pub fn log_anchor(
    state: &dyn StateRead,
    organization: &str,
    day: &str,
) -> Result<Option<LogAnchor>> {
    get_borsh(state, &log_anchor_key(organization, day))
}

fn anchor_access_log(x: &mut Exec<'_>, signer: &Account, c: &pb::AnchorAccessLog) -> Result<()> {
    if signer.organization.is_empty() {
        return Err(permission_denied(
            "governance.no_organization",
            "an account without an organization has no access log",
        ));
    }
    if !crate::calendar::is_date_string(&c.day) {
        return Err(invalid_argument(
            "governance.invalid_day",
            "day must be a JST date written YYYY-MM-DD",
        ));
    }
    let today = crate::calendar::jst_date_string(x.ctx.time_ms);
    if c.day >= today {
        return Err(precondition(
            "governance.day_not_over",
            format!("the log of {} can be anchored once the day is over (it is {today} in JST at this block)", c.day),
        ));
    }
    let digest = <[u8; 32]>::try_from(c.digest.as_slice()).map_err(|_| {
        invalid_argument(
            "governance.invalid_digest",
            format!("digest must be 32 bytes, got {}", c.digest.len()),
        )
    })?;
    if c.erased_records.len() > MAX_ERASED_PER_ANCHOR {
        return Err(invalid_argument(
            "governance.too_many_erased",
            format!("an anchor lists at most {MAX_ERASED_PER_ANCHOR} erased records"),
        ));
    }
    for id in &c.erased_records {
        check_id("erased record id", id, 64)?;
    }
    let key = log_anchor_key(&signer.organization, &c.day);
    if let Some(a) = get_borsh::<LogAnchor>(&*x.state, &key)? {
        return Err(already_exists(
            "governance.log_already_anchored",
            format!(
                "the access log of {} was anchored at height {}; an anchored day cannot be anchored again",
                c.day, a.height
            ),
        ));
    }
    put_borsh(
        x.state,
        key,
        &LogAnchor {
            entries: c.entries,
            digest,
            height: x.ctx.height,
        },
    );
    for id in &c.erased_records {
        x.state.put(
            erased_key(&signer.organization, id),
            x.ctx.height.to_le_bytes().to_vec(),
        );
    }
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::AccessLogAnchored(
            pb::AccessLogAnchored {
                organization: signer.organization.clone(),
                day: c.day.clone(),
                entries: c.entries,
                digest: digest.to_vec(),
                anchored_by: x.ctx.signer.to_vec(),
                erased_records: c.erased_records.len() as u64,
            },
        )),
    }));
    Ok(())
}

/// Whether a call needs no account: `RegisterDonor`, which makes one, and `ReportEvidence`,
/// which any key may sign (its content proves itself).
pub fn needs_no_account(call: &pb::GovernanceCall) -> bool {
    matches!(call.call, Some(G::RegisterDonor(_) | G::ReportEvidence(_)))
}

/// Whether a call that needs no account may be signed by a key that is an account:
/// `ReportEvidence` may, `RegisterDonor` may not.
pub fn any_signer(call: &pb::GovernanceCall) -> bool {
    matches!(call.call, Some(G::ReportEvidence(_)))
}

fn register_donor(x: &mut Exec<'_>) -> Result<()> {
    let key = x.ctx.signer;
    if account(&*x.state, &key)?.is_some() {
        return Err(already_exists(
            "governance.already_registered",
            "the signer is already a ledger account",
        ));
    }
    let acct = Account {
        key,
        organization: String::new(),
        roles: vec![Role::plain(RoleKind::Donor)],
    };
    put_borsh(x.state, account_key(&key), &acct);
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::DonorRegistered(
            pb::DonorRegistered {
                account: key.to_vec(),
            },
        )),
    }));
    Ok(())
}

fn grant_role(x: &mut Exec<'_>, signer: &Account, c: &pb::GrantRole) -> Result<()> {
    let key = key32("account", &c.account)?;
    let role = Role::from_proto(c.role.as_ref())?;
    let mut acct = match account(&*x.state, &key)? {
        Some(a) if a.organization != signer.organization => {
            return Err(permission_denied(
                "governance.other_organization",
                format!(
                "the account belongs to organization {}; only its own admins can change its roles",
                a.organization
            ),
            ))
        }
        Some(a) => a,
        None => Account {
            key,
            organization: signer.organization.clone(),
            roles: Vec::new(),
        },
    };
    if matches!(
        role.kind,
        RoleKind::MunicipalityAdmin | RoleKind::ShelterOperator
    ) && !organization(&*x.state, &signer.organization)?
        .is_some_and(|o| o.kind == OrgKind::Municipality)
    {
        return Err(permission_denied(
            "governance.not_municipality",
            format!(
                "organization {} is not a municipality, so it cannot grant {:?}",
                signer.organization, role.kind
            ),
        ));
    }
    if role.kind == RoleKind::ShelterOperator
        && crate::relief::shelter(&*x.state, &role.scope)?
            .is_none_or(|s| s.municipality != signer.organization)
    {
        return Err(permission_denied(
            "governance.not_own_shelter",
            format!(
                "a shelter-operator role names a shelter of the granting municipality; {} has no shelter {}",
                signer.organization, role.scope
            ),
        ));
    }
    if acct.roles.contains(&role) {
        return Err(already_exists(
            "governance.role_held",
            "the account already holds this role",
        ));
    }
    acct.roles.push(role.clone());
    acct.roles.sort();
    put_borsh(x.state, account_key(&key), &acct);
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::RoleGranted(pb::RoleGranted {
            account: key.to_vec(),
            organization: acct.organization,
            role: Some(role.to_proto()),
            granted_by: x.ctx.signer.to_vec(),
        })),
    }));
    Ok(())
}

fn revoke_role(x: &mut Exec<'_>, signer: &Account, c: &pb::RevokeRole) -> Result<()> {
    let key = key32("account", &c.account)?;
    let role = Role::from_proto(c.role.as_ref())?;
    let mut acct = account(&*x.state, &key)?.ok_or_else(|| {
        not_found(
            "governance.unknown_account",
            "no ledger account has this key",
        )
    })?;
    if acct.organization != signer.organization {
        return Err(permission_denied(
            "governance.other_organization",
            format!(
                "the account belongs to organization {}; only its own admins can change its roles",
                acct.organization
            ),
        ));
    }
    if key == signer.key && role.kind == RoleKind::OrgAdmin {
        return Err(precondition(
            "governance.self_lockout",
            "an admin cannot revoke their own admin role; another admin of the organization must do it",
        ));
    }
    let before = acct.roles.len();
    acct.roles.retain(|r| r != &role);
    if acct.roles.len() == before {
        return Err(not_found(
            "governance.role_not_held",
            "the account does not hold this role",
        ));
    }
    put_borsh(x.state, account_key(&key), &acct);
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::RoleRevoked(pb::RoleRevoked {
            account: key.to_vec(),
            organization: acct.organization,
            role: Some(role.to_proto()),
            revoked_by: x.ctx.signer.to_vec(),
        })),
    }));
    Ok(())
}

fn set_parameter(x: &mut Exec<'_>, signer: &Account, c: &pb::SetParameter) -> Result<()> {
    check_param_key(&c.key)?;
    if signer.organization.is_empty() {
        return Err(permission_denied(
            "governance.no_organization",
            "an account without an organization has no parameters to set",
        ));
    }
    if c.key.starts_with(CONSORTIUM_ONLY_PREFIX) {
        return Err(permission_denied(
            "governance.consortium_parameter",
            format!(
                "parameters under {CONSORTIUM_ONLY_PREFIX} (block limits, expiry window) are the consortium's: they change only by ProposeParameterChange"
            ),
        ));
    }
    let from = first_height(x.ctx.height, c.effective_from_height)?;
    let scoped = org_param(&signer.organization, &c.key);
    record_parameter(
        x,
        &scoped,
        &c.key,
        c.value,
        from,
        &signer.organization,
        By::Account(x.ctx.signer),
    )
}

/// The first height a new parameter version may apply from: `requested`, or the next block if
/// 0; never the past.
pub(crate) fn first_height(height: u64, requested: u64) -> Result<u64> {
    let next = height + 1;
    let from = if requested == 0 { next } else { requested };
    if from < next {
        return Err(precondition(
            "governance.retroactive_parameter",
            format!("a parameter can apply from height {next} at the earliest, not {from}; past values stay as they were"),
        ));
    }
    Ok(from)
}

/// Record a version of the parameter stored as `stored_key` (named `key`, owned by
/// `organization`, empty for consortium-wide) and emit `ParameterSet`.
pub(crate) fn record_parameter(
    x: &mut Exec<'_>,
    stored_key: &str,
    key: &str,
    value: i64,
    from: u64,
    organization: &str,
    by: By,
) -> Result<()> {
    if x.state.get(&param_key(stored_key, from))?.is_some() {
        return Err(already_exists(
            "governance.parameter_version_exists",
            format!("parameter {key} already has a version from height {from}"),
        ));
    }
    put_param(
        x.state,
        stored_key,
        from,
        &ParamVersion {
            value,
            set_by: match by {
                By::Account(k) => k,
                By::Proposal(_) => [0; 32],
            },
            set_at_height: x.ctx.height,
            proposal: match by {
                By::Account(_) => None,
                By::Proposal(id) => Some(id),
            },
        },
    )?;
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::ParameterSet(pb::ParameterSet {
            key: key.to_string(),
            value,
            effective_from_height: from,
            set_by: match by {
                By::Account(k) => k.to_vec(),
                By::Proposal(_) => Vec::new(),
            },
            organization: organization.to_string(),
        })),
    }));
    Ok(())
}

/// Who records a parameter version.
#[derive(Clone, Copy, Debug)]
pub(crate) enum By {
    /// An organization's admin account.
    Account([u8; 32]),
    /// The consortium, by an approved proposal.
    Proposal(u64),
}

/// How an organization's own version of parameter `key` is stored. Organization ids and
/// parameter keys never contain ':', so this never names a consortium-wide parameter.
pub fn org_param(organization: &str, key: &str) -> String {
    format!("{organization}:{key}")
}

/// The value of parameter `key` in force at `height` for `organization`'s objects: its own
/// version if it set one, else the consortium-wide one.
pub fn org_parameter_at(
    state: &dyn StateRead,
    organization: &str,
    key: &str,
    height: u64,
) -> Result<Option<i64>> {
    if !organization.is_empty() {
        if let Some(v) = parameter_at(state, &org_param(organization, key), height)? {
            return Ok(Some(v));
        }
    }
    parameter_at(state, key, height)
}
