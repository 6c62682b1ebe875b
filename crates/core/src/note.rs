//! C2SP signed notes (Ed25519) and tlog checkpoints: the text formats that let anyone check
//! a log's state offline.
//!
//! A **checkpoint** is `origin\nsize\nbase64(root)\n` followed by optional extension lines.
//! A **signed note** is a text ending in a newline, a blank line, and one or more signature
//! lines `— name base64(key_id ‖ signature)`. A **key id** is the first four bytes of
//! SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). Keys are written `name+hex(key_id)+base64(0x01 ‖
//! public key)` (verifier) and `PRIVATE+KEY+name+hex(key_id)+base64(0x01 ‖ seed)` (signer).
//!
//! Room is kept for more signature lines (witness cosignatures): a note may carry several,
//! and verification needs only the ones whose keys it is given.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const ALG_ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";

/// Why a key, note or checkpoint was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    BadKey(String),
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("no signature by a known key ({0})")]
    NoKnownSignature(String),
    #[error("the signature by {0} does not verify")]
    BadSignature(String),
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(String),
}

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    key_id_of(name, ALG_ED25519, public)
}

/// A key ID: SHA-256(name ‖ "\n" ‖ algorithm ‖ public key)[:4] (0x01 a note signer's,
/// 0x04 a cosigner's).
pub(crate) fn key_id_of(name: &str, alg: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A vkey's text: `name+hex(id)+base64(algorithm ‖ public key)`.
pub(crate) fn vkey_text(name: &str, id: [u8; 4], alg: u8, public: &[u8; 32]) -> String {
    let mut data = vec![alg];
    data.extend_from_slice(public);
    format!("{name}+{}+{}", hex::encode(id), B64.encode(data))
}

pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A signing key with its name.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    id: [u8; 4],
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({}, {})", self.name, hex::encode(self.id))
    }
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed. The caller supplies the randomness.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadKey(format!("invalid key name {name:?}")));
        }
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_string(),
            key,
            id,
        })
    }

    /// Reads `PRIVATE+KEY+name+hash+base64`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let rest = s
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| NoteError::BadKey("a signer key starts with PRIVATE+KEY+".into()))?;
        let (name, id, data) = split_key(rest)?;
        let seed: [u8; 32] = data
            .get(1..)
            .and_then(|b| b.try_into().ok())
            .filter(|_| data[0] == ALG_ED25519)
            .ok_or_else(|| NoteError::BadKey("not an Ed25519 key".into()))?;
        let signer = NoteSigner::from_seed(name, seed)?;
        if signer.id != id {
            return Err(NoteError::BadKey("key hash does not match the key".into()));
        }
        Ok(signer)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The private key in the signed-note form. Keep it secret.
    pub fn to_private_string(&self) -> String {
        let mut data = vec![ALG_ED25519];
        data.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(data)
        )
    }

    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
            id: self.id,
        }
    }

    /// The signature line for `text` (which must end in a newline).
    pub fn signature_line(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut data = self.id.to_vec();
        data.extend_from_slice(&sig.to_bytes());
        format!("{DASH}{} {}\n", self.name, B64.encode(data))
    }

    /// The raw Ed25519 signature of `message` (for cosignatures, whose message is framed
    /// by `witness`).
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Signs `text` (which must end in a newline) into a signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::Malformed(
                "the text must end with a newline".into(),
            ));
        }
        Ok(format!("{text}\n{}", self.signature_line(text)))
    }
}

pub(crate) fn split_key(s: &str) -> Result<(&str, [u8; 4], Vec<u8>), NoteError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::BadKey("expected name+hash+key".into()));
    };
    if !valid_name(name) {
        return Err(NoteError::BadKey(format!("invalid key name {name:?}")));
    }
    let id: [u8; 4] = hex::decode(id)
        .ok()
        .filter(|_| id.len() == 8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| NoteError::BadKey("the key hash is not 8 hex digits".into()))?;
    let data = B64
        .decode(data)
        .map_err(|e| NoteError::BadKey(format!("key data: {e}")))?;
    if data.is_empty() {
        return Err(NoteError::BadKey("empty key data".into()));
    }
    Ok((name, id, data))
}

