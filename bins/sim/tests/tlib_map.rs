//! The TLib mapping both ways (EXCP's decode half, the simulator's encode half): every
//! scenario event round-trips exactly, also through the real codec; proptests; errors.
#![allow(missing_docs)]
use engage_callmodel::EngageEvent;
use engage_callmodel::input::{
    CallCreated, CallDataChanged, CallDeleted, CallRef, CallType, DnType, Party, PartyDeleted,
    PartyEvent, PartyMoved, PartyRole, PartyState, UserEvent, VqEvent,
};
use engage_callmodel::scenario::Scenario;
use engage_excp::tlib_map::*;
use engage_sim::tlib_encode::tlib_message;
use engage_tlib::wire::encode_with;
use engage_tlib::{AttrInput, KvValue, WireConfig, decode_bytes};
use engage_tlib::{AttributeId, ConnId, KvList, Message, MessageBuilder, MessageType};
use proptest::prelude::*;
use std::collections::BTreeMap;

const UUID_A: &str = "QK59HK4FS927D7FUU41G6IE468000004";
const UUID_B: &str = "QK59HK4FS927D7FUU41G6IE468000005";

/// Encodes with the wire codec (extended packets allowed), decodes, and maps.
fn through_codec(msg: &Message) -> Result<Option<EngageEvent>> {
    let config = WireConfig::default();
    let mut buf = Default::default();
    encode_with(msg, &config, &mut buf).expect("a mapped message encodes");
    let back = decode_bytes(buf.freeze(), &config).expect("an encoded message decodes");
    assert_eq!(&back, msg, "the codec changed the message");
    engage_event(&back)
}

fn scenario_events() -> Vec<(String, EngageEvent)> {
    let all = Scenario::load_dir(&Scenario::project_dir()).unwrap();
    assert!(!all.is_empty());
    all.iter()
        .flat_map(|(path, s)| {
            let name = path.display().to_string();
            s.events().map(move |e| (name.clone(), e.clone()))
        })
        .collect()
}

#[test]
fn every_scenario_event_round_trips() {
    let events = scenario_events();
    assert!(events.len() > 200, "{} events", events.len());
    let mut seen = std::collections::BTreeSet::new();
    for (file, e) in &events {
        let msg = tlib_message(e).unwrap_or_else(|err| panic!("{file}: {err}"));
        seen.insert(msg.msg_type().as_u32());
        assert_eq!(
            engage_event(&msg).unwrap_or_else(|err| panic!("{file}: {err}")),
            Some(e.clone()),
            "{file}"
        );
    }
    // The scenario files exercise every used message type.
    assert_eq!(seen.len(), USED_TYPES.len(), "{seen:?}");
}

#[test]
fn every_scenario_event_round_trips_through_the_codec() {
    for (file, e) in scenario_events() {
        let msg = tlib_message(&e).unwrap();
        assert_eq!(
            through_codec(&msg).unwrap_or_else(|err| panic!("{file}: {err}")),
            Some(e),
            "{file}"
        );
    }
}

#[test]
fn unused_message_types_are_none() {
    let base = Message::builder(MessageType::EventCallPartyAdded)
        .time_stamp(1)
        .call_uuid(UUID_A.parse().unwrap());
    for t in MessageType::ALL
        .iter()
        .copied()
        .chain([MessageType::Unknown(4242)])
    {
        let mut b = Message::builder(t);
        for (id, v) in base.clone().build().attributes() {
            b = b.try_attr(id, v.into()).unwrap();
        }
        let m = b.build();
        if USED_TYPES.contains(&t) {
            assert_ne!(engage_event(&m), Ok(None), "{t}: a used type");
        } else {
            assert_eq!(engage_event(&m), Ok(None), "{t}");
        }
    }
    for (name, m) in engage_tlib::fuzzing::seed_messages() {
        if !USED_TYPES.contains(&m.msg_type()) {
            assert_eq!(engage_event(&m), Ok(None), "{name}");
        }
    }
}

fn party_added() -> MessageBuilder {
    Message::builder(MessageType::EventCallPartyAdded)
        .time_stamp(1_764_000_000_123_456)
        .call_uuid(UUID_A.parse().unwrap())
        .conn_id(ConnId(0x0077_028a_809f_7004))
        .party_uuid("p1")
        .this_dn("7001")
        .party_state(engage_tlib::PartyState(0xA))
}

