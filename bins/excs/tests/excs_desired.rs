//! The desired org computed from a generated contact center in a real PostgreSQL Config DB.

use engage_cfgdb::model::{DnType, ObjectState};
use engage_cfgdb::seed::{SeedSpec, install_schema_postgres, seed_postgres};
use engage_cfgdb::{FolderFilter, PgConfigDb, SchemaMap, read_snapshot};
use engage_excs::desired::{DesiredSettings, desired_org};
use engage_excs::rules::PersonClass;
use engage_test_support::TestDb;

async fn seeded(agents: usize) -> (TestDb, engage_cfgdb::Snapshot) {
    let db = TestDb::create().await;
    let client = db.connect().await;
    install_schema_postgres(&client).await.unwrap();
    seed_postgres(&client, &SchemaMap::default(), &SeedSpec::agents(agents))
        .await
        .unwrap();
    let reader = PgConfigDb::from_conn_str(db.config()).unwrap();
    let snap = read_snapshot(&reader, &SchemaMap::default()).await.unwrap();
    (db, snap)
}

#[tokio::test]
async fn desired_org_follows_the_mapping_rules() {
    let (_db, snap) = seeded(30).await;
    let settings = DesiredSettings {
        tenant_name: "tenant001".into(),
        ..DesiredSettings::default()
    };
    let org = desired_org(&snap, &settings);

    // Every live person is either a user or skipped with a reason.
    let live = snap
        .persons
        .values()
        .filter(|p| p.state != ObjectState::Deleted)
        .count();
    let conflicted: usize = org
        .conflicts
        .iter()
        .filter(|c| c.object_type == "user")
        .map(|c| c.names.len() - 1)
        .sum();
    assert_eq!(org.users.len() + org.skipped.len() + conflicted, live);
    assert!(org.users.len() >= 30, "the agents are synchronized");
    for u in org.users.values() {
        let p = &snap.persons[&u.person_dbid];
        assert!(u.user_name.contains('@'));
        assert_eq!(
            u.external_id,
            format!("{}_{}", p.dbid, p.user_name.clone().unwrap_or_default())
        );
        assert_eq!(u.active, p.state == ObjectState::Enabled);
        assert_eq!(u.class == PersonClass::Supervisor, p.is_supervisor());
        for prof in u.skills.values() {
            assert!((0.0..=5.0).contains(prof), "proficiency {prof}");
        }
    }
    assert!(
        org.users
            .values()
            .any(|u| u.class == PersonClass::Supervisor),
        "the generator makes supervisors"
    );

    // One queue per Virtual Queue DN, named and described per the guide.
    let vqs: Vec<_> = snap.virtual_queues().collect();
    assert_eq!(org.queues.len(), vqs.len());
    for dn in vqs {
        let q = &org.queues[&dn.dbid];
        let switch = &snap.switches[&dn.switch_dbid].name;
        assert_eq!(
            q.name,
            format!("{}__{}__Engage-external", dn.number, switch)
        );
        assert!(
            q.description.starts_with(&format!(
                "Engage Reference: tenant001-{switch}-{};",
                dn.number
            )),
            "{}",
            q.description
        );
        assert_eq!(
            q.description.contains("Last modified:"),
            dn.last_modified.is_some()
        );
    }
    assert!(
        org.queues.values().any(|q| !q.members.is_empty()),
        "VAGs linked by hybrid/WFM_queue_number give members"
    );
    for q in org.queues.values() {
        assert!(q.members.iter().all(|m| org.users.contains_key(m)));
    }

    // Wrap-up codes are the distinct values of the disposition attributes.
    assert!(!org.wrap_up_codes.is_empty());
    let mut expected: Vec<String> = snap
        .disposition_attributes()
        .flat_map(|b| b.values.iter().map(|v| v.name.clone()))
        .collect();
    expected.sort();
    expected.dedup();
    assert_eq!(org.wrap_up_codes, expected);

    // Extensions are the Extension DNs.
    let ext = snap
        .dns
        .values()
        .filter(|d| d.dn_type == DnType::Extension && d.state != ObjectState::Deleted)
        .count();
    assert_eq!(org.extensions.len(), ext);
    assert!(ext > 0);
}

