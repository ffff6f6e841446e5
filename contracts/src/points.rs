//! The shared points ledger (CONTRACTS.md, "Shared: points ledger"): eco-points and volunteer
//! contribution points as two point types on one ledger.
//!
//! A balance belongs to (point type, issuer, holder): the issuer is the municipality that
//! minted the points and the only one a store settles them with. A balance is made of lots,
//! each with an expiry (the end of a JST day, or never); spending takes the lots that expire
//! first, and a transfer keeps each point's expiry. Expired lots are removed by rule: whenever
//! the holder's points move, or by anyone with `ExpirePoints`. For every (type, issuer), always:
//! `minted - burned - expired = sum of balances = sum of lots`; no balance is ever negative
//! (all amounts are `u64` with checked arithmetic); every movement emits a `PointsEvent` and is
//! appended to each holder's history.
//!
//! Minting happens only by rule (the eco and volunteer contracts call [`mint`] with a reason)
//! or by a municipality admin's `GrantPoints` with a mandatory recorded reason.
//!
//! Keys (all under `pts/`): `bal/{holder}{type}{issuer}` → u64, `lot/{holder}{type}{issuer}\0
//! {expiry_be}` → u64, `tot/{type}{issuer}` → [`Totals`], `hist/{holder}{seq_be}` →
//! [`Movement`], `hseq/{holder}` → u64, `set/{id}` → [`Settlement`], `seti/{issuer}\0{height_be}
//! {id}` → ().

use crate::calendar::{JST_OFFSET_MS, MS_PER_DAY};
use crate::error::{
    invalid_argument, not_found, permission_denied, precondition, ContractError, Failed, Result,
};
use crate::governance::{self, check_id, key32, Account, RoleKind};
use crate::page::Page;
use crate::state::{decode_borsh, get_borsh, put_borsh, scan_borsh};
use crate::text::check_text;
use crate::{pb, Exec, State, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};
use pb::points_call::Call as P;

/// Longest memo on a transfer.
pub const MAX_MEMO_CHARS: usize = 120;
/// Longest reason for a grant.
pub const MAX_REASON_CHARS: usize = 280;
/// Longest payment reference.
pub const MAX_PAYMENT_REF_CHARS: usize = 120;
/// Longest issuer (organization) id.
pub const MAX_ISSUER_LEN: usize = 64;
/// Most lots one spend may touch; with day-rounded expiry this is more than five years of
/// daily grants, so it binds only an abusive pattern.
pub const MAX_LOTS_PER_SPEND: usize = 4096;

/// Parameter: least eco-points a store may redeem at once.
pub const P_ECO_MIN_REDEEM: &str = "eco.min_redeem_points";
/// Parameter: least contribution points a store may redeem at once (a volunteer rule, read by
/// the volunteer contract too).
pub const P_CONTRIBUTION_MIN_REDEEM: &str = "volunteer.min_redeem_points";
/// Contribution points a store redeems at least when the parameter is not set.
pub const DEFAULT_CONTRIBUTION_MIN_REDEEM: u64 = 500;
/// Parameter: yen a municipality pays per redeemed eco-point.
pub const P_ECO_YEN_PER_POINT: &str = "eco.yen_per_point";
/// Parameter: yen a municipality pays per redeemed contribution point.
pub const P_CONTRIBUTION_YEN_PER_POINT: &str = "volunteer.yen_per_point";

/// Expiry of points that never expire.
const NEVER: u64 = u64::MAX;

/// The prefix of every points key.
pub const STATE_PREFIX: &[u8] = b"pts/";
const K_BAL: &[u8] = b"pts/bal/";
const K_LOT: &[u8] = b"pts/lot/";
const K_TOT: &[u8] = b"pts/tot/";
const K_HIST: &[u8] = b"pts/hist/";
const K_HSEQ: &[u8] = b"pts/hseq/";
const K_SET: &[u8] = b"pts/set/";
const K_SET_IDX: &[u8] = b"pts/seti/";

/// A point type.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum PointType {
    /// Eco-points.
    Eco,
    /// Volunteer contribution points.
    Contribution,
}

impl PointType {
    /// From the protobuf enum value.
    pub fn from_proto(v: i32) -> Result<PointType> {
        match pb::PointType::try_from(v) {
            Ok(pb::PointType::Eco) => Ok(PointType::Eco),
            Ok(pb::PointType::Contribution) => Ok(PointType::Contribution),
            _ => Err(invalid_argument(
                "points.invalid_point_type",
                "point_type must be POINT_TYPE_ECO or POINT_TYPE_CONTRIBUTION",
            )),
        }
    }

