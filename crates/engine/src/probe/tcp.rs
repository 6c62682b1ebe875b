//! The `tcp` kind: connect, and optionally send a line and read the reply.

use super::{Details, Failure, TcpSpec, phase};
use probity_core::condition::Observation;
use probity_core::result::ErrorClass;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The most of a reply read back.
const REPLY_MAX: usize = 4096;
/// How long to wait for more after a complete line before taking the reply as finished.
const LINE_QUIET: std::time::Duration = std::time::Duration::from_millis(200);

pub(super) async fn probe(
    ctx: &super::ProbeContext,
    spec: &TcpSpec,
    deadline: tokio::time::Instant,
    obs: &mut Observation,
    details: &mut Details,
) -> Result<(), Failure> {
    let (_, mut stream) = ctx
        .connect_address(&spec.address, spec.ip_version, deadline, obs, details)
        .await?;
    if spec.send.is_none() && spec.expect.is_none() {
        return Ok(());
    }
    let started = tokio::time::Instant::now();
    let reply = phase(deadline, "waiting for the reply", async {
        if let Some(send) = &spec.send {
            let mut line = send.clone();
            if !line.ends_with('\n') {
                line.push('\n');
            }
            stream
                .write_all(line.as_bytes())
                .await
                .map_err(|e| Failure::new(ErrorClass::Protocol, format!("send: {e}")))?;
        }
        let mut buf = vec![0u8; REPLY_MAX];
        let mut len = 0;
        // Read until the expected text shows up, the peer closes, or a complete line is
        // followed by a short quiet spell (so multi-line banners are read whole).
        loop {
            let complete_line = buf[..len].contains(&b'\n');
            let read = stream.read(&mut buf[len..]);
            let n = if complete_line {
                match tokio::time::timeout(LINE_QUIET, read).await {
                    Ok(r) => r,
                    Err(_) => return Ok(String::from_utf8_lossy(&buf[..len]).into_owned()),
                }
            } else {
                read.await
            }
            .map_err(|e| Failure::new(ErrorClass::Protocol, format!("read: {e}")))?;
            len += n;
            let text = String::from_utf8_lossy(&buf[..len]);
            let expected = spec.expect.as_deref().is_some_and(|e| text.contains(e));
            let line_only = spec.expect.is_none() && text.contains('\n');
            if n == 0 || len == REPLY_MAX || expected || line_only {
                return Ok(text.into_owned());
            }
        }
    })
    .await?;
    obs.phases.ttfb_ms = Some(super::ms_since(started));
    details.reply = Some(reply.trim_end().chars().take(200).collect());
    obs.reply = Some(reply.clone());
    if let Some(expect) = &spec.expect
        && !reply.contains(expect.as_str())
    {
        return Err(Failure::new(
            ErrorClass::Condition,
            format!("reply {:?} does not contain {expect:?}", reply.trim_end()),
        ));
    }
    Ok(())
}
