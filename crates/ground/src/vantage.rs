//! Vantage names: the server's own (`local`) and what any other may be called.

/// The vantage name of the server's own probes.
pub const LOCAL: &str = "local";

/// A vantage's name: 1 to 64 lowercase letters, digits, `-`, `_` or `.`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}
