//! `probity evidence key|export|verify|audit`.

use probity_engine::attest::bundle;
use probity_engine::attest::check;
use probity_ground::config;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

fn load(path: &std::path::Path) -> Result<probity_ground::config::Config, ExitCode> {
    super::load_or_report(path).ok_or(ExitCode::from(2))
}

/// `probity evidence key`: the verifier key of this installation's log.
pub fn key(path: &Path) -> anyhow::Result<ExitCode> {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let signer = probity_engine::attest::evidence::load_or_create_key(
        &config.server.data_dir,
        &config.evidence.origin,
    )?;
    println!("{}", signer.verifier());
    Ok(ExitCode::SUCCESS)
}

fn time(s: &str, what: &str) -> anyhow::Result<i64> {
    if s == "now" {
        return Ok(jiff::Timestamp::now().as_millisecond());
    }
    s.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|_| {
            anyhow::anyhow!(
                "{what}: {s:?} is not an RFC 3339 time such as 2026-11-01T00:00:00Z (or `now`)"
            )
        })
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[arg(long, short, default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Start of the window (RFC 3339, inclusive).
    #[arg(long)]
    pub from: String,
    /// End of the window (RFC 3339 or `now`, exclusive).
    #[arg(long, default_value = "now")]
    pub to: String,
    /// Where to write the bundle.
    #[arg(long)]
    pub out: PathBuf,
    /// An earlier checkpoint (a signed note file) to prove consistency from.
    #[arg(long)]
    pub since: Option<PathBuf>,
    /// Prove against the latest checkpoint at least this many witnesses cosigned (their
    /// cosignatures ride in the bundle).
    #[arg(long, default_value_t = 0)]
    pub min_witnesses: usize,
    /// Add the signed statements of other organisations (`[[federation.peer]]`) that
    /// corroborate the incidents in the window, with their proofs.
    #[arg(long)]
    pub corroborated: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn export(a: ExportArgs) -> anyhow::Result<ExitCode> {
    let config = match load(&a.config) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let (from, to) = (time(&a.from, "--from")?, time(&a.to, "--to")?);
    anyhow::ensure!(from < to, "--from must be before --to");
    let since = a.since.as_ref().map(std::fs::read_to_string).transpose()?;
    let store = super::open_existing(&config)?;
    let signer = probity_engine::attest::evidence::load_or_create_key(
        &config.server.data_dir,
        &config.evidence.origin,
    )?;
    let corroboration = if a.corroborated {
        corroboration(&*store, &config, (from, to))?
    } else {
        Vec::new()
    };
    let (corroborated, statements) = (
        corroboration.len(),
        corroboration
            .iter()
            .map(|c| c.statements.len())
            .sum::<usize>(),
    );
    let bar = bundle::progress_bar("exporting");
    let tmp = a.out.with_extension("partial");
    let written = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let out = bundle::export(
            &*store,
            &signer.verifier(),
            (from, to),
            since.as_deref(),
            a.min_witnesses,
            &corroboration,
            &bar,
            &mut file,
        )?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        anyhow::Ok(out)
    })();
    bar.finish_and_clear();
    let out = match written {
        Ok(o) => o,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &a.out)?;
    store.note_export(out.checkpoint_size)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "out": a.out.display().to_string(),
                "records": out.records,
                "checkpoint_size": out.checkpoint_size,
                "consistency_proofs": out.consistency_proofs,
                "uncovered": out.uncovered,
                "cosignatures": cosignatures(&out.checkpoint),
                "corroborated_incidents": corroborated,
                "statements": statements,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {} records proven against checkpoint size {}, {} consistency proof{}",
        a.out.display(),
        out.records,
        out.checkpoint_size,
        out.consistency_proofs,
        if out.consistency_proofs == 1 { "" } else { "s" }
    );
    if a.corroborated {
        println!(
            "corroboration: {corroborated} incident(s) with {statements} statement(s) of other organisations"
        );
    }
    if out.uncovered > 0 {
        println!(
            "note: {} newer records in the window are not covered by a checkpoint yet; export again after the next one",
            out.uncovered
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The statements kept from peers that corroborate the incidents of `window`, as
/// reconciliation counts them (the same tolerance, as known at the window's end).
fn corroboration(
    store: &dyn probity_engine::store::Store,
    config: &config::Config,
    window: (i64, i64),
) -> anyhow::Result<Vec<bundle::BundleCorroboration>> {
    use probity_core::federation::{Outage, same_outage};
    let now = jiff::Timestamp::now().as_millisecond();
    let targets: Vec<Arc<config::Target>> = config.targets.clone();
    let inputs = probity_engine::account::reconcile::gather(
        store,
        &targets,
        &config.reconcile,
        window,
        now,
    )?;
    let as_of = now.min(window.1);
    let tolerance = inputs.params.tolerance_ms;
    let kept = store.statements(window.0 - tolerance, as_of)?;
    let mut out = Vec::new();
    for o in inputs
        .observed
        .iter()
        .filter(|o| !o.corroborated_by.is_empty())
    {
        let Some(outage) = Outage::of(o) else {
            continue;
        };
        let statements: Vec<_> = kept
            .iter()
            .filter(|r| same_outage(&outage, &r.statement, tolerance, as_of))
            .map(|r| r.envelope.clone())
            .collect();
        out.push(bundle::BundleCorroboration {
            incident: o.id,
            statements,
        });
    }
    Ok(out)
}

/// How many signature lines beyond the log's own a checkpoint note carries.
fn cosignatures(note: &str) -> usize {
    probity_core::note::split_note(note).map_or(0, |(_, sigs)| sigs.len().saturating_sub(1))
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The bundle file; with a second bundle of the same log, the two are also compared:
    /// a fork (two histories signed by one key) is found, or the newer shown to extend
    /// the older.
    #[arg(required = true, num_args = 1..=2)]
    pub files: Vec<PathBuf>,
    /// The verifier key you trust (the key itself, or a file holding it). Without it the
    /// key inside the bundle is used, which proves integrity but not origin.
    #[arg(long)]
    pub key: Option<String>,
    /// A checkpoint you kept earlier (signed note file): the bundle must prove the log
    /// still extends it.
    #[arg(long)]
    pub since: Option<PathBuf>,
    /// A witness whose cosignature counts (its key, or a file holding it; repeatable): a
    /// cosigner vkey, or the key its probity's `evidence key` prints.
    #[arg(long = "witness")]
    pub witnesses: Vec<String>,
    /// How many of the `--witness` keys must have cosigned the checkpoint (default: all).
    #[arg(long)]
    pub min_witnesses: Option<usize>,
    /// Another organisation's log key (the key, or a file holding it; repeatable): the
    /// bundle's corroborating statements signed by it must verify.
    #[arg(long = "peer")]
    pub peers: Vec<String>,
    /// How many organisations, this one included, each corroborated incident must have
    /// by statements that verified with the `--peer` keys.
    #[arg(long)]
    pub min_organisations: Option<u32>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What checking one bundle established.
struct Checked {
    head: check::BundleHead,
    verified: check::Verified,
    /// The witnesses given whose cosignature verifies.
    cosigned: Vec<String>,
    corroborated: Vec<check::Corroborated>,
}

/// One bundle read and checked, or the exit code and message of its failure. The file is
/// read twice (its head, then its records one at a time): memory does not grow with it.
fn verify_one(
    file: &Path,
    key: Option<&str>,
    since: Option<&str>,
    (witnesses, min_witnesses): (&[probity_core::witness::CosignerKey], usize),
    peers: &[probity_core::note::NoteVerifier],
) -> Result<Checked, (u8, String)> {
    let bar = bundle::progress_bar("verifying");
    let outcome = check::verify_file(file, key, since, &bar);
    bar.finish_and_clear();
    let (head, v) = outcome.map_err(|f| match f {
        check::FileFailure::Unreadable(e) => (2, e),
        check::FileFailure::Invalid(e) => (1, e),
    })?;
    let corroborated = check::verify_corroboration(
        &head.corroboration,
        peers,
        jiff::Timestamp::now().as_millisecond(),
    )
    .map_err(|e| (1, e))?;
    // The witnesses given whose cosignature on the checkpoint verifies.
    let cosigned: Vec<String> = witnesses
        .iter()
        .filter(|w| {
            matches!(
                probity_core::witness::verify_cosignature(&head.checkpoint, w),
                Ok(Some(_))
            )
        })
        .map(|w| w.name().to_string())
        .collect();
    if cosigned.len() < min_witnesses {
        return Err((
            1,
            format!(
                "the checkpoint carries {} of the {min_witnesses} witness cosignatures required{}",
                cosigned.len(),
                if cosigned.is_empty() {
                    String::new()
                } else {
                    format!(" (by {})", cosigned.join(", "))
                }
            ),
        ));
    }
    Ok(Checked {
        head,
        verified: v,
        cosigned,
        corroborated,
    })
}

/// A key given on the command line: the key itself, or a file holding it.
fn key_text(arg: &str) -> std::io::Result<String> {
    if Path::new(arg).is_file() {
        Ok(std::fs::read_to_string(arg)?.trim().to_string())
    } else {
        Ok(arg.to_string())
    }
}

/// Each key of a repeatable flag, read by `parse`; the error names the flag and the value.
fn keys<K, E: std::fmt::Display>(
    args: &[String],
    flag: &str,
    parse: impl Fn(&str) -> Result<K, E>,
) -> Result<Vec<K>, String> {
    args.iter()
        .map(|arg| {
            let text = key_text(arg).map_err(|e| format!("{flag} {arg}: {e}"))?;
            parse(&text).map_err(|e| format!("{flag} {arg}: {e}"))
        })
        .collect()
}

pub fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let key = a.key.as_deref().map(key_text).transpose()?;
    let since = match a.since.as_ref().map(std::fs::read_to_string).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("--since: cannot read: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let witnesses = match keys(&a.witnesses, "--witness", |t| {
        probity_core::witness::CosignerKey::parse(t)
    }) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let peers = match keys(&a.peers, "--peer", probity_core::note::NoteVerifier::parse) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let min_witnesses = a.min_witnesses.unwrap_or(witnesses.len());
    if min_witnesses > witnesses.len() {
        eprintln!(
            "--min-witnesses {min_witnesses}: only {} --witness keys given",
            witnesses.len()
        );
        return Ok(ExitCode::from(2));
    }
    let mut checked = Vec::new();
    let mut views = Vec::new();
    for file in &a.files {
        match verify_one(
            file,
            key.as_deref(),
            since.as_deref(),
            (&witnesses, min_witnesses),
            &peers,
        ) {
            Err((code, msg)) => {
                if a.json {
                    println!(
                        "{}",
                        serde_json::json!({"ok": false, "file": file.display().to_string(), "error": msg})
                    );
                } else if code == 2 {
                    eprintln!("{}: {msg}", file.display());
                } else {
                    eprintln!("{}: FAILED: {msg}", file.display());
                }
                return Ok(ExitCode::from(code));
            }
            Ok(Checked {
                head,
                verified: v,
                cosigned,
                corroborated,
            }) => {
                if let Some(k) = a.min_organisations
                    && let Some(short) = corroborated
                        .iter()
                        .find(|c| 1 + c.verified.len() < k as usize)
                {
                    let msg = format!(
                        "incident {} is corroborated by {} organisation(s) with verified statements, this one included; --min-organisations {k}",
                        short.incident,
                        1 + short.verified.len()
                    );
                    if a.json {
                        println!(
                            "{}",
                            serde_json::json!({"ok": false, "file": file.display().to_string(), "error": msg})
                        );
                    } else {
                        eprintln!("{}: FAILED: {msg}", file.display());
                    }
                    return Ok(ExitCode::from(1));
                }
                if !a.json {
                    println!(
                        "{}: ok: {} records included in checkpoint {} size {} (root {}…), signed by {}{}",
                        file.display(),
                        v.records,
                        v.origin,
                        v.checkpoint_size,
                        &v.root[..16],
                        head.verifier_key,
                        if v.consistent_with.is_empty() {
                            String::new()
                        } else {
                            format!("; extends the checkpoints of size {:?}", v.consistent_with)
                        }
                    );
                    if !witnesses.is_empty() {
                        println!(
                            "cosigned by {} of {} witnesses given{}",
                            cosigned.len(),
                            witnesses.len(),
                            if cosigned.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", cosigned.join(", "))
                            }
                        );
                    }
                    for c in &corroborated {
                        println!(
                            "incident {}: corroborated by {} other organisation(s){}{}",
                            c.incident,
                            c.verified.len(),
                            if c.verified.is_empty() {
                                String::new()
                            } else {
                                format!(": {}", c.verified.join(", "))
                            },
                            if c.unchecked.is_empty() {
                                String::new()
                            } else {
                                format!("; not checked (no --peer key): {}", c.unchecked.join(", "))
                            }
                        );
                    }
                    if v.key_from_bundle {
                        println!(
                            "note: checked with the key inside the bundle; pass --key with a key you hold to check its origin too"
                        );
                    }
                }
                let mut j = serde_json::to_value(&v)?;
                j["ok"] = serde_json::json!(true);
                j["cosigned_by"] = serde_json::json!(cosigned);
                j["corroboration"] = serde_json::to_value(&corroborated)?;
                views.push(j);
                checked.push((file.as_path(), head));
            }
        }
    }
    let [(first_file, first), (second_file, second)] = checked.as_slice() else {
        if a.json {
            println!("{}", views[0]);
        }
        return Ok(ExitCode::SUCCESS);
    };
    // Both verified; the key is the one they were verified with.
    let verifier =
        probity_core::note::NoteVerifier::parse(key.as_deref().unwrap_or(&first.verifier_key))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    if second.verifier_key != first.verifier_key {
        let msg = "the two bundles are signed by different keys; nothing to compare".to_string();
        if a.json {
            println!(
                "{}",
                serde_json::json!({"ok": false, "bundles": views, "error": msg})
            );
        } else {
            eprintln!("FAILED: {msg}");
        }
        return Ok(ExitCode::from(1));
    }
    let relation = match check::compare_files((first_file, first), (second_file, second), &verifier)
    {
        Ok(r) => r,
        Err(msg) => {
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "bundles": views, "error": msg})
                );
            } else {
                eprintln!("FAILED: {msg}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    let (code, line) = match &relation {
        check::Relation::Consistent {
            older_size,
            newer_size,
        } => (
            0,
            format!(
                "consistent: the checkpoint of size {newer_size} extends the one of size {older_size}"
            ),
        ),
        check::Relation::Fork { detail } => (1, format!("FORK: {detail}")),
        check::Relation::Undetermined { detail } => (3, format!("undetermined: {detail}")),
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({"ok": code == 0, "bundles": views, "comparison": relation})
        );
    } else if code == 1 {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    Ok(ExitCode::from(code))
}

