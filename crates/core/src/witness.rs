//! Witnessing (C2SP tlog-witness v1, tlog-cosignature v1 with Ed25519): a witness
//! cosigns a log's checkpoint only when it extends the last one it cosigned for that log,
//! so a log that shows different histories to different people is caught.
//!
//! A **cosignature** is a note signature line `— <witness> base64(key ID ‖ u64 BE time ‖
//! Ed25519 signature)`, where the key ID is SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4]
//! and the signed message is `cosignature/v1\ntime <t>\n` followed by the checkpoint's text
//! (through its final newline, no signatures).
//!
//! An **add-checkpoint request** is `old <size>\n`, zero to 63 base64 proof lines, an empty
//! line, and the signed checkpoint. [`judge_request`] decides it against the witness's
//! record, purely; the caller makes "check the old size and record the new one" atomic.

use crate::merkle::{self, Hash};
use crate::note::{Checkpoint, NoteError, NoteSigner, NoteVerifier, split_note};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, VerifyingKey};

const ALG_COSIGNATURE_V1: u8 = 0x04;
const DASH: &str = "\u{2014} ";

/// The largest add-checkpoint body read (a checkpoint with a few signatures and 63 proof
/// lines is about 4 KiB).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

fn cosigner_key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    crate::note::key_id_of(name, ALG_COSIGNATURE_V1, public)
}

/// The message a cosignature v1 signs.
pub fn cosigned_message(time: u64, checkpoint_text: &str) -> String {
    format!("cosignature/v1\ntime {time}\n{checkpoint_text}")
}

/// A witness's key: its name and Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    key: VerifyingKey,
    id: [u8; 4],
}

impl CosignerKey {
    /// Reads a vkey `name+hash+base64(type ‖ key)` of type 0x04 (a cosigner's), or of type
    /// 0x01 (a log's note key, as `probity evidence key` prints it): a probity server
    /// witnesses with the key it signs its log with, and the cosignature's own key ID is
    /// derived from the name and public key.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let s = s.trim();
        if let Ok(v) = NoteVerifier::parse(s) {
            let public = v.public_key();
            return CosignerKey::new(v.name(), public);
        }
        let (name, id, data) = crate::note::split_key(s)?;
        let public: [u8; 32] = data
            .get(1..)
            .and_then(|b| b.try_into().ok())
            .filter(|_| data[0] == ALG_COSIGNATURE_V1)
            .ok_or_else(|| {
                NoteError::BadKey("not an Ed25519 key of a log (0x01) or cosigner (0x04)".into())
            })?;
        let key = CosignerKey::new(name, public)?;
        if key.id != id {
            return Err(NoteError::BadKey("key hash does not match the key".into()));
        }
        Ok(key)
    }

    fn new(name: &str, public: [u8; 32]) -> Result<Self, NoteError> {
        if !crate::note::valid_name(name) {
            return Err(NoteError::BadKey(format!("invalid key name {name:?}")));
        }
        let key =
            VerifyingKey::from_bytes(&public).map_err(|e| NoteError::BadKey(e.to_string()))?;
        Ok(CosignerKey {
            id: cosigner_key_id(name, &public),
            name: name.to_string(),
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl std::fmt::Display for CosignerKey {
    /// The vkey of type 0x04.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::note::vkey_text(
            &self.name,
            self.id,
            ALG_COSIGNATURE_V1,
            self.key.as_bytes(),
        ))
    }
}

/// The cosigner key of `signer` (same name and key pair, the cosignature key ID).
pub fn cosigner_key(signer: &NoteSigner) -> CosignerKey {
    CosignerKey::new(signer.name(), signer.verifier().public_key())
        .expect("a signer's name is a valid key name")
}

/// A cosignature line by `signer` on `checkpoint_text` at `time` (POSIX seconds, non-zero).
pub fn cosign(signer: &NoteSigner, checkpoint_text: &str, time: u64) -> String {
    let public = signer.verifier().public_key();
    let sig = signer.sign_bytes(cosigned_message(time, checkpoint_text).as_bytes());
    let mut data = cosigner_key_id(signer.name(), &public).to_vec();
    data.extend_from_slice(&time.to_be_bytes());
    data.extend_from_slice(&sig);
    format!("{DASH}{} {}\n", signer.name(), B64.encode(data))
}

