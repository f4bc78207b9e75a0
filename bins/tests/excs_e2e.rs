//! EXCS end to end: a generated contact center in real PostgreSQL, the shared store in real
//! Redis, and the GC EX emulator over HTTP.

use engage_cfgdb::PgConfigDb;
use engage_excs::desired::{DesiredSettings, desired_org};
use engage_excs::guard::{BlockReason, Category, Confirmation};
use engage_excs::service::{Excs, ExcsSettings};
use engage_ops::health::Health;
use engage_ops::metrics::Metrics;
use engage_store::{IdKind, JsonView, PRESENCE_SOURCE_KEY, PersonRecord};
use gcex::emulator::EmulatorHandle;
use std::collections::BTreeSet;
use std::time::Duration;

mod common;
use common::{on_scim, user_requests_prefix, world, world_with};

fn lower_unique<'a>(names: impl Iterator<Item = &'a str>) -> bool {
    let v: Vec<String> = names.map(str::to_lowercase).collect();
    let s: BTreeSet<&String> = v.iter().collect();
    s.len() == v.len()
}

#[tokio::test]
async fn initial_sync_then_every_kind_of_change() {
    let w = world(30).await;
    let mut excs = w.excs().await;
    let report = excs.poll_once().await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);

    let snap = w.snapshot().await;
    let desired = desired_org(
        &snap,
        &DesiredSettings {
            tenant_name: "tenant001".into(),
            ..DesiredSettings::default()
        },
    );
    let org = w.gc.org();
    assert_eq!(report.users_created, desired.users.len());
    assert_eq!(org.users.len(), desired.users.len());
    // Issue 17: on the SCIM path one request creates each user, with everything it carries.
    let (scim_posts, users_posts) = (
        w.gc.request_count("POST /api/v2/scim/v2/users"),
        w.gc.request_count("POST /api/v2/users"),
    );
    if on_scim() {
        assert_eq!((scim_posts, users_posts), (desired.users.len() as u64, 0));
        let per_user: u64 =
            w.gc.stats()
                .requests
                .iter()
                .filter(|(k, _)| k.contains("/api/v2/users/") || k.contains("/scim/"))
                .map(|(_, v)| *v)
                .sum();
        assert_eq!(
            per_user,
            desired.users.len() as u64,
            "nothing but the creates"
        );
    } else {
        assert_eq!((scim_posts, users_posts), (0, desired.users.len() as u64));
    }
    assert_eq!(org.queues.len(), desired.queues.len());
    assert_eq!(org.skills.len(), desired.skills.len());
    assert_eq!(org.wrapup_codes.len(), desired.wrap_up_codes.len());
    assert!(lower_unique(
        org.users.iter().filter_map(|u| u.user.email.as_deref())
    ));
    assert!(excs.progress().get().initial_sync_done);
    assert_eq!(excs.progress().get().status, "Success");

    assert!(
        desired.users.values().any(|u| u.email.is_some()),
        "the seed gives persons an E-Mail"
    );
    // Users: names, roles by class, external ids, e-mail contacts, skills within 0..5.
    let ids = w.ids();
    for (dbid, du) in &desired.users {
        let gc_id = ids
            .gc_id(IdKind::Person, &dbid.to_string())
            .await
            .unwrap()
            .expect("every desired user is mapped");
        let u = w.gc.user(&gc_id).unwrap();
        assert_eq!(u.user.name.as_deref(), Some(du.display_name.as_str()));
        assert!(
            u.user
                .email
                .as_deref()
                .unwrap()
                .eq_ignore_ascii_case(&du.user_name)
        );
        assert!(
            u.external_ids
                .iter()
                .any(|e| e.external_key == du.external_id)
        );
        if let Some(email) = &du.email {
            assert!(
                u.user
                    .addresses
                    .iter()
                    .any(|c| c.address.as_deref() == Some(email.as_str())
                        && c.media_type.as_deref() == Some("EMAIL")),
                "the Person's E-Mail is a GC e-mail contact: {:?}",
                u.user.addresses
            );
        }
        let role_names: BTreeSet<String> = u
            .roles
            .iter()
            .filter_map(|r| {
                org.roles
                    .iter()
                    .find(|x| x.id == r.id)
                    .map(|x| x.name.clone())
            })
            .collect();
        for expected in engage_excs::rules::RoleNames::default().at_creation(du.class) {
            assert!(
                role_names.contains(expected),
                "{} lacks role {expected}",
                du.user_name
            );
        }
        assert_eq!(u.skills.len(), du.skills.len());
        assert!(
            u.skills
                .iter()
                .all(|s| (0.0..=5.0).contains(&s.proficiency))
        );
        let rec: PersonRecord = JsonView::new(w.store.clone(), w.ns.clone())
            .get(&PersonRecord::key(*dbid))
            .await
            .unwrap()
            .expect("person record published for EXAS/EXCP");
        assert_eq!(rec.gc_user_id, gc_id);
    }
    // Queues: names, peer ids, members, all wrap-up codes.
    let code_ids: BTreeSet<String> = org.wrapup_codes.iter().map(|c| c.id.clone()).collect();
    for dq in desired.queues.values() {
        let q = org
            .queues
            .iter()
            .find(|q| q.queue.name == dq.name)
            .expect("queue exists");
        assert_eq!(
            q.queue.peer_id.as_deref(),
            Some(dq.dn_dbid.to_string().as_str())
        );
        assert_eq!(
            q.queue.description.as_deref(),
            Some(dq.description.as_str())
        );
        assert_eq!(q.member_ids.len(), dq.members.len());
        let have: BTreeSet<String> = q.wrapup_code_ids.iter().cloned().collect();
        assert_eq!(have, code_ids, "all codes on all queues");
    }
    let source: Option<String> = JsonView::new(w.store.clone(), w.ns.clone())
        .get(PRESENCE_SOURCE_KEY)
        .await
        .unwrap();
    assert!(source.is_some(), "presence source created");

    // A second poll with nothing changed writes nothing new.
    let again = excs.poll_once().await.unwrap();
    assert_eq!(
        again.users_created + again.queues_created + again.skills_created,
        0
    );
    assert_eq!(w.gc.org().users.len(), desired.users.len());

    let sql = w.db.connect().await;
    // Modify: a first name.
    let (agent_dbid, agent) = desired
        .users
        .iter()
        .find(|(_, u)| u.class == engage_excs::rules::PersonClass::Agent)
        .map(|(d, u)| (*d, u.clone()))
        .unwrap();
    sql.execute(
        "UPDATE cfg_person SET first_name = 'Renamed' WHERE dbid = $1",
        &[&(agent_dbid as i32)],
    )
    .await
    .unwrap();
    // Role transition: the agent becomes a supervisor.
    let next: i32 = sql
        .query_one("SELECT COALESCE(MAX(dbid), 0) + 1 FROM cfg_flex_prop", &[])
        .await
        .unwrap()
        .get(0);
    sql.execute(
        "INSERT INTO cfg_flex_prop (dbid, object_dbid, object_type, parent_dbid, prop_type, prop_name, prop_value) \
         VALUES ($1, $2, 3, NULL, 1, 'htcc', NULL), ($3, $2, 3, $1, 1, 'roles', 'Supervisor')",
        &[&next, &(agent_dbid as i32), &(next + 1)],
    )
    .await
    .unwrap();
    excs.poll_once().await.unwrap();
    let gc_id = ids
        .gc_id(IdKind::Person, &agent_dbid.to_string())
        .await
        .unwrap()
        .unwrap();
    let u = w.gc.user(&gc_id).unwrap();
    assert!(
        u.user.name.as_deref().unwrap().starts_with("Renamed"),
        "{:?}",
        u.user.name
    );
    let org = w.gc.org();
    let sup_role = org.roles.iter().find(|r| r.name == "Supervisor").unwrap();
    assert!(
        u.roles.iter().any(|r| r.id == sup_role.id),
        "agent->supervisor adds Supervisor"
    );

    // GC-side drift: rename the user in GC; the next (full) poll restores Engage's value.
    let client = gcex::GcClient::new(w.gc.client_config()).unwrap();
    let phone = gcex::users::Contact::phone("+15550100", "WORK");
    let phone2 = phone.clone();
    client
        .update_user(&gc_id, 3, move |_| gcex::users::UpdateUser {
            name: Some("Drifted".into()),
            addresses: Some(vec![phone2.clone()]),
            ..Default::default()
        })
        .await
        .unwrap();
    excs.poll_once().await.unwrap();
    let restored = w.gc.user(&gc_id).unwrap().user;
    assert!(restored.name.clone().unwrap().starts_with("Renamed"));
    assert!(
        restored.addresses.contains(&phone),
        "a contact EXCS does not manage is kept"
    );
    if let Some(email) = &agent.email {
        assert!(
            restored
                .addresses
                .iter()
                .any(|c| c.address.as_deref() == Some(email.as_str())),
            "the managed e-mail contact is restored"
        );
    }

    // Delete: a queue member's person is deleted -> inactive and removed from every queue.
    let member_dbid = desired
        .queues
        .values()
        .flat_map(|q| q.members.iter())
        .copied()
        .find(|d| *d != agent_dbid)
        .expect("some queue has members");
    sql.execute(
        "DELETE FROM cfg_person WHERE dbid = $1",
        &[&(member_dbid as i32)],
    )
    .await
    .unwrap();
    let r = excs.poll_once().await.unwrap();
    assert_eq!(r.users_deactivated, 1);
    let member_gc = ids
        .gc_id(IdKind::Person, &member_dbid.to_string())
        .await
        .unwrap()
        .unwrap();
    let mu = w.gc.user(&member_gc).unwrap();
    assert_eq!(mu.user.state, Some(gcex::users::UserState::Inactive));
    assert!(
        w.gc.org()
            .queues
            .iter()
            .all(|q| !q.member_ids.contains(&member_gc)),
        "removed from all queues"
    );
    assert_eq!(
        w.gc.org().users.len(),
        desired.users.len(),
        "the user is not deleted"
    );

    // VAG membership change: remove every explicit member row of the linked groups. That
    // empties most queues at once: the removal guard refuses it until the operator confirms
    // (the planned count, then a restart), and the confirmed cycle makes the queues follow.
    sql.execute("DELETE FROM cfg_agent_group", &[])
        .await
        .unwrap();
    let refused = excs.poll_once().await.unwrap_err();
    let block = refused.blocked().expect("refused by the removal guard");
    assert_eq!(block.reason, BlockReason::TooManyRemovals);
    assert!(
        block.plan.planned_in(Category::QueueMembers) > 0,
        "{block:?}"
    );
    let mut settings = w.settings();
    settings.confirm_removals = Confirmation::UpTo(block.plan.planned());
    drop(excs);
    let mut excs = w.excs_with(settings).await;
    excs.poll_once().await.unwrap();
    let snap2 = w.snapshot().await;
    let desired2 = desired_org(&snap2, &DesiredSettings::default());
    for dq in desired2.queues.values() {
        let q =
            w.gc.org()
                .queues
                .into_iter()
                .find(|q| q.queue.name == dq.name)
                .unwrap();
        assert_eq!(
            q.member_ids.len(),
            dq.members.len(),
            "queue {} follows its VAGs",
            dq.name
        );
    }
    let _ = agent;
}

