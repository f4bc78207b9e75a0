//! The interaction-end request (pure core): what EXCP posts to EXRP once per recorded segment,
//! and its validation.
//!
//! The guide names the call ("EXCP … calls the EXRP REST API via HTTP Load Balancer. This
//! interaction-end API is called once for each recorded call segment providing GC-metadata
//! (recording and STA metadata) and the name of the recorded audio file for this segment") but
//! not its path or body: both are our design, documented in the crate doc.
//!
//! ```json
//! {
//!   "conversationId": "0f8fad5b-d9cb-469f-a165-70867728950e",
//!   "communicationId": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
//!   "segmentStart": "2024-05-01T10:00:00Z",
//!   "segmentEnd": "2024-05-01T10:03:12.250Z",
//!   "fileName": "0001A2B3C4D5E6F7_agent1.opus",
//!   "callUuid": "0001A2B3C4D5E6F7",
//!   "sta": { "programId": "00000000-0000-4000-8000-0000000000aa", "language": "en-US" }
//! }
//! ```

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The longest recording file name GC accepts (the guide: "restricted to 80 characters").
pub const MAX_FILE_NAME: usize = 80;
/// The longest relative path (directories + file name) accepted under the WebDAV URL.
pub const MAX_PATH: usize = 255;

/// The body of `POST /api/v1/recordings/interaction-end`, as sent (not yet validated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct InteractionEnd {
    /// The GC conversation id of the call (a UUID).
    pub conversation_id: String,
    /// The GC communication id of the recorded party's segment (a UUID).
    pub communication_id: String,
    /// When the segment began, RFC 3339.
    pub segment_start: String,
    /// When the segment ended, RFC 3339.
    pub segment_end: String,
    /// The audio file's path relative to the WebDAV transient storage URL (`recdest2`): one or
    /// more `/`-separated segments of `A–Z a–z 0–9 . _ - ~`; the file name at most 80 characters.
    pub file_name: String,
    /// The Engage CallUUID, for logs and the archive's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_uuid: Option<String>,
    /// Speech and text analytics for this segment; absent: no STA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sta: Option<StaRequest>,
}

/// The STA request of a segment: the program and the language (EXCP decides both from the
/// origination queue, the call's user data and the org defaults).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StaRequest {
    /// The STA program id (a UUID).
    pub program_id: String,
    /// The recording language: ISO 639-1 + `-` + ISO 3166-1 alpha-2, e.g. `en-US`.
    pub language: String,
}

impl StaRequest {
    /// A request for `program_id` in `language`.
    pub fn new(program_id: impl Into<String>, language: impl Into<String>) -> StaRequest {
        StaRequest {
            program_id: program_id.into(),
            language: language.into(),
        }
    }
}

impl InteractionEnd {
    /// A request without a CallUUID or STA.
    pub fn new(
        conversation_id: impl Into<String>,
        communication_id: impl Into<String>,
        segment_start: impl Into<String>,
        segment_end: impl Into<String>,
        file_name: impl Into<String>,
    ) -> InteractionEnd {
        InteractionEnd {
            conversation_id: conversation_id.into(),
            communication_id: communication_id.into(),
            segment_start: segment_start.into(),
            segment_end: segment_end.into(),
            file_name: file_name.into(),
            call_uuid: None,
            sta: None,
        }
    }

    /// With the Engage CallUUID.
    pub fn with_call_uuid(mut self, call_uuid: impl Into<String>) -> InteractionEnd {
        self.call_uuid = Some(call_uuid.into());
        self
    }