/// The time of `key`'s valid cosignature on `note`, if it carries one. A line with the
/// key's name and ID whose signature fails is an error (the note is malformed), as is a
/// zero time.
pub fn verify_cosignature(note: &str, key: &CosignerKey) -> Result<Option<u64>, NoteError> {
    let (text, sigs) = split_note(note)?;
    let Some(s) = sigs
        .iter()
        .find(|s| s.name == key.name && s.key_id == key.id)
    else {
        return Ok(None);
    };
    let bad = || NoteError::BadSignature(key.name.clone());
    if s.signature.len() != 72 {
        return Err(bad());
    }
    let time = u64::from_be_bytes(s.signature[..8].try_into().expect("8 bytes"));
    let sig: [u8; 64] = s.signature[8..].try_into().expect("64 bytes");
    if time == 0 || time > i64::MAX as u64 {
        return Err(bad());
    }
    key.key
        .verify_strict(
            cosigned_message(time, text).as_bytes(),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| bad())?;
    Ok(Some(time))
}

/// How many of `keys` (distinct witnesses) validly cosigned `note`.
pub fn count_cosignatures(note: &str, keys: &[CosignerKey]) -> usize {
    keys.iter()
        .filter(|k| matches!(verify_cosignature(note, k), Ok(Some(_))))
        .count()
}

/// A parsed add-checkpoint request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint, exactly as sent.
    pub note: String,
}

/// What a witness answers, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Cosign, and record `(size, root)` for the origin if it is still at `old`.
    Cosign {
        origin: String,
        old: u64,
        size: u64,
        root: Hash,
        text: String,
    },
    /// 400: the request does not read, or the old size is past the checkpoint's.
    BadRequest(String),
    /// 403: no valid signature from the origin's key.
    Forbidden(String),
    /// 404: an origin this witness does not witness.
    UnknownLog(String),
    /// 409: the old size is not the latest this witness cosigned (that size is given).
    Conflict(u64),
    /// 422: the proof does not verify, or the same size with another root (a fork).
    Unprocessable(String),
}

/// Reads an add-checkpoint body.
pub fn parse_request(body: &str) -> Result<AddCheckpoint, String> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(format!("larger than {MAX_REQUEST_BYTES} bytes"));
    }
    let (head, note) = body
        .split_once("\n\n")
        .ok_or("no empty line between the old size and proof, and the checkpoint")?;
    let mut lines = head.split('\n');
    let old_line = lines.next().unwrap_or_default();
    let old_text = old_line
        .strip_prefix("old ")
        .ok_or("the first line is `old <size>`")?;
    if old_text.is_empty()
        || !old_text.bytes().all(|b| b.is_ascii_digit())
        || (old_text.len() > 1 && old_text.starts_with('0'))
    {
        return Err("the old size is a decimal without leading zeros".into());
    }
    let old: u64 = old_text.parse().map_err(|_| "the old size is too large")?;
    let mut proof = Vec::new();
    for (i, l) in lines.enumerate() {
        if i >= 63 {
            return Err("more than 63 proof lines".into());
        }
        let h: Hash = B64
            .decode(l)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("proof line {} is not a base64 SHA-256 hash", i + 1))?;
        proof.push(h);
    }
    Ok(AddCheckpoint {
        old,
        proof,
        note: note.to_string(),
    })
}

