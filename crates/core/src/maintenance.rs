//! Maintenance windows: fixed or recurring spans of time during which alerts are silenced
//! and SLA accounting may leave the time out. Pure: instants are Unix milliseconds.

/// One window: from `start_ms`, lasting `duration_ms`, repeating every `every_ms` if set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub duration_ms: i64,
    pub every_ms: Option<i64>,
}

impl Window {
    /// Whether `t` falls in an occurrence (start inclusive, end exclusive).
    pub fn active_at(&self, t: i64) -> bool {
        if t < self.start_ms {
            return false;
        }
        let offset = match self.every_ms {
            Some(every) if every > 0 => (t - self.start_ms).rem_euclid(every),
            _ => t - self.start_ms,
        };
        offset < self.duration_ms
    }

    /// The occurrences that overlap `[from, to)`, clipped to it.
    pub fn spans_within(&self, from: i64, to: i64) -> Vec<(i64, i64)> {
        let clip = |s: i64| (s.max(from), (s + self.duration_ms).min(to));
        match self.every_ms {
            Some(every) if every > 0 => {
                // The first occurrence that can reach `from`.
                let k = ((from - self.start_ms - self.duration_ms).div_euclid(every) + 1).max(0);
                let mut out = Vec::new();
                let mut s = self.start_ms + k * every;
                while s < to {
                    let (a, b) = clip(s);
                    if b > a {
                        out.push((a, b));
                    }
                    s += every;
                }
                out
            }
            _ => {
                let (a, b) = clip(self.start_ms);
                if b > a { vec![(a, b)] } else { Vec::new() }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H: i64 = 3_600_000;

    #[test]
    fn fixed_and_weekly() {
        let fixed = Window {
            start_ms: 10 * H,
            duration_ms: 2 * H,
            every_ms: None,
        };
        assert!(!fixed.active_at(10 * H - 1));
        assert!(fixed.active_at(10 * H));
        assert!(!fixed.active_at(12 * H));
        assert_eq!(fixed.spans_within(0, 11 * H), vec![(10 * H, 11 * H)]);
        assert!(fixed.spans_within(13 * H, 20 * H).is_empty());
        let weekly = Window {
            start_ms: 2 * H,
            duration_ms: 2 * H,
            every_ms: Some(168 * H),
        };
        assert!(weekly.active_at(168 * H + 3 * H));
        assert!(!weekly.active_at(168 * H + 5 * H));
        assert_eq!(
            weekly.spans_within(0, 400 * H),
            vec![(2 * H, 4 * H), (170 * H, 172 * H), (338 * H, 340 * H)]
        );
        assert_eq!(
            weekly.spans_within(171 * H, 172 * H),
            vec![(171 * H, 172 * H)]
        );
    }

    proptest! {
        #[test]
        fn spans_agree_with_active_at(
            start in 0i64..1_000, dur in 1i64..50, every in prop::option::of(51i64..200),
            from in 0i64..2_000, len in 1i64..500, t in 0i64..2_500,
        ) {
            let w = Window { start_ms: start, duration_ms: dur, every_ms: every };
            let spans = w.spans_within(from, from + len);
            let inside = spans.iter().any(|&(a, b)| a <= t && t < b);
            let expected = (from..from + len).contains(&t) && w.active_at(t);
            prop_assert_eq!(inside, expected);
        }
    }
}
