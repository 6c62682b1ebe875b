//! `probity store migrate`: a SQLite store copied into an empty PostgreSQL database, table by
//! table with binary COPY, in one PostgreSQL transaction over one SQLite read snapshot, then
//! checked: every table's row count and the evidence log's root, equal on both sides.

use super::*;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

/// What a copy did, per table, and the evidence log both sides agree on.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Copied {
    /// Rows per table, in the order they were copied.
    pub tables: Vec<(String, u64)>,
    pub evidence_size: u64,
    /// Lower-case hex.
    pub evidence_root: String,
}

/// A column of the PostgreSQL schema, with the type its values are written as.
struct Column {
    name: String,
    ty: Type,
}

/// The tables of this probity's schema that hold data (not `schema_migrations`, nor the
/// running servers' `servers` and `leases`, which a SQLite store has no counterpart of),
/// each with its columns in order, read from the database itself.
fn tables(c: &mut Client) -> StoreResult<Vec<(String, Vec<Column>)>> {
    let rows = c.query(
        "SELECT table_name::TEXT, column_name::TEXT, data_type::TEXT FROM information_schema.columns
         WHERE table_schema = current_schema()
           AND table_name NOT IN ('schema_migrations', 'servers', 'leases')
           AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition)
         ORDER BY table_name, ordinal_position",
        &[],
    )?;
    let mut out: Vec<(String, Vec<Column>)> = Vec::new();
    for r in rows {
        let (table, name, ty): (String, String, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let ty = match ty.as_str() {
            "bigint" => Type::INT8,
            "boolean" => Type::BOOL,
            "double precision" => Type::FLOAT8,
            "text" => Type::TEXT,
            "bytea" => Type::BYTEA,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "{table}.{name}: a column of type {other} this probity does not copy"
                )));
            }
        };
        match out.last_mut() {
            Some((t, cols)) if *t == table => cols.push(Column { name, ty }),
            _ => out.push((table, vec![Column { name, ty }])),
        }
    }
    // `incident_evidence` refers to `incidents`: the referred table goes first.
    out.sort_by_key(|(t, _)| (t != "incidents", t.clone()));
    Ok(out)
}

/// One SQLite value as the PostgreSQL column's type wants it.
fn convert(v: Value, col: &Column, table: &str) -> StoreResult<Box<dyn ToSql + Sync + Send>> {
    let bad = |v: &Value| {
        StoreError::Corrupt(format!(
            "{table}.{}: {v:?} does not fit a {} column",
            col.name, col.ty
        ))
    };
    Ok(match (&col.ty, v) {
        (t, Value::Null) if *t == Type::INT8 => Box::new(None::<i64>),
        (t, Value::Null) if *t == Type::BOOL => Box::new(None::<bool>),
        (t, Value::Null) if *t == Type::FLOAT8 => Box::new(None::<f64>),
        (t, Value::Null) if *t == Type::TEXT => Box::new(None::<String>),
        (t, Value::Null) if *t == Type::BYTEA => Box::new(None::<Vec<u8>>),
        (t, Value::Integer(i)) if *t == Type::INT8 => Box::new(i),
        (t, Value::Integer(i)) if *t == Type::BOOL => Box::new(i != 0),
        (t, Value::Integer(i)) if *t == Type::FLOAT8 => Box::new(i as f64),
        (t, Value::Real(f)) if *t == Type::FLOAT8 => Box::new(f),
        (t, Value::Text(s)) if *t == Type::TEXT => Box::new(s),
        (t, Value::Blob(b)) if *t == Type::BYTEA => Box::new(b),
        // SQLite keeps what it is given: a hash written as text where bytes are wanted.
        (t, Value::Text(s)) if *t == Type::BYTEA => Box::new(s.into_bytes()),
        (_, v) => return Err(bad(&v)),
    })
}

/// The SQLite expression that reads a PostgreSQL column: the same name, but for the
/// `id` PostgreSQL adds to `alert_attempts` (SQLite's rowid there).
fn source_column(table: &str, col: &str, sqlite: &rusqlite::Connection) -> StoreResult<String> {
    let has: bool = sqlite
        .prepare(&format!(
            "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
        ))?
        .exists([col])?;
    if has {
        return Ok(format!("\"{col}\""));
    }
    if col == "id" {
        return Ok("rowid".into());
    }
    Err(StoreError::Corrupt(format!(
        "the SQLite store has no {table}.{col}: it is older than this probity (open it with `probity store stats` first to migrate it)"
    )))
}

