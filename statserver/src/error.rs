//! Codec errors: what went wrong and at which byte of the frame.

use std::fmt;

/// A frame could not be decoded. `offset` counts bytes from the start of the frame (its length
/// header included).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Stat Server frame at byte {offset}: {reason}")]
#[non_exhaustive]
pub struct DecodeError {
    /// Byte offset from the start of the frame.
    pub offset: usize,
    /// What is wrong there.
    pub reason: DecodeReason,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, reason: DecodeReason) -> Self {
        Self { offset, reason }
    }

    /// Whether the byte stream can no longer be trusted (the frame boundary itself is bad):
    /// the connection must be dropped. Other errors concern one well-delimited frame, which
    /// can be skipped.
    pub fn is_framing(&self) -> bool {
        matches!(
            self.reason,
            DecodeReason::FrameTooLarge { .. } | DecodeReason::FrameTooShort { .. }
        )
    }
}

/// The reason of a [`DecodeError`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeReason {
    /// The frame ends before a field does.
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The length header announces more than the configured maximum (drop the connection).
    FrameTooLarge {
        /// Announced body length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The length header announces less than a message header (drop the connection).
    FrameTooShort {
        /// Announced body length.
        len: usize,
    },
    /// The message id is not one this codec knows.
    UnknownMessage {
        /// The id.
        id: u32,
    },
    /// A known attribute has the wrong type tag.
    WrongAttributeType {
        /// Attribute name.
        attribute: &'static str,
        /// Expected tag.
        expected: u8,
        /// Found tag.
        found: u8,
    },
    /// A fixed-size attribute has the wrong length.
    BadAttributeLength {
        /// Attribute name.
        attribute: &'static str,
        /// Expected length.
        expected: usize,
        /// Found length.
        found: usize,
    },
    /// The same attribute appears twice.
    DuplicateAttribute {
        /// Attribute id.
        id: u16,
    },
    /// A mandatory attribute is absent.
    MissingAttribute {
        /// The message.
        message: &'static str,
        /// The attribute.
        attribute: &'static str,
    },
    /// A text field is not UTF-8.
    InvalidUtf8 {
        /// The field.
        what: &'static str,
    },
    /// An enumerated field has a value outside its range.
    UnknownEnumValue {
        /// The field.
        what: &'static str,
        /// The value found.
        value: u32,
    },
    /// KV lists nest deeper than allowed.
    TooDeep {
        /// The maximum nesting.
        max: usize,
    },
    /// Bytes are left after a complete structure.
    TrailingBytes {
        /// The structure.
        what: &'static str,
        /// How many bytes are left.
        count: usize,
    },
}

impl fmt::Display for DecodeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeReason::Truncated {
                what,
                needed,
                available,
            } => write!(
                f,
                "{what} needs {needed} bytes but only {available} remain (truncated frame)"
            ),
            DecodeReason::FrameTooLarge { len, max } => write!(
                f,
                "frame length {len} exceeds the maximum {max}; the stream is not a Stat Server \
                 link of this version or is corrupt; reconnect"
            ),
            DecodeReason::FrameTooShort { len } => write!(
                f,
                "frame length {len} is shorter than a message header; reconnect"
            ),
            DecodeReason::UnknownMessage { id } => write!(f, "unknown message id {id}"),
            DecodeReason::WrongAttributeType {
                attribute,
                expected,
                found,
            } => write!(
                f,
                "attribute {attribute} has type tag {found}, expected {expected}"
            ),
            DecodeReason::BadAttributeLength {
                attribute,
                expected,
                found,
            } => write!(
                f,
                "attribute {attribute} is {found} bytes long, expected {expected}"
            ),
            DecodeReason::DuplicateAttribute { id } => write!(f, "attribute {id} appears twice"),
            DecodeReason::MissingAttribute { message, attribute } => {
                write!(f, "{message} lacks its mandatory attribute {attribute}")
            }
            DecodeReason::InvalidUtf8 { what } => write!(f, "{what} is not valid UTF-8"),
            DecodeReason::UnknownEnumValue { what, value } => {
                write!(f, "{what} has unknown value {value}")
            }
            DecodeReason::TooDeep { max } => {
                write!(f, "KV lists nest deeper than {max} levels")
            }
            DecodeReason::TrailingBytes { what, count } => {
                write!(f, "{count} unexpected bytes after the {what}")
            }
        }
    }
}

/// A message could not be encoded (a field exceeds what the wire format can carry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A field is longer than its length prefix allows.
    #[error("{what} is {len} bytes long; the wire format allows at most {max}; shorten it")]
    TooLong {
        /// The field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A list has more elements than its count prefix allows.
    #[error("{what} has {count} elements; the wire format allows at most {max}; split it")]
    TooMany {
        /// The list.
        what: &'static str,
        /// Its element count.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// KV lists nest deeper than the decoder accepts.
    #[error("KV lists nest deeper than {max} levels; flatten the attached data")]
    TooDeep {
        /// The maximum nesting.
        max: usize,
    },
    /// The encoded frame exceeds the maximum frame length.
    #[error("encoded frame is {len} bytes; the maximum is {max}; send less attached data")]
    FrameTooLarge {
        /// The frame body length.
        len: usize,
        /// The maximum.
        max: usize,
    },
}
