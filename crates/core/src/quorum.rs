//! One target seen from several vantage points: each vantage's own state, combined by a
//! quorum rule into the target's state and its incidents.
//!
//! Every vantage keeps its own [`Tracker`] (thresholds, no flapping). A vantage is
//! *failing* while its tracker has an incident open. The target's incident opens when the
//! number of failing vantages reaches the quorum, and resolves when a vantage's recovery
//! brings that number below the quorum: a vantage that merely falls silent never resolves
//! an incident, since silence is not evidence of recovery.
//!
//! Only *counted* vantages take part: measured (its own controls were reachable, see
//! [`Judge`]) and fresh (its latest result is at most `stale_after_ms` older than the
//! latest result of any vantage). `majority` means more than half of the counted vantages
//! that have a state.
//!
//! - The incident starts when the quorum was first met: the quorum-th earliest start among
//!   the failing vantages (A failing from 10:00 and B from 10:02 with quorum 2: 10:02).
//! - Its severity is the worst health that a quorum of vantages shares.
//! - A target with failing vantages short of the quorum is `degraded` (a regional
//!   degradation), never silently `up`.

use crate::observe::{Observed, OpenIncident, Status, Thresholds, Tracker, Transition};
use crate::result::{Cause, Health};
use serde::Serialize;
use std::collections::BTreeMap;

/// How many vantages must agree before an incident opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quorum {
    /// At least this many (at least one).
    Count(u32),
    /// More than half of the counted vantages.
    Majority,
}

impl Default for Quorum {
    fn default() -> Self {
        Quorum::Count(1)
    }
}

impl Quorum {
    /// Reads `2` or `majority`.
    pub fn parse(s: &str) -> Result<Quorum, String> {
        match s.trim() {
            "majority" => Ok(Quorum::Majority),
            n => match n.parse::<u32>() {
                Ok(k) if k >= 1 => Ok(Quorum::Count(k)),
                _ => Err(format!(
                    "quorum must be a whole number of vantages (1 or more) or \"majority\", not {s:?}"
                )),
            },
        }
    }

    /// How many failing vantages are needed when `known` counted vantages have a state.
    pub fn needed(self, known: usize) -> usize {
        match self {
            Quorum::Count(k) => k.max(1) as usize,
            Quorum::Majority => known / 2 + 1,
        }
    }
}

impl std::fmt::Display for Quorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quorum::Count(k) => write!(f, "{k}"),
            Quorum::Majority => f.write_str("majority"),
        }
    }
}

/// A vantage's view of a target, as shown to users and recorded with incidents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VantageStatus {
    Up,
    Degraded,
    Down,
    /// No result yet.
    Unknown,
    /// Failing below the failure threshold.
    Failing,
    /// Its own controls were unreachable: it cannot tell.
    Unmeasured,
    /// No recent result.
    Stale,
}

impl VantageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VantageStatus::Up => "up",
            VantageStatus::Degraded => "degraded",
            VantageStatus::Down => "down",
            VantageStatus::Unknown => "unknown",
            VantageStatus::Failing => "failing",
            VantageStatus::Unmeasured => "unmeasured",
            VantageStatus::Stale => "stale",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "up" => VantageStatus::Up,
            "degraded" => VantageStatus::Degraded,
            "down" => VantageStatus::Down,
            "unknown" => VantageStatus::Unknown,
            "failing" => VantageStatus::Failing,
            "unmeasured" => VantageStatus::Unmeasured,
            "stale" => VantageStatus::Stale,
            _ => return None,
        })
    }
}

/// What one vantage saw, as recorded when an incident opens or resolves.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Seen {
    pub vantage: String,
    pub status: VantageStatus,
    /// When its current failure began, if it is failing.
    pub failing_since_ms: Option<i64>,
    /// Its latest result.
    pub last_at_ms: Option<i64>,
}

impl Seen {
    /// Whether this vantage saw the target failing.
    pub fn failing(&self) -> bool {
        self.failing_since_ms.is_some()
    }
}

/// What a result changed at the target level.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Opened {
        started_at_ms: i64,
        severity: Health,
        cause: Cause,
        /// The failing results that proved the opening, from every failing vantage.
        evidence: Vec<i64>,
        seen: Vec<Seen>,
    },
    Escalated {
        severity: Health,
        result_id: i64,
    },
    Resolved {
        resolved_at_ms: i64,
        /// The successes that proved the recovery of the vantage that ended it.
        evidence: Vec<i64>,
        seen: Vec<Seen>,
    },
}

