//! The relief contract (CONTRACTS.md §1): disaster relief goods matching between shelters and
//! donors.
//!
//! State (all under `rl/`): shelters, the catalogue (pre-filled at genesis with the eight basic
//! push-support items), disasters, needs, offers, commitments (pledges against needs and requests
//! from offers share one id space), shipments, per-shelter arrivals and per-(disaster, item)
//! totals. Records are stored as their protobuf encoding (prost writes fields in number order,
//! so the bytes are deterministic).
//!
//! Invariants, enforced on every call and property-tested (`contracts/tests/relief_*.rs`):
//! per need `fulfilled + in_transit ≤ committed ≤ quantity`; per offer `requested ≤ quantity`;
//! no counter below zero (checked arithmetic; a would-be underflow is a `Failed`, never silent);
//! a cancelled or expired commitment returns its quantity once (only a PENDING or APPROVED
//! commitment can be cancelled, and cancelling makes it CANCELLED); a shipment is received at
//! most once (only a SHIPPED shipment can be received); every change is made by a signer with the
//! role for that shelter (`ROLE_SHELTER_OPERATOR` scoped to it), that donor (the commitment's
//! own account) or that municipality.

pub mod token;

pub use token::*;

use crate::error::{
    already_exists, invalid_argument, not_found, permission_denied, precondition, Result,
};
use crate::governance::{self, Account, RoleKind};
use crate::page::Page;
use crate::state::{get_borsh, put_borsh, scan_borsh};
use crate::text::{check_ref, check_text};
use crate::{pb, ContractError, Exec, Failed, State, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};
use pb::relief_call::Call as R;
use prost::Message;

/// Largest quantity of one need, offer or commitment.
pub const MAX_QUANTITY: u64 = 1_000_000;
/// Longest details text.
pub const MAX_DETAILS_CHARS: usize = 280;
/// Longest name.
pub const MAX_NAME_CHARS: usize = 120;
/// Most attributes of an item.
pub const MAX_ATTRIBUTES: usize = 16;
/// Most requests one offer can have (bounds the work of expiring it).
pub const MAX_REQUESTS_PER_OFFER: usize = 1000;

const K_SHELTER: &[u8] = b"rl/shelter/";
const K_ITEM: &[u8] = b"rl/item/";
const K_DISASTER: &[u8] = b"rl/dis/";
const K_NEED: &[u8] = b"rl/need/";
const K_OFFER: &[u8] = b"rl/offer/";
const K_COMMIT: &[u8] = b"rl/com/";
const K_SHIP: &[u8] = b"rl/ship/";
const K_CTR: &[u8] = b"rl/ctr/";
const K_ARRIVAL: &[u8] = b"rl/arr/";
const K_OFFER_REQ: &[u8] = b"rl/offreq/";
const K_TOTAL: &[u8] = b"rl/tot/";

/// The eight basic push-support items (プッシュ型支援の基本8品目), pre-filled at genesis:
/// (id, category, name, unit, attributes).
pub const BASIC_ITEMS: [(&str, &str, &str, &str, &[&str]); 8] = [
    ("food", "food", "Food (ready to eat)", "meal", &[]),
    ("blankets", "bedding", "Blankets", "piece", &[]),
    (
        "infant-formula",
        "infant",
        "Infant formula",
        "can",
        &["infant"],
    ),
    (
        "infant-diapers",
        "infant",
        "Infant diapers",
        "pack",
        &["infant"],
    ),
    (
        "adult-diapers",
        "elderly",
        "Adult diapers",
        "pack",
        &["elderly"],
    ),
    (
        "portable-toilets",
        "sanitation",
        "Portable toilets",
        "set",
        &[],
    ),
    ("toilet-paper", "sanitation", "Toilet paper", "roll", &[]),
    (
        "sanitary-products",
        "hygiene",
        "Sanitary products",
        "pack",
        &[],
    ),
];

/// Report totals of one (disaster, item).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Totals {
    /// Needed.
    pub needed: u64,
    /// Pledged.
    pub committed: u64,
    /// In transit.
    pub in_transit: u64,
    /// Received.
    pub received: u64,
    /// Offered.
    pub offered: u64,
    /// Requested.
    pub requested: u64,
}

fn id_key(prefix: &[u8], id: u64) -> Vec<u8> {
    [prefix, &id.to_be_bytes()].concat()
}

fn str_key(prefix: &[u8], id: &str) -> Vec<u8> {
    [prefix, id.as_bytes()].concat()
}

fn get_pb<T: Message + Default>(state: &dyn StateRead, key: &[u8]) -> Result<Option<T>> {
    match state.get(key)? {
        None => Ok(None),
        Some(b) => T::decode(b.as_slice()).map(Some).map_err(|e| {
            ContractError::Failed(Failed(format!(
                "a stored relief record does not decode: {e}"
            )))
        }),
    }
}

fn put_pb<T: Message>(state: &mut dyn State, key: Vec<u8>, v: &T) {
    state.put(key, v.encode_to_vec());
}

fn next_id(x: &mut Exec<'_>, kind: &str) -> Result<u64> {
    let k = str_key(K_CTR, kind);
    let n: u64 = get_borsh(&*x.state, &k)?.unwrap_or(0) + 1;
    put_borsh(x.state, k, &n);
    Ok(n)
}

