//! `/health` and `/metrics` over real HTTP.

use engage_ops::health::Health;
use engage_ops::http::{OpsState, base_router, serve};
use engage_ops::metrics::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    let code: u16 = buf[9..12].parse().unwrap();
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}

#[tokio::test]
async fn health_reflects_dependencies_and_metrics_render() {
    let health = Health::new();
    let metrics = Metrics::new();
    let router = base_router(OpsState {
        health: health.clone(),
        metrics: metrics.clone(),
    });
    let (addr, _task) = serve("127.0.0.1:0".parse().unwrap(), router).await.unwrap();

    health.up("store", "embedded");
    health.down("gc", "token endpoint answered 503");
    let (code, body) = get(addr, "/health").await;
    assert_eq!(code, 503);
    assert!(body.contains("\"gc\""), "{body}");
    assert!(body.contains("token endpoint answered 503"), "{body}");

    health.up("gc", "token valid");
    let (code, body) = get(addr, "/health").await;
    assert_eq!(code, 200);
    assert!(body.contains("\"status\":\"UP\""), "{body}");

    metrics.inc("exec_test_total", "A test counter.", &[]);
    let (code, body) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("exec_test_total 1"), "{body}");
}
