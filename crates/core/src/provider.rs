//! What a provider declares: incidents from official status feeds, normalized to one shape
//! whatever the format (Statuspage, Google Cloud, Azure, AWS, RSS). Times are Unix
//! milliseconds; a time the provider does not state is `None`, never guessed.

use serde::Serialize;

/// The provider's own judgement of an incident's impact, on Statuspage's scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
    Maintenance,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
            Impact::Maintenance => "maintenance",
        }
    }
}

/// One update the provider posted on an incident.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderUpdate {
    pub at_ms: i64,
    pub status: String,
    pub text: String,
}

/// One incident as a provider declared it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProviderIncident {
    pub provider: String,
    /// Which feed it came from.
    pub source: String,
    /// The provider's own id for it.
    pub external_id: String,
    pub title: String,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub impact: Impact,
    /// `investigating`, `identified`, `monitoring`, `resolved`, `postmortem`, `scheduled`,
    /// `in_progress`, `verifying`, `completed`.
    pub status: String,
    /// When the provider says impact began.
    pub started_at_ms: Option<i64>,
    /// When the provider first published it.
    pub published_at_ms: Option<i64>,
    pub updated_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    /// Oldest first.
    pub updates: Vec<ProviderUpdate>,
    pub url: Option<String>,
}
