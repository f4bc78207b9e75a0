//! EXRP settings from the environment (the table is in the crate doc).

use crate::job::RetryPlan;
use engage_ops::config::{CommonConfig, ConfigError, EnvReader, GcEnv, Lookup};
use engage_ops::logging::LogConfig;
use engage_store::StoreSettings;
use std::path::PathBuf;
use std::time::Duration;

/// Every variable [`ExrpConfig::read`] reads: `exrp --help`, `--check-config` and the
/// redaction of secrets come from it (a test fails when the reader and it disagree).
pub static SETTINGS: engage_ops::settings::ServiceSettings = {
    use engage_ops::config::{COMMON_SETTINGS, STORE_SETTINGS};
    use engage_ops::settings::{ServiceSettings, Setting, SettingGroup};
    ServiceSettings::new(
        "exrp",
        "EX Engage Connector Recording Provider (recordings from WebDAV to Genesys Cloud)",
        &[
            SettingGroup::new(
                "EXRP",
                &[
                    Setting::guide(
                        "EXRP_PORT",
                        "REST port (interaction end, /health, /status, /metrics)",
                    )
                    .default_value("8080"),
                    Setting::ours("EXRP_HOST", "address the REST endpoint binds")
                        .default_value("0.0.0.0"),
                    Setting::ours(
                        "EXRP_API_TOKEN",
                        "when set, the interaction-end API needs Authorization: Bearer <token> (EXCP_RECORDING_PROCESSOR_TOKEN on EXCP)",
                    )
                    .secret(),
                    Setting::ours(
                        "EXRP_WEBDAV_URL",
                        "the WebDAV transient storage's collection URL (default: the published recording-uploader.exec.transientStorage section)",
                    ),
                    Setting::ours("EXRP_WEBDAV_USERNAME", "WebDAV basic-auth user"),
                    Setting::ours("EXRP_WEBDAV_PASSWORD", "WebDAV basic-auth password").secret(),
                    Setting::guide(
                        "EXRP_CONFIG_SERVER_USER",
                        "accepted, unused (no Config Server client)",
                    ),
                    Setting::guide("EXRP_CONFIG_SERVER_PASSWORD", "accepted, unused").secret(),
                    Setting::guide("EXRP_CONFIG_SERVER_APPLICATION", "accepted, unused"),
                    Setting::guide("EXRP_CONFIG_SERVER_PRIMARY_HOST", "accepted, unused"),
                    Setting::guide("EXRP_CONFIG_SERVER_PRIMARY_PORT", "accepted, unused"),
                    Setting::ours("EXRP_POLL_MILLIS", "how often due jobs are looked for, ms")
                        .default_value("1000"),
                    Setting::ours(
                        "EXRP_CLAIM_TTL_SECS",
                        "how long an instance's claim on a job holds",
                    ),
                    Setting::ours(
                        "EXRP_DONE_TTL_SECS",
                        "how long a finished job's mark is kept",
                    ),
                    Setting::ours("EXRP_RETRY_INITIAL_SECS", "first retry delay"),
                    Setting::ours("EXRP_RETRY_MAX_SECS", "longest retry delay"),
                    Setting::ours("EXRP_MAX_AGE_SECS", "a job older than this is parked"),
                    Setting::ours("EXRP_MAX_ATTEMPTS", "attempts before a job is parked"),
                    Setting::ours(
                        "EXRP_KEY_REFRESH_SECS",
                        "how often the org's recording key is read again",
                    ),
                    Setting::ours("EXRP_CONCURRENCY", "jobs worked on at once (1-64)"),
                    Setting::ours(
                        "EXRP_SIGNED_URL_TIMEOUT_SECS",
                        "presigned upload URL lifetime asked of GC (1-604800)",
                    ),
                    Setting::ours(
                        "EXRP_DELETE_AFTER_UPLOAD",
                        "delete the WebDAV file once uploaded",
                    )
                    .default_value("true"),
                    Setting::ours("EXRP_WORK_DIR", "directory for the files being packaged"),
                    Setting::ours("EXRP_INSTANCE_ID", "this instance's name in job claims")
                        .default_value("the host name"),
                ],
            ),
            COMMON_SETTINGS,
            STORE_SETTINGS,
            SettingGroup::new(
                "GC connection (ours; default: the published recording-uploader.exec.genesysCloud section)",
                engage_ops::gc_env_settings!("EXRP"),
            ),
            SettingGroup::new("EXRP logging", &LOG_NAMES),
            engage_ops::logging::LOG_SETTINGS,
        ],
    )
};

