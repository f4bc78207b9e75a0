//! Client configuration, from the `hybrid_integration` transaction values.

use crate::Secret;
use crate::error::GcError;
use std::time::Duration;

/// How to reach and authenticate with one Genesys Cloud org.
///
/// Built from the `hybrid_integration` annex values: `base_service_url`, `base_auth_url` (or
/// `region`, from which the login host is derived), `organization_id`, `client_id`,
/// `client_secret`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GcConfig {
    /// API base, e.g. `https://api.mypurecloud.ie` (no trailing slash).
    pub base_service_url: String,
    /// Login base, e.g. `https://login.mypurecloud.ie`.
    pub base_auth_url: String,
    /// The org's id (informational; tokens are org-scoped by the OAuth client).
    pub organization_id: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret; never printed.
    pub client_secret: Secret,
    /// Client-side request limit (default 300 per minute, GC's per-token default).
    pub rate_limit: RateLimit,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Renew the token this long before it expires (capped at a tenth of its lifetime).
    pub token_renew_margin: Duration,
    /// Accept `http://` API and login URLs. Genesys Cloud is HTTPS only, so a plain-text URL is
    /// refused unless this is set (the GC emulator in tests and demos; the services' setting
    /// `EXEC_GC_ALLOW_HTTP`). Default `false`.
    pub allow_insecure_http: bool,
}

impl GcConfig {
    /// A configuration from explicit service and auth base URLs.
    pub fn new(
        base_service_url: impl Into<String>,
        base_auth_url: impl Into<String>,
        organization_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        Self {
            base_service_url: trim_slash(base_service_url.into()),
            base_auth_url: trim_slash(base_auth_url.into()),
            organization_id: organization_id.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            rate_limit: RateLimit::default(),
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            token_renew_margin: Duration::from_secs(300),
            allow_insecure_http: false,
        }
    }

