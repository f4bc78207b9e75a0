//! Against the real PostgreSQL server (engage-test-support `TestDb`): seed, snapshot, doctor,
//! read-only enforcement, mapping overrides, change deltas.
#![cfg(feature = "postgres")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use engage_cfgdb::changes::{ChangeKind, ChangeTracker, Delta, Poller, PollerConfig};
use engage_cfgdb::db::{ConfigDb, Query};
use engage_cfgdb::model::ObjectKind;
use engage_cfgdb::seed::{self, SeedSpec};
use engage_cfgdb::{PgConfigDb, SchemaMap, doctor, read_snapshot};
use engage_test_support::TestDb;

async fn seeded(agents: usize) -> (TestDb, tokio_postgres::Client, PgConfigDb) {
    let db = TestDb::create().await;
    let client = db.connect().await;
    seed::install_schema_postgres(&client).await.unwrap();
    seed::seed_postgres(&client, &SchemaMap::default(), &SeedSpec::agents(agents))
        .await
        .unwrap();
    let reader = PgConfigDb::from_conn_str(db.config()).unwrap();
    (db, client, reader)
}

#[tokio::test]
async fn seeded_contact_center_reads_back() {
    let (_db, _client, reader) = seeded(common::AGENTS).await;
    let map = SchemaMap::default();
    let report = doctor(&reader, &map).await.unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.tables_checked, 17);
    let snap = read_snapshot(&reader, &map).await.unwrap();
    common::check_seeded(&snap);
    // Reading twice gives the same snapshot.
    assert_eq!(read_snapshot(&reader, &map).await.unwrap(), snap);
}

#[tokio::test]
async fn reader_sessions_are_read_only() {
    let (_db, _client, reader) = seeded(2).await;
    let err = reader
        .read(&[Query::new(
            "INSERT INTO cfg_tenant (dbid, name) VALUES (99, 'x')",
        )])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
    // The pool recovers: the next read works.
    let snap = read_snapshot(&reader, &SchemaMap::default()).await.unwrap();
    assert_eq!(snap.tenants.len(), 1);
}

/// Issue 12 §14: a parameter too wide for its column is an error, never clamped (a clamped
/// DBID would silently read other rows).
#[tokio::test]
async fn a_parameter_too_wide_for_its_column_is_an_error() {
    let (_db, _client, reader) = seeded(2).await;
    let mut q = Query::new("SELECT dbid FROM cfg_tenant WHERE dbid > $1::int4");
    q.params.push(i64::from(i32::MAX) + 1);
    let err = reader.read(&[q]).await.unwrap_err().to_string();
    assert!(
        err.contains("does not fit") && err.contains("not clamped"),
        "{err}"
    );
    let mut q = Query::new("SELECT dbid FROM cfg_tenant WHERE dbid > $1::int4");
    q.params.push(0);
    assert_eq!(reader.read(&[q]).await.unwrap()[0].len(), 1);
}

#[tokio::test]
async fn doctor_reports_missing_column_and_table() {
    let db = TestDb::create().await;
    let client = db.connect().await;
    seed::install_schema_postgres(&client).await.unwrap();
    client
        .batch_execute("ALTER TABLE cfg_person DROP COLUMN email_address; DROP TABLE cfg_hist_log;")
        .await
        .unwrap();
    let reader = PgConfigDb::from_conn_str(db.config()).unwrap();
    let report = doctor(&reader, &SchemaMap::default()).await.unwrap();
    assert!(!report.is_ok());
    assert_eq!(report.missing_tables, vec!["cfg_hist_log".to_string()]);
    assert_eq!(
        report.missing_columns,
        vec![("cfg_person".to_string(), "email_address".to_string())]
    );
    let text = report.to_string();
    assert!(
        text.contains("missing column cfg_person.email_address"),
        "{text}"
    );
}

