//! The public RFC 6962 proof vectors of the transparency-dev/merkle project. They are
//! third-party data, read from `../shared/fixtures/merkle` when it exists (they are not
//! copied into this repository); without it the test says it skipped them.

use base64::Engine;
use probity_core::merkle::{
    Hash, VerifyError, hash_from_slice, verify_consistency, verify_inclusion,
};
use std::path::{Path, PathBuf};

fn fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/merkle");
    dir.is_dir().then_some(dir)
}

/// Says so on standard output directly: libtest's capture would hide `println!` from a
/// passing test.
fn say(msg: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{msg}");
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(json_files(&p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn b64(v: &serde_json::Value) -> Result<Hash, VerifyError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .unwrap_or_default();
    hash_from_slice(&bytes)
}

fn proof(v: &serde_json::Value) -> Result<Vec<Hash>, VerifyError> {
    v.as_array()
        .map_or(Ok(Vec::new()), |a| a.iter().map(b64).collect())
}

#[test]
fn inclusion_vectors() {
    let Some(dir) = fixtures() else {
        say("merkle_vectors: SKIPPED: ../shared/fixtures/merkle is not present");
        return;
    };
    let files = json_files(&dir.join("inclusion"));
    assert!(files.len() > 20, "only {} inclusion vectors", files.len());
    for f in &files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let got = (|| {
            let leaf = b64(&v["leafHash"])?;
            let root = b64(&v["root"])?;
            verify_inclusion(
                v["leafIdx"].as_u64().unwrap(),
                v["treeSize"].as_u64().unwrap(),
                &leaf,
                &proof(&v["proof"])?,
                &root,
            )
        })();
        let want_err = v["wantErr"].as_bool().unwrap();
        assert_eq!(
            got.is_err(),
            want_err,
            "{} ({}): {got:?}",
            f.display(),
            v["desc"]
        );
    }
    say(&format!(
        "merkle_vectors: checked {} inclusion vectors",
        files.len()
    ));
}

#[test]
fn consistency_vectors() {
    let Some(dir) = fixtures() else {
        say("merkle_vectors: SKIPPED: ../shared/fixtures/merkle is not present");
        return;
    };
    let files = json_files(&dir.join("consistency"));
    assert!(files.len() > 20, "only {} consistency vectors", files.len());
    for f in &files {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let (size1, size2) = (v["size1"].as_u64().unwrap(), v["size2"].as_u64().unwrap());
        let got = (|| {
            let r1 = b64(&v["root1"])?;
            let r2 = b64(&v["root2"])?;
            verify_consistency(size1, size2, &r1, &r2, &proof(&v["proof"])?)
        })();
        // Probity is stricter than these vectors in two deliberate ways: it refuses every
        // proof from size 0 (it proves nothing), and every hash that is not 32 bytes (a few
        // vectors use short placeholder roots where the sizes are equal).
        let short_root = b64(&v["root1"]).is_err() || b64(&v["root2"]).is_err();
        let want_err = v["wantErr"].as_bool().unwrap() || size1 == 0 || short_root;
        assert_eq!(
            got.is_err(),
            want_err,
            "{} ({}): {got:?}",
            f.display(),
            v["desc"]
        );
    }
    say(&format!(
        "merkle_vectors: checked {} consistency vectors",
        files.len()
    ));
}
