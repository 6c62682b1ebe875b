//! The `probity` command.
#![forbid(unsafe_code)]

use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "probity",
    version,
    about = "Independent, verifiable evidence of how the cloud services you depend on behave"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Probe every target on its schedule, store results, track incidents, serve the API.
    Run {
        /// The configuration file.
        #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Write a commented starting configuration (optionally watching a cloud provider).
    Init(probity::cli::init::InitArgs),
    /// Check a configuration file and every target in it.
    Check {
        /// The configuration file.
        #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
        config: PathBuf,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Probe one thing now and show what happened, phase by phase.
    Probe(probity::cli::probe::ProbeArgs),
    /// Start a local misbehaving "cloud" and watch it: the tour, offline.
    #[cfg(feature = "demo")]
    Demo(probity::demo::DemoArgs),
    /// Your public status page: post incidents and updates to it (also `probity status`).
    #[command(subcommand, name = "status-page", alias = "status")]
    Status(StatusCommand),
    /// API tokens for the write endpoints, and agents' tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Probe from another place: take this vantage's targets from the server and push the
    /// results back, spooling them while the server is unreachable.
    Agent(probity::agent::AgentArgs),
    /// The configuration file's JSON Schema.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print shell completions (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout, or write one page per command into a
    /// directory.
    Man {
        /// Write probity.1 and probity-COMMAND.1 pages here instead.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Acknowledge an incident: its escalations and reminders stop.
    Ack(probity::cli::ack::AckArgs),
    /// How each provider's word compares with what probity observed, over a window.
    Scorecard(probity::cli::scorecard::ScorecardArgs),
    /// Results measured elsewhere or before.
    #[command(subcommand)]
    Results(ResultsCommand),
    /// The store: what it holds and how fast it grows.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Deployment gates: judge a canary against its baseline, read the providers' weather.
    #[command(subcommand)]
    Gate(GateCommand),
    /// Monthly SLA accounting by the providers' own terms.
    #[command(subcommand)]
    Sla(SlaCommand),
    /// The tamper-evident evidence log.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Providers' status feeds.
    #[command(subcommand)]
    Feeds(FeedsCommand),
}

#[derive(Subcommand)]
enum StatusCommand {
    /// Post an incident on the status page; prints its id.
    Post(probity::cli::status::PostArgs),
    /// Add an update to a status-page incident.
    Update(probity::cli::status::UpdateArgs),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the JSON Schema (draft 2020-12) of probity.toml, for editors and validators.
    Schema,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Make a token; it is printed once, alone on the last line.
    Create(probity::cli::token::CreateArgs),
    /// Revoke an agent's tokens, or API tokens by name or id.
    Revoke(probity::cli::token::RevokeArgs),
    /// List every token by id (never the token itself).
    List(probity::cli::token::ListArgs),
}

#[derive(Subcommand)]
enum ResultsCommand {
    /// Load past results (JSON lines) as if they had been measured live; all or nothing.
    Import(probity::cli::results::ImportArgs),
}

#[derive(Subcommand)]
enum GateCommand {
    /// Judge a canary against its baseline once: 0 promote, 1 roll back, 2 inconclusive,
    /// 3 a usage or input error.
    Judge(probity::cli::gate::JudgeArgs),
    /// Run a staged rollout plan: shift traffic, pause, analyse; 0 promoted, 1 rolled
    /// back, 2 inconclusive, 3 a usage or configuration error. A signal rolls back.
    Run(probity::cli::gate::RunArgs),
    /// Whether now is a time to deploy: 1 while a provider the deployment depends on has an
    /// open observed or declared incident, or an SLO on it burns past an alert.
    Weather(probity::cli::gate::WeatherArgs),
}

#[derive(Subcommand)]
enum SlaCommand {
    /// A month's report per SLA: uptime, downtime, credit, claim deadline and text.
    Report(probity::cli::sla::ReportArgs),
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Rows per table, size on disk, results per day, and the size raw retention implies.
    Stats(probity::cli::store::StatsArgs),
    /// Copy a SQLite store into an empty PostgreSQL database and check the copy.
    Migrate(probity::cli::store::MigrateArgs),
}

#[derive(Subcommand)]
enum FeedsCommand {
    /// Parse a saved feed document and print the incidents it declares.
    Parse(probity::cli::feeds::ParseArgs),
    /// Store a saved document as if a configured feed had just polled it (back-filling).
    Import(probity::cli::feeds::ImportArgs),
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Print the log's verifier key (name+keyhash+base64), making the key on first use.
    Key {
        /// The configuration file.
        #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
        config: PathBuf,
    },
    /// Write a self-contained bundle of the records appended between two times.
    Export(probity::cli::evidence::ExportArgs),
    /// Check a bundle offline: signature, every record's inclusion, consistency.
    Verify(probity::cli::evidence::VerifyArgs),
    /// Recompute the whole log from the store and compare it with the data it attests.
    Audit {
        /// The configuration file.
        #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
        config: PathBuf,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Writes generated output to stdout. A reader that stops early (`| head`) is not an
/// error: the rest was not wanted.
fn emit(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

/// `probity man`: the page on stdout, or every command's page into `dir`.
fn man(dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut out)?;
        return emit(&out);
    };
    std::fs::create_dir_all(&dir)?;
    let mut written = Vec::new();
    fn walk(
        cmd: &clap::Command,
        prefix: &str,
        dir: &std::path::Path,
        written: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let name = if prefix.is_empty() {
            cmd.get_name().to_string()
        } else {
            format!("{prefix}-{}", cmd.get_name())
        };
        let page = cmd.clone().name(name.clone());
        let mut out = Vec::new();
        clap_mangen::Man::new(page).render(&mut out)?;
        let file = dir.join(format!("{name}.1"));
        std::fs::write(&file, out)?;
        written.push(file.display().to_string());
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            walk(sub, &name, dir, written)?;
        }
        Ok(())
    }
    walk(&cmd, "", &dir, &mut written)?;
    let mut list = written.join("\n");
    list.push('\n');
    emit(list.as_bytes())
}

fn main() -> ExitCode {
    // A reader that stops early (`probity … | head`) closes the pipe; the rest of the
    // output was not wanted, so stop quietly instead of reporting a panic.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // `probity gate` keeps the rollout tools' convention: a usage error is 3, since
            // 2 means "inconclusive" there.
            let gate = std::env::args().nth(1).as_deref() == Some("gate");
            let code = if gate && e.use_stderr() {
                3
            } else {
                e.exit_code()
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    #[cfg(feature = "demo")]
    let narrated = matches!(cli.command, Command::Demo(_));
    #[cfg(not(feature = "demo"))]
    let narrated = false;
    if narrated {
        // The demo tells what happens on stdout; its log repeats none of it.
        probity::cli::init_tracing_at("warn,hyper=warn,hickory=warn");
    } else {
        probity::cli::init_tracing();
    }
    let result = match cli.command {
        Command::Run { config } => probity::cli::run(&config),
        Command::Check { config, json } => probity::cli::check(&config, json),
        Command::Probe(args) => probity::cli::probe::main(args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => probity::demo::main(args),
        Command::Scorecard(args) => probity::cli::scorecard::main(args),
        Command::Init(args) => probity::cli::init::init(args),
        Command::Gate(GateCommand::Judge(args)) => probity::cli::gate::judge(args),
        Command::Gate(GateCommand::Weather(args)) => probity::cli::gate::weather(args),
        Command::Gate(GateCommand::Run(args)) => probity::cli::gate::run(args),
        Command::Ack(args) => probity::cli::ack::main(args),
        Command::Status(StatusCommand::Post(args)) => probity::cli::status::post(args),
        Command::Status(StatusCommand::Update(args)) => probity::cli::status::update(args),
        Command::Token(TokenCommand::Create(args)) => probity::cli::token::create(args),
        Command::Token(TokenCommand::Revoke(args)) => probity::cli::token::revoke(args),
        Command::Token(TokenCommand::List(args)) => probity::cli::token::list(args),
        Command::Agent(args) => probity::agent::main(args),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "probity", &mut out);
            emit(&out)
        }
        Command::Man { dir } => man(dir),
        Command::Config(ConfigCommand::Schema) => {
            let mut text = serde_json::to_string_pretty(&probity_ground::config::json_schema())
                .expect("a schema is JSON");
            text.push('\n');
            emit(text.as_bytes())
        }
        Command::Sla(SlaCommand::Report(args)) => probity::cli::sla::report(args),
        Command::Results(ResultsCommand::Import(args)) => probity::cli::results::import(args),
        Command::Store(StoreCommand::Stats(args)) => probity::cli::store::stats(args),
        Command::Store(StoreCommand::Migrate(args)) => probity::cli::store::migrate(args),
        Command::Feeds(FeedsCommand::Parse(args)) => probity::cli::feeds::parse(args),
        Command::Feeds(FeedsCommand::Import(args)) => probity::cli::feeds::import(args),
        Command::Evidence(EvidenceCommand::Key { config }) => probity::cli::evidence::key(&config),
        Command::Evidence(EvidenceCommand::Export(args)) => probity::cli::evidence::export(args),
        Command::Evidence(EvidenceCommand::Verify(args)) => probity::cli::evidence::verify(args),
        Command::Evidence(EvidenceCommand::Audit { config, json }) => {
            probity::cli::evidence::audit(&config, json)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("probity: {e:#}");
            // Nothing to read is a usage error, like a configuration that does not load.
            if e.downcast_ref::<probity::cli::NoStore>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
