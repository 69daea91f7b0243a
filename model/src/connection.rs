//! One client connection: read requests (RESP arrays, or inline commands), run them in
//! order, write replies, and interleave pub/sub pushes.

use bytes::{Bytes, BytesMut};
use redis_protocol::resp2::decode::decode_bytes_mut;
use redis_protocol::resp2::types::{BytesFrame, Resp2Frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::commands::{ReplyMode, Session};
use crate::reply::Reply;
use crate::server::Server;

/// Redis's limit on an inline request line.
const INLINE_MAX: usize = 64 * 1024;

/// The most arguments one request may carry (Redis 7.0 refuses a larger multibulk length).
pub(crate) const REQUEST_ARGS_MAX: i64 = 1024 * 1024;

enum Parsed {
    Command(Vec<Bytes>),
    Empty,
    Incomplete,
    Invalid(String),
}

impl Server {
    /// Serves one client connection until it closes, QUITs, or the server drops it.
    pub async fn serve_connection<S>(self, mut stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        if !self.is_up() {
            return;
        }
        let mut generation = self.inner.generation.subscribe();
        let born = *generation.borrow_and_update();
        let (push, mut pushes) = mpsc::unbounded_channel();
        let mut session = Session::new(self.next_client_id(), push);
        self.inner.connections.connected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.connections.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut input = BytesMut::with_capacity(4096);
        let mut output = BytesMut::with_capacity(4096);
        loop {
            tokio::select! {
                // A dropped connection serves nothing more, even input already waiting.
                biased;
                _ = generation.changed() => break,
                read = stream.read_buf(&mut input) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let keep_open = self.run_requests(&mut session, born, &mut input, &mut output, &mut pushes).await;
                        if stream.write_all(&output).await.is_err() || !keep_open {
                            break;
                        }
                        output.clear();
                    }
                },
                Some(message) = pushes.recv() => {
                    message.encode(session.resp, &mut output);
                    if stream.write_all(&output).await.is_err() {
                        break;
                    }
                    output.clear();
                }
            }
        }
        {
            let mut state = self.lock();
            state.pubsub.remove_client(session.id);
            state.replication.remove(session.id);
            state.meta.tracking.disable(session.id);
            let watched = session.tx.watched_keys();
            state.meta.watches.unwatch_all(session.id, &watched);
        }
        self.inner.connections.connected.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let _ = stream.shutdown().await;
    }

    /// Runs every complete request in `input`; returns false when the connection must close.
    /// `born` is the server generation the connection was accepted in.
    async fn run_requests(
        &self,
        session: &mut Session,
        born: u64,
        input: &mut BytesMut,
        output: &mut BytesMut,
        pushes: &mut mpsc::UnboundedReceiver<Reply>,
    ) -> bool {
        loop {
            let args = match parse_request(input) {
                Parsed::Command(args) => args,
                Parsed::Empty => continue,
                Parsed::Incomplete => return true,
                Parsed::Invalid(reason) => {
                    Reply::error(format!("ERR Protocol error: {reason}")).encode(session.resp, output);
                    return false;
                }
            };
            let delay = self.delay();
            if !delay.is_zero() {
                self.inner.clock.sleep(delay).await;
            }
            // Checked before each command: the server may have been crashed or this connection
            // dropped while an earlier command of the batch waited out a delay.
            if *self.inner.generation.borrow() != born {
                return false;
            }
            let skipping = session.reply_mode == ReplyMode::Skip;
            if skipping {
                session.reply_mode = ReplyMode::On;
            }
            let was_replica = session.replica;
            let reply = loop {
                match self.execute_in_place(session, &args) {
                    None => return false,
                    Some(Reply::Wait(ms)) => {
                        self.inner.clock.sleep(std::time::Duration::from_millis(ms.max(1) as u64)).await
                    }
                    Some(reply) => break reply,
                }
            };
            let reply = if std::mem::take(&mut session.script_hold) { self.hold_script(reply).await } else { reply };
            // The server crashed (or dropped this connection) while the script held it.
            if *self.inner.generation.borrow() != born {
                return false;
            }
            // Messages published before this reply was made go out before it, as in Redis.
            while let Ok(message) = pushes.try_recv() {
                message.encode(session.resp, output);
            }
            if !skipping && session.reply_mode == ReplyMode::On {
                reply.encode(session.resp, output);
            } else {
                // Subscription confirmations are pushed, not replied: CLIENT REPLY OFF does
                // not hold them back (Redis 7 sends them as pushes on RESP2 as well).
                reply.pushes().iter().for_each(|push| push.encode(session.resp, output));
            }
            for push in std::mem::take(&mut session.after_reply) {
                push.encode(session.resp, output);
            }
            if session.replica && !was_replica {
                self.become_replica(session, output);
            }
            let sleep_ms = std::mem::take(&mut session.pending_sleep_ms);
            if sleep_ms > 0 {
                self.inner.clock.sleep(std::time::Duration::from_millis(sleep_ms)).await;
            }
            if session.quit {
                return false;
            }
        }
    }
}

