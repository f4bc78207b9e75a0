//! # engage-exrp: EXRP, the recording provider
//!
//! One job: when EXCP says a recorded segment ended, fetch its audio from the WebDAV transient
//! storage, encrypt it with the org's recording key, zip it with its GC metadata, upload it to
//! Genesys Cloud through a presigned URL, and delete it from WebDAV — at least once, surviving
//! an EXRP restart and a GC, S3 or WebDAV outage, with permanent failures parked in a
//! dead-letter list. What it must never do: drop an accepted segment silently, retry a
//! permanent failure forever, hold a whole recording in memory, or log a secret or a presigned
//! URL. It never imports another service.
//!
//! ```text
//! EXCP ──POST /api/v1/interaction-end──► service ──► store: exrp:job:{id} (durable)
//!                                                         │ scan, claim (SET NX + TTL)
//! WebDAV ──GET (streamed to a file)──► driver ──► package (encrypt + zip, chunked)
//!                                        │ POST /api/v2/uploads/recordings (gcex)
//!                                        └─► PUT archive (streamed) ──► GC / S3
//!                                            then DELETE from WebDAV; job ─► done | retry | dead
//! ```
//!
//! - Pure core (no tokio, clock or store): [`request`] (the interaction-end body and its
//!   validation), [`job`] (the job record and its retry plan: inputs in, plan out, time given),
//!   [`package`] (encryption format and archive over `Read`/`Write`).
//! - Driver: [`jobs`] (the job table in the store), [`webdav`], [`driver`] (key refresh, scan,
//!   claim, attempt), [`service`] (REST and composition), [`config`].
//!
//! ## The interaction-end API (our design)
//!
//! The guide names the call — EXCP "calls the EXRP REST API via HTTP Load Balancer … once for
//! each recorded call segment providing GC-metadata (recording and STA metadata) and the name
//! of the recorded audio file" — but not its path or body. Ours: `POST /api/v1/interaction-end`
//! with the JSON of [`request::InteractionEnd`] (`conversationId`, `communicationId`,
//! `segmentStart`, `segmentEnd`, `fileName` relative to the WebDAV URL, optional `callUuid`,
//! optional `sta{programId, language}`); `202` once the job is durable, `400` naming the bad
//! field, `503` when the store is down (retry). The same segment (conversation,
//! communication, file) always has the same job id, so a repeat — to the same or another
//! instance — is recognised and uploaded once. Details in [`service`].
//!
//! ## Settings
//!
//! The guide's variables: `EXRP_PORT` (8080), `EXRP_LOG_LEVEL` (trace, debug, info, warn,
//! error, fatal), `EXEC_ORG_ID`, `EXEC_TENANT_ID`, `EXEC_REDIS_HOST`, `EXEC_REDIS_PORT`,
//! `EXEC_REDIS_SECURE`, `EXEC_REDIS_PASSWORD`. `EXRP_CONFIG_SERVER_USER`, `_PASSWORD`,
//! `_APPLICATION`, `_PRIMARY_HOST`, `_PRIMARY_PORT` are accepted and unused: the guide has EXRP
//! read `recording-uploader.exec.genesysCloud` (`client_id`, `password`) and
//! `recording-uploader.exec.transientStorage` (`type`, `url`, `username`, `password`) from
//! Configuration Server; the project has no Config Server client, so EXRP takes them, like
//! EXAS and EXCP take theirs, from the store (`hybrid:recording-uploader.exec.genesysCloud`,
//! `hybrid:recording-uploader.exec.transientStorage`, published from the Config DB's
//! `hybrid_integration` by EXCS at each poll), or from
//! the variables below.
//!
//! Our additions:
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `EXRP_HOST` | address REST binds | `0.0.0.0` |
//! | `EXRP_LOG_PATH`, `EXRP_LOG_FILENAME` | log to a file in this directory | stdout |
//! | `EXEC_STORE_PATH` | embedded store file instead of Redis (single instance only) | `exec-store.redb` |
//! | `EXRP_GC_BASE_URL` or `EXRP_GC_REGION`, `EXRP_GC_AUTH_URL`, `EXRP_GC_CLIENT_ID`, `EXRP_GC_CLIENT_SECRET` | GC connection, instead of the published section | — |
//! | `EXRP_WEBDAV_URL`, `EXRP_WEBDAV_USERNAME`, `EXRP_WEBDAV_PASSWORD` | WebDAV collection (the guide's `WEBDAV_URL`, e.g. `http://webdav/recordings`) and basic auth, instead of the published section | — |
//! | `EXRP_POLL_MILLIS` | how often the job table is scanned | 1000 |
//! | `EXRP_CONCURRENCY` | segments worked on at once per instance | 4 |
//! | `EXRP_CLAIM_TTL_SECS` | a claim's lifetime: another instance takes over a job after it (must exceed the longest upload) | 600 |
//! | `EXRP_DONE_TTL_SECS` | how long an uploaded segment is remembered against repeats | 604800 |
//! | `EXRP_RETRY_INITIAL_SECS`, `EXRP_RETRY_MAX_SECS` | backoff between attempts (doubling, capped) | 2, 300 |
//! | `EXRP_MAX_AGE_SECS`, `EXRP_MAX_ATTEMPTS` | a job is parked after this age or this many failed attempts | 86400, 500 |
//! | `EXRP_KEY_REFRESH_SECS` | how often the org's recording key is fetched | 3600 |
//! | `EXRP_SIGNED_URL_TIMEOUT_SECS` | presigned URL lifetime asked for | 900 |
//! | `EXRP_DELETE_AFTER_UPLOAD` | delete the file from WebDAV after the upload | true |
//! | `EXRP_WORK_DIR` | where downloads and archives are staged (one attempt at a time, removed after) | the system temp dir |
//! | `EXRP_INSTANCE_ID` | this instance's name in claims, logs, `/status` | `HOSTNAME` |
//!
//! ## Delivery
//!
//! A job is written to the store before `202`; each attempt runs under a claim
//! (`SET NX` with `EXRP_CLAIM_TTL_SECS`), so two instances never work the same segment at
//! once and a dead instance's job is taken over when its claim expires. Transient failures
//! (WebDAV/GC/S3 unreachable or 5xx, 429, a file not in WebDAV yet, no key yet, an expired
//! presigned URL) are retried with backoff; a permanent one (GC `400`, another `4xx` from
//! WebDAV or S3) or a job past its age or attempts goes to the dead-letter list
//! (`exrp:dead:{id}`: `/status`, `exrp_dead_letters_total`, an ERROR line). The guarantee is at
//! least once: an instance that dies after the PUT and before it records the upload leaves
//! the segment to be uploaded again; a claim that expires during a slower upload lets another
//! instance start the same segment.
//!
//! ## Memory
//!
//! The recording is streamed from WebDAV to a staging file, encrypted into the archive file
//! 64 KiB at a time, hashed (MD5) and PUT from the file: memory per upload is flat in the
//! recording's size.

#![forbid(unsafe_code)]

pub mod config;
pub mod driver;
pub mod job;
pub mod jobs;
pub mod package;
pub mod request;
pub mod service;
pub mod webdav;
