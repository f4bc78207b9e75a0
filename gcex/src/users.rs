//! Users: list, get, create, patch (with `version`), state, external ids, roles, routing skills
//! and routing languages. Paths: `/api/v2/users…` (UsersApi, RoutingApi).

use crate::client::{GcClient, Req, Retry, seg};
use crate::error::GcError;
use crate::models::EntityRef;
use crate::page::{EntityListing, GcStream};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::future::Future;

/// At most this many skills or languages per bulk request (GC's limit; the terraform provider
/// chunks its `PATCH …/bulk` calls at 50).
pub const SKILL_BULK_MAX: usize = 50;

/// Attempts of a read-modify-write or bulk call that meets a stale `version`.
pub const VERSION_ATTEMPTS: u32 = 5;

/// A user's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum UserState {
    /// Active.
    Active,
    /// Inactive.
    Inactive,
    /// Soft-deleted; a PATCH of `state` brings it back.
    Deleted,
    /// A value this client does not know.
    #[serde(other)]
    Unknown,
}

impl UserState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserState::Active => "active",
            UserState::Inactive => "inactive",
            UserState::Deleted => "deleted",
            UserState::Unknown => "unknown",
        }
    }
}

/// A contact address of a user (`Contact` model: `address`, `display`, `mediaType`
/// PHONE/EMAIL/SMS, `type` PRIMARY/WORK/WORK2/WORK3/WORK4/HOME/MOBILE/MAIN/OTHER, `extension`,
/// `countryCode`, `integration`). Fields this model does not know are kept in `extra`, so a
/// read-modify-write of `addresses` never drops what an admin set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Contact {
    /// E-mail address or phone number (mutually exclusive with `extension`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Formatted version of `address` (set by GC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// `EMAIL`, `PHONE` or `SMS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// `WORK`, `HOME`, `PRIMARY`, …
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// An internal extension, used instead of `address` (mutually exclusive with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// Country code of a phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// Integration tag, when the number belongs to an external integration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration: Option<String>,
    /// Any other field GC sends, written back unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Contact {
    /// A work e-mail address.
    pub fn work_email(address: impl Into<String>) -> Contact {
        Contact {
            address: Some(address.into()),
            media_type: Some("EMAIL".into()),
            kind: Some("WORK".into()),
            ..Contact::default()
        }
    }

    /// A phone number of the given `type` (`WORK`, `MOBILE`, …).
    pub fn phone(number: impl Into<String>, kind: impl Into<String>) -> Contact {
        Contact {
            address: Some(number.into()),
            media_type: Some("PHONE".into()),
            kind: Some(kind.into()),
            ..Contact::default()
        }
    }

    /// An internal phone extension of the given `type` (no `address`).
    pub fn phone_extension(extension: impl Into<String>, kind: impl Into<String>) -> Contact {
        Contact {
            extension: Some(extension.into()),
            media_type: Some("PHONE".into()),
            kind: Some(kind.into()),
            ..Contact::default()
        }
    }
}

/// A user (`User` model; the fields the connector uses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User id.
    pub id: String,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Division.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<EntityRef>,
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Email (also the username).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// State.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<UserState>,
    /// Version for optimistic locking (an integer for users).
    #[serde(default)]
    pub version: i64,
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
    /// Contact addresses (`addresses`: e-mail, phone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Contact>,
    /// Every other field GC sends (`primaryContactInfo`, `chat`, `images`, `acdAutoAnswer`,
    /// …), kept so a decoded user re-encodes without loss.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `POST /api/v2/users` (`CreateUser`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUser {
    /// Display name (required).
    pub name: String,
    /// Email, also the username (required; unique case-insensitively).
    pub email: String,
    /// Division id (required by GC; the home division if unsure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division_id: Option<String>,
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Initial password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Initial state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<UserState>,
    /// Contact addresses (`addresses`: e-mail, phone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Contact>,
}

/// Body of `PATCH /api/v2/users/{userId}` (`UpdateUser`). `version` must equal the current
/// version. If `state` is set it is the only field GC changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateUser {
    /// Current version (required).
    pub version: i64,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// State (then the only field changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<UserState>,
    /// Contact addresses; `None` leaves them unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<Contact>>,
}

/// `UserExternalIdentifier`: an external key mapped to a user (case-sensitive, ≤100 per user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserExternalIdentifier {
    /// Authority (namespace of the key).
    pub authority_name: String,
    /// The key.
    pub external_key: String,
}

/// `UserAuthorization`: the user's roles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAuthorization {
    /// Granted roles (`DomainRole {id, name}`).
    #[serde(default)]
    pub roles: Vec<EntityRef>,
}