#[test]
fn a_real_looking_party_event_maps_with_defaults() {
    let e = engage_event(&party_added().build()).unwrap().unwrap();
    let EngageEvent::EventCallPartyAdded(p) = e else {
        panic!("{e:?}")
    };
    // Microseconds to milliseconds, rounded down.
    assert_eq!(p.call.time, 1_764_000_000_123);
    assert_eq!(p.call.conn_id, "0077028a809f7004");
    assert_eq!(p.call.site, None);
    assert!(p.call.is_link_list.is_empty());
    assert_eq!(
        p.party,
        Party {
            party_id: "p1".into(),
            dn: "7001".into(),
            dn_type: DnType::Other,
            role: PartyRole::Destination,
            state: PartyState::Alerting,
        }
    );
}

#[test]
fn missing_mandatory_attributes_are_named() {
    let cases: [(MessageBuilder, &str); 4] = [
        (
            Message::builder(MessageType::EventCallDeleted).time_stamp(5),
            "CallUUID",
        ),
        (
            Message::builder(MessageType::EventCallDeleted).call_uuid(UUID_A.parse().unwrap()),
            "TimeStamp",
        ),
        (
            Message::builder(MessageType::EventUserEvent).time_stamp(5),
            "ThisDN",
        ),
        (
            Message::builder(MessageType::EventCallPartyMoved)
                .time_stamp(5)
                .call_uuid(UUID_A.parse().unwrap())
                .party_uuid("p1")
                .this_dn("7001")
                .party_state(engage_tlib::PartyState(0xC)),
            "Extensions.EX_FromCallUUID",
        ),
    ];
    for (b, attribute) in cases {
        let m = b.build();
        let err = engage_event(&m).unwrap_err();
        assert_eq!(
            err,
            TlibMapError::Missing {
                msg_type: m.msg_type(),
                attribute: attribute.into()
            }
        );
        let text = err.to_string();
        assert!(text.contains(attribute) && text.contains("check"), "{text}");
    }
    // A party without a state, inside EX_Parties.
    let ext = KvList::new().with(
        EXT_PARTIES,
        KvList::new().with(
            PARTY_KEY,
            KvList::new().with(P_UUID, "p1").with(P_DN, "7001"),
        ),
    );
    let m = Message::builder(MessageType::EventCallCreated)
        .time_stamp(5)
        .call_uuid(UUID_A.parse().unwrap())
        .extensions(&ext)
        .build();
    assert_eq!(
        engage_event(&m).unwrap_err(),
        TlibMapError::Missing {
            msg_type: MessageType::EventCallCreated,
            attribute: "Extensions.EX_Parties[0].PartyState".into()
        }
    );
}

#[test]
fn invalid_attributes_are_named() {
    let invalid = |m: Message| match engage_event(&m) {
        Err(TlibMapError::Invalid { attribute, .. }) => attribute,
        other => panic!("{other:?}"),
    };
    // A party event: `first` goes in front, so it wins over the complete event's attributes.
    let party = |first: MessageBuilder| {
        let mut b = first;
        for (id, v) in party_added().build().attributes() {
            b = b.try_attr(id, v.into()).unwrap();
        }
        b.build()
    };
    let state = MessageType::EventCallPartyState;
    assert_eq!(
        invalid(party(Message::builder(state).time_stamp(-1))),
        "TimeStamp"
    );
    assert_eq!(
        invalid(party(
            Message::builder(state).party_state(engage_tlib::PartyState(0x5))
        )),
        "PartyState"
    );
    assert_eq!(
        invalid(party(Message::builder(state).this_dn_role(4))),
        "ThisDNRole"
    );
    assert_eq!(
        invalid(party(
            Message::builder(state).extensions(&KvList::new().with(EXT_PARTY_ROLE, "Boss"))
        )),
        "Extensions.EX_PartyRole"
    );
    assert_eq!(
        invalid(party(
            Message::builder(state).extensions(&KvList::new().with(EXT_DN_TYPE, "Trunk"))
        )),
        "Extensions.EX_DNType"
    );
    let created = |first: MessageBuilder| {
        first
            .time_stamp(1_000)
            .call_uuid(UUID_A.parse().unwrap())
            .build()
    };
    let call_created = MessageType::EventCallCreated;
    let bad_type =
        created(Message::builder(call_created).call_type(engage_tlib::CallType::from_i32(9)));
    assert_eq!(invalid(bad_type.clone()), "CallType");
    let text = engage_event(&bad_type).unwrap_err().to_string();
    assert!(
        text.contains("EventCallCreated(160)") && text.contains("9 is not a call type"),
        "{text}"
    );
    assert_eq!(
        invalid(created(
            Message::builder(call_created).is_link_list(&KvList::new().with("SiteB", 7))
        )),
        "ISLinkList[0]"
    );
    assert_eq!(
        invalid(created(Message::builder(call_created).extensions(
            &KvList::new().with(EXT_PARTIES, KvList::new().with("x", 1))
        ))),
        "Extensions.EX_Parties[0]"
    );
}

