//! The evidence log's edge: the signing key on disk and signed checkpoints. The record
//! encoding (what becomes a leaf) is `store::leaf`; the tree and notes are in
//! `probity-core`.

use probity_core::note::{Checkpoint, NoteSigner};
use std::path::Path;

/// The file in `data_dir` that holds the signing key.
pub const KEY_FILE: &str = "evidence.key";

/// Loads the signing key from `data_dir`, making one on first use (readable by the owner
/// only). The key's name is the log's origin.
pub fn load_or_create_key(data_dir: &Path, origin: &str) -> anyhow::Result<NoteSigner> {
    let path = data_dir.join(KEY_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        let signer =
            NoteSigner::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        anyhow::ensure!(
            signer.name() == origin,
            "{} signs for origin {:?}, but the configuration says {origin:?}; keep the origin, or move the key away to start a new log",
            path.display(),
            signer.name()
        );
        return Ok(signer);
    }
    std::fs::create_dir_all(data_dir)?;
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
    let signer = NoteSigner::from_seed(origin, seed)
        .map_err(|e| anyhow::anyhow!("origin {origin:?}: {e}"))?;
    // Write to a private temporary file, then rename: no moment where the key is readable
    // by others or half-written.
    let tmp = data_dir.join(format!("{KEY_FILE}.tmp"));
    {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(signer.to_private_string().as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(signer)
}

/// A signed checkpoint note for a tree of `size` leaves with root `root`.
pub fn sign_checkpoint(signer: &NoteSigner, size: u64, root: [u8; 32]) -> String {
    let c = Checkpoint {
        origin: signer.name().to_string(),
        size,
        root,
        extensions: Vec::new(),
    };
    signer
        .sign(&c.to_text())
        .expect("checkpoint text ends with a newline")
}
