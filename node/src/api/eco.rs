//! The `Eco` and `Points` gRPC services: read-only queries over the committed state of the eco
//! contract and the shared points ledger. Balances are computed at the block time of the latest
//! committed block (so "spendable" means spendable in the next block, give or take the block
//! interval). Every error is a status with the right code and a sentence a person understands.

use crate::api::report::{csv, jst, Cell};
use crate::api::status::{contract, internal};
use crate::chain::ChainReader;
use tonic::{Request, Response, Status};
use yui_contracts::eco;
use yui_contracts::points;
use yui_proto::v1 as pb;
use yui_proto::v1::eco_server::{Eco, EcoServer};
use yui_proto::v1::points_server::{Points, PointsServer};

/// Both services over the committed chain.
#[derive(Clone)]
pub struct EcoApi {
    /// Committed chain.
    pub chain: ChainReader,
}

impl EcoApi {
    /// The `Eco` service.
    pub fn eco_server(&self) -> EcoServer<EcoApi> {
        EcoServer::new(self.clone())
    }

    /// The `Points` service.
    pub fn points_server(&self) -> PointsServer<EcoApi> {
        PointsServer::new(self.clone())
    }

    fn now_ms(&self) -> Result<u64, Status> {
        Ok(self.chain.tip().map_err(internal)?.time_ms)
    }
}

fn holder_arg(b: &[u8]) -> Result<[u8; 32], Status> {
    <[u8; 32]>::try_from(b).map_err(|_| {
        Status::invalid_argument(format!(
            "holder must be a 32-byte account key, got {} bytes",
            b.len()
        ))
    })
}

fn id_arg(what: &str, id: &str) -> Result<(), Status> {
    if id.is_empty() {
        return Err(Status::invalid_argument(format!("{what} is required")));
    }
    yui_contracts::governance::check_id(what, id, 64)
        .map_err(|e| Status::invalid_argument(e.to_string()))
}

#[tonic::async_trait]
impl Eco for EcoApi {
    async fn get_participant(
        &self,
        req: Request<pb::GetParticipantRequest>,
    ) -> Result<Response<pb::GetParticipantResponse>, Status> {
        let r = req.into_inner();
        id_arg("participant_id", &r.participant_id)?;
        let now = self.now_ms()?;
        let state = self.chain.state();
        let p = eco::participant(&state, &r.participant_id)
            .map_err(contract)?
            .ok_or_else(|| Status::not_found("no participant has this id"))?;
        let devices = eco::devices_of(&state, &p.id).map_err(contract)?;
        let (reductions, next_page_token) =
            eco::reductions_of(&state, &p.id, r.page.as_ref()).map_err(contract)?;
        let balance = eco::participant_balance(&state, &p, now).map_err(contract)?;
        Ok(Response::new(pb::GetParticipantResponse {
            participant: Some(p.to_proto()),
            devices: devices.iter().map(eco::Device::to_proto).collect(),
            reductions,
            next_page_token,
            balance: Some(balance),
        }))
    }

    async fn get_program_totals(
        &self,
        req: Request<pb::GetProgramTotalsRequest>,
    ) -> Result<Response<pb::GetProgramTotalsResponse>, Status> {
        let r = req.into_inner();
        id_arg("program_id", &r.program_id)?;
        let state = self.chain.state();
        let prog = eco::program(&state, &r.program_id)
            .map_err(contract)?
            .ok_or_else(|| Status::not_found("no program has this id"))?;
        let (totals, participants, devices) =
            eco::program_totals(&state, &prog.id).map_err(contract)?;
        let t =
            points::totals(&state, points::PointType::Eco, &prog.organization).map_err(contract)?;
        Ok(Response::new(pb::GetProgramTotalsResponse {
            points: Some(pb::PointsTotals {
                point_type: pb::PointType::Eco as i32,
                issuer: prog.organization.clone(),
                minted: t.minted,
                burned: t.burned,
                expired: t.expired,
                outstanding: t.outstanding(),
            }),
            program: Some(prog.to_proto()),
            participants,
            devices,
            totals,
        }))
    }

    async fn get_credit_report(
        &self,
        req: Request<pb::GetCreditReportRequest>,
    ) -> Result<Response<pb::GetCreditReportResponse>, Status> {
        let r = req.into_inner();
        id_arg("report_id", &r.report_id)?;
        let report = eco::report(&self.chain.state(), &r.report_id)
            .map_err(contract)?
            .ok_or_else(|| Status::not_found("no credit report has this id"))?;
        Ok(Response::new(pb::GetCreditReportResponse {
            report: Some(report),
        }))
    }

