//! The emulator's HTTP layer: routes, the auth / rate-limit / fault middleware, and thin
//! handlers over the org state.

use super::state::{ApiError, ApiResult, Org, PendingUpload, QueueRec, UserRec, new_id};
use super::{App, Fault, FaultKind, UploadedRecording, inject};
use crate::EntityListing;
use crate::models::EntityRef;
use crate::presence::{PresenceDefinition, PresenceSource, SYSTEM_PRESENCES, UserPrimarySource};
use crate::recordings::{UploadUrlRequest, UploadUrlResponse, content_md5};
use crate::routing::{
    NamedEntity, Queue, QueueMember, QueueRequest, TranscriptionSettings, WrapupCode,
    WrapupCodeRequest,
};
use crate::sta::{
    Program, ProgramMappings, ProgramMappingsRequest, ProgramRequest, StaSettings,
    StaSettingsRequest,
};
use crate::users::{
    CreateUser, SkillAssignment, User, UserAuthorization, UserExternalIdentifier, UserState,
};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ctx = new_id();
        let mut body = json!({
            "message": self.message,
            "code": self.code,
            "status": self.status,
            "messageWithParams": self.message,
            "messageParams": {},
            "contextId": ctx,
            "details": [],
            "errors": [],
        });
        if let Some(l) = self.limit {
            body["limit"] = l;
        }
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, axum::Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&ctx) {
            resp.headers_mut().insert("ININ-Correlation-Id", v);
        }
        if let Some(s) = self.retry_after {
            resp.headers_mut()
                .insert("Retry-After", HeaderValue::from(s));
        }
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                resp.headers_mut().insert(k, v);
            }
        }
        resp
    }
}

fn ok<T: Serialize>(v: &T) -> ApiResult<Response> {
    reply(200, v)
}

fn reply<T: Serialize>(status: u16, v: &T) -> ApiResult<Response> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut resp = (status, axum::Json(v)).into_response();
    if let Ok(h) = HeaderValue::from_str(&new_id()) {
        resp.headers_mut().insert("ININ-Correlation-Id", h);
    }
    Ok(resp)
}

fn empty() -> ApiResult<Response> {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A DELETE's answer: 200 with no body, as GC's API spec lists for users' routing skills and
/// languages, skills, languages, wrap-up codes and queues (the SDKs' return type is void; the
/// client accepts any 2xx).
fn deleted() -> ApiResult<Response> {
    Ok(StatusCode::OK.into_response())
}

fn parse<T: DeserializeOwned>(b: &Bytes) -> ApiResult<T> {
    serde_json::from_slice(b)
        .map_err(|e| ApiError::bad(format!("The request body is invalid: {e}")))
}

/// Parsed query parameters (repeated keys kept).
struct Q(Vec<(String, String)>);

pub(super) fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Q {
    fn new(raw: Option<String>) -> Self {
        Q(raw
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (pct_decode(k), pct_decode(v))
            })
            .collect())
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, k: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == k)
            .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }
    fn num(&self, k: &str, default: usize) -> ApiResult<usize> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::bad(format!("{k} must be a number"))),
        }
    }
}

/// `path?{q}` with `pageSize` and `pageNumber` set: GC's `nextUri`/`selfUri` keep every other
/// query parameter (the filters) of the request.
fn page_uri(path: &str, q: &Q, size: usize, number: usize) -> String {
    let mut parts: Vec<String> =
        q.0.iter()
            .filter(|(k, _)| k != "pageSize" && k != "pageNumber")
            .map(|(k, v)| format!("{}={}", crate::client::seg(k), crate::client::seg(v)))
            .collect();
    parts.push(format!("pageSize={size}"));
    parts.push(format!("pageNumber={number}"));
    format!("{path}?{}", parts.join("&"))
}

/// A `pageNumber`/`pageSize` listing page.
fn paged<T: Serialize + Clone>(items: Vec<T>, q: &Q, path: &str) -> ApiResult<Response> {
    paged_listing(items, q, path, true)
}

/// A `pageNumber`/`pageSize` listing page; `totals: false` leaves out `total` and
/// `pageCount`, as GC's queue-member listing does (`QueueMemberEntityListing` has neither
/// since SDK 137.0.0; the terraform provider pages it until an empty page).
fn paged_listing<T: Serialize + Clone>(
    items: Vec<T>,
    q: &Q,
    path: &str,
    totals: bool,
) -> ApiResult<Response> {
    let size = q.num("pageSize", 25)?.clamp(1, 500);
    let number = q.num("pageNumber", 1)?.max(1);
    let total = items.len();
    let page_count = total.div_ceil(size);
    let entities: Vec<T> = items
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    let listing = EntityListing {
        entities,
        page_size: Some(size as u32),
        page_number: Some(number as u32),
        total: totals.then_some(total as u64),
        page_count: totals.then_some(page_count as u32),
        next_uri: (number < page_count).then(|| page_uri(path, q, size, number + 1)),
        next_page: None,
        self_uri: Some(page_uri(path, q, size, number)),
    };
    ok(&listing)
}

/// A cursor listing page (`nextPage` is the offset; `nextUri` carries it).
fn cursor<T: Serialize + Clone>(items: Vec<T>, q: &Q, path: &str) -> ApiResult<Response> {
    let size = q.num("pageSize", 25)?.clamp(1, 500);
    let start: usize = match q.get("nextPage") {
        None | Some("") => 0,
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::bad("nextPage is not a cursor of this listing"))?,
    };
    let total = items.len();
    let entities: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = start + size;
    let listing = EntityListing {
        entities,
        page_size: Some(size as u32),
        next_page: (next < total).then(|| next.to_string()),
        next_uri: (next < total).then(|| format!("{path}?pageSize={size}&nextPage={next}")),
        ..EntityListing::default()
    };
    ok(&listing)
}

fn glob_match(pattern: &str, name: &str) -> bool {
    let p = pattern.to_lowercase();
    let n = name.to_lowercase();
    if !p.contains('*') {
        return p == n;
    }
    let parts: Vec<&str> = p.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            if !n.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if let Some(found) = n[pos..].find(part) {
            pos += found + part.len();
        } else {
            return false;
        }
    }
    parts.last().is_none_or(|l| l.is_empty() || n.ends_with(l))
}

// ---------------------------------------------------------------- router

