//! EXRP end to end: N recordings of S bytes put into the real WebDAV server, their segments
//! posted to one EXRP instance, each fetched, encrypted (AES-256-GCM, RSA-OAEP-wrapped key),
//! zipped and uploaded to the GC emulator, then deleted from WebDAV. Prints recordings/s and
//! MB/s of audio, from the first post to the last upload.
//!
//! ```text
//! cargo bench -p engage-exrp --bench upload                  # 200 recordings of 1 MB
//! cargo bench -p engage-exrp --bench upload -- 50 4000000     # 50 recordings of 4 MB
//! ```
//! Needs the services `scripts/test.sh` starts (Redis, Apache mod_dav on 127.0.0.1:8090).

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::{Duration, Instant};

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let nums: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    // `cargo test --all-targets` runs this once without `--bench`: a small smoke pass.
    let count = nums.first().copied().unwrap_or(if full { 200 } else { 4 });
    let size = nums
        .get(1)
        .copied()
        .unwrap_or(if full { 1_000_000 } else { 50_000 });
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(1);
        }
    };
    rt.block_on(run(count, size));
}

async fn run(count: usize, size: usize) {
    let w = world().await;
    let files: Vec<String> = (0..count).map(|_| unique_file()).collect();
    for (i, f) in files.iter().enumerate() {
        w.put_recording(f, &recording(i as u32 + 1, size)).await;
    }
    let mut worker = w.worker("exrp-bench");
    worker.concurrency = 4;
    worker.poll = Duration::from_millis(20);
    let gc = gcex::GcClient::new(
        w.gc.client_config()
            .with_retry(gcex::RetryPolicy::fast())
            .with_rate_limit(gcex::RateLimit::disabled()),
    )
    .expect("GC client");
    let svc = engage_exrp::service::Service::start_with(
        worker,
        w.store.clone(),
        w.ns.clone(),
        gc,
        engage_exrp::webdav::WebDav::new(
            engage_exrp::config::WebDavSettings::new(
                w.dav.0.clone(),
                w.dav.1.clone(),
                w.dav.2.clone(),
            ),
            Duration::from_secs(60),
        )
        .expect("WebDAV"),
        "127.0.0.1",
        0,
    )
    .await
    .expect("EXRP starts");
    let started = Instant::now();
    for f in &files {
        let (code, body) = w.post(&svc, &segment(f)).await;
        assert_eq!(code, 202, "{body}");
    }
    w.wait_uploads(count, Duration::from_secs(600)).await;
    let secs = started.elapsed().as_secs_f64();
    let mb = (count * size) as f64 / 1e6;
    println!(
        "exrp upload: {count} recordings of {size} bytes in {secs:.2} s = {:.1} recordings/s, {:.1} MB/s of audio (fetch, encrypt, zip, upload, delete; concurrency 4)",
        count as f64 / secs,
        mb / secs
    );
    svc.shutdown().await;
    w.gc.shutdown().await;
}
