//! `/metrics` in the Prometheus text exposition format (0.0.4), rendered from live state at
//! scrape time, so metrics and the API can never disagree.

use probity_engine::live::{LATENESS_BUCKETS, Shared};
use probity_ground::config::Target;
use std::fmt::Write;
use std::sync::Arc;

/// Escapes a label value per the exposition format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Family<'a> {
    out: &'a mut String,
}

impl Family<'_> {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", fmt_value(value));
    }
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Renders every metric.
pub fn render(shared: &Shared, targets: &[Arc<Target>]) -> String {
    let mut out = String::with_capacity(256 * targets.len() + 2048);
    let live = shared.targets.read().expect("live lock");
    let mut f = Family { out: &mut out };

    f.header(
        "probity_probe_success",
        "gauge",
        "Whether the target's last probe was up (1) or not (0).",
    );
    for t in targets {
        if let Some(last) = live.get(&t.name).and_then(|l| l.last.as_ref()) {
            let ok = last.health == probity_core::result::Health::Up;
            f.sample(
                "probity_probe_success",
                &[("target", &t.name), ("kind", &t.kind)],
                f64::from(u8::from(ok)),
            );
        }
    }
    f.header(
        "probity_probe_duration_seconds",
        "gauge",
        "Duration of each phase of the target's last probe.",
    );
    for t in targets {
        let Some(last) = live.get(&t.name).and_then(|l| l.last.as_ref()) else {
            continue;
        };
        let p = &last.phases;
        for (phase, v) in [
            ("dns", p.dns_ms),
            ("connect", p.connect_ms),
            ("tls", p.tls_ms),
            ("ttfb", p.ttfb_ms),
            ("total", p.total_ms),
        ] {
            if let Some(ms) = v {
                f.sample(
                    "probity_probe_duration_seconds",
                    &[("target", &t.name), ("phase", phase)],
                    ms / 1000.0,
                );
            }
        }
    }
    f.header(
        "probity_probes_total",
        "counter",
        "Probes run since start, by result.",
    );
    for t in targets {
        let counts = live.get(&t.name).map_or([0; 3], |l| l.counts);
        for (i, result) in ["up", "degraded", "down"].iter().enumerate() {
            f.sample(
                "probity_probes_total",
                &[("target", &t.name), ("result", result)],
                counts[i] as f64,
            );
        }
    }
    f.header(
        "probity_probes_skipped_total",
        "counter",
        "Probes skipped because the previous probe of the target was still running.",
    );
    for t in targets {
        let skipped = live.get(&t.name).map_or(0, |l| l.skipped);
        f.sample(
            "probity_probes_skipped_total",
            &[("target", &t.name)],
            skipped as f64,
        );
    }
    f.header(
        "probity_tls_cert_not_after_timestamp_seconds",
        "gauge",
        "When the target's leaf certificate expires, as a Unix timestamp.",
    );
    for t in targets {
        if let Some(s) = live.get(&t.name).and_then(|l| l.cert_not_after_s) {
            f.sample(
                "probity_tls_cert_not_after_timestamp_seconds",
                &[("target", &t.name)],
                s as f64,
            );
        }
    }
    f.header(
        "probity_target_status",
        "gauge",
        "The target's state: 1 for its current status, 0 for the others.",
    );
    for t in targets {
        let status = live.get(&t.name).map_or("unknown", |l| l.status.as_str());
        for s in ["up", "degraded", "down", "failing", "unknown"] {
            f.sample(
                "probity_target_status",
                &[("target", &t.name), ("status", s)],
                f64::from(u8::from(s == status)),
            );
        }
    }
    f.header(
        "probity_incident_open",
        "gauge",
        "Whether the target has an open observed incident.",
    );
    for t in targets {
        let open = live.get(&t.name).is_some_and(|l| l.open_incident.is_some());
        f.sample(
            "probity_incident_open",
            &[("target", &t.name)],
            f64::from(u8::from(open)),
        );
    }
    // Never hold the live lock twice: a writer waiting between two reads would block both.
    drop(live);
    let (buckets, count, sum) = shared.lateness.snapshot();
    f.header(
        "probity_schedule_lateness_seconds",
        "histogram",
        "How late probes start: actual start minus planned start.",
    );
    for (le, n) in LATENESS_BUCKETS.iter().zip(&buckets) {
        f.sample(
            "probity_schedule_lateness_seconds_bucket",
            &[("le", &fmt_value(*le))],
            *n as f64,
        );
    }
    f.sample(
        "probity_schedule_lateness_seconds_bucket",
        &[("le", "+Inf")],
        count as f64,
    );
    f.sample("probity_schedule_lateness_seconds_sum", &[], sum);
    f.sample("probity_schedule_lateness_seconds_count", &[], count as f64);
    f.header(
        "probity_store_batches_total",
        "counter",
        "Batches committed to the store.",
    );
    f.sample(
        "probity_store_batches_total",
        &[],
        shared
            .batches_written
            .load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    f.header(
        "probity_store_write_errors_total",
        "counter",
        "Failed store writes (each retried).",
    );
    f.sample(
        "probity_store_write_errors_total",
        &[],
        shared
            .write_errors
            .load(std::sync::atomic::Ordering::Relaxed) as f64,
    );
    let feeds = shared.feeds.read().expect("feeds lock");
    if !feeds.is_empty() {
        let mut names: Vec<&String> = feeds.keys().collect();
        names.sort();
        f.header(
            "probity_feed_polls_total",
            "counter",
            "Polls of each provider feed, by outcome (ok, not_modified, error).",
        );
        for n in &names {
            let l = &feeds[*n];
            for (outcome, v) in [
                ("ok", l.ok),
                ("not_modified", l.not_modified),
                ("error", l.failed),
            ] {
                f.sample(
                    "probity_feed_polls_total",
                    &[("feed", n), ("outcome", outcome)],
                    v as f64,
                );
            }
        }
        f.header(
            "probity_feed_consecutive_failures",
            "gauge",
            "Failed polls in a row (0 after a good poll).",
        );
        for n in &names {
            f.sample(
                "probity_feed_consecutive_failures",
                &[("feed", n)],
                f64::from(feeds[*n].consecutive_failures),
            );
        }
        f.header(
            "probity_feed_last_success_timestamp_seconds",
            "gauge",
            "When the feed last answered with a document or 304.",
        );
        for n in &names {
            if let Some(ms) = feeds[*n].last_success_ms {
                f.sample(
                    "probity_feed_last_success_timestamp_seconds",
                    &[("feed", n)],
                    ms as f64 / 1000.0,
                );
            }
        }
        f.header(
            "probity_feed_poll_duration_seconds",
            "gauge",
            "How long the last poll took.",
        );
        for n in &names {
            f.sample(
                "probity_feed_poll_duration_seconds",
                &[("feed", n)],
                feeds[*n].last_duration_s,
            );
        }
        f.header(
            "probity_feed_stored_bytes",
            "gauge",
            "Bytes of documents the feed has stored (a document is kept when what it declares changed).",
        );
        for n in &names {
            f.sample(
                "probity_feed_stored_bytes",
                &[("feed", n)],
                feeds[*n].stored_bytes as f64,
            );
        }
        f.header(
            "probity_feed_sighting_lag_seconds",
            "gauge",
            "From a provider's stated publication to probity's first sighting, for the newest incident first seen.",
        );
        for n in &names {
            if let Some(lag) = feeds[*n].sighting_lag_s {
                f.sample("probity_feed_sighting_lag_seconds", &[("feed", n)], lag);
            }
        }
    }
    drop(feeds);
    let cards = shared.scorecards.read().expect("scorecards lock");
    if !cards.is_empty() {
        type Get = fn(&probity_core::scorecard::Scorecard) -> Option<f64>;
        let families: [(&str, &str, Get); 7] = [
            (
                "probity_provider_unacknowledged_incidents",
                "Observed incidents over the last 30 days that the provider never declared.",
                |c| Some(c.unacknowledged_incidents as f64),
            ),
            (
                "probity_provider_integrity_unacknowledged_incidents",
                "Of those, the ones caused by data lost, changed or served stale by object storage.",
                |c| Some(c.integrity_unacknowledged as f64),
            ),
            (
                "probity_provider_corroborated_unacknowledged_incidents",
                "Of those, the ones other organisations' signed statements corroborate ([federation] min_organisations).",
                |c| Some(c.corroborated_unacknowledged as f64),
            ),
            (
                "probity_provider_unacknowledged_downtime_seconds",
                "Their total duration over the last 30 days.",
                |c| Some(c.unacknowledged_downtime_s),
            ),
            (
                "probity_provider_acknowledgment_ratio",
                "Share of observed downtime over the last 30 days that the provider declared.",
                |c| c.acknowledgment_rate,
            ),
            (
                "probity_provider_changed_after_publication",
                "Declared incidents over the last 30 days edited after publication.",
                |c| Some(c.changed_after_publication as f64),
            ),
            (
                "probity_provider_trust_score",
                "The scorecard's score (0-100) over the last 30 days.",
                |c| c.score,
            ),
        ];
        for (name, help, get) in families {
            f.header(name, "gauge", help);
            for c in cards.iter() {
                if let Some(v) = get(c) {
                    f.sample(name, &[("provider", &c.provider)], v);
                }
            }
        }
        f.header(
            "probity_provider_disclosure_lag_seconds",
            "gauge",
            "Disclosure lag over the last 30 days: observed start to first disclosure (quantile 1 is the maximum).",
        );
        for c in cards.iter() {
            let l = &c.disclosure_lag_s;
            for (q, v) in [("0.5", l.p50), ("0.9", l.p90), ("1", l.max)] {
                if let Some(v) = v {
                    f.sample(
                        "probity_provider_disclosure_lag_seconds",
                        &[("provider", &c.provider), ("quantile", q)],
                        v,
                    );
                }
            }
        }
    }
    drop(cards);
    let slos = shared.slos.read().expect("slos lock");
    if !slos.is_empty() {
        f.header(
            "probity_slo_sli",
            "gauge",
            "The SLO's indicator over its window: good ÷ all events.",
        );
        for (name, s) in slos.iter() {
            if let Some(v) = s.sli {
                f.sample("probity_slo_sli", &[("slo", name)], v);
            }
        }
        f.header(
            "probity_slo_error_budget_remaining",
            "gauge",
            "Share of the error budget left over the window (negative when overspent).",
        );
        for (name, s) in slos.iter() {
            if let Some(v) = s.budget_remaining {
                f.sample("probity_slo_error_budget_remaining", &[("slo", name)], v);
            }
        }
        f.header(
            "probity_slo_burn_rate",
            "gauge",
            "Error rate ÷ error budget over each alert window.",
        );
        for (name, s) in slos.iter() {
            let mut seen = std::collections::BTreeMap::new();
            for a in &s.alerts {
                seen.insert(a.long_ms, a.long_burn_rate);
                seen.insert(a.short_ms, a.short_burn_rate);
            }
            for (ms, rate) in seen {
                if let Some(r) = rate {
                    let w = probity_core::duration::HumanDuration::from_millis(ms.max(0) as u64)
                        .to_string();
                    f.sample("probity_slo_burn_rate", &[("slo", name), ("window", &w)], r);
                }
            }
        }
        f.header(
            "probity_slo_alert_firing",
            "gauge",
            "Whether a burn-rate alert fires (1): its rate is at or above its factor over both windows.",
        );
        for (name, s) in slos.iter() {
            for a in &s.alerts {
                let long =
                    probity_core::duration::HumanDuration::from_millis(a.long_ms.max(0) as u64)
                        .to_string();
                let short =
                    probity_core::duration::HumanDuration::from_millis(a.short_ms.max(0) as u64)
                        .to_string();
                f.sample(
                    "probity_slo_alert_firing",
                    &[
                        ("slo", name),
                        ("severity", &a.severity),
                        ("long", &long),
                        ("short", &short),
                    ],
                    f64::from(u8::from(a.firing)),
                );
            }
        }
    }
    drop(slos);
    let mut f = Family { out: &mut out };
    let live = shared.targets.read().expect("live lock");
    if live.values().any(|l| l.vantages.len() > 1) {
        f.header(
            "probity_target_vantage_up",
            "gauge",
            "Whether a vantage sees the target up (1) or failing (0); absent while it cannot tell (unknown, unmeasured, stale).",
        );
        for t in targets {
            let Some(l) = live.get(&t.name) else { continue };
            for v in &l.vantages {
                use probity_core::quorum::VantageStatus as V;
                let value = match v.status {
                    V::Up => 1.0,
                    V::Down | V::Degraded => 0.0,
                    _ => continue,
                };
                f.sample(
                    "probity_target_vantage_up",
                    &[("target", &t.name), ("vantage", &v.vantage)],
                    value,
                );
            }
        }
    }
    drop(live);
    let agents = shared.vantages.read().expect("vantages lock");
    if !agents.is_empty() {
        type Get = fn(&probity_engine::store::VantageRecord) -> Option<f64>;
        let families: [(&str, &str, Get); 4] = [
            (
                "probity_vantage_last_contact_timestamp_seconds",
                "When the agent last pushed.",
                |v| v.last_contact_ms.map(|ms| ms as f64 / 1000.0),
            ),
            (
                "probity_vantage_clock_offset_seconds",
                "What to add to the agent's clock to get the server's, as it last measured.",
                |v| v.clock_offset_ms.map(|ms| ms as f64 / 1000.0),
            ),
            (
                "probity_vantage_backlog",
                "Results waiting in the agent's spool at its last push.",
                |v| Some(v.backlog as f64),
            ),
            (
                "probity_vantage_spool_dropped",
                "Results the agent dropped because its spool was full, since it started.",
                |v| Some(v.dropped as f64),
            ),
        ];
        for (name, help, get) in families {
            f.header(name, "gauge", help);
            for (agent, v) in agents.iter() {
                if let Some(x) = get(v) {
                    f.sample(name, &[("vantage", agent)], x);
                }
            }
        }
    }
    drop(agents);
    // Which server answers, among those sharing the store (join on `server` in queries).
    let cluster = shared.cluster.read().expect("cluster lock").clone();
    f.header(
        "probity_server_info",
        "gauge",
        "This server, by its [server] name (always 1).",
    );
    f.sample("probity_server_info", &[("server", &cluster.me)], 1.0);
    f.header(
        "probity_cluster_members",
        "gauge",
        "Live servers sharing the store, as of this server's last heartbeat.",
    );
    f.sample(
        "probity_cluster_members",
        &[("server", &cluster.me)],
        cluster.members.len() as f64,
    );
    f.header(
        "probity_targets_owned",
        "gauge",
        "Targets this server probes and records (its share when servers share the store).",
    );
    f.sample(
        "probity_targets_owned",
        &[("server", &cluster.me)],
        cluster.owned as f64,
    );
    out
}

/// The store's size on disk, appended to the scrape (read from the files' metadata), and
/// its growth per day over the last week's daily samples once they span a day.
pub fn store_bytes(bytes: u64, growth_per_day: Option<f64>) -> String {
    let mut out = String::new();
    let mut f = Family { out: &mut out };
    f.header(
        "probity_store_bytes",
        "gauge",
        "Bytes of the store on disk (database and write-ahead log).",
    );
    f.sample("probity_store_bytes", &[], bytes as f64);
    if let Some(g) = growth_per_day {
        f.header(
            "probity_store_growth_bytes_per_day",
            "gauge",
            "Bytes a day the store grew by over the last 7 days of its hourly size samples (near 0 once retention holds it steady; negative after a vacuum).",
        );
        f.sample("probity_store_growth_bytes_per_day", &[], g);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(fmt_value(0.25), "0.25");
        assert_eq!(fmt_value(3.0), "3");
        assert_eq!(fmt_value(f64::INFINITY), "+Inf");
    }
}
