//! OAuth client credentials: one cached token, renewed ahead of expiry, one renewal at a time.

use crate::Secret;
use crate::config::GcConfig;
use crate::error::GcError;
use base64::Engine;
use serde::Deserialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The longest token lifetime taken literally (30 days).
const MAX_TOKEN_LIFETIME_SECS: u64 = 30 * 86_400;

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

struct Token {
    value: Secret,
    renew_at: Instant,
}

/// The token cache. Callers that find it stale queue on one lock, so exactly one of them
/// fetches a new token and the others reuse it.
pub(crate) struct TokenCache {
    current: Mutex<Option<Token>>,
    issued: AtomicU64,
}

impl TokenCache {
    pub(crate) fn new() -> Self {
        Self {
            current: Mutex::new(None),
            issued: AtomicU64::new(0),
        }
    }

    /// Tokens obtained so far.
    pub(crate) fn issued(&self) -> u64 {
        self.issued.load(Ordering::Relaxed)
    }

    /// A valid token, fetching one if needed.
    pub(crate) async fn token(
        &self,
        http: &reqwest::Client,
        cfg: &GcConfig,
    ) -> Result<Secret, GcError> {
        let mut guard = self.current.lock().await;
        if let Some(t) = guard.as_ref()
            && Instant::now() < t.renew_at
        {
            return Ok(t.value.clone());
        }
        let (value, lifetime) = fetch(http, cfg).await?;
        self.issued.fetch_add(1, Ordering::Relaxed);
        let margin = cfg.token_renew_margin.min(lifetime / 10);
        *guard = Some(Token {
            value: value.clone(),
            renew_at: Instant::now()
                .checked_add(lifetime.saturating_sub(margin))
                .unwrap_or_else(Instant::now),
        });
        Ok(value)
    }

    /// Drops `used` if it is still the cached token (after a 401), so the next call renews.
    pub(crate) async fn invalidate(&self, used: &Secret) {
        let mut guard = self.current.lock().await;
        if guard.as_ref().is_some_and(|t| &t.value == used) {
            *guard = None;
        }
    }
}

async fn fetch(http: &reqwest::Client, cfg: &GcConfig) -> Result<(Secret, Duration), GcError> {
    let url = format!("{}/oauth/token", cfg.base_auth_url);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        cfg.client_id,
        cfg.client_secret.expose()
    ));
    let mut retries = 0u32;
    let mut waited = Duration::ZERO;
    loop {
        let sent = http
            .post(&url)
            .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
            .form(&[("grant_type", "client_credentials")])
            .timeout(cfg.request_timeout)
            .send()
            .await;
        let retry_wait = match sent {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = crate::client::retry_after(resp.headers());
                let body = resp.bytes().await.unwrap_or_default();
                if (200..300).contains(&status) {
                    let ans: TokenAnswer =
                        serde_json::from_slice(&body).map_err(|e| GcError::Auth {
                            url: url.clone(),
                            status,
                            message: format!("token answer is not JSON with access_token: {e}"),
                        })?;
                    // Clamped: no `expires_in` a server sends can overflow the clock arithmetic.
                    let lifetime = Duration::from_secs(
                        ans.expires_in
                            .unwrap_or(86_400)
                            .clamp(1, MAX_TOKEN_LIFETIME_SECS),
                    );
                    return Ok((Secret::new(ans.access_token), lifetime));
                }
                let err = GcError::Auth {
                    url: url.clone(),
                    status,
                    message: auth_message(&body),
                };
                match status {
                    429 => (retry_after.unwrap_or(cfg.retry.backoff(retries)), err),
                    502..=504 => (cfg.retry.backoff(retries), err),
                    _ => return Err(err),
                }
            }
            Err(source) => (
                cfg.retry.backoff(retries),
                GcError::Transport {
                    method: "POST".into(),
                    path: "/oauth/token".into(),
                    kind: crate::client::transport_kind(&source),
                    source,
                },
            ),
        };
        let (wait, err) = retry_wait;
        if retries >= cfg.retry.max_retries || waited + wait > cfg.retry.budget {
            return Err(GcError::GaveUp {
                attempts: retries + 1,
                elapsed: waited,
                last: Box::new(err),
            });
        }
        retries += 1;
        waited += wait;
        tokio::time::sleep(wait).await;
    }
}

/// The login service's explanation (`error`, `description`, `error_description`), trimmed.
fn auth_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct E {
        error: Option<String>,
        description: Option<String>,
        error_description: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<E>(body) {
        Ok(e) => [e.error, e.description.or(e.error_description), e.message]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": "),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}
