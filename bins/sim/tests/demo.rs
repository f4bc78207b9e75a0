//! The demo (`exec demo`) runs end to end; CI keeps it from rotting.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    engage_sim::demo::run_in(dir.path()).await.unwrap();
}
