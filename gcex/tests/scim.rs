//! Client + emulator contract tests of the SCIM users API (issue 17): each SCIM row of the
//! table in `gcex/README.md` names its test here.

mod common;

use common::*;
use gcex::collect_all;
use gcex::scim::{
    PATH_WORK_EMAIL, PatchOp, SCHEMA_GENESYS_USER, SCIM_EXTERNAL_ID_AUTHORITY, ScimEmail,
    ScimExternalId, ScimFilterAttr, ScimRoutingEntry, ScimUserExtensions, ScimUserRole,
    ScimV2CreateUser, ScimV2PatchOperation, ScimV2PatchRequest, filter_eq, path_external_ids,
    path_routing_skills,
};
use gcex::users::UserState;
use serde_json::json;

fn agent(user_name: &str) -> ScimV2CreateUser {
    let mut u = ScimV2CreateUser::new(user_name, "Ann Agent");
    u.active = Some(true);
    u.emails = vec![ScimEmail::work("ann.work@example.com")];
    u.external_id = Some("101_ann".into());
    u.roles = vec![ScimUserRole::named("Employee"), ScimUserRole::named("User")];
    let mut ext = ScimUserExtensions::default();
    ext.routing_skills = Some(vec![ScimRoutingEntry::new("Sales", 2.5)]);
    ext.external_ids = Some(vec![ScimExternalId::new("engage-connector", "101_ann")]);
    u.genesys = Some(ext);
    u
}

#[tokio::test]
async fn one_scim_create_lands_roles_skills_and_external_ids_where_the_users_api_reads_them() {
    let h = emulator().await;
    let c = client(&h);
    let sales = c.create_skill("Sales").await.expect("skill");
    let before = h.stats().requests.values().sum::<u64>();
    let u = c
        .scim_create_user(&agent("ann@example.com"))
        .await
        .expect("created");
    let after = h.stats().requests.values().sum::<u64>();
    assert_eq!(after - before, 1, "one request");
    assert_eq!(u.version(), Some("1"));
    assert_eq!(u.work_email(), Some("ann.work@example.com"));
    // The Users API sees the same user.
    let plain = c.get_user(&u.id, None).await.expect("users api");
    assert_eq!(plain.email.as_deref(), Some("ann@example.com"));
    assert_eq!(plain.name.as_deref(), Some("Ann Agent"));
    assert_eq!(plain.state, Some(UserState::Active));
    let roles: Vec<String> = c
        .user_roles(&u.id)
        .await
        .expect("roles")
        .roles
        .into_iter()
        .filter_map(|r| r.name)
        .collect();
    assert!(roles.contains(&"Employee".to_string()) && roles.contains(&"User".to_string()));
    let skills = collect_all(c.user_skills(&u.id)).await.expect("skills");
    assert_eq!(
        (skills[0].id.as_str(), skills[0].proficiency),
        (sales.id.as_str(), 2.5)
    );
    let ext = c.user_external_ids(&u.id).await.expect("external ids");
    assert!(
        ext.iter()
            .any(|x| x.authority_name == SCIM_EXTERNAL_ID_AUTHORITY && x.external_key == "101_ann")
    );
    assert!(ext.iter().any(|x| x.authority_name == "engage-connector"));
    // And the other way round: what the Users API writes, SCIM reads.
    c.set_user_state(&u.id, UserState::Inactive)
        .await
        .expect("inactive");
    let again = c.scim_user(&u.id).await.expect("scim get");
    assert_eq!(again.active, Some(false));
    assert_eq!(again.routing_skills()[0].name, "Sales");
    assert!(again.has_role("user"));
}

