//! Turning a target's stream of results into observed incidents.
//!
//! A target is `unknown` until its first result. It turns `down` (or `degraded`) after
//! `failure_threshold` failing results in a row and back to `up` after `success_threshold`
//! successes in a row; between, it keeps its state, so one bad result never flaps it.
//!
//! An incident starts at the first failing result of the streak that opened it and ends at
//! the first successful result of the streak that closed it. Its cause is the cause of that
//! first failing result; its severity is the worst health seen while it was open.

use crate::result::{Cause, Health};
use serde::{Deserialize, Serialize};

/// A target's state as shown to users.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Up,
    Down,
    Degraded,
    Unknown,
    /// Failing, but fewer times in a row than the failure threshold: no incident yet.
    Failing,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
            Status::Degraded => "degraded",
            Status::Unknown => "unknown",
            Status::Failing => "failing",
        }
    }
    fn of(h: Health) -> Status {
        match h {
            Health::Up => Status::Up,
            Health::Degraded => Status::Degraded,
            Health::Down => Status::Down,
        }
    }
}

/// Thresholds from the target's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    pub failure: u32,
    pub success: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            failure: 3,
            success: 2,
        }
    }
}

/// One result as the tracker sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub result_id: i64,
    pub at_ms: i64,
    pub health: Health,
    pub cause: Option<Cause>,
}

/// An incident that is open.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenIncident {
    pub started_at_ms: i64,
    pub severity: Health,
    pub cause: Cause,
}

/// What a result changed.
#[derive(Clone, Debug, PartialEq)]
pub enum Transition {
    /// An incident opened; `evidence` lists the failing results that proved it.
    Opened {
        started_at_ms: i64,
        severity: Health,
        cause: Cause,
        evidence: Vec<i64>,
    },
    /// The open incident got worse (degraded → down).
    Escalated { severity: Health, result_id: i64 },
    /// The open incident ended; `evidence` lists the successes that proved recovery.
    Resolved {
        resolved_at_ms: i64,
        evidence: Vec<i64>,
    },
}

/// The per-target state machine. Feed it results in time order.
#[derive(Clone, Debug)]
pub struct Tracker {
    thresholds: Thresholds,
    status: Status,
    open: Option<OpenIncident>,
    /// The current run of failing (or, while open, succeeding) results.
    streak: Vec<(i64, i64)>,
    streak_health: Health,
    streak_cause: Option<Cause>,
}

impl Tracker {
    pub fn new(thresholds: Thresholds) -> Self {
        let thresholds = Thresholds {
            failure: thresholds.failure.max(1),
            success: thresholds.success.max(1),
        };
        Tracker {
            thresholds,
            status: Status::Unknown,
            open: None,
            streak: Vec::new(),
            streak_health: Health::Up,
            streak_cause: None,
        }
    }

