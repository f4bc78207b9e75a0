//! Typed errors of the wire codec.

use crate::attribute::AttributeId;

/// A frame or KV list that could not be decoded: where (`offset`, in bytes from the start of
/// the frame header, or of the packed list for [`super::unpack_kv_list`]) and why.
///
/// A header error (length past the limit, extended packet not enabled) means the byte stream
/// cannot be resynchronised: drop the connection. A body error leaves the stream aligned on
/// the next frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed T-Library data at byte {offset}: {reason}")]
pub struct DecodeError {
    offset: usize,
    reason: DecodeReason,
}

impl DecodeError {
    pub(crate) fn new(offset: usize, reason: DecodeReason) -> Self {
        DecodeError { offset, reason }
    }

    /// The byte offset where the problem was found.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// What is wrong.
    pub fn reason(&self) -> &DecodeReason {
        &self.reason
    }

    /// True when the error is in the packet header, so the stream cannot continue.
    pub fn is_fatal_to_stream(&self) -> bool {
        matches!(
            self.reason,
            DecodeReason::FrameTooLarge { .. }
                | DecodeReason::ExtendedNotEnabled { .. }
                | DecodeReason::NonCanonicalHeader { .. }
        )
    }
}

/// What made a frame or KV list undecodable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeReason {
    /// Fewer bytes than a field or declared length needs.
    #[error("truncated {what}: needs {needed} bytes but only {available} remain")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// The packet header declares more data than allowed.
    #[error(
        "packet declares {length} data bytes, above the limit of {limit}; the peer is not speaking T-Library, or raise the codec's max size / enable extended packets"
    )]
    FrameTooLarge {
        /// Declared data length.
        length: usize,
        /// The limit in force.
        limit: usize,
    },
    /// An extended packet arrived on a classic-mode codec.
    #[error(
        "extended packet of {length} data bytes received while extended packets are disabled; enable extended mode in the codec configuration"
    )]
    ExtendedNotEnabled {
        /// Declared data length.
        length: usize,
    },
    /// The extended flag is set on a packet small enough to be classic (not canonical).
    #[error(
        "extended flag set on a {length}-byte packet that fits a classic packet (not canonical)"
    )]
    NonCanonicalHeader {
        /// Declared data length.
        length: usize,
    },
    /// Bytes left over after a structure that must fill its space exactly.
    #[error("{extra} unexpected trailing bytes after the {what}")]
    TrailingBytes {
        /// The structure.
        what: &'static str,
        /// How many bytes are left.
        extra: usize,
    },
    /// A known attribute carries a type tag other than its kind's.
    #[error("attribute {attribute} has type tag {tag}, expected {expected}")]
    BadAttributeTag {
        /// The attribute.
        attribute: AttributeId,
        /// The tag found.
        tag: u8,
        /// The tag its kind requires.
        expected: u8,
    },
    /// A KV value carries an unknown type tag.
    #[error("KV value has unknown type tag {tag}")]
    BadKvTag {
        /// The tag found.
        tag: u8,
    },
    /// A fixed-size value has the wrong length.
    #[error("{what} must be {expected} bytes, found {length}")]
    BadFixedLength {
        /// The value.
        what: &'static str,
        /// Its length.
        length: usize,
        /// The required length.
        expected: usize,
    },
    /// A string is not valid UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// The string.
        what: &'static str,
    },
    /// A Unicode KV value is not valid UTF-16BE.
    #[error("Unicode KV value is not valid UTF-16BE (odd length or unpaired surrogate)")]
    InvalidUtf16,
    /// A CallUUID attribute is not 32 ASCII letters and digits.
    #[error("attribute {attribute} is not a 32-character CallUUID of ASCII letters and digits")]
    InvalidCallUuid {
        /// The attribute.
        attribute: AttributeId,
    },
    /// KV lists nest deeper than the limit (a nesting bomb).
    #[error("KV lists nested deeper than {limit} levels")]
    NestingTooDeep {
        /// The nesting limit.
        limit: usize,
    },
    /// A KV pair count promises more pairs than the bytes present can hold.
    #[error("KV pair count {count} cannot fit in the {remaining} bytes that remain")]
    CountExceedsData {
        /// The declared count.
        count: usize,
        /// Bytes left in the list.
        remaining: usize,
    },
}

/// A message that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The encoded data exceeds the configured limit.
    #[error(
        "message needs {length} data bytes, above the limit of {limit}; enable extended packets or raise the max size"
    )]
    TooLarge {
        /// Encoded data length.
        length: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A value is larger than the format can express (4 GiB).
    #[error("a value is larger than the wire format can carry; split the data")]
    ValueTooLarge,
    /// A KV list has more than 65535 pairs.
    #[error("KV list has {count} pairs; at most 65535 fit a packed list")]
    TooManyPairs {
        /// The number of pairs.
        count: usize,
    },
    /// A KV key is longer than 65535 bytes.
    #[error("KV key of {length} bytes; at most 65535 fit")]
    KeyTooLong {
        /// The key length.
        length: usize,
    },
    /// KV lists nest deeper than the decoder accepts.
    #[error("KV lists nest {depth} levels deep; at most {limit} are allowed")]
    NestingTooDeep {
        /// The nesting found.
        depth: usize,
        /// The limit.
        limit: usize,
    },
}
