//! `yui gov`: what municipal IT staff do to change the consortium, without writing a client —
//! list members and proposals, propose that a member joins or leaves, approve a proposal. Each
//! change is a signed transaction submitted to a node; the command waits for its receipt and
//! says what happened.

use anyhow::{bail, Context as _, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use yui_proto::v1 as pb;
use yui_proto::v1::governance_call::Call as G;

/// How long a command waits for its transaction to be committed.
const COMMIT_WAIT: Duration = Duration::from_secs(60);
/// Blocks until a submitted transaction expires.
const EXPIRY_BLOCKS: u64 = 50;

/// Organization kinds by name.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Kind {
    /// A municipality (may run a validator and a node).
    Municipality,
    /// A company.
    Company,
    /// A non-profit organization.
    Npo,
    /// A citizen group.
    CitizenGroup,
}

impl Kind {
    fn proto(self) -> pb::OrganizationKind {
        match self {
            Kind::Municipality => pb::OrganizationKind::Municipality,
            Kind::Company => pb::OrganizationKind::Company,
            Kind::Npo => pb::OrganizationKind::Npo,
            Kind::CitizenGroup => pb::OrganizationKind::CitizenGroup,
        }
    }
}

/// Who signs and where to send it.
#[derive(clap::Args, Debug)]
pub struct Signer {
    /// The node, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    endpoint: String,
    /// Your organization admin's key file (from `yui keys generate`).
    #[arg(long)]
    key: PathBuf,
}

