//! The wire: requests in, replies out.
//!
//! Decoding is the `redis-protocol` crate's RESP2 codec behind a guard.
//! The guard exists because a server must not trust what it is sent: the
//! crate's parser recurses into nested arrays (a stream of `*1\r\n` would
//! overflow the stack), accepts any frame type where Redis wants bulk
//! strings, and has no limit on declared lengths. So each request header is
//! checked first, the way Redis's own `processMultibulkBuffer` does (with
//! its error texts), and only a complete, well-formed request is handed to
//! the crate. Inline commands (`PING\r\n` typed into `nc`) are parsed in
//! inline.rs, since the crate does not know them.

mod inline;

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use redis_protocol::codec::Resp2;
use redis_protocol::resp2::types::BytesFrame;
use tokio_util::codec::{Decoder, Encoder};

use super::int::parse_i64;
use super::reply::Reply;
use inline::split_inline;

/// Largest bulk string accepted, as Redis's default `proto-max-bulk-len`.
pub(super) const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Most arguments in one request (Redis allows up to `INT_MAX`; a million is
/// far beyond any real command and keeps the argument vector bounded).
pub(super) const MAX_ARGS: usize = 1024 * 1024;
/// Longest header line or inline request, as Redis's `PROTO_INLINE_MAX_SIZE`.
pub(super) const MAX_INLINE: usize = 64 * 1024;

/// What a client that has not authenticated yet may send, where a
/// password is set (Redis's own limits for such clients): enough for
/// `AUTH` and `HELLO`, not for making the server buffer a 512 MB argument.
const UNAUTHENTICATED_ARGS: usize = 10;
const UNAUTHENTICATED_BULK: usize = 16 * 1024;

/// Why the input could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum CodecError {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The bytes are not a Redis request; the text follows `Protocol error: `.
    #[error("Protocol error: {0}")]
    Protocol(String),
}

fn protocol(msg: impl Into<String>) -> CodecError {
    CodecError::Protocol(msg.into())
}

/// What the guard found at the start of the buffer.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// More bytes are needed.
    Incomplete,
    /// An empty request (`*0` or `*-1`) of this many bytes, which Redis skips.
    Empty(usize),
    /// A complete request of this many bytes.
    Request(usize),
}

/// The header line at `at` (after its type byte), without its CRLF, and
/// where the next line starts.
fn line<'a>(
    buf: &'a [u8],
    at: usize,
    too_big: &str,
) -> Result<Option<(&'a [u8], usize)>, CodecError> {
    let rest = &buf[at.min(buf.len())..];
    match rest.windows(2).position(|w| w == b"\r\n") {
        Some(i) => Ok(Some((&rest[..i], at + i + 2))),
        None if rest.len() >= MAX_INLINE => Err(protocol(too_big)),
        None => Ok(None),
    }
}

/// How far the guard got into a request that is not complete yet. The next
/// bytes resume the scan there instead of redoing it: a request of a
/// million small arguments arriving a byte at a time would otherwise cost
/// quadratic time. Valid because only the codec consumes the buffer, always
/// whole requests from its front.
#[derive(Debug, Clone, Copy)]
struct Progress {
    /// Arguments not yet seen whole.
    left: usize,
    /// Where the next argument's header starts.
    at: usize,
}

/// Checks that `buf` (starting with `*`) holds a well-formed request and
/// measures it, without allocating.
fn scan_multibulk(
    buf: &[u8],
    progress: &mut Option<Progress>,
    unauthenticated: bool,
) -> Result<Scan, CodecError> {
    let (max_args, max_bulk, prefix) = if unauthenticated {
        (
            UNAUTHENTICATED_ARGS,
            UNAUTHENTICATED_BULK,
            "unauthenticated ",
        )
    } else {
        (MAX_ARGS, MAX_BULK_LEN, "invalid ")
    };
    let mut p = match progress.take() {
        Some(p) => p,
        None => {
            let Some((count, at)) = line(buf, 1, "too big mbulk count string")? else {
                return Ok(Scan::Incomplete);
            };
            match parse_i64(count) {
                Some(n) if n <= 0 => return Ok(Scan::Empty(at)),
                Some(n) if n as u64 <= max_args as u64 => Progress {
                    left: n as usize,
                    at,
                },
                _ => return Err(protocol(format!("{prefix}multibulk length"))),
            }
        }
    };
    while p.left > 0 {
        let Some(&kind) = buf.get(p.at) else {
            *progress = Some(p);
            return Ok(Scan::Incomplete);
        };
        if kind != b'$' {
            return Err(protocol(format!(
                "expected '$', got '{}'",
                char::from(kind).escape_default()
            )));
        }
        let Some((len, next)) = line(buf, p.at + 1, "too big bulk count string")? else {
            *progress = Some(p);
            return Ok(Scan::Incomplete);
        };
        let len = match parse_i64(len) {
            Some(n) if n >= 0 && n as u64 <= max_bulk as u64 => n as usize,
            _ => return Err(protocol(format!("{prefix}bulk length"))),
        };
        // Like Redis, the two bytes after the data are skipped unchecked.
        let end = next + len + 2;
        if end > buf.len() {
            *progress = Some(p);
            return Ok(Scan::Incomplete);
        }
        p.at = end;
        p.left -= 1;
    }
    Ok(Scan::Request(p.at))
}

