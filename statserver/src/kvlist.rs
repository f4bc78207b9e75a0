//! Key-value lists: attached data, reasons and extensions.
//!
//! A KV list is an ordered list of pairs; keys may repeat (Genesys lists allow it), so it is a
//! `Vec`, not a map. Look-ups return the first pair with the key.

/// One value of a KV list.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KvValue {
    /// A text value.
    Str(String),
    /// A 32-bit integer.
    Int(i32),
    /// A 64-bit integer (extended lists).
    Long(i64),
    /// Opaque bytes.
    Binary(Vec<u8>),
    /// A nested list (e.g. `Reasons` inside attached data).
    List(KvList),
}

impl KvValue {
    /// The value as text, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            KvValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a nested list, if it is one.
    pub fn as_list(&self) -> Option<&KvList> {
        match self {
            KvValue::List(l) => Some(l),
            _ => None,
        }
    }

    /// A printable rendering of scalar values (strings as-is, integers in decimal); `None` for
    /// binary values and lists.
    pub fn to_text(&self) -> Option<String> {
        match self {
            KvValue::Str(s) => Some(s.clone()),
            KvValue::Int(i) => Some(i.to_string()),
            KvValue::Long(i) => Some(i.to_string()),
            KvValue::Binary(_) | KvValue::List(_) => None,
        }
    }
}

/// An ordered list of key-value pairs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvList {
    pairs: Vec<(String, KvValue)>,
}

impl KvList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a pair (keys may repeat).
    pub fn push(&mut self, key: impl Into<String>, value: KvValue) {
        self.pairs.push((key.into(), value));
    }

    /// Builder form of [`KvList::push`].
    pub fn with(mut self, key: impl Into<String>, value: KvValue) -> Self {
        self.push(key, value);
        self
    }

    /// Builder shortcut for a string pair.
    pub fn with_str(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.with(key, KvValue::Str(value.into()))
    }

    /// The first value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&KvValue> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &KvValue)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the list has no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl FromIterator<(String, KvValue)> for KvList {
    fn from_iter<T: IntoIterator<Item = (String, KvValue)>>(iter: T) -> Self {
        Self {
            pairs: iter.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_returns_first_pair_with_key() {
        let l = KvList::new()
            .with_str("a", "1")
            .with("a", KvValue::Int(2))
            .with("b", KvValue::Long(3));
        assert_eq!(l.get("a"), Some(&KvValue::Str("1".into())));
        assert_eq!(l.get("b").and_then(KvValue::to_text).as_deref(), Some("3"));
        assert_eq!(l.get("c"), None);
        assert_eq!(l.len(), 3);
    }
}
