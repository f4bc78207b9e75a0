//! EXAS's settings table and its reader cannot drift, and `ExasConfig`'s `Debug` shows no
//! secret.

use engage_exas::config::{ExasConfig, SETTINGS};
use engage_ops::settings::{drift, env_with_all};
use std::collections::BTreeMap;

const REDIS_PASSWORD: &str = "redis-pa55-value";
const GC_SECRET: &str = "gc-client-s3cret";

fn full() -> BTreeMap<String, String> {
    env_with_all(
        &SETTINGS,
        &[
            ("EXAS_PORT", "3630"),
            ("EXAS_STAT_SERVER_PRIMARY_PORT", "2060"),
            ("EXAS_STAT_SERVER_BACKUP_PORT", "2061"),
            ("EXEC_REDIS_SECURE", "true"),
            ("EXEC_REDIS_PASSWORD", REDIS_PASSWORD),
            ("EXAS_GC_BASE_URL", "https://api.mypurecloud.ie"),
            ("EXAS_GC_AUTH_URL", "https://login.mypurecloud.ie"),
            ("EXAS_GC_CLIENT_SECRET", GC_SECRET),
            ("EXAS_LOG_LEVEL", "debug"),
            ("EXAS_LOG_PATH", "/tmp/exas-settings-test"),
            ("LOG_CONSOLE_LEVEL", "INFO"),
            ("LOG_FILE_LEVEL", "ALL"),
            ("LOG_FILE_MAX_BACKUP_INDEX", "3"),
            ("RUST_LOG", "info"),
        ],
    )
}

#[test]
fn every_variable_the_reader_reads_is_in_the_table_and_back() {
    let d = drift(&SETTINGS, &[BTreeMap::new(), full()], ExasConfig::read);
    assert!(
        d.is_empty(),
        "engage_exas::config::SETTINGS and ExasConfig::read disagree: read but not listed \
         (add them to SETTINGS): {:?}; listed but never read: {:?}",
        d.unlisted,
        d.unread
    );
}

#[test]
fn debug_never_shows_a_secret() {
    let c = ExasConfig::read(&full()).expect("the full environment is valid");
    let gc = c.gc.as_ref().expect("EXAS_GC_* set").gc_config("org");
    for text in [
        format!("{c:?}"),
        format!("{c:#?}"),
        format!("{gc:?}"),
        format!("{:?}", c.store),
    ] {
        assert!(!text.contains(REDIS_PASSWORD), "{text}");
        assert!(!text.contains(GC_SECRET), "{text}");
    }
}

/// Issue 19: every counter EXAS increments is registered at 0 at start (`METRICS`).
#[test]
fn every_exas_counter_is_registered_at_start() {
    let src = include_str!("../src/driver.rs");
    // EXAS names its counters in constants: the table must hold every `_total` one.
    let consts: Vec<&str> = src
        .lines()
        .filter_map(|l| l.trim().strip_prefix("const M_"))
        .filter_map(|l| l.split('"').nth(1))
        .filter(|n| n.ends_with("_total"))
        .collect();
    assert!(consts.len() >= 8, "{consts:?}");
    for c in consts {
        assert!(
            engage_exas::driver::METRICS.iter().any(|(n, _, _)| *n == c),
            "{c} is not in engage_exas::driver::METRICS"
        );
    }
    let missing = engage_ops::metrics::unlisted_counters(
        "exas_",
        &[src, include_str!("../src/service.rs")],
        engage_exas::driver::METRICS,
        &[],
    );
    assert!(missing.is_empty(), "{missing:?}");
}
