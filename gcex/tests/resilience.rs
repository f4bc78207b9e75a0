//! Fault tests: token expiry and renewal, rate limits, injected 5xx and dropped connections,
//! retryable event failures, the batcher, and the emulator's own HTTP control/inspection API.

mod common;

use common::*;
use gcex::batcher::{BatcherConfig, EventBatcher, InjectEvent};
use gcex::emulator::{Fault, FaultKind};
use gcex::events::*;
use gcex::{GcClient, GcError, RateLimit, RetryPolicy, collect_all};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test]
async fn wrong_secret_is_a_typed_auth_error_without_the_secret() {
    let h = emulator().await;
    let mut cfg = client_cfg(&h);
    cfg.client_secret = gcex::Secret::new("wrong-secret-abc");
    let c = GcClient::new(cfg.clone()).expect("client");
    let e = c.home_division().await.expect_err("refused");
    assert!(e.is_unauthorized(), "{e}");
    assert_eq!(e.status(), Some(401));
    for text in [
        e.to_string(),
        format!("{e:?}"),
        format!("{cfg:?}"),
        format!("{c:?}"),
    ] {
        assert!(
            !text.contains("wrong-secret-abc") && !text.contains(SECRET),
            "leak in {text}"
        );
    }
}

#[tokio::test]
async fn token_is_renewed_on_expiry_and_after_401() {
    let h = emulator_with(|c| c.with_token_lifetime(Duration::from_millis(1500))).await;
    let c = client(&h);
    c.home_division().await.expect("first call");
    assert_eq!(h.stats().tokens_issued, 1);
    // Past the token's lifetime: the client renews ahead of expiry, no 401 involved.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    c.home_division().await.expect("after expiry");
    assert_eq!(h.stats().tokens_issued, 2);
    assert_eq!(
        h.request_count("GET /api/v2/authorization/divisions/home"),
        2
    );

    // Revoked (or expired server-side early): 401, one renewal, one retry.
    h.revoke_tokens();
    c.home_division().await.expect("after revoke");
    assert_eq!(h.stats().tokens_issued, 3);
    assert_eq!(
        h.request_count("GET /api/v2/authorization/divisions/home"),
        4
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_token_renewal() {
    let h = emulator().await;
    let c = client(&h);
    let run = |c: GcClient| async move {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                tokio::spawn({
                    let c = c.clone();
                    async move { c.home_division().await }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("call");
        }
    };
    run(c.clone()).await;
    assert_eq!(h.stats().tokens_issued, 1);
    h.revoke_tokens();
    run(c.clone()).await;
    assert_eq!(
        h.stats().tokens_issued,
        2,
        "one renewal for all 16 callers that saw 401"
    );
    assert_eq!(c.stats().tokens_issued, 2);
}

async fn presence_storm(c: &GcClient, ids: &Ids, n: usize) -> Vec<String> {
    let mut tasks = Vec::new();
    let mut sent = Vec::new();
    for i in 0..n {
        let e = UserPresenceEvent {
            event_id: uuid(),
            event_date_time: at(i as i64),
            user_id: ids.user.clone(),
            source_id: ids.source.clone(),
            ..Default::default()
        };
        sent.push(e.event_id.clone());
        let c = c.clone();
        tasks.push(tokio::spawn(
            async move { c.inject_presence_events(&[e]).await },
        ));
    }
    for t in tasks {
        let r = t.await.expect("task").expect("injected");
        assert!(r.failed.is_empty(), "{:?}", r.failed);
    }
    sent
}

#[tokio::test]
async fn storm_of_429_loses_nothing() {
    let h = emulator_with(|c| c.with_rate_limit(10, Duration::from_millis(500))).await;
    // No client-side limiter: the server's 429 + Retry-After must hold the client back.
    let c = client(&h);
    let ids = org_basics(&c).await;
    let sent = presence_storm(&c, &ids, 30).await;
    let hist = h.presence_history(&ids.user);
    assert_eq!(hist.len(), 30, "every event applied exactly once");
    let got: HashSet<_> = hist.iter().map(|r| r.event_id.clone()).collect();
    assert_eq!(got, sent.into_iter().collect::<HashSet<_>>());
    assert!(h.stats().rate_limited > 0, "the storm did hit the limit");
    assert_eq!(c.stats().rate_limited, h.stats().rate_limited);
}

#[tokio::test]
async fn client_limiter_keeps_under_the_server_limit() {
    let h = emulator_with(|c| c.with_rate_limit(8, Duration::from_millis(400))).await;
    let cfg = client_cfg(&h).with_rate_limit(RateLimit {
        max_requests: 8,
        window: Duration::from_millis(400),
    });
    let c = GcClient::new(cfg).expect("client");
    let ids = org_basics(&c).await;
    presence_storm(&c, &ids, 30).await;
    assert_eq!(h.presence_history(&ids.user).len(), 30);
    assert_eq!(
        h.stats().rate_limited,
        0,
        "the client never exceeded the limit"
    );
}

#[tokio::test]
async fn injected_503s_and_dropped_connections_are_retried_without_duplicates() {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    h.inject_fault(Fault {
        path_prefix: "/api/v2/events/".into(),
        remaining: 3,
        kind: FaultKind::Status { status: 503 },
    });
    let conv = uuid();
    let events = call_flow(&ids, &conv, 0, None);
    let r = c
        .inject_conversation_events(&events)
        .await
        .expect("retried through 503s");
    assert!(r.failed.is_empty());
    assert_eq!(h.request_count("POST /api/v2/events/conversations"), 4);
    assert_eq!(
        h.conversation(&conv).expect("conv").timeline.len(),
        events.len()
    );

    h.inject_fault(Fault {
        path_prefix: "/api/v2/events/conversations".into(),
        remaining: 2,
        kind: FaultKind::Drop,
    });
    let conv2 = uuid();
    let events2 = call_flow(&ids, &conv2, 0, None);
    let r = c
        .inject_conversation_events(&events2)
        .await
        .expect("retried through drops");
    assert!(r.failed.is_empty());
    assert_eq!(h.request_count("POST /api/v2/events/conversations"), 7);
    assert_eq!(
        h.conversation(&conv2).expect("conv").timeline.len(),
        events2.len()
    );
    assert_eq!(h.stats().events_accepted, 20);

    // A GET through a dropped connection is retried too.
    h.inject_fault(Fault {
        path_prefix: "/api/v2/routing/queues".into(),
        remaining: 1,
        kind: FaultKind::Drop,
    });
    assert_eq!(collect_all(c.queues(None)).await.expect("queues").len(), 1);
}

#[tokio::test]
async fn creates_are_not_retried_after_a_503_and_budgets_end_in_gave_up() {
    let h = emulator().await;
    let c = client(&h);
    h.inject_fault(Fault {
        path_prefix: "/api/v2/routing/skills".into(),
        remaining: 1,
        kind: FaultKind::Status { status: 503 },
    });
    let e = c.create_skill("Billing").await.expect_err("not retried");
    assert_eq!(e.status(), Some(503));
    assert!(e.is_retryable());
    assert_eq!(h.request_count("POST /api/v2/routing/skills"), 1);
    c.create_skill("Billing").await.expect("caller retried");

    let mut cfg = client_cfg(&h);
    cfg.retry = RetryPolicy {
        max_retries: 3,
        ..RetryPolicy::fast()
    };
    let c3 = GcClient::new(cfg).expect("client");
    h.inject_fault(Fault {
        path_prefix: "/api/v2/routing/queues".into(),
        remaining: 50,
        kind: FaultKind::Status { status: 503 },
    });
    let e = collect_all(c3.queues(None)).await.expect_err("gives up");
    assert!(matches!(e, GcError::GaveUp { attempts: 4, .. }), "{e:?}");
    assert_eq!(e.status(), Some(503));
    assert_eq!(
        e.error_body().and_then(|b| b.code.clone()).as_deref(),
        Some("service.unavailable")
    );
}

#[tokio::test]
async fn only_retryable_failed_events_are_resent() {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    let conv = uuid();
    let events = call_flow(&ids, &conv, 0, None);
    h.fail_next_events(4);
    let r = c.inject_conversation_events(&events).await.expect("inject");
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert_eq!(r.accepted, events.len());
    assert_eq!(r.requests, 2, "one resend of the 4 retryable events");
    let view = h.conversation(&conv).expect("conv");
    let got: Vec<&str> = view.timeline.iter().map(|t| t.event_id.as_str()).collect();
    let want: Vec<&str> = events.iter().map(|e| e.event_id()).collect();
    let mut got_sorted = got.clone();
    got_sorted.sort_unstable();
    let mut want_sorted = want.clone();
    want_sorted.sort_unstable();
    assert_eq!(got_sorted, want_sorted, "each event applied exactly once");
    assert_eq!(h.stats().events_accepted, events.len() as u64);

    // Still failing after the retry rounds: reported, retryable, never applied.
    let mut cfg = client_cfg(&h);
    cfg.retry.event_retry_rounds = 1;
    let c1 = GcClient::new(cfg).expect("client");
    h.fail_next_events(1000);
    let more = call_flow(&ids, &uuid(), 0, None);
    let r = c1
        .inject_conversation_events(&more)
        .await
        .expect("answered");
    assert_eq!(r.failed.len(), more.len());
    assert!(r.failed.iter().all(|e| e.retryable));
    assert_eq!(r.requests, 2);
    h.fail_next_events(0);
}

#[tokio::test]
async fn batcher_flushes_by_size_and_delay_and_keeps_order() {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    let b = EventBatcher::spawn(
        c.clone(),
        BatcherConfig {
            max_events: 10,
            max_delay: Duration::from_millis(20),
            queue_capacity: 100,
        },
    );
    let convs: Vec<String> = (0..3).map(|_| uuid()).collect();
    let flows: Vec<Vec<ConversationEvent>> = convs
        .iter()
        .enumerate()
        .map(|(i, cv)| call_flow(&ids, cv, i as i64, None))
        .collect();
    // Interleave the three calls, as a live system would.
    for k in 0..10 {
        for f in &flows {
            b.submit(InjectEvent::Conversation(f[k].clone()))
                .await
                .expect("submit");
        }
    }
    b.submit(InjectEvent::RoutingStatus(UserRoutingStatusEvent {
        event_id: uuid(),
        event_date_time: at(0),
        agent_id: ids.user.clone(),
        status: RoutingStatus::Idle,
        source_id: ids.source.clone(),
    }))
    .await
    .expect("submit");
    let out = b.flush().await.expect("flush");
    assert!(out.failed_requests.is_empty());
    assert!(out.report.failed.is_empty(), "{:?}", out.report.failed);
    assert_eq!(out.report.accepted, 31);
    assert_eq!(
        h.request_count("POST /api/v2/events/conversations"),
        3,
        "flushed by size: 3 x 10"
    );
    for (cv, f) in convs.iter().zip(&flows) {
        let got: Vec<String> = h
            .conversation(cv)
            .expect("conv")
            .timeline
            .iter()
            .map(|t| t.event_id.clone())
            .collect();
        let want: Vec<String> = f.iter().map(|e| e.event_id().to_owned()).collect();
        assert_eq!(got, want);
    }
    assert_eq!(h.routing_history(&ids.user).len(), 1);

    // Flushed by delay: one event, no flush call.
    let lone = UserPresenceEvent {
        event_id: uuid(),
        event_date_time: at(9),
        user_id: ids.user.clone(),
        source_id: ids.source.clone(),
        ..Default::default()
    };
    b.submit(InjectEvent::Presence(lone)).await.expect("submit");
    let mut waited = 0;
    while h.presence_history(&ids.user).is_empty() && waited < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(h.presence_history(&ids.user).len(), 1);
}

#[tokio::test]
async fn emulator_http_control_and_inspection_api() {
    let h = emulator().await;
    let c = client(&h);
    let ids = org_basics(&c).await;
    let http = reqwest::Client::new();
    let base = h.base_url().to_owned();
    let r = http
        .post(format!("{base}/emulator/faults"))
        .json(&serde_json::json!({"pathPrefix": "/api/v2/routing/queues", "remaining": 1, "kind": "status", "status": 503}))
        .send()
        .await
        .expect("fault");
    assert!(r.status().is_success());
    assert_eq!(collect_all(c.queues(None)).await.expect("retried").len(), 1);
    let org: serde_json::Value = http
        .get(format!("{base}/emulator/org"))
        .send()
        .await
        .expect("org")
        .json()
        .await
        .expect("json");
    assert_eq!(org["queues"].as_array().map(Vec::len), Some(1));
    assert_eq!(org["users"][0]["user"]["id"], ids.user.as_str());
    assert!(org["roles"].as_array().is_some_and(|r| r.len() >= 3));
    let user: serde_json::Value = http
        .get(format!("{base}/emulator/users/{}", ids.user))
        .send()
        .await
        .expect("user")
        .json()
        .await
        .expect("json");
    assert_eq!(user["roles"][0]["name"], "Employee");
    let req: serde_json::Value = http
        .get(format!("{base}/emulator/requests"))
        .send()
        .await
        .expect("req")
        .json()
        .await
        .expect("json");
    assert_eq!(req["requests"]["GET /api/v2/routing/queues"], 2);
    let r = http
        .get(format!("{base}/emulator/conversations/{}", uuid()))
        .send()
        .await
        .expect("conv");
    assert_eq!(r.status(), 404);
    let r = http
        .post(format!("{base}/emulator/reset"))
        .send()
        .await
        .expect("reset");
    assert!(r.status().is_success());
    assert!(h.org().users.is_empty());
    assert!(
        collect_all(c.queues(None))
            .await
            .expect("token survives reset")
            .is_empty()
    );
    // No token: 401 with a GC body.
    let r = http
        .get(format!("{base}/api/v2/routing/queues"))
        .send()
        .await
        .expect("no token");
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<gcex::ErrorBody>()
            .await
            .expect("body")
            .code
            .as_deref(),
        Some("authentication.required")
    );
}

/// Issue 12 §12: no `expires_in` a server sends can overflow the client's clock arithmetic.
#[tokio::test]
async fn a_token_lifetime_beyond_the_clock_is_clamped_not_a_panic() {
    let h = emulator_with(|c| c.with_token_lifetime(Duration::from_secs(u64::MAX))).await;
    let c = client(&h);
    c.home_division().await.expect("first call");
    c.home_division().await.expect("second call, same token");
    assert_eq!(h.stats().tokens_issued, 1);
}

/// Issue 19: the client counts GC's answers per endpoint (ids as `{id}`) and class, and the
/// time it waited before retries.
#[tokio::test]
async fn answers_are_counted_per_endpoint_and_class() {
    let h = emulator().await;
    let c = client(&h);
    c.home_division().await.expect("2xx");
    let missing = c
        .get_user("00000000-0000-4000-8000-000000000404", None)
        .await
        .expect_err("no such user");
    assert_eq!(missing.status(), Some(404));
    h.inject_fault(Fault {
        path_prefix: "/api/v2/authorization/divisions/home".into(),
        remaining: 1,
        kind: FaultKind::Status { status: 503 },
    });
    c.home_division().await.expect("503, then 2xx");
    let stats = c.endpoint_stats();
    let count = |method: &str, endpoint: &str, class: &str| {
        stats
            .iter()
            .find(|e| e.method == method && e.endpoint == endpoint && e.class == class)
            .map_or(0, |e| e.count)
    };
    assert_eq!(
        count("GET", "/api/v2/authorization/divisions/home", "2xx"),
        2,
        "{stats:?}"
    );
    assert_eq!(
        count("GET", "/api/v2/authorization/divisions/home", "5xx"),
        1,
        "{stats:?}"
    );
    assert_eq!(count("GET", "/api/v2/users/{id}", "4xx"), 1, "{stats:?}");
    assert_eq!(c.stats().retries, 1, "the 503 was retried once");
}
