//! `kind = "object_store"` targets: the URL, the endpoint, the provider client's settings
//! and the canaries, checked into an [`ObjectStoreSpec`].

use super::common::*;
use super::target::TargetToml;
use crate::spec::{ObjectStoreSpec, ProbeSpec, StorageScheme, parse_size};
use std::path::Path;
use std::str::FromStr;

/// The largest object a round trip or a canary writes: each is held in memory.
const MAX_OBJECT: u64 = 256 << 20;
/// The most canaries one target keeps.
const MAX_CANARIES: u32 = 10_000;

/// Reads the object-storage keys of a target into its spec and what to show for it.
pub(super) fn object_store_spec(
    ck: &mut Checker<'_>,
    raw: &TargetToml,
    base_dir: &Path,
    ctx: &str,
) -> (ProbeSpec, String) {
    let written = raw
        .url
        .as_ref()
        .map(|u| u.get_ref().clone())
        .unwrap_or_default();
    let span = raw.url.as_ref().map(|u| u.span()).unwrap_or(0..0);
    let (scheme, bucket, prefix) = match split_url(&written, base_dir) {
        Ok(parts) => parts,
        Err(why) => {
            if raw.url.is_some() {
                ck.at(span.clone(), format!("{ctx}: `url` {why}"));
            }
            (StorageScheme::S3, String::new(), String::new())
        }
    };
    let endpoint = raw.endpoint.as_ref().map(|e| {
        let v = e.get_ref().trim_end_matches('/').to_string();
        if !(v.starts_with("http://") || v.starts_with("https://")) || v.contains('@') {
            ck.at(
                e.span(),
                format!("{ctx}: `endpoint` is an http:// or https:// URL without credentials"),
            );
        }
        if matches!(scheme, StorageScheme::File) {
            ck.at(
                e.span(),
                format!("{ctx}: `endpoint` is not used by a file:// store"),
            );
        }
        v
    });
    let mut options = std::collections::BTreeMap::new();
    for (key, value) in raw.options.iter().flatten() {
        let known = match scheme {
            StorageScheme::S3 => object_store::aws::AmazonS3ConfigKey::from_str(key).is_ok(),
            StorageScheme::Azure => object_store::azure::AzureConfigKey::from_str(key).is_ok(),
            StorageScheme::Gcs => object_store::gcp::GoogleConfigKey::from_str(key).is_ok(),
            StorageScheme::File => false,
        } || object_store::ClientConfigKey::from_str(key).is_ok();
        if !known {
            ck.at(
                value.span(),
                format!(
                    "{ctx}: `options.{key}` is not a setting of the {} client",
                    scheme_name(scheme)
                ),
            );
        }
        options.insert(key.clone(), secret(ck, value, base_dir, ctx));
    }
    let size = |ck: &mut Checker<'_>, text: &str, span: std::ops::Range<usize>, key: &str| {
        match parse_size(text) {
            Ok(0) => {
                ck.at(span, format!("{ctx}: `{key}` must be at least one byte"));
                1
            }
            Ok(n) if n > MAX_OBJECT => {
                ck.at(
                    span,
                    format!("{ctx}: `{key}` {text} is more than the 256MiB an object may be"),
                );
                MAX_OBJECT
            }
            Ok(n) => n,
            Err(e) => {
                ck.at(span, format!("{ctx}: `{key}`: {e}"));
                1
            }
        }
    };
    let sizes = match &raw.sizes {
        None => vec![4096],
        Some(list) if list.get_ref().is_empty() => {
            ck.at(
                list.span(),
                format!("{ctx}: `sizes` needs at least one size"),
            );
            vec![4096]
        }
        Some(list) => list
            .get_ref()
            .iter()
            .map(|s| size(ck, s, list.span(), "sizes"))
            .collect(),
    };
    let canaries = raw.canaries.as_ref().map_or(10, |c| *c.get_ref());
    if let Some(c) = &raw.canaries
        && canaries > MAX_CANARIES
    {
        ck.at(
            c.span(),
            format!("{ctx}: `canaries` is at most {MAX_CANARIES}"),
        );
    }
    let canary_size = raw
        .canary_size
        .as_ref()
        .map_or(4096, |s| size(ck, s.get_ref(), s.span(), "canary_size"));
    let canary_interval_ms = raw
        .canary_interval
        .as_ref()
        .map_or(3_600_000, |d| d.get_ref().as_millis());
    for (key, d) in [
        ("canary_interval", &raw.canary_interval),
        ("canary_rotation", &raw.canary_rotation),
    ] {
        if let Some(d) = d
            && d.get_ref().as_millis() < 1000
        {
            ck.at(d.span(), format!("{ctx}: `{key}` must be at least 1s"));
        }
    }
    let spec = ObjectStoreSpec {
        url: written.clone(),
        scheme,
        bucket,
        prefix,
        endpoint,
        options,
        sizes,
        canaries: canaries.min(MAX_CANARIES),
        canary_size,
        canary_interval_ms,
        canary_rotation_ms: raw
            .canary_rotation
            .as_ref()
            .map(|d| d.get_ref().as_millis()),
    };
    let display = spec.store_id();
    (ProbeSpec::ObjectStore(spec), display)
}

