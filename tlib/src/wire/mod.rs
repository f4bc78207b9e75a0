//! The T-Library byte layout: framing, attribute encoding and the KV-list pack.
//!
//! **This module is the only place that knows the bytes on the wire.** The public material
//! fixes the numbers (message types, attributes, enumerations), the 4-byte packet header, the
//! 16 KiB classic packet limit, the existence of extended packets and the 16-bit big-endian
//! pair count at the start of a packed KV list; everything else here is our documented design
//! (see `tlib/WIRE.md`). A capture-verified layout can replace this module without touching
//! callers, who only see [`crate::Message`], [`decode`]/[`encode`] and [`crate::TlibCodec`].
//!
//! Layout summary (all integers big-endian):
//!
//! ```text
//! packet    = header:u32 data
//! header    = EXTENDED_FLAG (bit 31, set iff data > 16380 bytes) | data length (bits 0..31)
//! data      = message-type:u32 attribute*
//! attribute = id:u16 tag:u8 length:u32 payload[length]
//! kv-list   = count:u16 pair{count}
//! pair      = key-length:u16 key[key-length] kv-tag:u8 kv-value
//! ```
//!
//! Every valid frame has exactly one encoding, so decode-then-encode reproduces it byte for
//! byte; the decoder rejects the non-canonical forms.

mod error;

use bytes::{BufMut, Bytes, BytesMut};

pub use error::{DecodeError, DecodeReason, EncodeError};

use crate::attribute::{AttrKind, AttributeId};
use crate::kvlist::{KvEntry, KvList, KvListRef, KvSlot, ListRange, Span};
use crate::message::{AttrEntry, Message, Slot};
use crate::message_type::MessageType;
use crate::values::{CallUuid, ConnId, INPUT_MASK_LEN};

/// Bytes in the packet header (public fact).
pub const HEADER_LEN: usize = 4;
/// The classic maximum packet length, header included (public fact: 16 KiB).
pub const CLASSIC_MAX_PACKET: usize = 16 * 1024;
/// The most data a classic packet carries.
pub const CLASSIC_MAX_DATA: usize = CLASSIC_MAX_PACKET - HEADER_LEN;
/// Header bit marking an extended packet (our design).
pub const EXTENDED_FLAG: u32 = 0x8000_0000;
/// The most data the 31-bit extended length can express.
pub const EXTENDED_MAX_DATA: usize = 0x7fff_ffff;
/// The default data limit for extended packets (4 MiB).
pub const DEFAULT_MAX_DATA: usize = 4 * 1024 * 1024;
/// The deepest KV-list nesting accepted (a top-level list is depth 1).
pub const MAX_KV_DEPTH: usize = 16;

/// Attribute type tags (our design).
pub mod tag {
    /// 32-bit integer, payload 4 bytes.
    pub const INT: u8 = 1;
    /// UTF-8 string.
    pub const STR: u8 = 2;
    /// Opaque bytes.
    pub const BINARY: u8 = 3;
    /// Packed KV list.
    pub const KV_LIST: u8 = 4;
    /// 64-bit connection id, payload 8 bytes.
    pub const CONN_ID: u8 = 5;
    /// 64-bit integer, payload 8 bytes.
    pub const LONG: u8 = 6;
}

/// KV value type tags (our design).
pub mod kv_tag {
    /// `u32` length, UTF-8 bytes.
    pub const STRING: u8 = 0;
    /// 4-byte integer.
    pub const INT: u8 = 1;
    /// `u32` length, bytes.
    pub const BINARY: u8 = 2;
    /// `u32` length, nested packed list.
    pub const LIST: u8 = 3;
    /// `u32` length, UTF-16BE code units.
    pub const UNICODE: u8 = 4;
    /// 8-byte integer.
    pub const LONG: u8 = 5;
    /// 8-byte IEEE 754 double.
    pub const FLOAT: u8 = 6;
}

