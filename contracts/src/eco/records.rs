//! The eco contract's state records (borsh) and their API messages.

use super::keys::*;
use crate::error::{Failed, Result};
use crate::state::get_borsh;
use crate::stored::{self, stored_enum, Stored};
use crate::{pb, State, StateRead};
use borsh::{BorshDeserialize, BorshSerialize};

stored_enum!(
    /// A device's kind.
    DeviceKind: pb::DeviceKind { Ev = Ev, Phv = Phv, Solar = Solar, Generator = Generator }
);

stored_enum!(
    /// What a generator burns.
    Fuel: pb::Fuel { Gasoline = Gasoline, Diesel = Diesel, HeavyOilA = HeavyOilA }
);

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
    /// Milligrams not yet converted to points: a grant uses up the exact milligrams its whole
    /// points are worth, so the remainder carries over to the next grant to the milligram.
    pub ungranted_mg: u64,
    /// A fraction of a milligram already converted but not yet taken off `ungranted_mg`:
    /// `carry_num / carry_den` (`carry_den` is the rate of the grant that left it; 0: none).
    /// Points are worth `1,000,000 / rate` mg, rarely a whole number; with the carry, grants at
    /// one rate use up exactly what their points are worth.
    pub carry_num: u64,
    /// See `carry_num`.
    pub carry_den: u64,
    /// Points granted.
    pub points_granted: u64,
    /// Grams reduced per fiscal year (for the 500 t limit), ascending by year.
    pub years: Vec<(u64, u64)>,
    /// Per device, the latest period end of its readings: a reading starting at or after it
    /// cannot overlap any other, so the overlap check needs no index scan (the usual case of
    /// readings arriving in order).
    pub latest_end: Vec<(String, u64)>,
    /// When it joined (block time, ms).
    pub joined_at_ms: u64,
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
    /// Kind.
    pub kind: DeviceKind,
    /// Keyed identity hash.
    pub identity_hash: [u8; 32],
    /// Baseline, m/L.
    pub baseline_m_per_l: u64,
    /// Methodology.
    pub methodology: String,
    /// Removed.
    pub removed: bool,
    /// Generators: the fuel.
    pub fuel: Option<Fuel>,
    /// From when its readings count (ms).
    pub monitored_from_ms: u64,
    /// Block time of its registration (ms).
    pub registered_at_ms: u64,
}

/// Per (program, methodology, fiscal year) counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub(super) struct Tally {
    pub(super) readings: u64,
    pub(super) grams: u64,
}

/// Per program counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub(super) struct Counts {
    pub(super) participants: u64,
    pub(super) devices: u64,
}

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
            ungranted_g: self
                .ungranted_mg
                .saturating_sub(u64::from(self.carry_num > 0))
                / 1000,
            points_granted: self.points_granted,
            joined_at_ms: self.joined_at_ms,
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
            kind: self.kind.to_api(),
            identity_hash: self.identity_hash.to_vec(),
            baseline_m_per_l: self.baseline_m_per_l,
            methodology: self.methodology.clone(),
            removed: self.removed,
            fuel: self.fuel.map_or(0, Fuel::to_api),
            monitored_from_ms: self.monitored_from_ms,
            registered_at_ms: self.registered_at_ms,
        }
    }
}

/// A reading as it was submitted.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Reading {
    device_id: String,
    period_start_ms: u64,
    period_end_ms: u64,
    electricity_wh: u64,
    distance_m: u64,
    fuel_ml: u64,
    grid_wh: u64,
    evidence_hash: Vec<u8>,
}

impl Reading {
    fn into_api(self) -> pb::SubmitReading {
        pb::SubmitReading {
            device_id: self.device_id,
            period_start_ms: self.period_start_ms,
            period_end_ms: self.period_end_ms,
            electricity_wh: self.electricity_wh,
            distance_m: self.distance_m,
            fuel_ml: self.fuel_ml,
            grid_wh: self.grid_wh,
            evidence_hash: self.evidence_hash,
        }
    }
    fn from_api(r: &pb::SubmitReading) -> Self {
        let pb::SubmitReading {
            device_id,
            period_start_ms,
            period_end_ms,
            electricity_wh,
            distance_m,
            fuel_ml,
            grid_wh,
            evidence_hash,
        } = r;
        Reading {
            device_id: device_id.clone(),
            period_start_ms: *period_start_ms,
            period_end_ms: *period_end_ms,
            electricity_wh: *electricity_wh,
            distance_m: *distance_m,
            fuel_ml: *fuel_ml,
            grid_wh: *grid_wh,
            evidence_hash: evidence_hash.clone(),
        }
    }
}

