//! The `PersonalData` gRPC service over this node's [`Vault`], and client authentication by
//! signed request tokens (ADR 0005).
//!
//! Every call carries the metadata header
//! `x-yui-auth: <account public key hex>.<unix ms>.<signature hex>`, where the signature is
//! ed25519 (strict verification) over `"yui/v1/auth\0" || <gRPC method path> || <unix ms as
//! decimal ASCII>`. The time must be within ±60 s of this node's clock and each token is
//! accepted once (a bounded replay cache). The account's organization comes from governance
//! state through [`AccountLookup`]; records are owned by organizations.
//!
//! This module must never put record content in a status message or a log line, and never
//! trust a header it has not verified.

use crate::vault::{Access, Vault, VaultError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tonic::{Request, Response, Status};
use yui_proto::v1 as pb;
use yui_proto::v1::personal_data_server::{PersonalData, PersonalDataServer};

pub use yui_client::auth::{
    auth_header, auth_message, method, AUTH_DOMAIN, AUTH_HEADER, AUTH_WINDOW_MS,
};

/// Most tokens remembered for replay protection (one window's worth of calls).
pub const MAX_REPLAY_CACHE: usize = 200_000;

/// How the service learns which organization an account belongs to and which roles it holds,
/// from governance state. Return `None` for unknown accounts and for accounts that hold no role
/// any more, so that a revoked key loses access to its organization's records.
pub trait AccountLookup: Send + Sync {
    /// The organization of the account with this ed25519 public key and its roles (protobuf
    /// `RoleKind` values), if it holds a role.
    fn account_of(&self, key: &[u8; 32]) -> Option<Caller>;

    /// The anchor of `org`'s access log for JST `day`, if one is on the ledger: its entry
    /// count and digest.
    fn log_anchor(&self, _org: &str, _day: &str) -> Result<Option<(u64, [u8; 32])>, String> {
        Ok(None)
    }

    /// Whether an anchored access log of `org` lists record `id` as erased. Errors count as
    /// erased (a restore then keeps the record erased rather than bring it back).
    fn erased_on_ledger(&self, _org: &str, _id: &str) -> bool {
        false
    }

    /// What committed state says about shipment `id`'s release, if the shipment exists.
    fn shipment_release(&self, _id: u64) -> Result<Option<ShipmentRelease>, String> {
        Ok(None)
    }

    /// The network keys of `org`'s nodes.
    fn organization_nodes(&self, _org: &str) -> Result<Vec<[u8; 32]>, String> {
        Ok(Vec::new())
    }
}

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Its ed25519 public key.
    pub account: [u8; 32],
    /// Its organization.
    pub org: String,
    /// Its roles (protobuf `RoleKind` values).
    pub roles: Vec<i32>,
}

impl Caller {
    /// Whether it is one of its organization's admins (who change and erase records).
    fn is_admin(&self) -> bool {
        [
            pb::RoleKind::RoleOrgAdmin,
            pb::RoleKind::RoleMunicipalityAdmin,
        ]
        .iter()
        .any(|k| self.roles.contains(&(*k as i32)))
    }
}

/// The purposes of records a shipment may release to its donor.
const RELEASE_PURPOSES: [i32; 2] = [
    pb::PersonalDataPurpose::ShelterContact as i32,
    pb::PersonalDataPurpose::DeliveryAddress as i32,
];

/// How long a relayed release request may take.
const RELEASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// What committed state says about a shipment's release.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentRelease {
    /// The donor's key.
    pub donor: [u8; 32],
    /// Why the release is over (`received`, `cancelled`), or `None` while the shipment lives.
    pub ended: Option<&'static str>,
    /// The shelter's organization (the record's owner).
    pub organization: String,
    /// The shelter's contact record.
    pub record_id: String,
}

fn auth_header_of<T>(request: &Request<T>) -> Result<&str, Status> {
    request
        .metadata()
        .get(AUTH_HEADER)
        .ok_or_else(|| unauthenticated("missing authentication"))?
        .to_str()
        .map_err(|_| unauthenticated("the authentication header is not ASCII"))
}

/// Readers of a record stored without any: the organization's admins.
const DEFAULT_READERS: [pb::RoleKind; 2] = [
    pb::RoleKind::RoleOrgAdmin,
    pb::RoleKind::RoleMunicipalityAdmin,
];

/// [`AccountLookup`] over the committed governance state: an account's organization, if the
/// account exists, still holds at least one role, and belongs to an organization that is still
/// a member. A self-registered donor belongs to none and so reads no personal data; an account
/// of a removed member reads nothing more. Store errors count as "unknown" (the call is
/// refused, never allowed) and are logged.
#[derive(Clone)]
pub struct LedgerAccounts(pub crate::chain::ChainReader);

impl AccountLookup for LedgerAccounts {
    fn account_of(&self, key: &[u8; 32]) -> Option<Caller> {
        match yui_contracts::governance::acting_account(&self.0.state(), key) {
            Ok(acc) if !acc.roles.is_empty() && !acc.organization.is_empty() => Some(Caller {
                account: *key,
                org: acc.organization,
                roles: acc.roles.iter().map(|r| r.kind.to_proto() as i32).collect(),
            }),
            Ok(_) | Err(yui_contracts::ContractError::Invalid(_)) => None,
            Err(e) => {
                tracing::error!(error = %e, "account lookup for the vault failed");
                None
            }
        }
    }

