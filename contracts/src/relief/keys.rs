//! Every key the relief contract writes, all under `rl/`. Ids of needs, offers, commitments and
//! shipments are big-endian so that a scan lists them in id order.

pub(super) const K_SHELTER: &[u8] = b"rl/shelter/";
pub(super) const K_ITEM: &[u8] = b"rl/item/";
pub(super) const K_DISASTER: &[u8] = b"rl/dis/";
pub(super) const K_NEED: &[u8] = b"rl/need/";
pub(super) const K_OFFER: &[u8] = b"rl/offer/";
pub(super) const K_COMMIT: &[u8] = b"rl/com/";
pub(super) const K_SHIP: &[u8] = b"rl/ship/";
/// Id counters, one per kind.
pub(super) const K_CTR: &[u8] = b"rl/ctr/";
/// `rl/arr/<shelter>\0<height><shipment>`: arrivals per shelter in order of receipt.
pub(super) const K_ARRIVAL: &[u8] = b"rl/arr/";
/// `rl/offreq/<offer><commitment>`: the requests made from an offer.
pub(super) const K_OFFER_REQ: &[u8] = b"rl/offreq/";
/// `rl/dopen/<donor>`: how many pledges and offers of a donor are open.
pub(super) const K_DONOR_OPEN: &[u8] = b"rl/dopen/";
/// `rl/tot/<disaster>\0<item>`: report totals.
pub(super) const K_TOTAL: &[u8] = b"rl/tot/";

pub(super) fn id_key(prefix: &[u8], id: u64) -> Vec<u8> {
    [prefix, &id.to_be_bytes()].concat()
}

pub(super) fn str_key(prefix: &[u8], id: &str) -> Vec<u8> {
    [prefix, id.as_bytes()].concat()
}

pub(super) fn tot_key(disaster_id: &str, item_id: &str) -> Vec<u8> {
    [K_TOTAL, disaster_id.as_bytes(), b"\0", item_id.as_bytes()].concat()
}

pub(super) fn arrival_prefix(shelter_id: &str) -> Vec<u8> {
    [K_ARRIVAL, shelter_id.as_bytes(), b"\0"].concat()
}

pub(super) fn arrival_key(shelter_id: &str, height: u64, shipment_id: u64) -> Vec<u8> {
    [
        arrival_prefix(shelter_id).as_slice(),
        &height.to_be_bytes(),
        &shipment_id.to_be_bytes(),
    ]
    .concat()
}

/// The big-endian id that fills `key` from offset `from` to its end, if it is exactly 8 bytes.
pub(super) fn trailing_id(key: &[u8], from: usize) -> Option<u64> {
    key.get(from..)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
}
