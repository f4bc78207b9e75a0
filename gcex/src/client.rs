//! The HTTP driver: token, limiter, retries, typed errors. Endpoints live in their own modules.

use crate::auth::TokenCache;
use crate::config::GcConfig;
use crate::error::{ErrorBody, GcError, TransportKind};
use crate::limiter::Limiter;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Whether a request may be sent again after it possibly reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// GET/PUT/DELETE, and POSTs the API makes safe to repeat (event injection: events carry
    /// their own `eventId`; queue member add/remove; bulk assignments).
    Safe,
    /// Creates: retried only when the server surely did not act (429, connect failure).
    Unsafe,
}

/// Counters of what the client did, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientStats {
    /// HTTP requests sent to the API (every attempt counts).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Access tokens obtained.
    pub tokens_issued: u64,
    /// Pauses taken because GC's `inin-ratelimit-*` headers said the budget was nearly spent.
    pub paced: u64,
    /// Milliseconds spent waiting before retries (backoffs and `Retry-After`).
    pub waited_ms: u64,
}

/// Answers of one endpoint in one class, for metrics ([`GcClient::endpoint_stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointCount {
    /// HTTP method.
    pub method: String,
    /// The path with ids replaced by `{id}` (`/api/v2/users/{id}/roles`).
    pub endpoint: String,
    /// `2xx`, `4xx`, `429`, `5xx`, or `transport` (no HTTP answer).
    pub class: &'static str,
    /// Answers.
    pub count: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    paced: AtomicU64,
    waited_ms: AtomicU64,
    by_endpoint: std::sync::Mutex<std::collections::BTreeMap<(String, String, &'static str), u64>>,
}

/// The most distinct (method, endpoint, class) series one client keeps: a path shape this
/// version does not recognise as an id cannot grow the metrics without bound.
const MAX_ENDPOINT_SERIES: usize = 256;

/// `path` with its ids replaced by `{id}`: segments that hold a digit and are UUIDs, numbers
/// or longer than 20 characters. Pure.
pub fn endpoint_template(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.split('/')
        .map(|seg| {
            let has_digit = seg.bytes().any(|b| b.is_ascii_digit());
            let uuid = seg.len() == 36 && seg.bytes().filter(|b| *b == b'-').count() == 4;
            let number = !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit());
            if has_digit && (uuid || number || seg.len() > 20) {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn answer_class(outcome: Option<u16>) -> &'static str {
    match outcome {
        None => "transport",
        Some(429) => "429",
        Some(200..=299) => "2xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
    }
}

struct Inner {
    cfg: GcConfig,
    http: reqwest::Client,
    tokens: TokenCache,
    limiter: Limiter,
    counters: Counters,
}

/// A Genesys Cloud Platform API client for one org. Cheap to clone; clones share the token,
/// the rate limiter and the counters.
#[derive(Clone)]
pub struct GcClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for GcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcClient")
            .field("base_service_url", &self.inner.cfg.base_service_url)
            .field("client_id", &self.inner.cfg.client_id)
            .finish_non_exhaustive()
    }
}

pub(crate) fn transport_kind(e: &reqwest::Error) -> TransportKind {
    if e.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::AfterSend
    }
}

/// The longest `Retry-After` taken literally (one day); a longer one is clamped to it, so
/// that no value a server sends can overflow the time arithmetic. (A wait above the retry
/// policy's `max_retry_after` is not waited anyway: the request fails.)
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

pub(crate) fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = v.parse().ok()?;
    if !(secs.is_finite() && secs >= 0.0) {
        return None;
    }
    Some(
        Duration::try_from_secs_f64(secs)
            .unwrap_or(MAX_RETRY_AFTER)
            .min(MAX_RETRY_AFTER),
    )
}

/// The longest pause taken from `inin-ratelimit-reset` (GC's windows are a minute).
const MAX_PACE: Duration = Duration::from_secs(60);

