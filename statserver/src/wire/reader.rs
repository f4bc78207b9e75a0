//! A bounds-checked cursor over a frame. Offsets it reports are absolute in the frame.

use crate::error::{DecodeError, DecodeReason};

pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn err(&self, reason: DecodeReason) -> DecodeError {
        DecodeError::new(self.offset(), reason)
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.err(DecodeReason::Truncated {
                what,
                needed: n,
                available: self.remaining(),
            }));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A sub-reader over the next `n` bytes, keeping absolute offsets.
    pub(crate) fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, DecodeError> {
        let base = self.offset();
        let s = self.take(n, what)?;
        Ok(Reader::new(s, base))
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }

    /// UTF-8 text of exactly `n` bytes (the allocation is bounded by the bytes present).
    pub(crate) fn text(&mut self, n: usize, what: &'static str) -> Result<String, DecodeError> {
        let at = self.offset();
        let s = self.take(n, what)?;
        std::str::from_utf8(s)
            .map(str::to_owned)
            .map_err(|_| DecodeError::new(at, DecodeReason::InvalidUtf8 { what }))
    }

    /// Text with a u16 length prefix.
    pub(crate) fn str16(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let n = self.u16(what)?;
        self.text(usize::from(n), what)
    }

    /// Text with a u32 length prefix.
    pub(crate) fn str32(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let n = self.u32(what)?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.text(n, what)
    }

    pub(crate) fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(self.err(DecodeReason::TrailingBytes {
                what,
                count: self.remaining(),
            }))
        }
    }
}

/// Capacity for a vector of `count` elements of at least `min_size` bytes each, never more than
/// the bytes left could hold (so a forged count cannot make us allocate beyond the frame).
pub(crate) fn bounded_capacity(count: usize, min_size: usize, remaining: usize) -> usize {
    count.min(remaining / min_size.max(1))
}
