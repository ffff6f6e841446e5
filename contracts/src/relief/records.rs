//! The relief contract's state records (borsh) and their API messages. Fill statuses are not
//! stored: they follow from the counters and are computed when a need is shown.

use super::keys::*;
use crate::error::{Failed, Result};
use crate::stored::{self, stored_enum, Stored};
use crate::{pb, State, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};

stored_enum!(
    /// A need's priority.
    Priority: pb::Priority { Low = Low, Medium = Medium, High = High, Critical = Critical }
);
stored_enum!(
    /// A pledge's or request's status.
    CommitmentStatus: pb::CommitmentStatus {
        Pending = CommitmentPending,
        Approved = CommitmentApproved,
        Cancelled = CommitmentCancelled,
    }
);
stored_enum!(
    /// A shipment's status.
    ShipmentStatus: pb::ShipmentStatus {
        Created = ShipmentCreated,
        Shipped = ShipmentShipped,
        Received = ShipmentReceived,
        Cancelled = ShipmentCancelled,
        Lost = ShipmentLost,
    }
);

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

/// A vault reference to a person.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PersonRef {
    vault_id: String,
    commitment: Vec<u8>,
}

impl PersonRef {
    fn into_api(self) -> pb::PersonRef {
        pb::PersonRef {
            vault_id: self.vault_id,
            commitment: self.commitment,
        }
    }
    fn from_api(p: &pb::PersonRef) -> Self {
        let pb::PersonRef {
            vault_id,
            commitment,
        } = p;
        PersonRef {
            vault_id: vault_id.clone(),
            commitment: commitment.clone(),
        }
    }
}

/// A shelter.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Shelter {
    shelter_id: String,
    municipality: String,
    name: String,
    area: String,
    contact: Option<PersonRef>,
    closed_at_ms: u64,
}

impl Stored for Shelter {
    type Api = pb::Shelter;
    fn into_api(self) -> pb::Shelter {
        pb::Shelter {
            shelter_id: self.shelter_id,
            municipality: self.municipality,
            name: self.name,
            area: self.area,
            contact: self.contact.map(PersonRef::into_api),
            closed_at_ms: self.closed_at_ms,
        }
    }
    fn from_api(s: &pb::Shelter) -> Result<Self, Failed> {
        let pb::Shelter {
            shelter_id,
            municipality,
            name,
            area,
            contact,
            closed_at_ms,
        } = s;
        Ok(Shelter {
            shelter_id: shelter_id.clone(),
            municipality: municipality.clone(),
            name: name.clone(),
            area: area.clone(),
            contact: contact.as_ref().map(PersonRef::from_api),
            closed_at_ms: *closed_at_ms,
        })
    }
}

/// A catalogue item.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Item {
    item_id: String,
    category: String,
    name: String,
    unit: String,
    attributes: Vec<String>,
    organization: String,
    updated_at_height: u64,
    retired_at_height: u64,
}

impl Stored for Item {
    type Api = pb::CatalogueItem;
    fn into_api(self) -> pb::CatalogueItem {
        pb::CatalogueItem {
            item_id: self.item_id,
            category: self.category,
            name: self.name,
            unit: self.unit,
            attributes: self.attributes,
            organization: self.organization,
            updated_at_height: self.updated_at_height,
            retired_at_height: self.retired_at_height,
        }
    }
    fn from_api(i: &pb::CatalogueItem) -> Result<Self, Failed> {
        let pb::CatalogueItem {
            item_id,
            category,
            name,
            unit,
            attributes,
            organization,
            updated_at_height,
            retired_at_height,
        } = i;
        Ok(Item {
            item_id: item_id.clone(),
            category: category.clone(),
            name: name.clone(),
            unit: unit.clone(),
            attributes: attributes.clone(),
            organization: organization.clone(),
            updated_at_height: *updated_at_height,
            retired_at_height: *retired_at_height,
        })
    }
}

/// A disaster.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Disaster {
    disaster_id: String,
    municipality: String,
    name: String,
    open: bool,
    opened_at_ms: u64,
    closed_at_ms: u64,
}