/// The smallest encoded attribute (id, tag, length, empty payload).
const MIN_ATTR_LEN: usize = 7;
/// The smallest encoded KV pair (empty key, tag, 4-byte value or length).
const MIN_PAIR_LEN: usize = 7;

/// Framing limits for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WireConfig {
    /// Whether extended packets (data above [`CLASSIC_MAX_DATA`]) are sent and accepted.
    pub extended: bool,
    /// The largest data length accepted or produced (capped by the mode's own limit).
    pub max_data: usize,
}

impl WireConfig {
    /// Classic packets only: at most 16 KiB per packet.
    pub const fn classic() -> Self {
        WireConfig {
            extended: false,
            max_data: CLASSIC_MAX_DATA,
        }
    }

    /// Extended packets allowed, up to `max_data` bytes of data.
    pub const fn extended(max_data: usize) -> Self {
        WireConfig {
            extended: true,
            max_data,
        }
    }

    /// The effective data limit.
    pub fn limit(&self) -> usize {
        let mode = if self.extended {
            EXTENDED_MAX_DATA
        } else {
            CLASSIC_MAX_DATA
        };
        self.max_data.min(mode)
    }
}

impl Default for WireConfig {
    /// Extended packets (the default of newer T-Servers) up to [`DEFAULT_MAX_DATA`].
    fn default() -> Self {
        WireConfig::extended(DEFAULT_MAX_DATA)
    }
}

#[cold]
#[inline(never)]
fn err<T>(offset: usize, reason: DecodeReason) -> Result<T, DecodeError> {
    Err(DecodeError::new(offset, reason))
}

#[cold]
#[inline(never)]
fn truncated(offset: usize, what: &'static str, needed: usize, available: usize) -> DecodeError {
    DecodeError::new(
        offset,
        DecodeReason::Truncated {
            what,
            needed,
            available,
        },
    )
}

/// Reads the packet header at the start of `buf`: `Ok(None)` until 4 bytes are there, then the
/// total frame length (header included), or an error if the header breaks the limits.
pub fn frame_len(buf: &[u8], config: &WireConfig) -> Result<Option<usize>, DecodeError> {
    let Some(head) = buf.first_chunk::<HEADER_LEN>() else {
        return Ok(None);
    };
    let raw = u32::from_be_bytes(*head);
    let length = (raw & !EXTENDED_FLAG) as usize;
    if raw & EXTENDED_FLAG != 0 {
        if !config.extended {
            return err(0, DecodeReason::ExtendedNotEnabled { length });
        }
        if length <= CLASSIC_MAX_DATA {
            return err(0, DecodeReason::NonCanonicalHeader { length });
        }
    } else if length > CLASSIC_MAX_DATA {
        return err(
            0,
            DecodeReason::FrameTooLarge {
                length,
                limit: CLASSIC_MAX_DATA,
            },
        );
    }
    let limit = config.limit();
    if length > limit {
        return err(0, DecodeReason::FrameTooLarge { length, limit });
    }
    Ok(Some(HEADER_LEN + length))
}

/// Decodes one complete frame (header included) with the default [`WireConfig`], copying it
/// once into a shared buffer. Prefer [`decode_bytes`] when you already hold [`Bytes`].
pub fn decode(frame: &[u8]) -> Result<Message, DecodeError> {
    decode_bytes(Bytes::copy_from_slice(frame), &WireConfig::default())
}

/// Decodes one complete frame (header included) without copying: the message's strings,
/// bytes and KV lists point into `frame`.
pub fn decode_bytes(frame: Bytes, config: &WireConfig) -> Result<Message, DecodeError> {
    let Some(total) = frame_len(&frame, config)? else {
        return err(
            0,
            DecodeReason::Truncated {
                what: "packet header",
                needed: HEADER_LEN,
                available: frame.len(),
            },
        );
    };
    if frame.len() < total {
        return err(
            HEADER_LEN,
            DecodeReason::Truncated {
                what: "packet data",
                needed: total - HEADER_LEN,
                available: frame.len() - HEADER_LEN,
            },
        );
    }
    if frame.len() > total {
        return err(
            total,
            DecodeReason::TrailingBytes {
                what: "packet",
                extra: frame.len() - total,
            },
        );
    }
    decode_data(frame)
}

