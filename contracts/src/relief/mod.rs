//! The relief contract (CONTRACTS.md §1): disaster relief goods matching between shelters and
//! donors.
//!
//! State (all under `rl/`): shelters, the catalogue (pre-filled at genesis with the eight basic
//! push-support items), disasters, needs, offers, commitments (pledges against needs and requests
//! from offers share one id space), shipments, per-shelter arrivals and per-(disaster, item)
//! totals. Records are borsh (`records`, ADR 0001); the API messages are made from them when
//! shown.
//!
//! The module is split as a reader finds it: `keys` (every key it writes), `records` (the
//! stored records and their API messages), `calls` (one function per call), `queries` (the
//! read-only searches the API serves) and `token` (the shipment label's token).
//!
//! Invariants, enforced on every call and property-tested (`contracts/tests/relief_*.rs`):
//! per need `fulfilled + in_transit ≤ committed ≤ quantity`; per offer `requested ≤ quantity`;
//! no counter below zero (checked arithmetic; a would-be underflow is a `Failed`, never silent);
//! a cancelled or expired commitment returns its quantity once (only a PENDING or APPROVED
//! commitment can be cancelled, and cancelling makes it CANCELLED); a shipment is received at
//! most once (only a SHIPPED shipment can be received); every change is made by a signer with the
//! role for that shelter (`ROLE_SHELTER_OPERATOR` scoped to it), that donor (the commitment's
//! own account) or that municipality.

mod calls;
mod keys;
mod queries;
pub mod records;
pub mod token;

pub use queries::*;
pub use records::{commitment, disaster, fill, item, need, offer, shelter, shipment};
pub use token::*;

use crate::error::{invalid_argument, Result};
use crate::governance::{self, Account, RoleKind};
use crate::state::get_borsh;
use crate::{pb, Exec, State, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};
use pb::relief_call::Call as R;

/// Largest quantity of one need, offer or commitment.
pub const MAX_QUANTITY: u64 = 1_000_000;
/// Longest details text.
pub const MAX_DETAILS_CHARS: usize = 280;
/// Longest name.
pub const MAX_NAME_CHARS: usize = 120;
/// Most attributes of an item.
pub const MAX_ATTRIBUTES: usize = 16;
/// Most open pledges and offers one self-registered donor (an account of no organization) may
/// have at once (pledges until received or cancelled, offers until they expire): it bounds what
/// a flood of self-registered donors can add to the state. Member organizations' donor accounts
/// are not bounded: their organization answers for them.
pub const MAX_OPEN_PER_DONOR: u64 = 100;
/// Most requests one offer can have (bounds the work of expiring it).
pub const MAX_REQUESTS_PER_OFFER: usize = 1000;

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
    /// Missing from received shipments.
    pub short: u64,
    /// Arrived unusable.
    pub damaged: u64,
    /// In shipments declared lost.
    pub lost: u64,
}
/// Whether a need is overdue at `now_ms`: its needed-by time has passed and it is not
/// fulfilled. An overdue need takes no more pledges.
pub fn is_overdue(n: &pb::Need, now_ms: u64) -> bool {
    n.needed_by_ms != 0 && now_ms > n.needed_by_ms && n.fulfilled < n.quantity
}

/// When a shipment was (last) marked shipped, from its trail.
pub fn shipped_at(s: &pb::Shipment) -> Option<u64> {
    s.trail
        .iter()
        .rev()
        .find(|t| t.status == pb::ShipmentStatus::ShipmentShipped as i32)
        .map(|t| t.time_ms)
}

/// Totals of a (disaster, item).
pub fn totals(state: &dyn StateRead, disaster_id: &str, item_id: &str) -> Result<Totals> {
    Ok(get_borsh(state, &keys::tot_key(disaster_id, item_id))?.unwrap_or_default())
}