/// Largest request body accepted (recording archives).
const MAX_BODY: usize = 512 * 1024 * 1024;

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/oauth/token", post(oauth_token))
        // users
        .route("/api/v2/users", get(list_users).post(create_user))
        .route("/api/v2/users/search", post(search_users))
        .route(
            "/api/v2/scim/v2/users",
            get(super::scim::list_users).post(super::scim::create_user),
        )
        .route(
            "/api/v2/scim/v2/users/{id}",
            get(super::scim::get_user).patch(super::scim::patch_user),
        )
        .route(
            "/api/v2/users/externalid/{authority}/{key}",
            get(user_by_external_id),
        )
        .route(
            "/api/v2/users/{id}",
            get(get_user).patch(patch_user).delete(delete_user),
        )
        .route(
            "/api/v2/users/{id}/externalid",
            get(get_external_ids).post(add_external_id),
        )
        .route(
            "/api/v2/users/{id}/roles",
            get(get_user_roles).put(put_user_roles),
        )
        .route("/api/v2/users/{id}/routingskills", get(get_user_skills))
        .route(
            "/api/v2/users/{id}/routingskills/bulk",
            put(put_user_skills).patch(patch_user_skills),
        )
        .route(
            "/api/v2/users/{id}/routingskills/{sid}",
            axum::routing::delete(delete_user_skill),
        )
        .route(
            "/api/v2/users/{id}/routinglanguages",
            get(get_user_languages).post(post_user_language),
        )
        .route(
            "/api/v2/users/{id}/routinglanguages/bulk",
            axum::routing::patch(patch_user_languages),
        )
        .route(
            "/api/v2/users/{id}/routinglanguages/{lid}",
            axum::routing::delete(delete_user_language),
        )
        // authorization
        .route("/api/v2/authorization/roles", get(list_roles))
        .route("/api/v2/authorization/divisions/home", get(home_division))
        // routing
        .route(
            "/api/v2/routing/skills",
            get(list_skills).post(create_skill),
        )
        .route(
            "/api/v2/routing/skills/{id}",
            get(get_skill).delete(delete_skill),
        )
        .route(
            "/api/v2/routing/languages",
            get(list_languages).post(create_language),
        )
        .route(
            "/api/v2/routing/languages/{id}",
            get(get_language).delete(delete_language),
        )
        .route(
            "/api/v2/routing/wrapupcodes",
            get(list_wrapups).post(create_wrapup),
        )
        .route(
            "/api/v2/routing/wrapupcodes/{id}",
            get(get_wrapup).put(put_wrapup).delete(delete_wrapup),
        )
        .route(
            "/api/v2/routing/queues",
            get(list_queues).post(create_queue),
        )
        .route(
            "/api/v2/routing/queues/{id}",
            get(get_queue).put(put_queue).delete(delete_queue),
        )
        .route(
            "/api/v2/routing/queues/{id}/members",
            get(get_members).post(post_members),
        )
        .route(
            "/api/v2/routing/queues/{id}/wrapupcodes",
            get(get_queue_wrapups).post(post_queue_wrapups),
        )
        .route(
            "/api/v2/routing/queues/{id}/wrapupcodes/{cid}",
            axum::routing::delete(delete_queue_wrapup),
        )
        .route(
            "/api/v2/routing/settings/transcription",
            get(get_transcription).put(put_transcription),
        )
        // presence
        .route(
            "/api/v2/presence/definitions",
            get(list_presence_defs).post(create_presence_def),
        )
        .route(
            "/api/v2/presence/sources",
            get(list_sources).post(create_source),
        )
        .route(
            "/api/v2/presence/users/{id}/primarysource",
            get(get_primary_source).put(put_primary_source),
        )
        // events
        .route("/api/v2/events/conversations", post(inject_conversations))
        .route("/api/v2/events/users/presence", post(inject_presence))
        .route("/api/v2/events/users/routingstatus", post(inject_routing))
        // recordings
        .route("/api/v2/uploads/recordings", post(create_upload))
        .route("/api/v2/recording/recordingkeys", get(list_recording_keys))
        // speech and text analytics
        .route(
            "/api/v2/speechandtextanalytics/settings",
            get(get_sta).put(put_sta).patch(patch_sta),
        )
        .route(
            "/api/v2/speechandtextanalytics/programs",
            get(list_programs).post(create_program),
        )
        .route(
            "/api/v2/speechandtextanalytics/programs/mappings",
            get(list_mappings),
        )
        .route(
            "/api/v2/speechandtextanalytics/programs/{id}/mappings",
            put(put_mappings),
        )
        // emulator: presigned upload target, inspection, control
        .route("/emulator/uploads/{key}", put(upload_put).get(upload_get))
        .route("/emulator/uploads", get(inspect_uploads))
        .route("/emulator/org", get(inspect_org))
        .route("/emulator/users", get(inspect_users))
        .route("/emulator/users/{id}", get(inspect_user))
        .route("/emulator/users/{id}/presence", get(inspect_presence))
        .route("/emulator/users/{id}/routingstatus", get(inspect_routing))
        .route("/emulator/conversations", get(inspect_conversations))
        .route("/emulator/conversations/{id}", get(inspect_conversation))
        .route("/emulator/requests", get(inspect_requests))
        .route("/emulator/reset", post(control_reset))
        .route("/emulator/faults", post(control_fault))
        .route("/emulator/faults/events", post(control_event_faults))
        .route("/emulator/tokens/revoke", post(control_revoke))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), gate))
        // Recording archives are larger than axum's 2 MB default.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

async fn fallback(req: Request) -> Response {
    ApiError::new(
        404,
        "not.found",
        format!("Resource {} not found", req.uri().path()),
    )
    .into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    ApiError::new(
        405,
        "method.not.allowed",
        format!(
            "Method {} not allowed on {}",
            req.method(),
            req.uri().path()
        ),
    )
    .into_response()
}

/// Counting, faults, bearer-token check and the per-token rate limit.
async fn gate(State(app): State<App>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let key = format!("{} {}", req.method(), path);
    let mut token_seen: Option<String> = None;
    let verdict: ApiResult<Option<FaultKind>> = (|| {
        let mut org = app.lock();
        *org.requests.entry(key).or_insert(0) += 1;
        if let Some(f) = org.take_fault(&path) {
            return Ok(Some(f));
        }
        if path.starts_with("/api/") {
            let token = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim)
                .ok_or_else(|| {
                    ApiError::new(
                        401,
                        "authentication.required",
                        "No authentication bearer token specified in authorization header.",
                    )
                })?;
            org.check_token(token)?;
            org.check_rate(token, app.cfg.rate_limit, app.cfg.rate_window)?;
            token_seen = Some(token.to_owned());
        }
        Ok(None)
    })();
    match verdict {
        Err(e) => e.into_response(),
        Ok(Some(FaultKind::Status { status })) => ApiError::new(
            status,
            "service.unavailable",
            "Injected fault: the service is temporarily unavailable",
        )
        .into_response(),
        Ok(Some(FaultKind::VersionConflict)) => ApiError::conflict_as(
            app.cfg.conflict_status,
            "The version supplied does not match the current version of the user",
        )
        .into_response(),
        Ok(Some(FaultKind::Drop)) => {
            // A body that fails at once: the server aborts the connection mid-answer.
            let s = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("injected connection drop"))
            });
            Response::new(Body::from_stream(s))
        }
        Ok(Some(FaultKind::Delay { millis })) => {
            tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
            with_rate_headers(&app, token_seen.as_deref(), next.run(req).await)
        }
        Ok(None) => with_rate_headers(&app, token_seen.as_deref(), next.run(req).await),
    }
}

/// Adds GC's `inin-ratelimit-count/allowed/reset` headers of the caller's token.
fn with_rate_headers(app: &App, token: Option<&str>, mut resp: Response) -> Response {
    let counts = token.and_then(|t| {
        app.lock()
            .rate_headers(t, app.cfg.rate_limit, app.cfg.rate_window)
    });
    if let Some((count, allowed, reset)) = counts {
        let h = resp.headers_mut();
        h.insert("inin-ratelimit-count", HeaderValue::from(count));
        h.insert("inin-ratelimit-allowed", HeaderValue::from(allowed));
        h.insert("inin-ratelimit-reset", HeaderValue::from(reset));
    }
    resp
}

// ---------------------------------------------------------------- oauth