#[tokio::test]
async fn folder_filtering_limits_users_queues_and_skills_but_not_wrap_up_codes() {
    let (_db, snap) = seeded(30).await;
    let all = desired_org(&snap, &DesiredSettings::default());
    // Pick the folder holding the first person.
    let idx = snap.folder_index();
    let person = snap.persons.values().next().unwrap();
    let key = engage_cfgdb::model::ObjectKey {
        object_type: engage_cfgdb::model::object_type::PERSON,
        dbid: person.dbid,
    };
    let folder = &snap.folders[&idx[&key]];
    let filter = FolderFilter::from_settings(Some("true"), Some(&folder.name)).unwrap();
    let some = desired_org(
        &snap,
        &DesiredSettings {
            filter,
            ..DesiredSettings::default()
        },
    );
    assert!(some.users.len() <= all.users.len());
    assert!(!some.users.is_empty());
    assert_eq!(
        some.wrap_up_codes, all.wrap_up_codes,
        "BAs are never filtered"
    );
    let nothing = desired_org(
        &snap,
        &DesiredSettings {
            filter: FolderFilter::from_settings(Some("true"), Some("NoSuchFolder")).unwrap(),
            ..DesiredSettings::default()
        },
    );
    assert!(nothing.users.is_empty());
    assert!(nothing.queues.is_empty());
    assert!(nothing.skills.is_empty());
    assert_eq!(nothing.wrap_up_codes, all.wrap_up_codes);
}

#[tokio::test]
async fn ssl_setting_opens_a_tls_reader() {
    // EXCS_CONFIG_DB_SSL=true builds a TLS-verifying reader (connections are opened lazily);
    // without it the plain reader is used. The handshake itself: the next test.
    let lookup = |ssl: &'static str| {
        move |k: &str| match k {
            "EXCS_CONFIG_DB_HOST" => Some("127.0.0.1".to_string()),
            "EXCS_CONFIG_DB_NAME" => Some("configdb".to_string()),
            "EXCS_CONFIG_DB_USER" => Some("reader".to_string()),
            "EXCS_CONFIG_DB_SSL" => Some(ssl.to_string()),
            _ => None,
        }
    };
    let tls = engage_cfgdb::DbConfig::from_lookup(lookup("true")).unwrap();
    assert!(tls.ssl);
    assert!(
        engage_cfgdb::PgConfigDb::connect(&tls).is_err(),
        "plain reader refuses ssl"
    );
    assert!(engage_excs::service::open_config_db(&tls).is_ok());
    let plain = engage_cfgdb::DbConfig::from_lookup(lookup("false")).unwrap();
    assert!(engage_excs::service::open_config_db(&plain).is_ok());
}

/// The test server's own TLS certificate file (absolute), or why there is none.
async fn server_certificate(db: &TestDb) -> Result<String, String> {
    let sql = db.connect().await;
    let show = |q: &'static str| {
        let sql = &sql;
        async move {
            sql.query_one(q, &[])
                .await
                .map(|r| r.get::<_, String>(0))
                .map_err(|e| format!("{q}: {e}"))
        }
    };
    if show("SHOW ssl").await? != "on" {
        return Err("the test PostgreSQL has ssl = off".into());
    }
    let file = show("SHOW ssl_cert_file").await?;
    Ok(if file.starts_with('/') {
        file
    } else {
        format!("{}/{file}", show("SHOW data_directory").await?)
    })
}