#[tokio::test]
async fn restart_during_initial_sync_resumes_without_duplicates() {
    let w = world(60).await;
    // The first run is killed part-way through its initial sync (its future is dropped in the
    // middle of whatever request it was making), twice.
    for cut_ms in [150u64, 400] {
        let mut first = w.excs().await;
        let _ = tokio::time::timeout(Duration::from_millis(cut_ms), first.poll_once()).await;
    }
    let mut second = w.excs().await;
    let r = second.poll_once().await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let org = w.gc.org();
    let snap = w.snapshot().await;
    let desired = desired_org(&snap, &DesiredSettings::default());
    assert_eq!(org.users.len(), desired.users.len(), "no duplicate users");
    assert_eq!(org.queues.len(), desired.queues.len(), "every queue, once");
    assert!(lower_unique(
        org.users.iter().filter_map(|u| u.user.email.as_deref())
    ));
    assert!(lower_unique(
        org.queues.iter().map(|q| q.queue.name.as_str())
    ));
    assert!(lower_unique(org.skills.iter().map(|s| s.name.as_str())));
    let _ = &w.redis;
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, serde_json::Value) {
    common::http(addr, "GET", path, None).await
}

#[tokio::test]
async fn rest_api_status_and_look_ups() {
    use engage_excs::service::{ApiState, router};
    use engage_ops::http::{OpsState, serve};
    let w = world(10).await;
    let mut excs = w.excs().await;
    let progress = excs.progress();
    let api = ApiState {
        org_id: "org-e2e".into(),
        progress,
        ids: w.ids(),
        json: JsonView::new(w.store.clone(), w.ns.clone()),
    };
    let ops = OpsState {
        health: Health::new(),
        metrics: Metrics::new(),
    };
    let (addr, _t) = serve("127.0.0.1:0".parse().unwrap(), router(api, ops, None))
        .await
        .unwrap();
    let (code, body) = http_get(addr, "/status").await;
    assert_eq!(code, 200);
    assert_eq!(body["data"]["syncStatus"]["status"], "InProgress");
    excs.poll_once().await.unwrap();
    let (_, body) = http_get(addr, "/status").await;
    assert_eq!(body["status"]["code"], 0);
    assert_eq!(body["data"]["syncStatus"]["status"], "Success");
    let msg = body["status"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "Latest database updates for orgId:org-e2e have been successfully processed on "
        ),
        "{msg}"
    );
    assert!(body["status"]["corrId"].as_str().unwrap().len() >= 32);
    // The guide's shape: 2023-07-11T10:23:08.062Z (UTC, milliseconds).
    let ts = body["data"]["syncStatus"]["timeStamp"].as_str().unwrap();
    assert_eq!(ts.len(), 24, "{ts}");
    assert!(
        ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.',
        "{ts}"
    );
    assert!(msg.ends_with(ts));

    let snap = w.snapshot().await;
    let desired = desired_org(&snap, &DesiredSettings::default());
    let (dbid, _) = desired.users.iter().next().unwrap();
    let (code, person) = http_get(addr, &format!("/api/v1/persons/{dbid}")).await;
    assert_eq!(code, 200);
    let gc_id = person["gcUserId"].as_str().unwrap();
    assert!(w.gc.user(gc_id).is_some());
    assert_eq!(http_get(addr, "/api/v1/persons/999999").await.0, 404);
    if let Some(login) = person["logins"].as_array().and_then(|l| l.first()) {
        let path = format!(
            "/api/v1/logins/{}/{}",
            login["switchDbid"],
            login["loginCode"].as_str().unwrap()
        );
        let (code, by_login) = http_get(addr, &path).await;
        assert_eq!(code, 200);
        assert_eq!(by_login["gcUserId"], person["gcUserId"]);
    }
    let (qdbid, _) = desired.queues.iter().next().unwrap();
    let (code, q) = http_get(addr, &format!("/api/v1/queues/{qdbid}")).await;
    assert_eq!(code, 200);
    assert!(w.gc.org().queues.iter().any(|x| x.queue.id == q["queueId"]));
    let ext = &desired.extensions[0];
    let (code, e) = http_get(
        addr,
        &format!("/api/v1/extensions/{}/{}", ext.switch, ext.number),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(e["number"], ext.number.as_str());
    let code_name = &desired.wrap_up_codes[0];
    let (code, c) = http_get(addr, &format!("/api/v1/wrapupcodes/{code_name}")).await;
    assert_eq!(code, 200);
    assert!(c["wrapupCodeId"].is_string());
    let (code, _) = http_get(addr, "/metrics").await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn objects_deleted_in_gc_are_not_recreated() {
    let w = world(10).await;
    let mut excs = w.excs().await;
    excs.poll_once().await.unwrap();
    let org = w.gc.org();
    let queue = org.queues[0].queue.id.clone();
    let user = org.users[0].user.id.clone();
    let client = gcex::GcClient::new(w.gc.client_config()).unwrap();
    client.delete_queue(&queue).await.unwrap();
    client.delete_user(&user).await.unwrap();
    let r = excs.poll_once().await.unwrap();
    assert!(r.skipped_deleted_in_gc >= 2, "{r:?}");
    assert_eq!(r.queues_created, 0);
    assert_eq!(r.users_created, 0);
    let r = excs.poll_once().await.unwrap();
    assert_eq!(
        r.queues_created + r.users_created,
        0,
        "still not re-created"
    );
    assert!(w.gc.org().queues.iter().all(|q| q.queue.id != queue));
}

#[tokio::test]
async fn moving_a_person_out_of_the_synchronized_folders_deactivates_it() {
    let w = world(20).await;
    let snap = w.snapshot().await;
    let idx = snap.folder_index();
    let person_key = |dbid| engage_cfgdb::model::ObjectKey {
        object_type: engage_cfgdb::model::object_type::PERSON,
        dbid,
    };
    // A folder holding agents, and another person folder to move one of them into.
    let (pdbid, folder) = snap
        .persons
        .values()
        .filter(|p| p.is_agent)
        .find_map(|p| idx.get(&person_key(p.dbid)).map(|f| (p.dbid, *f)))
        .unwrap();
    let folder_name = snap.folders[&folder].name.clone();
    let mut settings = w.settings();
    settings.filter =
        engage_cfgdb::FolderFilter::from_settings(Some("true"), Some(&folder_name)).unwrap();
    let db = PgConfigDb::from_conn_str(w.db.config()).unwrap();
    let mut excs = Excs::start(
        settings,
        Box::new(db),
        w.store.clone(),
        w.ns.clone(),
        Health::new(),
        Metrics::new(),
    )
    .await
    .unwrap();
    excs.poll_once().await.unwrap();
    let gc_id = w
        .ids()
        .gc_id(IdKind::Person, &pdbid.to_string())
        .await
        .unwrap()
        .expect("person in the selected folder is synchronized");
    let outside = w.gc.org().users.len();
    assert!(
        outside < snap.persons.len(),
        "the filter leaves some persons out"
    );
    // Move the person to a folder that is not selected.
    let sql = w.db.connect().await;
    let selected = engage_cfgdb::FolderFilter::from_settings(Some("true"), Some(&folder_name))
        .unwrap()
        .selected_folders(&snap);
    let other = snap
        .folders
        .keys()
        .find(|f| !selected.contains(f))
        .map(|f| *f as i32)
        .expect("a folder outside the selection");
    sql.execute(
        "UPDATE cfg_folder_object SET folder_dbid = $1 WHERE object_type = 3 AND object_dbid = $2",
        &[&other, &(pdbid as i32)],
    )
    .await
    .unwrap();
    let r = excs.poll_once().await.unwrap();
    assert_eq!(r.users_deactivated, 1);
    assert_eq!(
        w.gc.user(&gc_id).unwrap().user.state,
        Some(gcex::users::UserState::Inactive)
    );
    // Moving it back reactivates the same user.
    sql.execute(
        "UPDATE cfg_folder_object SET folder_dbid = $1 WHERE object_type = 3 AND object_dbid = $2",
        &[&(folder as i32), &(pdbid as i32)],
    )
    .await
    .unwrap();
    excs.poll_once().await.unwrap();
    assert_eq!(
        w.gc.user(&gc_id).unwrap().user.state,
        Some(gcex::users::UserState::Active)
    );
}

#[tokio::test]
async fn a_recreated_person_reactivates_its_user() {
    let w = world(10).await;
    // Only the first poll lists GC; the re-creation is handled by incremental polls.
    let mut settings = w.settings();
    settings.drift_check_every = 1_000;
    let mut excs = w.excs_with(settings).await;
    excs.poll_once().await.unwrap();
    let snap = w.snapshot().await;
    let desired = desired_org(&snap, &DesiredSettings::default());
    let (&old, user) = desired.users.iter().next().unwrap();
    let gc_id = w
        .ids()
        .gc_id(IdKind::Person, &old.to_string())
        .await
        .unwrap()
        .unwrap();
    let sql = w.db.connect().await;
    sql.batch_execute(&format!(
        "CREATE TEMP TABLE keep AS SELECT * FROM cfg_person WHERE dbid = {old}; \
         UPDATE keep SET dbid = 99001; DELETE FROM cfg_person WHERE dbid = {old};"
    ))
    .await
    .unwrap();
    let r = excs.poll_once().await.unwrap();
    assert_eq!(r.users_deactivated, 1);
    assert_eq!(
        w.gc.user(&gc_id).unwrap().user.state,
        Some(gcex::users::UserState::Inactive)
    );
    // Re-created in Engage: a new DBID, the same user name.
    sql.batch_execute("INSERT INTO cfg_person SELECT * FROM keep;")
        .await
        .unwrap();
    let r = excs.poll_once().await.unwrap();
    assert_eq!(r.users_created, 0, "the existing user is reused");
    let u = w.gc.user(&gc_id).unwrap();
    assert_eq!(u.user.state, Some(gcex::users::UserState::Active));
    let new_id = w
        .ids()
        .gc_id(IdKind::Person, "99001")
        .await
        .unwrap()
        .expect("the new DBID maps to the same user");
    assert_eq!(new_id, gc_id);
    let expected = user.external_id.replacen(&old.to_string(), "99001", 1);
    assert!(
        u.external_ids.iter().any(|e| e.external_key == expected),
        "new externalId {expected}: {:?}",
        u.external_ids
    );
}

fn gc_requests(gc: &EmulatorHandle) -> u64 {
    gc.stats()
        .requests
        .iter()
        .filter(|(k, _)| !k.contains("/oauth/") && !k.contains("/emulator/"))
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test]
async fn idle_polls_leave_gc_alone_and_history_alone_finds_changes() {
    let w = world(10).await;
    // History-driven: a full snapshot only every 1,000 polls unless the history log moves;
    // no drift check after the first poll.
    let mut settings = w.settings();
    settings.drift_check_every = 1_000;
    settings.full_scan_every = 1_000;
    let mut excs = w.excs_with(settings).await;
    let first = excs.poll_once().await.unwrap();
    assert!(!first.unchanged && first.users_created > 0, "{first:?}");

    // Nothing changed in Engage: no GC request at all.
    let before = gc_requests(&w.gc);
    for _ in 0..3 {
        let r = excs.poll_once().await.unwrap();
        assert!(r.unchanged, "{r:?}");
        assert_eq!(r.config_changes, 0);
    }
    assert_eq!(gc_requests(&w.gc), before, "idle polls sent GC requests");

    // A change without a history record is not seen in history-only mode (a full scan would
    // find it; see the next test)...
    let snap = w.snapshot().await;
    let desired = desired_org(&snap, &DesiredSettings::default());
    let (&dbid, _) = desired.users.iter().next().unwrap();
    let sql = w.db.connect().await;
    sql.execute(
        "UPDATE cfg_person SET first_name = 'Hist' WHERE dbid = $1",
        &[&(dbid as i32)],
    )
    .await
    .unwrap();
    assert!(excs.poll_once().await.unwrap().unchanged);
    // ...and is picked up as soon as Configuration Server logs it.
    sql.execute(
        "INSERT INTO cfg_hist_log (id, object_type, object_dbid, operation, change_time) \
         SELECT MAX(id) + 1, 3, $1, 2, 1900000000 FROM cfg_hist_log",
        &[&(dbid as i32)],
    )
    .await
    .unwrap();
    let r = excs.poll_once().await.unwrap();
    assert!(!r.unchanged);
    assert_eq!(r.config_changes, 1, "{r:?}");
    assert_eq!(r.users_updated, 1, "{r:?}");
    let gc_id = w
        .ids()
        .gc_id(IdKind::Person, &dbid.to_string())
        .await
        .unwrap()
        .unwrap();
    let name = w.gc.user(&gc_id).unwrap().user.name.unwrap_or_default();
    assert!(name.starts_with("Hist "), "{name}");
    assert!(excs.poll_once().await.unwrap().unchanged);
}

#[tokio::test]
async fn full_scans_find_changes_without_history_and_failed_cycles_are_retried() {
    let w = world(10).await;
    let mut settings = w.settings();
    settings.drift_check_every = 1_000;
    settings.full_scan_every = 1; // the default: a snapshot every poll
    let mut excs = w.excs_with(settings).await;
    excs.poll_once().await.unwrap();
    assert!(excs.poll_once().await.unwrap().unchanged);

    // No history record (as if purged): the fingerprint diff still sees the change.
    let snap = w.snapshot().await;
    let desired = desired_org(&snap, &DesiredSettings::default());
    let (&dbid, _) = desired.users.iter().next().unwrap();
    let sql = w.db.connect().await;
    sql.execute(
        "UPDATE cfg_person SET last_name = 'Scanned' WHERE dbid = $1",
        &[&(dbid as i32)],
    )
    .await
    .unwrap();
    // GC refuses the first users request: the poll reports it, and the next poll retries
    // without any new Config DB change.
    w.gc.inject_fault(gcex::emulator::Fault {
        path_prefix: user_requests_prefix().into(),
        remaining: 1,
        kind: gcex::emulator::FaultKind::Status { status: 400 },
    });
    if let Ok(r) = excs.poll_once().await {
        assert!(
            !r.errors.is_empty(),
            "the refused request is reported: {r:?}"
        );
    }
    let r = excs.poll_once().await.unwrap();
    assert!(!r.unchanged, "the failed work is retried");
    assert_eq!(r.config_changes, 0);
    let gc_id = w
        .ids()
        .gc_id(IdKind::Person, &dbid.to_string())
        .await
        .unwrap()
        .unwrap();
    let name = w.gc.user(&gc_id).unwrap().user.name.unwrap_or_default();
    assert!(name.ends_with(" Scanned"), "{name}");
    assert!(excs.poll_once().await.unwrap().unchanged);
}

/// Genesys Cloud fidelity (issue 11): an unmapped person whose e-mail belongs to a *deleted*
/// GC user restores that user; a full cycle does not re-post external ids; a queue update
/// keeps the fields admins set; a phone extension on the user survives the e-mail contact.
#[tokio::test]
async fn deleted_gc_user_is_restored_and_rmw_keeps_admin_fields() {
    let w = world(10).await;
    let snap = w.snapshot().await;
    let desired = desired_org(&snap, &DesiredSettings::default());
    let (dbid, person) = desired
        .users
        .iter()
        .find(|(_, u)| u.active)
        .expect("an active person");
    // Before EXCS ever ran, the org had a user with this e-mail, since deleted.
    let client = gcex::GcClient::new(w.gc.client_config()).unwrap();
    let old = client
        .create_user(&gcex::users::CreateUser {
            name: "Former employee".into(),
            email: person.user_name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    client.delete_user(&old.id).await.unwrap();

    let mut excs = w.excs().await;
    let r = excs.poll_once().await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.users_restored, 1, "{r:?}");
    let mapped = w
        .ids()
        .gc_id(IdKind::Person, &dbid.to_string())
        .await
        .unwrap();
    assert_eq!(
        mapped.as_deref(),
        Some(old.id.as_str()),
        "the old user is reused"
    );
    let u = w.gc.user(&old.id).unwrap();
    assert_eq!(u.user.state, Some(gcex::users::UserState::Active));
    assert_eq!(u.user.name.as_deref(), Some(person.display_name.as_str()));
    assert!(
        u.external_ids
            .iter()
            .any(|e| e.external_key == person.external_id)
    );

    // An admin gives the user a phone extension and the queue ACW settings.
    client
        .update_user(&old.id, 3, |cur| gcex::users::UpdateUser {
            addresses: Some(
                cur.addresses
                    .iter()
                    .cloned()
                    .chain([gcex::users::Contact::phone_extension("4711", "WORK")])
                    .collect(),
            ),
            ..Default::default()
        })
        .await
        .unwrap();
    let queue = w.gc.org().queues[0].queue.clone();
    client
        .update_queue_fields(&queue.id, |q| {
            q.name = format!("{} (renamed in GC)", queue.name);
            q.extra.insert(
                "acwSettings".into(),
                serde_json::json!({"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 30000}),
            );
        })
        .await
        .unwrap();

    // A full cycle (drift check every poll): no external id re-posted, the queue's name is
    // restored and its ACW settings kept, the extension kept.
    let posts_before: u64 =
        w.gc.stats()
            .requests
            .iter()
            .filter(|(k, _)| k.starts_with("POST ") && k.ends_with("/externalid"))
            .map(|(_, n)| n)
            .sum();
    let r = excs.poll_once().await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let posts_after: u64 =
        w.gc.stats()
            .requests
            .iter()
            .filter(|(k, _)| k.starts_with("POST ") && k.ends_with("/externalid"))
            .map(|(_, n)| n)
            .sum();
    assert_eq!(
        posts_after, posts_before,
        "external ids are read, not re-posted"
    );
    let q = client.get_queue(&queue.id).await.unwrap();
    assert_eq!(q.name, queue.name, "EXCS restores the name it owns");
    assert_eq!(
        q.extra.get("acwSettings"),
        Some(&serde_json::json!({"wrapupPrompt": "MANDATORY_TIMEOUT", "timeoutMs": 30000})),
        "the admin's ACW settings survive the full-replace PUT"
    );
    let u = w.gc.user(&old.id).unwrap();
    assert!(
        u.user
            .addresses
            .iter()
            .any(|c| c.extension.as_deref() == Some("4711")),
        "{:?}",
        u.user.addresses
    );
}

/// EXCS with its own health and metrics registries (to read what it reports).
async fn observed_excs(w: &common::World, settings: ExcsSettings) -> (Excs, Health, Metrics) {
    let health = Health::new();
    let metrics = Metrics::new();
    let db = PgConfigDb::from_conn_str(w.db.config()).unwrap();
    let excs = Excs::start(
        settings,
        Box::new(db),
        w.store.clone(),
        w.ns.clone(),
        health.clone(),
        metrics.clone(),
    )
    .await
    .unwrap();
    (excs, health, metrics)
}

/// GC users that are inactive.
fn inactive_users(gc: &EmulatorHandle) -> usize {
    gc.org()
        .users
        .iter()
        .filter(|u| u.user.state == Some(gcex::users::UserState::Inactive))
        .count()
}

#[tokio::test]
async fn an_empty_config_db_read_deactivates_nobody_and_says_why() {
    use engage_excs::service::{ApiState, router};
    use engage_ops::http::{OpsState, serve};
    let w = world(20).await;
    let (mut excs, health, metrics) = observed_excs(&w, w.settings()).await;
    excs.poll_once().await.unwrap();
    let users = w.gc.org().users.len();
    assert!(users >= 20);
    assert_eq!(inactive_users(&w.gc), 0);
    let api = ApiState {
        org_id: "org-e2e".into(),
        progress: excs.progress(),
        ids: w.ids(),
        json: w.json(),
    };
    let ops = OpsState {
        health: health.clone(),
        metrics: metrics.clone(),
    };
    let (addr, _t) = serve("127.0.0.1:0".parse().unwrap(), router(api, ops, None))
        .await
        .unwrap();

    // The person table comes back empty (a half-restored database).
    let sql = w.db.connect().await;
    sql.batch_execute(
        "CREATE TABLE person_backup AS SELECT * FROM cfg_person; DELETE FROM cfg_person;",
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let e = excs.poll_once().await.unwrap_err();
        let block = e.blocked().expect("refused");
        assert_eq!(block.reason, BlockReason::EmptyRead);
        assert_eq!(block.persons_read, 0);
        assert!(block.message.contains("cfg_person"), "{}", block.message);
    }
    assert_eq!(inactive_users(&w.gc), 0, "nobody deactivated");
    assert_eq!(w.gc.org().users.len(), users);
    let (_, body) = http_get(addr, "/status").await;
    assert_eq!(body["status"]["code"], 2, "{body}");
    assert_eq!(body["data"]["blocked"]["reason"], "emptyRead", "{body}");
    assert_eq!(body["data"]["blocked"]["personsInScope"], 0);
    assert!(
        body["data"]["blocked"]["activeUsersMapped"]
            .as_u64()
            .unwrap()
            >= 20,
        "{body}"
    );
    assert!(
        body["status"]["message"]
            .as_str()
            .unwrap()
            .contains("EXEC_TENANT_ID")
    );
    let (code, h) = http_get(addr, "/health").await;
    assert_eq!(code, 503, "{h}");
    assert_eq!(h["dependencies"]["configDb"]["up"], false, "{h}");
    assert_eq!(
        metrics.value("excs_cycles_blocked_total", &[("reason", "empty_read")]),
        Some(3.0)
    );

    // The read recovers: sync resumes without operator action.
    sql.batch_execute("INSERT INTO cfg_person SELECT * FROM person_backup;")
        .await
        .unwrap();
    let r = excs.poll_once().await.unwrap();
    assert_eq!(r.users_deactivated, 0);
    assert!(excs.progress().get().blocked.is_none());
    assert!(health.report().dependencies["configDb"].up);
    let (_, body) = http_get(addr, "/status").await;
    assert_eq!(body["status"]["code"], 0, "{body}");
    assert!(body["data"]["blocked"].is_null());
    assert_eq!(inactive_users(&w.gc), 0);
}

#[tokio::test]
async fn a_folder_filter_typo_deactivates_nobody() {
    let w = world(20).await;
    let mut excs = w.excs().await;
    excs.poll_once().await.unwrap();
    let users = w.gc.org().users.len();
    drop(excs);
    // Restarted with a folder name that does not exist (a typo).
    let mut settings = w.settings();
    settings.filter =
        engage_cfgdb::FolderFilter::from_settings(Some("true"), Some("Agnets")).unwrap();
    let (mut excs, health, metrics) = observed_excs(&w, settings).await;
    let e = excs.poll_once().await.unwrap_err();
    let block = e.blocked().expect("refused");
    assert_eq!(block.reason, BlockReason::EmptyRead);
    assert!(block.persons_read >= 20);
    assert!(
        block.message.contains("EXCS_SYNC_CUSTOMER_FOLDER_NAME"),
        "{}",
        block.message
    );
    assert_eq!(inactive_users(&w.gc), 0, "nobody deactivated");
    assert_eq!(w.gc.org().users.len(), users);
    assert_eq!(
        excs.progress().get().blocked.map(|b| b.reason),
        Some(BlockReason::EmptyRead)
    );
    assert!(!health.report().dependencies["configDb"].up);
    assert_eq!(
        metrics.value("excs_cycles_blocked_total", &[("reason", "empty_read")]),
        Some(1.0)
    );
}

/// Deletes these persons from the Config DB.
async fn delete_persons(w: &common::World, dbids: &[i64]) {
    let ids: Vec<i32> = dbids.iter().map(|d| *d as i32).collect();
    w.db.connect()
        .await
        .execute("DELETE FROM cfg_person WHERE dbid = ANY($1)", &[&ids])
        .await
        .unwrap();
}

#[tokio::test]
async fn removing_half_the_persons_needs_confirmation() {
    let w = world(20).await;
    let (mut excs, health, metrics) = observed_excs(&w, w.settings()).await;
    excs.poll_once().await.unwrap();
    let desired = desired_org(&w.snapshot().await, &DesiredSettings::default());
    let half: Vec<i64> = desired
        .users
        .keys()
        .copied()
        .take(desired.users.len() / 2)
        .collect();
    delete_persons(&w, &half).await;
    let e = excs.poll_once().await.unwrap_err();
    let block = e.blocked().expect("refused").clone();
    assert_eq!(block.reason, BlockReason::TooManyRemovals);
    assert_eq!(block.plan.planned_in(Category::Users), half.len());
    assert_eq!(inactive_users(&w.gc), 0, "nothing deactivated");
    assert!(!health.report().dependencies["removalGuard"].up);
    assert_eq!(
        metrics.value(
            "excs_cycles_blocked_total",
            &[("reason", "too_many_removals")]
        ),
        Some(1.0)
    );
    // Still refused on the next poll (nothing changed in between).
    assert!(excs.poll_once().await.unwrap_err().blocked().is_some());
    drop(excs);

    // A confirmation smaller than the plan does not unlock it.
    let mut settings = w.settings();
    settings.confirm_removals = Confirmation::UpTo(block.plan.planned() - 1);
    let mut excs = w.excs_with(settings).await;
    assert!(excs.poll_once().await.unwrap_err().blocked().is_some());
    assert_eq!(inactive_users(&w.gc), 0);
    drop(excs);

    // The operator confirms the planned count and restarts: the cycle runs once.
    let mut settings = w.settings();
    settings.confirm_removals = Confirmation::UpTo(block.plan.planned());
    let (mut excs, health, _) = observed_excs(&w, settings).await;
    let r = excs.poll_once().await.unwrap();
    assert_eq!(r.users_deactivated, half.len());
    assert_eq!(inactive_users(&w.gc), half.len());
    assert!(health.report().dependencies["removalGuard"].up);
    assert!(excs.progress().get().blocked.is_none());
    // Used: the next mass removal is refused again.
    let rest: Vec<i64> = desired
        .users
        .keys()
        .copied()
        .filter(|d| !half.contains(d))
        .take(5)
        .collect();
    delete_persons(&w, &rest).await;
    let e = excs.poll_once().await.unwrap_err();
    assert_eq!(
        e.blocked().map(|b| b.reason),
        Some(BlockReason::TooManyRemovals)
    );
    assert_eq!(inactive_users(&w.gc), half.len());
}

#[tokio::test]
async fn removing_one_person_of_twenty_needs_no_confirmation() {
    let w = world(20).await;
    let mut excs = w.excs().await;
    excs.poll_once().await.unwrap();
    let desired = desired_org(&w.snapshot().await, &DesiredSettings::default());
    assert!(desired.users.len() >= 20);
    let one = *desired.users.keys().next().unwrap();
    delete_persons(&w, &[one]).await;
    let r = excs.poll_once().await.unwrap();
    assert_eq!(r.users_deactivated, 1);
    assert_eq!(inactive_users(&w.gc), 1);
    assert!(excs.progress().get().blocked.is_none());
}

#[tokio::test]
async fn a_wiped_store_is_republished_on_the_next_poll() {
    use engage_store::{DnRecord, ServiceConnection, VqRecord};
    let w = world(10).await;
    // No drift check after the first poll: only the wipe detection can republish.
    let mut settings = w.settings();
    settings.drift_check_every = 1_000;
    let (mut excs, _health, metrics) = observed_excs(&w, settings).await;
    excs.poll_once().await.unwrap();
    assert!(excs.poll_once().await.unwrap().unchanged);
    let json = w.json();
    let before = w.store.scan_prefix(w.ns.prefix()).await.unwrap();
    let count = |prefix: &str| {
        before
            .iter()
            .filter(|(k, _)| k[w.ns.prefix().len()..].starts_with(prefix))
            .count()
    };
    let (persons, dns, vqs) = (count("person:"), count("dn:"), count("vq:"));
    assert!(persons >= 10 && dns > 0 && vqs > 0);
    let users = w.gc.org().users.len();

    // FLUSH: every key of this deployment's prefix goes.
    for (k, _) in &before {
        w.store.delete(k).await.unwrap();
    }
    assert!(w.store.scan_prefix(w.ns.prefix()).await.unwrap().is_empty());

    let r = excs.poll_once().await.unwrap();
    assert!(!r.unchanged, "the wipe forces a cycle: {r:?}");
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.users_created, 0, "existing GC users are adopted");
    assert_eq!(w.gc.org().users.len(), users);
    assert_eq!(
        metrics.value("excs_store_wipes_detected_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        json.scan::<PersonRecord>(PersonRecord::PREFIX)
            .await
            .unwrap()
            .len(),
        persons
    );
    assert_eq!(json.scan::<DnRecord>("dn:").await.unwrap().len(), dns);
    assert_eq!(json.scan::<VqRecord>("vq:").await.unwrap().len(), vqs);
    assert!(
        json.get::<String>(PRESENCE_SOURCE_KEY)
            .await
            .unwrap()
            .is_some()
    );
    for section in ["agent_state_sync", "conversation_provider"] {
        assert!(
            json.get::<ServiceConnection>(&ServiceConnection::key(section))
                .await
                .unwrap()
                .is_some(),
            "{section} republished"
        );
    }
    let after = w.store.scan_prefix(w.ns.prefix()).await.unwrap();
    let ids = w.ids();
    assert_eq!(
        ids.all(IdKind::Person).await.unwrap().len(),
        persons,
        "id maps rebuilt"
    );
    assert!(
        after.len() >= before.len() - 1,
        "{} < {}",
        after.len(),
        before.len()
    );
    // Quiet again afterwards.
    assert!(excs.poll_once().await.unwrap().unchanged);
    assert_eq!(
        metrics.value("excs_store_wipes_detected_total", &[]),
        Some(1.0)
    );
}

/// Issue 11: with `EXCS_SET_PRIMARY_PRESENCE_SOURCE`, every synced agent's primary presence
/// source in GC is the connector's, set once (a second cycle changes nothing); non-agents keep
/// GC's own.
#[tokio::test]
async fn agents_get_the_connectors_presence_source_as_primary_when_asked() {
    let w = world(6).await;
    let mut settings = w.settings();
    settings.set_primary_presence_source = true;
    settings.drift_check_every = 1; // every poll a full cycle
    let mut excs = w.excs_with(settings).await;
    let r = excs.poll_once().await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let source: String = w
        .json()
        .get(engage_store::PRESENCE_SOURCE_KEY)
        .await
        .unwrap()
        .expect("presence source published");
    let persons = w
        .json()
        .scan::<engage_store::PersonRecord>(engage_store::PersonRecord::PREFIX)
        .await
        .unwrap();
    let (agents, others): (Vec<_>, Vec<_>) = persons
        .into_iter()
        .map(|(_, p)| p)
        .partition(|p| p.is_agent);
    assert!(!agents.is_empty() && !others.is_empty());
    for a in &agents {
        assert_eq!(
            w.gc.primary_presence_source(&a.gc_user_id),
            source,
            "{}",
            a.user_name
        );
    }
    for o in &others {
        assert_eq!(w.gc.primary_presence_source(&o.gc_user_id), "PURECLOUD");
    }
    let puts = |w: &common::World| -> u64 {
        agents
            .iter()
            .map(|a| {
                w.gc.request_count(&format!(
                    "PUT /api/v2/presence/users/{}/primarysource",
                    a.gc_user_id
                ))
            })
            .sum()
    };
    let before = puts(&w);
    assert_eq!(before, agents.len() as u64);
    excs.poll_once().await.unwrap();
    assert_eq!(puts(&w), before, "set once");
}

/// Issue 19: during a rate-limited initial sync `/status` progress moves object by object, per
/// kind, never backwards, and reaches the total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_progress_moves_per_object_and_reaches_the_total() {
    let w = world(20).await;
    let mut settings = w.settings();
    // 30 GC requests per second (SCIM, about one request per user: 5): the sync takes
    // seconds, not milliseconds.
    settings.gc_rate_limit_per_min = if on_scim() { 5 } else { 30 };
    settings.gc_rate_window = Duration::from_secs(1);
    let mut excs = w.excs_with(settings).await;
    let progress = excs.progress();
    let cycle = tokio::spawn(async move {
        let r = excs.poll_once().await;
        (excs, r)
    });
    let mut samples = Vec::new();
    while !cycle.is_finished() {
        let p = progress.get();
        if p.status == "InProgress" {
            samples.push((p.done, p.total, p.kinds.get("users").copied()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_excs, r) = cycle.await.unwrap();
    let r = r.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let distinct: std::collections::BTreeSet<usize> = samples.iter().map(|s| s.0).collect();
    assert!(distinct.len() >= 5, "progress moved in steps: {distinct:?}");
    assert!(
        samples.windows(2).all(|w| w[1].0 >= w[0].0),
        "never backwards: {samples:?}"
    );
    let users = samples.iter().filter_map(|s| s.2).collect::<Vec<_>>();
    assert!(
        users.iter().any(|[d, t]| *d > 0 && d < t),
        "users counted one by one: {users:?}"
    );
    let end = progress.get();
    assert_eq!(end.done, end.total);
    assert_eq!(end.status, "Success");
    for (k, [d, t]) in &end.kinds {
        assert_eq!(d, t, "{k}");
    }
}

/// Issue 12: the shared store (Redis, persistent) killed under EXCS: a cycle while it is down
/// fails with a store error and changes nothing in GC, `/health` says the store is down; once
/// Redis is back the next cycle succeeds and GC ends up exactly as before, with no duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_under_excs_fails_cycles_cleanly_and_recovers() {
    let mut redis = engage_test_support::PrivateRedis::start();
    let w = common::world_on(
        6,
        engage_test_support::TestRedis::create_at(&redis.url()).await,
    )
    .await;
    let (mut excs, health, _metrics) = observed_excs(&w, w.settings()).await;
    let first = excs.poll_once().await.unwrap();
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let users_before = w.gc.org().users.len();
    let queues_before = w.gc.org().queues.len();
    redis.kill_9();
    let down = tokio::time::timeout(Duration::from_secs(60), excs.poll_once())
        .await
        .expect("a cycle with the store down ends");
    assert!(down.is_err(), "{down:?}");
    let report = health.report();
    assert!(
        report.dependencies.values().any(|d| !d.up),
        "something is down in /health: {report:?}"
    );
    redis.restart();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match excs.poll_once().await {
            Ok(r) if r.errors.is_empty() => break,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never recovered: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    assert_eq!(w.gc.org().users.len(), users_before, "no duplicate user");
    assert_eq!(w.gc.org().queues.len(), queues_before, "no duplicate queue");
    assert!(health.report().dependencies["store"].up);
}

/// Syncs, deletes half the persons from the Config DB, and returns them with the refusal the
/// next poll answers.
async fn refuse_removing_half(
    w: &common::World,
    excs: &mut Excs,
) -> (Vec<i64>, engage_excs::guard::CycleBlock) {
    excs.poll_once().await.unwrap();
    let desired = desired_org(&w.snapshot().await, &DesiredSettings::default());
    let half: Vec<i64> = desired
        .users
        .keys()
        .copied()
        .take(desired.users.len() / 2)
        .collect();
    delete_persons(w, &half).await;
    let e = excs.poll_once().await.unwrap_err();
    let block = e.blocked().expect("refused").clone();
    (half, block)
}

/// Issue 12 §9: `exec confirm-removals` (here the function it calls) confirms a refused cycle
/// without a restart: too small a number leaves it refused, the planned number lets the next
/// poll run it once, and the confirmation is gone afterwards.
#[tokio::test]
async fn a_refused_cycle_is_confirmed_through_the_store_without_a_restart() {
    let w = world(20).await;
    let (mut excs, health, _) = observed_excs(&w, w.settings()).await;
    let (half, block) = refuse_removing_half(&w, &mut excs).await;
    let json = w.json();
    assert!(
        engage_excs::service::confirm_removals(&json, "no")
            .await
            .is_err()
    );
    assert!(
        engage_excs::service::confirm_removals(&json, "lots")
            .await
            .is_err()
    );
    let too_few = (block.plan.planned() - 1).to_string();
    engage_excs::service::confirm_removals(&json, &too_few)
        .await
        .unwrap();
    assert!(excs.poll_once().await.unwrap_err().blocked().is_some());
    assert_eq!(inactive_users(&w.gc), 0);
    let enough = block.plan.planned().to_string();
    engage_excs::service::confirm_removals(&json, &enough)
        .await
        .unwrap();
    let r = excs.poll_once().await.unwrap();
    assert_eq!(r.users_deactivated, half.len());
    assert!(health.report().dependencies["removalGuard"].up);
    assert_eq!(
        json.get::<String>(engage_store::schema::keys::EXCS_CONFIRM_REMOVALS)
            .await
            .unwrap(),
        None,
        "used once, then gone"
    );
}

/// Issue 17 (both user APIs): a configured role the org lacks is left out and the others are
/// assigned; what an admin adds in GC (a role, a skill EXCS does not manage) survives EXCS's
/// updates; a changed person costs one GET and one PATCH on the SCIM path.
#[tokio::test]
async fn missing_roles_are_left_out_and_admin_roles_and_skills_survive_updates() {
    let w = world_with(
        6,
        engage_test_support::TestRedis::create().await,
        &[(
            "config_sync",
            "agent_role_names",
            "Employee, User, Ghost Role",
        )],
    )
    .await;
    let mut excs = w.excs().await;
    let r = excs.poll_once().await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert!(r.users_created > 0);
    let org = w.gc.org();
    let role = |name: &str| {
        org.roles
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .id
            .clone()
    };
    let snap = w.snapshot().await;
    let desired = desired_org(&snap, &DesiredSettings::default());
    let (&dbid, du) = desired
        .users
        .iter()
        .find(|(_, u)| u.class == engage_excs::rules::PersonClass::Agent)
        .expect("an agent");
    let gc_id = w
        .ids()
        .gc_id(IdKind::Person, &dbid.to_string())
        .await
        .unwrap()
        .unwrap();
    let roles: BTreeSet<String> =
        w.gc.user(&gc_id)
            .unwrap()
            .roles
            .into_iter()
            .map(|r| r.id)
            .collect();
    assert!(
        roles.contains(&role("Employee")) && roles.contains(&role("User")),
        "{du:?}"
    );
    // An admin adds a role and a skill EXCS does not manage.
    let gc = w.gc_client();
    let extra = gc.create_skill("Admin Skill").await.unwrap();
    gc.patch_user_skills(
        &gc_id,
        &[gcex::users::SkillAssignment {
            id: extra.id.clone(),
            proficiency: 3.0,
        }],
    )
    .await
    .unwrap();
    let mut with_admin: Vec<String> = roles.iter().cloned().collect();
    with_admin.push(role("Admin"));
    gc.set_user_roles(&gc_id, &with_admin).await.unwrap();
    // The person changes in Engage: EXCS updates the user.
    let sql = w.db.connect().await;
    sql.execute(
        "UPDATE cfg_person SET last_name = 'Changed' WHERE dbid = $1",
        &[&(dbid as i32)],
    )
    .await
    .unwrap();
    let before = w.gc.stats().requests.clone();
    let r = excs.poll_once().await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let u = w.gc.user(&gc_id).unwrap();
    assert!(u.user.name.as_deref().unwrap_or("").ends_with("Changed"));
    assert!(
        u.roles.iter().any(|r| r.id == role("Admin")),
        "roles are never removed"
    );
    assert!(
        u.skills.iter().any(|s| s.id == extra.id),
        "unmanaged skills are kept"
    );
    assert_eq!(u.skills.len(), du.skills.len() + 1);
    if on_scim() {
        let after = w.gc.stats().requests;
        let delta =
            |k: &str| after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0);
        let path = format!("/api/v2/scim/v2/users/{gc_id}");
        assert_eq!(
            (
                delta(&format!("GET {path}")),
                delta(&format!("PATCH {path}"))
            ),
            (1, 1)
        );
    }
    // A full drift check (every poll in this world) finds nothing to restore.
    let r = excs.poll_once().await.unwrap();
    assert_eq!((r.users_updated, r.errors.len()), (0, 0), "{r:?}");
}

/// Issue 19: each Config DB change poll is timed (`excs_config_db_poll_seconds`) and counted by
/// outcome; the store EXCS runs on can be timed per operation.
#[tokio::test]
async fn each_config_db_poll_is_timed_and_counted() {
    let w = world(3).await;
    let metrics = Metrics::new();
    let store = engage_ops::timed_store::timed(w.store.clone(), "excs", &metrics);
    let db = PgConfigDb::from_conn_str(w.db.config()).unwrap();
    let mut excs = Excs::start(
        w.settings(),
        Box::new(db),
        store,
        w.ns.clone(),
        Health::new(),
        metrics.clone(),
    )
    .await
    .unwrap();
    excs.poll_once().await.unwrap();
    excs.poll_once().await.unwrap();
    assert_eq!(
        metrics.value("excs_config_db_polls_total", &[("outcome", "ok")]),
        Some(2.0)
    );
    assert_eq!(
        metrics.value("excs_config_db_polls_total", &[("outcome", "error")]),
        Some(0.0)
    );
    assert!(
        metrics
            .value("excs_config_db_poll_seconds", &[])
            .is_some_and(|s| s > 0.0)
    );
    assert!(
        metrics
            .value(
                "excs_store_operations_total",
                &[("op", "put"), ("outcome", "ok")]
            )
            .is_some_and(|n| n > 0.0)
    );
}