/// The server side of the connection: requests (argument vectors) in,
/// [`Reply`]s out.
#[derive(Debug, Default)]
pub(super) struct ServerCodec {
    resp: Resp2,
    /// Whether inline commands are accepted (not in the append-only file).
    inline: bool,
    /// The scan of the incomplete request at the front of the buffer.
    progress: Option<Progress>,
    /// The client has yet to give the password: see [`UNAUTHENTICATED_ARGS`].
    pub(super) unauthenticated: bool,
}

impl ServerCodec {
    /// A codec for client connections.
    pub(super) fn client() -> ServerCodec {
        ServerCodec {
            resp: Resp2::default(),
            inline: true,
            progress: None,
            unauthenticated: false,
        }
    }

    /// A codec for the append-only file: multibulk requests only.
    pub(super) fn aof() -> ServerCodec {
        ServerCodec {
            resp: Resp2::default(),
            inline: false,
            progress: None,
            unauthenticated: false,
        }
    }

    fn decode_inline(&self, src: &mut BytesMut) -> Result<Option<Vec<Bytes>>, CodecError> {
        let Some(end) = src.iter().position(|&c| c == b'\n') else {
            if src.len() > MAX_INLINE {
                return Err(protocol("too big inline request"));
            }
            return Ok(None);
        };
        let line = src.split_to(end + 1);
        let line = line
            .strip_suffix(b"\n")
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .unwrap_or(&line);
        split_inline(line)
            .map(Some)
            .ok_or_else(|| protocol("unbalanced quotes in request"))
    }
}

impl Decoder for ServerCodec {
    type Item = Vec<Bytes>;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Vec<Bytes>>, CodecError> {
        loop {
            let Some(&first) = src.first() else {
                return Ok(None);
            };
            if first != b'*' {
                if !self.inline {
                    return Err(protocol(format!(
                        "expected '*', got '{}'",
                        char::from(first).escape_default()
                    )));
                }
                match self.decode_inline(src)? {
                    Some(args) if args.is_empty() => continue,
                    other => return Ok(other),
                }
            }
            let len = match scan_multibulk(src, &mut self.progress, self.unauthenticated)? {
                Scan::Incomplete => return Ok(None),
                Scan::Empty(n) => {
                    src.advance(n);
                    continue;
                }
                Scan::Request(n) => n,
            };
            let before = src.len();
            let frame = self
                .resp
                .decode(src)
                .map_err(|e| protocol(e.details().to_string()))?;
            // The guard and the crate must agree on where the request ends;
            // if they ever do not, the stream is out of step and unusable.
            if before - src.len() != len {
                return Err(protocol("request length mismatch"));
            }
            let Some(BytesFrame::Array(items)) = frame else {
                return Err(protocol("expected an array"));
            };
            return items
                .into_iter()
                .map(|f| match f {
                    BytesFrame::BulkString(b) => Ok(b),
                    _ => Err(protocol("expected a bulk string")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some);
        }
    }
}

/// Appends a reply's RESP2 encoding to `dst`.
pub(super) fn encode_reply(
    resp: &mut Resp2,
    reply: Reply,
    dst: &mut BytesMut,
) -> Result<(), CodecError> {
    match reply {
        Reply::Frame(f) => resp
            .encode(f, dst)
            .map_err(|e| protocol(e.details().to_string())),
        Reply::NullArray => {
            dst.put_slice(b"*-1\r\n");
            Ok(())
        }
        Reply::Array(items) => {
            dst.put_u8(b'*');
            dst.put_slice(items.len().to_string().as_bytes());
            dst.put_slice(b"\r\n");
            items
                .into_iter()
                .try_for_each(|item| encode_reply(resp, item, dst))
        }
    }
}

impl Encoder<Reply> for ServerCodec {
    type Error = CodecError;

    fn encode(&mut self, reply: Reply, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode_reply(&mut self.resp, reply, dst)
    }
}

/// Appends `args` to `dst` as a RESP array of bulk strings (an
/// append-only-file entry).
pub(super) fn encode_command<'a>(dst: &mut Vec<u8>, args: impl ExactSizeIterator<Item = &'a [u8]>) {
    header(dst, b'*', args.len());
    for arg in args {
        header(dst, b'$', arg.len());
        dst.extend_from_slice(arg);
        dst.extend_from_slice(b"\r\n");
    }
}

/// `*N\r\n` or `$N\r\n`, without the formatting machinery (this runs for
/// every logged write).
fn header(dst: &mut Vec<u8>, kind: u8, n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.push(kind);
    dst.extend_from_slice(&digits[i..]);
    dst.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests;
