//! `yui certificate`: fetch the proof a volunteer carries, verify one offline and (with an
//! endpoint) online for revocation.

use crate::cli::TrustArgs;
use anyhow::{bail, Context as _, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use yui_client::certificate::{self, proof_from_qr};
use yui_proto::v1 as pb;

/// Volunteer certificates: fetch the proof a volunteer carries, verify one.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Fetch a certificate's proof from a node: writes the proof, its QR payload (.txt) and
    /// the QR code (.svg and .png) next to OUT.
    Get {
        /// The node, e.g. http://127.0.0.1:50051.
        #[arg(long)]
        endpoint: String,
        /// The certificate id.
        #[arg(long)]
        id: String,
        /// Where to write the proof (protobuf `yui.v1.InclusionProof`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a volunteer certificate offline against the consortium's validator keys and,
    /// with --endpoint, online that it has not been revoked. Exit status 1 if not valid.
    Verify {
        /// The scanned QR payload ("YUICERT1:...").
        #[arg(long, conflicts_with_all = ["qr_file", "proof"])]
        qr: Option<String>,
        /// A file holding the QR payload.
        #[arg(long, conflicts_with = "proof")]
        qr_file: Option<PathBuf>,
        /// A proof file written by `yui certificate get`.
        #[arg(long)]
        proof: Option<PathBuf>,
        /// The validator set to trust.
        #[command(flatten)]
        trust: TrustArgs,
        /// Also ask this node whether the certificate is still valid (not revoked).
        #[arg(long)]
        endpoint: Option<String>,
    },
}

/// Run it.
pub async fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Get { endpoint, id, out } => {
            let mut c = pb::volunteer_client::VolunteerClient::new(
                crate::setup::certs::from_env(&endpoint).await?,
            );
            let r = c
                .get_certificate_proof(pb::GetCertificateProofRequest { certificate_id: id })
                .await?
                .into_inner();
            std::fs::write(&out, &r.proof)?;
            std::fs::write(out.with_extension("txt"), &r.qr_text)?;
            std::fs::write(out.with_extension("svg"), &r.qr_svg)?;
            std::fs::write(out.with_extension("png"), &r.qr_png)?;
            println!(
                "wrote {} ({} bytes) and its QR code ({} characters, QR version {}) as .txt, .svg and .png",
                out.display(),
                r.proof.len(),
                r.qr_text.len(),
                r.qr_version
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            qr,
            qr_file,
            proof,
            trust,
            endpoint,
        } => {
            let bytes = match (qr, qr_file, proof) {
                (Some(t), None, None) => proof_from_qr(&t)?,
                (None, Some(f), None) => proof_from_qr(
                    &std::fs::read_to_string(&f)
                        .with_context(|| format!("cannot read {}", f.display()))?,
                )?,
                (None, None, Some(p)) => {
                    std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?
                }
                _ => bail!("give one of --qr, --qr-file or --proof"),
            };
            let set = trust.validator_set()?;
            let cert = match certificate::verify(&bytes, &set) {
                Ok(c) => c,
                Err(e) => {
                    println!("INVALID: {e}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let c = &cert.certificate;
            println!(
                "PROOF VALID: certificate {} of volunteer {} was issued by {} in block {} ({}), committed by a quorum of the trusted validators; skills: {}",
                c.certificate_id,
                c.volunteer_id,
                c.issuer_organization,
                cert.height,
                cert.block_hash,
                c.skills.join(", ")
            );
            let Some(endpoint) = endpoint else {
                println!("(offline check only: give --endpoint to check that it has not been revoked since)");
                return Ok(ExitCode::SUCCESS);
            };
            let mut v = pb::volunteer_client::VolunteerClient::new(
                crate::setup::certs::from_env(&endpoint).await?,
            );
            let r = v
                .verify_certificate(pb::VerifyCertificateRequest {
                    certificate_id: c.certificate_id.clone(),
                    proof: bytes,
                    qr_text: String::new(),
                })
                .await?
                .into_inner();
            if r.valid {
                println!("VALID: the certificate is in force (not revoked)");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("INVALID: {}", r.reason);
                Ok(ExitCode::FAILURE)
            }
        }
    }
}
