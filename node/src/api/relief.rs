//! The `Relief` gRPC service: searches and lists of the relief contract at the latest committed
//! block, and shipment labels (a fresh QR token with its commitment and ready-to-print images).

use crate::api::status::{contract, internal};
use crate::chain::ChainReader;
use tonic::{Request, Response, Status};
use yui_contracts::relief;
use yui_proto::v1 as pb;
use yui_proto::v1::relief_server::{Relief, ReliefServer};

/// The service.
#[derive(Clone)]
pub struct ReliefApi {
    /// Committed chain.
    pub chain: ChainReader,
}

impl ReliefApi {
    /// As a tonic service.
    pub fn into_server(self) -> ReliefServer<ReliefApi> {
        ReliefServer::new(self)
    }
}

/// A fresh random label for a shipment: (token, commitment). The secret comes from the
/// operating system's generator; the node keeps no copy.
pub fn new_label(shipment_id: u64) -> anyhow::Result<(String, [u8; 32])> {
    let mut secret = [0u8; relief::TOKEN_SECRET_LEN];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok((
        relief::token_string(shipment_id, &secret),
        relief::token_commitment(shipment_id, &secret),
    ))
}

#[tonic::async_trait]
impl Relief for ReliefApi {
    async fn list_needs(
        &self,
        req: Request<pb::ListNeedsRequest>,
    ) -> Result<Response<pb::ListNeedsResponse>, Status> {
        let now = self.chain.tip().map_err(internal)?.time_ms;
        relief::list_needs(&self.chain.state(), &req.into_inner(), now)
            .map(Response::new)
            .map_err(contract)
    }

    async fn list_offers(
        &self,
        req: Request<pb::ListOffersRequest>,
    ) -> Result<Response<pb::ListOffersResponse>, Status> {
        let now = self.chain.tip().map_err(internal)?.time_ms;
        relief::list_offers(&self.chain.state(), &req.into_inner(), now)
            .map(Response::new)
            .map_err(contract)
    }

    async fn get_shipment(
        &self,
        req: Request<pb::GetShipmentRequest>,
    ) -> Result<Response<pb::GetShipmentResponse>, Status> {
        let id = req.into_inner().shipment_id;
        let state = self.chain.state();
        let s = relief::shipment(&state, id)
            .map_err(contract)?
            .ok_or_else(|| Status::not_found(format!("no shipment has id {id}")))?;
        let commitment = relief::commitment(&state, s.commitment_id).map_err(contract)?;
        let item = relief::item(&state, &s.item_id).map_err(contract)?;
        Ok(Response::new(pb::GetShipmentResponse {
            shipment: Some(s),
            commitment,
            item,
        }))
    }

    async fn list_arrivals(
        &self,
        req: Request<pb::ListArrivalsRequest>,
    ) -> Result<Response<pb::ListArrivalsResponse>, Status> {
        let r = req.into_inner();
        let state = self.chain.state();
        if !r.shelter_id.is_empty()
            && relief::shelter(&state, &r.shelter_id)
                .map_err(contract)?
                .is_none()
        {
            return Err(Status::not_found("no shelter has this id"));
        }
        relief::list_arrivals(&state, &r)
            .map(Response::new)
            .map_err(contract)
    }

    async fn get_disaster_totals(
        &self,
        req: Request<pb::GetDisasterTotalsRequest>,
    ) -> Result<Response<pb::GetDisasterTotalsResponse>, Status> {
        let id = req.into_inner().disaster_id;
        if id.is_empty() {
            return Err(Status::invalid_argument("disaster_id is required"));
        }
        let state = self.chain.state();
        let d = relief::disaster(&state, &id)
            .map_err(contract)?
            .ok_or_else(|| Status::not_found("no disaster has this id"))?;
        let items = relief::disaster_totals(&state, &id).map_err(contract)?;
        Ok(Response::new(pb::GetDisasterTotalsResponse {
            disaster: Some(d),
            items,
        }))
    }

