//! The store's size by day: the notes the server makes, and the growth read from them.

use serde::Serialize;

/// The store's size on one UTC day: its latest sample that day.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DaySize {
    /// Midnight (UTC) that starts the day.
    pub day_ms: i64,
    /// When the size was sampled.
    pub at_ms: i64,
    pub bytes: u64,
}

/// How many bytes a day the store grew by, from the first to the last of `sizes` (in time
/// order), scaled to 24 hours; negative when it shrank (a vacuum). None until the samples
/// span a day: a shorter span would scale up one hour's burst. A pure function of the
/// samples, so `/metrics` and `probity store stats` agree on the same rows.
pub fn growth_per_day(sizes: &[DaySize]) -> Option<f64> {
    let (first, last) = (sizes.first()?, sizes.last()?);
    let span = last.at_ms - first.at_ms;
    (span >= DAY_MS).then(|| (last.bytes as f64 - first.bytes as f64) * DAY_MS as f64 / span as f64)
}

/// The growth per day that `/metrics` and `probity store stats` report: over the notes of
/// the last 7 days before `now_ms` (from the start of that day on), of `sizes` (in time
/// order, any span).
pub fn weekly_growth(sizes: &[DaySize], now_ms: i64) -> Option<f64> {
    let from = week_start(now_ms);
    let first = sizes.partition_point(|d| d.day_ms < from);
    growth_per_day(&sizes[first..])
}

/// The first day `weekly_growth` reads: what a caller fetches from.
pub fn week_start(now_ms: i64) -> i64 {
    (now_ms - 7 * DAY_MS).div_euclid(DAY_MS) * DAY_MS
}

/// A UTC day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn size(at_ms: i64, bytes: u64) -> DaySize {
        DaySize {
            day_ms: at_ms.div_euclid(DAY_MS) * DAY_MS,
            at_ms,
            bytes,
        }
    }

    #[test]
    fn growth_is_first_to_last_scaled_to_a_day_once_a_day_is_spanned() {
        assert_eq!(growth_per_day(&[]), None);
        assert_eq!(growth_per_day(&[size(0, 5)]), None);
        // Less than a day: an hour's burst is not a day's rate.
        assert_eq!(growth_per_day(&[size(0, 0), size(DAY_MS - 1, 100)]), None);
        assert_eq!(
            growth_per_day(&[size(0, 0), size(DAY_MS, 100)]),
            Some(100.0)
        );
        // Middle samples do not count; a day and a half scales down.
        assert_eq!(
            growth_per_day(&[size(0, 1000), size(DAY_MS, 0), size(3 * DAY_MS / 2, 1600)]),
            Some(400.0)
        );
        // The week's growth leaves out older notes.
        let notes = [size(0, 0), size(5 * DAY_MS, 100), size(7 * DAY_MS, 300)];
        assert_eq!(weekly_growth(&notes, 8 * DAY_MS), Some(100.0));
        assert_eq!(weekly_growth(&notes, 13 * DAY_MS), None);
        assert_eq!(week_start(8 * DAY_MS + 5), DAY_MS);
        // Shrinking (a vacuum) is negative.
        assert_eq!(
            growth_per_day(&[size(0, 3000), size(2 * DAY_MS, 1000)]),
            Some(-1000.0)
        );
    }
}