/// A bounds-checked big-endian reader over `buf[pos..end]` with absolute offsets.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl Reader<'_> {
    #[inline]
    fn take(&mut self, n: usize, what: &'static str) -> Result<usize, DecodeError> {
        let available = self.end.saturating_sub(self.pos);
        if n > available {
            return Err(truncated(self.pos, what, n, available));
        }
        let start = self.pos;
        self.pos += n;
        Ok(start)
    }

    #[inline]
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let start = self.take(N, what)?;
        match self
            .buf
            .get(start..start + N)
            .and_then(|s| s.first_chunk::<N>())
        {
            Some(a) => Ok(*a),
            None => err(
                start,
                DecodeReason::Truncated {
                    what,
                    needed: N,
                    available: 0,
                },
            ),
        }
    }

    #[inline]
    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    #[inline]
    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    #[inline]
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    /// A `u32` length followed by that many bytes; returns their span.
    #[inline]
    fn sized(&mut self, what: &'static str) -> Result<Span, DecodeError> {
        let len = self.u32(what)? as usize;
        let start = self.take(len, what)?;
        Ok(span(start, len))
    }
}

/// Frames are at most 2^31 bytes, so offsets fit `u32`.
#[inline]
fn span(start: usize, len: usize) -> Span {
    Span {
        start: start as u32,
        len: len as u32,
    }
}

/// Checks that a string span is UTF-8; a span that is not is recorded in `lossy` to be
/// transcoded as Windows-1252 (see [`transcode_lossy`]) instead of failing the frame: a SIP
/// Server passes user data in the site's code page, and one such value must not drop a link.
#[inline]
fn check_utf8(buf: &[u8], s: Span, lossy: &mut Vec<Span>) {
    let bytes = s.get(buf);
    // Most T-Library strings are short ASCII: skip the general validator's call overhead.
    if bytes.is_ascii() || std::str::from_utf8(bytes).is_ok() {
        return;
    }
    lossy.push(s);
}

/// The WHATWG `windows-1252` decoding of one byte (also what the `latin1` label means on the
/// web): ASCII and 0xA0–0xFF as Latin-1, 0x80–0x9F as Windows-1252's printable characters,
/// its five unassigned bytes as the C1 controls of the same value. Lossless and reversible.
fn cp1252(b: u8) -> char {
    const HIGH: [u16; 32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ];
    match b {
        0x80..=0x9F => char::from_u32(u32::from(HIGH[usize::from(b - 0x80)]))
            .unwrap_or(char::REPLACEMENT_CHARACTER),
        _ => char::from(b),
    }
}

/// Copies `buf` into a new arena with every span of `lossy` transcoded ([`cp1252`]) and
/// appended, and points the string slots of `attrs` and `kv` at the transcoded copies.
fn transcode_lossy(
    buf: &[u8],
    lossy: &[Span],
    attrs: &mut [AttrEntry],
    kv: &mut [KvEntry],
) -> Result<Vec<u8>, DecodeError> {
    let mut arena =
        Vec::with_capacity(buf.len() + lossy.iter().map(|s| s.len as usize * 2).sum::<usize>());
    arena.extend_from_slice(buf);
    let mut moved: std::collections::HashMap<u32, Span> = std::collections::HashMap::new();
    for s in lossy {
        let start = arena.len();
        let mut tmp = [0u8; 4];
        for &b in s.get(buf) {
            arena.extend_from_slice(cp1252(b).encode_utf8(&mut tmp).as_bytes());
        }
        let len = arena.len() - start;
        if u32::try_from(arena.len()).is_err() {
            return err(
                s.start as usize,
                DecodeReason::InvalidUtf8 {
                    what: "transcoded string",
                },
            );
        }
        moved.insert(s.start, span(start, len));
    }
    let fix = |s: &mut Span| {
        if let Some(n) = moved.get(&s.start).filter(|_| s.len > 0) {
            *s = *n;
        }
    };
    for a in attrs.iter_mut() {
        if let Slot::Str(s) = &mut a.slot {
            fix(s);
        }
    }
    for e in kv.iter_mut() {
        fix(&mut e.key);
        if let KvSlot::String(s) = &mut e.value {
            fix(s);
        }
    }
    Ok(arena)
}

