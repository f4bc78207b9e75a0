//! A stateful Genesys Cloud EX org over HTTP (feature `emulator`), for tests and the demo.
//!
//! [`Emulator::start`] serves, on one loopback port, the Platform API paths the client uses and
//! `POST /oauth/token`, so `base_service_url` and `base_auth_url` can both point at
//! [`EmulatorHandle::base_url`]. It behaves like GC where the connector depends on it:
//! - OAuth client credentials: only the configured client id / secret; tokens expire after
//!   [`EmulatorConfig::token_lifetime`]; unknown or expired tokens get 401.
//! - Names are unique case-insensitively: a duplicate queue or wrap-up code answers 400
//!   `duplicate.name`; a duplicate user e-mail, skill or language answers `general.conflict`
//!   with 409 or 400 ([`EmulatorConfig::conflict_status`]); a user PATCH with a stale
//!   `version` answers the same `general.conflict` ("The version supplied does not match the
//!   current version of the user"). A deleted user keeps its e-mail, is found by a search with
//!   `state` = `deleted`, and comes back with a PATCH of `state`.
//! - `POST /api/v2/users/{id}/externalid` answers 409 for a key the user already has;
//!   routing skill / language bulk requests take at most 50 entries, unknown ids are 404.
//! - A queue PUT is a full replace: fields not sent are cleared (unknown ones are kept as
//!   sent, so a client that round-trips them keeps them).
//! - A per-token sliding-window rate limit answers 429 `too.many.requests.retry.after` with
//!   `Retry-After` (seconds), `limit{key, namespace, value}` and the
//!   `inin-ratelimit-count` / `-allowed` / `-reset` headers (also on successful answers).
//! - Fault injection: the next N requests on a path prefix answer a status (e.g. 503) or drop
//!   the connection; the next N injected events fail as `retryable`; tokens can be revoked.
//! - Event injection validates every event and answers per-event errors, applies each
//!   `eventId` once, and keeps conversation timelines and user histories. Within a request
//!   events apply in `eventDateTime` order; an event naming a communication or transfer not
//!   established yet fails `retryable: true`; anything else invalid (unknown user / queue /
//!   source / presence definition / wrap-up code, non-UUID ids, events after a communication
//!   ended, a second answer or disposition) fails for good. Presence and routing-status
//!   `sourceId` and `sourceConfiguration.sourceId` must name a presence source.
//! - `POST /api/v2/users/search` supports `EXACT`, `STARTS_WITH`, `CONTAINS` on `email`,
//!   `name`, `id`.
//! - SCIM users (`/api/v2/scim/v2/users`: create, get, list with one `eq` filter, PATCH)
//!   over the same users as the Users API (see `scim.rs` for what is refused and why).
//! - Recording uploads: the presigned `url` points at `PUT /emulator/uploads/{uploadKey}`,
//!   which checks the required headers and `contentMd5` and keeps the archive.
//! - Inspection (read-only) under `/emulator/…`: `org`, `users`, `users/{id}`,
//!   `users/{id}/presence`, `users/{id}/routingstatus`, `conversations`, `conversations/{id}`,
//!   `uploads`, `uploads/{uploadKey}` (the stored bytes), `requests`; control: `POST reset`, `POST faults`, `POST faults/events`,
//!   `POST tokens/revoke`. The handle offers the same as typed methods.
//!
//! Bad requests get a GC-shaped `ErrorBody`, never a panic.

mod http;
mod inject;
mod scim;
mod state;

use crate::Secret;
use crate::events::RoutingStatus;
use crate::models::EntityRef;
use crate::presence::{PresenceDefinition, PresenceSource};
use crate::routing::{NamedEntity, Queue, Role, TranscriptionSettings, WrapupCode};
use crate::sta::{Program, StaSettings};
use crate::users::{User, UserExternalIdentifier, UserRoutingSkill};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;

pub use state::DEFAULT_ROLES;

/// A syntactically valid RSA-2048 public key (SubjectPublicKeyInfo, base64 DER) used as the
/// org's recording key unless the configuration gives one. Its private key is not kept.
pub const DEFAULT_RECORDING_PUBLIC_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAnOasIZAQPvxIzseO3rGEkpw86KYUNK0XYBSluYLLEWI+bi7pJfZHFnBw7+JxRWuIkLAbx/9htwKi6FaBtYV2giAOOX6h5V466tp3rHOiZWsy8u11mLV3RXmx+bTYCl7z/ahfWcKgvHaabavdhJqM6BjzpiHHvRuDS/BWCf4UZrzGiMOtoL2Q7VAutS+bbGAbOtrZ7Jxp0IZrHa4j/0SxKMz68cI0/EfHtWbIv8KaKc80jibWZL4zWvQ/AjFQwrbaaWu8ZLgjBDA2O5aLt4zfIxcyuzF4n3N8UiXW/sNKQn9cumIw9wFKMVoHGt6zqZll/yJRoeBjZ/lch3Xm+tU3LQIDAQAB";

