//! Recorded-shape fixtures (see `fixtures/README.md`): our models decode GC's answers and
//! re-encode them without losing a field.

use gcex::EntityListing;
use gcex::ErrorBody;
use gcex::presence::PresenceDefinition;
use gcex::routing::Queue;
use gcex::sta::StaSettings;
use gcex::users::User;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes `name` as `T`, re-encodes it and checks nothing was lost or changed.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let original = fixture(name);
    let model: T = serde_json::from_value(original.clone()).expect("decodes");
    let again = serde_json::to_value(&model).expect("encodes");
    assert_eq!(again, original, "{name} changed on round trip");
    model
}

#[test]
fn user_with_every_contact_kind_round_trips() {
    let u: User = round_trip("user.json");
    assert_eq!(u.version, 7);
    let ext = &u.addresses[1];
    assert_eq!(ext.extension.as_deref(), Some("4711"));
    assert_eq!(ext.address, None, "extension and address are exclusive");
    assert_eq!(u.addresses[0].country_code.as_deref(), Some("US"));
    assert_eq!(
        u.addresses[2].integration.as_deref(),
        Some("microsoftteams")
    );
    assert!(u.extra.contains_key("primaryContactInfo") && u.extra.contains_key("chat"));
}

#[test]
fn queue_round_trips_and_its_put_body_keeps_admin_settings() {
    let q: Queue = round_trip("queue.json");
    let put = serde_json::to_value(q.to_request()).expect("encodes");
    for kept in [
        "mediaSettings",
        "acwSettings",
        "bullseye",
        "routingRules",
        "skillEvaluationMethod",
        "callingPartyName",
        "enableAudioMonitoring",
    ] {
        assert!(put.get(kept).is_some(), "the PUT body keeps {kept}: {put}");
    }
    for dropped in ["id", "selfUri", "memberCount", "dateCreated", "modifiedBy"] {
        assert!(put.get(dropped).is_none(), "GC sets {dropped} itself");
    }
    assert_eq!(
        put["division"],
        serde_json::json!({"id": q.division.unwrap().id})
    );
}

#[test]
fn sta_settings_answer_names_the_default_program_as_a_reference() {
    let s: StaSettings = round_trip("sta_settings.json");
    assert_eq!(
        s.default_program_id(),
        Some("9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
    );
}

#[test]
fn a_presence_definition_without_system_presence_does_not_fail_the_list() {
    let l: EntityListing<PresenceDefinition> = round_trip("presence_definitions.json");
    assert_eq!(l.entities.len(), 2);
    assert_eq!(l.entities[1].system_presence, "");
}

#[test]
fn a_400_version_mismatch_is_a_version_conflict() {
    let b: ErrorBody = round_trip("error_version_mismatch_400.json");
    let e = gcex::GcError::Api {
        method: "PATCH".into(),
        path: "/api/v2/users/x".into(),
        status: 400,
        body: Some(Box::new(b)),
        correlation_id: None,
        retry_after: None,
    };
    assert!(e.is_version_conflict());
    assert!(!e.is_conflict(), "not a 409");
}
