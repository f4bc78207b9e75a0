//! The byte format: the one swappable module boundary of this crate.
//!
//! Everything that knows bytes lives under `wire`; the rest of the crate sees only
//! [`Message`] values. The format is our design (the real one is not public);
//! `WIRE.md` documents it and marks what is public fact. Replacing the format means replacing
//! this module and keeping the four functions [`encode`], [`encode_with_max`], [`frame_len`] and
//! [`decode_frame`].
//!
//! Frame: `u32` big-endian body length, then the body: `u32` message id, `u16` attribute count,
//! attributes `u16 id, u8 type, u32 length, bytes`.

mod reader;
pub mod value;

use bytes::{BufMut, BytesMut};

use crate::agent::ActionMask;
use crate::error::{DecodeError, DecodeReason, EncodeError};
use crate::message::{
    ErrorCode, Event, Message, Notification, ObjectType, Request, ServerMode, StatCategory,
    StatDefinition, StatMetricEx, StatObject, StatSpec, StatSubject, TimeInterval,
};
use reader::Reader;

/// Length of the frame header (the body length).
pub const HEADER_LEN: usize = 4;
/// Message header inside the body: id and attribute count.
pub const BODY_HEADER_LEN: usize = 6;
/// Attribute header: id, type, length.
pub const ATTR_HEADER_LEN: usize = 7;
/// Default maximum body length (1 MiB).
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// Message ids. Only [`ids::EVENT_INFO`] (2) is public fact; the rest is our design.
pub mod ids {
    /// EventInfo (public: message id 2).
    pub const EVENT_INFO: u32 = 2;
    /// EventStatisticOpened.
    pub const EVENT_STATISTIC_OPENED: u32 = 3;
    /// EventStatisticClosed.
    pub const EVENT_STATISTIC_CLOSED: u32 = 4;
    /// EventStatisticInvalid.
    pub const EVENT_STATISTIC_INVALID: u32 = 5;
    /// EventStatisticValid.
    pub const EVENT_STATISTIC_VALID: u32 = 6;
    /// EventError.
    pub const EVENT_ERROR: u32 = 7;
    /// EventServerMode.
    pub const EVENT_SERVER_MODE: u32 = 8;
    /// RequestOpenStatistic.
    pub const REQUEST_OPEN_STATISTIC: u32 = 101;
    /// RequestOpenStatisticEx.
    pub const REQUEST_OPEN_STATISTIC_EX: u32 = 102;
    /// RequestPeekStatistic.
    pub const REQUEST_PEEK_STATISTIC: u32 = 103;
    /// RequestCloseStatistic.
    pub const REQUEST_CLOSE_STATISTIC: u32 = 104;
    /// ADDP poll.
    pub const ADDP_POLL: u32 = 901;
    /// ADDP reply.
    pub const ADDP_REPLY: u32 = 902;
}

/// Attribute type tags.
pub mod types {
    /// 4-byte integer (signed or unsigned by attribute).
    pub const INT: u8 = 1;
    /// 8-byte signed integer.
    pub const LONG: u8 = 2;
    /// UTF-8 text.
    pub const STRING: u8 = 3;
    /// Structured statistic value.
    pub const VALUE: u8 = 4;
}

