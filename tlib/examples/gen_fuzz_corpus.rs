//! Writes the seed corpus of the `tlib_frame` and `tlib_kvlist` fuzz targets from
//! [`engage_tlib::fuzzing::seed_messages`]:
//! `cargo run -p engage-tlib --example gen_fuzz_corpus` (from the workspace root).
//!
//! Also writes a few deliberately malformed seeds (truncated, bad tag, nesting bomb) so the
//! fuzzer starts next to the error paths.

use std::path::Path;

use bytes::BytesMut;
use engage_tlib::fuzzing::seed_messages;
use engage_tlib::{Value, encode, wire};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let frames = root.join("tlib_frame");
    let kvlists = root.join("tlib_kvlist");
    std::fs::create_dir_all(&frames)?;
    std::fs::create_dir_all(&kvlists)?;
    for (name, msg) in seed_messages() {
        let mut buf = BytesMut::new();
        encode(&msg, &mut buf)?;
        std::fs::write(frames.join(format!("{name}.bin")), &buf)?;
        for (id, value) in msg.attributes() {
            if let Value::KvList(list) = value {
                let mut packed = BytesMut::new();
                wire::pack_kv_list(&list.to_kv_list(), &mut packed)?;
                std::fs::write(kvlists.join(format!("{name}_{}.bin", id.name())), &packed)?;
            }
        }
        if name == "event_ringing" {
            std::fs::write(frames.join("bad_truncated.bin"), &buf[..buf.len() - 3])?;
            let mut bad = buf.to_vec();
            bad[10] = 0xee; // the first attribute's type tag
            std::fs::write(frames.join("bad_tag.bin"), &bad)?;
        }
    }
    // a nesting bomb: 40 levels of {"n": {...}}
    let mut bomb = vec![0u8, 0];
    for _ in 0..40 {
        let mut outer = vec![0, 1, 0, 1, b'n', wire::kv_tag::LIST];
        outer.extend_from_slice(&(bomb.len() as u32).to_be_bytes());
        outer.extend_from_slice(&bomb);
        bomb = outer;
    }
    std::fs::write(kvlists.join("bad_nesting_bomb.bin"), &bomb)?;
    std::fs::write(kvlists.join("bad_count.bin"), [0xff, 0xff, 0, 1, b'k'])?;
    println!("wrote seeds to {}", root.display());
    Ok(())
}
