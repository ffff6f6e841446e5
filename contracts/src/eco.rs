//! The eco contract (CONTRACTS.md §2): a municipality's J-Credit program-type project.
//!
//! Programs belong to a municipality (organization). Participants are pseudonymous ids bound to
//! a resident's account and a vault reference; devices (EV, PHV, home solar) are registered
//! under a keyed hash of their identity, unique across all programs. Each reading's reduction is
//! computed in grams CO2 with integer arithmetic from the emission factors of the fiscal year
//! of its period (governance parameters `eco.grid_g_per_mwh.fyYYYY` and
//! `eco.gasoline_mg_per_l.fyYYYY`); eco-points are minted on the shared points ledger at the
//! program's rate; credit reports claim each reading at most once.
//!
//! The formulas (CONTRACTS.md §2), with every intermediate in milligrams and one truncation to
//! grams at the end:
//! - EV/PHV: `BL_mg = distance_m * gasoline_mg_per_l / baseline_m_per_l`,
//!   `PJ_mg = electricity_wh * grid_g_per_mwh / 1000 + fuel_ml * gasoline_mg_per_l / 1000`,
//!   `ER_g = max(0, BL_mg - PJ_mg) / 1000`.
//! - Solar: `ER_g = electricity_wh * grid_g_per_mwh / 1_000_000` (`PJ = 0`).
//!
//! It owns every key under `eco/`. Reductions are stored as their protobuf encoding (prost
//! encodes fields in number order, so the bytes are deterministic).

use crate::calendar::fiscal_year;
use crate::error::{
    already_exists, invalid_argument, not_found, permission_denied, precondition, Result,
};
use crate::governance::{self, key32, Account, RoleKind};
use crate::page::Page;
use crate::points::{self, PointType};
use crate::state::{get_borsh, put_borsh, scan_borsh};
use crate::text::{check_ref, check_text};
use crate::{pb, Exec, State, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};
use pb::eco_call::Call as E;
use prost::Message;

/// Most t-CO2 one participant may reduce per fiscal year (CONTRACTS.md §2), in grams.
pub const MAX_GRAMS_PER_PARTICIPANT_YEAR: u64 = 500 * 1_000_000;
/// Default gasoline emission factor: 2.32 kg-CO2/L.
pub const DEFAULT_GASOLINE_MG_PER_L: u64 = 2_320_000;
/// Default methodology for vehicles.
pub const METHODOLOGY_VEHICLE: &str = "EN-S-012";
/// Default methodology for self-consumed solar.
pub const METHODOLOGY_SOLAR: &str = "EN-S-025";
/// Longest reading period: 366 days.
pub const MAX_PERIOD_MS: u64 = 366 * 86_400_000;
/// Most readings one credit report may examine; a longer period must be split.
pub const MAX_READINGS_PER_REPORT: usize = 20_000;
/// Largest value of a reading's counters (1 TWh, 10 million km, 1 million kL): far above any
/// household, and it keeps the arithmetic far from overflow.
pub const MAX_READING_VALUE: u64 = 1_000_000_000_000;
/// Most serial numbers per certification.
pub const MAX_SERIALS: usize = 100;

const K_PROG: &[u8] = b"eco/prog/";
const K_PART: &[u8] = b"eco/part/";
const K_PART_ACCT: &[u8] = b"eco/partacct/";
const K_DEV: &[u8] = b"eco/dev/";
const K_DEV_HASH: &[u8] = b"eco/devhash/";
const K_PART_DEV: &[u8] = b"eco/pdev/";
/// The readings, each with its reduction (`pb::Reduction`), stored once under
/// `prd/{participant}\0{device}\0{period_end_be}`: ordered by participant, device and period,
/// the record key is also each device's overlap index. The two indexes below map to it.
const K_PART_RD: &[u8] = b"eco/prd/";
/// A program's readings by period start: `grd/{program}\0{start_be}{reading id}` → record key.
const K_PROG_RD: &[u8] = b"eco/grd/";
const K_TOT: &[u8] = b"eco/tot/";
const K_RPT: &[u8] = b"eco/rpt/";
/// A report's readings: `rptrd/{report}\0{reading id}` → record key.
const K_RPT_RD: &[u8] = b"eco/rptrd/";
const K_COUNT: &[u8] = b"eco/cnt/";

/// Parameter name of the grid emission factor (g-CO2/MWh) of a fiscal year.
pub fn grid_param(fy: u64) -> String {
    format!("eco.grid_g_per_mwh.fy{fy}")
}

/// Parameter name of the gasoline emission factor (mg-CO2/L) of a fiscal year.
pub fn gasoline_param(fy: u64) -> String {
    format!("eco.gasoline_mg_per_l.fy{fy}")
}

/// A program.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Program {
    /// Id.
    pub id: String,
    /// Running municipality.
    pub organization: String,
    /// Name.
    pub name: String,
    /// Points per kg CO2.
    pub points_per_kg: u64,
    /// Days until points expire, 0 = never.
    pub points_expiry_days: u64,
}

/// A participant.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Participant {
    /// Pseudonymous id.
    pub id: String,
    /// Program.
    pub program: String,
    /// Account key.
    pub account: [u8; 32],
    /// Vault record id.
    pub vault_id: String,
    /// Vault commitment.
    pub commitment: [u8; 32],
    /// Removed.
    pub removed: bool,
    /// Grams reduced in total.
    pub reduced_g: u64,
    /// Grams not yet converted to points.
    pub ungranted_g: u64,
    /// Points granted.
    pub points_granted: u64,
    /// Grams reduced per fiscal year (for the 500 t limit), ascending by year.
    pub years: Vec<(u64, u64)>,
    /// Per device, the latest period end of its readings: a reading starting at or after it
    /// cannot overlap any other, so the overlap check needs no index scan (the usual case of
    /// readings arriving in order).
    pub latest_end: Vec<(String, u64)>,
}