/// Attribute ids (our design).
pub mod attrs {
    /// Reference id of the statistic (INT).
    pub const REFERENCE_ID: u16 = 1;
    /// User's request id (INT).
    pub const USER_REQUEST_ID: u16 = 2;
    /// Object id (STRING).
    pub const OBJECT_ID: u16 = 3;
    /// Object type (INT).
    pub const OBJECT_TYPE: u16 = 4;
    /// Tenant (STRING).
    pub const TENANT: u16 = 5;
    /// Tenant password (STRING).
    pub const TENANT_PASSWORD: u16 = 6;
    /// Statistic type (STRING).
    pub const STATISTIC_TYPE: u16 = 7;
    /// Time profile (STRING).
    pub const TIME_PROFILE: u16 = 8;
    /// Metric category (INT).
    pub const CATEGORY: u16 = 9;
    /// Metric subject (INT).
    pub const SUBJECT: u16 = 10;
    /// Main mask of DN actions (INT).
    pub const MAIN_MASK: u16 = 11;
    /// Interval type (INT).
    pub const INTERVAL_TYPE: u16 = 12;
    /// Interval length in seconds (INT).
    pub const INTERVAL_LENGTH: u16 = 13;
    /// Notification mode (INT).
    pub const NOTIFICATION_MODE: u16 = 14;
    /// Notification frequency in seconds (INT).
    pub const NOTIFICATION_FREQUENCY: u16 = 15;
    /// Server time, Unix seconds (LONG).
    pub const SERVER_TIME: u16 = 16;
    /// Statistic value (VALUE).
    pub const VALUE: u16 = 17;
    /// Error code (INT).
    pub const ERROR_CODE: u16 = 18;
    /// Error message (STRING).
    pub const ERROR_MESSAGE: u16 = 19;
    /// Server mode (INT).
    pub const SERVER_MODE: u16 = 20;
    /// Highest known attribute id.
    pub(crate) const MAX: u16 = 20;

    pub(crate) fn name(id: u16) -> &'static str {
        match id {
            REFERENCE_ID => "ReferenceId",
            USER_REQUEST_ID => "UserRequestId",
            OBJECT_ID => "ObjectId",
            OBJECT_TYPE => "ObjectType",
            TENANT => "Tenant",
            TENANT_PASSWORD => "TenantPassword",
            STATISTIC_TYPE => "StatisticType",
            TIME_PROFILE => "TimeProfile",
            CATEGORY => "Category",
            SUBJECT => "Subject",
            MAIN_MASK => "MainMask",
            INTERVAL_TYPE => "IntervalType",
            INTERVAL_LENGTH => "IntervalLength",
            NOTIFICATION_MODE => "NotificationMode",
            NOTIFICATION_FREQUENCY => "NotificationFrequency",
            SERVER_TIME => "ServerTime",
            VALUE => "Value",
            ERROR_CODE => "ErrorCode",
            ERROR_MESSAGE => "ErrorMessage",
            SERVER_MODE => "ServerMode",
            _ => "unknown",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Enumerations on the wire (our codes).

fn object_type_code(t: ObjectType) -> u32 {
    match t {
        ObjectType::Agent => 1,
        ObjectType::Place => 2,
        ObjectType::GroupAgents => 3,
        ObjectType::GroupPlaces => 4,
        ObjectType::Queue => 5,
        ObjectType::RoutePoint => 6,
    }
}

fn object_type_from(c: u32) -> Option<ObjectType> {
    Some(match c {
        1 => ObjectType::Agent,
        2 => ObjectType::Place,
        3 => ObjectType::GroupAgents,
        4 => ObjectType::GroupPlaces,
        5 => ObjectType::Queue,
        6 => ObjectType::RoutePoint,
        _ => return None,
    })
}

fn category_code(c: StatCategory) -> u32 {
    match c {
        StatCategory::CurrentState => 1,
        StatCategory::CurrentTime => 2,
        StatCategory::TotalNumber => 3,
    }
}

fn category_from(c: u32) -> Option<StatCategory> {
    Some(match c {
        1 => StatCategory::CurrentState,
        2 => StatCategory::CurrentTime,
        3 => StatCategory::TotalNumber,
        _ => return None,
    })
}

fn subject_code(s: StatSubject) -> u32 {
    match s {
        StatSubject::DnStatus => 1,
        StatSubject::DnAction => 2,
    }
}

fn subject_from(c: u32) -> Option<StatSubject> {
    Some(match c {
        1 => StatSubject::DnStatus,
        2 => StatSubject::DnAction,
        _ => return None,
    })
}

fn error_code(c: ErrorCode) -> u32 {
    match c {
        ErrorCode::UnknownObject => 1,
        ErrorCode::UnknownStatistic => 2,
        ErrorCode::DuplicateReference => 3,
        ErrorCode::UnknownReference => 4,
        ErrorCode::BadRequest => 5,
        ErrorCode::Internal => 6,
    }
}

fn error_code_from(c: u32) -> Option<ErrorCode> {
    Some(match c {
        1 => ErrorCode::UnknownObject,
        2 => ErrorCode::UnknownStatistic,
        3 => ErrorCode::DuplicateReference,
        4 => ErrorCode::UnknownReference,
        5 => ErrorCode::BadRequest,
        6 => ErrorCode::Internal,
        _ => return None,
    })
}

fn server_mode_code(m: ServerMode) -> u32 {
    match m {
        ServerMode::Primary => 1,
        ServerMode::Backup => 2,
    }
}

fn server_mode_from(c: u32) -> Option<ServerMode> {
    Some(match c {
        1 => ServerMode::Primary,
        2 => ServerMode::Backup,
        _ => return None,
    })
}

const NOTIFY_IMMEDIATE: u32 = 1;
const NOTIFY_CHANGES: u32 = 2;
const NOTIFY_PERIODICAL: u32 = 3;
const NOTIFY_NONE: u32 = 4;

const INTERVAL_GROWING: u32 = 1;
const INTERVAL_SLIDING: u32 = 2;
const INTERVAL_SINGLE: u32 = 3;

// ---------------------------------------------------------------------------------------------
// Encoding.

struct BodyWriter<'a> {
    dst: &'a mut BytesMut,
    count_at: usize,
    count: u16,
}

impl<'a> BodyWriter<'a> {
    fn new(dst: &'a mut BytesMut, message_id: u32) -> Self {
        dst.put_u32(message_id);
        let count_at = dst.len();
        dst.put_u16(0);
        Self {
            dst,
            count_at,
            count: 0,
        }
    }