    /// With an STA request.
    pub fn with_sta(mut self, sta: StaRequest) -> InteractionEnd {
        self.sta = Some(sta);
        self
    }

    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<Segment, RequestError> {
        let conversation_id = uuid_field("conversationId", &self.conversation_id)?;
        let communication_id = uuid_field("communicationId", &self.communication_id)?;
        let start = time_field("segmentStart", &self.segment_start)?;
        let end = time_field("segmentEnd", &self.segment_end)?;
        if end < start {
            return Err(RequestError::invalid(
                "segmentEnd",
                "is before segmentStart",
            ));
        }
        validate_path(&self.file_name)?;
        if let Some(c) = &self.call_uuid
            && (c.len() > 64 || c.chars().any(|ch| ch.is_control()))
        {
            return Err(RequestError::invalid(
                "callUuid",
                "must be at most 64 printable characters",
            ));
        }
        let sta = match &self.sta {
            None => None,
            Some(s) => {
                let program_id = uuid_field("sta.programId", &s.program_id)?;
                if !is_language_code(&s.language) {
                    return Err(RequestError::invalid(
                        "sta.language",
                        "must be a language code such as en-US (ISO 639-1, '-', ISO 3166-1 alpha-2)",
                    ));
                }
                Some(StaRequest::new(program_id, s.language.clone()))
            }
        };
        Ok(Segment {
            conversation_id,
            communication_id,
            start,
            end,
            file_name: self.file_name.clone(),
            call_uuid: self.call_uuid.clone(),
            sta,
        })
    }
}

/// A validated segment: ids as lower-case UUIDs, times parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Segment {
    /// GC conversation id (lower-case UUID).
    pub conversation_id: String,
    /// GC communication id (lower-case UUID).
    pub communication_id: String,
    /// Segment start.
    pub start: OffsetDateTime,
    /// Segment end.
    pub end: OffsetDateTime,
    /// Path under the WebDAV URL.
    pub file_name: String,
    /// Engage CallUUID.
    pub call_uuid: Option<String>,
    /// STA request (program id lower-case).
    pub sta: Option<StaRequest>,
}

impl Segment {
    /// The job id: the same segment (conversation, communication, file) always gets the same id,
    /// whichever instance receives it, so a repeated request is recognised (UUID v5).
    pub fn job_id(&self) -> String {
        job_id(
            &self.conversation_id,
            &self.communication_id,
            &self.file_name,
        )
    }

    /// The file name of the archive uploaded to GC: `{conversationId}_{communicationId}.zip`
    /// (77 characters: within GC's 80).
    pub fn upload_file_name(&self) -> String {
        format!("{}_{}.zip", self.conversation_id, self.communication_id)
    }

    /// The last segment of the WebDAV path (the recording's own file name).
    pub fn audio_name(&self) -> &str {
        self.file_name.rsplit('/').next().unwrap_or(&self.file_name)
    }
}

/// The job id of a segment (UUID v5 over conversation, communication and file).
pub fn job_id(conversation_id: &str, communication_id: &str, file_name: &str) -> String {
    const NS: uuid::Uuid = uuid::Uuid::from_u128(0x6f1d_2b5e_9a41_4c3e_8d2f_5e0a_7b61_c4d9);
    let name = format!("{conversation_id}|{communication_id}|{file_name}");
    uuid::Uuid::new_v5(&NS, name.as_bytes()).to_string()
}

