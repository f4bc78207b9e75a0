//! Property tests of the codec: encode → decode is the identity; decode → encode reproduces
//! the bytes; the stream codec splits concatenated frames at any chunking.

use bytes::BytesMut;
use engage_statserver::codec::StatCodec;
use engage_statserver::wire::{self, decode_frame, encode};
use engage_statserver::*;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_.@-]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(8).collect()),
    ]
}

fn action() -> impl Strategy<Value = DnAction> {
    (0u8..17).prop_map(|c| DnAction::from_code(c).unwrap_or(DnAction::NotMonitored))
}

fn kv_value() -> impl Strategy<Value = KvValue> {
    let leaf = prop_oneof![
        text().prop_map(KvValue::Str),
        any::<i32>().prop_map(KvValue::Int),
        any::<i64>().prop_map(KvValue::Long),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(KvValue::Binary),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        proptest::collection::vec((text(), inner), 0..4)
            .prop_map(|pairs| KvValue::List(pairs.into_iter().collect()))
    })
}

fn kvlist() -> impl Strategy<Value = KvList> {
    proptest::collection::vec((text(), kv_value()), 0..4).prop_map(|p| p.into_iter().collect())
}

fn action_record() -> impl Strategy<Value = ActionRecord> {
    (action(), any::<i64>(), any::<Option<u64>>(), kvlist()).prop_map(|(a, t, c, kv)| {
        let mut r = ActionRecord::new(a, t).with_attached_data(kv);
        if let Some(c) = c {
            r = r.with_conn_id(c);
        }
        r
    })
}

fn dn_status() -> impl Strategy<Value = DnStatus> {
    (
        text(),
        text(),
        any::<i64>(),
        proptest::collection::vec(action_record(), 0..4),
    )
        .prop_map(|(dn, sw, t, acts)| DnStatus::from_actions(dn, sw, t, acts))
}

fn place_status() -> impl Strategy<Value = PlaceStatus> {
    (
        text(),
        any::<i64>(),
        proptest::collection::vec(dn_status(), 0..3),
    )
        .prop_map(|(p, t, dns)| PlaceStatus::from_dns(p, t, dns))
}

fn stat_value() -> impl Strategy<Value = StatValue> {
    prop_oneof![
        any::<i64>().prop_map(StatValue::Long),
        (text(), place_status()).prop_map(|(a, p)| StatValue::AgentStatus(AgentStatus::new(a, p))),
        (text(), any::<i64>())
            .prop_map(|(a, t)| StatValue::AgentStatus(AgentStatus::logged_out(a, t))),
        place_status().prop_map(StatValue::PlaceStatus),
    ]
}

fn object() -> impl Strategy<Value = StatObject> {
    (text(), 0usize..6, text(), proptest::option::of(text())).prop_map(|(id, ty, tenant, pw)| {
        let mut o = StatObject::agent(id, tenant);
        o.object_type = [
            ObjectType::Agent,
            ObjectType::Place,
            ObjectType::GroupAgents,
            ObjectType::GroupPlaces,
            ObjectType::Queue,
            ObjectType::RoutePoint,
        ][ty];
        o.tenant_password = pw;
        o
    })
}

fn notification() -> impl Strategy<Value = Notification> {
    prop_oneof![
        Just(Notification::Immediate),
        any::<u32>().prop_map(|f| Notification::Changes { frequency_secs: f }),
        any::<u32>().prop_map(|f| Notification::Periodical { frequency_secs: f }),
        Just(Notification::NoNotification),
    ]
}

