use super::*;
use crate::{KvValue, Value};

fn frame(msg_type: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    v.extend_from_slice(&msg_type.to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn attr(id: u16, tag: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&id.to_be_bytes());
    v.push(tag);
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn reason(bytes: &[u8]) -> (usize, DecodeReason) {
    let e = decode(bytes).expect_err("must be rejected");
    (e.offset(), e.reason().clone())
}

fn encoded(msg: &Message) -> Vec<u8> {
    let mut b = BytesMut::new();
    encode(msg, &mut b).unwrap();
    b.to_vec()
}

#[test]
fn documented_layout_of_a_small_message() {
    let msg = Message::builder(MessageType::EventRinging)
        .conn_id(ConnId(0x0102_0304_0506_0708))
        .this_dn("1001")
        .user_data(&KvList::new().with("k", 7))
        .build();
    let mut body = Vec::new();
    body.extend(attr(9, tag::CONN_ID, &[1, 2, 3, 4, 5, 6, 7, 8]));
    body.extend(attr(20, tag::STR, b"1001"));
    body.extend(attr(
        51,
        tag::KV_LIST,
        &[0, 1, 0, 1, b'k', kv_tag::INT, 0, 0, 0, 7],
    ));
    assert_eq!(encoded(&msg), frame(60, &body));
}

#[test]
fn packed_list_starts_with_big_endian_pair_count() {
    let mut one = BytesMut::new();
    pack_kv_list(&KvList::new().with("a", "b"), &mut one).unwrap();
    assert_eq!(&one[..2], &[0x00, 0x01]);
    let twenty: KvList = (0..20).fold(KvList::new(), |l, i| l.with(format!("k{i}"), i));
    let mut out = BytesMut::new();
    pack_kv_list(&twenty, &mut out).unwrap();
    assert_eq!(&out[..2], &[0x00, 0x14]);
    assert_eq!(unpack_kv_list(&out).unwrap(), twenty);
}

#[test]
fn every_prefix_of_a_frame_is_a_typed_error() {
    let msg = Message::builder(MessageType::EventEstablished)
        .conn_id(ConnId(5))
        .this_dn("1001")
        .user_data(&KvList::new().with("x", KvList::new().with("y", "z")))
        .build();
    let full = encoded(&msg);
    for cut in 0..full.len() {
        let e = decode(&full[..cut]).expect_err("prefix must fail");
        assert!(
            matches!(e.reason(), DecodeReason::Truncated { .. }),
            "cut {cut}: {e}"
        );
    }
    // and a declared attribute length past the end of the frame
    let mut body = attr(20, tag::STR, b"1001");
    body[3..7].copy_from_slice(&100u32.to_be_bytes());
    let (offset, r) = reason(&frame(64, &body));
    assert_eq!(offset, 15);
    assert!(matches!(
        r,
        DecodeReason::Truncated {
            needed: 100,
            available: 4,
            ..
        }
    ));
}

#[test]
fn header_limits() {
    // classic header beyond 16380 bytes
    let (o, r) = reason(&16381u32.to_be_bytes());
    assert_eq!(o, 0);
    assert!(matches!(
        r,
        DecodeReason::FrameTooLarge {
            length: 16381,
            limit: 16380
        }
    ));
    // extended header beyond the configured limit
    let mut big = (EXTENDED_FLAG | 100_000).to_be_bytes().to_vec();
    big.resize(4 + 100_000, 0);
    let e = decode_bytes(Bytes::from(big.clone()), &WireConfig::extended(50_000)).unwrap_err();
    assert!(matches!(
        e.reason(),
        DecodeReason::FrameTooLarge {
            length: 100_000,
            limit: 50_000
        }
    ));
    // extended packet on a classic connection
    let e = decode_bytes(Bytes::from(big), &WireConfig::classic()).unwrap_err();
    assert!(matches!(
        e.reason(),
        DecodeReason::ExtendedNotEnabled { .. }
    ));
    assert!(e.is_fatal_to_stream());
    // non-canonical: extended flag on a small packet
    let mut f = frame(64, &[]);
    f[0] |= 0x80;
    assert!(matches!(
        reason(&f).1,
        DecodeReason::NonCanonicalHeader { length: 4 }
    ));
    // trailing bytes after the declared frame
    let mut f = frame(64, &[]);
    f.push(0);
    assert!(matches!(
        reason(&f),
        (8, DecodeReason::TrailingBytes { extra: 1, .. })
    ));
}

#[test]
fn bad_tags_and_fixed_lengths() {
    let (o, r) = reason(&frame(64, &attr(20, tag::INT, &[0, 0, 0, 1])));
    assert_eq!(o, 10);
    assert!(matches!(
        r,
        DecodeReason::BadAttributeTag {
            attribute: AttributeId::ThisDN,
            tag: 1,
            expected: 2
        }
    ));
    let (o, r) = reason(&frame(64, &attr(2, tag::INT, &[0, 0, 1])));
    assert_eq!(o, 15);
    assert!(matches!(
        r,
        DecodeReason::BadFixedLength {
            length: 3,
            expected: 4,
            ..
        }
    ));
    let (_, r) = reason(&frame(7, &attr(45, tag::BINARY, &[0; 63])));
    assert!(matches!(
        r,
        DecodeReason::BadFixedLength { expected: 64, .. }
    ));
    let (o, r) = reason(&frame(
        64,
        &attr(51, tag::KV_LIST, &[0, 1, 0, 0, 9, 0, 0, 0, 0]),
    ));
    assert_eq!(o, 19);
    assert!(matches!(r, DecodeReason::BadKvTag { tag: 9 }));
    let (_, r) = reason(&frame(160, &attr(141, tag::STR, b"not-a-call-uuid")));
    assert!(matches!(r, DecodeReason::InvalidCallUuid { .. }));
}

#[test]
fn text_that_is_not_utf8_is_decoded_as_windows_1252_not_fatal() {
    // ThisDN (attribute 20) in Latin-1, with a byte from Windows-1252's 0x80 row.
    let m = decode(&frame(64, &attr(20, tag::STR, b"10\xff1\x80"))).expect("decoded");
    assert_eq!(m.this_dn(), Some("10\u{ff}1\u{20ac}"));
    assert_eq!(m.transcoded_strings(), 1);
    // A KV key and a KV string in the same list, next to valid ones.
    let mut kv = vec![0, 3];
    kv.extend_from_slice(&[0, 2, b'a', 0xc3, kv_tag::INT, 0, 0, 0, 1]);
    kv.extend_from_slice(&[0, 1, b'b', kv_tag::STRING, 0, 0, 0, 4]);
    kv.extend_from_slice(b"Ren\xe9");
    kv.extend_from_slice(&[0, 1, b'c', kv_tag::STRING, 0, 0, 0, 2]);
    kv.extend_from_slice("\u{e9}".as_bytes());
    let m = decode(&frame(64, &attr(51, tag::KV_LIST, &kv))).expect("decoded");
    assert_eq!(m.transcoded_strings(), 2);
    let ud = m.user_data().expect("user data").to_kv_list();
    assert_eq!(ud.get("a\u{c3}"), Some(&KvValue::Int(1)));
    assert_eq!(ud.get("b"), Some(&KvValue::String("Ren\u{e9}".into())));
    assert_eq!(ud.get("c"), Some(&KvValue::String("\u{e9}".into())));
    // Re-encoding sends UTF-8: the value survives a round trip through the codec.
    let again = decode(&encoded(&m)).expect("re-decoded");
    assert_eq!(again.transcoded_strings(), 0);
    assert_eq!(again.user_data().expect("ud").to_kv_list(), ud);
    // A packed list unpacked alone is transcoded the same way.
    let list = unpack_kv_list(&kv).expect("unpacked");
    assert_eq!(list.get("b"), Some(&KvValue::String("Ren\u{e9}".into())));
    // Every Windows-1252 byte decodes to one char, none to U+FFFD.
    for b in 0x80u8..=0xff {
        assert_ne!(cp1252(b), char::REPLACEMENT_CHARACTER, "{b:#x}");
    }
    let uni = [0, 1, 0, 0, kv_tag::UNICODE, 0, 0, 0, 2, 0xd8, 0x00];
    assert!(matches!(
        unpack_kv_list(&uni).unwrap_err().reason(),
        DecodeReason::InvalidUtf16
    ));
}

/// `levels` nested lists: {"n": {"n": … {} }}.
fn nested(levels: usize) -> Vec<u8> {
    let mut inner = vec![0u8, 0];
    for _ in 1..levels {
        let mut outer = vec![0, 1, 0, 1, b'n', kv_tag::LIST];
        outer.extend_from_slice(&(inner.len() as u32).to_be_bytes());
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    inner
}

#[test]
fn nesting_is_capped() {
    assert!(unpack_kv_list(&nested(MAX_KV_DEPTH)).is_ok());
    let e = unpack_kv_list(&nested(MAX_KV_DEPTH + 1)).unwrap_err();
    assert!(matches!(
        e.reason(),
        DecodeReason::NestingTooDeep {
            limit: MAX_KV_DEPTH
        }
    ));
    // a bomb far deeper than the limit is refused without deep recursion
    assert!(unpack_kv_list(&nested(5000)).is_err());
    // and the encoder refuses to produce what the decoder would refuse
    let mut deep = KvList::new();
    for _ in 0..MAX_KV_DEPTH {
        deep = KvList::new().with("n", deep);
    }
    let msg = Message::builder(MessageType::EventUserEvent)
        .user_data(&deep)
        .build();
    assert!(matches!(
        encode(&msg, &mut BytesMut::new()),
        Err(EncodeError::NestingTooDeep { .. })
    ));
}

#[test]
fn counts_beyond_the_bytes_present() {
    let e = unpack_kv_list(&[0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]).unwrap_err();
    assert_eq!(e.offset(), 0);
    assert!(matches!(
        e.reason(),
        DecodeReason::CountExceedsData {
            count: 65535,
            remaining: 7
        }
    ));
    // a string claiming more bytes than exist
    let e = unpack_kv_list(&[0, 1, 0, 0, kv_tag::STRING, 0xff, 0xff, 0xff, 0xff]).unwrap_err();
    assert!(matches!(
        e.reason(),
        DecodeReason::Truncated {
            what: "KV string",
            ..
        }
    ));
    // list length that leaves bytes unused
    let e = unpack_kv_list(&[0, 0, 1]).unwrap_err();
    assert!(matches!(
        e.reason(),
        DecodeReason::TrailingBytes { extra: 1, .. }
    ));
}

#[test]
fn unknown_type_and_attribute_survive_byte_for_byte() {
    let mut body = attr(4000, 200, b"\x00\x01opaque");
    body.extend(attr(20, tag::STR, b"1001"));
    body.extend(attr(12345, tag::STR, b"\xff\xfe not utf-8 but unknown"));
    let f = frame(4242, &body);
    let msg = decode(&f).unwrap();
    assert_eq!(msg.msg_type(), MessageType::Unknown(4242));
    assert_eq!(
        msg.get(AttributeId::Unknown(4000)),
        Some(Value::Raw {
            tag: 200,
            bytes: b"\x00\x01opaque"
        })
    );
    assert_eq!(msg.this_dn(), Some("1001"));
    assert_eq!(encoded(&msg), f);
}

#[test]
fn large_user_data_uses_an_extended_packet_and_round_trips() {
    let mut ud = KvList::new();
    for i in 0..500 {
        ud.push(
            format!("Key_{i:03}"),
            format!("value {i} of a large attached data set"),
        );
    }
    ud.push("bin", vec![0u8, 1, 2, 255]);
    ud.push("long", KvValue::Long(i64::MIN));
    ud.push("float", KvValue::Float(-0.5));
    ud.push("wide", KvValue::Unicode("日本語".into()));
    let msg = Message::builder(MessageType::EventAttachedDataChanged)
        .conn_id(ConnId(1))
        .user_data(&ud)
        .build();
    let bytes = encoded(&msg);
    assert!(bytes.len() > CLASSIC_MAX_PACKET);
    assert_eq!(bytes[0] & 0x80, 0x80, "extended flag set");
    let back = decode(&bytes).unwrap();
    assert_eq!(back, msg);
    assert_eq!(back.user_data().unwrap().to_kv_list(), ud);
    assert_eq!(encoded(&back), bytes);
    // small messages never carry the extended flag
    let small = encoded(
        &Message::builder(MessageType::EventAck)
            .reference_id(1)
            .build(),
    );
    assert_eq!(small[0] & 0x80, 0);
}

#[test]
fn encode_errors_leave_the_buffer_untouched() {
    let mut ud = KvList::new();
    for i in 0..1000 {
        ud.push(format!("k{i}"), "x".repeat(20));
    }
    let msg = Message::builder(MessageType::EventUserEvent)
        .user_data(&ud)
        .build();
    let mut dst = BytesMut::from(&b"prefix"[..]);
    let e = encode_with(&msg, &WireConfig::classic(), &mut dst).unwrap_err();
    assert!(matches!(
        e,
        EncodeError::TooLarge {
            limit: CLASSIC_MAX_DATA,
            ..
        }
    ));
    assert_eq!(&dst[..], b"prefix");
    let long_key = KvList::new().with("k".repeat(70_000), 1);
    assert!(matches!(
        pack_kv_list(&long_key, &mut dst),
        Err(EncodeError::KeyTooLong { length: 70_000 })
    ));
    assert_eq!(&dst[..], b"prefix");
}

#[test]
fn decoding_is_zero_copy() {
    let msg = Message::builder(MessageType::EventRinging)
        .this_dn("1001")
        .build();
    let bytes = Bytes::from(encoded(&msg));
    let back = decode_bytes(bytes.clone(), &WireConfig::default()).unwrap();
    let dn = back.this_dn().unwrap();
    let range = bytes.as_ptr_range();
    assert!(
        range.contains(&dn.as_ptr()),
        "ThisDN must point into the received frame"
    );
}

#[test]
fn table_entries_stay_small() {
    // WIRE.md promises decode tables proportional to the frame: 24-byte entries for items of
    // at least 7 bytes.
    assert!(std::mem::size_of::<crate::message::AttrEntry>() <= 24);
    assert!(std::mem::size_of::<crate::kvlist::KvEntry>() <= 24);
}
