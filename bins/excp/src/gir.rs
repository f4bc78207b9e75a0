//! Recording metadata pulled from Genesys Interaction Recording (GIR), the guide's second
//! recording mode: "If GIR-based solution is used, EXCP pulls metadata from the GIR RWS
//! component" when the interaction ends, instead of MCP posting it.
//!
//! Public facts (Genesys Engage documentation, cited in `bins/RECORDING.md`): RWS's ops API,
//! `GET /api/v2/ops/contact-centers/{ccid}/recordings/{id}` with HTTP Basic authentication as
//! the RWS *Ops* user; the recording id is the SIP Server CallUUID in Genesys' own sample; the
//! answer is `{"statusCode":0,"recording":{…}}` with `mediaFiles[]` (`mediaId`, `startTime`,
//! `stopTime`, `callUUID`, `parameters{…}`), times like `2015-09-10T16:58:22.000+0000`,
//! `duration`/`size` as strings; a recording not (yet) known answers 404.
//!
//! The guide's settings: `EXCP_GIR_HOST` (RWS `host:port`, HTTPS), and in
//! `hybrid_integration/conversation_provider` `gir_orgId` (the contact center id, RWS's
//! `rp.defaultccid`), `gir_user`, `gir_password`, `gir_metadata_fetch_delay` (10 min after the
//! call), `gir_metadata_fetch_interval` (1380 min between tries), `gir_metadata_fetch_duration`
//! (1440 min of trying).
//!
//! **Our design**: each media file becomes one [`RecordingMetadata`] whose file name is its
//! `mediaId` (the name MCP gave the file, which EXRP fetches from WebDAV), whose agent DN is
//! `parameters.recordDN` (else `parameters.agentId`), and which is stored in the call's
//! metadata set exactly as an MCP post would be, so the rest of the hand-off is shared.

use crate::recording::RecordingMetadata;
use engage_base::Secret;
use std::time::Duration;
use time::OffsetDateTime;

/// How to reach RWS and how long to keep asking.
#[derive(Clone, PartialEq, Eq)]
pub struct GirSettings {
    /// `https://{EXCP_GIR_HOST}` (or `http://` for a test stand-in).
    pub base_url: String,
    /// `gir_orgId`: the contact center id in RWS's paths.
    pub contact_center_id: String,
    /// `gir_user`: RWS's Ops user.
    pub user: String,
    /// `gir_password`.
    pub password: Secret,
    /// `gir_metadata_fetch_delay`: the first try this long after the segment closed (10 min).
    pub delay: Duration,
    /// `gir_metadata_fetch_interval`: between tries (1380 min).
    pub interval: Duration,
    /// `gir_metadata_fetch_duration`: how long to keep trying (1440 min).
    pub duration: Duration,
}

impl std::fmt::Debug for GirSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GirSettings")
            .field("base_url", &self.base_url)
            .field("contact_center_id", &self.contact_center_id)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("delay", &self.delay)
            .field("interval", &self.interval)
            .field("duration", &self.duration)
            .finish()
    }
}