/// Emulator settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EmulatorConfig {
    /// Address to bind; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The org id.
    pub organization_id: String,
    /// The only accepted OAuth client id.
    pub client_id: String,
    /// The only accepted OAuth client secret.
    pub client_secret: Secret,
    /// Token lifetime (GC default 24 h).
    pub token_lifetime: Duration,
    /// Requests per window per token; 0 disables.
    pub rate_limit: u32,
    /// The rate-limit window (GC: one minute).
    pub rate_window: Duration,
    /// Base64 public key served as the org's recording key.
    pub recording_public_key: String,
    /// The status of a `general.conflict` answer (stale user `version`, duplicate user
    /// e-mail, skill or language name): GC answers 409 or 400, so tests run both.
    pub conflict_status: ConflictStatus,
}

/// Which status GC's `general.conflict` answers carry: GC has been seen answering a stale
/// user `version` with 409 and with 400 (the terraform provider's `IsVersionMismatch` checks
/// both), and duplicate skill / language / user names likewise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ConflictStatus {
    /// 409 Conflict.
    #[default]
    Conflict,
    /// 400 Bad Request with code `general.conflict`.
    BadRequest,
}

impl ConflictStatus {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            ConflictStatus::Conflict => 409,
            ConflictStatus::BadRequest => 400,
        }
    }
}

impl EmulatorConfig {
    /// Loopback, ephemeral port, the given credentials, GC's defaults (24 h tokens,
    /// 300 requests per minute).
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<Secret>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            organization_id: uuid::Uuid::new_v4().to_string(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_lifetime: Duration::from_secs(86_400),
            rate_limit: 300,
            rate_window: Duration::from_secs(60),
            recording_public_key: DEFAULT_RECORDING_PUBLIC_KEY.into(),
            conflict_status: ConflictStatus::Conflict,
        }
    }

    /// Sets the status of `general.conflict` answers (409 or 400).
    pub fn with_conflict_status(mut self, answer: ConflictStatus) -> Self {
        self.conflict_status = answer;
        self
    }

    /// Sets the listen address.
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// Sets the token lifetime.
    pub fn with_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Sets the rate limit: `max` requests per `window` per token (0 disables).
    pub fn with_rate_limit(mut self, max: u32, window: Duration) -> Self {
        self.rate_limit = max;
        self.rate_window = window;
        self
    }

    /// Sets the org id.
    pub fn with_organization_id(mut self, id: impl Into<String>) -> Self {
        self.organization_id = id.into();
        self
    }

    /// Sets the recording public key (base64).
    pub fn with_recording_public_key(mut self, key: impl Into<String>) -> Self {
        self.recording_public_key = key.into();
        self
    }
}

/// What an armed fault does to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer this HTTP status with a GC error body (e.g. 503).
    Status {
        /// The status.
        status: u16,
    },
    /// Drop the connection without a complete answer.
    Drop,
    /// Answer normally, but only after this many milliseconds (a slow or hanging GC).
    Delay {
        /// The delay, ms.
        millis: u64,
    },
    /// Answer a stale-version `general.conflict` (with [`EmulatorConfig::conflict_status`]),
    /// as GC does when another writer changed the object first.
    VersionConflict,
}

/// A fault armed for the next `remaining` requests whose path starts with `path_prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// Path prefix, e.g. `/api/v2/events/`.
    pub path_prefix: String,
    /// Requests left to fail.
    pub remaining: u32,
    /// What to do.
    #[serde(flatten)]
    pub kind: FaultKind,
}

/// A user with roles, skills, languages, queues and external ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserView {
    /// The user as the API shows it.
    pub user: User,
    /// Granted roles.
    pub roles: Vec<EntityRef>,
    /// Skills.
    pub skills: Vec<UserRoutingSkill>,
    /// Languages.
    pub languages: Vec<UserRoutingSkill>,
    /// Queues the user is a member of.
    pub queues: Vec<EntityRef>,
    /// External ids.
    pub external_ids: Vec<UserExternalIdentifier>,
}

