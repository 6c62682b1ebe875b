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

/// A name that an agent or a source may take: a valid vantage name, and not `local`.
pub fn check_remote_name(name: &str) -> Result<(), String> {
    if !valid_name(name) {
        return Err(format!(
            "a vantage's name is 1 to 64 lowercase letters, digits, `-`, `_` or `.`, not {name:?}"
        ));
    }
    if name == LOCAL {
        return Err("`local` is the server's own vantage; use another name".into());
    }
    Ok(())
}
