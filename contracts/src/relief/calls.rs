//! One function per relief call. Each checks the signer's right and the arguments, then writes
//! records and emits the events that show the change; a failure returns before any write.

use super::keys::*;
use super::records::{self, commitment, disaster, fill, item, need, offer, shelter, shipment};
use super::{
    is_overdue, verify_token, Totals, MAX_ATTRIBUTES, MAX_DETAILS_CHARS, MAX_NAME_CHARS,
    MAX_OPEN_PER_DONOR, MAX_QUANTITY, MAX_REQUESTS_PER_OFFER,
};
use crate::error::{
    already_exists, invalid_argument, not_found, permission_denied, precondition, Result,
};
use crate::governance::{Account, RoleKind};
use crate::state::{get_borsh, put_borsh};
use crate::text::{check_ref, check_text};
use crate::{pb, ContractError, Exec, Failed, StateRead};

fn next_id(x: &mut Exec<'_>, kind: &str) -> Result<u64> {
    let k = str_key(K_CTR, kind);
    let n: u64 = get_borsh(&*x.state, &k)?.unwrap_or(0) + 1;
    put_borsh(x.state, k, &n);
    Ok(n)
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

pub(super) fn req<T>(v: Option<T>, code: &str, what: &str) -> Result<T> {
    v.ok_or_else(|| not_found(code, format!("no {what} has this id")))
}

/// The signer must operate the shelter: `ROLE_SHELTER_OPERATOR` scoped to it, granted by the
/// shelter's own municipality (a role another organization granted naming this shelter is no
/// right at all).
pub(super) fn require_operator(
    state: &dyn StateRead,
    signer: &Account,
    shelter_id: &str,
) -> Result<()> {
    let owner = shelter(state, shelter_id)?.map(|s| s.municipality);
    if signer.has(RoleKind::ShelterOperator, shelter_id)
        && owner.as_deref() == Some(signer.organization.as_str())
    {
        return Ok(());
    }
    Err(permission_denied(
        "relief.not_shelter_operator",
        format!("only an operator of shelter {shelter_id} (ROLE_SHELTER_OPERATOR scoped to it) may do this"),
    ))
}

/// The shelter a shelter operator's call acts for, as committed state knows it (`None` if the
/// object it names does not exist yet or the call is not a shelter operator's).
pub(super) fn shelter_of_call(
    state: &dyn StateRead,
    call: &pb::ReliefCall,
) -> Result<Option<String>> {
    use pb::relief_call::Call as R;
    Ok(match call.call.as_ref() {
        Some(R::PostNeed(c)) => Some(c.shelter_id.clone()),
        Some(R::Request(c)) => Some(c.shelter_id.clone()),
        Some(R::CloseNeed(c)) => need(state, c.need_id)?.map(|n| n.shelter_id),
        Some(R::ChangeNeedQuantity(c)) => need(state, c.need_id)?.map(|n| n.shelter_id),
        Some(R::Approve(c)) => commitment(state, c.commitment_id)?.map(|c| c.shelter_id),
        Some(R::Receive(c)) => shipment(state, c.shipment_id)?.map(|s| s.shelter_id),
        Some(R::DeclareLost(c)) => shipment(state, c.shipment_id)?.map(|s| s.shelter_id),
        _ => None,
    })
}

pub(super) fn require_municipality(signer: &Account, municipality: &str) -> Result<()> {
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

pub(super) fn register_shelter(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::RegisterShelter,
) -> Result<()> {
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
        closed_at_ms: 0,
    };
    records::put_shelter(x.state, &s)?;
    emit(x, pb::relief_event::Kind::ShelterRegistered(s));
    Ok(())
}

/// The fields of a catalogue item a municipality writes, checked.
fn check_item_fields(category: &str, name: &str, unit: &str, attributes: &[String]) -> Result<()> {
    check_ref("relief", "category", category)?;
    check_text("relief", "name", name, MAX_NAME_CHARS, true)?;
    check_text("relief", "unit", unit, 60, true)?;
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(invalid_argument(
            "relief.too_many_attributes",
            format!("at most {MAX_ATTRIBUTES} attributes"),
        ));
    }
    for a in attributes {
        check_ref("relief", "attribute", a)?;
    }
    Ok(())
}

