//! One pagination for every query: a page is at most [`MAX_PAGE_SIZE`] items (0 asks for
//! [`DEFAULT_PAGE_SIZE`]), a filtered query examines at most [`MAX_SCAN`] entries per call, and
//! a page token is the hex of the last state key returned, opaque to clients and valid only
//! for the query (the key prefix) that made it.

use crate::error::{invalid_argument, Result};
use crate::pb;
use crate::state::StateRead;

/// Items in a page when the request does not say.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Most items in one page.
pub const MAX_PAGE_SIZE: usize = 500;
/// Most state entries a filtered query examines per call; it returns a token to go on.
pub const MAX_SCAN: usize = 5_000;
/// Longest page token accepted, in hex characters (a state key is far shorter).
pub const MAX_TOKEN_CHARS: usize = 1_024;
/// Entries read from state per scan step.
const SCAN_STEP: usize = 256;
/// Most entries a sorted query examines: sorting needs every match at once, so a query over
/// more is refused (`page.too_broad`) rather than answered out of order.
pub const MAX_SORTED_SCAN: usize = 50_000;
/// First byte of a sorted query's page token (no state key starts with it).
const SORTED: u8 = 0xff;

/// A checked page request over the keys under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// Items to return at most.
    pub size: usize,
    /// The key to continue after (None: from the start).
    pub after: Option<Vec<u8>>,
}

impl Page {
    /// The page `request` asks for over the keys under `prefix`. An oversized page or a
    /// token that is not one this query returned is refused (`page.too_large`,
    /// `page.bad_token`), never silently clamped.
    pub fn of(request: Option<&pb::PageRequest>, prefix: &[u8]) -> Result<Page> {
        let size = match request.map_or(0, |p| p.page_size as usize) {
            0 => DEFAULT_PAGE_SIZE,
            n if n > MAX_PAGE_SIZE => {
                return Err(invalid_argument(
                    "page.too_large",
                    format!("page_size must be at most {MAX_PAGE_SIZE}"),
                ))
            }
            n => n,
        };
        let token = request.map_or("", |p| p.page_token.as_str());
        let after = if token.is_empty() {
            None
        } else {
            let bad = || {
                invalid_argument(
                    "page.bad_token",
                    "page_token is not valid for this query: pass back next_page_token from the previous response unchanged",
                )
            };
            if token.len() > MAX_TOKEN_CHARS {
                return Err(bad());
            }
            let key = hex::decode(token).map_err(|_| bad())?;
            if !key.starts_with(prefix) {
                return Err(bad());
            }
            Some(key)
        };
        Ok(Page { size, after })
    }

    /// Scan `prefix` after the page's key, keeping what `keep` accepts, until the page is
    /// full, [`MAX_SCAN`] entries were examined, or the prefix ends. Returns the items and the
    /// next page token (empty when there is nothing more).
    pub fn scan<T>(
        &self,
        state: &dyn StateRead,
        prefix: &[u8],
        mut keep: impl FnMut(&[u8], &[u8]) -> Result<Option<T>>,
    ) -> Result<(Vec<T>, String)> {
        let mut out = Vec::new();
        let mut examined = 0;
        let stopped_at = walk(state, prefix, self.after.clone(), |k, v| {
            examined += 1;
            if let Some(t) = keep(k, v)? {
                out.push(t);
            }
            Ok(out.len() < self.size && examined < MAX_SCAN)
        })?;
        Ok((out, stopped_at.as_deref().map(token).unwrap_or_default()))
    }
}

