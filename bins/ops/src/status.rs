//! The `/status` envelope of every service.
//!
//! The guide shows EXCS's answer: `{"status":{"code":0,"message":"…","corrId":"…"},"data":{…}}`.
//! EXAS, EXCP and EXRP answer in the same envelope (our design: the guide shows only EXCS's),
//! and their `data` has the same three parts first: `connected` (every dependency of `/health`,
//! up or not, with the reason), `pending` (work waiting, by kind) and `lastErrors` (the latest
//! failures, newest first), then the service's own fields under `detail`.
//!
//! `code`: 0 when every dependency is up, 1 while a dependency is still coming up or work is
//! degraded, 2 when a dependency is down; `message` says which in one line.

use crate::health::Health;
use std::collections::BTreeMap;

/// The guide's envelope around `data`, with a fresh `corrId`.
pub fn envelope(
    code: u8,
    message: impl Into<String>,
    data: serde_json::Value,
) -> serde_json::Value {
    serde_json::json!({
        "status": {
            "code": code,
            "message": message.into(),
            "corrId": uuid::Uuid::new_v4().to_string(),
        },
        "data": data,
    })
}

/// A service's `/status`: `service` names it in the message; `pending` counts waiting work by
/// kind; `last_errors` are the latest failures; `detail` is the service's own status.
pub fn service_status(
    service: &str,
    health: &Health,
    pending: BTreeMap<String, u64>,
    last_errors: Vec<String>,
    detail: serde_json::Value,
) -> serde_json::Value {
    let report = health.report();
    let down: Vec<String> = report
        .dependencies
        .iter()
        .filter(|(_, d)| !d.up)
        .map(|(name, d)| format!("{name} ({})", d.detail))
        .collect();
    let waiting: u64 = pending.values().sum();
    let (code, message) = if report.dependencies.is_empty() {
        (1, format!("{service} is starting"))
    } else if down.is_empty() {
        (
            0,
            format!("{service} is running: every dependency is up, {waiting} items pending"),
        )
    } else {
        (
            2,
            format!("{service} is degraded: {} down", down.join(", ")),
        )
    };
    let connected: serde_json::Map<String, serde_json::Value> = report
        .dependencies
        .into_iter()
        .map(|(name, d)| (name, serde_json::json!({"up": d.up, "detail": d.detail})))
        .collect();
    envelope(
        code,
        message,
        serde_json::json!({
            "connected": connected,
            "pending": pending,
            "lastErrors": last_errors,
            "detail": detail,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_says_what_is_down_and_what_waits() {
        let health = Health::new();
        let starting = service_status(
            "EXCP",
            &health,
            BTreeMap::new(),
            vec![],
            serde_json::json!({}),
        );
        assert_eq!(starting["status"]["code"], 1);
        health.up("store", "connected");
        health.down("gc", "503 from GC");
        let s = service_status(
            "EXCP",
            &health,
            BTreeMap::from([("events".to_string(), 12)]),
            vec!["GC: 503".into()],
            serde_json::json!({"liveConversations": 3}),
        );
        assert_eq!(s["status"]["code"], 2);
        assert!(
            s["status"]["message"]
                .as_str()
                .unwrap()
                .contains("gc (503 from GC)")
        );
        assert_eq!(s["status"]["corrId"].as_str().unwrap().len(), 36);
        assert_eq!(s["data"]["connected"]["store"]["up"], true);
        assert_eq!(s["data"]["connected"]["gc"]["up"], false);
        assert_eq!(s["data"]["pending"]["events"], 12);
        assert_eq!(s["data"]["lastErrors"][0], "GC: 503");
        assert_eq!(s["data"]["detail"]["liveConversations"], 3);
        health.up("gc", "events delivered");
        let ok = service_status(
            "EXCP",
            &health,
            BTreeMap::new(),
            vec![],
            serde_json::json!({}),
        );
        assert_eq!(ok["status"]["code"], 0);
    }
}
