//! Deterministic ids and event fingerprints.
//!
//! `conversationId = v5(NAMESPACE, "conversation:" + first CallUUID)`; every other id is
//! `v5(conversationId, tag + position)` where the position counts communications, events or
//! transfer commands within the conversation. Two instances fed the same events derive the same ids.
//!
//! Every id is **shaped as a version-4 UUID** (version nibble 4, RFC 4122 variant): Genesys
//! Cloud's event models describe `eventId`, `conversationId` and `communicationId` as "V4 UUID"
//! (platform SDK docs, e.g. `CommunicationEndedEvent.md`), and a server may check the version.
//! The 122 other bits are the UUIDv5 name hash (SHA-1 of namespace and name), so the ids stay
//! deterministic; a v4 UUID's bits are arbitrary by definition, so this is a valid v4 UUID.
//! `v5(…)` below means "the v5 hash, with the v4 version bits".
//!
//! The v5 ids are computed here rather than by `Uuid::new_v5`: the same SHA-1 (RFC 4122 name
//! hashing: namespace bytes, then the name), but the message block is built on the stack and
//! compressed by the `sha1` crate's block function, which uses the CPU's SHA instructions where
//! they exist (most of the model's time went into hashing ids). The tests compare every shape of
//! input with `Uuid::new_v5`.

use std::hash::{Hash, Hasher};

use uuid::Uuid;

/// The namespace of all engage-connector call-model ids.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x5c1e_7a0e_3b9d_4f6a_8e21_c0a1_1d5e_e7c4);

/// The conversation id of an Engage interaction, from its first leg's `CallUUID`.
pub fn conversation_id(root_call_uuid: &str) -> Uuid {
    v5(&NAMESPACE, &[b"conversation:", root_call_uuid.as_bytes()])
}

/// SHA-1's initial state (FIPS 180-4, 5.3.1).
const SHA1_H0: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// `UUIDv5(namespace, concatenation of parts)` with the v4 version bits: `Uuid::new_v5`'s bits
/// but for the version nibble.
fn v5(namespace: &Uuid, parts: &[&[u8]]) -> Uuid {
    let mut state = SHA1_H0;
    let mut block = [0u8; 64];
    let mut fill = 16;
    block[..16].copy_from_slice(namespace.as_bytes());
    let mut total: u64 = 16;
    for part in parts {
        let mut rest = *part;
        total += rest.len() as u64;
        while !rest.is_empty() {
            let n = rest.len().min(64 - fill);
            block[fill..fill + n].copy_from_slice(&rest[..n]);
            fill += n;
            rest = &rest[n..];
            if fill == 64 {
                sha1::block_api::compress(&mut state, std::slice::from_ref(&block));
                fill = 0;
            }
        }
    }
    // Padding: 0x80, zeros, then the message length in bits (big-endian) in the last 8 bytes.
    block[fill] = 0x80;
    block[fill + 1..].fill(0);
    if fill + 1 > 56 {
        sha1::block_api::compress(&mut state, std::slice::from_ref(&block));
        block = [0u8; 64];
    }
    block[56..].copy_from_slice(&total.wrapping_mul(8).to_be_bytes());
    sha1::block_api::compress(&mut state, std::slice::from_ref(&block));
    let mut bytes = [0u8; 16];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
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
    match kind {
        IdKind::Communication => child_v5(conversation, b"communication:", position),
        IdKind::Event => child_v5(conversation, b"event:", position),
        IdKind::Command => child_v5(conversation, b"command:", position),
    }
}

