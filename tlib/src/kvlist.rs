//! KV lists (`UserData`, `Extensions`, `Reasons`, `ISLinkList`): ordered key/value pairs with
//! typed values, possibly nested.
//!
//! Two shapes:
//! - [`KvList`] / [`KvValue`]: owned, for building messages.
//! - [`KvListRef`] / [`KvValueRef`]: borrowed views into a decoded [`crate::Message`] (no copy,
//!   no allocation when reading).
//!
//! Pairs keep their order and duplicate keys are allowed, as in the T-Library.

use std::fmt;

/// A byte range inside a message's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

impl Span {
    #[inline]
    pub(crate) fn get(self, arena: &[u8]) -> &[u8] {
        let start = self.start as usize;
        arena
            .get(start..start + self.len as usize)
            .unwrap_or_default()
    }
}

/// A range of entries inside a message's flat KV entry table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ListRange {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

/// One stored KV value (internal representation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KvSlot {
    String(Span),
    Int(i32),
    Binary(Span),
    List(ListRange),
    /// UTF-16BE code units, validated.
    Unicode(Span),
    Long(i64),
    /// IEEE 754 bits.
    Float(u64),
}

/// One stored KV pair (internal representation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KvEntry {
    pub(crate) key: Span,
    pub(crate) value: KvSlot,
}

impl KvEntry {
    pub(crate) const PLACEHOLDER: KvEntry = KvEntry {
        key: Span { start: 0, len: 0 },
        value: KvSlot::Int(0),
    };
}

/// An owned KV list: ordered pairs, duplicate keys allowed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KvList {
    pairs: Vec<KvPair>,
}

/// One owned key/value pair.
#[derive(Debug, Clone, PartialEq)]
pub struct KvPair {
    /// The key.
    pub key: String,
    /// The value.
    pub value: KvValue,
}

/// An owned KV value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KvValue {
    /// A string.
    String(String),
    /// A 32-bit integer.
    Int(i32),
    /// Opaque bytes.
    Binary(Vec<u8>),
    /// A nested list.
    List(KvList),
    /// A Unicode (wide) string; carried as UTF-16 on the wire.
    Unicode(String),
    /// A 64-bit integer (extended lists).
    Long(i64),
    /// A 64-bit float (extended lists); compared by bits, so NaN equals itself.
    Float(f64),
}

impl PartialEq for KvValue {
    fn eq(&self, other: &Self) -> bool {
        use KvValue::*;
        match (self, other) {
            (String(a), String(b)) | (Unicode(a), Unicode(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Binary(a), Binary(b)) => a == b,
            (List(a), List(b)) => a == b,
            (Long(a), Long(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

impl From<&str> for KvValue {
    fn from(v: &str) -> Self {
        KvValue::String(v.to_owned())
    }
}

impl From<String> for KvValue {
    fn from(v: String) -> Self {
        KvValue::String(v)
    }
}

impl From<i32> for KvValue {
    fn from(v: i32) -> Self {
        KvValue::Int(v)
    }
}

impl From<i64> for KvValue {
    fn from(v: i64) -> Self {
        KvValue::Long(v)
    }
}

impl From<Vec<u8>> for KvValue {
    fn from(v: Vec<u8>) -> Self {
        KvValue::Binary(v)
    }
}

impl From<KvList> for KvValue {
    fn from(v: KvList) -> Self {
        KvValue::List(v)
    }
}

impl KvList {
    /// An empty list.
    pub fn new() -> Self {
        KvList::default()
    }

    /// Appends a pair.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<KvValue>) {
        self.pairs.push(KvPair {
            key: key.into(),
            value: value.into(),
        });
    }

    /// Appends a pair, builder style.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<KvValue>) -> Self {
        self.push(key, value);
        self
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when the list has no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pairs in order.
    pub fn pairs(&self) -> &[KvPair] {
        &self.pairs
    }

    /// The first value with this key.
    pub fn get(&self, key: &str) -> Option<&KvValue> {
        self.pairs.iter().find(|p| p.key == key).map(|p| &p.value)
    }
}

impl FromIterator<KvPair> for KvList {
    fn from_iter<T: IntoIterator<Item = KvPair>>(iter: T) -> Self {
        KvList {
            pairs: iter.into_iter().collect(),
        }
    }
}

/// A borrowed view of a KV list inside a decoded or built [`crate::Message`].
#[derive(Clone, Copy)]
pub struct KvListRef<'a> {
    pub(crate) arena: &'a [u8],
    pub(crate) entries: &'a [KvEntry],
    pub(crate) range: ListRange,
}

/// A borrowed KV value.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum KvValueRef<'a> {
    /// A string.
    String(&'a str),
    /// A 32-bit integer.
    Int(i32),
    /// Opaque bytes.
    Binary(&'a [u8]),
    /// A nested list.
    List(KvListRef<'a>),
    /// A Unicode (wide) string.
    Unicode(UnicodeStr<'a>),
    /// A 64-bit integer.
    Long(i64),
    /// A 64-bit float.
    Float(f64),
}

/// A borrowed Unicode KV value, held as validated UTF-16BE code units.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct UnicodeStr<'a>(pub(crate) &'a [u8]);

impl UnicodeStr<'_> {
    /// The characters, decoded from UTF-16.
    pub fn chars(&self) -> impl Iterator<Item = char> + '_ {
        char::decode_utf16(
            self.0
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]])),
        )
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
    }

    /// The raw UTF-16BE bytes.
    pub fn as_utf16be(&self) -> &[u8] {
        self.0
    }
}

impl fmt::Display for UnicodeStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        self.chars().try_for_each(|c| f.write_char(c))
    }
}