impl Server {
    /// Simulated script time: the script has run; its caller waits out its cost in server
    /// time (other clients are told BUSY past the threshold meanwhile). SCRIPT KILL ends it
    /// early — the caller then gets the kill error, as if the script had been stopped.
    async fn hold_script(&self, reply: Reply) -> Reply {
        let control = &self.inner.script;
        let mut reply = reply;
        while let Some(end) = control.held_until() {
            if control.kill_requested() && !control.has_written() {
                reply = Reply::error(format!("ERR {}", crate::scripting::KILLED));
                break;
            }
            let left = end - self.inner.clock.now_ms();
            if left <= 0 {
                break;
            }
            self.inner.clock.sleep(std::time::Duration::from_millis(left.min(1) as u64)).await;
        }
        let _ = control.finish();
        reply
    }

    /// On a multi-threaded runtime a command (a long script above all) runs in place, so the
    /// worker's other tasks move elsewhere: other clients must be told BUSY meanwhile. The
    /// simulation's runtime has one thread and runs it directly.
    fn execute_in_place(&self, session: &mut Session, args: &[Bytes]) -> Option<Reply> {
        // Only what may run a script: everything else runs on the worker, so that commands
        // from different connections keep the order they arrived in.
        let may_run_script = [&b"eval"[..], b"evalsha", b"eval_ro", b"evalsha_ro", b"fcall", b"fcall_ro", b"exec"]
            .iter()
            .any(|name| args[0].eq_ignore_ascii_case(name));
        let multi_thread = may_run_script
            && tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread {
            tokio::task::block_in_place(|| self.execute(session, args))
        } else {
            self.execute(session, args)
        }
    }

    /// SYNC: send an empty RDB as a bulk payload (no trailing CRLF, as Redis sends it), then
    /// the connection receives the replication stream through its push channel.
    fn become_replica(&self, session: &Session, output: &mut BytesMut) {
        let rdb = crate::replication::EMPTY_RDB;
        output.extend_from_slice(format!("${}\r\n", rdb.len()).as_bytes());
        output.extend_from_slice(rdb);
        self.lock().replication.add(session.id, session.push.clone());
    }
}

fn parse_request(input: &mut BytesMut) -> Parsed {
    match input.first() {
        None => Parsed::Incomplete,
        Some(b'*') if multibulk_too_long(input) => Parsed::Invalid("invalid multibulk length".into()),
        Some(b'*') => match decode_bytes_mut(input) {
            Ok(None) => Parsed::Incomplete,
            Ok(Some((frame, _, _))) => command_from_frame(frame),
            Err(e) => Parsed::Invalid(e.details().to_string()),
        },
        Some(_) => parse_inline(input),
    }
}

/// Checked before decoding, so that a request announcing billions of arguments is refused
/// at once instead of being waited for.
fn multibulk_too_long(input: &[u8]) -> bool {
    let Some(end) = input.iter().take(24).position(|b| *b == b'\r') else { return input.len() > 24 };
    std::str::from_utf8(&input[1..end]).ok().and_then(|n| n.parse::<i64>().ok()).is_some_and(|n| n > REQUEST_ARGS_MAX)
}