fn scheme_name(s: StorageScheme) -> &'static str {
    match s {
        StorageScheme::S3 => "S3",
        StorageScheme::Azure => "Azure Blob Storage",
        StorageScheme::Gcs => "Google Cloud Storage",
        StorageScheme::File => "file system",
    }
}

/// `s3://bucket/prefix/` → (scheme, bucket, "prefix/"). Credentials, queries and fragments
/// are refused: they belong in the environment or `options`, not in a URL that is shown
/// and recorded.
pub(super) fn split_url(
    url: &str,
    base_dir: &Path,
) -> Result<(StorageScheme, String, String), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("must start with s3://, az://, gs:// or file://".into());
    };
    let scheme = match scheme {
        "s3" => StorageScheme::S3,
        "az" | "azure" => StorageScheme::Azure,
        "gs" => StorageScheme::Gcs,
        "file" => StorageScheme::File,
        other => {
            return Err(format!(
                "has scheme `{other}`; object storage URLs start with s3://, az://, gs:// or file://"
            ));
        }
    };
    if rest.contains(['?', '#']) || rest.contains("${") {
        return Err(
            "must not carry a query, a fragment or a secret: credentials go in the environment or `options`"
                .into(),
        );
    }
    let prefix_of = |p: &str| {
        let p = p.trim_matches('/');
        if p.is_empty() {
            String::new()
        } else {
            format!("{p}/")
        }
    };
    if scheme == StorageScheme::File {
        if rest.is_empty() {
            return Err("names no directory".into());
        }
        let dir = Path::new(rest);
        let dir = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            base_dir.join(dir)
        };
        return Ok((scheme, dir.display().to_string(), String::new()));
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() || bucket.contains('@') || bucket.contains(':') {
        return Err(
            "names no bucket or container (write e.g. s3://bucket/prefix/; credentials go in the environment or `options`)"
                .into(),
        );
    }
    if prefix.split('/').any(|seg| seg == "." || seg == "..") {
        return Err("has `.` or `..` in its prefix".into());
    }
    Ok((scheme, bucket.to_string(), prefix_of(prefix)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_bucket_and_prefix() {
        let base = Path::new("/etc/probity");
        assert_eq!(
            split_url("s3://canary/probity", base).unwrap(),
            (StorageScheme::S3, "canary".into(), "probity/".into())
        );
        assert_eq!(
            split_url("az://c/a/b/", base).unwrap(),
            (StorageScheme::Azure, "c".into(), "a/b/".into())
        );
        assert_eq!(
            split_url("gs://b", base).unwrap(),
            (StorageScheme::Gcs, "b".into(), String::new())
        );
        assert_eq!(
            split_url("file://spool/canary", base).unwrap(),
            (
                StorageScheme::File,
                "/etc/probity/spool/canary".into(),
                String::new()
            )
        );
        for bad in [
            "https://x/y",
            "s3://",
            "s3://key:secret@bucket/p",
            "s3://b/p?sig=abc",
            "s3://b/../p",
            "bucket/p",
        ] {
            assert!(split_url(bad, base).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_read_with_units() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("6MiB").unwrap(), 6 << 20);
        assert_eq!(parse_size("5MB").unwrap(), 5_000_000);
        assert!(parse_size("4kb").unwrap_err().contains("unknown size unit"));
        assert!(parse_size("KiB").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }
}