#[derive(Clone, Debug)]
struct Failing {
    since_ms: Option<i64>,
    severity: Health,
    cause: Cause,
    evidence: Vec<i64>,
}

#[derive(Clone, Debug)]
struct Vantage {
    tracker: Tracker,
    last_at_ms: Option<i64>,
    unmeasured: bool,
    failing: Option<Failing>,
}

impl Vantage {
    fn new(th: Thresholds) -> Self {
        Vantage {
            tracker: Tracker::new(th),
            last_at_ms: None,
            unmeasured: false,
            failing: None,
        }
    }
}

/// Vantages by name, in name order. Most targets have one or two: a `BTreeMap` would
/// allocate a node for eleven (about 2.7 KB a target here, 27 MB at 10,000 targets).
#[derive(Clone, Debug, Default)]
struct ByName(Vec<(String, Vantage)>);

impl ByName {
    fn find(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }

    /// The vantage named `name`, made by `new` if there is none.
    fn get_or_insert_with(&mut self, name: &str, new: impl FnOnce() -> Vantage) -> &mut Vantage {
        let i = self.find(name).unwrap_or_else(|i| {
            self.0.insert(i, (name.to_string(), new()));
            i
        });
        &mut self.0[i].1
    }

    fn insert(&mut self, name: String, v: Vantage) {
        match self.find(&name) {
            Ok(i) => self.0[i].1 = v,
            Err(i) => self.0.insert(i, (name, v)),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&String, &Vantage)> {
        self.0.iter().map(|(n, v)| (n, v))
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut Vantage> {
        self.0.iter_mut().map(|(_, v)| v)
    }
}

impl std::ops::Index<&str> for ByName {
    type Output = Vantage;
    fn index(&self, name: &str) -> &Vantage {
        let i = self.find(name).expect("a vantage of this target");
        &self.0[i].1
    }
}

/// One target's state across its vantages. Feed it each vantage's results in that
/// vantage's time order; vantages may interleave freely.
#[derive(Clone, Debug)]
pub struct Combined {
    thresholds: Thresholds,
    quorum: Quorum,
    stale_after_ms: i64,
    vantages: ByName,
    open: Option<OpenIncident>,
    latest_at_ms: i64,
}

impl Combined {
    pub fn new(thresholds: Thresholds, quorum: Quorum, stale_after_ms: i64) -> Self {
        Combined {
            thresholds,
            quorum,
            stale_after_ms: stale_after_ms.max(1),
            vantages: ByName::default(),
            open: None,
            latest_at_ms: i64::MIN,
        }
    }

    /// A target whose incident was open when the process last stopped. `failing` names the
    /// vantages that saw it failing (their trackers resume with the incident open, so that
    /// their recovery is noticed); `since_ms` is when each began failing.
    pub fn resume(
        thresholds: Thresholds,
        quorum: Quorum,
        stale_after_ms: i64,
        open: OpenIncident,
        failing: &[(String, i64)],
    ) -> Self {
        let mut c = Combined::new(thresholds, quorum, stale_after_ms);
        for (name, since) in failing {
            let mut v = Vantage::new(thresholds);
            v.tracker = Tracker::resume(
                thresholds,
                OpenIncident {
                    started_at_ms: *since,
                    ..open.clone()
                },
            );
            v.failing = Some(Failing {
                since_ms: Some(*since),
                severity: open.severity,
                cause: open.cause.clone(),
                evidence: Vec::new(),
            });
            v.last_at_ms = Some(*since);
            c.latest_at_ms = c.latest_at_ms.max(*since);
            c.vantages.insert(name.clone(), v);
        }
        c.open = Some(open);
        c
    }

    pub fn set_rules(&mut self, thresholds: Thresholds, quorum: Quorum, stale_after_ms: i64) {
        self.thresholds = thresholds;
        self.quorum = quorum;
        self.stale_after_ms = stale_after_ms.max(1);
        for v in self.vantages.values_mut() {
            v.tracker.set_thresholds(thresholds);
        }
    }

    pub fn open_incident(&self) -> Option<&OpenIncident> {
        self.open.as_ref()
    }

    fn fresh(&self, v: &Vantage) -> bool {
        v.last_at_ms
            .is_some_and(|at| at >= self.latest_at_ms.saturating_sub(self.stale_after_ms))
    }

    fn counted(&self) -> impl Iterator<Item = (&String, &Vantage)> {
        self.vantages
            .iter()
            .filter(|(_, v)| !v.unmeasured && self.fresh(v))
    }

    /// Counted vantages with a state, and the failing ones among them.
    fn tally(&self) -> (usize, Vec<(&String, &Failing)>) {
        let mut known = 0;
        let mut failing = Vec::new();
        for (name, v) in self.counted() {
            if v.tracker.status() != Status::Unknown || v.failing.is_some() {
                known += 1;
            }
            if let Some(f) = &v.failing {
                failing.push((name, f));
            }
        }
        (known, failing)
    }

    /// The worst health that `needed` failing vantages share.
    fn quorum_severity(failing: &[(&String, &Failing)], needed: usize) -> Health {
        let mut sev: Vec<Health> = failing.iter().map(|(_, f)| f.severity).collect();
        sev.sort_by(|a, b| b.cmp(a));
        sev.get(needed.saturating_sub(1))
            .copied()
            .unwrap_or(Health::Degraded)
    }

    /// Each vantage's view, by name.
    pub fn seen(&self) -> Vec<Seen> {
        self.vantages
            .iter()
            .map(|(name, v)| Seen {
                vantage: name.clone(),
                status: self.vantage_status(v),
                failing_since_ms: v.failing.as_ref().and_then(|f| f.since_ms),
                last_at_ms: v.last_at_ms,
            })
            .collect()
    }

    fn vantage_status(&self, v: &Vantage) -> VantageStatus {
        if v.unmeasured {
            VantageStatus::Unmeasured
        } else if v.last_at_ms.is_some() && !self.fresh(v) {
            VantageStatus::Stale
        } else {
            match v.tracker.status() {
                Status::Up => VantageStatus::Up,
                Status::Degraded => VantageStatus::Degraded,
                Status::Down => VantageStatus::Down,
                Status::Unknown => VantageStatus::Unknown,
                Status::Failing => VantageStatus::Failing,
            }
        }
    }

    /// The target's state: while an incident is open, the worst state a quorum of vantages
    /// shares now; otherwise `degraded` when some vantage fails (short of the quorum), `up`
    /// when a counted vantage is up, else `unknown`.
    pub fn status(&self) -> Status {
        let (known, failing) = self.tally();
        if self.open.is_some() {
            let needed = self.quorum.needed(known);
            let mut now: Vec<Health> = failing
                .iter()
                .filter_map(
                    |(name, _)| match self.vantages[name.as_str()].tracker.status() {
                        Status::Down => Some(Health::Down),
                        Status::Degraded => Some(Health::Degraded),
                        _ => None,
                    },
                )
                .collect();
            now.sort_by(|a, b| b.cmp(a));
            let open_severity = self.open.as_ref().map(|o| o.severity);
            return match now.get(needed.saturating_sub(1)).copied().or(open_severity) {
                Some(Health::Down) => Status::Down,
                _ => Status::Degraded,
            };
        }
        if !failing.is_empty() {
            return Status::Degraded;
        }
        // Failing below the threshold on as many vantages as an incident would need.
        let below = self
            .counted()
            .filter(|(_, v)| v.tracker.status() == Status::Failing)
            .count();
        if below > 0 && below >= self.quorum.needed(known) {
            return Status::Failing;
        }
        if self
            .counted()
            .any(|(_, v)| v.tracker.status() == Status::Up)
        {
            Status::Up
        } else {
            Status::Unknown
        }
    }

    /// The vantages failing while the target has no incident open: a regional degradation.
    pub fn regional(&self) -> Vec<String> {
        if self.open.is_some() {
            return Vec::new();
        }
        self.tally().1.into_iter().map(|(n, _)| n.clone()).collect()
    }

    /// Takes one result from `vantage`; `unmeasured` when that vantage's own controls were
    /// unreachable at the time. Returns what it changed at the target level.
    pub fn observe(&mut self, vantage: &str, r: &Observed, unmeasured: bool) -> Option<Change> {
        self.latest_at_ms = self.latest_at_ms.max(r.at_ms);
        let th = self.thresholds;
        let v = self
            .vantages
            .get_or_insert_with(vantage, || Vantage::new(th));
        v.last_at_ms = Some(v.last_at_ms.map_or(r.at_ms, |a| a.max(r.at_ms)));
        if unmeasured {
            // What it saw may be its own network: forget its streaks, count it out.
            if !v.unmeasured {
                v.unmeasured = true;
                v.tracker = Tracker::new(th);
                v.failing = None;
            }
            return None;
        }
        v.unmeasured = false;
        let transition = v.tracker.observe(r);
        let mut recovered = None;
        let mut escalated = false;
        match transition {
            Some(Transition::Opened {
                started_at_ms,
                severity,
                cause,
                evidence,
            }) => {
                v.failing = Some(Failing {
                    since_ms: Some(started_at_ms),
                    severity,
                    cause,
                    evidence,
                });
            }
            Some(Transition::Escalated { severity, .. }) => {
                if let Some(f) = &mut v.failing {
                    f.severity = f.severity.max(severity);
                }
                escalated = true;
            }
            Some(Transition::Resolved {
                resolved_at_ms,
                evidence,
            }) => {
                v.failing = None;
                recovered = Some((resolved_at_ms, evidence));
            }
            None => {}
        }
        let (known, failing) = self.tally();
        let needed = self.quorum.needed(known);
        let count = failing.len();
        let severity = Self::quorum_severity(&failing, needed);
        let this_failing = failing.iter().any(|(n, _)| n.as_str() == vantage);
        let opening = (self.open.is_none() && count >= needed).then(|| {
            let mut starts: Vec<i64> = failing.iter().filter_map(|(_, f)| f.since_ms).collect();
            starts.sort_unstable();
            let cause = failing
                .iter()
                .min_by_key(|(_, f)| f.since_ms.unwrap_or(i64::MAX))
                .map(|(_, f)| f.cause.clone())
                .expect("at least one failing vantage");
            let mut evidence: Vec<i64> = failing
                .iter()
                .flat_map(|(_, f)| f.evidence.iter().copied())
                .collect();
            evidence.sort_unstable();
            evidence.dedup();
            let started_at_ms = starts
                .get(needed.saturating_sub(1))
                .copied()
                .unwrap_or(r.at_ms);
            (started_at_ms, cause, evidence)
        });
        if let Some((started_at_ms, cause, evidence)) = opening {
            self.open = Some(OpenIncident {
                started_at_ms,
                severity,
                cause: cause.clone(),
            });
            return Some(Change::Opened {
                started_at_ms,
                severity,
                cause,
                evidence,
                seen: self.seen(),
            });
        }
        let open_severity = self.open.as_ref()?.severity;
        if let Some((resolved_at_ms, evidence)) = recovered
            && count < needed
        {
            self.open = None;
            return Some(Change::Resolved {
                resolved_at_ms,
                evidence,
                seen: self.seen(),
            });
        }
        if (escalated || this_failing) && count >= needed && severity > open_severity {
            if let Some(open) = &mut self.open {
                open.severity = severity;
            }
            return Some(Change::Escalated {
                severity,
                result_id: r.result_id,
            });
        }
        None
    }
}

/// Whether a vantage could reach the outside at the time of a result, judged from its
/// control targets (probes of well-known, independent services of its own choosing).
///
/// A result that succeeded proves the vantage could reach out, so it is always measured.
/// A failing result taken at `t` is measured as soon as any control succeeds at or after
/// `t`, and unmeasured once every control has failed at or after `t` with no success; until
/// then its verdict waits. A vantage with no controls measures everything.
#[derive(Clone, Debug, Default)]
pub struct Judge {
    controls: BTreeMap<String, ControlState>,
}

#[derive(Clone, Copy, Debug, Default)]
struct ControlState {
    last_at_ms: Option<i64>,
    last_ok_at_ms: Option<i64>,
    last_ok: bool,
}

/// A [`Judge`]'s answer for one result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Measured,
    Unmeasured,
    /// Not yet known: wait for the controls' next results.
    Wait,
}

impl Judge {
    pub fn new<I: IntoIterator<Item = String>>(controls: I) -> Self {
        Judge {
            controls: controls
                .into_iter()
                .map(|c| (c, ControlState::default()))
                .collect(),
        }
    }

