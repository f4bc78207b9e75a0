//! The HTTP surface every service shares: `GET /health` and `GET /metrics`. Services merge
//! their own routes (`/status`, look-ups, the recording API) into [`base_router`].

use super::health::Health;
use super::metrics::Metrics;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;

/// State shared by the base routes.
#[derive(Debug, Clone)]
pub struct OpsState {
    /// Dependency health.
    pub health: Health,
    /// Metrics registry.
    pub metrics: Metrics,
}

async fn health(State(s): State<OpsState>) -> Response {
    let report = s.health.report();
    let code = if report.status == "UP" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(report)).into_response()
}

async fn metrics(State(s): State<OpsState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

/// `/health` and `/metrics` over the given state.
pub fn base_router(state: OpsState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Binds `addr` and serves `router` until the task is dropped. Returns the bound address
/// (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    router: Router,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok((local, task))
}
