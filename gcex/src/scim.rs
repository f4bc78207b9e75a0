//! Users through Genesys Cloud's SCIM 2.0 API (`/api/v2/scim/v2/users`): create, get, list with
//! a filter, and PATCH (`PatchOp`), with the enterprise and Genesys Cloud extensions.
//!
//! Why: one SCIM create carries what the Users API needs about five requests for (the user,
//! its roles, its external id, its routing skills and languages), and one PATCH changes any of
//! them.
//!
//! Field names follow the public platform SDK models (`ScimV2CreateUser`, `ScimV2User`,
//! `ScimUserExtensions`, `ScimUserRoutingSkill`, `ScimUserRoutingLanguage`,
//! `ScimGenesysUserExternalId`, `ScimEmail`, `ScimUserRole`, `ScimMetadata`,
//! `ScimUserListResponse`, `ScimV2PatchRequest`, `ScimV2PatchOperation`, `ScimError`) and
//! Genesys Cloud's "SCIM and Genesys Cloud field mappings" article:
//! - `userName` is the user's e-mail (GC's main e-mail, unique); `emails` of `type` `work` is
//!   the work e-mail, `type` `other` is read-only and equals `userName`;
//! - `roles` are matched to the org's roles **by name**;
//! - `routingSkills` / `routingLanguages` are named (case-sensitively) with a proficiency
//!   0.0–5.0, at most 50 each;
//! - `externalId` is kept by GC under the authority `x-pc:scimv2:v1`; other authorities go in
//!   the extension's `externalIds`;
//! - `meta.version` is the ETag: send it back in `If-Match` (in double quotes); a stale one
//!   answers 400 with `scimType` `invalidVers` ([`GcError::is_version_conflict`]);
//! - a list without a filter answers active users only; `active eq false` lists inactive ones.
//!
//! SCIM errors (`schemas`/`status`/`scimType`/`detail`) are read into [`crate::ErrorBody`]
//! (`scim_type`, `detail`); ask [`GcError::scim_type`].

use crate::client::{GcClient, Req, Retry, seg};
use crate::error::GcError;
use crate::page::GcStream;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The path of SCIM users.
pub const SCIM_USERS_PATH: &str = "/api/v2/scim/v2/users";
/// The core user schema.
pub const SCHEMA_CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise user extension.
pub const SCHEMA_ENTERPRISE_USER: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Genesys Cloud's user extension (routing skills and languages, external ids).
pub const SCHEMA_GENESYS_USER: &str =
    "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User";
/// The PATCH request message schema.
pub const SCHEMA_PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The error message schema.
pub const SCHEMA_ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The list response message schema.
pub const SCHEMA_LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The authority under which GC keeps a SCIM user's core `externalId`.
pub const SCIM_EXTERNAL_ID_AUTHORITY: &str = "x-pc:scimv2:v1";
/// The media type of SCIM bodies (GC also takes `application/json`).
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";
/// Users per list request this client asks for (GC's default is 25; its maximum is not
/// public: the emulator clamps to 100).
pub const SCIM_PAGE_SIZE: u32 = 100;
/// GC's limit of routing skills, and of routing languages, on one SCIM user.
pub const SCIM_SKILLS_MAX: usize = 50;

/// The extension path of the routing skills, for PATCH operations.
pub fn path_routing_skills() -> String {
    format!("{SCHEMA_GENESYS_USER}:routingSkills")
}

/// The extension path of the external ids, for PATCH operations.
pub fn path_external_ids() -> String {
    format!("{SCHEMA_GENESYS_USER}:externalIds")
}

/// The PATCH path of the work e-mail's value (a SCIM value filter on `type`).
pub const PATH_WORK_EMAIL: &str = "emails[type eq \"work\"].value";

/// An e-mail address (`ScimEmail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimEmail {
    /// The address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `work` (GC's work e-mail) or `other` (read-only: the `userName`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether it is the primary address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
}

impl ScimEmail {
    /// A work e-mail address.
    pub fn work(address: impl Into<String>) -> ScimEmail {
        ScimEmail {
            value: Some(address.into()),
            kind: Some("work".into()),
            primary: None,
        }
    }

