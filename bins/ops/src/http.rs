//! The HTTP surface every service shares: `GET /health` and `GET /metrics`. Services merge
//! their own routes (`/status`, look-ups, the recording API) into [`base_router`].
//!
//! Every router [`serve`] serves is hardened ([`harden`], issue 12 §11): request bodies are
//! capped (64 KiB), a request with a body must be `application/json`, a request that takes
//! longer than 30 s is answered `503`, and at most 64 requests are handled at once (the next
//! is answered `503` with `Retry-After: 1` at once, never queued). Routes that change state
//! or return personal data can require a shared token ([`protect`]: `Authorization: Bearer`).

use super::health::Health;
use super::metrics::Metrics;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

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
    crate::process::record(&s.metrics);
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

/// What every REST endpoint is allowed (issue 12 §11). [`HttpLimits::default`] is what the
/// services use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request body (64 KiB); a larger one is answered `413`.
    pub max_body_bytes: usize,
    /// Longest a request may take, body included (30 s); then `503`.
    pub request_timeout: Duration,
    /// Requests handled at once (64); beyond, `503` with `Retry-After: 1`.
    pub max_in_flight: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(30),
            max_in_flight: 64,
        }
    }
}

fn refusal(status: StatusCode, message: String) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}

/// Whether a request carries a body (declared length above 0, or chunked).
fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > 0)
        || h.contains_key(header::TRANSFER_ENCODING)
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
}

/// Wraps `router` in the limits: body cap, JSON-only bodies, timeout, in-flight cap. A
/// state-changing request from a web page (a cross-site form post is `text/plain` or
/// form-encoded) is refused with `415` before any handler runs.
pub fn harden(router: Router, limits: HttpLimits) -> Router {
    let timeout = limits.request_timeout;
    let max_body = limits.max_body_bytes;
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight.max(1)));
    let max_in_flight = limits.max_in_flight.max(1);
    router
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| async move {
                let with_body = matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH)
                    && has_body(&req);
                if with_body && !is_json(&req) {
                    return refusal(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "the body must be JSON (Content-Type: application/json)".into(),
                    );
                }
                let declared = req
                    .headers()
                    .get(header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                if declared.is_some_and(|n| n > max_body as u64) {
                    return refusal(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the body is over {max_body} bytes"),
                    );
                }
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(r) => r,
                    Err(_) => refusal(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("the request took longer than {} s", timeout.as_secs()),
                    ),
                }
            },
        ))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| {
                let permits = permits.clone();
                async move {
                    match permits.try_acquire_owned() {
                        Ok(_permit) => next.run(req).await,
                        Err(_) => {
                            let mut r = refusal(
                                StatusCode::SERVICE_UNAVAILABLE,
                                format!("busy: {max_in_flight} requests in flight; retry"),
                            );
                            r.headers_mut()
                                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                            r
                        }
                    }
                }
            },
        ))
}

/// Equal-length comparison in time independent of where the bytes differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Requires `Authorization: Bearer <token>` on every route of `router` when `token` is set
/// and not empty (the services' `<SERVICE>_API_TOKEN`, our addition); `None` leaves the routes
/// open, as the guide deploys them (a load balancer in front can add the header). A missing
/// or wrong token is answered `401`; the token never appears in a log or an answer.
pub fn protect(router: Router, token: Option<gcex::Secret>) -> Router {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return router;
    };
    let token = Arc::new(token);
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let token = token.clone();
            async move {
                let given = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .map(str::trim);
                match given {
                    Some(g) if same_secret(g.as_bytes(), token.expose().as_bytes()) => {
                        next.run(req).await
                    }
                    _ => {
                        let mut r = refusal(
                            StatusCode::UNAUTHORIZED,
                            "this endpoint needs the service's API token (Authorization: Bearer)"
                                .into(),
                        );
                        r.headers_mut().insert(
                            header::WWW_AUTHENTICATE,
                            header::HeaderValue::from_static("Bearer"),
                        );
                        r
                    }
                }
            }
        },
    ))
}

/// Binds `addr` and serves `router`, hardened with [`HttpLimits::default`], until the task
/// is dropped. Returns the bound address (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    router: Router,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    serve_with(addr, router, HttpLimits::default()).await
}

/// [`serve`] with other limits.
pub async fn serve_with(
    addr: SocketAddr,
    router: Router,
    limits: HttpLimits,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let router = harden(router, limits);
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok((local, task))
}

/// Resolves the listen address `host:port` (`<SERVICE>_HOST`, `<SERVICE>_PORT`) to one
/// socket address; the error names the address.
pub async fn listen_addr(host: &str, port: u16) -> Result<SocketAddr, ListenError> {
    let text = format!("{host}:{port}");
    let mut addrs = tokio::net::lookup_host(&text)
        .await
        .map_err(|source| ListenError {
            addr: text.clone(),
            source,
        })?;
    let first = addrs.next();
    drop(addrs);
    first.ok_or_else(|| ListenError {
        addr: text,
        source: std::io::Error::other("the host name resolves to no address"),
    })
}

/// The listen address could not be resolved.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr}: {source}; check the service's _HOST and _PORT settings")]
pub struct ListenError {
    /// The address as configured.
    pub addr: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
}
