//! Recording Redis commands as the client saw them: a stream wrapper that decodes the RESP
//! a client writes (invocations) and reads (completions) and records both with true time.
//! Replies are decoded in the connection's protocol — RESP2, or RESP3 once the client's
//! `HELLO 3` is answered — and written in one notation whatever the protocol (a map as its
//! flat RESP2 array, a boolean as `:1`/`:0`), so that a checker compares like with like.
//! RESP3 pushes are recorded as pushes, except the confirmation a (un)subscribe command gets
//! as its reply. The same wrapper closes the node's gate at an armed [`Moment`]: right after
//! a read's reply arrives, right before a write leaves, or right after a write's reply
//! arrives.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;
use redis_protocol::resp3::decode::complete::decode_bytes_mut as decode_resp3;
use redis_protocol::resp3::types::BytesFrame as Frame3;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::gate::Gate;
use crate::late::LateReply;
use crate::net::SOURCE_HOST;
use crate::race::Races;
use check::fault::{is_read, Moment};
use check::{EventKind, NodeId};

use crate::recorder::Recorder;

/// A client stream that records each command it carries and each reply.
pub struct RecordingStream<S> {
    inner: S,
    conn: u64,
    recorder: Recorder,
    gate: Arc<Gate>,
    written: BytesMut,
    read: BytesMut,
    /// Commands sent and not answered yet.
    pending: VecDeque<Pending>,
    next_op: u64,
    /// The protocol replies arrive in: 2, or 3 from the reply to a `HELLO 3` on.
    protocol: u8,
    /// After bytes that do not parse (a stream cut mid-frame), stop recording this stream.
    broken: bool,
    /// The server's end is closed (recorded once).
    ended: bool,
    /// Where the node's late reply is armed, the host this stream reaches, and the run's
    /// races.
    late: Option<Lateness>,
    /// A reply held back ([`LateReply`]): its bytes and the moment they may go on.
    held: Option<Held>,
}

/// What a stream needs to hold a reply late and have the read it answers raced.
pub(crate) struct Lateness {
    pub(crate) late: Arc<LateReply>,
    pub(crate) host: &'static str,
    pub(crate) races: Races,
    pub(crate) node: NodeId,
}

/// Bytes from the server held back until `until` elapses; the source key of the read they
/// answer, raced meanwhile.
struct Held {
    bytes: BytesMut,
    until: Pin<Box<tokio::time::Sleep>>,
    raced: Option<String>,
}

impl<S> RecordingStream<S> {
    pub(crate) fn new(inner: S, conn: u64, recorder: Recorder, gate: Arc<Gate>) -> Self {
        RecordingStream {
            inner,
            conn,
            recorder,
            gate,
            written: BytesMut::new(),
            read: BytesMut::new(),
            pending: VecDeque::new(),
            next_op: 0,
            protocol: 2,
            broken: false,
            ended: false,
            late: None,
            held: None,
        }
    }

    /// The same stream, delaying the reply the node's late reply is armed for.
    pub(crate) fn late_from(mut self, lateness: Lateness) -> Self {
        self.late = Some(lateness);
        self
    }

    /// If the next reply due answers a read or a write and a late reply is armed for it,
    /// takes it: the delay, and the source key to race if it answers a read of the source.
    fn late_reply_due(&self) -> Option<(u64, Option<String>)> {
        let lateness = self.late.as_ref()?;
        let pending = self.pending.front().filter(|p| p.read.is_some() && !self.broken)?;
        let delay_ms = lateness.late.take(lateness.host)?;
        Some((delay_ms, pending.key.clone()))
    }

    fn sent(&mut self, bytes: &[u8]) {
        if self.broken {
            return;
        }
        self.written.extend_from_slice(bytes);
        while let Some(frame) = self.next_frame(true) {
            let name = command(&frame).map(|n| String::from_utf8_lossy(n).to_ascii_uppercase());
            let read = name.as_deref().and_then(|n| is_read(n.as_bytes()));
            let args: Vec<String> = match frame {
                BytesFrame::Array(items) => items.iter().map(short).collect(),
                other => vec![short(&other)],
            };
            // `HELLO <protover>`: its reply, and all after it, come in that protocol.
            let protocol = match (name.as_deref(), args.get(1).map(|a| a.trim_matches('"'))) {
                (Some("HELLO"), Some("2")) => Some(2),
                (Some("HELLO"), Some("3")) => Some(3),
                _ => None,
            };
            let op = self.next_op;
            self.next_op += 1;
            // A source read's key: the one a late reply to it has raced (kept only where a
            // race can be posted, so that the Redis connections' reads allocate nothing).
            let raceable = read == Some(true) && self.late.as_ref().is_some_and(|l| l.host == SOURCE_HOST);
            let key = if raceable { args.get(1).map(|k| check::unquote(k)) } else { None };
            self.pending.push_back(Pending { op, read, name, protocol, key });
            self.recorder.record(EventKind::RedisInvoke { conn: self.conn, op, args });
        }
    }

