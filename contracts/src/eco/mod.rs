//! The eco contract (CONTRACTS.md §2): a municipality's J-Credit program-type project.
//!
//! Programs belong to a municipality (organization). Participants are pseudonymous ids bound to
//! a resident's account and a vault reference; devices (EV, PHV, home solar, self-use
//! generators) are registered under a keyed hash of their identity, unique across all programs.
//! Each reading's reduction is computed in grams CO2 with integer arithmetic from the emission
//! factors of the fiscal year of its period (governance parameters `eco.grid_g_per_mwh.fyYYYY`
//! and `eco.<fuel>_mg_per_l.fyYYYY`, see `fuel_param`); eco-points are minted on the shared points ledger at the
//! program's rate; credit reports claim each reading at most once.
//!
//! The formulas (CONTRACTS.md §2), with every intermediate in milligrams and one truncation to
//! grams at the end:
//! - EV/PHV: `BL_mg = distance_m * gasoline_mg_per_l / baseline_m_per_l`,
//!   `PJ_mg = electricity_wh * grid_g_per_mwh / 1000 + fuel_ml * gasoline_mg_per_l / 1000`,
//!   `ER_g = max(0, BL_mg - PJ_mg) / 1000`.
//! - Solar: `ER_g = electricity_wh * grid_g_per_mwh / 1_000_000` (`PJ = 0`).
//! - Generator (自家用発電機): the grid electricity its self-used output replaces, less the fuel
//!   it burned: `BL_mg = electricity_wh * grid_g_per_mwh / 1000`,
//!   `PJ_mg = fuel_ml * fuel_mg_per_l / 1000`, `ER_g = max(0, BL_mg - PJ_mg) / 1000`.
//!
//! It owns every key under `eco/` (`keys`). Its records are borsh (`records`, ADR 0001); the
//! API messages are made from them when shown. `calls` has one function per call, `queries`
//! the read-only searches the API serves.

mod applications;
mod calls;
mod keys;
mod queries;
pub mod records;

pub use applications::list_applications;
pub use queries::*;
pub use records::{
    device, participant, program, report, Device, DeviceKind, Fuel, Participant, Program,
};

use crate::error::{invalid_argument, Result};
use crate::governance::{self, Account, RoleKind};
use crate::{pb, Exec, State, StateRead};
use pb::eco_call::Call as E;

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

/// Parameter name of the grid emission factor (g-CO2/MWh) of a fiscal year.
pub fn grid_param(fy: u64) -> String {
    format!("eco.grid_g_per_mwh.fy{fy}")
}

/// Parameter name of a fuel's emission factor (mg-CO2/L) of a fiscal year, and the national
/// factor that applies when it is not set.
pub fn fuel_param(fuel: pb::Fuel, fy: u64) -> String {
    let name = match fuel {
        pb::Fuel::Diesel => "diesel",
        pb::Fuel::HeavyOilA => "heavy_oil_a",
        pb::Fuel::Gasoline | pb::Fuel::Unspecified => "gasoline",
    };
    format!("eco.{name}_mg_per_l.fy{fy}")
}

/// The national emission factor of a fuel, mg-CO2/L (2.32, 2.58, 2.71 kg-CO2/L).
pub fn default_fuel_mg_per_l(fuel: pb::Fuel) -> u64 {
    match fuel {
        pb::Fuel::Diesel => 2_580_000,
        pb::Fuel::HeavyOilA => 2_710_000,
        pb::Fuel::Gasoline | pb::Fuel::Unspecified => DEFAULT_GASOLINE_MG_PER_L,
    }
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
        // `gasoline_mg_per_l` is the generator's fuel factor.
        pb::DeviceKind::Generator => (e * grid / 1000, f * gas / 1000),
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

/// The program an eco admin call acts on, where committed state already holds the object the
/// call names (a program, a participant, a report).
fn program_of_call(state: &dyn StateRead, call: &pb::EcoCall) -> Result<Option<Program>> {
    let program_id = match call.call.as_ref() {
        Some(E::RegisterParticipant(c)) => Some(c.program_id.clone()),
        Some(E::CreateReport(c)) => Some(c.program_id.clone()),
        Some(E::RemoveParticipant(pb::RemoveParticipant { participant_id, .. }))
        | Some(E::UpdateParticipant(pb::UpdateParticipant { participant_id, .. }))
        | Some(E::RegisterDevice(pb::RegisterDevice { participant_id, .. }))
        | Some(E::GrantPoints(pb::GrantEcoPoints { participant_id, .. })) => {
            participant(state, participant_id)?.map(|p| p.program)
        }
        Some(E::CertifyReport(pb::CertifyCreditReport { report_id, .. }))
        | Some(E::RecordSale(pb::RecordCreditSale { report_id, .. }))
        | Some(E::WithdrawReport(pb::WithdrawCreditReport { report_id, .. })) => {
            report(state, report_id)?.map(|r| r.program_id)
        }
        _ => None,
    };
    match program_id {
        Some(id) => program(state, &id),
        None => Ok(None),
    }
}

/// Mempool pre-check of the signer's role for an eco call, and, where committed state already
/// holds the program the call acts on, that the signer is an admin of its municipality
/// (execution checks again).
pub fn authorize(state: &dyn StateRead, account: &Account, call: &pb::EcoCall) -> Result<()> {
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
        Some(E::ApplyToJoin(_)) => {
            account.require_any(&[RoleKind::Resident], "applying to join a program")
        }
        Some(_) => {
            account.require_any(&[RoleKind::MunicipalityAdmin], "managing an eco program")?;
            match program_of_call(state, call)? {
                Some(p) => calls::require_admin(account, &p),
                None => Ok(()),
            }
        }
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
        Some(E::WithdrawReport(_)) => "eco.withdraw_report",
        Some(E::ApplyToJoin(_)) => "eco.apply_to_join",
        Some(E::DecideApplication(_)) => "eco.decide_application",
        Some(E::UpdateParticipant(_)) => "eco.update_participant",
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
        Some(E::CreateProgram(c)) => calls::create_program(x, &signer, c),
        Some(E::RegisterParticipant(c)) => calls::register_participant(x, &signer, c),
        Some(E::RemoveParticipant(c)) => calls::remove_participant(x, &signer, c),
        Some(E::RegisterDevice(c)) => calls::register_device(x, &signer, c),
        Some(E::UpdateDevice(c)) => calls::update_device(x, &signer, c),
        Some(E::RemoveDevice(c)) => calls::remove_device_call(x, &signer, c),
        Some(E::SubmitReading(c)) => calls::submit_reading(x, &signer, c),
        Some(E::GrantPoints(c)) => calls::grant_points(x, &signer, c),
        Some(E::CreateReport(c)) => calls::create_report(x, &signer, c),
        Some(E::CertifyReport(c)) => calls::certify_report(x, &signer, c),
        Some(E::RecordSale(c)) => calls::record_sale(x, &signer, c),
        Some(E::WithdrawReport(c)) => calls::withdraw_report(x, &signer, c),
        Some(E::ApplyToJoin(c)) => applications::apply(x, &signer, c),
        Some(E::DecideApplication(c)) => applications::decide(x, &signer, c),
        Some(E::UpdateParticipant(c)) => calls::update_participant(x, &signer, c),
    }
}
