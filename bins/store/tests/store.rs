//! One contract suite, run against both store backends: real Redis and the embedded store.

use engage_store::{
    DnRecord, EmbeddedStore, IdKind, IdMap, JsonView, Lease, LeaseState, Namespace, Outbox,
    OutboxEntry, RedisConfig, RedisStore, RedisTls, Store,
};
use engage_test_support::TestRedis;
use std::sync::Arc;
use std::time::Duration;

async fn contract(store: Arc<dyn Store>, ns: Namespace) {
    store.ping().await.unwrap();
    ttls_and_sets(store.as_ref(), &ns).await;

    // Plain values.
    let k = ns.key("plain");
    assert_eq!(store.get(&k).await.unwrap(), None);
    store.put(&k, b"one").await.unwrap();
    store.put(&k, b"two").await.unwrap();
    assert_eq!(store.get(&k).await.unwrap().as_deref(), Some(&b"two"[..]));
    assert!(store.delete(&k).await.unwrap());
    assert!(!store.delete(&k).await.unwrap());
    assert_eq!(store.get(&k).await.unwrap(), None);

    // put_if_absent: exactly one winner; TTL expiry frees the key.
    let d = ns.key("dedup:x");
    assert!(store.put_if_absent(&d, b"a", None).await.unwrap());
    assert!(!store.put_if_absent(&d, b"b", None).await.unwrap());
    assert_eq!(store.get(&d).await.unwrap().as_deref(), Some(&b"a"[..]));
    let t = ns.key("dedup:ttl");
    let short = Some(Duration::from_millis(50));
    assert!(store.put_if_absent(&t, b"1", short).await.unwrap());
    assert!(!store.put_if_absent(&t, b"1", short).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        store.get(&t).await.unwrap(),
        None,
        "expired key must be gone"
    );
    let long = Some(Duration::from_secs(60));
    assert!(
        store.put_if_absent(&t, b"2", long).await.unwrap(),
        "expired key can be taken again"
    );

    // scan_prefix: only the prefix, sorted, literal (glob characters are not patterns).
    for (rel, v) in [("s:b", "2"), ("s:a", "1"), ("s:c*", "3"), ("t:a", "x")] {
        store.put(&ns.key(rel), v.as_bytes()).await.unwrap();
    }
    let rows = store.scan_prefix(&ns.key("s:")).await.unwrap();
    let keys: Vec<String> = rows.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, vec![ns.key("s:a"), ns.key("s:b"), ns.key("s:c*")]);
    assert_eq!(rows[0].1, b"1".to_vec());
    assert_eq!(store.scan_prefix(&ns.key("s:c*")).await.unwrap().len(), 1);

    // Queues: FIFO, peek does not remove, pop removes from the front.
    let q = ns.key("q");
    assert_eq!(store.queue_len(&q).await.unwrap(), 0);
    for i in 0..5u8 {
        store.queue_push(&q, &[i]).await.unwrap();
    }
    assert_eq!(store.queue_len(&q).await.unwrap(), 5);
    assert_eq!(
        store.queue_peek(&q, 2).await.unwrap(),
        vec![vec![0u8], vec![1]]
    );
    store.queue_pop(&q, 2).await.unwrap();
    assert_eq!(
        store.queue_peek(&q, 10).await.unwrap(),
        vec![vec![2u8], vec![3], vec![4]]
    );
    store.queue_push(&q, &[5]).await.unwrap();
    store.queue_pop(&q, 10).await.unwrap();
    assert_eq!(store.queue_len(&q).await.unwrap(), 0);
    assert!(store.queue_peek(&q, 0).await.unwrap().is_empty());

    // Typed views.
    let ids = IdMap::new(store.clone(), ns.clone());
    ids.set(IdKind::Person, "101", "gc-user-1").await.unwrap();
    ids.set(IdKind::Queue, "101", "gc-queue-1").await.unwrap();
    let user = ids.gc_id(IdKind::Person, "101").await.unwrap();
    assert_eq!(user.as_deref(), Some("gc-user-1"));
    let queue = ids.gc_id(IdKind::Queue, "101").await.unwrap();
    assert_eq!(
        queue.as_deref(),
        Some("gc-queue-1"),
        "a DBID is unique only within its kind"
    );
    let back = ids.engage_key(IdKind::Person, "gc-user-1").await.unwrap();
    assert_eq!(back.as_deref(), Some("101"));
    assert_eq!(
        ids.all(IdKind::Person).await.unwrap(),
        vec![("101".to_string(), "gc-user-1".to_string())]
    );
    ids.remove(IdKind::Person, "101").await.unwrap();
    assert_eq!(ids.gc_id(IdKind::Person, "101").await.unwrap(), None);
    assert_eq!(
        ids.engage_key(IdKind::Person, "gc-user-1").await.unwrap(),
        None
    );

    let json = JsonView::new(store.clone(), ns.clone());
    let dn = DnRecord::new("7001", 55, "SIP_Switch", 3);
    json.put("dn:SIP_Switch:7001", &dn).await.unwrap();
    let back: Option<DnRecord> = json.get("dn:SIP_Switch:7001").await.unwrap();
    assert_eq!(back, Some(dn.clone()));
    let all: Vec<(String, DnRecord)> = json.scan("dn:").await.unwrap();
    assert_eq!(all, vec![("SIP_Switch:7001".to_string(), dn)]);
    assert!(
        json.first_seen("ev1", Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert!(
        !json
            .first_seen("ev1", Duration::from_secs(60))
            .await
            .unwrap()
    );

    let outbox = Outbox::new(store.clone(), &ns, "presence");
    assert!(outbox.is_empty().await.unwrap());
    outbox.push(&"e1").await.unwrap();
    outbox.push(&"e2").await.unwrap();
    let items: Vec<String> = outbox.peek(10).await.unwrap();
    assert_eq!(items, vec!["e1", "e2"]);
    outbox.ack(1).await.unwrap();
    let items: Vec<String> = outbox.peek(10).await.unwrap();
    assert_eq!(items, vec!["e2"]);

    outbox_by_id(store.clone(), &ns).await;
    lease(store.clone(), &ns).await;
}

fn item_of(e: &OutboxEntry<String>) -> Option<&str> {
    match e {
        OutboxEntry::Item { item, .. } => Some(item.as_str()),
        _ => None,
    }
}

/// Outbox items by id: ids are unique, undecodable entries are named (not an error), and an
/// acknowledgement removes exactly the delivered items, whoever trimmed first.
async fn outbox_by_id(store: Arc<dyn Store>, ns: &Namespace) {
    let outbox = Outbox::new(store.clone(), ns, "byid");
    let a = outbox.push_entry(&"a".to_string()).await.unwrap();
    // A legacy item (no envelope) and garbage bytes in the middle of the queue.
    store
        .queue_push(outbox.queue_key(), br#""legacy""#)
        .await
        .unwrap();
    store
        .queue_push(outbox.queue_key(), b"\xff not json")
        .await
        .unwrap();
    store
        .queue_push(outbox.queue_key(), br#"{"outboxId":"x1","item":42}"#)
        .await
        .unwrap();
    let b = outbox.push_entry(&"b".to_string()).await.unwrap();
    let c = outbox.push_entry(&"c".to_string()).await.unwrap();
    assert_ne!(a, b);
    let entries: Vec<OutboxEntry<String>> = outbox.peek_entries(10).await.unwrap();
    assert_eq!(entries.len(), 6);
    assert_eq!(entries[0].id(), a);
    assert_eq!(item_of(&entries[0]), Some("a"));
    assert!(entries[1].id().starts_with("legacy-"));
    assert_eq!(item_of(&entries[1]), Some("legacy"));
    assert!(
        matches!(&entries[2], OutboxEntry::Undecodable { id, raw, .. } if id.starts_with("raw-") && raw.starts_with(b"\xff"))
    );
    assert!(matches!(&entries[3], OutboxEntry::Undecodable { id, .. } if id == "x1"));
    // The same bytes give the same id on every read (and every instance).
    let again: Vec<OutboxEntry<String>> = outbox.peek_entries(10).await.unwrap();
    let ids: Vec<String> = entries.iter().map(|e| e.id().to_string()).collect();
    assert_eq!(
        again.iter().map(|e| e.id().to_string()).collect::<Vec<_>>(),
        ids
    );
    // Acknowledging items not at the head removes nothing.
    assert_eq!(outbox.ack_ids(std::slice::from_ref(&b)).await.unwrap(), 0);
    assert_eq!(outbox.len().await.unwrap(), 6);
    // Two consumers acknowledge overlapping rounds: exactly the delivered items go.
    assert_eq!(outbox.ack_ids(&ids[..2]).await.unwrap(), 2);
    assert_eq!(outbox.ack_ids(&ids[..4]).await.unwrap(), 2);
    assert_eq!(outbox.ack_ids(&ids[..4]).await.unwrap(), 0);
    let rest: Vec<OutboxEntry<String>> = outbox.peek_entries(10).await.unwrap();
    assert_eq!(
        rest.iter().map(|e| e.id().to_string()).collect::<Vec<_>>(),
        vec![b.clone(), c.clone()]
    );
    // Concurrent acknowledgements of the same round remove it once.
    let d = outbox.push_entry(&"d".to_string()).await.unwrap();
    let round = vec![b, c];
    let (x, y) = tokio::join!(outbox.ack_ids(&round), outbox.ack_ids(&round));
    assert_eq!(x.unwrap() + y.unwrap(), 2);
    let rest: Vec<OutboxEntry<String>> = outbox.peek_entries(10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id(), d);
    assert_eq!(outbox.ack_ids::<String>(&[]).await.unwrap(), 0);
}

/// One consumer at a time: a second holder waits, cannot steal a renewed lease, takes over
/// when the holder stops beating, and at once after a release.
async fn lease(store: Arc<dyn Store>, ns: &Namespace) {
    let slot = Duration::from_secs(10);
    let a = Lease::new(store.clone(), ns, "exas", "a", slot);
    let b = Lease::new(store.clone(), ns, "exas", "b", slot);
    assert_eq!(a.heartbeat_every(), Duration::from_millis(2500));
    // Synthetic times (10 s slots); the keys' TTLs run on the real clock (30 s).
    let t0: i64 = 1_000_000_000_000;
    assert_eq!(
        a.heartbeat(t0 + 100).await.unwrap(),
        LeaseState::Held {
            until_ms: t0 + 20_000
        }
    );
    let waiting = LeaseState::HeldBy {
        holder: "a".to_string(),
    };
    assert_eq!(b.heartbeat(t0 + 200).await.unwrap(), waiting);
    // Late in the slot b tries the next one, but a claimed it already.
    assert_eq!(b.heartbeat(t0 + 9_000).await.unwrap(), waiting);
    assert_eq!(
        a.heartbeat(t0 + 10_100).await.unwrap(),
        LeaseState::Held {
            until_ms: t0 + 30_000
        }
    );
    // a stops beating (it died during slot 2, which it had claimed; it never claimed slot 3).
    assert_eq!(b.heartbeat(t0 + 20_500).await.unwrap(), waiting);
    assert_eq!(b.heartbeat(t0 + 28_000).await.unwrap(), waiting);
    assert_eq!(
        b.heartbeat(t0 + 30_100).await.unwrap(),
        LeaseState::Held {
            until_ms: t0 + 50_000
        }
    );
    // a comes back: it waits.
    assert_eq!(
        a.heartbeat(t0 + 30_200).await.unwrap(),
        LeaseState::HeldBy {
            holder: "b".to_string()
        }
    );
    // b stops cleanly: a takes over at its next heartbeat.
    b.release(t0 + 30_300).await.unwrap();
    assert!(matches!(
        a.heartbeat(t0 + 30_400).await.unwrap(),
        LeaseState::Held { .. }
    ));
    // Releasing a lease one does not hold changes nothing.
    b.release(t0 + 30_500).await.unwrap();
    assert!(matches!(
        a.heartbeat(t0 + 30_600).await.unwrap(),
        LeaseState::Held { .. }
    ));
}

/// `put_ttl` and the set primitives (issue 12 §15: every growing key family bounded, and
/// look-ups without `SCAN`).
async fn ttls_and_sets(store: &dyn Store, ns: &Namespace) {
    let k = ns.key("ttl:v");
    store
        .put_ttl(&k, b"v", Duration::from_millis(80))
        .await
        .unwrap();
    assert_eq!(store.get(&k).await.unwrap().as_deref(), Some(&b"v"[..]));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(store.get(&k).await.unwrap(), None, "expired");
    assert!(
        store.scan_prefix(&ns.key("ttl:")).await.unwrap().is_empty(),
        "an expired value is not listed"
    );

    let set = ns.key("set:a");
    assert!(store.set_members(&set).await.unwrap().is_empty());
    assert!(!store.set_contains(&set, b"x").await.unwrap());
    assert!(store.set_add(&set, b"x", None).await.unwrap());
    assert!(!store.set_add(&set, b"x", None).await.unwrap(), "not new");
    assert!(store.set_add(&set, b"\x00\xffbinary", None).await.unwrap());
    assert!(store.set_contains(&set, b"x").await.unwrap());
    assert!(store.set_contains(&set, b"\x00\xffbinary").await.unwrap());
    let none = ns.key("set:none");
    assert!(
        store
            .set_contains_any(&[none.clone(), set.clone()], b"x")
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_contains_any(std::slice::from_ref(&none), b"x")
            .await
            .unwrap()
    );
    assert!(!store.set_contains_any(&[], b"x").await.unwrap());
    let mut m = store.set_members(&set).await.unwrap();
    m.sort();
    assert_eq!(m, vec![b"\x00\xffbinary".to_vec(), b"x".to_vec()]);
    assert!(store.set_remove(&set, b"x").await.unwrap());
    assert!(!store.set_remove(&set, b"x").await.unwrap());
    assert!(!store.set_contains(&set, b"x").await.unwrap());
    // Another set's members never leak into this one (prefix-sharing keys).
    let other = ns.key("set:ab");
    store.set_add(&other, b"y", None).await.unwrap();
    assert_eq!(store.set_members(&set).await.unwrap().len(), 1);
    assert!(
        store.delete(&set).await.unwrap(),
        "a set is deleted like a key"
    );
    assert!(store.set_members(&set).await.unwrap().is_empty());
    assert!(!store.set_contains(&set, b"\x00\xffbinary").await.unwrap());
    assert_eq!(
        store.set_members(&other).await.unwrap(),
        vec![b"y".to_vec()]
    );
    store.delete(&other).await.unwrap();

    // A set expires as a whole `ttl` after its last add; a later add starts it afresh.
    let t = ns.key("set:ttl");
    store
        .set_add(&t, b"1", Some(Duration::from_millis(80)))
        .await
        .unwrap();
    assert!(store.set_contains(&t, b"1").await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!store.set_contains(&t, b"1").await.unwrap(), "expired");
    assert!(store.set_members(&t).await.unwrap().is_empty());
    assert!(
        store
            .set_add(&t, b"2", Some(Duration::from_secs(60)))
            .await
            .unwrap()
    );
    assert_eq!(store.set_members(&t).await.unwrap(), vec![b"2".to_vec()]);
    store.delete(&t).await.unwrap();
}

/// The embedded store purges what expired: the file does not grow with dead records.
#[tokio::test]
async fn embedded_store_purges_expired_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("store.redb")).unwrap();
    for i in 0..50 {
        store
            .put_ttl(&format!("k{i}"), b"v", Duration::from_millis(20))
            .await
            .unwrap();
        store
            .put_if_absent(&format!("d{i}"), b"v", Some(Duration::from_millis(20)))
            .await
            .unwrap();
    }
    store
        .set_add("s", b"m", Some(Duration::from_millis(20)))
        .await
        .unwrap();
    store.put("keep", b"v").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // 50 + 50 values, the set and its member.
    assert_eq!(store.purge_expired_now().unwrap(), 102);
    assert_eq!(
        store.purge_expired_now().unwrap(),
        0,
        "nothing left to purge"
    );
    assert_eq!(store.get("keep").await.unwrap().as_deref(), Some(&b"v"[..]));
}

#[tokio::test]
async fn redis_backend_passes_the_contract() {
    let r = TestRedis::create().await;
    let cfg = RedisConfig::from_url(r.url()).unwrap();
    let store = RedisStore::connect(&cfg).await.unwrap();
    contract(Arc::new(store), Namespace::with_prefix(r.prefix())).await;
}

#[tokio::test]
async fn embedded_backend_passes_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("store.redb")).unwrap();
    contract(Arc::new(store), Namespace::new("1", "org")).await;
}

