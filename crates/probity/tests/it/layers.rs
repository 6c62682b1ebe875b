//! The layers hold: crates depend only on crates below them, and inside each crate a
//! module imports only modules of its own layer or below, as ARCHITECTURE.md draws them.
//! Also: no source file grows past 1,000 lines. The crate graph itself makes an upward
//! dependency between crates a cycle or a missing crate; this test also catches one that
//! would merely invert the order, and every upward import inside a crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The crates, bottom first.
const CRATES: &[(&str, &str)] = &[
    ("probity-core", "core"),
    ("probity-ground", "ground"),
    ("probity-engine", "engine"),
    ("probity-publish", "publish"),
    ("probity", "probity"),
];

/// Each crate's top-level modules, bottom first; modules on one line share a layer.
const MODULES: &[(&str, &[&[&str]])] = &[
    (
        "core",
        &[
            &[
                "duration",
                "result",
                "sketch",
                "merkle",
                "note",
                "maintenance",
                "provider",
                "judge",
                "cluster",
                "chunk",
            ],
            &["names", "condition", "observe", "sla", "slo"],
            &["quorum", "reconcile", "witness"],
            &["scorecard", "federation"],
        ],
    ),
    (
        "ground",
        &[
            &[
                "spec",
                "time",
                "auth",
                "html",
                "http_client",
                "process",
                "vantage",
            ],
            &["config"],
        ],
    ),
    (
        "engine",
        &[
            &["probe"],
            &["store"],
            &["feeds"],
            &["live", "attest", "telemetry", "account"],
            &["alert"],
            &["record"],
            &["schedule", "gate"],
        ],
    ),
    (
        "publish",
        &[
            &["state", "serve"],
            &["metrics", "status_page", "status_auto", "openapi"],
            &["agents", "badges", "dashboard"],
            &["api"],
        ],
    ),
    ("probity", &[&["fuzz", "agent", "run"], &["cli"], &["demo"]]),
];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments and without its test module (tests may reach
/// anywhere in their crate).
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment after each `crate::` in `code`.
fn crate_imports(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        // `probity_crate::` and the like are other words.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

/// The modules `text` imports from layers above `mine`.
fn above(rank: &BTreeMap<&str, usize>, mine: usize, text: &str) -> Vec<String> {
    crate_imports(&code_of(text))
        .into_iter()
        .filter(|m| rank.get(m.as_str()).is_some_and(|&theirs| theirs > mine))
        .collect()
}

#[test]
fn crates_depend_only_on_crates_below() {
    for (i, (name, dir)) in CRATES.iter().enumerate() {
        let manifest = std::fs::read_to_string(crates_dir().join(dir).join("Cargo.toml")).unwrap();
        let doc: toml::Table = manifest.parse().unwrap();
        let deps = doc
            .get("dependencies")
            .and_then(|d| d.as_table())
            .cloned()
            .unwrap_or_default();
        for (j, (other, _)) in CRATES.iter().enumerate() {
            if deps.contains_key(*other) {
                assert!(j < i, "{name} depends on {other}, which is not below it");
            }
        }
    }
}

#[test]
fn modules_import_only_their_layer_or_below() {
    let mut upward = Vec::new();
    for (krate, layers) in MODULES {
        let rank: BTreeMap<&str, usize> = layers
            .iter()
            .enumerate()
            .flat_map(|(i, mods)| mods.iter().map(move |m| (*m, i)))
            .collect();
        let src = crates_dir().join(krate).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        for f in files {
            let rel = f.strip_prefix(&src).unwrap();
            let top = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if top == "lib" || top == "main" {
                continue;
            }
            let Some(&mine) = rank.get(top.as_str()) else {
                panic!(
                    "{krate}/src/{}: module `{top}` has no layer in this test and ARCHITECTURE.md",
                    rel.display()
                );
            };
            let text = std::fs::read_to_string(&f).unwrap();
            for m in above(&rank, mine, &text) {
                upward.push(format!(
                    "{krate}/src/{} imports `crate::{m}`",
                    rel.display()
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports pointing up a layer:\n{}",
        upward.join("\n")
    );
}

#[test]
fn no_source_file_passes_a_thousand_lines() {
    let mut files = Vec::new();
    sources(&crates_dir(), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "target"))
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 1000).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these:\n{}", long.join("\n"));
}

#[test]
fn the_import_reader_sees_what_it_should() {
    let code =
        code_of("use crate::store::X; // crate::alert\nlet a = probity_crate::x; crate::live::Y");
    assert_eq!(crate_imports(&code), ["store", "live"]);
    assert_eq!(code_of("a\n#[cfg(test)]\nuse crate::up;"), "a");
}

#[test]
fn an_upward_import_is_caught() {
    let rank: BTreeMap<&str, usize> = [("store", 0), ("record", 1)].into();
    assert_eq!(above(&rank, 0, "use crate::record::Recorder;"), ["record"]);
    assert!(above(&rank, 1, "use crate::store::Store;").is_empty());
    assert!(above(&rank, 0, "// see crate::record\nfn f() {}").is_empty());
}
