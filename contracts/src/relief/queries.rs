//! The relief contract's read-only searches, which the API serves at the committed height.

use super::calls::bad_index;
use super::keys::*;
use super::records::{self, item, shipment};
use super::Totals;
use crate::error::{invalid_argument, Result};
use crate::page::{scan_all, Page};
use crate::state::scan_borsh;
use crate::stored;
use crate::text::check_ref;
use crate::{pb, StateRead};

/// A page of the records under `prefix` that `keep` accepts (`page::Page::scan`).
fn page_scan<T>(
    state: &dyn StateRead,
    prefix: &[u8],
    page: Option<&pb::PageRequest>,
    keep: impl FnMut(&[u8], &[u8]) -> Result<Option<T>>,
) -> Result<(Vec<T>, String)> {
    Page::of(page, prefix)?.scan(state, prefix, keep)
}

/// Search needs at block time `now_ms` (which decides `overdue`).
pub fn list_needs(
    state: &dyn StateRead,
    r: &pb::ListNeedsRequest,
    now_ms: u64,
) -> Result<pb::ListNeedsResponse> {
    let Ok(order) = pb::NeedOrder::try_from(r.order) else {
        return Err(invalid_argument(
            "relief.bad_filter",
            "order is not a known NeedOrder",
        ));
    };
    if pb::Priority::try_from(r.min_priority).is_err()
        || pb::FillStatus::try_from(r.fulfilled_status).is_err()
    {
        return Err(invalid_argument(
            "relief.bad_filter",
            "min_priority or fulfilled_status is not a known value",
        ));
    }
    let keep = |k: &[u8], v: &[u8]| {
        let mut n = stored::decode::<records::Need>(k, v)?;
        n.overdue = super::is_overdue(&n, now_ms);
        let ok = (r.disaster_id.is_empty() || n.disaster_id == r.disaster_id)
            && (r.shelter_id.is_empty() || n.shelter_id == r.shelter_id)
            && (r.municipality.is_empty() || n.municipality == r.municipality)
            && (r.item_id.is_empty() || n.item_id == r.item_id)
            && (r.category.is_empty() || n.category == r.category)
            && n.priority >= r.min_priority
            && (r.fulfilled_status == 0 || n.fulfilled_status == r.fulfilled_status)
            && (!r.open_only || (n.open && !n.overdue && n.committed < n.quantity))
            && (!r.overdue_only || n.overdue)
            && (r.needed_by_before_ms == 0
                || (n.needed_by_ms != 0 && n.needed_by_ms < r.needed_by_before_ms));
        Ok(ok.then_some(n))
    };
    let (needs, next_page_token) = match order {
        pb::NeedOrder::Unspecified => page_scan(state, K_NEED, r.page.as_ref(), keep)?,
        pb::NeedOrder::NeededBy | pb::NeedOrder::Priority => {
            let keyed = scan_all(state, K_NEED, keep)?
                .into_iter()
                .map(|n| (need_sort_key(&n, order), n))
                .collect();
            Page::sorted(r.page.as_ref(), &[order as u8], keyed)?
        }
    };
    Ok(pb::ListNeedsResponse {
        needs,
        next_page_token,
    })
}