fn command_from_frame(frame: BytesFrame) -> Parsed {
    let BytesFrame::Array(items) = frame else { return Parsed::Invalid("expected an array".into()) };
    if items.is_empty() {
        return Parsed::Empty;
    }
    let mut args = Vec::with_capacity(items.len());
    for item in items {
        match item {
            BytesFrame::BulkString(b) => args.push(b),
            other => return Parsed::Invalid(format!("expected '$', got '{}'", other.kind().to_byte() as char)),
        }
    }
    Parsed::Command(args)
}

/// An inline command (`PING\r\n`, as telnet or a health check sends): whitespace-separated.
fn parse_inline(input: &mut BytesMut) -> Parsed {
    let Some(end) = input.iter().position(|b| *b == b'\n') else {
        return if input.len() > INLINE_MAX {
            Parsed::Invalid("too big inline request".into())
        } else {
            Parsed::Incomplete
        };
    };
    let line = input.split_to(end + 1);
    let text = &line[..end];
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    match split_args(text) {
        None => Parsed::Invalid("unbalanced quotes in request".into()),
        Some(args) if args.is_empty() => Parsed::Empty,
        Some(args) => Parsed::Command(args),
    }
}

/// Redis's `sdssplitargs`: words separated by spaces; "double quotes" with \n \r \t \b \a
/// \\ \" and \xHH escapes; 'single quotes' with \' only. A closing quote must be followed by
/// a space or the end. `None` for unbalanced quotes.
fn split_args(text: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < text.len() && text[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= text.len() {
            return Some(args);
        }
        let mut word = Vec::new();
        let (mut in_double, mut in_single) = (false, false);
        loop {
            let c = text.get(i).copied();
            if in_double {
                match c? {
                    b'\\'
                        if i + 3 < text.len()
                            && text[i + 1] == b'x'
                            && text[i + 2].is_ascii_hexdigit()
                            && text[i + 3].is_ascii_hexdigit() =>
                    {
                        let hex = std::str::from_utf8(&text[i + 2..i + 4]).ok()?;
                        word.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 3;
                    }
                    b'\\' if i + 1 < text.len() => {
                        i += 1;
                        word.push(match text[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    b'"' => {
                        if text.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => word.push(other),
                }
            } else if in_single {
                match c? {
                    b'\\' if text.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        word.push(b'\'');
                    }
                    b'\'' => {
                        if text.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => word.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(w) if w.is_ascii_whitespace() => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => word.push(other),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(word));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_from_arrays_and_inline_lines() {
        let mut input = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n\r\n*1\r\n$4\r\nPI"[..]);
        let Parsed::Command(args) = parse_request(&mut input) else { panic!("an array request") };
        assert_eq!(args, vec![Bytes::from("ECHO"), Bytes::from("hi")]);
        let Parsed::Command(args) = parse_request(&mut input) else { panic!("an inline request") };
        assert_eq!(args, vec![Bytes::from("PING")]);
        assert!(matches!(parse_request(&mut input), Parsed::Empty));
        assert!(matches!(parse_request(&mut input), Parsed::Incomplete), "half a frame waits for more");
    }

    #[test]
    fn inline_requests_split_as_sdssplitargs_does() {
        let words = |t: &str| {
            split_args(t.as_bytes())
                .map(|v| v.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect::<Vec<_>>())
        };
        assert_eq!(words(r#"EVAL "return 'a b'" 0"#), Some(vec!["EVAL".into(), "return 'a b'".into(), "0".into()]));
        assert_eq!(words(r#"SET k "a\x41\n""#), Some(vec!["SET".into(), "k".into(), "aA\n".into()]));
        assert_eq!(words("SET k 'it\\'s'"), Some(vec!["SET".into(), "k".into(), "it's".into()]));
        assert_eq!(words(r#"SET "unbalanced"#), None);
        assert_eq!(words(r#"SET "a"b"#), None);
    }
}
