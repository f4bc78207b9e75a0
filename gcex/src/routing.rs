//! Routing configuration: skills, languages, wrap-up codes, queues, queue members, queue
//! wrap-up codes, the org transcription settings; plus roles and the home division
//! (`/api/v2/routing/…`, `/api/v2/authorization/…`).

use crate::client::{GcClient, Req, Retry, seg};
use crate::error::GcError;
use crate::models::EntityRef;
use crate::page::GcStream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// At most this many members or wrap-up codes per queue POST (GC's limit).
pub const QUEUE_BULK_MAX: usize = 100;

/// A routing skill or language (`RoutingSkill`, `Language`; `version` is a string here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedEntity {
    /// Id.
    pub id: String,
    /// Name (unique case-insensitively).
    pub name: String,
    /// `active` or `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Version (a string for skills and languages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// A role (`DomainOrganizationRole`, the fields the connector reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// Id.
    pub id: String,
    /// Name, e.g. `Employee`, `User`, `Supervisor`.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether it is a default role.
    #[serde(default)]
    pub default: bool,
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// A wrap-up code (`WrapupCode`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrapupCode {
    /// Id.
    pub id: String,
    /// Name (unique case-insensitively).
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Division.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<EntityRef>,
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// Body of wrap-up code create/update (`WrapupCodeRequest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WrapupCodeRequest {
    /// Name (required).
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Division `{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<EntityRef>,
}

/// A queue (`Queue`, the fields the connector uses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Queue {
    /// Id.
    pub id: String,
    /// Name (unique case-insensitively).
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Division.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<EntityRef>,
    /// External peer id (the Engage object it mirrors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// Whether voice transcription is on for this queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_transcription: Option<bool>,
    /// Members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_count: Option<u32>,
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
    /// Every other field GC sends (`mediaSettings`, `acwSettings`, `bullseye`,
    /// `routingRules`, `skillEvaluationMethod`, …): written back by
    /// [`GcClient::update_queue_fields`], since the queue PUT is a full replace.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Queue fields GC sets itself: not sent back in a PUT.
const QUEUE_READ_ONLY: [&str; 6] = [
    "dateCreated",
    "dateModified",
    "modifiedBy",
    "createdBy",
    "userMemberCount",
    "joinedMemberCount",
];

impl Queue {
    /// The queue as a full-replace `PUT` body: every writable field it has, unknown ones
    /// included, without the ones GC sets (`id`, `selfUri`, counts, dates).
    pub fn to_request(&self) -> QueueRequest {
        let mut extra = self.extra.clone();
        for k in QUEUE_READ_ONLY {
            extra.remove(k);
        }
        let skill_evaluation_method = match extra.remove("skillEvaluationMethod") {
            Some(Value::String(m)) => Some(m),
            Some(other) => {
                extra.insert("skillEvaluationMethod".into(), other);
                None
            }
            None => None,
        };
        QueueRequest {
            name: self.name.clone(),
            description: self.description.clone(),
            division: self.division.as_ref().map(|d| EntityRef::id(d.id.clone())),
            peer_id: self.peer_id.clone(),
            enable_transcription: self.enable_transcription,
            skill_evaluation_method,
            extra,
        }
    }
}

/// Body of queue create (`CreateQueueRequest`) and full-replace PUT (`QueueRequest`; queues
/// have no `version`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueRequest {
    /// Name (required).
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Division `{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<EntityRef>,
    /// External peer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// Voice transcription on/off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_transcription: Option<bool>,
    /// `NONE`, `BEST` or `ALL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill_evaluation_method: Option<String>,
    /// Every other `QueueRequest` field (`mediaSettings`, `acwSettings`, `bullseye`, …), sent
    /// as is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A queue member (`QueueMember`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueMember {
    /// The member's user id.
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether the member is joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined: Option<bool>,
}

/// Org transcription mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TranscriptionMode {
    /// Off.
    Disabled,
    /// On everywhere.
    EnabledGlobally,
    /// On per queue / flow (queue `enableTranscription`).
    EnabledQueueFlow,
}

/// `GET/PUT /api/v2/routing/settings/transcription` (`TranscriptionSettings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscriptionSettings {
    /// Mode (required).
    pub transcription: TranscriptionMode,
    /// Confidence threshold 1–100 (required).
    pub transcription_confidence_threshold: i32,
    /// Low-latency transcription.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low_latency_transcription_enabled: Option<bool>,
    /// Content search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_search_enabled: Option<bool>,
    /// PCI DSS redaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pci_dss_redaction_enabled: Option<bool>,
    /// PII redaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_redaction_enabled: Option<bool>,
}

#[derive(Serialize)]
struct NameBody<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct IdBody<'a> {
    id: &'a str,
}

