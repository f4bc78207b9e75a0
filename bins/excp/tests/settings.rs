//! EXCP's settings table and its reader cannot drift, and neither `ExcpConfig`'s nor
//! `RunSettings`' `Debug` shows a secret.

use engage_excp::config::{ExcpConfig, SETTINGS};
use engage_excp::service::RunSettings;
use engage_ops::settings::{drift, env_with_all};
use std::collections::BTreeMap;

const APP_PASSWORD: &str = "tlib-app-pa55";
const REDIS_PASSWORD: &str = "redis-pa55-value";
const GC_SECRET: &str = "gc-client-s3cret";

fn full() -> BTreeMap<String, String> {
    let sip = "sip1:8000/sip2:8000";
    env_with_all(
        &SETTINGS,
        &[
            ("EXCP_VOICE_SERVER_VQ", sip),
            ("EXCP_1_VOICE_SERVER_VQ", sip),
            ("VOICE_SERVER_VQ", sip),
            ("EXCP_VOICE_SERVER_AGENT", sip),
            ("EXCP_1_VOICE_SERVER_AGENT", sip),
            ("VOICE_SERVER_AGENT", sip),
            ("EXCP_VOICE_SERVER_CALL", sip),
            ("EXCP_1_VOICE_SERVER_CALL", sip),
            ("VOICE_SERVER_CALL", sip),
            ("EXCP_APP_PASSWORD", APP_PASSWORD),
            ("EXEC_REDIS_SECURE", "true"),
            ("EXEC_REDIS_PASSWORD", REDIS_PASSWORD),
            ("EXCP_GC_BASE_URL", "https://api.mypurecloud.ie"),
            ("EXCP_GC_AUTH_URL", "https://login.mypurecloud.ie"),
            ("EXCP_GC_CLIENT_SECRET", GC_SECRET),
            ("EXCP_LOG_LEVEL", "debug"),
            ("EXCP_1_LOG_LEVEL", "debug"),
            ("EXCP_LOG_PATH", "/tmp/excp-settings-test"),
            ("EXCP_1_LOG_PATH", "/tmp/excp-settings-test"),
            ("EXCP_MAX_PENDING_EVENTS", "1000"),
            ("EXCP_LOOKUP_REFRESH_SECS", "10"),
            ("EXCP_AFTER_CALL_WORK", "false"),
            ("LOG_CONSOLE_LEVEL", "INFO"),
            ("LOG_FILE_LEVEL", "ALL"),
            ("LOG_FILE_MAX_BACKUP_INDEX", "3"),
            ("RUST_LOG", "info"),
        ],
    )
}

#[test]
fn every_variable_the_reader_reads_is_in_the_table_and_back() {
    let d = drift(&SETTINGS, &[BTreeMap::new(), full()], ExcpConfig::read);
    assert!(
        d.is_empty(),
        "engage_excp::config::SETTINGS and ExcpConfig::read disagree: read but not listed \
         (add them to SETTINGS): {:?}; listed but never read: {:?}",
        d.unlisted,
        d.unread
    );
}

#[test]
fn debug_never_shows_a_secret() {
    let c = ExcpConfig::read(&full()).expect("the full environment is valid");
    assert_eq!(c.app_password.expose(), APP_PASSWORD);
    let run = RunSettings::from_config(&c);
    let gc = c.gc.as_ref().expect("EXCP_GC_* set").gc_config("org");
    for text in [
        format!("{c:?}"),
        format!("{c:#?}"),
        format!("{run:?}"),
        format!("{run:#?}"),
        format!("{gc:?}"),
    ] {
        for secret in [APP_PASSWORD, REDIS_PASSWORD, GC_SECRET] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}

/// Issue 19: every counter EXCP increments is registered at 0 at start (`METRICS`).
#[test]
fn every_excp_counter_is_registered_at_start() {
    let missing = engage_ops::metrics::unlisted_counters(
        "excp_",
        &[
            include_str!("../src/service.rs"),
            include_str!("../src/handoff.rs"),
            include_str!("../src/delivery.rs"),
            include_str!("../src/injector.rs"),
        ],
        engage_excp::service::METRICS,
        &[],
    );
    assert!(
        missing.is_empty(),
        "not in engage_excp::service::METRICS: {missing:?}"
    );
}