    /// To the protobuf enum.
    pub fn to_proto(self) -> pb::PointType {
        match self {
            PointType::Eco => pb::PointType::Eco,
            PointType::Contribution => pb::PointType::Contribution,
        }
    }

    fn byte(self) -> u8 {
        match self {
            PointType::Eco => 1,
            PointType::Contribution => 2,
        }
    }

    fn from_byte(b: u8) -> Option<PointType> {
        match b {
            1 => Some(PointType::Eco),
            2 => Some(PointType::Contribution),
            _ => None,
        }
    }

    fn min_redeem(self, state: &dyn StateRead, issuer: &str, height: u64) -> Result<u64> {
        match self {
            PointType::Eco => param(state, issuer, P_ECO_MIN_REDEEM, height, 100),
            PointType::Contribution => param(
                state,
                issuer,
                P_CONTRIBUTION_MIN_REDEEM,
                height,
                DEFAULT_CONTRIBUTION_MIN_REDEEM,
            ),
        }
    }

    fn yen_per_point(self, state: &dyn StateRead, issuer: &str, height: u64) -> Result<u64> {
        match self {
            PointType::Eco => param(state, issuer, P_ECO_YEN_PER_POINT, height, 1),
            PointType::Contribution => {
                param(state, issuer, P_CONTRIBUTION_YEN_PER_POINT, height, 1)
            }
        }
    }
}

/// A parameter as the issuing municipality set it, else the consortium-wide value, else
/// `default`.
fn param(state: &dyn StateRead, issuer: &str, key: &str, height: u64, default: u64) -> Result<u64> {
    Ok(governance::org_parameter_at(state, issuer, key, height)?
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(default))
}

/// Ever minted, burned and expired of one (type, issuer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Totals {
    /// Ever minted.
    pub minted: u64,
    /// Ever burned on redemption.
    pub burned: u64,
    /// Ever expired.
    pub expired: u64,
}

impl Totals {
    /// What is held now.
    pub fn outstanding(&self) -> u64 {
        self.minted
            .saturating_sub(self.burned)
            .saturating_sub(self.expired)
    }
}

/// One entry of a holder's history: what happened, and where.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Movement {
    /// Block height.
    pub height: u64,
    /// Block time.
    pub time_ms: u64,
    /// What happened.
    pub event: MovementKind,
}

/// What a movement was (borsh; shown as the API's `PointsEvent`).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum MovementKind {
    /// Points were minted.
    Minted {
        /// Type.
        point_type: PointType,
        /// Issuer.
        issuer: String,
        /// Holder.
        holder: Vec<u8>,
        /// Amount.
        amount: u64,
        /// Reason.
        reason: String,
        /// Expiry, 0 = never.
        expires_at_ms: u64,
    },
    /// Points moved between holders.
    Transferred {
        /// Type.
        point_type: PointType,
        /// Issuer.
        issuer: String,
        /// Sender.
        from: Vec<u8>,
        /// Receiver.
        to: Vec<u8>,
        /// Amount.
        amount: u64,
        /// Memo.
        memo: String,
    },
    /// A store redeemed points.
    Redeemed {
        /// Type.
        point_type: PointType,
        /// Issuer.
        issuer: String,
        /// Store.
        store: Vec<u8>,
        /// Amount.
        amount: u64,
        /// Settlement.
        settlement_id: String,
        /// Yen owed.
        yen: u64,
    },
    /// Points expired.
    Expired {
        /// Type.
        point_type: PointType,
        /// Issuer.
        issuer: String,
        /// Holder.
        holder: Vec<u8>,
        /// Amount.
        amount: u64,
    },
    /// A settlement was paid.
    Settled {
        /// Settlement.
        settlement_id: String,
        /// Payment reference.
        payment_reference: String,
    },
}

