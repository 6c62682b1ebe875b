//! Webhooks: the event's JSON as stored, signed with HMAC-SHA256 when the channel has a
//! secret.

use super::Failure;
use crate::store::StoredAlert;
use hmac::{KeyInit, Mac};

/// `sha256=HEX` of HMAC-SHA256(secret, body): the `X-Probity-Signature` header.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub(super) async fn send(
    client: &reqwest::Client,
    url: &str,
    secret: Option<&str>,
    a: &StoredAlert,
) -> Result<u16, Failure> {
    // The bytes stored are the bytes sent (and signed): a retry sends the same body.
    let body = a.alert.payload.clone().into_bytes();
    let sig = secret.map(|s| signature(s, &body));
    super::post(client, url, a, body, sig).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        let mac = super::signature("Jefe", b"what do ya want for nothing?");
        assert_eq!(
            mac,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
