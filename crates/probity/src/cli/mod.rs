//! Command-line front ends. Each command reads its inputs, calls the library and prints;
//! exit codes: 0 success, 1 failure (a failed probe, a runtime error), 2 bad input.

pub mod ack;
pub mod coverage;
pub mod evidence;
pub mod feeds;
pub mod gate;
pub mod init;
pub mod probe;
pub mod results;
pub mod scorecard;
pub mod sla;
pub mod status;
pub mod store;
pub mod token;

use probity_ground::config;
use std::path::Path;
use std::process::ExitCode;

/// Logs go to stderr, `info` and up unless `RUST_LOG` says otherwise, coloured only when
/// stderr is a terminal.
pub fn init_tracing() {
    init_tracing_at("info,hyper=warn,hickory=warn");
}

/// [`init_tracing`] with another default level (`RUST_LOG` still wins): the demo narrates
/// on stdout, so its log says only what goes wrong.
pub fn init_tracing_at(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only on a terminal: a log written to a file or a pipe stays plain text.
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Loads the configuration at `path`, or prints its problems (as `probity check` does) and
/// gives `None`: every command that needs one then exits 2.
pub fn load_or_report(path: &Path) -> Option<config::Config> {
    config::load(path).map_err(|e| eprintln!("{e}")).ok()
}

/// Nothing has been stored where the configuration points: read commands say so instead
/// of creating an empty store and reporting on nothing.
#[derive(Debug)]
pub struct NoStore(pub std::path::PathBuf);

impl std::fmt::Display for NoStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no store in {}: nothing has been measured there yet (start `probity run` with this configuration, or point --config at the one that ran)",
            self.0.display()
        )
    }
}

impl std::error::Error for NoStore {}

/// Opens (creating if needed) the store the configuration names: `[store] url`'s
/// PostgreSQL database, or SQLite under `data_dir`.
pub fn open_store(
    config: &config::Config,
) -> anyhow::Result<std::sync::Arc<dyn probity_engine::store::Store>> {
    crate::run::open_store(config)
}

/// Opens the store a read command reports on; [`NoStore`] when a SQLite one was never
/// made (a PostgreSQL database is opened as it is: its schema is made if missing).
pub fn open_existing(
    config: &config::Config,
) -> anyhow::Result<std::sync::Arc<dyn probity_engine::store::Store>> {
    if matches!(config.store, config::StoreConfig::Sqlite)
        && !config.server.data_dir.join("probity.db").exists()
    {
        return Err(NoStore(config.server.data_dir.clone()).into());
    }
    open_store(config)
}

/// `probity check`.
pub fn check(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    match config::load(path) {
        Ok(c) => {
            if json {
                let kinds: Vec<_> = c
                    .targets
                    .iter()
                    .map(|t| serde_json::json!({"name": t.name, "kind": t.kind}))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"ok": true, "file": path.display().to_string(), "targets": kinds, "problems": [], "warnings": coverage::warnings(&c)})
                );
            } else {
                println!("{}", c.summary());
                for w in coverage::warnings(&c) {
                    println!("{w}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                let problems: Vec<_> = e
                    .problems
                    .iter()
                    .map(
                        |p| serde_json::json!({"line": p.line, "col": p.col, "message": p.message}),
                    )
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "file": e.file, "problems": problems})
                );
            } else {
                eprintln!("{e}");
                eprintln!(
                    "{}: {} problem{}",
                    e.file,
                    e.problems.len(),
                    if e.problems.len() == 1 { "" } else { "s" }
                );
            }
            Ok(ExitCode::from(2))
        }
    }
}

/// `probity run`.
pub fn run(path: &Path) -> anyhow::Result<ExitCode> {
    let Some(config) = load_or_report(path) else {
        return Ok(ExitCode::from(2));
    };
    probity_ground::process::runtime()?.block_on(async {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            probity_ground::process::termination().await;
            tracing::info!("stopping: finishing probes in flight and committing their results");
            let _ = stop_tx.send(true);
        });
        crate::run::run(config, stop_rx, |addr| {
            eprintln!("probity: serving on http://{addr}");
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}
