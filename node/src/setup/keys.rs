//! Key files: an ed25519 secret key as 64 hex characters in a file readable only by its
//! owner, and the public key beside it in `<file>.pub`.

use anyhow::{anyhow, Context as _, Result};
use ed25519_dalek::SigningKey;
use std::path::{Path, PathBuf};

/// Generate a key and write it to `path` (and `path.pub`). Refuses to overwrite.
pub fn generate(path: &Path) -> Result<SigningKey> {
    if path.exists() {
        return Err(anyhow!(
            "{} already exists; not overwriting a key",
            path.display()
        ));
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow!("no randomness available: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_secret(path, &hex::encode(seed))?;
    std::fs::write(
        pub_path(path),
        hex::encode(key.verifying_key().to_bytes()) + "\n",
    )?;
    Ok(key)
}

fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    Ok(())
}

/// The `.pub` file beside a key file.
pub fn pub_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// Load a key file.
pub fn load(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    let bytes =
        hex::decode(text.trim()).map_err(|_| anyhow!("key file {} is not hex", path.display()))?;
    let seed: [u8; 32] = bytes.try_into().map_err(|_| {
        anyhow!(
            "key file {} must hold 32 bytes (64 hex characters)",
            path.display()
        )
    })?;
    Ok(SigningKey::from_bytes(&seed))
}