pub(super) fn add_item(x: &mut Exec<'_>, signer: &Account, c: &pb::AddCatalogueItem) -> Result<()> {
    check_ref("relief", "item_id", &c.item_id)?;
    check_item_fields(&c.category, &c.name, &c.unit, &c.attributes)?;
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
        organization: signer.organization.clone(),
        updated_at_height: 0,
        retired_at_height: 0,
    };
    records::put_item(x.state, &i)?;
    emit(x, pb::relief_event::Kind::ItemChanged(i));
    Ok(())
}

/// The signer's municipality must own catalogue item `i` (the basic items are nobody's).
pub(super) fn require_item_owner(signer: &Account, i: &pb::CatalogueItem) -> Result<()> {
    if i.organization.is_empty() {
        return Err(permission_denied(
            "relief.consortium_item",
            format!("catalogue item {} is one of the consortium's basic items, which are never changed; add an item of your own instead", i.item_id),
        ));
    }
    if i.organization != signer.organization {
        return Err(permission_denied(
            "relief.not_owner",
            format!(
                "catalogue item {} belongs to {}; only its municipality changes it",
                i.item_id, i.organization
            ),
        ));
    }
    Ok(())
}

/// The catalogue item `id`, if the signer's municipality owns it and it is in use.
fn own_item(x: &Exec<'_>, signer: &Account, id: &str) -> Result<pb::CatalogueItem> {
    check_ref("relief", "item_id", id)?;
    let i = req(
        item(&*x.state, id)?,
        "relief.unknown_item",
        "catalogue item",
    )?;
    require_item_owner(signer, &i)?;
    if i.retired_at_height != 0 {
        return Err(precondition(
            "relief.item_retired",
            format!(
                "catalogue item {id} was retired at height {}",
                i.retired_at_height
            ),
        ));
    }
    Ok(i)
}

pub(super) fn update_item(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::UpdateCatalogueItem,
) -> Result<()> {
    let mut i = own_item(x, signer, &c.item_id)?;
    check_item_fields(&c.category, &c.name, &c.unit, &c.attributes)?;
    i.category = c.category.clone();
    i.name = c.name.clone();
    i.unit = c.unit.clone();
    i.attributes = c.attributes.clone();
    i.updated_at_height = x.ctx.height;
    records::put_item(x.state, &i)?;
    emit(x, pb::relief_event::Kind::ItemChanged(i));
    Ok(())
}

pub(super) fn retire_item(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::RetireCatalogueItem,
) -> Result<()> {
    let mut i = own_item(x, signer, &c.item_id)?;
    i.retired_at_height = x.ctx.height;
    records::put_item(x.state, &i)?;
    emit(x, pb::relief_event::Kind::ItemChanged(i));
    Ok(())
}

/// The catalogue item a new need or offer names: it must exist and be in use.
fn item_in_use(state: &dyn StateRead, id: &str) -> Result<pb::CatalogueItem> {
    check_ref("relief", "item_id", id)?;
    let i = req(item(state, id)?, "relief.unknown_item", "catalogue item")?;
    if i.retired_at_height != 0 {
        return Err(precondition(
            "relief.item_retired",
            format!(
                "catalogue item {id} was retired at height {}; choose another item",
                i.retired_at_height
            ),
        ));
    }
    Ok(i)
}

pub(super) fn open_disaster(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::OpenDisaster,
) -> Result<()> {
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
    records::put_disaster(x.state, &d)?;
    emit(x, pb::relief_event::Kind::DisasterChanged(d));
    Ok(())
}

pub(super) fn close_disaster(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::CloseDisaster,
) -> Result<()> {
    let mut d = open_disaster_of(&*x.state, &c.disaster_id)?;
    require_municipality(signer, &d.municipality)?;
    d.open = false;
    d.closed_at_ms = x.ctx.time_ms;
    records::put_disaster(x.state, &d)?;
    emit(x, pb::relief_event::Kind::DisasterChanged(d));
    Ok(())
}

