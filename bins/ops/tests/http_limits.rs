//! Issue 12 §11: every REST endpoint is hardened (body cap, JSON only, timeout, in-flight cap)
//! and the routes that change state or return personal data can require a token. Spoken to
//! over real TCP, as a browser, a flood or a slow client would.

use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use engage_ops::http::{HttpLimits, protect, serve_with};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn echo(body: Bytes) -> String {
    format!("got {} bytes", body.len())
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "late"
}

fn app() -> Router {
    let secret = Router::new().route("/api/secret", get(|| async { "personal data" }));
    Router::new()
        .route("/api/echo", post(echo))
        .route("/slow", get(slow))
        .route("/health", get(|| async { "up" }))
        .merge(protect(secret, Some(gcex::Secret::new("s3cr3t-token"))))
}

async fn start(limits: HttpLimits) -> SocketAddr {
    let (addr, _task) = serve_with("127.0.0.1:0".parse().unwrap(), app(), limits)
        .await
        .unwrap();
    addr
}

/// Sends raw bytes and returns the whole answer (the server closes: `Connection: close`).
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn post_req(path: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        r.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    r.push_str("\r\n");
    let mut b = r.into_bytes();
    b.extend_from_slice(body);
    b
}

fn status(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn bodies_must_be_small_json() {
    let addr = start(HttpLimits::default()).await;
    let ok = raw(
        addr,
        &post_req("/api/echo", Some("application/json"), b"{}"),
    )
    .await;
    assert_eq!(status(&ok), 200, "{ok}");
    let ok = raw(
        addr,
        &post_req("/api/echo", Some("application/json; charset=utf-8"), b"{}"),
    )
    .await;
    assert_eq!(status(&ok), 200, "{ok}");
    // What a cross-site form or a plain-text post sends: refused before the handler.
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let a = raw(addr, &post_req("/api/echo", ct, b"{\"a\":1}")).await;
        assert_eq!(status(&a), 415, "{ct:?}: {a}");
    }
    // An empty POST (the guide's readiness check) still reaches the handler.
    let empty = raw(addr, &post_req("/api/echo", None, b"")).await;
    assert_eq!(status(&empty), 200, "{empty}");
    // Over 64 KiB: refused, declared or chunked.
    let big = vec![b' '; 64 * 1024 + 1];
    let a = raw(addr, &post_req("/api/echo", Some("application/json"), &big)).await;
    assert_eq!(status(&a), 413, "{a}");
    let mut chunked = b"POST /api/echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        chunked.extend_from_slice(format!("{:x}\r\n", 30_000).as_bytes());
        chunked.extend_from_slice(&vec![b' '; 30_000]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let a = raw(addr, &chunked).await;
    assert_eq!(status(&a), 413, "{a}");
}

#[tokio::test]
async fn slow_handlers_and_slow_clients_time_out() {
    let limits = HttpLimits {
        request_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    };
    let addr = start(limits).await;
    let a = raw(
        addr,
        b"GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&a), 503, "{a}");
    // A client that announces a body and then sends it a byte at a time.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /api/echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let mut out = Vec::new();
    let started = tokio::time::Instant::now();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let mut buf = [0u8; 1024];
            tokio::select! {
                n = s.read(&mut buf) => match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                },
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    let _ = s.write_all(b" ").await;
                }
            }
        }
    })
    .await;
    let a = String::from_utf8_lossy(&out);
    assert_eq!(status(&a), 503, "{a}");
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "cut off by the timeout"
    );
}

#[tokio::test]
async fn a_flood_is_shed_not_queued() {
    let limits = HttpLimits {
        max_in_flight: 2,
        request_timeout: Duration::from_secs(30),
        ..HttpLimits::default()
    };
    let addr = start(limits).await;
    let slow_req = b"GET /slow HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let hold: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { raw(addr, slow_req).await }))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = raw(
        addr,
        b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&a), 503, "{a}");
    assert!(a.to_ascii_lowercase().contains("retry-after: 1"), "{a}");
    for h in hold {
        assert_eq!(status(&h.await.unwrap()), 200);
    }
    // Free again once they are done.
    let a = raw(
        addr,
        b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&a), 200, "{a}");
}

#[tokio::test]
async fn protected_routes_need_the_token_and_never_echo_it() {
    let addr = start(HttpLimits::default()).await;
    let request = |auth: Option<&str>| {
        let mut r = "GET /api/secret HTTP/1.1\r\nHost: t\r\nConnection: close\r\n".to_string();
        if let Some(a) = auth {
            r.push_str(&format!("Authorization: {a}\r\n"));
        }
        r.push_str("\r\n");
        r.into_bytes()
    };
    let a = raw(addr, &request(None)).await;
    assert_eq!(status(&a), 401, "{a}");
    assert!(
        a.to_ascii_lowercase().contains("www-authenticate: bearer"),
        "{a}"
    );
    for wrong in [
        "Bearer s3cr3t-tokeN",
        "Bearer s3cr3t",
        "Basic s3cr3t-token",
        "Bearer ",
    ] {
        let a = raw(addr, &request(Some(wrong))).await;
        assert_eq!(status(&a), 401, "{wrong}: {a}");
        assert!(!a.contains("s3cr3t-token"), "{a}");
    }
    let a = raw(addr, &request(Some("Bearer s3cr3t-token"))).await;
    assert_eq!(status(&a), 200, "{a}");
    assert!(a.ends_with("personal data"), "{a}");
    // The open routes stay open.
    let a = raw(
        addr,
        b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&a), 200, "{a}");
    // No token configured: the routes are open (the guide's deployment).
    let open = protect(
        Router::new().route("/x", get(|| async { "x" })),
        Some(gcex::Secret::new("")),
    );
    let (addr, _t) = serve_with("127.0.0.1:0".parse().unwrap(), open, HttpLimits::default())
        .await
        .unwrap();
    let a = raw(
        addr,
        b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status(&a), 200, "{a}");
}