/// A skill assignment to send (`UserRoutingSkillPost {id, proficiency}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillAssignment {
    /// Skill (or language) id.
    pub id: String,
    /// Proficiency, 0.0 to 5.0.
    pub proficiency: f64,
}

/// A user's skill or language as GC answers it (`UserRoutingSkill`, `UserRoutingLanguage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRoutingSkill {
    /// Skill or language id.
    pub id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Proficiency 0.0–5.0.
    pub proficiency: f64,
    /// `active` or `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// `UsersSearchResponse` (the fields read here).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersSearchResponse {
    /// Matches in total.
    #[serde(default)]
    pub total: u64,
    /// Pages.
    #[serde(default)]
    pub page_count: u32,
    /// The matching users of this page.
    #[serde(default)]
    pub results: Vec<User>,
}

/// Re-runs `call` while it fails with a stale `version` ([`GcError::is_version_conflict`]),
/// at most `attempts` times in all, with the client's backoff between attempts.
pub(crate) async fn retry_version<T, F, Fut>(
    gc: &GcClient,
    attempts: u32,
    mut call: F,
) -> Result<T, GcError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GcError>>,
{
    let mut tries = 0u32;
    loop {
        tries += 1;
        match call().await {
            Err(e) if e.is_version_conflict() && tries < attempts.max(1) => {
                let wait = gc.config().retry.backoff(tries - 1);
                tracing::debug!(error = %e, attempt = tries, "stale version; re-reading and retrying");
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

fn check_proficiency(list: &[SkillAssignment]) -> Result<(), GcError> {
    for s in list {
        if !(0.0..=5.0).contains(&s.proficiency) {
            return Err(GcError::InvalidInput(format!(
                "proficiency {} for {} is outside 0.0–5.0; map the Engage skill level into that range",
                s.proficiency, s.id
            )));
        }
    }
    Ok(())
}

impl GcClient {
    /// `GET /api/v2/users` (all pages), optionally of one `state` (GC default: active).
    pub fn users(&self, state: Option<UserState>) -> GcStream<User> {
        let q = state
            .map(|s| vec![("state".to_owned(), s.as_str().to_owned())])
            .unwrap_or_default();
        self.paged("/api/v2/users".into(), q)
    }

    /// `POST /api/v2/users/search` with an `EXACT` match on `email` (case-insensitive, as
    /// emails are): the user owning an email, e.g. after a create answered 409.
    pub async fn find_user_by_email(&self, email: &str) -> Result<Option<User>, GcError> {
        let body = serde_json::json!({
            "pageSize": 25,
            "pageNumber": 1,
            "query": [{"type": "EXACT", "fields": ["email"], "value": email}],
        });
        let r: UsersSearchResponse = self
            .send_json(Method::POST, "/api/v2/users/search", &body, Retry::Safe)
            .await?;
        Ok(r.results.into_iter().find(|u| {
            u.email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(email))
        }))
    }

    /// `POST /api/v2/users/search` for a **deleted** user owning `email` (`EXACT` on `email`
    /// and `state` = `deleted`, the criteria the terraform provider uses before it creates a
    /// user). GC keeps a deleted user's e-mail: creating it again conflicts; restore it with
    /// [`GcClient::set_user_state`] instead.
    pub async fn find_deleted_user_by_email(&self, email: &str) -> Result<Option<User>, GcError> {
        let body = serde_json::json!({
            "pageSize": 25,
            "pageNumber": 1,
            "query": [
                {"type": "EXACT", "fields": ["email"], "value": email},
                {"type": "EXACT", "fields": ["state"], "values": ["deleted"]},
            ],
        });
        let r: UsersSearchResponse = self
            .send_json(Method::POST, "/api/v2/users/search", &body, Retry::Safe)
            .await?;
        Ok(r.results.into_iter().find(|u| {
            u.state == Some(UserState::Deleted)
                && u.email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email))
        }))
    }

    /// `GET /api/v2/users/{userId}`; deleted users with `Some(UserState::Deleted)`.
    pub async fn get_user(&self, id: &str, state: Option<UserState>) -> Result<User, GcError> {
        let mut r = Req::new(
            Method::GET,
            format!("/api/v2/users/{}", seg(id)),
            Retry::Safe,
        );
        if let Some(s) = state {
            r = r.query("state", s.as_str());
        }
        self.call(r).await
    }

    /// `POST /api/v2/users`. Not retried after it may have reached GC; on a duplicate email GC
    /// answers an error (look the user up by email or external id).
    pub async fn create_user(&self, body: &CreateUser) -> Result<User, GcError> {
        self.send_json(Method::POST, "/api/v2/users", body, Retry::Unsafe)
            .await
    }

    /// `PATCH /api/v2/users/{userId}`; a stale `version` gives a 409 or a 400
    /// `general.conflict` ([`GcError::is_version_conflict`]).
    pub async fn patch_user(&self, id: &str, body: &UpdateUser) -> Result<User, GcError> {
        self.send_json(
            Method::PATCH,
            format!("/api/v2/users/{}", seg(id)),
            body,
            Retry::Unsafe,
        )
        .await
    }

    /// Reads the user and patches it with `change(&current)`, re-reading and retrying up to
    /// `attempts` times on a stale version (409, or 400 `general.conflict`), as the terraform
    /// provider does (`RetryWhen(IsVersionMismatch, …)`).
    pub async fn update_user<F>(
        &self,
        id: &str,
        attempts: u32,
        mut change: F,
    ) -> Result<User, GcError>
    where
        F: FnMut(&User) -> UpdateUser,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            let current = match self.get_user(id, None).await {
                Err(e) if e.is_not_found() => self.get_user(id, Some(UserState::Deleted)).await?,
                other => other?,
            };
            let mut body = change(&current);
            body.version = current.version;
            match self.patch_user(id, &body).await {
                Err(e) if e.is_version_conflict() && tries < attempts.max(1) => {
                    tracing::debug!(user = id, error = %e, attempt = tries, "stale user version; re-reading");
                    tokio::time::sleep(self.config().retry.backoff(tries - 1)).await;
                }
                other => return other,
            }
        }
    }

    /// Sets a user's state (`active`, `inactive`, or `deleted`; restoring a deleted user
    /// works too), re-reading on version conflicts.
    pub async fn set_user_state(&self, id: &str, state: UserState) -> Result<User, GcError> {
        self.update_user(id, 5, |_| UpdateUser {
            state: Some(state),
            ..UpdateUser::default()
        })
        .await
    }

    /// `DELETE /api/v2/users/{userId}` (soft delete).
    pub async fn delete_user(&self, id: &str) -> Result<(), GcError> {
        self.delete(format!("/api/v2/users/{}", seg(id))).await
    }

    /// `GET /api/v2/users/{userId}/externalid`: the user's external identifiers.
    pub async fn user_external_ids(
        &self,
        id: &str,
    ) -> Result<Vec<UserExternalIdentifier>, GcError> {
        self.get(format!("/api/v2/users/{}/externalid", seg(id)))
            .await
    }

    /// Makes sure the user carries `authority_name`/`external_key`: reads the identifiers
    /// first and posts only a missing one (GC answers 409 "The external identifier already
    /// exists" to a repeat, which is taken as success if it names this user's own key).
    /// Returns whether a POST was sent.
    pub async fn ensure_user_external_id(
        &self,
        id: &str,
        authority_name: &str,
        external_key: &str,
    ) -> Result<bool, GcError> {
        let has = |list: &[UserExternalIdentifier]| {
            list.iter()
                .any(|x| x.authority_name == authority_name && x.external_key == external_key)
        };
        if has(&self.user_external_ids(id).await?) {
            return Ok(false);
        }
        match self
            .add_user_external_id(id, authority_name, external_key)
            .await
        {
            Ok(_) => Ok(true),
            // A concurrent writer added it between the read and the POST.
            Err(e) if e.is_conflict() && has(&self.user_external_ids(id).await?) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v2/users/{userId}/externalid`; answers all of the user's identifiers. GC
    /// answers 409 if the user already has this key: prefer
    /// [`GcClient::ensure_user_external_id`].
    pub async fn add_user_external_id(
        &self,
        id: &str,
        authority_name: &str,
        external_key: &str,
    ) -> Result<Vec<UserExternalIdentifier>, GcError> {
        let body = UserExternalIdentifier {
            authority_name: authority_name.to_owned(),
            external_key: external_key.to_owned(),
        };
        self.send_json(
            Method::POST,
            format!("/api/v2/users/{}/externalid", seg(id)),
            &body,
            Retry::Safe,
        )
        .await
    }

    /// `GET /api/v2/users/externalid/{authorityName}/{externalKey}`.
    pub async fn user_by_external_id(
        &self,
        authority_name: &str,
        external_key: &str,
    ) -> Result<User, GcError> {
        self.get(format!(
            "/api/v2/users/externalid/{}/{}",
            seg(authority_name),
            seg(external_key)
        ))
        .await
    }

    /// `GET /api/v2/users/{subjectId}/roles`.
    pub async fn user_roles(&self, id: &str) -> Result<UserAuthorization, GcError> {
        self.get(format!("/api/v2/users/{}/roles", seg(id))).await
    }

    /// `PUT /api/v2/users/{subjectId}/roles` with the role ids: sets exactly these roles.
    pub async fn set_user_roles(
        &self,
        id: &str,
        role_ids: &[String],
    ) -> Result<UserAuthorization, GcError> {
        self.send_json(
            Method::PUT,
            format!("/api/v2/users/{}/roles", seg(id)),
            role_ids,
            Retry::Safe,
        )
        .await
    }

    /// `GET /api/v2/users/{userId}/routingskills` (all pages).
    pub fn user_skills(&self, id: &str) -> GcStream<UserRoutingSkill> {
        self.paged(
            format!("/api/v2/users/{}/routingskills", seg(id)),
            Vec::new(),
        )
    }

    /// `PATCH /api/v2/users/{userId}/routingskills/bulk`: adds or updates these skills and
    /// keeps the others; sent in chunks of [`SKILL_BULK_MAX`], each retried on a stale
    /// version. Answers the assignments after the last chunk (empty input sends nothing).
    pub async fn patch_user_skills(
        &self,
        id: &str,
        skills: &[SkillAssignment],
    ) -> Result<Vec<UserRoutingSkill>, GcError> {
        check_proficiency(skills)?;
        self.bulk_patch(
            format!("/api/v2/users/{}/routingskills/bulk", seg(id)),
            skills,
        )
        .await
    }

    /// `DELETE /api/v2/users/{userId}/routingskills/{skillId}`, retried on a stale version.
    pub async fn remove_user_skill(&self, id: &str, skill_id: &str) -> Result<(), GcError> {
        let path = format!("/api/v2/users/{}/routingskills/{}", seg(id), seg(skill_id));
        retry_version(self, VERSION_ATTEMPTS, || self.delete(path.clone())).await
    }

    async fn bulk_patch(
        &self,
        path: String,
        list: &[SkillAssignment],
    ) -> Result<Vec<UserRoutingSkill>, GcError> {
        let mut last = Vec::new();
        for chunk in list.chunks(SKILL_BULK_MAX) {
            let l: EntityListing<UserRoutingSkill> = retry_version(self, VERSION_ATTEMPTS, || {
                self.send_json(Method::PATCH, path.clone(), chunk, Retry::Safe)
            })
            .await?;
            last = l.entities;
        }
        Ok(last)
    }

    /// `PUT /api/v2/users/{userId}/routingskills/bulk`: replaces all skill assignments. GC
    /// takes at most [`SKILL_BULK_MAX`] per request, so a longer list is refused here; prefer
    /// [`GcClient::patch_user_skills`] plus [`GcClient::remove_user_skill`], which keep
    /// skills the caller does not manage.
    pub async fn set_user_skills(
        &self,
        id: &str,
        skills: &[SkillAssignment],
    ) -> Result<Vec<UserRoutingSkill>, GcError> {
        check_proficiency(skills)?;
        if skills.len() > SKILL_BULK_MAX {
            return Err(GcError::InvalidInput(format!(
                "{} skills in one replace; GC takes at most {SKILL_BULK_MAX} per bulk request: use patch_user_skills",
                skills.len()
            )));
        }
        let l: EntityListing<UserRoutingSkill> = self
            .send_json(
                Method::PUT,
                format!("/api/v2/users/{}/routingskills/bulk", seg(id)),
                skills,
                Retry::Safe,
            )
            .await?;
        Ok(l.entities)
    }

    /// `GET /api/v2/users/{userId}/routinglanguages` (all pages).
    pub fn user_languages(&self, id: &str) -> GcStream<UserRoutingSkill> {
        self.paged(
            format!("/api/v2/users/{}/routinglanguages", seg(id)),
            Vec::new(),
        )
    }

    /// `PATCH /api/v2/users/{userId}/routinglanguages/bulk`: adds or updates (there is no
    /// replace-all for languages; remove the others with [`GcClient::remove_user_language`]).
    /// Sent in chunks of [`SKILL_BULK_MAX`], each retried on a stale version; answers the
    /// assignments after the last chunk.
    pub async fn upsert_user_languages(
        &self,
        id: &str,
        languages: &[SkillAssignment],
    ) -> Result<Vec<UserRoutingSkill>, GcError> {
        check_proficiency(languages)?;
        self.bulk_patch(
            format!("/api/v2/users/{}/routinglanguages/bulk", seg(id)),
            languages,
        )
        .await
    }

    /// `DELETE /api/v2/users/{userId}/routinglanguages/{languageId}`, retried on a stale
    /// version.
    pub async fn remove_user_language(&self, id: &str, language_id: &str) -> Result<(), GcError> {
        let path = format!(
            "/api/v2/users/{}/routinglanguages/{}",
            seg(id),
            seg(language_id)
        );
        retry_version(self, VERSION_ATTEMPTS, || self.delete(path.clone())).await
    }
}
