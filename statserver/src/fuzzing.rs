//! Entry points for the fuzz targets and the corpus replay test (not a stable API).

use bytes::BytesMut;

use crate::codec::StatCodec;
use crate::wire;

/// Feeds arbitrary bytes to the frame decoder and the stream codec. Panics only if an
/// invariant breaks: a decoded message must re-encode, and re-decode to the same message.
pub fn frame(data: &[u8]) {
    if let Ok(msg) = wire::decode_frame(data) {
        let mut buf = BytesMut::new();
        let encoded = wire::encode(&msg, &mut buf);
        assert!(
            encoded.is_ok(),
            "decoded message does not re-encode: {encoded:?}"
        );
        let again = wire::decode_frame(&buf);
        assert_eq!(again.as_ref(), Ok(&msg), "re-decoded message differs");
    }
    // The stream codec over the same bytes, delivered in two chunks.
    let mut codec = StatCodec::new(64 * 1024);
    let mid = data.len() / 2;
    let mut buf = BytesMut::from(&data[..mid]);
    let mut rest = &data[mid..];
    loop {
        match codec.decode_from(&mut buf) {
            Ok(Some(_)) => continue,
            Ok(None) if !rest.is_empty() => {
                buf.extend_from_slice(rest);
                rest = &[];
            }
            Ok(None) | Err(_) => break,
        }
    }
}
