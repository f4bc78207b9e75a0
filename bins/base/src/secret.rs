//! A secret string (a password, client secret, access token) that never prints itself.

use std::fmt;

/// A secret value: `Debug` and `Display` never show it.
///
/// `Display` prints `<redacted>`; `Debug` prints `Secret(<redacted>)`, or `Secret(<empty>)`
/// when it is empty, so a missing setting can be told from a set one in logs. Read the value
/// with [`Secret::expose`], only where it is handed to a driver or goes on the wire.
///
/// ```
/// use engage_base::Secret;
/// let s = Secret::new("hunter2");
/// assert_eq!(s.to_string(), "<redacted>");
/// assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
/// assert_eq!(s.expose(), "hunter2");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the one place that hands it on. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (a missing setting).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(<empty>)"
        } else {
            "Secret(<redacted>)"
        })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), "<redacted>");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(format!("{s:?}").contains("redacted"));
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
        assert!(!format!("{s:#?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn empty_is_told_apart_and_conversions_keep_the_value() {
        assert_eq!(format!("{:?}", Secret::default()), "Secret(<empty>)");
        assert!(Secret::default().is_empty());
        assert_eq!(Secret::from("a"), Secret::from(String::from("a")));
        assert!(!Secret::from("a").is_empty());
    }
}