    /// Whether this is the work address.
    pub fn is_work(&self) -> bool {
        self.kind.as_deref() == Some("work")
    }
}

/// A role by name (`ScimUserRole`); GC matches it to the org's role of that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScimUserRole {
    /// The role's name.
    pub value: String,
}

impl ScimUserRole {
    /// The role named `name`.
    pub fn named(name: impl Into<String>) -> ScimUserRole {
        ScimUserRole { value: name.into() }
    }
}

/// A routing skill or language by name (`ScimUserRoutingSkill`, `ScimUserRoutingLanguage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScimRoutingEntry {
    /// The case-sensitive name of the skill or language in GC.
    pub name: String,
    /// 0.0 to 5.0.
    pub proficiency: f64,
}

impl ScimRoutingEntry {
    /// `name` at `proficiency`.
    pub fn new(name: impl Into<String>, proficiency: f64) -> ScimRoutingEntry {
        ScimRoutingEntry {
            name: name.into(),
            proficiency,
        }
    }
}

/// An external identifier (`ScimGenesysUserExternalId`): unique within the org and its
/// authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScimExternalId {
    /// Its authority (scope, source system).
    pub authority: String,
    /// The key.
    pub value: String,
}

impl ScimExternalId {
    /// `value` under `authority`.
    pub fn new(authority: impl Into<String>, value: impl Into<String>) -> ScimExternalId {
        ScimExternalId {
            authority: authority.into(),
            value: value.into(),
        }
    }
}

/// Genesys Cloud's user extension (`ScimUserExtensions`). `None` leaves a list out of the body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimUserExtensions {
    /// Routing skills (at most 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_skills: Option<Vec<ScimRoutingEntry>>,
    /// Routing languages (at most 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_languages: Option<Vec<ScimRoutingEntry>>,
    /// External ids (GC adds the core `externalId` under `x-pc:scimv2:v1`, immutable here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ids: Option<Vec<ScimExternalId>>,
}

/// The enterprise user extension (`ScimV2EnterpriseUser`, the fields GC maps).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimEnterpriseUser {
    /// The division id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    /// The department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The manager (`{value, $ref}`), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Value>,
    /// Anything else GC sends (`employeeNumber`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A resource's metadata (`ScimMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimMetadata {
    /// `User`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Last change, ISO-8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// The resource's URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The version; equals the `ETag` header; send it back in `If-Match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Body of `POST /api/v2/scim/v2/users` (`ScimV2CreateUser`): only `userName` and
/// `displayName` are required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimV2CreateUser {
    /// The schemas the body uses ([`ScimV2CreateUser::new`] fills them in).
    pub schemas: Vec<String>,
    /// Administrative state (`true`: active).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The user's e-mail address, unique (case-insensitively).
    pub user_name: String,
    /// The display name.
    pub display_name: String,
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// E-mail addresses (`work`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ScimEmail>,
    /// The provisioning client's id of the user (case-exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Roles by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<ScimUserRole>,
    /// The enterprise extension.
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    pub enterprise: Option<ScimEnterpriseUser>,
    /// Genesys Cloud's extension.
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    pub genesys: Option<ScimUserExtensions>,
}

impl ScimV2CreateUser {
    /// A user with the two required attributes; set the others on the result.
    pub fn new(user_name: impl Into<String>, display_name: impl Into<String>) -> Self {
        ScimV2CreateUser {
            schemas: vec![SCHEMA_CORE_USER.into()],
            active: None,
            user_name: user_name.into(),
            display_name: display_name.into(),
            title: None,
            emails: Vec::new(),
            external_id: None,
            roles: Vec::new(),
            enterprise: None,
            genesys: None,
        }
    }

