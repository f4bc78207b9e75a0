//! EXCS's settings table and its reader cannot drift, and no EXCS config type's `Debug` shows
//! a secret.

use engage_excs::service::{ExcsSettings, SETTINGS};
use engage_ops::settings::{drift, env_with_all};
use std::collections::BTreeMap;

const DB_PASSWORD: &str = "db-pa55-value";
const REDIS_PASSWORD: &str = "redis-pa55-value";

fn full() -> BTreeMap<String, String> {
    env_with_all(
        &SETTINGS,
        &[
            ("EXCS_CONFIG_DB_TYPE", "postgresql"),
            ("EXCS_CONFIG_DB_PORT", "5432"),
            ("EXCS_CONFIG_DB_SSL", "false"),
            ("EXCS_CONFIG_DB_PASSWORD", DB_PASSWORD),
            ("EXEC_REDIS_SECURE", "true"),
            ("EXEC_REDIS_PASSWORD", REDIS_PASSWORD),
            ("EXCS_SYNC_CUSTOMER_OBJECTS_ONLY", "false"),
            ("EXCS_MAX_REMOVAL_PERCENT", "10"),
            ("EXCS_CONFIRM_REMOVALS", "true"),
            ("EXCS_LOG_LEVEL", "debug"),
            ("EXCS_LOG_PATH", "/tmp/excs-settings-test"),
            ("LOG_CONSOLE_LEVEL", "INFO"),
            ("LOG_FILE_LEVEL", "ALL"),
            ("LOG_FILE_MAX_BACKUP_INDEX", "3"),
            ("RUST_LOG", "info"),
        ],
    )
}

#[test]
fn every_variable_the_reader_reads_is_in_the_table_and_back() {
    let d = drift(
        &SETTINGS,
        &[BTreeMap::new(), full()],
        ExcsSettings::from_env,
    );
    assert!(
        d.is_empty(),
        "engage_excs::service::SETTINGS and ExcsSettings::from_env disagree: read but not \
         listed (add them to SETTINGS): {:?}; listed but never read: {:?}",
        d.unlisted,
        d.unread
    );
}

#[test]
fn debug_never_shows_a_secret() {
    let s = ExcsSettings::from_env(&full()).expect("the full environment is valid");
    for text in [format!("{s:?}"), format!("{s:#?}"), format!("{:?}", s.db)] {
        assert!(!text.contains(DB_PASSWORD), "{text}");
        assert!(!text.contains(REDIS_PASSWORD), "{text}");
    }
    // What EXCS publishes for EXAS and EXCP: the client secret and any secret-looking key.
    let mut settings = BTreeMap::new();
    settings.insert("proxy_password".to_string(), "proxy-pa55".to_string());
    settings.insert("api_token".to_string(), "tok-value".to_string());
    settings.insert("sta_default_language".to_string(), "en-US".to_string());
    let conn = engage_store::ServiceConnection {
        base_service_url: "https://api.example".into(),
        base_auth_url: "https://login.example".into(),
        organization_id: "org".into(),
        client_id: "cid".into(),
        client_secret: "client-s3cret".into(),
        settings,
    };
    let text = format!("{conn:?}");
    for secret in ["proxy-pa55", "tok-value", "client-s3cret"] {
        assert!(!text.contains(secret), "{text}");
    }
    assert!(text.contains("en-US"), "{text}");
}

/// Issue 19: every counter EXCS increments is registered at 0 at start (`METRICS`), except
/// those whose labels are known only when they happen: the table and the code cannot drift.
#[test]
fn every_excs_counter_is_registered_at_start() {
    let missing = engage_ops::metrics::unlisted_counters(
        "excs_",
        &[
            include_str!("../src/service.rs"),
            include_str!("../src/sync.rs"),
            include_str!("../src/guard.rs"),
        ],
        engage_excs::service::METRICS,
        &["excs_config_changes_total", "excs_name_conflicts_total"],
    );
    assert!(
        missing.is_empty(),
        "not in engage_excs::service::METRICS: {missing:?}"
    );
    let m = engage_ops::metrics::Metrics::new();
    engage_excs::service::register_metrics(&m);
    let text = m.render();
    for (name, _, _) in engage_excs::service::METRICS {
        assert!(text.contains(name), "{name} missing from /metrics at start");
    }
    assert!(text.contains("excs_gc_requests_total"));
}