#[tokio::test]
async fn scim_refuses_what_gc_refuses() {
    let h = emulator().await;
    let c = client(&h);
    c.create_skill("Sales").await.expect("skill");
    c.scim_create_user(&agent("ann@example.com"))
        .await
        .expect("created");
    // A taken userName, whatever its case: 409 uniqueness.
    let e = c
        .scim_create_user(&agent("ANN@example.com"))
        .await
        .expect_err("duplicate");
    assert_eq!((e.status(), e.scim_type()), (Some(409), Some("uniqueness")));
    assert!(e.is_duplicate() && !e.is_version_conflict());
    // A role or skill the org does not have.
    let mut bad = agent("bob@example.com");
    bad.roles.push(ScimUserRole::named("No Such Role"));
    let e = c.scim_create_user(&bad).await.expect_err("role");
    assert_eq!(e.scim_type(), Some("invalidValue"));
    // Raw bodies: unknown properties, missing required attributes.
    let http = reqwest::Client::new();
    let token = {
        let r: serde_json::Value = http
            .post(format!("{}/oauth/token", h.base_url()))
            .basic_auth(CLIENT_ID, Some(SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        r["access_token"].as_str().expect("token").to_owned()
    };
    let post = |body: serde_json::Value| {
        http.post(format!("{}/api/v2/scim/v2/users", h.base_url()))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .json(&body)
            .send()
    };
    for (body, scim_type) in [
        (
            json!({"userName": "c@example.com", "displayName": "C", "nickName": "x"}),
            "invalidSyntax",
        ),
        (
            json!({"userName": "c@example.com", "displayName": "C",
                   SCHEMA_GENESYS_USER: {"routingSkills": [{"name": "Sales", "proficiency": 1, "level": 2}]}}),
            "invalidSyntax",
        ),
        (json!({"displayName": "C"}), "invalidValue"),
        (json!({"userName": "c@example.com"}), "invalidValue"),
        (
            json!({"userName": "not-an-email", "displayName": "C"}),
            "invalidValue",
        ),
    ] {
        let r = post(body.clone()).await.expect("answer");
        assert_eq!(r.status().as_u16(), 400, "{body}");
        let e: serde_json::Value = r.json().await.expect("scim error");
        assert_eq!(
            e["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        assert_eq!(e["status"], "400", "status is a string");
        assert_eq!(e["scimType"], scim_type, "{body}: {e}");
    }
    // Filters: one eq comparison only.
    let e = collect_all(c.scim_users(Some(r#"userName co "ann""#.into())))
        .await
        .expect_err("co");
    assert_eq!(e.scim_type(), Some("invalidFilter"));
    // An empty PATCH is refused before sending.
    assert!(
        c.scim_patch_user("x", &ScimV2PatchRequest::new(vec![]), None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_stale_if_match_is_400_invalid_vers_and_patches_touch_only_what_they_name() {
    let h = emulator().await;
    let c = client(&h);
    c.create_skill("Sales").await.expect("skill");
    c.create_skill("Billing").await.expect("skill");
    let u = c
        .scim_create_user(&agent("ann@example.com"))
        .await
        .expect("created");
    let v1 = u.version().expect("version").to_owned();
    let ops = ScimV2PatchRequest::new(vec![
        ScimV2PatchOperation::new(PatchOp::Replace, "displayName", json!("Ann B")),
        ScimV2PatchOperation::new(PatchOp::Add, "roles", json!([{"value": "Supervisor"}])),
        ScimV2PatchOperation::new(
            PatchOp::Replace,
            path_routing_skills(),
            json!([{"name": "Sales", "proficiency": 4.0}, {"name": "Billing", "proficiency": 1.0}]),
        ),
        ScimV2PatchOperation::new(
            PatchOp::Replace,
            PATH_WORK_EMAIL,
            json!("ann.new@example.com"),
        ),
    ]);
    let u2 = c
        .scim_patch_user(&u.id, &ops, Some(&v1))
        .await
        .expect("patched");
    assert_eq!(u2.display_name.as_deref(), Some("Ann B"));
    assert!(
        u2.has_role("Supervisor") && u2.has_role("User"),
        "roles are added, not replaced"
    );
    assert_eq!(u2.routing_skills().len(), 2);
    assert_eq!(u2.work_email(), Some("ann.new@example.com"));
    assert_eq!(u2.external_id.as_deref(), Some("101_ann"), "untouched");
    // The old version again: 400 invalidVers (not 412), which the client reads as a stale
    // version.
    let e = c
        .scim_patch_user(
            &u.id,
            &ScimV2PatchRequest::new(vec![ScimV2PatchOperation::new(
                PatchOp::Replace,
                "active",
                json!(false),
            )]),
            Some(&v1),
        )
        .await
        .expect_err("stale");
    assert_eq!(
        (e.status(), e.scim_type()),
        (Some(400), Some("invalidVers"))
    );
    assert!(e.is_version_conflict());
    // No If-Match: applied. Remove with a value filter; extension external ids.
    let u3 = c
        .scim_patch_user(
            &u.id,
            &ScimV2PatchRequest::new(vec![
                ScimV2PatchOperation::remove(format!(
                    "{}[name eq \"Billing\"]",
                    path_routing_skills()
                )),
                ScimV2PatchOperation::new(
                    PatchOp::Add,
                    path_external_ids(),
                    json!([{"authority": "crm", "value": "A-1"}]),
                ),
            ]),
            None,
        )
        .await
        .expect("patched");
    assert_eq!(u3.routing_skills().len(), 1);
    assert!(u3.external_ids().iter().any(|x| x.authority == "crm"));
    // An unknown path.
    let e = c
        .scim_patch_user(
            &u.id,
            &ScimV2PatchRequest::new(vec![ScimV2PatchOperation::new(
                PatchOp::Replace,
                "nickName",
                json!("x"),
            )]),
            None,
        )
        .await
        .expect_err("path");
    assert_eq!(e.scim_type(), Some("invalidPath"));
}

#[tokio::test]
async fn lists_page_by_start_index_and_filter_on_user_name_case_insensitively() {
    let h = emulator().await;
    let c = client(&h);
    for i in 0..130 {
        let mut u = ScimV2CreateUser::new(format!("u{i:03}@example.com"), format!("U {i}"));
        u.active = Some(i % 10 != 0);
        c.scim_create_user(&u).await.expect("created");
    }
    let active = collect_all(c.scim_users(None)).await.expect("list");
    assert_eq!(
        active.len(),
        117,
        "no filter: active users only, every page"
    );
    let inactive = collect_all(c.scim_users(Some(filter_eq(ScimFilterAttr::Active, "false"))))
        .await
        .expect("inactive");
    assert_eq!(inactive.len(), 13);
    let one = c
        .scim_find_user_by_user_name("U010@EXAMPLE.com")
        .await
        .expect("found")
        .expect("exists");
    assert_eq!(
        one.active,
        Some(false),
        "the filter finds inactive users too"
    );
    assert!(
        c.scim_find_user_by_user_name("nobody@example.com")
            .await
            .expect("answer")
            .is_none()
    );
    // 117 active users at 100 per page: two pages.
    assert!(h.request_count("GET /api/v2/scim/v2/users") >= 2);
}
