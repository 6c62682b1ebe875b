//! The `dns` kind: one query to a chosen nameserver over UDP (TCP when truncated), with the
//! response code, the answers and the query time.

use super::{Details, DnsSpec, Failure, ms_since, phase};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use probity_core::condition::Observation;
use probity_core::result::ErrorClass;
use std::net::SocketAddr;
use std::str::FromStr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(super) async fn probe(
    _ctx: &super::ProbeContext,
    spec: &DnsSpec,
    deadline: tokio::time::Instant,
    obs: &mut Observation,
    details: &mut Details,
) -> Result<(), Failure> {
    let rtype = RecordType::from_str(&spec.record_type.to_ascii_uppercase()).map_err(|_| {
        Failure::new(
            ErrorClass::Dns,
            format!("unknown record type {}", spec.record_type),
        )
    })?;
    let name = Name::from_str(&spec.name).map_err(|e| {
        Failure::new(
            ErrorClass::Dns,
            format!("invalid name {:?}: {e}", spec.name),
        )
    })?;
    let server = match &spec.resolver {
        Some(r) => resolve_server(r)?,
        None => system_nameserver()?,
    };
    details.address = Some(server.to_string());
    let mut query = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(name, rtype));
    let bytes = query
        .to_vec()
        .map_err(|e| Failure::new(ErrorClass::Dns, format!("cannot encode query: {e}")))?;
    let started = tokio::time::Instant::now();
    let response = phase(deadline, "waiting for the DNS answer", async {
        let mut resp = udp_exchange(server, &bytes).await?;
        if resp.metadata.truncation {
            resp = tcp_exchange(server, &bytes).await?;
        }
        if resp.metadata.id != query.metadata.id {
            return Err(Failure::new(
                ErrorClass::Dns,
                "response id does not match the query",
            ));
        }
        Ok(resp)
    })
    .await;
    obs.phases.dns_ms = Some(ms_since(started));
    let response = response?;
    obs.connected = Some(true);
    let rcode = rcode_name(response.metadata.response_code);
    let answers: Vec<String> = response
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype || rtype == RecordType::ANY)
        .map(|r| render(&r.data))
        .collect();
    details.dns_rcode = Some(rcode.clone());
    details.dns_answers = answers.clone();
    obs.dns_rcode = Some(rcode.clone());
    obs.dns_answers = Some(answers.clone());
    if rcode != "NOERROR" && !spec.expect.is_empty() {
        return Err(Failure::new(
            ErrorClass::Dns,
            format!("server answered {rcode}"),
        ));
    }
    let missing: Vec<&String> = spec
        .expect
        .iter()
        .filter(|e| !answers.contains(e))
        .collect();
    if !missing.is_empty() {
        return Err(Failure::new(
            ErrorClass::Dns,
            format!("expected {missing:?} among the answers, got {answers:?}"),
        ));
    }
    Ok(())
}

fn rand_id() -> u16 {
    // Not security-relevant beyond matching our own response; the clock's low bits suffice.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (nanos ^ (nanos >> 16)) as u16
}

fn resolve_server(r: &str) -> Result<SocketAddr, Failure> {
    if let Ok(a) = r.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(ip) = r.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    use std::net::ToSocketAddrs;
    r.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Failure::new(ErrorClass::Dns, format!("resolver `{r}` is not host:port")))
}

fn system_nameserver() -> Result<SocketAddr, Failure> {
    let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .ok_or_else(|| {
            Failure::new(
                ErrorClass::Dns,
                "no nameserver in /etc/resolv.conf; set `resolver`",
            )
        })
}

async fn udp_exchange(server: SocketAddr, bytes: &[u8]) -> Result<Message, Failure> {
    let bind: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .expect("bind addr");
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| Failure::new(ErrorClass::Connect, format!("udp socket: {e}")))?;
    sock.connect(server)
        .await
        .map_err(|e| Failure::new(ErrorClass::Connect, format!("{server}: {e}")))?;
    sock.send(bytes)
        .await
        .map_err(|e| Failure::new(ErrorClass::Connect, format!("{server}: {e}")))?;
    let mut buf = vec![0u8; 4096];
    let n = sock
        .recv(&mut buf)
        .await
        .map_err(|e| Failure::new(ErrorClass::Connect, format!("{server}: {e}")))?;
    Message::from_vec(&buf[..n])
        .map_err(|e| Failure::new(ErrorClass::Dns, format!("malformed response: {e}")))
}

async fn tcp_exchange(server: SocketAddr, bytes: &[u8]) -> Result<Message, Failure> {
    let mut s = tokio::net::TcpStream::connect(server)
        .await
        .map_err(|e| Failure::new(ErrorClass::Connect, format!("{server} (tcp): {e}")))?;
    let mut framed = Vec::with_capacity(bytes.len() + 2);
    framed.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    framed.extend_from_slice(bytes);
    let io = |e: std::io::Error| Failure::new(ErrorClass::Protocol, format!("{server} (tcp): {e}"));
    s.write_all(&framed).await.map_err(io)?;
    let len = s.read_u16().await.map_err(io)?;
    let mut buf = vec![0u8; usize::from(len)];
    s.read_exact(&mut buf).await.map_err(io)?;
    Message::from_vec(&buf)
        .map_err(|e| Failure::new(ErrorClass::Dns, format!("malformed response: {e}")))
}

fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        other => format!("{other}").to_ascii_uppercase(),
    }
}

/// Answers as people write them: `192.0.2.1`, `mail.example.com.` (MX: `10 mail.example.com.`),
/// TXT as its text.
fn render(data: &RData) -> String {
    match data {
        RData::A(a) => a.0.to_string(),
        RData::AAAA(a) => a.0.to_string(),
        RData::TXT(t) => t
            .txt_data
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join(""),
        other => other.to_string(),
    }
}