pub(super) fn post_need(x: &mut Exec<'_>, signer: &Account, c: &pb::PostNeed) -> Result<()> {
    let d = open_disaster_of(&*x.state, &c.disaster_id)?;
    check_ref("relief", "shelter_id", &c.shelter_id)?;
    let s = req(
        shelter(&*x.state, &c.shelter_id)?,
        "relief.unknown_shelter",
        "shelter",
    )?;
    require_operator(&*x.state, signer, &s.shelter_id)?;
    if s.closed_at_ms != 0 {
        return Err(precondition(
            "relief.shelter_closed",
            "the shelter is closed: it takes no new needs or requests",
        ));
    }
    let it = item_in_use(&*x.state, &c.item_id)?;
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
    let n = pb::Need {
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
    update_totals(x, &n.disaster_id, &n.item_id, |t| {
        t.needed = crate::arith::add("relief", "needed", t.needed, n.quantity)?;
        Ok(())
    })?;
    save_need(x, n)?;
    Ok(())
}

fn save_need(x: &mut Exec<'_>, mut n: pb::Need) -> Result<()> {
    n.committed_status = fill(n.committed, n.quantity) as i32;
    n.in_transit_status = fill(n.in_transit, n.quantity) as i32;
    n.fulfilled_status = fill(n.fulfilled, n.quantity) as i32;
    records::put_need(x.state, &n)?;
    emit(x, pb::relief_event::Kind::NeedChanged(n));
    Ok(())
}

fn save_commitment(x: &mut Exec<'_>, c: pb::Commitment) -> Result<()> {
    records::put_commitment(x.state, &c)?;
    emit(x, pb::relief_event::Kind::CommitmentChanged(c));
    Ok(())
}

fn save_offer(x: &mut Exec<'_>, o: pb::Offer) -> Result<()> {
    records::put_offer(x.state, &o)?;
    emit(x, pb::relief_event::Kind::OfferChanged(o));
    Ok(())
}

fn save_shipment(x: &mut Exec<'_>, s: pb::Shipment) -> Result<()> {
    records::put_shipment(x.state, &s)?;
    emit(
        x,
        pb::relief_event::Kind::ShipmentChanged(pb::ShipmentChanged { shipment: Some(s) }),
    );
    Ok(())
}

pub(super) fn close_need(x: &mut Exec<'_>, signer: &Account, c: &pb::CloseNeed) -> Result<()> {
    let mut n = req(need(&*x.state, c.need_id)?, "relief.unknown_need", "need")?;
    require_operator(&*x.state, signer, &n.shelter_id)?;
    if !n.open {
        return Err(precondition(
            "relief.need_closed",
            "the need is already closed",
        ));
    }
    n.open = false;
    save_need(x, n)?;
    Ok(())
}

pub(super) fn change_need_quantity(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::ChangeNeedQuantity,
) -> Result<()> {
    let mut n = req(need(&*x.state, c.need_id)?, "relief.unknown_need", "need")?;
    require_operator(&*x.state, signer, &n.shelter_id)?;
    if !n.open {
        return Err(precondition(
            "relief.need_closed",
            "the need is closed; post a new one",
        ));
    }
    check_quantity(c.quantity)?;
    if c.quantity < n.committed {
        return Err(precondition(
            "relief.below_committed",
            format!(
                "{} of this need are already pledged; the quantity cannot go below that (cancel pledges first)",
                n.committed
            ),
        ));
    }
    let old = n.quantity;
    n.quantity = c.quantity;
    update_totals(x, &n.disaster_id, &n.item_id, |t| {
        let without = crate::arith::sub("needed", t.needed, old)?;
        t.needed = crate::arith::add("relief", "needed", without, c.quantity)?;
        Ok(())
    })?;
    save_need(x, n)?;
    Ok(())
}

pub(super) fn pledge(x: &mut Exec<'_>, c: &pb::Pledge) -> Result<()> {
    check_quantity(c.quantity)?;
    let mut n = req(need(&*x.state, c.need_id)?, "relief.unknown_need", "need")?;
    open_disaster_of(&*x.state, &n.disaster_id)?;
    if !n.open {
        return Err(precondition(
            "relief.need_closed",
            "the need is closed to pledges",
        ));
    }
    if is_overdue(&n, x.ctx.time_ms) {
        return Err(precondition(
            "relief.need_overdue",
            "the need's needed-by time has passed: it takes no more pledges (the shelter can post a new need)",
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
    let donor = x.ctx.signer;
    donor_open(x, &donor, true)?;
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
    save_need(x, n)?;
    save_commitment(x, com)?;
    Ok(())
}

pub(super) fn post_offer(x: &mut Exec<'_>, c: &pb::PostOffer) -> Result<()> {
    let d = open_disaster_of(&*x.state, &c.disaster_id)?;
    let it = item_in_use(&*x.state, &c.item_id)?;
    check_quantity(c.quantity)?;
    check_text("relief", "details", &c.details, MAX_DETAILS_CHARS, false)?;
    if c.available_until_ms <= x.ctx.time_ms {
        return Err(invalid_argument(
            "relief.invalid_availability",
            "available_until_ms must be after the block time",
        ));
    }
    let donor = x.ctx.signer;
    donor_open(x, &donor, true)?;
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
        withdrawn: false,
    };
    update_totals(x, &o.disaster_id, &o.item_id, |t| {
        t.offered = crate::arith::add("relief", "offered", t.offered, o.quantity)?;
        Ok(())
    })?;
    save_offer(x, o)?;
    Ok(())
}

pub(super) fn request(x: &mut Exec<'_>, signer: &Account, c: &pb::RequestFromOffer) -> Result<()> {
    check_quantity(c.quantity)?;
    check_ref("relief", "shelter_id", &c.shelter_id)?;
    let s = req(
        shelter(&*x.state, &c.shelter_id)?,
        "relief.unknown_shelter",
        "shelter",
    )?;
    require_operator(&*x.state, signer, &s.shelter_id)?;
    if s.closed_at_ms != 0 {
        return Err(precondition(
            "relief.shelter_closed",
            "the shelter is closed: it takes no new needs or requests",
        ));
    }
    let mut o = req(
        offer(&*x.state, c.offer_id)?,
        "relief.unknown_offer",
        "offer",
    )?;
    if o.expired || o.withdrawn || x.ctx.time_ms > o.available_until_ms {
        return Err(precondition(
            "relief.offer_expired",
            "the offer is no longer available (expired or withdrawn)",
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
    save_offer(x, o)?;
    save_commitment(x, com)?;
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

pub(super) fn approve(x: &mut Exec<'_>, signer: &Account, c: &pb::ApproveShipment) -> Result<()> {
    let mut com = req(
        commitment(&*x.state, c.commitment_id)?,
        "relief.unknown_commitment",
        "pledge or request",
    )?;
    require_operator(&*x.state, signer, &com.shelter_id)?;
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
        ..Default::default()
    };
    com.status = pb::CommitmentStatus::CommitmentApproved as i32;
    com.shipment_id = s.shipment_id;
    save_commitment(x, com)?;
    save_shipment(x, s)?;
    Ok(())
}

pub(super) fn cancel(x: &mut Exec<'_>, signer: &Account, c: &pb::CancelCommitment) -> Result<()> {
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
        save_shipment(x, s)?;
    } else if !pending {
        return Err(precondition(
            "relief.already_cancelled",
            "it was already cancelled",
        ));
    }
    let q = com.quantity;
    if com.need_id != 0 {
        donor_open(x, &com.donor, false)?;
        let mut n = req(need(&*x.state, com.need_id)?, "relief.unknown_need", "need")?;
        n.committed = crate::arith::sub("need committed", n.committed, q)?;
        update_totals(x, &n.disaster_id, &n.item_id, |t| {
            t.committed = crate::arith::sub("totals committed", t.committed, q)?;
            Ok(())
        })?;
        save_need(x, n)?;
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
        save_offer(x, o)?;
    }
    com.status = pb::CommitmentStatus::CommitmentCancelled as i32;
    com.cancel_reason = reason.to_string();
    save_commitment(x, com)?;
    Ok(())
}

pub(super) fn ship(x: &mut Exec<'_>, c: &pb::MarkShipped) -> Result<()> {
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
        save_need(x, n)?;
    }
    update_totals(x, &s.disaster_id, &s.item_id, |t| {
        t.in_transit = crate::arith::add("relief", "in_transit", t.in_transit, q)?;
        Ok(())
    })?;
    s.status = pb::ShipmentStatus::ShipmentShipped as i32;
    s.token_commitment = c.token_commitment.clone();
    s.trail.push(step(x, pb::ShipmentStatus::ShipmentShipped));
    save_shipment(x, s)?;
    Ok(())
}

/// Change a self-registered donor's count of open pledges and offers by one (up or down),
/// refusing to go above `MAX_OPEN_PER_DONOR`.
fn donor_open(x: &mut Exec<'_>, donor: &[u8], up: bool) -> Result<()> {
    // Only donors that belong to no organization (self-registered) are bounded: a member
    // organization answers for its own accounts. An account's organization never changes, so
    // the count goes up and down for the same donors.
    let Ok(key) = <[u8; 32]>::try_from(donor) else {
        return Ok(());
    };
    let self_registered =
        crate::governance::account(&*x.state, &key)?.is_some_and(|a| a.organization.is_empty());
    if !self_registered {
        return Ok(());
    }
    let k = [K_DONOR_OPEN, donor].concat();
    let n: u64 = get_borsh(&*x.state, &k)?.unwrap_or(0);
    let n = if up {
        if n >= MAX_OPEN_PER_DONOR {
            return Err(precondition(
                "relief.donor_limit",
                format!("a donor can have at most {MAX_OPEN_PER_DONOR} open pledges and offers; wait until some are received, cancelled or expired"),
            ));
        }
        n + 1
    } else {
        crate::arith::sub("donor open count", n, 1)?
    };
    put_borsh(x.state, k, &n);
    Ok(())
}

/// An index key of the wrong shape: damaged state, never the caller's fault.
pub(super) fn bad_index(key: &[u8]) -> ContractError {
    ContractError::Failed(Failed(format!(
        "relief index key {} is not of the form prefix + id",
        crate::state::printable_key(key)
    )))
}

fn overflow(what: &str) -> ContractError {
    ContractError::Failed(Failed(format!("relief counter {what} overflowed")))
}

pub(super) fn receive(x: &mut Exec<'_>, signer: &Account, c: &pb::ReceiveShipment) -> Result<()> {
    let mut s = req(
        shipment(&*x.state, c.shipment_id)?,
        "relief.unknown_shipment",
        "shipment",
    )?;
    require_operator(&*x.state, signer, &s.shelter_id)?;
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
    let received = if c.received_quantity == 0 {
        q
    } else {
        c.received_quantity
    };
    if received > q {
        return Err(invalid_argument(
            "relief.received_above_shipped",
            format!("received_quantity is {received}, but the shipment carries {q}"),
        ));
    }
    if c.damaged_quantity > received {
        return Err(invalid_argument(
            "relief.damaged_above_received",
            format!(
                "damaged_quantity is {}, but only {received} arrived",
                c.damaged_quantity
            ),
        ));
    }
    let good = received - c.damaged_quantity;
    let missing = q - good;
    check_text("relief", "note", &c.note, MAX_DETAILS_CHARS, missing > 0)?;
    let write_off = match pb::RemainderHandling::try_from(c.remainder) {
        Ok(pb::RemainderHandling::Unspecified | pb::RemainderHandling::RemainderReturn) => false,
        Ok(pb::RemainderHandling::RemainderWriteOff) => true,
        Err(_) => {
            return Err(invalid_argument(
                "relief.invalid_remainder",
                "remainder is not a known RemainderHandling",
            ))
        }
    };
    let (returned, written_off) = if write_off {
        (0, missing)
    } else {
        (missing, 0)
    };
    if s.need_id != 0 {
        settle_need(x, &s, good, returned, written_off)?;
    }
    update_totals(x, &s.disaster_id, &s.item_id, |t| {
        t.in_transit = crate::arith::sub("totals in transit", t.in_transit, q)?;
        t.received = crate::arith::add("relief", "received", t.received, good)?;
        t.short = crate::arith::add("relief", "short", t.short, q - received)?;
        t.damaged = crate::arith::add("relief", "damaged", t.damaged, c.damaged_quantity)?;
        Ok(())
    })?;
    x.state.put(
        arrival_key(&s.shelter_id, x.ctx.height, s.shipment_id),
        Vec::new(),
    );
    s.status = pb::ShipmentStatus::ShipmentReceived as i32;
    s.received_quantity = received;
    s.damaged_quantity = c.damaged_quantity;
    if s.need_id != 0 {
        s.returned_quantity = returned;
        s.written_off_quantity = written_off;
    }
    s.note = c.note.clone();
    s.trail.push(step(x, pb::ShipmentStatus::ShipmentReceived));
    save_shipment(x, s)?;
    Ok(())
}

/// A finished shipment of a need (received or lost) leaves `in_transit`: `good` units are
/// fulfilled, `returned` go back to be pledged again and `written_off` shrink the need; the
/// last two leave `committed` once.
fn settle_need(
    x: &mut Exec<'_>,
    s: &pb::Shipment,
    good: u64,
    returned: u64,
    written_off: u64,
) -> Result<()> {
    donor_open(x, &s.donor, false)?;
    let mut n = req(need(&*x.state, s.need_id)?, "relief.unknown_need", "need")?;
    let gone = returned + written_off;
    n.in_transit = crate::arith::sub("need in transit", n.in_transit, s.quantity)?;
    n.fulfilled = n
        .fulfilled
        .checked_add(good)
        .ok_or_else(|| overflow("fulfilled"))?;
    n.committed = crate::arith::sub("need committed", n.committed, gone)?;
    n.quantity = crate::arith::sub("need quantity", n.quantity, written_off)?;
    n.returned = crate::arith::add("relief", "returned", n.returned, returned)?;
    n.written_off = crate::arith::add("relief", "written_off", n.written_off, written_off)?;
    update_totals(x, &n.disaster_id, &n.item_id, |t| {
        t.committed = crate::arith::sub("totals committed", t.committed, gone)?;
        t.needed = crate::arith::sub("totals needed", t.needed, written_off)?;
        Ok(())
    })?;
    save_need(x, n)
}

/// Default of `relief.lost_after_hours`: how long a shipment is in transit before its receiver
/// may declare it lost.
pub const DEFAULT_LOST_AFTER_HOURS: u64 = 72;

pub(super) fn declare_lost(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::DeclareShipmentLost,
) -> Result<()> {
    check_text("relief", "reason", &c.reason, MAX_DETAILS_CHARS, true)?;
    let mut s = req(
        shipment(&*x.state, c.shipment_id)?,
        "relief.unknown_shipment",
        "shipment",
    )?;
    require_operator(&*x.state, signer, &s.shelter_id)?;
    if s.status != pb::ShipmentStatus::ShipmentShipped as i32 {
        return Err(precondition(
            "relief.not_in_transit",
            "only a shipment that is shipped and not yet received can be declared lost",
        ));
    }
    let shipped_at = super::shipped_at(&s).unwrap_or(0);
    let municipality = shelter(&*x.state, &s.shelter_id)?
        .map(|sh| sh.municipality)
        .unwrap_or_default();
    let hours = crate::governance::org_parameter_at(
        &*x.state,
        &municipality,
        "relief.lost_after_hours",
        x.ctx.height,
    )?
    .and_then(|v| u64::try_from(v).ok())
    .unwrap_or(DEFAULT_LOST_AFTER_HOURS);
    let due = shipped_at.saturating_add(hours.saturating_mul(3_600_000));
    if x.ctx.time_ms < due {
        return Err(precondition(
            "relief.not_overdue",
            format!("a shipment can be declared lost {hours} hours after it was shipped (relief.lost_after_hours of {municipality}); wait, or receive it if it arrives"),
        ));
    }
    let q = s.quantity;
    if s.need_id != 0 {
        // Nothing arrived: all of it goes back to the need.
        settle_need(x, &s, 0, q, 0)?;
        s.returned_quantity = q;
    }
    update_totals(x, &s.disaster_id, &s.item_id, |t| {
        t.in_transit = crate::arith::sub("totals in transit", t.in_transit, q)?;
        t.lost = crate::arith::add("relief", "lost", t.lost, q)?;
        Ok(())
    })?;
    s.status = pb::ShipmentStatus::ShipmentLost as i32;
    s.note = c.reason.clone();
    s.trail.push(step(x, pb::ShipmentStatus::ShipmentLost));
    save_shipment(x, s)?;
    Ok(())
}

pub(super) fn withdraw_offer(x: &mut Exec<'_>, c: &pb::WithdrawOffer) -> Result<()> {
    check_text("relief", "reason", &c.reason, MAX_DETAILS_CHARS, false)?;
    let mut o = req(
        offer(&*x.state, c.offer_id)?,
        "relief.unknown_offer",
        "offer",
    )?;
    if o.donor.as_slice() != x.ctx.signer.as_slice() {
        return Err(permission_denied(
            "relief.not_donor",
            "only the donor of this offer may withdraw or reduce it",
        ));
    }
    if o.expired || o.withdrawn {
        return Err(precondition(
            "relief.offer_closed",
            "the offer has already expired or been withdrawn",
        ));
    }
    let free = crate::arith::sub("offer free", o.quantity, o.requested)?;
    if c.quantity > 0 {
        if c.quantity > free {
            return Err(precondition(
                "relief.exceeds_offer",
                format!("only {free} of this offer are not requested; approved and waiting requests keep theirs (cancel them first)"),
            ));
        }
        o.quantity -= c.quantity;
        let q = c.quantity;
        update_totals(x, &o.disaster_id, &o.item_id, |t| {
            t.offered = crate::arith::sub("totals offered", t.offered, q)?;
            Ok(())
        })?;
        save_offer(x, o)?;
        return Ok(());
    }
    // The whole offer: no new requests, requests waiting for the go-ahead cancelled, what is
    // not requested taken back.
    o.withdrawn = true;
    donor_open(x, &o.donor, false)?;
    let id = o.offer_id;
    save_offer(x, o)?;
    cancel_waiting_requests(x, id, "the donor withdrew the offer before the go-ahead")?;
    let mut o = req(offer(&*x.state, id)?, "relief.unknown_offer", "offer")?;
    let back = crate::arith::sub("offer free", o.quantity, o.requested)?;
    o.quantity = o.requested;
    update_totals(x, &o.disaster_id, &o.item_id, |t| {
        t.offered = crate::arith::sub("totals offered", t.offered, back)?;
        Ok(())
    })?;
    save_offer(x, o)?;
    Ok(())
}

/// Cancel the requests from offer `id` still waiting for the go-ahead, with `reason`.
fn cancel_waiting_requests(x: &mut Exec<'_>, id: u64, reason: &str) -> Result<()> {
    let prefix = id_key(K_OFFER_REQ, id);
    for (k, _) in x.state.scan(&prefix, None, MAX_REQUESTS_PER_OFFER)? {
        let cid = trailing_id(&k, prefix.len()).ok_or_else(|| bad_index(&k))?;
        if let Some(com) = commitment(&*x.state, cid)? {
            if com.status == pb::CommitmentStatus::CommitmentPending as i32 {
                cancel_commitment(x, com, reason)?;
            }
        }
    }
    Ok(())
}

pub(super) fn expire_offer(x: &mut Exec<'_>, c: &pb::ExpireOffer) -> Result<()> {
    let mut o = req(
        offer(&*x.state, c.offer_id)?,
        "relief.unknown_offer",
        "offer",
    )?;
    if o.expired || o.withdrawn {
        return Err(precondition(
            "relief.already_expired",
            "the offer has already expired or been withdrawn",
        ));
    }
    if x.ctx.time_ms <= o.available_until_ms {
        return Err(precondition(
            "relief.not_yet_expired",
            "the offer is still available",
        ));
    }
    o.expired = true;
    donor_open(x, &o.donor, false)?;
    let id = o.offer_id;
    save_offer(x, o)?;
    cancel_waiting_requests(x, id, "the offer expired before the go-ahead")?;
    Ok(())
}

pub(super) fn update_shelter(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::UpdateShelter,
) -> Result<()> {
    check_ref("relief", "shelter_id", &c.shelter_id)?;
    check_text("relief", "name", &c.name, MAX_NAME_CHARS, false)?;
    check_text("relief", "area", &c.area, MAX_NAME_CHARS, false)?;
    let mut s = req(
        shelter(&*x.state, &c.shelter_id)?,
        "relief.unknown_shelter",
        "shelter",
    )?;
    require_municipality(signer, &s.municipality)?;
    if c.close && c.reopen {
        return Err(invalid_argument(
            "relief.close_and_reopen",
            "close and reopen cannot both be set",
        ));
    }
    if let Some(contact) = &c.contact {
        check_ref("relief", "contact.vault_id", &contact.vault_id)?;
        if contact.commitment.len() != 32 {
            return Err(invalid_argument(
                "relief.invalid_commitment",
                "contact.commitment must be 32 bytes",
            ));
        }
        s.contact = Some(contact.clone());
    }
    if !c.name.is_empty() {
        s.name = c.name.clone();
    }
    if !c.area.is_empty() {
        s.area = c.area.clone();
    }
    if c.close {
        if s.closed_at_ms != 0 {
            return Err(precondition(
                "relief.shelter_closed",
                "the shelter is already closed",
            ));
        }
        s.closed_at_ms = x.ctx.time_ms;
    }
    if c.reopen {
        if s.closed_at_ms == 0 {
            return Err(precondition("relief.shelter_open", "the shelter is open"));
        }
        s.closed_at_ms = 0;
    }
    records::put_shelter(x.state, &s)?;
    emit(x, pb::relief_event::Kind::ShelterChanged(s));
    Ok(())
}
