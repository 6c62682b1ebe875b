//! The agent's spool: every result is written here (and synced) before it is sent, and
//! removed only after the server has acknowledged it.
//!
//! Layout: segment files `seg-<16 digits>.jsonl`, one JSON result per line, oldest first;
//! a `cursor` file (`<segment> <byte offset>`) marks how far the server has acknowledged.
//! A segment is closed at 1 MiB.
//!
//! **Invariants:** a result is acknowledged to nobody before it is on disk; the cursor
//! moves only after the server's acknowledgment; at the size bound the oldest whole
//! segment is dropped (counted in `dropped` and logged), never the newest; a line torn by
//! a crash (no final newline) is cut off when the spool is opened.

use super::wire::PushResult;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const SEGMENT_BYTES: u64 = 1024 * 1024;

/// Where a read stopped: acknowledge it to move the cursor there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    segment: u64,
    offset: u64,
}

#[derive(Debug)]
struct Segment {
    seq: u64,
    bytes: u64,
    lines: u64,
}

pub struct Spool {
    /// Held while the spool is open: two agents on one spool would interleave its lines.
    _lock: File,
    dir: PathBuf,
    max_bytes: u64,
    segments: VecDeque<Segment>,
    cursor: Position,
    /// Lines at or after the cursor.
    pending: u64,
    dropped: u64,
    writer: Option<File>,
}

fn seg_name(seq: u64) -> String {
    format!("seg-{seq:016}.jsonl")
}

