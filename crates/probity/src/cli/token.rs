//! `probity token create`: a new API token for the write endpoints, or with `--agent NAME`
//! a token for one agent (it can push results as that vantage and nothing else). Only its
//! SHA-256 is stored; the token is printed once, alone on the last line.
//! `probity token revoke --agent NAME` revokes an agent's tokens, `--name NAME` the API
//! tokens of that name (or the one whose id, its hash's first digits, is given);
//! `probity token list` shows every token by id, never the token.

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
    /// The configuration file.
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
#[command(group(clap::ArgGroup::new("which").required(true).args(["agent", "name"])))]
pub struct RevokeArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Revoke every token of the agent of this name.
    #[arg(long)]
    pub agent: Option<String>,
    /// Revoke the API tokens made with this `--name`, or the one whose id (from
    /// `probity token list`) this is.
    #[arg(long)]
    pub name: Option<String>,
}

pub fn revoke(a: RevokeArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let store = crate::cli::open_store(&config)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let (n, what, none) = match (&a.agent, &a.name) {
        (Some(agent), _) => (
            store.revoke_agent_tokens(agent, now)?,
            format!("of agent `{agent}`"),
            format!("agent `{agent}` has no live token"),
        ),
        (None, Some(name)) => (
            store.revoke_api_tokens(name, now)?,
            format!("`{name}`"),
            format!("no live API token is named `{name}` or has that id"),
        ),
        (None, None) => anyhow::bail!("name the tokens to revoke: --agent NAME or --name NAME"),
    };
    if n == 0 {
        eprintln!("{none}");
        return Ok(ExitCode::from(1));
    }
    println!("revoked {n} token{} {what}", if n == 1 { "" } else { "s" });
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Print the tokens as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `probity token list`: every token by id (its hash's first digits), name, agent, and
/// when it was made and revoked. The tokens themselves are not stored, so never shown.
pub fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let store = crate::cli::open_store(&config)?;
    let tokens = store.tokens()?;
    if a.json {
        let rows: Vec<serde_json::Value> = tokens
            .iter()
            .map(|t| {
                serde_json::json!({
                    "id": t.id,
                    "name": t.name,
                    "agent": t.agent,
                    "created_at": probity_ground::time::rfc3339(t.created_at_ms),
                    "revoked_at": t.revoked_at_ms.map(probity_ground::time::rfc3339),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<12}  {:<6}  {:<20}  {:<24}  revoked",
        "id", "kind", "name", "created"
    );
    for t in &tokens {
        println!(
            "{:<12}  {:<6}  {:<20}  {:<24}  {}",
            t.id,
            if t.agent.is_some() { "agent" } else { "api" },
            t.name,
            probity_ground::time::rfc3339(t.created_at_ms),
            t.revoked_at_ms
                .map_or("-".into(), probity_ground::time::rfc3339)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn create(a: CreateArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let store = crate::cli::open_store(&config)?;
    let (token, what) = match &a.agent {
        Some(agent) => {
            check_agent_name(agent)?;
            if config.vantage(agent).is_none() {
                eprintln!(
                    "note: no [[vantage]] named `{agent}` in {}: it will probe every target",
                    a.config.display()
                );
            }
            (issue_agent(&*store, agent)?, format!("agent `{agent}`"))
        }
        None => (issue(&*store, &a.name)?, format!("`{}`", a.name)),
    };
    eprintln!(
        "a new token for {what} in {}; it is shown once, only its hash is kept:",
        config.server.data_dir.display()
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