/// EXRP's own logging variables (the guide's `EXRP_LOG_LEVEL`; path and file name as for the
/// other services), read through engage-ops' guide logging table.
pub const LOG_NAMES: [engage_ops::settings::Setting; 3] = [
    engage_ops::settings::Setting::guide("EXRP_LOG_LEVEL", engage_ops::logging::LEVEL_HELP)
        .default_value("info"),
    engage_ops::settings::Setting::ours("EXRP_LOG_PATH", engage_ops::logging::PATH_HELP)
        .default_value("(stdout only)"),
    engage_ops::settings::Setting::ours("EXRP_LOG_FILENAME", engage_ops::logging::FILE_NAME_HELP)
        .default_value("exrp.log")
        .aliases(&["EXRP_LOG_FILE_NAME"]),
];

/// The WebDAV transient storage (`recording-uploader.exec.transientStorage`: `url`,
/// `username`, `password`). `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebDavSettings {
    /// Base URL of the recordings collection, e.g. `http://webdav:80/recordings`.
    pub url: String,
    /// Basic-auth user; none: no authentication.
    pub username: Option<String>,
    /// Basic-auth password.
    pub password: Option<gcex::Secret>,
}

impl std::fmt::Debug for WebDavSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebDavSettings")
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl WebDavSettings {
    /// Settings for `url` with optional basic auth.
    pub fn new(url: impl Into<String>, username: Option<String>, password: Option<String>) -> Self {
        WebDavSettings {
            url: url.into().trim_end_matches('/').to_string(),
            username,
            password: password.map(gcex::Secret::new),
        }
    }

    /// From one URL that may carry the credentials (`http://user:password@host:port/collection`,
    /// the form `ENGAGE_TEST_WEBDAV` and the demo use); percent-escapes in them are decoded.
    pub fn from_url_with_credentials(raw: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(raw.trim()).map_err(|e| {
            format!("not a WebDAV URL (http://user:password@host:port/collection): {e}")
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "a WebDAV URL is http:// or https://, not {}:",
                url.scheme()
            ));
        }
        let user = (!url.username().is_empty()).then(|| percent_decode(url.username()));
        let pass = url.password().map(percent_decode);
        let mut bare = url.clone();
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        Ok(WebDavSettings::new(bare.to_string(), user, pass))
    }

    /// The user and password as given (for clients outside EXRP: tests, the demo).
    pub fn credentials(&self) -> (Option<&str>, Option<&str>) {
        (
            self.username.as_deref(),
            self.password.as_ref().map(|p| p.expose()),
        )
    }

    /// From a published `recording-uploader.exec.transientStorage` section (`url`,
    /// `username`, `password`); `None` without a `url`.
    pub fn from_section(settings: &std::collections::BTreeMap<String, String>) -> Option<Self> {
        let url = settings.get("url").filter(|u| !u.trim().is_empty())?;
        Some(WebDavSettings::new(
            url.trim(),
            settings.get("username").cloned().filter(|s| !s.is_empty()),
            settings.get("password").cloned().filter(|s| !s.is_empty()),
        ))
    }
}

/// How the worker runs (our additions; defaults in the crate doc).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerSettings {
    /// How often the store is scanned for due jobs.
    pub poll: Duration,
    /// How long a claim on a job lasts: another instance takes the job over after it.
    pub claim_ttl: Duration,
    /// How long a done mark stops a repeated request from uploading again.
    pub done_ttl: Duration,
    /// Retry limits.
    pub retry: RetryPlan,
    /// How often the org's recording key is fetched again.
    pub key_refresh: Duration,
    /// Jobs worked on at once by this instance.
    pub concurrency: usize,
    /// Lifetime asked for each presigned URL, seconds.
    pub signed_url_timeout_secs: u32,
    /// Delete the file from WebDAV after the upload (the guide's clean-up).
    pub delete_after_upload: bool,
    /// Where downloads and archives are staged (deleted after each attempt).
    pub work_dir: PathBuf,
    /// This instance's name in claims and logs.
    pub instance_id: String,
    /// `EXRP_API_TOKEN` (ours): when set, the interaction-end API needs
    /// `Authorization: Bearer <token>` (EXCP sends it as `EXCP_RECORDING_PROCESSOR_TOKEN`).
    pub api_token: Option<gcex::Secret>,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            poll: Duration::from_secs(1),
            claim_ttl: Duration::from_secs(600),
            done_ttl: Duration::from_secs(7 * 24 * 3600),
            retry: RetryPlan::default(),
            key_refresh: Duration::from_secs(3600),
            concurrency: 4,
            signed_url_timeout_secs: 900,
            delete_after_upload: true,
            work_dir: std::env::temp_dir(),
            instance_id: default_instance_id(),
            api_token: None,
        }
    }
}

fn default_instance_id() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("exrp-{}", std::process::id()))
}