    fn received(&mut self, bytes: &[u8]) {
        if self.broken {
            return;
        }
        self.read.extend_from_slice(bytes);
        loop {
            let switching = self.pending.front().and_then(|p| p.protocol.map(|to| (self.protocol, to)));
            if let Some((_, to)) = switching {
                self.protocol = to;
            }
            let Some(incoming) = self.next_reply() else {
                if let Some((from, _)) = switching {
                    self.protocol = from;
                }
                return;
            };
            let answers = match &incoming {
                Incoming::Reply(_) => true,
                Incoming::Push { kind, .. } => self.pending.front().is_some_and(|p| p.confirmed_by(kind)),
            };
            let (reply, pending) = match incoming {
                Incoming::Reply(reply) | Incoming::Push { reply, .. } => {
                    (reply, answers.then(|| self.pending.pop_front()).flatten())
                }
            };
            if let (Some((from, _)), true) = (switching, reply.starts_with('-')) {
                // HELLO refused (`-NOPROTO`): the protocol stays as it was.
                self.protocol = from;
            }
            // A pushed message is data the node acts on, as a read's reply is.
            let read = match &pending {
                Some(p) => p.read,
                None => carries_data(&reply).then_some(true),
            };
            let kind = match pending {
                Some(p) => EventKind::RedisComplete { conn: self.conn, op: p.op, reply },
                None => EventKind::RedisPush { conn: self.conn, reply },
            };
            self.recorder.record(kind);
            let moment = match read {
                Some(true) => Some(Moment::AfterRead),
                Some(false) => Some(Moment::AfterWrite),
                None => None,
            };
            if moment.is_some_and(|m| self.gate.fire(m, self.recorder.now_us())) {
                self.recorder.record(EventKind::Paused);
            }
        }
    }

    /// The next complete reply from the server, decoded in the connection's protocol.
    fn next_reply(&mut self) -> Option<Incoming> {
        if self.protocol == 2 {
            return self.next_frame(false).map(|frame| Incoming::Reply(short(&frame)));
        }
        match decode_resp3(&mut self.read) {
            Ok(Some((Frame3::Push { data, .. }, _, _))) => {
                let kind = data.first().map(|k| short3(k).trim_matches('"').to_ascii_lowercase());
                Some(Incoming::Push { reply: list3(data.iter()), kind })
            }
            Ok(Some((frame, _, _))) => Some(Incoming::Reply(short3(&frame))),
            Ok(None) => None,
            Err(_) => {
                self.broken = true;
                None
            }
        }
    }

    /// Whether `bytes`, sent after what was sent so far, complete a write command.
    fn completes_a_write(&self, bytes: &[u8]) -> bool {
        let mut buf = self.written.clone();
        buf.extend_from_slice(bytes);
        while let Ok(Some((frame, _, _))) = decode_bytes_mut(&mut buf) {
            if command(&frame).and_then(is_read) == Some(false) {
                return true;
            }
        }
        false
    }

    fn next_frame(&mut self, outgoing: bool) -> Option<BytesFrame> {
        let buf = if outgoing { &mut self.written } else { &mut self.read };
        match decode_bytes_mut(buf) {
            Ok(Some((frame, _, _))) => Some(frame),
            Ok(None) => None,
            Err(_) => {
                self.broken = true;
                None
            }
        }
    }
}

/// A command sent and not answered yet.
#[derive(Debug)]
struct Pending {
    op: u64,
    /// Whether it reads (`Some(true)`), writes (`Some(false)`), or neither ([`is_read`]).
    read: Option<bool>,
    /// Its name, upper-cased.
    name: Option<String>,
    /// The protocol its reply and all after come in, for `HELLO`.
    protocol: Option<u8>,
    /// A read's first key, as sent.
    key: Option<String>,
}

impl Pending {
    /// Whether a RESP3 push of `kind` is this command's reply: the confirmation of a
    /// (un)subscribe command.
    fn confirmed_by(&self, kind: &Option<String>) -> bool {
        let (Some(name), Some(kind)) = (&self.name, kind) else { return false };
        const CONFIRMED: [&str; 6] =
            ["SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE", "PUNSUBSCRIBE", "SSUBSCRIBE", "SUNSUBSCRIBE"];
        CONFIRMED.contains(&name.as_str()) && name.eq_ignore_ascii_case(kind)
    }
}

