//! The `http` kind: a fresh connection per probe (so connect and TLS times are real),
//! hand-driven hyper so each phase is timed, and redirects followed hop by hop when asked.

use super::{Details, Failure, HttpSpec, ms_since, phase};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::rt::TokioIo;
use probity_core::condition::Observation;
use probity_core::result::ErrorClass;
use tokio::io::{AsyncRead, AsyncWrite};

/// The most of a body kept for conditions; the rest is read (and timed) but dropped.
const BODY_KEEP: usize = 1 << 20;

pub(super) async fn probe(
    ctx: &super::ProbeContext,
    spec: &HttpSpec,
    deadline: tokio::time::Instant,
    obs: &mut Observation,
    details: &mut Details,
) -> Result<(), Failure> {
    let mut uri: Uri = spec
        .url
        .parse()
        .map_err(|e| Failure::new(ErrorClass::Connect, format!("invalid URL: {e}")))?;
    let mut method = spec.method.clone();
    let mut body = spec.body.clone();
    let mut hops = 0;
    loop {
        let location = hop(
            ctx,
            spec,
            &uri,
            &method,
            body.as_deref(),
            deadline,
            obs,
            details,
        )
        .await?;
        let Some(location) = location else {
            return Ok(());
        };
        if !spec.follow_redirects {
            return Ok(());
        }
        // Still a redirect after every hop allowed: a loop or an overlong chain, never an
        // answer (the last 3xx is not what the target serves).
        if hops >= spec.max_redirects {
            return Err(Failure::new(
                ErrorClass::Redirects,
                format!(
                    "still redirected after {hops} redirects (max_redirects = {}), to {location}",
                    spec.max_redirects
                ),
            ));
        }
        hops += 1;
        let next = resolve_location(&uri, &location).ok_or_else(|| {
            Failure::new(
                ErrorClass::Protocol,
                format!("bad redirect Location {location:?}"),
            )
        })?;
        details.redirects.push(next.to_string());
        // 303 (and, as browsers do, 301/302 after POST) turn into GET without a body.
        if matches!(obs.status, Some(301..=303)) && method != "HEAD" {
            method = "GET".into();
            body = None;
        }
        uri = next;
        // Phases describe the final hop; the total still covers every hop.
        obs.phases.dns_ms = None;
        obs.phases.connect_ms = None;
        obs.phases.tls_ms = None;
    }
}

/// One request on a fresh connection. Returns the redirect target when the response is a
/// redirect with a Location header.
#[allow(clippy::too_many_arguments)]
async fn hop(
    ctx: &super::ProbeContext,
    spec: &HttpSpec,
    uri: &Uri,
    method: &str,
    body: Option<&str>,
    deadline: tokio::time::Instant,
    obs: &mut Observation,
    details: &mut Details,
) -> Result<Option<String>, Failure> {
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        other => {
            return Err(Failure::new(
                ErrorClass::Connect,
                format!(
                    "unsupported URL scheme {:?}; use http or https",
                    other.unwrap_or("")
                ),
            ));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| Failure::new(ErrorClass::Connect, "URL has no host"))?
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = ctx
        .connect(&host, port, spec.ip_version, deadline, obs, details)
        .await?;
    let request = build_request(spec, uri, method, body, &ctx.user_agent)?;
    if https {
        let tls = super::tls::handshake(
            ctx,
            tcp,
            &host,
            &spec.tls,
            &[b"http/1.1"],
            deadline,
            obs,
            details,
        )
        .await?;
        exchange(tls, request, deadline, obs, details).await
    } else {
        exchange(tcp, request, deadline, obs, details).await
    }
}