#[tokio::test]
async fn site_mapping_override_reads_renamed_schema() {
    let (db, client, reader) = seeded(6).await;
    client
        .batch_execute(
            "CREATE SCHEMA site; ALTER TABLE cfg_person SET SCHEMA site; \
             ALTER TABLE site.cfg_person RENAME TO persons; \
             ALTER TABLE site.persons RENAME COLUMN email_address TO mail;",
        )
        .await
        .unwrap();
    let default_report = doctor(&reader, &SchemaMap::default()).await.unwrap();
    assert_eq!(
        default_report.missing_tables,
        vec!["cfg_person".to_string()]
    );
    // The mapping renames the one odd table and column; the other tables stay in `public`, and
    // the session's search path finds both schemas.
    let map = SchemaMap::from_json(r#"{"person": {"table": "persons", "email": "mail"}}"#).unwrap();
    let pg: tokio_postgres::Config =
        format!("{} options='-c search_path=public,site'", db.config())
            .parse()
            .unwrap();
    let reader = PgConfigDb::from_pg_config(pg, tokio_postgres::NoTls).unwrap();
    let snap = read_snapshot(&reader, &map).await.unwrap();
    assert_eq!(snap.persons.len(), 7);
    assert!(snap.persons[&101].email.as_deref().unwrap().contains('@'));
}

#[tokio::test]
async fn polling_turns_changes_into_deltas() {
    let (_db, client, reader) = seeded(10).await;
    let map = SchemaMap::default();
    let base = read_snapshot(&reader, &map).await.unwrap();
    let cursor = base.history_cursor.unwrap();
    let member = base.agent_groups[&101].members[0];
    let config = PollerConfig::new(Duration::from_millis(20), 1000);
    let mut poller = Poller::new(
        Arc::new(reader.clone()),
        map.clone(),
        config,
        ChangeTracker::baseline(&base),
    );

    // Nothing changed: no history, no scan, no deltas.
    let out = poller.poll_once().await.unwrap();
    assert!(out.deltas.is_empty() && out.snapshot.is_none());

    let h = |n: i64, t: i64, d: i64, op: i64| {
        format!(
            "INSERT INTO cfg_hist_log VALUES ({}, {t}, {d}, {op}, 1700000000);",
            cursor + n
        )
    };
    client
        .batch_execute(&format!(
            "INSERT INTO cfg_person (dbid, tenant_dbid, user_name, is_agent, state) VALUES (900, 1, 'new@example.com', 2, 1); {}
             UPDATE cfg_skill SET name = 'Sales_Renamed' WHERE dbid = 101; {}
             DELETE FROM cfg_dn WHERE dbid = 101; {}
             DELETE FROM cfg_agent_group WHERE group_dbid = 101 AND agent_dbid = {member};
             {}",
            h(1, 3, 900, 1),
            h(2, 13, 101, 2),
            h(3, 2, 101, 3),
            h(4, 3, 102, 2),
        ))
        .await
        .unwrap();
    let out = poller.poll_once().await.unwrap();
    assert_eq!(out.history.len(), 4);
    let d = |kind, dbid, change| Delta { kind, dbid, change };
    assert_eq!(
        out.deltas,
        vec![
            d(ObjectKind::Dn, 101, ChangeKind::Deleted),
            d(ObjectKind::Person, 102, ChangeKind::Changed), // history only (unread column)
            d(ObjectKind::Person, 900, ChangeKind::Created),
            d(ObjectKind::AgentGroup, 101, ChangeKind::Changed), // no history record: fingerprint
            d(ObjectKind::Skill, 101, ChangeKind::Changed),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    assert_eq!(poller.tracker().history_cursor(), Some(cursor + 4));
    assert!(poller.poll_once().await.unwrap().deltas.is_empty());

    // History purged, then a change without any history record: found by the periodic full
    // scan, and the purge itself is not a change.
    let config = PollerConfig::new(Duration::from_millis(20), 2);
    let tracker = poller.tracker().clone();
    let mut poller = Poller::new(Arc::new(reader.clone()), map.clone(), config, tracker);
    client
        .batch_execute(
            "DELETE FROM cfg_hist_log; UPDATE cfg_person SET last_name = 'Zed' WHERE dbid = 103;",
        )
        .await
        .unwrap();
    let first = poller.poll_once().await.unwrap();
    assert!(first.snapshot.is_none() && first.deltas.is_empty());
    let second = poller.poll_once().await.unwrap();
    assert_eq!(
        second.deltas,
        vec![d(ObjectKind::Person, 103, ChangeKind::Changed)]
    );

    // The loop: a new skill reaches the callback within the interval.
    client
        .batch_execute("INSERT INTO cfg_skill (dbid, tenant_dbid, name, state) VALUES (950, 1, 'Mandarin', 1);")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut errors = 0;
    tokio::time::timeout(
        Duration::from_secs(20),
        poller.run(
            |deltas, snap| {
                assert!(snap.skills.contains_key(&950));
                got = deltas.to_vec();
                false
            },
            |_| errors += 1,
        ),
    )
    .await
    .expect("poller reported the change");
    assert_eq!(got, vec![d(ObjectKind::Skill, 950, ChangeKind::Created)]);
    assert_eq!(errors, 0);
}

/// The same seed read through PostgreSQL and SQLite gives the same snapshot.
#[cfg(feature = "sqlite")]
#[tokio::test]
async fn postgres_and_sqlite_read_the_same_snapshot() {
    let (_db, _client, reader) = seeded(25).await;
    let map = SchemaMap::default();
    let from_pg = read_snapshot(&reader, &map).await.unwrap();
    let path = std::env::temp_dir().join(format!(
        "{}.sqlite",
        engage_test_support::unique_name("cfgdb")
    ));
    let path = path.to_str().unwrap().to_string();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        seed::install_schema_sqlite(&conn).unwrap();
        seed::seed_sqlite(&conn, &map, &SeedSpec::agents(25)).unwrap();
    }
    let lite = engage_cfgdb::SqliteConfigDb::open(&path).unwrap();
    let from_sqlite = read_snapshot(&lite, &map).await.unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(from_pg, from_sqlite);
}

#[tokio::test]
async fn seed_url_creates_schema_and_data() {
    let db = TestDb::create().await;
    let data = seed::seed_url(&db.url(), &SeedSpec::agents(5), true)
        .await
        .unwrap();
    assert_eq!(data.count("cfg_person"), 6);
    let reader = PgConfigDb::from_conn_str(db.config()).unwrap();
    let snap = read_snapshot(&reader, &SchemaMap::default()).await.unwrap();
    assert_eq!(snap.persons.len(), 6);
    assert_eq!(snap.agent_logins.len(), 5);
}

#[tokio::test]
async fn unreachable_server_is_a_retryable_error_without_the_password() {
    let reader = PgConfigDb::from_conn_str(
        "host=127.0.0.1 port=1 user=genesys password=topsecret-pw dbname=cfg",
    )
    .unwrap();
    let err = read_snapshot(&reader, &SchemaMap::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, engage_cfgdb::Error::Connect { .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let text = format!("{err} {err:?}");
    assert!(!text.contains("topsecret-pw"), "{text}");
    assert!(text.contains("EXCS_CONFIG_DB_HOST"), "{text}");
}
