//! Property tests: encode-then-decode is identity for arbitrary messages of every type
//! (nested KV lists and unknown attributes included), and decode-then-encode is byte-identical
//! for every frame the decoder accepts.

use bytes::BytesMut;
use engage_tlib::wire::{self, WireConfig};
use engage_tlib::{
    AttrInput, AttrKind, AttributeId, ConnId, KvList, KvValue, Message, MessageType, TlibCodec,
    decode, encode,
};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

#[derive(Debug, Clone)]
enum TVal {
    Int(i32),
    Long(i64),
    Conn(u64),
    Str(String),
    Bin(Vec<u8>),
    Kv(KvList),
    Raw(u8, Vec<u8>),
}

impl TVal {
    fn input(&self) -> AttrInput<'_> {
        match self {
            TVal::Int(v) => AttrInput::Int(*v),
            TVal::Long(v) => AttrInput::Long(*v),
            TVal::Conn(v) => AttrInput::ConnId(ConnId(*v)),
            TVal::Str(s) => AttrInput::Str(s),
            TVal::Bin(b) => AttrInput::Binary(b),
            TVal::Kv(l) => AttrInput::KvList(l),
            TVal::Raw(tag, b) => AttrInput::Raw {
                tag: *tag,
                bytes: b,
            },
        }
    }
}

fn kv_leaf() -> impl Strategy<Value = KvValue> {
    prop_oneof![
        "\\PC{0,12}".prop_map(KvValue::String),
        any::<i32>().prop_map(KvValue::Int),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(KvValue::Binary),
        "\\PC{0,8}".prop_map(KvValue::Unicode),
        any::<i64>().prop_map(KvValue::Long),
        any::<f64>().prop_map(KvValue::Float),
    ]
}

fn kv_list() -> impl Strategy<Value = KvList> {
    let leaf_list = proptest::collection::vec(("\\PC{0,10}", kv_leaf()), 0..6).prop_map(|pairs| {
        pairs
            .into_iter()
            .fold(KvList::new(), |l, (k, v)| l.with(k, v))
    });
    leaf_list.prop_recursive(4, 48, 6, |inner| {
        proptest::collection::vec(
            (
                "\\PC{0,10}",
                prop_oneof![kv_leaf(), inner.prop_map(KvValue::List)],
            ),
            0..6,
        )
        .prop_map(|pairs| {
            pairs
                .into_iter()
                .fold(KvList::new(), |l, (k, v)| l.with(k, v))
        })
    })
}

fn value_of(kind: AttrKind) -> BoxedStrategy<TVal> {
    match kind {
        AttrKind::Int => any::<i32>().prop_map(TVal::Int).boxed(),
        AttrKind::Long => any::<i64>().prop_map(TVal::Long).boxed(),
        AttrKind::ConnId => any::<u64>().prop_map(TVal::Conn).boxed(),
        AttrKind::Str => "\\PC{0,24}".prop_map(TVal::Str).boxed(),
        AttrKind::CallUuid => "[0-9A-Z]{32}".prop_map(TVal::Str).boxed(),
        AttrKind::Binary => proptest::collection::vec(any::<u8>(), 0..32)
            .prop_map(TVal::Bin)
            .boxed(),
        AttrKind::InputMask => proptest::collection::vec(any::<u8>(), 64)
            .prop_map(TVal::Bin)
            .boxed(),
        AttrKind::KvList => kv_list().prop_map(TVal::Kv).boxed(),
        _ => any::<i32>().prop_map(TVal::Int).boxed(),
    }
}

fn attribute() -> impl Strategy<Value = (AttributeId, TVal)> {
    let known = proptest::sample::select(AttributeId::ALL).prop_flat_map(|id| {
        let kind = id.kind().unwrap_or(AttrKind::Int);
        value_of(kind).prop_map(move |v| (id, v))
    });
    let unknown = (
        any::<u16>().prop_filter("unknown attribute", |n| {
            matches!(AttributeId::from_u16(*n), AttributeId::Unknown(_))
        }),
        any::<u8>(),
        proptest::collection::vec(any::<u8>(), 0..24),
    )
        .prop_map(|(n, tag, bytes)| (AttributeId::from_u16(n), TVal::Raw(tag, bytes)));
    prop_oneof![4 => known, 1 => unknown]
}

fn message_type() -> impl Strategy<Value = MessageType> {
    prop_oneof![
        3 => proptest::sample::select(MessageType::ALL),
        1 => any::<u32>().prop_map(MessageType::from_u32),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (
        message_type(),
        proptest::collection::vec(attribute(), 0..12),
    )
        .prop_map(|(t, attrs)| {
            let mut b = Message::builder(t);
            for (id, v) in &attrs {
                b = b
                    .try_attr(*id, v.input())
                    .expect("generated values match their kind");
            }
            b.build()
        })
}

fn bytes_of(msg: &Message) -> Vec<u8> {
    let mut b = BytesMut::new();
    encode(msg, &mut b).expect("generated messages encode");
    b.to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_decode_is_identity(msg in message()) {
        let bytes = bytes_of(&msg);
        let back = decode(&bytes).expect("our own encoding decodes");
        prop_assert_eq!(&back, &msg);
        prop_assert_eq!(back.attr_count(), msg.attr_count());
        // and decode-then-encode reproduces the frame
        prop_assert_eq!(bytes_of(&back), bytes);
    }

    #[test]
    fn mutated_frames_never_panic_and_valid_ones_reencode_identically(
        msg in message(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = bytes_of(&msg);
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        // asserts byte identity itself when the mutated frame is still valid
        engage_tlib::fuzzing::frame(&bytes);
    }

    #[test]
    fn arbitrary_bodies_never_panic(msg_type: u32, body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut frame = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&msg_type.to_be_bytes());
        frame.extend_from_slice(&body);
        engage_tlib::fuzzing::frame(&frame);
    }

    #[test]
    fn kv_lists_pack_and_unpack(list in kv_list()) {
        let mut packed = BytesMut::new();
        wire::pack_kv_list(&list, &mut packed).expect("packs");
        prop_assert_eq!(&packed[..2], &(list.len() as u16).to_be_bytes()[..]);
        prop_assert_eq!(wire::unpack_kv_list(&packed).expect("unpacks"), list);
        prop_assert!(engage_tlib::fuzzing::kvlist(&packed));
    }

    #[test]
    fn arbitrary_kv_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        engage_tlib::fuzzing::kvlist(&bytes);
    }

    #[test]
    fn codec_reassembles_any_split(
        msgs in proptest::collection::vec(message(), 1..4),
        chunk in 1usize..64,
    ) {
        let mut codec = TlibCodec::new(WireConfig::default());
        let mut stream = BytesMut::new();
        for m in &msgs {
            codec.encode(m, &mut stream).expect("encodes");
        }
        let mut src = BytesMut::new();
        let mut out = Vec::new();
        for piece in stream.chunks(chunk) {
            src.extend_from_slice(piece);
            while let Some(m) = codec.decode(&mut src).expect("valid stream") {
                out.push(m);
            }
        }
        prop_assert_eq!(out, msgs);
    }
}