/// A need's place in `order`: ascending bytes, ties broken by the id at the end.
fn need_sort_key(n: &pb::Need, order: pb::NeedOrder) -> Vec<u8> {
    // No needed-by sorts after every date; a higher priority sorts first.
    let by = if n.needed_by_ms == 0 {
        u64::MAX
    } else {
        n.needed_by_ms
    };
    let urgency = u32::MAX - u32::try_from(n.priority).unwrap_or(0);
    let (by, urgency) = (by.to_be_bytes(), urgency.to_be_bytes());
    let id = n.need_id.to_be_bytes();
    match order {
        pb::NeedOrder::Priority => [&urgency[..], &by, &id].concat(),
        _ => [&by[..], &urgency, &id].concat(),
    }
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
    let (offers, next_page_token) = page_scan(state, K_OFFER, r.page.as_ref(), |k, v| {
        let o = stored::decode::<records::Offer>(k, v)?;
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
    let prefix = arrival_prefix(&r.shelter_id);
    let (shipments, next_page_token) = page_scan(state, &prefix, r.page.as_ref(), |k, _| {
        let id = trailing_id(k, prefix.len() + 8).ok_or_else(|| bad_index(k))?;
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
            short: t.short,
            damaged: t.damaged,
            lost: t.lost,
        });
    }
    Ok(out)
}

/// A disaster's report at block time `now_ms`: one line per shelter and item that has a need
/// or a shipment, by shelter id then item id. Reads every need and shipment on the ledger
/// (refused with `page.too_broad` past 50,000 of either).
pub fn disaster_report(
    state: &dyn StateRead,
    disaster_id: &str,
    now_ms: u64,
) -> Result<Vec<pb::DisasterReportLine>> {
    use std::collections::BTreeMap;
    let mut lines: BTreeMap<(String, String), pb::DisasterReportLine> = BTreeMap::new();
    let needs = scan_all(state, K_NEED, |k, v| {
        let n = stored::decode::<records::Need>(k, v)?;
        Ok((n.disaster_id == disaster_id).then_some(n))
    })?;
    for n in needs {
        let l = lines
            .entry((n.shelter_id.clone(), n.item_id.clone()))
            .or_default();
        l.needs += 1;
        l.overdue_needs += u64::from(super::is_overdue(&n, now_ms));
        l.needed = l.needed.saturating_add(n.quantity);
        l.committed = l.committed.saturating_add(n.committed);
        l.in_transit = l.in_transit.saturating_add(n.in_transit);
        l.fulfilled = l.fulfilled.saturating_add(n.fulfilled);
        l.unmet = l
            .unmet
            .saturating_add(n.quantity.saturating_sub(n.fulfilled));
        l.returned = l.returned.saturating_add(n.returned);
        l.written_off = l.written_off.saturating_add(n.written_off);
    }
    let shipments = scan_all(state, K_SHIP, |k, v| {
        let s = stored::decode::<records::Shipment>(k, v)?;
        Ok((s.disaster_id == disaster_id).then_some(s))
    })?;
    for s in shipments {
        let l = lines
            .entry((s.shelter_id.clone(), s.item_id.clone()))
            .or_default();
        l.shipments += 1;
        match pb::ShipmentStatus::try_from(s.status) {
            Ok(pb::ShipmentStatus::ShipmentReceived) => {
                let usable = s.received_quantity.saturating_sub(s.damaged_quantity);
                l.received = l.received.saturating_add(usable);
                l.short = l
                    .short
                    .saturating_add(s.quantity.saturating_sub(s.received_quantity));
                l.damaged = l.damaged.saturating_add(s.damaged_quantity);
            }
            Ok(pb::ShipmentStatus::ShipmentLost) => l.lost = l.lost.saturating_add(s.quantity),
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(lines.len());
    for ((shelter_id, item_id), mut l) in lines {
        // Every need and shipment names a shelter and an item the ledger has.
        let missing = |what: &str, id: &str| {
            crate::Failed(format!(
                "disaster {disaster_id} has a need or shipment naming {what} {id} that the ledger does not have"
            ))
        };
        let shelter =
            records::shelter(state, &shelter_id)?.ok_or_else(|| missing("shelter", &shelter_id))?;
        let it = item(state, &item_id)?.ok_or_else(|| missing("item", &item_id))?;
        l.shelter_name = shelter.name;
        l.municipality = shelter.municipality;
        l.area = shelter.area;
        l.item_name = it.name;
        l.unit = it.unit;
        l.category = it.category;
        l.shelter_id = shelter_id;
        l.item_id = item_id;
        out.push(l);
    }
    Ok(out)
}

/// The whole catalogue.
pub fn catalogue(state: &dyn StateRead) -> Result<Vec<pb::CatalogueItem>> {
    state
        .scan(K_ITEM, None, 100_000)?
        .into_iter()
        .map(|(k, v)| stored::decode::<records::Item>(&k, &v))
        .collect()
}

fn donor_filter(d: &[u8]) -> Result<()> {
    if d.is_empty() || d.len() == 32 {
        Ok(())
    } else {
        Err(invalid_argument(
            "relief.bad_filter",
            "donor must be a 32-byte account key",
        ))
    }
}

/// Pledges and requests by shelter, donor and status (work lists: what waits for a shelter's
/// go-ahead, a donor's pledges).
pub fn list_commitments(
    state: &dyn StateRead,
    r: &pb::ListCommitmentsRequest,
) -> Result<pb::ListCommitmentsResponse> {
    if !r.shelter_id.is_empty() {
        check_ref("relief", "shelter_id", &r.shelter_id)?;
    }
    donor_filter(&r.donor)?;
    if pb::CommitmentStatus::try_from(r.status).is_err() {
        return Err(invalid_argument(
            "relief.bad_filter",
            "status is not a known CommitmentStatus",
        ));
    }
    let (commitments, next_page_token) = page_scan(state, K_COMMIT, r.page.as_ref(), |k, v| {
        let c = stored::decode::<records::Commitment>(k, v)?;
        let ok = (r.shelter_id.is_empty() || c.shelter_id == r.shelter_id)
            && (r.donor.is_empty() || c.donor == r.donor)
            && (r.status == 0 || c.status == r.status);
        Ok(ok.then_some(c))
    })?;
    Ok(pb::ListCommitmentsResponse {
        commitments,
        next_page_token,
    })
}

/// Shipments by shelter, municipality, donor, status and time in transit at `now_ms` (work
/// lists: a donor's to send, overdue in transit, a municipality's arrivals).
pub fn list_shipments(
    state: &dyn StateRead,
    r: &pb::ListShipmentsRequest,
    now_ms: u64,
) -> Result<pb::ListShipmentsResponse> {
    if !r.shelter_id.is_empty() {
        check_ref("relief", "shelter_id", &r.shelter_id)?;
    }
    if !r.municipality.is_empty() {
        check_ref("relief", "municipality", &r.municipality)?;
    }
    donor_filter(&r.donor)?;
    if pb::ShipmentStatus::try_from(r.status).is_err() {
        return Err(invalid_argument(
            "relief.bad_filter",
            "status is not a known ShipmentStatus",
        ));
    }
    let mut municipality_of: std::collections::BTreeMap<String, String> = Default::default();
    let (shipments, next_page_token) = page_scan(state, K_SHIP, r.page.as_ref(), |k, v| {
        let s = stored::decode::<records::Shipment>(k, v)?;
        let mut ok = (r.shelter_id.is_empty() || s.shelter_id == r.shelter_id)
            && (r.donor.is_empty() || s.donor == r.donor)
            && (r.status == 0 || s.status == r.status);
        if ok && r.in_transit_longer_than_ms > 0 {
            let shipped_at = super::shipped_at(&s);
            ok = s.status == pb::ShipmentStatus::ShipmentShipped as i32
                && shipped_at
                    .is_some_and(|t| now_ms.saturating_sub(t) > r.in_transit_longer_than_ms);
        }
        if ok && !r.municipality.is_empty() {
            let m = match municipality_of.get(&s.shelter_id) {
                Some(m) => m.clone(),
                None => {
                    let m = records::shelter(state, &s.shelter_id)?
                        .map(|sh| sh.municipality)
                        .unwrap_or_default();
                    municipality_of.insert(s.shelter_id.clone(), m.clone());
                    m
                }
            };
            ok = m == r.municipality;
        }
        Ok(ok.then_some(s))
    })?;
    Ok(pb::ListShipmentsResponse {
        shipments,
        next_page_token,
    })
}
