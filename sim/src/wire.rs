//! Recording Redis commands as the client saw them: a stream wrapper that decodes the RESP
//! a client writes (invocations) and reads (completions) and records both with true time.
//! The same wrapper closes the node's gate at an armed [`Moment`]: right after a read's reply
//! arrives, or right before a write leaves.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::BytesFrame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::gate::Gate;
use check::fault::{is_read, Moment};
use check::EventKind;

use crate::recorder::Recorder;

/// A client stream that records each command it carries and each reply.
pub struct RecordingStream<S> {
    inner: S,
    conn: u64,
    recorder: Recorder,
    gate: Arc<Gate>,
    written: BytesMut,
    read: BytesMut,
    /// Commands sent and not answered yet: their op numbers, and whether each is a read.
    pending: VecDeque<(u64, Option<bool>)>,
    next_op: u64,
    /// After bytes that do not parse (a stream cut mid-frame), stop recording this stream.
    broken: bool,
    /// The server's end is closed (recorded once).
    ended: bool,
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
            broken: false,
            ended: false,
        }
    }

    fn sent(&mut self, bytes: &[u8]) {
        if self.broken {
            return;
        }
        self.written.extend_from_slice(bytes);
        while let Some(frame) = self.next_frame(true) {
            let read = command(&frame).and_then(is_read);
            let args = match frame {
                BytesFrame::Array(items) => items.iter().map(short).collect(),
                other => vec![short(&other)],
            };
            let op = self.next_op;
            self.next_op += 1;
            self.pending.push_back((op, read));
            self.recorder.record(EventKind::RedisInvoke { conn: self.conn, op, args });
        }
    }

    fn received(&mut self, bytes: &[u8]) {
        if self.broken {
            return;
        }
        self.read.extend_from_slice(bytes);
        while let Some(frame) = self.next_frame(false) {
            let reply = short(&frame);
            let (kind, read) = match self.pending.pop_front() {
                Some((op, read)) => (EventKind::RedisComplete { conn: self.conn, op, reply }, read),
                None => (EventKind::RedisPush { conn: self.conn, reply }, None),
            };
            self.recorder.record(kind);
            if read == Some(true) && self.gate.fire(Moment::AfterRead, self.recorder.now_us()) {
                self.recorder.record(EventKind::Paused);
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

impl<S: AsyncRead + Unpin> AsyncRead for RecordingStream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
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
        self.received(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for RecordingStream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // Armed before a write: the node freezes with the write still in its hands.
        if self.gate.armed() == Some(Moment::BeforeWrite)
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
