//! Contract tests: the client against the emulator over real HTTP, endpoint by endpoint.

mod common;

use common::*;
use futures_util::StreamExt;
use gcex::events::*;
use gcex::presence::PresenceDefinition;
use gcex::recordings::{UploadUrlRequest, content_md5};
use gcex::routing::{QueueRequest, TranscriptionMode, TranscriptionSettings, WrapupCodeRequest};
use gcex::sta::{ProgramMappingsRequest, ProgramRequest, StaSettingsRequest};
use gcex::users::{SkillAssignment, UpdateUser, UserState};
use gcex::{EntityRef, GcError, collect_all};
use std::collections::BTreeMap;

#[tokio::test]
async fn users_create_get_list_patch_and_unique_email() {
    let h = emulator().await;
    let c = client(&h);
    let u = make_user(&c, "Ann.Lee@example.com").await;
    assert_eq!(u.email.as_deref(), Some("Ann.Lee@example.com"));
    assert_eq!(u.state, Some(UserState::Active));
    assert_eq!(
        u.division.as_ref().map(|d| d.id.clone()),
        Some(c.home_division().await.expect("div").id)
    );

    // Same email differing only in case: rejected.
    let dup = c
        .create_user(&gcex::users::CreateUser {
            name: "x".into(),
            email: "ann.lee@EXAMPLE.com".into(),
            ..Default::default()
        })
        .await
        .expect_err("duplicate");
    assert!(dup.is_conflict(), "{dup}");
    assert_eq!(dup.code(), Some("general.conflict"));
    assert!(dup.correlation_id().is_some());

    let got = c.get_user(&u.id, None).await.expect("get");
    assert_eq!(got, u);
    let patched = c
        .patch_user(
            &u.id,
            &UpdateUser {
                version: got.version,
                title: Some("Agent".into()),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    assert_eq!(patched.title.as_deref(), Some("Agent"));
    assert_eq!(patched.version, got.version + 1);

    // Stale version: 409; update_user re-reads and succeeds.
    let stale = c
        .patch_user(
            &u.id,
            &UpdateUser {
                version: got.version,
                title: Some("Lead".into()),
                ..Default::default()
            },
        )
        .await
        .expect_err("stale");
    assert!(stale.is_conflict());
    let updated = c
        .update_user(&u.id, 3, |_| UpdateUser {
            department: Some("Sales".into()),
            ..Default::default()
        })
        .await
        .expect("re-read and retry");
    assert_eq!(updated.department.as_deref(), Some("Sales"));
    assert_eq!(updated.title.as_deref(), Some("Agent"));

    let all = collect_all(c.users(None)).await.expect("list");
    assert_eq!(all.len(), 1);
    let found = c
        .find_user_by_email("ANN.LEE@example.com")
        .await
        .expect("search");
    assert_eq!(found.map(|u| u.id), Some(u.id.clone()));
    assert_eq!(
        c.find_user_by_email("nobody@example.com")
            .await
            .expect("search"),
        None
    );
    let missing = c.get_user(&uuid(), None).await.expect_err("404");
    assert!(missing.is_not_found());
}

#[tokio::test]
async fn user_state_delete_restore_and_external_ids() {
    let h = emulator().await;
    let c = client(&h);
    let u = make_user(&c, "bob@example.com").await;
    let inactive = c
        .set_user_state(&u.id, UserState::Inactive)
        .await
        .expect("inactive");
    assert_eq!(inactive.state, Some(UserState::Inactive));
    assert_eq!(
        collect_all(c.users(Some(UserState::Inactive)))
            .await
            .expect("list")
            .len(),
        1
    );
    assert!(collect_all(c.users(None)).await.expect("list").is_empty());

    c.delete_user(&u.id).await.expect("delete");
    assert!(
        c.get_user(&u.id, None)
            .await
            .expect_err("deleted")
            .is_not_found()
    );
    let restored = c
        .set_user_state(&u.id, UserState::Active)
        .await
        .expect("restore");
    assert_eq!(restored.state, Some(UserState::Active));

    let ids = c
        .add_user_external_id(&u.id, "engage", "Person-101")
        .await
        .expect("ext");
    assert_eq!(ids.len(), 1);
    // GC answers 409 to a repeat; ensure_user_external_id reads first and posts nothing.
    assert!(
        c.add_user_external_id(&u.id, "engage", "Person-101")
            .await
            .expect_err("repeat")
            .is_conflict()
    );
    assert!(
        !c.ensure_user_external_id(&u.id, "engage", "Person-101")
            .await
            .expect("ensure")
    );
    let found = c
        .user_by_external_id("engage", "Person-101")
        .await
        .expect("lookup");
    assert_eq!(found.id, u.id);
    // Keys are case-sensitive.
    assert!(
        c.user_by_external_id("engage", "person-101")
            .await
            .expect_err("case")
            .is_not_found()
    );
    let other = make_user(&c, "carol@example.com").await;
    assert!(
        c.add_user_external_id(&other.id, "engage", "Person-101")
            .await
            .expect_err("taken")
            .is_conflict()
    );
    let view = h.user(&u.id).expect("inspect");
    assert_eq!(view.external_ids.len(), 1);
}

#[tokio::test]
async fn roles_divisions_skills_languages_on_users() {
    let h = emulator().await;
    let c = client(&h);
    let u = make_user(&c, "dan@example.com").await;
    let roles = collect_all(c.roles(None)).await.expect("roles");
    for name in ["Employee", "User", "Supervisor"] {
        assert!(roles.iter().any(|r| r.name == name), "{name} seeded");
    }
    let sup = collect_all(c.roles(Some("supervisor")))
        .await
        .expect("by name");
    assert_eq!(sup.len(), 1);
    let initial = c.user_roles(&u.id).await.expect("roles");
    assert_eq!(
        initial
            .roles
            .iter()
            .filter_map(|r| r.name.clone())
            .collect::<Vec<_>>(),
        vec!["Employee".to_owned()]
    );
    let set = c
        .set_user_roles(&u.id, &[sup[0].id.clone()])
        .await
        .expect("set roles");
    assert_eq!(set.roles.len(), 1);
    assert_eq!(set.roles[0].name.as_deref(), Some("Supervisor"));

    let s1 = c.create_skill("Billing").await.expect("skill");
    let s2 = c.create_skill("Sales").await.expect("skill");
    assert!(
        c.create_skill("billing")
            .await
            .expect_err("dup")
            .is_conflict()
    );
    let assigned = c
        .set_user_skills(
            &u.id,
            &[
                SkillAssignment {
                    id: s1.id.clone(),
                    proficiency: 4.5,
                },
                SkillAssignment {
                    id: s2.id.clone(),
                    proficiency: 0.0,
                },
            ],
        )
        .await
        .expect("bulk");
    assert_eq!(assigned.len(), 2);
    // PUT bulk replaces.
    c.set_user_skills(
        &u.id,
        &[SkillAssignment {
            id: s2.id.clone(),
            proficiency: 2.0,
        }],
    )
    .await
    .expect("replace");
    let skills = collect_all(c.user_skills(&u.id)).await.expect("skills");
    assert_eq!(skills.len(), 1);
    assert_eq!(
        (
            skills[0].id.as_str(),
            skills[0].proficiency,
            skills[0].name.as_deref()
        ),
        (s2.id.as_str(), 2.0, Some("Sales"))
    );
    let bad = c
        .set_user_skills(
            &u.id,
            &[SkillAssignment {
                id: s1.id.clone(),
                proficiency: 5.5,
            }],
        )
        .await
        .expect_err("range");
    assert!(matches!(bad, GcError::InvalidInput(_)));

    let fr = c.create_language("French").await.expect("lang");
    let de = c.create_language("German").await.expect("lang");
    assert!(
        c.create_language("FRENCH")
            .await
            .expect_err("dup")
            .is_conflict()
    );
    c.upsert_user_languages(
        &u.id,
        &[
            SkillAssignment {
                id: fr.id.clone(),
                proficiency: 3.0,
            },
            SkillAssignment {
                id: de.id.clone(),
                proficiency: 1.0,
            },
        ],
    )
    .await
    .expect("langs");
    c.remove_user_language(&u.id, &de.id).await.expect("remove");
    let langs = collect_all(c.user_languages(&u.id)).await.expect("langs");
    assert_eq!(langs.len(), 1);
    assert_eq!(langs[0].id, fr.id);
    let all_langs = collect_all(c.languages(None)).await.expect("list");
    assert_eq!(all_langs.len(), 2);
    c.delete_language(&de.id).await.expect("delete language");
    c.delete_skill(&s1.id).await.expect("delete skill");
    assert_eq!(collect_all(c.skills(None)).await.expect("skills").len(), 1);
    let v = h.user(&u.id).expect("view");
    assert_eq!(v.roles.len(), 1);
    assert_eq!(v.skills.len(), 1);
    assert_eq!(v.languages.len(), 1);
}

#[tokio::test]
async fn pagination_follows_pages_and_cursors() {
    let h = emulator().await;
    let c = client(&h);
    for i in 0..130 {
        c.create_skill(&format!("skill-{i:03}"))
            .await
            .expect("skill");
    }
    let before = h.request_count("GET /api/v2/routing/skills");
    let names: Vec<String> = c
        .skills(None)
        .map(|r| r.expect("page").name)
        .collect()
        .await;
    assert_eq!(names.len(), 130);
    assert_eq!(
        h.request_count("GET /api/v2/routing/skills") - before,
        2,
        "two pages of 100"
    );
    let prefixed = collect_all(c.skills(Some("skill-12")))
        .await
        .expect("prefix");
    assert_eq!(prefixed.len(), 10);

    for i in 0..105 {
        c.create_sta_program(&ProgramRequest {
            name: format!("program {i}"),
            ..Default::default()
        })
        .await
        .expect("program");
    }
    let programs = collect_all(c.sta_programs()).await.expect("cursor");
    assert_eq!(programs.len(), 105);
    assert_eq!(
        h.request_count("GET /api/v2/speechandtextanalytics/programs"),
        2
    );
}

#[tokio::test]
async fn wrapup_codes_queues_members_and_transcription() {
    let h = emulator().await;
    let c = client(&h);
    let home = c.home_division().await.expect("home");
    let w = c
        .create_wrapup_code(&WrapupCodeRequest {
            name: "Resolved".into(),
            description: Some("ok".into()),
            division: Some(EntityRef::id(&home.id)),
        })
        .await
        .expect("wrapup");
    assert!(
        c.create_wrapup_code(&WrapupCodeRequest {
            name: "RESOLVED".into(),
            ..Default::default()
        })
        .await
        .expect_err("dup")
        .code()
            == Some("duplicate.name")
    );
    let w2 = c
        .update_wrapup_code(
            &w.id,
            &WrapupCodeRequest {
                name: "Resolved OK".into(),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(w2.name, "Resolved OK");
    assert_eq!(collect_all(c.wrapup_codes()).await.expect("list").len(), 1);

    let q = c
        .create_queue(&QueueRequest {
            name: "Sales EU".into(),
            description: Some("EU sales".into()),
            division: Some(EntityRef::id(&home.id)),
            peer_id: Some("engage-vq-1".into()),
            enable_transcription: Some(true),
            skill_evaluation_method: Some("BEST".into()),
            ..Default::default()
        })
        .await
        .expect("queue");
    assert_eq!(q.enable_transcription, Some(true));
    assert_eq!(q.peer_id.as_deref(), Some("engage-vq-1"));
    assert!(
        c.create_queue(&QueueRequest {
            name: "sales eu".into(),
            ..Default::default()
        })
        .await
        .expect_err("dup")
        .is_duplicate()
    );
    c.create_queue(&QueueRequest {
        name: "Support".into(),
        ..Default::default()
    })
    .await
    .expect("queue 2");
    assert_eq!(
        collect_all(c.queues(Some("sales*")))
            .await
            .expect("wildcard")
            .len(),
        1
    );
    let replaced = c
        .update_queue(
            &q.id,
            &QueueRequest {
                name: "Sales Europe".into(),
                ..Default::default()
            },
        )
        .await
        .expect("put");
    assert_eq!(replaced.peer_id, None, "PUT is a full replace");
    assert_eq!(replaced.enable_transcription, Some(false));
    assert_eq!(c.get_queue(&q.id).await.expect("get").name, "Sales Europe");

    let mut users = Vec::new();
    for i in 0..230 {
        users.push(make_user(&c, &format!("m{i}@example.com")).await.id);
    }
    c.add_queue_members(&q.id, &users).await.expect("members");
    assert_eq!(
        h.request_count(
            "POST /api/v2/routing/queues/{id}/members"
                .replace("{id}", &q.id)
                .as_str()
        ),
        3,
        "chunks of 100"
    );
    let members = collect_all(c.queue_members(&q.id)).await.expect("members");
    assert_eq!(members.len(), 230);
    c.remove_queue_members(&q.id, &users[..30])
        .await
        .expect("remove");
    assert_eq!(
        collect_all(c.queue_members(&q.id))
            .await
            .expect("members")
            .len(),
        200
    );
    assert_eq!(h.user(&users[40]).expect("view").queues.len(), 1);
    assert!(h.user(&users[0]).expect("view").queues.is_empty());

    c.add_queue_wrapup_codes(&q.id, std::slice::from_ref(&w.id))
        .await
        .expect("queue wrapups");
    assert_eq!(
        collect_all(c.queue_wrapup_codes(&q.id))
            .await
            .expect("list")
            .len(),
        1
    );
    c.remove_queue_wrapup_code(&q.id, &w.id)
        .await
        .expect("remove code");
    assert!(
        collect_all(c.queue_wrapup_codes(&q.id))
            .await
            .expect("list")
            .is_empty()
    );

    let t = c.transcription_settings().await.expect("transcription");
    assert_eq!(t.transcription, TranscriptionMode::Disabled);
    let t2 = c
        .set_transcription_settings(&TranscriptionSettings {
            transcription: TranscriptionMode::EnabledQueueFlow,
            transcription_confidence_threshold: 70,
            ..t
        })
        .await
        .expect("put");
    assert_eq!(t2.transcription, TranscriptionMode::EnabledQueueFlow);
    assert_eq!(
        c.transcription_settings()
            .await
            .expect("get")
            .transcription_confidence_threshold,
        70
    );
    c.delete_queue(&q.id).await.expect("delete");
    assert!(c.get_queue(&q.id).await.expect_err("gone").is_not_found());
}

#[tokio::test]
async fn presence_definitions_and_sources() {
    let h = emulator().await;
    let c = client(&h);
    let defs = c.presence_definitions().await.expect("defs");
    for sp in gcex::presence::SYSTEM_PRESENCES {
        assert!(
            defs.iter()
                .any(|d| d.system_presence == sp && d.kind.as_deref() == Some("System")),
            "{sp}"
        );
    }
    let lunch = c
        .create_presence_definition(&PresenceDefinition {
            id: None,
            kind: None,
            language_labels: BTreeMap::from([("en_US".to_owned(), "Lunch".to_owned())]),
            system_presence: "Meal".into(),
            division_id: None,
            deactivated: false,
            self_uri: None,
        })
        .await
        .expect("secondary");
    assert_eq!(lunch.kind.as_deref(), Some("User"));
    assert_eq!(c.presence_definitions().await.expect("defs").len(), 11);
    let s = c
        .create_presence_source("Engage", None)
        .await
        .expect("source");
    assert!(
        c.create_presence_source("ENGAGE", None)
            .await
            .expect_err("dup")
            .is_conflict()
    );
    assert!(
        c.presence_sources()
            .await
            .expect("sources")
            .iter()
            .any(|x| x.id == s.id)
    );
}

#[tokio::test]
async fn presence_and_routing_status_injection_builds_histories() {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    let defs = c.presence_definitions().await.expect("defs");
    let away = defs
        .iter()
        .find(|d| d.system_presence == "Away")
        .and_then(|d| d.id.clone())
        .expect("away");
    let avail = defs
        .iter()
        .find(|d| d.system_presence == "Available")
        .and_then(|d| d.id.clone())
        .expect("available");
    let p = |i: i64, def: &str| UserPresenceEvent {
        event_id: uuid(),
        event_date_time: at(i),
        user_id: ids.user.clone(),
        source_id: ids.source.clone(),
        presence_definition_id: Some(def.to_owned()),
        message: None,
    };
    // Sent out of order within one request: applied by eventDateTime.
    let events = vec![p(2, &away), p(1, &avail)];
    let r = c.inject_presence_events(&events).await.expect("presence");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let hist = h.presence_history(&ids.user);
    assert_eq!(
        hist.iter()
            .map(|x| x.system_presence.clone().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["Available", "Away"]
    );

    let statuses = [
        RoutingStatus::Idle,
        RoutingStatus::Interacting,
        RoutingStatus::NotResponding,
        RoutingStatus::OffQueue,
    ];
    let rs: Vec<UserRoutingStatusEvent> = statuses
        .iter()
        .enumerate()
        .map(|(i, s)| UserRoutingStatusEvent {
            event_id: uuid(),
            event_date_time: at(i as i64),
            agent_id: ids.user.clone(),
            status: *s,
            source_id: ids.source.clone(),
        })
        .collect();
    c.inject_routing_status_events(&rs).await.expect("routing");
    // Resending is idempotent: nothing applied twice.
    let again = c.inject_routing_status_events(&rs).await.expect("again");
    assert!(again.failed.is_empty());
    let hist = h.routing_history(&ids.user);
    assert_eq!(hist.iter().map(|r| r.status).collect::<Vec<_>>(), statuses);

    // Semantic validation, per event: unknown user, unknown source, unknown definition.
    let bad = vec![
        UserPresenceEvent {
            user_id: uuid(),
            ..p(5, &away)
        },
        UserPresenceEvent {
            source_id: uuid(),
            ..p(6, &away)
        },
        UserPresenceEvent {
            presence_definition_id: Some(uuid()),
            ..p(8, &away)
        },
    ];
    let r = c.inject_presence_events(&bad).await.expect("answered");
    assert_eq!(r.failed.len(), 3);
    assert!(r.failed.iter().all(|e| !e.retryable && e.message.is_some()));
    // A malformed request (an id that is not a V4 UUID) is refused whole: nothing applied.
    let malformed = vec![
        p(9, &away),
        UserPresenceEvent {
            event_id: "not-a-uuid".into(),
            ..p(7, &away)
        },
    ];
    let e = c
        .inject_presence_events(&malformed)
        .await
        .expect_err("a 400 for the request");
    assert!(e.to_string().contains("constraint.validation"), "{e}");
    assert_eq!(h.presence_history(&ids.user).len(), 2);
}

#[tokio::test]
async fn conversation_injection_keeps_timeline_and_validates() {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    let code = c
        .create_wrapup_code(&WrapupCodeRequest {
            name: "Sale".into(),
            ..Default::default()
        })
        .await
        .expect("code")
        .id;
    let conv = uuid();
    let events = call_flow(&ids, &conv, 0, Some(code.clone()));
    let r = c.inject_conversation_events(&events).await.expect("inject");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.accepted, events.len());
    let view = h.conversation(&conv).expect("conversation");
    let got: Vec<&str> = view.timeline.iter().map(|t| t.event_id.as_str()).collect();
    let want: Vec<&str> = events.iter().map(|e| e.event_id()).collect();
    assert_eq!(got, want, "applied in eventDateTime order");
    assert!(view.ended);
    let agent = view
        .communications
        .iter()
        .find(|c| c.kind == "user")
        .expect("agent leg");
    assert_eq!(agent.wrapup_code.as_deref(), Some(code.as_str()));
    assert_eq!(agent.disconnect_type.as_deref(), Some("Self"));
    assert_eq!(
        view.timeline[0].event["sourceConfiguration"]["sourceId"],
        ids.source.as_str()
    );

    // Idempotent: the same events again change nothing.
    let r = c.inject_conversation_events(&events).await.expect("again");
    assert!(r.failed.is_empty());
    assert_eq!(
        h.conversation(&conv).expect("conv").timeline.len(),
        events.len()
    );

    // Nothing after ended.
    let late = HoldUpdatedEvent {
        event_id: uuid(),
        event_date_time: at(500),
        conversation_id: conv.clone(),
        communication_id: agent.id.clone(),
        held: true,
    };
    let r = c
        .inject_conversation_events(&[late.into()])
        .await
        .expect("answered");
    assert_eq!(r.failed.len(), 1);
    assert!(!r.failed[0].retryable);

    // Answer before established: retryable (it may come later); unknown queue: final.
    let conv2 = uuid();
    let early = CommunicationAnsweredEvent {
        event_id: uuid(),
        event_date_time: at(0),
        conversation_id: conv2.clone(),
        communication_id: uuid(),
    };
    let bad_queue = RoutingEstablishedEvent {
        event_id: uuid(),
        event_date_time: at(1),
        conversation_id: conv2.clone(),
        communication_id: uuid(),
        source_configuration: SourceConfiguration {
            source_id: ids.source.clone(),
            interaction_id: "x".into(),
            tag_id: None,
        },
        queue_id: uuid(),
        ..Default::default()
    };
    let mut policy_client_cfg = client_cfg(&h);
    policy_client_cfg.retry.event_retry_rounds = 0;
    let c0 = gcex::GcClient::new(policy_client_cfg).expect("client");
    let r = c0
        .inject_conversation_events(&[early.clone().into(), bad_queue.into()])
        .await
        .expect("answered");
    assert_eq!(r.failed.len(), 2);
    let by_id: BTreeMap<_, _> = r
        .failed
        .iter()
        .map(|e| (e.event_id.clone().unwrap_or_default(), e.retryable))
        .collect();
    assert_eq!(by_id.get(&early.event_id), Some(&true));
    assert_eq!(by_id.values().filter(|r| !**r).count(), 1);
    assert!(h.conversation(&conv2).is_none_or(|v| v.timeline.is_empty()));
}

#[tokio::test]
async fn batches_over_100_are_split_and_raw_limits_hold() {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    let mut events = Vec::new();
    for i in 0..25 {
        events.extend(call_flow(&ids, &uuid(), i * 1000, None));
    }
    assert_eq!(events.len(), 250);
    let r = c.inject_conversation_events(&events).await.expect("inject");
    assert_eq!(r.requests, 3);
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(h.request_count("POST /api/v2/events/conversations"), 3);
    assert_eq!(h.conversation_ids().len(), 25);

    // Raw requests: 101 events, zero events, junk.
    let http = reqwest::Client::new();
    let token = {
        let r = http
            .post(format!("{}/oauth/token", h.base_url()))
            .basic_auth(CLIENT_ID, Some(SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token");
        r.json::<serde_json::Value>().await.expect("json")["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    };
    let post = |body: String| {
        http.post(format!("{}/api/v2/events/users/presence", h.base_url()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let many: Vec<UserPresenceEvent> = (0..101)
        .map(|i| UserPresenceEvent {
            event_id: uuid(),
            event_date_time: at(i),
            user_id: ids.user.clone(),
            source_id: ids.source.clone(),
            ..Default::default()
        })
        .collect();
    let body = serde_json::to_string(&BatchUserPresenceEventRequest {
        user_presence_events: many,
    })
    .expect("json");
    for (body, code) in [
        (body, "max.batch.size.surpassed"),
        (
            "{\"userPresenceEvents\":[]}".to_owned(),
            "zero.events.submitted",
        ),
        ("{not json".to_owned(), "bad.request"),
        ("{\"bogus\":[]}".to_owned(), "invalid.property"),
    ] {
        let r = post(body).await.expect("sent");
        assert_eq!(r.status(), 400);
        assert!(r.headers().contains_key("ININ-Correlation-Id"));
        let e: gcex::ErrorBody = r.json().await.expect("ErrorBody");
        assert_eq!(e.code.as_deref(), Some(code));
        assert_eq!(e.status, Some(400));
        assert!(e.context_id.is_some());
    }
    let r = http
        .get(format!("{}/api/v2/nothing/here", h.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<gcex::ErrorBody>()
            .await
            .expect("body")
            .code
            .as_deref(),
        Some("not.found")
    );
}

#[tokio::test]
async fn recording_upload_and_public_key() {
    let h = emulator().await;
    let c = client(&h);
    let key = c
        .recording_public_key()
        .await
        .expect("keys")
        .expect("a key");
    assert_eq!(key, gcex::emulator::DEFAULT_RECORDING_PUBLIC_KEY);

    let data = b"PK\x03\x04 pretend zip archive".to_vec();
    let up = c
        .create_recording_upload(&UploadUrlRequest {
            file_name: "call-1.zip".into(),
            content_md5: Some(content_md5(&data)),
            content_type: Some("application/zip".into()),
            server_side_encryption: Some("AES256".into()),
            ..Default::default()
        })
        .await
        .expect("presigned");
    assert!(up.url.starts_with(h.base_url()));
    assert_eq!(up.headers.get("Content-MD5"), Some(&content_md5(&data)));
    c.upload_to_presigned_url(&up, data.clone())
        .await
        .expect("put");
    let stored = h.uploads();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].content_md5, Some(content_md5(&data)));
    assert_eq!(stored[0].data, data);
    assert_eq!(stored[0].file_name, "call-1.zip");
    let raw = reqwest::get(format!(
        "{}/emulator/uploads/{}",
        h.base_url(),
        up.upload_key
    ))
    .await
    .expect("get");
    assert_eq!(
        raw.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/zip")
    );
    assert_eq!(raw.bytes().await.expect("bytes").to_vec(), data);

    // A multi-megabyte archive goes through too.
    let big: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let up_big = c
        .create_recording_upload(&UploadUrlRequest {
            file_name: "big.zip".into(),
            content_md5: Some(content_md5(&big)),
            ..Default::default()
        })
        .await
        .expect("presigned");
    c.upload_to_presigned_url(&up_big, big.clone())
        .await
        .expect("big put");
    assert_eq!(
        h.uploads()
            .iter()
            .find(|u| u.file_name == "big.zip")
            .map(|u| u.size),
        Some(big.len())
    );
    // Wrong content for the announced MD5: refused, not stored.
    let up2 = c
        .create_recording_upload(&UploadUrlRequest {
            file_name: "call-2.zip".into(),
            content_md5: Some(content_md5(b"other")),
            ..Default::default()
        })
        .await
        .expect("presigned");
    let e = c
        .upload_to_presigned_url(&up2, data.clone())
        .await
        .expect_err("bad digest");
    assert_eq!(e.status(), Some(400));
    // Missing a required header: refused.
    let mut stripped = up2.clone();
    stripped.headers.remove("Content-MD5");
    let e = c
        .upload_to_presigned_url(&stripped, b"other".to_vec())
        .await
        .expect_err("header");
    assert_eq!(e.status(), Some(403));
    assert_eq!(h.uploads().len(), 2);
}

#[tokio::test]
async fn speech_and_text_analytics_settings_programs_mappings() {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    let p = c
        .create_sta_program(&ProgramRequest {
            name: "Topics".into(),
            ..Default::default()
        })
        .await
        .expect("program");
    let s = c
        .update_sta_settings(&StaSettingsRequest {
            default_program_id: Some(p.id.clone()),
            ..Default::default()
        })
        .await
        .expect("settings");
    // The response names the program as `defaultProgram{id}`, not `defaultProgramId`.
    assert_eq!(s.default_program_id(), Some(p.id.as_str()));
    assert_eq!(
        c.sta_settings()
            .await
            .expect("get")
            .default_program
            .map(|r| r.id),
        Some(p.id.clone())
    );
    assert!(
        c.update_sta_settings(&StaSettingsRequest {
            default_program_id: Some(uuid()),
            ..Default::default()
        })
        .await
        .expect_err("unknown")
        .is_bad_request()
    );
    let m = c
        .set_sta_program_mappings(
            &p.id,
            &ProgramMappingsRequest {
                queue_ids: vec![ids.queue.clone()],
                flow_ids: vec![],
            },
        )
        .await
        .expect("mappings");
    assert_eq!(m.queues.len(), 1);
    let all = collect_all(c.sta_program_mappings()).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].program.id, p.id);
    assert_eq!(all[0].queues[0].id, ids.queue);
}

#[tokio::test]
async fn transfer_and_consult_events_follow_the_command_pattern() {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    let target_queue = c
        .create_queue(&QueueRequest {
            name: "Tier 2".into(),
            ..Default::default()
        })
        .await
        .expect("queue")
        .id;
    let other_agent = make_user(&c, "tier2@example.com").await.id;
    let conv = uuid();
    // Customer and first agent, connected.
    let mut flow = call_flow(&ids, &conv, 0, None);
    flow.truncate(4); // external, routing, user, answered
    let ext = flow[0].communication_id().expect("comm").to_owned();
    let agent = flow[2].communication_id().expect("comm").to_owned();
    c.inject_conversation_events(&flow).await.expect("setup");

    let cmd = uuid();
    let new_route = uuid();
    let src = SourceConfiguration {
        source_id: ids.source.clone(),
        interaction_id: conv.clone(),
        tag_id: None,
    };
    // Progress before the transfer started: retryable.
    let progress = ProgressTransferEvent {
        event_id: uuid(),
        event_date_time: at(200),
        conversation_id: conv.clone(),
        command_id: cmd.clone(),
        object_communication_id: ext.clone(),
        destination_communication_id: new_route.clone(),
    };
    let mut cfg = client_cfg(&h);
    cfg.retry.event_retry_rounds = 0;
    let c0 = gcex::GcClient::new(cfg).expect("client");
    let r = c0
        .inject_conversation_events(&[progress.clone().into()])
        .await
        .expect("answered");
    assert!(r.failed.len() == 1 && r.failed[0].retryable);

    let blind: Vec<ConversationEvent> = vec![
        RoutingTransferEvent {
            event_id: uuid(),
            event_date_time: at(100),
            conversation_id: conv.clone(),
            transfer_type: TransferType::Unattended,
            command_id: cmd.clone(),
            initiating_communication_id: agent.clone(),
            target_communication_id: agent.clone(),
            object_communication_id: ext.clone(),
            destination_queue_id: target_queue.clone(),
            language_id: None,
            skill_ids: vec![],
        }
        .into(),
        RoutingEstablishedEvent {
            event_id: uuid(),
            event_date_time: at(110),
            conversation_id: conv.clone(),
            communication_id: new_route.clone(),
            initial_configuration: InitialConfiguration {
                invited_by: Some(agent.clone()),
                ..Default::default()
            },
            source_configuration: src.clone(),
            queue_id: target_queue.clone(),
            ..Default::default()
        }
        .into(),
        progress.into(),
        EndTransferEvent {
            event_id: uuid(),
            event_date_time: at(210),
            conversation_id: conv.clone(),
            command_id: cmd.clone(),
            final_state: FinalState::Completed,
            object_communication_id: ext.clone(),
        }
        .into(),
        CommunicationEndedEvent {
            event_id: uuid(),
            event_date_time: at(220),
            conversation_id: conv.clone(),
            communication_id: agent.clone(),
            disconnect_type: DisconnectType::TransferAcd,
            destination_conversation_id: None,
        }
        .into(),
    ];
    let r = c
        .inject_conversation_events(&blind)
        .await
        .expect("transfer");
    assert!(r.failed.is_empty(), "{:?}", r.failed);

    // Consult: a second agent, consult, progress, end.
    let agent2 = uuid();
    let consult: Vec<ConversationEvent> = vec![
        UserEstablishedEvent {
            event_id: uuid(),
            event_date_time: at(300),
            conversation_id: conv.clone(),
            communication_id: agent2.clone(),
            initial_configuration: InitialConfiguration {
                alerting: Some(false),
                ..Default::default()
            },
            source_configuration: src.clone(),
            user_id: other_agent.clone(),
            ..Default::default()
        }
        .into(),
        ConsultTransferEvent {
            event_id: uuid(),
            event_date_time: at(310),
            conversation_id: conv.clone(),
            initiating_communication_id: new_route.clone(),
            destination_communication_id: agent2.clone(),
            object_communication_id: ext.clone(),
        }
        .into(),
        ProgressConsultTransferEvent {
            event_id: uuid(),
            event_date_time: at(320),
            conversation_id: conv.clone(),
            initiating_communication_id: new_route.clone(),
            destination_communication_id: agent2.clone(),
            object_communication_id: ext.clone(),
        }
        .into(),
        EndConsultTransferEvent {
            event_id: uuid(),
            event_date_time: at(330),
            conversation_id: conv.clone(),
        }
        .into(),
    ];
    let r = c
        .inject_conversation_events(&consult)
        .await
        .expect("consult");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let view = h.conversation(&conv).expect("conv");
    let types: Vec<&str> = view
        .timeline
        .iter()
        .map(|t| t.event_type.as_str())
        .collect();
    assert_eq!(
        &types[4..],
        [
            "routingTransferEvents",
            "routingEstablishedEvents",
            "progressTransferEvents",
            "endTransferEvents",
            "communicationEndedEvents",
            "userEstablishedEvents",
            "consultTransferEvents",
            "progressConsultTransferEvents",
            "endConsultTransferEvents"
        ]
    );
    let ended_agent = view
        .communications
        .iter()
        .find(|x| x.id == agent)
        .expect("agent");
    assert_eq!(ended_agent.disconnect_type.as_deref(), Some("TransferACD"));
    assert_eq!(view.timeline[4].event["transferType"], "Unattended");
    assert_eq!(view.timeline[7].event["finalState"], "Completed");
}
