//! `probity feeds parse`.

use crate::feeds::{self, Format, ProviderIncident};
use crate::publish::api::rfc3339;
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

/// The JSON shape of a provider incident (times RFC 3339 UTC).
pub fn incident_json(i: &ProviderIncident) -> serde_json::Value {
    serde_json::json!({
        "provider": i.provider,
        "source": i.source,
        "external_id": i.external_id,
        "title": i.title,
        "services": i.services,
        "regions": i.regions,
        "impact": i.impact.as_str(),
        "status": i.status,
        "started_at": i.started_at_ms.map(rfc3339),
        "published_at": i.published_at_ms.map(rfc3339),
        "updated_at": i.updated_at_ms.map(rfc3339),
        "resolved_at": i.resolved_at_ms.map(rfc3339),
        "updates": i.updates.iter().map(|u| serde_json::json!({"at": rfc3339(u.at_ms), "status": u.status, "text": u.text})).collect::<Vec<_>>(),
        "url": i.url,
    })
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
        println!(
            "{:<12} {:<22} {:<11} {:<13} {:<17} {:<17} title",
            "provider", "id", "impact", "status", "started", "resolved"
        );
        let short =
            |ms: Option<i64>| ms.map_or("—".to_string(), |m| rfc3339(m)[..16].replace('T', " "));
        for i in &incidents {
            let title: String = i.title.chars().take(60).collect();
            let id: String = i.external_id.chars().take(22).collect();
            println!(
                "{:<12} {:<22} {:<11} {:<13} {:<17} {:<17} {title}{}",
                i.provider.chars().take(12).collect::<String>(),
                id,
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
            "{} incident{}",
            incidents.len(),
            if incidents.len() == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