    fn header(&mut self, id: u16, ty: u8, len: usize) -> Result<(), EncodeError> {
        let l = u32::try_from(len).map_err(|_| EncodeError::TooLong {
            what: attrs::name(id),
            len,
            max: u32::MAX as usize,
        })?;
        self.dst.put_u16(id);
        self.dst.put_u8(ty);
        self.dst.put_u32(l);
        self.count += 1;
        Ok(())
    }

    fn int(&mut self, id: u16, v: u32) -> Result<(), EncodeError> {
        self.header(id, types::INT, 4)?;
        self.dst.put_u32(v);
        Ok(())
    }

    fn long(&mut self, id: u16, v: i64) -> Result<(), EncodeError> {
        self.header(id, types::LONG, 8)?;
        self.dst.put_i64(v);
        Ok(())
    }

    fn string(&mut self, id: u16, s: &str) -> Result<(), EncodeError> {
        self.header(id, types::STRING, s.len())?;
        self.dst.put_slice(s.as_bytes());
        Ok(())
    }

    fn value(&mut self, v: &crate::message::StatValue) -> Result<(), EncodeError> {
        self.dst.put_u16(attrs::VALUE);
        self.dst.put_u8(types::VALUE);
        let len_at = self.dst.len();
        self.dst.put_u32(0);
        let start = self.dst.len();
        value::encode_value(v, self.dst)?;
        let len = self.dst.len() - start;
        let l = u32::try_from(len).map_err(|_| EncodeError::TooLong {
            what: "Value",
            len,
            max: u32::MAX as usize,
        })?;
        self.dst[len_at..len_at + 4].copy_from_slice(&l.to_be_bytes());
        self.count += 1;
        Ok(())
    }