    /// A configuration from a region host (`api.mypurecloud.ie`, `mypurecloud.ie`, or a URL
    /// of either); the login host is the API host with `api.` replaced by `login.`.
    pub fn from_region(
        region: &str,
        organization_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Result<Self, GcError> {
        let (api, login) = region_urls(region)?;
        Ok(Self::new(
            api,
            login,
            organization_id,
            client_id,
            client_secret,
        ))
    }

    /// A configuration from the `hybrid_integration` values as they come: `base_service_url`,
    /// `base_auth_url` and `region` may each be empty. The API base is `base_service_url`, else
    /// derived from `region`; the login base is `base_auth_url`, else derived from `region`,
    /// else from the API base (`api.` → `login.`).
    pub fn from_hybrid_integration(
        base_service_url: Option<&str>,
        base_auth_url: Option<&str>,
        region: Option<&str>,
        organization_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Result<Self, GcError> {
        let given = |v: Option<&str>| {
            v.map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let from_region = given(region).map(|r| region_urls(&r)).transpose()?;
        let api = given(base_service_url)
            .or_else(|| from_region.as_ref().map(|(a, _)| a.clone()))
            .ok_or_else(|| {
                GcError::Config("missing base_service_url and region (GC API location)".into())
            })?;
        let login = match given(base_auth_url).or_else(|| from_region.map(|(_, l)| l)) {
            Some(l) => l,
            // `https://api.X` → `https://login.X`; any other host (an emulator) serves both.
            None if api
                .split_once("://")
                .is_some_and(|(_, h)| h.starts_with("api.")) =>
            {
                region_urls(&api)?.1
            }
            None => api.clone(),
        };
        let cfg = Self::new(api, login, organization_id, client_id, client_secret);
        cfg.validate_present()?;
        Ok(cfg)
    }

    /// Sets the client-side rate limit.
    pub fn with_rate_limit(mut self, rate_limit: RateLimit) -> Self {
        self.rate_limit = rate_limit;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the per-request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets how early the token is renewed.
    pub fn with_token_renew_margin(mut self, margin: Duration) -> Self {
        self.token_renew_margin = margin;
        self
    }

    /// Accepts (or, the default, refuses) `http://` URLs: only for a test emulator.
    pub fn with_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The origin (`scheme://host[:port]`, lower-case) of the API base: the only place a
    /// bearer token is ever sent to.
    pub fn api_origin(&self) -> String {
        origin(&self.base_service_url).unwrap_or_default()
    }

    /// Checks that nothing mandatory is empty and that both URLs are `https://` (or `http://`
    /// with [`GcConfig::allow_insecure_http`]).
    pub fn validate(&self) -> Result<(), GcError> {
        self.validate_present()?;
        for (name, url) in [
            ("base_service_url", &self.base_service_url),
            ("base_auth_url", &self.base_auth_url),
        ] {
            if url.is_empty() {
                continue;
            }
            let lower = url.to_ascii_lowercase();
            if lower.starts_with("https://") {
                continue;
            }
            if lower.starts_with("http://") {
                if self.allow_insecure_http {
                    continue;
                }
                return Err(GcError::Config(format!(
                    "{name} {url:?} is plain http://: Genesys Cloud is reached over https:// \
                     only (credentials and tokens would travel in clear); use https://, or set \
                     EXEC_GC_ALLOW_HTTP=true for a test emulator"
                )));
            }
            return Err(GcError::Config(format!(
                "{name} {url:?} is not an https:// URL (e.g. https://api.mypurecloud.ie)"
            )));
        }
        Ok(())
    }

    /// Checks that nothing mandatory is empty.
    fn validate_present(&self) -> Result<(), GcError> {
        let mut missing = Vec::new();
        if self.base_service_url.is_empty() {
            missing.push("base_service_url (GC API base URL)");
        }
        if self.base_auth_url.is_empty() {
            missing.push("base_auth_url (GC login base URL)");
        }
        if self.client_id.is_empty() {
            missing.push("client_id (OAuth client id)");
        }
        if self.client_secret.is_empty() {
            missing.push("client_secret (OAuth client secret)");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(GcError::Config(format!("missing {}", missing.join(", "))))
        }
    }
}

/// `scheme://host[:port]` of an absolute URL, lower-cased; `None` for a relative one.
pub(crate) fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Userinfo (`user@host`) never names our host: keep it, so that it cannot match.
    Some(format!("{}://{}", scheme, authority).to_ascii_lowercase())
}

fn trim_slash(mut s: String) -> String {
    while s.ends_with('/') {
        s.pop();
    }
    s
}

/// Derives `(https://api.X, https://login.X)` from a region host or URL.
pub fn region_urls(region: &str) -> Result<(String, String), GcError> {
    let r = region.trim();
    let (scheme, rest) = match r.split_once("://") {
        Some((s, rest)) => (s, rest),
        None => ("https", r),
    };
    let host = rest.split('/').next().unwrap_or("").trim();
    if host.is_empty() || host.contains(' ') {
        return Err(GcError::Config(format!(
            "region {region:?} is not a host name such as api.mypurecloud.ie"
        )));
    }
    let bare = host
        .strip_prefix("api.")
        .or_else(|| host.strip_prefix("login."))
        .unwrap_or(host);
    Ok((
        format!("{scheme}://api.{bare}"),
        format!("{scheme}://login.{bare}"),
    ))
}

/// A request budget: at most `max_requests` per `window`. `max_requests == 0` disables it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub max_requests: u32,
    /// The sliding window.
    pub window: Duration,
}

impl RateLimit {
    /// `n` requests per minute (0 disables).
    pub fn per_minute(n: u32) -> Self {
        Self {
            max_requests: n,
            window: Duration::from_secs(60),
        }
    }

    /// No client-side limit.
    pub fn disabled() -> Self {
        Self::per_minute(0)
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::per_minute(300)
    }
}

/// Retry behaviour for 429, 502/503/504 and transport failures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts after the first one.
    pub max_retries: u32,
    /// First backoff for 5xx/transport failures; doubled each time.
    pub initial_backoff: Duration,
    /// Cap of one backoff.
    pub max_backoff: Duration,
    /// Total time a request may spend waiting between attempts; past it, give up.
    pub budget: Duration,
    /// A 429 whose `Retry-After` is longer than this is not waited for.
    pub max_retry_after: Duration,
    /// Rounds of re-sending events that GC reported as `retryable`.
    pub event_retry_rounds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 8,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            budget: Duration::from_secs(180),
            max_retry_after: Duration::from_secs(180),
            event_retry_rounds: 3,
        }
    }
}

impl RetryPolicy {
    /// Fast retries for tests: millisecond backoffs, a small budget.
    pub fn fast() -> Self {
        Self {
            max_retries: 10,
            initial_backoff: Duration::from_millis(2),
            max_backoff: Duration::from_millis(20),
            budget: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(10),
            event_retry_rounds: 3,
        }
    }