    pub fn is_control(&self, name: &str) -> bool {
        self.controls.contains_key(name)
    }

    pub fn has_controls(&self) -> bool {
        !self.controls.is_empty()
    }

    /// Takes a control's result (probe started at `at_ms`; `ok` when it got through,
    /// even if slowly).
    pub fn control(&mut self, name: &str, at_ms: i64, ok: bool) {
        if let Some(c) = self.controls.get_mut(name) {
            if c.last_at_ms.is_none_or(|a| at_ms >= a) {
                c.last_at_ms = Some(at_ms);
                c.last_ok = ok;
            }
            if ok {
                c.last_ok_at_ms = Some(c.last_ok_at_ms.map_or(at_ms, |a| a.max(at_ms)));
            }
        }
    }

    /// The verdict on a result taken at `at_ms` that `failed` (or not).
    pub fn verdict(&self, at_ms: i64, failed: bool) -> Verdict {
        if !failed || self.controls.is_empty() {
            return Verdict::Measured;
        }
        if self
            .controls
            .values()
            .any(|c| c.last_ok_at_ms.is_some_and(|a| a >= at_ms))
        {
            return Verdict::Measured;
        }
        if self
            .controls
            .values()
            .all(|c| c.last_at_ms.is_some_and(|a| a >= at_ms))
        {
            return Verdict::Unmeasured;
        }
        Verdict::Wait
    }