    fn shipment_release(&self, id: u64) -> Result<Option<ShipmentRelease>, String> {
        let state = self.0.state();
        let Some(sh) =
            yui_contracts::relief::records::shipment(&state, id).map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let shelter = yui_contracts::relief::records::shelter(&state, &sh.shelter_id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("shipment {id} names an unknown shelter"))?;
        let ended = match pb::ShipmentStatus::try_from(sh.status) {
            Ok(pb::ShipmentStatus::ShipmentCreated | pb::ShipmentStatus::ShipmentShipped) => None,
            Ok(pb::ShipmentStatus::ShipmentReceived) => Some("received"),
            Ok(pb::ShipmentStatus::ShipmentCancelled) => Some("cancelled"),
            _ => Some("closed"),
        };
        Ok(Some(ShipmentRelease {
            donor: <[u8; 32]>::try_from(sh.donor.as_slice())
                .map_err(|_| "a shipment's donor is not a key".to_string())?,
            ended,
            organization: shelter.municipality,
            record_id: shelter.contact.map(|c| c.vault_id).unwrap_or_default(),
        }))
    }

    fn organization_nodes(&self, org: &str) -> Result<Vec<[u8; 32]>, String> {
        self.0
            .tip()
            .map_err(anyhow::Error::from)
            .and_then(|t| self.0.organization_network_keys(org, t.height))
            .map_err(|e| e.to_string())
    }

    fn erased_on_ledger(&self, org: &str, id: &str) -> bool {
        yui_contracts::governance::record_erased(&self.0.state(), org, id).unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading the ledger's erased records failed");
            true
        })
    }

    fn log_anchor(&self, org: &str, day: &str) -> Result<Option<(u64, [u8; 32])>, String> {
        yui_contracts::governance::log_anchor(&self.0.state(), org, day)
            .map(|a| a.map(|a| (a.entries, a.digest)))
            .map_err(|e| e.to_string())
    }
}

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The `PersonalData` service.
#[derive(Clone)]
pub struct PersonalDataApi {
    vault: Vault,
    lookup: Arc<dyn AccountLookup>,
    now_ms: Clock,
    // Signature → expiry time; a token is accepted once within its window.
    seen: Arc<Mutex<BTreeMap<[u8; 64], u64>>>,
    // The consortium network, for relaying released-record requests to the owner's node.
    net: Option<tokio::sync::mpsc::Sender<crate::runtime::p2p::Outbound>>,
}

fn unauthenticated(why: &str) -> Status {
    Status::unauthenticated(format!(
        "{why}; every PersonalData call needs the `{AUTH_HEADER}` header \
         (<account key hex>.<unix ms>.<ed25519 signature hex>, see docs/personal-data.md)"
    ))
}

fn to_status(e: VaultError) -> Status {
    match e {
        VaultError::NotFound => Status::not_found(e.to_string()),
        VaultError::PermissionDenied => Status::permission_denied(e.to_string()),
        VaultError::Erased => Status::failed_precondition(e.to_string()),
        VaultError::Retained { .. } => Status::failed_precondition(e.to_string()),
        VaultError::InvalidArgument(m) => Status::invalid_argument(m),
        VaultError::Internal(m) => {
            tracing::error!(error = %m, "personal-data vault failure");
            Status::internal("the personal-data vault failed; see the node's log")
        }
    }
}

fn fields_in(fields: Vec<pb::PersonalField>) -> Vec<(String, String)> {
    fields.into_iter().map(|f| (f.name, f.value)).collect()
}

impl PersonalDataApi {
    /// The service over `vault`, resolving accounts with `lookup`, on the system clock.
    pub fn new(vault: Vault, lookup: Arc<dyn AccountLookup>) -> Self {
        Self::with_clock(vault, lookup, Arc::new(system_now_ms))
    }

    /// The same with an injected clock (unix ms), for tests.
    pub fn with_clock(vault: Vault, lookup: Arc<dyn AccountLookup>, now_ms: Clock) -> Self {
        PersonalDataApi {
            vault,
            lookup,
            now_ms,
            seen: Arc::new(Mutex::new(BTreeMap::new())),
            net: None,
        }
    }

    /// Relay released-record requests for records this node does not hold over `net`.
    pub fn with_network(
        mut self,
        net: tokio::sync::mpsc::Sender<crate::runtime::p2p::Outbound>,
    ) -> Self {
        self.net = Some(net);
        self
    }

    /// Wrap in the tonic server type, ready for `Server::builder().add_service(..)`.
    pub fn into_server(self) -> PersonalDataServer<Self> {
        PersonalDataServer::new(self)
    }

    /// Verify the request's token for `method_path`; return the caller.
    pub fn authenticate<T>(
        &self,
        request: &Request<T>,
        method_path: &str,
    ) -> Result<Caller, Status> {
        let (key, sig, now, unix_ms) = self.check_token(auth_header_of(request)?, method_path)?;
        let caller = self.lookup.account_of(&key).ok_or_else(|| {
            unauthenticated("this key is not an account with a role on the ledger")
        })?;
        self.remember(sig, now, unix_ms)?;
        Ok(caller)
    }

    /// Verify a token for `method_path` whatever account signed it (a released record is read
    /// by whoever the release names); return the signer's key.
    fn authenticate_key(&self, header: &str, method_path: &str) -> Result<[u8; 32], Status> {
        let (key, sig, now, unix_ms) = self.check_token(header, method_path)?;
        self.remember(sig, now, unix_ms)?;
        Ok(key)
    }