#[test]
fn a_consult_calls_main_call_travels_in_orig_call_uuid() {
    let base = CallCreated {
        call: CallRef {
            time: 1_000,
            call_uuid: UUID_A.into(),
            ..CallRef::default()
        },
        call_type: CallType::Consult,
        ..CallCreated::default()
    };
    // Main call only: the public OrigCallUUID, no Extensions key.
    let main_only = CallCreated {
        main_call_uuid: Some(UUID_B.into()),
        ..base.clone()
    };
    let m = tlib_message(&EngageEvent::EventCallCreated(main_only.clone())).unwrap();
    assert_eq!(
        m.orig_call_uuid().map(|u| u.to_string()),
        Some(UUID_B.to_string())
    );
    assert_eq!(
        engage_event(&m).unwrap(),
        Some(EngageEvent::EventCallCreated(main_only))
    );
    // As a real SIP Server sends it: CallType Consult with OrigCallUUID.
    let real = Message::builder(MessageType::EventCallCreated)
        .time_stamp(1_000_000)
        .call_uuid(UUID_A.parse().unwrap())
        .call_type(engage_tlib::CallType::from_i32(4))
        .orig_call_uuid(UUID_B.parse().unwrap())
        .build();
    match engage_event(&real).unwrap() {
        Some(EngageEvent::EventCallCreated(c)) => {
            assert_eq!(c.main_call_uuid.as_deref(), Some(UUID_B));
            assert_eq!(c.orig_call_uuid, None);
        }
        other => panic!("{other:?}"),
    }
    // A consult leg with only a multi-site origin keeps it as the origin.
    let orig_only = CallCreated {
        orig_call_uuid: Some(UUID_B.into()),
        ..base.clone()
    };
    let m = tlib_message(&EngageEvent::EventCallCreated(orig_only.clone())).unwrap();
    assert_eq!(
        engage_event(&m).unwrap(),
        Some(EngageEvent::EventCallCreated(orig_only))
    );
    // Both: main in Extensions, origin in OrigCallUUID.
    let both = CallCreated {
        main_call_uuid: Some(UUID_B.into()),
        orig_call_uuid: Some(UUID_A.into()),
        ..base.clone()
    };
    let m = tlib_message(&EngageEvent::EventCallCreated(both.clone())).unwrap();
    assert_eq!(
        engage_event(&m).unwrap(),
        Some(EngageEvent::EventCallCreated(both))
    );
    let empty = CallCreated {
        main_call_uuid: Some(String::new()),
        ..base
    };
    assert!(tlib_message(&EngageEvent::EventCallCreated(empty)).is_err());
}

#[test]
fn public_codes_are_pinned() {
    for (t, code) in [
        (CallType::Unknown, 0),
        (CallType::Internal, 1),
        (CallType::Inbound, 2),
        (CallType::Outbound, 3),
        (CallType::Consult, 4),
    ] {
        assert_eq!(call_type_code(t), Some(code));
        assert_eq!(call_type_from_code(code), Some(t));
    }
    assert_eq!(call_type_from_code(5), None);
    for (s, code) in [
        (PartyState::Initiated, 0x1),
        (PartyState::Queued, 0x9),
        (PartyState::Alerting, 0xA),
        (PartyState::Busy, 0xB),
        (PartyState::Connected, 0xC),
        (PartyState::Held, 0xE),
        (PartyState::Failed, 0xF),
    ] {
        assert_eq!(party_state_code(s), Some(code));
        assert_eq!(party_state_from_code(code), Some(s));
        // The Dialing and Uncertain modifiers do not change the base state.
        assert_eq!(party_state_from_code(code | 0x30000), Some(s));
    }
    assert_eq!(party_state_from_code(0xD), None);
    for (r, code) in [
        (PartyRole::Origination, 1),
        (PartyRole::Destination, 2),
        (PartyRole::ConferenceMember, 3),
        (PartyRole::Observer, 10),
    ] {
        assert!(matches!(role_on_wire(r), Some(RoleOnWire::Code(c)) if c == code));
        assert_eq!(role_from_code(code), Some(r));
    }
    assert!(matches!(
        role_on_wire(PartyRole::InterSite),
        Some(RoleOnWire::InterSite)
    ));
    assert_eq!(role_from_code(0), Some(PartyRole::Destination));
    assert_eq!(role_from_code(4), None);
    for (t, code) in [
        (DnType::Extension, 1),
        (DnType::AcdQueue, 3),
        (DnType::RoutingPoint, 4),
        (DnType::Trunk, 14),
        (DnType::Other, 0),
    ] {
        assert_eq!(dn_type_code(t), Some(code));
        assert_eq!(dn_type_from_code(code), t);
    }
    assert_eq!(dn_type_from_code(5), DnType::Other);
}