    async fn list_participants(
        &self,
        req: Request<pb::ListParticipantsRequest>,
    ) -> Result<Response<pb::ListParticipantsResponse>, Status> {
        let r = req.into_inner();
        id_arg("program_id", &r.program_id)?;
        eco::list_participants(&self.chain.state(), &r)
            .map(Response::new)
            .map_err(contract)
    }

    async fn list_applications(
        &self,
        req: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        let r = req.into_inner();
        id_arg("program_id", &r.program_id)?;
        eco::list_applications(&self.chain.state(), &r)
            .map(Response::new)
            .map_err(contract)
    }

    async fn export_credit_report(
        &self,
        req: Request<pb::ExportCreditReportRequest>,
    ) -> Result<Response<pb::ExportCreditReportResponse>, Status> {
        let r = req.into_inner();
        id_arg("report_id", &r.report_id)?;
        let format = crate::api::report::format_arg(r.format)?;
        let state = self.chain.state();
        let report = eco::report(&state, &r.report_id)
            .map_err(contract)?
            .ok_or_else(|| Status::not_found("no credit report has this id"))?;
        let readings = eco::report_readings(&state, &r.report_id).map_err(contract)?;
        let (content_type, content) = match format {
            pb::ExportFormat::Json => {
                let mut by: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
                for r in &readings {
                    let e = by.entry(r.participant_id.clone()).or_default();
                    e.0 += 1;
                    e.1 = e.1.saturating_add(r.credited_g);
                }
                let mut subtotals = Vec::new();
                for (id, (n, g)) in by {
                    let joined = eco::participant(&state, &id)
                        .map_err(contract)?
                        .map(|p| p.joined_at_ms);
                    subtotals.push((id, joined, n, g));
                }
                (
                    "application/json",
                    report_json(&report, &readings, &subtotals).to_string(),
                )
            }
            _ => (
                "text/csv",
                report_csv(&report, &readings).map_err(internal)?,
            ),
        };
        Ok(Response::new(pb::ExportCreditReportResponse {
            content_type: content_type.into(),
            content,
        }))
    }
}

/// The CSV export's columns, in order.
pub const REPORT_COLUMNS: &[&str] = &[
    "report_id",
    "program_id",
    "reading_id",
    "participant_id",
    "device_id",
    "methodology",
    "fiscal_year",
    "period_start_jst",
    "period_end_jst",
    "electricity_wh",
    "distance_m",
    "fuel_ml",
    "grid_g_per_mwh",
    "gasoline_mg_per_l",
    "baseline_g",
    "project_g",
    "reduction_g",
    "manual",
    "evidence_hash",
    "device_kind",
    "baseline_m_per_l",
    "credited_g",
    "over_limit",
    "height",
    "tx_id",
];

/// The CSV export: one line per claimed reading. Columns are stable; times are JST.
pub fn report_csv(report: &pb::CreditReport, readings: &[pb::Reduction]) -> anyhow::Result<String> {
    let t = |s: &str| Cell::Text(s.to_string());
    let rows: Vec<Vec<Cell>> = readings
        .iter()
        .map(|r| {
            let rd = r.reading.clone().unwrap_or_default();
            vec![
                t(&report.report_id),
                t(&report.program_id),
                t(&r.reading_id),
                t(&r.participant_id),
                t(&r.device_id),
                t(&r.methodology),
                Cell::Count(u64::from(r.fiscal_year)),
                t(&jst(r.period_start_ms)),
                t(&jst(r.period_end_ms)),
                Cell::Count(rd.electricity_wh),
                Cell::Count(rd.distance_m),
                Cell::Count(rd.fuel_ml),
                Cell::Count(r.grid_g_per_mwh),
                Cell::Count(r.gasoline_mg_per_l),
                Cell::Count(r.baseline_g),
                Cell::Count(r.project_g),
                Cell::Count(r.reduction_g),
                t(&r.manual.to_string()),
                t(&hex::encode(&rd.evidence_hash)),
                t(device_kind(r.device_kind)),
                Cell::Count(r.baseline_m_per_l),
                Cell::Count(r.credited_g),
                t(&r.over_limit.to_string()),
                Cell::Count(r.height),
                t(&hex::encode(&r.tx_id)),
            ]
        })
        .collect();
    csv(REPORT_COLUMNS, &rows)
}