    /// Lists the extension schemas the body carries (call before sending; the client does).
    fn with_schemas(mut self) -> Self {
        let mut schemas = vec![SCHEMA_CORE_USER.to_owned()];
        if self.enterprise.is_some() {
            schemas.push(SCHEMA_ENTERPRISE_USER.into());
        }
        if self.genesys.is_some() {
            schemas.push(SCHEMA_GENESYS_USER.into());
        }
        self.schemas = schemas;
        self
    }
}

/// A SCIM user as GC answers it (`ScimV2User`). Fields this model does not name are kept in
/// `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimV2User {
    /// The user id (the same as the Users API's).
    #[serde(default)]
    pub id: String,
    /// Schemas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
    /// Administrative state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The e-mail address that identifies the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// E-mail addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ScimEmail>,
    /// The core external id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Roles by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<ScimUserRole>,
    /// The enterprise extension.
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    pub enterprise: Option<ScimEnterpriseUser>,
    /// Genesys Cloud's extension.
    #[serde(
        default,
        rename = "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User",
        skip_serializing_if = "Option::is_none"
    )]
    pub genesys: Option<ScimUserExtensions>,
    /// Metadata (`version` is the ETag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<ScimMetadata>,
    /// Everything else (`phoneNumbers`, `photos`, `groups`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ScimV2User {
    /// The work e-mail address.
    pub fn work_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.is_work())
            .and_then(|e| e.value.as_deref())
    }

    /// The version to send back in `If-Match`.
    pub fn version(&self) -> Option<&str> {
        self.meta.as_ref().and_then(|m| m.version.as_deref())
    }

    /// The routing skills (empty when GC sent none).
    pub fn routing_skills(&self) -> &[ScimRoutingEntry] {
        self.genesys
            .as_ref()
            .and_then(|g| g.routing_skills.as_deref())
            .unwrap_or(&[])
    }

    /// The extension's external ids (empty when GC sent none).
    pub fn external_ids(&self) -> &[ScimExternalId] {
        self.genesys
            .as_ref()
            .and_then(|g| g.external_ids.as_deref())
            .unwrap_or(&[])
    }

    /// Whether the user has the role named `name` (case-insensitively).
    pub fn has_role(&self, name: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.value.eq_ignore_ascii_case(name))
    }
}

/// A page of users (`ScimUserListResponse`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ScimUserListResponse {
    /// Schemas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
    /// Matches in total.
    #[serde(default)]
    pub total_results: u64,
    /// The 1-based index of this page's first user.
    #[serde(default)]
    pub start_index: u64,
    /// Users on this page.
    #[serde(default)]
    pub items_per_page: u64,
    /// The users.
    #[serde(default, rename = "Resources")]
    pub resources: Vec<ScimV2User>,
}

/// A PATCH operation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PatchOp {
    /// Add values (to a multi-valued attribute: appended).
    Add,
    /// Replace the value.
    Replace,
    /// Remove the value (a `path` is required).
    Remove,
}

/// One PATCH operation (`ScimV2PatchOperation`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScimV2PatchOperation {
    /// What to do.
    pub op: PatchOp,
    /// The attribute path (required for `remove`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

impl ScimV2PatchOperation {
    /// `remove` of `path` (an attribute, or a value filter such as
    /// `roles[value eq "X"]`).
    pub fn remove(path: impl Into<String>) -> Self {
        ScimV2PatchOperation {
            op: PatchOp::Remove,
            path: Some(path.into()),
            value: None,
        }
    }

    /// `op` on `path` with `value`.
    pub fn new(op: PatchOp, path: impl Into<String>, value: Value) -> Self {
        ScimV2PatchOperation {
            op,
            path: Some(path.into()),
            value: Some(value),
        }
    }
}

/// Body of `PATCH /api/v2/scim/v2/users/{userId}` (`ScimV2PatchRequest`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScimV2PatchRequest {
    /// `urn:ietf:params:scim:api:messages:2.0:PatchOp`.
    pub schemas: Vec<String>,
    /// The operations, applied in order.
    #[serde(rename = "Operations")]
    pub operations: Vec<ScimV2PatchOperation>,
}

