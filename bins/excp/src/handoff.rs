//! The hand-off of recorded segments to EXRP (the guide's "Recording Deployment": at the end of
//! an interaction EXCP calls the recording processor through `EXCP_RECORDING_PROCESSOR_PROXY_HOST`
//! / `_PORT`, the HTTP load balancer in front of the EXRP instances).
//!
//! When `recording_enabled` (`hybrid_integration/conversation_provider`, default false), each
//! agent segment the call model closes is written as a hand-off job in the store
//! (`rechandoff:{callUuid}:{communicationId}`) in the same step that stores the segment, so the
//! job survives an EXCP restart. A worker apart from ingestion matches each job with the
//! recording metadata MCP posted for the call (`POST /api/v1/recording`: same agent DN, else
//! the file whose time overlaps the segment most) and posts EXRP's interaction-end request:
//! conversation and communication ids from the call model, the segment's times, the audio file
//! name, the CallUUID, and the STA request when a program and a language are known: the
//! program mapped to the segment's origination queue in GC, else the default program
//! (`sta_default_programid`, else GC's default), re-read every 15 minutes ([`StaPrograms`]);
//! the segment's language; only where GC transcribes (the org's transcription mode and the
//! queue's `enableTranscription`, read with the programs).
//!
//! At least once, never lost: a job leaves the store only when EXRP accepted it (2xx). EXRP
//! unreachable or answering 5xx: the job stays and is tried again (jittered backoff). EXRP
//! refusing it (4xx) or no metadata within `EXCP_RECORDING_METADATA_WAIT_SECS`: the job is
//! parked (`rechandoff-dead:…`, a metric, an ERROR line), never retried forever. Both
//! instances of an HA pair hand the same segment off; EXRP derives one job id per segment, so
//! it uploads it once.
//!
//! Our design where the guide is silent: the request body (EXRP's `POST
//! /api/v1/interaction-end`, see `engage-exrp`), the metadata matching rule, the wait for
//! metadata. Until GC's STA and transcription settings were read once (or without a GC client),
//! the configured default program is requested for every segment with a language.

use crate::recording::RecordingMetadata;
use engage_callmodel::output::RecordingSegment;
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_store::schema::keys;
use engage_store::{JsonView, StoreResult};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Key prefix of the waiting hand-off jobs.
pub const JOB_PREFIX: &str = "rechandoff:";
/// Key prefix of the parked hand-off jobs.
pub const DEAD_PREFIX: &str = "rechandoff-dead:";

/// The hand-off settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffSettings {
    /// EXRP's interaction-end URL (`http://{EXCP_RECORDING_PROCESSOR_PROXY_HOST}:{_PORT}/api/v1/interaction-end`).
    pub url: String,
    /// `sta_default_programid` (or `EXCP_STA_DEFAULT_PROGRAM_ID`): the STA program requested
    /// when the segment has a language.
    pub sta_program_id: Option<String>,
    /// How long a segment waits for MCP's metadata before it is parked.
    pub metadata_wait: Duration,
    /// How often the worker looks at the waiting jobs.
    pub every: Duration,
    /// EXRP's API token (`EXCP_RECORDING_PROCESSOR_TOKEN`), sent as `Authorization: Bearer`.
    pub token: Option<engage_base::Secret>,
    /// GIR mode (`EXCP_GIR_HOST` + `gir_*`): the metadata is pulled from RWS instead of waiting
    /// for MCP's post ([`crate::gir`]).
    pub gir: Option<crate::gir::GirSettings>,
}

impl HandoffSettings {
    /// The URL of the interaction-end API behind `host:port`.
    pub fn url_for(host: &str, port: u16) -> String {
        format!("http://{host}:{port}/api/v1/interaction-end")
    }
}

/// One waiting hand-off.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandoffJob {
    /// The agent segment.
    pub segment: RecordingSegment,
    /// When it was queued, epoch ms.
    pub queued_at: u64,
    /// Why it was parked, on a parked job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked: Option<String>,
    /// GIR mode: when to ask RWS next (epoch ms) after an answer without the recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gir_next_at: Option<u64>,
}

