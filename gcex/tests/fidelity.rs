//! Client + emulator contract tests for the Genesys Cloud behaviours of issue 11 (each row of
//! the table in `gcex/README.md` names its test here).

mod common;

use common::*;
use gcex::emulator::{ConflictStatus, Fault, FaultKind};
use gcex::routing::QueueRequest;
use gcex::users::{Contact, SkillAssignment, UpdateUser, UserState};
use gcex::{GcError, collect_all};
use std::cell::Cell;
use std::time::Duration;

#[tokio::test]
async fn stale_user_version_is_retried_whether_gc_answers_409_or_400() {
    for answer in [ConflictStatus::Conflict, ConflictStatus::BadRequest] {
        let h = emulator_with(|c| c.with_conflict_status(answer)).await;
        let c = client(&h);
        let u = make_user(&c, &format!("v-{}@example.com", uuid())).await;
        h.bump_user_version(&u.id).expect("user");
        let stale = c
            .patch_user(
                &u.id,
                &UpdateUser {
                    version: u.version,
                    title: Some("x".into()),
                    ..Default::default()
                },
            )
            .await
            .expect_err("stale");
        assert_eq!(stale.status(), Some(answer.status()));
        assert_eq!(stale.code(), Some("general.conflict"));
        assert!(stale.is_version_conflict(), "{stale}");
        // A concurrent edit lands between our read and our write: update_user re-reads.
        let calls = Cell::new(0);
        let done = c
            .update_user(&u.id, 3, |_| {
                calls.set(calls.get() + 1);
                if calls.get() == 1 {
                    h.bump_user_version(&u.id);
                }
                UpdateUser {
                    title: Some("Team lead".into()),
                    ..Default::default()
                }
            })
            .await
            .expect("retried");
        assert_eq!(calls.get(), 2, "{answer:?}");
        assert_eq!(done.title.as_deref(), Some("Team lead"));
    }
}

#[tokio::test]
async fn a_deleted_user_keeps_its_email_and_is_found_and_restored() {
    for answer in [ConflictStatus::Conflict, ConflictStatus::BadRequest] {
        let h = emulator_with(|c| c.with_conflict_status(answer)).await;
        let c = client(&h);
        let email = format!("gone-{}@example.com", uuid());
        let u = make_user(&c, &email).await;
        c.delete_user(&u.id).await.expect("delete");
        assert!(
            c.find_user_by_email(&email)
                .await
                .expect("search")
                .is_none()
        );
        let dup = c
            .create_user(&gcex::users::CreateUser {
                name: "again".into(),
                email: email.clone(),
                ..Default::default()
            })
            .await
            .expect_err("GC keeps the e-mail of a deleted user");
        assert!(dup.is_duplicate(), "{dup}");
        let found = c
            .find_deleted_user_by_email(&email.to_uppercase())
            .await
            .expect("search deleted")
            .expect("found");
        assert_eq!(found.id, u.id);
        let back = c
            .set_user_state(&u.id, UserState::Active)
            .await
            .expect("restore");
        assert_eq!(back.state, Some(UserState::Active));
        assert_eq!(
            c.find_user_by_email(&email)
                .await
                .expect("search")
                .map(|u| u.id),
            Some(u.id.clone())
        );
        assert!(
            c.find_deleted_user_by_email(&email)
                .await
                .expect("s")
                .is_none()
        );
    }
}

#[tokio::test]
async fn external_ids_are_read_first_and_a_repeat_post_is_409() {
    let h = emulator().await;
    let c = client(&h);
    let u = make_user(&c, &format!("x-{}@example.com", uuid())).await;
    assert!(
        c.ensure_user_external_id(&u.id, "a", "K-1")
            .await
            .expect("1")
    );
    assert!(
        !c.ensure_user_external_id(&u.id, "a", "K-1")
            .await
            .expect("2")
    );
    assert!(
        c.ensure_user_external_id(&u.id, "a", "k-1")
            .await
            .expect("case-sensitive")
    );
    let post = format!("POST /api/v2/users/{}/externalid", u.id);
    assert_eq!(h.request_count(&post), 2, "the repeat was not posted");
    let e = c
        .add_user_external_id(&u.id, "a", "K-1")
        .await
        .expect_err("repeat");
    assert_eq!(
        (e.status(), e.code()),
        (Some(409), Some("general.resource.conflict"))
    );
    assert_eq!(c.user_external_ids(&u.id).await.expect("get").len(), 2);
}

