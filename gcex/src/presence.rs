//! Presence definitions and presence sources (`/api/v2/presence/…`).

use crate::client::{GcClient, Retry};
use crate::error::GcError;
use crate::page::EntityListing;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The system presences every org has.
pub const SYSTEM_PRESENCES: [&str; 10] = [
    "Available",
    "Away",
    "Busy",
    "Offline",
    "Idle",
    "OnQueue",
    "Meal",
    "Training",
    "Meeting",
    "Break",
];

/// `OrganizationPresenceDefinition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceDefinition {
    /// Id (absent in create requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `System` or `User` (secondary statuses are `User`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Labels per locale, e.g. `{"en_US": "Lunch"}` (required).
    #[serde(default)]
    pub language_labels: BTreeMap<String, String>,
    /// The system presence it maps to (one of [`SYSTEM_PRESENCES`]). Optional in GC's model:
    /// a definition without it decodes with an empty string here (and is not sent back empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub system_presence: String,
    /// Division id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division_id: Option<String>,
    /// Deactivated.
    #[serde(default)]
    pub deactivated: bool,
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// A user's primary presence source (`UserPrimarySource`): the source whose presence GC
/// shows as the user's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserPrimarySource {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The id of the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// Whether the source is registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
}

/// A presence source (`Source`): the platform that injects presence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceSource {
    /// Id (absent in create requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name (required).
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `System` or `User`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Deactivated.
    #[serde(default)]
    pub deactivated: bool,
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

impl GcClient {
    /// `GET /api/v2/presence/definitions` (active definitions).
    pub async fn presence_definitions(&self) -> Result<Vec<PresenceDefinition>, GcError> {
        let l: EntityListing<PresenceDefinition> = self.get("/api/v2/presence/definitions").await?;
        Ok(l.entities)
    }

    /// `POST /api/v2/presence/definitions` (a `User` secondary status).
    pub async fn create_presence_definition(
        &self,
        body: &PresenceDefinition,
    ) -> Result<PresenceDefinition, GcError> {
        self.send_json(
            Method::POST,
            "/api/v2/presence/definitions",
            body,
            Retry::Unsafe,
        )
        .await
    }

    /// `GET /api/v2/presence/users/{userId}/primarysource`: the source whose presence GC
    /// shows as the user's.
    pub async fn user_primary_presence_source(
        &self,
        user_id: &str,
    ) -> Result<UserPrimarySource, GcError> {
        self.get(&format!(
            "/api/v2/presence/users/{}/primarysource",
            crate::client::seg(user_id)
        ))
        .await
    }

    /// `PUT /api/v2/presence/users/{userId}/primarysource` with `sourceId`: makes `source_id`
    /// the user's primary presence source (permission `presence:userPrimarySource:edit`).
    pub async fn set_user_primary_presence_source(
        &self,
        user_id: &str,
        source_id: &str,
    ) -> Result<UserPrimarySource, GcError> {
        let body = UserPrimarySource {
            source_id: Some(source_id.to_owned()),
            ..UserPrimarySource::default()
        };
        self.send_json(
            Method::PUT,
            &format!(
                "/api/v2/presence/users/{}/primarysource",
                crate::client::seg(user_id)
            ),
            &body,
            Retry::Safe,
        )
        .await
    }

    /// `GET /api/v2/presence/sources`.
    pub async fn presence_sources(&self) -> Result<Vec<PresenceSource>, GcError> {
        let l: EntityListing<PresenceSource> = self.get("/api/v2/presence/sources").await?;
        Ok(l.entities)
    }

    /// `POST /api/v2/presence/sources`.
    pub async fn create_presence_source(
        &self,
        name: &str,
        description: Option<&str>,
    ) -> Result<PresenceSource, GcError> {
        let body = PresenceSource {
            id: None,
            name: name.to_owned(),
            description: description.map(str::to_owned),
            kind: None,
            deactivated: false,
            self_uri: None,
        };
        self.send_json(
            Method::POST,
            "/api/v2/presence/sources",
            &body,
            Retry::Unsafe,
        )
        .await
    }
}
