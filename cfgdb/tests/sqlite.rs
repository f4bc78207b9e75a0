//! Against a real SQLite file (the demo's embedded Config DB): seed, snapshot, doctor,
//! read-only enforcement, change deltas.
#![cfg(feature = "sqlite")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use engage_cfgdb::changes::{ChangeKind, ChangeTracker, Delta, Poller, PollerConfig};
use engage_cfgdb::db::{ConfigDb, DbConfig, Query};
use engage_cfgdb::model::ObjectKind;
use engage_cfgdb::seed::{self, SeedSpec};
use engage_cfgdb::{SchemaMap, SqliteConfigDb, doctor, read_snapshot};

/// A temp file removed on drop.
struct TempDb(std::path::PathBuf);

impl TempDb {
    fn new() -> TempDb {
        TempDb(std::env::temp_dir().join(format!(
            "{}.sqlite",
            engage_test_support::unique_name("cfgdb")
        )))
    }
    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn seeded(agents: usize) -> (TempDb, rusqlite::Connection) {
    let file = TempDb::new();
    let conn = rusqlite::Connection::open(file.path()).unwrap();
    seed::install_schema_sqlite(&conn).unwrap();
    seed::seed_sqlite(&conn, &SchemaMap::default(), &SeedSpec::agents(agents)).unwrap();
    (file, conn)
}

#[tokio::test]
async fn seeded_contact_center_reads_back() {
    let (file, _conn) = seeded(common::AGENTS);
    let reader = engage_cfgdb::open(&DbConfig::sqlite(file.path())).unwrap();
    let map = SchemaMap::default();
    let report = doctor(reader.as_ref(), &map).await.unwrap();
    assert!(report.is_ok(), "{report}");
    let snap = read_snapshot(reader.as_ref(), &map).await.unwrap();
    common::check_seeded(&snap);
}

#[tokio::test]
async fn reader_is_read_only_and_doctor_finds_gaps() {
    let (file, conn) = seeded(2);
    let reader = SqliteConfigDb::open(file.path()).unwrap();
    let err = reader
        .read(&[Query::new(
            "INSERT INTO cfg_tenant (dbid, name) VALUES (99, 'x')",
        )])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("readonly") || err.to_string().contains("read-only"),
        "{err}"
    );
    conn.execute_batch("ALTER TABLE cfg_dn DROP COLUMN number_; DROP TABLE cfg_folder_object;")
        .unwrap();
    let report = doctor(&reader, &SchemaMap::default()).await.unwrap();
    assert_eq!(report.missing_tables, vec!["cfg_folder_object".to_string()]);
    assert_eq!(
        report.missing_columns,
        vec![("cfg_dn".to_string(), "number_".to_string())]
    );
}

#[tokio::test]
async fn polling_turns_changes_into_deltas() {
    let (file, conn) = seeded(6);
    let reader = SqliteConfigDb::open(file.path()).unwrap();
    let map = SchemaMap::default();
    let base = read_snapshot(&reader, &map).await.unwrap();
    let cursor = base.history_cursor.unwrap();
    let mut poller = Poller::new(
        Arc::new(reader.clone()),
        map,
        PollerConfig::new(Duration::from_millis(10), 1000),
        ChangeTracker::baseline(&base),
    );
    assert!(poller.poll_once().await.unwrap().deltas.is_empty());
    conn.execute_batch(&format!(
        "UPDATE cfg_person SET state = 3 WHERE dbid = 102;
         INSERT INTO cfg_hist_log VALUES ({}, 3, 102, 3, 1700000000);
         INSERT INTO cfg_flex_prop VALUES (99001, 103, 3, 0, 0, 'htcc', NULL);
         INSERT INTO cfg_flex_prop VALUES (99002, 103, 3, 99001, 1, 'roles', 'Supervisor');
         INSERT INTO cfg_hist_log VALUES ({}, 3, 103, 2, 1700000001);",
        cursor + 1,
        cursor + 2
    ))
    .unwrap();
    let out = poller.poll_once().await.unwrap();
    assert_eq!(
        out.deltas,
        vec![
            Delta {
                kind: ObjectKind::Person,
                dbid: 102,
                change: ChangeKind::Deleted
            },
            Delta {
                kind: ObjectKind::Person,
                dbid: 103,
                change: ChangeKind::Changed
            },
        ]
    );
    let snap = out.snapshot.unwrap();
    assert!(
        snap.persons[&103].is_supervisor(),
        "role transition visible in the snapshot"
    );
}

#[tokio::test]
async fn seed_url_creates_schema_and_data() {
    let file = TempDb::new();
    let data = seed::seed_url(
        &format!("sqlite:{}", file.path()),
        &SeedSpec::agents(4),
        true,
    )
    .await
    .unwrap();
    assert_eq!(data.count("cfg_agent_login"), 4);
    let reader = SqliteConfigDb::open(file.path()).unwrap();
    let snap = read_snapshot(&reader, &SchemaMap::default()).await.unwrap();
    assert_eq!(snap.persons.len(), 5);
    assert_eq!(snap.hybrid_integration.len(), 1);
}
