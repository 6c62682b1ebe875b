//! Compact chunks of stored results: one target's results from one vantage, in the order
//! they were measured, coded in a few bytes each (issue "cost at scale", goal 1).
//!
//! A stored result row is about 64 bytes in SQLite before its indexes; most of it repeats
//! the previous result of the same target (its name, its vantage, its error text) or
//! differs from it by little (its id, its time, its phase times). A chunk keeps only the
//! differences:
//!
//! - ids and times as the change of their step (delta of delta), zigzag varints: a target
//!   probed every 10 s with a few ms of jitter costs a byte for its time;
//! - the evidence leaf that recorded the result, as the change from the previous row's
//!   (a byte or two: the store rebuilds a leaf's record from the rows that name it);
//! - phase times in whole microseconds as the change from the previous result's same phase
//!   (zigzag varint, the low bit 0); a time that is not a whole number of microseconds is
//!   kept as its 8 bytes (low bit 1), so any `f64` comes back bit for bit;
//! - texts (health, error class, error, details, origin) from a dictionary kept once per
//!   chunk; a result whose texts are those of the previous result says so in one bit.
//!
//! Decoding gives back exactly what was encoded (tested with random rows, unicode texts,
//! missing phases, raw floats and extreme values); the evidence record of a result, rebuilt
//! from its decoded fields, is therefore byte for byte the record that was hashed.
//!
//! The format, version 1 (`v` is an unsigned LEB128 varint, `z` a zigzag varint):
//!
//! ```text
//! chunk   = 0x01 v(rows) v(texts) text* row*
//! text    = v(len) utf8-bytes
//! row     = flags z(id dod) z(at dod) z(leaf delta) [labels] [agent] phase*
//! flags   : bit 0..4 dns, connect, tls, ttfb, total present; bit 5 unmeasured;
//!           bit 6 labels follow; bit 7 agent fields follow
//! labels  = v(health) v(error_class) v(error) v(details)      (text index + 1; 0 = none)
//! agent   = v(origin) v(clock_offset present) [z(clock_offset)]
//! phase   = v(z(µs delta) << 1) | v(1) f64-le                   (one per present phase)
//! ```
//!
//! The first row's deltas are from zero (its id and time in full).

/// One stored result as the store keeps its fields (texts as stored, phases in ms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub id: i64,
    pub at_ms: i64,
    /// The index of the evidence leaf whose record lists this result.
    pub leaf: i64,
    pub health: String,
    /// dns, connect, tls, ttfb, total (milliseconds).
    pub phases: [Option<f64>; 5],
    pub error_class: Option<String>,
    pub error: Option<String>,
    pub details: Option<String>,
    pub unmeasured: bool,
    pub origin: Option<String>,
    pub clock_offset_ms: Option<i64>,
}

/// Why a chunk does not decode (a damaged or foreign blob: never a panic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("result chunk: {0}")]
pub struct ChunkError(String);

fn bad(what: impl Into<String>) -> ChunkError {
    ChunkError(what.into())
}

const VERSION: u8 = 1;

/// The most rows a chunk may say it holds (a bound on what decoding allocates).
pub const MAX_ROWS: usize = 1 << 20;

/// A phase time in whole microseconds when `v` is exactly `µs / 1000` (a chunk then keeps
/// it in a couple of bytes; otherwise as its 8 bytes).
pub fn whole_micros(v: f64) -> Option<i64> {
    let m = (v * 1000.0).round();
    if !m.is_finite() || m.abs() > (1u64 << 53) as f64 {
        return None;
    }
    let m = m as i64;
    ((m as f64 / 1000.0).to_bits() == v.to_bits()).then_some(m)
}

/// Milliseconds as probity stores a measured duration: whole microseconds, so that a
/// chunk keeps them in a couple of bytes.
pub fn micros_to_ms(micros: u128) -> f64 {
    micros.min(1 << 53) as f64 / 1000.0
}

