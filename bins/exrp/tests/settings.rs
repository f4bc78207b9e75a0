//! EXRP's settings table and its reader cannot drift, and `ExrpConfig`'s `Debug` shows no
//! secret.

use engage_exrp::config::{ExrpConfig, SETTINGS};
use engage_ops::settings::{drift, env_with_all};
use std::collections::BTreeMap;

const DAV_PASSWORD: &str = "dav-pa55-value";
const GC_SECRET: &str = "gc-client-s3cret";

fn full() -> BTreeMap<String, String> {
    env_with_all(
        &SETTINGS,
        &[
            ("EXRP_PORT", "8080"),
            ("EXRP_WEBDAV_URL", "http://127.0.0.1:8090/recordings"),
            ("EXRP_WEBDAV_PASSWORD", DAV_PASSWORD),
            ("EXRP_CONFIG_SERVER_PRIMARY_PORT", "2020"),
            ("EXRP_POLL_MILLIS", "100"),
            ("EXRP_CLAIM_TTL_SECS", "30"),
            ("EXRP_DONE_TTL_SECS", "60"),
            ("EXRP_RETRY_INITIAL_SECS", "1"),
            ("EXRP_RETRY_MAX_SECS", "60"),
            ("EXRP_MAX_AGE_SECS", "3600"),
            ("EXRP_MAX_ATTEMPTS", "5"),
            ("EXRP_KEY_REFRESH_SECS", "900"),
            ("EXRP_CONCURRENCY", "2"),
            ("EXRP_SIGNED_URL_TIMEOUT_SECS", "600"),
            ("EXRP_DELETE_AFTER_UPLOAD", "true"),
            ("EXEC_REDIS_SECURE", "false"),
            ("EXRP_GC_BASE_URL", "https://api.mypurecloud.ie"),
            ("EXRP_GC_AUTH_URL", "https://login.mypurecloud.ie"),
            ("EXRP_GC_CLIENT_SECRET", GC_SECRET),
            ("EXRP_LOG_LEVEL", "debug"),
            ("EXRP_LOG_PATH", "/tmp/exrp-settings-test"),
            ("LOG_CONSOLE_LEVEL", "INFO"),
            ("LOG_FILE_LEVEL", "ALL"),
            ("LOG_FILE_MAX_BACKUP_INDEX", "3"),
            ("RUST_LOG", "info"),
        ],
    )
}

#[test]
fn every_variable_the_reader_reads_is_in_the_table_and_back() {
    let d = drift(&SETTINGS, &[BTreeMap::new(), full()], ExrpConfig::read);
    assert!(
        d.is_empty(),
        "engage_exrp::config::SETTINGS and ExrpConfig::read disagree: read but not listed \
         (add them to SETTINGS): {:?}; listed but never read: {:?}",
        d.unlisted,
        d.unread
    );
}

#[test]
fn debug_never_shows_a_secret() {
    let c = ExrpConfig::read(&full()).expect("the full environment is valid");
    for text in [format!("{c:?}"), format!("{c:#?}")] {
        assert!(!text.contains(DAV_PASSWORD), "{text}");
        assert!(!text.contains(GC_SECRET), "{text}");
    }
}

/// Issue 19: every counter EXRP increments is registered at 0 at start (`METRICS`).
#[test]
fn every_exrp_counter_is_registered_at_start() {
    let missing = engage_ops::metrics::unlisted_counters(
        "exrp_",
        &[
            include_str!("../src/service.rs"),
            include_str!("../src/driver.rs"),
            include_str!("../src/jobs.rs"),
        ],
        engage_exrp::service::METRICS,
        &[],
    );
    assert!(
        missing.is_empty(),
        "not in engage_exrp::service::METRICS: {missing:?}"
    );
}
