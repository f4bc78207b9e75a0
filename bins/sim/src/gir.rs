//! A stand-in for GIR's Interaction Recording Web Services (RWS), the part EXCP talks to in
//! the guide's GIR mode: `GET /api/v2/ops/contact-centers/{ccid}/recordings/{id}` with HTTP
//! Basic authentication as the Ops user, answering `{"statusCode":0,"recording":{…}}` (the shape
//! of Genesys' documented sample), 404 `{"statusCode":6,…}` for a recording it does not know
//! (yet), 401 for wrong credentials. Recordings are added by the test or the demo.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Default)]
struct Inner {
    recordings: HashMap<String, serde_json::Value>,
    requests: u64,
}

#[derive(Clone)]
struct App {
    contact_center: String,
    basic: String,
    inner: Arc<Mutex<Inner>>,
}

/// A running RWS stand-in.
pub struct RwsStandIn {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for RwsStandIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RwsStandIn")
            .field("addr", &self.addr)
            .finish()
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn recording(
    State(app): State<App>,
    Path((cc, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut inner = app.inner.lock().unwrap_or_else(PoisonError::into_inner);
    inner.requests += 1;
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth != app.basic {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"statusCode": 2, "statusMessage": "Not authorized"})),
        )
            .into_response();
    }
    match inner
        .recordings
        .get(&id)
        .filter(|_| cc == app.contact_center)
    {
        Some(r) => axum::Json(serde_json::json!({"statusCode": 0, "recording": r})).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(
                serde_json::json!({"statusCode": 6, "statusMessage": "Recording not found"}),
            ),
        )
            .into_response(),
    }
}

impl RwsStandIn {
    /// Listens on `127.0.0.1:0` for contact center `contact_center`, Ops user `user`/`password`.
    pub async fn start(
        contact_center: &str,
        user: &str,
        password: &str,
    ) -> std::io::Result<RwsStandIn> {
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let app = App {
            contact_center: contact_center.to_string(),
            basic: format!("Basic {}", b64(&format!("{user}:{password}"))),
            inner: inner.clone(),
        };
        let router = axum::Router::new()
            .route(
                "/api/v2/ops/contact-centers/{cc}/recordings/{id}",
                get(recording),
            )
            .with_state(app);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(RwsStandIn { addr, inner, task })
    }

    /// `http://127.0.0.1:PORT` (EXCP_GIR_HOST for a test).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes a recording known (the `recording` object of RWS's answer), by its id (CallUUID).
    pub fn add(&self, id: &str, recording: serde_json::Value) {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recordings
            .insert(id.to_string(), recording);
    }

    /// Requests received.
    pub fn requests(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .requests
    }
}

impl Drop for RwsStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_encode_as_rfc_4648() {
        assert_eq!(b64("ops:ops"), "b3BzOm9wcw==");
        assert_eq!(b64("Aladdin:open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(b64("ab"), "YWI=");
    }
}