/// A device.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Device {
    /// Id.
    pub id: String,
    /// Participant.
    pub participant: String,
    /// Program.
    pub program: String,
    /// Kind (protobuf `DeviceKind` value).
    pub kind: i32,
    /// Keyed identity hash.
    pub identity_hash: [u8; 32],
    /// Baseline, m/L.
    pub baseline_m_per_l: u64,
    /// Methodology.
    pub methodology: String,
    /// Removed.
    pub removed: bool,
}

/// Per (program, methodology, fiscal year) counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct Tally {
    readings: u64,
    grams: u64,
}

/// Per program counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct Counts {
    participants: u64,
    devices: u64,
}

/// What a reading reduces, as computed by [`compute`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Computed {
    /// Baseline emissions, g (truncated).
    pub baseline_g: u64,
    /// Project emissions, g (truncated).
    pub project_g: u64,
    /// Reduction, g: `max(0, BL_mg - PJ_mg) / 1000`.
    pub reduction_g: u64,
}

/// The reduction of one reading. Pure integer arithmetic in `u128`; every input is bounded by
/// [`MAX_READING_VALUE`] or a factor below 2^40, so nothing overflows.
pub fn compute(
    kind: pb::DeviceKind,
    baseline_m_per_l: u64,
    electricity_wh: u64,
    distance_m: u64,
    fuel_ml: u64,
    grid_g_per_mwh: u64,
    gasoline_mg_per_l: u64,
) -> Computed {
    let (e, d, f) = (
        u128::from(electricity_wh),
        u128::from(distance_m),
        u128::from(fuel_ml),
    );
    let (grid, gas) = (u128::from(grid_g_per_mwh), u128::from(gasoline_mg_per_l));
    let (bl_mg, pj_mg) = match kind {
        pb::DeviceKind::Solar => (e * grid / 1000, 0),
        _ => {
            let bl = if baseline_m_per_l == 0 {
                0
            } else {
                d * gas / u128::from(baseline_m_per_l)
            };
            (bl, e * grid / 1000 + f * gas / 1000)
        }
    };
    let g = |mg: u128| u64::try_from(mg / 1000).unwrap_or(u64::MAX);
    Computed {
        baseline_g: g(bl_mg),
        project_g: g(pj_mg),
        reduction_g: g(bl_mg.saturating_sub(pj_mg)),
    }
}

/// An object id from the id of the transaction that created it: 128 bits of a hash of the
/// signed transaction, so nobody can grind a transaction to collide with an existing id.
pub fn id_for(prefix: &str, tx_id: &[u8; 32]) -> String {
    format!("{prefix}-{}", hex::encode(&tx_id[..16]))
}

fn key(prefix: &[u8], id: &str) -> Vec<u8> {
    [prefix, id.as_bytes()].concat()
}

fn emit(x: &mut Exec<'_>, kind: pb::eco_event::Kind) {
    x.emit(pb::event::Kind::Eco(pb::EcoEvent { kind: Some(kind) }));
}

fn check_methodology(m: &str) -> Result<()> {
    if m.is_empty()
        || m.len() > 32
        || !m
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(invalid_argument(
            "eco.invalid_methodology",
            "methodology must be a J-Credit methodology id such as EN-S-012 (uppercase letters, digits, '-', at most 32)",
        ));
    }
    Ok(())
}

fn hash32(what: &str, b: &[u8]) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(b).map_err(|_| {
        invalid_argument(
            "eco.invalid_hash",
            format!("{what} must be 32 bytes, got {} bytes", b.len()),
        )
    })
}

fn check_baseline(kind: pb::DeviceKind, b: u64) -> Result<()> {
    match kind {
        pb::DeviceKind::Solar if b != 0 => Err(invalid_argument(
            "eco.baseline_for_solar",
            "baseline_m_per_l applies to vehicles only; it must be 0 for solar",
        )),
        pb::DeviceKind::Ev | pb::DeviceKind::Phv if !(1_000..=100_000).contains(&b) => {
            Err(invalid_argument(
                "eco.invalid_baseline",
                "baseline_m_per_l (fuel efficiency of the equivalent petrol car) must be between 1000 and 100000 metres per litre (1 to 100 km/L)",
            ))
        }
        _ => Ok(()),
    }
}

fn device_kind(v: i32) -> Result<pb::DeviceKind> {
    match pb::DeviceKind::try_from(v) {
        Ok(k @ (pb::DeviceKind::Ev | pb::DeviceKind::Phv | pb::DeviceKind::Solar)) => Ok(k),
        _ => Err(invalid_argument(
            "eco.invalid_device_kind",
            "kind must be DEVICE_KIND_EV, DEVICE_KIND_PHV or DEVICE_KIND_SOLAR",
        )),
    }
}

/// A program by id.
pub fn program(state: &dyn StateRead, id: &str) -> Result<Option<Program>> {
    get_borsh(state, &key(K_PROG, id))
}

/// A participant by id.
pub fn participant(state: &dyn StateRead, id: &str) -> Result<Option<Participant>> {
    get_borsh(state, &key(K_PART, id))
}

/// A device by id.
pub fn device(state: &dyn StateRead, id: &str) -> Result<Option<Device>> {
    get_borsh(state, &key(K_DEV, id))
}

fn decode_reduction(key: &[u8], bytes: &[u8]) -> Result<pb::Reduction> {
    pb::Reduction::decode(bytes).map_err(|e| {
        crate::ContractError::Failed(crate::Failed(format!(
            "the reading record at {} does not decode: {e}",
            crate::state::printable_key(key)
        )))
    })
}

/// The reading record an index entry points to.
fn reduction_at(state: &dyn StateRead, record_key: &[u8]) -> Result<Option<pb::Reduction>> {
    state
        .get(record_key)?
        .map(|b| decode_reduction(record_key, &b))
        .transpose()
}