impl MovementKind {
    /// The record of an event this contract built.
    fn from_api(kind: &pb::points_event::Kind) -> Result<Self> {
        use pb::points_event::Kind as K;
        Ok(match kind {
            K::Minted(pb::PointsMinted {
                point_type,
                issuer,
                holder,
                amount,
                reason,
                expires_at_ms,
            }) => MovementKind::Minted {
                point_type: PointType::from_proto(*point_type)?,
                issuer: issuer.clone(),
                holder: holder.clone(),
                amount: *amount,
                reason: reason.clone(),
                expires_at_ms: *expires_at_ms,
            },
            K::Transferred(pb::PointsTransferred {
                point_type,
                issuer,
                from,
                to,
                amount,
                memo,
            }) => MovementKind::Transferred {
                point_type: PointType::from_proto(*point_type)?,
                issuer: issuer.clone(),
                from: from.clone(),
                to: to.clone(),
                amount: *amount,
                memo: memo.clone(),
            },
            K::Redeemed(pb::PointsRedeemed {
                point_type,
                issuer,
                store,
                amount,
                settlement_id,
                yen,
            }) => MovementKind::Redeemed {
                point_type: PointType::from_proto(*point_type)?,
                issuer: issuer.clone(),
                store: store.clone(),
                amount: *amount,
                settlement_id: settlement_id.clone(),
                yen: *yen,
            },
            K::Expired(pb::PointsExpired {
                point_type,
                issuer,
                holder,
                amount,
            }) => MovementKind::Expired {
                point_type: PointType::from_proto(*point_type)?,
                issuer: issuer.clone(),
                holder: holder.clone(),
                amount: *amount,
            },
            K::Settled(pb::RedemptionSettled {
                settlement_id,
                payment_reference,
            }) => MovementKind::Settled {
                settlement_id: settlement_id.clone(),
                payment_reference: payment_reference.clone(),
            },
        })
    }

    /// The event as the API shows it.
    fn into_api(self) -> pb::PointsEvent {
        use pb::points_event::Kind as K;
        let kind = match self {
            MovementKind::Minted {
                point_type,
                issuer,
                holder,
                amount,
                reason,
                expires_at_ms,
            } => K::Minted(pb::PointsMinted {
                point_type: point_type.to_proto() as i32,
                issuer,
                holder,
                amount,
                reason,
                expires_at_ms,
            }),
            MovementKind::Transferred {
                point_type,
                issuer,
                from,
                to,
                amount,
                memo,
            } => K::Transferred(pb::PointsTransferred {
                point_type: point_type.to_proto() as i32,
                issuer,
                from,
                to,
                amount,
                memo,
            }),
            MovementKind::Redeemed {
                point_type,
                issuer,
                store,
                amount,
                settlement_id,
                yen,
            } => K::Redeemed(pb::PointsRedeemed {
                point_type: point_type.to_proto() as i32,
                issuer,
                store,
                amount,
                settlement_id,
                yen,
            }),
            MovementKind::Expired {
                point_type,
                issuer,
                holder,
                amount,
            } => K::Expired(pb::PointsExpired {
                point_type: point_type.to_proto() as i32,
                issuer,
                holder,
                amount,
            }),
            MovementKind::Settled {
                settlement_id,
                payment_reference,
            } => K::Settled(pb::RedemptionSettled {
                settlement_id,
                payment_reference,
            }),
        };
        pb::PointsEvent { kind: Some(kind) }
    }
}

/// A redemption owed by the issuer.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Settlement {
    /// Id.
    pub id: String,
    /// Point type byte.
    pub point_type: u8,
    /// Issuer.
    pub issuer: String,
    /// Store account.
    pub store: [u8; 32],
    /// Points burned.
    pub points: u64,
    /// Yen owed.
    pub yen: u64,
    /// Redemption time.
    pub redeemed_at_ms: u64,
    /// Payment time, 0 while unpaid.
    pub settled_at_ms: u64,
    /// Payment reference.
    pub payment_reference: String,
}

fn account_key(prefix: &[u8], holder: &[u8; 32], ty: PointType, issuer: &str) -> Vec<u8> {
    [prefix, holder.as_slice(), &[ty.byte()], issuer.as_bytes()].concat()
}

fn lot_prefix(holder: &[u8; 32], ty: PointType, issuer: &str) -> Vec<u8> {
    let mut k = account_key(K_LOT, holder, ty, issuer);
    k.push(0);
    k
}

fn tot_key(ty: PointType, issuer: &str) -> Vec<u8> {
    [K_TOT, &[ty.byte()], issuer.as_bytes()].concat()
}

/// Round an expiry up to the end of its JST day (the exclusive boundary: midnight JST); 0 means
/// never. Day-rounding keeps the lots of a holder few: at most one per day.
pub fn round_expiry(expires_at_ms: u64) -> u64 {
    if expires_at_ms == 0 {
        return NEVER;
    }
    let shifted = expires_at_ms.saturating_add(JST_OFFSET_MS);
    shifted
        .div_ceil(MS_PER_DAY)
        .saturating_mul(MS_PER_DAY)
        .saturating_sub(JST_OFFSET_MS)
}

fn expiry_proto(e: u64) -> u64 {
    if e == NEVER {
        0
    } else {
        e
    }
}

fn check_issuer(issuer: &str) -> Result<()> {
    if issuer.is_empty() {
        return Err(invalid_argument(
            "points.invalid_issuer",
            "issuer (the issuing municipality's organization id) is empty",
        ));
    }
    check_id("issuer", issuer, MAX_ISSUER_LEN)
}

