//! Every key the volunteer contract writes, all under `vol/`.

use crate::pb;

pub(super) const K_APP: &[u8] = b"vol/app/";
pub(super) const K_APP_BY_ACCT: &[u8] = b"vol/appacct/";
pub(super) const K_VOL: &[u8] = b"vol/v/";
pub(super) const K_VOL_BY_ACCT: &[u8] = b"vol/vacct/";
pub(super) const K_CERT: &[u8] = b"vol/cert/";
pub(super) const K_OPP: &[u8] = b"vol/opp/";
pub(super) const K_ACT: &[u8] = b"vol/act/";
pub(super) const K_HIST: &[u8] = b"vol/hist/";
pub(super) const K_OPP_ACT: &[u8] = b"vol/oppact/";
pub(super) const K_PENDING: &[u8] = b"vol/pending/";
/// volunteer id → the activity the volunteer is checked in to (one place at a time).
pub(super) const K_PRESENT: &[u8] = b"vol/present/";
pub(super) const K_DAY: &[u8] = b"vol/day/";
pub(super) const K_YEAR: &[u8] = b"vol/year/";

pub(super) fn key(prefix: &[u8], id: &str) -> Vec<u8> {
    [prefix, id.as_bytes()].concat()
}
pub(super) fn key2(prefix: &[u8], a: &str, b: &str) -> Vec<u8> {
    [prefix, a.as_bytes(), b"/", b.as_bytes()].concat()
}

pub(super) fn pending_key(kind: pb::PendingKind, id: &str) -> Vec<u8> {
    [K_PENDING, &[kind as i32 as u8], b"/", id.as_bytes()].concat()
}

pub(super) fn day_key(vid: &str, day: u64) -> Vec<u8> {
    [K_DAY, vid.as_bytes(), b"/", &day.to_be_bytes()].concat()
}
pub(super) fn year_key(vid: &str, fy: u64) -> Vec<u8> {
    [K_YEAR, vid.as_bytes(), b"/", &fy.to_be_bytes()].concat()
}