/// What the server sent: a reply, or (RESP3) a push with its kind (`message`, `subscribe`,
/// `invalidate`, ...).
enum Incoming {
    Reply(String),
    Push { reply: String, kind: Option<String> },
}

/// A command frame's name.
fn command(frame: &BytesFrame) -> Option<&[u8]> {
    match frame {
        BytesFrame::Array(items) => match items.first()? {
            BytesFrame::BulkString(name) | BytesFrame::SimpleString(name) => Some(name),
            _ => None,
        },
        _ => None,
    }
}

/// A frame in one short line: `OK`, `:1`, `"bulk"`, `(nil)`, `-ERR ...`, `[a, b]`.
pub(crate) fn short(frame: &BytesFrame) -> String {
    match frame {
        BytesFrame::SimpleString(s) => String::from_utf8_lossy(s).into_owned(),
        BytesFrame::Error(e) => format!("-{e}"),
        BytesFrame::Integer(i) => format!(":{i}"),
        BytesFrame::BulkString(b) => format!("{:?}", String::from_utf8_lossy(b)),
        BytesFrame::Array(items) => format!("[{}]", items.iter().map(short).collect::<Vec<_>>().join(", ")),
        BytesFrame::Null => "(nil)".to_owned(),
    }
}

/// Whether a push carries data the node will act on: a pub/sub message, an invalidation
/// (not a subscription's confirmation).
fn carries_data(push: &str) -> bool {
    let first = push.strip_prefix('[').and_then(|rest| rest.split(',').next()).unwrap_or("");
    ["message", "pmessage", "smessage", "invalidate"].contains(&first.trim().trim_matches('"'))
}

/// A RESP3 frame in the notation of [`short`]: as it would read in its RESP2 form.
fn short3(frame: &Frame3) -> String {
    let text = |b: &[u8]| format!("{:?}", String::from_utf8_lossy(b));
    match frame {
        Frame3::SimpleString { data, .. } => String::from_utf8_lossy(data).into_owned(),
        Frame3::SimpleError { data, .. } => format!("-{data}"),
        Frame3::BlobError { data, .. } => format!("-{}", String::from_utf8_lossy(data)),
        Frame3::Number { data, .. } => format!(":{data}"),
        Frame3::Boolean { data, .. } => format!(":{}", u8::from(*data)),
        Frame3::BlobString { data, .. } | Frame3::BigNumber { data, .. } | Frame3::ChunkedString(data) => text(data),
        Frame3::VerbatimString { data, .. } => text(data),
        Frame3::Double { data, .. } => format!("{:?}", data.to_string()),
        Frame3::Null => "(nil)".to_owned(),
        Frame3::Array { data, .. } | Frame3::Push { data, .. } => list3(data.iter()),
        Frame3::Set { data, .. } => list3(data.iter()),
        Frame3::Map { data, .. } => list3(data.iter().flat_map(|(k, v)| [k, v])),
        Frame3::Hello { .. } => "(hello)".to_owned(),
    }
}

fn list3<'a>(items: impl Iterator<Item = &'a Frame3>) -> String {
    format!("[{}]", items.map(short3).collect::<Vec<_>>().join(", "))
}

impl<S> RecordingStream<S> {
    /// The server closed the connection (end of stream, or a reset): nothing sent on it can
    /// take effect after now.
    fn closed(&mut self) {
        if !self.ended {
            self.ended = true;
            self.recorder.record(EventKind::RedisClosed { conn: self.conn });
        }
    }
}

impl<S> Drop for RecordingStream<S> {
    /// A stream dropped with a raced read still held (the node crashed, the client gave up)
    /// closes its race: no writer should race a read that will never be answered.
    fn drop(&mut self) {
        if let (Some(Held { raced: Some(key), .. }), Some(lateness)) = (&self.held, &self.late) {
            lateness.races.close(&lateness.node, key);
        }
    }
}