/// Visit the entries under `prefix` after `after` in key order, [`SCAN_STEP`] at a time, until
/// `visit` returns `false` or the prefix ends. Returns the key `visit` stopped at, if it did.
fn walk(
    state: &dyn StateRead,
    prefix: &[u8],
    mut after: Option<Vec<u8>>,
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<Option<Vec<u8>>> {
    loop {
        let batch = state.scan(prefix, after.as_deref(), SCAN_STEP)?;
        let n = batch.len();
        for (k, v) in batch {
            let go_on = visit(&k, &v)?;
            after = Some(k);
            if !go_on {
                return Ok(after);
            }
        }
        if n < SCAN_STEP {
            return Ok(None);
        }
    }
}

impl Page {
    /// One page of `items` in the order of their sort keys (each unique, e.g. ending in the
    /// record's id). `order` names the ordering, so a token made for another order or query is
    /// refused. The token carries the last sort key returned: a record added or changed between
    /// two pages is seen at its new place, none is returned twice in one walk unless it moved.
    pub fn sorted<T>(
        request: Option<&pb::PageRequest>,
        order: &[u8],
        mut items: Vec<(Vec<u8>, T)>,
    ) -> Result<(Vec<T>, String)> {
        let prefix = [&[SORTED][..], order].concat();
        let page = Page::of(request, &prefix)?;
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let start = page.after.as_ref().map_or(0, |after| {
            let last = &after[prefix.len()..];
            items.partition_point(|(k, _)| k.as_slice() <= last)
        });
        let more = items.len() - start > page.size;
        let chosen: Vec<(Vec<u8>, T)> = items.into_iter().skip(start).take(page.size).collect();
        let next = match chosen.last() {
            Some((k, _)) if more => token(&[prefix.as_slice(), k].concat()),
            _ => String::new(),
        };
        Ok((chosen.into_iter().map(|(_, t)| t).collect(), next))
    }
}

/// Every record under `prefix` that `keep` accepts, for a query that must see all its matches
/// (to sort them). Refused with `page.too_broad` past [`MAX_SORTED_SCAN`] entries.
pub fn scan_all<T>(
    state: &dyn StateRead,
    prefix: &[u8],
    mut keep: impl FnMut(&[u8], &[u8]) -> Result<Option<T>>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut examined = 0;
    walk(state, prefix, None, |k, v| {
        examined += 1;
        if examined > MAX_SORTED_SCAN {
            return Err(invalid_argument(
                "page.too_broad",
                format!("more than {MAX_SORTED_SCAN} records to sort: ask in id order, or for fewer at a time"),
            ));
        }
        if let Some(t) = keep(k, v)? {
            out.push(t);
        }
        Ok(true)
    })?;
    Ok(out)
}

/// The page token that continues after `key`.
pub fn token(key: &[u8]) -> String {
    hex::encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{MemState, State};

    fn req(size: u32, token: &str) -> pb::PageRequest {
        pb::PageRequest {
            page_size: size,
            page_token: token.into(),
        }
    }

    #[test]
    fn pages_walk_every_kept_entry_once_and_refuse_foreign_tokens() {
        let mut s = MemState::default();
        for i in 0u8..=200 {
            s.put(vec![b'p', i], vec![i]);
        }
        s.put(b"q".to_vec(), vec![0]);
        let even = |_: &[u8], v: &[u8]| Ok(v[0].is_multiple_of(2).then_some(v[0]));
        let mut seen = Vec::new();
        let mut t = String::new();
        for _ in 0..100 {
            let page = Page::of(Some(&req(7, &t)), b"p").unwrap();
            let (items, next) = page.scan(&s, b"p", even).unwrap();
            assert!(items.len() <= 7);
            seen.extend(items);
            if next.is_empty() {
                break;
            }
            t = next;
        }
        assert_eq!(seen, (0u8..=200).step_by(2).collect::<Vec<_>>());
        assert_eq!(Page::of(None, b"p").unwrap().size, DEFAULT_PAGE_SIZE);
        let code = |r: Result<Page>| match r {
            Err(crate::ContractError::Invalid(i)) => i.code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(Page::of(Some(&req(501, "")), b"p")), "page.too_large");
        assert_eq!(code(Page::of(Some(&req(0, "zz")), b"p")), "page.bad_token");
        // A token of another query (another prefix) is refused, not followed.
        assert_eq!(
            code(Page::of(Some(&req(0, &token(b"q"))), b"p")),
            "page.bad_token"
        );
        let long = "0".repeat(MAX_TOKEN_CHARS + 2);
        assert_eq!(code(Page::of(Some(&req(0, &long)), b"p")), "page.bad_token");
    }

    #[test]
    fn sorted_pages_walk_every_item_once_in_order_and_refuse_other_orders_tokens() {
        // Sort keys out of id order, all distinct.
        let items = || -> Vec<(Vec<u8>, u32)> {
            (0u32..103)
                .map(|i| (((i * 37) % 103).to_be_bytes().to_vec(), i))
                .collect()
        };
        let mut seen = Vec::new();
        let mut t = String::new();
        for _ in 0..100 {
            let (page, next) = Page::sorted(Some(&req(10, &t)), b"a", items()).unwrap();
            assert!(page.len() <= 10);
            seen.extend(page);
            if next.is_empty() {
                break;
            }
            t = next;
        }
        let mut expected = items();
        expected.sort();
        assert_eq!(
            seen,
            expected.into_iter().map(|(_, i)| i).collect::<Vec<_>>()
        );
        let code = |r: Result<(Vec<u32>, String)>| match r {
            Err(crate::ContractError::Invalid(i)) => i.code,
            other => panic!("{other:?}"),
        };
        let (_, a_token) = Page::sorted(Some(&req(10, "")), b"a", items()).unwrap();
        assert_eq!(
            code(Page::sorted(Some(&req(10, &a_token)), b"b", items())),
            "page.bad_token"
        );
        assert_eq!(
            code(Page::sorted(Some(&req(10, &token(b"p"))), b"a", items())),
            "page.bad_token"
        );
        // An id-order token is not a sorted one either.
        assert!(matches!(
            Page::of(Some(&req(0, &a_token)), b"p"),
            Err(crate::ContractError::Invalid(i)) if i.code == "page.bad_token"
        ));
        let mut s = MemState::default();
        for i in 0..=MAX_SORTED_SCAN as u32 {
            s.put([b"z".as_slice(), &i.to_be_bytes()].concat(), vec![1]);
        }
        let all = scan_all(&s, b"z", |_, _| Ok(Some(()))).map(|_| ());
        assert!(matches!(all, Err(crate::ContractError::Invalid(i)) if i.code == "page.too_broad"));
    }
}
