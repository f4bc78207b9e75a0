//! Reader throughput against the real PostgreSQL server: seeding, a full snapshot read, and
//! the change fingerprint + diff, for 1,000 and 10,000 agents.

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use engage_cfgdb::changes::{diff, fingerprints};
use engage_cfgdb::seed::{self, SeedSpec};
use engage_cfgdb::{PgConfigDb, SchemaMap, read_snapshot};
use engage_test_support::TestDb;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let map = SchemaMap::default();
    // `cargo test --all-targets` runs benches once without `--bench`: keep that pass small.
    let sizes: &[usize] = if std::env::args().any(|a| a == "--bench") {
        &[1_000, 10_000]
    } else {
        &[200]
    };
    for &agents in sizes {
        let (db, reader) = rt.block_on(async {
            let db = TestDb::create().await;
            let client = db.connect().await;
            seed::install_schema_postgres(&client)
                .await
                .expect("schema");
            let t = Instant::now();
            seed::seed_postgres(&client, &map, &SeedSpec::agents(agents))
                .await
                .expect("seed");
            println!("seed {agents} agents: {:?}", t.elapsed());
            let reader = PgConfigDb::from_conn_str(db.config()).expect("pool");
            (db, reader)
        });
        let snap = rt.block_on(read_snapshot(&reader, &map)).expect("snapshot");
        assert_eq!(snap.agent_logins.len(), agents);
        c.bench_function(&format!("pg read_snapshot {agents} agents"), |b| {
            b.iter(|| rt.block_on(read_snapshot(&reader, &map)).expect("snapshot"))
        });
        let base = fingerprints(&snap);
        c.bench_function(&format!("fingerprint+diff {agents} agents"), |b| {
            b.iter(|| diff(&base, &fingerprints(&snap)))
        });
        drop(reader);
        drop(db);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = bench
}
criterion_main!(benches);