/// Decides a request. `logs` are the witnessed origins with their keys; `latest` gives
/// the latest `(size, root)` cosigned for an origin (none: never).
pub fn judge_request(
    req: &AddCheckpoint,
    logs: &[(String, NoteVerifier)],
    latest: impl FnOnce(&str) -> Option<(u64, Hash)>,
) -> Answer {
    let Ok((text, _)) = split_note(&req.note) else {
        return Answer::BadRequest("the checkpoint is not a signed note".into());
    };
    let Ok(cp) = Checkpoint::parse(text) else {
        return Answer::BadRequest("the note is not a checkpoint".into());
    };
    let keys: Vec<NoteVerifier> = logs
        .iter()
        .filter(|(o, _)| *o == cp.origin)
        .map(|(_, k)| k.clone())
        .collect();
    if keys.is_empty() {
        return Answer::UnknownLog(format!("this witness does not witness {:?}", cp.origin));
    }
    if let Err(e) = crate::note::verify_note(&req.note, &keys) {
        return Answer::Forbidden(e.to_string());
    }
    if req.old > cp.size {
        return Answer::BadRequest(format!(
            "the old size {} is past the checkpoint's {}",
            req.old, cp.size
        ));
    }
    let (known_size, known_root) = latest(&cp.origin).unwrap_or((0, merkle::empty_root()));
    if req.old != known_size {
        return Answer::Conflict(known_size);
    }
    if cp.size == 0 && cp.root != merkle::empty_root() {
        return Answer::Unprocessable("a checkpoint of size 0 has the empty tree's root".into());
    }
    if req.old == 0 {
        if !req.proof.is_empty() {
            return Answer::Unprocessable("a proof from size 0 proves nothing: send none".into());
        }
    } else if req.old == cp.size {
        if cp.root != known_root {
            return Answer::Unprocessable(format!(
                "size {} was cosigned with another root: a fork",
                cp.size
            ));
        }
    } else if let Err(e) =
        merkle::verify_consistency(req.old, cp.size, &known_root, &cp.root, &req.proof)
    {
        return Answer::Unprocessable(format!("the consistency proof does not verify: {e}"));
    }
    Answer::Cosign {
        origin: cp.origin.clone(),
        old: req.old,
        size: cp.size,
        root: cp.root,
        text: text.to_string(),
    }
}