/// A reading with its reduction.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Reduction {
    reading_id: String,
    device_id: String,
    participant_id: String,
    program_id: String,
    methodology: String,
    period_start_ms: u64,
    period_end_ms: u64,
    fiscal_year: u32,
    reading: Option<Reading>,
    grid_g_per_mwh: u64,
    gasoline_mg_per_l: u64,
    baseline_g: u64,
    project_g: u64,
    reduction_g: u64,
    manual: bool,
    report_id: String,
    height: u64,
    credited_g: u64,
    over_limit: bool,
    tx_id: Vec<u8>,
    device_kind: DeviceKind,
    baseline_m_per_l: u64,
}

impl Stored for Reduction {
    type Api = pb::Reduction;
    fn into_api(self) -> pb::Reduction {
        pb::Reduction {
            reading_id: self.reading_id,
            device_id: self.device_id,
            participant_id: self.participant_id,
            program_id: self.program_id,
            methodology: self.methodology,
            period_start_ms: self.period_start_ms,
            period_end_ms: self.period_end_ms,
            fiscal_year: self.fiscal_year,
            reading: self.reading.map(Reading::into_api),
            grid_g_per_mwh: self.grid_g_per_mwh,
            gasoline_mg_per_l: self.gasoline_mg_per_l,
            baseline_g: self.baseline_g,
            project_g: self.project_g,
            reduction_g: self.reduction_g,
            manual: self.manual,
            report_id: self.report_id,
            height: self.height,
            credited_g: self.credited_g,
            over_limit: self.over_limit,
            tx_id: self.tx_id,
            device_kind: self.device_kind.to_api(),
            baseline_m_per_l: self.baseline_m_per_l,
        }
    }
    fn from_api(r: &pb::Reduction) -> Result<Self, Failed> {
        let pb::Reduction {
            reading_id,
            device_id,
            participant_id,
            program_id,
            methodology,
            period_start_ms,
            period_end_ms,
            fiscal_year,
            reading,
            grid_g_per_mwh,
            gasoline_mg_per_l,
            baseline_g,
            project_g,
            reduction_g,
            manual,
            report_id,
            height,
            credited_g,
            over_limit,
            tx_id,
            device_kind,
            baseline_m_per_l,
        } = r;
        Ok(Reduction {
            reading_id: reading_id.clone(),
            device_id: device_id.clone(),
            participant_id: participant_id.clone(),
            program_id: program_id.clone(),
            methodology: methodology.clone(),
            period_start_ms: *period_start_ms,
            period_end_ms: *period_end_ms,
            fiscal_year: *fiscal_year,
            reading: reading.as_ref().map(Reading::from_api),
            grid_g_per_mwh: *grid_g_per_mwh,
            gasoline_mg_per_l: *gasoline_mg_per_l,
            baseline_g: *baseline_g,
            project_g: *project_g,
            reduction_g: *reduction_g,
            manual: *manual,
            report_id: report_id.clone(),
            height: *height,
            credited_g: *credited_g,
            over_limit: *over_limit,
            tx_id: tx_id.clone(),
            device_kind: DeviceKind::from_api(*device_kind)?,
            baseline_m_per_l: *baseline_m_per_l,
        })
    }
}

/// Totals of one methodology in one fiscal year.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct MethodologyTotal {
    methodology: String,
    fiscal_year: u32,
    readings: u64,
    reduction_g: u64,
}

impl MethodologyTotal {
    fn into_api(self) -> pb::MethodologyTotal {
        pb::MethodologyTotal {
            methodology: self.methodology,
            fiscal_year: self.fiscal_year,
            readings: self.readings,
            reduction_g: self.reduction_g,
        }
    }
    fn from_api(t: &pb::MethodologyTotal) -> Self {
        let pb::MethodologyTotal {
            methodology,
            fiscal_year,
            readings,
            reduction_g,
        } = t;
        MethodologyTotal {
            methodology: methodology.clone(),
            fiscal_year: *fiscal_year,
            readings: *readings,
            reduction_g: *reduction_g,
        }
    }
}

/// A recorded credit sale.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Sale {
    buyer: String,
    tonnes: u64,
    price_yen_per_tonne: u64,
    recorded_at_ms: u64,
}

