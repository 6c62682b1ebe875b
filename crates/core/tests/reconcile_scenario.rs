//! Three providers over three months of synthetic timeline, with answers worked out by
//! hand and checked number by number.
//!
//! - alpha (Statuspage-like): one outage declared late with a later start, one never
//!   declared, one too short to count, and one declaration probity never saw (edited after
//!   publication).
//! - beta: one declaration covering outages in two regions (many-to-many), and an open
//!   outage still within the grace period.
//! - azure: names written differently on each side (`East US 2` / `eastus2`); one outage
//!   declared only after 90 minutes; a declaration for a region nobody watches; a
//!   maintenance.

use probity_core::provider::{Impact, ProviderIncident};
use probity_core::reconcile::*;
use probity_core::result::Health;
use probity_core::scorecard::*;

const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn t(s: &str) -> i64 {
    // "MM-DD HH:MM" in 2026, UTC.
    let (md, hm) = s.split_once(' ').unwrap();
    let (m, d) = md.split_once('-').unwrap();
    let (h, mi) = hm.split_once(':').unwrap();
    let days_before_month = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let m: usize = m.parse().unwrap();
    let d: i64 = d.parse().unwrap();
    // 2026-01-01T00:00:00Z
    let year_start = 1_767_225_600_000;
    year_start
        + (days_before_month[m - 1] + d - 1) * 24 * HOUR
        + h.parse::<i64>().unwrap() * HOUR
        + mi.parse::<i64>().unwrap() * MIN
}

fn names(provider: &str, service: &str, region: Option<&str>) -> Names {
    Names {
        provider: Some(provider.into()),
        service: Some(service.into()),
        region: region.map(str::to_string),
    }
}

fn obs(id: i64, target: &str, n: Names, start: &str, end: Option<&str>) -> Observed {
    Observed {
        id,
        target: target.into(),
        names: n,
        start_ms: t(start),
        end_ms: end.map(t),
        severity: Health::Down,
        vantages: 1,
        integrity: false,
        corroborated_by: vec![],
    }
}

#[allow(clippy::too_many_arguments)]
fn dec(
    key: &str,
    provider: &str,
    services: &[&str],
    regions: &[&str],
    start: Option<&str>,
    published: Option<&str>,
    first_seen: &str,
    end: Option<&str>,
) -> Declared {
    Declared {
        key: key.into(),
        incident: ProviderIncident {
            provider: provider.into(),
            source: "feed".into(),
            external_id: key.into(),
            title: key.into(),
            services: services.iter().map(|s| s.to_string()).collect(),
            regions: regions.iter().map(|s| s.to_string()).collect(),
            impact: Impact::Major,
            status: "resolved".into(),
            started_at_ms: start.map(t),
            published_at_ms: published.map(t),
            updated_at_ms: None,
            resolved_at_ms: end.map(t),
            updates: vec![],
            url: None,
        },
        first_seen_ms: t(first_seen),
        removed_ms: None,
        changed_after_publication: false,
        first_started_at_ms: None,
        shortened_after_publication: false,
    }
}

fn watched(target: &str, n: Names) -> Watched {
    Watched {
        target: target.into(),
        names: n,
        since_ms: t("08-01 00:00"),
    }
}

