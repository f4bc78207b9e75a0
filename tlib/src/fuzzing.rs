//! Entry points for the cargo-fuzz targets (`fuzz/fuzz_targets/tlib_*.rs`) and the stable
//! corpus replay test. Each decodes arbitrary bytes and, when they are valid, checks that
//! re-encoding reproduces them byte for byte.
//!
//! These functions panic when an invariant is broken: that is how a fuzzer reports a finding.
//! They never panic on merely malformed input.

use bytes::BytesMut;

use crate::wire::{self, WireConfig};

/// Decodes `data` as one frame (extended packets allowed); if valid, asserts the re-encoding
/// is identical, or, when strings were transcoded from Windows-1252 (not UTF-8 on the wire),
/// that the re-encoding is UTF-8 and decodes to the same message. Returns whether the frame
/// was valid.
pub fn frame(data: &[u8]) -> bool {
    let config = WireConfig::default();
    match wire::decode_bytes(bytes::Bytes::copy_from_slice(data), &config) {
        Ok(msg) => {
            let mut out = BytesMut::new();
            let encoded = wire::encode_with(&msg, &config, &mut out);
            assert!(
                encoded.is_ok(),
                "a decoded frame must re-encode: {encoded:?}"
            );
            if msg.transcoded_strings() == 0 {
                assert_eq!(&out[..], data, "decode-then-encode must be byte-identical");
            }
            let again = wire::decode_bytes(out.freeze(), &config);
            assert_eq!(
                again.as_ref().map(Message::transcoded_strings).ok(),
                Some(0),
                "a re-encoded message is UTF-8"
            );
            assert_eq!(
                again.as_ref().ok(),
                Some(&msg),
                "re-decoding must give the same message"
            );
            true
        }
        Err(e) => {
            assert!(e.offset() <= data.len(), "error offset past the input: {e}");
            false
        }
    }
}

/// Unpacks `data` as one packed KV list; if valid, asserts the re-packing is identical.
/// Returns whether the list was valid.
pub fn kvlist(data: &[u8]) -> bool {
    match wire::unpack_kv_list(data) {
        Ok(list) => {
            let mut out = BytesMut::new();
            let packed = wire::pack_kv_list(&list, &mut out);
            assert!(packed.is_ok(), "an unpacked list must re-pack: {packed:?}");
            let transcoded = std::str::from_utf8(data).is_err();
            if !transcoded {
                assert_eq!(&out[..], data, "unpack-then-pack must be byte-identical");
            }
            assert_eq!(
                wire::unpack_kv_list(&out).ok().as_ref(),
                Some(&list),
                "re-unpacking must give the same list"
            );
            true
        }
        Err(e) => {
            assert!(e.offset() <= data.len(), "error offset past the input: {e}");
            false
        }
    }
}

use crate::{
    AddressType, AgentWorkMode, CallType, CallUuid, ConnId, InputMask, KvList, KvValue, Message,
    MessageType, PartyState, PartyStateKind, RegisterMode,
};

fn uuid(s: &str) -> CallUuid {
    // The literals below are valid CallUUIDs; fall back to a fixed one rather than panic.
    s.parse().unwrap_or(CallUuid::PLACEHOLDER)
}

/// A realistic `EventCallPartyAdded` of about 300 bytes with a small UserData list: the
/// message the benchmark decodes.
pub fn sample_call_party_added() -> Message {
    let user_data = KvList::new()
        .with("CustomerSegment", "Gold")
        .with("AccountId", "4711-0815")
        .with("IVR_Language", "en-US")
        .with("Priority", 5)
        .with("VQ", "VQ_Sales_Inbound");
    Message::builder(MessageType::EventCallPartyAdded)
        .event_sequence_number(1_234_567)
        .time_stamp(1_764_000_000_123_456)
        .call_uuid(uuid("QK59HK4FS927D7FUU41G6IE468000004"))
        .conn_id(ConnId(0x0077_028a_809f_7004))
        .call_type(CallType::Inbound)
        .this_dn("5001")
        .other_dn("+14155550123")
        .ani("+14155550123")
        .dnis("8005550100")
        .party_state(PartyState::new(PartyStateKind::Alerting, false, false))
        .user_data(&user_data)
        .build()
}

/// An `EventUserEvent` whose UserData holds `pairs` string pairs (40 bytes each): 410
/// pairs give a frame just above 16 KiB, which needs an extended packet.
pub fn sample_large_user_data(pairs: usize) -> Message {
    let mut user_data = KvList::new();
    for i in 0..pairs {
        user_data.push(format!("Field_{i:04}"), format!("value-{i:06}-abcdefghij"));
    }
    Message::builder(MessageType::EventUserEvent)
        .conn_id(ConnId(0x0077_028a_809f_7005))
        .this_dn("5001")
        .user_data(&user_data)
        .build()
}

