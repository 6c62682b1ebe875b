//! `probity token create`: a new API token for the write endpoints. Only its SHA-256 is
//! stored; the token is printed once, alone on the last line.

use crate::store::Store;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::ExitCode;

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a new token (`pbt_` and 48 hex digits of system randomness), stores its hash
/// under `name`, and returns the token: the only time it exists in the clear.
pub fn issue(store: &dyn Store, name: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let token = format!("pbt_{}", hex::encode(bytes));
    store.add_token(&hash(&token), name, jiff::Timestamp::now().as_millisecond())?;
    Ok(token)
}

#[derive(clap::Args)]
pub struct CreateArgs {
    #[arg(long, short, default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// What the token is for, kept with its hash.
    #[arg(long, default_value = "api")]
    pub name: String,
}

pub fn create(a: CreateArgs) -> anyhow::Result<ExitCode> {
    let config = match crate::config::load(&a.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = crate::store::SqliteStore::open(&config.server.data_dir)?;
    let token = issue(&store, &a.name)?;
    eprintln!(
        "a new token `{}` for {}; it is shown once, only its hash is kept:",
        a.name,
        config.server.data_dir.display()
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