/// Everything the `exrp` service needs. `Debug` never shows a secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExrpConfig {
    /// Org and tenant.
    pub common: CommonConfig,
    /// REST bind address (`EXRP_HOST`).
    pub host: String,
    /// REST port (`EXRP_PORT`).
    pub port: u16,
    /// The store.
    pub store: StoreSettings,
    /// GC connection from `EXRP_GC_*`; `None`: the published
    /// `recording-uploader.exec.genesysCloud` section.
    pub gc: Option<GcEnv>,
    /// WebDAV from `EXRP_WEBDAV_*`; `None`: the published
    /// `recording-uploader.exec.transientStorage` section.
    pub webdav: Option<WebDavSettings>,
    /// Worker settings.
    pub worker: WorkerSettings,
    /// Logging.
    pub log: LogConfig,
}

impl ExrpConfig {
    /// Reads the settings; every missing or invalid variable is named in the one error.
    pub fn read(lookup: &dyn Lookup) -> Result<ExrpConfig, ConfigError> {
        let mut env = EnvReader::new(lookup);
        let common = CommonConfig::read(&mut env);
        let host = env
            .optional("EXRP_HOST")
            .unwrap_or_else(|| "0.0.0.0".to_string());
        let port = env.parsed_or::<u16>("EXRP_PORT", 8080);
        let store = engage_ops::config::store_settings(&mut env);
        let gc = GcEnv::read_optional(&mut env, "EXRP");
        let webdav = env.optional("EXRP_WEBDAV_URL").map(|url| {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                env.invalid("EXRP_WEBDAV_URL", "must start with http:// or https://");
            }
            WebDavSettings::new(
                url,
                env.optional("EXRP_WEBDAV_USERNAME"),
                env.optional("EXRP_WEBDAV_PASSWORD"),
            )
        });
        // The guide's Config Server variables: accepted, unused (no Config Server client; the
        // sections come through the store, as for EXAS and EXCP).
        for name in [
            "EXRP_CONFIG_SERVER_USER",
            "EXRP_CONFIG_SERVER_PASSWORD",
            "EXRP_CONFIG_SERVER_APPLICATION",
            "EXRP_CONFIG_SERVER_PRIMARY_HOST",
            "EXRP_CONFIG_SERVER_PRIMARY_PORT",
        ] {
            let _ = env.optional(name);
        }
        let d = WorkerSettings::default();
        let secs = |env: &mut EnvReader<'_>, name: &str, default: Duration| {
            let v = env.parsed_or::<u64>(name, default.as_secs());
            if v == 0 {
                env.invalid(name, "must be at least 1");
            }
            Duration::from_secs(v.max(1))
        };
        let api_token = env.optional("EXRP_API_TOKEN").map(gcex::Secret::new);
        let poll_ms = env.parsed_or::<u64>("EXRP_POLL_MILLIS", 1000).max(10);
        let claim_ttl = secs(&mut env, "EXRP_CLAIM_TTL_SECS", d.claim_ttl);
        let done_ttl = secs(&mut env, "EXRP_DONE_TTL_SECS", d.done_ttl);
        let initial_backoff = secs(&mut env, "EXRP_RETRY_INITIAL_SECS", d.retry.initial_backoff);
        let max_backoff = secs(&mut env, "EXRP_RETRY_MAX_SECS", d.retry.max_backoff);
        let max_age = secs(&mut env, "EXRP_MAX_AGE_SECS", d.retry.max_age);
        let max_attempts = env
            .parsed_or::<u32>("EXRP_MAX_ATTEMPTS", d.retry.max_attempts)
            .max(1);
        let key_refresh = secs(&mut env, "EXRP_KEY_REFRESH_SECS", d.key_refresh);
        let concurrency = env
            .parsed_or::<usize>("EXRP_CONCURRENCY", d.concurrency)
            .clamp(1, 64);
        let url_secs =
            env.parsed_or::<u32>("EXRP_SIGNED_URL_TIMEOUT_SECS", d.signed_url_timeout_secs);
        if !(1..=604_800).contains(&url_secs) {
            env.invalid(
                "EXRP_SIGNED_URL_TIMEOUT_SECS",
                "must be 1-604800 (GC's range)",
            );
        }
        let delete_after_upload = env.flag("EXRP_DELETE_AFTER_UPLOAD", true);
        let work_dir = env
            .optional("EXRP_WORK_DIR")
            .map(PathBuf::from)
            .unwrap_or(d.work_dir);
        let instance_id = env.optional("EXRP_INSTANCE_ID").unwrap_or(d.instance_id);
        let [level, path, file_name] = &LOG_NAMES;
        let log = LogConfig::read(
            &mut env,
            "exrp",
            engage_ops::logging::ServiceLogSettings {
                level,
                path,
                file_name,
            },
            &common.tenant_id,
        );
        env.finish()?;
        Ok(ExrpConfig {
            common,
            host,
            port,
            store,
            gc,
            webdav,
            worker: WorkerSettings {
                poll: Duration::from_millis(poll_ms),
                claim_ttl,
                done_ttl,
                retry: RetryPlan {
                    initial_backoff,
                    max_backoff,
                    max_age,
                    max_attempts,
                },
                key_refresh,
                concurrency,
                signed_url_timeout_secs: url_secs,
                delete_after_upload,
                work_dir,
                instance_id,
                api_token,
            },
            log,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn reads_the_guide_variables_and_ours() {
        let env: BTreeMap<&str, &str> = BTreeMap::from([
            ("EXEC_ORG_ID", "org"),
            ("EXEC_TENANT_ID", "101"),
            ("EXEC_REDIS_HOST", "redis"),
            ("EXRP_PORT", "8081"),
            ("EXRP_LOG_LEVEL", "debug"),
            ("EXRP_CONFIG_SERVER_USER", "ignored"),
            ("EXRP_WEBDAV_URL", "http://webdav/recordings/"),
            ("EXRP_WEBDAV_USERNAME", "user"),
            ("EXRP_WEBDAV_PASSWORD", "dav-password-value"),
            ("EXRP_GC_BASE_URL", "http://127.0.0.1:9000"),
            ("EXRP_GC_CLIENT_ID", "cid"),
            ("EXRP_GC_CLIENT_SECRET", "gc-secret-value"),
            ("EXRP_RETRY_MAX_SECS", "60"),
        ]);
        let c = ExrpConfig::read(&env).expect("valid");
        assert_eq!(c.port, 8081);
        assert_eq!(c.log.level, engage_ops::logging::LogLevel::Debug);
        let w = c.webdav.as_ref().unwrap();
        assert_eq!(w.url, "http://webdav/recordings");
        assert_eq!(c.worker.retry.max_backoff, Duration::from_secs(60));
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("dav-password-value") && !dbg.contains("gc-secret-value"),
            "{dbg}"
        );
    }

    #[test]
    fn defaults_and_one_line_errors() {
        let env: BTreeMap<&str, &str> =
            BTreeMap::from([("EXEC_ORG_ID", "org"), ("EXEC_TENANT_ID", "101")]);
        let c = ExrpConfig::read(&env).expect("valid");
        assert_eq!(c.port, 8080);
        assert!(c.gc.is_none() && c.webdav.is_none());
        assert!(c.worker.delete_after_upload);
        let bad: BTreeMap<&str, &str> = BTreeMap::from([
            ("EXRP_PORT", "http"),
            ("EXRP_WEBDAV_URL", "webdav/recordings"),
            ("EXRP_CLAIM_TTL_SECS", "0"),
            ("EXRP_GC_CLIENT_ID", "x"),
        ]);
        let err = ExrpConfig::read(&bad).unwrap_err().to_string();
        for part in [
            "missing EXEC_ORG_ID",
            "invalid EXRP_PORT",
            "invalid EXRP_WEBDAV_URL",
            "invalid EXRP_CLAIM_TTL_SECS",
            "missing EXRP_GC_CLIENT_SECRET",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
        assert!(!err.contains('\n'));
    }

    #[test]
    fn webdav_from_a_published_section() {
        let s = BTreeMap::from([
            ("type".to_string(), "WebDAV".to_string()),
            ("url".to_string(), "http://w/recordings".to_string()),
            ("username".to_string(), "u".to_string()),
            ("password".to_string(), "p".to_string()),
        ]);
        let w = WebDavSettings::from_section(&s).unwrap();
        assert_eq!(w.username.as_deref(), Some("u"));
        assert!(WebDavSettings::from_section(&BTreeMap::new()).is_none());
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (
                (b[i + 1] as char).to_digit(16),
                (b[i + 2] as char).to_digit(16),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod url_tests {
    use super::*;

    #[test]
    fn credentials_come_out_of_the_url_and_never_show() {
        let w = WebDavSettings::from_url_with_credentials(
            "http://dav%20user:p%40ss@127.0.0.1:8090/recordings/",
        )
        .unwrap();
        assert_eq!(w.url, "http://127.0.0.1:8090/recordings");
        assert_eq!(w.credentials(), (Some("dav user"), Some("p@ss")));
        assert!(!format!("{w:?}").contains("p@ss"));
        let plain = WebDavSettings::from_url_with_credentials("https://dav/rec").unwrap();
        assert_eq!(plain.credentials(), (None, None));
        assert!(WebDavSettings::from_url_with_credentials("ftp://x/y").is_err());
        assert!(WebDavSettings::from_url_with_credentials("not a url").is_err());
    }
}
