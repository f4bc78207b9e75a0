//! Deterministic ids (UUID v5) and event fingerprints.
//!
//! `conversationId = v5(NAMESPACE, "conversation:" + first CallUUID)`; every other id is
//! `v5(conversationId, tag + position)` where the position counts communications, events or
//! transfer commands within the conversation. Two instances fed the same events derive the same ids.

use std::hash::{Hash, Hasher};

use uuid::Uuid;

/// The namespace of all engage-connector call-model ids.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_7a0e_3b9d_4f6a_8e21_c0a1_1d5e_e7c4);

/// The conversation id of an Engage interaction, from its first leg's `CallUUID`.
pub fn conversation_id(root_call_uuid: &str) -> Uuid {
    let mut name = Vec::with_capacity(13 + root_call_uuid.len());
    name.extend_from_slice(b"conversation:");
    name.extend_from_slice(root_call_uuid.as_bytes());
    Uuid::new_v5(&NAMESPACE, &name)
}

/// What a derived id counts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum IdKind {
    Communication,
    Event,
    Command,
}

/// `v5(conversation, kind || position)`.
pub(crate) fn child_id(conversation: &Uuid, kind: IdKind, position: u32) -> Uuid {
    let tag: &[u8] = match kind {
        IdKind::Communication => b"communication:",
        IdKind::Event => b"event:",
        IdKind::Command => b"command:",
    };
    let mut name = [0u8; 18];
    name[..tag.len()].copy_from_slice(tag);
    name[tag.len()..tag.len() + 4].copy_from_slice(&position.to_be_bytes());
    Uuid::new_v5(conversation, &name[..tag.len() + 4])
}

/// A fixed, word-at-a-time hasher (FxHash-style rotate-xor-multiply, finished with a
/// murmur3 mix): fingerprints are identical on every instance and run, and cheap.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Fnv(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl Fnv {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
}

/// A stable 64-bit fingerprint of any hashable value.
#[inline(never)]
pub(crate) fn fingerprint<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = Fnv::default();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Fnv {
        fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
            f(&mut self);
            self
        }
    }

    #[test]
    fn ids_are_v5_and_stable() {
        let c = conversation_id("QK59HK4FS927D7FUU41G6IE468000004");
        assert_eq!(c.get_version_num(), 5);
        assert_eq!(c, conversation_id("QK59HK4FS927D7FUU41G6IE468000004"));
        assert_ne!(c, conversation_id("QK59HK4FS927D7FUU41G6IE468000005"));
        let e0 = child_id(&c, IdKind::Event, 0);
        assert_eq!(e0.get_version_num(), 5);
        assert_ne!(e0, child_id(&c, IdKind::Event, 1));
        assert_ne!(e0, child_id(&c, IdKind::Communication, 0));
        assert_eq!(e0, Uuid::new_v5(&c, b"event:\0\0\0\0"));
    }

    #[test]
    fn fingerprint_is_fixed() {
        // Pinned: a changed hasher would make a restored state forget its fingerprints.
        let mut h = Fnv::default();
        h.write(b"a");
        assert_eq!(
            h.finish(),
            Fnv::default().tap(|f| f.add(0x61 ^ (1 << 59))).finish()
        );
        assert_eq!(fingerprint("x"), fingerprint("x"));
        assert_ne!(fingerprint("x"), fingerprint("y"));
    }
}