/// Realistic messages of many kinds, named, used to write the seed corpus of the fuzz
/// targets and in tests.
pub fn seed_messages() -> Vec<(&'static str, Message)> {
    let mut mask = InputMask::none();
    for t in [
        MessageType::EventRinging,
        MessageType::EventEstablished,
        MessageType::EventReleased,
    ] {
        mask.insert(t);
    }
    let nested = KvList::new()
        .with("Outer", "x")
        .with(
            "Inner",
            KvList::new()
                .with("Deep", KvList::new().with("Leaf", 1))
                .with("Wide", KvValue::Unicode("Grüße 日本".into())),
        )
        .with("Long", KvValue::Long(9_000_000_000))
        .with("Float", KvValue::Float(2.5))
        .with("Bin", vec![0u8, 255, 10]);
    vec![
        (
            "register_client",
            Message::builder(MessageType::RequestRegisterClient)
                .reference_id(1)
                .application_name("EXCP_1")
                .application_password("not-a-real-secret")
                .protocol_version("tserver protocol 4.2")
                .build(),
        ),
        (
            "register_address",
            Message::builder(MessageType::RequestRegisterAddress)
                .reference_id(2)
                .this_dn("5001")
                .register_mode(RegisterMode::Monitor)
                .address_type(AddressType::Dn)
                .control_mode(0)
                .build(),
        ),
        (
            "set_input_mask",
            Message::builder(MessageType::RequestSetInputMask)
                .reference_id(3)
                .input_mask(&mask)
                .build(),
        ),
        (
            "start_call_monitoring",
            Message::builder(MessageType::RequestStartCallMonitoring)
                .reference_id(4)
                .build(),
        ),
        (
            "event_registered",
            Message::builder(MessageType::EventRegistered)
                .reference_id(2)
                .this_dn("5001")
                .address_type(AddressType::Dn)
                .build(),
        ),
        (
            "event_error",
            Message::builder(MessageType::EventError)
                .reference_id(9)
                .error_code(71)
                .error_message("Invalid DN")
                .build(),
        ),
        (
            "event_ringing",
            Message::builder(MessageType::EventRinging)
                .conn_id(ConnId(0x0077_028a_809f_7004))
                .call_uuid(uuid("QK59HK4FS927D7FUU41G6IE468000004"))
                .call_type(CallType::Inbound)
                .this_dn("5001")
                .this_queue("8000")
                .other_dn("+14155550123")
                .ani("+14155550123")
                .dnis("8005550100")
                .user_data(&KvList::new().with("Customer", "4711"))
                .build(),
        ),
        (
            "event_released_extensions",
            Message::builder(MessageType::EventReleased)
                .conn_id(ConnId(0x0077_028a_809f_7004))
                .this_dn("5001")
                .extensions(&KvList::new().with("ReleasingParty", "1 Local"))
                .build(),
        ),
        (
            "event_agent_not_ready",
            Message::builder(MessageType::EventAgentNotReady)
                .this_dn("5001")
                .agent_id("agent007")
                .place("Place_5001")
                .agent_work_mode(AgentWorkMode::AfterCallWork)
                .reasons(&KvList::new().with("ReasonCode", "Lunch"))
                .build(),
        ),
        ("call_party_added", sample_call_party_added()),
        (
            "call_party_deleted",
            Message::builder(MessageType::EventCallPartyDeleted)
                .call_uuid(uuid("QK59HK4FS927D7FUU41G6IE468000004"))
                .conn_id(ConnId(0x0077_028a_809f_7004))
                .ctrl_party(2)
                .party_id(1)
                .build(),
        ),
        (
            "call_created_islinks",
            Message::builder(MessageType::EventCallCreated)
                .call_uuid(uuid("QK59HK4FS927D7FUU41G6IE468000005"))
                .orig_call_uuid(uuid("QK59HK4FS927D7FUU41G6IE468000004"))
                .conn_id(ConnId(0x0077_028a_809f_7010))
                .is_link_list(&KvList::new().with("SiteB", "0077028a809f7099"))
                .user_data(&nested)
                .build(),
        ),
        (
            "unknown_type_and_attribute",
            Message::builder(MessageType::Unknown(4242))
                .this_dn("5001")
                .try_attr(
                    crate::AttributeId::Unknown(3000),
                    crate::AttrInput::Raw {
                        tag: 99,
                        bytes: b"opaque future value",
                    },
                )
                .unwrap_or_else(|_| Message::builder(MessageType::Unknown(4242)))
                .build(),
        ),
        ("large_user_data", sample_large_user_data(410)),
    ]
}
