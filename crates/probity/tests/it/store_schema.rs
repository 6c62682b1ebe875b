//! The store's schema: migrations applied once however many processes open a new store,
//! and a store from a newer probity (or changed outside it) refused, on both backends.

use crate::store::pg_open;
use probity_engine::store::SqliteStore;

#[test]
fn a_store_from_a_newer_probity_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("probity.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(dir.path()).err().unwrap();
    assert_eq!(
        err.to_string(),
        "database schema version 99 is newer than this probity knows (17); upgrade probity"
    );
}

/// Several processes opening a new store at once (a server and a `gate run`, say): each
/// migration is applied once, under the write lock, and every opener gets the store.
#[test]
fn a_new_store_opened_by_many_at_once_is_migrated_once() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (dir.path().to_path_buf(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    SqliteStore::open(&path)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), Ok(()));
        }
        let conn = rusqlite::Connection::open(dir.path().join("probity.db")).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 17);
    }
}

/// PostgreSQL: a schema migrated by a newer probity is refused with the versions; one
/// changed outside probity (a recorded checksum that is not this probity's) is refused too.
#[test]
fn a_postgres_schema_newer_or_changed_is_refused() {
    let Some(db) =
        crate::common::pg::database("store_schema::a_postgres_schema_newer_or_changed_is_refused")
    else {
        return;
    };
    drop(pg_open(&db.url).unwrap());
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.batch_execute("INSERT INTO schema_migrations (version, checksum) VALUES (99, 'x')")
        .unwrap();
    let err = pg_open(&db.url).err().unwrap().to_string();
    assert_eq!(
        err,
        "database schema version 99 is newer than this probity knows (5); upgrade probity"
    );
    c.batch_execute(
        "DELETE FROM schema_migrations WHERE version = 99;
         UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
    )
    .unwrap();
    let err = pg_open(&db.url).err().unwrap().to_string();
    assert!(
        err.contains("schema migration 1 was applied with checksum edited"),
        "{err}"
    );
}

/// PostgreSQL: servers starting together on a new database migrate it once (an advisory
/// lock), and every one of them opens it.
#[test]
fn a_new_postgres_database_opened_by_many_at_once_is_migrated_once() {
    let Some(db) = crate::common::pg::database(
        "store::a_new_postgres_database_opened_by_many_at_once_is_migrated_once",
    ) else {
        return;
    };
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let (url, barrier) = (db.url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                pg_open(&url).map(|_| ()).map_err(|e| e.to_string())
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), Ok(()));
    }
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let n: i64 = c
        .query_one("SELECT COUNT(*) FROM schema_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 5, "each of the five migrations recorded once");
}