fn job_key(seg: &RecordingSegment) -> String {
    format!("{JOB_PREFIX}{}:{}", seg.call_uuid, seg.communication_id)
}

/// Queues the hand-off of a stored segment.
pub async fn enqueue(json: &JsonView, seg: &RecordingSegment, now_ms: u64) -> StoreResult<()> {
    json.put(
        &job_key(seg),
        &HandoffJob {
            segment: seg.clone(),
            queued_at: now_ms,
            parked: None,
            gir_next_at: None,
        },
    )
    .await
}

/// The metadata file that belongs to a segment: the same agent DN if MCP said which, else the
/// one whose recording time overlaps the segment most (ties: the earlier file). Pure.
pub fn match_file<'a>(
    seg: &RecordingSegment,
    files: &'a [RecordingMetadata],
) -> Option<&'a RecordingMetadata> {
    if let Some(f) = files
        .iter()
        .find(|f| f.agent_dn.as_deref() == Some(seg.agent_dn.as_str()))
    {
        return Some(f);
    }
    let overlap = |f: &RecordingMetadata| {
        let lo = f.start_time.max(seg.start_time);
        let hi = f.end_time.min(seg.end_time);
        hi.saturating_sub(lo)
    };
    files
        .iter()
        .filter(|f| f.agent_dn.is_none() && overlap(f) > 0)
        .max_by(|a, b| {
            overlap(a)
                .cmp(&overlap(b))
                .then(b.start_time.cmp(&a.start_time))
        })
}

fn iso(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The STA program of each origination queue, as the guide's EXEC reads it from GC (refreshed
/// every 15 minutes): the program a queue is mapped to
/// (`GET /api/v2/speechandtextanalytics/programs/mappings`), else the default program
/// (`sta_default_programid`, else GC's default program of the STA settings). A segment whose
/// agent got the call without a queue gets the default program.
///
/// STA is requested only where GC transcribes: the org's transcription mode
/// (`GET /api/v2/routing/settings/transcription`: `Disabled`, `EnabledGlobally`, or
/// `EnabledQueueFlow`, then only for queues whose `enableTranscription` is on), read at the same
/// time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaPrograms {
    /// The default program.
    pub default: Option<String>,
    /// Queue id → the program mapped to it.
    pub by_queue: std::collections::HashMap<String, String>,
    /// GC's transcription switches; `None` until read (then no segment is held back).
    pub transcription: Option<Transcription>,
}

/// GC's transcription switches (org and queues).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcription {
    /// The org's mode.
    pub mode: gcex::routing::TranscriptionMode,
    /// The queues with `enableTranscription` on (what counts under `EnabledQueueFlow`).
    pub queues: std::collections::HashSet<String>,
}

impl Transcription {
    /// Whether GC transcribes a segment that came through `queue` (if any). Pure.
    pub fn transcribes(&self, queue: Option<&str>) -> bool {
        use gcex::routing::TranscriptionMode as M;
        match self.mode {
            M::EnabledGlobally => true,
            M::EnabledQueueFlow => queue.is_some_and(|q| self.queues.contains(q)),
            // Disabled, and any mode this version does not know.
            _ => false,
        }
    }
}

/// How often the program mappings are read again (the guide: every 15 minutes).
pub const STA_REFRESH: Duration = Duration::from_secs(15 * 60);

impl StaPrograms {
    /// The program for a segment that came through `queue` (if any); `None` (no STA) where GC
    /// does not transcribe. Pure.
    pub fn program_for(&self, queue: Option<&str>) -> Option<&str> {
        if self
            .transcription
            .as_ref()
            .is_some_and(|t| !t.transcribes(queue))
        {
            return None;
        }
        queue
            .and_then(|q| self.by_queue.get(q))
            .or(self.default.as_ref())
            .map(String::as_str)
    }