/// The fill status of a counter against a quantity.
pub fn fill(v: u64, of: u64) -> pb::FillStatus {
    if v == 0 {
        pb::FillStatus::FillNone
    } else if v >= of {
        pb::FillStatus::FillComplete
    } else {
        pb::FillStatus::FillPartial
    }
}

fn set_fill(n: &mut pb::Need) {
    n.committed_status = fill(n.committed, n.quantity) as i32;
    n.in_transit_status = fill(n.in_transit, n.quantity) as i32;
    n.fulfilled_status = fill(n.fulfilled, n.quantity) as i32;
}

fn check_quantity(q: u64) -> Result<()> {
    if q == 0 || q > MAX_QUANTITY {
        return Err(invalid_argument(
            "relief.invalid_quantity",
            format!("quantity must be between 1 and {MAX_QUANTITY}"),
        ));
    }
    Ok(())
}

fn emit(x: &mut Exec<'_>, kind: pb::relief_event::Kind) {
    x.emit(pb::event::Kind::Relief(pb::ReliefEvent {
        kind: Some(kind),
    }));
}

/// A shelter.
pub fn shelter(state: &dyn StateRead, id: &str) -> Result<Option<pb::Shelter>> {
    get_pb(state, &str_key(K_SHELTER, id))
}
/// A catalogue item.
pub fn item(state: &dyn StateRead, id: &str) -> Result<Option<pb::CatalogueItem>> {
    get_pb(state, &str_key(K_ITEM, id))
}
/// A disaster.
pub fn disaster(state: &dyn StateRead, id: &str) -> Result<Option<pb::Disaster>> {
    get_pb(state, &str_key(K_DISASTER, id))
}
/// A need.
pub fn need(state: &dyn StateRead, id: u64) -> Result<Option<pb::Need>> {
    get_pb(state, &id_key(K_NEED, id))
}
/// An offer.
pub fn offer(state: &dyn StateRead, id: u64) -> Result<Option<pb::Offer>> {
    get_pb(state, &id_key(K_OFFER, id))
}
/// A pledge or request.
pub fn commitment(state: &dyn StateRead, id: u64) -> Result<Option<pb::Commitment>> {
    get_pb(state, &id_key(K_COMMIT, id))
}
/// A shipment.
pub fn shipment(state: &dyn StateRead, id: u64) -> Result<Option<pb::Shipment>> {
    get_pb(state, &id_key(K_SHIP, id))
}
/// Totals of a (disaster, item).
pub fn totals(state: &dyn StateRead, disaster_id: &str, item_id: &str) -> Result<Totals> {
    Ok(get_borsh(state, &tot_key(disaster_id, item_id))?.unwrap_or_default())
}

fn tot_key(disaster_id: &str, item_id: &str) -> Vec<u8> {
    [K_TOTAL, disaster_id.as_bytes(), b"\0", item_id.as_bytes()].concat()
}

fn update_totals(
    x: &mut Exec<'_>,
    disaster_id: &str,
    item_id: &str,
    f: impl FnOnce(&mut Totals) -> Result<()>,
) -> Result<()> {
    let k = tot_key(disaster_id, item_id);
    let mut t: Totals = get_borsh(&*x.state, &k)?.unwrap_or_default();
    f(&mut t)?;
    put_borsh(x.state, k, &t);
    Ok(())
}

fn req<T>(v: Option<T>, code: &str, what: &str) -> Result<T> {
    v.ok_or_else(|| not_found(code, format!("no {what} has this id")))
}

fn require_operator(signer: &Account, shelter_id: &str) -> Result<()> {
    if signer.has(RoleKind::ShelterOperator, shelter_id) {
        return Ok(());
    }
    Err(permission_denied(
        "relief.not_shelter_operator",
        format!("only an operator of shelter {shelter_id} (ROLE_SHELTER_OPERATOR scoped to it) may do this"),
    ))
}

fn require_municipality(signer: &Account, municipality: &str) -> Result<()> {
    if signer.has_kind(RoleKind::MunicipalityAdmin) && signer.organization == municipality {
        return Ok(());
    }
    Err(permission_denied(
        "relief.not_municipality_admin",
        format!("only a municipality admin of {municipality} may do this"),
    ))
}

fn open_disaster_of(state: &dyn StateRead, id: &str) -> Result<pb::Disaster> {
    check_ref("relief", "disaster_id", id)?;
    let d = req(disaster(state, id)?, "relief.unknown_disaster", "disaster")?;
    if !d.open {
        return Err(precondition(
            "relief.disaster_closed",
            format!("disaster {id} is closed: nothing new can be filed under it"),
        ));
    }
    Ok(d)
}