#[inline]
fn fixed<const N: usize>(buf: &[u8], s: Span, what: &'static str) -> Result<[u8; N], DecodeError> {
    match s.get(buf).first_chunk::<N>() {
        Some(a) if s.len as usize == N => Ok(*a),
        _ => err(
            s.start as usize,
            DecodeReason::BadFixedLength {
                what,
                length: s.len as usize,
                expected: N,
            },
        ),
    }
}

/// The wire tag of a known attribute kind.
const fn kind_tag(kind: AttrKind) -> u8 {
    match kind {
        AttrKind::Int => tag::INT,
        AttrKind::Long => tag::LONG,
        AttrKind::ConnId => tag::CONN_ID,
        AttrKind::Str | AttrKind::CallUuid => tag::STR,
        AttrKind::Binary | AttrKind::InputMask => tag::BINARY,
        AttrKind::KvList => tag::KV_LIST,
    }
}

/// Decodes the data part of a frame whose header has been checked (`frame[4..]` is the data).
fn decode_data(frame: Bytes) -> Result<Message, DecodeError> {
    let buf: &[u8] = &frame;
    let mut r = Reader {
        buf,
        pos: HEADER_LEN,
        end: buf.len(),
    };
    let msg_type = MessageType::from_u32(r.u32("message type")?);
    // Bounded by the frame: every attribute takes at least MIN_ATTR_LEN bytes.
    let mut attrs = Vec::with_capacity(((r.end - r.pos) / MIN_ATTR_LEN).min(32));
    let mut kv: Vec<KvEntry> = Vec::new();
    let mut kv_depth = 0;
    let mut lossy: Vec<Span> = Vec::new();
    while r.pos < r.end {
        let at = r.pos;
        // One bounds check for the 7-byte attribute header, one for the value.
        let Some(h) = buf.get(at..at + 7).and_then(|h| h.first_chunk::<7>()) else {
            return Err(truncated(at, "attribute header", 7, r.end - at));
        };
        let id = AttributeId::from_u16(u16::from_be_bytes([h[0], h[1]]));
        let tag = h[2];
        let len = u32::from_be_bytes([h[3], h[4], h[5], h[6]]) as usize;
        let vstart = at + 7;
        if len > r.end - vstart {
            return Err(truncated(vstart, "attribute value", len, r.end - vstart));
        }
        r.pos = vstart + len;
        let s = span(vstart, len);
        let slot = match id.kind() {
            None => Slot::Raw { tag, span: s },
            Some(kind) => {
                let expected = kind_tag(kind);
                if tag != expected {
                    return err(
                        at + 2,
                        DecodeReason::BadAttributeTag {
                            attribute: id,
                            tag,
                            expected,
                        },
                    );
                }
                match kind {
                    AttrKind::Int => Slot::Int(i32::from_be_bytes(fixed(buf, s, "integer")?)),
                    AttrKind::Long => Slot::Long(i64::from_be_bytes(fixed(buf, s, "long")?)),
                    AttrKind::ConnId => {
                        Slot::ConnId(ConnId(u64::from_be_bytes(fixed(buf, s, "ConnID")?)))
                    }
                    AttrKind::Str => {
                        check_utf8(buf, s, &mut lossy);
                        Slot::Str(s)
                    }
                    AttrKind::CallUuid => {
                        if CallUuid::from_ascii(s.get(buf)).is_err() {
                            return err(
                                s.start as usize,
                                DecodeReason::InvalidCallUuid { attribute: id },
                            );
                        }
                        Slot::Str(s)
                    }
                    AttrKind::Binary => Slot::Binary(s),
                    AttrKind::InputMask => {
                        fixed::<INPUT_MASK_LEN>(buf, s, "input mask")?;
                        Slot::Binary(s)
                    }
                    AttrKind::KvList => {
                        let start = s.start as usize;
                        let end = start + s.len as usize;
                        let mut depth = 0;
                        let range =
                            decode_list(buf, start, end, 1, &mut kv, &mut depth, &mut lossy)?;
                        kv_depth = kv_depth.max(depth);
                        Slot::KvList(range)
                    }
                }
            }
        };
        attrs.push(AttrEntry { id, slot });
    }
    let transcoded = lossy.len();
    let arena = if lossy.is_empty() {
        frame
    } else {
        Bytes::from(transcode_lossy(buf, &lossy, &mut attrs, &mut kv)?)
    };
    Ok(Message {
        msg_type,
        arena,
        attrs,
        kv,
        kv_depth,
        oversize: false,
        transcoded,
    })
}