/// A credit report by id.
pub fn report(state: &dyn StateRead, id: &str) -> Result<Option<pb::CreditReport>> {
    Ok(state
        .get(&key(K_RPT, id))?
        .and_then(|b| pb::CreditReport::decode(b.as_slice()).ok()))
}

fn req_program(state: &dyn StateRead, id: &str) -> Result<Program> {
    program(state, id)?.ok_or_else(|| not_found("eco.unknown_program", "no program has this id"))
}

fn req_participant(state: &dyn StateRead, id: &str) -> Result<Participant> {
    participant(state, id)?
        .filter(|p| !p.removed)
        .ok_or_else(|| {
            not_found(
                "eco.unknown_participant",
                "no active participant has this id",
            )
        })
}

fn req_device(state: &dyn StateRead, id: &str) -> Result<Device> {
    device(state, id)?
        .filter(|d| !d.removed)
        .ok_or_else(|| not_found("eco.unknown_device", "no active device has this id"))
}

fn req_report(state: &dyn StateRead, id: &str) -> Result<pb::CreditReport> {
    report(state, id)?
        .ok_or_else(|| not_found("eco.unknown_report", "no credit report has this id"))
}

/// The signer must be a municipality admin of the program's organization.
fn require_admin(signer: &Account, p: &Program) -> Result<()> {
    if signer.has_kind(RoleKind::MunicipalityAdmin) && signer.organization == p.organization {
        return Ok(());
    }
    Err(permission_denied(
        "eco.not_program_admin",
        format!(
            "only a municipality admin of organization {} (which runs program {}) may do this",
            p.organization, p.id
        ),
    ))
}

fn count(x: &mut Exec<'_>, program: &str, f: impl Fn(&mut Counts)) -> Result<()> {
    let k = key(K_COUNT, program);
    let mut c: Counts = get_borsh(&*x.state, &k)?.unwrap_or_default();
    f(&mut c);
    put_borsh(x.state, k, &c);
    Ok(())
}

/// Mempool pre-check of the signer's role for an eco call.
pub fn authorize(_state: &dyn StateRead, account: &Account, call: &pb::EcoCall) -> Result<()> {
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "eco.unknown_call",
            "the eco call is empty or unknown to this node",
        )),
        Some(E::SubmitReading(_)) => account.require_any(
            &[
                RoleKind::Meter,
                RoleKind::Resident,
                RoleKind::MunicipalityAdmin,
            ],
            "submitting a reading",
        ),
        Some(_) => account.require_any(&[RoleKind::MunicipalityAdmin], "managing an eco program"),
    }
}

/// Name of an eco call.
pub fn call_name(call: &pb::EcoCall) -> &'static str {
    match call.call {
        None => "eco.unknown",
        Some(E::CreateProgram(_)) => "eco.create_program",
        Some(E::RegisterParticipant(_)) => "eco.register_participant",
        Some(E::RemoveParticipant(_)) => "eco.remove_participant",
        Some(E::RegisterDevice(_)) => "eco.register_device",
        Some(E::UpdateDevice(_)) => "eco.update_device",
        Some(E::RemoveDevice(_)) => "eco.remove_device",
        Some(E::SubmitReading(_)) => "eco.submit_reading",
        Some(E::GrantPoints(_)) => "eco.grant_points",
        Some(E::CreateReport(_)) => "eco.create_report",
        Some(E::CertifyReport(_)) => "eco.certify_report",
        Some(E::RecordSale(_)) => "eco.record_sale",
    }
}

/// Initial eco state: none.
pub fn init_genesis(_state: &mut dyn State) -> Result<()> {
    Ok(())
}

/// Execute an eco call.
pub fn execute(x: &mut Exec<'_>, call: &pb::EcoCall) -> Result<()> {
    let signer = governance::signer_account(x)?;
    authorize(&*x.state, &signer, call)?;
    match call.call.as_ref() {
        None => Err(invalid_argument(
            "eco.unknown_call",
            "the eco call is empty",
        )),
        Some(E::CreateProgram(c)) => create_program(x, &signer, c),
        Some(E::RegisterParticipant(c)) => register_participant(x, &signer, c),
        Some(E::RemoveParticipant(c)) => remove_participant(x, &signer, c),
        Some(E::RegisterDevice(c)) => register_device(x, &signer, c),
        Some(E::UpdateDevice(c)) => update_device(x, &signer, c),
        Some(E::RemoveDevice(c)) => {
            check_ref("eco", "device_id", &c.device_id)?;
            let d = req_device(&*x.state, &c.device_id)?;
            require_admin(&signer, &req_program(&*x.state, &d.program)?)?;
            remove_device(x, d)
        }
        Some(E::SubmitReading(c)) => submit_reading(x, &signer, c),
        Some(E::GrantPoints(c)) => grant_points(x, &signer, c),
        Some(E::CreateReport(c)) => create_report(x, &signer, c),
        Some(E::CertifyReport(c)) => certify_report(x, &signer, c),
        Some(E::RecordSale(c)) => record_sale(x, &signer, c),
    }
}

fn create_program(x: &mut Exec<'_>, signer: &Account, c: &pb::CreateProgram) -> Result<()> {
    check_ref("eco", "program_id", &c.program_id)?;
    check_text("eco", "name", &c.name, 120, true)?;
    if c.points_per_kg == 0 || c.points_per_kg > 1_000_000 {
        return Err(invalid_argument(
            "eco.invalid_rate",
            "points_per_kg must be between 1 and 1000000",
        ));
    }
    if c.points_expiry_days > 36_500 {
        return Err(invalid_argument(
            "eco.invalid_expiry",
            "points_expiry_days must be at most 36500 (0 = never)",
        ));
    }
    if program(&*x.state, &c.program_id)?.is_some() {
        return Err(already_exists(
            "eco.program_exists",
            "a program with this id already exists",
        ));
    }
    let p = Program {
        id: c.program_id.clone(),
        organization: signer.organization.clone(),
        name: c.name.clone(),
        points_per_kg: c.points_per_kg,
        points_expiry_days: c.points_expiry_days,
    };
    put_borsh(x.state, key(K_PROG, &p.id), &p);
    emit(
        x,
        pb::eco_event::Kind::ProgramCreated(pb::EcoProgramCreated {
            program: Some(p.to_proto()),
        }),
    );
    Ok(())
}

