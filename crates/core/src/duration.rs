//! Humane durations for configuration: `250ms`, `30s`, `5m`, `1h30m`, `14d`.
//!
//! A day is exactly 24 hours here: configuration durations are elapsed time, never calendar
//! arithmetic (SLA months are handled where calendars matter).

use std::fmt;

/// A non-negative elapsed duration with millisecond resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration {
    ms: u64,
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration; write a number and a unit such as `30s`, `5m` or `14d`")]
    Empty,
    #[error("`{0}` has a number without a unit; write e.g. `{0}s` or `{0}ms`")]
    MissingUnit(String),
    #[error("unknown unit `{unit}` in `{input}`; use ms, s, m, h or d")]
    UnknownUnit { unit: String, input: String },
    #[error("`{0}` is not a duration; write a number and a unit such as `30s`, `5m` or `14d`")]
    Malformed(String),
    #[error("`{0}` is too long a duration")]
    Overflow(String),
}

impl HumanDuration {
    pub const fn from_millis(ms: u64) -> Self {
        Self { ms }
    }
    pub const fn from_secs(s: u64) -> Self {
        Self { ms: s * 1000 }
    }
    pub const fn as_millis(self) -> u64 {
        self.ms
    }
    pub fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.ms)
    }

    /// Parses `250ms`, `30s`, `5m`, `2h`, `14d` and sums such as `1h30m`.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DurationError::Empty);
        }
        let mut total: u64 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(DurationError::Malformed(s.to_string()));
            }
            let n: u64 = rest[..digits]
                .parse()
                .map_err(|_| DurationError::Overflow(s.to_string()))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let unit = rest[..unit_len].trim();
            rest = &rest[unit_len..];
            let factor = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                "" => return Err(DurationError::MissingUnit(s.to_string())),
                other => {
                    return Err(DurationError::UnknownUnit {
                        unit: other.to_string(),
                        input: s.to_string(),
                    });
                }
            };
            let part = n
                .checked_mul(factor)
                .ok_or_else(|| DurationError::Overflow(s.to_string()))?;
            total = total
                .checked_add(part)
                .ok_or_else(|| DurationError::Overflow(s.to_string()))?;
        }
        Ok(Self { ms: total })
    }
}

impl fmt::Display for HumanDuration {
    /// The shortest exact form: `30s`, `5m`, `1h30m`, `250ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ms == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.ms;
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if rest >= size {
                write!(f, "{}{unit}", rest / size)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for HumanDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> serde::Deserialize<'de> for HumanDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\", \"5m\" or \"14d\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                HumanDuration::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                Err(E::custom(DurationError::MissingUnit(v.to_string())))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<HumanDuration, E> {
                Err(E::custom(DurationError::MissingUnit(v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

impl serde::Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, ms: u64) {
        assert_eq!(
            HumanDuration::parse(input),
            Ok(HumanDuration::from_millis(ms)),
            "{input}"
        );
    }

    #[test]
    fn parses_units_and_sums() {
        check("250ms", 250);
        check("30s", 30_000);
        check("5m", 300_000);
        check("2h", 7_200_000);
        check("14d", 14 * 86_400_000);
        check("1h30m", 5_400_000);
        check("1m 30s", 90_000);
        check("0s", 0);
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        assert_eq!(HumanDuration::parse(""), Err(DurationError::Empty));
        assert_eq!(
            HumanDuration::parse("30"),
            Err(DurationError::MissingUnit("30".into()))
        );
        assert!(matches!(
            HumanDuration::parse("5x"),
            Err(DurationError::UnknownUnit { .. })
        ));
        assert!(matches!(
            HumanDuration::parse("-5s"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            HumanDuration::parse("ms"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            HumanDuration::parse("99999999999999999999d"),
            Err(DurationError::Overflow(_))
        ));
    }

    #[test]
    fn display_round_trips() {
        for ms in [
            0,
            1,
            999,
            1000,
            90_000,
            5_400_000,
            86_400_000 + 1,
            14 * 86_400_000,
        ] {
            let d = HumanDuration::from_millis(ms);
            assert_eq!(HumanDuration::parse(&d.to_string()), Ok(d), "{d}");
        }
        assert_eq!(HumanDuration::from_millis(5_400_000).to_string(), "1h30m");
    }
}
