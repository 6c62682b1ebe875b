//! Packaging: the systemd units, the starting configuration and the container file agree
//! with the binary; and the Debian package (built by `.ci/run` with cargo-deb, named by
//! PROBITY_DEB) installs on this machine, puts its files where the docs say, and starts.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn read(p: &str) -> String {
    std::fs::read_to_string(root().join(p)).unwrap()
}

/// The value of `key=` in a unit file (the first one).
fn unit_value<'a>(unit: &'a str, key: &str) -> Option<&'a str> {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
}

#[test]
fn units_config_and_container_file_agree_with_the_binary() {
    for (file, command) in [
        ("packaging/probity.service", "run"),
        ("packaging/probity-agent.service", "agent"),
    ] {
        let unit = read(file);
        let exec = unit_value(&unit, "ExecStart").unwrap();
        let words: Vec<&str> = exec.split_whitespace().collect();
        assert_eq!(words[0], "/usr/bin/probity");
        assert_eq!(words[1], command);
        // Every flag the unit passes is one the command knows.
        let (_, help, _) = common::run(&[command, "--help"], &root());
        for flag in words.iter().filter(|w| w.starts_with("--")) {
            assert!(
                help.contains(flag),
                "{file}: `probity {command}` has no {flag}"
            );
        }
        for hardening in [
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
            "CapabilityBoundingSet=",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
            "SystemCallFilter=@system-service",
            "MemoryDenyWriteExecute=yes",
        ] {
            assert!(
                unit.lines().any(|l| l == hardening),
                "{file} lacks {hardening}"
            );
        }
        assert_eq!(unit_value(&unit, "KillSignal"), Some("SIGTERM"));
        // Fewer malloc arenas (docs/BENCHMARKS.md: about 18 MiB at 10,000 targets).
        assert_eq!(
            unit_value(&unit, "Environment"),
            Some("MALLOC_ARENA_MAX=2"),
            "{file}"
        );
    }
    let unit = read("packaging/probity.service");
    assert_eq!(
        unit_value(&unit, "ExecReload"),
        Some("/bin/kill -HUP $MAINPID"),
        "reload is SIGHUP"
    );
    assert_eq!(unit_value(&unit, "StateDirectory"), Some("probity"));

    // The starting configuration is valid, and keeps its data where the unit lets it write.
    let (code, out, err) = common::run(&["check", "--config", "packaging/probity.toml"], &root());
    assert_eq!(code, 0, "{out}{err}");
    let config = read("packaging/probity.toml");
    assert!(config.contains("data_dir = \"/var/lib/probity\""));

    // The container file copies what exists and edits a line that is there.
    let container = read("packaging/Containerfile");
    for line in container
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let src = line.split_whitespace().nth(1).unwrap();
        if src != "." {
            assert!(
                root().join(src).exists(),
                "Containerfile: {src} does not exist"
            );
        }
    }
    assert!(container.contains("s/^listen = \"127.0.0.1:8080\"/"));
    assert!(container.lines().any(|l| l == "ENV MALLOC_ARENA_MAX=2"));
    assert!(config.lines().any(|l| l == "listen = \"127.0.0.1:8080\""));
    // The HEALTHCHECK's command works against a running server's /healthz.
    assert!(container.contains("\"probity\", \"probe\", \"http://127.0.0.1:8080/healthz\""));
}

#[test]
fn the_debian_package_installs_and_starts() {
    let Some(deb) = std::env::var_os("PROBITY_DEB") else {
        common::skipped(
            "the_debian_package_installs_and_starts: no package (PROBITY_DEB is set by .ci/run after `cargo deb`)",
        );
        return;
    };
    // Relative to the workspace, where .ci/run builds it (tests run in the crate's dir).
    let deb = root().join(PathBuf::from(deb));
    assert!(deb.exists(), "{} does not exist", deb.display());
    let run = |args: &[&str]| {
        let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
        assert!(
            out.status.success(),
            "`{}` failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // What the package says about itself.
    let info = run(&["dpkg-deb", "--info", deb.to_str().unwrap()]);
    assert!(info.contains("Package: probity"), "{info}");
    let files = run(&["dpkg-deb", "--contents", deb.to_str().unwrap()]);
    for f in [
        "./usr/bin/probity",
        "./etc/probity/probity.toml",
        "probity.service",
        "probity-agent.service",
        "./usr/share/man/man1/probity.1.gz",
        "./usr/share/man/man1/probity-agent.1.gz",
        "./usr/share/bash-completion/completions/probity",
        "./usr/share/probity/grafana/probity.json",
    ] {
        assert!(files.contains(f), "{f} missing from the package:\n{files}");
    }

    // Installed for real.
    run(&["dpkg", "-i", deb.to_str().unwrap()]);
    let unit_path = [
        "/lib/systemd/system/probity.service",
        "/usr/lib/systemd/system/probity.service",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("the unit is installed");
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no", unit_path])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (code, out, err) = common::run(
        &["check", "--config", "/etc/probity/probity.toml"],
        Path::new("/"),
    );
    assert_eq!(code, 0, "{out}{err}");

    // Started: by systemd where it runs; else as the unit's own ExecStart, as it would.
    let systemd = Path::new("/run/systemd/system").exists();
    let mut child = None;
    if systemd {
        run(&["systemctl", "start", "probity"]);
    } else {
        let unit = std::fs::read_to_string(unit_path).unwrap();
        let exec: Vec<String> = unit_value(&unit, "ExecStart")
            .unwrap()
            .split_whitespace()
            .map(String::from)
            .collect();
        std::fs::create_dir_all("/var/lib/probity").unwrap();
        child = Some(
            Command::new(&exec[0])
                .args(&exec[1..])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let addr: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let body = common::wait_for(Duration::from_secs(20), || {
        std::net::TcpStream::connect(addr).ok()?;
        let (status, body) = common::get(addr, "/healthz");
        (status == 200).then_some(body)
    });
    assert_eq!(body, "ok\n");
    // It serves the API, and stops cleanly.
    let (status, _) = common::get(addr, "/api/v1/targets");
    assert_eq!(status, 200);
    if systemd {
        run(&["systemctl", "stop", "probity"]);
    } else if let Some(c) = child.as_mut() {
        common::signal(c, "TERM");
        assert!(c.wait().unwrap().success());
    }
    // Removed and purged: the binary goes, the configuration goes only with purge.
    run(&["dpkg", "-r", "probity"]);
    assert!(!Path::new("/usr/bin/probity").exists());
    assert!(
        Path::new("/etc/probity/probity.toml").exists(),
        "a conffile stays on remove"
    );
    run(&["dpkg", "-P", "probity"]);
    assert!(!Path::new("/etc/probity/probity.toml").exists());
}