    fn finish(self) {
        let c = self.count.to_be_bytes();
        self.dst[self.count_at..self.count_at + 2].copy_from_slice(&c);
    }
}

fn encode_object(w: &mut BodyWriter<'_>, o: &StatObject) -> Result<(), EncodeError> {
    w.string(attrs::OBJECT_ID, &o.object_id)?;
    w.int(attrs::OBJECT_TYPE, object_type_code(o.object_type))?;
    w.string(attrs::TENANT, &o.tenant)?;
    if let Some(p) = &o.tenant_password {
        w.string(attrs::TENANT_PASSWORD, p)?;
    }
    Ok(())
}

fn encode_notification(w: &mut BodyWriter<'_>, n: Notification) -> Result<(), EncodeError> {
    let (mode, freq) = match n {
        Notification::Immediate => (NOTIFY_IMMEDIATE, None),
        Notification::Changes { frequency_secs } => (NOTIFY_CHANGES, Some(frequency_secs)),
        Notification::Periodical { frequency_secs } => (NOTIFY_PERIODICAL, Some(frequency_secs)),
        Notification::NoNotification => (NOTIFY_NONE, None),
    };
    w.int(attrs::NOTIFICATION_MODE, mode)?;
    if let Some(f) = freq {
        w.int(attrs::NOTIFICATION_FREQUENCY, f)?;
    }
    Ok(())
}

fn encode_body(msg: &Message, dst: &mut BytesMut) -> Result<(), EncodeError> {
    match msg {
        Message::AddpPoll => BodyWriter::new(dst, ids::ADDP_POLL).finish(),
        Message::AddpReply => BodyWriter::new(dst, ids::ADDP_REPLY).finish(),
        Message::Request(Request::Open { reference_id, spec }) => match &spec.definition {
            StatDefinition::Predefined {
                statistic_type,
                time_profile,
            } => {
                let mut w = BodyWriter::new(dst, ids::REQUEST_OPEN_STATISTIC);
                w.int(attrs::REFERENCE_ID, *reference_id)?;
                encode_object(&mut w, &spec.object)?;
                w.string(attrs::STATISTIC_TYPE, statistic_type)?;
                if let Some(tp) = time_profile {
                    w.string(attrs::TIME_PROFILE, tp)?;
                }
                encode_notification(&mut w, spec.notification)?;
                w.finish();
            }
            StatDefinition::Ex(m) => {
                let mut w = BodyWriter::new(dst, ids::REQUEST_OPEN_STATISTIC_EX);
                w.int(attrs::REFERENCE_ID, *reference_id)?;
                encode_object(&mut w, &spec.object)?;
                w.string(attrs::TIME_PROFILE, &m.time_profile)?;
                w.int(attrs::CATEGORY, category_code(m.category))?;
                w.int(attrs::SUBJECT, subject_code(m.subject))?;
                w.int(attrs::MAIN_MASK, m.main_mask.bits())?;
                match m.interval {
                    TimeInterval::GrowingWindow => w.int(attrs::INTERVAL_TYPE, INTERVAL_GROWING)?,
                    TimeInterval::SlidingWindow { seconds } => {
                        w.int(attrs::INTERVAL_TYPE, INTERVAL_SLIDING)?;
                        w.int(attrs::INTERVAL_LENGTH, seconds)?;
                    }
                    TimeInterval::SingleInterval => w.int(attrs::INTERVAL_TYPE, INTERVAL_SINGLE)?,
                }
                encode_notification(&mut w, spec.notification)?;
                w.finish();
            }
        },
        Message::Request(Request::Peek {
            reference_id,
            user_request_id,
        }) => {
            let mut w = BodyWriter::new(dst, ids::REQUEST_PEEK_STATISTIC);
            w.int(attrs::REFERENCE_ID, *reference_id)?;
            w.int(attrs::USER_REQUEST_ID, *user_request_id)?;
            w.finish();
        }
        Message::Request(Request::Close { reference_id }) => {
            let mut w = BodyWriter::new(dst, ids::REQUEST_CLOSE_STATISTIC);
            w.int(attrs::REFERENCE_ID, *reference_id)?;
            w.finish();
        }
        Message::Event(e) => encode_event(e, dst)?,
    }
    Ok(())
}

fn encode_event(e: &Event, dst: &mut BytesMut) -> Result<(), EncodeError> {
    let simple = |dst: &mut BytesMut, id: u32, r: u32| -> Result<(), EncodeError> {
        let mut w = BodyWriter::new(dst, id);
        w.int(attrs::REFERENCE_ID, r)?;
        w.finish();
        Ok(())
    };
    match e {
        Event::StatisticOpened { reference_id } => {
            simple(dst, ids::EVENT_STATISTIC_OPENED, *reference_id)?
        }
        Event::StatisticClosed { reference_id } => {
            simple(dst, ids::EVENT_STATISTIC_CLOSED, *reference_id)?
        }
        Event::StatisticInvalid { reference_id } => {
            simple(dst, ids::EVENT_STATISTIC_INVALID, *reference_id)?
        }
        Event::StatisticValid { reference_id } => {
            simple(dst, ids::EVENT_STATISTIC_VALID, *reference_id)?
        }
        Event::Info {
            reference_id,
            user_request_id,
            server_time,
            value,
        } => {
            let mut w = BodyWriter::new(dst, ids::EVENT_INFO);
            w.int(attrs::REFERENCE_ID, *reference_id)?;
            w.int(attrs::USER_REQUEST_ID, *user_request_id)?;
            w.long(attrs::SERVER_TIME, *server_time)?;
            w.value(value)?;
            w.finish();
        }
        Event::Error {
            reference_id,
            code,
            message,
        } => {
            let mut w = BodyWriter::new(dst, ids::EVENT_ERROR);
            if let Some(r) = reference_id {
                w.int(attrs::REFERENCE_ID, *r)?;
            }
            w.int(attrs::ERROR_CODE, error_code(*code))?;
            w.string(attrs::ERROR_MESSAGE, message)?;
            w.finish();
        }
        Event::ServerMode { mode } => {
            let mut w = BodyWriter::new(dst, ids::EVENT_SERVER_MODE);
            w.int(attrs::SERVER_MODE, server_mode_code(*mode))?;
            w.finish();
        }
    }
    Ok(())
}

/// Appends one frame for `msg` to `dst`, with the [`DEFAULT_MAX_BODY`] limit.
pub fn encode(msg: &Message, dst: &mut BytesMut) -> Result<(), EncodeError> {
    encode_with_max(msg, dst, DEFAULT_MAX_BODY)
}

/// Appends one frame for `msg` to `dst`; fails (leaving `dst` as it was) if a field does not
/// fit its length prefix or the body would exceed `max_body` bytes.
pub fn encode_with_max(
    msg: &Message,
    dst: &mut BytesMut,
    max_body: usize,
) -> Result<(), EncodeError> {
    let start = dst.len();
    dst.put_u32(0);
    let result = encode_body(msg, dst).and_then(|()| {
        let len = dst.len() - start - HEADER_LEN;
        if len > max_body {
            return Err(EncodeError::FrameTooLarge { len, max: max_body });
        }
        let l =
            u32::try_from(len).map_err(|_| EncodeError::FrameTooLarge { len, max: max_body })?;
        dst[start..start + HEADER_LEN].copy_from_slice(&l.to_be_bytes());
        Ok(())
    });
    if result.is_err() {
        dst.truncate(start);
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/// The total length (header included) of the frame at the start of `buf`, once its header is
/// there: `Ok(None)` while fewer than [`HEADER_LEN`] bytes are buffered; an error if the header
/// announces a body shorter than a message header or longer than `max_body` (the stream is then
/// unusable: drop the connection).
pub fn frame_len(buf: &[u8], max_body: usize) -> Result<Option<usize>, DecodeError> {
    let Some(h) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let mut a = [0u8; HEADER_LEN];
    a.copy_from_slice(h);
    let len = usize::try_from(u32::from_be_bytes(a)).unwrap_or(usize::MAX);
    if len > max_body {
        return Err(DecodeError::new(
            0,
            DecodeReason::FrameTooLarge { len, max: max_body },
        ));
    }
    if len < BODY_HEADER_LEN {
        return Err(DecodeError::new(0, DecodeReason::FrameTooShort { len }));
    }
    Ok(Some(HEADER_LEN + len))
}

#[derive(Clone, Copy)]
struct Attr<'a> {
    offset: usize,
    ty: u8,
    data: &'a [u8],
}

struct Attrs<'a> {
    message: &'static str,
    table: [Option<Attr<'a>>; attrs::MAX as usize + 1],
    end: usize,
}

impl<'a> Attrs<'a> {
    fn get(&self, id: u16, ty: u8) -> Result<Option<Attr<'a>>, DecodeError> {
        match self.table.get(usize::from(id)).copied().flatten() {
            None => Ok(None),
            Some(a) if a.ty != ty => Err(DecodeError::new(
                a.offset,
                DecodeReason::WrongAttributeType {
                    attribute: attrs::name(id),
                    expected: ty,
                    found: a.ty,
                },
            )),
            Some(a) => Ok(Some(a)),
        }
    }

    fn missing(&self, id: u16) -> DecodeError {
        DecodeError::new(
            self.end,
            DecodeReason::MissingAttribute {
                message: self.message,
                attribute: attrs::name(id),
            },
        )
    }

    fn fixed<const N: usize>(&self, id: u16, ty: u8) -> Result<Option<[u8; N]>, DecodeError> {
        let Some(a) = self.get(id, ty)? else {
            return Ok(None);
        };
        if a.data.len() != N {
            return Err(DecodeError::new(
                a.offset,
                DecodeReason::BadAttributeLength {
                    attribute: attrs::name(id),
                    expected: N,
                    found: a.data.len(),
                },
            ));
        }
        let mut b = [0u8; N];
        b.copy_from_slice(a.data);
        Ok(Some(b))
    }

    fn opt_int(&self, id: u16) -> Result<Option<u32>, DecodeError> {
        Ok(self.fixed::<4>(id, types::INT)?.map(u32::from_be_bytes))
    }

    fn int(&self, id: u16) -> Result<u32, DecodeError> {
        self.opt_int(id)?.ok_or_else(|| self.missing(id))
    }

    fn long(&self, id: u16) -> Result<i64, DecodeError> {
        self.fixed::<8>(id, types::LONG)?
            .map(i64::from_be_bytes)
            .ok_or_else(|| self.missing(id))
    }

    fn opt_string(&self, id: u16) -> Result<Option<String>, DecodeError> {
        let Some(a) = self.get(id, types::STRING)? else {
            return Ok(None);
        };
        let mut r = Reader::new(a.data, a.offset + ATTR_HEADER_LEN);
        r.text(a.data.len(), attrs::name(id)).map(Some)
    }

    fn string(&self, id: u16) -> Result<String, DecodeError> {
        self.opt_string(id)?.ok_or_else(|| self.missing(id))
    }

    fn enumerated<T>(&self, id: u16, f: impl Fn(u32) -> Option<T>) -> Result<T, DecodeError> {
        let v = self.int(id)?;
        f(v).ok_or_else(|| self.enum_error(id, v))
    }
}

fn message_name(id: u32) -> Option<&'static str> {
    Some(match id {
        ids::EVENT_INFO => "EventInfo",
        ids::EVENT_STATISTIC_OPENED => "EventStatisticOpened",
        ids::EVENT_STATISTIC_CLOSED => "EventStatisticClosed",
        ids::EVENT_STATISTIC_INVALID => "EventStatisticInvalid",
        ids::EVENT_STATISTIC_VALID => "EventStatisticValid",
        ids::EVENT_ERROR => "EventError",
        ids::EVENT_SERVER_MODE => "EventServerMode",
        ids::REQUEST_OPEN_STATISTIC => "RequestOpenStatistic",
        ids::REQUEST_OPEN_STATISTIC_EX => "RequestOpenStatisticEx",
        ids::REQUEST_PEEK_STATISTIC => "RequestPeekStatistic",
        ids::REQUEST_CLOSE_STATISTIC => "RequestCloseStatistic",
        ids::ADDP_POLL => "AddpPoll",
        ids::ADDP_REPLY => "AddpReply",
        _ => return None,
    })
}

