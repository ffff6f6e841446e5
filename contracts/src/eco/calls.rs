//! One function per eco call. Each checks the signer's right and the arguments, then writes
//! records and emits the events that show the change; a failure returns before any write.

use super::keys::*;
use super::records::{
    decode_reduction, device, participant, program, put_reduction, put_report, reduction_at,
    report, Counts, Device, DeviceKind, Participant, Program, Tally,
};
use super::*;
use crate::calendar::fiscal_year;
use crate::error::{
    already_exists, invalid_argument, not_found, permission_denied, precondition, Result,
};
use crate::governance::{self, key32, Account, RoleKind};
use crate::points::{self, PointType};
use crate::state::{get_borsh, put_borsh};
use crate::text::{check_ref, check_text};
use crate::{pb, Exec, StateRead};

pub(super) fn emit(x: &mut Exec<'_>, kind: pb::eco_event::Kind) {
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
        pb::DeviceKind::Solar | pb::DeviceKind::Generator if b != 0 => Err(invalid_argument(
            "eco.baseline_for_solar",
            "baseline_m_per_l applies to vehicles only; it must be 0 for solar installations and generators",
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
    match DeviceKind::from_api(v) {
        Ok(k) => Ok(k.to_pb()),
        Err(_) => Err(invalid_argument(
            "eco.invalid_device_kind",
            "kind must be DEVICE_KIND_EV, DEVICE_KIND_PHV, DEVICE_KIND_SOLAR or DEVICE_KIND_GENERATOR",
        )),
    }
}

pub(super) fn req_program(state: &dyn StateRead, id: &str) -> Result<Program> {
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
pub(super) fn require_admin(signer: &Account, p: &Program) -> Result<()> {
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

fn count(x: &mut Exec<'_>, program: &str, f: impl Fn(&mut Counts) -> Result<()>) -> Result<()> {
    let k = key(K_COUNT, program);
    let mut c: Counts = get_borsh(&*x.state, &k)?.unwrap_or_default();
    f(&mut c)?;
    put_borsh(x.state, k, &c);
    Ok(())
}

pub(super) fn create_program(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::CreateProgram,
) -> Result<()> {
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

pub(super) fn register_participant(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::RegisterParticipant,
) -> Result<()> {
    check_ref("eco", "program_id", &c.program_id)?;
    let p = req_program(&*x.state, &c.program_id)?;
    require_admin(signer, &p)?;
    let account = key32("account", &c.account)?;
    let person = person_ref(c.person.as_ref())?;
    enroll(x, &p, account, person)?;
    Ok(())
}

/// A vault reference checked for use: present, a reference id, a 32-byte commitment.
pub(super) fn person_ref(person: Option<&pb::PersonRef>) -> Result<(String, [u8; 32])> {
    let person = person.ok_or_else(|| {
        invalid_argument(
            "eco.missing_person",
            "person (the vault reference from PersonalData.Put) is required",
        )
    })?;
    check_ref("eco", "person.vault_id", &person.vault_id)?;
    Ok((
        person.vault_id.clone(),
        hash32("person.commitment", &person.commitment)?,
    ))
}

/// Refused unless `account` is a resident not yet participating in program `p`.
pub(super) fn check_can_join(state: &dyn StateRead, p: &Program, account: &[u8; 32]) -> Result<()> {
    let acct = governance::account(state, account)?;
    if !acct.is_some_and(|a| a.has_kind(RoleKind::Resident)) {
        return Err(precondition(
            "eco.not_resident",
            "the participant's account must hold ROLE_RESIDENT",
        ));
    }
    let by_acct = [K_PART_ACCT, p.id.as_bytes(), b"\0", account.as_slice()].concat();
    if let Some(existing) = get_borsh::<String>(state, &by_acct)? {
        if participant(state, &existing)?.is_some_and(|q| !q.removed) {
            return Err(already_exists(
                "eco.already_participating",
                format!(
                    "this account already participates in program {} as {existing}",
                    p.id
                ),
            ));
        }
    }
    Ok(())
}

/// Make `account` a participant of program `p` with the checked vault reference `person`
/// (registration by the program, or an approved application); returns the participant id.
pub(super) fn enroll(
    x: &mut Exec<'_>,
    p: &Program,
    account: [u8; 32],
    (vault_id, commitment): (String, [u8; 32]),
) -> Result<String> {
    check_can_join(&*x.state, p, &account)?;
    let by_acct = [K_PART_ACCT, p.id.as_bytes(), b"\0", account.as_slice()].concat();
    let id = id_for("p", &x.ctx.tx_id);
    let part = Participant {
        id: id.clone(),
        program: p.id.clone(),
        account,
        vault_id,
        commitment,
        removed: false,
        reduced_g: 0,
        ungranted_mg: 0,
        carry_num: 0,
        carry_den: 0,
        points_granted: 0,
        years: Vec::new(),
        latest_end: Vec::new(),
        joined_at_ms: x.ctx.time_ms,
    };
    put_borsh(x.state, key(K_PART, &id), &part);
    put_borsh(x.state, by_acct, &id);
    count(x, &p.id, |c| {
        c.participants = crate::arith::add("eco", "participants", c.participants, 1)?;
        Ok(())
    })?;
    emit(
        x,
        pb::eco_event::Kind::ParticipantRegistered(pb::ParticipantRegistered {
            program_id: p.id.clone(),
            participant_id: id.clone(),
            account: account.to_vec(),
        }),
    );
    Ok(id)
}

/// Replace a participant's vault reference.
pub(super) fn update_participant(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::UpdateParticipant,
) -> Result<()> {
    check_ref("eco", "participant_id", &c.participant_id)?;
    let mut part = req_participant(&*x.state, &c.participant_id)?;
    require_admin(signer, &req_program(&*x.state, &part.program)?)?;
    if part.removed {
        return Err(precondition(
            "eco.participant_removed",
            "the participant was removed: register the resident again",
        ));
    }
    let (vault_id, commitment) = person_ref(c.person.as_ref())?;
    part.vault_id = vault_id;
    part.commitment = commitment;
    put_borsh(x.state, key(K_PART, &part.id), &part);
    emit(x, pb::eco_event::Kind::ParticipantUpdated(part.to_proto()));
    Ok(())
}

pub(super) fn remove_participant(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::RemoveParticipant,
) -> Result<()> {
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
        c.participants = crate::arith::sub("eco participants", c.participants, 1)?;
        Ok(())
    })?;
    emit(
        x,
        pb::eco_event::Kind::ParticipantRemoved(pb::ParticipantRemoved {
            participant_id: part.id,
        }),
    );
    Ok(())
}

pub(super) fn register_device(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::RegisterDevice,
) -> Result<()> {
    check_ref("eco", "participant_id", &c.participant_id)?;
    let part = req_participant(&*x.state, &c.participant_id)?;
    require_admin(signer, &req_program(&*x.state, &part.program)?)?;
    let kind = device_kind(c.kind)?;
    let identity_hash = hash32("identity_hash", &c.identity_hash)?;
    check_baseline(kind, c.baseline_m_per_l)?;
    let fuel = match (kind, pb::Fuel::try_from(c.fuel)) {
        (pb::DeviceKind::Generator, Ok(pb::Fuel::Unspecified) | Err(_)) => {
            return Err(invalid_argument(
                "eco.invalid_fuel",
                "a generator needs its fuel: FUEL_GASOLINE, FUEL_DIESEL or FUEL_HEAVY_OIL_A",
            ))
        }
        (pb::DeviceKind::Generator, Ok(_)) => Some(Fuel::from_api(c.fuel)?),
        (_, Ok(pb::Fuel::Unspecified)) => None,
        _ => {
            return Err(invalid_argument(
                "eco.invalid_fuel",
                "fuel applies to generators only; leave it unspecified for other kinds",
            ))
        }
    };
    if c.monitored_from_ms > x.ctx.time_ms {
        return Err(invalid_argument(
            "eco.invalid_monitored_from",
            "monitored_from_ms may not be after the block time: a device's readings count from its registration or an earlier, already monitored time",
        ));
    }
    let methodology = if c.methodology.is_empty() {
        match kind {
            pb::DeviceKind::Solar => METHODOLOGY_SOLAR,
            pb::DeviceKind::Generator => {
                return Err(invalid_argument(
                    "eco.invalid_methodology",
                    "a generator has no default methodology: give the id the project was registered under",
                ))
            }
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
        kind: DeviceKind::from_api(kind as i32)?,
        identity_hash,
        baseline_m_per_l: c.baseline_m_per_l,
        methodology,
        removed: false,
        fuel,
        monitored_from_ms: if c.monitored_from_ms == 0 {
            x.ctx.time_ms
        } else {
            c.monitored_from_ms
        },
        registered_at_ms: x.ctx.time_ms,
    };
    put_borsh(x.state, hk, &d.id);
    put_borsh(x.state, key(K_DEV, &d.id), &d);
    x.state.put(
        [K_PART_DEV, part.id.as_bytes(), b"/", d.id.as_bytes()].concat(),
        Vec::new(),
    );
    count(x, &part.program, |c| {
        c.devices = crate::arith::add("eco", "devices", c.devices, 1)?;
        Ok(())
    })?;
    emit(
        x,
        pb::eco_event::Kind::DeviceRegistered(pb::DeviceRegistered {
            device: Some(d.to_proto()),
        }),
    );
    Ok(())
}

pub(super) fn update_device(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::UpdateDevice,
) -> Result<()> {
    check_ref("eco", "device_id", &c.device_id)?;
    let mut d = req_device(&*x.state, &c.device_id)?;
    require_admin(signer, &req_program(&*x.state, &d.program)?)?;
    let kind = d.kind.to_pb();
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

pub(super) fn remove_device_call(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::RemoveDevice,
) -> Result<()> {
    check_ref("eco", "device_id", &c.device_id)?;
    let d = req_device(&*x.state, &c.device_id)?;
    require_admin(signer, &req_program(&*x.state, &d.program)?)?;
    remove_device(x, d)
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
    count(x, &d.program, |c| {
        c.devices = crate::arith::sub("eco devices", c.devices, 1)?;
        Ok(())
    })?;
    emit(
        x,
        pb::eco_event::Kind::DeviceRemoved(pb::DeviceRemoved { device_id: d.id }),
    );
    Ok(())
}

/// A factor as the program's municipality set it, else the consortium-wide table's.
fn factor(state: &dyn StateRead, org: &str, name: &str, height: u64) -> Result<Option<u64>> {
    Ok(governance::org_parameter_at(state, org, name, height)?.and_then(|v| u64::try_from(v).ok()))
}

pub(super) fn submit_reading(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::SubmitReading,
) -> Result<()> {
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
    if c.period_start_ms < d.monitored_from_ms {
        return Err(precondition(
            "eco.reading_before_registration",
            format!(
                "the reading's period starts before the device's readings count (monitored from {} ms, its registration unless the program onboarded it with an earlier time)",
                d.monitored_from_ms
            ),
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
    let kind = d.kind.to_pb();
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
        pb::DeviceKind::Generator if c.distance_m != 0 => {
            return Err(invalid_argument(
                "eco.vehicle_values_for_solar",
                "a generator has no distance: distance_m must be 0",
            ))
        }
        pb::DeviceKind::Ev
        | pb::DeviceKind::Phv
        | pb::DeviceKind::Solar
        | pb::DeviceKind::Generator => {}
        pb::DeviceKind::Unspecified => {}
    }
    if !matches!(kind, pb::DeviceKind::Solar | pb::DeviceKind::Generator) && c.grid_wh != 0 {
        return Err(invalid_argument(
            "eco.grid_for_vehicle",
            "grid_wh applies to solar installations and generators only",
        ));
    }
    // Overlap: the first reading of the device ending after our start must start at or
    // after our end. No reading ends after the device's latest end, so a period starting at
    // or after it needs no scan.
    let end_prefix = device_readings_prefix(&part.id, &d.id);
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
    let grid = factor(&*x.state, &prog.organization, &grid_param(fy), x.ctx.height)?.ok_or_else(|| {
        precondition(
            "eco.missing_grid_factor",
            format!("no grid emission factor is set for FY{fy}: a municipality admin must set parameter {}", grid_param(fy)),
        )
    })?;
    // The fuel factor: gasoline for vehicles, the generator's own fuel, none for solar
    // (recorded as 0).
    let fuel = match kind {
        pb::DeviceKind::Solar => None,
        pb::DeviceKind::Generator => Some(d.fuel.map_or(pb::Fuel::Gasoline, Fuel::to_pb)),
        _ => Some(pb::Fuel::Gasoline),
    };
    let gas = match fuel {
        None => 0,
        Some(f) => factor(
            &*x.state,
            &prog.organization,
            &fuel_param(f, fy),
            x.ctx.height,
        )?
        .unwrap_or_else(|| default_fuel_mg_per_l(f)),
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
    // The annual limit per participant: the reading that crosses it is recorded whole and
    // flagged, and only the part up to the limit is credited.
    let limit_g = governance::org_parameter_at(
        &*x.state,
        &prog.organization,
        "eco.participant_year_limit_t",
        x.ctx.height,
    )?
    .and_then(|t| u64::try_from(t).ok())
    .map_or(MAX_GRAMS_PER_PARTICIPANT_YEAR, |t| {
        t.saturating_mul(1_000_000)
    });
    let credited = r.reduction_g.min(limit_g.saturating_sub(year));
    let over_limit = credited < r.reduction_g;
    let year_new = year.saturating_add(credited);
    let id = id_for("r", &x.ctx.tx_id);
    let red = pb::Reduction {
        reading_id: id.clone(),
        device_id: d.id.clone(),
        participant_id: part.id.clone(),
        program_id: prog.id.clone(),
        methodology: d.methodology.clone(),
        period_start_ms: c.period_start_ms,
        period_end_ms: c.period_end_ms,
        fiscal_year: u32::try_from(fy)
            .map_err(|_| crate::Failed(format!("fiscal year {fy} does not fit the record")))?,
        reading: Some(c.clone()),
        grid_g_per_mwh: grid,
        gasoline_mg_per_l: gas,
        baseline_g: r.baseline_g,
        project_g: r.project_g,
        reduction_g: r.reduction_g,
        manual,
        report_id: String::new(),
        height: x.ctx.height,
        credited_g: credited,
        over_limit,
        tx_id: x.ctx.tx_id.to_vec(),
        device_kind: d.kind.to_api(),
        baseline_m_per_l: d.baseline_m_per_l,
    };
    let record_key = [end_prefix.as_slice(), &c.period_end_ms.to_be_bytes()].concat();
    x.state.put(
        [
            program_readings_prefix(&prog.id).as_slice(),
            &c.period_start_ms.to_be_bytes(),
            id.as_bytes(),
        ]
        .concat(),
        record_key.clone(),
    );
    put_reduction(x.state, record_key, &red)?;
    match part.years.binary_search_by_key(&fy, |(y, _)| *y) {
        Ok(i) => part.years[i].1 = year_new,
        Err(i) => part.years.insert(i, (fy, year_new)),
    }
    let tk = tally_key(&prog.id, &d.methodology, fy);
    let mut t: Tally = get_borsh(&*x.state, &tk)?.unwrap_or_default();
    t.readings = crate::arith::add("eco", "readings", t.readings, 1)?;
    t.grams = crate::arith::add("eco", "grams", t.grams, credited)?;
    put_borsh(x.state, tk, &t);
    part.reduced_g = crate::arith::add("eco", "reduced_g", part.reduced_g, credited)?;
    part.ungranted_mg = crate::arith::add(
        "eco",
        "ungranted_mg",
        part.ungranted_mg,
        credited.saturating_mul(1000),
    )?;
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

pub(super) fn grant_points(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::GrantEcoPoints,
) -> Result<()> {
    check_ref("eco", "participant_id", &c.participant_id)?;
    let mut part = req_participant(&*x.state, &c.participant_id)?;
    let prog = req_program(&*x.state, &part.program)?;
    require_admin(signer, &prog)?;
    let rate = u128::from(prog.points_per_kg);
    // The carry in 1/rate mg (converted up if the rate changed, never in the participant's
    // favour).
    let carry = if part.carry_den == 0 {
        0
    } else {
        (u128::from(part.carry_num) * rate).div_ceil(u128::from(part.carry_den))
    };
    // points = kg × rate = mg × rate / 1,000,000, of what is left exactly.
    let value = (u128::from(part.ungranted_mg) * rate).saturating_sub(carry);
    let pts = value / 1_000_000;
    if pts == 0 {
        return Err(precondition(
            "eco.nothing_to_grant",
            "the participant's reductions not yet granted are worth less than one point",
        ));
    }
    // The points are worth pts × 1,000,000 / rate mg exactly: whole milligrams come off now,
    // the fraction joins the carry; the rest waits for the next grant.
    let worth = pts * 1_000_000 + carry;
    let used_mg = u64::try_from(worth / rate).unwrap_or(u64::MAX);
    part.carry_num = u64::try_from(worth % rate).unwrap_or(0);
    part.carry_den = if part.carry_num == 0 {
        0
    } else {
        prog.points_per_kg
    };
    let used = used_mg / 1000;
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
        &format!("eco.reductions {} mg participant {}", used_mg, part.id),
        expires,
    )?;
    part.ungranted_mg = part.ungranted_mg.saturating_sub(used_mg);
    part.points_granted = crate::arith::add("eco", "points_granted", part.points_granted, pts)?;
    put_borsh(x.state, key(K_PART, &part.id), &part);
    emit(
        x,
        pb::eco_event::Kind::PointsGranted(pb::EcoPointsGranted {
            participant_id: part.id,
            grams: used,
            points: pts,
            milligrams: used_mg,
        }),
    );
    Ok(())
}

pub(super) fn create_report(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::CreateCreditReport,
) -> Result<()> {
    check_ref("eco", "program_id", &c.program_id)?;
    let prog = req_program(&*x.state, &c.program_id)?;
    require_admin(signer, &prog)?;
    if c.period_start_ms >= c.period_end_ms {
        return Err(invalid_argument(
            "eco.invalid_period",
            "period_start_ms must be before period_end_ms",
        ));
    }
    let prefix = program_readings_prefix(&prog.id);
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
        let start = k
            .get(prefix.len()..prefix.len() + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| {
                crate::Failed(format!(
                    "eco index key {} has no period start",
                    crate::state::printable_key(&k)
                ))
            })?;
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
        e.1 = crate::arith::add("eco", "methodology total", e.1, r.credited_g)?;
        total = crate::arith::add("eco", "total", total, r.credited_g)?;
        parts.insert(r.participant_id.clone());
        put_reduction(x.state, record_key.clone(), r)?;
        x.state.put(
            [
                report_readings_prefix(&id).as_slice(),
                r.reading_id.as_bytes(),
            ]
            .concat(),
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
    put_report(x.state, &rep)?;
    emit(
        x,
        pb::eco_event::Kind::ReportCreated(pb::CreditReportCreated { report: Some(rep) }),
    );
    Ok(())
}

pub(super) fn certify_report(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::CertifyCreditReport,
) -> Result<()> {
    check_ref("eco", "report_id", &c.report_id)?;
    let mut rep = req_report(&*x.state, &c.report_id)?;
    require_admin(signer, &req_program(&*x.state, &rep.program_id)?)?;
    if rep.withdrawn_at_ms != 0 {
        return Err(precondition(
            "eco.report_withdrawn",
            "the report was withdrawn; certify the report that replaced it",
        ));
    }
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
    put_report(x.state, &rep)?;
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

pub(super) fn record_sale(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::RecordCreditSale,
) -> Result<()> {
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
    put_report(x.state, &rep)?;
    emit(
        x,
        pb::eco_event::Kind::SaleRecorded(pb::CreditSaleRecorded {
            report_id: rep.report_id,
            sale: Some(sale),
        }),
    );
    Ok(())
}

/// Withdraw a credit report before certification: every reading it claimed is unclaimed
/// (claimable by a new report) and the report stays, marked withdrawn, for the history.
pub(super) fn withdraw_report(
    x: &mut Exec<'_>,
    signer: &Account,
    c: &pb::WithdrawCreditReport,
) -> Result<()> {
    check_ref("eco", "report_id", &c.report_id)?;
    check_text("eco", "reason", &c.reason, 280, true)?;
    let mut rep = req_report(&*x.state, &c.report_id)?;
    require_admin(signer, &req_program(&*x.state, &rep.program_id)?)?;
    if rep.withdrawn_at_ms != 0 {
        return Err(precondition(
            "eco.report_withdrawn",
            "the report was already withdrawn",
        ));
    }
    if rep.certified_at_ms != 0 {
        return Err(precondition(
            "eco.already_certified",
            "a certified report cannot be withdrawn: its credits are issued",
        ));
    }
    let prefix = report_readings_prefix(&rep.report_id);
    for (index_key, record_key) in x.state.scan(&prefix, None, MAX_READINGS_PER_REPORT)? {
        if let Some(mut r) = reduction_at(&*x.state, &record_key)? {
            if r.report_id == rep.report_id {
                r.report_id = String::new();
                put_reduction(x.state, record_key, &r)?;
            }
        }
        x.state.delete(index_key);
    }
    rep.withdrawn_at_ms = x.ctx.time_ms;
    rep.withdraw_reason = c.reason.clone();
    put_report(x.state, &rep)?;
    emit(
        x,
        pb::eco_event::Kind::ReportWithdrawn(pb::CreditReportWithdrawn { report: Some(rep) }),
    );
    Ok(())
}
