//! TLS handshakes that record what they saw: the verifier wraps webpki's and keeps the
//! chain and the verdict instead of aborting, so a bad certificate is reported precisely
//! (expired, wrong name, untrusted) with its details, not as a bare "TLS error".

use super::{Details, Failure, TlsOptions, TlsSpec, ms_since, phase};
use probity_core::condition::Observation;
use probity_core::result::ErrorClass;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// What a handshake showed about the server's TLS.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TlsDetails {
    pub version: Option<String>,
    pub cipher_suite: Option<String>,
    pub alpn: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub sans: Vec<String>,
    /// The leaf certificate's `notAfter`, RFC 3339 UTC.
    pub not_after: Option<String>,
    pub days_left: Option<f64>,
    pub chain_length: usize,
    /// `ok`, or why webpki rejected the chain.
    pub verdict: String,
}

#[derive(Default)]
struct Seen {
    chain: Vec<CertificateDer<'static>>,
    verdict: Option<Result<(), String>>,
}

/// Verifies with webpki and records the outcome; the handshake goes on either way so the
/// certificate can be examined. The caller then fails the probe on a bad verdict.
#[derive(Debug)]
struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    seen: Arc<Mutex<Seen>>,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seen")
    }
}

// One verifier per connection, so each handshake's record is its own.
impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map(|_| ())
            .map_err(|e| describe_tls_error(&e));
        let mut seen = self.seen.lock().expect("seen lock");
        seen.chain = std::iter::once(end_entity.clone().into_owned())
            .chain(intermediates.iter().map(|c| c.clone().into_owned()))
            .collect();
        seen.verdict = Some(verdict);
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn describe_tls_error(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::Expired) => "certificate has expired".into(),
        rustls::Error::InvalidCertificate(C::ExpiredContext { time, not_after }) => format!(
            "certificate expired at {} (now {})",
            unix_to_rfc3339(not_after.as_secs() as i64),
            unix_to_rfc3339(time.as_secs() as i64)
        ),
        rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "certificate is not valid yet".into()
        }
        rustls::Error::InvalidCertificate(C::NotValidForName) => {
            "certificate is not valid for this host name".into()
        }
        rustls::Error::InvalidCertificate(C::NotValidForNameContext {
            expected,
            presented,
        }) => {
            format!(
                "certificate is not valid for {expected:?} (it names {})",
                presented.join(", ")
            )
        }
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            "certificate is signed by an unknown issuer".into()
        }
        rustls::Error::InvalidCertificate(C::BadSignature) => {
            "certificate has a bad signature".into()
        }
        rustls::Error::InvalidCertificate(C::Revoked) => "certificate is revoked".into(),
        other => other.to_string(),
    }
}

fn unix_to_rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| secs.to_string())
}

/// The webpki verifier for these options, built once per trust setting.
fn verifier(
    ctx: &super::ProbeContext,
    opts: &TlsOptions,
) -> Result<Arc<WebPkiServerVerifier>, Failure> {
    let mut cache = ctx.tls_verifiers.lock().expect("tls verifier cache");
    if let Some(v) = cache.get(opts) {
        return Ok(v.clone());
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &opts.ca_file {
        let bad = |e: &dyn std::fmt::Display| {
            Failure::new(ErrorClass::Tls, format!("ca_file {}: {e}", path.display()))
        };
        let pem = std::fs::read(path).map_err(|e| bad(&e))?;
        let mut added = 0;
        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: CertificateDer<'static> = cert.map_err(|e| bad(&e))?;
            roots.add(cert).map_err(|e| bad(&e))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad(&"holds no PEM certificate"));
        }
    }
    let verifier = WebPkiServerVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|e| Failure::new(ErrorClass::Tls, e.to_string()))?;
    cache.insert(opts.clone(), verifier.clone());
    Ok(verifier)
}