    /// Reads the mappings and GC's default program; `configured` (`sta_default_programid`)
    /// wins over GC's default.
    pub async fn fetch(
        gc: &gcex::GcClient,
        configured: Option<&str>,
    ) -> Result<StaPrograms, gcex::GcError> {
        let mut by_queue = std::collections::HashMap::new();
        for m in gcex::collect_all(gc.sta_program_mappings()).await? {
            for q in m.queues {
                by_queue.insert(q.id, m.program.id.clone());
            }
        }
        let default = match configured {
            Some(c) => Some(c.to_string()),
            None => gc
                .sta_settings()
                .await?
                .default_program_id()
                .map(str::to_string),
        };
        let mode = gc.transcription_settings().await?.transcription;
        let mut queues = std::collections::HashSet::new();
        if mode == gcex::routing::TranscriptionMode::EnabledQueueFlow {
            for q in gcex::collect_all(gc.queues(None)).await? {
                if q.enable_transcription == Some(true) {
                    queues.insert(q.id);
                }
            }
        }
        Ok(StaPrograms {
            default,
            by_queue,
            transcription: Some(Transcription { mode, queues }),
        })
    }
}

/// EXRP's interaction-end body for a segment and its file. Pure.
pub fn request_body(
    seg: &RecordingSegment,
    file: &RecordingMetadata,
    sta_program_id: Option<&str>,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "conversationId": seg.conversation_id.to_string(),
        "communicationId": seg.communication_id.to_string(),
        "segmentStart": iso(seg.start_time),
        "segmentEnd": iso(seg.end_time.max(seg.start_time)),
        "fileName": file.file_name,
        "callUuid": seg.call_uuid,
    });
    if let (Some(program), Some(language)) = (sta_program_id, seg.language.as_deref()) {
        body["sta"] = serde_json::json!({ "programId": program, "language": language });
    }
    body
}

/// GIR mode: asks RWS for the call's recording once the fetch delay after the segment closed
/// has passed (and then every fetch interval, for the fetch duration), stores what it finds
/// in the call's metadata set like an MCP post, and returns it. `Err` is the attempt's outcome
/// when there is nothing yet (or nothing ever).
async fn pull_from_gir(
    gir: &crate::gir::GirSettings,
    json: &JsonView,
    http: &reqwest::Client,
    job: &HandoffJob,
) -> Result<Vec<RecordingMetadata>, Outcome> {
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    let now = now_ms();
    let due = job
        .gir_next_at
        .unwrap_or_else(|| job.queued_at.saturating_add(ms(gir.delay)));
    if now < due {
        return Err(Outcome::Later(
            "waiting to ask GIR RWS (gir_metadata_fetch_delay)".into(),
        ));
    }
    let why = match crate::gir::fetch(http, gir, &job.segment.call_uuid).await {
        Ok(Some(found)) => {
            for f in &found {
                if let Err(e) = json
                    .set_add(
                        &keys::recording_metadata(&f.call_uuid),
                        f,
                        Some(crate::recording::DEFAULT_TTL),
                    )
                    .await
                {
                    return Err(Outcome::Later(format!("store: {e}")));
                }
            }
            return Ok(found);
        }
        Ok(None) => "GIR RWS does not know the recording yet (404)".to_string(),
        Err(e) => e,
    };
    let end = job
        .queued_at
        .saturating_add(ms(gir.delay))
        .saturating_add(ms(gir.duration));
    if now >= end {
        return Err(Outcome::Park(format!(
            "no recording from GIR RWS within gir_metadata_fetch_duration: {why}"
        )));
    }
    let mut next = job.clone();
    next.gir_next_at = Some(now.saturating_add(ms(gir.interval)).min(end));
    if let Err(e) = json.put(&job_key(&job.segment), &next).await {
        tracing::warn!(error = %e, "next GIR try not stored; the job is tried at the next round");
    }
    tracing::info!(call_uuid = %job.segment.call_uuid, reason = %why, "recording metadata not in GIR yet; asking again after gir_metadata_fetch_interval");
    Err(Outcome::Later(why))
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// EXRP accepted it: the job is done.
    Delivered,
    /// Not yet (no metadata yet, EXRP unreachable or 5xx): try again later.
    Later(String),
    /// Never (EXRP refused it, or no metadata came in time): park it.
    Park(String),
}

/// The hand-off worker: runs until the task is aborted. The STA program is the configured
/// default for every segment ([`run_with_programs`] maps queues to programs).
pub async fn run(settings: HandoffSettings, json: JsonView, health: Health, metrics: Metrics) {
    run_with_programs(settings, json, health, metrics, None).await
}