/// Records of compacted leaves, rebuilt a window at a time as the copy reaches them.
#[derive(Default)]
struct Rebuilt(std::collections::BTreeMap<u64, Vec<u8>>);

impl Rebuilt {
    fn record(&mut self, c: &rusqlite::Connection, leaf: u64) -> StoreResult<Vec<u8>> {
        if !self.0.contains_key(&leaf) {
            self.0.clear();
            let window = crate::store::sqlite::records_within(c, leaf, leaf + 1000, 8 << 20)?;
            self.0 = window.into_iter().map(|l| (l.index, l.record)).collect();
        }
        Ok(self.0.remove(&leaf).unwrap_or_default())
    }
}

/// The value of a `results` column for a result read from a chunk.
fn chunk_value(
    target: &str,
    vantage: &str,
    r: &probity_core::chunk::Row,
    col: &str,
) -> StoreResult<Value> {
    let real = |p: Option<f64>| p.map_or(Value::Null, Value::Real);
    let text = |t: &Option<String>| t.clone().map_or(Value::Null, Value::Text);
    Ok(match col {
        "id" => Value::Integer(r.id),
        "target" => Value::Text(target.into()),
        "vantage" => Value::Text(vantage.into()),
        "at_ms" => Value::Integer(r.at_ms),
        "health" => Value::Text(r.health.clone()),
        "dns_ms" => real(r.phases[0]),
        "connect_ms" => real(r.phases[1]),
        "tls_ms" => real(r.phases[2]),
        "ttfb_ms" => real(r.phases[3]),
        "total_ms" => real(r.phases[4]),
        "error_class" => text(&r.error_class),
        "error" => text(&r.error),
        "details" => text(&r.details),
        "unmeasured" => Value::Integer(i64::from(r.unmeasured)),
        "origin" => text(&r.origin),
        "clock_offset_ms" => r.clock_offset_ms.map_or(Value::Null, Value::Integer),
        other => {
            return Err(StoreError::Corrupt(format!(
                "results.{other}: a column a compacted result has no value for"
            )));
        }
    })
}

