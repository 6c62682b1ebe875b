//! The status-feed formats a `[[feed]]` may name.

/// The feed formats, by their command-line names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    AzureRss,
    AwsRss,
    AwsJson,
    GcpJson,
    Statuspage,
    Rss,
    Auto,
}

impl Format {
    pub const NAMES: &'static [&'static str] = &[
        "azure-rss",
        "aws-rss",
        "aws-json",
        "gcp-json",
        "statuspage",
        "rss",
        "auto",
    ];

    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "azure-rss" => Format::AzureRss,
            "aws-rss" => Format::AwsRss,
            "aws-json" => Format::AwsJson,
            "gcp-json" => Format::GcpJson,
            "statuspage" => Format::Statuspage,
            "rss" => Format::Rss,
            "auto" => Format::Auto,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}