/// Mempool pre-check of the signer's role for a relief call (execution checks the scope).
pub fn authorize(_state: &dyn StateRead, account: &Account, call: &pb::ReliefCall) -> Result<()> {
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "relief.unknown_call",
            "the relief call is empty or unknown to this node",
        )),
        Some(R::RegisterShelter(_) | R::AddItem(_) | R::OpenDisaster(_) | R::CloseDisaster(_)) => {
            account.require_any(&[RoleKind::MunicipalityAdmin], "managing relief")
        }
        Some(R::PostNeed(_) | R::CloseNeed(_) | R::Request(_) | R::Approve(_) | R::Receive(_)) => {
            account.require_any(&[RoleKind::ShelterOperator], "acting for a shelter")
        }
        Some(R::Pledge(_) | R::PostOffer(_) | R::Ship(_)) => {
            account.require_any(&[RoleKind::Donor], "donating")
        }
        Some(R::Cancel(_)) => account.require_any(
            &[RoleKind::Donor, RoleKind::ShelterOperator],
            "cancelling a pledge or request",
        ),
        Some(R::ExpireOffer(_)) => Ok(()),
    }
}

/// Name of a relief call.
pub fn call_name(call: &pb::ReliefCall) -> &'static str {
    match call.call {
        None => "relief.unknown",
        Some(R::RegisterShelter(_)) => "relief.register_shelter",
        Some(R::AddItem(_)) => "relief.add_item",
        Some(R::OpenDisaster(_)) => "relief.open_disaster",
        Some(R::CloseDisaster(_)) => "relief.close_disaster",
        Some(R::PostNeed(_)) => "relief.post_need",
        Some(R::CloseNeed(_)) => "relief.close_need",
        Some(R::Pledge(_)) => "relief.pledge",
        Some(R::PostOffer(_)) => "relief.post_offer",
        Some(R::Request(_)) => "relief.request",
        Some(R::Approve(_)) => "relief.approve",
        Some(R::Cancel(_)) => "relief.cancel",
        Some(R::Ship(_)) => "relief.ship",
        Some(R::Receive(_)) => "relief.receive",
        Some(R::ExpireOffer(_)) => "relief.expire_offer",
    }
}

/// Initial relief state: the eight basic push-support items.
pub fn init_genesis(state: &mut dyn State) -> Result<()> {
    for (id, category, name, unit, attrs) in BASIC_ITEMS {
        put_pb(
            state,
            str_key(K_ITEM, id),
            &pb::CatalogueItem {
                item_id: id.into(),
                category: category.into(),
                name: name.into(),
                unit: unit.into(),
                attributes: attrs.iter().map(|a| a.to_string()).collect(),
            },
        );
    }
    Ok(())
}

/// Execute a relief call.
pub fn execute(x: &mut Exec<'_>, call: &pb::ReliefCall) -> Result<()> {
    let signer = governance::signer_account(x)?;
    authorize(&*x.state, &signer, call)?;
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "relief.unknown_call",
            "the relief call is empty",
        )),
        Some(R::RegisterShelter(c)) => register_shelter(x, &signer, c),
        Some(R::AddItem(c)) => add_item(x, c),
        Some(R::OpenDisaster(c)) => open_disaster(x, &signer, c),
        Some(R::CloseDisaster(c)) => close_disaster(x, &signer, c),
        Some(R::PostNeed(c)) => post_need(x, &signer, c),
        Some(R::CloseNeed(c)) => close_need(x, &signer, c),
        Some(R::Pledge(c)) => pledge(x, c),
        Some(R::PostOffer(c)) => post_offer(x, c),
        Some(R::Request(c)) => request(x, &signer, c),
        Some(R::Approve(c)) => approve(x, &signer, c),
        Some(R::Cancel(c)) => cancel(x, &signer, c),
        Some(R::Ship(c)) => ship(x, c),
        Some(R::Receive(c)) => receive(x, &signer, c),
        Some(R::ExpireOffer(c)) => expire_offer(x, c),
    }
}

fn register_shelter(x: &mut Exec<'_>, signer: &Account, c: &pb::RegisterShelter) -> Result<()> {
    check_ref("relief", "shelter_id", &c.shelter_id)?;
    check_text("relief", "name", &c.name, MAX_NAME_CHARS, true)?;
    check_text("relief", "area", &c.area, MAX_NAME_CHARS, true)?;
    let contact = c.contact.as_ref().ok_or_else(|| {
        invalid_argument(
            "relief.missing_contact",
            "contact (the vault reference from PersonalData.Put for the contact person, phone and e-mail) is required",
        )
    })?;
    check_ref("relief", "contact.vault_id", &contact.vault_id)?;
    if contact.commitment.len() != 32 {
        return Err(invalid_argument(
            "relief.invalid_commitment",
            "contact.commitment must be 32 bytes",
        ));
    }
    if shelter(&*x.state, &c.shelter_id)?.is_some() {
        return Err(already_exists(
            "relief.shelter_exists",
            "a shelter with this id already exists",
        ));
    }
    let s = pb::Shelter {
        shelter_id: c.shelter_id.clone(),
        municipality: signer.organization.clone(),
        name: c.name.clone(),
        area: c.area.clone(),
        contact: Some(contact.clone()),
    };
    put_pb(x.state, str_key(K_SHELTER, &s.shelter_id), &s);
    emit(x, pb::relief_event::Kind::ShelterRegistered(s));
    Ok(())
}