impl GirSettings {
    /// The settings from `EXCP_GIR_HOST` and the published `conversation_provider` section;
    /// `None` (GIR not used) when the host or the contact center id is missing.
    pub fn from_section(
        host: Option<&str>,
        section: &std::collections::BTreeMap<String, String>,
    ) -> Option<GirSettings> {
        let host = host.map(str::trim).filter(|h| !h.is_empty())?;
        let get = |k: &str| {
            section
                .get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let minutes = |k: &str, default: u64| {
            Duration::from_secs(
                get(k)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(default)
                    * 60,
            )
        };
        let base_url = if host.starts_with("http://") || host.starts_with("https://") {
            host.trim_end_matches('/').to_string()
        } else {
            format!("https://{}", host.trim_end_matches('/'))
        };
        Some(GirSettings {
            base_url,
            contact_center_id: get("gir_orgId")?,
            user: get("gir_user").unwrap_or_default(),
            password: Secret::new(get("gir_password").unwrap_or_default()),
            delay: minutes("gir_metadata_fetch_delay", 10),
            interval: minutes("gir_metadata_fetch_interval", 1380),
            duration: minutes("gir_metadata_fetch_duration", 1440),
        })
    }

    /// The recording's URL for a CallUUID.
    pub fn recording_url(&self, call_uuid: &str) -> String {
        format!(
            "{}/api/v2/ops/contact-centers/{}/recordings/{}",
            self.base_url, self.contact_center_id, call_uuid
        )
    }
}

/// `2015-09-10T16:58:22.000+0000` (RWS) or RFC 3339, as epoch ms.
pub fn parse_time(s: &str) -> Option<u64> {
    let s = s.trim();
    let t = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .or_else(|| {
            // RWS writes the offset without a colon: insert one.
            let (head, tail) = s.split_at(s.len().checked_sub(5)?);
            let (sign, hm) = tail.split_at(1);
            (matches!(sign, "+" | "-") && hm.bytes().all(|b| b.is_ascii_digit()))
                .then(|| format!("{head}{sign}{}:{}", &hm[..2], &hm[2..]))
                .and_then(|fixed| {
                    OffsetDateTime::parse(&fixed, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
        })?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// The media files of an RWS recording answer (`{"statusCode":0,"recording":{…}}`, or the bare
/// recording) as metadata of `call_uuid`. Files without a `mediaId` or times are skipped (and
/// counted in the error when none is usable). Pure.
pub fn from_rws(
    call_uuid: &str,
    body: &serde_json::Value,
) -> Result<Vec<RecordingMetadata>, String> {
    let rec = body.get("recording").unwrap_or(body);
    let files = rec
        .get("mediaFiles")
        .and_then(|m| m.as_array())
        .ok_or("the RWS answer has no mediaFiles")?;
    let mut out = Vec::new();
    for f in files {
        let text = |k: &str| f.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let (Some(name), Some(start), Some(end)) = (
            text("mediaId"),
            text("startTime").and_then(|t| parse_time(&t)),
            text("stopTime").and_then(|t| parse_time(&t)),
        ) else {
            continue;
        };
        let param = |k: &str| {
            f.get("parameters")
                .and_then(|p| p.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .filter(|v| !v.is_empty())
        };
        out.push(RecordingMetadata {
            call_uuid: call_uuid.to_string(),
            file_name: name,
            start_time: start,
            end_time: end.max(start),
            agent_dn: param("recordDN").or_else(|| param("agentId")),
            conn_id: param("connId"),
        });
    }
    if out.is_empty() && !files.is_empty() {
        return Err(format!(
            "none of the {} media files of the RWS answer has a mediaId, startTime and stopTime",
            files.len()
        ));
    }
    Ok(out)
}

/// Asks RWS for the recording of `call_uuid`: `Ok(Some(files))` when found, `Ok(None)` when
/// RWS does not know it (yet: 404), `Err` otherwise (RWS unreachable, refused, unreadable).
pub async fn fetch(
    http: &reqwest::Client,
    gir: &GirSettings,
    call_uuid: &str,
) -> Result<Option<Vec<RecordingMetadata>>, String> {
    let r = http
        .get(gir.recording_url(call_uuid))
        .basic_auth(&gir.user, Some(gir.password.expose()))
        .send()
        .await
        .map_err(|e| format!("GIR RWS unreachable: {e}"))?;
    match r.status().as_u16() {
        404 => Ok(None),
        s if (200..300).contains(&s) => {
            let body: serde_json::Value = r
                .json()
                .await
                .map_err(|e| format!("GIR RWS answer is not JSON: {e}"))?;
            from_rws(call_uuid, &body).map(Some)
        }
        401 | 403 => Err(format!(
            "GIR RWS refused the Ops user ({}): check gir_user / gir_password",
            r.status()
        )),
        s => Err(format!("GIR RWS answered {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rws_times_and_the_official_sample_decode() {
        assert_eq!(
            parse_time("2015-09-10T16:58:22.000+0000"),
            Some(1_441_904_302_000)
        );
        assert_eq!(parse_time("2015-09-10T16:58:22Z"), Some(1_441_904_302_000));
        assert_eq!(
            parse_time("2015-09-10T18:58:22.000+0200"),
            Some(1_441_904_302_000)
        );
        assert_eq!(parse_time("yesterday"), None);
        let body = serde_json::json!({"statusCode": 0, "recording": {
            "id": "011AP643CSAPR4FKQGQE31TAES00029V",
            "callerPhoneNumber": "8522001",
            "startTime": "2015-09-10T16:58:22.000+0000",
            "stopTime": "2015-09-10T16:58:34.000+0000",
            "mediaFiles": [{
                "mediaId": "011AP643CSAPR4FKQGQE31TAES00029V_2015-09-10_16-58-22-006B015F-1000427D-00000001.mp3",
                "startTime": "2015-09-10T16:58:22.000+0000",
                "stopTime": "2015-09-10T16:58:34.000+0000",
                "callUUID": "011AP643CSAPR4FKQGQE31TAES00029V",
                "type": "audio/mp3", "duration": "12523", "size": "199296",
                "parameters": {"connId": "006a0269722cd93f", "recordDN": "7001", "agentId": "emp1"}
            }, {"mediaId": "no-times.mp3"}],
            "eventHistory": [], "region": "region1"
        }});
        let files = from_rws("011AP643CSAPR4FKQGQE31TAES00029V", &body).expect("decoded");
        assert_eq!(files.len(), 1, "the file without times is skipped");
        assert_eq!(files[0].start_time, 1_441_904_302_000);
        assert_eq!(files[0].end_time, 1_441_904_314_000);
        assert_eq!(files[0].agent_dn.as_deref(), Some("7001"));
        assert_eq!(files[0].conn_id.as_deref(), Some("006a0269722cd93f"));
        assert!(from_rws("x", &serde_json::json!({"recording": {}})).is_err());
        assert!(from_rws("x", &serde_json::json!({"mediaFiles": [{"mediaId": "a"}]})).is_err());
    }

    #[test]
    fn settings_come_from_the_guides_names_and_hide_the_password() {
        let section = std::collections::BTreeMap::from([
            ("gir_orgId".to_string(), "cc-1".to_string()),
            ("gir_user".to_string(), "ops".to_string()),
            ("gir_password".to_string(), "s3cret".to_string()),
            ("gir_metadata_fetch_delay".to_string(), "2".to_string()),
        ]);
        let g = GirSettings::from_section(Some("rws.example:8443"), &section).expect("on");
        assert_eq!(g.base_url, "https://rws.example:8443");
        assert_eq!(g.delay, Duration::from_secs(120));
        assert_eq!(g.interval, Duration::from_secs(1380 * 60));
        assert_eq!(g.duration, Duration::from_secs(1440 * 60));
        assert_eq!(
            g.recording_url("CALL1"),
            "https://rws.example:8443/api/v2/ops/contact-centers/cc-1/recordings/CALL1"
        );
        assert!(!format!("{g:?}").contains("s3cret"));
        assert!(GirSettings::from_section(None, &section).is_none());
        assert!(GirSettings::from_section(Some("h"), &Default::default()).is_none());
    }
}