#[tokio::test]
async fn contact_fields_gc_knows_survive_a_read_modify_write() {
    let h = emulator().await;
    let c = client(&h);
    let u = make_user(&c, &format!("c-{}@example.com", uuid())).await;
    let mut ext = Contact::phone_extension("4711", "WORK2");
    ext.display = Some("4711".into());
    ext.extra
        .insert("futureField".into(), serde_json::json!({"a": 1}));
    let mut mobile = Contact::phone("+13175550100", "MOBILE");
    mobile.country_code = Some("US".into());
    mobile.integration = Some("microsoftteams".into());
    c.update_user(&u.id, 3, |_| UpdateUser {
        addresses: Some(vec![ext.clone(), mobile.clone()]),
        ..Default::default()
    })
    .await
    .expect("admin edit");
    // Our read-modify-write adds an e-mail contact and writes back what it read.
    let done = c
        .update_user(&u.id, 3, |cur| UpdateUser {
            addresses: Some(
                cur.addresses
                    .iter()
                    .cloned()
                    .chain([Contact::work_email("c@example.com")])
                    .collect(),
            ),
            ..Default::default()
        })
        .await
        .expect("rmw");
    assert_eq!(done.addresses[..2], [ext, mobile]);
    assert_eq!(done.addresses.len(), 3);
}

#[tokio::test]
async fn queue_put_is_a_full_replace_and_update_queue_fields_keeps_the_rest() {
    let h = emulator().await;
    let c = client(&h);
    let mut req = QueueRequest {
        name: "Billing".into(),
        skill_evaluation_method: Some("ALL".into()),
        ..Default::default()
    };
    let acw = serde_json::json!({"wrapupPrompt": "MANDATORY", "timeoutMs": 15000});
    req.extra.insert("acwSettings".into(), acw.clone());
    let q = c.create_queue(&req).await.expect("queue");
    assert_eq!(q.extra.get("acwSettings"), Some(&acw));
    let q = c
        .update_queue_fields(&q.id, |r| r.description = Some("owned".into()))
        .await
        .expect("rmw");
    assert_eq!(q.description.as_deref(), Some("owned"));
    assert_eq!(q.extra.get("acwSettings"), Some(&acw), "kept");
    assert_eq!(q.extra.get("skillEvaluationMethod"), Some(&"ALL".into()));
    // A bare PUT clears what it does not carry: why EXCS never sends one.
    let bare = c
        .update_queue(
            &q.id,
            &QueueRequest {
                name: "Billing".into(),
                ..Default::default()
            },
        )
        .await
        .expect("put");
    assert!(bare.extra.get("acwSettings").is_none());
}

#[tokio::test]
async fn skills_are_patched_in_chunks_of_50_and_version_mismatches_retried() {
    let h = emulator().await;
    let c = client(&h);
    let u = make_user(&c, &format!("s-{}@example.com", uuid())).await;
    let mut list = Vec::new();
    for i in 0..120 {
        let s = c.create_skill(&format!("Skill {i}")).await.expect("skill");
        list.push(SkillAssignment {
            id: s.id,
            proficiency: f64::from(i % 6),
        });
    }
    let path = format!("/api/v2/users/{}/routingskills/bulk", u.id);
    h.inject_fault(Fault {
        path_prefix: path.clone(),
        remaining: 1,
        kind: FaultKind::VersionConflict,
    });
    c.patch_user_skills(&u.id, &list).await.expect("chunked");
    assert_eq!(
        h.request_count(&format!("PATCH {path}")),
        4,
        "3 chunks + 1 retry"
    );
    assert_eq!(
        collect_all(c.user_skills(&u.id)).await.expect("l").len(),
        120
    );
    let too_many = c.set_user_skills(&u.id, &list[..51]).await.expect_err("51");
    assert!(matches!(too_many, GcError::InvalidInput(_)));
    c.remove_user_skill(&u.id, &list[0].id)
        .await
        .expect("remove");
    assert_eq!(
        collect_all(c.user_skills(&u.id)).await.expect("l").len(),
        119
    );
    let unknown = c
        .patch_user_skills(
            &u.id,
            &[SkillAssignment {
                id: uuid(),
                proficiency: 1.0,
            }],
        )
        .await
        .expect_err("unknown skill");
    assert!(unknown.is_not_found());
    assert_eq!(unknown.code(), Some("general.resource.not.found"));
    // Languages: the same chunking.
    let mut langs = Vec::new();
    for i in 0..55 {
        let l = c.create_language(&format!("Lang {i}")).await.expect("lang");
        langs.push(SkillAssignment {
            id: l.id,
            proficiency: 3.0,
        });
    }
    c.upsert_user_languages(&u.id, &langs).await.expect("langs");
    assert_eq!(
        h.request_count(&format!(
            "PATCH /api/v2/users/{}/routinglanguages/bulk",
            u.id
        )),
        2
    );
}

#[tokio::test]
async fn duplicate_names_answer_as_gc_does() {
    for answer in [ConflictStatus::Conflict, ConflictStatus::BadRequest] {
        let h = emulator_with(|c| c.with_conflict_status(answer)).await;
        let c = client(&h);
        c.create_skill("Billing").await.expect("skill");
        let e = c.create_skill("BILLING").await.expect_err("dup skill");
        assert_eq!(
            (e.status(), e.code()),
            (Some(answer.status()), Some("general.conflict"))
        );
        assert!(e.is_duplicate());
        c.create_language("French").await.expect("lang");
        assert!(
            c.create_language("french")
                .await
                .expect_err("dup")
                .is_duplicate()
        );
        c.create_queue(&QueueRequest {
            name: "Q".into(),
            ..Default::default()
        })
        .await
        .expect("queue");
        let e = c
            .create_queue(&QueueRequest {
                name: "q".into(),
                ..Default::default()
            })
            .await
            .expect_err("dup queue");
        assert_eq!((e.status(), e.code()), (Some(400), Some("duplicate.name")));
        assert!(e.is_duplicate() && !e.is_version_conflict());
    }
}

