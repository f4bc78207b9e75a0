//! Stream framing over [`crate::wire`]: [`StatCodec::decode_from`] takes one complete frame off
//! a byte buffer (`Ok(None)` while incomplete), [`StatCodec::encode_into`] appends one. With the
//! `client` feature it is also a `tokio_util::codec` `Decoder`/`Encoder`.
//!
//! Items are `Result<Message, DecodeError>`: a frame whose length header is sound but whose
//! content is malformed yields `Some(Err(..))` and the stream stays in sync (the caller may
//! skip it); a bad length header is a [`CodecError::Framing`] and the connection must go.

use bytes::BytesMut;
#[cfg(feature = "client")]
use tokio_util::codec::{Decoder, Encoder};

use crate::error::{DecodeError, EncodeError};
use crate::message::Message;
use crate::wire;

/// Errors of the stream codec.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// Socket error.
    #[error("Stat Server link I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The frame boundary is lost; reconnect.
    #[error(transparent)]
    Framing(DecodeError),
    /// An outgoing message does not fit the wire format.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// The Stat Server frame codec (both directions).
#[derive(Debug, Clone)]
pub struct StatCodec {
    max_body: usize,
}

impl Default for StatCodec {
    fn default() -> Self {
        Self::new(wire::DEFAULT_MAX_BODY)
    }
}

impl StatCodec {
    /// A codec that refuses frames with bodies longer than `max_body` bytes.
    pub fn new(max_body: usize) -> Self {
        Self { max_body }
    }

    /// Takes the next complete frame off `src` and decodes it; `Ok(None)` while the frame is
    /// incomplete. `Ok(Some(Err(..)))`: a malformed frame was consumed, the stream is in sync.
    pub fn decode_from(
        &mut self,
        src: &mut BytesMut,
    ) -> Result<Option<Result<Message, DecodeError>>, CodecError> {
        let n = match wire::frame_len(src, self.max_body).map_err(CodecError::Framing)? {
            None => return Ok(None),
            Some(n) => n,
        };
        if src.len() < n {
            // Bounded by max_body + header: never more than one frame.
            src.reserve(n - src.len());
            return Ok(None);
        }
        let frame = src.split_to(n);
        Ok(Some(wire::decode_frame(&frame)))
    }

    /// Appends `item` as one frame to `dst`.
    pub fn encode_into(&self, item: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        wire::encode_with_max(item, dst, self.max_body)?;
        Ok(())
    }
}

#[cfg(feature = "client")]
impl Decoder for StatCodec {
    type Item = Result<Message, DecodeError>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        self.decode_from(src)
    }
}

#[cfg(feature = "client")]
impl Encoder<Message> for StatCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode_into(&item, dst)
    }
}
