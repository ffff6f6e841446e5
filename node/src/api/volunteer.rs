//! The `Volunteer` gRPC service: read-only queries of the volunteer contract (opportunities,
//! a volunteer's history and contribution-point balance, pending approvals, search) and the
//! verifiable certificate: the proof a volunteer carries (with its QR code) and its check.
//!
//! A certificate proof is an event inclusion proof (`audit::proof::certificate`) of the transaction that
//! issued the certificate: its receipt holds the `CertificateIssued` event, the receipt's Merkle
//! path leads to the header's event root, and the commit certificate signs the header. Anyone
//! holding the consortium's validator keys checks it offline (`yui certificate verify`); the
//! online check adds that the certificate has not been revoked since.

use crate::api::status::{contract, internal};
use crate::chain::ChainReader;
use tonic::{Request, Response, Status};
use yui_client::certificate::{proof_from_qr, qr_text};
use yui_contracts::volunteer;
use yui_proto::v1 as pb;
use yui_proto::v1::volunteer_server::{Volunteer, VolunteerServer};

/// The service.
#[derive(Clone)]
pub struct VolunteerApi {
    /// Committed chain.
    pub chain: ChainReader,
}

impl VolunteerApi {
    /// As a tonic service.
    pub fn into_server(self) -> VolunteerServer<VolunteerApi> {
        VolunteerServer::new(self)
    }
}

#[tonic::async_trait]
impl Volunteer for VolunteerApi {
    async fn list_opportunities(
        &self,
        req: Request<pb::ListOpportunitiesRequest>,
    ) -> Result<Response<pb::ListOpportunitiesResponse>, Status> {
        let r = req.into_inner();
        if pb::OpportunityStatus::try_from(r.status).is_err() {
            return Err(Status::invalid_argument(
                "status is not a known OpportunityStatus",
            ));
        }
        if !r.poster.is_empty() && r.poster.len() != 32 {
            return Err(Status::invalid_argument(
                "poster must be a 32-byte account key",
            ));
        }
        volunteer::list_opportunities(&self.chain.state(), &r)
            .map(Response::new)
            .map_err(contract)
    }

    async fn get_volunteer_history(
        &self,
        req: Request<pb::GetVolunteerHistoryRequest>,
    ) -> Result<Response<pb::GetVolunteerHistoryResponse>, Status> {
        let r = req.into_inner();
        let state = self.chain.state();
        let mut out = volunteer::volunteer_history(&state, &r).map_err(contract)?;
        // The balance: contribution points held, of every issuing municipality.
        if let Some(v) = &out.volunteer {
            let holder = <[u8; 32]>::try_from(v.account.as_slice()).map_err(internal)?;
            let now = self.chain.tip().map_err(internal)?.time_ms;
            out.points_balance = yui_contracts::points::balances(&state, &holder, now)
                .map_err(contract)?
                .iter()
                .filter(|b| b.point_type == pb::PointType::Contribution as i32)
                .map(|b| b.spendable)
                .sum();
        }
        Ok(Response::new(out))
    }

    async fn list_pending_approvals(
        &self,
        req: Request<pb::ListPendingApprovalsRequest>,
    ) -> Result<Response<pb::ListPendingApprovalsResponse>, Status> {
        let r = req.into_inner();
        if pb::PendingKind::try_from(r.kind).is_err() {
            return Err(Status::invalid_argument("kind is not a known PendingKind"));
        }
        volunteer::pending_approvals(&self.chain.state(), &r)
            .map(Response::new)
            .map_err(contract)
    }

    async fn list_applicants(
        &self,
        req: Request<pb::ListApplicantsRequest>,
    ) -> Result<Response<pb::ListApplicantsResponse>, Status> {
        volunteer::list_applicants(&self.chain.state(), &req.into_inner())
            .map(Response::new)
            .map_err(contract)
    }

    async fn search_volunteers(
        &self,
        req: Request<pb::SearchVolunteersRequest>,
    ) -> Result<Response<pb::SearchVolunteersResponse>, Status> {
        let r = req.into_inner();
        volunteer::search_volunteers(&self.chain.state(), &r)
            .map(Response::new)
            .map_err(contract)
    }