/// [`run`], reading the STA program of each origination queue from GC through `gc` every
/// [`STA_REFRESH`] ([`StaPrograms`]).
pub async fn run_with_programs(
    settings: HandoffSettings,
    json: JsonView,
    health: Health,
    metrics: Metrics,
    gc: Option<gcex::GcClient>,
) {
    let mut programs = StaPrograms {
        default: settings.sta_program_id.clone(),
        by_queue: std::collections::HashMap::new(),
        transcription: None,
    };
    let mut programs_at: Option<tokio::time::Instant> = None;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default();
    let mut backoff =
        engage_base::Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    let mut jitter = engage_base::Jitter::new();
    let mut wait = settings.every;
    loop {
        tokio::time::sleep(wait).await;
        wait = settings.every;
        if let Some(gc) = &gc
            && programs_at.is_none_or(|t| t.elapsed() >= STA_REFRESH)
        {
            programs_at = Some(tokio::time::Instant::now());
            match StaPrograms::fetch(gc, settings.sta_program_id.as_deref()).await {
                Ok(p) => {
                    tracing::info!(queues = p.by_queue.len(), default = ?p.default, "STA programs read from GC");
                    programs = p;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "STA program mappings not read; keeping the last ones")
                }
            }
        }
        let jobs = match json.scan::<HandoffJob>(JOB_PREFIX).await {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "recording hand-offs not readable; retrying");
                continue;
            }
        };
        metrics.set(
            "excp_recording_handoffs_waiting",
            "Recorded segments waiting to be handed to EXRP.",
            &[],
            jobs.len() as f64,
        );
        for (rest, job) in jobs {
            let key = format!("{JOB_PREFIX}{rest}");
            let outcome = attempt(&settings, &programs, &json, &http, &job).await;
            match outcome {
                Outcome::Delivered => {
                    backoff.reset();
                    health.up("recordingProcessor", "hand-off accepted");
                    metrics.inc(
                        "excp_recording_handoffs_total",
                        "Recorded segments handed to EXRP, by outcome.",
                        &[("outcome", "delivered")],
                    );
                    if let Err(e) = json.delete(&key).await {
                        tracing::warn!(error = %e, %key, "hand-off done but not removed; EXRP de-duplicates the repeat");
                    }
                }
                Outcome::Later(why) => {
                    if why.starts_with("EXRP") {
                        health.down("recordingProcessor", why.clone());
                        wait = backoff.next_delay(jitter.sample());
                        tracing::warn!(reason = %why, retry_in_ms = wait.as_millis() as u64, "recording hand-off kept for later");
                        break;
                    }
                }
                Outcome::Park(why) => {
                    tracing::error!(call_uuid = %job.segment.call_uuid, communication_id = %job.segment.communication_id, reason = %why, "recording hand-off parked");
                    metrics.inc(
                        "excp_recording_handoffs_total",
                        "Recorded segments handed to EXRP, by outcome.",
                        &[("outcome", "parked")],
                    );
                    let mut parked = job.clone();
                    parked.parked = Some(why);
                    let dead = format!("{DEAD_PREFIX}{rest}");
                    if json.put(&dead, &parked).await.is_ok() {
                        let _ = json.delete(&key).await;
                    }
                }
            }
        }
    }
}