fn check_amount(amount: u64) -> Result<()> {
    if amount == 0 {
        return Err(invalid_argument(
            "points.zero_amount",
            "amount must be at least 1 point",
        ));
    }
    Ok(())
}

fn emit(x: &mut Exec<'_>, holders: &[&[u8; 32]], kind: pb::points_event::Kind) -> Result<()> {
    let record = MovementKind::from_api(&kind)?;
    let ev = pb::PointsEvent { kind: Some(kind) };
    for h in holders {
        let seq_key = [K_HSEQ, h.as_slice()].concat();
        let seq: u64 = get_borsh(&*x.state, &seq_key)?.unwrap_or(0);
        put_borsh(
            x.state,
            [K_HIST, h.as_slice(), &seq.to_be_bytes()].concat(),
            &Movement {
                height: x.ctx.height,
                time_ms: x.ctx.time_ms,
                event: record.clone(),
            },
        );
        put_borsh(x.state, seq_key, &(seq + 1));
    }
    x.emit(pb::event::Kind::Points(ev));
    Ok(())
}

fn update_totals(
    x: &mut Exec<'_>,
    ty: PointType,
    issuer: &str,
    f: impl Fn(&mut Totals) -> Option<()>,
) -> Result<()> {
    let k = tot_key(ty, issuer);
    let mut t: Totals = get_borsh(&*x.state, &k)?.unwrap_or_default();
    f(&mut t).ok_or_else(overflow)?;
    put_borsh(x.state, k, &t);
    Ok(())
}

fn overflow() -> crate::ContractError {
    invalid_argument("points.overflow", "the amount is too large")
}

fn balance_of(
    state: &dyn StateRead,
    holder: &[u8; 32],
    ty: PointType,
    issuer: &str,
) -> Result<u64> {
    Ok(get_borsh(state, &account_key(K_BAL, holder, ty, issuer))?.unwrap_or(0))
}

fn set_balance(x: &mut Exec<'_>, holder: &[u8; 32], ty: PointType, issuer: &str, v: u64) {
    put_borsh(x.state, account_key(K_BAL, holder, ty, issuer), &v);
}

/// The lots of one balance, earliest expiry first: (expiry, amount), expiry `u64::MAX` = never.
fn lots(
    state: &dyn StateRead,
    holder: &[u8; 32],
    ty: PointType,
    issuer: &str,
    limit: usize,
) -> Result<Vec<(u64, u64)>> {
    let prefix = lot_prefix(holder, ty, issuer);
    let rows: Vec<(Vec<u8>, u64)> = scan_borsh(state, &prefix, None, limit)?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, v)| {
            let e: [u8; 8] = k.get(prefix.len()..)?.try_into().ok()?;
            Some((u64::from_be_bytes(e), v))
        })
        .collect())
}

fn add_lot(
    x: &mut Exec<'_>,
    holder: &[u8; 32],
    ty: PointType,
    issuer: &str,
    expiry: u64,
    amount: u64,
) -> Result<()> {
    let k = [
        lot_prefix(holder, ty, issuer),
        expiry.to_be_bytes().to_vec(),
    ]
    .concat();
    let cur: u64 = get_borsh(&*x.state, &k)?.unwrap_or(0);
    put_borsh(x.state, k, &cur.checked_add(amount).ok_or_else(overflow)?);
    let bal = balance_of(&*x.state, holder, ty, issuer)?;
    set_balance(
        x,
        holder,
        ty,
        issuer,
        bal.checked_add(amount).ok_or_else(overflow)?,
    );
    Ok(())
}

/// Remove the holder's lots that expired by block time; returns how many points expired.
fn sweep(x: &mut Exec<'_>, holder: &[u8; 32], ty: PointType, issuer: &str) -> Result<u64> {
    let now = x.ctx.time_ms;
    let mut gone = 0u64;
    let prefix = lot_prefix(holder, ty, issuer);
    for (expiry, amount) in lots(&*x.state, holder, ty, issuer, MAX_LOTS_PER_SPEND)? {
        if expiry > now {
            break;
        }
        x.state
            .delete([prefix.as_slice(), &expiry.to_be_bytes()].concat());
        gone = gone.checked_add(amount).ok_or_else(overflow)?;
    }
    if gone > 0 {
        let bal = balance_of(&*x.state, holder, ty, issuer)?;
        set_balance(
            x,
            holder,
            ty,
            issuer,
            bal.checked_sub(gone).ok_or_else(overflow)?,
        );
        update_totals(x, ty, issuer, |t| {
            t.expired = t.expired.checked_add(gone)?;
            Some(())
        })?;
        emit(
            x,
            &[holder],
            pb::points_event::Kind::Expired(pb::PointsExpired {
                point_type: ty.to_proto() as i32,
                issuer: issuer.to_string(),
                holder: holder.to_vec(),
                amount: gone,
            }),
        )?;
    }
    Ok(gone)
}