async fn oauth_token(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let oauth_err = |status: u16, error: &str, desc: &str| {
        let s = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        (
            s,
            axum::Json(json!({"error": error, "description": desc, "error_description": desc})),
        )
            .into_response()
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    let grant = body
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == "grant_type")
        .map(|(_, v)| pct_decode(v));
    if grant.as_deref() != Some("client_credentials") {
        return oauth_err(
            400,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let creds = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok());
    let Some((id, secret)) = creds.as_deref().and_then(|c| c.split_once(':')) else {
        return oauth_err(
            401,
            "invalid_client",
            "client credentials are missing: use HTTP Basic authentication",
        );
    };
    if id != app.cfg.client_id || secret != app.cfg.client_secret.expose() {
        return oauth_err(
            401,
            "invalid_client",
            "client not found or secret does not match",
        );
    }
    let token = app.lock().issue_token(app.cfg.token_lifetime);
    let secs = app.cfg.token_lifetime.as_secs().max(1);
    (
        StatusCode::OK,
        axum::Json(json!({"access_token": token, "token_type": "bearer", "expires_in": secs})),
    )
        .into_response()
}

// ---------------------------------------------------------------- users

fn user_uri(u: &mut User) {
    u.self_uri = Some(format!("/api/v2/users/{}", u.id));
    u.username = u.email.clone();
}

fn get_user_rec<'a>(org: &'a Org, id: &str) -> ApiResult<&'a UserRec> {
    org.live_user(id)
        .ok_or_else(|| ApiError::not_found("User", id))
}

fn get_user_rec_mut<'a>(org: &'a mut Org, id: &str) -> ApiResult<&'a mut UserRec> {
    org.users
        .get_mut(id)
        .filter(|u| u.user.state != Some(UserState::Deleted))
        .ok_or_else(|| ApiError::not_found("User", id))
}

async fn list_users(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Q::new(q);
    let state = q.get("state").unwrap_or("active").to_owned();
    let ids = q.all("id");
    let org = app.lock();
    let users: Vec<User> = org
        .users
        .values()
        .filter(|u| state == "any" || u.user.state.map(|s| s.as_str()) == Some(state.as_str()))
        .filter(|u| ids.is_empty() || ids.contains(&u.user.id))
        .map(|u| u.user.clone())
        .collect();
    paged(users, &q, "/api/v2/users")
}

/// `POST /api/v2/users/search`: `EXACT`, `STARTS_WITH` and `CONTAINS` criteria on `email`,
/// `name`, `id`, `state`, case-insensitive, all criteria must match. Without a `state`
/// criterion only active and inactive users match (deleted ones are found only by asking for
/// `state` = `deleted`). No `query` at all lists those users.
async fn search_users(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Criteria {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        fields: Vec<String>,
        value: Option<String>,
        #[serde(default)]
        values: Vec<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Search {
        page_size: Option<usize>,
        page_number: Option<usize>,
        #[serde(default)]
        query: Vec<Criteria>,
    }
    let req: Search = parse(&body)?;
    for c in &req.query {
        if !["EXACT", "STARTS_WITH", "CONTAINS"].contains(&c.kind.as_str()) {
            return Err(ApiError::new(
                400,
                "invalid.value",
                format!("query type {} is not supported by the emulator", c.kind),
            ));
        }
        if let Some(f) = c
            .fields
            .iter()
            .find(|f| !["email", "name", "id", "state"].contains(&f.as_str()))
        {
            return Err(ApiError::new(
                400,
                "invalid.value",
                format!("search field {f} is not supported by the emulator"),
            ));
        }
    }
    let org = app.lock();
    let matches = |u: &User, c: &Criteria| {
        let wanted: Vec<String> = c
            .value
            .iter()
            .chain(c.values.iter())
            .map(|v| v.to_lowercase())
            .collect();
        c.fields.iter().any(|f| {
            let have = match f.as_str() {
                "email" => u.email.clone(),
                "name" => u.name.clone(),
                "state" => u.state.map(|s| s.as_str().to_owned()),
                _ => Some(u.id.clone()),
            }
            .unwrap_or_default()
            .to_lowercase();
            wanted.iter().any(|w| match c.kind.as_str() {
                "EXACT" => have == *w,
                "STARTS_WITH" => have.starts_with(w.as_str()),
                _ => have.contains(w.as_str()),
            })
        })
    };
    let by_state = req
        .query
        .iter()
        .any(|c| c.fields.iter().any(|f| f == "state"));
    let found: Vec<User> = org
        .users
        .values()
        .filter(|u| by_state || u.user.state != Some(UserState::Deleted))
        .filter(|u| req.query.iter().all(|c| matches(&u.user, c)))
        .map(|u| u.user.clone())
        .collect();
    let size = req.page_size.unwrap_or(25).clamp(1, 100);
    let number = req.page_number.unwrap_or(1).max(1);
    let total = found.len();
    let results: Vec<User> = found
        .into_iter()
        .skip((number - 1) * size)
        .take(size)
        .collect();
    ok(&json!({
        "total": total,
        "pageCount": total.div_ceil(size),
        "pageSize": size,
        "pageNumber": number,
        "results": results,
    }))
}

async fn create_user(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let req: CreateUser = parse(&body)?;
    if req.name.trim().is_empty() || req.email.trim().is_empty() {
        return Err(ApiError::bad("name and email are required"));
    }
    if !req.email.contains('@') {
        return Err(ApiError::new(
            400,
            "invalid.value",
            format!("email {} is not an email address", req.email),
        ));
    }
    let mut org = app.lock();
    let division = match &req.division_id {
        None => org.home_division.clone(),
        Some(d) if *d == org.home_division.id => org.home_division.clone(),
        Some(d) => {
            return Err(ApiError::bad(format!(
                "divisionId {d} is not a division of this org"
            )));
        }
    };
    if Org::name_taken(
        org.users
            .values()
            .map(|u| (&u.user.id, u.user.email.as_deref().unwrap_or(""))),
        &req.email,
        None,
    ) {
        return Err(ApiError::conflict_as(
            app.cfg.conflict_status,
            format!("A user with email {} already exists", req.email),
        ));
    }
    let id = new_id();
    let mut user = User {
        id: id.clone(),
        name: Some(req.name),
        division: Some(division),
        department: req.department,
        email: Some(req.email),
        username: None,
        title: req.title,
        state: Some(req.state.unwrap_or(UserState::Active)),
        version: 1,
        self_uri: None,
        addresses: req.addresses,
        extra: serde_json::Map::new(),
    };
    user_uri(&mut user);
    let employee = org
        .roles
        .values()
        .find(|r| r.name == "Employee")
        .map(|r| r.id.clone());
    org.users.insert(
        id,
        UserRec {
            user: user.clone(),
            roles: employee.into_iter().collect(),
            skills: BTreeMap::new(),
            languages: BTreeMap::new(),
            external_ids: Vec::new(),
        },
    );
    ok(&user)
}

async fn get_user(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let q = Q::new(q);
    let org = app.lock();
    let u = org
        .users
        .get(&id)
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    let deleted = u.user.state == Some(UserState::Deleted);
    if deleted != (q.get("state") == Some("deleted")) {
        return Err(ApiError::not_found("User", &id));
    }
    ok(&u.user)
}

async fn patch_user(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let v: Value = parse(&body)?;
    let version = v
        .get("version")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::bad("version is required"))?;
    let req: crate::users::UpdateUser = parse(&body)?;
    let mut org = app.lock();
    if let Some(email) = &req.email
        && Org::name_taken(
            org.users
                .values()
                .map(|u| (&u.user.id, u.user.email.as_deref().unwrap_or(""))),
            email,
            Some(&id),
        )
    {
        return Err(ApiError::conflict_as(
            app.cfg.conflict_status,
            format!("A user with email {email} already exists"),
        ));
    }
    let u = org
        .users
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    if u.user.version != version {
        return Err(ApiError::conflict_as(
            app.cfg.conflict_status,
            "The version supplied does not match the current version of the user",
        ));
    }
    if let Some(state) = req.state {
        if state == UserState::Unknown {
            return Err(ApiError::new(
                400,
                "invalid.value",
                "state must be active, inactive or deleted",
            ));
        }
        u.user.state = Some(state);
    } else {
        if u.user.state == Some(UserState::Deleted) {
            return Err(ApiError::not_found("User", &id));
        }
        if let Some(n) = req.name {
            u.user.name = Some(n);
        }
        if let Some(e) = req.email {
            u.user.email = Some(e);
        }
        if let Some(d) = req.department {
            u.user.department = Some(d);
        }
        if let Some(t) = req.title {
            u.user.title = Some(t);
        }
        if let Some(a) = req.addresses {
            u.user.addresses = a;
        }
    }
    u.user.version += 1;
    user_uri(&mut u.user);
    ok(&u.user)
}