impl Stored for Disaster {
    type Api = pb::Disaster;
    fn into_api(self) -> pb::Disaster {
        pb::Disaster {
            disaster_id: self.disaster_id,
            municipality: self.municipality,
            name: self.name,
            open: self.open,
            opened_at_ms: self.opened_at_ms,
            closed_at_ms: self.closed_at_ms,
        }
    }
    fn from_api(d: &pb::Disaster) -> Result<Self, Failed> {
        let pb::Disaster {
            disaster_id,
            municipality,
            name,
            open,
            opened_at_ms,
            closed_at_ms,
        } = d;
        Ok(Disaster {
            disaster_id: disaster_id.clone(),
            municipality: municipality.clone(),
            name: name.clone(),
            open: *open,
            opened_at_ms: *opened_at_ms,
            closed_at_ms: *closed_at_ms,
        })
    }
}

/// A need.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Need {
    need_id: u64,
    disaster_id: String,
    shelter_id: String,
    municipality: String,
    item_id: String,
    category: String,
    quantity: u64,
    details: String,
    priority: Priority,
    needed_by_ms: u64,
    committed: u64,
    in_transit: u64,
    fulfilled: u64,
    open: bool,
    posted_at_ms: u64,
    returned: u64,
    written_off: u64,
}

impl Stored for Need {
    type Api = pb::Need;
    fn into_api(self) -> pb::Need {
        pb::Need {
            need_id: self.need_id,
            disaster_id: self.disaster_id,
            shelter_id: self.shelter_id,
            municipality: self.municipality,
            item_id: self.item_id,
            category: self.category,
            quantity: self.quantity,
            details: self.details,
            priority: self.priority.to_api(),
            needed_by_ms: self.needed_by_ms,
            committed: self.committed,
            in_transit: self.in_transit,
            fulfilled: self.fulfilled,
            committed_status: fill(self.committed, self.quantity) as i32,
            in_transit_status: fill(self.in_transit, self.quantity) as i32,
            fulfilled_status: fill(self.fulfilled, self.quantity) as i32,
            open: self.open,
            posted_at_ms: self.posted_at_ms,
            returned: self.returned,
            written_off: self.written_off,
            // A view of the block time, set by the queries.
            overdue: false,
        }
    }
    fn from_api(n: &pb::Need) -> Result<Self, Failed> {
        let pb::Need {
            need_id,
            disaster_id,
            shelter_id,
            municipality,
            item_id,
            category,
            quantity,
            details,
            priority,
            needed_by_ms,
            committed,
            in_transit,
            fulfilled,
            committed_status: _,
            in_transit_status: _,
            fulfilled_status: _,
            open,
            posted_at_ms,
            returned,
            written_off,
            overdue: _,
        } = n;
        Ok(Need {
            need_id: *need_id,
            disaster_id: disaster_id.clone(),
            shelter_id: shelter_id.clone(),
            municipality: municipality.clone(),
            item_id: item_id.clone(),
            category: category.clone(),
            quantity: *quantity,
            details: details.clone(),
            priority: Priority::from_api(*priority)?,
            needed_by_ms: *needed_by_ms,
            committed: *committed,
            in_transit: *in_transit,
            fulfilled: *fulfilled,
            open: *open,
            posted_at_ms: *posted_at_ms,
            returned: *returned,
            written_off: *written_off,
        })
    }
}

/// An offer.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Offer {
    offer_id: u64,
    disaster_id: String,
    donor: Vec<u8>,
    item_id: String,
    category: String,
    quantity: u64,
    requested: u64,
    details: String,
    available_until_ms: u64,
    expired: bool,
    withdrawn: bool,
}

impl Stored for Offer {
    type Api = pb::Offer;
    fn into_api(self) -> pb::Offer {
        pb::Offer {
            offer_id: self.offer_id,
            disaster_id: self.disaster_id,
            donor: self.donor,
            item_id: self.item_id,
            category: self.category,
            quantity: self.quantity,
            requested: self.requested,
            details: self.details,
            available_until_ms: self.available_until_ms,
            expired: self.expired,
            withdrawn: self.withdrawn,
        }
    }
    fn from_api(o: &pb::Offer) -> Result<Self, Failed> {
        let pb::Offer {
            offer_id,
            disaster_id,
            donor,
            item_id,
            category,
            quantity,
            requested,
            details,
            available_until_ms,
            expired,
            withdrawn,
        } = o;
        Ok(Offer {
            offer_id: *offer_id,
            disaster_id: disaster_id.clone(),
            donor: donor.clone(),
            item_id: item_id.clone(),
            category: category.clone(),
            quantity: *quantity,
            requested: *requested,
            details: details.clone(),
            available_until_ms: *available_until_ms,
            expired: *expired,
            withdrawn: *withdrawn,
        })
    }
}