/// A queue with member and wrap-up code ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct QueueView {
    /// The queue.
    pub queue: Queue,
    /// Member user ids.
    pub member_ids: Vec<String>,
    /// Wrap-up code ids.
    pub wrapup_code_ids: Vec<String>,
}

/// Every org object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OrgSnapshot {
    /// Org id.
    pub organization_id: String,
    /// Home division.
    pub home_division: EntityRef,
    /// Users (all states).
    pub users: Vec<UserView>,
    /// Skills.
    pub skills: Vec<NamedEntity>,
    /// Languages.
    pub languages: Vec<NamedEntity>,
    /// Wrap-up codes.
    pub wrapup_codes: Vec<WrapupCode>,
    /// Queues.
    pub queues: Vec<QueueView>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Presence definitions.
    pub presence_definitions: Vec<PresenceDefinition>,
    /// Presence sources.
    pub presence_sources: Vec<PresenceSource>,
    /// STA settings.
    pub sta_settings: StaSettings,
    /// STA programs.
    pub programs: Vec<Program>,
    /// Transcription settings.
    pub transcription: TranscriptionSettings,
}

/// One applied presence event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PresenceRecord {
    /// Event id.
    pub event_id: String,
    /// Event time.
    pub event_date_time: String,
    /// Source.
    pub source_id: String,
    /// Presence definition.
    pub presence_definition_id: Option<String>,
    /// Its system presence.
    pub system_presence: Option<String>,
    /// Message.
    pub message: Option<String>,
}

/// One applied routing-status event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RoutingRecord {
    /// Event id.
    pub event_id: String,
    /// Event time.
    pub event_date_time: String,
    /// Status.
    pub status: RoutingStatus,
    /// Source.
    pub source_id: String,
}

/// One applied conversation event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TimelineEntry {
    /// Event id.
    pub event_id: String,
    /// Envelope array, e.g. `communicationEndedEvents`.
    pub event_type: String,
    /// Event time.
    pub event_date_time: String,
    /// Communication, when the event has one.
    pub communication_id: Option<String>,
    /// The event as received.
    pub event: serde_json::Value,
}

/// A communication's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CommunicationView {
    /// Id.
    pub id: String,
    /// `external`, `ivr`, `phone`, `routing`, `user`.
    pub kind: String,
    /// `alerting`, `connected`, `ended`.
    pub state: String,
    /// Held.
    pub held: bool,
    /// User (user communications).
    pub user_id: Option<String>,
    /// Queue.
    pub queue_id: Option<String>,
    /// `disconnectType` once ended.
    pub disconnect_type: Option<String>,
    /// Wrap-up code applied.
    pub wrapup_code: Option<String>,
    /// Whether a disposition (possibly skipped) was applied.
    pub disposition_applied: bool,
}

/// A conversation: its timeline in applied order and its communications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConversationView {
    /// Id.
    pub id: String,
    /// All communications ended.
    pub ended: bool,
    /// Applied events in order.
    pub timeline: Vec<TimelineEntry>,
    /// Communications in creation order.
    pub communications: Vec<CommunicationView>,
}

/// A stored recording upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UploadedRecording {
    /// Upload key.
    pub upload_key: String,
    /// File name from the upload request.
    pub file_name: String,
    /// Content type.
    pub content_type: Option<String>,
    /// Content MD5 (base64) that was verified.
    pub content_md5: Option<String>,
    /// Size in bytes.
    pub size: usize,
    /// The bytes (omitted from the HTTP listing).
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// Counters of the emulator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EmulatorStats {
    /// Requests per `METHOD /path`.
    pub requests: BTreeMap<String, u64>,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// 429 answers given.
    pub rate_limited: u64,
    /// Events applied (all three endpoints).
    pub events_accepted: u64,
    /// Conversation events received again after they were applied (accepted, not applied
    /// twice: the emulator de-duplicates by `eventId`, which GC is not documented to do).
    pub events_resent: u64,
}

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; pick a free port or 127.0.0.1:0")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone)]
pub(crate) struct App {
    pub org: Arc<Mutex<state::Org>>,
    pub cfg: Arc<EmulatorConfig>,
    pub base_url: Arc<String>,
}