impl GcClient {
    /// `GET /api/v2/authorization/roles` (all pages), optionally filtered by `name`.
    pub fn roles(&self, name: Option<&str>) -> GcStream<Role> {
        let q = name
            .map(|n| vec![("name".to_owned(), n.to_owned())])
            .unwrap_or_default();
        self.paged("/api/v2/authorization/roles".into(), q)
    }

    /// `GET /api/v2/authorization/divisions/home`.
    pub async fn home_division(&self) -> Result<EntityRef, GcError> {
        self.get("/api/v2/authorization/divisions/home").await
    }

    /// `GET /api/v2/routing/skills` (all pages); `name` filters by prefix.
    pub fn skills(&self, name: Option<&str>) -> GcStream<NamedEntity> {
        let q = name
            .map(|n| vec![("name".to_owned(), n.to_owned())])
            .unwrap_or_default();
        self.paged("/api/v2/routing/skills".into(), q)
    }

    /// `POST /api/v2/routing/skills` `{name}` (skills cannot be renamed).
    pub async fn create_skill(&self, name: &str) -> Result<NamedEntity, GcError> {
        self.send_json(
            Method::POST,
            "/api/v2/routing/skills",
            &NameBody { name },
            Retry::Unsafe,
        )
        .await
    }

    /// `DELETE /api/v2/routing/skills/{skillId}`.
    pub async fn delete_skill(&self, id: &str) -> Result<(), GcError> {
        self.delete(format!("/api/v2/routing/skills/{}", seg(id)))
            .await
    }

    /// `GET /api/v2/routing/languages` (all pages).
    pub fn languages(&self, name: Option<&str>) -> GcStream<NamedEntity> {
        let q = name
            .map(|n| vec![("name".to_owned(), n.to_owned())])
            .unwrap_or_default();
        self.paged("/api/v2/routing/languages".into(), q)
    }

    /// `POST /api/v2/routing/languages` `{name}` (no update endpoint).
    pub async fn create_language(&self, name: &str) -> Result<NamedEntity, GcError> {
        self.send_json(
            Method::POST,
            "/api/v2/routing/languages",
            &NameBody { name },
            Retry::Unsafe,
        )
        .await
    }

    /// `DELETE /api/v2/routing/languages/{languageId}`.
    pub async fn delete_language(&self, id: &str) -> Result<(), GcError> {
        self.delete(format!("/api/v2/routing/languages/{}", seg(id)))
            .await
    }

    /// `GET /api/v2/routing/wrapupcodes` (all pages).
    pub fn wrapup_codes(&self) -> GcStream<WrapupCode> {
        self.paged("/api/v2/routing/wrapupcodes".into(), Vec::new())
    }

    /// `POST /api/v2/routing/wrapupcodes`.
    pub async fn create_wrapup_code(
        &self,
        body: &WrapupCodeRequest,
    ) -> Result<WrapupCode, GcError> {
        self.send_json(
            Method::POST,
            "/api/v2/routing/wrapupcodes",
            body,
            Retry::Unsafe,
        )
        .await
    }

    /// `PUT /api/v2/routing/wrapupcodes/{codeId}`.
    pub async fn update_wrapup_code(
        &self,
        id: &str,
        body: &WrapupCodeRequest,
    ) -> Result<WrapupCode, GcError> {
        self.send_json(
            Method::PUT,
            format!("/api/v2/routing/wrapupcodes/{}", seg(id)),
            body,
            Retry::Safe,
        )
        .await
    }

    /// `DELETE /api/v2/routing/wrapupcodes/{codeId}`.
    pub async fn delete_wrapup_code(&self, id: &str) -> Result<(), GcError> {
        self.delete(format!("/api/v2/routing/wrapupcodes/{}", seg(id)))
            .await
    }

    /// `GET /api/v2/routing/queues` (all pages); `name` accepts `*` wildcards.
    pub fn queues(&self, name: Option<&str>) -> GcStream<Queue> {
        let q = name
            .map(|n| vec![("name".to_owned(), n.to_owned())])
            .unwrap_or_default();
        self.paged("/api/v2/routing/queues".into(), q)
    }

    /// `GET /api/v2/routing/queues/{queueId}`.
    pub async fn get_queue(&self, id: &str) -> Result<Queue, GcError> {
        self.get(format!("/api/v2/routing/queues/{}", seg(id)))
            .await
    }

    /// `POST /api/v2/routing/queues`.
    pub async fn create_queue(&self, body: &QueueRequest) -> Result<Queue, GcError> {
        self.send_json(Method::POST, "/api/v2/routing/queues", body, Retry::Unsafe)
            .await
    }

    /// Read-modify-write of a queue: `GET`, let `change` set the fields the caller owns on the
    /// full request ([`Queue::to_request`]), `PUT` everything back. GC's queue PUT replaces
    /// the whole queue and has no `version`, so this keeps what admins set (ACW, media
    /// settings, bullseye, …); a concurrent edit between the read and the write can still be
    /// lost (GC offers no lock for queues).
    pub async fn update_queue_fields<F>(&self, id: &str, change: F) -> Result<Queue, GcError>
    where
        F: FnOnce(&mut QueueRequest),
    {
        let current = self.get_queue(id).await?;
        let mut body = current.to_request();
        change(&mut body);
        self.update_queue(id, &body).await
    }