/// Copies the SQLite store at `sqlite_dir` into the empty database of `target`;
/// `progress(rows_done, rows_total)` is called as rows go.
pub fn copy_sqlite(
    sqlite_dir: &std::path::Path,
    target: &PgStore,
    progress: &mut dyn FnMut(u64, u64),
) -> StoreResult<Copied> {
    // Opening migrates the source to this probity's schema first (as any command would).
    let source = SqliteStore::open(sqlite_dir)?;
    let mut conn = rusqlite::Connection::open_with_flags(
        source.path(),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let snapshot = conn.transaction()?;
    tokio::task::block_in_place(|| {
        target.write(|pg| {
            let tables = tables(pg)?;
            let mut total = 0u64;
            for (t, _) in &tables {
                let n: i64 = snapshot.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| {
                    r.get(0)
                })?;
                total += n as u64;
            }
            // Compacted results become rows again (PostgreSQL keeps rows).
            total += snapshot.query_row(
                "SELECT COALESCE(SUM(rows), 0) FROM result_chunks",
                [],
                |r| r.get::<_, i64>(0),
            )? as u64;
            let mut tx = pg.transaction()?;
            for (t, _) in &tables {
                let n: i64 = tx
                    .query_one(&format!("SELECT COUNT(*) FROM {t}"), &[])?
                    .try_get(0)?;
                if n > 0 {
                    return Err(StoreError::Config(format!(
                        "{} is not empty ({t} has {n} rows): store migrate copies into an empty database only",
                        target.shown()
                    )));
                }
            }
            let mut copied = Copied::default();
            let mut done = 0u64;
            progress(0, total);
            for (t, cols) in &tables {
                let select = cols
                    .iter()
                    .map(|c| source_column(t, &c.name, &snapshot))
                    .collect::<StoreResult<Vec<_>>>()?
                    .join(", ");
                let names = cols
                    .iter()
                    .map(|c| format!("\"{}\"", c.name))
                    .collect::<Vec<_>>()
                    .join(", ");
                let types: Vec<Type> = cols.iter().map(|c| c.ty.clone()).collect();
                let sink = tx.copy_in(&format!("COPY {t} ({names}) FROM STDIN (FORMAT binary)"))?;
                let mut writer = BinaryCopyInWriter::new(sink, &types);
                // A row also in a chunk (kept for an incident) comes from the chunk.
                let only = if t == "results" {
                    " WHERE leaf IS NULL OR leaf >= 0"
                } else {
                    ""
                };
                let mut stmt = snapshot.prepare(&format!("SELECT {select} FROM {t}{only}"))?;
                let mut rows = stmt.query([])?;
                let mut n = 0u64;
                let idx = cols.iter().position(|c| c.name == "idx");
                let mut rebuilt = Rebuilt::default();
                while let Some(row) = rows.next()? {
                    let values = cols
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let mut v = row.get::<_, Value>(i)?;
                            // A compacted leaf's record is rebuilt from its chunks.
                            if t == "evidence_leaves"
                                && c.name == "record"
                                && matches!(&v, Value::Blob(b) if b.is_empty())
                                && let Some(Value::Integer(leaf)) =
                                    idx.map(|k| row.get::<_, Value>(k)).transpose()?
                            {
                                v = Value::Blob(rebuilt.record(&snapshot, leaf as u64)?);
                            }
                            convert(v, c, t)
                        })
                        .collect::<StoreResult<Vec<_>>>()?;
                    let refs: Vec<&(dyn ToSql + Sync)> =
                        values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
                    writer.write(&refs)?;
                    n += 1;
                    done += 1;
                    if done.is_multiple_of(4096) {
                        progress(done, total);
                    }
                }
                if t == "results" {
                    let mut write = |target: &str, vantage: &str, r: probity_core::chunk::Row| {
                        let values = cols
                            .iter()
                            .map(|c| convert(chunk_value(target, vantage, &r, &c.name)?, c, t))
                            .collect::<StoreResult<Vec<_>>>()?;
                        let refs: Vec<&(dyn ToSql + Sync)> =
                            values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
                        writer.write(&refs)?;
                        done += 1;
                        if done.is_multiple_of(4096) {
                            progress(done, total);
                        }
                        Ok(())
                    };
                    n += crate::store::sqlite::each_chunked(&snapshot, &mut write)?;
                }
                writer.finish()?;
                copied.tables.push((t.clone(), n));
            }
            // Serial ids continue after the copied ones.
            for (t, cols) in &tables {
                if !cols.iter().any(|c| c.name == "id" && c.ty == Type::INT8) {
                    continue;
                }
                let seq: Option<String> = tx
                    .query_one("SELECT pg_get_serial_sequence($1, 'id')", &[t])?
                    .try_get(0)?;
                if let Some(seq) = seq {
                    tx.execute(
                        &format!("SELECT setval($1::TEXT::regclass, MAX(id)) FROM {t} HAVING MAX(id) IS NOT NULL"),
                        &[&seq],
                    )?;
                }
            }
            tx.commit()?;
            progress(done, total);
            Ok(copied)
        })
    })
    .and_then(|mut copied| {
        // Checked afterwards, through the stores themselves.
        let size = source.evidence_size()?;
        // Read from the database, which also moves the store's cached size on.
        let theirs = target.evidence_size()?;
        if theirs != size {
            return Err(StoreError::Damaged(format!(
                "after the copy the evidence log has {theirs} leaves, the SQLite store {size}"
            )));
        }
        let (ours, theirs) = (source.evidence_root(size)?, target.evidence_root(size)?);
        if ours != theirs {
            return Err(StoreError::Damaged(format!(
                "after the copy the evidence log's root is {}, the SQLite store's {}",
                hex::encode(theirs),
                hex::encode(ours)
            )));
        }
        let problems = target.integrity_check()?;
        if !problems.is_empty() {
            return Err(StoreError::Damaged(problems.join("; ")));
        }
        // Ids continue after the copied ones for whoever writes next.
        target.write(super::cluster::bump_id_blocks)?;
        target.ids.result.lock().expect("id block lock").reset();
        target.ids.incident.lock().expect("id block lock").reset();
        copied.evidence_size = size;
        copied.evidence_root = hex::encode(ours);
        Ok(copied)
    })
}
