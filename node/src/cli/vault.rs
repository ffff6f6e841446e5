//! `yui vault`: what an organization's operator does so a node lost in a disaster does not
//! lose residents' data — make a recovery key to keep offline, take encrypted backups of the
//! organization's records, restore them on a new node (docs/personal-data.md, "Backup and
//! restore").

use anyhow::{Context as _, Result};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::process::ExitCode;
use yui_proto::v1 as pb;

/// Vault backups.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Make a recovery key: writes its secret half to `--out` (keep it offline, never on the
    /// node) and prints its public half, the recipient backups are encrypted to.
    RecoveryKey {
        /// Where to write the secret half (created with mode 0600; must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Take an encrypted backup of your organization's records and access log.
    Backup {
        /// The node, e.g. https://node.example.lg.jp:50051.
        #[arg(long)]
        endpoint: String,
        /// An org admin's key file.
        #[arg(long)]
        key: PathBuf,
        /// The recovery key's public half (`age1…`).
        #[arg(long)]
        recipient: String,
        /// Where to write the backup (an age file).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into a node's vault (a new node, or one whose vault was lost).
    Restore {
        /// The node, e.g. https://node.example.lg.jp:50051.
        #[arg(long)]
        endpoint: String,
        /// An org admin's key file.
        #[arg(long)]
        key: PathBuf,
        /// The recovery key's secret half (from `yui vault recovery-key`).
        #[arg(long)]
        identity: PathBuf,
        /// The backup file.
        #[arg(long)]
        backup: PathBuf,
    },
}

/// Largest chunk sent.
const CHUNK: usize = 1 << 20;

/// Run it.
pub async fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::RecoveryKey { out } => {
            let (secret, recipient) = crate::vault::new_recovery_key();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            writeln!(
                f,
                "# Yui vault recovery key. Keep offline; it opens every backup made to"
            )?;
            writeln!(f, "# public key: {recipient}")?;
            writeln!(f, "{}", secret.as_str())?;
            f.sync_all()?;
            println!("{recipient}");
            eprintln!(
                "wrote the secret half to {}: keep it offline, not on the node",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup {
            endpoint,
            key,
            recipient,
            out,
        } => {
            let key = crate::setup::keys::load(&key)?;
            let mut pd = client(&endpoint).await?;
            let req = super::authed(
                &key,
                yui_client::auth::method::BACKUP,
                pb::BackupVaultRequest { recipient },
            )?;
            let mut stream = pd
                .backup(req)
                .await
                .map_err(|s| anyhow::anyhow!("backup refused: {}", s.message()))?
                .into_inner();
            let mut file = Vec::new();
            let mut records = 0;
            while let Some(c) = stream
                .message()
                .await
                .map_err(|s| anyhow::anyhow!("backup failed: {}", s.message()))?
            {
                records = records.max(c.records);
                file.extend_from_slice(&c.data);
            }
            std::fs::write(&out, &file)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!(
                "backup of {records} records written to {} ({} bytes)",
                out.display(),
                file.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore {
            endpoint,
            key,
            identity,
            backup,
        } => {
            let key = crate::setup::keys::load(&key)?;
            let identity = zeroize::Zeroizing::new(
                std::fs::read_to_string(&identity)
                    .with_context(|| format!("cannot read {}", identity.display()))?,
            );
            let file = std::fs::read(&backup)
                .with_context(|| format!("cannot read {}", backup.display()))?;
            // Decrypt here, where the recovery key is, and check the content before sending.
            let bundle = crate::vault::open_backup(&identity, &file)?;
            println!(
                "backup of organization {} taken at {} holds {} records",
                bundle.org,
                yui_contracts::calendar::jst_date_string(bundle.taken_at_ms),
                bundle.records()
            );
            let plain = zeroize::Zeroizing::new(borsh::to_vec(&bundle)?);
            let chunks: Vec<pb::RestoreVaultChunk> = plain
                .chunks(CHUNK)
                .map(|c| pb::RestoreVaultChunk { data: c.to_vec() })
                .collect();
            let mut pd = client(&endpoint).await?;
            let req = super::authed(
                &key,
                yui_client::auth::method::RESTORE,
                futures::stream::iter(chunks),
            )?;
            let done = pd
                .restore(req)
                .await
                .map_err(|s| anyhow::anyhow!("restore refused: {}", s.message()))?
                .into_inner();
            println!(
                "restored {} records, {} erased records kept erased, {} records erased since the backup kept erased, {} already held left as they are",
                done.live, done.erased, done.erased_since, done.skipped
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn client(
    endpoint: &str,
) -> Result<pb::personal_data_client::PersonalDataClient<tonic::transport::Channel>> {
    Ok(pb::personal_data_client::PersonalDataClient::new(
        crate::setup::certs::from_env(endpoint).await?,
    )
    .max_decoding_message_size(4 << 20))
}