impl Spool {
    /// Opens (or makes) the spool in `dir`, bounded to `max_bytes` on disk.
    pub fn open(dir: &Path, max_bytes: u64) -> anyhow::Result<Spool> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create the spool {}: {e}", dir.display()))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("spool.lock"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "the spool {} is in use by another agent; give each agent its own --spool",
                dir.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => return Err(e.into()),
        }
        let mut seqs: Vec<u64> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_prefix("seg-")?
                    .strip_suffix(".jsonl")?
                    .parse()
                    .ok()
            })
            .collect();
        seqs.sort_unstable();
        let cursor = match std::fs::read_to_string(dir.join("cursor")) {
            Ok(text) => {
                let mut it = text.split_whitespace().map(str::parse::<u64>);
                match (it.next(), it.next()) {
                    (Some(Ok(segment)), Some(Ok(offset))) => Position { segment, offset },
                    _ => anyhow::bail!(
                        "{}: not `<segment> <offset>`; move the spool away to start afresh",
                        dir.join("cursor").display()
                    ),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Position {
                segment: seqs.first().copied().unwrap_or(0),
                offset: 0,
            },
            Err(e) => return Err(e.into()),
        };
        let mut segments = VecDeque::new();
        let mut pending = 0;
        let last = seqs.last().copied();
        for seq in seqs {
            let path = dir.join(seg_name(seq));
            if seq < cursor.segment {
                // Fully acknowledged before a crash kept it from being removed.
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let mut data = std::fs::read(&path)?;
            if Some(seq) == last && !data.is_empty() && !data.ends_with(b"\n") {
                // A write torn by a crash: that result was never acknowledged to anyone.
                let keep = data.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                tracing::warn!(
                    segment = seq,
                    bytes = data.len() - keep,
                    "cutting a torn line off the spool"
                );
                data.truncate(keep);
                let f = OpenOptions::new().write(true).open(&path)?;
                f.set_len(keep as u64)?;
                f.sync_all()?;
            }
            let lines = data.iter().filter(|b| **b == b'\n').count() as u64;
            let start = if seq == cursor.segment {
                (cursor.offset as usize).min(data.len())
            } else {
                0
            };
            pending += data[start..].iter().filter(|b| **b == b'\n').count() as u64;
            segments.push_back(Segment {
                seq,
                bytes: data.len() as u64,
                lines,
            });
        }
        Ok(Spool {
            _lock: lock,
            dir: dir.to_path_buf(),
            max_bytes: max_bytes.max(SEGMENT_BYTES),
            segments,
            cursor,
            pending,
            dropped: 0,
            writer: None,
        })
    }

    /// Results written and not yet acknowledged.
    pub fn backlog(&self) -> u64 {
        self.pending
    }

    /// Results dropped at the size bound since the spool was opened.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Appends results and syncs them to disk.
    pub fn append(&mut self, results: &[PushResult]) -> anyhow::Result<()> {
        if results.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in results {
            serde_json::to_writer(&mut buf, r)?;
            buf.push(b'\n');
        }
        let need_new = self
            .segments
            .back()
            .is_none_or(|s| s.bytes >= SEGMENT_BYTES);
        if need_new {
            let seq = self
                .segments
                .back()
                .map_or(self.cursor.segment, |s| s.seq + 1);
            self.segments.push_back(Segment {
                seq,
                bytes: 0,
                lines: 0,
            });
            self.writer = None;
        }
        let seg = self.segments.back_mut().expect("a segment");
        if self.writer.is_none() {
            self.writer = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.join(seg_name(seg.seq)))?,
            );
        }
        let w = self.writer.as_mut().expect("writer open");
        w.write_all(&buf)?;
        w.sync_data()?;
        seg.bytes += buf.len() as u64;
        seg.lines += results.len() as u64;
        self.pending += results.len() as u64;
        self.enforce_bound()?;
        Ok(())
    }

    /// Drops the oldest segments while the spool is over its bound (never the newest).
    fn enforce_bound(&mut self) -> anyhow::Result<()> {
        while self.bytes() > self.max_bytes && self.segments.len() > 1 {
            let old = self.segments.pop_front().expect("two or more");
            let lost = if old.seq == self.cursor.segment {
                // Only what the server has not acknowledged is lost.
                let data = std::fs::read(self.dir.join(seg_name(old.seq))).unwrap_or_default();
                let start = (self.cursor.offset as usize).min(data.len());
                data[start..].iter().filter(|b| **b == b'\n').count() as u64
            } else {
                old.lines
            };
            std::fs::remove_file(self.dir.join(seg_name(old.seq)))?;
            self.dropped += lost;
            self.pending = self.pending.saturating_sub(lost);
            let next = self.segments.front().expect("one left").seq;
            self.cursor = Position {
                segment: next,
                offset: 0,
            };
            self.write_cursor()?;
            tracing::error!(
                dropped = lost,
                total_dropped = self.dropped,
                "spool full: dropped the oldest results not yet delivered"
            );
        }
        Ok(())
    }

    /// Reads up to `max` results from the cursor, and where the read ended. Lines that do
    /// not parse are skipped (and logged): they cannot be sent.
    pub fn read(&self, max: usize) -> anyhow::Result<(Vec<PushResult>, Position)> {
        let mut out = Vec::new();
        let mut pos = self.cursor;
        for seg in self
            .segments
            .iter()
            .filter(|s| s.seq >= self.cursor.segment)
        {
            if out.len() >= max {
                break;
            }
            let mut f = BufReader::new(File::open(self.dir.join(seg_name(seg.seq)))?);
            let start = if seg.seq == self.cursor.segment {
                self.cursor.offset
            } else {
                0
            };
            f.seek(SeekFrom::Start(start))?;
            pos = Position {
                segment: seg.seq,
                offset: start,
            };
            let mut line = String::new();
            while out.len() < max {
                line.clear();
                let n = f.read_line(&mut line)?;
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                pos.offset += n as u64;
                match serde_json::from_str::<PushResult>(&line) {
                    Ok(r) => out.push(r),
                    Err(e) => {
                        tracing::error!(segment = seg.seq, error = %e, "skipping an unreadable spool line")
                    }
                }
            }
        }
        Ok((out, pos))
    }

    /// The server has stored everything before `pos`: move the cursor there and remove
    /// the segments before it.
    pub fn ack(&mut self, pos: Position, count: u64) -> anyhow::Result<()> {
        self.cursor = pos;
        self.write_cursor()?;
        self.pending = self.pending.saturating_sub(count);
        while self.segments.len() > 1 {
            let first = &self.segments[0];
            let done =
                first.seq < pos.segment || (first.seq == pos.segment && pos.offset >= first.bytes);
            if !done {
                break;
            }
            let old = self.segments.pop_front().expect("checked");
            std::fs::remove_file(self.dir.join(seg_name(old.seq)))?;
            if old.seq == pos.segment {
                self.cursor = Position {
                    segment: self.segments[0].seq,
                    offset: 0,
                };
                self.write_cursor()?;
            }
        }
        Ok(())
    }

    fn write_cursor(&self) -> anyhow::Result<()> {
        let tmp = self.dir.join("cursor.tmp");
        {
            let mut f = File::create(&tmp)?;
            writeln!(f, "{} {}", self.cursor.segment, self.cursor.offset)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, self.dir.join("cursor"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probity_core::result::Health;

    fn r(i: u64) -> PushResult {
        PushResult {
            id: format!("a:b:{i}"),
            target: "web".into(),
            at_ms: i as i64,
            health: Health::Up,
            phases: Default::default(),
            error_class: None,
            error: None,
            details: None,
            unmeasured: false,
            cert_expires_in_ms: None,
        }
    }

    #[test]
    fn one_agent_per_spool() {
        let dir = tempfile::tempdir().unwrap();
        let first = Spool::open(dir.path(), 64 << 20).unwrap();
        let err = Spool::open(dir.path(), 64 << 20).err().unwrap().to_string();
        assert!(err.contains("in use by another agent"), "{err}");
        drop(first);
        assert!(Spool::open(dir.path(), 64 << 20).is_ok());
    }

    #[test]
    fn delivers_in_order_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 64 << 20).unwrap();
        s.append(&(0..10).map(r).collect::<Vec<_>>()).unwrap();
        let (first, pos) = s.read(4).unwrap();
        assert_eq!(
            first.iter().map(|x| x.at_ms).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        s.ack(pos, 4).unwrap();
        assert_eq!(s.backlog(), 6);
        drop(s);
        // Reopened (as after a crash): the acknowledged four are gone, the rest remain.
        let mut s = Spool::open(dir.path(), 64 << 20).unwrap();
        assert_eq!(s.backlog(), 6);
        let (rest, pos) = s.read(100).unwrap();
        assert_eq!(rest.first().unwrap().at_ms, 4);
        assert_eq!(rest.len(), 6);
        s.ack(pos, 6).unwrap();
        assert_eq!(s.backlog(), 0);
        assert!(s.read(10).unwrap().0.is_empty());
    }

    #[test]
    fn an_unacknowledged_read_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 64 << 20).unwrap();
        s.append(&[r(1), r(2)]).unwrap();
        let (a, _) = s.read(10).unwrap();
        let (b, _) = s.read(10).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_torn_last_line_is_cut_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spool::open(dir.path(), 64 << 20).unwrap();
        s.append(&[r(1), r(2)]).unwrap();
        drop(s);
        let seg = dir.path().join(seg_name(0));
        let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
        f.write_all(b"{\"id\":\"half").unwrap();
        drop(f);
        let mut s = Spool::open(dir.path(), 64 << 20).unwrap();
        assert_eq!(s.backlog(), 2);
        s.append(&[r(3)]).unwrap();
        let (all, _) = s.read(10).unwrap();
        assert_eq!(
            all.iter().map(|x| x.at_ms).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn the_bound_drops_the_oldest_segment_and_counts_it() {
        let dir = tempfile::tempdir().unwrap();
        // Bound = one segment: the second segment's first write evicts the first.
        let mut s = Spool::open(dir.path(), 1).unwrap();
        let mut n = 0;
        while s.dropped() == 0 {
            s.append(&(n..n + 500).map(r).collect::<Vec<_>>()).unwrap();
            n += 500;
            assert!(n < 1_000_000);
        }
        let dropped = s.dropped();
        assert!(dropped > 0);
        assert_eq!(s.backlog() + dropped, n);
        let (left, _) = s.read(usize::MAX).unwrap();
        assert_eq!(left.len() as u64, s.backlog());
        // What is left is the newest, in order.
        assert_eq!(left.last().unwrap().at_ms, n as i64 - 1);
        assert!(left.windows(2).all(|w| w[0].at_ms + 1 == w[1].at_ms));
    }
}
