//! Speech and text analytics: settings (`defaultProgram`), programs and program-to-queue
//! mappings (`/api/v2/speechandtextanalytics/…`).

use crate::client::{GcClient, Retry, seg};
use crate::error::GcError;
use crate::models::EntityRef;
use crate::page::GcStream;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `SpeechTextAnalyticsSettingsResponse`: what GC answers. The default program comes back
/// as a reference `defaultProgram{id, selfUri}`; `defaultProgramId` is only the request
/// field ([`StaSettingsRequest`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaSettings {
    /// The default program (topic detection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_program: Option<EntityRef>,
    /// Expected dialects, e.g. `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_dialects: Option<Vec<String>>,
    /// Text analytics on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_analytics_enabled: Option<bool>,
    /// Agent empathy on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_empathy_enabled: Option<bool>,
    /// Any other field GC sends.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StaSettings {
    /// The default program's id, if one is set.
    pub fn default_program_id(&self) -> Option<&str> {
        self.default_program.as_ref().map(|p| p.id.as_str())
    }
}

/// `SpeechTextAnalyticsSettingsRequest`: the body of the settings `PUT`/`PATCH`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaSettingsRequest {
    /// The default program's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_program_id: Option<String>,
    /// Expected dialects, e.g. `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_dialects: Option<Vec<String>>,
    /// Text analytics on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_analytics_enabled: Option<bool>,
    /// Agent empathy on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_empathy_enabled: Option<bool>,
}

/// A program (`Program`, the fields the connector uses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Program {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<bool>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// `ProgramRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramRequest {
    /// Name (required).
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Topic ids.
    #[serde(default)]
    pub topic_ids: Vec<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `ProgramMappings`: a program with its queues and flows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramMappings {
    /// The program.
    pub program: EntityRef,
    /// Mapped queues.
    #[serde(default)]
    pub queues: Vec<EntityRef>,
    /// Mapped flows.
    #[serde(default)]
    pub flows: Vec<EntityRef>,
}

/// `ProgramMappingsRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgramMappingsRequest {
    /// Queue ids (required; replaces the mapping).
    pub queue_ids: Vec<String>,
    /// Flow ids (required).
    pub flow_ids: Vec<String>,
}

impl GcClient {
    /// `GET /api/v2/speechandtextanalytics/settings`.
    pub async fn sta_settings(&self) -> Result<StaSettings, GcError> {
        self.get("/api/v2/speechandtextanalytics/settings").await
    }

    /// `PATCH /api/v2/speechandtextanalytics/settings` (only the fields set).
    pub async fn update_sta_settings(
        &self,
        body: &StaSettingsRequest,
    ) -> Result<StaSettings, GcError> {
        self.send_json(
            Method::PATCH,
            "/api/v2/speechandtextanalytics/settings",
            body,
            Retry::Safe,
        )
        .await
    }

    /// `GET /api/v2/speechandtextanalytics/programs` (cursor-paged).
    pub fn sta_programs(&self) -> GcStream<Program> {
        self.cursor("/api/v2/speechandtextanalytics/programs".into(), Vec::new())
    }

    /// `POST /api/v2/speechandtextanalytics/programs`.
    pub async fn create_sta_program(&self, body: &ProgramRequest) -> Result<Program, GcError> {
        self.send_json(
            Method::POST,
            "/api/v2/speechandtextanalytics/programs",
            body,
            Retry::Unsafe,
        )
        .await
    }

    /// `GET /api/v2/speechandtextanalytics/programs/mappings` (cursor-paged).
    pub fn sta_program_mappings(&self) -> GcStream<ProgramMappings> {
        self.cursor(
            "/api/v2/speechandtextanalytics/programs/mappings".into(),
            Vec::new(),
        )
    }

    /// `PUT /api/v2/speechandtextanalytics/programs/{programId}/mappings`.
    pub async fn set_sta_program_mappings(
        &self,
        program_id: &str,
        body: &ProgramMappingsRequest,
    ) -> Result<ProgramMappings, GcError> {
        self.send_json(
            Method::PUT,
            format!(
                "/api/v2/speechandtextanalytics/programs/{}/mappings",
                seg(program_id)
            ),
            body,
            Retry::Safe,
        )
        .await
    }
}
