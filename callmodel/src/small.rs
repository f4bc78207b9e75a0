//! [`SmallStr`]: the model's short state strings (party ids, DNs, ConnIDs) without a heap
//! allocation each. Serializes exactly as a `String` does, so the state format is unchanged.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest string kept inline.
const INLINE: usize = 22;

/// An immutable string: inline up to [`INLINE`] bytes, else one boxed `str`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum SmallStr {
    /// Length and bytes (the unused tail is zero, so derived equality is content equality).
    Inline(u8, [u8; INLINE]),
    /// A longer string.
    Heap(Box<str>),
}

impl SmallStr {
    pub(crate) fn new(s: &str) -> Self {
        match u8::try_from(s.len()) {
            Ok(n) if s.len() <= INLINE => {
                let mut buf = [0u8; INLINE];
                buf[..s.len()].copy_from_slice(s.as_bytes());
                SmallStr::Inline(n, buf)
            }
            _ => SmallStr::Heap(s.into()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Always valid: the bytes were copied from a `str` on a char boundary (the end).
            SmallStr::Inline(n, buf) => std::str::from_utf8(&buf[..usize::from(*n)]).unwrap_or(""),
            SmallStr::Heap(s) => s,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            SmallStr::Inline(n, buf) => &buf[..usize::from(*n)],
            SmallStr::Heap(s) => s.as_bytes(),
        }
    }

    /// Heap bytes owned (for the state-size estimate).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            SmallStr::Inline(..) => 0,
            SmallStr::Heap(s) => s.len(),
        }
    }
}

impl Default for SmallStr {
    fn default() -> Self {
        SmallStr::Inline(0, [0; INLINE])
    }
}

impl Deref for SmallStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for SmallStr {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for SmallStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<String> for SmallStr {
    fn eq(&self, other: &String) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for SmallStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for SmallStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SmallStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = SmallStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SmallStr, E> {
                Ok(SmallStr::new(v))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_length_like_a_string() {
        let text = "0123456789abcdefghijklmnopqrstuvwxyzé€";
        for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            let s = &text[..end];
            let small = SmallStr::new(s);
            assert_eq!(small.as_str(), s);
            let owned = s.to_owned();
            assert!(small == s && small == owned);
            assert_eq!(small.heap_bytes() == 0, s.len() <= INLINE);
            let json = serde_json::to_string(&small).expect("serializes");
            assert_eq!(json, serde_json::to_string(s).expect("serializes"));
            let back: SmallStr = serde_json::from_str(&json).expect("deserializes");
            assert_eq!(back, small);
            assert_eq!(format!("{small:?}"), format!("{s:?}"));
        }
        assert_ne!(SmallStr::new("a"), SmallStr::new("b"));
        assert_eq!(SmallStr::default().as_str(), "");
    }
}
