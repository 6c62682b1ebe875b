//! SLA accounting by the provider's own terms. Pure: the caller passes each target's
//! per-minute result counts for the month; this turns them into the terms' uptime, the
//! downtime intervals, the credit tier and the claim deadline.
//!
//! **Invariant:** a minute without results is *unmeasured*, never up. The uptime is given
//! two ways: over measured time only, and with unmeasured time counted as down; with no
//! measured time at all it is `None` (unknown), never 100%.

use serde::{Deserialize, Serialize};

/// How the terms define downtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Minutes without connectivity (EC2, Azure VMs, Compute Engine): a minute is down for
    /// a target when every result in it failed.
    Connectivity,
    /// The average over fixed intervals of the share of failed requests (S3, Cloud
    /// Storage per 5 minutes, Azure Storage per hour).
    ErrorRate,
}

/// How several targets make one service's state (connectivity terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// Down only when every target is down ("all instances", "all zones").
    All,
    /// Down when any target is down.
    Any,
}

/// One credit tier: uptime below `below` percent earns `credit` percent.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tier {
    pub below: f64,
    pub credit: f64,
}

/// A provider's SLA terms, as shipped in the catalog or written in `[[sla]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    pub id: String,
    pub name: String,
    pub provider: String,
    /// Where the terms are published, and when they were read.
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub read_on: String,
    /// False when a number is from a secondary source and awaits checking.
    #[serde(default)]
    pub verified: bool,
    /// The monthly uptime commitment, percent.
    pub commitment: f64,
    pub tiers: Vec<Tier>,
    pub basis: Basis,
    /// Connectivity: the shortest run of down minutes that counts (1 = every minute).
    /// Error rate: the interval length in minutes.
    #[serde(default = "one")]
    pub interval_minutes: u32,
    #[serde(default = "all")]
    pub combine: Combine,
    /// The claim must arrive by the end of the month this many months after the month of
    /// the incident (AWS, Azure: 2)…
    #[serde(default)]
    pub claim_months_after: Option<u32>,
    /// …or within this many days after the month closes (Google: 30).
    #[serde(default)]
    pub claim_days_after: Option<u32>,
    /// The most a month's credit can be, percent.
    #[serde(default)]
    pub credit_cap: Option<f64>,
    /// The terms' definition of downtime, in words.
    #[serde(default)]
    pub downtime: String,
    #[serde(default)]
    pub exclusions: String,
    /// How to claim, and what evidence to include.
    #[serde(default)]
    pub claim: String,
}

fn one() -> u32 {
    1
}
fn all() -> Combine {
    Combine::All
}

impl Terms {
    /// Checks what serde cannot: tiers below the commitment and descending, credits in
    /// 0..=100, a positive interval. Returns what is wrong.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=100.0).contains(&self.commitment) {
            return Err(format!(
                "commitment {} is not a percentage",
                self.commitment
            ));
        }
        if self.tiers.is_empty() {
            return Err("no credit tiers".into());
        }
        for t in &self.tiers {
            if !(0.0..=100.0).contains(&t.credit) || !(0.0..=100.0).contains(&t.below) {
                return Err(format!(
                    "tier below {} → {}% is not in percent",
                    t.below, t.credit
                ));
            }
            if t.below > self.commitment {
                return Err(format!(
                    "tier below {} is above the commitment {}",
                    t.below, self.commitment
                ));
            }
        }
        if self.interval_minutes == 0 {
            return Err("interval_minutes must be at least 1".into());
        }
        Ok(())
    }

    /// The credit, percent, that an uptime earns: the largest credit of the tiers it falls
    /// below (strictly: exactly at a boundary earns the tier above), capped.
    pub fn credit(&self, uptime_percent: f64) -> f64 {
        let c = self
            .tiers
            .iter()
            .filter(|t| uptime_percent < t.below)
            .map(|t| t.credit)
            .fold(0.0, f64::max);
        self.credit_cap.map_or(c, |cap| c.min(cap))
    }

    /// The last day to claim for `month`, as (year, month, day).
    pub fn claim_deadline(&self, year: i32, month: u32) -> Option<(i32, u32, u32)> {
        if let Some(n) = self.claim_months_after {
            let (y, m) = add_months(year, month, n);
            return Some((y, m, days_in_month(y, m)));
        }
        let d = self.claim_days_after?;
        let (y, m) = add_months(year, month, 1);
        let first_after = days_from_civil(y, m, 1);
        // The month closes at the end of its last day; day N after that is N - 1 days after
        // the first of the next month.
        Some(civil_from_days(first_after + i64::from(d) - 1))
    }
}

