//! SCIM 2.0 users (`/api/v2/scim/v2/users`) over the same org state as the Users API: a user
//! created here is listed by `/api/v2/users`, and roles, skills, languages and external ids
//! land where the Users API reads them (and the other way round).
//!
//! Refused as GC refuses (public: the platform SDK's SCIM operations and models, and GC's
//! "SCIM and Genesys Cloud field mappings" article): a stale `If-Match` is 400 `invalidVers`;
//! a taken `userName` (case-insensitively, deleted users included: GC keeps their e-mail) is
//! 409 `uniqueness`; a filter other than one `eq` comparison on `id`, `userName`, `email`,
//! `externalId`, `manager`, `division`, `active`, `employeeNumber` is 400 `invalidFilter`.
//! Our assumptions (not public), strict so that client mistakes show: an unknown property
//! anywhere in a body is 400 `invalidSyntax`; a missing `userName`/`displayName`, a role,
//! skill or language name the org does not have, more than 50 skills or languages or a
//! proficiency outside 0–5 is 400 `invalidValue`; an unsupported PATCH path is 400
//! `invalidPath`. Errors carry SCIM's shape: `schemas`, `status` (a string), `scimType`,
//! `detail`.

use super::App;
use super::state::{Org, UserRec, new_id};
use crate::models::EntityRef;
use crate::scim::{
    SCHEMA_CORE_USER, SCHEMA_ENTERPRISE_USER, SCHEMA_ERROR, SCHEMA_GENESYS_USER,
    SCHEMA_LIST_RESPONSE, SCHEMA_PATCH_OP, SCIM_EXTERNAL_ID_AUTHORITY, SCIM_MEDIA_TYPE, ScimEmail,
    ScimEnterpriseUser, ScimExternalId, ScimMetadata, ScimRoutingEntry, ScimUserExtensions,
    ScimUserListResponse, ScimUserRole, ScimV2User,
};
use crate::users::{Contact, User, UserState};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// GC's limit of skills, and of languages, on a SCIM user.
const ENTRIES_MAX: usize = 50;
/// The largest `count` the emulator answers (GC's is not public).
const COUNT_MAX: usize = 100;

/// A SCIM-shaped error answer.
#[derive(Debug)]
pub(crate) struct ScimError {
    status: u16,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }
    fn not_found(id: &str) -> Self {
        Self::new(404, None, format!("User {id} not found"))
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [SCHEMA_ERROR],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut resp = (status, axum::Json(body)).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(SCIM_MEDIA_TYPE),
        );
        if let Ok(v) = HeaderValue::from_str(&new_id()) {
            resp.headers_mut().insert("ININ-Correlation-Id", v);
        }
        resp
    }
}

type ScimResult<T> = Result<T, ScimError>;

/// A body that breaks the request model: an unknown property is `invalidSyntax`, a missing
/// required one `invalidValue`.
fn parse<T: serde::de::DeserializeOwned>(b: &Bytes) -> ScimResult<T> {
    serde_json::from_slice(b).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("missing field") {
            ScimError::bad(
                "invalidValue",
                format!("A required attribute is missing: {msg}"),
            )
        } else {
            ScimError::bad(
                "invalidSyntax",
                format!("The request body is invalid: {msg}"),
            )
        }
    })
}