fn register_participant(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::RegisterParticipant,
) -> Result<()> {
    check_ref("eco", "program_id", &c.program_id)?;
    let p = req_program(&*x.state, &c.program_id)?;
    require_admin(signer, &p)?;
    let account = key32("account", &c.account)?;
    let person = c.person.as_ref().ok_or_else(|| {
        invalid_argument(
            "eco.missing_person",
            "person (the vault reference from PersonalData.Put) is required",
        )
    })?;
    check_ref("eco", "person.vault_id", &person.vault_id)?;
    let commitment = hash32("person.commitment", &person.commitment)?;
    let acct = governance::account(&*x.state, &account)?;
    if !acct.is_some_and(|a| a.has_kind(RoleKind::Resident)) {
        return Err(precondition(
            "eco.not_resident",
            "the participant's account must hold ROLE_RESIDENT",
        ));
    }
    let by_acct = [K_PART_ACCT, p.id.as_bytes(), b"\0", account.as_slice()].concat();
    if let Some(existing) = get_borsh::<String>(&*x.state, &by_acct)? {
        if participant(&*x.state, &existing)?.is_some_and(|q| !q.removed) {
            return Err(already_exists(
                "eco.already_participating",
                format!(
                    "this account already participates in program {} as {existing}",
                    p.id
                ),
            ));
        }
    }
    let id = id_for("p", &x.ctx.tx_id);
    let part = Participant {
        id: id.clone(),
        program: p.id.clone(),
        account,
        vault_id: person.vault_id.clone(),
        commitment,
        removed: false,
        reduced_g: 0,
        ungranted_g: 0,
        points_granted: 0,
        years: Vec::new(),
        latest_end: Vec::new(),
    };
    put_borsh(x.state, key(K_PART, &id), &part);
    put_borsh(x.state, by_acct, &id);
    count(x, &p.id, |c| c.participants += 1)?;
    emit(
        x,
        pb::eco_event::Kind::ParticipantRegistered(pb::ParticipantRegistered {
            program_id: p.id,
            participant_id: id,
            account: account.to_vec(),
        }),
    );
    Ok(())
}

fn remove_participant(x: &mut Exec<'_>, signer: &Account, c: &pb::RemoveParticipant) -> Result<()> {
    check_ref("eco", "participant_id", &c.participant_id)?;
    let mut part = req_participant(&*x.state, &c.participant_id)?;
    require_admin(signer, &req_program(&*x.state, &part.program)?)?;
    let prefix = [K_PART_DEV, part.id.as_bytes(), b"/"].concat();
    for (k, _) in x.state.scan(&prefix, None, 10_000)? {
        let dev_id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
        if let Some(d) = device(&*x.state, &dev_id)?.filter(|d| !d.removed) {
            remove_device(x, d)?;
        }
    }
    part.removed = true;
    put_borsh(x.state, key(K_PART, &part.id), &part);
    count(x, &part.program, |c| {
        c.participants = c.participants.saturating_sub(1)
    })?;
    emit(
        x,
        pb::eco_event::Kind::ParticipantRemoved(pb::ParticipantRemoved {
            participant_id: part.id,
        }),
    );
    Ok(())
}

fn register_device(x: &mut Exec<'_>, signer: &Account, c: &pb::RegisterDevice) -> Result<()> {
    check_ref("eco", "participant_id", &c.participant_id)?;
    let part = req_participant(&*x.state, &c.participant_id)?;
    require_admin(signer, &req_program(&*x.state, &part.program)?)?;
    let kind = device_kind(c.kind)?;
    let identity_hash = hash32("identity_hash", &c.identity_hash)?;
    check_baseline(kind, c.baseline_m_per_l)?;
    let methodology = if c.methodology.is_empty() {
        match kind {
            pb::DeviceKind::Solar => METHODOLOGY_SOLAR,
            _ => METHODOLOGY_VEHICLE,
        }
        .to_string()
    } else {
        check_methodology(&c.methodology)?;
        c.methodology.clone()
    };
    let hk = key(K_DEV_HASH, "")
        .into_iter()
        .chain(identity_hash)
        .collect::<Vec<u8>>();
    if let Some(other) = get_borsh::<String>(&*x.state, &hk)? {
        let prog = device(&*x.state, &other)?
            .map(|d| d.program)
            .unwrap_or_default();
        return Err(already_exists(
            "eco.device_already_registered",
            format!("this device is already registered (as {other} in program {prog}); a device may be in one program only"),
        ));
    }
    let d = Device {
        id: id_for("d", &x.ctx.tx_id),
        participant: part.id.clone(),
        program: part.program.clone(),
        kind: kind as i32,
        identity_hash,
        baseline_m_per_l: c.baseline_m_per_l,
        methodology,
        removed: false,
    };
    put_borsh(x.state, hk, &d.id);
    put_borsh(x.state, key(K_DEV, &d.id), &d);
    x.state.put(
        [K_PART_DEV, part.id.as_bytes(), b"/", d.id.as_bytes()].concat(),
        Vec::new(),
    );
    count(x, &part.program, |c| c.devices += 1)?;
    emit(
        x,
        pb::eco_event::Kind::DeviceRegistered(pb::DeviceRegistered {
            device: Some(d.to_proto()),
        }),
    );
    Ok(())
}