/// Decodes the packed list filling exactly `buf[start..end]`, appending its entries (and,
/// after them, those of nested lists) to `kv`.
fn decode_list(
    buf: &[u8],
    start: usize,
    end: usize,
    depth: usize,
    kv: &mut Vec<KvEntry>,
    max_depth: &mut usize,
    lossy: &mut Vec<Span>,
) -> Result<ListRange, DecodeError> {
    if depth > MAX_KV_DEPTH {
        return err(
            start,
            DecodeReason::NestingTooDeep {
                limit: MAX_KV_DEPTH,
            },
        );
    }
    *max_depth = (*max_depth).max(depth);
    let mut r = Reader {
        buf,
        pos: start,
        end,
    };
    let count = r.u16("KV pair count")? as usize;
    let remaining = end - r.pos;
    if count > remaining / MIN_PAIR_LEN {
        return err(start, DecodeReason::CountExceedsData { count, remaining });
    }
    let first = kv.len();
    kv.resize(first + count, KvEntry::PLACEHOLDER);
    for i in 0..count {
        let key_len = r.u16("KV key length")? as usize;
        let key = span(r.take(key_len, "KV key")?, key_len);
        check_utf8(buf, key, lossy);
        let tag_at = r.pos;
        let value = match r.u8("KV value tag")? {
            kv_tag::STRING => {
                let s = r.sized("KV string")?;
                check_utf8(buf, s, lossy);
                KvSlot::String(s)
            }
            kv_tag::INT => KvSlot::Int(i32::from_be_bytes(r.array("KV integer")?)),
            kv_tag::BINARY => KvSlot::Binary(r.sized("KV binary")?),
            kv_tag::LIST => {
                let s = r.sized("nested KV list")?;
                let s_start = s.start as usize;
                KvSlot::List(decode_list(
                    buf,
                    s_start,
                    s_start + s.len as usize,
                    depth + 1,
                    kv,
                    max_depth,
                    lossy,
                )?)
            }
            kv_tag::UNICODE => {
                let s = r.sized("KV unicode")?;
                let bytes = s.get(buf);
                let valid = bytes.len() % 2 == 0
                    && char::decode_utf16(
                        bytes
                            .chunks_exact(2)
                            .map(|c| u16::from_be_bytes([c[0], c[1]])),
                    )
                    .all(|c| c.is_ok());
                if !valid {
                    return err(s.start as usize, DecodeReason::InvalidUtf16);
                }
                KvSlot::Unicode(s)
            }
            kv_tag::LONG => KvSlot::Long(i64::from_be_bytes(r.array("KV long")?)),
            kv_tag::FLOAT => KvSlot::Float(u64::from_be_bytes(r.array("KV float")?)),
            other => return err(tag_at, DecodeReason::BadKvTag { tag: other }),
        };
        if let Some(e) = kv.get_mut(first + i) {
            *e = KvEntry { key, value };
        }
    }
    if r.pos != end {
        return err(
            r.pos,
            DecodeReason::TrailingBytes {
                what: "KV list",
                extra: end - r.pos,
            },
        );
    }
    Ok(ListRange {
        start: first as u32,
        len: count as u32,
    })
}