/// Mempool pre-check of the signer's role for a relief call, and, where the committed state
/// already holds the object the call names (a shelter, a disaster, a catalogue item), that
/// the signer acts for its owner (execution checks again).
pub fn authorize(state: &dyn StateRead, account: &Account, call: &pb::ReliefCall) -> Result<()> {
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "relief.unknown_call",
            "the relief call is empty or unknown to this node",
        )),
        Some(R::RegisterShelter(_) | R::AddItem(_) | R::OpenDisaster(_)) => {
            account.require_any(&[RoleKind::MunicipalityAdmin], "managing relief")
        }
        Some(R::UpdateShelter(c)) => {
            account.require_any(&[RoleKind::MunicipalityAdmin], "managing relief")?;
            match shelter(state, &c.shelter_id)? {
                Some(s) => calls::require_municipality(account, &s.municipality),
                None => Ok(()),
            }
        }
        Some(R::CloseDisaster(c)) => {
            account.require_any(&[RoleKind::MunicipalityAdmin], "managing relief")?;
            match disaster(state, &c.disaster_id)? {
                Some(d) => calls::require_municipality(account, &d.municipality),
                None => Ok(()),
            }
        }
        Some(R::UpdateItem(pb::UpdateCatalogueItem { item_id, .. }))
        | Some(R::RetireItem(pb::RetireCatalogueItem { item_id })) => {
            account.require_any(&[RoleKind::MunicipalityAdmin], "managing relief")?;
            match item(state, item_id)? {
                Some(i) => calls::require_item_owner(account, &i),
                None => Ok(()),
            }
        }
        Some(
            R::PostNeed(_)
            | R::CloseNeed(_)
            | R::ChangeNeedQuantity(_)
            | R::Request(_)
            | R::Approve(_)
            | R::Receive(_)
            | R::DeclareLost(_),
        ) => {
            account.require_any(&[RoleKind::ShelterOperator], "acting for a shelter")?;
            match calls::shelter_of_call(state, call)? {
                Some(shelter_id) if shelter(state, &shelter_id)?.is_some() => {
                    calls::require_operator(state, account, &shelter_id)
                }
                _ => Ok(()),
            }
        }
        Some(R::Pledge(_) | R::PostOffer(_) | R::Ship(_) | R::WithdrawOffer(_)) => {
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
        Some(R::UpdateItem(_)) => "relief.update_item",
        Some(R::RetireItem(_)) => "relief.retire_item",
        Some(R::OpenDisaster(_)) => "relief.open_disaster",
        Some(R::CloseDisaster(_)) => "relief.close_disaster",
        Some(R::PostNeed(_)) => "relief.post_need",
        Some(R::CloseNeed(_)) => "relief.close_need",
        Some(R::ChangeNeedQuantity(_)) => "relief.change_need_quantity",
        Some(R::Pledge(_)) => "relief.pledge",
        Some(R::PostOffer(_)) => "relief.post_offer",
        Some(R::Request(_)) => "relief.request",
        Some(R::Approve(_)) => "relief.approve",
        Some(R::Cancel(_)) => "relief.cancel",
        Some(R::Ship(_)) => "relief.ship",
        Some(R::Receive(_)) => "relief.receive",
        Some(R::ExpireOffer(_)) => "relief.expire_offer",
        Some(R::DeclareLost(_)) => "relief.declare_lost",
        Some(R::WithdrawOffer(_)) => "relief.withdraw_offer",
        Some(R::UpdateShelter(_)) => "relief.update_shelter",
    }
}

/// Initial relief state: the eight basic push-support items.
pub fn init_genesis(state: &mut dyn State) -> Result<()> {
    for (id, category, name, unit, attrs) in BASIC_ITEMS {
        records::put_item(
            state,
            &pb::CatalogueItem {
                item_id: id.into(),
                category: category.into(),
                name: name.into(),
                unit: unit.into(),
                attributes: attrs.iter().map(|a| a.to_string()).collect(),
                organization: String::new(),
                updated_at_height: 0,
                retired_at_height: 0,
            },
        )?;
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
        Some(R::RegisterShelter(c)) => calls::register_shelter(x, &signer, c),
        Some(R::AddItem(c)) => calls::add_item(x, &signer, c),
        Some(R::UpdateItem(c)) => calls::update_item(x, &signer, c),
        Some(R::RetireItem(c)) => calls::retire_item(x, &signer, c),
        Some(R::OpenDisaster(c)) => calls::open_disaster(x, &signer, c),
        Some(R::CloseDisaster(c)) => calls::close_disaster(x, &signer, c),
        Some(R::PostNeed(c)) => calls::post_need(x, &signer, c),
        Some(R::CloseNeed(c)) => calls::close_need(x, &signer, c),
        Some(R::ChangeNeedQuantity(c)) => calls::change_need_quantity(x, &signer, c),
        Some(R::Pledge(c)) => calls::pledge(x, c),
        Some(R::PostOffer(c)) => calls::post_offer(x, c),
        Some(R::Request(c)) => calls::request(x, &signer, c),
        Some(R::Approve(c)) => calls::approve(x, &signer, c),
        Some(R::Cancel(c)) => calls::cancel(x, &signer, c),
        Some(R::Ship(c)) => calls::ship(x, c),
        Some(R::Receive(c)) => calls::receive(x, &signer, c),
        Some(R::ExpireOffer(c)) => calls::expire_offer(x, c),
        Some(R::DeclareLost(c)) => calls::declare_lost(x, &signer, c),
        Some(R::WithdrawOffer(c)) => calls::withdraw_offer(x, c),
        Some(R::UpdateShelter(c)) => calls::update_shelter(x, &signer, c),
    }
}