fn update_device(x: &mut Exec<'_>, signer: &Account, c: &pb::UpdateDevice) -> Result<()> {
    check_ref("eco", "device_id", &c.device_id)?;
    let mut d = req_device(&*x.state, &c.device_id)?;
    require_admin(signer, &req_program(&*x.state, &d.program)?)?;
    let kind = device_kind(d.kind)?;
    if c.baseline_m_per_l != 0 {
        check_baseline(kind, c.baseline_m_per_l)?;
        d.baseline_m_per_l = c.baseline_m_per_l;
    }
    if !c.methodology.is_empty() {
        check_methodology(&c.methodology)?;
        d.methodology = c.methodology.clone();
    }
    put_borsh(x.state, key(K_DEV, &d.id), &d);
    emit(
        x,
        pb::eco_event::Kind::DeviceRegistered(pb::DeviceRegistered {
            device: Some(d.to_proto()),
        }),
    );
    Ok(())
}

fn remove_device(x: &mut Exec<'_>, mut d: Device) -> Result<()> {
    x.state.delete(
        key(K_DEV_HASH, "")
            .into_iter()
            .chain(d.identity_hash)
            .collect(),
    );
    d.removed = true;
    put_borsh(x.state, key(K_DEV, &d.id), &d);
    count(x, &d.program, |c| c.devices = c.devices.saturating_sub(1))?;
    emit(
        x,
        pb::eco_event::Kind::DeviceRemoved(pb::DeviceRemoved { device_id: d.id }),
    );
    Ok(())
}

fn factor(state: &dyn StateRead, name: &str, height: u64) -> Result<Option<u64>> {
    Ok(governance::parameter_at(state, name, height)?.and_then(|v| u64::try_from(v).ok()))
}

fn submit_reading(x: &mut Exec<'_>, signer: &Account, c: &pb::SubmitReading) -> Result<()> {
    check_ref("eco", "device_id", &c.device_id)?;
    let d = req_device(&*x.state, &c.device_id)?;
    let prog = req_program(&*x.state, &d.program)?;
    let mut part = req_participant(&*x.state, &d.participant)?;
    // Who may submit: the program's meter gateway, or by hand with evidence.
    let meter = signer.has_kind(RoleKind::Meter) && signer.organization == prog.organization;
    let manual_ok = signer.key == part.account
        || (signer.has_kind(RoleKind::MunicipalityAdmin)
            && signer.organization == prog.organization);
    if !meter && !manual_ok {
        return Err(permission_denied(
            "eco.not_allowed_to_submit",
            format!("a reading of this device may be submitted by a meter gateway of {}, a municipality admin of it, or the participant itself", prog.organization),
        ));
    }
    let manual = !meter;
    if manual || !c.evidence_hash.is_empty() {
        if c.evidence_hash.is_empty() {
            return Err(invalid_argument(
                "eco.missing_evidence",
                "a manual reading needs evidence_hash: the 32-byte hash of the receipt or meter photo (the file itself stays off the ledger)",
            ));
        }
        hash32("evidence_hash", &c.evidence_hash)?;
    }
    if c.period_start_ms >= c.period_end_ms {
        return Err(invalid_argument(
            "eco.invalid_period",
            "period_start_ms must be before period_end_ms",
        ));
    }
    if c.period_end_ms > x.ctx.time_ms {
        return Err(invalid_argument(
            "eco.future_period",
            "the reading's period ends after the block time",
        ));
    }
    if c.period_end_ms - c.period_start_ms > MAX_PERIOD_MS {
        return Err(invalid_argument(
            "eco.period_too_long",
            "a reading may cover at most 366 days",
        ));
    }
    let fy = fiscal_year(c.period_start_ms);
    if fiscal_year(c.period_end_ms - 1) != fy {
        return Err(invalid_argument(
            "eco.period_spans_fiscal_years",
            "a reading's period must lie within one fiscal year (April to March, JST): split it at 1 April",
        ));
    }
    for (what, v) in [
        ("electricity_wh", c.electricity_wh),
        ("distance_m", c.distance_m),
        ("fuel_ml", c.fuel_ml),
        ("grid_wh", c.grid_wh),
    ] {
        if v > MAX_READING_VALUE {
            return Err(invalid_argument(
                "eco.value_out_of_range",
                format!("{what} is larger than {MAX_READING_VALUE}"),
            ));
        }
    }
    let kind = device_kind(d.kind)?;
    match kind {
        pb::DeviceKind::Ev if c.fuel_ml != 0 => {
            return Err(invalid_argument(
                "eco.fuel_for_ev",
                "an EV uses no fuel: fuel_ml must be 0",
            ))
        }
        pb::DeviceKind::Solar if c.distance_m != 0 || c.fuel_ml != 0 => {
            return Err(invalid_argument(
                "eco.vehicle_values_for_solar",
                "a solar installation has no distance or fuel: distance_m and fuel_ml must be 0",
            ))
        }
        pb::DeviceKind::Ev | pb::DeviceKind::Phv | pb::DeviceKind::Solar => {}
        pb::DeviceKind::Unspecified => {}
    }
    if kind != pb::DeviceKind::Solar && c.grid_wh != 0 {
        return Err(invalid_argument(
            "eco.grid_for_vehicle",
            "grid_wh applies to solar installations only",
        ));
    }
    // Overlap: the first reading of the device ending after our start must start at or
    // after our end. No reading ends after the device's latest end, so a period starting at
    // or after it needs no scan.
    let end_prefix = [K_PART_RD, part.id.as_bytes(), b"\0", d.id.as_bytes(), b"\0"].concat();
    let latest = part.latest_end.iter().position(|(dev, _)| *dev == d.id);
    let first_after = if latest.is_some_and(|i| part.latest_end[i].1 > c.period_start_ms) {
        let after = [end_prefix.as_slice(), &c.period_start_ms.to_be_bytes()].concat();
        x.state
            .scan(&end_prefix, Some(&after), 1)?
            .into_iter()
            .next()
    } else {
        None
    };
    if let Some((k, v)) = first_after {
        let other = decode_reduction(&k, &v)?;
        if other.period_start_ms < c.period_end_ms {
            return Err(precondition(
                "eco.overlapping_reading",
                format!(
                    "the period overlaps reading {} of this device",
                    other.reading_id
                ),
            ));
        }
    }
    let grid = factor(&*x.state, &grid_param(fy), x.ctx.height)?.ok_or_else(|| {
        precondition(
            "eco.missing_grid_factor",
            format!("no grid emission factor is set for FY{fy}: a municipality admin must set parameter {}", grid_param(fy)),
        )
    })?;
    // The gasoline factor is used for vehicles only (recorded as 0 for solar).
    let gas = if kind == pb::DeviceKind::Solar {
        0
    } else {
        factor(&*x.state, &gasoline_param(fy), x.ctx.height)?.unwrap_or(DEFAULT_GASOLINE_MG_PER_L)
    };
    if grid > 1 << 40 || gas > 1 << 40 {
        return Err(precondition(
            "eco.factor_out_of_range",
            "an emission factor parameter is out of range",
        ));
    }
    let r = compute(
        kind,
        d.baseline_m_per_l,
        c.electricity_wh,
        c.distance_m,
        c.fuel_ml,
        grid,
        gas,
    );
    let year = part
        .years
        .iter()
        .find(|(y, _)| *y == fy)
        .map_or(0, |(_, g)| *g);
    let year_new = year.saturating_add(r.reduction_g);
    if year_new > MAX_GRAMS_PER_PARTICIPANT_YEAR {
        return Err(precondition(
            "eco.annual_limit",
            format!("this reading would take the participant's FY{fy} reductions to {year_new} g, above the 500 t-CO2 limit per participant and year"),
        ));
    }
    let id = id_for("r", &x.ctx.tx_id);
    let red = pb::Reduction {
        reading_id: id.clone(),
        device_id: d.id.clone(),
        participant_id: part.id.clone(),
        program_id: prog.id.clone(),
        methodology: d.methodology.clone(),
        period_start_ms: c.period_start_ms,
        period_end_ms: c.period_end_ms,
        fiscal_year: u32::try_from(fy).unwrap_or(u32::MAX),
        reading: Some(c.clone()),
        grid_g_per_mwh: grid,
        gasoline_mg_per_l: gas,
        baseline_g: r.baseline_g,
        project_g: r.project_g,
        reduction_g: r.reduction_g,
        manual,
        report_id: String::new(),
        height: x.ctx.height,
    };
    let record_key = [end_prefix.as_slice(), &c.period_end_ms.to_be_bytes()].concat();
    x.state.put(
        [
            K_PROG_RD,
            prog.id.as_bytes(),
            b"\0",
            &c.period_start_ms.to_be_bytes(),
            id.as_bytes(),
        ]
        .concat(),
        record_key.clone(),
    );
    x.state.put(record_key, red.encode_to_vec());
    match part.years.binary_search_by_key(&fy, |(y, _)| *y) {
        Ok(i) => part.years[i].1 = year_new,
        Err(i) => part.years.insert(i, (fy, year_new)),
    }
    let tk = tally_key(&prog.id, &d.methodology, fy);
    let mut t: Tally = get_borsh(&*x.state, &tk)?.unwrap_or_default();
    t.readings = crate::arith::add("eco", "readings", t.readings, 1)?;
    t.grams = crate::arith::add("eco", "grams", t.grams, r.reduction_g)?;
    put_borsh(x.state, tk, &t);
    part.reduced_g = crate::arith::add("eco", "reduced_g", part.reduced_g, r.reduction_g)?;
    part.ungranted_g = crate::arith::add("eco", "ungranted_g", part.ungranted_g, r.reduction_g)?;
    match latest {
        Some(i) => part.latest_end[i].1 = part.latest_end[i].1.max(c.period_end_ms),
        None => part.latest_end.push((d.id.clone(), c.period_end_ms)),
    }
    put_borsh(x.state, key(K_PART, &part.id), &part);
    emit(
        x,
        pb::eco_event::Kind::ReductionRecorded(pb::ReductionRecorded {
            reduction: Some(red),
        }),
    );
    Ok(())
}

