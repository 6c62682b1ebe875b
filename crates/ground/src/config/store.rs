//! `[store]`: where results, incidents and the evidence log are kept. Without it, SQLite
//! under `[server] data_dir`; with `url`, a PostgreSQL database.

use super::common::*;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Store")]
pub(super) struct StoreToml {
    /// A PostgreSQL connection URL, e.g. postgres://probity@db.example/probity (key=value settings after `?`, such as sslmode or connect_timeout). No password in it: use `password`.
    #[schemars(with = "Option<String>")]
    url: Option<Spanned<String>>,
    /// The database password: use ${env:…} or ${file:…}.
    #[schemars(with = "Option<String>")]
    password: Option<Spanned<String>>,
    /// Reader connections kept open (the writer has its own). Default 8.
    pool_size: Option<usize>,
    /// PEM certificates to trust for the database's TLS certificate (a private CA), besides the web PKI's roots; relative to this file.
    #[schemars(with = "Option<std::path::PathBuf>")]
    ca_file: Option<Spanned<std::path::PathBuf>>,
}

/// Where the store is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StoreConfig {
    /// SQLite under `[server] data_dir` (the default).
    #[default]
    Sqlite,
    Postgres(PostgresConfig),
}

/// A PostgreSQL store's connection.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// The URL as written (it holds no password: `parse` refuses one).
    pub url: String,
    /// The password, its secret expanded. Never print it.
    pub password: Option<String>,
    pub pool_size: usize,
    /// Trusted for the database's TLS certificate besides the web PKI's roots.
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &self.url)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("pool_size", &self.pool_size)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Whether a database URL carries a password, in its authority (`user:secret@host`) or
/// its settings (`?password=…`): such a URL must not be taken, since URLs are shown.
pub fn url_holds_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
        || url.contains("password=")
}

pub(super) fn build_store(ck: &mut Checker<'_>, t: StoreToml, base_dir: &Path) -> StoreConfig {
    let Some(url) = t.url else {
        if let Some(p) = &t.password {
            ck.at(
                p.span(),
                "[store] `password` without `url`: the SQLite store has none",
            );
        }
        return StoreConfig::Sqlite;
    };
    let written = url.get_ref();
    if !(written.starts_with("postgres://") || written.starts_with("postgresql://")) {
        ck.at(
            url.span(),
            "[store] `url` must be a PostgreSQL URL (postgres://user@host/database); leave `[store]` out for SQLite under data_dir",
        );
        return StoreConfig::Sqlite;
    }
    if url_holds_password(written) {
        ck.at(
            url.span(),
            "[store] `url` must not hold a password (it is shown in logs and errors): give it in `password` as ${env:…} or ${file:…}",
        );
        return StoreConfig::Sqlite;
    }
    let password = t
        .password
        .and_then(|p| match expand_secrets(p.get_ref(), base_dir) {
            Ok(v) => Some(v),
            Err(e) => {
                ck.at(p.span(), format!("[store] {e}"));
                None
            }
        });
    let pool_size = t.pool_size.unwrap_or(8);
    if pool_size == 0 {
        ck.at(url.span(), "[store] `pool_size` must be at least 1");
    }
    StoreConfig::Postgres(PostgresConfig {
        url: written.clone(),
        password,
        pool_size: pool_size.max(1),
        ca_file: t.ca_file.map(|f| base_dir.join(f.into_inner())),
    })
}
