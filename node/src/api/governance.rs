//! The `Governance` gRPC service: the consortium as committed state records it — organizations
//! with their admin, validator and node keys, accounts with their roles, parameters with every
//! version, proposals with their approvals, and recorded equivocation evidence.

use crate::api::status::{contract, internal};
use crate::chain::ChainReader;
use tonic::{Request, Response, Status};
use yui_contracts::governance::{self, queries};
use yui_proto::v1 as pb;
use yui_proto::v1::governance_server::{Governance, GovernanceServer};

/// The service.
#[derive(Clone)]
pub struct GovernanceApi {
    /// Committed chain.
    pub chain: ChainReader,
}

impl GovernanceApi {
    /// As a tonic service.
    pub fn into_server(self) -> GovernanceServer<GovernanceApi> {
        GovernanceServer::new(self)
    }
}

#[tonic::async_trait]
impl Governance for GovernanceApi {
    async fn list_organizations(
        &self,
        _req: Request<pb::ListOrganizationsRequest>,
    ) -> Result<Response<pb::ListOrganizationsResponse>, Status> {
        queries::list_organizations(&self.chain.state())
            .map(|organizations| Response::new(pb::ListOrganizationsResponse { organizations }))
            .map_err(contract)
    }

    async fn get_account(
        &self,
        req: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::GetAccountResponse>, Status> {
        let key = governance::key32("account", &req.into_inner().account).map_err(contract)?;
        let a = governance::account(&self.chain.state(), &key)
            .map_err(contract)?
            .ok_or_else(|| Status::not_found("no ledger account has this key"))?;
        Ok(Response::new(pb::GetAccountResponse {
            account: a.key.to_vec(),
            organization: a.organization,
            roles: a.roles.iter().map(governance::Role::to_proto).collect(),
        }))
    }

    async fn get_parameter(
        &self,
        req: Request<pb::GetParameterRequest>,
    ) -> Result<Response<pb::GetParameterResponse>, Status> {
        let r = req.into_inner();
        let next = self.chain.tip().map_err(internal)?.height + 1;
        queries::parameter_versions(&self.chain.state(), &r.key, &r.organization, next)
            .map(Response::new)
            .map_err(contract)
    }

    async fn list_proposals(
        &self,
        _req: Request<pb::ListProposalsRequest>,
    ) -> Result<Response<pb::ListProposalsResponse>, Status> {
        queries::list_proposals(&self.chain.state())
            .map(|proposals| Response::new(pb::ListProposalsResponse { proposals }))
            .map_err(contract)
    }

    async fn list_evidence(
        &self,
        _req: Request<pb::ListEvidenceRequest>,
    ) -> Result<Response<pb::ListEvidenceResponse>, Status> {
        queries::list_evidence(&self.chain.state())
            .map(|evidence| Response::new(pb::ListEvidenceResponse { evidence }))
            .map_err(contract)
    }

    async fn list_notifications(
        &self,
        req: Request<pb::ListNotificationsRequest>,
    ) -> Result<Response<pb::ListNotificationsResponse>, Status> {
        yui_contracts::governance::notices::list_notifications(
            &self.chain.state(),
            &req.into_inner(),
        )
        .map(Response::new)
        .map_err(contract)
    }
}