impl ScimV2PatchRequest {
    /// A request carrying `operations`.
    pub fn new(operations: Vec<ScimV2PatchOperation>) -> Self {
        ScimV2PatchRequest {
            schemas: vec![SCHEMA_PATCH_OP.into()],
            operations,
        }
    }
}

/// The attributes GC filters users on (`eq` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScimFilterAttr {
    /// `id`.
    Id,
    /// `userName` (case-insensitive).
    UserName,
    /// `email`.
    Email,
    /// `externalId`.
    ExternalId,
    /// `active` (`false` lists inactive users).
    Active,
}

impl ScimFilterAttr {
    /// The attribute's name in a filter.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimFilterAttr::Id => "id",
            ScimFilterAttr::UserName => "userName",
            ScimFilterAttr::Email => "email",
            ScimFilterAttr::ExternalId => "externalId",
            ScimFilterAttr::Active => "active",
        }
    }
}

/// The filter `attr eq "value"` (RFC 7644 §3.4.2.2; `"` and `\` escaped as in JSON).
/// `active` takes a bare `true`/`false`.
pub fn filter_eq(attr: ScimFilterAttr, value: &str) -> String {
    if attr == ScimFilterAttr::Active {
        return format!("active eq {}", value.trim());
    }
    let quoted = serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""));
    format!("{} eq {quoted}", attr.as_str())
}

/// `If-Match` wants the version in double quotes; a value already quoted (or weak) is sent
/// as it is.
fn if_match(version: &str) -> String {
    let v = version.trim();
    if v.starts_with('"') || v.starts_with("W/") {
        v.to_owned()
    } else {
        format!("\"{v}\"")
    }
}

fn check_entries(list: Option<&Vec<ScimRoutingEntry>>, what: &str) -> Result<(), GcError> {
    let Some(list) = list else { return Ok(()) };
    if list.len() > SCIM_SKILLS_MAX {
        return Err(GcError::InvalidInput(format!(
            "{} routing {what} on one SCIM user; GC takes at most {SCIM_SKILLS_MAX}",
            list.len()
        )));
    }
    if let Some(e) = list.iter().find(|e| !(0.0..=5.0).contains(&e.proficiency)) {
        return Err(GcError::InvalidInput(format!(
            "proficiency {} for {what} {} is outside 0.0–5.0",
            e.proficiency, e.name
        )));
    }
    Ok(())
}

impl GcClient {
    /// `POST /api/v2/scim/v2/users`: one request creates the user with its roles, skills,
    /// languages and external ids. Not retried after it may have reached GC; a taken
    /// `userName` answers 409 `uniqueness` ([`GcError::is_duplicate`]): look it up with
    /// [`GcClient::scim_find_user_by_user_name`]. Checks skills and languages (≤ 50,
    /// proficiency 0–5) before sending.
    pub async fn scim_create_user(&self, body: &ScimV2CreateUser) -> Result<ScimV2User, GcError> {
        if let Some(g) = &body.genesys {
            check_entries(g.routing_skills.as_ref(), "skills")?;
            check_entries(g.routing_languages.as_ref(), "languages")?;
        }
        let body = body.clone().with_schemas();
        let mut req = Req::new(Method::POST, SCIM_USERS_PATH, Retry::Unsafe).json(&body)?;
        req.content_type = SCIM_MEDIA_TYPE;
        self.call(req).await
    }

    /// `GET /api/v2/scim/v2/users/{userId}` (with GC's default attributes: `externalId`,
    /// `roles`, the manager).
    pub async fn scim_user(&self, id: &str) -> Result<ScimV2User, GcError> {
        self.get(format!("{SCIM_USERS_PATH}/{}", seg(id))).await
    }

