//! Bodies of the fuzz targets (`fuzz/`), kept in the library so that a stable test can
//! replay the corpus on every `cargo test`, and so the targets stay one line each.
//!
//! Each function checks the parser's promises on arbitrary input, panicking (which the
//! fuzzer reports) when one is broken: never a panic of its own, and every reported position
//! inside the input.

use std::path::Path;

/// The configuration parser: any bytes either load or yield problems that point inside
/// the text.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match crate::config::parse("fuzz.toml", text, Path::new("/nonexistent")) {
        Ok(_) => {}
        Err(e) => {
            assert!(!e.problems.is_empty(), "an error with no problem");
            let lines = text.lines().count().max(1);
            for p in &e.problems {
                assert!(
                    p.line >= 1 && p.line <= lines + 1,
                    "line {} outside 1..={}",
                    p.line,
                    lines + 1
                );
                assert!(p.col >= 1, "column 0");
                assert!(!p.message.is_empty());
            }
            let _ = e.to_string();
        }
    }
}

/// The condition parser and evaluator: parse errors point inside the text, and a parsed
/// condition evaluates against an empty observation without panicking.
pub fn condition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match probity_core::condition::Condition::parse(text) {
        Ok(c) => {
            let obs = probity_core::condition::Observation {
                status: Some(200),
                body: Some(text.to_string()),
                ..Default::default()
            };
            let json = serde_json::from_str(text).ok();
            let _ = c.evaluate(&obs, json.as_ref());
        }
        Err(e) => {
            assert!(
                e.offset <= text.len(),
                "offset {} past {}",
                e.offset,
                text.len()
            );
            assert!(text.is_char_boundary(e.offset), "offset inside a character");
        }
    }
}