/// `v5(ns, tag || position)` for a name that fits one SHA-1 block (tag of at most 35 bytes):
/// the block is laid out with constant offsets, no streaming.
#[inline]
fn child_v5<const N: usize>(ns: &Uuid, tag: &[u8; N], position: u32) -> Uuid {
    const { assert!(16 + N + 4 < 56) };
    let mut block = [0u8; 64];
    block[..16].copy_from_slice(ns.as_bytes());
    block[16..16 + N].copy_from_slice(tag);
    block[16 + N..16 + N + 4].copy_from_slice(&position.to_be_bytes());
    block[16 + N + 4] = 0x80;
    block[56..].copy_from_slice(&(((16 + N + 4) as u64) * 8).to_be_bytes());
    let mut state = SHA1_H0;
    sha1::block_api::compress(&mut state, std::slice::from_ref(&block));
    let mut bytes = [0u8; 16];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
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
            // The remainder zero-padded to a little-endian word, loaded without a memcpy call.
            let mut w = 0u64;
            let mut shift = 0;
            let mut r = rest;
            if let Some((four, tail)) = r.split_first_chunk::<4>() {
                w = u64::from(u32::from_le_bytes(*four));
                shift = 32;
                r = tail;
            }
            if let Some((two, tail)) = r.split_first_chunk::<2>() {
                w |= u64::from(u16::from_le_bytes(*two)) << shift;
                shift += 16;
                r = tail;
            }
            if let [b] = r {
                w |= u64::from(*b) << shift;
            }
            self.add(w ^ ((rest.len() as u64) << 59));
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

    /// `Uuid::new_v5`'s value with the version nibble of a v4 UUID.
    fn as_v4(u: Uuid) -> Uuid {
        uuid::Builder::from_random_bytes(*u.as_bytes()).into_uuid()
    }

    #[test]
    fn ids_are_v4_shaped_and_stable() {
        let c = conversation_id("QK59HK4FS927D7FUU41G6IE468000004");
        assert_eq!(c.get_version_num(), 4);
        assert_eq!(c.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(c, conversation_id("QK59HK4FS927D7FUU41G6IE468000004"));
        assert_ne!(c, conversation_id("QK59HK4FS927D7FUU41G6IE468000005"));
        let e0 = child_id(&c, IdKind::Event, 0);
        assert_eq!(e0.get_version_num(), 4);
        assert_ne!(e0, child_id(&c, IdKind::Event, 1));
        assert_ne!(e0, child_id(&c, IdKind::Communication, 0));
        assert_eq!(e0, as_v4(Uuid::new_v5(&c, b"event:\0\0\0\0")));
    }

    #[test]
    fn v5_matches_uuid_for_every_length_and_namespace() {
        // Every padding case: names that end before, at and after the length field's slot, and
        // names spanning several blocks.
        let mut name = Vec::new();
        let mut ns = NAMESPACE;
        for len in 0..300usize {
            name.push((len.wrapping_mul(131) % 251) as u8);
            for split in [0, len / 3, len] {
                let (a, b) = name.split_at(split);
                assert_eq!(
                    v5(&ns, &[a, b]),
                    as_v4(Uuid::new_v5(&ns, &name)),
                    "len {len} split {split}"
                );
            }
            ns = Uuid::new_v5(&ns, &name);
        }
    }

    #[test]
    fn derived_ids_match_uuid_v5() {
        for root in [
            "",
            "QK59HK4FS927D7FUU41G6IE468000004",
            "x",
            &"long".repeat(40),
        ] {
            let c = conversation_id(root);
            let name = format!("conversation:{root}");
            assert_eq!(c, as_v4(Uuid::new_v5(&NAMESPACE, name.as_bytes())));
            for position in [0u32, 1, 2, 255, 256, 65_535, 65_536, 1 << 24, u32::MAX] {
                for (kind, tag) in [
                    (IdKind::Communication, &b"communication:"[..]),
                    (IdKind::Event, b"event:"),
                    (IdKind::Command, b"command:"),
                ] {
                    let mut name = tag.to_vec();
                    name.extend_from_slice(&position.to_be_bytes());
                    assert_eq!(child_id(&c, kind, position), as_v4(Uuid::new_v5(&c, &name)));
                }
            }
        }
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
        // Every remainder length gives the word the zero-padded little-endian load gives.
        let bytes: Vec<u8> = (1..=23u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..bytes.len() {
            let mut expected = Fnv::default();
            let mut chunks = bytes[..len].chunks(8);
            for c in &mut chunks {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                let word = u64::from_le_bytes(w);
                expected.add(if c.len() == 8 {
                    word
                } else {
                    word ^ ((c.len() as u64) << 59)
                });
            }
            let mut h = Fnv::default();
            h.write(&bytes[..len]);
            assert_eq!(h.finish(), expected.finish(), "len {len}");
        }
        assert_eq!(fingerprint("x"), fingerprint("x"));
        assert_ne!(fingerprint("x"), fingerprint("y"));
    }
}
