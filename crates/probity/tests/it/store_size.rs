//! How big the store is and how fast it grows: `probity store stats` and the daily size
//! notes behind it and `/metrics`.

use crate::store::backends;

/// `probity store stats`: rows per table and results per UTC day, as imported; bytes per
/// result and the size raw retention implies; without a store, a clear error.
#[test]
fn store_stats_count_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    crate::common::write_config(
        dir.path(),
        "",
        "[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n",
    );
    let (code, _, err) = crate::common::run(&["store", "stats"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no store in"), "{err}");
    // 30 results two days ago, 20 yesterday.
    let day = 86_400_000i64;
    let today = jiff::Timestamp::now().as_millisecond().div_euclid(day) * day;
    let mut lines = String::new();
    for (days_ago, n) in [(2, 30), (1, 20)] {
        for i in 0..n {
            let at =
                jiff::Timestamp::from_millisecond(today - days_ago * day + i * 60_000).unwrap();
            lines.push_str(&format!(
                "{{\"target\":\"web\",\"at\":\"{at}\",\"ok\":true,\"latency_ms\":3}}\n"
            ));
        }
    }
    std::fs::write(dir.path().join("h.jsonl"), lines).unwrap();
    let (code, _, err) = crate::common::run(&["results", "import", "h.jsonl"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = crate::common::run(&["store", "stats", "--json"], dir.path());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"]["results"], 50, "{v}");
    assert!(v["rows"]["evidence_leaves"].as_u64().unwrap() >= 1, "{v}");
    let days = v["results_per_day"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    let date = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .unwrap()
            .strftime("%Y-%m-%d")
            .to_string()
    };
    assert_eq!(
        days[4],
        serde_json::json!({"day": date(today - 2 * day), "results": 30})
    );
    assert_eq!(
        days[5],
        serde_json::json!({"day": date(today - day), "results": 20})
    );
    assert_eq!(days[6]["results"], 0);
    // (30 + 20) / 2 full days with results.
    assert_eq!(v["results_per_full_day"], 25);
    let per = v["bytes_per_result"].as_f64().unwrap();
    assert_eq!(v["database_bytes"].as_f64().unwrap() / 50.0, per);
    // 30 days of raw results by default.
    let projected = v["projected_bytes_at_raw_retention"].as_f64().unwrap();
    assert!((projected - per * 25.0 * 30.0).abs() < 2.0, "{v}");
    // No server ran: no size noted, no growth.
    assert_eq!(v["size_per_day"], serde_json::json!([]), "{v}");
    assert_eq!(v["growth_bytes_per_day"], serde_json::Value::Null, "{v}");
    let (code, out, _) = crate::common::run(&["store", "stats"], dir.path());
    assert_eq!(code, 0);
    assert!(out.contains("none noted yet"), "{out}");
    assert!(
        out.contains("results                          50 rows"),
        "{out}"
    );
}

/// The size notes: each day keeps its latest, a late-arriving earlier note does not replace
/// it, growth is read first to last, and pruning drops the days before rollup retention.
#[test]
fn store_sizes_keep_each_day_s_latest_note() {
    for backend in backends("store_size::store_sizes_keep_each_day_s_latest_note") {
        eprintln!("backend: {}", backend.name());
        let s = backend.open();
        let s = s.as_ref();
        let day = 86_400_000i64;
        let hour = 3_600_000i64;
        let today = jiff::Timestamp::now().as_millisecond().div_euclid(day) * day;
        for (at, bytes) in [
            (today - 3 * day + hour, 1_000_000),
            (today - 3 * day + 23 * hour, 1_500_000),
            (today - 2 * day + 23 * hour, 3_000_000),
            (today - 2 * day + hour, 9),
            (today - day + 23 * hour, 5_000_000),
        ] {
            s.note_size(at, bytes).unwrap();
        }
        let sizes = s.sizes(today - 3 * day + 5 * hour).unwrap();
        let got: Vec<(i64, i64, u64)> =
            sizes.iter().map(|d| (d.day_ms, d.at_ms, d.bytes)).collect();
        assert_eq!(
            got,
            vec![
                (today - 3 * day, today - 3 * day + 23 * hour, 1_500_000),
                (today - 2 * day, today - 2 * day + 23 * hour, 3_000_000),
                (today - day, today - day + 23 * hour, 5_000_000),
            ]
        );
        // 3.5 MB over two days.
        assert_eq!(
            probity_engine::store::growth_per_day(&sizes),
            Some(1_750_000.0)
        );
        assert_eq!(s.sizes(today - day).unwrap().len(), 1);
        s.prune(today - 40 * day, today - 2 * day).unwrap();
        let left: Vec<i64> = s.sizes(0).unwrap().iter().map(|d| d.day_ms).collect();
        assert_eq!(left, vec![today - 2 * day, today - day]);
    }
}