/// Take `amount` spendable points from the holder, earliest expiry first (after removing
/// expired ones). Returns the lots taken.
fn debit(
    x: &mut Exec<'_>,
    holder: &[u8; 32],
    ty: PointType,
    issuer: &str,
    amount: u64,
) -> Result<Vec<(u64, u64)>> {
    sweep(x, holder, ty, issuer)?;
    let bal = balance_of(&*x.state, holder, ty, issuer)?;
    if bal < amount {
        return Err(precondition(
            "points.insufficient_balance",
            format!("the balance of spendable points is {bal}, less than the {amount} asked for"),
        ));
    }
    let prefix = lot_prefix(holder, ty, issuer);
    let mut left = amount;
    let mut taken = Vec::new();
    for (expiry, lot) in lots(&*x.state, holder, ty, issuer, MAX_LOTS_PER_SPEND)? {
        if left == 0 {
            break;
        }
        let k = [prefix.as_slice(), &expiry.to_be_bytes()].concat();
        let take = lot.min(left);
        if take == lot {
            x.state.delete(k);
        } else {
            put_borsh(x.state, k, &(lot - take));
        }
        taken.push((expiry, take));
        left -= take;
    }
    if left > 0 {
        return Err(precondition(
            "points.too_fragmented",
            format!(
                "the points are spread over more than {MAX_LOTS_PER_SPEND} expiry dates; spend fewer at once"
            ),
        ));
    }
    set_balance(x, holder, ty, issuer, bal - amount);
    Ok(taken)
}

/// Mint points by rule. The eco and volunteer contracts call this; `reason` is recorded in the
/// event, `expires_at_ms` 0 means never (else rounded up to the end of the JST day). The holder
/// must be a ledger account.
pub fn mint(
    x: &mut Exec<'_>,
    ty: PointType,
    issuer: &str,
    holder: &[u8; 32],
    amount: u64,
    reason: &str,
    expires_at_ms: u64,
) -> Result<()> {
    check_issuer(issuer)?;
    check_amount(amount)?;
    check_text("points", "reason", reason, MAX_REASON_CHARS, true)?;
    if governance::account(&*x.state, holder)?.is_none() {
        return Err(not_found(
            "points.unknown_holder",
            "the holder is not a ledger account",
        ));
    }
    let expiry = round_expiry(expires_at_ms);
    if expiry <= x.ctx.time_ms {
        return Err(invalid_argument(
            "points.already_expired",
            "expires_at_ms is not after the block time",
        ));
    }
    sweep(x, holder, ty, issuer)?;
    add_lot(x, holder, ty, issuer, expiry, amount)?;
    update_totals(x, ty, issuer, |t| {
        t.minted = t.minted.checked_add(amount)?;
        Some(())
    })?;
    emit(
        x,
        &[holder],
        pb::points_event::Kind::Minted(pb::PointsMinted {
            point_type: ty.to_proto() as i32,
            issuer: issuer.to_string(),
            holder: holder.to_vec(),
            amount,
            reason: reason.to_string(),
            expires_at_ms: expiry_proto(expiry),
        }),
    )
}

/// Mempool pre-check of the signer's role for a points call.
pub fn authorize(_state: &dyn StateRead, account: &Account, call: &pb::PointsCall) -> Result<()> {
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "points.unknown_call",
            "the points call is empty or unknown to this node",
        )),
        Some(P::Transfer(_) | P::Expire(_)) => Ok(()),
        Some(P::Redeem(_)) => account.require_any(&[RoleKind::Store], "redeeming points"),
        Some(P::Settle(_)) => {
            account.require_any(&[RoleKind::MunicipalityAdmin], "settling a redemption")
        }
        Some(P::Grant(_)) => {
            account.require_any(&[RoleKind::MunicipalityAdmin], "granting points by hand")
        }
    }
}

/// Name of a points call.
pub fn call_name(call: &pb::PointsCall) -> &'static str {
    match call.call {
        None => "points.unknown",
        Some(P::Transfer(_)) => "points.transfer",
        Some(P::Redeem(_)) => "points.redeem",
        Some(P::Settle(_)) => "points.settle",
        Some(P::Grant(_)) => "points.grant",
        Some(P::Expire(_)) => "points.expire",
    }
}

