//! `probity feeds parse` and `probity feeds import`.

use probity_engine::feeds::{self, Format, incident_json};
use probity_ground::time::rfc3339;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ParseArgs {
    /// The document's format.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Format::NAMES), default_value = "auto")]
    pub format: String,
    /// The saved feed document.
    pub file: PathBuf,
    /// Print the incidents as a JSON array.
    #[arg(long)]
    pub json: bool,
}

pub fn parse(a: ParseArgs) -> anyhow::Result<ExitCode> {
    let format = Format::parse(&a.format).expect("clap checked the name");
    let meta = match std::fs::metadata(&a.file) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", a.file.display());
            return Ok(ExitCode::from(2));
        }
    };
    if meta.len() > feeds::MAX_DOCUMENT as u64 {
        eprintln!(
            "{}: {} bytes is larger than the {} a feed may be",
            a.file.display(),
            meta.len(),
            feeds::MAX_DOCUMENT
        );
        return Ok(ExitCode::from(1));
    }
    let bytes = std::fs::read(&a.file)?;
    let source = a
        .file
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let incidents = match feeds::parse(format, &bytes, &source) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{}: {e}", a.file.display());
            return Ok(ExitCode::from(1));
        }
    };
    if a.json {
        let all: Vec<_> = incidents.iter().map(incident_json).collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        // Columns as wide as their widest value: identifiers are never cut.
        let width = |f: &dyn Fn(&feeds::ProviderIncident) -> usize, min: usize| {
            incidents.iter().map(f).max().unwrap_or(0).max(min)
        };
        // Ids longer than 40 characters (AWS's ARNs) are cut, marked `…`, and the last
        // line says how to see them whole.
        const ID_MAX: usize = 40;
        let (pw, iw) = (
            width(&|i| i.provider.chars().count(), 12),
            width(&|i| i.external_id.chars().count(), 22).min(ID_MAX),
        );
        let mut cut = false;
        println!(
            "{:<pw$} {:<iw$} {:<11} {:<13} {:<17} {:<17} title",
            "provider", "id", "impact", "status", "started", "resolved"
        );
        let short =
            |ms: Option<i64>| ms.map_or("—".to_string(), |m| rfc3339(m)[..16].replace('T', " "));
        for i in &incidents {
            let title = &i.title;
            println!(
                "{:<pw$} {:<iw$} {:<11} {:<13} {:<17} {:<17} {title}{}",
                i.provider,
                if i.external_id.chars().count() > ID_MAX {
                    cut = true;
                    format!(
                        "{}…",
                        i.external_id.chars().take(ID_MAX - 1).collect::<String>()
                    )
                } else {
                    i.external_id.clone()
                },
                i.impact.as_str(),
                i.status,
                short(i.started_at_ms),
                short(i.resolved_at_ms),
                if i.regions.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", i.regions.join(", "))
                }
            );
        }
        println!(
            "{} incident{}{}",
            incidents.len(),
            if incidents.len() == 1 { "" } else { "s" },
            if cut {
                "; ids marked … are cut, --json prints them whole"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The configuration that defines the feed (and the data directory).
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The `[[feed]]` name the document is stored under.
    #[arg(long)]
    pub feed: String,
    /// The saved feed document.
    pub document: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `probity feeds import`: parses the document with the feed's format and stores it as a
/// poll of that feed now, with its evidence leaves. A document that does not parse is
/// refused and nothing is stored.
pub fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let Some(feed) = config.feeds.iter().find(|f| f.name == a.feed) else {
        let names: Vec<&str> = config.feeds.iter().map(|f| f.name.as_str()).collect();
        eprintln!(
            "{}: no [[feed]] named `{}` ({})",
            a.config.display(),
            a.feed,
            if names.is_empty() {
                "the file defines no feeds".to_string()
            } else {
                format!("feeds: {}", names.join(", "))
            }
        );
        return Ok(ExitCode::from(2));
    };
    let bytes = match std::fs::metadata(&a.document) {
        Ok(m) if m.len() > feeds::MAX_DOCUMENT as u64 => {
            eprintln!(
                "{}: {} bytes is larger than the {} a feed may be",
                a.document.display(),
                m.len(),
                feeds::MAX_DOCUMENT
            );
            return Ok(ExitCode::from(2));
        }
        Ok(_) => std::fs::read(&a.document)?,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", a.document.display());
            return Ok(ExitCode::from(2));
        }
    };
    let now = jiff::Timestamp::now().as_millisecond();
    let poll = feeds::poll::poll_of(feed, now, None, bytes, None, None, 0.0);
    if let probity_engine::store::PollOutcome::Failed { error, .. } = &poll.outcome {
        eprintln!("{}: {error} (nothing stored)", a.document.display());
        return Ok(ExitCode::from(1));
    }
    let count = match &poll.outcome {
        probity_engine::store::PollOutcome::Ok { incidents, .. } => incidents.len(),
        _ => 0,
    };
    let store = crate::cli::open_store(&config)?;
    let summary = store.record_feed_poll(&poll)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "feed": feed.name,
                "document": a.document.display().to_string(),
                "incidents": count,
                "new": summary.new,
                "changed": summary.changed,
                "edited": summary.edited,
                "removed": summary.removed,
                "returned": summary.returned,
                "leaf_index": summary.leaf,
            })
        );
    } else {
        println!(
            "{}: stored as a poll of feed `{}`: {count} incident{}, {} new, {} changed ({} edited after publication), {} removed; evidence leaf {}",
            a.document.display(),
            feed.name,
            if count == 1 { "" } else { "s" },
            summary.new,
            summary.changed,
            summary.edited,
            summary.removed,
            summary.leaf
        );
    }
    Ok(ExitCode::SUCCESS)
}