/// Rows equal field for field, phase times by their bits (a NaN is not equal to itself,
/// and `-0.0` is not `0.0` here): what "decodes to exactly its rows" means.
pub fn same_rows(a: &[Row], b: &[Row]) -> bool {
    let bits = |r: &Row| r.phases.map(|p| p.map(f64::to_bits));
    let plain = |r: &Row| Row {
        phases: [None; 5],
        ..r.clone()
    };
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| bits(x) == bits(y) && plain(x) == plain(y))
}

fn put_v(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zig(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzig(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// A chunk's texts, each once, numbered from 1 (0 is "none").
#[derive(Default)]
struct Dict<'a> {
    texts: Vec<&'a str>,
    index: std::collections::HashMap<&'a str, u64>,
}

impl<'a> Dict<'a> {
    fn idx(&mut self, s: Option<&'a str>) -> u64 {
        let Some(s) = s else { return 0 };
        let next = self.texts.len() as u64 + 1;
        *self.index.entry(s).or_insert_with(|| {
            self.texts.push(s);
            next
        })
    }
}

/// Encodes `rows` (one target, one vantage, in order) as one chunk.
pub fn encode(rows: &[Row]) -> Vec<u8> {
    let mut dict = Dict::default();
    // Rows first (into a body), as the dictionary is filled on the way.
    let mut body = Vec::with_capacity(rows.len() * 12);
    let (mut id, mut id_step, mut at, mut at_step) = (0i64, 0i64, 0i64, 0i64);
    let mut leaf = 0i64;
    let mut phase = [0i64; 5];
    let mut labels_of_previous: Option<[u64; 4]> = None;
    for r in rows {
        let labels = [
            dict.idx(Some(&r.health)),
            dict.idx(r.error_class.as_deref()),
            dict.idx(r.error.as_deref()),
            dict.idx(r.details.as_deref()),
        ];
        let agent = r.origin.is_some() || r.clock_offset_ms.is_some();
        let mut flags = 0u8;
        for (i, p) in r.phases.iter().enumerate() {
            if p.is_some() {
                flags |= 1 << i;
            }
        }
        if r.unmeasured {
            flags |= 1 << 5;
        }
        if labels_of_previous != Some(labels) {
            flags |= 1 << 6;
        }
        if agent {
            flags |= 1 << 7;
        }
        body.push(flags);
        let step = r.id.wrapping_sub(id);
        put_v(&mut body, zig(step.wrapping_sub(id_step)));
        (id, id_step) = (r.id, step);
        let step = r.at_ms.wrapping_sub(at);
        put_v(&mut body, zig(step.wrapping_sub(at_step)));
        (at, at_step) = (r.at_ms, step);
        put_v(&mut body, zig(r.leaf.wrapping_sub(leaf)));
        leaf = r.leaf;
        if flags & (1 << 6) != 0 {
            for l in labels {
                put_v(&mut body, l);
            }
            labels_of_previous = Some(labels);
        }
        if agent {
            put_v(&mut body, dict.idx(r.origin.as_deref()));
            match r.clock_offset_ms {
                Some(c) => {
                    put_v(&mut body, 1);
                    put_v(&mut body, zig(c));
                }
                None => put_v(&mut body, 0),
            }
        }
        for (i, p) in r.phases.iter().enumerate() {
            let Some(v) = *p else { continue };
            match whole_micros(v) {
                Some(m) => {
                    put_v(&mut body, zig(m.wrapping_sub(phase[i])) << 1);
                    phase[i] = m;
                }
                None => {
                    put_v(&mut body, 1);
                    body.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    let mut out = Vec::with_capacity(body.len() + 16 * dict.texts.len() + 8);
    out.push(VERSION);
    put_v(&mut out, rows.len() as u64);
    put_v(&mut out, dict.texts.len() as u64);
    for t in &dict.texts {
        put_v(&mut out, t.len() as u64);
        out.extend_from_slice(t.as_bytes());
    }
    out.extend_from_slice(&body);
    out
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, ChunkError> {
        let b = *self.b.get(self.at).ok_or_else(|| bad("ends early"))?;
        self.at += 1;
        Ok(b)
    }

    fn v(&mut self) -> Result<u64, ChunkError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad("a number longer than 64 bits"))
    }

    fn bytes(&mut self, n: usize) -> Result<&[u8], ChunkError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| bad("ends early"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
}

/// Decodes a chunk made by [`encode`].
pub fn decode(chunk: &[u8]) -> Result<Vec<Row>, ChunkError> {
    let mut r = Reader { b: chunk, at: 0 };
    let version = r.byte()?;
    if version != VERSION {
        return Err(bad(format!(
            "version {version}, this probity reads {VERSION}"
        )));
    }
    let n = r.v()? as usize;
    if n > MAX_ROWS {
        return Err(bad(format!("{n} rows; at most {MAX_ROWS}")));
    }
    let n_texts = r.v()? as usize;
    if n_texts > chunk.len() {
        return Err(bad("more texts than bytes"));
    }
    let mut texts = Vec::with_capacity(n_texts);
    for _ in 0..n_texts {
        let len = r.v()? as usize;
        let s = std::str::from_utf8(r.bytes(len)?).map_err(|_| bad("a text is not UTF-8"))?;
        texts.push(s.to_string());
    }
    let text = |i: u64| -> Result<Option<String>, ChunkError> {
        match i {
            0 => Ok(None),
            i => texts
                .get(i as usize - 1)
                .cloned()
                .map(Some)
                .ok_or_else(|| bad(format!("text {i} of {}", texts.len()))),
        }
    };
    let mut rows = Vec::with_capacity(n.min(chunk.len()));
    let (mut id, mut id_step, mut at, mut at_step) = (0i64, 0i64, 0i64, 0i64);
    let mut leaf = 0i64;
    let mut phase = [0i64; 5];
    let mut labels: Option<[Option<String>; 4]> = None;
    for _ in 0..n {
        let flags = r.byte()?;
        id_step = id_step.wrapping_add(unzig(r.v()?));
        id = id.wrapping_add(id_step);
        at_step = at_step.wrapping_add(unzig(r.v()?));
        at = at.wrapping_add(at_step);
        leaf = leaf.wrapping_add(unzig(r.v()?));
        if flags & (1 << 6) != 0 {
            labels = Some([text(r.v()?)?, text(r.v()?)?, text(r.v()?)?, text(r.v()?)?]);
        }
        let [health, error_class, error, details] = labels
            .clone()
            .ok_or_else(|| bad("the first row has no labels"))?;
        let (mut origin, mut clock_offset_ms) = (None, None);
        if flags & (1 << 7) != 0 {
            origin = text(r.v()?)?;
            if r.v()? != 0 {
                clock_offset_ms = Some(unzig(r.v()?));
            }
        }
        let mut phases = [None; 5];
        for (i, p) in phases.iter_mut().enumerate() {
            if flags & (1 << i) == 0 {
                continue;
            }
            let v = r.v()?;
            *p = Some(if v == 1 {
                f64::from_le_bytes(r.bytes(8)?.try_into().expect("8 bytes"))
            } else if v & 1 == 0 {
                phase[i] = phase[i].wrapping_add(unzig(v >> 1));
                phase[i] as f64 / 1000.0
            } else {
                return Err(bad(format!("phase tag {v}")));
            });
        }
        rows.push(Row {
            id,
            at_ms: at,
            leaf,
            health: health.ok_or_else(|| bad("a row without health"))?,
            phases,
            error_class,
            error,
            details,
            unmeasured: flags & (1 << 5) != 0,
            origin,
            clock_offset_ms,
        });
    }
    if r.at != chunk.len() {
        return Err(bad(format!(
            "{} bytes after the last row",
            chunk.len() - r.at
        )));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn http_row(id: i64, at_ms: i64, total_us: u128) -> Row {
        Row {
            id,
            at_ms,
            // A leaf a second: a target probed every 10 s is in every tenth.
            leaf: at_ms / 1_000,
            health: "up".into(),
            phases: [
                Some(micros_to_ms(310)),
                Some(micros_to_ms(120)),
                Some(micros_to_ms(2_050)),
                Some(micros_to_ms(total_us - 400)),
                Some(micros_to_ms(total_us)),
            ],
            details: Some(r#"{"status":200}"#.into()),
            ..Row::default()
        }
    }

    #[test]
    fn a_steady_http_target_takes_a_dozen_bytes_a_result() {
        // 360 results (an hour at 10 s) of a target among 10,000, with jitter.
        let rows: Vec<Row> = (0..360)
            .map(|i| {
                let jitter = (i * 7919 % 13) - 6;
                http_row(
                    1_000_000 + i * 10_000 + jitter,
                    1_796_000_000_000 + i * 10_000 + jitter,
                    (40_000 + (i * 104_729 % 900)) as u128,
                )
            })
            .collect();
        let chunk = encode(&rows);
        assert_eq!(decode(&chunk).unwrap(), rows);
        let per = chunk.len() as f64 / rows.len() as f64;
        assert!(per < 14.0, "{per} bytes a result");
    }

    #[test]
    fn any_float_comes_back_bit_for_bit() {
        let mut r = http_row(1, 2, 3_000);
        r.phases = [
            Some(0.331_491_2),
            Some(f64::NAN),
            Some(-0.0),
            Some(f64::MAX),
            None,
        ];
        let back = decode(&encode(std::slice::from_ref(&r))).unwrap();
        for (a, b) in back[0].phases.iter().zip(r.phases.iter()) {
            assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits));
        }
        assert_eq!(whole_micros(micros_to_ms(123_456)), Some(123_456));
        assert_eq!(whole_micros(3.7), Some(3_700));
        assert_eq!(whole_micros(0.000_1), None);
    }

    #[test]
    fn damaged_chunks_are_errors_not_panics() {
        let chunk = encode(&[http_row(5, 6, 7_000), http_row(9, 10, 7_100)]);
        for cut in 0..chunk.len() {
            assert!(decode(&chunk[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = chunk.clone();
        extra.push(0);
        assert!(
            decode(&extra)
                .unwrap_err()
                .to_string()
                .contains("after the last row")
        );
        let mut foreign = chunk;
        foreign[0] = 9;
        assert!(
            decode(&foreign)
                .unwrap_err()
                .to_string()
                .contains("version 9")
        );
        assert!(decode(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z ]{1,12}",
            "\\PC{0,20}",
            Just("connexion refusée: 東京 ✓".to_string()),
        ]
    }

    fn phase() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            Just(None),
            (0u128..5_000_000).prop_map(|u| Some(micros_to_ms(u))),
            any::<f64>().prop_map(Some),
        ]
    }

    prop_compose! {
        fn row()(
            id in any::<i64>(), at_ms in any::<i64>(), leaf in any::<i64>(),
            health in prop_oneof![Just("up"), Just("degraded"), Just("down")],
            phases in [phase(), phase(), phase(), phase(), phase()],
            error_class in proptest::option::of(text()), error in proptest::option::of(text()),
            details in proptest::option::of(text()), unmeasured in any::<bool>(),
            origin in proptest::option::of(text()), clock_offset_ms in proptest::option::of(any::<i64>()),
        ) -> Row {
            Row { id, at_ms, leaf, health: health.to_string(), phases, error_class, error, details,
                  unmeasured, origin, clock_offset_ms }
        }
    }

    proptest! {
        #[test]
        fn what_is_encoded_decodes_the_same(rows in proptest::collection::vec(row(), 0..40)) {
            let back = decode(&encode(&rows)).unwrap();
            prop_assert!(same_rows(&back, &rows), "{:?} came back as {:?}", rows, back);
        }

        #[test]
        fn any_bytes_decode_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }
    }
}