/// A verifier key with its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
    id: [u8; 4],
}

impl NoteVerifier {
    /// Reads `name+hash+base64`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let (name, id, data) = split_key(s.trim())?;
        let public: [u8; 32] = data
            .get(1..)
            .and_then(|b| b.try_into().ok())
            .filter(|_| data[0] == ALG_ED25519)
            .ok_or_else(|| NoteError::BadKey("not an Ed25519 key".into()))?;
        let key =
            VerifyingKey::from_bytes(&public).map_err(|e| NoteError::BadKey(e.to_string()))?;
        if key_id(name, &public) != id {
            return Err(NoteError::BadKey("key hash does not match the key".into()));
        }
        Ok(NoteVerifier {
            name: name.to_string(),
            key,
            id,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&vkey_text(
            &self.name,
            self.id,
            ALG_ED25519,
            self.key.as_bytes(),
        ))
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    pub name: String,
    pub key_id: [u8; 4],
    pub signature: Vec<u8>,
}

/// Splits a signed note into its text and its signature lines.
pub fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine>), NoteError> {
    let at = note
        .rfind("\n\n")
        .ok_or_else(|| NoteError::Malformed("no blank line before the signatures".into()))?;
    let (text, sigs) = (&note[..at + 1], &note[at + 2..]);
    if !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the last signature line has no newline".into(),
        ));
    }
    let mut out = Vec::new();
    for line in sigs.lines() {
        let rest = line
            .strip_prefix(DASH)
            .ok_or_else(|| NoteError::Malformed(format!("not a signature line: {line:?}")))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| NoteError::Malformed(format!("not a signature line: {line:?}")))?;
        let data = B64
            .decode(b64)
            .map_err(|e| NoteError::Malformed(format!("signature of {name}: {e}")))?;
        if data.len() < 5 {
            return Err(NoteError::Malformed(format!(
                "signature of {name} is too short"
            )));
        }
        out.push(SignatureLine {
            name: name.to_string(),
            key_id: [data[0], data[1], data[2], data[3]],
            signature: data[4..].to_vec(),
        });
    }
    if out.is_empty() {
        return Err(NoteError::Malformed("no signature lines".into()));
    }
    Ok((text, out))
}

/// Verifies a signed note against `verifiers`: every signature by a given key must verify,
/// and at least one must be present. Returns the text.
pub fn verify_note<'a>(note: &'a str, verifiers: &[NoteVerifier]) -> Result<&'a str, NoteError> {
    let (text, sigs) = split_note(note)?;
    let mut verified = false;
    for SignatureLine {
        name,
        key_id,
        signature,
    } in &sigs
    {
        let Some(v) = verifiers
            .iter()
            .find(|v| v.name == *name && v.id == *key_id)
        else {
            continue;
        };
        let sig: [u8; 64] = signature
            .as_slice()
            .try_into()
            .map_err(|_| NoteError::BadSignature(name.clone()))?;
        v.key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| NoteError::BadSignature(name.clone()))?;
        verified = true;
    }
    if !verified {
        let names: Vec<&str> = verifiers.iter().map(|v| v.name.as_str()).collect();
        return Err(NoteError::NoKnownSignature(format!(
            "expected one by {}",
            names.join(", ")
        )));
    }
    Ok(text)
}