/// Initial points state: none.
pub fn init_genesis(_state: &mut dyn State) -> Result<()> {
    Ok(())
}

/// Execute a points call.
pub fn execute(x: &mut Exec<'_>, call: &pb::PointsCall) -> Result<()> {
    let signer = governance::signer_account(x)?;
    authorize(&*x.state, &signer, call)?;
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "points.unknown_call",
            "the points call is empty",
        )),
        Some(P::Transfer(c)) => transfer(x, c),
        Some(P::Redeem(c)) => redeem(x, c),
        Some(P::Settle(c)) => settle(x, &signer, c),
        Some(P::Grant(c)) => {
            let ty = PointType::from_proto(c.point_type)?;
            let holder = key32("holder", &c.holder)?;
            mint(
                x,
                ty,
                &signer.organization,
                &holder,
                c.amount,
                &c.reason,
                c.expires_at_ms,
            )
        }
        Some(P::Expire(c)) => {
            let ty = PointType::from_proto(c.point_type)?;
            check_issuer(&c.issuer)?;
            let holder = key32("holder", &c.holder)?;
            if sweep(x, &holder, ty, &c.issuer)? == 0 {
                return Err(precondition(
                    "points.nothing_expired",
                    "none of the holder's points of this type and issuer have expired",
                ));
            }
            Ok(())
        }
    }
}

fn transfer(x: &mut Exec<'_>, c: &pb::TransferPoints) -> Result<()> {
    let ty = PointType::from_proto(c.point_type)?;
    check_issuer(&c.issuer)?;
    check_amount(c.amount)?;
    check_text("points", "memo", &c.memo, MAX_MEMO_CHARS, false)?;
    let to = key32("to", &c.to)?;
    let from = x.ctx.signer;
    if to == from {
        return Err(invalid_argument(
            "points.self_transfer",
            "the recipient is the signer itself",
        ));
    }
    let store = governance::account(&*x.state, &to)?;
    if !store.is_some_and(|a| a.has_kind(RoleKind::Store)) {
        return Err(precondition(
            "points.recipient_not_store",
            "points can only be paid to a store: the recipient does not hold ROLE_STORE",
        ));
    }
    let taken = debit(x, &from, ty, &c.issuer, c.amount)?;
    sweep(x, &to, ty, &c.issuer)?;
    for (expiry, amount) in taken {
        add_lot(x, &to, ty, &c.issuer, expiry, amount)?;
    }
    emit(
        x,
        &[&from, &to],
        pb::points_event::Kind::Transferred(pb::PointsTransferred {
            point_type: ty.to_proto() as i32,
            issuer: c.issuer.clone(),
            from: from.to_vec(),
            to: to.to_vec(),
            amount: c.amount,
            memo: c.memo.clone(),
        }),
    )
}

/// The settlement id of a redemption: 128 bits of its transaction id, so it is known to the
/// store as soon as it signs and cannot be made to collide.
pub fn settlement_id_for(tx_id: &[u8; 32]) -> String {
    format!("s-{}", hex::encode(&tx_id[..16]))
}

fn redeem(x: &mut Exec<'_>, c: &pb::RedeemPoints) -> Result<()> {
    let ty = PointType::from_proto(c.point_type)?;
    check_issuer(&c.issuer)?;
    check_amount(c.amount)?;
    let min = ty.min_redeem(&*x.state, &c.issuer, x.ctx.height)?;
    if c.amount < min {
        return Err(precondition(
            "points.below_minimum_redemption",
            format!("at least {min} points must be redeemed at once"),
        ));
    }
    let store = x.ctx.signer;
    debit(x, &store, ty, &c.issuer, c.amount)?;
    update_totals(x, ty, &c.issuer, |t| {
        t.burned = t.burned.checked_add(c.amount)?;
        Some(())
    })?;
    let yen = c
        .amount
        .checked_mul(ty.yen_per_point(&*x.state, &c.issuer, x.ctx.height)?)
        .ok_or_else(overflow)?;
    let id = settlement_id_for(&x.ctx.tx_id);
    put_borsh(
        x.state,
        [K_SET, id.as_bytes()].concat(),
        &Settlement {
            id: id.clone(),
            point_type: ty.byte(),
            issuer: c.issuer.clone(),
            store,
            points: c.amount,
            yen,
            redeemed_at_ms: x.ctx.time_ms,
            settled_at_ms: 0,
            payment_reference: String::new(),
        },
    );
    put_borsh(
        x.state,
        [
            K_SET_IDX,
            c.issuer.as_bytes(),
            b"\0",
            &x.ctx.height.to_be_bytes(),
            id.as_bytes(),
        ]
        .concat(),
        &(),
    );
    emit(
        x,
        &[&store],
        pb::points_event::Kind::Redeemed(pb::PointsRedeemed {
            point_type: ty.to_proto() as i32,
            issuer: c.issuer.clone(),
            store: store.to_vec(),
            amount: c.amount,
            settlement_id: id,
            yen,
        }),
    )
}

