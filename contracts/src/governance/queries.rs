//! Governance's read-only views, which the `Governance` API service serves at the committed
//! height: organizations with their keys, parameters with every version, and proposals.

use super::*;
use crate::Failed;

pub use super::evidence::list_evidence;

/// Most organizations, accounts scanned per organization list, parameter versions and
/// proposals one query returns: far above any consortium, and a bound on the work of one call.
pub const MAX_LISTED: usize = 10_000;

/// Every organization, in id order, with its admins, validators and node key.
pub fn list_organizations(state: &dyn StateRead) -> Result<Vec<pb::OrganizationInfo>> {
    let orgs: Vec<(Vec<u8>, Organization)> = scan_borsh(state, K_ORG, None, MAX_LISTED)?;
    let accounts: Vec<(Vec<u8>, Account)> = scan_borsh(state, K_ACCOUNT, None, MAX_LISTED)?;
    let newest = validator_history(state)?
        .sets
        .last()
        .map(|(_, s)| s.clone())
        .unwrap_or_default();
    Ok(orgs
        .into_iter()
        .map(|(_, o)| pb::OrganizationInfo {
            admin_keys: accounts
                .iter()
                .filter(|(_, a)| a.organization == o.id && a.has_kind(RoleKind::OrgAdmin))
                .map(|(_, a)| a.key.to_vec())
                .collect(),
            validators: newest
                .iter()
                .filter(|v| v.organization == o.id)
                .map(ValidatorRecord::to_proto)
                .collect(),
            node_key: o.node_key.map(|k| k.to_vec()).unwrap_or_default(),
            removed_at_height: o.removed_at_height.unwrap_or(0),
            joined_at_height: o.joined_at_height,
            kind: o.kind.to_api(),
            id: o.id,
            name: o.name,
        })
        .collect())
}

/// Node keys that peers accept now: the members' node keys (the validators' keys are in the
/// validator sets).
pub fn member_node_keys(state: &dyn StateRead) -> Result<Vec<[u8; 32]>> {
    let orgs: Vec<(Vec<u8>, Organization)> = scan_borsh(state, K_ORG, None, MAX_LISTED)?;
    Ok(orgs
        .into_iter()
        .filter(|(_, o)| o.active())
        .filter_map(|(_, o)| o.node_key)
        .collect())
}

/// Every version of parameter `key`: the consortium-wide ones, then `organization`'s (if not
/// empty), each oldest first; and the value in force at `height` for that organization.
pub fn parameter_versions(
    state: &dyn StateRead,
    key: &str,
    organization: &str,
    height: u64,
) -> Result<pb::GetParameterResponse> {
    check_param_key(key)?;
    let mut versions = Vec::new();
    let mut owners = vec![(String::new(), key.to_string())];
    if !organization.is_empty() {
        check_id("organization", organization, 64)?;
        owners.push((organization.to_string(), org_param(organization, key)));
    }
    for (owner, stored) in owners {
        let prefix = [K_PARAM, stored.as_bytes(), b"\0"].concat();
        let rows: Vec<(Vec<u8>, ParamVersion)> = scan_borsh(state, &prefix, None, MAX_LISTED)?;
        for (k, v) in rows {
            let from = k
                .get(prefix.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| {
                    Failed(format!(
                        "parameter key {} has no height",
                        crate::state::printable_key(&k)
                    ))
                })?;
            versions.push(pb::ParameterVersion {
                value: v.value,
                effective_from_height: from,
                set_by: if v.proposal.is_some() {
                    Vec::new()
                } else {
                    v.set_by.to_vec()
                },
                set_at_height: v.set_at_height,
                organization: owner.clone(),
            });
        }
    }
    let value = org_parameter_at(state, organization, key, height)?;
    Ok(pb::GetParameterResponse {
        versions,
        value: value.unwrap_or(0),
        set: value.is_some(),
    })
}

/// Every proposal, by id.
pub fn list_proposals(state: &dyn StateRead) -> Result<Vec<pb::ProposalInfo>> {
    let rows: Vec<(Vec<u8>, Proposal)> = scan_borsh(state, K_PROPOSAL, None, MAX_LISTED)?;
    Ok(rows
        .into_iter()
        .map(|(_, p)| pb::ProposalInfo {
            opened: Some(p.opened()),
            approvals: p.approvals.clone(),
            decided: p.decided,
            effective_height: p.effective_height.unwrap_or(0),
        })
        .collect())
}