fn build_request(
    spec: &HttpSpec,
    uri: &Uri,
    method: &str,
    body: Option<&str>,
    user_agent: &str,
) -> Result<hyper::Request<Full<Bytes>>, Failure> {
    let bad = |e: &dyn std::fmt::Display| {
        Failure::new(ErrorClass::Protocol, format!("cannot build request: {e}"))
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut b = hyper::Request::builder()
        .method(hyper::Method::from_bytes(method.as_bytes()).map_err(|e| bad(&e))?)
        .uri(path);
    let has = |name: &str| spec.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
    if !has("host") {
        let authority = uri.authority().map_or("", |a| a.as_str());
        b = b.header(hyper::header::HOST, authority);
    }
    if !has("user-agent") {
        b = b.header(hyper::header::USER_AGENT, user_agent);
    }
    for (k, v) in &spec.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
        .map_err(|e| bad(&e))
}

async fn exchange<S>(
    stream: S,
    request: hyper::Request<Full<Bytes>>,
    deadline: tokio::time::Instant,
    obs: &mut Observation,
    details: &mut Details,
) -> Result<Option<String>, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = tokio::time::Instant::now();
    let (mut sender, conn) = phase(deadline, "during the HTTP handshake", async {
        hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::new(ErrorClass::Protocol, e.to_string()))
    })
    .await?;
    // The connection is driven inside this task (no spawn per probe): every await below
    // polls it alongside the request.
    let mut conn = std::pin::pin!(conn);
    let mut closed = false;
    let response = phase(deadline, "waiting for the response", async {
        with_conn(conn.as_mut(), &mut closed, sender.send_request(request))
            .await
            .map_err(|e| Failure::new(ErrorClass::Protocol, format!("request failed: {e}")))
    })
    .await?;
    obs.phases.ttfb_ms = Some(ms_since(started));
    let status = response.status().as_u16();
    obs.status = Some(status);
    details.http_status = Some(status);
    details.http_version = Some(format!("{:?}", response.version()));
    obs.headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let location = if response.status().is_redirection() {
        response
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    } else {
        None
    };
    let mut body = response.into_body();
    let kept = phase(deadline, "reading the body", async {
        let mut kept: Vec<u8> = Vec::new();
        while let Some(frame) = with_conn(conn.as_mut(), &mut closed, body.frame()).await {
            let frame =
                frame.map_err(|e| Failure::new(ErrorClass::Protocol, format!("body: {e}")))?;
            if let Some(data) = frame.data_ref() {
                let room = BODY_KEEP.saturating_sub(kept.len());
                kept.extend_from_slice(&data[..data.len().min(room)]);
            }
        }
        Ok(kept)
    })
    .await?;
    obs.body = Some(String::from_utf8_lossy(&kept).into_owned());
    Ok(location)
}

/// Awaits `fut` while also polling the connection that serves it. Once the connection has
/// finished (the server closed it, or an error) it is not polled again; what it delivered
/// is already buffered for `fut`.
async fn with_conn<C, F>(mut conn: std::pin::Pin<&mut C>, closed: &mut bool, fut: F) -> F::Output
where
    C: std::future::Future,
    F: std::future::Future,
{
    let mut fut = std::pin::pin!(fut);
    loop {
        tokio::select! {
            biased;
            out = &mut fut => return out,
            _ = &mut conn, if !*closed => *closed = true,
        }
    }
}

fn resolve_location(base: &Uri, location: &str) -> Option<Uri> {
    if let Ok(abs) = location.parse::<Uri>()
        && abs.scheme().is_some()
    {
        return Some(abs);
    }
    let scheme = base.scheme_str()?;
    let authority = base.authority()?.as_str();
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/{location}")
    };
    format!("{scheme}://{authority}{path}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_resolve_against_the_request() {
        let base: Uri = "https://a.example:8443/x/y?z=1".parse().unwrap();
        let r = |l| resolve_location(&base, l).map(|u| u.to_string());
        assert_eq!(
            r("/health").as_deref(),
            Some("https://a.example:8443/health")
        );
        assert_eq!(r("next").as_deref(), Some("https://a.example:8443/x/next"));
        assert_eq!(r("http://b.example/").as_deref(), Some("http://b.example/"));
    }
}