    /// Parse a token and check its time and signature (not yet its reuse).
    fn check_token(
        &self,
        header: &str,
        method_path: &str,
    ) -> Result<([u8; 32], [u8; 64], u64, u64), Status> {
        let mut parts = header.split('.');
        let (Some(key_hex), Some(ms_text), Some(sig_hex), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(unauthenticated(
                "the authentication header must have three parts",
            ));
        };
        let key: [u8; 32] = hex::decode(key_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| unauthenticated("the account key must be 64 hex digits"))?;
        let sig: [u8; 64] = hex::decode(sig_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| unauthenticated("the signature must be 128 hex digits"))?;
        if ms_text.is_empty() || ms_text.len() > 20 || !ms_text.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(unauthenticated(
                "the time must be unix milliseconds in decimal",
            ));
        }
        let unix_ms: u64 = ms_text
            .parse()
            .map_err(|_| unauthenticated("the time must be unix milliseconds in decimal"))?;
        // Signed over the canonical decimal form only: "0123" and "123" are not the same token.
        if unix_ms.to_string() != ms_text {
            return Err(unauthenticated("the time must have no leading zeros"));
        }
        let now = (self.now_ms)();
        if now.abs_diff(unix_ms) > AUTH_WINDOW_MS {
            return Err(unauthenticated(
                "the token's time is more than 60 seconds from the node's clock (check the client's clock)",
            ));
        }
        let vk = yui_consensus::sig::Key::from_bytes(&key)
            .ok_or_else(|| unauthenticated("the account key is not a valid ed25519 key"))?;
        if !vk.verify(&auth_message(method_path, unix_ms), &sig) {
            return Err(unauthenticated(&format!(
                "the signature does not verify for method {method_path} at that time"
            )));
        }
        Ok((key, sig, now, unix_ms))
    }

    /// The release a shipment gives `donor`: the shelter's organization and contact record,
    /// while the shipment lives. Checked by the node that relays and again by the owner's.
    fn release_for(&self, donor: &[u8; 32], shipment_id: u64) -> Result<ShipmentRelease, Status> {
        let r = self
            .lookup
            .shipment_release(shipment_id)
            .map_err(|e| {
                tracing::error!(error = %e, "reading a shipment for a release failed");
                Status::internal("the shipment could not be read")
            })?
            .ok_or_else(|| Status::not_found(format!("no shipment {shipment_id}")))?;
        if &r.donor != donor {
            return Err(Status::permission_denied(
                "only the shipment's donor reads the shelter's contact it releases",
            ));
        }
        if let Some(ended) = r.ended {
            return Err(Status::failed_precondition(format!(
                "shipment {shipment_id} was {ended}: its shelter's contact is no longer released"
            )));
        }
        if r.record_id.is_empty() {
            return Err(Status::not_found("the shelter has no contact record"));
        }
        Ok(r)
    }

    /// Answer a release from this node's vault (the record's owner is served here), logged
    /// in the owner's access log.
    async fn release_here(
        &self,
        donor: [u8; 32],
        shipment_id: u64,
    ) -> Result<crate::vault::VaultRecord, Status> {
        let r = self.release_for(&donor, shipment_id)?;
        let caller = Caller {
            account: donor,
            org: self
                .lookup
                .account_of(&donor)
                .map(|c| c.org)
                .unwrap_or_default(),
            roles: Vec::new(),
        };
        let (org, id) = (r.organization.clone(), r.record_id.clone());
        self.logged(
            &caller,
            "release",
            &r.record_id,
            move |v| v.get_released(&org, &id, &RELEASE_PURPOSES),
            move |_| (None, shipment_id),
        )
        .await
    }

    /// Serve a release request a peer relayed: check the donor's own token and the shipment
    /// here, whatever the relaying node checked.
    pub async fn serve_release(
        &self,
        request: crate::runtime::p2p::ReleaseRequest,
    ) -> crate::runtime::p2p::ReleaseResponse {
        use crate::runtime::p2p::ReleaseResponse as R;
        let refused = |s: Status| R::Refused {
            code: s.code() as i32,
            message: s.message().to_string(),
        };
        let donor = match self.authenticate_key(&request.token, method::GET_RELEASED) {
            Ok(k) => k,
            Err(s) => return refused(s),
        };
        match self.release_here(donor, request.shipment_id).await {
            Ok(rec) => R::Released {
                record_id: rec.id.clone(),
                purpose: rec.access.purpose,
                fields: rec.fields.clone(),
            },
            Err(s) => refused(s),
        }
    }

    fn remember(&self, sig: [u8; 64], now: u64, unix_ms: u64) -> Result<(), Status> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, expiry| *expiry >= now);
        if seen.contains_key(&sig) {
            return Err(unauthenticated(
                "this token was already used; sign a fresh token for every call",
            ));
        }
        if seen.len() >= MAX_REPLAY_CACHE {
            return Err(Status::resource_exhausted(
                "too many PersonalData calls in the last minute; retry shortly",
            ));
        }
        seen.insert(sig, unix_ms.saturating_add(AUTH_WINDOW_MS));
        Ok(())
    }

    /// Run `f` on the vault and log the access in the owning organization's access log,
    /// whatever its outcome; `describe` names the record and a count from a success. A call
    /// whose access cannot be logged fails.
    async fn logged<T: Send + 'static>(
        &self,
        caller: &Caller,
        operation: &'static str,
        record_id: &str,
        f: impl FnOnce(&Vault) -> crate::vault::Result<T> + Send + 'static,
        describe: impl FnOnce(&T) -> (Option<String>, u64) + Send + 'static,
    ) -> Result<T, Status> {
        let at_ms = (self.now_ms)();
        let mut entry = pb::AccessLogEntry {
            at_ms,
            account: caller.account.to_vec(),
            account_organization: caller.org.clone(),
            record_id: record_id.to_string(),
            operation: operation.to_string(),
            ..Default::default()
        };
        self.blocking(move |v| {
            let r = f(&v);
            entry.outcome = match &r {
                Ok(t) => {
                    let (id, count) = describe(t);
                    if let Some(id) = id {
                        entry.record_id = id;
                    }
                    entry.count = count;
                    "ok"
                }
                Err(VaultError::NotFound) => "not_found",
                Err(VaultError::PermissionDenied) => "denied",
                Err(VaultError::Erased) => "erased",
                Err(VaultError::Retained { .. }) => "retained",
                Err(VaultError::InvalidArgument(_)) => "invalid",
                Err(_) => "failed",
            }
            .to_string();
            v.log_access(entry)?;
            r
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(Vault) -> crate::vault::Result<T> + Send + 'static,
    ) -> Result<T, Status> {
        let vault = self.vault.clone();
        tokio::task::spawn_blocking(move || f(vault))
            .await
            .map_err(|_| Status::internal("the personal-data vault task failed"))?
            .map_err(to_status)
    }
}

#[tonic::async_trait]
impl PersonalData for PersonalDataApi {
    type BackupStream =
        futures::stream::Iter<std::vec::IntoIter<Result<pb::BackupVaultChunk, Status>>>;

    async fn put(
        &self,
        request: Request<pb::PutPersonalDataRequest>,
    ) -> Result<Response<pb::PutPersonalDataResponse>, Status> {
        let caller = self.authenticate(&request, method::PUT)?;
        let req = request.into_inner();
        if !matches!(
            pb::PersonalDataPurpose::try_from(req.purpose),
            Ok(p) if p != pb::PersonalDataPurpose::Unspecified
        ) {
            return Err(Status::invalid_argument(
                "purpose is required: what the record is kept for (PERSONAL_DATA_PURPOSE_SHELTER_CONTACT, ...)",
            ));
        }
        let mut readers = req.readers.clone();
        if readers.is_empty() {
            readers = DEFAULT_READERS.iter().map(|k| *k as i32).collect();
        }
        if readers.iter().any(
            |r| !matches!(pb::RoleKind::try_from(*r), Ok(k) if k != pb::RoleKind::RoleUnspecified),
        ) {
            return Err(Status::invalid_argument(
                "readers must be role kinds (ROLE_SHELTER_OPERATOR, ...)",
            ));
        }
        readers.sort_unstable();
        readers.dedup();
        check_code("retention_rule", &req.retention_rule, false)?;
        check_code("subject", &req.subject, true)?;
        if req.retain_until_ms > 0 && req.retention_rule.is_empty() {
            return Err(Status::invalid_argument(
                "retain_until_ms needs retention_rule: the name of the rule that sets the period",
            ));
        }
        let access = Access {
            purpose: req.purpose,
            readers,
            retain_until_ms: req.retain_until_ms,
            retention_rule: req.retention_rule,
            subject: req.subject,
        };
        let fields = fields_in(req.fields);
        let org = caller.org.clone();
        let (id, commitment) = self
            .logged(
                &caller,
                "put",
                "",
                move |v| v.put(&org, access, fields),
                |(id, _)| (Some(id.clone()), 0),
            )
            .await?;
        Ok(Response::new(pb::PutPersonalDataResponse {
            id,
            commitment: commitment.to_vec(),
        }))
    }

    async fn get(
        &self,
        request: Request<pb::GetPersonalDataRequest>,
    ) -> Result<Response<pb::GetPersonalDataResponse>, Status> {
        let caller = self.authenticate(&request, method::GET)?;
        let id = request.into_inner().id;
        let (org, roles) = (caller.org.clone(), caller.roles.clone());
        let rec = self
            .logged(
                &caller,
                "get",
                &id.clone(),
                move |v| v.get(&org, &roles, &id),
                |_| (None, 0),
            )
            .await?;
        Ok(Response::new(record_out(&rec)))
    }

    async fn update(
        &self,
        request: Request<pb::UpdatePersonalDataRequest>,
    ) -> Result<Response<pb::UpdatePersonalDataResponse>, Status> {
        let caller = self.authenticate(&request, method::UPDATE)?;
        require_admin(&caller)?;
        let req = request.into_inner();
        let id = req.id;
        let fields = fields_in(req.fields);
        let id2 = id.clone();
        let org = caller.org.clone();
        let commitment = self
            .logged(
                &caller,
                "update",
                &id,
                move |v| v.update(&org, &id2, fields),
                |_| (None, 0),
            )
            .await?;
        Ok(Response::new(pb::UpdatePersonalDataResponse {
            id,
            commitment: commitment.to_vec(),
        }))
    }

    async fn erase(
        &self,
        request: Request<pb::ErasePersonalDataRequest>,
    ) -> Result<Response<pb::ErasePersonalDataResponse>, Status> {
        let caller = self.authenticate(&request, method::ERASE)?;
        require_admin(&caller)?;
        let req = request.into_inner();
        if req.legal_basis.chars().count() > 200 {
            return Err(Status::invalid_argument(
                "legal_basis is at most 200 characters",
            ));
        }
        // The legal basis is kept with the tombstone: no personal data in it either.
        crate::admission::guard::check_text("legal_basis", &req.legal_basis)
            .map_err(|v| Status::invalid_argument(v.to_string()))?;
        let id = req.id;
        let id2 = id.clone();
        let now = crate::runtime::driver::now_ms();
        let org = caller.org.clone();
        let with_basis = u64::from(!req.legal_basis.is_empty());
        self.logged(
            &caller,
            "erase",
            &id,
            move |v| v.erase(&org, &id2, now, &req.legal_basis),
            move |_| (None, with_basis),
        )
        .await?;
        Ok(Response::new(pb::ErasePersonalDataResponse { id }))
    }

    async fn disclose(
        &self,
        request: Request<pb::DisclosePersonalDataRequest>,
    ) -> Result<Response<pb::DisclosePersonalDataResponse>, Status> {
        let caller = self.authenticate(&request, method::DISCLOSE)?;
        require_admin(&caller)?;
        let subject = request.into_inner().subject;
        check_code("subject", &subject, true)?;
        if subject.is_empty() {
            return Err(Status::invalid_argument("subject is required"));
        }
        let s2 = subject.clone();
        let org = caller.org.clone();
        let records = self
            .logged(
                &caller,
                "disclose",
                "",
                move |v| v.disclose(&org, &s2),
                |r| (None, r.len() as u64),
            )
            .await?;
        let json = serde_json::json!({
            "subject": subject,
            "records": records.iter().map(|r| serde_json::json!({
                "id": r.id,
                "purpose": pb::PersonalDataPurpose::try_from(r.access.purpose)
                    .map(|p| p.as_str_name())
                    .unwrap_or("UNKNOWN"),
                "retain_until_ms": r.access.retain_until_ms,
                "retention_rule": r.access.retention_rule,
                "fields": r.fields.iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect::<serde_json::Map<_, _>>(),
            })).collect::<Vec<_>>(),
        });
        Ok(Response::new(pb::DisclosePersonalDataResponse {
            records: records.iter().map(record_out).collect(),
            json: json.to_string(),
        }))
    }

    async fn backup(
        &self,
        request: Request<pb::BackupVaultRequest>,
    ) -> Result<Response<Self::BackupStream>, Status> {
        let caller = self.authenticate(&request, method::BACKUP)?;
        require_org_admin(&caller)?;
        let recipient =
            crate::vault::parse_recipient(&request.into_inner().recipient).map_err(to_status)?;
        let now = (self.now_ms)();
        let org = caller.org.clone();
        let (file, records) = self
            .logged(
                &caller,
                "backup",
                "",
                move |v| v.backup(&org, &recipient, now),
                |(_, n)| (None, *n as u64),
            )
            .await?;
        let chunks: Vec<Result<pb::BackupVaultChunk, Status>> = file
            .chunks(BACKUP_CHUNK)
            .enumerate()
            .map(|(i, c)| {
                Ok(pb::BackupVaultChunk {
                    data: c.to_vec(),
                    records: if i == 0 { records as u64 } else { 0 },
                })
            })
            .collect();
        Ok(Response::new(futures::stream::iter(chunks)))
    }

    async fn restore(
        &self,
        request: Request<tonic::Streaming<pb::RestoreVaultChunk>>,
    ) -> Result<Response<pb::RestoreVaultResponse>, Status> {
        let caller = self.authenticate(&request, method::RESTORE)?;
        require_org_admin(&caller)?;
        let mut stream = request.into_inner();
        let mut plain = zeroize::Zeroizing::new(Vec::new());
        while let Some(chunk) = stream.message().await? {
            if chunk.data.len() > BACKUP_CHUNK || plain.len() + chunk.data.len() > MAX_RESTORE {
                return Err(Status::invalid_argument(format!(
                    "a restore is sent in chunks of at most {BACKUP_CHUNK} bytes, {MAX_RESTORE} bytes in all"
                )));
            }
            plain.extend_from_slice(&chunk.data);
        }
        let bundle = crate::vault::decode_bundle(&plain).map_err(to_status)?;
        drop(plain);
        let now = (self.now_ms)();
        let org = caller.org.clone();
        let lookup = self.lookup.clone();
        let done = self
            .logged(
                &caller,
                "restore",
                "",
                move |v| v.restore(&org, &bundle, &|id| lookup.erased_on_ledger(&org, id), now),
                |d| (None, d.live + d.erased + d.erased_since),
            )
            .await?;
        Ok(Response::new(pb::RestoreVaultResponse {
            live: done.live,
            erased: done.erased,
            erased_since: done.erased_since,
            skipped: done.skipped,
        }))
    }

    async fn get_released(
        &self,
        request: Request<pb::GetReleasedRequest>,
    ) -> Result<Response<pb::GetPersonalDataResponse>, Status> {
        let token = auth_header_of(&request)?.to_string();
        let shipment_id = request.into_inner().shipment_id;
        let donor = self.authenticate_key(&token, method::GET_RELEASED)?;
        let release = self.release_for(&donor, shipment_id)?;
        if self
            .vault
            .owner_of(&release.record_id)
            .map_err(to_status)?
            .as_deref()
            == Some(release.organization.as_str())
        {
            let rec = self.release_here(donor, shipment_id).await?;
            return Ok(Response::new(record_out(&rec)));
        }
        // Another organization's record: ask one of its nodes, with the donor's own token.
        let net = self.net.as_ref().ok_or_else(|| {
            Status::unavailable("this node is not connected to the consortium network")
        })?;
        let to: Vec<libp2p::PeerId> = self
            .lookup
            .organization_nodes(&release.organization)
            .map_err(|e| {
                tracing::error!(error = %e, "reading an organization's nodes failed");
                Status::internal("the nodes of the shelter's organization could not be read")
            })?
            .iter()
            .filter_map(|k| crate::runtime::p2p::peer_id_of(k).ok())
            .collect();
        let (tx, rx) = tokio::sync::oneshot::channel();
        net.send(crate::runtime::p2p::Outbound::Release {
            to,
            request: crate::runtime::p2p::ReleaseRequest { token, shipment_id },
            reply: tx,
        })
        .await
        .map_err(|_| Status::unavailable("the network task stopped"))?;
        let answer = tokio::time::timeout(RELEASE_TIMEOUT, rx)
            .await
            .map_err(|_| {
                Status::unavailable(format!(
                    "the shelter's organization ({}) did not answer in time",
                    release.organization
                ))
            })?
            .map_err(|_| Status::unavailable("the network task stopped"))?
            .map_err(|e| Status::unavailable(format!("{e} ({})", release.organization)))?;
        match answer {
            crate::runtime::p2p::ReleaseResponse::Released {
                record_id,
                purpose,
                fields,
            } => Ok(Response::new(pb::GetPersonalDataResponse {
                id: record_id,
                fields: fields
                    .into_iter()
                    .map(|(name, value)| pb::PersonalField { name, value })
                    .collect(),
                purpose,
                ..Default::default()
            })),
            crate::runtime::p2p::ReleaseResponse::Refused { code, message } => {
                Err(Status::new(tonic::Code::from(code), message))
            }
        }
    }

    async fn read_access_log(
        &self,
        request: Request<pb::ReadAccessLogRequest>,
    ) -> Result<Response<pb::ReadAccessLogResponse>, Status> {
        let caller = self.authenticate(&request, method::READ_ACCESS_LOG)?;
        let may_read = [
            pb::RoleKind::RoleAuditor,
            pb::RoleKind::RoleOrgAdmin,
            pb::RoleKind::RoleMunicipalityAdmin,
        ]
        .iter()
        .any(|k| caller.roles.contains(&(*k as i32)));
        if !may_read {
            return Err(Status::permission_denied(
                "only an auditor, org admin or municipality admin of the organization reads its access log",
            ));
        }
        let day = request.into_inner().day;
        if !yui_contracts::calendar::is_date_string(&day) {
            return Err(Status::invalid_argument(
                "day must be a JST date written YYYY-MM-DD",
            ));
        }
        let (org, d2) = (caller.org.clone(), day.clone());
        let log = self.blocking(move |v| v.access_log(&org, &d2)).await?;
        let anchor = self.lookup.log_anchor(&caller.org, &day).map_err(|e| {
            tracing::error!(error = %e, "reading an access log anchor failed");
            Status::internal("the ledger's anchor of this day could not be read")
        })?;
        let (anchored_entries, anchored_digest) = anchor.unwrap_or_default();
        Ok(Response::new(pb::ReadAccessLogResponse {
            day,
            matches_anchor: anchor
                .is_some_and(|(n, d)| n == log.entries.len() as u64 && d == log.digest),
            anchored: anchor.is_some(),
            anchored_entries,
            anchored_digest: if anchor.is_some() {
                anchored_digest.to_vec()
            } else {
                Vec::new()
            },
            entries: log.entries,
            digest: log.digest.to_vec(),
        }))
    }
}

/// The API form of a record.
fn record_out(rec: &crate::vault::VaultRecord) -> pb::GetPersonalDataResponse {
    pb::GetPersonalDataResponse {
        id: rec.id.clone(),
        commitment: rec.commitment.to_vec(),
        fields: rec
            .fields
            .iter()
            .map(|(name, value)| pb::PersonalField {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        purpose: rec.access.purpose,
        readers: rec.access.readers.clone(),
        retain_until_ms: rec.access.retain_until_ms,
        retention_rule: rec.access.retention_rule.clone(),
        subject: rec.access.subject.clone(),
    }
}

/// A short code field (a rule name, a pseudonymous subject): at most 64 of `[A-Za-z0-9._-]`
/// (`[a-z0-9._-]` unless `upper`). Empty is allowed here; the caller says when it is not.
fn check_code(what: &str, v: &str, upper: bool) -> Result<(), Status> {
    let ok = v.len() <= 64
        && v.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'.' | b'_' | b'-')
                || (upper && b.is_ascii_uppercase())
        });
    if ok {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "{what} is at most 64 characters of {}0-9 . _ -",
            if upper { "A-Z a-z " } else { "a-z " }
        )))
    }
}

