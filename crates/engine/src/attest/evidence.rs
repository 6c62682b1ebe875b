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

/// The file beside the key that holds the latest checkpoint the key signed: outside the
/// database, so a store lost or replaced cannot make the key sign a second history.
pub const LAST_SIGNED_FILE: &str = "evidence.checkpoint";

/// Keeps `note`, a checkpoint just signed and stored, beside the key (written whole, then
/// renamed into place).
pub fn remember_signed(data_dir: &Path, note: &str) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = data_dir.join(format!("{LAST_SIGNED_FILE}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(note.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, data_dir.join(LAST_SIGNED_FILE))
}

/// Refuses a store that does not hold what the key has already signed: starting on it
/// would sign a second, different log under the same key and origin (a fork). `size` is
/// the store's log size and `root_at(n)` its root over the first `n` leaves.
pub fn check_not_forked(
    data_dir: &Path,
    size: u64,
    root_at: impl FnOnce(u64) -> anyhow::Result<[u8; 32]>,
) -> anyhow::Result<()> {
    let path = data_dir.join(LAST_SIGNED_FILE);
    let note = match std::fs::read_to_string(&path) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(anyhow::anyhow!("reading {}: {e}", path.display())),
    };
    let (body, _) = probity_core::note::split_note(&note)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let signed = Checkpoint::parse(body).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let fork = |why: String| {
        anyhow::anyhow!(
            "refusing to start: the evidence key in {dir} has signed a checkpoint of {n} leaves (root {root}) for origin {origin:?}, and {why}; starting would fork the log. Restore the store that holds it, or start a new log: move {key} and {last} away and set a new [evidence] origin",
            dir = data_dir.display(),
            n = signed.size,
            root = hex::encode(signed.root),
            origin = signed.origin,
            key = KEY_FILE,
            last = LAST_SIGNED_FILE,
        )
    };
    if size < signed.size {
        return Err(fork(format!("this store holds {size}")));
    }
    let root = root_at(signed.size)?;
    if root != signed.root {
        return Err(fork(format!(
            "this store's first {} leaves have another root ({})",
            signed.size,
            hex::encode(root)
        )));
    }
    Ok(())
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

/// Refuses a key that did not sign the store's latest checkpoint: servers that share one
/// store sign one log, so each must hold the same key (copied from the first server's data
/// directory). `latest` is that checkpoint's note, when there is one.
pub fn check_same_key(
    signer: &NoteSigner,
    data_dir: &Path,
    latest: Option<&str>,
) -> anyhow::Result<()> {
    let Some(note) = latest else {
        return Ok(());
    };
    match probity_core::note::verify_note(note, &[signer.verifier()]) {
        Ok(_) => Ok(()),
        Err(_) => anyhow::bail!(
            "refusing to start: the store's latest evidence checkpoint is not signed by the key in {} ({KEY_FILE}); servers sharing one store sign one log with one key: copy {KEY_FILE} from a server that runs on this store into {}",
            data_dir.display(),
            data_dir.display()
        ),
    }
}
