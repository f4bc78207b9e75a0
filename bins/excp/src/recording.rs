//! The recording metadata API of EXCP (on `EXCP_PORT`, 3650), and where recording data waits
//! for the recording provider.
//!
//! The guide: MCP posts the metadata of each finished recording segment to EXCP, which stores
//! it in Redis; when the interaction ends EXCP calls EXRP's interaction-end API once per
//! recorded segment with the GC metadata and the audio file name. MCP's request format is not
//! public, so the body below is **our design** (one JSON object per recorded file; the field
//! names follow this project's camelCase):
//!
//! ```json
//! {"callUuid": "QK59HK4FS927D7FUU41G6IE468000004", "fileName": "rec-0001.opus",
//!  "startTime": 1764000000000, "endTime": 1764000120000, "agentDn": "7001", "connId": "…"}
//! ```
//!
//! Every answer has the guide's envelope, `{"status":{"code":N,"message":"…","corrId":"…"}}`
//! (plus `data` where there is some); `corrId` is new for each request and is logged with it.
//!
//! - `POST /api/v1/recording`: adds the metadata to the call's set `recmeta:{callUuid}`
//!   (idempotent: MCP may retry; the set expires `EXCP_RECORDING_TTL_HOURS`, 72 h, after the
//!   last post); `202` with code `0`. A body without a CallUUID (an empty
//!   `POST`, as the guide's readiness check sends) answers `404` with code `40402` "CallUUID
//!   not found", as the guide shows. Other problems answer `400` with code `40001` and what is
//!   wrong (not JSON, a CallUUID that is not 32 letters and digits, an empty file name or one
//!   over the 80 characters GC accepts, an end before the start); a store failure `503` with
//!   code `50301`. Codes other than `0` and `40402` are our design.
//! - `GET /api/v1/recording/{callUuid}`: code `0` and, in `data`, what is known of the call:
//!   the posted files and the call model's agent segments (the set `recseg:{callUuid}`,
//!   written by the service as the model produces them, expiring like the metadata); `404` /
//!   `40402` when nothing is. Two set reads: no request ever scans the store's key space.
//!
//! Not yet: the hand-off to EXRP (its interaction-end API is not built).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use engage_callmodel::output::RecordingSegment;
use engage_store::schema::keys;
use engage_store::{JsonView, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// GC's limit on a recording file name.
pub const MAX_FILE_NAME: usize = 80;

/// One recorded file's metadata as MCP posts it (our design).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingMetadata {
    /// The recorded leg's `CallUUID`.
    pub call_uuid: String,
    /// The audio file's name in the transient (WebDAV) storage.
    pub file_name: String,
    /// Recording start, epoch ms.
    pub start_time: u64,
    /// Recording end, epoch ms.
    pub end_time: u64,
    /// The recorded agent's extension, if MCP knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_dn: Option<String>,
    /// The leg's `ConnID`, if MCP knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conn_id: Option<String>,
}

impl RecordingMetadata {
    /// Checks the fields; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.call_uuid.len() != 32 || !self.call_uuid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(format!(
                "callUuid `{}` is not a CallUUID (32 letters and digits)",
                self.call_uuid
            ));
        }
        if self.file_name.trim().is_empty() {
            return Err("fileName is empty".into());
        }
        if self.file_name.chars().count() > MAX_FILE_NAME {
            return Err(format!(
                "fileName has {} characters; Genesys Cloud accepts at most {MAX_FILE_NAME}",
                self.file_name.chars().count()
            ));
        }
        if self.file_name.contains(['/', '\\']) {
            return Err("fileName must be a file name, not a path".into());
        }
        if self.end_time < self.start_time {
            return Err("endTime is before startTime".into());
        }
        Ok(())
    }
}

/// Everything known of one call's recordings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecordings {
    /// Files MCP reported.
    pub files: Vec<RecordingMetadata>,
    /// The call model's agent segments.
    pub segments: Vec<RecordingSegment>,
}

/// How long a call's recording metadata and segments stay in the store after the last write
/// (the default of `EXCP_RECORDING_TTL_HOURS`): far longer than a hand-off waits for
/// metadata (`EXCP_RECORDING_METADATA_WAIT_SECS`), short enough that the store stays bounded.
pub const DEFAULT_TTL: Duration = Duration::from_secs(72 * 3600);

/// The recording API's state: the store view and how long what it stores is kept.
#[derive(Debug, Clone)]
pub struct RecordingApi {
    /// The store view.
    pub json: JsonView,
    /// Expiry of a call's metadata set, renewed by each post.
    pub ttl: Duration,
}

/// Stores one model segment in its call's set (`recseg:{callUuid}`), which expires `ttl`
/// after the last write.
pub async fn store_segment(
    json: &JsonView,
    s: &RecordingSegment,
    ttl: Duration,
) -> Result<(), StoreError> {
    json.set_add(&keys::recording_segments(&s.call_uuid), s, Some(ttl))
        .await
        .map(|_| ())
}

