//! Process plumbing shared by every command: the async runtime, termination signals, the
//! data directory's lock, the TLS crypto provider and the host's name.

use anyhow::Context;

/// Installs the process-wide rustls crypto provider once (aws-lc-rs).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The multi-threaded tokio runtime every long-running command uses.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn termination() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// The file in `data_dir` that `probity run` holds locked while it runs.
pub const LOCK_FILE: &str = "probity.lock";

/// Raises the soft limit on open files to the hard limit the system allows, so a busy
/// server (many targets, agents, connections) does not run out of descriptors at the
/// distribution's default soft limit (often 1024). Returns (before, after).
pub fn raise_open_files_limit() -> std::io::Result<(u64, u64)> {
    let (before, _) = rlimit::Resource::NOFILE.get()?;
    let after = rlimit::increase_nofile_limit(u64::MAX)?;
    Ok((before, after))
}

/// The soft limit on open files now (`None` where it cannot be read).
pub fn open_files_limit() -> Option<u64> {
    rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
}

/// Takes the data directory's lock, or says who holds it. One `probity run` per data
/// directory: its recorder hands out result and incident ids, and a second writer of
/// results would collide with them.
pub fn lock_data_dir(data_dir: &std::path::Path) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let path = data_dir.join(LOCK_FILE);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "{} is in use by a running probity (run or demo); stop it first",
            data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// The default origin: `probity/<host name>`.
pub fn default_origin() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(['+', ' ']))
        .unwrap_or_else(|| "localhost".into());
    format!("probity/{host}")
}