    /// The backoff before retry number `retry` (0-based): capped exponential with full jitter
    /// over its upper half.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(20)));
        let capped = exp.min(self.max_backoff);
        let half = capped / 2;
        let jitter = rand::random::<f64>();
        half + half.mul_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_derives_login_host() {
        let (a, l) = region_urls("api.mypurecloud.ie").expect("ok");
        assert_eq!(a, "https://api.mypurecloud.ie");
        assert_eq!(l, "https://login.mypurecloud.ie");
        let (a, l) = region_urls("https://api.usw2.pure.cloud/").expect("ok");
        assert_eq!(a, "https://api.usw2.pure.cloud");
        assert_eq!(l, "https://login.usw2.pure.cloud");
        let (a, _) = region_urls("mypurecloud.de").expect("ok");
        assert_eq!(a, "https://api.mypurecloud.de");
        assert!(region_urls("").is_err());
    }

    #[test]
    fn hybrid_integration_values_resolve() {
        let c = GcConfig::from_hybrid_integration(
            None,
            None,
            Some("api.mypurecloud.de"),
            "o",
            "id",
            "s",
        )
        .expect("ok");
        assert_eq!(
            (c.base_service_url.as_str(), c.base_auth_url.as_str()),
            ("https://api.mypurecloud.de", "https://login.mypurecloud.de")
        );
        let c = GcConfig::from_hybrid_integration(
            Some("https://api.usw2.pure.cloud/"),
            Some(""),
            None,
            "o",
            "id",
            "s",
        )
        .expect("ok");
        assert_eq!(c.base_auth_url, "https://login.usw2.pure.cloud");
        let c = GcConfig::from_hybrid_integration(
            Some("http://127.0.0.1:9"),
            Some("http://127.0.0.1:9"),
            None,
            "o",
            "id",
            "s",
        )
        .expect("ok");
        assert_eq!(c.base_auth_url, "http://127.0.0.1:9");
        assert!(GcConfig::from_hybrid_integration(None, None, None, "o", "id", "s").is_err());
        assert!(
            GcConfig::from_hybrid_integration(None, None, Some("mypurecloud.ie"), "o", "id", "")
                .is_err()
        );
    }

    #[test]
    fn validate_names_missing_values_without_secret() {
        let c = GcConfig::new("", "x", "o", "", "");
        let e = c.validate().expect_err("missing");
        let s = e.to_string();
        assert!(
            s.contains("base_service_url")
                && s.contains("client_id")
                && s.contains("client_secret")
        );
        let c = GcConfig::new("a", "b", "o", "id", "topsecret");
        assert!(!format!("{c:?}").contains("topsecret"));
    }

    #[test]
    fn plain_http_is_refused_unless_allowed() {
        let c = GcConfig::new(
            "http://api.example",
            "https://login.example",
            "o",
            "id",
            "s",
        );
        let e = c.validate().expect_err("http refused").to_string();
        assert!(
            e.contains("base_service_url") && e.contains("EXEC_GC_ALLOW_HTTP"),
            "{e}"
        );
        assert!(c.clone().with_insecure_http(true).validate().is_ok());
        let c = GcConfig::new(
            "https://api.example",
            "http://login.example",
            "o",
            "id",
            "s",
        );
        let e = c.validate().expect_err("http login refused").to_string();
        assert!(e.contains("base_auth_url"), "{e}");
        let c = GcConfig::new("api.example", "https://login.example", "o", "id", "s");
        let e = c.validate().expect_err("no scheme").to_string();
        assert!(e.contains("not an https:// URL"), "{e}");
        assert!(
            GcConfig::new(
                "HTTPS://api.example",
                "https://login.example",
                "o",
                "id",
                "s"
            )
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn origin_is_scheme_and_authority() {
        assert_eq!(
            origin("https://API.example:443/api/v2/x?y=1").as_deref(),
            Some("https://api.example:443")
        );
        assert_eq!(
            origin("https://api.example@evil.example/x").as_deref(),
            Some("https://api.example@evil.example")
        );
        assert_eq!(origin("/api/v2/users"), None);
    }

    #[test]
    fn backoff_is_capped_and_grows() {
        let p = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for r in 0..30 {
            let b = p.backoff(r);
            assert!(b <= Duration::from_millis(1000));
        }
        assert!(p.backoff(0) <= Duration::from_millis(100));
        assert!(p.backoff(5) >= Duration::from_millis(500));
    }
}