    async fn new_shipment_label(
        &self,
        req: Request<pb::NewShipmentLabelRequest>,
    ) -> Result<Response<pb::NewShipmentLabelResponse>, Status> {
        let id = req.into_inner().shipment_id;
        let s = relief::shipment(&self.chain.state(), id)
            .map_err(contract)?
            .ok_or_else(|| Status::not_found(format!("no shipment has id {id}")))?;
        if s.status != pb::ShipmentStatus::ShipmentCreated as i32 {
            return Err(Status::failed_precondition(
                "the shipment is already shipped, received or cancelled: a new label would not match it",
            ));
        }
        let (token, commitment) = new_label(id).map_err(internal)?;
        let img = crate::api::qr::render(&token).map_err(internal)?;
        let state = self.chain.state();
        // A shipment names an item and a shelter the ledger has; anything else is damage.
        let missing = |what: &str, name: &str| {
            internal(format!(
                "shipment {id} names {what} {name} that the ledger does not have"
            ))
        };
        let item = relief::item(&state, &s.item_id)
            .map_err(contract)?
            .ok_or_else(|| missing("item", &s.item_id))?;
        let shelter = relief::shelter(&state, &s.shelter_id)
            .map_err(contract)?
            .ok_or_else(|| missing("shelter", &s.shelter_id))?;
        let facts = crate::api::label::LabelFacts {
            shipment_id: s.shipment_id,
            disaster_id: s.disaster_id,
            item_id: s.item_id,
            item_name: item.name,
            unit: item.unit,
            quantity: s.quantity,
            shelter_id: s.shelter_id,
            shelter_name: shelter.name,
            shelter_area: shelter.area,
            need_id: s.need_id,
            offer_id: s.offer_id,
        };
        let label_pdf = crate::api::label::pdf(&token, &facts).map_err(internal)?;
        Ok(Response::new(pb::NewShipmentLabelResponse {
            token,
            token_commitment: commitment.to_vec(),
            qr_svg: img.svg,
            qr_png: img.png,
            label_pdf,
        }))
    }

    async fn list_commitments(
        &self,
        req: Request<pb::ListCommitmentsRequest>,
    ) -> Result<Response<pb::ListCommitmentsResponse>, Status> {
        relief::list_commitments(&self.chain.state(), &req.into_inner())
            .map(Response::new)
            .map_err(contract)
    }

    async fn list_shipments(
        &self,
        req: Request<pb::ListShipmentsRequest>,
    ) -> Result<Response<pb::ListShipmentsResponse>, Status> {
        let now = self.chain.tip().map_err(internal)?.time_ms;
        relief::list_shipments(&self.chain.state(), &req.into_inner(), now)
            .map(Response::new)
            .map_err(contract)
    }

    async fn export_disaster_report(
        &self,
        req: Request<pb::ExportDisasterReportRequest>,
    ) -> Result<Response<pb::ExportDisasterReportResponse>, Status> {
        let r = req.into_inner();
        if r.disaster_id.is_empty() {
            return Err(Status::invalid_argument("disaster_id is required"));
        }
        yui_contracts::governance::check_id("disaster_id", &r.disaster_id, 64)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let format = crate::api::report::format_arg(r.format)?;
        let tip = self.chain.tip().map_err(internal)?;
        let state = self.chain.state();
        let disaster = relief::disaster(&state, &r.disaster_id)
            .map_err(contract)?
            .ok_or_else(|| Status::not_found("no disaster has this id"))?;
        let lines =
            relief::disaster_report(&state, &r.disaster_id, tip.time_ms).map_err(contract)?;
        let (content_type, content) =
            crate::api::report::disaster_report(format, &disaster, &lines, tip.height, tip.time_ms)
                .map_err(internal)?;
        Ok(Response::new(pb::ExportDisasterReportResponse {
            content_type: content_type.into(),
            content,
            lines,
            height: tip.height,
        }))
    }

    async fn list_catalogue(
        &self,
        _req: Request<pb::ListCatalogueRequest>,
    ) -> Result<Response<pb::ListCatalogueResponse>, Status> {
        let items = relief::catalogue(&self.chain.state()).map_err(contract)?;
        Ok(Response::new(pb::ListCatalogueResponse { items }))
    }
}