fn tally_key(program: &str, methodology: &str, fy: u64) -> Vec<u8> {
    [
        K_TOT,
        program.as_bytes(),
        b"\0",
        methodology.as_bytes(),
        b"\0",
        &fy.to_be_bytes(),
    ]
    .concat()
}

fn grant_points(x: &mut Exec<'_>, signer: &Account, c: &pb::GrantEcoPoints) -> Result<()> {
    check_ref("eco", "participant_id", &c.participant_id)?;
    let mut part = req_participant(&*x.state, &c.participant_id)?;
    let prog = req_program(&*x.state, &part.program)?;
    require_admin(signer, &prog)?;
    let rate = u128::from(prog.points_per_kg);
    let pts = u128::from(part.ungranted_g) * rate / 1000;
    if pts == 0 {
        return Err(precondition(
            "eco.nothing_to_grant",
            "the participant's reductions not yet granted are worth less than one point",
        ));
    }
    // Grams used up by whole points; the rest waits for the next grant.
    let used = u64::try_from((pts * 1000).div_ceil(rate)).unwrap_or(u64::MAX);
    let pts = u64::try_from(pts).unwrap_or(u64::MAX);
    let expires = if prog.points_expiry_days == 0 {
        0
    } else {
        x.ctx
            .time_ms
            .saturating_add(prog.points_expiry_days.saturating_mul(86_400_000))
    };
    points::mint(
        x,
        PointType::Eco,
        &prog.organization,
        &part.account,
        pts,
        &format!("eco.reductions {} g participant {}", used, part.id),
        expires,
    )?;
    part.ungranted_g = part.ungranted_g.saturating_sub(used);
    part.points_granted = crate::arith::add("eco", "points_granted", part.points_granted, pts)?;
    put_borsh(x.state, key(K_PART, &part.id), &part);
    emit(
        x,
        pb::eco_event::Kind::PointsGranted(pb::EcoPointsGranted {
            participant_id: part.id,
            grams: used,
            points: pts,
        }),
    );
    Ok(())
}

