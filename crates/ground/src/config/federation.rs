//! `[federation]`: the instances of other organisations this server shares outage
//! statements with (`[[federation.peer]]`), what it publishes and accepts, and how many
//! organisations make an outage corroborated.

use super::common::*;
use probity_core::note::NoteVerifier;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Federation")]
pub(super) struct FederationToml {
    /// Send statements of this server's outages to the peers (default true).
    publish: Option<bool>,
    /// Only outages of these providers are published and accepted (default: all).
    #[serde(default)]
    providers: Vec<String>,
    /// How many organisations, this one included, make an outage corroborated in the
    /// scorecard (default 2).
    #[schemars(with = "Option<u32>", range(min = 2, max = 1000))]
    min_organisations: Option<Spanned<i64>>,
    /// The instances statements are exchanged with.
    #[serde(default)]
    peer: Vec<FederationPeerToml>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FederationPeer")]
struct FederationPeerToml {
    /// The peer's base URL (its API is under it).
    #[schemars(with = "String")]
    url: Spanned<String>,
    /// The peer's log verifier key (what `probity evidence key` prints on its server).
    #[schemars(with = "String")]
    key: Spanned<String>,
    /// The most statements accepted from it per minute (default 60).
    #[schemars(with = "Option<u32>", range(min = 1))]
    max_per_minute: Option<Spanned<i64>>,
}

/// A peer instance.
#[derive(Clone, Debug)]
pub struct FederationPeer {
    /// The URL with secrets expanded (for requests only).
    pub url: String,
    /// The URL as written (for logs and answers).
    pub display: String,
    /// Its log's key; the key's name is its log's origin.
    pub key: NoteVerifier,
    pub max_per_minute: u32,
}

#[derive(Clone, Debug)]
pub struct FederationConfig {
    pub publish: bool,
    /// Provider names (as written); empty: all.
    pub providers: Vec<String>,
    pub min_organisations: u32,
    pub peers: Vec<FederationPeer>,
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            publish: true,
            providers: Vec::new(),
            min_organisations: 2,
            peers: Vec::new(),
        }
    }
}

impl FederationConfig {
    /// Whether outages of `provider` are published and accepted.
    pub fn shares(&self, provider: &str) -> bool {
        let p = probity_core::names::slug(provider);
        self.providers.is_empty()
            || self
                .providers
                .iter()
                .any(|x| probity_core::names::slug(x) == p)
    }

    /// The peer whose key is named `name` (its origin).
    pub fn peer(&self, name: &str) -> Option<&FederationPeer> {
        self.peers.iter().find(|p| p.key.name() == name)
    }
}

fn positive(ck: &mut Checker<'_>, v: &Option<Spanned<i64>>, what: &str, default: u32) -> u32 {
    match v {
        None => default,
        Some(n) if (1..=i64::from(u32::MAX)).contains(n.get_ref()) => *n.get_ref() as u32,
        Some(n) => {
            ck.at(
                n.span(),
                format!("{what} must be a whole number of at least 1"),
            );
            default
        }
    }
}

pub(super) fn build_federation(
    ck: &mut Checker<'_>,
    raw: FederationToml,
    base_dir: &Path,
    own_origin: &str,
) -> FederationConfig {
    let mut f = FederationConfig {
        publish: raw.publish.unwrap_or(true),
        providers: raw.providers,
        min_organisations: match &raw.min_organisations {
            Some(n) if *n.get_ref() < 2 || *n.get_ref() > 1_000 => {
                ck.at(
                    n.span(),
                    "[federation] `min_organisations` counts this organisation too: 2 to 1000",
                );
                2
            }
            Some(n) => *n.get_ref() as u32,
            None => 2,
        },
        peers: Vec::new(),
    };
    let mut names = Names::new("federation peer");
    for p in raw.peer {
        let url = secret(ck, &p.url, base_dir, "[[federation.peer]]");
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            ck.at(
                p.url.span(),
                "[[federation.peer]] `url` is the peer's http:// or https:// base URL",
            );
        }
        let max_per_minute = positive(
            ck,
            &p.max_per_minute,
            "[[federation.peer]] `max_per_minute`",
            60,
        );
        match NoteVerifier::parse(p.key.get_ref()) {
            Ok(k) if k.name() == own_origin => ck.at(
                p.key.span(),
                "[[federation.peer]] `key` is this server's own log key; a peer is another instance",
            ),
            Ok(k) => {
                if names.claim(ck, k.name(), p.key.span()) {
                    f.peers.push(FederationPeer {
                        url: url.trim_end_matches('/').to_string(),
                        display: p.url.get_ref().clone(),
                        key: k,
                        max_per_minute,
                    });
                }
            }
            Err(e) => ck.at(
                p.key.span(),
                format!("[[federation.peer]] `key`: {e} (the peer's verifier key, as `probity evidence key` prints it)"),
            ),
        }
    }
    f
}
