//! The emulated org's state and the rules GC applies to it (no IO here).

use super::{
    CommunicationView, ConversationView, EmulatorConfig, Fault, OrgSnapshot, PresenceRecord,
    QueueView, RoutingRecord, TimelineEntry, UploadedRecording, UserView,
};
use crate::models::EntityRef;
use crate::presence::{PresenceDefinition, PresenceSource, SYSTEM_PRESENCES};
use crate::recordings::EncryptionKey;
use crate::routing::{
    NamedEntity, Queue, Role, TranscriptionMode, TranscriptionSettings, WrapupCode,
};
use crate::sta::{Program, StaSettings};
use crate::users::{User, UserRoutingSkill, UserState};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// A GC-shaped error answer.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
    pub limit: Option<serde_json::Value>,
    /// Extra response headers (the 429's `inin-ratelimit-*`).
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            limit: None,
            headers: Vec::new(),
        }
    }
    pub(crate) fn bad(message: impl Into<String>) -> Self {
        Self::new(400, "bad.request", message)
    }
    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::new(404, "not.found", format!("{what} {id} not found"))
    }
    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "general.conflict", message)
    }
    /// `general.conflict` with the status the org is configured to answer (409 or 400).
    pub(crate) fn conflict_as(answer: super::ConflictStatus, message: impl Into<String>) -> Self {
        Self::new(answer.status(), "general.conflict", message)
    }
    /// 400 `duplicate.name` (queues, wrap-up codes).
    pub(crate) fn duplicate_name(message: impl Into<String>) -> Self {
        Self::new(400, "duplicate.name", message)
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, Clone)]
pub(crate) struct UserRec {
    pub user: User,
    pub roles: BTreeSet<String>,
    pub skills: BTreeMap<String, f64>,
    pub languages: BTreeMap<String, f64>,
    pub external_ids: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub(crate) struct QueueRec {
    pub queue: Queue,
    pub members: BTreeSet<String>,
    pub wrapup_codes: BTreeSet<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct CommState {
    pub kind: &'static str,
    pub alerting: bool,
    pub answered: bool,
    pub held: bool,
    pub ended: Option<String>,
    pub user_id: Option<String>,
    pub queue_id: Option<String>,
    pub disposition: Option<Option<String>>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ConvRec {
    pub timeline: Vec<TimelineEntry>,
    pub comms: BTreeMap<String, CommState>,
    pub order: Vec<String>,
    pub transfers: HashSet<String>,
}

impl ConvRec {
    pub(crate) fn ended(&self) -> bool {
        !self.comms.is_empty() && self.comms.values().all(|c| c.ended.is_some())
    }
}

#[derive(Debug, Clone)]
pub(crate) struct PendingUpload {
    pub file_name: String,
    pub headers: BTreeMap<String, String>,
    pub content_md5: Option<String>,
    pub content_type: Option<String>,
    pub expires: Instant,
}

/// The org.
pub(crate) struct Org {
    pub org_id: String,
    pub home_division: EntityRef,
    pub users: BTreeMap<String, UserRec>,
    pub skills: BTreeMap<String, NamedEntity>,
    pub languages: BTreeMap<String, NamedEntity>,
    pub wrapups: BTreeMap<String, WrapupCode>,
    pub queues: BTreeMap<String, QueueRec>,
    pub roles: BTreeMap<String, Role>,
    pub presence_defs: BTreeMap<String, PresenceDefinition>,
    pub sources: BTreeMap<String, PresenceSource>,
    /// User id → primary presence source id (absent: GC's own, `PURECLOUD`).
    pub primary_sources: BTreeMap<String, String>,
    pub presence_history: BTreeMap<String, Vec<PresenceRecord>>,
    pub routing_history: BTreeMap<String, Vec<RoutingRecord>>,
    pub conversations: BTreeMap<String, ConvRec>,
    pub event_ids: HashSet<String>,
    pub pending_uploads: HashMap<String, PendingUpload>,
    pub uploads: Vec<UploadedRecording>,
    pub recording_keys: Vec<EncryptionKey>,
    pub sta_settings: StaSettings,
    pub programs: BTreeMap<String, Program>,
    pub mappings: BTreeMap<String, (Vec<String>, Vec<String>)>,
    pub transcription: TranscriptionSettings,
    pub requests: BTreeMap<String, u64>,
    pub tokens: HashMap<String, Instant>,
    pub tokens_issued: u64,
    pub rate: HashMap<String, VecDeque<Instant>>,
    pub rate_limited: u64,
    pub faults: Vec<Fault>,
    pub event_faults: u32,
    pub events_accepted: u64,
    /// Conversation events received again after they were applied (answered as accepted,
    /// not applied twice): what a real GC would make of them is not public.
    pub events_resent: u64,
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The seeded default roles (name, description).
pub const DEFAULT_ROLES: [(&str, &str); 6] = [
    ("Employee", "Default role for every user"),
    ("User", "Basic user"),
    ("Supervisor", "Supervises agents and queues"),
    ("Agent", "Handles interactions"),
    ("Admin", "Administers the org"),
    (
        "EX Integration",
        "Role of the EX Engage Connector's OAuth client",
    ),
];

impl Org {
    pub(crate) fn new(cfg: &EmulatorConfig) -> Self {
        let home = EntityRef {
            id: new_id(),
            name: Some("Home".into()),
            self_uri: None,
        };
        let mut org = Org {
            org_id: cfg.organization_id.clone(),
            home_division: home,
            users: BTreeMap::new(),
            skills: BTreeMap::new(),
            languages: BTreeMap::new(),
            wrapups: BTreeMap::new(),
            queues: BTreeMap::new(),
            roles: BTreeMap::new(),
            presence_defs: BTreeMap::new(),
            sources: BTreeMap::new(),
            primary_sources: BTreeMap::new(),
            presence_history: BTreeMap::new(),
            routing_history: BTreeMap::new(),
            conversations: BTreeMap::new(),
            event_ids: HashSet::new(),
            pending_uploads: HashMap::new(),
            uploads: Vec::new(),
            recording_keys: vec![EncryptionKey {
                id: new_id(),
                create_date: Some("2026-01-01T00:00:00.000Z".into()),
                keydata_summary: Some(cfg.recording_public_key.clone()),
                key_configuration_type: Some("Native".into()),
            }],
            sta_settings: StaSettings::default(),
            programs: BTreeMap::new(),
            mappings: BTreeMap::new(),
            transcription: TranscriptionSettings {
                transcription: TranscriptionMode::Disabled,
                transcription_confidence_threshold: 50,
                low_latency_transcription_enabled: Some(false),
                content_search_enabled: Some(false),
                pci_dss_redaction_enabled: Some(false),
                pii_redaction_enabled: Some(false),
            },
            requests: BTreeMap::new(),
            tokens: HashMap::new(),
            tokens_issued: 0,
            rate: HashMap::new(),
            rate_limited: 0,
            faults: Vec::new(),
            event_faults: 0,
            events_accepted: 0,
            events_resent: 0,
        };
        for (name, desc) in DEFAULT_ROLES {
            let id = new_id();
            org.roles.insert(
                id.clone(),
                Role {
                    id: id.clone(),
                    name: name.into(),
                    description: Some(desc.into()),
                    default: true,
                    self_uri: Some(format!("/api/v2/authorization/roles/{id}")),
                },
            );
        }
        for sp in SYSTEM_PRESENCES {
            let id = new_id();
            org.presence_defs.insert(
                id.clone(),
                PresenceDefinition {
                    id: Some(id.clone()),
                    kind: Some("System".into()),
                    language_labels: BTreeMap::from([("en_US".to_owned(), sp.to_owned())]),
                    system_presence: sp.into(),
                    division_id: Some(org.home_division.id.clone()),
                    deactivated: false,
                    self_uri: Some(format!("/api/v2/presence/definitions/{id}")),
                },
            );
        }
        let sid = new_id();
        org.sources.insert(
            sid.clone(),
            PresenceSource {
                id: Some(sid.clone()),
                name: "PURECLOUD".into(),
                description: Some("Genesys Cloud".into()),
                kind: Some("System".into()),
                deactivated: false,
                self_uri: Some(format!("/api/v2/presence/sources/{sid}")),
            },
        );
        org
    }

    /// Resets the org objects and histories; keeps tokens, rate windows and counters of
    /// tokens so connected clients keep working.
    pub(crate) fn reset(&mut self, cfg: &EmulatorConfig) {
        let mut fresh = Org::new(cfg);
        fresh.tokens = std::mem::take(&mut self.tokens);
        fresh.tokens_issued = self.tokens_issued;
        fresh.rate = std::mem::take(&mut self.rate);
        *self = fresh;
    }

    // ---- auth, rate limit, faults ----

    pub(crate) fn issue_token(&mut self, lifetime: Duration) -> String {
        let t = format!("emu-{}", uuid::Uuid::new_v4().simple());
        // A lifetime beyond what the clock can add is "never expires" (about a century).
        let now = Instant::now();
        let until = now
            .checked_add(lifetime)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
            .unwrap_or(now);
        self.tokens.insert(t.clone(), until);
        self.tokens_issued += 1;
        t
    }

    pub(crate) fn check_token(&mut self, token: &str) -> ApiResult<()> {
        match self.tokens.get(token) {
            Some(exp) if *exp > Instant::now() => Ok(()),
            Some(_) => {
                self.tokens.remove(token);
                Err(ApiError::new(
                    401,
                    "bad.credentials",
                    "Invalid login credentials.",
                ))
            }
            None => Err(ApiError::new(
                401,
                "bad.credentials",
                "Invalid login credentials.",
            )),
        }
    }

    pub(crate) fn check_rate(&mut self, token: &str, max: u32, window: Duration) -> ApiResult<()> {
        if max == 0 {
            return Ok(());
        }
        let now = Instant::now();
        let q = self.rate.entry(token.to_owned()).or_default();
        while q.front().is_some_and(|t| *t + window <= now) {
            q.pop_front();
        }
        if q.len() >= max as usize {
            let wait = q
                .front()
                .map(|t| (*t + window).saturating_duration_since(now))
                .unwrap_or(window);
            self.rate_limited += 1;
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut e = ApiError::new(
                429,
                "too.many.requests.retry.after",
                format!(
                    "Rate limit exceeded the maximum. [{max}] requests for [client.credentials.token.rate.per.minute]"
                ),
            );
            e.retry_after = Some(secs.max(1));
            e.headers = vec![
                ("inin-ratelimit-count", q.len().to_string()),
                ("inin-ratelimit-allowed", max.to_string()),
                ("inin-ratelimit-reset", secs.max(1).to_string()),
            ];
            e.limit = Some(
                json!({"key": "client.credentials.token.rate.per.minute", "namespace": "platform.api", "value": max}),
            );
            return Err(e);
        }
        q.push_back(now);
        Ok(())
    }

    /// `inin-ratelimit-*` values for a request that passed: (count, allowed, reset seconds).
    pub(crate) fn rate_headers(
        &self,
        token: &str,
        max: u32,
        window: Duration,
    ) -> Option<(usize, u32, u64)> {
        if max == 0 {
            return None;
        }
        let q = self.rate.get(token)?;
        let reset = q
            .front()
            .map(|t| (*t + window).saturating_duration_since(Instant::now()))
            .unwrap_or(window);
        Some((
            q.len(),
            max,
            reset.as_secs() + u64::from(reset.subsec_nanos() > 0),
        ))
    }

    /// The fault for this request, if one is armed for its path.
    pub(crate) fn take_fault(&mut self, path: &str) -> Option<super::FaultKind> {
        let i = self
            .faults
            .iter()
            .position(|f| f.remaining > 0 && path.starts_with(&f.path_prefix))?;
        let f = &mut self.faults[i];
        f.remaining -= 1;
        let kind = f.kind;
        if f.remaining == 0 {
            self.faults.remove(i);
        }
        Some(kind)
    }

    // ---- lookups ----

    pub(crate) fn live_user(&self, id: &str) -> Option<&UserRec> {
        self.users
            .get(id)
            .filter(|u| u.user.state != Some(UserState::Deleted))
    }

    pub(crate) fn role_ref(&self, id: &str) -> Option<EntityRef> {
        self.roles.get(id).map(|r| EntityRef {
            id: r.id.clone(),
            name: Some(r.name.clone()),
            self_uri: None,
        })
    }

    pub(crate) fn skill_views(
        &self,
        assigned: &BTreeMap<String, f64>,
        from: &BTreeMap<String, NamedEntity>,
        kind: &str,
    ) -> Vec<UserRoutingSkill> {
        assigned
            .iter()
            .map(|(id, p)| UserRoutingSkill {
                id: id.clone(),
                name: from.get(id).map(|s| s.name.clone()),
                proficiency: *p,
                state: Some("active".into()),
                self_uri: Some(format!("/api/v2/routing/{kind}/{id}")),
            })
            .collect()
    }

    pub(crate) fn user_view(&self, u: &UserRec) -> UserView {
        UserView {
            user: u.user.clone(),
            roles: u.roles.iter().filter_map(|r| self.role_ref(r)).collect(),
            skills: self.skill_views(&u.skills, &self.skills, "skills"),
            languages: self.skill_views(&u.languages, &self.languages, "languages"),
            queues: self
                .queues
                .values()
                .filter(|q| q.members.contains(&u.user.id))
                .map(|q| EntityRef {
                    id: q.queue.id.clone(),
                    name: Some(q.queue.name.clone()),
                    self_uri: None,
                })
                .collect(),
            external_ids: u
                .external_ids
                .iter()
                .map(|(a, k)| crate::users::UserExternalIdentifier {
                    authority_name: a.clone(),
                    external_key: k.clone(),
                })
                .collect(),
        }
    }

    pub(crate) fn queue_view(&self, q: &QueueRec) -> QueueView {
        QueueView {
            queue: self.queue_out(q),
            member_ids: q.members.iter().cloned().collect(),
            wrapup_code_ids: q.wrapup_codes.iter().cloned().collect(),
        }
    }

    pub(crate) fn queue_out(&self, q: &QueueRec) -> Queue {
        let mut out = q.queue.clone();
        out.member_count = Some(q.members.len() as u32);
        out
    }

    pub(crate) fn conversation_view(&self, id: &str, c: &ConvRec) -> ConversationView {
        ConversationView {
            id: id.to_owned(),
            ended: c.ended(),
            timeline: c.timeline.clone(),
            communications: c
                .order
                .iter()
                .filter_map(|cid| c.comms.get(cid).map(|s| (cid, s)))
                .map(|(cid, s)| CommunicationView {
                    id: cid.clone(),
                    kind: s.kind.to_owned(),
                    state: if s.ended.is_some() {
                        "ended".into()
                    } else if s.alerting && !s.answered {
                        "alerting".into()
                    } else {
                        "connected".into()
                    },
                    held: s.held,
                    user_id: s.user_id.clone(),
                    queue_id: s.queue_id.clone(),
                    disconnect_type: s.ended.clone(),
                    wrapup_code: s.disposition.clone().flatten(),
                    disposition_applied: s.disposition.is_some(),
                })
                .collect(),
        }
    }

    pub(crate) fn snapshot(&self) -> OrgSnapshot {
        OrgSnapshot {
            organization_id: self.org_id.clone(),
            home_division: self.home_division.clone(),
            users: self.users.values().map(|u| self.user_view(u)).collect(),
            skills: self.skills.values().cloned().collect(),
            languages: self.languages.values().cloned().collect(),
            wrapup_codes: self.wrapups.values().cloned().collect(),
            queues: self.queues.values().map(|q| self.queue_view(q)).collect(),
            roles: self.roles.values().cloned().collect(),
            presence_definitions: self.presence_defs.values().cloned().collect(),
            presence_sources: self.sources.values().cloned().collect(),
            sta_settings: self.sta_settings.clone(),
            programs: self.programs.values().cloned().collect(),
            transcription: self.transcription.clone(),
        }
    }

    /// Whether a name is taken (case-insensitively) among `names`, except by `except`.
    pub(crate) fn name_taken<'a>(
        mut names: impl Iterator<Item = (&'a String, &'a str)>,
        name: &str,
        except: Option<&str>,
    ) -> bool {
        let lower = name.to_lowercase();
        names.any(|(id, n)| Some(id.as_str()) != except && n.to_lowercase() == lower)
    }
}