fn settle(x: &mut Exec<'_>, signer: &Account, c: &pb::SettleRedemption) -> Result<()> {
    check_id("settlement_id", &c.settlement_id, 64)?;
    check_text(
        "points",
        "payment_reference",
        &c.payment_reference,
        MAX_PAYMENT_REF_CHARS,
        true,
    )?;
    let k = [K_SET, c.settlement_id.as_bytes()].concat();
    let mut s: Settlement = get_borsh(&*x.state, &k)?
        .ok_or_else(|| not_found("points.unknown_settlement", "no settlement has this id"))?;
    if s.issuer != signer.organization {
        return Err(permission_denied(
            "points.other_issuer",
            format!(
                "the settlement is owed by organization {}; only its municipality admins can settle it",
                s.issuer
            ),
        ));
    }
    if s.settled_at_ms != 0 {
        return Err(precondition(
            "points.already_settled",
            "the settlement was already paid",
        ));
    }
    s.settled_at_ms = x.ctx.time_ms;
    s.payment_reference = c.payment_reference.clone();
    put_borsh(x.state, k, &s);
    let store = s.store;
    emit(
        x,
        &[&store],
        pb::points_event::Kind::Settled(pb::RedemptionSettled {
            settlement_id: c.settlement_id.clone(),
            payment_reference: c.payment_reference.clone(),
        }),
    )
}

// ---- queries -------------------------------------------------------------------------------

/// A holder's balances at block time `now_ms`, one per (type, issuer) it ever held.
pub fn balances(
    state: &dyn StateRead,
    holder: &[u8; 32],
    now_ms: u64,
) -> Result<Vec<pb::PointsBalance>> {
    let prefix = [K_BAL, holder.as_slice()].concat();
    let rows: Vec<(Vec<u8>, u64)> = scan_borsh(state, &prefix, None, 1024)?;
    let mut out = Vec::new();
    for (k, _) in rows {
        let Some((&tb, issuer)) = k[prefix.len()..].split_first() else {
            continue;
        };
        let (Some(ty), Ok(issuer)) = (PointType::from_byte(tb), std::str::from_utf8(issuer)) else {
            continue;
        };
        out.push(balance(state, holder, ty, issuer, now_ms)?);
    }
    Ok(out)
}

/// One balance at block time `now_ms`.
pub fn balance(
    state: &dyn StateRead,
    holder: &[u8; 32],
    ty: PointType,
    issuer: &str,
    now_ms: u64,
) -> Result<pb::PointsBalance> {
    let mut b = pb::PointsBalance {
        point_type: ty.to_proto() as i32,
        issuer: issuer.to_string(),
        ..Default::default()
    };
    for (expiry, amount) in lots(state, holder, ty, issuer, MAX_LOTS_PER_SPEND)? {
        if expiry <= now_ms {
            b.expired_pending = b.expired_pending.saturating_add(amount);
            continue;
        }
        b.spendable = b.spendable.saturating_add(amount);
        if b.next_expiry_ms == 0 && expiry != NEVER {
            b.next_expiry_ms = expiry;
            b.next_expiry_amount = amount;
        }
    }
    Ok(b)
}

/// A page of a holder's movements, oldest first, and the token of the next page (empty when
/// there is none).
pub fn history(
    state: &dyn StateRead,
    holder: &[u8; 32],
    page: Option<&pb::PageRequest>,
) -> Result<(Vec<pb::PointsMovement>, String)> {
    let prefix = [K_HIST, holder.as_slice()].concat();
    Page::of(page, &prefix)?.scan(state, &prefix, |k, v| {
        let m: Movement = decode_borsh(k, v)?;
        Ok(Some(pb::PointsMovement {
            height: m.height,
            time_ms: m.time_ms,
            event: Some(m.event.into_api()),
        }))
    })
}

impl Settlement {
    /// To protobuf.
    pub fn to_proto(&self) -> pb::Settlement {
        pb::Settlement {
            settlement_id: self.id.clone(),
            point_type: PointType::from_byte(self.point_type)
                .map_or(pb::PointType::Unspecified, PointType::to_proto)
                as i32,
            issuer: self.issuer.clone(),
            store: self.store.to_vec(),
            points: self.points,
            yen: self.yen,
            redeemed_at_ms: self.redeemed_at_ms,
            settled_at_ms: self.settled_at_ms,
            payment_reference: self.payment_reference.clone(),
        }
    }
}