fn create_report(x: &mut Exec<'_>, signer: &Account, c: &pb::CreateCreditReport) -> Result<()> {
    check_ref("eco", "program_id", &c.program_id)?;
    let prog = req_program(&*x.state, &c.program_id)?;
    require_admin(signer, &prog)?;
    if c.period_start_ms >= c.period_end_ms {
        return Err(invalid_argument(
            "eco.invalid_period",
            "period_start_ms must be before period_end_ms",
        ));
    }
    let prefix = [K_PROG_RD, prog.id.as_bytes(), b"\0"].concat();
    // Entries with a start at or after the period start.
    let after = c
        .period_start_ms
        .checked_sub(1)
        .map(|s| [prefix.as_slice(), &s.to_be_bytes(), &[0xff]].concat());
    let rows = x
        .state
        .scan(&prefix, after.as_deref(), MAX_READINGS_PER_REPORT + 1)?;
    let id = id_for("c", &x.ctx.tx_id);
    let mut claimed = Vec::new();
    let mut examined = 0usize;
    let mut complete = rows.len() <= MAX_READINGS_PER_REPORT;
    for (k, record_key) in rows {
        let Some(start_bytes) = k.get(prefix.len()..prefix.len() + 8) else {
            continue;
        };
        let start = u64::from_be_bytes(start_bytes.try_into().unwrap_or([0xff; 8]));
        if start >= c.period_end_ms {
            complete = true;
            break;
        }
        examined += 1;
        if examined > MAX_READINGS_PER_REPORT {
            break;
        }
        if let Some(r) = reduction_at(&*x.state, &record_key)? {
            if r.report_id.is_empty() && r.period_end_ms <= c.period_end_ms {
                claimed.push((record_key, r));
            }
        }
    }
    if !complete {
        return Err(precondition(
            "eco.period_too_large",
            format!("the period has more than {MAX_READINGS_PER_REPORT} readings: split it into shorter periods"),
        ));
    }
    if claimed.is_empty() {
        return Err(precondition(
            "eco.nothing_to_claim",
            "the period has no reading that is not already claimed by a report",
        ));
    }
    let mut by: std::collections::BTreeMap<(String, u32), (u64, u64)> = Default::default();
    let mut parts = std::collections::BTreeSet::new();
    let mut total = 0u64;
    for (record_key, r) in &mut claimed {
        r.report_id = id.clone();
        let e = by
            .entry((r.methodology.clone(), r.fiscal_year))
            .or_default();
        e.0 += 1;
        e.1 = crate::arith::add("eco", "methodology total", e.1, r.reduction_g)?;
        total = crate::arith::add("eco", "total", total, r.reduction_g)?;
        parts.insert(r.participant_id.clone());
        x.state.put(record_key.clone(), r.encode_to_vec());
        x.state.put(
            [K_RPT_RD, id.as_bytes(), b"\0", r.reading_id.as_bytes()].concat(),
            record_key.clone(),
        );
    }
    let rep = pb::CreditReport {
        report_id: id.clone(),
        program_id: prog.id.clone(),
        period_start_ms: c.period_start_ms,
        period_end_ms: c.period_end_ms,
        readings: claimed.len() as u64,
        participants: parts.len() as u64,
        total_g: total,
        by_methodology: by
            .into_iter()
            .map(|((m, fy), (n, g))| pb::MethodologyTotal {
                methodology: m,
                fiscal_year: fy,
                readings: n,
                reduction_g: g,
            })
            .collect(),
        created_at_ms: x.ctx.time_ms,
        ..Default::default()
    };
    x.state.put(key(K_RPT, &id), rep.encode_to_vec());
    emit(
        x,
        pb::eco_event::Kind::ReportCreated(pb::CreditReportCreated { report: Some(rep) }),
    );
    Ok(())
}

fn certify_report(x: &mut Exec<'_>, signer: &Account, c: &pb::CertifyCreditReport) -> Result<()> {
    check_ref("eco", "report_id", &c.report_id)?;
    let mut rep = req_report(&*x.state, &c.report_id)?;
    require_admin(signer, &req_program(&*x.state, &rep.program_id)?)?;
    if rep.certified_at_ms != 0 {
        return Err(precondition(
            "eco.already_certified",
            "the report was already certified",
        ));
    }
    let max = rep.total_g / 1_000_000;
    if c.certified_tonnes > max {
        return Err(precondition(
            "eco.certified_above_report",
            format!(
                "the report claims {} g, so at most {max} whole t-CO2 can be certified",
                rep.total_g
            ),
        ));
    }
    if c.serial_numbers.is_empty() || c.serial_numbers.len() > MAX_SERIALS {
        return Err(invalid_argument(
            "eco.invalid_serials",
            format!("serial_numbers must list 1 to {MAX_SERIALS} credit serial numbers"),
        ));
    }
    for s in &c.serial_numbers {
        if s.is_empty()
            || s.len() > 64
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
        {
            return Err(invalid_argument(
                "eco.invalid_serial",
                "each serial number must be 1 to 64 ASCII letters, digits, '-', '_', '.' or '/'",
            ));
        }
    }
    rep.certified_tonnes = c.certified_tonnes;
    rep.serial_numbers = c.serial_numbers.clone();
    rep.certified_at_ms = x.ctx.time_ms;
    x.state.put(key(K_RPT, &rep.report_id), rep.encode_to_vec());
    emit(
        x,
        pb::eco_event::Kind::ReportCertified(pb::CreditReportCertified {
            report_id: rep.report_id,
            certified_tonnes: c.certified_tonnes,
            serial_numbers: c.serial_numbers.clone(),
        }),
    );
    Ok(())
}

