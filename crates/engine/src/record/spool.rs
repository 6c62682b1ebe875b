//! Batches the store could not take, kept on local disk until it can: one file per batch
//! (JSON), written whole to a temporary name, synced, renamed into place and the directory
//! synced, so a batch in the spool survives a kill or a power loss. Batches leave it in the
//! order they came, each once: a batch whose first result is in the store already (written
//! just before a crash, or by a write whose answer was lost) is not written again.

use crate::store::{Batch, Store, StoreError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The directory under `data_dir` that holds the spool.
pub const SPOOL_DIR: &str = "spool";

pub struct Spool {
    dir: PathBuf,
    /// The next file's number, and the numbers of the files waiting, oldest first.
    next: u64,
    waiting: std::collections::VecDeque<u64>,
}

fn name(n: u64) -> String {
    format!("{n:020}.json")
}

impl Spool {
    /// Opens (creating) the spool in `data_dir`, with what a previous run left in it.
    pub fn open(data_dir: &Path) -> std::io::Result<Spool> {
        let dir = data_dir.join(SPOOL_DIR);
        std::fs::create_dir_all(&dir)?;
        let mut waiting: Vec<u64> = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let file = entry.file_name();
            let file = file.to_string_lossy();
            match file.strip_suffix(".json").and_then(|n| n.parse().ok()) {
                Some(n) => waiting.push(n),
                // A temporary file of a write that did not finish: never acknowledged.
                None if file.ends_with(".tmp") => std::fs::remove_file(entry.path())?,
                None => {}
            }
        }
        waiting.sort_unstable();
        Ok(Spool {
            dir,
            next: waiting.last().map_or(0, |n| n + 1),
            waiting: waiting.into(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Keeps `batch` (durably, when this returns `Ok`).
    pub fn push(&mut self, batch: &Batch) -> std::io::Result<()> {
        let n = self.next;
        let tmp = self.dir.join(format!("{n:020}.tmp"));
        {
            let mut f = std::fs::File::create(&tmp)?;
            serde_json::to_writer(&mut f, batch)?;
            f.flush()?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join(name(n)))?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        self.next += 1;
        self.waiting.push_back(n);
        Ok(())
    }

    /// The oldest batch waiting (unreadable: an error naming its file, which stays).
    pub fn oldest(&self) -> anyhow::Result<Option<Batch>> {
        let Some(n) = self.waiting.front() else {
            return Ok(None);
        };
        let path = self.dir.join(name(*n));
        let bytes =
            std::fs::read(&path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        let batch = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a spooled batch: {e}", path.display()))?;
        Ok(Some(batch))
    }

    /// Removes the oldest batch (it is in the store now).
    pub fn pop(&mut self) -> std::io::Result<()> {
        if let Some(n) = self.waiting.pop_front() {
            std::fs::remove_file(self.dir.join(name(n)))?;
        }
        Ok(())
    }
}

/// Writes `batch` unless its first result is in the store already.
pub fn write_once(store: &dyn Store, batch: &Batch) -> Result<(), StoreError> {
    if let Some(first) = batch.results.first()
        && !store.results_by_ids(first.id, first.id)?.is_empty()
    {
        return Ok(());
    }
    store.write(batch)
}

/// Writes what the spool in `data_dir` holds into `store`, oldest first, at start (before
/// the recorder resumes open incidents from the store): how many batches it wrote.
pub fn replay(data_dir: &Path, store: &dyn Store) -> anyhow::Result<usize> {
    if !data_dir.join(SPOOL_DIR).exists() {
        return Ok(0);
    }
    let mut spool = Spool::open(data_dir)?;
    let mut n = 0;
    while let Some(batch) = spool.oldest()? {
        write_once(store, &batch)?;
        spool.pop()?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::traits::*;
    use crate::store::{ResultRecord, SqliteStore};
    use probity_core::result::{Health, Phases};

    fn batch(id: i64) -> Batch {
        Batch {
            results: vec![ResultRecord {
                id,
                target: "a".into(),
                vantage: "local".into(),
                at_ms: 1_000 * id,
                health: Health::Down,
                phases: Phases::default(),
                cause: None,
                details: Some("{\"why\":\"é\"}".into()),
                unmeasured: false,
                origin: None,
                clock_offset_ms: None,
            }],
            ..Batch::default()
        }
    }

    #[test]
    fn batches_come_back_in_order_after_a_reopen_and_once_into_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let mut sp = Spool::open(dir.path()).unwrap();
        assert!(sp.is_empty());
        for id in 1..=3 {
            sp.push(&batch(id)).unwrap();
        }
        // A write that did not finish is no batch.
        std::fs::write(dir.path().join("spool/00000000000000000009.tmp"), b"{").unwrap();
        drop(sp);
        let mut sp = Spool::open(dir.path()).unwrap();
        assert_eq!(sp.len(), 3);
        assert!(!dir.path().join("spool/00000000000000000009.tmp").exists());
        let first = sp.oldest().unwrap().unwrap();
        assert_eq!(first.results, batch(1).results);
        sp.pop().unwrap();
        sp.push(&batch(4)).unwrap();

        // The store already holds batch 2 (written before a crash took the file away).
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        store.write(&batch(2)).unwrap();
        assert_eq!(replay(dir.path(), &store).unwrap(), 3);
        let ids: Vec<i64> = store
            .results_by_ids(0, 10)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [2, 3, 4]);
        assert!(Spool::open(dir.path()).unwrap().is_empty());
        assert_eq!(replay(dir.path(), &store).unwrap(), 0);
    }

    #[test]
    fn an_unreadable_batch_is_named_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut sp = Spool::open(dir.path()).unwrap();
        sp.push(&batch(1)).unwrap();
        let file = dir.path().join("spool/00000000000000000000.json");
        std::fs::write(&file, b"{\"results\": 7}").unwrap();
        let store = SqliteStore::open(&dir.path().join("db")).unwrap();
        let err = replay(dir.path(), &store).unwrap_err().to_string();
        assert!(
            err.contains("00000000000000000000.json: not a spooled batch"),
            "{err}"
        );
        assert!(file.exists());
    }
}
