//! `probity ack ID`: acknowledge an incident, stopping its escalations and reminders.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct AckArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The incident's id.
    pub id: i64,
    /// Who is taking it (default: the user name).
    #[arg(long)]
    pub by: Option<String>,
    /// A note for the record.
    #[arg(long, default_value = "")]
    pub note: String,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn main(a: AckArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let store = super::open_existing(&config)?;
    let Some(inc) = store.incident(a.id)? else {
        eprintln!("{}: no incident {}", a.config.display(), a.id);
        return Ok(ExitCode::from(2));
    };
    let by =
        a.by.or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "cli".into());
    let now = jiff::Timestamp::now().as_millisecond();
    let fresh = store.ack_incident(a.id, now, &by, &a.note)?;
    let (at, by, note) = store.incident_ack(a.id)?.expect("just acknowledged");
    let at = probity_ground::time::rfc3339(at);
    if a.json {
        println!(
            "{}",
            serde_json::json!({"incident_id": a.id, "target": inc.target, "acknowledged_at": at, "by": by, "note": note, "already": !fresh})
        );
    } else if fresh {
        println!(
            "incident {} on {} acknowledged by {by} at {at}",
            a.id, inc.target
        );
    } else {
        println!(
            "incident {} on {} was already acknowledged by {by} at {at}",
            a.id, inc.target
        );
    }
    Ok(ExitCode::SUCCESS)
}