#[test]
fn three_providers_three_months() {
    let window = (t("08-01 00:00"), t("10-30 00:00"));
    let now = window.1;
    let window_ms = (window.1 - window.0) as f64;
    assert_eq!(window.1 - window.0, 90 * 24 * HOUR);

    let alpha = names("alpha", "API", None);
    let beta_eu = names("beta", "storage", Some("eu-1"));
    let beta_us = names("beta", "storage", Some("us-1"));
    let vm = names("azure", "Virtual Machines", Some("eastus2"));

    let mut observed = vec![
        obs(
            1,
            "alpha-api",
            alpha.clone(),
            "08-10 10:00",
            Some("08-10 11:00"),
        ),
        obs(
            2,
            "alpha-api",
            alpha.clone(),
            "09-05 02:00",
            Some("09-05 02:30"),
        ),
        obs(
            3,
            "alpha-api",
            alpha.clone(),
            "09-20 12:00",
            Some("09-20 12:03"),
        ),
        obs(
            4,
            "beta-eu",
            beta_eu.clone(),
            "08-20 00:00",
            Some("08-20 01:00"),
        ),
        obs(
            5,
            "beta-us",
            beta_us.clone(),
            "08-20 00:30",
            Some("08-20 02:00"),
        ),
        obs(6, "beta-eu", beta_eu.clone(), "10-29 23:00", None),
        obs(
            7,
            "azure-vm",
            vm.clone(),
            "09-01 13:30",
            Some("09-01 15:45"),
        ),
    ];
    // Two incidents whose cause was data that came back wrong: one the provider never
    // declared (alpha's 30 minutes), one it did (beta-eu's hour).
    observed[1].integrity = true;
    observed[3].integrity = true;
    let mut d2 = dec(
        "alpha-2",
        "alpha",
        &["API"],
        &[],
        Some("10-01 08:00"),
        Some("10-01 08:05"),
        "10-01 08:06",
        Some("10-01 09:00"),
    );
    d2.changed_after_publication = true;
    d2.shortened_after_publication = true;
    let mut maintenance = dec(
        "az-maint",
        "azure",
        &["Virtual Machines"],
        &["East US 2"],
        Some("09-10 02:00"),
        None,
        "09-09 12:00",
        Some("09-10 06:00"),
    );
    maintenance.incident.impact = Impact::Maintenance;
    let declared = vec![
        dec(
            "alpha-1",
            "alpha",
            &["API"],
            &[],
            Some("08-10 10:20"),
            Some("08-10 10:35"),
            "08-10 10:36",
            Some("08-10 10:50"),
        ),
        d2,
        dec(
            "beta-1",
            "beta",
            &["Storage"],
            &["eu-1", "us-1"],
            Some("08-20 00:00"),
            Some("08-20 00:10"),
            "08-20 00:12",
            Some("08-20 02:00"),
        ),
        dec(
            "az-1",
            "azure",
            &["Virtual Machines"],
            &["East US 2"],
            Some("09-01 14:00"),
            None,
            "09-01 15:00",
            Some("09-01 16:00"),
        ),
        dec(
            "az-west",
            "azure",
            &["Virtual Machines"],
            &["West US"],
            Some("09-03 00:00"),
            None,
            "09-03 00:30",
            Some("09-03 01:00"),
        ),
        maintenance,
    ];
    let watch = vec![
        watched("alpha-api", alpha.clone()),
        watched("beta-eu", beta_eu.clone()),
        watched("beta-us", beta_us.clone()),
        watched("azure-vm", vm.clone()),
    ];
    let r = reconcile(&observed, &declared, &watch, &Params::new(now));

    // Verdicts, incident by incident.
    let verdicts: Vec<(i64, Verdict)> =
        r.outcomes.iter().map(|o| (o.observed, o.verdict)).collect();
    assert_eq!(
        verdicts,
        [
            (1, Verdict::Acknowledged),
            (2, Verdict::Unacknowledged),
            (3, Verdict::TooShort),
            (4, Verdict::Acknowledged),
            (5, Verdict::Acknowledged),
            (6, Verdict::Pending),
            (7, Verdict::Acknowledged),
        ]
    );
    // Matches: beta-1 covers two observed incidents in two regions.
    let pairs: Vec<(i64, &str)> = r
        .matches
        .iter()
        .map(|m| (m.observed, declared[m.declared].key.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [(1, "alpha-1"), (4, "beta-1"), (5, "beta-1"), (7, "az-1")]
    );
    // Lags and leads.
    let m = |id| r.matches.iter().find(|m| m.observed == id).unwrap();
    assert_eq!(m(1).disclosure_lag_ms, 35 * MIN);
    assert_eq!(m(1).detection_lead_ms, Some(20 * MIN));
    assert_eq!(
        (m(1).observed_duration_ms, m(1).declared_duration_ms),
        (60 * MIN, Some(30 * MIN))
    );
    assert_eq!(m(4).disclosure_lag_ms, 10 * MIN);
    assert_eq!(
        m(5).disclosure_lag_ms,
        -20 * MIN,
        "declared before beta-us went down"
    );
    assert_eq!(m(5).detection_lead_ms, Some(-30 * MIN));
    assert_eq!(
        m(7).disclosure_lag_ms,
        90 * MIN,
        "Azure states no publication: first seen"
    );
    assert_eq!(m(7).detection_lead_ms, Some(30 * MIN));
    // Declared, not observed: alpha-2 only (az-west is on an unwatched region; the
    // maintenance is not an incident).
    let dno: Vec<&str> = r
        .declared_not_observed
        .iter()
        .map(|&i| declared[i].key.as_str())
        .collect();
    assert_eq!(dno, ["alpha-2"]);

    // Every minute of the window measured.
    let all: Vec<i64> = (window.0..window.1).step_by(MIN as usize).collect();
    let m = |i: usize, a: f64| Measured {
        watched: watch[i].clone(),
        availability: Some(a),
        minutes: all.clone(),
        failing_minutes: Vec::new(),
    };
    let measured = vec![m(0, 0.999), m(1, 0.9995), m(2, 0.9990), m(3, 0.9998)];
    let tolerance = Params::new(now).tolerance_ms;
    let card = |p: &str, s: Option<&str>| {
        scorecard(
            p, s, window, &observed, &declared, &measured, &r, tolerance, 2,
        )
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;

    // alpha: 60 + 30 min observed (the 3-minute blip does not count), 60 acknowledged.
    let a = card("alpha", None);
    assert_eq!(a.targets, 1);
    assert_eq!(a.measured_availability, Some(0.999));
    let alpha_declared = 1.0 - (30.0 + 60.0) * 60_000.0 / window_ms;
    assert!(close(a.declared_availability.unwrap(), alpha_declared));
    assert_eq!(
        (
            a.observed_incidents,
            a.acknowledged_incidents,
            a.unacknowledged_incidents
        ),
        (2, 1, 1)
    );
    assert_eq!((a.integrity_incidents, a.integrity_unacknowledged), (1, 1));
    assert_eq!(
        (a.observed_downtime_s, a.unacknowledged_downtime_s),
        (5400.0, 1800.0)
    );
    assert!(close(a.acknowledgment_rate.unwrap(), 2.0 / 3.0));
    assert_eq!(
        (
            a.disclosure_lag_s.p50,
            a.disclosure_lag_s.p90,
            a.disclosure_lag_s.max
        ),
        (Some(2100.0), Some(2100.0), Some(2100.0))
    );
    assert_eq!(a.detection_lead_s.p50, Some(1200.0));
    assert_eq!(
        (
            a.declared_incidents,
            a.changed_after_publication,
            a.shortened_after_publication
        ),
        (2, 1, 1)
    );
    // alpha-2 was declared on a watched, measured target, and nothing was observed.
    let dno: Vec<(&str, Why, &[String])> = a
        .declared_not_observed
        .iter()
        .map(|n| (n.key.as_str(), n.why, n.targets.as_slice()))
        .collect();
    assert_eq!(
        dno,
        [("alpha-2", Why::UpThroughout, &["alpha-api".to_string()][..])]
    );
    // Accuracy, incident by incident: #1 observed 60 min, declared 30 (understated by 30,
    // 5 of which the tolerance forgives: 25/60); #2 never declared (1); alpha-2 declared of
    // nothing (1). A phantom cannot offset the hidden outage: both count.
    let terms: Vec<(Term, Option<i64>, f64)> = a
        .accuracy_terms
        .iter()
        .map(|t| (t.term, t.observed, t.error))
        .collect();
    assert_eq!(terms.len(), 3);
    assert_eq!((terms[0].0, terms[0].1), (Term::Understated, Some(1)));
    assert!(close(terms[0].2, 25.0 / 60.0));
    assert_eq!(terms[1], (Term::Unacknowledged, Some(2), 1.0));
    assert_eq!(terms[2], (Term::DeclaredNotObserved, None, 1.0));
    let parts = a.grade_parts.clone().unwrap();
    assert!(close(parts.acknowledgment, 2.0 / 3.0));
    assert!(close(parts.timeliness, 1.0 - 2100.0 / 3600.0));
    assert!(close(parts.accuracy, 1.0 - (25.0 / 60.0 + 2.0) / 3.0));
    assert!(close(parts.integrity, 0.5));
    let expected = 100.0
        * (0.5 * (2.0 / 3.0) + 0.2 * (1.0 - 2100.0 / 3600.0) + 0.2 * parts.accuracy + 0.1 * 0.5);
    assert!(
        (a.score.unwrap() - expected).abs() < 0.006,
        "{} vs {expected}",
        a.score.unwrap()
    );
    assert_eq!(a.grade, "F");
    // Had probity stopped measuring alpha on 09-15, the time after would be unmeasured on
    // both sides: alpha-2 (10-01) is "unmeasured", not held against anyone, and the
    // declared availability is over the measured half only.
    let stop = t("09-15 00:00");
    let mut partial = measured.clone();
    partial[0].minutes = (window.0..stop).step_by(MIN as usize).collect();
    let a2 = scorecard(
        "alpha", None, window, &observed, &declared, &partial, &r, tolerance, 2,
    );
    assert_eq!(a2.declared_not_observed[0].why, Why::Unmeasured);
    assert_eq!(a2.accuracy_terms.len(), 2);
    // Had alpha failed during alpha-2 below its threshold (no incident opened), the
    // declaration was of something probity saw: not held against the provider.
    let mut failing = measured.clone();
    failing[0].failing_minutes = vec![t("10-01 08:30")];
    let a3 = scorecard(
        "alpha", None, window, &observed, &declared, &failing, &r, tolerance, 2,
    );
    assert_eq!(a3.declared_not_observed[0].why, Why::FailingBelowThreshold);
    assert_eq!(a3.accuracy_terms.len(), 2, "no phantom term");
    assert!(close(
        a2.declared_availability.unwrap(),
        1.0 - 30.0 * 60_000.0 / (stop - window.0) as f64
    ));

    // beta: two regions, one declaration; the open outage is pending and not counted.
    let b = card("beta", None);
    assert_eq!(b.targets, 2);
    assert!(close(
        b.measured_availability.unwrap(),
        (0.9995 + 0.9990) / 2.0
    ));
    assert!(close(
        b.declared_availability.unwrap(),
        1.0 - 2.0 * 3_600_000.0 / window_ms
    ));
    assert_eq!(
        (
            b.observed_incidents,
            b.acknowledged_incidents,
            b.pending_incidents
        ),
        (2, 2, 1)
    );
    assert_eq!(b.observed_downtime_s, 3600.0 + 5400.0);
    assert_eq!((b.integrity_incidents, b.integrity_unacknowledged), (1, 0));
    assert_eq!(b.acknowledgment_rate, Some(1.0));
    assert_eq!(
        (
            b.disclosure_lag_s.p50,
            b.disclosure_lag_s.p90,
            b.disclosure_lag_s.max
        ),
        (Some(-1200.0), Some(600.0), Some(600.0))
    );
    assert_eq!((b.declared_incidents, b.changed_after_publication), (1, 0));
    assert!(b.declared_not_observed.is_empty());
    // beta-1 says two hours in both regions: eu was down one (overstated: 55/120), us one
    // and a half (overstated: 25/120).
    let terms: Vec<(Term, f64)> = b.accuracy_terms.iter().map(|t| (t.term, t.error)).collect();
    assert_eq!(terms.len(), 2);
    assert!(terms.iter().all(|t| t.0 == Term::Overstated));
    assert!(close(terms[0].1, 55.0 / 120.0) && close(terms[1].1, 25.0 / 120.0));
    let accuracy = b.grade_parts.clone().unwrap().accuracy;
    assert!(close(accuracy, 1.0 - (80.0 / 120.0) / 2.0));
    let expected = 100.0 * (0.5 + 0.2 * (1.0 - 600.0 / 3600.0) + 0.2 * accuracy + 0.1);
    assert!(
        (b.score.unwrap() - expected).abs() < 0.006,
        "rounded to two decimals"
    );
    assert_eq!(b.grade, "A");
    // The same, asked per service, through the alias table ("Storage" = "storage").
    let bs = card("beta", Some("Storage"));
    assert_eq!((bs.targets, bs.observed_incidents), (2, 2));

    // azure: disclosed 90 minutes in: timeliness 0; everything else perfect: exactly 80, B.
    let z = card("azure", None);
    assert!(close(
        z.declared_availability.unwrap(),
        1.0 - 2.0 * 3_600_000.0 / window_ms
    ));
    assert_eq!((z.observed_incidents, z.acknowledged_incidents), (1, 1));
    assert_eq!(z.observed_downtime_s, 8100.0);
    assert_eq!(z.disclosure_lag_s.max, Some(5400.0));
    assert_eq!(z.declared_incidents, 1, "west and maintenance excluded");
    // The western declaration is listed: no target watches that region.
    assert_eq!(z.declared_not_observed.len(), 1);
    assert_eq!(
        (
            z.declared_not_observed[0].key.as_str(),
            z.declared_not_observed[0].why
        ),
        ("az-west", Why::NotWatched)
    );
    // Disclosed 90 minutes in: timeliness 0; 135 minutes observed, 120 declared: (15 − 5)
    // / 135 wrong.
    let accuracy = 1.0 - 10.0 / 135.0;
    assert!(close(z.grade_parts.clone().unwrap().accuracy, accuracy));
    let expected = 100.0 * (0.5 + 0.2 * accuracy + 0.1);
    assert!((z.score.unwrap() - expected).abs() < 0.006);
    assert_eq!(z.grade, "C");

    // A provider nobody watches has no grade.
    let n = card("nobody", None);
    assert_eq!((n.targets, n.grade.as_str(), n.score), (0, "n/a", None));
}
