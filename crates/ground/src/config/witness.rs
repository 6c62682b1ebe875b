//! `[witness]`: the logs this server witnesses (`[[witness.log]]`) and the witnesses it asks
//! to cosign its own checkpoints (`[[witness.peer]]`).

use super::common::*;
use probity_core::note::NoteVerifier;
use probity_core::witness::CosignerKey;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Witness")]
pub(super) struct WitnessToml {
    /// The logs this server witnesses.
    #[serde(default)]
    log: Vec<WitnessLogToml>,
    /// The witnesses asked to cosign this server's checkpoints.
    #[serde(default)]
    peer: Vec<WitnessPeerToml>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WitnessedLog")]
struct WitnessLogToml {
    /// The log's origin (its checkpoints' first line).
    #[schemars(with = "String")]
    origin: Spanned<String>,
    /// The log's verifier key (what `probity evidence key` prints on its server).
    #[schemars(with = "String")]
    key: Spanned<String>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "WitnessPeer")]
struct WitnessPeerToml {
    /// The witness's base URL (its `add-checkpoint` is under it).
    #[schemars(with = "String")]
    url: Spanned<String>,
    /// The witness's key: a cosigner vkey, or the verifier key its probity prints.
    #[schemars(with = "String")]
    key: Spanned<String>,
}

/// A witness this server asks to cosign.
#[derive(Clone, Debug)]
pub struct WitnessPeer {
    /// The URL with secrets expanded (for requests only).
    pub url: String,
    /// The URL as written (for logs and answers).
    pub display: String,
    pub key: CosignerKey,
}

#[derive(Clone, Debug, Default)]
pub struct WitnessConfig {
    /// Witnessed logs: origin and key.
    pub logs: Vec<(String, NoteVerifier)>,
    pub peers: Vec<WitnessPeer>,
}

pub(super) fn build_witness(
    ck: &mut Checker<'_>,
    raw: WitnessToml,
    base_dir: &Path,
) -> WitnessConfig {
    let mut w = WitnessConfig::default();
    let mut origins = Names::new("witnessed log");
    for l in raw.log {
        let origin = l.origin.get_ref();
        if origin.is_empty() || origin.chars().any(char::is_whitespace) {
            ck.at(
                l.origin.span(),
                "[[witness.log]] `origin` is a log's origin line: non-empty, no spaces",
            );
        }
        let unique = origins.claim(ck, origin, l.origin.span());
        match NoteVerifier::parse(l.key.get_ref()) {
            Ok(k) if unique => w.logs.push((origin.clone(), k)),
            Ok(_) => {}
            Err(e) => ck.at(
                l.key.span(),
                format!("[[witness.log]] `key`: {e} (the log's verifier key, as `probity evidence key` prints it)"),
            ),
        }
    }
    let mut names = Names::new("witness peer");
    for p in raw.peer {
        let url = secret(ck, &p.url, base_dir, "[[witness.peer]]");
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            ck.at(
                p.url.span(),
                "[[witness.peer]] `url` is the witness's http:// or https:// base URL",
            );
        }
        match CosignerKey::parse(p.key.get_ref()) {
            Ok(k) => {
                if names.claim(ck, k.name(), p.key.span()) {
                    w.peers.push(WitnessPeer {
                        url: url.trim_end_matches('/').to_string(),
                        display: p.url.get_ref().clone(),
                        key: k,
                    });
                }
            }
            Err(e) => ck.at(p.key.span(), format!("[[witness.peer]] `key`: {e}")),
        }
    }
    w
}
