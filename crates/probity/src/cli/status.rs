//! `probity status-page post` and `probity status-page update` (also `probity status …`): the status page from the command
//! line, written to the store the server reads.

use probity_engine::store::{StatusIncident, StatusUpdate};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct PostArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The incident's title.
    #[arg(long)]
    pub name: String,
    /// What to tell people.
    #[arg(long)]
    pub message: String,
    #[arg(long, default_value = "investigating", value_parser = ["investigating", "identified", "monitoring", "resolved"])]
    pub status: String,
    #[arg(long, default_value = "minor", value_parser = ["none", "minor", "major", "critical"])]
    pub impact: String,
    /// An affected component (repeat for more).
    #[arg(long = "component")]
    pub components: Vec<String>,
}

#[derive(clap::Args)]
pub struct UpdateArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The incident's id.
    pub id: String,
    #[arg(long, value_parser = ["investigating", "identified", "monitoring", "resolved"])]
    pub status: String,
    #[arg(long)]
    pub message: String,
}

fn load(path: &std::path::Path) -> Result<probity_ground::config::Config, ExitCode> {
    super::load_or_report(path).ok_or(ExitCode::from(2))
}

pub fn post(a: PostArgs) -> anyhow::Result<ExitCode> {
    let config = match load(&a.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    for c in &a.components {
        if !config.status.components.iter().any(|x| &x.name == c) {
            let names: Vec<&str> = config
                .status
                .components
                .iter()
                .map(|x| x.name.as_str())
                .collect();
            eprintln!(
                "{}: no [[component]] named `{c}` (components: {})",
                a.config.display(),
                names.join(", ")
            );
            return Ok(ExitCode::from(2));
        }
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let incident = StatusIncident {
        id: probity_publish::status_page::new_id(),
        name: a.name,
        status: a.status.clone(),
        impact: a.impact,
        components: a.components,
        created_at_ms: now,
        updated_at_ms: now,
        resolved_at_ms: (a.status == "resolved").then_some(now),
        updates: vec![StatusUpdate {
            id: probity_publish::status_page::new_id(),
            at_ms: now,
            status: a.status,
            message: a.message,
        }],
    };
    let store = crate::cli::open_store(&config)?;
    store.create_status_incident(&incident)?;
    println!("{}", incident.id);
    Ok(ExitCode::SUCCESS)
}

pub fn update(a: UpdateArgs) -> anyhow::Result<ExitCode> {
    let config = match load(&a.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let store = crate::cli::open_store(&config)?;
    let u = StatusUpdate {
        id: probity_publish::status_page::new_id(),
        at_ms: jiff::Timestamp::now().as_millisecond(),
        status: a.status,
        message: a.message,
    };
    match store.add_status_update(&a.id, &u)? {
        Some(i) => {
            println!("{}: {} ({} updates)", i.id, i.status, i.updates.len());
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("no status incident {}", a.id);
            Ok(ExitCode::from(2))
        }
    }
}