fn add_item(x: &mut Exec<'_>, c: &pb::AddCatalogueItem) -> Result<()> {
    check_ref("relief", "item_id", &c.item_id)?;
    check_ref("relief", "category", &c.category)?;
    check_text("relief", "name", &c.name, MAX_NAME_CHARS, true)?;
    check_text("relief", "unit", &c.unit, 60, true)?;
    if c.attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid_argument(
            "relief.too_many_attributes",
            format!("at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for a in &c.attributes {
        check_ref("relief", "attribute", a)?;
    }
    if item(&*x.state, &c.item_id)?.is_some() {
        return Err(already_exists(
            "relief.item_exists",
            "a catalogue item with this id already exists",
        ));
    }
    let i = pb::CatalogueItem {
        item_id: c.item_id.clone(),
        category: c.category.clone(),
        name: c.name.clone(),
        unit: c.unit.clone(),
        attributes: c.attributes.clone(),
    };
    put_pb(x.state, str_key(K_ITEM, &i.item_id), &i);
    emit(x, pb::relief_event::Kind::ItemAdded(i));
    Ok(())
}

fn open_disaster(x: &mut Exec<'_>, signer: &Account, c: &pb::OpenDisaster) -> Result<()> {
    check_ref("relief", "disaster_id", &c.disaster_id)?;
    check_text("relief", "name", &c.name, MAX_NAME_CHARS, true)?;
    if disaster(&*x.state, &c.disaster_id)?.is_some() {
        return Err(already_exists(
            "relief.disaster_exists",
            "a disaster with this id already exists",
        ));
    }
    let d = pb::Disaster {
        disaster_id: c.disaster_id.clone(),
        municipality: signer.organization.clone(),
        name: c.name.clone(),
        open: true,
        opened_at_ms: x.ctx.time_ms,
        closed_at_ms: 0,
    };
    put_pb(x.state, str_key(K_DISASTER, &d.disaster_id), &d);
    emit(x, pb::relief_event::Kind::DisasterChanged(d));
    Ok(())
}

fn close_disaster(x: &mut Exec<'_>, signer: &Account, c: &pb::CloseDisaster) -> Result<()> {
    let mut d = open_disaster_of(&*x.state, &c.disaster_id)?;
    require_municipality(signer, &d.municipality)?;
    d.open = false;
    d.closed_at_ms = x.ctx.time_ms;
    put_pb(x.state, str_key(K_DISASTER, &d.disaster_id), &d);
    emit(x, pb::relief_event::Kind::DisasterChanged(d));
    Ok(())
}

fn post_need(x: &mut Exec<'_>, signer: &Account, c: &pb::PostNeed) -> Result<()> {
    let d = open_disaster_of(&*x.state, &c.disaster_id)?;
    check_ref("relief", "shelter_id", &c.shelter_id)?;
    let s = req(
        shelter(&*x.state, &c.shelter_id)?,
        "relief.unknown_shelter",
        "shelter",
    )?;
    require_operator(signer, &s.shelter_id)?;
    check_ref("relief", "item_id", &c.item_id)?;
    let it = req(
        item(&*x.state, &c.item_id)?,
        "relief.unknown_item",
        "catalogue item",
    )?;
    check_quantity(c.quantity)?;
    check_text("relief", "details", &c.details, MAX_DETAILS_CHARS, false)?;
    if !matches!(
        pb::Priority::try_from(c.priority),
        Ok(pb::Priority::Low | pb::Priority::Medium | pb::Priority::High | pb::Priority::Critical)
    ) {
        return Err(invalid_argument(
            "relief.invalid_priority",
            "priority must be PRIORITY_LOW, _MEDIUM, _HIGH or _CRITICAL",
        ));
    }
    let mut n = pb::Need {
        need_id: next_id(x, "need")?,
        disaster_id: d.disaster_id.clone(),
        shelter_id: s.shelter_id.clone(),
        municipality: s.municipality.clone(),
        item_id: it.item_id.clone(),
        category: it.category.clone(),
        quantity: c.quantity,
        details: c.details.clone(),
        priority: c.priority,
        needed_by_ms: c.needed_by_ms,
        open: true,
        posted_at_ms: x.ctx.time_ms,
        ..Default::default()
    };
    set_fill(&mut n);
    update_totals(x, &n.disaster_id, &n.item_id, |t| {
        t.needed = crate::arith::add("relief", "needed", t.needed, n.quantity)?;
        Ok(())
    })?;
    save_need(x, n);
    Ok(())
}

fn save_need(x: &mut Exec<'_>, mut n: pb::Need) {
    set_fill(&mut n);
    put_pb(x.state, id_key(K_NEED, n.need_id), &n);
    emit(x, pb::relief_event::Kind::NeedChanged(n));
}

fn save_commitment(x: &mut Exec<'_>, c: pb::Commitment) {
    put_pb(x.state, id_key(K_COMMIT, c.commitment_id), &c);
    emit(x, pb::relief_event::Kind::CommitmentChanged(c));
}

fn save_offer(x: &mut Exec<'_>, o: pb::Offer) {
    put_pb(x.state, id_key(K_OFFER, o.offer_id), &o);
    emit(x, pb::relief_event::Kind::OfferChanged(o));
}

fn save_shipment(x: &mut Exec<'_>, s: pb::Shipment) {
    put_pb(x.state, id_key(K_SHIP, s.shipment_id), &s);
    emit(
        x,
        pb::relief_event::Kind::ShipmentChanged(pb::ShipmentChanged { shipment: Some(s) }),
    );
}

fn close_need(x: &mut Exec<'_>, signer: &Account, c: &pb::CloseNeed) -> Result<()> {
    let mut n = req(need(&*x.state, c.need_id)?, "relief.unknown_need", "need")?;
    require_operator(signer, &n.shelter_id)?;
    if !n.open {
        return Err(precondition(
            "relief.need_closed",
            "the need is already closed",
        ));
    }
    n.open = false;
    save_need(x, n);
    Ok(())
}

fn pledge(x: &mut Exec<'_>, c: &pb::Pledge) -> Result<()> {
    check_quantity(c.quantity)?;
    let mut n = req(need(&*x.state, c.need_id)?, "relief.unknown_need", "need")?;
    open_disaster_of(&*x.state, &n.disaster_id)?;
    if !n.open {
        return Err(precondition(
            "relief.need_closed",
            "the need is closed to pledges",
        ));
    }
    let remaining = crate::arith::sub("need remaining", n.quantity, n.committed)?;
    if c.quantity > remaining {
        return Err(precondition(
            "relief.exceeds_need",
            format!("only {remaining} of this need remain to be pledged"),
        ));
    }
    n.committed += c.quantity;
    let com = pb::Commitment {
        commitment_id: next_id(x, "commitment")?,
        need_id: n.need_id,
        offer_id: 0,
        shelter_id: n.shelter_id.clone(),
        donor: x.ctx.signer.to_vec(),
        item_id: n.item_id.clone(),
        quantity: c.quantity,
        status: pb::CommitmentStatus::CommitmentPending as i32,
        shipment_id: 0,
        cancel_reason: String::new(),
    };
    update_totals(x, &n.disaster_id, &n.item_id, |t| {
        t.committed = crate::arith::add("relief", "committed", t.committed, c.quantity)?;
        Ok(())
    })?;
    save_need(x, n);
    save_commitment(x, com);
    Ok(())
}

fn post_offer(x: &mut Exec<'_>, c: &pb::PostOffer) -> Result<()> {
    let d = open_disaster_of(&*x.state, &c.disaster_id)?;
    check_ref("relief", "item_id", &c.item_id)?;
    let it = req(
        item(&*x.state, &c.item_id)?,
        "relief.unknown_item",
        "catalogue item",
    )?;
    check_quantity(c.quantity)?;
    check_text("relief", "details", &c.details, MAX_DETAILS_CHARS, false)?;
    if c.available_until_ms <= x.ctx.time_ms {
        return Err(invalid_argument(
            "relief.invalid_availability",
            "available_until_ms must be after the block time",
        ));
    }
    let o = pb::Offer {
        offer_id: next_id(x, "offer")?,
        disaster_id: d.disaster_id,
        donor: x.ctx.signer.to_vec(),
        item_id: it.item_id,
        category: it.category,
        quantity: c.quantity,
        requested: 0,
        details: c.details.clone(),
        available_until_ms: c.available_until_ms,
        expired: false,
    };
    update_totals(x, &o.disaster_id, &o.item_id, |t| {
        t.offered = crate::arith::add("relief", "offered", t.offered, o.quantity)?;
        Ok(())
    })?;
    save_offer(x, o);
    Ok(())
}

fn request(x: &mut Exec<'_>, signer: &Account, c: &pb::RequestFromOffer) -> Result<()> {
    check_quantity(c.quantity)?;
    check_ref("relief", "shelter_id", &c.shelter_id)?;
    let s = req(
        shelter(&*x.state, &c.shelter_id)?,
        "relief.unknown_shelter",
        "shelter",
    )?;
    require_operator(signer, &s.shelter_id)?;
    let mut o = req(
        offer(&*x.state, c.offer_id)?,
        "relief.unknown_offer",
        "offer",
    )?;
    if o.expired || x.ctx.time_ms > o.available_until_ms {
        return Err(precondition(
            "relief.offer_expired",
            "the offer is no longer available",
        ));
    }
    let available = crate::arith::sub("offer available", o.quantity, o.requested)?;
    if c.quantity > available {
        return Err(precondition(
            "relief.exceeds_offer",
            format!("only {available} of this offer are still available"),
        ));
    }
    let idx_prefix = id_key(K_OFFER_REQ, o.offer_id);
    if x.state
        .scan(&idx_prefix, None, MAX_REQUESTS_PER_OFFER)?
        .len()
        >= MAX_REQUESTS_PER_OFFER
    {
        return Err(precondition(
            "relief.too_many_requests",
            format!("an offer can have at most {MAX_REQUESTS_PER_OFFER} requests"),
        ));
    }
    o.requested += c.quantity;
    let com = pb::Commitment {
        commitment_id: next_id(x, "commitment")?,
        need_id: 0,
        offer_id: o.offer_id,
        shelter_id: s.shelter_id,
        donor: o.donor.clone(),
        item_id: o.item_id.clone(),
        quantity: c.quantity,
        status: pb::CommitmentStatus::CommitmentPending as i32,
        shipment_id: 0,
        cancel_reason: String::new(),
    };
    x.state.put(
        [idx_prefix.as_slice(), &com.commitment_id.to_be_bytes()].concat(),
        Vec::new(),
    );
    update_totals(x, &o.disaster_id, &o.item_id, |t| {
        t.requested = crate::arith::add("relief", "requested", t.requested, c.quantity)?;
        Ok(())
    })?;
    save_offer(x, o);
    save_commitment(x, com);
    Ok(())
}

/// The disaster a commitment belongs to.
fn disaster_of(state: &dyn StateRead, com: &pb::Commitment) -> Result<String> {
    if com.need_id != 0 {
        Ok(req(need(state, com.need_id)?, "relief.unknown_need", "need")?.disaster_id)
    } else {
        Ok(req(offer(state, com.offer_id)?, "relief.unknown_offer", "offer")?.disaster_id)
    }
}

fn step(x: &Exec<'_>, status: pb::ShipmentStatus) -> pb::ShipmentStep {
    pb::ShipmentStep {
        status: status as i32,
        time_ms: x.ctx.time_ms,
        height: x.ctx.height,
        by: x.ctx.signer.to_vec(),
    }
}

fn approve(x: &mut Exec<'_>, signer: &Account, c: &pb::ApproveShipment) -> Result<()> {
    let mut com = req(
        commitment(&*x.state, c.commitment_id)?,
        "relief.unknown_commitment",
        "pledge or request",
    )?;
    require_operator(signer, &com.shelter_id)?;
    if com.status != pb::CommitmentStatus::CommitmentPending as i32 {
        return Err(precondition(
            "relief.not_pending",
            "the go-ahead can be given only once, to a pledge or request waiting for it",
        ));
    }
    if com.offer_id != 0 {
        let o = req(
            offer(&*x.state, com.offer_id)?,
            "relief.unknown_offer",
            "offer",
        )?;
        if o.expired || x.ctx.time_ms > o.available_until_ms {
            return Err(precondition(
                "relief.offer_expired",
                "the offer expired before the go-ahead",
            ));
        }
    }
    let disaster_id = disaster_of(&*x.state, &com)?;
    let s = pb::Shipment {
        shipment_id: next_id(x, "shipment")?,
        commitment_id: com.commitment_id,
        need_id: com.need_id,
        offer_id: com.offer_id,
        shelter_id: com.shelter_id.clone(),
        donor: com.donor.clone(),
        item_id: com.item_id.clone(),
        quantity: com.quantity,
        disaster_id,
        status: pb::ShipmentStatus::ShipmentCreated as i32,
        token_commitment: Vec::new(),
        trail: vec![step(x, pb::ShipmentStatus::ShipmentCreated)],
    };
    com.status = pb::CommitmentStatus::CommitmentApproved as i32;
    com.shipment_id = s.shipment_id;
    save_commitment(x, com);
    save_shipment(x, s);
    Ok(())
}

fn cancel(x: &mut Exec<'_>, signer: &Account, c: &pb::CancelCommitment) -> Result<()> {
    check_text("relief", "reason", &c.reason, MAX_DETAILS_CHARS, false)?;
    let com = req(
        commitment(&*x.state, c.commitment_id)?,
        "relief.unknown_commitment",
        "pledge or request",
    )?;
    let is_donor = com.donor.as_slice() == x.ctx.signer.as_slice();
    if !is_donor && !signer.has(RoleKind::ShelterOperator, &com.shelter_id) {
        return Err(permission_denied(
            "relief.not_party",
            "only the donor or an operator of the receiving shelter may cancel this",
        ));
    }
    cancel_commitment(x, com, &c.reason)
}

/// Cancel a PENDING or APPROVED-but-not-shipped commitment and return its quantity, once.
fn cancel_commitment(x: &mut Exec<'_>, mut com: pb::Commitment, reason: &str) -> Result<()> {
    let pending = com.status == pb::CommitmentStatus::CommitmentPending as i32;
    let approved = com.status == pb::CommitmentStatus::CommitmentApproved as i32;
    if approved {
        let mut s = req(
            shipment(&*x.state, com.shipment_id)?,
            "relief.unknown_shipment",
            "shipment",
        )?;
        if s.status != pb::ShipmentStatus::ShipmentCreated as i32 {
            return Err(precondition(
                "relief.already_shipped",
                "the goods were already shipped: it can no longer be cancelled",
            ));
        }
        s.status = pb::ShipmentStatus::ShipmentCancelled as i32;
        s.trail.push(step(x, pb::ShipmentStatus::ShipmentCancelled));
        save_shipment(x, s);
    } else if !pending {
        return Err(precondition(
            "relief.already_cancelled",
            "it was already cancelled",
        ));
    }
    let q = com.quantity;
    if com.need_id != 0 {
        let mut n = req(need(&*x.state, com.need_id)?, "relief.unknown_need", "need")?;
        n.committed = crate::arith::sub("need committed", n.committed, q)?;
        update_totals(x, &n.disaster_id, &n.item_id, |t| {
            t.committed = crate::arith::sub("totals committed", t.committed, q)?;
            Ok(())
        })?;
        save_need(x, n);
    } else {
        let mut o = req(
            offer(&*x.state, com.offer_id)?,
            "relief.unknown_offer",
            "offer",
        )?;
        o.requested = crate::arith::sub("offer requested", o.requested, q)?;
        update_totals(x, &o.disaster_id, &o.item_id, |t| {
            t.requested = crate::arith::sub("totals requested", t.requested, q)?;
            Ok(())
        })?;
        save_offer(x, o);
    }
    com.status = pb::CommitmentStatus::CommitmentCancelled as i32;
    com.cancel_reason = reason.to_string();
    save_commitment(x, com);
    Ok(())
}

fn ship(x: &mut Exec<'_>, c: &pb::MarkShipped) -> Result<()> {
    let mut s = req(
        shipment(&*x.state, c.shipment_id)?,
        "relief.unknown_shipment",
        "shipment",
    )?;
    if s.donor.as_slice() != x.ctx.signer.as_slice() {
        return Err(permission_denied(
            "relief.not_donor",
            "only the donor of this shipment may mark it shipped",
        ));
    }
    if s.status != pb::ShipmentStatus::ShipmentCreated as i32 {
        return Err(precondition(
            "relief.not_shippable",
            "only a shipment that is created and not yet shipped or cancelled can be marked shipped",
        ));
    }
    if c.token_commitment.len() != 32 {
        return Err(invalid_argument(
            "relief.invalid_token_commitment",
            "token_commitment must be 32 bytes (from Relief.NewShipmentLabel)",
        ));
    }
    let q = s.quantity;
    if s.need_id != 0 {
        let mut n = req(need(&*x.state, s.need_id)?, "relief.unknown_need", "need")?;
        n.in_transit = n
            .in_transit
            .checked_add(q)
            .ok_or_else(|| overflow("in transit"))?;
        save_need(x, n);
    }
    update_totals(x, &s.disaster_id, &s.item_id, |t| {
        t.in_transit = crate::arith::add("relief", "in_transit", t.in_transit, q)?;
        Ok(())
    })?;
    s.status = pb::ShipmentStatus::ShipmentShipped as i32;
    s.token_commitment = c.token_commitment.clone();
    s.trail.push(step(x, pb::ShipmentStatus::ShipmentShipped));
    save_shipment(x, s);
    Ok(())
}

fn overflow(what: &str) -> ContractError {
    ContractError::Failed(Failed(format!("relief counter {what} overflowed")))
}

fn receive(x: &mut Exec<'_>, signer: &Account, c: &pb::ReceiveShipment) -> Result<()> {
    let mut s = req(
        shipment(&*x.state, c.shipment_id)?,
        "relief.unknown_shipment",
        "shipment",
    )?;
    require_operator(signer, &s.shelter_id)?;
    if s.status == pb::ShipmentStatus::ShipmentReceived as i32 {
        return Err(precondition(
            "relief.already_received",
            "the shipment was already received",
        ));
    }
    if s.status != pb::ShipmentStatus::ShipmentShipped as i32 {
        return Err(precondition(
            "relief.not_shipped",
            "the shipment has not been marked shipped",
        ));
    }
    let commitment: [u8; 32] = s
        .token_commitment
        .as_slice()
        .try_into()
        .map_err(|_| overflow("token commitment"))?;
    if !verify_token(&c.token, s.shipment_id, &commitment) {
        return Err(permission_denied(
            "relief.token_mismatch",
            "the scanned token does not belong to this shipment: check the label",
        ));
    }
    let q = s.quantity;
    if s.need_id != 0 {
        let mut n = req(need(&*x.state, s.need_id)?, "relief.unknown_need", "need")?;
        n.in_transit = crate::arith::sub("need in transit", n.in_transit, q)?;
        n.fulfilled = n
            .fulfilled
            .checked_add(q)
            .ok_or_else(|| overflow("fulfilled"))?;
        save_need(x, n);
    }
    update_totals(x, &s.disaster_id, &s.item_id, |t| {
        t.in_transit = crate::arith::sub("totals in transit", t.in_transit, q)?;
        t.received = crate::arith::add("relief", "received", t.received, q)?;
        Ok(())
    })?;
    x.state.put(
        [
            K_ARRIVAL,
            s.shelter_id.as_bytes(),
            b"\0",
            &x.ctx.height.to_be_bytes(),
            &s.shipment_id.to_be_bytes(),
        ]
        .concat(),
        Vec::new(),
    );
    s.status = pb::ShipmentStatus::ShipmentReceived as i32;
    s.trail.push(step(x, pb::ShipmentStatus::ShipmentReceived));
    save_shipment(x, s);
    Ok(())
}

fn expire_offer(x: &mut Exec<'_>, c: &pb::ExpireOffer) -> Result<()> {
    let mut o = req(
        offer(&*x.state, c.offer_id)?,
        "relief.unknown_offer",
        "offer",
    )?;
    if o.expired {
        return Err(precondition(
            "relief.already_expired",
            "the offer has already expired",
        ));
    }
    if x.ctx.time_ms <= o.available_until_ms {
        return Err(precondition(
            "relief.not_yet_expired",
            "the offer is still available",
        ));
    }
    o.expired = true;
    let id = o.offer_id;
    save_offer(x, o);
    let prefix = id_key(K_OFFER_REQ, id);
    for (k, _) in x.state.scan(&prefix, None, MAX_REQUESTS_PER_OFFER)? {
        let Some(cid) = k
            .get(prefix.len()..)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
        else {
            continue;
        };
        if let Some(com) = commitment(&*x.state, cid)? {
            if com.status == pb::CommitmentStatus::CommitmentPending as i32 {
                cancel_commitment(x, com, "the offer expired before the go-ahead")?;
            }
        }
    }
    Ok(())
}

// ---- queries -------------------------------------------------------------------------------

/// A page of the records under `prefix` that `keep` accepts (`page::Page::scan`).
fn page_scan<T>(
    state: &dyn StateRead,
    prefix: &[u8],
    page: Option<&pb::PageRequest>,
    keep: impl FnMut(&[u8], &[u8]) -> Result<Option<T>>,
) -> Result<(Vec<T>, String)> {
    Page::of(page, prefix)?.scan(state, prefix, keep)
}

fn decode<T: Message + Default>(v: &[u8]) -> Result<T> {
    T::decode(v).map_err(|e| {
        ContractError::Failed(Failed(format!(
            "a stored relief record does not decode: {e}"
        )))
    })
}

/// Search needs.
pub fn list_needs(
    state: &dyn StateRead,
    r: &pb::ListNeedsRequest,
) -> Result<pb::ListNeedsResponse> {
    if pb::Priority::try_from(r.min_priority).is_err()
        || pb::FillStatus::try_from(r.fulfilled_status).is_err()
    {
        return Err(invalid_argument(
            "relief.bad_filter",
            "min_priority or fulfilled_status is not a known value",
        ));
    }
    let (needs, next_page_token) = page_scan(state, K_NEED, r.page.as_ref(), |_, v| {
        let n: pb::Need = decode(v)?;
        let ok = (r.disaster_id.is_empty() || n.disaster_id == r.disaster_id)
            && (r.shelter_id.is_empty() || n.shelter_id == r.shelter_id)
            && (r.municipality.is_empty() || n.municipality == r.municipality)
            && (r.item_id.is_empty() || n.item_id == r.item_id)
            && (r.category.is_empty() || n.category == r.category)
            && n.priority >= r.min_priority
            && (r.fulfilled_status == 0 || n.fulfilled_status == r.fulfilled_status)
            && (!r.open_only || (n.open && n.committed < n.quantity));
        Ok(ok.then_some(n))
    })?;
    Ok(pb::ListNeedsResponse {
        needs,
        next_page_token,
    })
}

/// Search offers at block time `now_ms`.
pub fn list_offers(
    state: &dyn StateRead,
    r: &pb::ListOffersRequest,
    now_ms: u64,
) -> Result<pb::ListOffersResponse> {
    if !r.donor.is_empty() && r.donor.len() != 32 {
        return Err(invalid_argument(
            "relief.bad_filter",
            "donor must be a 32-byte account key",
        ));
    }
    let (offers, next_page_token) = page_scan(state, K_OFFER, r.page.as_ref(), |_, v| {
        let o: pb::Offer = decode(v)?;
        let ok = (r.disaster_id.is_empty() || o.disaster_id == r.disaster_id)
            && (r.item_id.is_empty() || o.item_id == r.item_id)
            && (r.category.is_empty() || o.category == r.category)
            && (r.donor.is_empty() || o.donor == r.donor)
            && (!r.available_only
                || (!o.expired && o.available_until_ms >= now_ms && o.requested < o.quantity));
        Ok(ok.then_some(o))
    })?;
    Ok(pb::ListOffersResponse {
        offers,
        next_page_token,
    })
}

/// Shipments a shelter received, in order of receipt.
pub fn list_arrivals(
    state: &dyn StateRead,
    r: &pb::ListArrivalsRequest,
) -> Result<pb::ListArrivalsResponse> {
    check_ref("relief", "shelter_id", &r.shelter_id)?;
    let prefix = [K_ARRIVAL, r.shelter_id.as_bytes(), b"\0"].concat();
    let (shipments, next_page_token) = page_scan(state, &prefix, r.page.as_ref(), |k, _| {
        let id = k
            .get(prefix.len() + 8..)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        shipment(state, id)
    })?;
    Ok(pb::ListArrivalsResponse {
        shipments,
        next_page_token,
    })
}

/// Every (item) total of a disaster.
pub fn disaster_totals(state: &dyn StateRead, disaster_id: &str) -> Result<Vec<pb::ItemTotals>> {
    let prefix = [K_TOTAL, disaster_id.as_bytes(), b"\0"].concat();
    let rows: Vec<(Vec<u8>, Totals)> = scan_borsh(state, &prefix, None, 100_000)?;
    let mut out = Vec::new();
    for (k, t) in rows {
        let item_id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
        let category = item(state, &item_id)?
            .map(|i| i.category)
            .unwrap_or_default();
        out.push(pb::ItemTotals {
            item_id,
            category,
            needed: t.needed,
            committed: t.committed,
            in_transit: t.in_transit,
            received: t.received,
            offered: t.offered,
            requested: t.requested,
        });
    }
    Ok(out)
}

/// The whole catalogue.
pub fn catalogue(state: &dyn StateRead) -> Result<Vec<pb::CatalogueItem>> {
    state
        .scan(K_ITEM, None, 100_000)?
        .into_iter()
        .map(|(_, v)| decode(&v))
        .collect()
}