#[tokio::test]
async fn a_429_carries_gcs_code_and_rate_limit_headers() {
    let h = emulator_with(|c| c.with_rate_limit(2, Duration::from_secs(60))).await;
    let http = reqwest::Client::new();
    let token = raw_token(&h).await;
    let get = || {
        http.get(format!(
            "{}/api/v2/authorization/divisions/home",
            h.base_url()
        ))
        .bearer_auth(&token)
        .send()
    };
    let first = get().await.expect("1");
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["inin-ratelimit-count"], "1");
    assert_eq!(first.headers()["inin-ratelimit-allowed"], "2");
    get().await.expect("2");
    let refused = get().await.expect("3");
    assert_eq!(refused.status(), 429);
    for h in [
        "retry-after",
        "inin-ratelimit-count",
        "inin-ratelimit-allowed",
        "inin-ratelimit-reset",
    ] {
        assert!(refused.headers().contains_key(h), "{h}");
    }
    let body: serde_json::Value = refused.json().await.expect("body");
    assert_eq!(body["code"], "too.many.requests.retry.after");
}

async fn raw_token(h: &gcex::emulator::EmulatorHandle) -> String {
    let token: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", h.base_url()))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    token["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// GC's queue-member listing has no `total` or `pageCount` (`QueueMemberEntityListing`,
/// since SDK 137.0.0), and its `nextUri` keeps the request's filters: the client pages it to
/// the end all the same.
#[tokio::test]
async fn queue_members_page_without_totals_and_next_uri_keeps_the_filters() {
    let h = emulator().await;
    let c = client(&h);
    let q = c
        .create_queue(&QueueRequest {
            name: "Big".into(),
            ..Default::default()
        })
        .await
        .expect("queue");
    let mut ids = Vec::new();
    for i in 0..230 {
        ids.push(make_user(&c, &format!("m{i}@example.com")).await.id);
    }
    c.add_queue_members(&q.id, &ids).await.expect("members");
    let listed = collect_all(c.queue_members(&q.id)).await.expect("listed");
    assert_eq!(listed.len(), 230, "every page read without pageCount");

    let token = raw_token(&h).await;
    let page: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/api/v2/routing/queues/{}/members?joined=true&pageSize=100",
            h.base_url(),
            q.id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("page")
        .json()
        .await
        .expect("json");
    assert!(page.get("total").is_none(), "{page}");
    assert!(page.get("pageCount").is_none(), "{page}");
    let next = page["nextUri"].as_str().expect("nextUri");
    assert!(
        next.contains("joined=true") && next.contains("pageNumber=2"),
        "{next}"
    );
}

/// DELETEs answer 200 with no body (the API spec's code for skills, languages, wrap-up codes,
/// queues and users' routing skills); the client takes it. An upload `fileName` GC's rules
/// refuse (leading dot, trailing slash, whitespace, `|`, `#`…) is a 400 from the emulator and
/// refused by the client before any request.
#[tokio::test]
async fn deletes_answer_200_and_upload_file_names_follow_gcs_rules() {
    let h = emulator().await;
    let c = client(&h);
    let token = raw_token(&h).await;
    let skill = c.create_skill("Doomed").await.expect("skill");
    let answer = reqwest::Client::new()
        .delete(format!(
            "{}/api/v2/routing/skills/{}",
            h.base_url(),
            skill.id
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("delete");
    assert_eq!(answer.status(), 200);
    let other = c.create_skill("Doomed too").await.expect("skill");
    c.delete_skill(&other.id)
        .await
        .expect("the client takes a 200");

    let refused = reqwest::Client::new()
        .post(format!("{}/api/v2/uploads/recordings", h.base_url()))
        .bearer_auth(&token)
        .json(&serde_json::json!({"fileName": "bad name|x.zip"}))
        .send()
        .await
        .expect("upload");
    assert_eq!(refused.status(), 400);
    let e = c
        .create_recording_upload(&gcex::recordings::UploadUrlRequest {
            file_name: ".hidden.zip".into(),
            ..Default::default()
        })
        .await
        .expect_err("refused before sending");
    assert!(e.to_string().contains("must not start with a dot"), "{e}");
}

/// The client paces itself from GC's `inin-ratelimit-*` headers: with its own limiter off and
/// the org's budget at 10 requests per 2 s, 25 requests are all answered without one 429.
#[tokio::test]
async fn the_client_paces_itself_from_the_rate_limit_headers() {
    let h = emulator_with(|c| c.with_rate_limit(10, Duration::from_secs(2))).await;
    let c = client(&h);
    for _ in 0..25 {
        c.home_division().await.expect("answered without a 429");
    }
    let s = c.stats();
    assert_eq!(s.rate_limited, 0, "{s:?}");
    assert!(s.paced >= 2, "{s:?}");
}
