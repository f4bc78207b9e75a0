//! Stream framing over [`crate::wire`]: [`TlibCodec::decode_from`] takes one complete frame
//! off a byte buffer (`Ok(None)` while incomplete), [`TlibCodec::encode_into`] appends one.
//! With the `client` feature it is also a `tokio_util::codec` `Decoder`/`Encoder`: use it with
//! `Framed` on a TCP stream.

use bytes::BytesMut;
#[cfg(feature = "client")]
use tokio_util::codec::{Decoder, Encoder};

use crate::message::Message;
use crate::wire::{self, DecodeError, EncodeError, HEADER_LEN, WireConfig};

/// Errors of [`TlibCodec`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The socket failed.
    #[error("T-Library connection I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A received frame is malformed. If [`DecodeError::is_fatal_to_stream`] holds, the byte
    /// stream cannot be resynchronised; otherwise the bad frame has been consumed and a caller
    /// driving the codec directly may continue. (`Framed` ends the stream after any error:
    /// reconnect.)
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A message could not be encoded; nothing was written.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Frames T-Library messages on a byte stream.
///
/// Rejects an oversized or unexpected-mode header as soon as its 4 bytes arrive, before
/// buffering the body.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlibCodec {
    config: WireConfig,
}

impl TlibCodec {
    /// A codec with the given limits.
    pub fn new(config: WireConfig) -> Self {
        TlibCodec { config }
    }

    /// Classic packets only (16 KiB).
    pub fn classic() -> Self {
        TlibCodec::new(WireConfig::classic())
    }

    /// Extended packets up to `max_data` bytes.
    pub fn extended(max_data: usize) -> Self {
        TlibCodec::new(WireConfig::extended(max_data))
    }

    /// The limits in force.
    pub fn config(&self) -> &WireConfig {
        &self.config
    }

    /// Takes the next complete frame off `src` and decodes it; `Ok(None)` while the frame is
    /// incomplete (room for it is reserved). Sans-IO: feed it whatever the socket read.
    pub fn decode_from(&mut self, src: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        let Some(total) = wire::frame_len(src, &self.config)? else {
            src.reserve(HEADER_LEN);
            return Ok(None);
        };
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        let frame = src.split_to(total).freeze();
        Ok(Some(wire::decode_bytes(frame, &self.config)?))
    }

    /// Appends `msg` as one frame to `dst`; on error nothing is written.
    pub fn encode_into(&self, msg: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        Ok(wire::encode_with(msg, &self.config, dst)?)
    }
}

#[cfg(feature = "client")]
impl Decoder for TlibCodec {
    type Item = Message;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        self.decode_from(src)
    }
}

#[cfg(feature = "client")]
impl Encoder<&Message> for TlibCodec {
    type Error = CodecError;

    fn encode(&mut self, msg: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_into(msg, dst)
    }
}

#[cfg(feature = "client")]
impl Encoder<Message> for TlibCodec {
    type Error = CodecError;

    fn encode(&mut self, msg: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_into(&msg, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KvList, MessageType};

    fn msg(n: usize) -> Message {
        let mut ud = KvList::new();
        for i in 0..n {
            ud.push(
                format!("key{i:04}"),
                format!("value number {i} with some padding"),
            );
        }
        Message::builder(MessageType::EventUserEvent)
            .this_dn("1001")
            .user_data(&ud)
            .build()
    }

    #[test]
    fn streams_frames_byte_by_byte() {
        let mut codec = TlibCodec::default();
        let mut wire_bytes = BytesMut::new();
        let small = msg(3);
        let large = msg(600); // > 16 KiB: extended packet
        codec.encode_into(&small, &mut wire_bytes).unwrap();
        codec.encode_into(&large, &mut wire_bytes).unwrap();
        assert!(wire_bytes.len() > 16 * 1024);
        let mut src = BytesMut::new();
        let mut out = Vec::new();
        for b in wire_bytes {
            src.extend_from_slice(&[b]);
            if let Some(m) = codec.decode_from(&mut src).unwrap() {
                out.push(m);
            }
        }
        assert_eq!(out, vec![small, large]);
        assert!(src.is_empty());
    }

    #[test]
    fn classic_codec_refuses_large_messages_both_ways() {
        let mut classic = TlibCodec::classic();
        let mut dst = BytesMut::new();
        let err = classic.encode_into(&msg(600), &mut dst).unwrap_err();
        assert!(matches!(
            err,
            CodecError::Encode(EncodeError::TooLarge { .. })
        ));
        assert!(dst.is_empty());
        TlibCodec::default()
            .encode_into(&msg(600), &mut dst)
            .unwrap();
        let mut head = BytesMut::from(&dst[..4]);
        let err = classic.decode_from(&mut head).unwrap_err();
        let CodecError::Decode(e) = err else {
            panic!("expected decode error")
        };
        assert!(e.is_fatal_to_stream());
    }

    #[test]
    fn rejects_oversized_header_before_the_body_arrives() {
        let mut codec = TlibCodec::extended(1024 * 1024);
        let mut src = BytesMut::from(&[0x80u8, 0x20, 0x00, 0x00][..]);
        let err = codec.decode_from(&mut src).unwrap_err();
        assert!(err.to_string().contains("above the limit"), "{err}");
    }
}