/// Decodes exactly one complete frame (header included). Never panics; allocates at most what
/// the frame's bytes can back. Unknown attribute ids are skipped (forward compatibility).
pub fn decode_frame(frame: &[u8]) -> Result<Message, DecodeError> {
    let mut r = Reader::new(frame, 0);
    let len = r.u32("frame length")?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len < BODY_HEADER_LEN {
        return Err(DecodeError::new(0, DecodeReason::FrameTooShort { len }));
    }
    let mut body = r.sub(len, "frame body")?;
    r.finish("frame")?;

    let id_at = body.offset();
    let id = body.u32("message id")?;
    let message = message_name(id)
        .ok_or_else(|| DecodeError::new(id_at, DecodeReason::UnknownMessage { id }))?;
    let count = body.u16("attribute count")?;
    let mut table: [Option<Attr<'_>>; attrs::MAX as usize + 1] = [None; attrs::MAX as usize + 1];
    for _ in 0..count {
        let offset = body.offset();
        let aid = body.u16("attribute id")?;
        let ty = body.u8("attribute type")?;
        let alen = body.u32("attribute length")?;
        let alen = usize::try_from(alen).unwrap_or(usize::MAX);
        let data = body.take(alen, "attribute value")?;
        if let Some(slot) = table.get_mut(usize::from(aid)).filter(|_| aid != 0) {
            if slot.is_some() {
                return Err(DecodeError::new(
                    offset,
                    DecodeReason::DuplicateAttribute { id: aid },
                ));
            }
            *slot = Some(Attr { offset, ty, data });
        }
    }
    body.finish("attributes")?;
    let a = Attrs {
        message,
        table,
        end: body.offset(),
    };
    decode_message(id, &a)
}

fn decode_object(a: &Attrs<'_>) -> Result<StatObject, DecodeError> {
    Ok(StatObject {
        object_id: a.string(attrs::OBJECT_ID)?,
        object_type: a.enumerated(attrs::OBJECT_TYPE, object_type_from)?,
        tenant: a.string(attrs::TENANT)?,
        tenant_password: a.opt_string(attrs::TENANT_PASSWORD)?,
    })
}

fn decode_notification(a: &Attrs<'_>) -> Result<Notification, DecodeError> {
    let mode = a.int(attrs::NOTIFICATION_MODE)?;
    let freq = || a.int(attrs::NOTIFICATION_FREQUENCY);
    match mode {
        NOTIFY_IMMEDIATE => Ok(Notification::Immediate),
        NOTIFY_CHANGES => Ok(Notification::Changes {
            frequency_secs: freq()?,
        }),
        NOTIFY_PERIODICAL => Ok(Notification::Periodical {
            frequency_secs: freq()?,
        }),
        NOTIFY_NONE => Ok(Notification::NoNotification),
        other => Err(a.enum_error(attrs::NOTIFICATION_MODE, other)),
    }
}

impl Attrs<'_> {
    fn enum_error(&self, id: u16, value: u32) -> DecodeError {
        let at = self
            .table
            .get(usize::from(id))
            .copied()
            .flatten()
            .map_or(self.end, |a| a.offset);
        DecodeError::new(
            at,
            DecodeReason::UnknownEnumValue {
                what: attrs::name(id),
                value,
            },
        )
    }
}