impl App {
    pub(crate) fn lock(&self) -> MutexGuard<'_, state::Org> {
        self.org.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The emulator entry point.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Binds and serves on the current tokio runtime; returns at once with a handle.
    pub async fn start(cfg: EmulatorConfig) -> Result<EmulatorHandle, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let base_url = format!("http://{addr}");
        let app = App {
            org: Arc::new(Mutex::new(state::Org::new(&cfg))),
            cfg: Arc::new(cfg),
            base_url: Arc::new(base_url.clone()),
        };
        let router = http::router(app.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(EmulatorHandle {
            app,
            addr,
            base_url,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    app: App,
    addr: SocketAddr,
    base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`: both the API base and the auth base.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration.
    pub fn config(&self) -> &EmulatorConfig {
        &self.app.cfg
    }

    /// A client configuration for this emulator with its credentials.
    pub fn client_config(&self) -> crate::GcConfig {
        crate::GcConfig::new(
            self.base_url.clone(),
            self.base_url.clone(),
            self.app.cfg.organization_id.clone(),
            self.app.cfg.client_id.clone(),
            self.app.cfg.client_secret.clone(),
        )
        .with_insecure_http(true)
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Every org object.
    pub fn org(&self) -> OrgSnapshot {
        self.app.lock().snapshot()
    }

    /// One user with roles, skills, languages and queues.
    pub fn user(&self, id: &str) -> Option<UserView> {
        let org = self.app.lock();
        org.users.get(id).map(|u| org.user_view(u))
    }

    /// A user's primary presence source id (`PURECLOUD` until one was set).
    pub fn primary_presence_source(&self, user_id: &str) -> String {
        self.app
            .lock()
            .primary_sources
            .get(user_id)
            .cloned()
            .unwrap_or_else(|| "PURECLOUD".into())
    }

    /// A user's applied presence events, in order.
    pub fn presence_history(&self, user_id: &str) -> Vec<PresenceRecord> {
        self.app
            .lock()
            .presence_history
            .get(user_id)
            .cloned()
            .unwrap_or_default()
    }

    /// A user's applied routing-status events, in order.
    pub fn routing_history(&self, user_id: &str) -> Vec<RoutingRecord> {
        self.app
            .lock()
            .routing_history
            .get(user_id)
            .cloned()
            .unwrap_or_default()
    }

    /// One conversation.
    pub fn conversation(&self, id: &str) -> Option<ConversationView> {
        let org = self.app.lock();
        org.conversations
            .get(id)
            .map(|c| org.conversation_view(id, c))
    }

    /// Ids of all conversations.
    pub fn conversation_ids(&self) -> Vec<String> {
        self.app.lock().conversations.keys().cloned().collect()
    }

    /// Stored recording uploads (with their bytes).
    pub fn uploads(&self) -> Vec<UploadedRecording> {
        self.app.lock().uploads.clone()
    }

    /// Counters.
    pub fn stats(&self) -> EmulatorStats {
        let org = self.app.lock();
        EmulatorStats {
            requests: org.requests.clone(),
            tokens_issued: org.tokens_issued,
            rate_limited: org.rate_limited,
            events_accepted: org.events_accepted,
            events_resent: org.events_resent,
        }
    }

    /// Requests seen for `"METHOD /path"`.
    pub fn request_count(&self, method_path: &str) -> u64 {
        self.app
            .lock()
            .requests
            .get(method_path)
            .copied()
            .unwrap_or(0)
    }

    /// Arms a fault.
    pub fn inject_fault(&self, fault: Fault) {
        self.app.lock().faults.push(fault);
    }

    /// Disarms every fault (armed with [`EmulatorHandle::inject_fault`] or
    /// [`EmulatorHandle::fail_next_events`]).
    pub fn clear_faults(&self) {
        let mut org = self.app.lock();
        org.faults.clear();
        org.event_faults = 0;
    }

    /// The next `n` injected events fail with `retryable: true` (and are not applied).
    pub fn fail_next_events(&self, n: u32) {
        self.app.lock().event_faults = n;
    }

    /// Bumps a user's `version`, as a concurrent admin edit would: the next PATCH carrying the
    /// old version meets a stale-version conflict. Returns the new version.
    pub fn bump_user_version(&self, id: &str) -> Option<i64> {
        let mut org = self.app.lock();
        let u = org.users.get_mut(id)?;
        u.user.version += 1;
        Some(u.user.version)
    }

    /// Invalidates every token (clients get 401 and must renew).
    pub fn revoke_tokens(&self) {
        self.app.lock().tokens.clear();
    }

    /// Back to the seeded org (tokens stay valid).
    pub fn reset(&self) {
        let cfg = self.app.cfg.clone();
        self.app.lock().reset(&cfg);
    }
}