    /// `PUT /api/v2/routing/queues/{queueId}` (full replace; unset fields are cleared: use
    /// [`GcClient::update_queue_fields`] unless `body` is complete).
    pub async fn update_queue(&self, id: &str, body: &QueueRequest) -> Result<Queue, GcError> {
        self.send_json(
            Method::PUT,
            format!("/api/v2/routing/queues/{}", seg(id)),
            body,
            Retry::Safe,
        )
        .await
    }

    /// `DELETE /api/v2/routing/queues/{queueId}`.
    pub async fn delete_queue(&self, id: &str) -> Result<(), GcError> {
        self.delete(format!("/api/v2/routing/queues/{}", seg(id)))
            .await
    }

    /// `GET /api/v2/routing/queues/{queueId}/members` (all pages).
    pub fn queue_members(&self, queue_id: &str) -> GcStream<QueueMember> {
        self.paged(
            format!("/api/v2/routing/queues/{}/members", seg(queue_id)),
            Vec::new(),
        )
    }

    async fn queue_members_bulk(
        &self,
        queue_id: &str,
        user_ids: &[String],
        delete: bool,
    ) -> Result<(), GcError> {
        for chunk in user_ids.chunks(QUEUE_BULK_MAX) {
            let body: Vec<IdBody<'_>> = chunk.iter().map(|id| IdBody { id }).collect();
            let req = Req::new(
                Method::POST,
                format!("/api/v2/routing/queues/{}/members", seg(queue_id)),
                Retry::Safe,
            )
            .query("delete", delete)
            .json(&body)?;
            self.execute(&req).await?;
        }
        Ok(())
    }

    /// `POST /api/v2/routing/queues/{queueId}/members?delete=false`, 100 users per call.
    pub async fn add_queue_members(
        &self,
        queue_id: &str,
        user_ids: &[String],
    ) -> Result<(), GcError> {
        self.queue_members_bulk(queue_id, user_ids, false).await
    }

    /// `POST /api/v2/routing/queues/{queueId}/members?delete=true`, 100 users per call.
    pub async fn remove_queue_members(
        &self,
        queue_id: &str,
        user_ids: &[String],
    ) -> Result<(), GcError> {
        self.queue_members_bulk(queue_id, user_ids, true).await
    }

    /// `GET /api/v2/routing/queues/{queueId}/wrapupcodes` (all pages).
    pub fn queue_wrapup_codes(&self, queue_id: &str) -> GcStream<WrapupCode> {
        self.paged(
            format!("/api/v2/routing/queues/{}/wrapupcodes", seg(queue_id)),
            Vec::new(),
        )
    }

    /// `POST /api/v2/routing/queues/{queueId}/wrapupcodes` `[{id}]`, 100 per call.
    pub async fn add_queue_wrapup_codes(
        &self,
        queue_id: &str,
        code_ids: &[String],
    ) -> Result<(), GcError> {
        for chunk in code_ids.chunks(QUEUE_BULK_MAX) {
            let body: Vec<IdBody<'_>> = chunk.iter().map(|id| IdBody { id }).collect();
            let req = Req::new(
                Method::POST,
                format!("/api/v2/routing/queues/{}/wrapupcodes", seg(queue_id)),
                Retry::Safe,
            )
            .json(&body)?;
            self.execute(&req).await?;
        }
        Ok(())
    }

    /// `DELETE /api/v2/routing/queues/{queueId}/wrapupcodes/{codeId}`.
    pub async fn remove_queue_wrapup_code(
        &self,
        queue_id: &str,
        code_id: &str,
    ) -> Result<(), GcError> {
        self.delete(format!(
            "/api/v2/routing/queues/{}/wrapupcodes/{}",
            seg(queue_id),
            seg(code_id)
        ))
        .await
    }

    /// `GET /api/v2/routing/settings/transcription`.
    pub async fn transcription_settings(&self) -> Result<TranscriptionSettings, GcError> {
        self.get("/api/v2/routing/settings/transcription").await
    }

    /// `PUT /api/v2/routing/settings/transcription`.
    pub async fn set_transcription_settings(
        &self,
        body: &TranscriptionSettings,
    ) -> Result<TranscriptionSettings, GcError> {
        if !(1..=100).contains(&body.transcription_confidence_threshold) {
            return Err(GcError::InvalidInput(format!(
                "transcriptionConfidenceThreshold {} is outside 1–100",
                body.transcription_confidence_threshold
            )));
        }
        self.send_json(
            Method::PUT,
            "/api/v2/routing/settings/transcription",
            body,
            Retry::Safe,
        )
        .await
    }
}
