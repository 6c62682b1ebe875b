//! `[[feed]]`: a provider's status feed to poll.

use super::common::*;
use probity_core::condition::closest;
use probity_core::duration::HumanDuration;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// One provider status feed to poll.
#[derive(Clone, Debug)]
pub struct Feed {
    pub name: String,
    /// The provider the feed speaks for (`azure`, `aws`, `gcp`, or any name).
    pub provider: String,
    pub format: crate::config::feed_format::Format,
    /// The URL to poll, secrets expanded: never print this.
    pub url: String,
    /// The URL as written, secrets unexpanded.
    pub display: String,
    pub interval: HumanDuration,
    pub timeout: HumanDuration,
    /// `[feed.components]`: component names as the feed writes them → the service and
    /// region they stand for.
    pub components: std::collections::BTreeMap<String, probity_core::provider::ComponentMapping>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Feed")]
pub(super) struct FeedToml {
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub(super) provider: Option<Spanned<String>>,
    #[schemars(with = "String")]
    pub(super) format: Spanned<String>,
    #[schemars(with = "String")]
    pub(super) url: Spanned<String>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) interval: Option<Spanned<HumanDuration>>,
    #[schemars(with = "Option<DurationSchema>")]
    pub(super) timeout: Option<Spanned<HumanDuration>>,
    /// Component names as the feed writes them, each mapped to the `service` and/or `region` targets use.
    #[serde(default)]
    #[schemars(with = "Option<std::collections::BTreeMap<String, FeedComponentToml>>")]
    pub(super) components:
        Option<Spanned<std::collections::BTreeMap<String, Spanned<FeedComponentToml>>>>,
}

/// What one component of a feed stands for.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FeedComponent")]
pub(super) struct FeedComponentToml {
    /// The service targets name (`service = …` on a target).
    pub(super) service: Option<String>,
    /// The region targets name (`region = …` on a target).
    pub(super) region: Option<String>,
}

pub(super) fn build_feed(ck: &mut Checker<'_>, raw: FeedToml, base_dir: &Path) -> Option<Feed> {
    use crate::config::feed_format::Format;
    let before = ck.problems.len();
    let name = raw.name.get_ref().clone();
    let ctx = format!("feed `{name}`");
    let format = match Format::parse(raw.format.get_ref()) {
        Some(Format::Auto) | None => {
            let known = &Format::NAMES[..Format::NAMES.len() - 1];
            let hint = closest(raw.format.get_ref(), known)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            ck.at(
                raw.format.span(),
                format!(
                    "{ctx}: unknown format `{}` (one of {}){hint}",
                    raw.format.get_ref(),
                    known.join(", ")
                ),
            );
            return None;
        }
        Some(f) => f,
    };
    let provider = match &raw.provider {
        Some(p) if p.get_ref().trim().is_empty() => {
            ck.at(p.span(), format!("{ctx}: `provider` must not be empty"));
            String::new()
        }
        Some(p) => p.get_ref().clone(),
        None => match format {
            Format::AzureRss => "azure".into(),
            Format::AwsRss | Format::AwsJson => "aws".into(),
            Format::GcpJson => "gcp".into(),
            _ => {
                ck.at(
                    raw.name.span(),
                    format!(
                        "{ctx}: name the `provider` (a {} feed can be anyone's)",
                        format.name()
                    ),
                );
                String::new()
            }
        },
    };
    let url = match expand_secrets(raw.url.get_ref(), base_dir) {
        Ok(u) => Some(u),
        Err(e) => {
            ck.at(raw.url.span(), format!("{ctx}: {e}"));
            None
        }
    };
    if let Some(u) = &url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        ck.at(
            raw.url.span(),
            format!("{ctx}: `url` must start with http:// or https://"),
        );
    }
    let interval = raw
        .interval
        .as_ref()
        .map_or(HumanDuration::from_secs(300), |d| *d.get_ref());
    if let Some(d) = &raw.interval
        && d.get_ref().as_millis() < 1000
    {
        ck.at(d.span(), format!("{ctx}: `interval` must be at least 1s"));
    }
    let timeout = raw
        .timeout
        .as_ref()
        .map_or(HumanDuration::from_secs(30), |d| *d.get_ref());
    if let Some(d) = &raw.timeout
        && d.get_ref().as_millis() == 0
    {
        ck.at(d.span(), format!("{ctx}: `timeout` must be more than 0"));
    }
    let mut components = std::collections::BTreeMap::new();
    for (component, m) in raw.components.map(|c| c.into_inner()).unwrap_or_default() {
        let span = m.span();
        let m = m.into_inner();
        let blank = |v: &Option<String>| v.as_ref().is_some_and(|x| x.trim().is_empty());
        if (m.service.is_none() && m.region.is_none()) || blank(&m.service) || blank(&m.region) {
            ck.at(
                span,
                format!("{ctx}: component `{component}` must map to a `service`, a `region` or both, none empty"),
            );
            continue;
        }
        components.insert(
            component,
            probity_core::provider::ComponentMapping {
                service: m.service,
                region: m.region,
            },
        );
    }
    (ck.problems.len() == before).then(|| Feed {
        name,
        provider,
        format,
        url: url.unwrap_or_default(),
        display: raw.url.into_inner(),
        interval,
        timeout,
        components,
    })
}

impl NamedTable for FeedToml {
    fn name(&self) -> &Spanned<String> {
        &self.name
    }
}