/// Consortium governance.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// List the organizations with their kind, admins, validators and node key.
    Organizations {
        /// The node, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        endpoint: String,
    },
    /// List proposals with their approvals.
    Proposals {
        /// The node, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        endpoint: String,
    },
    /// Propose that a new organization joins (your organization must run a validator).
    Join {
        /// Who signs, and the node.
        #[command(flatten)]
        signer: Signer,
        /// The new organization's id, `[a-z0-9._-]`.
        #[arg(long)]
        organization: String,
        /// Its public name.
        #[arg(long)]
        name: String,
        /// Its kind.
        #[arg(long, value_enum, default_value = "municipality")]
        kind: Kind,
        /// Its first admin's public key (hex, 64 characters).
        #[arg(long)]
        admin_key: String,
        /// Municipalities only: its validator's public key (hex).
        #[arg(long)]
        validator_key: Option<String>,
        /// The validator's short name.
        #[arg(long, default_value = "validator-1")]
        validator_name: String,
        /// Municipalities only: the public key of a non-voting node it runs (hex).
        #[arg(long)]
        node_key: Option<String>,
        /// Why (shown to the others; no personal data).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Propose that an organization leaves.
    Remove {
        /// Who signs, and the node.
        #[command(flatten)]
        signer: Signer,
        /// The organization's id.
        #[arg(long)]
        organization: String,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Approve a proposal.
    Approve {
        /// Who signs, and the node.
        #[command(flatten)]
        signer: Signer,
        /// The proposal id (from `yui gov proposals`).
        #[arg(long)]
        proposal: u64,
    },
    /// Anchor one JST day of your organization's personal-data access log on the ledger: reads
    /// the day's digest from the node's vault (`PersonalData.ReadAccessLog`) and submits it.
    /// Run it once a day, after midnight JST (`deploy/yui-anchor.timer`).
    AnchorAccessLog {
        /// Who signs (an org or municipality admin), and the node that holds the vault.
        #[command(flatten)]
        signer: Signer,
        /// The day, `YYYY-MM-DD`; yesterday (JST) if not given.
        #[arg(long)]
        day: Option<String>,
    },
}

fn key_bytes(what: &str, hex_key: &str) -> Result<Vec<u8>> {
    let k = crate::setup::genesis::parse_key(hex_key).with_context(|| what.to_string())?;
    Ok(k.to_vec())
}

/// Run it.
pub async fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Organizations { endpoint } => {
            let mut g = governance(&endpoint).await?;
            let orgs = g
                .list_organizations(pb::ListOrganizationsRequest {})
                .await?
                .into_inner()
                .organizations;
            for o in orgs {
                let kind = pb::OrganizationKind::try_from(o.kind)
                    .map(|k| k.as_str_name())
                    .unwrap_or("?");
                let status = if o.removed_at_height > 0 {
                    format!("removed at height {}", o.removed_at_height)
                } else {
                    "member".into()
                };
                println!("{}  {}  {}  {}", o.id, o.name, kind, status);
                for a in &o.admin_keys {
                    println!("    admin     {}", hex::encode(a));
                }
                for v in &o.validators {
                    println!("    validator {} {}", v.name, hex::encode(&v.public_key));
                }
                if !o.node_key.is_empty() {
                    println!("    node      {}", hex::encode(&o.node_key));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Proposals { endpoint } => {
            let mut g = governance(&endpoint).await?;
            let ps = g
                .list_proposals(pb::ListProposalsRequest {})
                .await?
                .into_inner()
                .proposals;
            for p in ps {
                let o = p.opened.unwrap_or_default();
                let what = if let Some(m) = o.member_change.and_then(|m| m.change) {
                    match m {
                        pb::member_change::Change::Join(j) => format!("join {}", j.organization),
                        pb::member_change::Change::Remove(id) => format!("remove {id}"),
                        pb::member_change::Change::ChangeAdmin(a) => {
                            format!("new admin key for {}", a.organization)
                        }
                    }
                } else if let Some(pc) = o.parameter_change {
                    format!("parameter {} = {}", pc.key, pc.value)
                } else {
                    "validator-set change".into()
                };
                println!(
                    "#{}  {}  by {}  approved by [{}]  {}",
                    o.proposal_id,
                    what,
                    o.proposed_by,
                    p.approvals.join(", "),
                    if p.decided { "carried out" } else { "open" }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Join {
            signer,
            organization,
            name,
            kind,
            admin_key,
            validator_key,
            validator_name,
            node_key,
            reason,
        } => {
            let join = pb::NewMember {
                organization,
                name,
                kind: kind.proto() as i32,
                admin_key: key_bytes("--admin-key", &admin_key)?,
                validator_key: validator_key
                    .as_deref()
                    .map(|k| key_bytes("--validator-key", k))
                    .transpose()?
                    .unwrap_or_default(),
                validator_name: if validator_key.is_some() {
                    validator_name
                } else {
                    String::new()
                },
                validator_power: 1,
                node_key: node_key
                    .as_deref()
                    .map(|k| key_bytes("--node-key", k))
                    .transpose()?
                    .unwrap_or_default(),
            };
            let call = G::ProposeMemberChange(pb::ProposeMemberChange {
                change: Some(pb::MemberChange {
                    change: Some(pb::member_change::Change::Join(join)),
                }),
                reason,
            });
            submit_and_report(&signer, call).await
        }
        Command::Remove {
            signer,
            organization,
            reason,
        } => {
            let call = G::ProposeMemberChange(pb::ProposeMemberChange {
                change: Some(pb::MemberChange {
                    change: Some(pb::member_change::Change::Remove(organization)),
                }),
                reason,
            });
            submit_and_report(&signer, call).await
        }
        Command::Approve { signer, proposal } => {
            let call = G::ApproveProposal(pb::ApproveProposal {
                proposal_id: proposal,
            });
            submit_and_report(&signer, call).await
        }
        Command::AnchorAccessLog { signer, day } => {
            let now = crate::runtime::driver::now_ms();
            let day = day.unwrap_or_else(|| {
                yui_contracts::calendar::jst_date_string(now.saturating_sub(86_400_000))
            });
            let key = crate::setup::keys::load(&signer.key)?;
            let mut pd = pb::personal_data_client::PersonalDataClient::new(
                crate::setup::certs::from_env(&signer.endpoint).await?,
            );
            let req = super::authed(
                &key,
                yui_client::auth::method::READ_ACCESS_LOG,
                pb::ReadAccessLogRequest { day: day.clone() },
            )?;
            let log = pd
                .read_access_log(req)
                .await
                .map_err(|s| anyhow::anyhow!("reading the access log: {}", s.message()))?
                .into_inner();
            if log.anchored {
                println!(
                    "{day} is already anchored ({} entries); the stored log {} the anchor",
                    log.anchored_entries,
                    if log.matches_anchor {
                        "matches"
                    } else {
                        "DOES NOT MATCH"
                    }
                );
                return Ok(if log.matches_anchor {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                });
            }
            println!(
                "{day}: {} entries, digest {}",
                log.entries.len(),
                hex::encode(&log.digest)
            );
            let erased_records: Vec<String> = log
                .entries
                .iter()
                .filter(|e| e.operation == "erase" && e.outcome == "ok")
                .map(|e| e.record_id.clone())
                .collect();
            let call = G::AnchorAccessLog(pb::AnchorAccessLog {
                day,
                entries: log.entries.len() as u64,
                digest: log.digest,
                erased_records,
            });
            submit_and_report(&signer, call).await
        }
    }
}

async fn governance(
    endpoint: &str,
) -> Result<pb::governance_client::GovernanceClient<tonic::transport::Channel>> {
    Ok(pb::governance_client::GovernanceClient::new(
        crate::setup::certs::from_env(endpoint).await?,
    ))
}

/// Sign `call`, submit it, wait for its receipt and print what governance did.
async fn submit_and_report(signer: &Signer, call: G) -> Result<ExitCode> {
    let key = crate::setup::keys::load(&signer.key)?;
    let mut c = pb::ledger_client::LedgerClient::new(
        crate::setup::certs::from_env(&signer.endpoint).await?,
    );
    let info = c
        .get_chain_info(pb::GetChainInfoRequest {})
        .await?
        .into_inner();
    let body = yui_client::tx::body(
        &key,
        &info.chain_id,
        info.height + EXPIRY_BLOCKS,
        pb::tx_body::Call::Governance(pb::GovernanceCall { call: Some(call) }),
    );
    let id = c
        .submit_transaction(pb::SubmitTransactionRequest {
            transaction: Some(yui_client::tx::sign(&key, &body)),
        })
        .await
        .map_err(|s| anyhow::anyhow!("refused: {}", s.message()))?
        .into_inner()
        .tx_id;
    let deadline = Instant::now() + COMMIT_WAIT;
    let receipt = loop {
        let r = c
            .get_transaction(pb::GetTransactionRequest { tx_id: id.clone() })
            .await?
            .into_inner();
        if r.status == pb::TxStatus::Committed as i32 {
            break r.receipt.unwrap_or_default();
        }
        if Instant::now() > deadline {
            bail!(
                "transaction {} was not committed within {COMMIT_WAIT:?}",
                hex::encode(&id)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    if !receipt.success {
        let e = receipt.error.unwrap_or_default();
        eprintln!("refused by governance: {} ({})", e.message, e.code);
        return Ok(ExitCode::FAILURE);
    }
    for e in receipt.events {
        let Some(pb::event::Kind::Governance(pb::GovernanceEvent { kind: Some(k) })) = e.kind
        else {
            continue;
        };
        use pb::governance_event::Kind as K;
        match k {
            K::ProposalOpened(p) => println!("proposal #{} opened", p.proposal_id),
            K::ProposalApproved(a) => println!(
                "proposal #{}: {} of {} approvals needed",
                a.proposal_id, a.approvals, a.required
            ),
            K::MemberChanged(m) => println!(
                "carried out: organization {} changed (proposal #{})",
                m.organization, m.proposal_id
            ),
            K::AccessLogAnchored(a) => println!(
                "anchored: the access log of {} for {} ({} entries, {} erased records)",
                a.organization, a.day, a.entries, a.erased_records
            ),
            K::ValidatorSetScheduled(s) => println!(
                "validator set changes at height {} ({} validators)",
                s.effective_height,
                s.validators.len()
            ),
            _ => {}
        }
    }
    Ok(ExitCode::SUCCESS)
}
