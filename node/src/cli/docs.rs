//! `yui docs`: documentation generated from the code.

use anyhow::Result;
use std::process::ExitCode;

/// Print documentation generated from the code.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// The gRPC API reference (Markdown) from the .proto files: `yui docs api > docs/api.md`.
    Api,
}

/// Run it.
pub fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Api => print!(
            "{}",
            crate::api::reference::render(yui_proto::FILE_DESCRIPTOR_SET)?
        ),
    }
    Ok(ExitCode::SUCCESS)
}