/// A tlog checkpoint: the log's identity, its size and its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
    /// Extension lines, kept verbatim.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint body (the text that gets signed).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |m: &str| NoteError::BadCheckpoint(m.to_string());
        if !text.ends_with('\n') {
            return Err(bad("it must end with a newline"));
        }
        let mut lines = text.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| bad("no origin line"))?;
        let size_line = lines.next().ok_or_else(|| bad("no size line"))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(bad("the size is not a decimal number"));
        }
        let size = size_line
            .parse()
            .map_err(|_| bad("the size is too large"))?;
        let root = B64
            .decode(lines.next().ok_or_else(|| bad("no root line"))?)
            .map_err(|_| bad("the root is not base64"))?;
        let root: [u8; 32] = root.try_into().map_err(|r: Vec<u8>| {
            NoteError::BadCheckpoint(format!("the root is {} bytes, not 32", r.len()))
        })?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(bad("empty line inside the checkpoint"));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The C2SP signed-note test vectors.
    const NEUMANN_SIGNER: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const NEUMANN_VERIFIER: &str =
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const NEUMANN_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const NEUMANN_LINE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const FOO_VERIFIER: &str =
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const FOO_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

    #[test]
    fn signing_matches_the_published_vector() {
        let signer = NoteSigner::parse(NEUMANN_SIGNER).unwrap();
        assert_eq!(signer.signature_line(NEUMANN_TEXT), NEUMANN_LINE);
        assert_eq!(signer.verifier().to_string(), NEUMANN_VERIFIER);
        assert_eq!(signer.to_private_string(), NEUMANN_SIGNER);
        let note = signer.sign(NEUMANN_TEXT).unwrap();
        let v = NoteVerifier::parse(NEUMANN_VERIFIER).unwrap();
        assert_eq!(verify_note(&note, &[v]).unwrap(), NEUMANN_TEXT);
    }

    #[test]
    fn the_published_note_verifies_and_tampering_does_not() {
        let v = NoteVerifier::parse(FOO_VERIFIER).unwrap();
        assert_eq!(
            verify_note(FOO_NOTE, std::slice::from_ref(&v)).unwrap(),
            "This is an example message.\n"
        );
        let tampered = FOO_NOTE.replace("example message", "exemplary message");
        assert_eq!(
            verify_note(&tampered, std::slice::from_ref(&v)),
            Err(NoteError::BadSignature("example.com/foo".into()))
        );
        let other = NoteVerifier::parse(NEUMANN_VERIFIER).unwrap();
        assert!(matches!(
            verify_note(FOO_NOTE, &[other]),
            Err(NoteError::NoKnownSignature(_))
        ));
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        assert!(matches!(
            NoteVerifier::parse("nope"),
            Err(NoteError::BadKey(_))
        ));
        assert!(
            matches!(NoteVerifier::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"), Err(NoteError::BadKey(m)) if m.contains("hash"))
        );
        assert!(matches!(
            NoteSigner::parse(NEUMANN_VERIFIER),
            Err(NoteError::BadKey(_))
        ));
        assert!(NoteSigner::from_seed("has space", [7; 32]).is_err());
    }

    #[test]
    fn a_note_may_carry_more_signatures_than_we_check() {
        let a = NoteSigner::from_seed("log.example", [1; 32]).unwrap();
        let b = NoteSigner::from_seed("witness.example", [2; 32]).unwrap();
        let text = "hello\n";
        let note = format!("{}{}", a.sign(text).unwrap(), b.signature_line(text));
        assert_eq!(verify_note(&note, &[a.verifier()]).unwrap(), text);
        assert_eq!(verify_note(&note, &[b.verifier()]).unwrap(), text);
        assert_eq!(split_note(&note).unwrap().1.len(), 2);
    }

    #[test]
    fn checkpoints_round_trip_and_reject_malformed_text() {
        let c = Checkpoint {
            origin: "probity.example/log".into(),
            size: 42,
            root: [9; 32],
            extensions: vec![],
        };
        assert_eq!(
            c.to_text(),
            "probity.example/log\n42\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n"
        );
        assert_eq!(Checkpoint::parse(&c.to_text()).unwrap(), c);
        for bad in [
            "",
            "o\n",
            "o\n12\n",
            "o\n-1\nAAAA\n",
            "o\n012\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n",
            "o\n1\nAAAA\n",
            "o\n1\nCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=",
        ] {
            assert!(Checkpoint::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn note_parsing_never_panics(s in "\\PC{0,80}") {
            let _ = split_note(&s);
            let _ = Checkpoint::parse(&s);
            let _ = NoteVerifier::parse(&s);
        }
    }
}
