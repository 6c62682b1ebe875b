//! `probity token create`: a new API token for the write endpoints, or with `--agent NAME`
//! a token for one agent (it can push results as that vantage and nothing else). Only its
//! SHA-256 is stored; the token is printed once, alone on the last line.
//! `probity token revoke --agent NAME` revokes an agent's tokens.

use probity_engine::store::traits::*;
use std::path::PathBuf;
use std::process::ExitCode;

/// Makes a new token (`pbt_` and 48 hex digits of system randomness), stores its hash
/// under `name`, and returns the token: the only time it exists in the clear.
pub fn issue(store: &dyn Store, name: &str) -> anyhow::Result<String> {
    let token = fresh("pbt")?;
    store.add_token(
        &probity_ground::auth::hash_token(&token),
        name,
        jiff::Timestamp::now().as_millisecond(),
    )?;
    Ok(token)
}

/// Makes a token for agent `agent` (`pba_` and 48 hex digits) and stores its hash.
pub fn issue_agent(store: &dyn Store, agent: &str) -> anyhow::Result<String> {
    check_agent_name(agent)?;
    let token = fresh("pba")?;
    store.add_agent_token(
        &probity_ground::auth::hash_token(&token),
        agent,
        jiff::Timestamp::now().as_millisecond(),
    )?;
    Ok(token)
}

/// An agent's name: a valid vantage name, and not the server's own.
pub fn check_agent_name(agent: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        probity_ground::vantage::valid_name(agent),
        "an agent's name is 1 to 64 lowercase letters, digits, `-`, `_` or `.`, not {agent:?}"
    );
    anyhow::ensure!(
        agent != probity_ground::vantage::LOCAL,
        "`local` is the server's own vantage; name the agent something else"
    );
    Ok(())
}

fn fresh(prefix: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

#[derive(clap::Args)]
pub struct CreateArgs {
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// What the token is for, kept with its hash.
    #[arg(long, default_value = "api")]
    pub name: String,
    /// Make a token for the agent of this name instead: it may push results as that
    /// vantage, and nothing else.
    #[arg(long)]
    pub agent: Option<String>,
}

#[derive(clap::Args)]
pub struct RevokeArgs {
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Revoke every token of the agent of this name.
    #[arg(long)]
    pub agent: String,
}

pub fn revoke(a: RevokeArgs) -> anyhow::Result<ExitCode> {
    let config = match probity_ground::config::load(&a.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = probity_engine::store::SqliteStore::open(&config.server.data_dir)?;
    let n = store.revoke_agent_tokens(&a.agent, jiff::Timestamp::now().as_millisecond())?;
    if n == 0 {
        eprintln!("agent `{}` has no live token", a.agent);
        return Ok(ExitCode::from(1));
    }
    println!(
        "revoked {n} token{} of agent `{}`",
        if n == 1 { "" } else { "s" },
        a.agent
    );
    Ok(ExitCode::SUCCESS)
}

pub fn create(a: CreateArgs) -> anyhow::Result<ExitCode> {
    let config = match probity_ground::config::load(&a.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let store = probity_engine::store::SqliteStore::open(&config.server.data_dir)?;
    let (token, what) = match &a.agent {
        Some(agent) => {
            check_agent_name(agent)?;
            if config.vantage(agent).is_none() {
                eprintln!(
                    "note: no [[vantage]] named `{agent}` in {}: it will probe every target",
                    a.config.display()
                );
            }
            (issue_agent(&store, agent)?, format!("agent `{agent}`"))
        }
        None => (issue(&store, &a.name)?, format!("`{}`", a.name)),
    };
    eprintln!(
        "a new token for {what} in {}; it is shown once, only its hash is kept:",
        config.server.data_dir.display()
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
