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

/// A PostgreSQL server of a test's own (its own data directory and port), for tests that
/// stop and start the database: initdb, pg_ctl (as the postgres user when run as root).
pub struct PrivateServer {
    bin: std::path::PathBuf,
    dir: std::path::PathBuf,
    pub port: u16,
}

impl PrivateServer {
    /// A new cluster, started; `None` after saying `test` skipped when there is no
    /// PostgreSQL installed (failing if CI requires it).
    pub fn start(test: &str) -> Option<PrivateServer> {
        Self::start_with(test, None)
    }

    /// [`PrivateServer::start`] accepting TLS connections only, with this certificate
    /// chain and key (PEM).
    pub fn start_tls(test: &str, cert: &str, key: &str) -> Option<PrivateServer> {
        Self::start_with(test, Some((cert, key)))
    }

    fn start_with(test: &str, tls: Option<(&str, &str)>) -> Option<PrivateServer> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|d| {
                let mut v: Vec<_> = d.flatten().map(|e| e.path().join("bin")).collect();
                v.sort();
                v.pop()
            })
            .filter(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("PROBITY_REQUIRE_POSTGRES").is_none(),
                "PostgreSQL is required but /usr/lib/postgresql/*/bin/initdb is missing"
            );
            super::skipped(&format!("{test}: PostgreSQL's initdb is not installed"));
            return None;
        };
        let dir = std::env::temp_dir().join(format!(
            "probity-pg-{}-{}",
            std::process::id(),
            super::free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let s = PrivateServer {
            bin,
            port: super::free_port(),
            dir,
        };
        if Self::root() {
            let ok = std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&s.dir)
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let data = s.dir.join("data");
        s.as_pg(&[
            s.bin.join("initdb").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        if let Some((cert, key)) = tls {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(data.join("server.crt"), cert).unwrap();
            std::fs::write(data.join("server.key"), key).unwrap();
            std::fs::set_permissions(
                data.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
            // Plain TCP connections are turned away: only `hostssl` matches.
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
            )
            .unwrap();
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(data.join("postgresql.conf"))
                .unwrap();
            use std::io::Write;
            writeln!(conf, "ssl = on").unwrap();
            if Self::root() {
                for f in ["server.crt", "server.key", "pg_hba.conf"] {
                    let ok = std::process::Command::new("chown")
                        .arg("postgres:postgres")
                        .arg(data.join(f))
                        .status()
                        .unwrap();
                    assert!(ok.success());
                }
            }
        }
        s.up();
        Some(s)
    }

    fn root() -> bool {
        std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    }

    /// Runs `args` (a PostgreSQL program and its arguments) as the postgres user when
    /// this is root, as this user otherwise.
    fn run_as_pg(args: &[&str]) -> std::io::Result<std::process::Output> {
        if Self::root() {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .args(args)
                .output()
        } else {
            std::process::Command::new(args[0])
                .args(&args[1..])
                .output()
        }
    }

    fn as_pg(&self, args: &[&str]) {
        let out = Self::run_as_pg(args).unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts (again) and waits until it answers.
    pub fn up(&self) {
        let data = self.dir.join("data");
        self.as_pg(&[
            self.bin.join("pg_ctl").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            "-l",
            self.dir.join("log").to_str().unwrap(),
            "-w",
            "-t",
            "60",
            "-o",
            &format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.dir.display()
            ),
            "start",
        ]);
    }

    /// Stops it at once (`-m immediate`: as a crash would, no clean shutdown).
    pub fn down(&self) {
        let args = self.stop_args();
        self.as_pg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }

    fn stop_args(&self) -> [String; 7] {
        let data = self.dir.join("data");
        [
            self.bin.join("pg_ctl").display().to_string(),
            "-D".into(),
            data.display().to_string(),
            "-m".into(),
            "immediate".into(),
            "-w".into(),
            "stop".into(),
        ]
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        // Already down, or never up: then nothing to stop, and a failing test's drop must
        // not panic again.
        let args = self.stop_args();
        let _ = Self::run_as_pg(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