#[test]
fn times_are_microseconds() {
    let e = EngageEvent::EventCallDeleted(CallDeleted {
        call: CallRef {
            time: 1_764_000_000_123,
            call_uuid: UUID_A.into(),
            ..Default::default()
        },
        ctrl_party_id: None,
    });
    let m = tlib_message(&e).unwrap();
    assert_eq!(m.time_stamp(), Some(1_764_000_000_123_000));
    assert_eq!(engage_event(&m).unwrap(), Some(e));
    let max = i64::MAX / 1000;
    for (ms, ok) in [
        (0, true),
        (max as u64, true),
        (max as u64 + 1, false),
        (u64::MAX, false),
    ] {
        let e = EngageEvent::EventUserEvent(UserEvent {
            time: ms,
            dn: "7001".into(),
            ..Default::default()
        });
        match tlib_message(&e) {
            Ok(m) => {
                assert!(ok, "{ms}");
                assert_eq!(engage_event(&m).unwrap(), Some(e));
            }
            Err(TlibMapError::Unrepresentable { field, .. }) => {
                assert!(!ok, "{ms}");
                assert_eq!(field, "time");
            }
            Err(other) => panic!("{other:?}"),
        }
    }
}

#[test]
fn unrepresentable_fields_are_named() {
    let field = |e: EngageEvent| match tlib_message(&e) {
        Err(TlibMapError::Unrepresentable { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    let call = |uuid: &str, conn: &str| CallRef {
        time: 1,
        call_uuid: uuid.into(),
        conn_id: conn.into(),
        ..Default::default()
    };
    assert_eq!(
        field(EngageEvent::EventCallDeleted(CallDeleted {
            call: call("CALL1", ""),
            ctrl_party_id: None
        })),
        "call.callUuid"
    );
    assert_eq!(
        field(EngageEvent::EventCallDeleted(CallDeleted {
            call: call(UUID_A, "0077028A809F7004"),
            ctrl_party_id: None
        })),
        "call.connId"
    );
    assert_eq!(
        field(EngageEvent::EventCallCreated(CallCreated {
            call: call(UUID_A, "0077028a809f7004"),
            orig_call_uuid: Some("short".into()),
            ..Default::default()
        })),
        "origCallUuid"
    );
    assert_eq!(
        field(EngageEvent::EventUserEvent(UserEvent {
            dn: "7001".into(),
            call_uuid: Some("x".into()),
            ..Default::default()
        })),
        "callUuid"
    );
    let mut long_key = BTreeMap::new();
    long_key.insert("k".repeat(KV_MAX + 1), "v".to_owned());
    assert_eq!(
        field(EngageEvent::EventCallDataChanged(CallDataChanged {
            call: call(UUID_A, ""),
            user_data: long_key
        })),
        "userData"
    );
    let err = tlib_message(&EngageEvent::EventCallDeleted(CallDeleted {
        call: call("CALL1", ""),
        ctrl_party_id: None,
    }))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("EventCallDeleted") && err.contains("32 ASCII"),
        "{err}"
    );
}

#[test]
fn user_data_values_become_text() {
    let ud = KvList::new()
        .with("s", "text")
        .with("u", KvValue::Unicode("Grüße".into()))
        .with("i", -3)
        .with("l", KvValue::Long(9_000_000_000))
        .with("f", KvValue::Float(2.5))
        .with("b", vec![1u8, 2])
        .with("n", KvList::new().with("x", "y"))
        .with("s", "second")
        .with("b", "after a skipped value");
    let m = Message::builder(MessageType::EventCallDataChanged)
        .time_stamp(1_000)
        .call_uuid(UUID_A.parse().unwrap())
        .user_data(&ud)
        .build();
    let Some(EngageEvent::EventCallDataChanged(e)) = engage_event(&m).unwrap() else {
        panic!()
    };
    let expected: BTreeMap<String, String> = [
        ("s", "text"),
        ("u", "Grüße"),
        ("i", "-3"),
        ("l", "9000000000"),
        ("b", "after a skipped value"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(e.user_data, expected);
}

#[test]
fn tlib_sample_messages_map() {
    // tlib's realistic call-created sample: ISLinkList values are link ids.
    let (_, m) = engage_tlib::fuzzing::seed_messages()
        .into_iter()
        .find(|(n, _)| *n == "call_created_islinks")
        .unwrap();
    let m = m.to_builder().time_stamp(2_000_000).build();
    let Some(EngageEvent::EventCallCreated(c)) = engage_event(&m).unwrap() else {
        panic!()
    };
    assert_eq!(c.call.is_link_list, vec!["0077028a809f7099".to_owned()]);
    assert_eq!(c.orig_call_uuid.as_deref(), Some(UUID_A));
    assert_eq!(c.call.time, 2_000);
    assert_eq!(c.call_type, CallType::Unknown);
    assert_eq!(
        c.user_data.get("Long").map(String::as_str),
        Some("9000000000")
    );
    // tlib's party-added sample names no party: PartyUUID is mandatory.
    let sample = engage_tlib::fuzzing::sample_call_party_added();
    assert_eq!(
        engage_event(&sample),
        Err(TlibMapError::Missing {
            msg_type: MessageType::EventCallPartyAdded,
            attribute: "PartyUUID".into()
        })
    );
    // With a party number it maps (PartyID in decimal).
    let numbered = sample.to_builder().party_id(3).build();
    let Some(EngageEvent::EventCallPartyAdded(p)) = engage_event(&numbered).unwrap() else {
        panic!()
    };
    assert_eq!(p.call.time, 1_764_000_000_123);
    assert_eq!(p.party.party_id, "3");
    assert_eq!(p.party.dn, "5001");
    assert_eq!(p.party.state, PartyState::Alerting);
    // tlib's party-deleted sample: PartyID 1, CtrlParty 2.
    let (_, m) = engage_tlib::fuzzing::seed_messages()
        .into_iter()
        .find(|(n, _)| *n == "call_party_deleted")
        .unwrap();
    let m = m.to_builder().time_stamp(7_000).build();
    let Some(EngageEvent::EventCallPartyDeleted(d)) = engage_event(&m).unwrap() else {
        panic!()
    };
    assert_eq!(d.party_id, "1");
    assert_eq!(d.ctrl_party_id.as_deref(), Some("2"));
    assert_eq!(d.call.conn_id, "0077028a809f7004");
}

// ----- generated events -----

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[a-zA-Z0-9+_]{0,10}",
        1 => any::<String>(),
    ]
    .boxed()
}

fn call_uuid() -> BoxedStrategy<String> {
    prop_oneof![8 => "[A-Za-z0-9]{32}", 1 => text(), 1 => "[A-Za-z0-9]{31,33}"].boxed()
}

fn conn_id() -> BoxedStrategy<String> {
    prop_oneof![
        2 => Just(String::new()),
        6 => "[0-9a-f]{16}",
        1 => "[0-9a-fA-F]{16}",
        1 => text(),
    ]
    .boxed()
}

fn time() -> BoxedStrategy<u64> {
    prop_oneof![8 => 0u64..4_000_000_000_000, 1 => any::<u64>(), 1 => Just(i64::MAX as u64 / 1000)]
        .boxed()
}

fn call_ref() -> BoxedStrategy<CallRef> {
    (
        time(),
        proptest::option::of(text()),
        call_uuid(),
        conn_id(),
        proptest::collection::vec(text(), 0..3),
    )
        .prop_map(|(time, site, call_uuid, conn_id, is_link_list)| CallRef {
            time,
            site,
            call_uuid,
            conn_id,
            is_link_list,
        })
        .boxed()
}

fn party() -> BoxedStrategy<Party> {
    (
        text(),
        text(),
        prop_oneof![
            Just(DnType::Extension),
            Just(DnType::RoutingPoint),
            Just(DnType::Trunk),
            Just(DnType::AcdQueue),
            Just(DnType::Other),
        ],
        prop_oneof![
            Just(PartyRole::Origination),
            Just(PartyRole::Destination),
            Just(PartyRole::ConferenceMember),
            Just(PartyRole::Observer),
            Just(PartyRole::InterSite),
        ],
        prop_oneof![
            Just(PartyState::Initiated),
            Just(PartyState::Queued),
            Just(PartyState::Alerting),
            Just(PartyState::Busy),
            Just(PartyState::Connected),
            Just(PartyState::Held),
            Just(PartyState::Failed),
        ],
    )
        .prop_map(|(party_id, dn, dn_type, role, state)| Party {
            party_id,
            dn,
            dn_type,
            role,
            state,
        })
        .boxed()
}

fn user_data() -> BoxedStrategy<BTreeMap<String, String>> {
    proptest::collection::btree_map(text(), text(), 0..4).boxed()
}

fn event() -> BoxedStrategy<EngageEvent> {
    let vq = (
        call_ref(),
        text(),
        proptest::option::of(text()),
        any::<bool>(),
    )
        .prop_map(|(call, vq, target_dn, queued)| {
            let e = VqEvent {
                call,
                vq,
                target_dn,
            };
            if queued {
                EngageEvent::EventQueued(e)
            } else {
                EngageEvent::EventDiverted(e)
            }
        });
    let user = (
        time(),
        proptest::option::of(text()),
        text(),
        proptest::option::of(call_uuid()),
        conn_id(),
        proptest::collection::vec(text(), 0..3),
        user_data(),
    )
        .prop_map(
            |(time, site, dn, call_uuid, conn_id, participants, user_data)| {
                EngageEvent::EventUserEvent(UserEvent {
                    time,
                    site,
                    dn,
                    call_uuid,
                    conn_id,
                    participants,
                    user_data,
                })
            },
        );
    let created = (
        call_ref(),
        prop_oneof![
            Just(CallType::Unknown),
            Just(CallType::Internal),
            Just(CallType::Inbound),
            Just(CallType::Outbound),
            Just(CallType::Consult),
        ],
        proptest::option::of(text()),
        proptest::option::of(call_uuid()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        user_data(),
        proptest::collection::vec(party(), 0..4),
    )
        .prop_map(
            |(call, call_type, main_call_uuid, orig_call_uuid, ani, dnis, user_data, parties)| {
                EngageEvent::EventCallCreated(CallCreated {
                    call,
                    call_type,
                    main_call_uuid,
                    orig_call_uuid,
                    ani,
                    dnis,
                    user_data,
                    parties,
                })
            },
        );
    let changed = (call_ref(), user_data()).prop_map(|(call, user_data)| {
        EngageEvent::EventCallDataChanged(CallDataChanged { call, user_data })
    });
    let deleted = (call_ref(), proptest::option::of(text())).prop_map(|(call, ctrl)| {
        EngageEvent::EventCallDeleted(CallDeleted {
            call,
            ctrl_party_id: ctrl,
        })
    });
    let party_ev = (call_ref(), party(), any::<bool>()).prop_map(|(call, party, added)| {
        let e = PartyEvent { call, party };
        if added {
            EngageEvent::EventCallPartyAdded(e)
        } else {
            EngageEvent::EventCallPartyState(e)
        }
    });
    let moved = (call_ref(), party(), text(), text()).prop_map(
        |(call, party, from_call_uuid, from_party_id)| {
            EngageEvent::EventCallPartyMoved(PartyMoved {
                call,
                party,
                from_call_uuid,
                from_party_id,
            })
        },
    );
    let party_deleted = (call_ref(), text(), proptest::option::of(text())).prop_map(
        |(call, party_id, ctrl_party_id)| {
            EngageEvent::EventCallPartyDeleted(PartyDeleted {
                call,
                party_id,
                ctrl_party_id,
            })
        },
    );
    prop_oneof![
        vq,
        user,
        created,
        changed,
        deleted,
        party_ev,
        moved,
        party_deleted
    ]
    .boxed()
}

/// Whether TLib can carry the event, decided independently of `tlib_message`.
fn representable(e: &EngageEvent) -> bool {
    let uuid_ok = |s: &str| s.len() == 32 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let conn_ok = |s: &str| {
        s.is_empty()
            || (s.len() == 16
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    };
    let time_ok = |t: u64| t <= (i64::MAX / 1000) as u64;
    let call_ok = |c: &CallRef| uuid_ok(&c.call_uuid) && conn_ok(&c.conn_id) && time_ok(c.time);
    match e {
        EngageEvent::EventUserEvent(u) => {
            time_ok(u.time) && conn_ok(&u.conn_id) && u.call_uuid.as_deref().is_none_or(uuid_ok)
        }
        EngageEvent::EventCallCreated(c) => {
            call_ok(&c.call)
                && c.orig_call_uuid.as_deref().is_none_or(uuid_ok)
                && c.main_call_uuid.as_deref() != Some("")
        }
        other => other.call_ref().is_some_and(call_ok),
    }
}

/// Makes the call-model fuzzer's ids valid TLib ids (its CallUUIDs are `CALL<n>`).
fn pad_call_uuids(e: &mut EngageEvent) {
    let pad = |s: &mut String| *s = format!("{s:0<32}");
    match e {
        EngageEvent::EventQueued(v) | EngageEvent::EventDiverted(v) => pad(&mut v.call.call_uuid),
        EngageEvent::EventUserEvent(u) => {
            if let Some(c) = &mut u.call_uuid {
                pad(c);
            }
        }
        EngageEvent::EventCallCreated(c) => pad(&mut c.call.call_uuid),
        EngageEvent::EventCallDataChanged(c) => pad(&mut c.call.call_uuid),
        EngageEvent::EventCallDeleted(c) => pad(&mut c.call.call_uuid),
        EngageEvent::EventCallPartyAdded(p) | EngageEvent::EventCallPartyState(p) => {
            pad(&mut p.call.call_uuid)
        }
        EngageEvent::EventCallPartyMoved(p) => pad(&mut p.call.call_uuid),
        EngageEvent::EventCallPartyDeleted(p) => pad(&mut p.call.call_uuid),
        _ => {}
    }
}

/// Arbitrary KV lists, including this module's keys with values of any kind.
fn kv_list() -> BoxedStrategy<KvList> {
    let key = prop_oneof![
        Just(EXT_SITE.to_owned()),
        Just(EXT_MAIN_CALL_UUID.to_owned()),
        Just(EXT_PARTIES.to_owned()),
        Just(EXT_PARTICIPANTS.to_owned()),
        Just(EXT_DN_TYPE.to_owned()),
        Just(EXT_PARTY_ROLE.to_owned()),
        Just(EXT_CTRL_PARTY_UUID.to_owned()),
        Just(EXT_FROM_CALL_UUID.to_owned()),
        Just(EXT_FROM_PARTY_UUID.to_owned()),
        Just(P_UUID.to_owned()),
        Just(P_DN.to_owned()),
        Just(P_STATE.to_owned()),
        Just(P_ROLE.to_owned()),
        Just(INTER_SITE.to_owned()),
        text(),
    ];
    let leaf = prop_oneof![
        text().prop_map(KvValue::String),
        text().prop_map(KvValue::Unicode),
        any::<i32>().prop_map(KvValue::Int),
        prop_oneof![Just(0xC), Just(0x1000A), Just(10), Just(14)].prop_map(KvValue::Int),
        any::<i64>().prop_map(KvValue::Long),
        any::<f64>().prop_map(KvValue::Float),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(KvValue::Binary),
    ];
    let value = leaf.prop_recursive(3, 24, 4, move |inner| {
        proptest::collection::vec(("[A-Za-z]{0,4}", inner), 0..4).prop_map(|pairs| {
            let mut l = KvList::new();
            for (k, v) in pairs {
                l.push(k, v);
            }
            KvValue::List(l)
        })
    });
    proptest::collection::vec((key, value), 0..5)
        .prop_map(|pairs| {
            let mut l = KvList::new();
            for (k, v) in pairs {
                l.push(k, v);
            }
            l
        })
        .boxed()
}

/// One attribute of arbitrary kind and value (kind mismatches are skipped when building).
#[derive(Debug, Clone)]
enum Attr {
    Int(i32),
    Long(i64),
    Conn(u64),
    Str(String),
    Kv(KvList),
}

fn attr() -> BoxedStrategy<(AttributeId, Attr)> {
    let ids: Vec<AttributeId> = AttributeId::ALL.to_vec();
    (
        proptest::sample::select(ids),
        prop_oneof![
            any::<i32>().prop_map(Attr::Int),
            prop_oneof![Just(0xC), Just(0x2000E), Just(3), Just(4), Just(10)].prop_map(Attr::Int),
            any::<i64>().prop_map(Attr::Long),
            any::<u64>().prop_map(Attr::Conn),
            call_uuid().prop_map(Attr::Str),
            text().prop_map(Attr::Str),
            kv_list().prop_map(Attr::Kv),
        ],
    )
        .boxed()
}

fn add(b: MessageBuilder, id: AttributeId, a: &Attr) -> MessageBuilder {
    let input = match a {
        Attr::Int(i) => AttrInput::Int(*i),
        Attr::Long(l) => AttrInput::Long(*l),
        Attr::Conn(c) => AttrInput::ConnId(ConnId(*c)),
        Attr::Str(s) => AttrInput::Str(s),
        Attr::Kv(l) => AttrInput::KvList(l),
    };
    match b.clone().try_attr(id, input) {
        Ok(b) => b,
        Err(_) => b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Generated events: refused exactly when TLib cannot carry them, else an exact round
    /// trip (in memory and through the codec).
    #[test]
    fn generated_events_round_trip_or_are_refused(e in event()) {
        match tlib_message(&e) {
            Ok(m) => {
                prop_assert!(representable(&e), "accepted {e:?}");
                prop_assert_eq!(engage_event(&m), Ok(Some(e.clone())));
                prop_assert_eq!(through_codec(&m), Ok(Some(e)));
            }
            Err(err) => {
                prop_assert!(!representable(&e), "refused {e:?}: {err}");
                let refused_with_field = matches!(err, TlibMapError::Unrepresentable { .. });
                prop_assert!(refused_with_field, "{err:?}");
            }
        }
    }

    /// The call model's fuzz events: either refused or exact; with their CallUUIDs padded
    /// to 32 characters, always exact.
    #[test]
    fn callmodel_fuzz_events_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        for e in engage_callmodel::fuzzing::decode_events(&bytes) {
            if let Ok(m) = tlib_message(&e) {
                prop_assert_eq!(engage_event(&m), Ok(Some(e.clone())));
            }
            let mut padded = e;
            pad_call_uuids(&mut padded);
            let m = tlib_message(&padded);
            prop_assert!(m.is_ok(), "{padded:?}: {m:?}");
            if let Ok(m) = m {
                prop_assert_eq!(engage_event(&m), Ok(Some(padded)));
            }
        }
    }

    /// Messages built from arbitrary attributes (in front of a valid event's attributes,
    /// some of which are dropped) never make engage_event panic.
    #[test]
    fn arbitrary_messages_never_panic(
        base in event(),
        type_pick in 0usize..14,
        extra in proptest::collection::vec(attr(), 0..6),
        keep in proptest::collection::vec(any::<bool>(), 16),
    ) {
        let base_msg = tlib_message(&base).ok();
        let t = USED_TYPES
            .get(type_pick)
            .copied()
            .or(base_msg.as_ref().map(Message::msg_type))
            .unwrap_or(MessageType::EventRinging);
        let mut b = Message::builder(t);
        for (id, a) in &extra {
            b = add(b, *id, a);
        }
        if let Some(m) = &base_msg {
            for (i, (id, v)) in m.attributes().enumerate() {
                if keep.get(i).copied().unwrap_or(true) {
                    b = b.try_attr(id, v.into()).unwrap();
                }
            }
        }
        let m = b.build();
        let _ = engage_event(&m);
        let _ = through_codec(&m);
    }

    /// Arbitrary bytes, and valid frames with a few bytes changed, decode (or not) and map
    /// without panicking.
    #[test]
    fn arbitrary_frames_never_panic(
        base in event(),
        noise in proptest::collection::vec(any::<u8>(), 0..64),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let config = WireConfig::default();
        if let Ok(m) = decode_bytes(noise.into(), &config) {
            let _ = engage_event(&m);
        }
        if let Ok(m) = tlib_message(&base) {
            let mut buf = Default::default();
            encode_with(&m, &config, &mut buf).unwrap();
            let mut frame = buf.to_vec();
            for (at, x) in flips {
                let n = frame.len();
                if let Some(byte) = frame.get_mut(at % n) {
                    *byte ^= x;
                }
            }
            if let Ok(m) = decode_bytes(frame.into(), &config) {
                let _ = engage_event(&m);
            }
        }
    }
}