/// How long to pause before the next request, from GC's `inin-ratelimit-count` /
/// `-allowed` / `-reset` headers: when at most `max(1, allowed / 50)` requests of the window
/// are left, until the window resets (`reset` read as seconds until then, as Genesys' own
/// samples do; clamped to a minute). `None` without the headers or with budget left.
pub(crate) fn pace(h: &HeaderMap) -> Option<Duration> {
    let num = |name: &str| -> Option<f64> {
        h.get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let count = num("inin-ratelimit-count")?;
    let allowed = num("inin-ratelimit-allowed")?;
    if allowed < 1.0 {
        return None;
    }
    let margin = (allowed / 50.0).floor().max(1.0);
    if allowed - count > margin {
        return None;
    }
    let reset = num("inin-ratelimit-reset").unwrap_or(1.0);
    Some(
        Duration::try_from_secs_f64(reset)
            .unwrap_or(MAX_PACE)
            .min(MAX_PACE),
    )
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// One request as the endpoint modules describe it.
pub(crate) struct Req {
    pub method: Method,
    /// `/api/v2/...`, or an absolute/relative `nextUri` carrying its own query.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub retry: Retry,
    /// The body's media type (`application/json`; SCIM sends `application/scim+json`).
    pub content_type: &'static str,
    /// Extra request headers (SCIM's `If-Match`).
    pub headers: Vec<(&'static str, String)>,
}

impl Req {
    pub(crate) fn new(method: Method, path: impl Into<String>, retry: Retry) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            retry,
            content_type: "application/json",
            headers: Vec::new(),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn query(mut self, k: &str, v: impl ToString) -> Self {
        self.query.push((k.to_owned(), v.to_string()));
        self
    }

    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self, GcError> {
        self.body = Some(serde_json::to_vec(body).map_err(|e| {
            GcError::InvalidInput(format!("cannot serialise the request body: {e}"))
        })?);
        Ok(self)
    }
}

impl GcClient {
    /// A client for the configured org. Builds the HTTP client (rustls, aws-lc-rs provider);
    /// no request is sent until the first call.
    pub fn new(cfg: GcConfig) -> Result<Self, GcError> {
        cfg.validate()?;
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10).min(cfg.request_timeout))
            .build()
            .map_err(|e| GcError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                limiter: Limiter::new(cfg.rate_limit),
                cfg,
                http,
                tokens: TokenCache::new(),
                counters: Counters::default(),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &GcConfig {
        &self.inner.cfg
    }

    /// What the client did so far.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            tokens_issued: self.inner.tokens.issued(),
            paced: c.paced.load(Ordering::Relaxed),
            waited_ms: c.waited_ms.load(Ordering::Relaxed),
        }
    }

    /// Answers per endpoint and class since the client was built (every attempt counts).
    pub fn endpoint_stats(&self) -> Vec<EndpointCount> {
        let map = self
            .inner
            .counters
            .by_endpoint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter()
            .map(|((method, endpoint, class), count)| EndpointCount {
                method: method.clone(),
                endpoint: endpoint.clone(),
                class,
                count: *count,
            })
            .collect()
    }

    fn count_answer(&self, method: &str, endpoint: &str, status: Option<u16>) {
        let mut map = self
            .inner
            .counters
            .by_endpoint
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (
            method.to_string(),
            endpoint.to_string(),
            answer_class(status),
        );
        if map.len() < MAX_ENDPOINT_SERIES || map.contains_key(&key) {
            *map.entry(key).or_insert(0) += 1;
        }
    }

    /// Obtains a token now (a health check of the credentials).
    pub async fn authenticate(&self) -> Result<(), GcError> {
        self.inner
            .tokens
            .token(&self.inner.http, &self.inner.cfg)
            .await
            .map(|_| ())
    }

    /// The raw HTTP client (for presigned uploads, which carry no bearer token).
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The URL of `path`. An absolute URL (a `nextUri` GC returned) is followed only on the
    /// configured API origin: the bearer token never goes to another host.
    fn url(&self, path: &str) -> Result<String, GcError> {
        match crate::config::origin(path) {
            None => Ok(format!("{}{}", self.inner.cfg.base_service_url, path)),
            Some(o) if o == self.inner.cfg.api_origin() => Ok(path.to_owned()),
            Some(o) => Err(GcError::InvalidInput(format!(
                "GC returned a link to {o}, not to the configured API {}: not followed (the \
                 access token is only sent to the API host); check base_service_url",
                self.inner.cfg.api_origin()
            ))),
        }
    }

    /// Sends `req` with retries and decodes the answer (an empty body decodes as `null`).
    pub(crate) async fn call<R: DeserializeOwned>(&self, req: Req) -> Result<R, GcError> {
        let bytes = self.execute(&req).await?;
        let slice: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            &bytes
        };
        serde_json::from_slice(slice).map_err(|source| GcError::Decode {
            method: req.method.to_string(),
            path: path_only(&req.path),
            source,
        })
    }

    /// Sends `req` with token, limiter and retries; returns the successful body.
    pub(crate) async fn execute(&self, req: &Req) -> Result<Vec<u8>, GcError> {
        let inner = &*self.inner;
        let policy = inner.cfg.retry;
        let started = Instant::now();
        let mut attempts = 0u32;
        let mut retries = 0u32;
        let mut waited = Duration::ZERO;
        let mut renewed = false;
        let method = req.method.to_string();
        let path = path_only(&req.path);
        let endpoint = endpoint_template(&path);
        let url = self.url(&req.path)?;
        loop {
            attempts += 1;
            let token = inner.tokens.token(&inner.http, &inner.cfg).await?;
            let permit = inner.limiter.acquire().await;
            inner.counters.requests.fetch_add(1, Ordering::Relaxed);
            let mut rb = inner
                .http
                .request(req.method.clone(), &url)
                .bearer_auth(token.expose())
                .timeout(inner.cfg.request_timeout);
            if !req.query.is_empty() {
                rb = rb.query(&req.query);
            }
            for (name, value) in &req.headers {
                rb = rb.header(*name, value);
            }
            if let Some(body) = &req.body {
                rb = rb
                    .header(reqwest::header::CONTENT_TYPE, req.content_type)
                    .body(body.clone());
            }
            let outcome = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(b) => Ok((status, headers, b)),
                        Err(source) => Err(GcError::Transport {
                            method: method.clone(),
                            path: path.clone(),
                            kind: TransportKind::AfterSend,
                            source,
                        }),
                    }
                }
                Err(source) => Err(GcError::Transport {
                    method: method.clone(),
                    path: path.clone(),
                    kind: transport_kind(&source),
                    source,
                }),
            };
            drop(permit);
            self.count_answer(
                &method,
                &endpoint,
                outcome.as_ref().ok().map(|(status, _, _)| *status),
            );
            if let Ok((_, headers, _)) = &outcome
                && let Some(pause) = pace(headers)
            {
                // GC says the budget is (nearly) spent: wait for its window to reset instead of
                // being refused.
                inner.counters.paced.fetch_add(1, Ordering::Relaxed);
                if let Some(until) = Instant::now().checked_add(pause) {
                    inner.limiter.block_until(until);
                }
            }
            let err = match outcome {
                Ok((status, _, body)) if (200..300).contains(&status) => return Ok(body.to_vec()),
                Ok((status, headers, body)) => GcError::Api {
                    method: method.clone(),
                    path: path.clone(),
                    status,
                    body: serde_json::from_slice::<ErrorBody>(&body)
                        .ok()
                        .map(Box::new),
                    correlation_id: header(&headers, "ININ-Correlation-Id"),
                    retry_after: retry_after(&headers),
                },
                Err(e) => e,
            };
            let wait = match &err {
                GcError::Api { status: 401, .. } if !renewed => {
                    renewed = true;
                    inner.tokens.invalidate(&token).await;
                    Some(Duration::ZERO)
                }
                GcError::Api {
                    status: 429,
                    retry_after,
                    ..
                } => {
                    inner.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                    let w = retry_after.unwrap_or_else(|| policy.backoff(retries));
                    if w > policy.max_retry_after {
                        None
                    } else {
                        if let Some(until) = Instant::now().checked_add(w) {
                            inner.limiter.block_until(until);
                        }
                        Some(w)
                    }
                }
                GcError::Api {
                    status: 502..=504, ..
                } if req.retry == Retry::Safe => Some(policy.backoff(retries)),
                GcError::Transport {
                    kind: TransportKind::Connect,
                    ..
                } => Some(policy.backoff(retries)),
                GcError::Transport { .. } if req.retry == Retry::Safe => {
                    Some(policy.backoff(retries))
                }
                _ => None,
            };
            let Some(wait) = wait else { return Err(err) };
            if retries >= policy.max_retries || waited + wait > policy.budget {
                return Err(GcError::GaveUp {
                    attempts,
                    elapsed: started.elapsed(),
                    last: Box::new(err),
                });
            }
            retries += 1;
            waited += wait;
            inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            inner.counters.waited_ms.fetch_add(
                u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
            tracing::debug!(method = %method, path = %path, attempt = attempts, wait_ms = wait.as_millis() as u64, error = %err, "retrying Genesys Cloud request");
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// GET and decode.
    pub(crate) async fn get<R: DeserializeOwned>(
        &self,
        path: impl Into<String>,
    ) -> Result<R, GcError> {
        self.call(Req::new(Method::GET, path, Retry::Safe)).await
    }

    /// Send a JSON body and decode.
    pub(crate) async fn send_json<B: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: Method,
        path: impl Into<String>,
        body: &B,
        retry: Retry,
    ) -> Result<R, GcError> {
        self.call(Req::new(method, path, retry).json(body)?).await
    }

    /// DELETE, ignoring the body.
    pub(crate) async fn delete(&self, path: impl Into<String>) -> Result<(), GcError> {
        self.execute(&Req::new(Method::DELETE, path, Retry::Safe))
            .await
            .map(|_| ())
    }
}

