//! Shared helpers of the contract tests: an emulator plus a client with fast retries.

#![allow(dead_code, missing_docs)]

use gcex::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use gcex::events::*;
use gcex::users::CreateUser;
use gcex::{GcClient, GcConfig, RateLimit, RetryPolicy};
use std::time::Duration;

pub const CLIENT_ID: &str = "test-client";
pub const SECRET: &str = "s3cr3t-value-never-printed";

pub async fn emulator_with(f: impl FnOnce(EmulatorConfig) -> EmulatorConfig) -> EmulatorHandle {
    Emulator::start(f(
        EmulatorConfig::new(CLIENT_ID, SECRET).with_rate_limit(0, Duration::from_secs(60))
    ))
    .await
    .expect("emulator starts")
}

pub async fn emulator() -> EmulatorHandle {
    emulator_with(|c| c).await
}

pub fn client_cfg(h: &EmulatorHandle) -> GcConfig {
    h.client_config()
        .with_retry(RetryPolicy::fast())
        .with_rate_limit(RateLimit::disabled())
}

pub fn client(h: &EmulatorHandle) -> GcClient {
    GcClient::new(client_cfg(h)).expect("client")
}

pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `eventDateTime` values `ms` milliseconds after a fixed instant.
pub fn at(ms: i64) -> String {
    event_time(time::macros::datetime!(2026-05-01 10:00:00 UTC) + time::Duration::milliseconds(ms))
}

pub async fn make_user(c: &GcClient, email: &str) -> gcex::users::User {
    c.create_user(&CreateUser {
        name: email.to_owned(),
        email: email.to_owned(),
        ..CreateUser::default()
    })
    .await
    .expect("user created")
}

pub struct Ids {
    pub source: String,
    pub queue: String,
    pub user: String,
}

pub async fn org_basics(c: &GcClient) -> Ids {
    let source = c
        .create_presence_source("Engage", Some("Genesys Engage"))
        .await
        .expect("source")
        .id
        .expect("id");
    let queue = c
        .create_queue(&gcex::routing::QueueRequest {
            name: format!("Q-{}", uuid()),
            ..Default::default()
        })
        .await
        .expect("queue")
        .id;
    let user = make_user(c, &format!("agent-{}@example.com", uuid()))
        .await
        .id;
    Ids {
        source,
        queue,
        user,
    }
}

fn ini(alerting: bool) -> InitialConfiguration {
    InitialConfiguration {
        alerting: Some(alerting),
        inbound: Some(true),
        ..Default::default()
    }
}

fn src(ids: &Ids, interaction: &str) -> SourceConfiguration {
    SourceConfiguration {
        source_id: ids.source.clone(),
        interaction_id: interaction.to_owned(),
        tag_id: None,
    }
}

/// An inbound call: customer, queue, agent alerting then answered, hold/unhold, both end,
/// wrap-up. Times start at `t0` ms, 10 ms apart.
pub fn call_flow(ids: &Ids, conv: &str, t0: i64, wrapup: Option<String>) -> Vec<ConversationEvent> {
    let ext = uuid();
    let route = uuid();
    let agent = uuid();
    let t = |i: i64| at(t0 + i * 10);
    let base = |i: i64, comm: &str| (uuid(), t(i), conv.to_owned(), comm.to_owned());
    let mut v: Vec<ConversationEvent> = Vec::new();
    let (e, d, c, m) = base(0, &ext);
    v.push(
        ExternalEstablishedEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
            initial_configuration: ini(false),
            source_configuration: src(ids, conv),
            ani: Some("+3531000".into()),
            ..Default::default()
        }
        .into(),
    );
    let (e, d, c, m) = base(1, &route);
    v.push(
        RoutingEstablishedEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
            initial_configuration: ini(false),
            source_configuration: src(ids, conv),
            queue_id: ids.queue.clone(),
            ..Default::default()
        }
        .into(),
    );
    let (e, d, c, m) = base(2, &agent);
    v.push(
        UserEstablishedEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
            initial_configuration: ini(true),
            source_configuration: src(ids, conv),
            user_id: ids.user.clone(),
            after_call_work_required: Some(true),
            ..Default::default()
        }
        .into(),
    );
    let (e, d, c, m) = base(3, &agent);
    v.push(
        CommunicationAnsweredEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
        }
        .into(),
    );
    let (e, d, c, m) = base(4, &route);
    v.push(
        CommunicationEndedEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
            disconnect_type: DisconnectType::Transfer,
            destination_conversation_id: None,
        }
        .into(),
    );
    let (e, d, c, m) = base(5, &agent);
    v.push(
        HoldUpdatedEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
            held: true,
        }
        .into(),
    );
    let (e, d, c, m) = base(6, &agent);
    v.push(
        HoldUpdatedEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
            held: false,
        }
        .into(),
    );
    let (e, d, c, m) = base(7, &ext);
    v.push(
        CommunicationEndedEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
            disconnect_type: DisconnectType::Peer,
            destination_conversation_id: None,
        }
        .into(),
    );
    let (e, d, c, m) = base(8, &agent);
    v.push(
        CommunicationEndedEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
            disconnect_type: DisconnectType::SelfDisconnect,
            destination_conversation_id: None,
        }
        .into(),
    );
    let (e, d, c, m) = base(9, &agent);
    v.push(
        CommunicationDispositionAppliedEvent {
            event_id: e,
            event_date_time: d,
            conversation_id: c,
            communication_id: m,
            code: wrapup,
            notes: Some("done".into()),
            tags: Vec::new(),
        }
        .into(),
    );
    v
}