async fn delete_user(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut org = app.lock();
    let u = get_user_rec_mut(&mut org, &id)?;
    u.user.state = Some(UserState::Deleted);
    u.user.version += 1;
    for q in org.queues.values_mut() {
        q.members.remove(&id);
    }
    ok(&json!({}))
}

async fn add_external_id(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: UserExternalIdentifier = parse(&body)?;
    if req.authority_name.is_empty() || req.external_key.is_empty() {
        return Err(ApiError::bad("authorityName and externalKey are required"));
    }
    let mut org = app.lock();
    let pair = (req.authority_name.clone(), req.external_key.clone());
    if org
        .users
        .values()
        .any(|u| u.user.id != id && u.external_ids.contains(&pair))
    {
        return Err(ApiError::conflict(format!(
            "External key {}/{} is already mapped to another user",
            req.authority_name, req.external_key
        )));
    }
    let u = get_user_rec_mut(&mut org, &id)?;
    if u.external_ids.contains(&pair) {
        return Err(ApiError::new(
            409,
            "general.resource.conflict",
            "The external identifier already exists",
        ));
    }
    if u.external_ids.len() >= 100 {
        return Err(ApiError::bad(
            "A user can have at most 100 external identifiers",
        ));
    }
    u.external_ids.push(pair);
    ok(&external_ids_of(u))
}

fn external_ids_of(u: &UserRec) -> Vec<UserExternalIdentifier> {
    u.external_ids
        .iter()
        .map(|(a, k)| UserExternalIdentifier {
            authority_name: a.clone(),
            external_key: k.clone(),
        })
        .collect()
}

async fn get_external_ids(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let org = app.lock();
    ok(&external_ids_of(get_user_rec(&org, &id)?))
}