/// Encodes a message as one frame with the default [`WireConfig`], appending to `dst`.
pub fn encode(msg: &Message, dst: &mut BytesMut) -> Result<(), EncodeError> {
    encode_with(msg, &WireConfig::default(), dst)
}

/// Encodes a message as one frame, appending to `dst`. On error `dst` is left as it was.
pub fn encode_with(
    msg: &Message,
    config: &WireConfig,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    if msg.oversize {
        return Err(EncodeError::ValueTooLarge);
    }
    if msg.kv_depth > MAX_KV_DEPTH {
        return Err(EncodeError::NestingTooDeep {
            depth: msg.kv_depth,
            limit: MAX_KV_DEPTH,
        });
    }
    let base = dst.len();
    dst.reserve(
        HEADER_LEN + 4 + msg.arena.len() + msg.attrs.len() * MIN_ATTR_LEN + msg.kv.len() * 7,
    );
    dst.put_u32(0);
    dst.put_u32(msg.msg_type.as_u32());
    let arena = &msg.arena[..];
    let mut result = Ok(());
    for attr in &msg.attrs {
        result = encode_attr(arena, &msg.kv, attr, dst);
        if result.is_err() {
            break;
        }
    }
    let length = dst.len() - base - HEADER_LEN;
    let limit = config.limit();
    if result.is_ok() && length > limit {
        result = Err(EncodeError::TooLarge { length, limit });
    }
    if let Err(e) = result {
        dst.truncate(base);
        return Err(e);
    }
    // length <= limit <= 2^31 - 1
    let mut header = length as u32;
    if length > CLASSIC_MAX_DATA {
        header |= EXTENDED_FLAG;
    }
    dst[base..base + HEADER_LEN].copy_from_slice(&header.to_be_bytes());
    Ok(())
}

#[inline]
fn put_sized(dst: &mut BytesMut, bytes: &[u8]) {
    // Spans are at most u32::MAX bytes.
    dst.put_u32(bytes.len() as u32);
    dst.put_slice(bytes);
}