impl fmt::Debug for UnicodeStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

#[inline]
pub(crate) fn arena_str(arena: &[u8], span: Span) -> &str {
    // Every string span is validated UTF-8 when it is stored (decode or build).
    std::str::from_utf8(span.get(arena)).unwrap_or_default()
}

impl<'a> KvValueRef<'a> {
    pub(crate) fn from_slot(arena: &'a [u8], entries: &'a [KvEntry], slot: KvSlot) -> Self {
        match slot {
            KvSlot::String(s) => KvValueRef::String(arena_str(arena, s)),
            KvSlot::Int(v) => KvValueRef::Int(v),
            KvSlot::Binary(s) => KvValueRef::Binary(s.get(arena)),
            KvSlot::List(range) => KvValueRef::List(KvListRef {
                arena,
                entries,
                range,
            }),
            KvSlot::Unicode(s) => KvValueRef::Unicode(UnicodeStr(s.get(arena))),
            KvSlot::Long(v) => KvValueRef::Long(v),
            KvSlot::Float(bits) => KvValueRef::Float(f64::from_bits(bits)),
        }
    }

    /// The string, for `String` and `Unicode` values (`Unicode` allocates).
    pub fn to_text(&self) -> Option<String> {
        match self {
            KvValueRef::String(s) => Some((*s).to_owned()),
            KvValueRef::Unicode(u) => Some(u.to_string()),
            _ => None,
        }
    }

    /// An owned copy.
    pub fn to_owned_value(&self) -> KvValue {
        match *self {
            KvValueRef::String(s) => KvValue::String(s.to_owned()),
            KvValueRef::Int(v) => KvValue::Int(v),
            KvValueRef::Binary(b) => KvValue::Binary(b.to_vec()),
            KvValueRef::List(l) => KvValue::List(l.to_kv_list()),
            KvValueRef::Unicode(u) => KvValue::Unicode(u.to_string()),
            KvValueRef::Long(v) => KvValue::Long(v),
            KvValueRef::Float(v) => KvValue::Float(v),
        }
    }
}

impl PartialEq for KvValueRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        use KvValueRef::*;
        match (self, other) {
            (String(a), String(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Binary(a), Binary(b)) => a == b,
            (List(a), List(b)) => a == b,
            (Unicode(a), Unicode(b)) => a == b,
            (Long(a), Long(b)) => a == b,
            (Float(a), Float(b)) => a.to_bits() == b.to_bits(),
            _ => false,
        }
    }
}

impl fmt::Debug for KvValueRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvValueRef::String(s) => fmt::Debug::fmt(s, f),
            KvValueRef::Int(v) => write!(f, "{v}"),
            KvValueRef::Binary(b) => write!(f, "<{} bytes>", b.len()),
            KvValueRef::List(l) => fmt::Debug::fmt(l, f),
            KvValueRef::Unicode(u) => write!(f, "U{u:?}"),
            KvValueRef::Long(v) => write!(f, "{v}L"),
            KvValueRef::Float(v) => write!(f, "{v:?}"),
        }
    }
}

impl<'a> KvListRef<'a> {
    #[inline]
    fn slice(&self) -> &'a [KvEntry] {
        let start = self.range.start as usize;
        self.entries
            .get(start..start + self.range.len as usize)
            .unwrap_or_default()
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.range.len as usize
    }

    /// True when the list has no pairs.
    pub fn is_empty(&self) -> bool {
        self.range.len == 0
    }

    /// The pairs in order, as `(key, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, KvValueRef<'a>)> + 'a {
        let arena = self.arena;
        let entries = self.entries;
        self.slice().iter().map(move |e| {
            (
                arena_str(arena, e.key),
                KvValueRef::from_slot(arena, entries, e.value),
            )
        })
    }

    /// The first value with this key.
    pub fn get(&self, key: &str) -> Option<KvValueRef<'a>> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The first `String` value with this key.
    pub fn get_str(&self, key: &str) -> Option<&'a str> {
        match self.get(key)? {
            KvValueRef::String(s) => Some(s),
            _ => None,
        }
    }

    /// An owned copy of the list.
    pub fn to_kv_list(&self) -> KvList {
        self.iter()
            .map(|(k, v)| KvPair {
                key: k.to_owned(),
                value: v.to_owned_value(),
            })
            .collect()
    }
}

impl PartialEq for KvListRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl PartialEq<KvList> for KvListRef<'_> {
    fn eq(&self, other: &KvList) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.pairs())
                .all(|((k, v), p)| k == p.key && v.to_owned_value() == p.value)
    }
}

impl fmt::Debug for KvListRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(k, v)| DebugPair(k, v)))
            .finish()
    }
}

struct DebugPair<'a>(&'a str, KvValueRef<'a>);

impl fmt::Debug for DebugPair<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {:?}", self.0, self.1)
    }
}