    /// `GET /api/v2/scim/v2/users` with `filter` (see [`filter_eq`]; `None`: the active
    /// users), every page (`startIndex`/`count`, [`SCIM_PAGE_SIZE`] per request). GC answers
    /// a filter it does not support with 400 `invalidFilter`.
    pub fn scim_users(&self, filter: Option<String>) -> GcStream<ScimV2User> {
        let client = self.clone();
        stream::try_unfold(Some(1u64), move |start| {
            let client = client.clone();
            let filter = filter.clone();
            async move {
                let Some(start) = start else { return Ok(None) };
                let mut req = Req::new(Method::GET, SCIM_USERS_PATH, Retry::Safe)
                    .query("startIndex", start)
                    .query("count", SCIM_PAGE_SIZE);
                if let Some(f) = filter {
                    req = req.query("filter", f);
                }
                let page: ScimUserListResponse = client.call(req).await?;
                let n = page.resources.len() as u64;
                let next = start.saturating_add(n);
                // Without `totalResults` (0), a full page means there may be more.
                let more = n > 0
                    && if page.total_results > 0 {
                        next <= page.total_results
                    } else {
                        n >= u64::from(SCIM_PAGE_SIZE)
                    };
                Ok(Some((page.resources, more.then_some(next))))
            }
        })
        .map_ok(|v| stream::iter(v.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// The user whose `userName` is `user_name` (case-insensitively), active or inactive:
    /// a filtered list, one request when it exists.
    pub async fn scim_find_user_by_user_name(
        &self,
        user_name: &str,
    ) -> Result<Option<ScimV2User>, GcError> {
        let found = crate::collect_all(
            self.scim_users(Some(filter_eq(ScimFilterAttr::UserName, user_name))),
        )
        .await?;
        Ok(found.into_iter().find(|u| {
            u.user_name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(user_name))
        }))
    }

    /// `PATCH /api/v2/scim/v2/users/{userId}` with `If-Match: "<version>"` when `version` is
    /// given: a stale version answers 400 `invalidVers` ([`GcError::is_version_conflict`]:
    /// re-read and retry). An empty request sends nothing and is refused here.
    pub async fn scim_patch_user(
        &self,
        id: &str,
        body: &ScimV2PatchRequest,
        version: Option<&str>,
    ) -> Result<ScimV2User, GcError> {
        if body.operations.is_empty() {
            return Err(GcError::InvalidInput(
                "a SCIM PATCH needs at least one operation".into(),
            ));
        }
        if let Some(op) = body
            .operations
            .iter()
            .find(|o| o.op == PatchOp::Remove && o.path.is_none())
        {
            return Err(GcError::InvalidInput(format!(
                "a SCIM remove needs a path ({op:?})"
            )));
        }
        let mut req = Req::new(
            Method::PATCH,
            format!("{SCIM_USERS_PATH}/{}", seg(id)),
            Retry::Safe,
        )
        .json(body)?;
        req.content_type = SCIM_MEDIA_TYPE;
        if let Some(v) = version {
            req = req.header("If-Match", if_match(v));
        }
        self.call(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_create_body_uses_the_public_field_names() {
        let mut u = ScimV2CreateUser::new("a@b.example", "A B");
        u.active = Some(true);
        u.emails = vec![ScimEmail::work("w@b.example")];
        u.external_id = Some("101_ab".into());
        u.roles = vec![ScimUserRole::named("Employee")];
        u.genesys = Some(ScimUserExtensions {
            routing_skills: Some(vec![ScimRoutingEntry::new("Sales", 2.5)]),
            external_ids: Some(vec![ScimExternalId::new("engage-connector", "101_ab")]),
            ..ScimUserExtensions::default()
        });
        let v = serde_json::to_value(u.with_schemas()).expect("serialises");
        assert_eq!(v["userName"], "a@b.example");
        assert_eq!(v["displayName"], "A B");
        assert_eq!(v["externalId"], "101_ab");
        assert_eq!(v["emails"][0]["type"], "work");
        assert_eq!(v["roles"][0]["value"], "Employee");
        let g = &v[SCHEMA_GENESYS_USER];
        assert_eq!(g["routingSkills"][0]["name"], "Sales");
        assert_eq!(g["routingSkills"][0]["proficiency"], 2.5);
        assert_eq!(g["externalIds"][0]["authority"], "engage-connector");
        assert!(g.get("routingLanguages").is_none(), "None stays out");
        assert_eq!(
            v["schemas"],
            serde_json::json!([SCHEMA_CORE_USER, SCHEMA_GENESYS_USER])
        );
    }

    #[test]
    fn a_patch_body_and_a_user_answer_use_the_public_field_names() {
        let p = ScimV2PatchRequest::new(vec![ScimV2PatchOperation::new(
            PatchOp::Add,
            "roles",
            serde_json::json!([{"value": "Supervisor"}]),
        )]);
        let v = serde_json::to_value(&p).expect("serialises");
        assert_eq!(v["schemas"][0], SCHEMA_PATCH_OP);
        assert_eq!(v["Operations"][0]["op"], "add");
        let answer = serde_json::json!({
            "id": "u1", "userName": "a@b.example", "active": false,
            "emails": [{"value": "a@b.example", "type": "other", "primary": true},
                       {"value": "w@b.example", "type": "work"}],
            "roles": [{"value": "Employee"}],
            "photos": [{"value": "x", "type": "photo"}],
            SCHEMA_GENESYS_USER: {"routingSkills": [{"name": "Sales", "proficiency": 3.0}]},
            "meta": {"resourceType": "User", "version": "7", "location": "/api/v2/scim/v2/users/u1"}
        });
        let u: ScimV2User = serde_json::from_value(answer.clone()).expect("decodes");
        assert_eq!(u.work_email(), Some("w@b.example"));
        assert_eq!(u.version(), Some("7"));
        assert!(u.has_role("employee"));
        assert_eq!(u.routing_skills()[0].name, "Sales");
        assert!(u.extra.contains_key("photos"), "unknown fields are kept");
        assert_eq!(serde_json::to_value(&u).expect("encodes"), answer);
    }

    #[test]
    fn filters_quote_and_escape_and_if_match_quotes() {
        assert_eq!(
            filter_eq(ScimFilterAttr::UserName, "a@b.example"),
            r#"userName eq "a@b.example""#
        );
        assert_eq!(
            filter_eq(ScimFilterAttr::ExternalId, r#"1_a"b\c"#),
            r#"externalId eq "1_a\"b\\c""#
        );
        assert_eq!(
            filter_eq(ScimFilterAttr::Active, "false"),
            "active eq false"
        );
        assert_eq!(if_match("42"), "\"42\"");
        assert_eq!(if_match("\"42\""), "\"42\"");
        assert_eq!(if_match("W/\"42\""), "W/\"42\"");
    }

    fn entry() -> impl Strategy<Value = ScimRoutingEntry> {
        ("[A-Za-z0-9 _-]{1,12}", 0u32..=50)
            .prop_map(|(n, p)| ScimRoutingEntry::new(n, f64::from(p) / 10.0))
    }

    proptest! {
        #[test]
        fn create_bodies_round_trip(
            user in "[a-z0-9._]{1,16}@[a-z]{1,8}\\.example",
            name in "\\PC{0,24}",
            active in proptest::option::of(any::<bool>()),
            ext in proptest::option::of("\\PC{1,20}"),
            roles in proptest::collection::vec("[A-Za-z ]{1,12}", 0..4),
            skills in proptest::option::of(proptest::collection::vec(entry(), 0..5)),
        ) {
            let mut u = ScimV2CreateUser::new(user, name);
            u.active = active;
            u.external_id = ext;
            u.roles = roles.into_iter().map(ScimUserRole::named).collect();
            u.genesys = skills.map(|s| ScimUserExtensions {
                routing_skills: Some(s),
                ..ScimUserExtensions::default()
            });
            let u = u.with_schemas();
            let json = serde_json::to_string(&u).expect("serialises");
            let back: ScimV2CreateUser = serde_json::from_str(&json).expect("decodes");
            prop_assert_eq!(back, u);
        }

        #[test]
        fn any_json_object_decodes_as_a_user_or_fails_cleanly(s in "\\PC{0,64}") {
            // No panic whatever GC (or a proxy) answers.
            let _ = serde_json::from_str::<ScimV2User>(&s);
            let _ = serde_json::from_str::<ScimUserListResponse>(&s);
        }
    }
}
