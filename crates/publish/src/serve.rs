//! The HTTP server's connection handling: at most `max_connections` inbound connections at
//! once (the rest wait in the kernel's backlog, holding no descriptor of ours), and each
//! closed when it sends no complete request head within `idle_timeout`, whether it just
//! connected or sits idle between requests. So idle sockets cannot take the descriptors
//! probes need. HTTP/1.1 only: the API, pages and agents speak it.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};

/// Bounds on inbound connections.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

/// The connection limit when `[server] max_connections` is not set: a quarter of the
/// open-files limit (so three quarters stay for probes, the store and agents), between 16
/// and 1024.
pub fn default_max_connections(open_files_limit: u64) -> usize {
    (open_files_limit / 4).clamp(16, 1024) as usize
}

/// Serves `app` on `listener` until `stop` turns true; then stops accepting, closes idle
/// connections, and waits up to `drain` for requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
    drain: Duration,
) {
    let max = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut last_warned: Option<tokio::time::Instant> = None;
    loop {
        if permits.available_permits() == 0
            && last_warned.is_none_or(|t| t.elapsed() > Duration::from_secs(60))
        {
            last_warned = Some(tokio::time::Instant::now());
            tracing::warn!(
                max_connections = max,
                "every inbound connection slot is taken; new connections wait"
            );
        }
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = turned_true(&mut stop) => break,
        };
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of descriptors or memory: wait rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = turned_true(&mut stop) => break,
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                let mut app = app.clone();
                async move {
                    use tower_service::Service;
                    app.call(req.map(axum::body::Body::new)).await
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.idle_timeout)
                .serve_connection(TokioIo::new(tcp), service);
            tokio::pin!(conn);
            let closed = tokio::select! {
                _ = conn.as_mut() => true,
                _ = turned_true(&mut closing) => false,
            };
            if !closed {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        });
    }
    let _ = closing_tx.send(true);
    let _ = tokio::time::timeout(drain, permits.acquire_many(max as u32)).await;
}

/// Resolves once `rx` holds `true` (or its sender is gone).
async fn turned_true(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn app() -> axum::Router {
        axum::Router::new().route("/", axum::routing::get(|| async { "hello" }))
    }

    /// Over the limit, a connection waits; it is served once an idle one is timed out.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_are_limited_and_idle_ones_closed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop) = watch::channel(false);
        let limits = Limits {
            max_connections: 2,
            idle_timeout: Duration::from_millis(500),
        };
        let server = tokio::spawn(serve(listener, app(), limits, stop, Duration::from_secs(1)));
        let outcome = tokio::task::spawn_blocking(move || {
            let idle: Vec<_> = (0..2)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            std::thread::sleep(Duration::from_millis(100));
            let started = std::time::Instant::now();
            let mut third = std::net::TcpStream::connect(addr).unwrap();
            third
                .write_all(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            third.read_to_string(&mut answer).unwrap();
            let waited = started.elapsed();
            // The idle ones were closed by the server: reading gives end of file.
            let closed = idle
                .into_iter()
                .map(|mut s| {
                    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let mut b = [0u8; 16];
                    matches!(s.read(&mut b), Ok(0))
                })
                .collect::<Vec<_>>();
            (answer, waited, closed)
        })
        .await
        .unwrap();
        let (answer, waited, closed) = outcome;
        assert!(answer.ends_with("hello"), "{answer}");
        assert!(
            waited >= Duration::from_millis(300),
            "the third waited for a slot: {waited:?}"
        );
        assert_eq!(closed, [true, true]);
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops")
            .unwrap();
    }

    #[test]
    fn the_default_limit_leaves_most_descriptors_to_probes() {
        assert_eq!(default_max_connections(1024), 256);
        assert_eq!(default_max_connections(64), 16);
        assert_eq!(default_max_connections(1_048_576), 1024);
    }
}