/// Performs a TLS handshake over `tcp`, recording the tls phase and the certificate.
/// Fails (class `tls`) when the handshake fails or the certificate does not verify.
#[allow(clippy::too_many_arguments)] // one phase of a probe: its inputs plus the records it fills
pub(super) async fn handshake(
    ctx: &super::ProbeContext,
    tcp: TcpStream,
    host: &str,
    opts: &TlsOptions,
    alpn: &[&[u8]],
    deadline: tokio::time::Instant,
    obs: &mut Observation,
    details: &mut Details,
) -> Result<TlsStream<TcpStream>, Failure> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    // A fresh configuration per probe: no session resumption, so the handshake time is real.
    let mut config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(RecordingVerifier {
            inner: verifier(ctx, opts)?,
            seen: seen.clone(),
        }))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name_str = opts.server_name.as_deref().unwrap_or(host);
    let name = ServerName::try_from(
        name_str
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
    .map_err(|e| {
        Failure::new(
            ErrorClass::Tls,
            format!("invalid server name {name_str:?}: {e}"),
        )
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let started = tokio::time::Instant::now();
    let result = phase(deadline, "during the TLS handshake", async {
        connector.connect(name, tcp).await.map_err(|e| {
            Failure::new(
                ErrorClass::Tls,
                format!("handshake failed: {}", io_tls_error(&e)),
            )
        })
    })
    .await;
    obs.phases.tls_ms = Some(ms_since(started));
    let seen = std::mem::take(&mut *seen.lock().expect("seen lock"));
    let mut tls = TlsDetails {
        chain_length: seen.chain.len(),
        ..Default::default()
    };
    if let Some(leaf) = seen.chain.first() {
        describe_leaf(leaf, &mut tls, obs);
    }
    tls.verdict = match &seen.verdict {
        Some(Ok(())) => "ok".into(),
        Some(Err(e)) => e.clone(),
        None => "no certificate".into(),
    };
    let stream = match result {
        Ok(s) => s,
        Err(f) => {
            details.tls = Some(tls);
            return Err(f);
        }
    };
    let (_, conn) = stream.get_ref();
    tls.version = conn.protocol_version().map(version_name);
    tls.cipher_suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()));
    tls.alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    obs.tls_version = tls.version.clone();
    let verdict = seen.verdict.clone();
    details.tls = Some(tls);
    match verdict {
        Some(Ok(())) => Ok(stream),
        Some(Err(e)) => Err(Failure::new(ErrorClass::Tls, e)),
        None => Err(Failure::new(ErrorClass::Tls, "server sent no certificate")),
    }
}

fn io_tls_error(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(t) => describe_tls_error(t),
        None => e.to_string(),
    }
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        other => format!("{other:?}"),
    }
}

fn describe_leaf(der: &CertificateDer<'_>, tls: &mut TlsDetails, obs: &mut Observation) {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der.as_ref()) else {
        return;
    };
    tls.subject = Some(cert.subject().to_string());
    tls.issuer = Some(cert.issuer().to_string());
    let not_after = cert.validity().not_after.timestamp();
    tls.not_after = Some(unix_to_rfc3339(not_after));
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let left_ms = not_after * 1000 - now_ms;
    tls.days_left = Some((left_ms as f64 / 86_400_000.0 * 10.0).round() / 10.0);
    obs.cert_expires_in_ms = Some(left_ms);
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(d) => tls.sans.push(d.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(b) => {
                    let ip = match b.len() {
                        4 => <[u8; 4]>::try_from(*b)
                            .ok()
                            .map(|a| std::net::IpAddr::from(a).to_string()),
                        16 => <[u8; 16]>::try_from(*b)
                            .ok()
                            .map(|a| std::net::IpAddr::from(a).to_string()),
                        _ => None,
                    };
                    tls.sans.extend(ip);
                }
                _ => {}
            }
        }
    }
}

/// The `tls` kind: connect and handshake, no HTTP.
pub(super) async fn probe(
    ctx: &super::ProbeContext,
    spec: &TlsSpec,
    deadline: tokio::time::Instant,
    obs: &mut Observation,
    details: &mut Details,
) -> Result<(), Failure> {
    let (host, tcp) = ctx
        .connect_address(&spec.address, spec.ip_version, deadline, obs, details)
        .await?;
    let _stream = handshake(ctx, tcp, &host, &spec.tls, &[], deadline, obs, details).await?;
    Ok(())
}