// ------------------------------------------------------------------ request models (strict)

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateIn {
    #[serde(default)]
    schemas: Vec<String>,
    active: Option<bool>,
    user_name: String,
    display_name: String,
    #[allow(dead_code)]
    password: Option<String>,
    title: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    phone_numbers: Vec<Value>,
    #[serde(default)]
    emails: Vec<EmailIn>,
    #[serde(default)]
    #[allow(dead_code)]
    photos: Vec<Value>,
    external_id: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    groups: Vec<Value>,
    #[serde(default)]
    roles: Vec<RoleIn>,
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")]
    enterprise: Option<EnterpriseIn>,
    #[serde(rename = "urn:ietf:params:scim:schemas:extension:genesys:purecloud:2.0:User")]
    genesys: Option<GenesysIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailIn {
    value: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[allow(dead_code)]
    primary: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleIn {
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EnterpriseIn {
    division: Option<String>,
    department: Option<String>,
    #[allow(dead_code)]
    manager: Option<Value>,
    #[allow(dead_code)]
    employee_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GenesysIn {
    routing_skills: Option<Vec<EntryIn>>,
    routing_languages: Option<Vec<EntryIn>>,
    external_ids: Option<Vec<ExtIn>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn {
    name: String,
    proficiency: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtIn {
    authority: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchIn {
    schemas: Vec<String>,
    #[serde(rename = "Operations")]
    operations: Vec<OpIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpIn {
    op: String,
    path: Option<String>,
    value: Option<Value>,
}

// ------------------------------------------------------------------ the SCIM view of a user

fn is_work_email(c: &Contact) -> bool {
    c.media_type.as_deref() == Some("EMAIL") && c.kind.as_deref() == Some("WORK")
}

fn entries(
    assigned: &BTreeMap<String, f64>,
    from: &BTreeMap<String, crate::routing::NamedEntity>,
) -> Vec<ScimRoutingEntry> {
    assigned
        .iter()
        .filter_map(|(id, p)| {
            from.get(id)
                .map(|s| ScimRoutingEntry::new(s.name.clone(), *p))
        })
        .collect()
}

/// The user as SCIM shows it.
pub(crate) fn view(org: &Org, u: &UserRec) -> ScimV2User {
    let user = &u.user;
    let mut emails = Vec::new();
    if let Some(e) = &user.email {
        let mut other = ScimEmail::work(e.clone());
        other.kind = Some("other".into());
        other.primary = Some(true);
        emails.push(other);
    }
    emails.extend(
        user.addresses
            .iter()
            .filter(|c| is_work_email(c))
            .filter_map(|c| c.address.clone())
            .map(ScimEmail::work),
    );
    let external_id = u
        .external_ids
        .iter()
        .find(|(a, _)| a == SCIM_EXTERNAL_ID_AUTHORITY)
        .map(|(_, v)| v.clone());
    ScimV2User {
        id: user.id.clone(),
        schemas: vec![
            SCHEMA_CORE_USER.into(),
            SCHEMA_ENTERPRISE_USER.into(),
            SCHEMA_GENESYS_USER.into(),
        ],
        active: Some(user.state == Some(UserState::Active)),
        user_name: user.email.clone(),
        display_name: user.name.clone(),
        title: user.title.clone(),
        emails,
        external_id,
        roles: u
            .roles
            .iter()
            .filter_map(|r| org.roles.get(r))
            .map(|r| ScimUserRole::named(r.name.clone()))
            .collect(),
        enterprise: Some(ScimEnterpriseUser {
            division: user.division.as_ref().map(|d| d.id.clone()),
            department: user.department.clone(),
            ..ScimEnterpriseUser::default()
        }),
        genesys: Some(ScimUserExtensions {
            routing_skills: Some(entries(&u.skills, &org.skills)),
            routing_languages: Some(entries(&u.languages, &org.languages)),
            external_ids: Some(
                u.external_ids
                    .iter()
                    .map(|(a, v)| ScimExternalId::new(a.clone(), v.clone()))
                    .collect(),
            ),
        }),
        meta: Some(ScimMetadata {
            resource_type: Some("User".into()),
            location: Some(format!("/api/v2/scim/v2/users/{}", user.id)),
            version: Some(user.version.to_string()),
            last_modified: None,
        }),
        extra: serde_json::Map::new(),
    }
}

fn answer(status: StatusCode, u: &ScimV2User) -> Response {
    let mut resp = (status, axum::Json(u)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_MEDIA_TYPE),
    );
    if let Some(v) = u.version()
        && let Ok(etag) = HeaderValue::from_str(&format!("\"{v}\""))
    {
        h.insert(header::ETAG, etag);
    }
    if let Ok(v) = HeaderValue::from_str(&new_id()) {
        h.insert("ININ-Correlation-Id", v);
    }
    resp
}

// ------------------------------------------------------------------ validation helpers

fn check_user_name(org: &Org, name: &str, except: Option<&str>) -> ScimResult<()> {
    if !name.contains('@') || name.trim() != name || name.is_empty() {
        return Err(ScimError::bad(
            "invalidValue",
            format!("userName {name:?} must be an e-mail address"),
        ));
    }
    // Case-insensitive without allocating per user: creates stay cheap in a 10,000-user org.
    let taken = |e: &str| {
        e.len() == name.len()
            && (e.eq_ignore_ascii_case(name)
                || (!e.is_ascii() && e.to_lowercase() == name.to_lowercase()))
    };
    if org
        .users
        .values()
        .any(|u| Some(u.user.id.as_str()) != except && u.user.email.as_deref().is_some_and(taken))
    {
        return Err(ScimError::new(
            409,
            Some("uniqueness"),
            format!("userName {name} is already in use"),
        ));
    }
    Ok(())
}

fn role_id(org: &Org, name: &str) -> ScimResult<String> {
    org.roles
        .values()
        .find(|r| r.name.eq_ignore_ascii_case(name))
        .map(|r| r.id.clone())
        .ok_or_else(|| {
            ScimError::bad(
                "invalidValue",
                format!("role {name:?} does not exist in the organization"),
            )
        })
}

fn entry_ids(
    list: &[EntryIn],
    known: &BTreeMap<String, crate::routing::NamedEntity>,
    what: &str,
) -> ScimResult<BTreeMap<String, f64>> {
    if list.len() > ENTRIES_MAX {
        return Err(ScimError::bad(
            "invalidValue",
            format!(
                "{} routing {what}; at most {ENTRIES_MAX} are allowed",
                list.len()
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for e in list {
        if !(0.0..=5.0).contains(&e.proficiency) {
            return Err(ScimError::bad(
                "invalidValue",
                format!(
                    "proficiency {} of {} must be between 0.0 and 5.0",
                    e.proficiency, e.name
                ),
            ));
        }
        // Names are case-sensitive (ScimUserRoutingSkill: "The case-sensitive name").
        let id = known
            .values()
            .find(|s| s.name == e.name)
            .map(|s| s.id.clone())
            .ok_or_else(|| {
                ScimError::bad(
                    "invalidValue",
                    format!(
                        "routing {what} {:?} does not exist in the organization",
                        e.name
                    ),
                )
            })?;
        out.insert(id, e.proficiency);
    }
    Ok(out)
}

fn check_external_id(org: &Org, pair: &(String, String), owner: &str) -> ScimResult<()> {
    if pair.0.is_empty() || pair.1.is_empty() {
        return Err(ScimError::bad(
            "invalidValue",
            "an external id needs an authority and a value",
        ));
    }
    if org.users.values().any(|u| {
        u.user.id != owner
            && u.external_ids
                .iter()
                .any(|(a, v)| v == &pair.1 && a == &pair.0)
    }) {
        return Err(ScimError::new(
            409,
            Some("uniqueness"),
            format!("external id {}/{} belongs to another user", pair.0, pair.1),
        ));
    }
    Ok(())
}

fn custom_external_ids(list: &[ExtIn]) -> ScimResult<Vec<(String, String)>> {
    list.iter()
        .map(|x| {
            if x.authority == SCIM_EXTERNAL_ID_AUTHORITY {
                Err(ScimError::bad(
                    "mutability",
                    format!(
                        "the {SCIM_EXTERNAL_ID_AUTHORITY} external id is set through externalId"
                    ),
                ))
            } else {
                Ok((x.authority.clone(), x.value.clone()))
            }
        })
        .collect()
}

fn set_work_email(user: &mut User, address: Option<String>) {
    user.addresses.retain(|c| !is_work_email(c));
    if let Some(a) = address {
        user.addresses.push(Contact::work_email(a));
    }
}

fn check_division(org: &Org, d: Option<&str>) -> ScimResult<EntityRef> {
    match d {
        None => Ok(org.home_division.clone()),
        Some(d) if d == org.home_division.id => Ok(org.home_division.clone()),
        Some(d) => Err(ScimError::bad(
            "invalidValue",
            format!("division {d} is not a division of this organization"),
        )),
    }
}

// ------------------------------------------------------------------ handlers

/// `POST /api/v2/scim/v2/users`.
pub(crate) async fn create_user(State(app): State<App>, body: Bytes) -> Response {
    match create(&app, &body) {
        Ok(u) => answer(StatusCode::CREATED, &u),
        Err(e) => e.into_response(),
    }
}

fn create(app: &App, body: &Bytes) -> ScimResult<ScimV2User> {
    let req: CreateIn = parse(body)?;
    if !req.schemas.is_empty() && !req.schemas.iter().any(|s| s == SCHEMA_CORE_USER) {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must include {SCHEMA_CORE_USER}"),
        ));
    }
    if req.display_name.trim().is_empty() {
        return Err(ScimError::bad("invalidValue", "displayName is required"));
    }
    let mut org = app.lock();
    check_user_name(&org, &req.user_name, None)?;
    let id = new_id();
    let mut roles: BTreeSet<String> = org
        .roles
        .values()
        .filter(|r| r.name == "Employee")
        .map(|r| r.id.clone())
        .collect();
    for r in &req.roles {
        roles.insert(role_id(&org, &r.value)?);
    }
    let g = req.genesys.as_ref();
    let skills = match g.and_then(|g| g.routing_skills.as_deref()) {
        Some(l) => entry_ids(l, &org.skills, "skills")?,
        None => BTreeMap::new(),
    };
    let languages = match g.and_then(|g| g.routing_languages.as_deref()) {
        Some(l) => entry_ids(l, &org.languages, "languages")?,
        None => BTreeMap::new(),
    };
    let mut external_ids: Vec<(String, String)> = Vec::new();
    if let Some(x) = &req.external_id {
        external_ids.push((SCIM_EXTERNAL_ID_AUTHORITY.into(), x.clone()));
    }
    if let Some(l) = g.and_then(|g| g.external_ids.as_deref()) {
        for pair in custom_external_ids(l)? {
            if !external_ids.contains(&pair) {
                external_ids.push(pair);
            }
        }
    }
    for pair in &external_ids {
        check_external_id(&org, pair, &id)?;
    }
    let ent = req.enterprise.as_ref();
    let division = check_division(&org, ent.and_then(|e| e.division.as_deref()))?;
    let mut user = User {
        id: id.clone(),
        name: Some(req.display_name),
        division: Some(division),
        department: ent.and_then(|e| e.department.clone()),
        email: Some(req.user_name.clone()),
        username: Some(req.user_name),
        title: req.title,
        state: Some(if req.active.unwrap_or(true) {
            UserState::Active
        } else {
            UserState::Inactive
        }),
        version: 1,
        self_uri: Some(format!("/api/v2/users/{id}")),
        addresses: Vec::new(),
        extra: serde_json::Map::new(),
    };
    let work = req
        .emails
        .iter()
        .find(|e| e.kind.as_deref() == Some("work"))
        .and_then(|e| e.value.clone());
    set_work_email(&mut user, work);
    let rec = UserRec {
        user,
        roles,
        skills,
        languages,
        external_ids,
    };
    let out = view(&org, &rec);
    org.users.insert(id, rec);
    Ok(out)
}

/// `GET /api/v2/scim/v2/users/{userId}`.
pub(crate) async fn get_user(State(app): State<App>, Path(id): Path<String>) -> Response {
    let org = app.lock();
    match org.live_user(&id) {
        Some(u) => answer(StatusCode::OK, &view(&org, u)),
        None => ScimError::not_found(&id).into_response(),
    }
}

/// One `attr eq value` comparison.
struct Filter {
    attr: String,
    value: String,
}

const FILTER_ATTRS: [&str; 8] = [
    "id",
    "userName",
    "email",
    "externalId",
    "manager",
    "division",
    "active",
    "employeeNumber",
];

fn parse_filter(f: &str) -> ScimResult<Filter> {
    let f = f.trim();
    let bad = |why: &str| {
        ScimError::bad(
            "invalidFilter",
            format!(
                "filter {f:?}: {why}; use one eq comparison on {}",
                FILTER_ATTRS.join(", ")
            ),
        )
    };
    let (attr, rest) = f
        .split_once(char::is_whitespace)
        .ok_or_else(|| bad("not a comparison"))?;
    let (op, value) = rest
        .trim_start()
        .split_once(char::is_whitespace)
        .ok_or_else(|| bad("not a comparison"))?;
    if !op.eq_ignore_ascii_case("eq") {
        return Err(bad(&format!("operator {op} is not supported")));
    }
    let attr = FILTER_ATTRS
        .iter()
        .find(|a| a.eq_ignore_ascii_case(attr))
        .ok_or_else(|| bad(&format!("attribute {attr} cannot be filtered on")))?;
    let value = value.trim();
    let value = if value.starts_with('"') {
        serde_json::from_str::<String>(value)
            .map_err(|_| bad("the value is not a quoted string"))?
    } else if value.contains(char::is_whitespace) {
        return Err(bad("logical operators (and, or, not) are not supported"));
    } else {
        value.to_owned()
    };
    Ok(Filter {
        attr: (*attr).to_owned(),
        value,
    })
}

fn matches(org: &Org, u: &UserRec, f: &Filter) -> bool {
    let user = &u.user;
    let ci = |s: Option<&str>| s.is_some_and(|s| s.eq_ignore_ascii_case(&f.value));
    match f.attr.as_str() {
        "id" => user.id == f.value,
        "userName" => ci(user.email.as_deref()),
        "email" => {
            ci(user.email.as_deref())
                || user
                    .addresses
                    .iter()
                    .any(|c| is_work_email(c) && ci(c.address.as_deref()))
        }
        "externalId" => u
            .external_ids
            .iter()
            .any(|(a, v)| a == SCIM_EXTERNAL_ID_AUTHORITY && *v == f.value),
        "active" => {
            let want = f.value.eq_ignore_ascii_case("true");
            (user.state == Some(UserState::Active)) == want
        }
        "division" => user.division.as_ref().is_some_and(|d| {
            d.id == f.value
                || ci(d.name.as_deref())
                || (d.id == org.home_division.id && ci(org.home_division.name.as_deref()))
        }),
        // The emulator keeps no managers or employee numbers.
        _ => false,
    }
}

/// `GET /api/v2/scim/v2/users`: `startIndex` (1-based), `count` (default 25), `filter`.
pub(crate) async fn list_users(State(app): State<App>, RawQuery(q): RawQuery) -> Response {
    match list(&app, q) {
        Ok(r) => {
            let mut resp = (StatusCode::OK, axum::Json(r)).into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(SCIM_MEDIA_TYPE),
            );
            resp
        }
        Err(e) => e.into_response(),
    }
}

fn query_param(raw: &Option<String>, key: &str) -> Option<String> {
    raw.as_deref()?.split('&').find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (super::http::pct_decode(k) == key).then(|| super::http::pct_decode(v))
    })
}

fn list(app: &App, raw: Option<String>) -> ScimResult<ScimUserListResponse> {
    let num = |k: &str, default: usize| -> ScimResult<usize> {
        match query_param(&raw, k) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse()
                .map_err(|_| ScimError::bad("invalidValue", format!("{k} must be a number"))),
        }
    };
    let start = num("startIndex", 1)?.max(1);
    let count = num("count", 25)?.min(COUNT_MAX);
    let filter = query_param(&raw, "filter")
        .filter(|f| !f.trim().is_empty())
        .map(|f| parse_filter(&f))
        .transpose()?;
    let org = app.lock();
    let found: Vec<&UserRec> = org
        .users
        .values()
        .filter(|u| u.user.state != Some(UserState::Deleted))
        .filter(|u| match &filter {
            // No filter: the active users (GC's documented default).
            None => u.user.state == Some(UserState::Active),
            Some(f) => matches(&org, u, f),
        })
        .collect();
    let total = found.len();
    let resources: Vec<ScimV2User> = found
        .into_iter()
        .skip(start - 1)
        .take(count)
        .map(|u| view(&org, u))
        .collect();
    Ok(ScimUserListResponse {
        schemas: vec![SCHEMA_LIST_RESPONSE.into()],
        total_results: total as u64,
        start_index: start as u64,
        items_per_page: resources.len() as u64,
        resources,
    })
}

/// `PATCH /api/v2/scim/v2/users/{userId}` (`PatchOp`), with an optional `If-Match`.
pub(crate) async fn patch_user(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match patch(&app, &id, &headers, &body) {
        Ok(u) => answer(StatusCode::OK, &u),
        Err(e) => e.into_response(),
    }
}

fn version_of(h: &str) -> &str {
    let h = h.trim();
    let h = h.strip_prefix("W/").unwrap_or(h);
    h.trim_matches('"')
}

/// `attr[sub eq "value"]` → (`attr`, `sub`, `value`).
fn value_filter(path: &str) -> Option<(&str, String, String)> {
    let (attr, rest) = path.split_once('[')?;
    let inner = rest.strip_suffix(']')?;
    let f = parse_value_comparison(inner)?;
    Some((attr, f.0, f.1))
}

fn parse_value_comparison(inner: &str) -> Option<(String, String)> {
    let (sub, rest) = inner.trim().split_once(char::is_whitespace)?;
    let (op, value) = rest.trim_start().split_once(char::is_whitespace)?;
    if !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let value = value.trim();
    let value = if value.starts_with('"') {
        serde_json::from_str::<String>(value).ok()?
    } else {
        value.to_owned()
    };
    Some((sub.to_owned(), value))
}

fn patch(app: &App, id: &str, headers: &HeaderMap, body: &Bytes) -> ScimResult<ScimV2User> {
    let req: PatchIn = parse(body)?;
    if !req.schemas.iter().any(|s| s == SCHEMA_PATCH_OP) {
        return Err(ScimError::bad(
            "invalidSyntax",
            format!("schemas must be [{SCHEMA_PATCH_OP}]"),
        ));
    }
    if req.operations.is_empty() {
        return Err(ScimError::bad("invalidSyntax", "Operations is empty"));
    }
    let mut org = app.lock();
    let current = org.live_user(id).ok_or_else(|| ScimError::not_found(id))?;
    if let Some(h) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
        && h.trim() != "*"
        && version_of(h) != current.user.version.to_string()
    {
        return Err(ScimError::bad(
            "invalidVers",
            format!(
                "If-Match {h} does not match the current version \"{}\"",
                current.user.version
            ),
        ));
    }
    let mut rec = current.clone();
    for op in req.operations {
        let kind = op.op.to_ascii_lowercase();
        if !matches!(kind.as_str(), "add" | "replace" | "remove") {
            return Err(ScimError::bad(
                "invalidSyntax",
                format!("op {:?} must be add, replace or remove", op.op),
            ));
        }
        match op.path {
            Some(path) => apply(&org, &mut rec, &kind, &path, op.value)?,
            None if kind == "remove" => {
                return Err(ScimError::bad(
                    "noTarget",
                    "a remove operation needs a path",
                ));
            }
            None => {
                let Some(Value::Object(map)) = op.value else {
                    return Err(ScimError::bad(
                        "invalidValue",
                        "an operation without a path takes an object of attributes",
                    ));
                };
                for (k, v) in map {
                    match (k.as_str(), v) {
                        (SCHEMA_GENESYS_USER | SCHEMA_ENTERPRISE_USER, Value::Object(sub)) => {
                            for (sk, sv) in sub {
                                apply(&org, &mut rec, &kind, &format!("{k}:{sk}"), Some(sv))?;
                            }
                        }
                        (_, v) => apply(&org, &mut rec, &kind, &k, Some(v))?,
                    }
                }
            }
        }
    }
    rec.user.version += 1;
    let out = view(&org, &rec);
    org.users.insert(id.to_owned(), rec);
    Ok(out)
}

fn value_str(v: Option<Value>, path: &str) -> ScimResult<String> {
    match v {
        Some(Value::String(s)) => Ok(s),
        _ => Err(ScimError::bad(
            "invalidValue",
            format!("{path} takes a string value"),
        )),
    }
}

fn value_list<T: serde::de::DeserializeOwned>(v: Option<Value>, path: &str) -> ScimResult<Vec<T>> {
    let v = match v {
        Some(Value::Array(a)) => Value::Array(a),
        Some(single @ Value::Object(_)) => Value::Array(vec![single]),
        _ => {
            return Err(ScimError::bad(
                "invalidValue",
                format!("{path} takes a list value"),
            ));
        }
    };
    serde_json::from_value(v).map_err(|e| {
        ScimError::bad(
            "invalidSyntax",
            format!("{path}: the value is invalid: {e}"),
        )
    })
}

/// One operation on one attribute path, applied to `rec` (a copy: nothing lands unless every
/// operation of the request does).
fn apply(
    org: &Org,
    rec: &mut UserRec,
    op: &str,
    path: &str,
    value: Option<Value>,
) -> ScimResult<()> {
    let remove = op == "remove";
    let skills_path = format!("{SCHEMA_GENESYS_USER}:routingSkills");
    let languages_path = format!("{SCHEMA_GENESYS_USER}:routingLanguages");
    let ext_path = format!("{SCHEMA_GENESYS_USER}:externalIds");
    let lower = path.to_ascii_lowercase();
    match lower.as_str() {
        "active" => {
            let Some(Value::Bool(b)) = value else {
                return Err(ScimError::bad("invalidValue", "active takes true or false"));
            };
            rec.user.state = Some(if b {
                UserState::Active
            } else {
                UserState::Inactive
            });
        }
        "displayname" => {
            rec.user.name = Some(value_str(value, path)?);
        }
        "username" => {
            let name = value_str(value, path)?;
            check_user_name(org, &name, Some(&rec.user.id))?;
            rec.user.email = Some(name.clone());
            rec.user.username = Some(name);
        }
        "title" if remove => rec.user.title = None,
        "title" => rec.user.title = Some(value_str(value, path)?),
        "externalid" => {
            rec.external_ids
                .retain(|(a, _)| a != SCIM_EXTERNAL_ID_AUTHORITY);
            if !remove {
                let pair = (
                    SCIM_EXTERNAL_ID_AUTHORITY.to_owned(),
                    value_str(value, path)?,
                );
                check_external_id(org, &pair, &rec.user.id)?;
                rec.external_ids.push(pair);
            }
        }
        "emails" => {
            if remove {
                set_work_email(&mut rec.user, None);
            } else {
                let list: Vec<EmailIn> = value_list(value, path)?;
                if let Some(w) = list.iter().find(|e| e.kind.as_deref() == Some("work")) {
                    set_work_email(&mut rec.user, w.value.clone());
                } else if op == "replace" {
                    set_work_email(&mut rec.user, None);
                }
            }
        }
        "roles" => {
            if remove {
                rec.roles.clear();
            } else {
                let list: Vec<RoleIn> = value_list(value, path)?;
                let ids = list
                    .iter()
                    .map(|r| role_id(org, &r.value))
                    .collect::<ScimResult<Vec<_>>>()?;
                if op == "replace" {
                    rec.roles.clear();
                }
                rec.roles.extend(ids);
            }
        }
        p if p == skills_path.to_ascii_lowercase() || p == languages_path.to_ascii_lowercase() => {
            let skills = p == skills_path.to_ascii_lowercase();
            let (known, what) = if skills {
                (&org.skills, "skills")
            } else {
                (&org.languages, "languages")
            };
            let target = if skills {
                &mut rec.skills
            } else {
                &mut rec.languages
            };
            if remove {
                target.clear();
            } else {
                let list: Vec<EntryIn> = value_list(value, path)?;
                let ids = entry_ids(&list, known, what)?;
                if op == "replace" {
                    target.clear();
                }
                target.extend(ids);
                if target.len() > ENTRIES_MAX {
                    return Err(ScimError::bad(
                        "invalidValue",
                        format!("at most {ENTRIES_MAX} routing {what} per user"),
                    ));
                }
            }
        }
        p if p == ext_path.to_ascii_lowercase() => {
            if remove {
                rec.external_ids
                    .retain(|(a, _)| a == SCIM_EXTERNAL_ID_AUTHORITY);
            } else {
                let list: Vec<ExtIn> = value_list(value, path)?;
                let pairs = custom_external_ids(&list)?;
                if op == "replace" {
                    rec.external_ids
                        .retain(|(a, _)| a == SCIM_EXTERNAL_ID_AUTHORITY);
                }
                for pair in pairs {
                    check_external_id(org, &pair, &rec.user.id)?;
                    if !rec.external_ids.contains(&pair) {
                        rec.external_ids.push(pair);
                    }
                }
                if rec.external_ids.len() > 100 {
                    return Err(ScimError::bad(
                        "invalidValue",
                        "a user can have at most 100 external identifiers",
                    ));
                }
            }
        }
        p if p == format!("{SCHEMA_ENTERPRISE_USER}:department").to_ascii_lowercase() => {
            rec.user.department = if remove {
                None
            } else {
                Some(value_str(value, path)?)
            };
        }
        p if p == format!("{SCHEMA_ENTERPRISE_USER}:division").to_ascii_lowercase() => {
            let d = value_str(value, path)?;
            rec.user.division = Some(check_division(org, Some(&d))?);
        }
        _ => return apply_filtered(org, rec, op, path, value),
    }
    Ok(())
}

/// Paths with a value filter: `emails[type eq "work"].value`, `roles[value eq "X"]`,
/// `…:routingSkills[name eq "X"]`, `…:routingLanguages[name eq "X"]`.
fn apply_filtered(
    org: &Org,
    rec: &mut UserRec,
    op: &str,
    path: &str,
    value: Option<Value>,
) -> ScimResult<()> {
    let invalid = || {
        ScimError::bad(
            "invalidPath",
            format!("path {path:?} is not supported for a user"),
        )
    };
    let (attr, sub, wanted) = match path.rsplit_once("].") {
        Some((head, "value")) => {
            let filtered = format!("{head}]");
            let (attr, sub, wanted) = value_filter(&filtered).ok_or_else(invalid)?;
            if !attr.eq_ignore_ascii_case("emails") || sub != "type" || wanted != "work" {
                return Err(invalid());
            }
            let address = if op == "remove" {
                None
            } else {
                Some(value_str(value, path)?)
            };
            set_work_email(&mut rec.user, address);
            return Ok(());
        }
        Some(_) => return Err(invalid()),
        None => value_filter(path).ok_or_else(invalid)?,
    };
    if op != "remove" {
        return Err(ScimError::bad(
            "invalidPath",
            format!("{path}: a value filter is supported on remove only (and on emails' value)"),
        ));
    }
    let skills_attr = format!("{SCHEMA_GENESYS_USER}:routingSkills");
    let languages_attr = format!("{SCHEMA_GENESYS_USER}:routingLanguages");
    if attr.eq_ignore_ascii_case("roles") && sub == "value" {
        let id = role_id(org, &wanted)?;
        rec.roles.remove(&id);
    } else if attr.eq_ignore_ascii_case(&skills_attr) && sub == "name" {
        rec.skills
            .retain(|id, _| org.skills.get(id).is_none_or(|s| s.name != wanted));
    } else if attr.eq_ignore_ascii_case(&languages_attr) && sub == "name" {
        rec.languages
            .retain(|id, _| org.languages.get(id).is_none_or(|s| s.name != wanted));
    } else {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_take_one_eq_comparison_on_the_public_attributes() {
        let f = parse_filter(r#"userName eq "a@b.example""#).expect("quoted");
        assert_eq!(
            (f.attr.as_str(), f.value.as_str()),
            ("userName", "a@b.example")
        );
        let f = parse_filter("username EQ a@b.example").expect("bare, any case");
        assert_eq!(f.attr, "userName");
        let f = parse_filter(r#"externalId eq "1_a\"b""#).expect("escaped");
        assert_eq!(f.value, "1_a\"b");
        for bad in [
            r#"userName co "a""#,
            r#"userName sw "a""#,
            "userName pr",
            r#"title eq "x""#,
            r#"userName eq "a" and active eq true"#,
            "userName eq a or x",
            "",
            r#"userName eq "unterminated"#,
        ] {
            let e = parse_filter(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        }
    }

    #[test]
    fn value_filters_and_if_match_forms_parse() {
        assert_eq!(
            value_filter(r#"roles[value eq "Supervisor"]"#),
            Some(("roles", "value".to_owned(), "Supervisor".to_owned()))
        );
        assert_eq!(value_filter("roles"), None);
        assert_eq!(version_of("\"3\""), "3");
        assert_eq!(version_of("W/\"3\""), "3");
        assert_eq!(version_of("3"), "3");
    }
}