/// The recording metadata MCP posted for a call (every file; a file posted twice with
/// different content counts once, the one with the latest end).
pub async fn metadata_for(
    json: &JsonView,
    call_uuid: &str,
) -> Result<Vec<RecordingMetadata>, StoreError> {
    let mut files: Vec<RecordingMetadata> = json
        .set_members(&keys::recording_metadata(call_uuid))
        .await?;
    files.sort_by(|a, b| {
        (a.file_name.as_str(), std::cmp::Reverse(a.end_time))
            .cmp(&(b.file_name.as_str(), std::cmp::Reverse(b.end_time)))
    });
    files.dedup_by(|a, b| a.file_name == b.file_name);
    Ok(files)
}

/// Reads what is known of a call: two set reads, never a key-space scan.
pub async fn call_recordings(
    json: &JsonView,
    call_uuid: &str,
) -> Result<CallRecordings, StoreError> {
    let files = metadata_for(json, call_uuid).await?;
    let mut segments: Vec<RecordingSegment> = json
        .set_members(&keys::recording_segments(call_uuid))
        .await?;
    segments.sort_by_key(|s| (s.start_time, s.communication_id));
    Ok(CallRecordings { files, segments })
}

/// The guide's answer envelope.
fn answer(
    status: StatusCode,
    code: u32,
    message: impl Into<String>,
    data: Option<serde_json::Value>,
) -> Response {
    let corr_id = uuid::Uuid::new_v4().to_string();
    let message = message.into();
    if code != 0 {
        tracing::info!(code, %message, %corr_id, "recording API request refused");
    }
    let mut body = serde_json::json!({
        "status": {"code": code, "message": message, "corrId": corr_id}
    });
    if let (Some(data), Some(obj)) = (data, body.as_object_mut()) {
        obj.insert("data".into(), data);
    }
    (status, Json(body)).into_response()
}

const NOT_FOUND: u32 = 40402;

async fn post_recording(State(api): State<RecordingApi>, body: axum::body::Bytes) -> Response {
    let value: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return answer(
                    StatusCode::BAD_REQUEST,
                    40001,
                    format!("the body is not JSON: {e}"),
                    None,
                );
            }
        }
    };
    let has_call = value
        .get("callUuid")
        .and_then(|v| v.as_str())
        .is_some_and(|s| !s.trim().is_empty());
    if !has_call {
        return answer(StatusCode::NOT_FOUND, NOT_FOUND, "CallUUID not found", None);
    }
    let meta: RecordingMetadata = match serde_json::from_value(value) {
        Ok(m) => m,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                40001,
                format!("the body is not recording metadata: {e}"),
                None,
            );
        }
    };
    if let Err(e) = meta.validate() {
        return answer(StatusCode::BAD_REQUEST, 40001, e, None);
    }
    match api
        .json
        .set_add(
            &keys::recording_metadata(&meta.call_uuid),
            &meta,
            Some(api.ttl),
        )
        .await
    {
        Ok(_) => answer(
            StatusCode::ACCEPTED,
            0,
            format!("recording metadata for CallUUID {} stored", meta.call_uuid),
            None,
        ),
        Err(e) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            50301,
            format!("store: {e}"),
            None,
        ),
    }
}

async fn get_recording(State(api): State<RecordingApi>, Path(call_uuid): Path<String>) -> Response {
    match call_recordings(&api.json, &call_uuid).await {
        Ok(r) if r.files.is_empty() && r.segments.is_empty() => {
            answer(StatusCode::NOT_FOUND, NOT_FOUND, "CallUUID not found", None)
        }
        Ok(r) => answer(
            StatusCode::OK,
            0,
            format!("recordings of CallUUID {call_uuid}"),
            serde_json::to_value(r).ok(),
        ),
        Err(e) => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            50301,
            format!("store: {e}"),
            None,
        ),
    }
}

/// The API's routes over the store view.
pub fn router(api: RecordingApi) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/recording", post(post_recording))
        .route("/api/v1/recording/{call_uuid}", get(get_recording))
        .with_state(api)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> RecordingMetadata {
        RecordingMetadata {
            call_uuid: "QK59HK4FS927D7FUU41G6IE468000004".into(),
            file_name: "rec-0001.opus".into(),
            start_time: 1_000,
            end_time: 2_000,
            agent_dn: None,
            conn_id: None,
        }
    }

    #[test]
    fn metadata_is_checked_field_by_field() {
        assert!(meta().validate().is_ok());
        let bad = |f: fn(&mut RecordingMetadata), word: &str| {
            let mut m = meta();
            f(&mut m);
            let e = m.validate().unwrap_err();
            assert!(e.contains(word), "{e}");
        };
        bad(|m| m.call_uuid = "short".into(), "callUuid");
        bad(|m| m.file_name = " ".into(), "empty");
        bad(|m| m.file_name = "x".repeat(81), "80");
        bad(|m| m.file_name = "../etc/passwd".into(), "path");
        bad(|m| m.end_time = 10, "before");
        let mut ok = meta();
        ok.file_name = "é".repeat(80);
        assert!(ok.validate().is_ok(), "80 characters, not bytes");
    }
}
