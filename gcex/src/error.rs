//! Typed errors: [`GcError`] with the parsed Genesys Cloud [`ErrorBody`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The error body Genesys Cloud answers with (`ErrorBody` in the Platform API models).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Machine code, e.g. `not.found`, `general.conflict`, `bad.request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The HTTP status repeated in the body (a number in the Platform API's `ErrorBody`, a
    /// string in SCIM's `ScimError`; both are read).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "status_number_or_string"
    )]
    pub status: Option<u16>,
    /// Id of the entity the error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// Name of the entity the error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_name: Option<String>,
    /// Message template with `{param}` placeholders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_with_params: Option<String>,
    /// Values for the placeholders of `messageWithParams`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message_params: BTreeMap<String, String>,
    /// Genesys Cloud's id of the failed request, for support cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Per-field details.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
    /// Nested errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ErrorBody>,
    /// The limit that was hit, on 429 answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
    /// SCIM errors (`ScimError`): the message schema,
    /// `urn:ietf:params:scim:api:messages:2.0:Error`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
    /// SCIM errors: the RFC 7644 error keyword of a 400 or 409 (`invalidValue`,
    /// `invalidFilter`, `invalidVers`, `uniqueness`, `invalidSyntax`, `invalidPath`,
    /// `noTarget`, `mutability`, `tooMany`, `sensitive`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<String>,
    /// SCIM errors: the human-readable description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Reads `status` as a number (`ErrorBody`) or a numeric string (`ScimError`); anything else
/// is dropped rather than failing the whole error body.
fn status_number_or_string<'de, D>(d: D) -> Result<Option<u16>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// One detail of an [`ErrorBody`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Error code of this detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The request field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// Entity id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// Entity name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_name: Option<String>,
}

/// The limit of a 429 answer (`limit{key, namespace, value}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limit {
    /// Limit key, e.g. `client.credentials.token.rate.per.minute`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Limit namespace, e.g. `users`, `routing`, `external.events.data.ingestion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The limit's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
}

/// Everything that can go wrong talking to Genesys Cloud.
///
/// Ask the predicates ([`GcError::is_retryable`], [`GcError::is_conflict`], …) rather than
/// matching on variants. No variant ever carries the client secret or an access token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GcError {
    /// Genesys Cloud answered with an error status.
    #[error("{method} {path} failed with HTTP {status}{}{}", fmt_body(.body), fmt_corr(.correlation_id))]
    Api {
        /// HTTP method.
        method: String,
        /// Request path (no host, no query).
        path: String,
        /// HTTP status.
        status: u16,
        /// The parsed error body, when there was one.
        body: Option<Box<ErrorBody>>,
        /// The `ININ-Correlation-Id` response header.
        correlation_id: Option<String>,
        /// `Retry-After`, on 429.
        retry_after: Option<Duration>,
    },
    /// The OAuth token request was refused: check the client id and secret, and the
    /// grant type of the OAuth client (it must be Client Credentials).
    #[error(
        "OAuth token request to {url} failed with HTTP {status}: {message}; check the client id/secret and that the OAuth client uses the Client Credentials grant"
    )]
    Auth {
        /// Token endpoint URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// What the login service said (never the secret).
        message: String,
    },
    /// The request did not complete (connect error, timeout, dropped connection).
    #[error(
        "{method} {path}: transport error ({kind}): {source}; check network reachability of the Genesys Cloud region"
    )]
    Transport {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// Whether the request may have reached the server.
        kind: TransportKind,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The answer could not be decoded into the expected model.
    #[error("{method} {path}: cannot decode the answer: {source}")]
    Decode {
        /// HTTP method.
        method: String,
        /// Request path.
        path: String,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// Retries ran out; `last` is the final failure.
    #[error("gave up after {attempts} attempts over {elapsed:?}: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        elapsed: Duration,
        /// The last failure.
        #[source]
        last: Box<GcError>,
    },
    /// The caller's input breaks a documented API rule (checked before sending).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The client configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Whether a transport failure happened before the request could reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// Connecting failed: the request was never sent; always safe to retry.
    Connect,
    /// Timed out, or the connection broke after sending: the server may have acted.
    AfterSend,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connect",
            TransportKind::AfterSend => "after send",
        })
    }
}

fn fmt_body(body: &Option<Box<ErrorBody>>) -> String {
    match body {
        Some(b) => {
            let mut s = String::new();
            if let Some(code) = &b.code {
                s.push_str(&format!(" [{code}]"));
            }
            if let Some(t) = &b.scim_type {
                s.push_str(&format!(" [scimType {t}]"));
            }
            if let Some(m) = b.message.as_ref().or(b.detail.as_ref()) {
                s.push_str(&format!(": {m}"));
            }
            s
        }
        None => String::new(),
    }
}

fn fmt_corr(c: &Option<String>) -> String {
    c.as_ref()
        .map(|c| format!(" (ININ-Correlation-Id {c})"))
        .unwrap_or_default()
}

impl GcError {
    /// The innermost error (through [`GcError::GaveUp`]).
    pub fn root(&self) -> &GcError {
        match self {
            GcError::GaveUp { last, .. } => last.root(),
            other => other,
        }
    }