#[tokio::test]
async fn tls_to_postgresql_verifies_the_certificate_against_the_configured_ca() {
    // scripts/test.sh gives a PostgreSQL it starts a certificate for `localhost`; Debian's own
    // cluster uses its snakeoil certificate (for `localhost` on these machines).
    let (db, snap) = seeded(5).await;
    let ca = server_certificate(&db).await.unwrap_or_else(|why| {
        panic!("{why}: start PostgreSQL with ssl = on and a certificate for localhost (scripts/test.sh does)")
    });
    let conf = db.config().to_string();
    let get = |k: &str| {
        conf.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .to_string()
    };
    let settings = |ca: Option<&str>| {
        let mut m: std::collections::HashMap<&str, String> = [
            ("EXCS_CONFIG_DB_HOST", "localhost".to_string()),
            ("EXCS_CONFIG_DB_PORT", get("port")),
            ("EXCS_CONFIG_DB_USER", get("user")),
            ("EXCS_CONFIG_DB_NAME", db.name().to_string()),
            ("EXCS_CONFIG_DB_SSL", "true".to_string()),
        ]
        .into_iter()
        .collect();
        if let Some(ca) = ca {
            m.insert("EXCS_CONFIG_DB_SSL_CA", ca.to_string());
        }
        engage_cfgdb::DbConfig::from_lookup(move |k| m.get(k).cloned()).unwrap()
    };
    // Trusting the server's certificate: the snapshot is read over TLS.
    let reader = engage_excs::service::open_config_db(&settings(Some(&ca))).unwrap();
    let over_tls = read_snapshot(reader.as_ref(), &SchemaMap::default())
        .await
        .unwrap_or_else(|e| panic!("TLS read with CA {ca}: {e}"));
    assert_eq!(over_tls.persons.len(), snap.persons.len());
    // Another CA (the first public root of the system bundle): the certificate is refused.
    let bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt")
        .expect("the system CA bundle (ca-certificates; scripts/test.sh installs it)");
    let end = "-----END CERTIFICATE-----";
    let other = &bundle[..bundle.find(end).expect("a PEM certificate") + end.len()];
    let dir = tempfile::tempdir().unwrap();
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, other).unwrap();
    let reader = engage_excs::service::open_config_db(&settings(other_ca.to_str())).unwrap();
    let err = read_snapshot(reader.as_ref(), &SchemaMap::default())
        .await
        .map(|s| s.persons.len())
        .expect_err("a certificate from another CA must be refused");
    assert!(err.is_retryable(), "{err}");
    // A CA file that is not there: a clear error naming the variable.
    let err = engage_excs::service::open_config_db(&settings(Some("/nonexistent/ca.pem")))
        .err()
        .expect("missing CA file");
    assert!(err.to_string().contains("EXCS_CONFIG_DB_SSL_CA"), "{err}");
}

#[tokio::test]
async fn case_insensitive_name_conflicts_are_detected_before_writing() {
    let (db, _) = seeded(10).await;
    let sql = db.connect().await;
    // Two skills and two VQs on one switch whose names differ only in case.
    sql.batch_execute(
        "INSERT INTO cfg_skill (dbid, tenant_dbid, name, state) VALUES (9001, 1, 'Zulu_Skill', 1), (9002, 1, 'ZULU_SKILL', 1);",
    )
    .await
    .unwrap();
    let (switch, dn_type): (i32, i32) = {
        let r = sql
            .query_one(
                "SELECT switch_dbid, type FROM cfg_dn WHERE type = 5 LIMIT 1",
                &[],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1))
    };
    sql.execute(
        "INSERT INTO cfg_dn (dbid, switch_dbid, type, number_, state) VALUES (9101, $1, $2, 'queue1', 1), (9102, $1, $2, 'Queue1', 1)",
        &[&switch, &dn_type],
    )
    .await
    .unwrap();
    let reader = PgConfigDb::from_conn_str(db.config()).unwrap();
    let snap = read_snapshot(&reader, &SchemaMap::default()).await.unwrap();
    let org = desired_org(&snap, &DesiredSettings::default());
    let skill = org
        .conflicts
        .iter()
        .find(|c| c.object_type == "skill")
        .expect("skill conflict reported");
    assert_eq!(skill.names, vec!["ZULU_SKILL", "Zulu_Skill"]);
    assert_eq!(skill.kept, "Zulu_Skill", "the lowest DBID is kept");
    assert!(org.skills.contains_key(&9001) && !org.skills.contains_key(&9002));
    let queue = org
        .conflicts
        .iter()
        .find(|c| c.object_type == "queue")
        .expect("queue conflict reported");
    assert_eq!(queue.names.len(), 2);
    assert!(org.queues.contains_key(&9101) && !org.queues.contains_key(&9102));
}