impl Sale {
    fn into_api(self) -> pb::CreditSale {
        pb::CreditSale {
            buyer: self.buyer,
            tonnes: self.tonnes,
            price_yen_per_tonne: self.price_yen_per_tonne,
            recorded_at_ms: self.recorded_at_ms,
        }
    }
    fn from_api(s: &pb::CreditSale) -> Self {
        let pb::CreditSale {
            buyer,
            tonnes,
            price_yen_per_tonne,
            recorded_at_ms,
        } = s;
        Sale {
            buyer: buyer.clone(),
            tonnes: *tonnes,
            price_yen_per_tonne: *price_yen_per_tonne,
            recorded_at_ms: *recorded_at_ms,
        }
    }
}

/// A credit report.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Report {
    report_id: String,
    program_id: String,
    period_start_ms: u64,
    period_end_ms: u64,
    readings: u64,
    participants: u64,
    total_g: u64,
    by_methodology: Vec<MethodologyTotal>,
    certified_tonnes: u64,
    serial_numbers: Vec<String>,
    sales: Vec<Sale>,
    created_at_ms: u64,
    certified_at_ms: u64,
    withdrawn_at_ms: u64,
    withdraw_reason: String,
}

impl Stored for Report {
    type Api = pb::CreditReport;
    fn into_api(self) -> pb::CreditReport {
        pb::CreditReport {
            report_id: self.report_id,
            program_id: self.program_id,
            period_start_ms: self.period_start_ms,
            period_end_ms: self.period_end_ms,
            readings: self.readings,
            participants: self.participants,
            total_g: self.total_g,
            by_methodology: self
                .by_methodology
                .into_iter()
                .map(MethodologyTotal::into_api)
                .collect(),
            certified_tonnes: self.certified_tonnes,
            serial_numbers: self.serial_numbers,
            sales: self.sales.into_iter().map(Sale::into_api).collect(),
            created_at_ms: self.created_at_ms,
            certified_at_ms: self.certified_at_ms,
            withdrawn_at_ms: self.withdrawn_at_ms,
            withdraw_reason: self.withdraw_reason,
        }
    }
    fn from_api(r: &pb::CreditReport) -> Result<Self, Failed> {
        let pb::CreditReport {
            report_id,
            program_id,
            period_start_ms,
            period_end_ms,
            readings,
            participants,
            total_g,
            by_methodology,
            certified_tonnes,
            serial_numbers,
            sales,
            created_at_ms,
            certified_at_ms,
            withdrawn_at_ms,
            withdraw_reason,
        } = r;
        Ok(Report {
            report_id: report_id.clone(),
            program_id: program_id.clone(),
            period_start_ms: *period_start_ms,
            period_end_ms: *period_end_ms,
            readings: *readings,
            participants: *participants,
            total_g: *total_g,
            by_methodology: by_methodology
                .iter()
                .map(MethodologyTotal::from_api)
                .collect(),
            certified_tonnes: *certified_tonnes,
            serial_numbers: serial_numbers.clone(),
            sales: sales.iter().map(Sale::from_api).collect(),
            created_at_ms: *created_at_ms,
            certified_at_ms: *certified_at_ms,
            withdrawn_at_ms: *withdrawn_at_ms,
            withdraw_reason: withdraw_reason.clone(),
        })
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

/// The reading record `bytes` stored at `key`.
pub(super) fn decode_reduction(key: &[u8], bytes: &[u8]) -> Result<pb::Reduction> {
    stored::decode::<Reduction>(key, bytes)
}

/// The reading record an index entry points to.
pub(super) fn reduction_at(
    state: &dyn StateRead,
    record_key: &[u8],
) -> Result<Option<pb::Reduction>> {
    stored::get::<Reduction>(state, record_key)
}

/// Store a reading record at `record_key`.
pub(super) fn put_reduction(
    state: &mut dyn State,
    record_key: Vec<u8>,
    r: &pb::Reduction,
) -> Result<(), Failed> {
    stored::put::<Reduction>(state, record_key, r)
}

/// A credit report by id.
pub fn report(state: &dyn StateRead, id: &str) -> Result<Option<pb::CreditReport>> {
    stored::get::<Report>(state, &key(K_RPT, id))
}

/// Store a credit report.
pub(super) fn put_report(state: &mut dyn State, r: &pb::CreditReport) -> Result<(), Failed> {
    stored::put::<Report>(state, key(K_RPT, &r.report_id), r)
}