pub fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

fn add_months(y: i32, m: u32, n: u32) -> (i32, u32) {
    let total = y as i64 * 12 + (m as i64 - 1) + n as i64;
    (
        (total.div_euclid(12)) as i32,
        (total.rem_euclid(12) + 1) as u32,
    )
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y } as i64;
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// The month's bounds in Unix ms, UTC: `[start, end)`.
pub fn month_bounds(year: i32, month: u32) -> (i64, i64) {
    let start = days_from_civil(year, month, 1) * 86_400_000;
    (
        start,
        start + i64::from(days_in_month(year, month)) * 86_400_000,
    )
}

/// One target's results in one minute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Minute {
    pub count: u32,
    /// Results that were down.
    pub failures: u32,
}

/// A run of downtime.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Interval {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Down minutes (connectivity), or the error rate times the minutes (error rate).
    pub downtime_minutes: f64,
    /// For error-rate terms: failed ÷ all results in the run.
    pub error_rate: Option<f64>,
    pub results: u64,
    pub failures: u64,
}

/// One UTC day of the month, for the plot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Day {
    pub start_ms: i64,
    pub uptime_percent: Option<f64>,
    pub downtime_minutes: f64,
    pub unmeasured_minutes: u32,
}

/// A month's account under one set of terms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Account {
    pub minutes: u32,
    /// Excluded (declared or configured maintenance): out of the formula entirely.
    pub excluded_minutes: u32,
    pub measured_minutes: u32,
    pub unmeasured_minutes: u32,
    pub downtime_minutes: f64,
    /// Over measured time only; `None` when nothing was measured.
    pub uptime_percent: Option<f64>,
    /// With unmeasured time counted as down: the floor.
    pub uptime_percent_if_unmeasured_down: Option<f64>,
    pub credit_percent: Option<f64>,
    pub credit_percent_if_unmeasured_down: Option<f64>,
    pub intervals: Vec<Interval>,
    pub days: Vec<Day>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Up,
    Down,
    Unmeasured,
    Excluded,
}

/// One target's minute from what several vantages measured in it, by the target's quorum
/// rule: the `needed`-th worst vantage's counts (worst: the highest share of failures), so
/// the minute is down only when as many vantages as an incident needs saw it down. With
/// fewer vantages than `needed`, the quorum cannot be met: the best vantage's counts.
pub fn by_quorum(vantages: &[Minute], needed: usize) -> Minute {
    let mut v: Vec<Minute> = vantages.iter().copied().filter(|m| m.count > 0).collect();
    if v.is_empty() {
        return Minute::default();
    }
    // Worst first: failures ÷ count, compared without division.
    v.sort_by(|a, b| {
        (u64::from(b.failures) * u64::from(a.count))
            .cmp(&(u64::from(a.failures) * u64::from(b.count)))
    });
    v[needed.clamp(1, v.len()) - 1]
}

