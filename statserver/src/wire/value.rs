//! Layout of structured values (our design, see `WIRE.md`): KV lists, AgentStatus,
//! PlaceStatus, DN statuses and actions.

use bytes::{BufMut, BytesMut};

use super::reader::{Reader, bounded_capacity};
use crate::agent::{ActionRecord, AgentStatus, DnAction, DnStatus, PlaceStatus};
use crate::error::{DecodeError, DecodeReason, EncodeError};
use crate::kvlist::{KvList, KvValue};
use crate::message::StatValue;

/// How deep KV lists may nest (the top-level list is depth 1).
pub const MAX_KV_DEPTH: usize = 8;

const VALUE_LONG: u8 = 1;
const VALUE_AGENT_STATUS: u8 = 2;
const VALUE_PLACE_STATUS: u8 = 3;

const KV_STRING: u8 = 1;
const KV_INT: u8 = 2;
const KV_BINARY: u8 = 3;
const KV_LIST: u8 = 4;
const KV_LONG: u8 = 5;

const FLAG_CONN_ID: u8 = 0x01;

// Smallest encodings, used to bound pre-allocation.
const MIN_DN_LEN: usize = 2 + 2 + 1 + 8 + 2;
const MIN_ACTION_LEN: usize = 1 + 8 + 1 + 2;
const MIN_PAIR_LEN: usize = 2 + 1 + 4;

fn put_str16(dst: &mut BytesMut, s: &str, what: &'static str) -> Result<(), EncodeError> {
    let len = u16::try_from(s.len()).map_err(|_| EncodeError::TooLong {
        what,
        len: s.len(),
        max: usize::from(u16::MAX),
    })?;
    dst.put_u16(len);
    dst.put_slice(s.as_bytes());
    Ok(())
}

fn put_len32(dst: &mut BytesMut, len: usize, what: &'static str) -> Result<(), EncodeError> {
    let l = u32::try_from(len).map_err(|_| EncodeError::TooLong {
        what,
        len,
        max: u32::MAX as usize,
    })?;
    dst.put_u32(l);
    Ok(())
}

fn count16(count: usize, what: &'static str) -> Result<u16, EncodeError> {
    u16::try_from(count).map_err(|_| EncodeError::TooMany {
        what,
        count,
        max: usize::from(u16::MAX),
    })
}

fn action_code(r: &mut Reader<'_>, what: &'static str) -> Result<DnAction, DecodeError> {
    let at = r.offset();
    let c = r.u8(what)?;
    DnAction::from_code(c).ok_or_else(|| {
        DecodeError::new(
            at,
            DecodeReason::UnknownEnumValue {
                what,
                value: u32::from(c),
            },
        )
    })
}

/// Encodes a KV list.
pub fn encode_kvlist(list: &KvList, dst: &mut BytesMut) -> Result<(), EncodeError> {
    encode_kvlist_at(list, dst, 1)
}

fn encode_kvlist_at(list: &KvList, dst: &mut BytesMut, depth: usize) -> Result<(), EncodeError> {
    if depth > MAX_KV_DEPTH {
        return Err(EncodeError::TooDeep { max: MAX_KV_DEPTH });
    }
    dst.put_u16(count16(list.len(), "KV list")?);
    for (k, v) in list.iter() {
        put_str16(dst, k, "KV key")?;
        match v {
            KvValue::Str(s) => {
                dst.put_u8(KV_STRING);
                put_len32(dst, s.len(), "KV string value")?;
                dst.put_slice(s.as_bytes());
            }
            KvValue::Int(i) => {
                dst.put_u8(KV_INT);
                dst.put_i32(*i);
            }
            KvValue::Long(i) => {
                dst.put_u8(KV_LONG);
                dst.put_i64(*i);
            }
            KvValue::Binary(b) => {
                dst.put_u8(KV_BINARY);
                put_len32(dst, b.len(), "KV binary value")?;
                dst.put_slice(b);
            }
            KvValue::List(l) => {
                dst.put_u8(KV_LIST);
                encode_kvlist_at(l, dst, depth + 1)?;
            }
        }
    }
    Ok(())
}

/// Decodes a KV list.
pub(crate) fn decode_kvlist(r: &mut Reader<'_>) -> Result<KvList, DecodeError> {
    decode_kvlist_at(r, 1)
}

fn decode_kvlist_at(r: &mut Reader<'_>, depth: usize) -> Result<KvList, DecodeError> {
    if depth > MAX_KV_DEPTH {
        return Err(r.err(DecodeReason::TooDeep { max: MAX_KV_DEPTH }));
    }
    let n = usize::from(r.u16("KV list pair count")?);
    let mut pairs = Vec::with_capacity(bounded_capacity(n, MIN_PAIR_LEN, r.remaining()));
    for _ in 0..n {
        let key = r.str16("KV key")?;
        let at = r.offset();
        let ty = r.u8("KV value type")?;
        let v = match ty {
            KV_STRING => KvValue::Str(r.str32("KV string value")?),
            KV_INT => KvValue::Int(r.i32("KV int value")?),
            KV_LONG => KvValue::Long(r.i64("KV long value")?),
            KV_BINARY => {
                let n = r.u32("KV binary length")?;
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                KvValue::Binary(r.take(n, "KV binary value")?.to_vec())
            }
            KV_LIST => KvValue::List(decode_kvlist_at(r, depth + 1)?),
            other => {
                return Err(DecodeError::new(
                    at,
                    DecodeReason::UnknownEnumValue {
                        what: "KV value type",
                        value: u32::from(other),
                    },
                ));
            }
        };
        pairs.push((key, v));
    }
    Ok(pairs.into_iter().collect())
}

