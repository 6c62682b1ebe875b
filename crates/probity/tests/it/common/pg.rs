//! PostgreSQL for tests: a fresh database per test on the server `.ci/run` starts.
//!
//! `PROBITY_TEST_POSTGRES` is the server's URL (a user that may create databases, no
//! database path: `postgres://postgres@127.0.0.1:54329`). Without it a test says it
//! skipped; CI sets `PROBITY_REQUIRE_POSTGRES` and then its absence fails the test.

use std::sync::atomic::{AtomicU32, Ordering};

/// A database made for one test, dropped when this is.
pub struct Database {
    pub url: String,
    admin: String,
    name: String,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// The server's URL, or `None` after saying `test` skipped (failing if CI requires it).
pub fn server(test: &str) -> Option<String> {
    match std::env::var("PROBITY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url.trim_end_matches('/').to_string()),
        _ => {
            assert!(
                std::env::var_os("PROBITY_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL is required but PROBITY_TEST_POSTGRES is not set"
            );
            super::skipped(&format!(
                "{test}: no PostgreSQL server (set PROBITY_TEST_POSTGRES)"
            ));
            None
        }
    }
}

/// A new, empty database on the test server, or `None` (see [`server`]).
pub fn database(test: &str) -> Option<Database> {
    static N: AtomicU32 = AtomicU32::new(0);
    let server = server(test)?;
    let name = format!(
        "probity_t{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let admin = format!("{server}/postgres");
    let mut c = postgres::Client::connect(&admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {server}: {e}"));
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    Some(Database {
        url: format!("{server}/{name}"),
        admin,
        name,
    })
}