/// Accounts one month (`bounds` from [`month_bounds`]) of `targets` (each a minute slice
/// the length of the month) under `terms`; `excluded` are maintenance spans in Unix ms.
pub fn account(
    terms: &Terms,
    bounds: (i64, i64),
    targets: &[Vec<Minute>],
    excluded: &[(i64, i64)],
) -> Account {
    let minutes = ((bounds.1 - bounds.0) / 60_000) as usize;
    let at = |i: usize| bounds.0 + i as i64 * 60_000;
    let is_excluded = |i: usize| {
        let (a, b) = (at(i), at(i) + 60_000);
        excluded.iter().any(|&(s, e)| s < b && a < e)
    };
    let get = |t: &Vec<Minute>, i: usize| t.get(i).copied().unwrap_or_default();
    let totals = |i: usize| {
        targets.iter().fold((0u64, 0u64), |(c, f), t| {
            let m = get(t, i);
            (c + u64::from(m.count), f + u64::from(m.failures))
        })
    };
    let mut intervals: Vec<Interval> = Vec::new();
    // Per minute: its state and the downtime it carries (connectivity: 0 or 1).
    let mut states = vec![State::Up; minutes];
    let mut down_weight = vec![0.0f64; minutes];
    match terms.basis {
        Basis::Connectivity => {
            for (i, s) in states.iter_mut().enumerate() {
                if is_excluded(i) {
                    *s = State::Excluded;
                    continue;
                }
                let per: Vec<State> = targets
                    .iter()
                    .map(|t| {
                        let m = get(t, i);
                        if m.count == 0 {
                            State::Unmeasured
                        } else if m.failures >= m.count {
                            State::Down
                        } else {
                            State::Up
                        }
                    })
                    .collect();
                *s = if per.is_empty() {
                    State::Unmeasured
                } else {
                    match terms.combine {
                        Combine::All if per.contains(&State::Up) => State::Up,
                        Combine::All if per.contains(&State::Unmeasured) => State::Unmeasured,
                        Combine::All => State::Down,
                        Combine::Any if per.contains(&State::Down) => State::Down,
                        Combine::Any if per.contains(&State::Unmeasured) => State::Unmeasured,
                        Combine::Any => State::Up,
                    }
                };
            }
            // Runs shorter than the terms' shortest period do not count.
            let min_run = terms.interval_minutes.max(1) as usize;
            let mut i = 0;
            while i < minutes {
                if states[i] != State::Down {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < minutes && states[i] == State::Down {
                    i += 1;
                }
                if i - start < min_run {
                    states[start..i].fill(State::Up);
                } else {
                    let (results, failures) = (start..i)
                        .map(totals)
                        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
                    down_weight[start..i].fill(1.0);
                    intervals.push(Interval {
                        start_ms: at(start),
                        end_ms: at(i),
                        downtime_minutes: (i - start) as f64,
                        error_rate: None,
                        results,
                        failures,
                    });
                }
            }
        }
        Basis::ErrorRate => {
            let len = terms.interval_minutes.max(1) as usize;
            let mut run: Option<Interval> = None;
            let mut k = 0;
            while k < minutes {
                let end = (k + len).min(minutes);
                let live: Vec<usize> = (k..end).filter(|&i| !is_excluded(i)).collect();
                for (i, s) in states.iter_mut().enumerate().take(end).skip(k) {
                    if !live.contains(&i) {
                        *s = State::Excluded;
                    }
                }
                let (count, failures) = live
                    .iter()
                    .map(|&i| totals(i))
                    .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
                if live.is_empty() {
                    // Wholly excluded.
                } else if count == 0 {
                    for &i in &live {
                        states[i] = State::Unmeasured;
                    }
                } else {
                    let rate = failures as f64 / count as f64;
                    // A minute without results in a measured interval is unmeasured, as
                    // everywhere: the interval's rate stands for the minutes measured.
                    let measured: Vec<usize> =
                        live.iter().copied().filter(|&i| totals(i).0 > 0).collect();
                    for &i in &live {
                        if totals(i).0 == 0 {
                            states[i] = State::Unmeasured;
                        } else {
                            down_weight[i] = rate;
                        }
                    }
                    if failures > 0 {
                        let r = run.get_or_insert(Interval {
                            start_ms: at(k),
                            end_ms: at(end),
                            downtime_minutes: 0.0,
                            error_rate: Some(0.0),
                            results: 0,
                            failures: 0,
                        });
                        r.end_ms = at(end);
                        r.downtime_minutes += rate * measured.len() as f64;
                        r.results += count;
                        r.failures += failures;
                        r.error_rate = Some(r.failures as f64 / r.results as f64);
                        k = end;
                        continue;
                    }
                }
                intervals.extend(run.take());
                k = end;
            }
            intervals.extend(run.take());
        }
    }

    let count = |s: State| states.iter().filter(|x| **x == s).count() as u32;
    let excluded_minutes = count(State::Excluded);
    let unmeasured_minutes = count(State::Unmeasured);
    let in_formula = minutes as u32 - excluded_minutes;
    let measured_minutes = in_formula - unmeasured_minutes;
    let downtime: f64 = down_weight
        .iter()
        .zip(&states)
        .filter(|(_, s)| matches!(s, State::Up | State::Down))
        .map(|(w, _)| w)
        .sum();
    let pct = |good: f64, of: f64| (of > 0.0).then(|| 100.0 * good / of);
    let uptime = pct(
        f64::from(measured_minutes) - downtime,
        f64::from(measured_minutes),
    );
    let floor = if measured_minutes == 0 {
        None
    } else {
        pct(
            f64::from(measured_minutes) - downtime,
            f64::from(in_formula),
        )
    };
    let days = (0..minutes / 1440)
        .map(|d| {
            let r = d * 1440..(d + 1) * 1440;
            let measured = r
                .clone()
                .filter(|&i| matches!(states[i], State::Up | State::Down))
                .count() as f64;
            let down: f64 = r
                .clone()
                .filter(|&i| matches!(states[i], State::Up | State::Down))
                .map(|i| down_weight[i])
                .sum();
            Day {
                start_ms: at(d * 1440),
                uptime_percent: pct(measured - down, measured),
                downtime_minutes: down,
                unmeasured_minutes: r.filter(|&i| states[i] == State::Unmeasured).count() as u32,
            }
        })
        .collect();
    Account {
        minutes: minutes as u32,
        excluded_minutes,
        measured_minutes,
        unmeasured_minutes,
        downtime_minutes: downtime,
        uptime_percent: uptime,
        uptime_percent_if_unmeasured_down: floor,
        credit_percent: uptime.map(|u| terms.credit(u)),
        credit_percent_if_unmeasured_down: floor.map(|u| terms.credit(u)),
        intervals,
        days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn terms(commitment: f64, tiers: &[(f64, f64)], basis: Basis) -> Terms {
        Terms {
            id: "t".into(),
            name: "t".into(),
            provider: "p".into(),
            url: String::new(),
            read_on: String::new(),
            verified: true,
            commitment,
            tiers: tiers
                .iter()
                .map(|&(below, credit)| Tier { below, credit })
                .collect(),
            basis,
            interval_minutes: if basis == Basis::ErrorRate { 5 } else { 1 },
            combine: Combine::All,
            claim_months_after: Some(2),
            claim_days_after: None,
            credit_cap: None,
            downtime: String::new(),
            exclusions: String::new(),
            claim: String::new(),
        }
    }

    fn ec2_region() -> Terms {
        terms(
            99.99,
            &[(99.99, 10.0), (99.0, 30.0), (95.0, 100.0)],
            Basis::Connectivity,
        )
    }

    /// A month of one target, probed once a minute, down in the given minutes.
    fn month(minutes: usize, down: impl Fn(usize) -> bool) -> Vec<Minute> {
        (0..minutes)
            .map(|i| Minute {
                count: 1,
                failures: u32::from(down(i)),
            })
            .collect()
    }

    #[test]
    fn calendar() {
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(2026, 2), 28);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(
            month_bounds(2026, 11),
            (1_793_491_200_000, 1_796_083_200_000)
        );
        let (a, b) = month_bounds(2024, 2);
        assert_eq!((b - a) / 60_000, 29 * 1440);
        assert_eq!(
            civil_from_days(days_from_civil(2026, 12, 31)),
            (2026, 12, 31)
        );
    }

    #[test]
    fn claim_deadlines() {
        let mut t = ec2_region();
        // AWS and Azure: the end of the second month after.
        assert_eq!(t.claim_deadline(2026, 11), Some((2027, 1, 31)));
        assert_eq!(t.claim_deadline(2026, 12), Some((2027, 2, 28)));
        assert_eq!(t.claim_deadline(2027, 12), Some((2028, 2, 29)));
        // Google: 30 days after the month closes.
        t.claim_months_after = None;
        t.claim_days_after = Some(30);
        assert_eq!(t.claim_deadline(2026, 11), Some((2026, 12, 30)));
        assert_eq!(t.claim_deadline(2026, 2), Some((2026, 3, 30)));
    }

    #[test]
    fn tier_boundaries_on_both_sides() {
        let t = ec2_region();
        assert_eq!(t.credit(100.0), 0.0);
        assert_eq!(t.credit(99.99), 0.0, "exactly at the commitment: no credit");
        assert_eq!(t.credit(99.989_999), 10.0);
        assert_eq!(t.credit(99.0), 10.0);
        assert_eq!(t.credit(98.999_999), 30.0);
        assert_eq!(t.credit(95.0), 30.0);
        assert_eq!(t.credit(94.999_999), 100.0);
        let mut capped = t.clone();
        capped.credit_cap = Some(50.0);
        assert_eq!(capped.credit(10.0), 50.0);
    }

    #[test]
    fn worked_examples_from_the_terms() {
        let (start, end) = month_bounds(2026, 11); // 30 days: 43,200 minutes
        let b = (start, end);
        // EC2 region level: 5 minutes without connectivity for all instances.
        let a = account(
            &ec2_region(),
            b,
            &[month(43_200, |i| (600..605).contains(&i))],
            &[],
        );
        assert_eq!(a.downtime_minutes, 5.0);
        let u = a.uptime_percent.unwrap();
        assert!((u - 100.0 * (43_200.0 - 5.0) / 43_200.0).abs() < 1e-9);
        assert!((u - 99.988_43).abs() < 1e-5);
        assert_eq!(a.credit_percent, Some(10.0));
        assert_eq!(a.intervals.len(), 1);
        assert_eq!(a.intervals[0].start_ms, start + 600 * 60_000);
        assert_eq!(a.intervals[0].end_ms, start + 605 * 60_000);
        // Four minutes: 99.99074 ≥ 99.99, no credit.
        let a = account(
            &ec2_region(),
            b,
            &[month(43_200, |i| (600..604).contains(&i))],
            &[],
        );
        assert_eq!(a.credit_percent, Some(0.0));

        // Azure VM single instance (99.9) in a 31-day month: 44 minutes keep it, 45 do not.
        let azure = terms(
            99.9,
            &[(99.9, 10.0), (99.0, 25.0), (95.0, 100.0)],
            Basis::Connectivity,
        );
        let dec = month_bounds(2026, 12);
        let a = account(&azure, dec, &[month(44_640, |i| i < 44)], &[]);
        assert_eq!(a.credit_percent, Some(0.0), "{:?}", a.uptime_percent);
        let a = account(&azure, dec, &[month(44_640, |i| i < 45)], &[]);
        assert_eq!(a.credit_percent, Some(10.0), "{:?}", a.uptime_percent);

        // S3: the mean of 5-minute error rates. One interval at 100% errors in 8,640: no
        // credit; nine: 99.8958%, 10%.
        let s3 = terms(
            99.9,
            &[(99.9, 10.0), (99.0, 25.0), (95.0, 100.0)],
            Basis::ErrorRate,
        );
        let a = account(&s3, b, &[month(43_200, |i| i < 5)], &[]);
        assert!((a.uptime_percent.unwrap() - (100.0 - 100.0 / 8640.0)).abs() < 1e-9);
        assert_eq!(a.credit_percent, Some(0.0));
        let a = account(&s3, b, &[month(43_200, |i| i < 45)], &[]);
        assert!((a.uptime_percent.unwrap() - (100.0 - 900.0 / 8640.0)).abs() < 1e-9);
        assert_eq!(a.credit_percent, Some(10.0));
        assert_eq!(
            a.intervals.len(),
            1,
            "adjacent error intervals make one run"
        );
        assert_eq!(a.intervals[0].error_rate, Some(1.0));
        // Half the requests failing for 10 minutes: 2 intervals at 50%.
        let two: Vec<Vec<Minute>> = vec![month(43_200, |i| i < 10), month(43_200, |_| false)];
        let a = account(&s3, b, &two, &[]);
        assert!((a.uptime_percent.unwrap() - (100.0 - 100.0 * 1.0 / 8640.0)).abs() < 1e-9);
        assert_eq!(a.downtime_minutes, 5.0);
    }

    #[test]
    fn combining_targets() {
        let b = month_bounds(2026, 11);
        let a_down = month(43_200, |i| i < 10);
        let b_down = month(43_200, |i| (5..20).contains(&i));
        let mut all = ec2_region();
        let a = account(&all, b, &[a_down.clone(), b_down.clone()], &[]);
        assert_eq!(a.downtime_minutes, 5.0, "both down only in minutes 5..10");
        all.combine = Combine::Any;
        let a = account(&all, b, &[a_down, b_down], &[]);
        assert_eq!(a.downtime_minutes, 20.0);
    }

    #[test]
    fn gaps_are_never_up() {
        let b = month_bounds(2026, 11);
        // Nothing measured at all: unknown, not 100%.
        let a = account(&ec2_region(), b, &[vec![Minute::default(); 43_200]], &[]);
        assert_eq!((a.uptime_percent, a.credit_percent), (None, None));
        assert_eq!(a.unmeasured_minutes, 43_200);
        let a = account(&ec2_region(), b, &[], &[]);
        assert_eq!(a.uptime_percent, None, "no targets at all");
        // Half the month measured, all up: 100% over measured time, 50% as a floor.
        let half: Vec<Minute> = (0..43_200)
            .map(|i| Minute {
                count: u32::from(i < 21_600),
                failures: 0,
            })
            .collect();
        let a = account(&ec2_region(), b, &[half], &[]);
        assert_eq!(a.uptime_percent, Some(100.0));
        assert_eq!(a.uptime_percent_if_unmeasured_down, Some(50.0));
        assert_eq!(a.credit_percent_if_unmeasured_down, Some(100.0));
        assert_eq!((a.measured_minutes, a.unmeasured_minutes), (21_600, 21_600));
    }

    #[test]
    fn an_interval_partly_measured_counts_only_its_measured_minutes() {
        let b = month_bounds(2026, 11);
        let mut t = ec2_region();
        t.basis = Basis::ErrorRate;
        t.interval_minutes = 5;
        // Minutes 0 and 1 measured, 10 results each, 1 failure each; nothing after.
        let mut m = vec![Minute::default(); 43_200];
        m[0] = Minute {
            count: 10,
            failures: 1,
        };
        m[1] = m[0];
        let stopped = account(&t, b, std::slice::from_ref(&m), &[]);
        assert_eq!(stopped.measured_minutes, 2);
        assert!((stopped.downtime_minutes - 0.2).abs() < 1e-9);
        assert_eq!(
            stopped.uptime_percent.map(|u| (u * 1e6).round() / 1e6),
            Some(90.0)
        );
        // Computed while the rest of the month was still to come (excluded), the same.
        let running = account(&t, b, &[m], &[(b.0 + 2 * 60_000, b.1)]);
        assert_eq!(running.uptime_percent, stopped.uptime_percent);
        assert_eq!(running.downtime_minutes, stopped.downtime_minutes);
    }

    #[test]
    fn several_vantages_count_by_the_quorum_not_by_the_sum() {
        let m = |count, failures| Minute { count, failures };
        // One of three vantages saw the minute down.
        let seen = [m(6, 6), m(6, 0), m(6, 0)];
        assert_eq!(by_quorum(&seen, 1), m(6, 6), "quorum 1: the worst decides");
        assert_eq!(by_quorum(&seen, 2), m(6, 0), "quorum 2: one is not enough");
        // Two of three: down by a quorum of two.
        let seen = [m(6, 6), m(6, 0), m(5, 5)];
        assert_eq!(by_quorum(&seen, 2), m(5, 5));
        // Error rates: the second worst rate.
        let seen = [m(10, 1), m(10, 5), m(10, 3)];
        assert_eq!(by_quorum(&seen, 2), m(10, 3));
        // Fewer vantages than the quorum: it cannot be met; the best one counts.
        assert_eq!(by_quorum(&[m(4, 4), m(4, 0)], 3), m(4, 0));
        assert_eq!(by_quorum(&[], 1), Minute::default());
        assert_eq!(
            by_quorum(&[m(0, 0), m(3, 3)], 1),
            m(3, 3),
            "a vantage without results is not one"
        );
    }

    #[test]
    fn maintenance_is_out_of_the_formula() {
        let (start, end) = month_bounds(2026, 11);
        let t = month(43_200, |i| i < 60);
        let a = account(
            &ec2_region(),
            (start, end),
            &[t],
            &[(start, start + 60 * 60_000)],
        );
        assert_eq!((a.excluded_minutes, a.downtime_minutes), (60, 0.0));
        assert_eq!(a.uptime_percent, Some(100.0));
        assert!(a.intervals.is_empty());
    }

    #[test]
    fn short_runs_below_the_terms_period_do_not_count() {
        let b = month_bounds(2026, 11);
        let mut t = ec2_region();
        t.interval_minutes = 5;
        let a = account(
            &t,
            b,
            &[month(43_200, |i| i < 4 || (100..106).contains(&i))],
            &[],
        );
        assert_eq!(a.downtime_minutes, 6.0);
    }

    proptest! {
        // Each case accounts whole months minute by minute: fewer cases keep the suite quick.
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn every_month_has_its_days(y in 1970i32..2400, m in 1u32..=12) {
            let (a, b) = month_bounds(y, m);
            prop_assert_eq!((b - a) / 86_400_000, i64::from(days_in_month(y, m)));
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            prop_assert_eq!(b, month_bounds(ny, nm).0, "months tile time");
            prop_assert_eq!(civil_from_days(a / 86_400_000), (y, m, 1));
        }

        #[test]
        fn more_downtime_never_raises_uptime_or_lowers_credit(
            downs in prop::collection::vec((0usize..43_200, 1usize..600), 0..6),
            extra in (0usize..43_200, 1usize..600),
            gap in prop::option::of((0usize..43_200, 1usize..5_000)),
        ) {
            let b = month_bounds(2026, 11);
            let is_down = |i: usize, d: &[(usize, usize)]| d.iter().any(|&(s, l)| (s..s + l).contains(&i));
            let mk = |d: &[(usize, usize)]| -> Vec<Minute> {
                (0..43_200).map(|i| {
                    let unmeasured = gap.is_some_and(|(s, l)| (s..s + l).contains(&i));
                    Minute { count: u32::from(!unmeasured), failures: u32::from(!unmeasured && is_down(i, d)) }
                }).collect()
            };
            let t = ec2_region();
            let a = account(&t, b, &[mk(&downs)], &[]);
            let mut more = downs.clone();
            more.push(extra);
            let a2 = account(&t, b, &[mk(&more)], &[]);
            let (u, u2) = (a.uptime_percent.unwrap(), a2.uptime_percent.unwrap());
            prop_assert!(u2 <= u + 1e-12);
            prop_assert!(a2.credit_percent.unwrap() >= a.credit_percent.unwrap());
            prop_assert!(a.uptime_percent_if_unmeasured_down.unwrap() <= u + 1e-12);
            // Minutes add up.
            prop_assert_eq!(a.measured_minutes + a.unmeasured_minutes + a.excluded_minutes, 43_200);
            // Intervals carry exactly the downtime.
            let sum: f64 = a.intervals.iter().map(|i| i.downtime_minutes).sum();
            prop_assert!((sum - a.downtime_minutes).abs() < 1e-9);
        }
    }
}