/// Writes a `u32` length placeholder, runs `body`, then patches the length.
#[inline]
fn with_length(
    dst: &mut BytesMut,
    body: impl FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
) -> Result<(), EncodeError> {
    let at = dst.len();
    dst.put_u32(0);
    body(dst)?;
    let len = u32::try_from(dst.len() - at - 4).map_err(|_| EncodeError::ValueTooLarge)?;
    dst[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn encode_attr(
    arena: &[u8],
    kv: &[KvEntry],
    attr: &AttrEntry,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    dst.put_u16(attr.id.as_u16());
    match attr.slot {
        Slot::Int(v) => {
            dst.put_u8(tag::INT);
            dst.put_u32(4);
            dst.put_i32(v);
        }
        Slot::Long(v) => {
            dst.put_u8(tag::LONG);
            dst.put_u32(8);
            dst.put_i64(v);
        }
        Slot::ConnId(v) => {
            dst.put_u8(tag::CONN_ID);
            dst.put_u32(8);
            dst.put_u64(v.0);
        }
        Slot::Str(s) => {
            dst.put_u8(tag::STR);
            put_sized(dst, s.get(arena));
        }
        Slot::Binary(s) => {
            dst.put_u8(tag::BINARY);
            put_sized(dst, s.get(arena));
        }
        Slot::Raw { tag, span } => {
            dst.put_u8(tag);
            put_sized(dst, span.get(arena));
        }
        Slot::KvList(range) => {
            dst.put_u8(tag::KV_LIST);
            with_length(dst, |dst| encode_list(arena, kv, range, dst))?;
        }
    }
    Ok(())
}

fn encode_list(
    arena: &[u8],
    kv: &[KvEntry],
    range: ListRange,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    let count = range.len as usize;
    let count16 = u16::try_from(count).map_err(|_| EncodeError::TooManyPairs { count })?;
    dst.put_u16(count16);
    let start = range.start as usize;
    for e in kv.get(start..start + count).unwrap_or_default() {
        let key = e.key.get(arena);
        let key_len =
            u16::try_from(key.len()).map_err(|_| EncodeError::KeyTooLong { length: key.len() })?;
        dst.put_u16(key_len);
        dst.put_slice(key);
        match e.value {
            KvSlot::String(s) => {
                dst.put_u8(kv_tag::STRING);
                put_sized(dst, s.get(arena));
            }
            KvSlot::Int(v) => {
                dst.put_u8(kv_tag::INT);
                dst.put_i32(v);
            }
            KvSlot::Binary(s) => {
                dst.put_u8(kv_tag::BINARY);
                put_sized(dst, s.get(arena));
            }
            KvSlot::List(nested) => {
                dst.put_u8(kv_tag::LIST);
                with_length(dst, |dst| encode_list(arena, kv, nested, dst))?;
            }
            KvSlot::Unicode(s) => {
                dst.put_u8(kv_tag::UNICODE);
                put_sized(dst, s.get(arena));
            }
            KvSlot::Long(v) => {
                dst.put_u8(kv_tag::LONG);
                dst.put_i64(v);
            }
            KvSlot::Float(bits) => {
                dst.put_u8(kv_tag::FLOAT);
                dst.put_u64(bits);
            }
        }
    }
    Ok(())
}

/// Packs a KV list on its own (the form carried inside a `UserData` attribute), appending to
/// `dst`. On error `dst` is left as it was.
pub fn pack_kv_list(list: &KvList, dst: &mut BytesMut) -> Result<(), EncodeError> {
    let msg = Message::builder(MessageType::Unknown(u32::MAX))
        .user_data(list)
        .build();
    if msg.oversize {
        return Err(EncodeError::ValueTooLarge);
    }
    if msg.kv_depth > MAX_KV_DEPTH {
        return Err(EncodeError::NestingTooDeep {
            depth: msg.kv_depth,
            limit: MAX_KV_DEPTH,
        });
    }
    let Some(Slot::KvList(range)) = msg.attrs.first().map(|a| a.slot) else {
        return Ok(());
    };
    let base = dst.len();
    let result = encode_list(&msg.arena, &msg.kv, range, dst);
    if result.is_err() {
        dst.truncate(base);
    }
    result
}

/// Unpacks a KV list that fills `packed` exactly. Offsets in errors count from the start of
/// `packed`.
pub fn unpack_kv_list(packed: &[u8]) -> Result<KvList, DecodeError> {
    let mut kv = Vec::new();
    let mut depth = 0;
    let mut lossy = Vec::new();
    let range = decode_list(packed, 0, packed.len(), 1, &mut kv, &mut depth, &mut lossy)?;
    let transcoded;
    let arena: &[u8] = if lossy.is_empty() {
        packed
    } else {
        transcoded = transcode_lossy(packed, &lossy, &mut [], &mut kv)?;
        &transcoded
    };
    Ok(KvListRef {
        arena,
        entries: &kv,
        range,
    }
    .to_kv_list())
}

#[cfg(test)]
mod tests;