fn decode_message(id: u32, a: &Attrs<'_>) -> Result<Message, DecodeError> {
    let reference = || a.int(attrs::REFERENCE_ID);
    Ok(match id {
        ids::ADDP_POLL => Message::AddpPoll,
        ids::ADDP_REPLY => Message::AddpReply,
        ids::REQUEST_OPEN_STATISTIC => Message::Request(Request::Open {
            reference_id: reference()?,
            spec: StatSpec {
                object: decode_object(a)?,
                definition: StatDefinition::Predefined {
                    statistic_type: a.string(attrs::STATISTIC_TYPE)?,
                    time_profile: a.opt_string(attrs::TIME_PROFILE)?,
                },
                notification: decode_notification(a)?,
            },
        }),
        ids::REQUEST_OPEN_STATISTIC_EX => {
            let interval = match a.int(attrs::INTERVAL_TYPE)? {
                INTERVAL_GROWING => TimeInterval::GrowingWindow,
                INTERVAL_SLIDING => TimeInterval::SlidingWindow {
                    seconds: a.int(attrs::INTERVAL_LENGTH)?,
                },
                INTERVAL_SINGLE => TimeInterval::SingleInterval,
                other => return Err(a.enum_error(attrs::INTERVAL_TYPE, other)),
            };
            let mask_bits = a.int(attrs::MAIN_MASK)?;
            let main_mask = ActionMask::from_bits_truncate(mask_bits);
            if main_mask.bits() != mask_bits {
                return Err(a.enum_error(attrs::MAIN_MASK, mask_bits));
            }
            Message::Request(Request::Open {
                reference_id: reference()?,
                spec: StatSpec {
                    object: decode_object(a)?,
                    definition: StatDefinition::Ex(StatMetricEx {
                        category: a.enumerated(attrs::CATEGORY, category_from)?,
                        subject: a.enumerated(attrs::SUBJECT, subject_from)?,
                        main_mask,
                        time_profile: a.string(attrs::TIME_PROFILE)?,
                        interval,
                    }),
                    notification: decode_notification(a)?,
                },
            })
        }
        ids::REQUEST_PEEK_STATISTIC => Message::Request(Request::Peek {
            reference_id: reference()?,
            user_request_id: a.int(attrs::USER_REQUEST_ID)?,
        }),
        ids::REQUEST_CLOSE_STATISTIC => Message::Request(Request::Close {
            reference_id: reference()?,
        }),
        ids::EVENT_STATISTIC_OPENED => Message::Event(Event::StatisticOpened {
            reference_id: reference()?,
        }),
        ids::EVENT_STATISTIC_CLOSED => Message::Event(Event::StatisticClosed {
            reference_id: reference()?,
        }),
        ids::EVENT_STATISTIC_INVALID => Message::Event(Event::StatisticInvalid {
            reference_id: reference()?,
        }),
        ids::EVENT_STATISTIC_VALID => Message::Event(Event::StatisticValid {
            reference_id: reference()?,
        }),
        ids::EVENT_INFO => {
            let va = a
                .get(attrs::VALUE, types::VALUE)?
                .ok_or_else(|| a.missing(attrs::VALUE))?;
            let mut vr = Reader::new(va.data, va.offset + ATTR_HEADER_LEN);
            Message::Event(Event::Info {
                reference_id: reference()?,
                user_request_id: a.int(attrs::USER_REQUEST_ID)?,
                server_time: a.long(attrs::SERVER_TIME)?,
                value: value::decode_value(&mut vr)?,
            })
        }
        ids::EVENT_ERROR => Message::Event(Event::Error {
            reference_id: a.opt_int(attrs::REFERENCE_ID)?,
            code: a.enumerated(attrs::ERROR_CODE, error_code_from)?,
            message: a.string(attrs::ERROR_MESSAGE)?,
        }),
        ids::EVENT_SERVER_MODE => Message::Event(Event::ServerMode {
            mode: a.enumerated(attrs::SERVER_MODE, server_mode_from)?,
        }),
        other => {
            return Err(DecodeError::new(
                HEADER_LEN,
                DecodeReason::UnknownMessage { id: other },
            ));
        }
    })
}