    /// The HTTP status of an API or auth error.
    pub fn status(&self) -> Option<u16> {
        match self.root() {
            GcError::Api { status, .. } | GcError::Auth { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The parsed error body.
    pub fn error_body(&self) -> Option<&ErrorBody> {
        match self.root() {
            GcError::Api { body, .. } => body.as_deref(),
            _ => None,
        }
    }

    /// The `ININ-Correlation-Id` of the failed request.
    pub fn correlation_id(&self) -> Option<&str> {
        match self.root() {
            GcError::Api { correlation_id, .. } => correlation_id.as_deref(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed (429, 502/503/504, transport failures).
    pub fn is_retryable(&self) -> bool {
        match self.root() {
            GcError::Api { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            GcError::Transport { .. } => true,
            _ => false,
        }
    }

    /// 409: a version conflict or a duplicate; re-read and retry, or treat as existing.
    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// A stale `version` (optimistic locking): GC answers 409, or 400 `general.conflict` /
    /// "does not match the current version" (the terraform provider's `IsVersionMismatch`
    /// checks both). Re-read the object and retry.
    /// SCIM answers a stale `If-Match` with 400 `scimType` `invalidVers` (not 412).
    pub fn is_version_conflict(&self) -> bool {
        match self.status() {
            Some(409) => self.scim_type().is_none_or(|t| t == "invalidVers"),
            Some(400) => self.error_body().is_some_and(|b| {
                b.scim_type.as_deref() == Some("invalidVers")
                    || b.code.as_deref() == Some("general.conflict")
                    || b.message
                        .as_deref()
                        .is_some_and(|m| m.contains("does not match the current version"))
            }),
            _ => false,
        }
    }

    /// A duplicate on create: 409, or 400 `general.conflict` (skills, languages, users) or
    /// 400 `duplicate.name` (queues, wrap-up codes); SCIM: 409 `scimType` `uniqueness`. Look
    /// the existing object up.
    pub fn is_duplicate(&self) -> bool {
        match self.status() {
            Some(409) => true,
            Some(400) => matches!(self.code(), Some("general.conflict" | "duplicate.name")),
            _ => false,
        }
    }

    /// 404: the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 429: the rate limit was hit.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// 401/403 or a refused token request.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.root(), GcError::Auth { .. }) || matches!(self.status(), Some(401 | 403))
    }

    /// 400: the request was invalid.
    pub fn is_bad_request(&self) -> bool {
        self.status() == Some(400)
    }

    /// The `code` of the error body (e.g. `general.conflict`).
    pub fn code(&self) -> Option<&str> {
        self.error_body().and_then(|b| b.code.as_deref())
    }

    /// The `scimType` of a SCIM error body (e.g. `invalidVers`, `uniqueness`,
    /// `invalidFilter`).
    pub fn scim_type(&self) -> Option<&str> {
        self.error_body().and_then(|b| b.scim_type.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_parses_public_field_names() {
        let json = r#"{"message":"m","code":"general.conflict","status":409,
            "messageWithParams":"x {a}","messageParams":{"a":"1"},"contextId":"ctx",
            "details":[{"errorCode":"e","fieldName":"version"}],
            "limit":{"key":"k","namespace":"users","value":300}}"#;
        let b: ErrorBody = serde_json::from_str(json).expect("parses");
        assert_eq!(b.code.as_deref(), Some("general.conflict"));
        assert_eq!(b.context_id.as_deref(), Some("ctx"));
        assert_eq!(b.details[0].field_name.as_deref(), Some("version"));
        assert_eq!(b.limit.as_ref().and_then(|l| l.value), Some(300));
        let e = GcError::Api {
            method: "PATCH".into(),
            path: "/api/v2/users/1".into(),
            status: 409,
            body: Some(Box::new(b)),
            correlation_id: Some("corr".into()),
            retry_after: None,
        };
        assert!(e.is_conflict());
        assert!(!e.is_retryable());
        assert_eq!(e.correlation_id(), Some("corr"));
        let s = e.to_string();
        assert!(s.contains("409") && s.contains("general.conflict") && s.contains("corr"));
        let g = GcError::GaveUp {
            attempts: 3,
            elapsed: Duration::from_secs(1),
            last: Box::new(e),
        };
        assert!(g.is_conflict());
    }

    #[test]
    fn a_scim_error_parses_with_its_string_status_and_scim_type() {
        let json = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status":"400","scimType":"invalidVers","detail":"stale version"}"#;
        let b: ErrorBody = serde_json::from_str(json).expect("parses");
        assert_eq!(b.status, Some(400));
        let api = |status: u16, b: ErrorBody| GcError::Api {
            method: "PATCH".into(),
            path: "/api/v2/scim/v2/users/1".into(),
            status,
            body: Some(Box::new(b)),
            correlation_id: None,
            retry_after: None,
        };
        let e = api(400, b);
        assert_eq!(e.scim_type(), Some("invalidVers"));
        assert!(e.is_version_conflict());
        assert!(!e.is_duplicate());
        let s = e.to_string();
        assert!(
            s.contains("invalidVers") && s.contains("stale version"),
            "{s}"
        );
        let dup: ErrorBody = serde_json::from_str(
            r#"{"schemas":[],"status":"409","scimType":"uniqueness","detail":"taken"}"#,
        )
        .expect("parses");
        let e = api(409, dup);
        assert!(e.is_duplicate());
        assert!(
            !e.is_version_conflict(),
            "a uniqueness 409 is no stale version"
        );
        for odd in [
            r#"{"status":"x"}"#,
            r#"{"status":-1}"#,
            r#"{"status":null}"#,
        ] {
            let b: ErrorBody = serde_json::from_str(odd).expect(odd);
            assert_eq!(b.status, None);
        }
    }
}
