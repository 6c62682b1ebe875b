//! Tokens: how they are stored (SHA-256, never the token), compared (in constant time) and
//! read from a request (`Authorization: Bearer …`).

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The stored form of a token: its SHA-256, hex.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Byte-wise equality that takes the same time wherever the inputs differ (the length is
/// not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The bearer token of a request, or `""` when it has none.
pub fn bearer(headers: &http::HeaderMap) -> &str {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_compares_and_reads() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"same", b"same!"));
        let mut h = http::HeaderMap::new();
        assert_eq!(bearer(&h), "");
        h.insert(http::header::AUTHORIZATION, "Bearer pbt_1".parse().unwrap());
        assert_eq!(bearer(&h), "pbt_1");
        h.insert(http::header::AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(bearer(&h), "");
    }
}