/// The JSON export: the report with its totals and every claimed reading.
pub fn report_json(
    report: &pb::CreditReport,
    readings: &[pb::Reduction],
    participants: &[ParticipantSubtotal],
) -> serde_json::Value {
    use serde_json::json;
    json!({
        "report_id": report.report_id,
        "program_id": report.program_id,
        "period_start_jst": jst(report.period_start_ms),
        "period_end_jst": jst(report.period_end_ms),
        "readings": report.readings,
        "participants": report.participants,
        "total_g_co2": report.total_g,
        "total_t_co2_truncated": report.total_g / 1_000_000,
        "by_methodology": report.by_methodology.iter().map(|m| json!({
            "methodology": m.methodology,
            "fiscal_year": m.fiscal_year,
            "readings": m.readings,
            "reduction_g": m.reduction_g,
        })).collect::<Vec<_>>(),
        "certified_tonnes": report.certified_tonnes,
        "serial_numbers": report.serial_numbers,
        "sales": report.sales.iter().map(|s| json!({
            "buyer": s.buyer,
            "tonnes": s.tonnes,
            "price_yen_per_tonne": s.price_yen_per_tonne,
            "recorded_at_jst": jst(s.recorded_at_ms),
        })).collect::<Vec<_>>(),
        "reductions": readings.iter().map(|r| {
            let rd = r.reading.clone().unwrap_or_default();
            json!({
                "reading_id": r.reading_id,
                "participant_id": r.participant_id,
                "device_id": r.device_id,
                "methodology": r.methodology,
                "fiscal_year": r.fiscal_year,
                "period_start_jst": jst(r.period_start_ms),
                "period_end_jst": jst(r.period_end_ms),
                "electricity_wh": rd.electricity_wh,
                "distance_m": rd.distance_m,
                "fuel_ml": rd.fuel_ml,
                "grid_g_per_mwh": r.grid_g_per_mwh,
                "gasoline_mg_per_l": r.gasoline_mg_per_l,
                "baseline_g": r.baseline_g,
                "project_g": r.project_g,
                "reduction_g": r.reduction_g,
                "manual": r.manual,
                "evidence_hash": hex::encode(&rd.evidence_hash),
                "device_kind": device_kind(r.device_kind),
                "baseline_m_per_l": r.baseline_m_per_l,
                "credited_g": r.credited_g,
                "over_limit": r.over_limit,
                "height": r.height,
                "tx_id": hex::encode(&r.tx_id),
            })
        }).collect::<Vec<_>>(),
        "participants": participants.iter().map(|(id, joined, n, g)| json!({
            "participant_id": id,
            "joined_at_jst": joined.map(jst),
            "readings": n,
            "credited_g": g,
        })).collect::<Vec<_>>(),
    })
}

/// The methodology's name of a device kind, as the export writes it.
fn device_kind(k: i32) -> &'static str {
    match pb::DeviceKind::try_from(k) {
        Ok(pb::DeviceKind::Ev) => "ev",
        Ok(pb::DeviceKind::Phv) => "phv",
        Ok(pb::DeviceKind::Solar) => "solar",
        Ok(pb::DeviceKind::Generator) => "generator",
        _ => "unknown",
    }
}

/// Per participant of a report: join time (if the participant is still on record), readings
/// claimed and grams credited, by participant id.
pub type ParticipantSubtotal = (String, Option<u64>, u64, u64);

#[tonic::async_trait]
impl Points for EcoApi {
    async fn get_balances(
        &self,
        req: Request<pb::GetBalancesRequest>,
    ) -> Result<Response<pb::GetBalancesResponse>, Status> {
        let holder = holder_arg(&req.into_inner().holder)?;
        let now = self.now_ms()?;
        let balances = points::balances(&self.chain.state(), &holder, now).map_err(contract)?;
        Ok(Response::new(pb::GetBalancesResponse { balances }))
    }

    async fn get_history(
        &self,
        req: Request<pb::GetPointsHistoryRequest>,
    ) -> Result<Response<pb::GetPointsHistoryResponse>, Status> {
        let r = req.into_inner();
        let holder = holder_arg(&r.holder)?;
        let (movements, next_page_token) =
            points::history(&self.chain.state(), &holder, r.page.as_ref()).map_err(contract)?;
        Ok(Response::new(pb::GetPointsHistoryResponse {
            movements,
            next_page_token,
        }))
    }

    async fn list_settlements(
        &self,
        req: Request<pb::ListSettlementsRequest>,
    ) -> Result<Response<pb::ListSettlementsResponse>, Status> {
        let r = req.into_inner();
        id_arg("issuer", &r.issuer)?;
        let (list, next_page_token) = points::settlements(
            &self.chain.state(),
            &r.issuer,
            r.unpaid_only,
            r.page.as_ref(),
        )
        .map_err(contract)?;
        Ok(Response::new(pb::ListSettlementsResponse {
            settlements: list.iter().map(points::Settlement::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_totals(
        &self,
        _req: Request<pb::GetPointsTotalsRequest>,
    ) -> Result<Response<pb::GetPointsTotalsResponse>, Status> {
        let totals = points::all_totals(&self.chain.state()).map_err(contract)?;
        Ok(Response::new(pb::GetPointsTotalsResponse { totals }))
    }
}