/// Why a request was refused (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The body is not the JSON object described in the crate doc.
    #[error("the body is not a valid interaction-end request: {0}")]
    Malformed(String),
    /// A field is missing or wrong.
    #[error("{field} {reason}")]
    Invalid {
        /// The JSON field (dotted path).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl RequestError {
    fn invalid(field: &'static str, reason: impl Into<String>) -> RequestError {
        RequestError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// Parses and validates a request body.
pub fn parse(body: &[u8]) -> Result<Segment, RequestError> {
    let req: InteractionEnd =
        serde_json::from_slice(body).map_err(|e| RequestError::Malformed(e.to_string()))?;
    req.validate()
}

fn uuid_field(field: &'static str, v: &str) -> Result<String, RequestError> {
    if v.trim().is_empty() {
        return Err(RequestError::invalid(field, "is required"));
    }
    uuid::Uuid::try_parse(v.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| RequestError::invalid(field, "must be a UUID"))
}

fn time_field(field: &'static str, v: &str) -> Result<OffsetDateTime, RequestError> {
    if v.trim().is_empty() {
        return Err(RequestError::invalid(field, "is required"));
    }
    OffsetDateTime::parse(v.trim(), &Rfc3339).map_err(|_| {
        RequestError::invalid(
            field,
            "must be an RFC 3339 time such as 2024-05-01T10:00:00Z",
        )
    })
}

fn validate_path(path: &str) -> Result<(), RequestError> {
    const F: &str = "fileName";
    if path.is_empty() {
        return Err(RequestError::invalid(F, "is required"));
    }
    if path.len() > MAX_PATH {
        return Err(RequestError::invalid(
            F,
            format!("is longer than {MAX_PATH} characters"),
        ));
    }
    let segments: Vec<&str> = path.split('/').collect();
    for s in &segments {
        if s.is_empty() || *s == "." || *s == ".." {
            return Err(RequestError::invalid(
                F,
                "must be a relative path without empty, '.' or '..' segments",
            ));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~'))
        {
            return Err(RequestError::invalid(
                F,
                "may hold only A-Z a-z 0-9 . _ - ~ and '/' between directories",
            ));
        }
    }
    let name = segments.last().copied().unwrap_or(path);
    if name.len() > MAX_FILE_NAME {
        return Err(RequestError::invalid(
            F,
            format!("the file name is longer than {MAX_FILE_NAME} characters (GC's limit)"),
        ));
    }
    Ok(())
}

/// `ll-CC`: two lower-case letters, `-`, two upper-case letters.
pub fn is_language_code(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 5
        && b[0].is_ascii_lowercase()
        && b[1].is_ascii_lowercase()
        && b[2] == b'-'
        && b[3].is_ascii_uppercase()
        && b[4].is_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CONV: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const COMM: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    const PROG: &str = "00000000-0000-4000-8000-0000000000aa";

    fn good() -> InteractionEnd {
        InteractionEnd::new(
            CONV,
            COMM,
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:03:12.250Z",
            "2024/05/call-1_agent1.opus",
        )
        .with_call_uuid("0001A2B3C4D5E6F7")
        .with_sta(StaRequest::new(PROG, "en-US"))
    }

    fn field_of(e: RequestError) -> &'static str {
        match e {
            RequestError::Invalid { field, .. } => field,
            RequestError::Malformed(_) => "<malformed>",
        }
    }

    #[test]
    fn a_good_request_validates() {
        let s = good().validate().expect("valid");
        assert_eq!(s.conversation_id, CONV);
        assert_eq!(s.audio_name(), "call-1_agent1.opus");
        assert_eq!(s.upload_file_name().len(), 77);
        assert!(s.upload_file_name().len() <= MAX_FILE_NAME);
        assert_eq!(s.sta.as_ref().unwrap().language, "en-US");
        // Upper-case UUIDs are accepted and normalised; the job id does not change.
        let mut upper = good();
        upper.conversation_id = CONV.to_uppercase();
        let u = upper.validate().unwrap();
        assert_eq!(u.conversation_id, CONV);
        assert_eq!(u.job_id(), s.job_id());
    }

    #[test]
    fn every_bad_field_is_named() {
        type Change = Box<dyn Fn(&mut InteractionEnd)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "conversationId",
                Box::new(|r| r.conversation_id = "".into()),
            ),
            (
                "conversationId",
                Box::new(|r| r.conversation_id = "call-1".into()),
            ),
            (
                "communicationId",
                Box::new(|r| r.communication_id = "x".into()),
            ),
            (
                "segmentStart",
                Box::new(|r| r.segment_start = "yesterday".into()),
            ),
            (
                "segmentEnd",
                Box::new(|r| r.segment_end = "2024-05-01T09:00:00Z".into()),
            ),
            ("fileName", Box::new(|r| r.file_name = "".into())),
            (
                "fileName",
                Box::new(|r| r.file_name = "../etc/passwd".into()),
            ),
            ("fileName", Box::new(|r| r.file_name = "/abs.opus".into())),
            ("fileName", Box::new(|r| r.file_name = "a//b.opus".into())),
            ("fileName", Box::new(|r| r.file_name = "sp ace.opus".into())),
            ("fileName", Box::new(|r| r.file_name = "q?x=1.opus".into())),
            (
                "fileName",
                Box::new(|r| r.file_name = format!("{}.opus", "a".repeat(80))),
            ),
            ("callUuid", Box::new(|r| r.call_uuid = Some("a\nb".into()))),
            (
                "sta.programId",
                Box::new(|r| r.sta = Some(StaRequest::new("p", "en-US"))),
            ),
            (
                "sta.language",
                Box::new(|r| r.sta = Some(StaRequest::new(PROG, "english"))),
            ),
            (
                "sta.language",
                Box::new(|r| r.sta = Some(StaRequest::new(PROG, "EN-us"))),
            ),
        ];
        for (field, change) in cases {
            let mut r = good();
            change(&mut r);
            let err = r.validate().expect_err(field);
            assert!(!err.to_string().is_empty());
            assert_eq!(field_of(err), field, "{r:?}");
        }
        // 80 characters exactly is fine.
        let mut r = good();
        r.file_name = format!("{}.opus", "a".repeat(75));
        assert!(r.validate().is_ok());
    }

    #[test]
    fn malformed_bodies_are_refused_without_panicking() {
        for body in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            b"{\"conversationId\":1}",
            &[0xff, 0xfe],
        ] {
            assert!(matches!(parse(body), Err(RequestError::Malformed(_))));
        }
        let ok = serde_json::to_vec(&good()).unwrap();
        assert!(parse(&ok).is_ok());
        // Unknown fields are ignored (EXCP may send more than we read).
        let mut v: serde_json::Value = serde_json::from_slice(&ok).unwrap();
        v["futureField"] = serde_json::json!(true);
        assert!(parse(&serde_json::to_vec(&v).unwrap()).is_ok());
    }

    #[test]
    fn job_ids_differ_per_segment() {
        let a = job_id(CONV, COMM, "a.opus");
        assert_eq!(a, job_id(CONV, COMM, "a.opus"));
        assert_ne!(a, job_id(CONV, COMM, "b.opus"));
        assert_ne!(a, job_id(COMM, CONV, "a.opus"));
    }

    fn arb_request() -> impl Strategy<Value = InteractionEnd> {
        let seg = "[A-Za-z0-9._~-]{1,20}";
        (
            any::<u128>(),
            any::<u128>(),
            0i64..4_000_000_000,
            0i64..100_000,
            proptest::collection::vec(seg, 1..4),
            proptest::option::of("[A-F0-9]{16}"),
            proptest::option::of((any::<u128>(), "[a-z]{2}-[A-Z]{2}")),
        )
            .prop_map(|(c, m, start, len, path, call, sta)| {
                let t = |s: i64| {
                    OffsetDateTime::from_unix_timestamp(s)
                        .unwrap()
                        .format(&Rfc3339)
                        .unwrap()
                };
                let mut r = InteractionEnd::new(
                    uuid::Uuid::from_u128(c).to_string(),
                    uuid::Uuid::from_u128(m).to_string(),
                    t(start),
                    t(start + len),
                    path.join("/"),
                );
                r.call_uuid = call;
                r.sta = sta.map(|(p, l)| StaRequest::new(uuid::Uuid::from_u128(p).to_string(), l));
                r
            })
    }

    proptest! {
        /// The JSON EXCP sends reads back as the same request, and a valid request stays valid
        /// through the wire.
        #[test]
        fn request_json_round_trips(r in arb_request()) {
            let body = serde_json::to_vec(&r).unwrap();
            let back: InteractionEnd = serde_json::from_slice(&body).unwrap();
            prop_assert_eq!(&back, &r);
            let direct = r.validate();
            let via_wire = parse(&body);
            prop_assert_eq!(direct.is_ok(), via_wire.is_ok());
            if let (Ok(a), Ok(b)) = (direct, via_wire) {
                prop_assert_eq!(a.job_id(), b.job_id());
            }
        }

        /// Arbitrary bytes never panic the parser.
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&body);
        }
    }
}
