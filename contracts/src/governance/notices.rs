//! Notification records: an organization's backend records on the ledger that it sent a
//! notification (a mail, an SMS, a push message, a letter) about a committed event, so that an
//! auditor can later check who was told what and when, as the study asks for sent mails.
//!
//! What is recorded is the event's cursor, the channel, what the notification was for, and a
//! keyed hash of the recipient's address (HMAC-SHA256 under a key only the organization holds,
//! docs/wire.md): never the address or the message. Without the key the hash links nothing;
//! with it, the organization shows that a given address was notified.

use super::*;
use crate::page::Page;

/// `gov/notice/<organization>/<id>`: one organization's notifications in the order recorded.
const K_NOTICE: &[u8] = b"gov/notice/";
/// The next notification id (shared by all organizations).
const K_NOTICE_NEXT: &[u8] = b"gov/noticenext";
/// Longest purpose code.
pub const MAX_PURPOSE_LEN: usize = 64;

/// One recorded notification.
#[derive(BorshSerialize, BorshDeserialize, Clone, Debug, PartialEq, Eq)]
struct Notice {
    id: u64,
    event_height: u64,
    event_index: u32,
    channel: i32,
    recipient_hash: [u8; 32],
    purpose: String,
    recorded_by: [u8; 32],
    recorded_at_ms: u64,
    height: u64,
}

impl Notice {
    fn to_api(&self, organization: &str) -> pb::Notification {
        pb::Notification {
            notification_id: self.id,
            organization: organization.to_string(),
            event: Some(pb::Cursor {
                height: self.event_height,
                index: self.event_index,
            }),
            channel: self.channel,
            recipient_hash: self.recipient_hash.to_vec(),
            purpose: self.purpose.clone(),
            recorded_by: self.recorded_by.to_vec(),
            recorded_at_ms: self.recorded_at_ms,
            height: self.height,
        }
    }
}

fn prefix(organization: &str) -> Vec<u8> {
    [K_NOTICE, organization.as_bytes(), b"/"].concat()
}

/// Record a notification the signer's organization sent.
pub(super) fn record(x: &mut Exec<'_>, signer: &Account, c: &pb::RecordNotification) -> Result<()> {
    // `authorize` refused an account without an organization.
    let event = c.event.ok_or_else(|| {
        invalid_argument(
            "governance.invalid_notification",
            "event (the cursor of the event the notification is about) is required",
        )
    })?;
    if event.height == 0 || event.height >= x.ctx.height {
        return Err(invalid_argument(
            "governance.invalid_notification",
            format!(
                "event must be committed before this block (height 1 to {}), got height {}",
                x.ctx.height.saturating_sub(1),
                event.height
            ),
        ));
    }
    match pb::NotificationChannel::try_from(c.channel) {
        Ok(pb::NotificationChannel::Unspecified) | Err(_) => {
            return Err(invalid_argument(
                "governance.invalid_notification",
                "channel must be a known NotificationChannel",
            ))
        }
        Ok(_) => {}
    }
    let recipient_hash = <[u8; 32]>::try_from(c.recipient_hash.as_slice())
        .ok()
        .filter(|h| *h != [0; 32])
        .ok_or_else(|| {
            invalid_argument(
                "governance.invalid_notification",
                format!(
                    "recipient_hash must be the 32-byte HMAC-SHA256 of the recipient under the organization's notification key, got {} bytes",
                    c.recipient_hash.len()
                ),
            )
        })?;
    if c.purpose.is_empty() {
        return Err(invalid_argument(
            "governance.invalid_notification",
            "purpose is required (a short code such as relief.shipment_arrived)",
        ));
    }
    check_id("purpose", &c.purpose, MAX_PURPOSE_LEN)?;
    let id = get_borsh::<u64>(&*x.state, K_NOTICE_NEXT)?.unwrap_or(1);
    put_borsh(x.state, K_NOTICE_NEXT.to_vec(), &(id + 1));
    let n = Notice {
        id,
        event_height: event.height,
        event_index: event.index,
        channel: c.channel,
        recipient_hash,
        purpose: c.purpose.clone(),
        recorded_by: x.ctx.signer,
        recorded_at_ms: x.ctx.time_ms,
        height: x.ctx.height,
    };
    put_borsh(
        x.state,
        [prefix(&signer.organization).as_slice(), &id.to_be_bytes()].concat(),
        &n,
    );
    x.emit(pb::event::Kind::Governance(pb::GovernanceEvent {
        kind: Some(pb::governance_event::Kind::NotificationRecorded(
            pb::NotificationRecorded {
                notification: Some(n.to_api(&signer.organization)),
            },
        )),
    }));
    Ok(())
}

/// An organization's notifications in the order recorded, optionally only those to one
/// recipient hash or about events of one height.
pub fn list_notifications(
    state: &dyn StateRead,
    r: &pb::ListNotificationsRequest,
) -> Result<pb::ListNotificationsResponse> {
    if r.organization.is_empty() {
        return Err(invalid_argument(
            "governance.bad_filter",
            "organization is required",
        ));
    }
    check_id("organization", &r.organization, 64)?;
    if !r.recipient_hash.is_empty() && r.recipient_hash.len() != 32 {
        return Err(invalid_argument(
            "governance.bad_filter",
            "recipient_hash must be 32 bytes",
        ));
    }
    let p = prefix(&r.organization);
    let (notifications, next_page_token) =
        Page::of(r.page.as_ref(), &p)?.scan(state, &p, |k, v| {
            let n: Notice = crate::state::decode_borsh(k, v)?;
            let ok = (r.recipient_hash.is_empty() || n.recipient_hash[..] == r.recipient_hash[..])
                && (r.event_height == 0 || n.event_height == r.event_height);
            Ok(ok.then(|| n.to_api(&r.organization)))
        })?;
    Ok(pb::ListNotificationsResponse {
        notifications,
        next_page_token,
    })
}
