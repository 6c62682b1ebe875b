//! A mergeable latency sketch: log-spaced buckets with a guaranteed relative error, in the
//! manner of DDSketch. Per-minute rollups keep one, and any span of minutes merges into a
//! sketch that answers p50/p95/p99 within 2% of the true value.

use std::collections::BTreeMap;

/// Bucket growth factor: quantiles are within `(GAMMA - 1) / (GAMMA + 1)` (≈2%) relative error.
const GAMMA: f64 = 1.04;
/// Values are bucketed in microseconds; anything below 1 µs falls in bucket 0.
const UNIT_PER_MS: f64 = 1000.0;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sketch {
    buckets: BTreeMap<u16, u64>,
    count: u64,
}

impl Sketch {
    pub fn new() -> Self {
        Self::default()
    }

    fn index(ms: f64) -> u16 {
        let us = (ms * UNIT_PER_MS).max(1.0);
        (us.ln() / GAMMA.ln())
            .ceil()
            .clamp(0.0, f64::from(u16::MAX)) as u16
    }

    /// The representative value of a bucket, in milliseconds.
    fn value(index: u16) -> f64 {
        let upper = GAMMA.powi(i32::from(index));
        2.0 * upper / (1.0 + GAMMA) / UNIT_PER_MS
    }

    pub fn insert(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        *self.buckets.entry(Self::index(ms)).or_default() += 1;
        self.count += 1;
    }

    pub fn merge(&mut self, other: &Sketch) {
        for (i, c) in &other.buckets {
            *self.buckets.entry(*i).or_default() += c;
        }
        self.count += other.count;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// How many values are at most `ms`, to the sketch's 2%: values in the bucket that holds
    /// `ms` count as at most it.
    pub fn count_at_most(&self, ms: f64) -> u64 {
        let limit = Self::index(ms.max(0.0));
        self.buckets.range(..=limit).map(|(_, c)| c).sum()
    }

    /// The q-quantile (0..=1) in milliseconds, or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.count - 1) as f64).floor() as u64;
        let mut seen = 0;
        for (i, c) in &self.buckets {
            seen += c;
            if seen > rank {
                return Some(Self::value(*i));
            }
        }
        self.buckets.keys().last().map(|i| Self::value(*i))
    }

    /// Compact text form: `index:count` pairs separated by commas.
    pub fn encode(&self) -> String {
        let mut s = String::with_capacity(self.buckets.len() * 8);
        for (n, (i, c)) in self.buckets.iter().enumerate() {
            if n > 0 {
                s.push(',');
            }
            s.push_str(&i.to_string());
            s.push(':');
            s.push_str(&c.to_string());
        }
        s
    }

    /// Reads [`Sketch::encode`]'s form; `None` if it is malformed.
    pub fn decode(s: &str) -> Option<Sketch> {
        let mut sk = Sketch::new();
        if s.is_empty() {
            return Some(sk);
        }
        for pair in s.split(',') {
            let (i, c) = pair.split_once(':')?;
            let c: u64 = c.parse().ok()?;
            *sk.buckets.entry(i.parse().ok()?).or_default() += c;
            sk.count += c;
        }
        Some(sk)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn counting_below_a_threshold() {
        let mut s = Sketch::new();
        for ms in [1.0, 10.0, 100.0, 480.0, 520.0, 1000.0] {
            s.insert(ms);
        }
        assert_eq!(s.count_at_most(500.0), 4);
        assert_eq!(s.count_at_most(0.0), 0);
        assert_eq!(s.count_at_most(10_000.0), 6);
        // Within the sketch's 2%: 505 ms shares 500's bucket or the next.
        assert!(s.count_at_most(509.0) >= 4);
    }

    use super::*;

    #[test]
    fn empty_has_no_quantiles() {
        assert_eq!(Sketch::new().quantile(0.5), None);
    }

    #[test]
    fn encode_round_trips_and_rejects_garbage() {
        let mut s = Sketch::new();
        for v in [0.0, 0.5, 1.0, 12.5, 12.6, 3000.0] {
            s.insert(v);
        }
        assert_eq!(Sketch::decode(&s.encode()), Some(s));
        assert_eq!(Sketch::decode("1:x"), None);
        assert_eq!(Sketch::decode("nope"), None);
    }

    proptest::proptest! {
        #[test]
        fn quantiles_are_within_two_percent(mut values in proptest::collection::vec(0.01f64..100_000.0, 1..300), q in 0.0f64..1.0) {
            let mut s = Sketch::new();
            for v in &values { s.insert(*v); }
            values.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let exact = values[(q * (values.len() - 1) as f64).floor() as usize];
            let est = s.quantile(q).unwrap();
            proptest::prop_assert!((est - exact).abs() <= exact * 0.021, "q={} exact={} est={}", q, exact, est);
        }

        #[test]
        fn merge_equals_inserting_everything(a in proptest::collection::vec(0.0f64..1e5, 0..50), b in proptest::collection::vec(0.0f64..1e5, 0..50)) {
            let (mut sa, mut sb, mut all) = (Sketch::new(), Sketch::new(), Sketch::new());
            for v in &a { sa.insert(*v); all.insert(*v); }
            for v in &b { sb.insert(*v); all.insert(*v); }
            sa.merge(&sb);
            proptest::prop_assert_eq!(sa, all);
        }
    }
}