/// Largest chunk of a backup or restore stream.
const BACKUP_CHUNK: usize = 1 << 20;
/// Largest restore.
const MAX_RESTORE: usize = 1 << 30;

fn require_org_admin(caller: &Caller) -> Result<(), Status> {
    if caller.roles.contains(&(pb::RoleKind::RoleOrgAdmin as i32)) {
        Ok(())
    } else {
        Err(Status::permission_denied(
            "only an org admin of the organization backs up or restores its vault",
        ))
    }
}

fn require_admin(caller: &Caller) -> Result<(), Status> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(Status::permission_denied(
            "only an org admin or municipality admin of the record's organization may change or erase it",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tonic::Code;

    /// Every test account is a municipality admin of its organization (the reader-role rules
    /// have their own test).
    struct Orgs(BTreeMap<[u8; 32], String>);
    impl AccountLookup for Orgs {
        fn account_of(&self, key: &[u8; 32]) -> Option<Caller> {
            self.0.get(key).map(|org| Caller {
                account: *key,
                org: org.clone(),
                roles: vec![pb::RoleKind::RoleMunicipalityAdmin as i32],
            })
        }
    }

    struct Fixture {
        api: PersonalDataApi,
        a: SigningKey,
        b: SigningKey,
        stranger: SigningKey,
        clock: Arc<AtomicU64>,
        _dir: tempfile::TempDir,
    }

    const T0: u64 = 1_795_000_000_000;

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(dir.path()).unwrap();
        let a = SigningKey::from_bytes(&[1; 32]);
        let b = SigningKey::from_bytes(&[2; 32]);
        let stranger = SigningKey::from_bytes(&[3; 32]);
        let mut m = BTreeMap::new();
        m.insert(a.verifying_key().to_bytes(), "org-hachioji".to_string());
        m.insert(b.verifying_key().to_bytes(), "org-tama".to_string());
        let clock = Arc::new(AtomicU64::new(T0));
        let c2 = clock.clone();
        let api = PersonalDataApi::with_clock(
            vault,
            Arc::new(Orgs(m)),
            Arc::new(move || c2.load(Ordering::SeqCst)),
        );
        Fixture {
            api,
            a,
            b,
            stranger,
            clock,
            _dir: dir,
        }
    }

    fn signed<T>(msg: T, key: &SigningKey, method: &str, ms: u64) -> Request<T> {
        let mut r = Request::new(msg);
        r.metadata_mut()
            .insert(AUTH_HEADER, auth_header(key, method, ms).parse().unwrap());
        r
    }

    fn record() -> Vec<pb::PersonalField> {
        vec![
            pb::PersonalField {
                name: "name".into(),
                value: "山田太郎".into(),
            },
            pb::PersonalField {
                name: "phone".into(),
                value: "090-1234-5678".into(),
            },
        ]
    }

    async fn put(f: &Fixture, key: &SigningKey) -> pb::PutPersonalDataResponse {
        f.api
            .put(signed(
                pb::PutPersonalDataRequest {
                    fields: record(),
                    purpose: pb::PersonalDataPurpose::ResidentContact as i32,
                    readers: Vec::new(),
                    ..Default::default()
                },
                key,
                method::PUT,
                T0,
            ))
            .await
            .unwrap()
            .into_inner()
    }

    fn get_req(id: &str, key: &SigningKey, ms: u64) -> Request<pb::GetPersonalDataRequest> {
        signed(
            pb::GetPersonalDataRequest { id: id.into() },
            key,
            method::GET,
            ms,
        )
    }

    fn assert_no_content(s: &Status) {
        for secret in ["山田", "090", "1234-5678"] {
            assert!(!s.message().contains(secret), "{}", s.message());
        }
    }

    #[tokio::test]
    async fn put_get_update_erase_round_trip() {
        let f = fixture();
        let put = put(&f, &f.a).await;
        assert!(put.id.starts_with("pd_"));
        assert_eq!(put.commitment.len(), 32);
        let got = f
            .api
            .get(get_req(&put.id, &f.a, T0 + 1))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.fields.len(), 2);
        assert_eq!(got.fields[0].value, "山田太郎");
        assert_eq!(got.commitment, put.commitment);
        let upd = f
            .api
            .update(signed(
                pb::UpdatePersonalDataRequest {
                    id: put.id.clone(),
                    fields: vec![pb::PersonalField {
                        name: "email".into(),
                        value: "taro@example.jp".into(),
                    }],
                },
                &f.a,
                method::UPDATE,
                T0 + 2,
            ))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(upd.commitment, put.commitment);
        f.api
            .erase(signed(
                pb::ErasePersonalDataRequest {
                    id: put.id.clone(),
                    ..Default::default()
                },
                &f.a,
                method::ERASE,
                T0 + 3,
            ))
            .await
            .unwrap();
        let s = f.api.get(get_req(&put.id, &f.a, T0 + 4)).await.unwrap_err();
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert!(s.message().contains("erased"));
    }

    #[tokio::test]
    async fn other_organization_is_denied_without_content() {
        let f = fixture();
        let put = put(&f, &f.a).await;
        let s = f.api.get(get_req(&put.id, &f.b, T0)).await.unwrap_err();
        assert_eq!(s.code(), Code::PermissionDenied);
        assert_no_content(&s);
        let s = f
            .api
            .get(get_req(&format!("pd_{}", "a".repeat(32)), &f.a, T0 + 1))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::NotFound);
    }

    #[tokio::test]
    async fn authentication_is_strict() {
        let f = fixture();
        let put = put(&f, &f.a).await;
        let id = put.id.as_str();
        // No header.
        let s = f
            .api
            .get(Request::new(pb::GetPersonalDataRequest { id: id.into() }))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated);
        // Unknown account.
        let s = f.api.get(get_req(id, &f.stranger, T0)).await.unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated);
        // Stale and future tokens.
        for ms in [T0 - AUTH_WINDOW_MS - 1, T0 + AUTH_WINDOW_MS + 1] {
            let s = f.api.get(get_req(id, &f.a, ms)).await.unwrap_err();
            assert_eq!(s.code(), Code::Unauthenticated, "{ms}");
        }
        // A token for another method.
        let s = f
            .api
            .get(signed(
                pb::GetPersonalDataRequest { id: id.into() },
                &f.a,
                method::ERASE,
                T0 + 10,
            ))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated);
        // Another key's signature under a's key.
        let forged = auth_header(&f.b, method::GET, T0 + 11);
        let sig = forged.rsplit('.').next().unwrap();
        let header = format!(
            "{}.{}.{}",
            hex::encode(f.a.verifying_key().as_bytes()),
            T0 + 11,
            sig
        );
        let mut r = Request::new(pb::GetPersonalDataRequest { id: id.into() });
        r.metadata_mut()
            .insert(AUTH_HEADER, header.parse().unwrap());
        assert_eq!(
            f.api.get(r).await.unwrap_err().code(),
            Code::Unauthenticated
        );
        // Malformed headers.
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "zz.1.zz",
            &format!("{}.+1.00", "0".repeat(64)),
        ] {
            let mut r = Request::new(pb::GetPersonalDataRequest { id: id.into() });
            r.metadata_mut().insert(AUTH_HEADER, bad.parse().unwrap());
            assert_eq!(
                f.api.get(r).await.unwrap_err().code(),
                Code::Unauthenticated
            );
        }
        // Leading zeros change the signed text.
        let good = auth_header(&f.a, method::GET, T0 + 12);
        let zeroed = good.replacen(&format!(".{}.", T0 + 12), &format!(".0{}.", T0 + 12), 1);
        let mut r = Request::new(pb::GetPersonalDataRequest { id: id.into() });
        r.metadata_mut()
            .insert(AUTH_HEADER, zeroed.parse().unwrap());
        assert_eq!(
            f.api.get(r).await.unwrap_err().code(),
            Code::Unauthenticated
        );
        // A valid token works once.
        f.api.get(get_req(id, &f.a, T0 + 20)).await.unwrap();
        let s = f.api.get(get_req(id, &f.a, T0 + 20)).await.unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated);
        assert!(s.message().contains("already used"));
        // After the window, the cache forgets it (and the clock rejects it anyway).
        f.clock.store(T0 + 3 * AUTH_WINDOW_MS, Ordering::SeqCst);
        let s = f.api.get(get_req(id, &f.a, T0 + 20)).await.unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated);
        f.api
            .get(get_req(id, &f.a, T0 + 3 * AUTH_WINDOW_MS))
            .await
            .unwrap();
    }

    #[test]
    fn ledger_accounts_reads_governance_state() {
        use crate::setup::genesis::{
            ConsensusParams, FaultModelName, GenesisAccount, GenesisDoc, GenesisOrg,
            GenesisValidator,
        };
        let admin = SigningKey::from_bytes(&[7; 32]);
        let validator = SigningKey::from_bytes(&[8; 32]);
        let doc = GenesisDoc {
            chain_id: "yui-test".into(),
            genesis_time_ms: T0,
            fault_model: FaultModelName::Crash,
            max_expiry_blocks: 100,
            consensus: ConsensusParams::default(),
            organizations: vec![GenesisOrg {
                id: "org-hachioji".into(),
                name: "Hachioji City".into(),
                kind: Default::default(),
            }],
            validators: vec![GenesisValidator {
                organization: "org-hachioji".into(),
                name: "hachioji-1".into(),
                public_key: hex::encode(validator.verifying_key().as_bytes()),
                power: 1,
            }],
            observers: vec![],
            accounts: vec![GenesisAccount {
                public_key: hex::encode(admin.verifying_key().as_bytes()),
                organization: "org-hachioji".into(),
                roles: vec!["org_admin".into()],
            }],
            parameters: BTreeMap::new(),
        };
        let store: Arc<dyn crate::storage::Store> = Arc::new(crate::storage::MemStore::default());
        let chain = crate::chain::Chain::open(store, &doc).unwrap();
        let lookup = LedgerAccounts(chain.reader.clone());
        assert_eq!(
            lookup
                .account_of(&admin.verifying_key().to_bytes())
                .map(|c| c.org),
            Some("org-hachioji".to_string())
        );
        assert_eq!(lookup.account_of(&[9; 32]), None);
    }

    #[tokio::test]
    async fn bad_fields_are_invalid_argument() {
        let f = fixture();
        let s = f
            .api
            .put(signed(
                pb::PutPersonalDataRequest {
                    fields: vec![],
                    purpose: pb::PersonalDataPurpose::ResidentContact as i32,
                    readers: Vec::new(),
                    ..Default::default()
                },
                &f.a,
                method::PUT,
                T0,
            ))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument);
        let s = f
            .api
            .get(get_req("pd_nope", &f.a, T0 + 1))
            .await
            .unwrap_err();
        assert_eq!(s.code(), Code::InvalidArgument);
    }
}