/// `probity evidence audit`.
pub fn audit(path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let store = super::open_existing(&config)?;
    let signer = probity_engine::attest::evidence::load_or_create_key(
        &config.server.data_dir,
        &config.evidence.origin,
    )?;
    let bar = bundle::progress_bar("auditing");
    let mut a = bundle::audit(&*store, &signer.verifier(), &bar)?;
    bar.finish_and_clear();
    // The database file itself, every page and index (SQLite's integrity check).
    for problem in store.integrity_check()? {
        a.findings.push(bundle::Finding {
            leaf: None,
            problem: format!("the database file is damaged: {problem}"),
        });
    }
    if json {
        println!("{}", serde_json::to_string(&a)?);
    } else {
        for f in &a.findings {
            match f.leaf {
                Some(l) => println!("leaf {l}: {}", f.problem),
                None => println!("{}", f.problem),
            }
        }
        println!(
            "{}: {} leaves, {} checkpoints, {} results, {} incident changes and {} feed records compared with the database: {}",
            config.path.display(),
            a.leaves,
            a.checkpoints,
            a.results_compared,
            a.incidents_compared,
            a.feed_records_compared,
            match a.problems() {
                0 => "ok".to_string(),
                n if a.findings_omitted > 0 => {
                    format!("{n} problems (the first {} listed)", a.findings.len())
                }
                n => format!("{n} problems"),
            }
        );
    }
    Ok(if a.problems() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
