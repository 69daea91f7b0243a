//! What a command answers, independent of the protocol version, and its encoding as RESP2
//! or RESP3 frames.

use bytes::{Bytes, BytesMut};
use redis_protocol::resp3::types::Resp3Frame;
use redis_protocol::{resp2, resp3};

/// A reply. `Multi` is several top-level replies for one command (SUBSCRIBE confirms each
/// channel separately); `Push` is out-of-band data (pub/sub messages), an array in RESP2.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Status(String),
    /// `-ERR ...`: the whole line after the `-`.
    Error(String),
    /// `:n`
    Int(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// The null bulk string (RESP3: null).
    Nil,
    /// An array.
    Array(Vec<Reply>),
    /// The null array (RESP3: null).
    NilArray,
    /// A map: a flat array in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// Out-of-band data: an array in RESP2, a push in RESP3.
    Push(Vec<Reply>),
    /// Several top-level replies.
    Multi(Vec<Reply>),
    /// A double: a bulk string in RESP2 (`%.17g`).
    Double(f64),
    /// A set: an array in RESP2.
    Set(Vec<Reply>),
    /// A boolean: 1 or 0 in RESP2.
    Bool(bool),
    /// A big number: a bulk string in RESP2.
    BigNumber(String),
    /// Verbatim text with its three-letter format: a bulk string in RESP2.
    Verbatim(String, Bytes),
    /// A reply preceded by attributes (RESP3 only; RESP2 sends the reply alone).
    WithAttributes(Vec<(Reply, Reply)>, Box<Reply>),
    /// Nothing at all is written (CLIENT REPLY OFF).
    Silent,
    /// Not a reply: the connection waits this many milliseconds of server time and sends
    /// the command again (a script holds the server; see `ScriptTime`).
    #[doc(hidden)]
    Wait(i64),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Status("OK".into())
    }

    /// An error reply; `message` starts with its code (`ERR`, `WRONGTYPE`, ...).
    pub fn error(message: impl Into<String>) -> Reply {
        Reply::Error(message.into())
    }

    /// A bulk string.
    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The pushes within this reply (a subscription's confirmations in RESP3).
    pub fn pushes(&self) -> Vec<Reply> {
        match self {
            Reply::Push(_) => vec![self.clone()],
            Reply::Multi(replies) => replies.iter().flat_map(Reply::pushes).collect(),
            _ => vec![],
        }
    }

    /// Appends this reply, encoded for protocol `resp` (2 or 3), to `out`.
    pub fn encode(&self, resp: u8, out: &mut BytesMut) {
        match self {
            Reply::Multi(replies) => return replies.iter().for_each(|r| r.encode(resp, out)),
            Reply::Silent | Reply::Wait(_) => return,
            Reply::WithAttributes(_, reply) if resp == 2 => return reply.encode(resp, out),
            _ => {}
        }
        // Encoding a frame we built ourselves into a growable buffer cannot fail.
        if resp == 3 {
            resp3::encode::complete::extend_encode(out, &self.to_resp3(), false).expect("encodable frame");
        } else {
            resp2::encode::extend_encode(out, &self.to_resp2(), false).expect("encodable frame");
        }
    }

    fn to_resp2(&self) -> resp2::types::BytesFrame {
        use resp2::types::BytesFrame as F;
        match self {
            Reply::Status(s) => F::SimpleString(Bytes::from(s.clone())),
            Reply::Error(e) => F::Error(sanitize(e).into()),
            Reply::Int(i) => F::Integer(*i),
            Reply::Bulk(b) => F::BulkString(b.clone()),
            Reply::Nil | Reply::NilArray => F::Null,
            Reply::Array(items) | Reply::Push(items) => F::Array(items.iter().map(Reply::to_resp2).collect()),
            Reply::Map(pairs) => F::Array(pairs.iter().flat_map(|(k, v)| [k.to_resp2(), v.to_resp2()]).collect()),
            Reply::Double(d) => F::BulkString(Bytes::from(crate::commands::format_double(*d))),
            Reply::Set(items) => F::Array(items.iter().map(Reply::to_resp2).collect()),
            Reply::Bool(b) => F::Integer(i64::from(*b)),
            Reply::BigNumber(n) => F::BulkString(Bytes::from(sanitize(n))),
            Reply::Verbatim(_, text) => F::BulkString(text.clone()),
            Reply::WithAttributes(_, reply) => reply.to_resp2(),
            Reply::Multi(_) | Reply::Silent | Reply::Wait(_) => unreachable!("flattened by encode"),
        }
    }

    fn to_resp3(&self) -> resp3::types::BytesFrame {
        use resp3::types::BytesFrame as F;
        match self {
            Reply::Status(s) => F::SimpleString { data: Bytes::from(s.clone()), attributes: None },
            Reply::Error(e) => F::SimpleError { data: sanitize(e).into(), attributes: None },
            Reply::Int(i) => F::Number { data: *i, attributes: None },
            Reply::Bulk(b) => F::BlobString { data: b.clone(), attributes: None },
            Reply::Nil | Reply::NilArray => F::Null,
            Reply::Array(items) => F::Array { data: items.iter().map(Reply::to_resp3).collect(), attributes: None },
            Reply::Push(items) => F::Push { data: items.iter().map(Reply::to_resp3).collect(), attributes: None },
            Reply::Map(pairs) => {
                F::Map { data: pairs.iter().map(|(k, v)| (k.to_resp3(), v.to_resp3())).collect(), attributes: None }
            }
            Reply::Double(d) => F::Double { data: *d, attributes: None },
            Reply::Set(items) => F::Set { data: items.iter().map(Reply::to_resp3).collect(), attributes: None },
            Reply::Bool(b) => F::Boolean { data: *b, attributes: None },
            Reply::BigNumber(n) => F::BigNumber { data: Bytes::from(sanitize(n)), attributes: None },
            Reply::Verbatim(format, text) => F::VerbatimString {
                data: text.clone(),
                format: match format.as_str() {
                    "mkd" => resp3::types::VerbatimStringFormat::Markdown,
                    _ => resp3::types::VerbatimStringFormat::Text,
                },
                attributes: None,
            },
            Reply::WithAttributes(attributes, reply) => {
                let mut frame = reply.to_resp3();
                let map = attributes.iter().map(|(k, v)| (k.to_resp3(), v.to_resp3())).collect();
                let _ = frame.add_attributes(map);
                frame
            }
            Reply::Multi(_) | Reply::Silent | Reply::Wait(_) => unreachable!("flattened by encode"),
        }
    }
}

/// Redis replaces CR and LF in error lines by spaces, so that an error stays one line.
fn sanitize(error: &str) -> String {
    error.replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(reply: Reply, resp: u8) -> String {
        let mut out = BytesMut::new();
        reply.encode(resp, &mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn replies_encode_as_redis_writes_them() {
        assert_eq!(encoded(Reply::ok(), 2), "+OK\r\n");
        assert_eq!(encoded(Reply::error("ERR a\nb"), 2), "-ERR a b\r\n");
        assert_eq!(encoded(Reply::Nil, 2), "$-1\r\n");
        assert_eq!(encoded(Reply::Nil, 3), "_\r\n");
        let map = Reply::Map(vec![(Reply::bulk("f"), Reply::bulk("v"))]);
        assert_eq!(encoded(map.clone(), 2), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
        assert_eq!(encoded(map, 3), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
        let push = Reply::Push(vec![Reply::bulk("message"), Reply::bulk("c"), Reply::bulk("x")]);
        assert!(encoded(push, 3).starts_with(">3\r\n"));
        assert_eq!(encoded(Reply::Multi(vec![Reply::Int(1), Reply::Int(2)]), 2), ":1\r\n:2\r\n");
    }
}