    /// `Some(false)` when every control's latest result failed, `Some(true)` when one got
    /// through, `None` without controls or before they all reported.
    pub fn healthy(&self) -> Option<bool> {
        if self.controls.is_empty() || self.controls.values().any(|c| c.last_at_ms.is_none()) {
            return self
                .controls
                .values()
                .any(|c| c.last_ok && c.last_at_ms.is_some())
                .then_some(true);
        }
        Some(self.controls.values().any(|c| c.last_ok))
    }
}

/// The clock offset and round-trip delay from one request, the way NTP computes them:
/// `t1` request sent (client clock), `t2` received and `t3` answered (server clock), `t4`
/// answer received (client clock). The offset is what to add to the client's clock to get
/// the server's; its error is at most half the delay.
pub fn clock_offset(t1: i64, t2: i64, t3: i64, t4: i64) -> (i64, i64) {
    let offset = ((t2 - t1) + (t3 - t4)) / 2;
    let delay = (t4 - t1) - (t3 - t2);
    (offset, delay.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::ErrorClass;

    const TH: Thresholds = Thresholds {
        failure: 2,
        success: 2,
    };

    /// Feeds a script where each step is `vantage:char` (`u` up, `d` degraded, `x` down,
    /// `m` down while unmeasured), steps 1 s apart; returns the changes and the status
    /// after each step.
    fn run(quorum: Quorum, script: &[&str]) -> (Vec<Change>, Vec<Status>) {
        let mut c = Combined::new(TH, quorum, 60_000);
        let mut changes = Vec::new();
        let mut states = Vec::new();
        for (i, step) in script.iter().enumerate() {
            let (v, ch) = step.split_once(':').unwrap();
            let health = match ch {
                "u" => Health::Up,
                "d" => Health::Degraded,
                "x" | "m" => Health::Down,
                _ => panic!("bad step"),
            };
            let r = Observed {
                result_id: i as i64,
                at_ms: i as i64 * 1000,
                health,
                cause: (health != Health::Up).then(|| Cause {
                    class: ErrorClass::Connect,
                    detail: format!("{v} {i}"),
                }),
            };
            changes.extend(c.observe(v, &r, ch == "m"));
            states.push(c.status());
        }
        (changes, states)
    }

    #[test]
    fn one_vantage_with_quorum_one_behaves_like_a_plain_tracker() {
        let (changes, states) = run(Quorum::Count(1), &["a:u", "a:x", "a:x", "a:u", "a:u"]);
        assert_eq!(changes.len(), 2);
        assert!(matches!(
            &changes[0],
            Change::Opened { started_at_ms: 1000, severity: Health::Down, evidence, .. } if evidence == &vec![1, 2]
        ));
        assert!(matches!(
            &changes[1],
            Change::Resolved { resolved_at_ms: 3000, evidence, .. } if evidence == &vec![3, 4]
        ));
        assert_eq!(
            states,
            vec![
                Status::Up,
                Status::Failing,
                Status::Down,
                Status::Down,
                Status::Up
            ],
            "like the plain tracker: one failure below the threshold changes nothing"
        );
    }

    #[test]
    fn one_of_three_failing_is_regional_not_an_incident() {
        let script = [
            "a:u", "b:u", "c:u", "a:x", "b:u", "c:u", "a:x", "b:u", "c:u",
        ];
        let (changes, states) = run(Quorum::Count(2), &script);
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(*states.last().unwrap(), Status::Degraded);
        let mut c = Combined::new(TH, Quorum::Count(2), 60_000);
        for (i, s) in script.iter().enumerate() {
            let (v, ch) = s.split_once(':').unwrap();
            let health = if ch == "x" { Health::Down } else { Health::Up };
            c.observe(
                v,
                &Observed {
                    result_id: i as i64,
                    at_ms: i as i64 * 1000,
                    health,
                    cause: None,
                },
                false,
            );
        }
        assert_eq!(c.regional(), vec!["a".to_string()]);
        let seen = c.seen();
        assert_eq!(seen[0].status, VantageStatus::Down);
        assert_eq!(seen[0].failing_since_ms, Some(3000));
        assert_eq!(seen[1].status, VantageStatus::Up);
    }

    #[test]
    fn two_of_three_failing_open_at_the_second_start_and_record_who_saw_what() {
        let script = [
            "a:u", "b:u", "c:u", // all up
            "a:x", "b:u", "c:u", // a fails from 3 s
            "a:x", "b:x", "c:u", // a open (regional), b fails from 7 s
            "a:x", "b:x", "c:u", // b open: quorum 2 met
            "a:u", "b:u", "c:u", "a:u", "b:u", // recover
        ];
        let (changes, states) = run(Quorum::Count(2), &script);
        assert_eq!(changes.len(), 2, "{changes:?}");
        match &changes[0] {
            Change::Opened {
                started_at_ms,
                severity,
                evidence,
                seen,
                cause,
            } => {
                assert_eq!(*started_at_ms, 7000, "the second vantage's first failure");
                assert_eq!(*severity, Health::Down);
                assert_eq!(evidence, &vec![3, 6, 7, 10]);
                assert_eq!(cause.detail, "a 3", "the earliest failure's cause");
                let failing: Vec<&str> = seen
                    .iter()
                    .filter(|s| s.failing())
                    .map(|s| s.vantage.as_str())
                    .collect();
                assert_eq!(failing, vec!["a", "b"]);
                assert_eq!(seen[2].status, VantageStatus::Up);
            }
            other => panic!("{other:?}"),
        }
        // a recovers first (at 12 s, confirmed at 15 s): one failing left, below quorum.
        match &changes[1] {
            Change::Resolved {
                resolved_at_ms,
                evidence,
                ..
            } => {
                assert_eq!(*resolved_at_ms, 12_000);
                assert_eq!(evidence, &vec![12, 15]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(states[6], Status::Degraded, "a alone: regional");
        assert_eq!(states[10], Status::Down);
        assert_eq!(*states.last().unwrap(), Status::Up);
    }

    #[test]
    fn majority_counts_the_vantages_that_report() {
        // Two vantages: majority is 2.
        let (changes, _) = run(Quorum::Majority, &["a:u", "b:u", "a:x", "a:x", "b:u"]);
        assert!(changes.is_empty());
        let (changes, _) = run(
            Quorum::Majority,
            &["a:u", "b:u", "a:x", "b:x", "a:x", "b:x"],
        );
        assert!(matches!(changes[0], Change::Opened { .. }));
        assert_eq!(Quorum::Majority.needed(3), 2);
        assert_eq!(Quorum::Majority.needed(4), 3);
        assert_eq!(Quorum::Majority.needed(0), 1);
        assert_eq!(Quorum::parse("majority"), Ok(Quorum::Majority));
        assert_eq!(Quorum::parse("2"), Ok(Quorum::Count(2)));
        assert!(Quorum::parse("0").unwrap_err().contains("majority"));
        assert!(Quorum::parse("most").is_err());
    }

    #[test]
    fn an_unmeasured_vantage_never_counts_and_never_opens() {
        let (changes, states) = run(
            Quorum::Count(1),
            &["a:u", "a:m", "a:m", "a:m", "a:m", "a:u"],
        );
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(states[3], Status::Unknown, "no counted vantage");
        assert_eq!(states[5], Status::Up);
        // A failing vantage turning unmeasured drops out of the count; it takes another
        // vantage's failure to reach the quorum, and its earlier streak is forgotten.
        let (changes, _) = run(
            Quorum::Count(2),
            &["a:x", "a:x", "a:m", "b:x", "b:x", "a:x", "a:x"],
        );
        assert_eq!(changes.len(), 1);
        assert!(matches!(
            changes[0],
            Change::Opened {
                started_at_ms: 5000,
                ..
            }
        ));
    }

    #[test]
    fn silence_does_not_resolve_but_a_stale_vantage_stops_counting() {
        let mut c = Combined::new(TH, Quorum::Count(1), 10_000);
        let obs = |id: i64, at: i64, h: Health| Observed {
            result_id: id,
            at_ms: at,
            health: h,
            cause: None,
        };
        c.observe("a", &obs(1, 0, Health::Down), false);
        assert!(matches!(
            c.observe("a", &obs(2, 1000, Health::Down), false),
            Some(Change::Opened { .. })
        ));
        // a falls silent; b reports up for a long time: no recovery evidence from a.
        for i in 0..30 {
            assert_eq!(
                c.observe("b", &obs(10 + i, 2000 + i * 1000, Health::Up), false),
                None
            );
        }
        assert!(c.open_incident().is_some());
        assert_eq!(c.seen()[0].status, VantageStatus::Stale);
        // a comes back and recovers: resolved at its first success.
        c.observe("a", &obs(100, 40_000, Health::Up), false);
        assert!(matches!(
            c.observe("a", &obs(101, 41_000, Health::Up), false),
            Some(Change::Resolved {
                resolved_at_ms: 40_000,
                ..
            })
        ));
    }

    #[test]
    fn severity_is_what_a_quorum_shares_and_escalates_when_it_grows() {
        let (changes, _) = run(
            Quorum::Count(2),
            &["a:x", "b:d", "a:x", "b:d", "b:x", "b:x"],
        );
        assert!(matches!(
            changes[0],
            Change::Opened {
                severity: Health::Degraded,
                ..
            }
        ));
        assert!(matches!(
            changes[1],
            Change::Escalated {
                severity: Health::Down,
                result_id: 4
            }
        ));
    }

    #[test]
    fn resumed_incident_resolves_on_recovery() {
        let open = OpenIncident {
            started_at_ms: 0,
            severity: Health::Down,
            cause: Cause {
                class: ErrorClass::Connect,
                detail: "x".into(),
            },
        };
        let mut c = Combined::resume(TH, Quorum::Count(1), 60_000, open, &[("local".into(), 0)]);
        assert_eq!(c.status(), Status::Down);
        let up = |id, at| Observed {
            result_id: id,
            at_ms: at,
            health: Health::Up,
            cause: None,
        };
        assert_eq!(c.observe("local", &up(1, 5000), false), None);
        assert!(matches!(
            c.observe("local", &up(2, 6000), false),
            Some(Change::Resolved {
                resolved_at_ms: 5000,
                ..
            })
        ));
    }

    #[test]
    fn judge_waits_for_controls_and_trusts_successes() {
        let mut j = Judge::new(["g".to_string(), "c".to_string()]);
        assert_eq!(j.verdict(1000, false), Verdict::Measured);
        assert_eq!(j.verdict(1000, true), Verdict::Wait);
        j.control("g", 1500, false);
        assert_eq!(j.verdict(1000, true), Verdict::Wait, "c has not reported");
        j.control("c", 1600, false);
        assert_eq!(j.verdict(1000, true), Verdict::Unmeasured);
        assert_eq!(j.healthy(), Some(false));
        j.control("c", 2000, true);
        assert_eq!(j.verdict(1000, true), Verdict::Measured);
        assert_eq!(j.verdict(2500, true), Verdict::Wait);
        assert_eq!(j.healthy(), Some(true));
        // An older control result does not replace a newer one.
        j.control("c", 1000, false);
        assert_eq!(j.healthy(), Some(true));
        let none = Judge::new(Vec::<String>::new());
        assert_eq!(none.verdict(0, true), Verdict::Measured);
        assert_eq!(none.healthy(), None);
    }

    #[test]
    fn clock_offset_like_ntp() {
        // Client 5 s behind the server, 40 ms each way, 10 ms of server work.
        let (offset, delay) = clock_offset(1_000, 6_040, 6_050, 1_090);
        assert_eq!(offset, 5_000);
        assert_eq!(delay, 80);
        let (offset, _) = clock_offset(10_000, 7_020, 7_020, 10_040);
        assert_eq!(offset, -3_000);
    }
}