fn encode_action(a: &ActionRecord, dst: &mut BytesMut) -> Result<(), EncodeError> {
    dst.put_u8(a.action.code());
    dst.put_i64(a.time);
    match a.conn_id {
        Some(c) => {
            dst.put_u8(FLAG_CONN_ID);
            dst.put_u64(c);
        }
        None => dst.put_u8(0),
    }
    encode_kvlist(&a.attached_data, dst)
}

fn decode_action(r: &mut Reader<'_>) -> Result<ActionRecord, DecodeError> {
    let action = action_code(r, "DN action")?;
    let time = r.i64("action time")?;
    let at = r.offset();
    let flags = r.u8("action flags")?;
    if flags & !FLAG_CONN_ID != 0 {
        return Err(DecodeError::new(
            at,
            DecodeReason::UnknownEnumValue {
                what: "action flags",
                value: u32::from(flags),
            },
        ));
    }
    let conn_id = if flags & FLAG_CONN_ID != 0 {
        Some(r.u64("action conn id")?)
    } else {
        None
    };
    let attached_data = decode_kvlist(r)?;
    Ok(ActionRecord {
        action,
        time,
        conn_id,
        attached_data,
    })
}

fn encode_dn(d: &DnStatus, dst: &mut BytesMut) -> Result<(), EncodeError> {
    put_str16(dst, &d.dn_id, "DN id")?;
    put_str16(dst, &d.switch_id, "switch id")?;
    dst.put_u8(d.status.code());
    dst.put_i64(d.time);
    dst.put_u16(count16(d.actions.len(), "DN actions")?);
    for a in &d.actions {
        encode_action(a, dst)?;
    }
    Ok(())
}

fn decode_dn(r: &mut Reader<'_>) -> Result<DnStatus, DecodeError> {
    let dn_id = r.str16("DN id")?;
    let switch_id = r.str16("switch id")?;
    let status = action_code(r, "DN status")?;
    let time = r.i64("DN status time")?;
    let n = usize::from(r.u16("DN action count")?);
    let mut actions = Vec::with_capacity(bounded_capacity(n, MIN_ACTION_LEN, r.remaining()));
    for _ in 0..n {
        actions.push(decode_action(r)?);
    }
    Ok(DnStatus {
        dn_id,
        switch_id,
        status,
        time,
        actions,
    })
}

fn encode_place(p: &PlaceStatus, dst: &mut BytesMut) -> Result<(), EncodeError> {
    put_str16(dst, &p.place_id, "place id")?;
    dst.put_u8(p.status.code());
    dst.put_i64(p.time);
    dst.put_u16(count16(p.dns.len(), "place DNs")?);
    for d in &p.dns {
        encode_dn(d, dst)?;
    }
    Ok(())
}

fn decode_place(r: &mut Reader<'_>) -> Result<PlaceStatus, DecodeError> {
    let place_id = r.str16("place id")?;
    let status = action_code(r, "place status")?;
    let time = r.i64("place status time")?;
    let n = usize::from(r.u16("place DN count")?);
    let mut dns = Vec::with_capacity(bounded_capacity(n, MIN_DN_LEN, r.remaining()));
    for _ in 0..n {
        dns.push(decode_dn(r)?);
    }
    Ok(PlaceStatus {
        place_id,
        status,
        time,
        dns,
    })
}

/// Encodes a statistic value.
pub fn encode_value(v: &StatValue, dst: &mut BytesMut) -> Result<(), EncodeError> {
    match v {
        StatValue::Long(n) => {
            dst.put_u8(VALUE_LONG);
            dst.put_i64(*n);
        }
        StatValue::AgentStatus(a) => {
            dst.put_u8(VALUE_AGENT_STATUS);
            put_str16(dst, &a.agent_id, "agent id")?;
            dst.put_u8(a.status.code());
            dst.put_i64(a.time);
            encode_place(&a.place, dst)?;
        }
        StatValue::PlaceStatus(p) => {
            dst.put_u8(VALUE_PLACE_STATUS);
            encode_place(p, dst)?;
        }
    }
    Ok(())
}

/// Decodes a statistic value; the reader must hold exactly the value.
pub(crate) fn decode_value(r: &mut Reader<'_>) -> Result<StatValue, DecodeError> {
    let at = r.offset();
    let kind = r.u8("value kind")?;
    let v = match kind {
        VALUE_LONG => StatValue::Long(r.i64("long value")?),
        VALUE_AGENT_STATUS => {
            let agent_id = r.str16("agent id")?;
            let status = action_code(r, "agent status")?;
            let time = r.i64("agent status time")?;
            let place = decode_place(r)?;
            StatValue::AgentStatus(AgentStatus {
                agent_id,
                status,
                time,
                place,
            })
        }
        VALUE_PLACE_STATUS => StatValue::PlaceStatus(decode_place(r)?),
        other => {
            return Err(DecodeError::new(
                at,
                DecodeReason::UnknownEnumValue {
                    what: "value kind",
                    value: u32::from(other),
                },
            ));
        }
    };
    r.finish("statistic value")?;
    Ok(v)
}