async fn user_by_external_id(
    State(app): State<App>,
    Path((authority, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let org = app.lock();
    let pair = (authority, key);
    let u = org
        .users
        .values()
        .find(|u| u.external_ids.contains(&pair) && u.user.state != Some(UserState::Deleted))
        .ok_or_else(|| {
            ApiError::not_found("User with external key", &format!("{}/{}", pair.0, pair.1))
        })?;
    ok(&u.user)
}

fn authorization(org: &Org, u: &UserRec) -> UserAuthorization {
    UserAuthorization {
        roles: u.roles.iter().filter_map(|r| org.role_ref(r)).collect(),
    }
}

async fn get_user_roles(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let org = app.lock();
    let u = get_user_rec(&org, &id)?;
    ok(&authorization(&org, u))
}

async fn put_user_roles(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let ids: Vec<String> = parse(&body)?;
    let mut org = app.lock();
    if let Some(bad) = ids.iter().find(|r| !org.roles.contains_key(*r)) {
        return Err(ApiError::bad(format!("Role {bad} does not exist")));
    }
    let u = get_user_rec_mut(&mut org, &id)?;
    u.roles = ids.into_iter().collect();
    let u = get_user_rec(&org, &id)?;
    ok(&authorization(&org, u))
}

/// GC's bulk limit for user skills and languages.
const SKILL_BULK_MAX: usize = 50;

fn check_assignments(
    list: &[SkillAssignment],
    known: &BTreeMap<String, NamedEntity>,
    what: &str,
) -> ApiResult<()> {
    if list.len() > SKILL_BULK_MAX {
        return Err(ApiError::new(
            400,
            "constraint.validation",
            format!(
                "{} entries submitted; at most {SKILL_BULK_MAX} are allowed per request",
                list.len()
            ),
        ));
    }
    for s in list {
        if !known.contains_key(&s.id) {
            return Err(ApiError::new(
                404,
                "general.resource.not.found",
                format!("{what} {} does not exist", s.id),
            ));
        }
        if !(0.0..=5.0).contains(&s.proficiency) {
            return Err(ApiError::new(
                400,
                "invalid.value",
                format!("proficiency {} must be between 0.0 and 5.0", s.proficiency),
            ));
        }
    }
    Ok(())
}

async fn get_user_skills(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let org = app.lock();
    let u = get_user_rec(&org, &id)?;
    let v = org.skill_views(&u.skills, &org.skills, "skills");
    paged(v, &Q::new(q), &format!("/api/v2/users/{id}/routingskills"))
}

async fn put_user_skills(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let list: Vec<SkillAssignment> = parse(&body)?;
    let mut org = app.lock();
    check_assignments(&list, &org.skills, "Skill")?;
    let u = get_user_rec_mut(&mut org, &id)?;
    u.skills = list.into_iter().map(|s| (s.id, s.proficiency)).collect();
    let u = get_user_rec(&org, &id)?;
    let v = org.skill_views(&u.skills, &org.skills, "skills");
    ok(&EntityListing {
        total: Some(v.len() as u64),
        entities: v,
        ..EntityListing::default()
    })
}

async fn patch_user_skills(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let list: Vec<SkillAssignment> = parse(&body)?;
    let mut org = app.lock();
    check_assignments(&list, &org.skills, "Skill")?;
    let u = get_user_rec_mut(&mut org, &id)?;
    for s in list {
        u.skills.insert(s.id, s.proficiency);
    }
    let u = get_user_rec(&org, &id)?;
    let v = org.skill_views(&u.skills, &org.skills, "skills");
    ok(&EntityListing {
        total: Some(v.len() as u64),
        entities: v,
        ..EntityListing::default()
    })
}

async fn delete_user_skill(
    State(app): State<App>,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut org = app.lock();
    let u = get_user_rec_mut(&mut org, &id)?;
    u.skills.remove(&sid);
    deleted()
}

async fn get_user_languages(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let org = app.lock();
    let u = get_user_rec(&org, &id)?;
    let v = org.skill_views(&u.languages, &org.languages, "languages");
    paged(
        v,
        &Q::new(q),
        &format!("/api/v2/users/{id}/routinglanguages"),
    )
}

async fn patch_user_languages(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let list: Vec<SkillAssignment> = parse(&body)?;
    let mut org = app.lock();
    check_assignments(&list, &org.languages, "Language")?;
    let u = get_user_rec_mut(&mut org, &id)?;
    for l in list {
        u.languages.insert(l.id, l.proficiency);
    }
    let u = get_user_rec(&org, &id)?;
    let v = org.skill_views(&u.languages, &org.languages, "languages");
    ok(&EntityListing {
        total: Some(v.len() as u64),
        entities: v,
        ..EntityListing::default()
    })
}

async fn post_user_language(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let l: SkillAssignment = parse(&body)?;
    let mut org = app.lock();
    check_assignments(std::slice::from_ref(&l), &org.languages, "Language")?;
    let u = get_user_rec_mut(&mut org, &id)?;
    u.languages.insert(l.id.clone(), l.proficiency);
    let u = get_user_rec(&org, &id)?;
    let v = org.skill_views(&u.languages, &org.languages, "languages");
    let one = v.into_iter().find(|x| x.id == l.id);
    ok(&one)
}

async fn delete_user_language(
    State(app): State<App>,
    Path((id, lid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut org = app.lock();
    let u = get_user_rec_mut(&mut org, &id)?;
    u.languages.remove(&lid);
    deleted()
}

// ---------------------------------------------------------------- authorization

async fn list_roles(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Q::new(q);
    let names = q.all("name");
    let ids = q.all("id");
    let org = app.lock();
    let roles: Vec<_> = org
        .roles
        .values()
        .filter(|r| names.is_empty() || names.iter().any(|n| n.eq_ignore_ascii_case(&r.name)))
        .filter(|r| ids.is_empty() || ids.contains(&r.id))
        .cloned()
        .collect();
    paged(roles, &q, "/api/v2/authorization/roles")
}

async fn home_division(State(app): State<App>) -> ApiResult<Response> {
    let org = app.lock();
    let mut d = org.home_division.clone();
    d.self_uri = Some(format!("/api/v2/authorization/divisions/{}", d.id));
    ok(&d)
}

// ---------------------------------------------------------------- skills, languages

#[derive(serde::Deserialize)]
struct NameReq {
    name: String,
}

fn named_create(
    map: &mut BTreeMap<String, NamedEntity>,
    body: &Bytes,
    kind: &str,
    answer: super::ConflictStatus,
) -> ApiResult<NamedEntity> {
    let req: NameReq = parse(body)?;
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::bad("name is required"));
    }
    if Org::name_taken(map.values().map(|s| (&s.id, s.name.as_str())), name, None) {
        return Err(ApiError::conflict_as(
            answer,
            format!("A {kind} named {name} already exists (names are case-insensitive)"),
        ));
    }
    let id = new_id();
    let e = NamedEntity {
        id: id.clone(),
        name: name.to_owned(),
        state: Some("active".into()),
        version: Some("1".into()),
        self_uri: Some(format!("/api/v2/routing/{kind}s/{id}")),
    };
    map.insert(id, e.clone());
    Ok(e)
}

fn named_list(map: &BTreeMap<String, NamedEntity>, q: &Q) -> Vec<NamedEntity> {
    let name = q.get("name").map(str::to_lowercase);
    let ids = q.all("id");
    map.values()
        .filter(|s| {
            name.as_ref()
                .is_none_or(|n| s.name.to_lowercase().starts_with(n.trim_end_matches('*')))
        })
        .filter(|s| ids.is_empty() || ids.contains(&s.id))
        .cloned()
        .collect()
}

async fn list_skills(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Q::new(q);
    let v = named_list(&app.lock().skills, &q);
    paged(v, &q, "/api/v2/routing/skills")
}

async fn create_skill(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let e = named_create(
        &mut app.lock().skills,
        &body,
        "skill",
        app.cfg.conflict_status,
    )?;
    ok(&e)
}

async fn get_skill(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let org = app.lock();
    ok(org
        .skills
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Skill", &id))?)
}

async fn delete_skill(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut org = app.lock();
    org.skills
        .remove(&id)
        .ok_or_else(|| ApiError::not_found("Skill", &id))?;
    for u in org.users.values_mut() {
        u.skills.remove(&id);
    }
    deleted()
}

async fn list_languages(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Q::new(q);
    let v = named_list(&app.lock().languages, &q);
    paged(v, &q, "/api/v2/routing/languages")
}

async fn create_language(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let e = named_create(
        &mut app.lock().languages,
        &body,
        "language",
        app.cfg.conflict_status,
    )?;
    ok(&e)
}

async fn get_language(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let org = app.lock();
    ok(org
        .languages
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Language", &id))?)
}

async fn delete_language(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut org = app.lock();
    org.languages
        .remove(&id)
        .ok_or_else(|| ApiError::not_found("Language", &id))?;
    for u in org.users.values_mut() {
        u.languages.remove(&id);
    }
    deleted()
}

// ---------------------------------------------------------------- wrap-up codes

fn division_of(org: &Org, d: &Option<EntityRef>) -> ApiResult<EntityRef> {
    match d {
        None => Ok(org.home_division.clone()),
        Some(r) if r.id == org.home_division.id => Ok(org.home_division.clone()),
        Some(r) => Err(ApiError::bad(format!(
            "division {} is not a division of this org",
            r.id
        ))),
    }
}

async fn list_wrapups(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Q::new(q);
    let v: Vec<_> = app.lock().wrapups.values().cloned().collect();
    paged(v, &q, "/api/v2/routing/wrapupcodes")
}

fn wrapup_upsert(org: &mut Org, id: Option<&str>, body: &Bytes) -> ApiResult<WrapupCode> {
    let req: WrapupCodeRequest = parse(body)?;
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::bad("name is required"));
    }
    if let Some(id) = id
        && !org.wrapups.contains_key(id)
    {
        return Err(ApiError::not_found("Wrap-up code", id));
    }
    if Org::name_taken(
        org.wrapups.values().map(|w| (&w.id, w.name.as_str())),
        name,
        id,
    ) {
        return Err(ApiError::duplicate_name(format!(
            "A wrap-up code named {name} already exists (names are case-insensitive)"
        )));
    }
    let id = id.map(str::to_owned).unwrap_or_else(new_id);
    let w = WrapupCode {
        id: id.clone(),
        name: name.to_owned(),
        description: req.description,
        division: Some(division_of(org, &req.division)?),
        self_uri: Some(format!("/api/v2/routing/wrapupcodes/{id}")),
    };
    org.wrapups.insert(id, w.clone());
    Ok(w)
}

async fn create_wrapup(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let w = wrapup_upsert(&mut app.lock(), None, &body)?;
    ok(&w)
}

async fn get_wrapup(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let org = app.lock();
    ok(org
        .wrapups
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Wrap-up code", &id))?)
}

async fn put_wrapup(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let w = wrapup_upsert(&mut app.lock(), Some(&id), &body)?;
    ok(&w)
}

async fn delete_wrapup(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut org = app.lock();
    org.wrapups
        .remove(&id)
        .ok_or_else(|| ApiError::not_found("Wrap-up code", &id))?;
    for q in org.queues.values_mut() {
        q.wrapup_codes.remove(&id);
    }
    deleted()
}

// ---------------------------------------------------------------- queues

async fn list_queues(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Q::new(q);
    let name = q.get("name").map(str::to_owned);
    let ids = q.all("id");
    let divs = q.all("divisionId");
    let org = app.lock();
    let v: Vec<Queue> = org
        .queues
        .values()
        .filter(|r| name.as_ref().is_none_or(|n| glob_match(n, &r.queue.name)))
        .filter(|r| ids.is_empty() || ids.contains(&r.queue.id))
        .filter(|r| {
            divs.is_empty()
                || r.queue
                    .division
                    .as_ref()
                    .is_some_and(|d| divs.contains(&d.id))
        })
        .map(|r| org.queue_out(r))
        .collect();
    paged(v, &q, "/api/v2/routing/queues")
}

fn queue_upsert(org: &mut Org, id: Option<&str>, body: &Bytes) -> ApiResult<Queue> {
    let req: QueueRequest = parse(body)?;
    let name = req.name.trim();
    if name.is_empty() {
        return Err(ApiError::bad("name is required"));
    }
    if let Some(id) = id
        && !org.queues.contains_key(id)
    {
        return Err(ApiError::not_found("Queue", id));
    }
    if Org::name_taken(
        org.queues
            .values()
            .map(|q| (&q.queue.id, q.queue.name.as_str())),
        name,
        id,
    ) {
        return Err(ApiError::duplicate_name(format!(
            "A queue named {name} already exists (names are case-insensitive)"
        )));
    }
    if let Some(m) = &req.skill_evaluation_method
        && !["NONE", "BEST", "ALL"].contains(&m.as_str())
    {
        return Err(ApiError::new(
            400,
            "invalid.value",
            format!("skillEvaluationMethod {m} is not NONE, BEST or ALL"),
        ));
    }
    let division = division_of(org, &req.division)?;
    let id = id.map(str::to_owned).unwrap_or_else(new_id);
    // A full replace: what the request carries is the whole queue (unknown fields included).
    let mut extra = req.extra;
    for k in [
        "id",
        "selfUri",
        "memberCount",
        "dateCreated",
        "dateModified",
    ] {
        extra.remove(k);
    }
    if let Some(m) = req.skill_evaluation_method {
        extra.insert("skillEvaluationMethod".into(), Value::String(m));
    }
    let queue = Queue {
        id: id.clone(),
        name: name.to_owned(),
        description: req.description,
        division: Some(division),
        peer_id: req.peer_id,
        enable_transcription: Some(req.enable_transcription.unwrap_or(false)),
        member_count: None,
        self_uri: Some(format!("/api/v2/routing/queues/{id}")),
        extra,
    };
    let rec = org.queues.entry(id).or_insert_with(|| QueueRec {
        queue: queue.clone(),
        members: BTreeSet::new(),
        wrapup_codes: BTreeSet::new(),
    });
    rec.queue = queue;
    let rec = rec.clone();
    Ok(org.queue_out(&rec))
}

async fn create_queue(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let q = queue_upsert(&mut app.lock(), None, &body)?;
    ok(&q)
}

async fn get_queue(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let org = app.lock();
    let q = org
        .queues
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Queue", &id))?;
    ok(&org.queue_out(q))
}

async fn put_queue(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let q = queue_upsert(&mut app.lock(), Some(&id), &body)?;
    ok(&q)
}

async fn delete_queue(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let mut org = app.lock();
    org.queues
        .remove(&id)
        .ok_or_else(|| ApiError::not_found("Queue", &id))?;
    deleted()
}

#[derive(serde::Deserialize)]
struct IdReq {
    id: String,
}

async fn get_members(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let q = Q::new(q);
    if q.num("pageSize", 25)? > 100 {
        return Err(ApiError::bad(
            "pageSize must be at most 100 for queue members",
        ));
    }
    let org = app.lock();
    let rec = org
        .queues
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Queue", &id))?;
    let v: Vec<QueueMember> = rec
        .members
        .iter()
        .map(|m| QueueMember {
            id: m.clone(),
            name: org.users.get(m).and_then(|u| u.user.name.clone()),
            joined: Some(true),
        })
        .collect();
    paged_listing(
        v,
        &q,
        &format!("/api/v2/routing/queues/{id}/members"),
        false,
    )
}

fn id_list(body: &Bytes) -> ApiResult<Vec<String>> {
    let list: Vec<IdReq> = parse(body)?;
    if list.len() > 100 {
        return Err(ApiError::bad(format!(
            "{} entries submitted; at most 100 are allowed per request",
            list.len()
        )));
    }
    Ok(list.into_iter().map(|i| i.id).collect())
}

async fn post_members(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let q = Q::new(q);
    let delete = match q.get("delete") {
        None | Some("false") => false,
        Some("true") => true,
        Some(o) => {
            return Err(ApiError::new(
                400,
                "invalid.value",
                format!("delete must be true or false, not {o}"),
            ));
        }
    };
    let ids = id_list(&body)?;
    let mut org = app.lock();
    if !org.queues.contains_key(&id) {
        return Err(ApiError::not_found("Queue", &id));
    }
    if !delete && let Some(bad) = ids.iter().find(|u| org.live_user(u).is_none()) {
        return Err(ApiError::bad(format!("User {bad} does not exist")));
    }
    if let Some(rec) = org.queues.get_mut(&id) {
        for u in ids {
            if delete {
                rec.members.remove(&u);
            } else {
                rec.members.insert(u);
            }
        }
    }
    empty()
}

async fn get_queue_wrapups(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let org = app.lock();
    let rec = org
        .queues
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Queue", &id))?;
    let v: Vec<WrapupCode> = rec
        .wrapup_codes
        .iter()
        .filter_map(|c| org.wrapups.get(c).cloned())
        .collect();
    paged(
        v,
        &Q::new(q),
        &format!("/api/v2/routing/queues/{id}/wrapupcodes"),
    )
}

async fn post_queue_wrapups(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let ids = id_list(&body)?;
    let mut org = app.lock();
    if let Some(bad) = ids.iter().find(|c| !org.wrapups.contains_key(*c)) {
        return Err(ApiError::bad(format!("Wrap-up code {bad} does not exist")));
    }
    let rec = org
        .queues
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("Queue", &id))?;
    rec.wrapup_codes.extend(ids.iter().cloned());
    let added: Vec<WrapupCode> = ids
        .iter()
        .filter_map(|c| org.wrapups.get(c).cloned())
        .collect();
    ok(&added)
}

async fn delete_queue_wrapup(
    State(app): State<App>,
    Path((id, cid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut org = app.lock();
    let rec = org
        .queues
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("Queue", &id))?;
    rec.wrapup_codes.remove(&cid);
    empty()
}

async fn get_transcription(State(app): State<App>) -> ApiResult<Response> {
    ok(&app.lock().transcription)
}

async fn put_transcription(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let s: TranscriptionSettings = parse(&body)?;
    if !(1..=100).contains(&s.transcription_confidence_threshold) {
        return Err(ApiError::new(
            400,
            "invalid.value",
            "transcriptionConfidenceThreshold must be 1-100",
        ));
    }
    let mut org = app.lock();
    org.transcription = s;
    ok(&org.transcription)
}

// ---------------------------------------------------------------- presence

async fn list_presence_defs(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let q = Q::new(q);
    let deactivated = q.get("deactivated") == Some("true");
    let v: Vec<PresenceDefinition> = app
        .lock()
        .presence_defs
        .values()
        .filter(|d| d.deactivated == deactivated)
        .cloned()
        .collect();
    ok(&EntityListing {
        total: Some(v.len() as u64),
        entities: v,
        ..EntityListing::default()
    })
}

async fn create_presence_def(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let mut d: PresenceDefinition = parse(&body)?;
    if !SYSTEM_PRESENCES.contains(&d.system_presence.as_str()) {
        return Err(ApiError::new(
            400,
            "invalid.value",
            format!(
                "systemPresence {} is not a system presence",
                d.system_presence
            ),
        ));
    }
    if d.language_labels.is_empty() {
        return Err(ApiError::bad("languageLabels is required"));
    }
    let mut org = app.lock();
    let id = new_id();
    d.id = Some(id.clone());
    d.kind = Some("User".into());
    d.division_id = Some(org.home_division.id.clone());
    d.self_uri = Some(format!("/api/v2/presence/definitions/{id}"));
    org.presence_defs.insert(id, d.clone());
    ok(&d)
}

async fn list_sources(State(app): State<App>) -> ApiResult<Response> {
    let v: Vec<PresenceSource> = app.lock().sources.values().cloned().collect();
    ok(&EntityListing {
        total: Some(v.len() as u64),
        entities: v,
        ..EntityListing::default()
    })
}

async fn create_source(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let mut s: PresenceSource = parse(&body)?;
    if s.name.trim().is_empty() {
        return Err(ApiError::bad("name is required"));
    }
    let mut org = app.lock();
    if Org::name_taken(
        org.sources.iter().map(|(id, x)| (id, x.name.as_str())),
        &s.name,
        None,
    ) {
        return Err(ApiError::conflict(format!(
            "A presence source named {} already exists",
            s.name
        )));
    }
    let id = new_id();
    s.id = Some(id.clone());
    s.kind = Some("User".into());
    s.self_uri = Some(format!("/api/v2/presence/sources/{id}"));
    org.sources.insert(id, s.clone());
    ok(&s)
}

/// GC's own presence source id, the primary of a user nobody changed.
const PURECLOUD_SOURCE: &str = "PURECLOUD";

fn primary_source_view(org: &Org, user: &str) -> UserPrimarySource {
    let source = org
        .primary_sources
        .get(user)
        .cloned()
        .unwrap_or_else(|| PURECLOUD_SOURCE.into());
    UserPrimarySource {
        id: Some(user.to_owned()),
        name: org.sources.get(&source).map(|s| s.name.clone()),
        registered: Some(source == PURECLOUD_SOURCE),
        source_id: Some(source),
    }
}

async fn get_primary_source(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let org = app.lock();
    if org.live_user(&id).is_none() {
        return Err(ApiError::not_found("User", &id));
    }
    ok(&primary_source_view(&org, &id))
}

async fn put_primary_source(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: UserPrimarySource = parse(&body)?;
    let mut org = app.lock();
    if org.live_user(&id).is_none() {
        return Err(ApiError::not_found("User", &id));
    }
    let source = req
        .source_id
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad("sourceId is required"))?;
    if source != PURECLOUD_SOURCE && !org.sources.contains_key(&source) {
        return Err(ApiError::not_found("Source", &source));
    }
    org.primary_sources.insert(id.clone(), source);
    ok(&primary_source_view(&org, &id))
}

// ---------------------------------------------------------------- events

async fn inject_conversations(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let v: Value = parse(&body)?;
    let r = inject::conversations(&mut app.lock(), &v)?;
    ok(&r)
}

async fn inject_presence(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let v: Value = parse(&body)?;
    let r = inject::presence(&mut app.lock(), &v)?;
    ok(&r)
}

async fn inject_routing(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let v: Value = parse(&body)?;
    let r = inject::routing_status(&mut app.lock(), &v)?;
    ok(&r)
}

// ---------------------------------------------------------------- recordings

async fn create_upload(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let req: UploadUrlRequest = parse(&body)?;
    if let Some(why) = crate::recordings::upload_file_name_problem(&req.file_name) {
        return Err(ApiError::new(400, "invalid.value", why));
    }
    let timeout = req.signed_url_timeout_seconds.unwrap_or(600);
    if !(1..=604_800).contains(&timeout) {
        return Err(ApiError::new(
            400,
            "invalid.value",
            "signedUrlTimeoutSeconds must be 1-604800",
        ));
    }
    if let Some(sse) = &req.server_side_encryption
        && sse != "AES256"
    {
        return Err(ApiError::new(
            400,
            "invalid.value",
            "serverSideEncryption must be AES256",
        ));
    }
    let key = new_id();
    let now = Instant::now();
    app.lock().pending_uploads.retain(|_, p| p.expires > now);
    let mut headers = BTreeMap::new();
    headers.insert(
        "Content-Type".to_owned(),
        req.content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into()),
    );
    if let Some(md5) = &req.content_md5 {
        headers.insert("Content-MD5".to_owned(), md5.clone());
    }
    if req.server_side_encryption.is_some() {
        headers.insert(
            "x-amz-server-side-encryption".to_owned(),
            "AES256".to_owned(),
        );
    }
    let resp = UploadUrlResponse {
        url: format!("{}/emulator/uploads/{key}", app.base_url),
        upload_key: key.clone(),
        headers: headers.clone(),
    };
    app.lock().pending_uploads.insert(
        key,
        PendingUpload {
            file_name: req.file_name,
            headers,
            content_md5: req.content_md5,
            content_type: req.content_type,
            expires: Instant::now() + Duration::from_secs(u64::from(timeout)),
        },
    );
    ok(&resp)
}

async fn upload_put(
    State(app): State<App>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let mut org = app.lock();
    let p = org
        .pending_uploads
        .get(&key)
        .cloned()
        .ok_or_else(|| ApiError::not_found("Upload", &key))?;
    if Instant::now() > p.expires {
        return Err(ApiError::new(
            403,
            "request.expired",
            "The presigned URL has expired; ask for a new one",
        ));
    }
    for (k, v) in &p.headers {
        let got = headers.get(k.as_str()).and_then(|h| h.to_str().ok());
        if got != Some(v.as_str()) {
            return Err(ApiError::new(
                403,
                "signature.does.not.match",
                format!(
                    "Header {k} must be sent with the value returned by POST /api/v2/uploads/recordings"
                ),
            ));
        }
    }
    if let Some(md5) = &p.content_md5
        && content_md5(&body) != *md5
    {
        return Err(ApiError::new(
            400,
            "bad.digest",
            "The Content-MD5 does not match the uploaded content",
        ));
    }
    org.uploads.retain(|u| u.upload_key != key);
    org.uploads.push(UploadedRecording {
        upload_key: key,
        file_name: p.file_name,
        content_type: p.content_type,
        content_md5: p.content_md5,
        size: body.len(),
        data: body.to_vec(),
    });
    Ok(StatusCode::OK.into_response())
}

/// The stored bytes of one upload (inspection).
async fn upload_get(State(app): State<App>, Path(key): Path<String>) -> ApiResult<Response> {
    let org = app.lock();
    let u = org
        .uploads
        .iter()
        .find(|u| u.upload_key == key)
        .ok_or_else(|| ApiError::not_found("Upload", &key))?;
    let mut resp = Response::new(Body::from(u.data.clone()));
    let ct = u
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    if let Ok(v) = HeaderValue::from_str(&ct) {
        resp.headers_mut().insert("content-type", v);
    }
    Ok(resp)
}

async fn list_recording_keys(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let v = app.lock().recording_keys.clone();
    paged(v, &Q::new(q), "/api/v2/recording/recordingkeys")
}

// ---------------------------------------------------------------- speech and text analytics

fn check_program(org: &Org, s: &StaSettingsRequest) -> ApiResult<()> {
    if let Some(p) = &s.default_program_id
        && !org.programs.contains_key(p)
    {
        return Err(ApiError::bad(format!(
            "defaultProgramId {p} is not a program of this org"
        )));
    }
    Ok(())
}

/// The response names the default program as a reference, `defaultProgram{id, selfUri}`.
fn program_ref(id: &str) -> EntityRef {
    EntityRef {
        id: id.to_owned(),
        name: None,
        self_uri: Some(format!("/api/v2/speechandtextanalytics/programs/{id}")),
    }
}

async fn get_sta(State(app): State<App>) -> ApiResult<Response> {
    ok(&app.lock().sta_settings)
}

async fn put_sta(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let s: StaSettingsRequest = parse(&body)?;
    let mut org = app.lock();
    check_program(&org, &s)?;
    org.sta_settings = StaSettings {
        default_program: s.default_program_id.as_deref().map(program_ref),
        expected_dialects: s.expected_dialects,
        text_analytics_enabled: s.text_analytics_enabled,
        agent_empathy_enabled: s.agent_empathy_enabled,
        ..StaSettings::default()
    };
    ok(&org.sta_settings)
}

async fn patch_sta(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let s: StaSettingsRequest = parse(&body)?;
    let mut org = app.lock();
    check_program(&org, &s)?;
    let cur = &mut org.sta_settings;
    if let Some(p) = &s.default_program_id {
        cur.default_program = Some(program_ref(p));
    }
    if s.expected_dialects.is_some() {
        cur.expected_dialects = s.expected_dialects;
    }
    if s.text_analytics_enabled.is_some() {
        cur.text_analytics_enabled = s.text_analytics_enabled;
    }
    if s.agent_empathy_enabled.is_some() {
        cur.agent_empathy_enabled = s.agent_empathy_enabled;
    }
    ok(&org.sta_settings)
}

async fn list_programs(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let v: Vec<Program> = app.lock().programs.values().cloned().collect();
    cursor(v, &Q::new(q), "/api/v2/speechandtextanalytics/programs")
}

async fn create_program(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let req: ProgramRequest = parse(&body)?;
    if req.name.trim().is_empty() {
        return Err(ApiError::bad("name is required"));
    }
    let mut org = app.lock();
    if Org::name_taken(
        org.programs.values().map(|p| (&p.id, p.name.as_str())),
        &req.name,
        None,
    ) {
        return Err(ApiError::conflict(format!(
            "A program named {} already exists",
            req.name
        )));
    }
    let id = new_id();
    let p = Program {
        id: id.clone(),
        name: req.name,
        description: req.description,
        published: Some(false),
        tags: req.tags,
    };
    org.programs.insert(id, p.clone());
    ok(&p)
}

fn mapping_view(org: &Org, pid: &str) -> Option<ProgramMappings> {
    let p = org.programs.get(pid)?;
    let (queues, flows) = org.mappings.get(pid).cloned().unwrap_or_default();
    Some(ProgramMappings {
        program: EntityRef {
            id: p.id.clone(),
            name: Some(p.name.clone()),
            self_uri: None,
        },
        queues: queues
            .iter()
            .map(|q| EntityRef {
                id: q.clone(),
                name: org.queues.get(q).map(|r| r.queue.name.clone()),
                self_uri: None,
            })
            .collect(),
        flows: flows.iter().map(|f| EntityRef::id(f.clone())).collect(),
    })
}

async fn list_mappings(State(app): State<App>, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let org = app.lock();
    let v: Vec<ProgramMappings> = org
        .mappings
        .keys()
        .filter_map(|p| mapping_view(&org, p))
        .collect();
    cursor(
        v,
        &Q::new(q),
        "/api/v2/speechandtextanalytics/programs/mappings",
    )
}

async fn put_mappings(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let req: ProgramMappingsRequest = parse(&body)?;
    let mut org = app.lock();
    if !org.programs.contains_key(&id) {
        return Err(ApiError::not_found("Program", &id));
    }
    if let Some(bad) = req.queue_ids.iter().find(|q| !org.queues.contains_key(*q)) {
        return Err(ApiError::bad(format!("Queue {bad} does not exist")));
    }
    org.mappings
        .insert(id.clone(), (req.queue_ids, req.flow_ids));
    ok(&mapping_view(&org, &id))
}

// ---------------------------------------------------------------- inspection and control

async fn inspect_org(State(app): State<App>) -> ApiResult<Response> {
    ok(&app.lock().snapshot())
}

async fn inspect_users(State(app): State<App>) -> ApiResult<Response> {
    let org = app.lock();
    let v: Vec<_> = org.users.values().map(|u| org.user_view(u)).collect();
    ok(&v)
}

async fn inspect_user(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    let org = app.lock();
    let u = org
        .users
        .get(&id)
        .ok_or_else(|| ApiError::not_found("User", &id))?;
    ok(&org.user_view(u))
}

async fn inspect_presence(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    ok(&app
        .lock()
        .presence_history
        .get(&id)
        .cloned()
        .unwrap_or_default())
}

async fn inspect_routing(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Response> {
    ok(&app
        .lock()
        .routing_history
        .get(&id)
        .cloned()
        .unwrap_or_default())
}

async fn inspect_conversations(State(app): State<App>) -> ApiResult<Response> {
    let ids: Vec<String> = app.lock().conversations.keys().cloned().collect();
    ok(&ids)
}

async fn inspect_conversation(
    State(app): State<App>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let org = app.lock();
    let c = org
        .conversations
        .get(&id)
        .ok_or_else(|| ApiError::not_found("Conversation", &id))?;
    ok(&org.conversation_view(&id, c))
}

async fn inspect_uploads(State(app): State<App>) -> ApiResult<Response> {
    ok(&app.lock().uploads)
}

async fn inspect_requests(State(app): State<App>) -> ApiResult<Response> {
    let org = app.lock();
    ok(
        &json!({"requests": org.requests, "tokensIssued": org.tokens_issued, "rateLimited": org.rate_limited, "eventsAccepted": org.events_accepted}),
    )
}

async fn control_reset(State(app): State<App>) -> ApiResult<Response> {
    let cfg = app.cfg.clone();
    app.lock().reset(&cfg);
    empty()
}

async fn control_fault(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    let f: Fault = parse(&body)?;
    if f.path_prefix.is_empty() || !f.path_prefix.starts_with('/') {
        return Err(ApiError::bad("pathPrefix must start with /"));
    }
    app.lock().faults.push(f);
    empty()
}

async fn control_event_faults(State(app): State<App>, body: Bytes) -> ApiResult<Response> {
    #[derive(serde::Deserialize)]
    struct R {
        count: u32,
    }
    let r: R = parse(&body)?;
    app.lock().event_faults = r.count;
    empty()
}

async fn control_revoke(State(app): State<App>) -> ApiResult<Response> {
    app.lock().tokens.clear();
    empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing_and_decoding() {
        assert!(glob_match("sales*", "Sales EU"));
        assert!(glob_match("*eu", "Sales EU"));
        assert!(glob_match("s*e*u", "Sales EU"));
        assert!(!glob_match("support*", "Sales EU"));
        assert!(glob_match("SALES EU", "sales eu"));
        assert_eq!(pct_decode("a%20b+c%2F"), "a b c/");
        assert_eq!(pct_decode("100%"), "100%");
    }
}