    async fn verify_certificate(
        &self,
        req: Request<pb::VerifyCertificateRequest>,
    ) -> Result<Response<pb::VerifyCertificateResponse>, Status> {
        let mut r = req.into_inner();
        let proof = match (r.proof.is_empty(), r.qr_text.is_empty()) {
            (true, true) => None,
            (false, true) => Some(std::mem::take(&mut r.proof)),
            (true, false) => match proof_from_qr(&r.qr_text) {
                Ok(p) => Some(p),
                // A code that is not a certificate's is an answer too: not valid, and why.
                Err(e) => {
                    return Ok(Response::new(pb::VerifyCertificateResponse {
                        valid: false,
                        certificate: None,
                        reason: e.to_string(),
                        proof_checked: true,
                        reason_code: e.code().to_string(),
                    }))
                }
            },
            (false, false) => {
                return Err(Status::invalid_argument(
                    "give either proof or qr_text, not both",
                ))
            }
        };
        // (reason code, sentence) of a proof that does not hold: an answer, not an RPC error.
        let mut proof_failure: Option<(&'static str, String)> = None;
        if let Some(bytes) = &proof {
            // The proof is checked against this node's record of the validators at its height.
            let checked = match yui_client::proof::decode(bytes) {
                Err(e) => Err(yui_client::certificate::CertificateError::Proof(e)),
                Ok(p) => {
                    let h = p.header.as_ref().map_or(0, |h| h.height);
                    let tip = self.chain.tip().map_err(internal)?.height;
                    if h == 0 || h > tip {
                        proof_failure = Some((
                            "unknown_block",
                            "the proof is for a block this node does not have".to_string(),
                        ));
                        None
                    } else {
                        let set = self.chain.validator_set(h).map_err(internal)?;
                        Some(yui_client::certificate::verify(bytes, &set))
                    }
                    .map_or(Ok(None), |r| r.map(Some))
                }
            };
            match checked {
                Ok(Some(p)) => {
                    if r.certificate_id.is_empty() {
                        r.certificate_id = p.certificate.certificate_id.clone();
                    } else if r.certificate_id != p.certificate.certificate_id {
                        proof_failure = Some((
                            "other_certificate",
                            "the proof is for another certificate".to_string(),
                        ));
                    }
                }
                Ok(None) => {}
                Err(e) => proof_failure = Some((e.code(), format!("the proof does not hold: {e}"))),
            }
        }
        if r.certificate_id.is_empty() {
            return match proof_failure {
                Some((code, reason)) => Ok(Response::new(pb::VerifyCertificateResponse {
                    valid: false,
                    certificate: None,
                    reason,
                    proof_checked: true,
                    reason_code: code.to_string(),
                })),
                None => Err(Status::invalid_argument(
                    "give certificate_id, proof or qr_text",
                )),
            };
        }
        let mut out = volunteer::verify_certificate(&self.chain.state(), &r).map_err(contract)?;
        out.proof_checked = proof.is_some();
        if let Some((code, reason)) = proof_failure {
            out.valid = false;
            out.reason = reason;
            out.reason_code = code.to_string();
        }
        Ok(Response::new(out))
    }

    async fn get_certificate_proof(
        &self,
        req: Request<pb::GetCertificateProofRequest>,
    ) -> Result<Response<pb::GetCertificateProofResponse>, Status> {
        let r = req.into_inner();
        if r.certificate_id.is_empty() {
            return Err(Status::invalid_argument("certificate_id is required"));
        }
        if volunteer::certificate_record(&self.chain.state(), &r.certificate_id)
            .map_err(contract)?
            .is_none()
        {
            return Err(Status::not_found("no certificate has this id"));
        }
        let proof =
            crate::audit::proof::certificate(&self.chain, &r.certificate_id).map_err(internal)?;
        let bytes = prost::Message::encode_to_vec(&proof);
        let text = qr_text(&bytes);
        let img = crate::api::qr::render(&text).map_err(|e| {
            Status::failed_precondition(format!("the proof does not fit in a QR code: {e}"))
        })?;
        Ok(Response::new(pb::GetCertificateProofResponse {
            proof: bytes,
            qr_svg: img.svg,
            qr_png: img.png,
            qr_version: img.version,
            qr_text: text,
        }))
    }
}