fn definition() -> impl Strategy<Value = StatDefinition> {
    prop_oneof![
        (text(), proptest::option::of(text())).prop_map(|(t, tp)| StatDefinition::Predefined {
            statistic_type: t,
            time_profile: tp
        }),
        (
            0usize..3,
            any::<bool>(),
            any::<u32>(),
            text(),
            0usize..3,
            any::<u32>()
        )
            .prop_map(|(cat, subj, mask, tp, iv, len)| {
                let mut m = StatMetricEx::current_state(if subj {
                    StatSubject::DnAction
                } else {
                    StatSubject::DnStatus
                });
                m.category = [
                    StatCategory::CurrentState,
                    StatCategory::CurrentTime,
                    StatCategory::TotalNumber,
                ][cat];
                m.main_mask = ActionMask::from_bits_truncate(mask);
                m.time_profile = tp;
                m.interval = [
                    TimeInterval::GrowingWindow,
                    TimeInterval::SlidingWindow { seconds: len },
                    TimeInterval::SingleInterval,
                ][iv];
                StatDefinition::Ex(m)
            }),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    let error_codes = [
        ErrorCode::UnknownObject,
        ErrorCode::UnknownStatistic,
        ErrorCode::DuplicateReference,
        ErrorCode::UnknownReference,
        ErrorCode::BadRequest,
        ErrorCode::Internal,
    ];
    prop_oneof![
        Just(Message::AddpPoll),
        Just(Message::AddpReply),
        (any::<u32>(), object(), definition(), notification()).prop_map(|(r, o, d, n)| {
            let mut spec = StatSpec::predefined(o, "x", n);
            spec.definition = d;
            Message::Request(spec.open_request(r))
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(r, u)| Message::Request(Request::Peek {
            reference_id: r,
            user_request_id: u
        })),
        any::<u32>().prop_map(|r| Message::Request(Request::Close { reference_id: r })),
        any::<u32>().prop_map(|r| Message::Event(Event::StatisticOpened { reference_id: r })),
        any::<u32>().prop_map(|r| Message::Event(Event::StatisticClosed { reference_id: r })),
        any::<u32>().prop_map(|r| Message::Event(Event::StatisticInvalid { reference_id: r })),
        any::<u32>().prop_map(|r| Message::Event(Event::StatisticValid { reference_id: r })),
        (any::<u32>(), any::<u32>(), any::<i64>(), stat_value()).prop_map(|(r, u, t, v)| {
            Message::Event(Event::Info {
                reference_id: r,
                user_request_id: u,
                server_time: t,
                value: v,
            })
        }),
        (proptest::option::of(any::<u32>()), 0usize..6, text()).prop_map(move |(r, c, m)| {
            Message::Event(Event::Error {
                reference_id: r,
                code: error_codes[c],
                message: m,
            })
        }),
        any::<bool>().prop_map(|p| Message::Event(Event::ServerMode {
            mode: if p {
                ServerMode::Primary
            } else {
                ServerMode::Backup
            }
        })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_decode_identity(msg in message()) {
        let mut buf = BytesMut::new();
        encode(&msg, &mut buf).unwrap();
        let decoded = decode_frame(&buf).unwrap();
        prop_assert_eq!(&decoded, &msg);
        // decode -> encode is byte-identical.
        let mut again = BytesMut::new();
        encode(&decoded, &mut again).unwrap();
        prop_assert_eq!(&again[..], &buf[..]);
    }

    #[test]
    fn stream_codec_splits_frames_at_any_chunking(
        msgs in proptest::collection::vec(message(), 1..6),
        chunk in 1usize..64,
    ) {
        let mut all = BytesMut::new();
        for m in &msgs {
            encode(m, &mut all).unwrap();
        }
        let mut codec = StatCodec::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in all.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                out.push(item.unwrap());
            }
        }
        prop_assert_eq!(out, msgs);
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn truncation_is_a_typed_error_never_a_panic(msg in message(), cut in any::<prop::sample::Index>()) {
        let mut buf = BytesMut::new();
        encode(&msg, &mut buf).unwrap();
        let n = cut.index(buf.len());
        let err = decode_frame(&buf[..n]).unwrap_err();
        prop_assert!(err.offset <= buf.len());
        prop_assert!(!err.to_string().is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        engage_statserver::fuzzing::frame(&data);
    }

    #[test]
    fn corrupted_frames_never_panic(msg in message(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut buf = BytesMut::new();
        encode(&msg, &mut buf).unwrap();
        let i = pos.index(buf.len());
        buf[i] = byte;
        engage_statserver::fuzzing::frame(&buf);
    }
}

#[test]
fn event_info_uses_public_message_id_2() {
    let msg = Message::Event(Event::Info {
        reference_id: 7,
        user_request_id: 0,
        server_time: 1,
        value: StatValue::Long(5),
    });
    let mut buf = BytesMut::new();
    encode(&msg, &mut buf).unwrap();
    assert_eq!(&buf[4..8], &2u32.to_be_bytes());
    assert_eq!(wire::ids::EVENT_INFO, 2);
}

#[test]
fn errors_name_offset_and_reason() {
    let msg = Message::Request(Request::Close { reference_id: 9 });
    let mut buf = BytesMut::new();
    encode(&msg, &mut buf).unwrap();
    // Frame: len(4) id(4) count(2) attr: id(2) ty(1) len(4) value(4).
    let mut bad = buf.clone();
    bad[12] = wire::types::STRING; // attribute type tag of ReferenceId
    let e = decode_frame(&bad).unwrap_err();
    assert_eq!(e.offset, 10);
    assert!(matches!(
        e.reason,
        DecodeReason::WrongAttributeType {
            attribute: "ReferenceId",
            ..
        }
    ));
    assert!(e.to_string().contains("byte 10"), "{e}");

    let mut unknown = buf.clone();
    unknown[4..8].copy_from_slice(&77u32.to_be_bytes());
    let e = decode_frame(&unknown).unwrap_err();
    assert_eq!(e.offset, 4);
    assert_eq!(e.reason, DecodeReason::UnknownMessage { id: 77 });

    // Missing attribute: zero attributes.
    let mut empty = BytesMut::new();
    empty.extend_from_slice(&6u32.to_be_bytes());
    empty.extend_from_slice(&104u32.to_be_bytes());
    empty.extend_from_slice(&0u16.to_be_bytes());
    let e = decode_frame(&empty).unwrap_err();
    assert!(matches!(
        e.reason,
        DecodeReason::MissingAttribute {
            message: "RequestCloseStatistic",
            attribute: "ReferenceId"
        }
    ));

    // Duplicate attribute.
    let mut dup = BytesMut::new();
    dup.extend_from_slice(&(6u32 + 22).to_be_bytes());
    dup.extend_from_slice(&104u32.to_be_bytes());
    dup.extend_from_slice(&2u16.to_be_bytes());
    for _ in 0..2 {
        dup.extend_from_slice(&[0, 1, 1, 0, 0, 0, 4, 0, 0, 0, 9]);
    }
    let e = decode_frame(&dup).unwrap_err();
    assert_eq!(e.offset, 21);
    assert_eq!(e.reason, DecodeReason::DuplicateAttribute { id: 1 });
}

#[test]
fn unknown_attributes_are_skipped() {
    let mut f = BytesMut::new();
    f.extend_from_slice(&(6u32 + 11 + 9).to_be_bytes());
    f.extend_from_slice(&104u32.to_be_bytes());
    f.extend_from_slice(&2u16.to_be_bytes());
    f.extend_from_slice(&[0x7f, 0x00, 3, 0, 0, 0, 2, b'h', b'i']);
    f.extend_from_slice(&[0, 1, 1, 0, 0, 0, 4, 0, 0, 0, 9]);
    assert_eq!(
        decode_frame(&f).unwrap(),
        Message::Request(Request::Close { reference_id: 9 })
    );
}

#[test]
fn forged_counts_do_not_allocate_beyond_the_frame() {
    // An EventInfo whose AgentStatus claims 65535 DNs and whose KV list claims 65535 pairs,
    // in a tiny frame: must fail with Truncated, quickly.
    let mut v = vec![2u8, 0, 1, b'a', 4];
    v.extend_from_slice(&0i64.to_be_bytes());
    v.extend_from_slice(&[0, 0, 4]);
    v.extend_from_slice(&0i64.to_be_bytes());
    v.extend_from_slice(&[0xff, 0xff]);
    let mut f = BytesMut::new();
    let attrs_len = 11 + 11 + 15 + 7 + v.len();
    f.extend_from_slice(&((6 + attrs_len) as u32).to_be_bytes());
    f.extend_from_slice(&2u32.to_be_bytes());
    f.extend_from_slice(&4u16.to_be_bytes());
    f.extend_from_slice(&[0, 1, 1, 0, 0, 0, 4, 0, 0, 0, 1]);
    f.extend_from_slice(&[0, 2, 1, 0, 0, 0, 4, 0, 0, 0, 0]);
    f.extend_from_slice(&[0, 16, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&[0, 17, 4]);
    f.extend_from_slice(&(v.len() as u32).to_be_bytes());
    f.extend_from_slice(&v);
    let e = decode_frame(&f).unwrap_err();
    assert!(
        matches!(e.reason, DecodeReason::Truncated { what: "DN id", .. }),
        "{e}"
    );
}

#[test]
fn frame_length_limits() {
    let mut codec = StatCodec::new(100);
    let mut buf = BytesMut::from(&[0u8, 0, 1, 0][..]);
    assert!(codec.decode(&mut buf).is_err());
    let mut buf = BytesMut::from(&[0u8, 0, 0, 2][..]);
    assert!(codec.decode(&mut buf).is_err());
    let big = Message::Event(Event::Error {
        reference_id: None,
        code: ErrorCode::Internal,
        message: "x".repeat(200),
    });
    let mut out = BytesMut::from(&b"keep"[..]);
    assert!(matches!(
        wire::encode_with_max(&big, &mut out, 100),
        Err(EncodeError::FrameTooLarge { .. })
    ));
    assert_eq!(&out[..], b"keep");
}

#[test]
fn kv_nesting_limit_is_enforced_both_ways() {
    let mut l = KvList::new().with_str("k", "v");
    for _ in 0..wire::value::MAX_KV_DEPTH {
        l = KvList::new().with("n", KvValue::List(l));
    }
    let mut buf = BytesMut::new();
    assert!(matches!(
        wire::value::encode_kvlist(&l, &mut buf),
        Err(EncodeError::TooDeep { .. })
    ));
}