#[tokio::test]
async fn embedded_store_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let ns = Namespace::new("t", "o");
    {
        let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&path).unwrap());
        Outbox::new(store.clone(), &ns, "x")
            .push(&1u32)
            .await
            .unwrap();
        store.put(&ns.key("k"), b"v").await.unwrap();
    }
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(&path).unwrap());
    let items: Vec<u32> = Outbox::new(store.clone(), &ns, "x").peek(5).await.unwrap();
    assert_eq!(items, vec![1]);
    assert_eq!(
        store.get(&ns.key("k")).await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

#[test]
fn namespaces_never_overlap() {
    let a = Namespace::new("1", "org:x");
    let b = Namespace::new("1:org", "x");
    assert_ne!(a.key("k"), b.key("k"));
    assert_eq!(a.key("k"), "exec:1:org_x:k");
}

/// The TLS Redis `scripts/test.sh` starts (`ENGAGE_TEST_REDIS_TLS`, a `rediss://` URL, and the
/// CA that signed its certificate, `ENGAGE_TEST_REDIS_TLS_CA`).
fn tls_target() -> (RedisConfig, std::path::PathBuf, std::path::PathBuf) {
    let need = |v: &str| {
        std::env::var(v).unwrap_or_else(|_| {
            panic!(
                "{v} is not set: run scripts/test.sh (it starts a TLS Redis on 127.0.0.1:6390 \
                 with a test CA and exports ENGAGE_TEST_REDIS_TLS, ENGAGE_TEST_REDIS_TLS_CA, \
                 ENGAGE_TEST_REDIS_TLS_OTHER_CA)"
            )
        })
    };
    let cfg = RedisConfig::from_url(&need("ENGAGE_TEST_REDIS_TLS")).expect("a rediss:// URL");
    assert!(
        cfg.tls.is_some(),
        "ENGAGE_TEST_REDIS_TLS must be a rediss:// URL"
    );
    (
        cfg,
        need("ENGAGE_TEST_REDIS_TLS_CA").into(),
        need("ENGAGE_TEST_REDIS_TLS_OTHER_CA").into(),
    )
}

#[tokio::test]
async fn redis_over_tls_passes_the_contract_and_refuses_an_unknown_ca() {
    let (mut cfg, ca, other_ca) = tls_target();
    cfg.tls = Some(RedisTls {
        ca_file: Some(ca),
        ..RedisTls::default()
    });
    let store = RedisStore::connect(&cfg)
        .await
        .expect("TLS to Redis, verified against the test CA");
    let prefix = engage_test_support::unique_name("tls");
    contract(Arc::new(store), Namespace::with_prefix(&prefix)).await;

    // A server whose certificate another CA signed is refused (no silent fallback).
    cfg.tls = Some(RedisTls {
        ca_file: Some(other_ca),
        ..RedisTls::default()
    });
    let refused = RedisStore::connect(&cfg).await;
    assert!(
        refused.is_err(),
        "a certificate from an unknown CA must be refused"
    );

    // Plain TCP to the TLS port does not silently work either.
    let plain = RedisConfig::new(cfg.host.clone(), cfg.port);
    let plain = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        match RedisStore::connect(&plain).await {
            Ok(s) => s.get("k").await.map(|_| ()),
            Err(e) => Err(e),
        }
    })
    .await;
    assert!(
        !matches!(plain, Ok(Ok(()))),
        "plain TCP must not talk to the TLS port"
    );

    // A missing CA file is a clear error naming the setting, not a hang.
    cfg.tls = Some(RedisTls {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..RedisTls::default()
    });
    let e = RedisStore::connect(&cfg)
        .await
        .expect_err("missing CA file");
    let s = e.to_string();
    assert!(
        s.contains("EXEC_REDIS_TLS_CA_FILE") && s.contains("/nonexistent/ca.pem"),
        "{s}"
    );

    // Only one of certificate and key is refused before any connection.
    cfg.tls = Some(RedisTls {
        cert_file: Some("/tmp/x.pem".into()),
        ..RedisTls::default()
    });
    let e = RedisStore::connect(&cfg)
        .await
        .expect_err("half a client identity");
    assert!(e.to_string().contains("go together"), "{e}");
}

/// Issue 12 §15: one corrupt record never fails a whole scan; it is skipped and reported.
#[tokio::test]
async fn a_corrupt_record_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(EmbeddedStore::open(dir.path().join("s.redb")).unwrap());
    let ns = Namespace::new("t", "o");
    let json = JsonView::new(store.clone(), ns.clone());
    json.put("rec:1", &1u32).await.unwrap();
    store.put(&ns.key("rec:2"), b"{not json").await.unwrap();
    json.put("rec:3", &3u32).await.unwrap();
    let before = engage_store::corrupt_records_skipped();
    let (good, bad) = json.scan_checked::<u32>("rec:").await.unwrap();
    assert_eq!(
        good,
        vec![("1".to_string(), 1), ("3".to_string(), 3)],
        "the rest is read"
    );
    assert_eq!(bad, vec![ns.key("rec:2")]);
    assert_eq!(json.scan::<u32>("rec:").await.unwrap().len(), 2);
    assert!(engage_store::corrupt_records_skipped() >= before + 2);
}