/// A pledge (against a need) or a request (from an offer).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Commitment {
    commitment_id: u64,
    need_id: u64,
    offer_id: u64,
    shelter_id: String,
    donor: Vec<u8>,
    item_id: String,
    quantity: u64,
    status: CommitmentStatus,
    shipment_id: u64,
    cancel_reason: String,
}

impl Stored for Commitment {
    type Api = pb::Commitment;
    fn into_api(self) -> pb::Commitment {
        pb::Commitment {
            commitment_id: self.commitment_id,
            need_id: self.need_id,
            offer_id: self.offer_id,
            shelter_id: self.shelter_id,
            donor: self.donor,
            item_id: self.item_id,
            quantity: self.quantity,
            status: self.status.to_api(),
            shipment_id: self.shipment_id,
            cancel_reason: self.cancel_reason,
        }
    }
    fn from_api(c: &pb::Commitment) -> Result<Self, Failed> {
        let pb::Commitment {
            commitment_id,
            need_id,
            offer_id,
            shelter_id,
            donor,
            item_id,
            quantity,
            status,
            shipment_id,
            cancel_reason,
        } = c;
        Ok(Commitment {
            commitment_id: *commitment_id,
            need_id: *need_id,
            offer_id: *offer_id,
            shelter_id: shelter_id.clone(),
            donor: donor.clone(),
            item_id: item_id.clone(),
            quantity: *quantity,
            status: CommitmentStatus::from_api(*status)?,
            shipment_id: *shipment_id,
            cancel_reason: cancel_reason.clone(),
        })
    }
}

/// One step of a shipment's trail.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Step {
    status: ShipmentStatus,
    time_ms: u64,
    height: u64,
    by: Vec<u8>,
}

impl Step {
    fn into_api(self) -> pb::ShipmentStep {
        pb::ShipmentStep {
            status: self.status.to_api(),
            time_ms: self.time_ms,
            height: self.height,
            by: self.by,
        }
    }
    fn from_api(s: &pb::ShipmentStep) -> Result<Self, Failed> {
        let pb::ShipmentStep {
            status,
            time_ms,
            height,
            by,
        } = s;
        Ok(Step {
            status: ShipmentStatus::from_api(*status)?,
            time_ms: *time_ms,
            height: *height,
            by: by.clone(),
        })
    }
}

/// A shipment.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Shipment {
    shipment_id: u64,
    commitment_id: u64,
    need_id: u64,
    offer_id: u64,
    shelter_id: String,
    donor: Vec<u8>,
    item_id: String,
    quantity: u64,
    disaster_id: String,
    status: ShipmentStatus,
    token_commitment: Vec<u8>,
    trail: Vec<Step>,
    received_quantity: u64,
    damaged_quantity: u64,
    returned_quantity: u64,
    written_off_quantity: u64,
    note: String,
}