    /// A tracker for a target whose incident was open when the process last stopped.
    pub fn resume(thresholds: Thresholds, open: OpenIncident) -> Self {
        let mut t = Tracker::new(thresholds);
        t.status = Status::of(open.severity);
        t.open = Some(open);
        t
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn open_incident(&self) -> Option<&OpenIncident> {
        self.open.as_ref()
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Updates thresholds (after a configuration change) without losing state.
    pub fn set_thresholds(&mut self, t: Thresholds) {
        self.thresholds = Thresholds {
            failure: t.failure.max(1),
            success: t.success.max(1),
        };
    }

    /// Takes one result; returns what it changed, if anything.
    pub fn observe(&mut self, r: &Observed) -> Option<Transition> {
        let failing = r.health != Health::Up;
        match (&mut self.open, failing) {
            (None, false) => {
                self.streak.clear();
                self.status = Status::Up;
                None
            }
            (None, true) => {
                if self.streak.is_empty() {
                    self.streak_health = r.health;
                    self.streak_cause = r.cause.clone();
                }
                self.streak_health = self.streak_health.max(r.health);
                self.streak.push((r.result_id, r.at_ms));
                if self.streak.len() < self.thresholds.failure as usize {
                    self.status = Status::Failing;
                    return None;
                }
                let started_at_ms = self.streak[0].1;
                let cause = self.streak_cause.take().unwrap_or(Cause {
                    class: crate::result::ErrorClass::Condition,
                    detail: "failed".into(),
                });
                let evidence = self.streak.drain(..).map(|(id, _)| id).collect();
                self.open = Some(OpenIncident {
                    started_at_ms,
                    severity: self.streak_health,
                    cause: cause.clone(),
                });
                self.status = Status::of(r.health);
                Some(Transition::Opened {
                    started_at_ms,
                    severity: self.streak_health,
                    cause,
                    evidence,
                })
            }
            (Some(open), true) => {
                self.streak.clear();
                self.status = Status::of(r.health);
                if r.health > open.severity {
                    open.severity = r.health;
                    return Some(Transition::Escalated {
                        severity: r.health,
                        result_id: r.result_id,
                    });
                }
                None
            }
            (Some(_), false) => {
                self.streak.push((r.result_id, r.at_ms));
                if self.streak.len() < self.thresholds.success as usize {
                    return None;
                }
                let resolved_at_ms = self.streak[0].1;
                let evidence = self.streak.drain(..).map(|(id, _)| id).collect();
                self.open = None;
                self.status = Status::Up;
                Some(Transition::Resolved {
                    resolved_at_ms,
                    evidence,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::ErrorClass;

    /// Runs a script of results (`u` up, `d` degraded, `x` down) one second apart and
    /// returns the status after each result plus every transition.
    fn run(thresholds: (u32, u32), script: &str) -> (String, Vec<Transition>) {
        let mut t = Tracker::new(Thresholds {
            failure: thresholds.0,
            success: thresholds.1,
        });
        let mut states = String::new();
        let mut transitions = Vec::new();
        for (i, ch) in script.chars().enumerate() {
            let health = match ch {
                'u' => Health::Up,
                'd' => Health::Degraded,
                'x' => Health::Down,
                _ => panic!("bad script"),
            };
            let cause = (health != Health::Up).then(|| Cause {
                class: if health == Health::Down {
                    ErrorClass::Connect
                } else {
                    ErrorClass::Condition
                },
                detail: format!("result {i}"),
            });
            let r = Observed {
                result_id: i as i64,
                at_ms: i as i64 * 1000,
                health,
                cause,
            };
            transitions.extend(t.observe(&r));
            states.push(match t.status() {
                Status::Up => 'U',
                Status::Down => 'X',
                Status::Degraded => 'D',
                Status::Unknown => '?',
                Status::Failing => 'f',
            });
        }
        (states, transitions)
    }

    #[test]
    fn opens_after_threshold_and_starts_at_first_failure() {
        let (states, tr) = run((3, 2), "uuxxxxuuu");
        // Failing below the threshold says so (f), with no incident until the third.
        assert_eq!(states, "UUffXXXUU");
        assert_eq!(
            tr,
            vec![
                Transition::Opened {
                    started_at_ms: 2000,
                    severity: Health::Down,
                    cause: Cause {
                        class: ErrorClass::Connect,
                        detail: "result 2".into()
                    },
                    evidence: vec![2, 3, 4],
                },
                Transition::Resolved {
                    resolved_at_ms: 6000,
                    evidence: vec![6, 7]
                },
            ]
        );
    }

    #[test]
    fn does_not_flap_on_isolated_failures_or_successes() {
        let (states, tr) = run((3, 2), "uxxuxxuxxu");
        // Isolated failures show as failing, and never open an incident.
        assert_eq!(states, "UffUffUffU");
        assert!(tr.is_empty());
        let (states, tr) = run((2, 3), "xxuxuxuuu");
        assert_eq!(states, "fXXXXXXXU");
        assert_eq!(tr.len(), 2);
        assert!(matches!(
            tr[1],
            Transition::Resolved {
                resolved_at_ms: 6000,
                ..
            }
        ));
    }

    #[test]
    fn degraded_escalates_to_down_within_one_incident() {
        let (states, tr) = run((2, 1), "dddxxdu");
        assert_eq!(states, "fDDXXDU");
        assert!(matches!(
            tr[0],
            Transition::Opened {
                severity: Health::Degraded,
                started_at_ms: 0,
                ..
            }
        ));
        assert!(matches!(
            tr[1],
            Transition::Escalated {
                severity: Health::Down,
                result_id: 3
            }
        ));
        assert!(matches!(
            tr[2],
            Transition::Resolved {
                resolved_at_ms: 6000,
                ..
            }
        ));
        assert_eq!(tr.len(), 3);
    }

    #[test]
    fn a_streak_mixing_degraded_and_down_opens_with_the_worst() {
        let (_, tr) = run((3, 1), "dxd");
        assert!(matches!(
            &tr[0],
            Transition::Opened { severity: Health::Down, cause, .. } if cause.class == ErrorClass::Condition
        ));
    }

    #[test]
    fn resumed_tracker_keeps_the_incident_open() {
        let open = OpenIncident {
            started_at_ms: 5,
            severity: Health::Down,
            cause: Cause {
                class: ErrorClass::Timeout,
                detail: "t".into(),
            },
        };
        let mut t = Tracker::resume(
            Thresholds {
                failure: 3,
                success: 2,
            },
            open,
        );
        assert_eq!(t.status(), Status::Down);
        let ok = |id| Observed {
            result_id: id,
            at_ms: id * 10,
            health: Health::Up,
            cause: None,
        };
        assert_eq!(t.observe(&ok(1)), None);
        assert_eq!(
            t.observe(&ok(2)),
            Some(Transition::Resolved {
                resolved_at_ms: 10,
                evidence: vec![1, 2]
            })
        );
    }

    proptest::proptest! {
        /// Whatever the sequence, incidents alternate open/resolved, each opening needs
        /// `failure` consecutive failures and starts no later than the result that opened it.
        #[test]
        fn transitions_are_well_formed(script in "[uxd]{0,60}", f in 1u32..5, s in 1u32..5) {
            let (_, tr) = run((f, s), &script);
            let mut open = false;
            for t in &tr {
                match t {
                    Transition::Opened { evidence, .. } => {
                        proptest::prop_assert!(!open);
                        proptest::prop_assert_eq!(evidence.len(), f as usize);
                        open = true;
                    }
                    Transition::Resolved { evidence, .. } => {
                        proptest::prop_assert!(open);
                        proptest::prop_assert_eq!(evidence.len(), s as usize);
                        open = false;
                    }
                    Transition::Escalated { .. } => proptest::prop_assert!(open),
                }
            }
            // An all-up script never opens anything.
            if !script.contains(['x', 'd']) {
                proptest::prop_assert!(tr.is_empty());
            }
        }
    }
}