async fn attempt(
    settings: &HandoffSettings,
    programs: &StaPrograms,
    json: &JsonView,
    http: &reqwest::Client,
    job: &HandoffJob,
) -> Outcome {
    let files = match crate::recording::metadata_for(json, &job.segment.call_uuid).await {
        Ok(f) => f,
        Err(e) => return Outcome::Later(format!("store: {e}")),
    };
    let mut files = files;
    if match_file(&job.segment, &files).is_none()
        && let Some(gir) = &settings.gir
    {
        match pull_from_gir(gir, json, http, job).await {
            Ok(found) => files = found,
            Err(outcome) => return outcome,
        }
    }
    let Some(file) = match_file(&job.segment, &files) else {
        if settings.gir.is_some() {
            return Outcome::Park(
                "GIR RWS has the recording but no media file matches this agent's segment".into(),
            );
        }
        let age = now_ms().saturating_sub(job.queued_at);
        return if age > u64::try_from(settings.metadata_wait.as_millis()).unwrap_or(u64::MAX) {
            Outcome::Park(format!(
                "no recording metadata for this segment within {} s (MCP posts it to /api/v1/recording)",
                settings.metadata_wait.as_secs()
            ))
        } else {
            Outcome::Later("waiting for the recording metadata".into())
        };
    };
    let program = programs.program_for(job.segment.origination_queue_id.as_deref());
    let body = request_body(&job.segment, file, program);
    let mut request = http.post(&settings.url).json(&body);
    if let Some(t) = settings.token.as_ref().filter(|t| !t.is_empty()) {
        request = request.bearer_auth(t.expose());
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => Outcome::Delivered,
        Ok(r) if r.status().is_client_error() => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            Outcome::Park(format!("EXRP refused it ({status}): {text}"))
        }
        Ok(r) => Outcome::Later(format!("EXRP answered {}", r.status())),
        Err(e) => Outcome::Later(format!("EXRP unreachable: {e}")),
    }
}