/// A settlement by id.
pub fn settlement(state: &dyn StateRead, id: &str) -> Result<Option<Settlement>> {
    get_borsh(state, &[K_SET, id.as_bytes()].concat())
}

/// A page of an issuer's settlements (all, or the unpaid ones), oldest first, and the token
/// of the next page (empty when there is none).
pub fn settlements(
    state: &dyn StateRead,
    issuer: &str,
    unpaid_only: bool,
    page: Option<&pb::PageRequest>,
) -> Result<(Vec<Settlement>, String)> {
    let prefix = [K_SET_IDX, issuer.as_bytes(), b"\0"].concat();
    Page::of(page, &prefix)?.scan(state, &prefix, |k, _| {
        let id = k
            .get(prefix.len() + 8..)
            .and_then(|id| std::str::from_utf8(id).ok())
            .ok_or_else(|| {
                ContractError::Failed(Failed("a settlement index key is malformed".into()))
            })?;
        Ok(settlement(state, id)?.filter(|s| !unpaid_only || s.settled_at_ms == 0))
    })
}

/// Totals of every (type, issuer).
pub fn all_totals(state: &dyn StateRead) -> Result<Vec<pb::PointsTotals>> {
    let rows: Vec<(Vec<u8>, Totals)> = scan_borsh(state, K_TOT, None, 4096)?;
    Ok(rows
        .into_iter()
        .filter_map(|(k, t)| {
            let (&tb, issuer) = k[K_TOT.len()..].split_first()?;
            let ty = PointType::from_byte(tb)?;
            Some(pb::PointsTotals {
                point_type: ty.to_proto() as i32,
                issuer: std::str::from_utf8(issuer).ok()?.to_string(),
                minted: t.minted,
                burned: t.burned,
                expired: t.expired,
                outstanding: t.outstanding(),
            })
        })
        .collect())
}

/// Totals of one (type, issuer).
pub fn totals(state: &dyn StateRead, ty: PointType, issuer: &str) -> Result<Totals> {
    Ok(get_borsh(state, &tot_key(ty, issuer))?.unwrap_or_default())
}

/// Whether a write set changes any points state (balances, lots, totals, history).
pub fn touches(writes: &crate::WriteSet) -> bool {
    writes
        .range(STATE_PREFIX.to_vec()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(STATE_PREFIX))
}

/// Check the ledger's invariant over the whole state: for every (type, issuer), `minted -
/// burned - expired` equals the sum of balances and the sum of lots. Returns a description of
/// the first violation. Used by property tests and audits.
pub fn check_invariant(state: &dyn StateRead) -> Result<std::result::Result<(), String>> {
    use std::collections::BTreeMap;
    let mut bal: BTreeMap<(u8, String), u128> = BTreeMap::new();
    let mut lot: BTreeMap<(u8, String), u128> = BTreeMap::new();
    for (k, v) in scan_borsh::<u64>(state, K_BAL, None, usize::MAX)? {
        let rest = &k[K_BAL.len() + 32..];
        let key = (rest[0], String::from_utf8_lossy(&rest[1..]).into_owned());
        *bal.entry(key).or_default() += u128::from(v);
    }
    for (k, v) in scan_borsh::<u64>(state, K_LOT, None, usize::MAX)? {
        let rest = &k[K_LOT.len() + 32..k.len() - 9];
        let key = (rest[0], String::from_utf8_lossy(&rest[1..]).into_owned());
        *lot.entry(key).or_default() += u128::from(v);
    }
    let tots: Vec<(Vec<u8>, Totals)> = scan_borsh(state, K_TOT, None, usize::MAX)?;
    let mut seen = 0;
    for (k, t) in tots {
        let key = (
            k[K_TOT.len()],
            String::from_utf8_lossy(&k[K_TOT.len() + 1..]).into_owned(),
        );
        let net = i128::from(t.minted) - i128::from(t.burned) - i128::from(t.expired);
        let b = bal.get(&key).copied().unwrap_or(0) as i128;
        let l = lot.get(&key).copied().unwrap_or(0) as i128;
        if net != b || net != l {
            return Ok(Err(format!(
                "{key:?}: minted - burned - expired = {net}, sum of balances = {b}, sum of lots = {l}"
            )));
        }
        if bal.contains_key(&key) {
            seen += 1;
        }
    }
    if seen != bal.len() {
        return Ok(Err("a balance exists without totals".into()));
    }
    Ok(Ok(()))
}
