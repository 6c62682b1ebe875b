//! A minimal loopback HTTP and TCP server for the benchmarks (`bench/run.sh`): answers every
//! HTTP request with 200 "ok" and echoes TCP lines, with as little work of its own as
//! possible so the machine's time goes to the prober being measured.
//!
//! Usage: `bench_server HTTP_PORT TCP_PORT`

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let http_port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(18080);
    let tcp_port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(18081);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let http = tokio::net::TcpListener::bind(("127.0.0.1", http_port)).await?;
        let tcp = tokio::net::TcpListener::bind(("127.0.0.1", tcp_port)).await?;
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = tcp.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    let mut buf = [0u8; 512];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        loop {
            let Ok((s, _)) = http.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                        Bytes::from_static(b"ok"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    })
}