fn record_sale(x: &mut Exec<'_>, signer: &Account, c: &pb::RecordCreditSale) -> Result<()> {
    check_ref("eco", "report_id", &c.report_id)?;
    check_text("eco", "buyer", &c.buyer, 120, true)?;
    let mut rep = req_report(&*x.state, &c.report_id)?;
    require_admin(signer, &req_program(&*x.state, &rep.program_id)?)?;
    if rep.certified_at_ms == 0 {
        return Err(precondition(
            "eco.not_certified",
            "credits can be sold only after the report is certified",
        ));
    }
    let sold: u64 = rep.sales.iter().map(|s| s.tonnes).sum();
    if c.tonnes == 0 || sold.saturating_add(c.tonnes) > rep.certified_tonnes {
        return Err(precondition(
            "eco.sale_above_certified",
            format!(
                "{} t are certified and {sold} t already sold: a sale must be between 1 and {} t",
                rep.certified_tonnes,
                rep.certified_tonnes.saturating_sub(sold)
            ),
        ));
    }
    let sale = pb::CreditSale {
        buyer: c.buyer.clone(),
        tonnes: c.tonnes,
        price_yen_per_tonne: c.price_yen_per_tonne,
        recorded_at_ms: x.ctx.time_ms,
    };
    rep.sales.push(sale.clone());
    x.state.put(key(K_RPT, &rep.report_id), rep.encode_to_vec());
    emit(
        x,
        pb::eco_event::Kind::SaleRecorded(pb::CreditSaleRecorded {
            report_id: rep.report_id,
            sale: Some(sale),
        }),
    );
    Ok(())
}

// ---- queries -------------------------------------------------------------------------------

impl Program {
    /// To protobuf.
    pub fn to_proto(&self) -> pb::EcoProgram {
        pb::EcoProgram {
            program_id: self.id.clone(),
            organization: self.organization.clone(),
            name: self.name.clone(),
            points_per_kg: self.points_per_kg,
            points_expiry_days: self.points_expiry_days,
        }
    }
}

impl Participant {
    /// To protobuf.
    pub fn to_proto(&self) -> pb::EcoParticipant {
        pb::EcoParticipant {
            participant_id: self.id.clone(),
            program_id: self.program.clone(),
            account: self.account.to_vec(),
            person: Some(pb::PersonRef {
                vault_id: self.vault_id.clone(),
                commitment: self.commitment.to_vec(),
            }),
            removed: self.removed,
            reduced_g: self.reduced_g,
            ungranted_g: self.ungranted_g,
            points_granted: self.points_granted,
        }
    }
}

impl Device {
    /// To protobuf.
    pub fn to_proto(&self) -> pb::EcoDevice {
        pb::EcoDevice {
            device_id: self.id.clone(),
            participant_id: self.participant.clone(),
            program_id: self.program.clone(),
            kind: self.kind,
            identity_hash: self.identity_hash.to_vec(),
            baseline_m_per_l: self.baseline_m_per_l,
            methodology: self.methodology.clone(),
            removed: self.removed,
        }
    }
}

/// A participant's devices.
pub fn devices_of(state: &dyn StateRead, participant_id: &str) -> Result<Vec<Device>> {
    let prefix = [K_PART_DEV, participant_id.as_bytes(), b"/"].concat();
    let mut out = Vec::new();
    for (k, _) in state.scan(&prefix, None, 10_000)? {
        if let Some(d) = device(state, &String::from_utf8_lossy(&k[prefix.len()..]))? {
            out.push(d);
        }
    }
    Ok(out)
}

/// A page of a participant's reductions (by device, then in period order) and the token of
/// the next page (empty when there is none).
pub fn reductions_of(
    state: &dyn StateRead,
    participant_id: &str,
    page: Option<&pb::PageRequest>,
) -> Result<(Vec<pb::Reduction>, String)> {
    let prefix = [K_PART_RD, participant_id.as_bytes(), b"\0"].concat();
    Page::of(page, &prefix)?.scan(state, &prefix, |k, v| decode_reduction(k, v).map(Some))
}

/// A program's totals per (methodology, fiscal year), and its participant and device counts.
pub fn program_totals(
    state: &dyn StateRead,
    program_id: &str,
) -> Result<(Vec<pb::MethodologyTotal>, u64, u64)> {
    let prefix = [K_TOT, program_id.as_bytes(), b"\0"].concat();
    let rows: Vec<(Vec<u8>, Tally)> = scan_borsh(state, &prefix, None, 100_000)?;
    let totals = rows
        .into_iter()
        .filter_map(|(k, t)| {
            let rest = &k[prefix.len()..];
            let nul = rest.iter().position(|&b| b == 0)?;
            let fy: [u8; 8] = rest.get(nul + 1..)?.try_into().ok()?;
            Some(pb::MethodologyTotal {
                methodology: String::from_utf8_lossy(&rest[..nul]).into_owned(),
                fiscal_year: u32::try_from(u64::from_be_bytes(fy)).ok()?,
                readings: t.readings,
                reduction_g: t.grams,
            })
        })
        .collect();
    let c: Counts = get_borsh(state, &key(K_COUNT, program_id))?.unwrap_or_default();
    Ok((totals, c.participants, c.devices))
}

/// Every reading claimed by a report, in reading-id order.
pub fn report_readings(state: &dyn StateRead, report_id: &str) -> Result<Vec<pb::Reduction>> {
    let prefix = [K_RPT_RD, report_id.as_bytes(), b"\0"].concat();
    let mut out = Vec::new();
    for (_, record_key) in state.scan(&prefix, None, MAX_READINGS_PER_REPORT)? {
        if let Some(r) = reduction_at(state, &record_key)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// The eco-points balance of a participant (issued by its program's municipality).
pub fn participant_balance(
    state: &dyn StateRead,
    p: &Participant,
    now_ms: u64,
) -> Result<pb::PointsBalance> {
    let prog = req_program(state, &p.program)?;
    points::balance(
        state,
        &p.account,
        PointType::Eco,
        &prog.organization,
        now_ms,
    )
}