impl Stored for Shipment {
    type Api = pb::Shipment;
    fn into_api(self) -> pb::Shipment {
        pb::Shipment {
            shipment_id: self.shipment_id,
            commitment_id: self.commitment_id,
            need_id: self.need_id,
            offer_id: self.offer_id,
            shelter_id: self.shelter_id,
            donor: self.donor,
            item_id: self.item_id,
            quantity: self.quantity,
            disaster_id: self.disaster_id,
            status: self.status.to_api(),
            token_commitment: self.token_commitment,
            trail: self.trail.into_iter().map(Step::into_api).collect(),
            received_quantity: self.received_quantity,
            damaged_quantity: self.damaged_quantity,
            returned_quantity: self.returned_quantity,
            written_off_quantity: self.written_off_quantity,
            note: self.note,
        }
    }
    fn from_api(s: &pb::Shipment) -> Result<Self, Failed> {
        let pb::Shipment {
            shipment_id,
            commitment_id,
            need_id,
            offer_id,
            shelter_id,
            donor,
            item_id,
            quantity,
            disaster_id,
            status,
            token_commitment,
            trail,
            received_quantity,
            damaged_quantity,
            returned_quantity,
            written_off_quantity,
            note,
        } = s;
        Ok(Shipment {
            shipment_id: *shipment_id,
            commitment_id: *commitment_id,
            need_id: *need_id,
            offer_id: *offer_id,
            shelter_id: shelter_id.clone(),
            donor: donor.clone(),
            item_id: item_id.clone(),
            quantity: *quantity,
            disaster_id: disaster_id.clone(),
            status: ShipmentStatus::from_api(*status)?,
            token_commitment: token_commitment.clone(),
            trail: trail.iter().map(Step::from_api).collect::<Result<_, _>>()?,
            received_quantity: *received_quantity,
            damaged_quantity: *damaged_quantity,
            returned_quantity: *returned_quantity,
            written_off_quantity: *written_off_quantity,
            note: note.clone(),
        })
    }
}

/// A shelter.
pub fn shelter(state: &dyn StateRead, id: &str) -> Result<Option<pb::Shelter>> {
    stored::get::<Shelter>(state, &str_key(K_SHELTER, id))
}
/// A catalogue item.
pub fn item(state: &dyn StateRead, id: &str) -> Result<Option<pb::CatalogueItem>> {
    stored::get::<Item>(state, &str_key(K_ITEM, id))
}
/// A disaster.
pub fn disaster(state: &dyn StateRead, id: &str) -> Result<Option<pb::Disaster>> {
    stored::get::<Disaster>(state, &str_key(K_DISASTER, id))
}
/// A need.
pub fn need(state: &dyn StateRead, id: u64) -> Result<Option<pb::Need>> {
    stored::get::<Need>(state, &id_key(K_NEED, id))
}
/// An offer.
pub fn offer(state: &dyn StateRead, id: u64) -> Result<Option<pb::Offer>> {
    stored::get::<Offer>(state, &id_key(K_OFFER, id))
}
/// A pledge or request.
pub fn commitment(state: &dyn StateRead, id: u64) -> Result<Option<pb::Commitment>> {
    stored::get::<Commitment>(state, &id_key(K_COMMIT, id))
}
/// A shipment.
pub fn shipment(state: &dyn StateRead, id: u64) -> Result<Option<pb::Shipment>> {
    stored::get::<Shipment>(state, &id_key(K_SHIP, id))
}

pub(super) fn put_shelter(state: &mut dyn State, s: &pb::Shelter) -> Result<(), Failed> {
    stored::put::<Shelter>(state, str_key(K_SHELTER, &s.shelter_id), s)
}
pub(super) fn put_item(state: &mut dyn State, i: &pb::CatalogueItem) -> Result<(), Failed> {
    stored::put::<Item>(state, str_key(K_ITEM, &i.item_id), i)
}
pub(super) fn put_disaster(state: &mut dyn State, d: &pb::Disaster) -> Result<(), Failed> {
    stored::put::<Disaster>(state, str_key(K_DISASTER, &d.disaster_id), d)
}
pub(super) fn put_need(state: &mut dyn State, n: &pb::Need) -> Result<(), Failed> {
    stored::put::<Need>(state, id_key(K_NEED, n.need_id), n)
}
pub(super) fn put_offer(state: &mut dyn State, o: &pb::Offer) -> Result<(), Failed> {
    stored::put::<Offer>(state, id_key(K_OFFER, o.offer_id), o)
}
pub(super) fn put_commitment(state: &mut dyn State, c: &pb::Commitment) -> Result<(), Failed> {
    stored::put::<Commitment>(state, id_key(K_COMMIT, c.commitment_id), c)
}
pub(super) fn put_shipment(state: &mut dyn State, s: &pb::Shipment) -> Result<(), Failed> {
    stored::put::<Shipment>(state, id_key(K_SHIP, s.shipment_id), s)
}