use crate::service::now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    /// The guide's STA program rules: the queue's mapped program, else the default; a segment
    /// without a queue gets the default; none at all: no STA request.
    #[test]
    fn the_origination_queue_picks_the_sta_program() {
        let mut p = StaPrograms {
            default: Some("prog-default".into()),
            by_queue: std::collections::HashMap::from([("q-wealth".into(), "prog-wealth".into())]),
            transcription: None,
        };
        assert_eq!(p.program_for(Some("q-wealth")), Some("prog-wealth"));
        assert_eq!(p.program_for(Some("q-support")), Some("prog-default"));
        assert_eq!(p.program_for(None), Some("prog-default"));
        assert_eq!(StaPrograms::default().program_for(Some("q-wealth")), None);
        // GC's transcription switches: STA only where GC transcribes.
        use gcex::routing::TranscriptionMode as M;
        let with = |p: &mut StaPrograms, mode, queues: &[&str]| {
            p.transcription = Some(Transcription {
                mode,
                queues: queues.iter().map(|q| q.to_string()).collect(),
            });
        };
        with(&mut p, M::EnabledGlobally, &[]);
        assert_eq!(p.program_for(Some("q-support")), Some("prog-default"));
        assert_eq!(p.program_for(None), Some("prog-default"));
        with(&mut p, M::Disabled, &["q-wealth"]);
        assert_eq!(p.program_for(Some("q-wealth")), None);
        assert_eq!(p.program_for(None), None);
        with(&mut p, M::EnabledQueueFlow, &["q-wealth"]);
        assert_eq!(p.program_for(Some("q-wealth")), Some("prog-wealth"));
        assert_eq!(p.program_for(Some("q-support")), None);
        assert_eq!(p.program_for(None), None, "no queue: no queue switch is on");
    }

    /// The mappings and GC's default program come from GC's STA API; a configured
    /// `sta_default_programid` wins over GC's default.
    #[tokio::test]
    async fn sta_programs_are_read_from_gc() {
        let emu = gcex::emulator::Emulator::start(
            gcex::emulator::EmulatorConfig::new("sta", "sta-secret")
                .with_rate_limit(0, Duration::from_secs(60)),
        )
        .await
        .unwrap();
        let gc = gcex::GcClient::new(emu.client_config()).unwrap();
        let queue = gc
            .create_queue(&gcex::routing::QueueRequest {
                name: "Wealth".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let program = gc
            .create_sta_program(&gcex::sta::ProgramRequest {
                name: "Wealth topics".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        gc.set_sta_program_mappings(
            &program.id,
            &gcex::sta::ProgramMappingsRequest {
                queue_ids: vec![queue.id.clone()],
                flow_ids: Vec::new(),
            },
        )
        .await
        .unwrap();
        let fallback = gc
            .create_sta_program(&gcex::sta::ProgramRequest {
                name: "Everything else".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        gc.update_sta_settings(&gcex::sta::StaSettingsRequest {
            default_program_id: Some(fallback.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
        // The org does not transcribe (the emulator's default, as a new GC org): no STA.
        let p = StaPrograms::fetch(&gc, None).await.unwrap();
        assert_eq!(p.program_for(Some(&queue.id)), None);
        let mut t = gc.transcription_settings().await.unwrap();
        t.transcription = gcex::routing::TranscriptionMode::EnabledQueueFlow;
        gc.set_transcription_settings(&t).await.unwrap();
        let p = StaPrograms::fetch(&gc, None).await.unwrap();
        assert_eq!(
            p.program_for(Some(&queue.id)),
            None,
            "the queue's switch is off"
        );
        let transcribed = gc
            .create_queue(&gcex::routing::QueueRequest {
                name: "Transcribed".into(),
                enable_transcription: Some(true),
                ..Default::default()
            })
            .await
            .unwrap();
        let p = StaPrograms::fetch(&gc, None).await.unwrap();
        assert_eq!(
            p.program_for(Some(&transcribed.id)),
            Some(fallback.id.as_str())
        );
        assert_eq!(p.program_for(Some(&queue.id)), None);
        t.transcription = gcex::routing::TranscriptionMode::EnabledGlobally;
        gc.set_transcription_settings(&t).await.unwrap();
        let p = StaPrograms::fetch(&gc, None).await.unwrap();
        assert_eq!(p.program_for(Some(&queue.id)), Some(program.id.as_str()));
        assert_eq!(p.program_for(None), Some(fallback.id.as_str()));
        let p = StaPrograms::fetch(&gc, Some("configured")).await.unwrap();
        assert_eq!(p.program_for(Some("other")), Some("configured"));
        assert_eq!(p.program_for(Some(&queue.id)), Some(program.id.as_str()));
    }

    fn seg(dn: &str, start: u64, end: u64) -> RecordingSegment {
        serde_json::from_value(serde_json::json!({
            "conversationId": "00000000-0000-4000-8000-000000000001",
            "communicationId": "00000000-0000-4000-8000-000000000002",
            "userId": "u1",
            "agentDn": dn,
            "callUuid": "CALL1",
            "connId": "006b02a3c8a1b001",
            "startTime": start,
            "endTime": end,
            "language": "en-US"
        }))
        .unwrap()
    }

    fn file(name: &str, dn: Option<&str>, start: u64, end: u64) -> RecordingMetadata {
        serde_json::from_value(serde_json::json!({
            "callUuid": "CALL1",
            "fileName": name,
            "startTime": start,
            "endTime": end,
            "agentDn": dn,
        }))
        .unwrap()
    }

    #[test]
    fn the_agents_own_file_wins_else_the_largest_overlap() {
        let s = seg("7001", 1_000, 5_000);
        let files = [
            file("a.wav", None, 0, 2_000),
            file("b.wav", None, 1_500, 4_800),
            file("c.wav", Some("7002"), 1_000, 5_000),
        ];
        assert_eq!(match_file(&s, &files).unwrap().file_name, "b.wav");
        let mine = [
            file("x.wav", None, 1_000, 5_000),
            file("mine.wav", Some("7001"), 0, 1),
        ];
        assert_eq!(match_file(&s, &mine).unwrap().file_name, "mine.wav");
        assert!(match_file(&s, &[file("late.wav", None, 6_000, 7_000)]).is_none());
        assert!(match_file(&s, &[]).is_none());
    }

    #[test]
    fn the_body_carries_the_segment_the_file_and_sta_when_known() {
        let s = seg("7001", 1_764_000_000_000, 1_764_000_060_000);
        let f = file("rec.wav", Some("7001"), 0, 0);
        let b = request_body(&s, &f, Some("prog-1"));
        assert_eq!(b["conversationId"], "00000000-0000-4000-8000-000000000001");
        assert_eq!(b["fileName"], "rec.wav");
        assert_eq!(b["segmentStart"], "2025-11-24T16:00:00Z");
        assert_eq!(b["segmentEnd"], "2025-11-24T16:01:00Z");
        assert_eq!(b["sta"]["programId"], "prog-1");
        assert_eq!(b["sta"]["language"], "en-US");
        assert!(request_body(&s, &f, None).get("sta").is_none());
        // The body is what EXRP's own parser accepts.
        let _ = OffsetDateTime::parse(b["segmentStart"].as_str().unwrap(), &Rfc3339).unwrap();
    }
}