impl<S> RecordingStream<S> {
    /// The held reply, once its time has come: as much of it as `buf` takes.
    fn poll_held(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let held = self.held.as_mut().expect("a reply is held");
        ready!(held.until.as_mut().poll(cx));
        let bytes = held.bytes.split_to(held.bytes.len().min(buf.remaining()));
        if held.bytes.is_empty() {
            let held = self.held.take().expect("a reply is held");
            if let (Some(key), Some(lateness)) = (held.raced, &self.late) {
                lateness.races.close(&lateness.node, &key);
            }
        }
        buf.put_slice(&bytes);
        self.received(&bytes);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for RecordingStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        // A reply held back goes first: nothing after it on the connection overtakes it.
        if self.held.is_some() {
            return self.poll_held(cx, buf);
        }
        let before = buf.filled().len();
        let wanted = buf.remaining() > 0;
        if let Err(e) = ready!(Pin::new(&mut self.inner).poll_read(cx, buf)) {
            self.closed();
            return Poll::Ready(Err(e));
        }
        let filled = buf.filled().len() - before;
        if filled == 0 && wanted {
            self.closed();
        }
        if filled > 0 {
            if let Some((delay_ms, raced)) = self.late_reply_due() {
                // Taken back out of the caller's buffer: to the client, they have not come yet.
                let bytes = BytesMut::from(&buf.filled()[before..]);
                buf.set_filled(before);
                let until = Box::pin(tokio::time::sleep(std::time::Duration::from_millis(delay_ms)));
                if let (Some(key), Some(lateness)) = (&raced, &self.late) {
                    lateness.races.post(&lateness.node, key);
                }
                self.held = Some(Held { bytes, until, raced });
                return self.poll_held(cx, buf);
            }
        }
        self.received(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RecordingStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // Armed before a write: the node freezes with the write still in its hands.
        if self.gate.awaits(Moment::BeforeWrite)
            && !self.broken
            && self.completes_a_write(buf)
            && self.gate.fire(Moment::BeforeWrite, self.recorder.now_us())
        {
            self.recorder.record(EventKind::Paused);
        }
        if self.gate.park(cx.waker()) {
            return Poll::Pending;
        }
        let written = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.sent(&buf[..written]);
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use check::{Event, EventKind, NodeId};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::clock::{SimClock, TrueTime};
    use crate::recorder::Journal;

    /// A client on a RESP3 connection, as the cache's subscriber: HELLO 3, SUBSCRIBE, then
    /// an invalidation pushed, then a PING; the server's side written by hand.
    async fn subscriber(gate: Arc<Gate>) -> Vec<Event> {
        let time = TrueTime::default();
        let journal = Journal::new(time.clone());
        let recorder = Recorder::new(journal.clone(), NodeId::replica(1), 1, SimClock::new(time));
        let (client, mut server) = tokio::io::duplex(4096);
        let mut stream = RecordingStream::new(client, 7, recorder, gate);
        let mut buf = vec![0u8; 4096];
        let exchange: [(&str, &str); 3] = [
            ("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n", "%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n"),
            ("*2\r\n$9\r\nSUBSCRIBE\r\n$3\r\ninv\r\n", ">3\r\n+subscribe\r\n+inv\r\n:1\r\n"),
            ("*1\r\n$4\r\nPING\r\n", ">3\r\n$7\r\nmessage\r\n$3\r\ninv\r\n$2\r\nk1\r\n+PONG\r\n"),
        ];
        for (request, reply) in exchange {
            stream.write_all(request.as_bytes()).await.unwrap();
            let n = server.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], request.as_bytes());
            server.write_all(reply.as_bytes()).await.unwrap();
            let mut want = reply.len();
            while want > 0 {
                want -= stream.read(&mut buf).await.unwrap();
            }
        }
        journal.events()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn resp3_replies_and_pushes_are_recorded_and_a_pushed_message_is_a_read() {
        let gate = Arc::new(Gate::default());
        gate.arm(Moment::AfterRead);
        let events = subscriber(gate.clone()).await;
        let kinds: Vec<&EventKind> = events.iter().map(|e| &e.kind).collect();
        let reply = |op: u64, reply: &str| EventKind::RedisComplete { conn: 7, op, reply: reply.into() };
        // redis-protocol's decoder builds a map's entries in an order of its own (an IndexMap,
        // so always the same one): both pairs are there.
        assert!(kinds.contains(&&reply(0, "[proto, :3, server, redis]")), "{kinds:#?}");
        assert!(kinds.contains(&&reply(1, "[subscribe, inv, :1]")), "the confirmation answers SUBSCRIBE: {kinds:#?}");
        let push = EventKind::RedisPush { conn: 7, reply: r#"["message", "inv", "k1"]"#.into() };
        let at = kinds.iter().position(|k| **k == push).expect("the message is a push");
        assert_eq!(kinds[at + 1], &EventKind::Paused, "the armed pause fires right after the message: {kinds:#?}");
        assert!(gate.take_fired().is_some());
        assert!(kinds.contains(&&reply(2, "PONG")), "and the PING after it is answered: {kinds:#?}");
    }
}
