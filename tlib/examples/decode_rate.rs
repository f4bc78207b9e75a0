//! Measures decode throughput of the ~300-byte sample in CPU time (robust on a busy machine):
//! `cargo run --release -p engage-tlib --example decode_rate`.

use bytes::BytesMut;
use engage_tlib::{WireConfig, decode_bytes, encode, fuzzing::sample_call_party_added};
use std::hint::black_box;

/// Process CPU time (user + system) in seconds, from /proc/self/stat (Linux only).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() {
    let mut buf = BytesMut::new();
    encode(&sample_call_party_added(), &mut buf).expect("sample encodes");
    let frame = buf.freeze();
    let config = WireConfig::default();
    let n = 10_000_000u32;
    let wall = std::time::Instant::now();
    let cpu0 = cpu_seconds().unwrap_or(0.0);
    for _ in 0..n {
        black_box(decode_bytes(black_box(frame.clone()), &config).expect("valid"));
    }
    let cpu = cpu_seconds().unwrap_or(0.0) - cpu0;
    let wall = wall.elapsed().as_secs_f64();
    println!(
        "{} bytes/frame, {n} decodes: {:.2} M/s by CPU time ({cpu:.2} s), {:.2} M/s by wall time",
        frame.len(),
        f64::from(n) / cpu / 1e6,
        f64::from(n) / wall / 1e6
    );
}
