//! What the server says when its store cannot answer: never an empty page for "could not
//! read". The faults are real: a table of the real SQLite store taken away under it.

use crate::common;

const TOKEN: &str = "a-dashboard-token-0123456789";

#[test]
fn the_dashboard_says_the_store_could_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _up) = common::switchable_server();
    let config = common::write_config(
        dir.path(),
        &format!("api_token = \"{TOKEN}\"\n"),
        &format!(
            "[[target]]\nname = \"web\"\nkind = \"http\"\nurl = \"http://{target}/\"\ninterval = \"1s\"\n\n[[sla]]\nname = \"web-sla\"\nterms = \"aws-ec2-region\"\ntargets = [\"web\"]\n"
        ),
    );
    let probity = common::Running::start(&config);
    let addr = probity.addr;
    // Healthy: the overview lists the target.
    let (status, body) = common::wait_for(std::time::Duration::from_secs(10), || {
        let (s, b) = common::get_with_token(addr, "/dashboard", TOKEN);
        (s == 200 && b.contains("web")).then_some((s, b))
    });
    assert_eq!(status, 200, "{body}");

    let side = side_connection(dir.path());
    side.execute_batch("ALTER TABLE hourly RENAME TO hourly_away")
        .unwrap();
    let (status, body) = common::get_with_token(addr, "/dashboard", TOKEN);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("The store could not answer"), "{body}");
    side.execute_batch("ALTER TABLE hourly_away RENAME TO hourly")
        .unwrap();
    let (status, _) = common::get_with_token(addr, "/dashboard", TOKEN);
    assert_eq!(status, 200);

    // The incident page told "no such incident" when it could not read; now it says why.
    side.execute_batch("ALTER TABLE incidents RENAME TO incidents_away")
        .unwrap();
    let (status, body) = common::get_with_token(addr, "/dashboard/incidents/1", TOKEN);
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains("No such incident"), "{body}");
    for page in [
        "/dashboard/targets/web",
        "/dashboard/sla",
        "/dashboard/scorecard",
    ] {
        let (status, body) = common::get_with_token(addr, page, TOKEN);
        assert_eq!(status, 503, "{page}: {body}");
    }
    side.execute_batch("ALTER TABLE incidents_away RENAME TO incidents")
        .unwrap();
    let (status, body) = common::get_with_token(addr, "/dashboard/incidents/1", TOKEN);
    assert_eq!(status, 404, "{body}");
    probity.stop();
}

/// While results cannot be stored, `/healthz` says so (after its bound) and why; the next
/// write that succeeds makes it `ok` again, and nothing measured meanwhile is lost.
#[test]
fn health_turns_unhealthy_while_nothing_can_be_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _up) = common::switchable_server();
    let probity = start_tcp_web(dir.path(), target);
    let addr = probity.addr;
    assert_eq!(common::get(addr, "/healthz"), (200, "ok\n".to_string()));
    let side = side_connection(dir.path());
    side.execute_batch("ALTER TABLE results RENAME TO results_away")
        .unwrap();
    let body = common::wait_for(std::time::Duration::from_secs(30), || {
        let (status, body) = common::get(addr, "/healthz");
        (status == 503).then_some(body)
    });
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "unhealthy");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("results cannot be stored since "),
        "{message}"
    );
    assert!(message.contains("results"), "{message}");
    side.execute_batch("ALTER TABLE results_away RENAME TO results")
        .unwrap();
    common::wait_for(std::time::Duration::from_secs(30), || {
        (common::get(addr, "/healthz").0 == 200).then_some(())
    });
    // What was measured while the store refused was kept and is written after (the first
    // good write is the batch that waited; the rest follow).
    let stored = common::wait_for(std::time::Duration::from_secs(20), || {
        let r = common::results(addr, "web");
        (r.len() >= 20).then_some(r)
    });
    let ids: Vec<i64> = stored.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "no result twice");
    probity.stop();
}

/// A stop while nothing can be stored ends within its bound (10 s of retries after the
/// signal) instead of hanging until the service manager kills it, and says, in its exit
/// code and last words, what was not stored.
#[test]
fn a_stop_while_nothing_can_be_stored_ends_and_says_what_was_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (target, _up) = common::switchable_server();
    let probity = start_tcp_web(dir.path(), target);
    let addr = probity.addr;
    common::wait_for(std::time::Duration::from_secs(10), || {
        (common::results(addr, "web").len() >= 2).then_some(())
    });
    let side = side_connection(dir.path());
    side.execute_batch("ALTER TABLE results RENAME TO results_away")
        .unwrap();
    common::wait_for(std::time::Duration::from_secs(30), || {
        (common::get(addr, "/healthz").0 == 503).then_some(())
    });
    let log = probity.log.clone();
    let asked = std::time::Instant::now();
    let status = probity.stop();
    let took = asked.elapsed();
    assert!(
        took < std::time::Duration::from_secs(25),
        "stopped in {took:?}"
    );
    assert!(
        took >= std::time::Duration::from_secs(9),
        "it retried first: {took:?}"
    );
    assert!(!status.success(), "{status:?}");
    let log = log.lock().unwrap().clone();
    // Written to a pipe, the log carries no colour codes.
    assert!(!log.contains('\u{1b}'), "{log}");
    let last = log
        .lines()
        .rev()
        .find(|l| l.contains("NOT stored"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(last.contains("incident changes NOT stored"), "{last}");
    assert!(last.contains("no such table: results"), "{last}");
    let n: usize = last
        .split("stopped with ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{last}"));
    assert!(n >= 1, "{last}");
}

/// `probity run` on `dir` with one TCP target `web` on `target`, probed every 200 ms.
fn start_tcp_web(dir: &std::path::Path, target: std::net::SocketAddr) -> common::Running {
    let config = common::write_config(
        dir,
        "",
        &format!(
            "[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"{target}\"\ninterval = \"200ms\"\n"
        ),
    );
    common::Running::start(&config)
}

/// A second connection to the running server's store, to take its tables away under it
/// (waiting up to 5 s for the server's own writes).
fn side_connection(dir: &std::path::Path) -> rusqlite::Connection {
    let side = rusqlite::Connection::open(dir.join("data/probity.db")).unwrap();
    side.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    side
}