/// The path without scheme, host or query, for error messages.
pub(crate) fn path_only(p: &str) -> String {
    let no_scheme = p
        .split_once("://")
        .map(|(_, r)| r.find('/').map(|i| &r[i..]).unwrap_or("/"))
        .unwrap_or(p);
    no_scheme.split('?').next().unwrap_or(no_scheme).to_owned()
}

/// Percent-encodes one path segment (ids, external keys).
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_never_overflows_whatever_the_server_sends() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(reqwest::header::RETRY_AFTER, v.parse().unwrap());
            retry_after(&m)
        };
        assert_eq!(h("2"), Some(Duration::from_secs(2)));
        assert_eq!(h("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(h("1.9e19"), Some(MAX_RETRY_AFTER));
        assert_eq!(h("1e308"), Some(MAX_RETRY_AFTER));
        assert_eq!(h("NaN"), None);
        assert_eq!(h("-3"), None);
        assert_eq!(h("inf"), None);
        assert_eq!(h("soon"), None);
    }

    #[test]
    fn pacing_follows_gcs_rate_limit_headers() {
        let h = |count: &str, allowed: &str, reset: Option<&str>| {
            let mut m = HeaderMap::new();
            m.insert("inin-ratelimit-count", count.parse().unwrap());
            m.insert("inin-ratelimit-allowed", allowed.parse().unwrap());
            if let Some(r) = reset {
                m.insert("inin-ratelimit-reset", r.parse().unwrap());
            }
            pace(&m)
        };
        assert_eq!(h("100", "300", Some("40")), None, "budget left");
        assert_eq!(h("293", "300", Some("40")), None, "7 left, margin 6");
        assert_eq!(h("294", "300", Some("40")), Some(Duration::from_secs(40)));
        assert_eq!(h("300", "300", Some("12")), Some(Duration::from_secs(12)));
        assert_eq!(h("301", "300", Some("9999")), Some(MAX_PACE), "clamped");
        assert_eq!(
            h("2", "3", None),
            Some(Duration::from_secs(1)),
            "no reset: a second"
        );
        assert_eq!(h("1", "0", Some("5")), None, "0 allowed is not a budget");
        assert_eq!(h("x", "300", Some("5")), None);
        assert_eq!(pace(&HeaderMap::new()), None);
    }

    #[test]
    fn a_link_to_another_host_is_not_followed_with_the_token() {
        let c = GcClient::new(GcConfig::new(
            "https://api.mypurecloud.ie",
            "https://login.mypurecloud.ie",
            "o",
            "id",
            "s",
        ))
        .expect("client");
        assert_eq!(
            c.url("/api/v2/users?pageNumber=2").expect("relative"),
            "https://api.mypurecloud.ie/api/v2/users?pageNumber=2"
        );
        assert!(c.url("https://API.mypurecloud.ie/api/v2/users?x=1").is_ok());
        for bad in [
            "https://evil.example/api/v2/users",
            "http://api.mypurecloud.ie/api/v2/users",
            "https://api.mypurecloud.ie:8443/api/v2/users",
            "https://api.mypurecloud.ie@evil.example/api/v2/users",
        ] {
            let e = c.url(bad).expect_err(bad).to_string();
            assert!(e.contains("not followed"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_client_refuses_plain_http_unless_allowed() {
        let cfg = GcConfig::new("http://127.0.0.1:9", "http://127.0.0.1:9", "o", "id", "s");
        assert!(GcClient::new(cfg.clone()).is_err());
        assert!(GcClient::new(cfg.with_insecure_http(true)).is_ok());
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[test]
    fn ids_become_placeholders_and_names_stay() {
        assert_eq!(
            endpoint_template("/api/v2/users/0f4a9c3e-1b2d-4c5e-8f90-123456789abc/roles"),
            "/api/v2/users/{id}/roles"
        );
        assert_eq!(
            endpoint_template("/api/v2/routing/queues/12345/members?pageSize=100"),
            "/api/v2/routing/queues/{id}/members"
        );
        assert_eq!(
            endpoint_template("/api/v2/events/conversations"),
            "/api/v2/events/conversations"
        );
        assert_eq!(
            endpoint_template("/api/v2/scim/v2/users"),
            "/api/v2/scim/v2/users"
        );
        assert_eq!(answer_class(Some(201)), "2xx");
        assert_eq!(answer_class(Some(429)), "429");
        assert_eq!(answer_class(Some(404)), "4xx");
        assert_eq!(answer_class(None), "transport");
    }
}
