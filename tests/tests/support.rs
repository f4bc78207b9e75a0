//! Tests of the test support itself: isolation and cleanup on the real servers.

use engage_test_support::{TestDb, TestRedis};

#[tokio::test]
async fn each_test_db_is_private_and_dropped() {
    let a = TestDb::create().await;
    let b = TestDb::create().await;
    assert_ne!(a.name(), b.name());
    let ca = a.connect().await;
    ca.batch_execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let cb = b.connect().await;
    let err = cb.query("SELECT x FROM t", &[]).await;
    assert!(err.is_err(), "table of one test db must not be visible in another");
    let name = a.name().to_string();
    drop(ca);
    drop(a);
    let admin = b.connect().await;
    let rows = admin
        .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap();
    assert!(rows.is_empty(), "dropped TestDb must remove database {name}");
}

#[tokio::test]
async fn redis_prefix_is_cleaned_up() {
    let r = TestRedis::create().await;
    let client = r.client();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}k", r.prefix());
    let _: () = redis::cmd("SET").arg(&key).arg("v").query_async(&mut conn).await.unwrap();
    let v: String = redis::cmd("GET").arg(&key).query_async(&mut conn).await.unwrap();
    assert_eq!(v, "v");
    drop(r);
    let n: i64 = redis::cmd("EXISTS").arg(&key).query_async(&mut conn).await.unwrap();
    assert_eq!(n, 0, "TestRedis drop must delete its keys");
}