/// The body of an add-checkpoint request.
pub fn request_body(old: u64, proof: &[Hash], note: &str) -> String {
    let mut b = format!("old {old}\n");
    for h in proof {
        b.push_str(&B64.encode(h));
        b.push('\n');
    }
    b.push('\n');
    b.push_str(note);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::from_seed(name, [seed; 32]).unwrap()
    }

    fn checkpoint(log: &NoteSigner, leaves: u64) -> (String, Hash) {
        let mut t = merkle::MemoryTree::new();
        for i in 0..leaves {
            t.push(merkle::leaf_hash(&i.to_be_bytes()));
        }
        let text = Checkpoint {
            origin: log.name().into(),
            size: leaves,
            root: t.root(),
            extensions: vec![],
        }
        .to_text();
        (log.sign(&text).unwrap(), t.root())
    }

    /// The cosignature line of the tlog-cosignature example: 76 bytes, the time
    /// 1679315147 big-endian after the key ID.
    #[test]
    fn the_specification_example_reads() {
        let note = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
        let (text, sigs) = split_note(note).unwrap();
        assert_eq!(
            text,
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
        let w = &sigs[1];
        assert_eq!(w.name, "witness.example.com/w1");
        assert_eq!(w.signature.len() + 4, 76);
        assert_eq!(
            u64::from_be_bytes(w.signature[..8].try_into().unwrap()),
            1679315147
        );
        assert_eq!(
            cosigned_message(1679315147, text),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn cosignatures_verify_and_keys_round_trip() {
        let (log, w) = (signer("log.example/a", 1), signer("witness.example/w", 2));
        let (note, _) = checkpoint(&log, 5);
        let (text, _) = split_note(&note).unwrap();
        let line = cosign(&w, text, 1_700_000_000);
        let cosigned = format!("{note}{line}");
        let key = cosigner_key(&w);
        assert_eq!(verify_cosignature(&cosigned, &key), Ok(Some(1_700_000_000)));
        // The vkey prints as type 0x04 and reads back; the log form of the key reads too.
        let printed = key.to_string();
        assert_eq!(CosignerKey::parse(&printed).unwrap(), key);
        assert_eq!(CosignerKey::parse(&w.verifier().to_string()).unwrap(), key);
        // Another witness's key finds nothing; a tampered line is an error.
        let other = cosigner_key(&signer("witness.example/v", 3));
        assert_eq!(verify_cosignature(&cosigned, &other), Ok(None));
        assert_eq!(count_cosignatures(&cosigned, &[key.clone(), other]), 1);
        let tampered = cosigned.replace("\n5\n", "\n6\n");
        assert!(verify_cosignature(&tampered, &key).is_err());
        // The log's own signature is not a cosignature (another key ID).
        assert_eq!(verify_cosignature(&note, &cosigner_key(&log)), Ok(None));
    }

    #[test]
    fn requests_are_judged_as_the_specification_says() {
        let log = signer("log.example/a", 1);
        let logs = vec![(log.name().to_string(), log.verifier())];
        let (n5, r5) = checkpoint(&log, 5);
        let (n9, r9) = checkpoint(&log, 9);
        let req = |old, proof: Vec<Hash>, note: &str| {
            parse_request(&request_body(old, &proof, note)).unwrap()
        };
        // First time: old 0, no proof.
        assert!(matches!(
            judge_request(&req(0, vec![], &n5), &logs, |_| None),
            Answer::Cosign { size: 5, .. }
        ));
        // A stale old size: 409 with the known size.
        assert_eq!(
            judge_request(&req(0, vec![], &n9), &logs, |_| Some((5, r5))),
            Answer::Conflict(5)
        );
        // A good proof 5 → 9.
        let mut t = merkle::MemoryTree::new();
        for i in 0..9u64 {
            t.push(merkle::leaf_hash(&i.to_be_bytes()));
        }
        let proof = merkle::consistency_proof(&t, 5, 9).unwrap();
        assert!(matches!(
            judge_request(&req(5, proof.clone(), &n9), &logs, |_| Some((5, r5))),
            Answer::Cosign {
                size: 9,
                old: 5,
                ..
            }
        ));
        // A bad proof: 422.
        let mut bad = proof.clone();
        bad[0][0] ^= 1;
        assert!(matches!(
            judge_request(&req(5, bad, &n9), &logs, |_| Some((5, r5))),
            Answer::Unprocessable(_)
        ));
        // Same size, another root: a fork, 422.
        let fork = log
            .sign(
                &Checkpoint {
                    origin: log.name().into(),
                    size: 9,
                    root: [7; 32],
                    extensions: vec![],
                }
                .to_text(),
            )
            .unwrap();
        assert!(matches!(
            judge_request(&req(9, vec![], &fork), &logs, |_| Some((9, r9))),
            Answer::Unprocessable(_)
        ));
        // Old past the checkpoint: 400. A proof from 0: 422.
        assert!(matches!(
            judge_request(&req(9, vec![], &n5), &logs, |_| Some((9, r9))),
            Answer::BadRequest(_)
        ));
        assert!(matches!(
            judge_request(&req(0, vec![[1; 32]], &n5), &logs, |_| None),
            Answer::Unprocessable(_)
        ));
        // An unknown origin: 404; a signature by another key: 403.
        let stranger = signer("log.example/b", 4);
        let (ns, _) = checkpoint(&stranger, 5);
        assert!(matches!(
            judge_request(&req(0, vec![], &ns), &logs, |_| None),
            Answer::UnknownLog(_)
        ));
        let impostor = signer("log.example/a", 5);
        let (ni, _) = checkpoint(&impostor, 5);
        assert!(matches!(
            judge_request(&req(0, vec![], &ni), &logs, |_| None),
            Answer::Forbidden(_)
        ));
        // Bodies that do not read.
        for body in [
            "old 01\n\nx",
            "old x\n\n",
            "new 5\n\n",
            "old 5\n",
            "old 5\nnot-base64\n\nx",
        ] {
            assert!(parse_request(body).is_err(), "{body:?}");
        }
    }
}
