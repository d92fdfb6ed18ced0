//! The wire: requests in, replies out.
//!
//! Decoding is the `redis-protocol` crate's RESP2 codec behind a guard.
//! The guard exists because a server must not trust what it is sent: the
//! crate's parser recurses into nested arrays (a stream of `*1\r\n` would
//! overflow the stack), accepts any frame type where Redis wants bulk
//! strings, and has no limit on declared lengths. So each request header is
//! checked first, the way Redis's own `processMultibulkBuffer` does (with
//! its error texts), and only a complete, well-formed request is handed to
//! the crate. Inline commands (`PING\r\n` typed into `nc`) are parsed here,
//! since the crate does not know them.

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use redis_protocol::codec::Resp2;
use redis_protocol::resp2::types::BytesFrame;
use tokio_util::codec::{Decoder, Encoder};

/// Largest bulk string accepted, as Redis's default `proto-max-bulk-len`.
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Most arguments in one request (Redis allows up to `INT_MAX`; a million is
/// far beyond any real command and keeps the argument vector bounded).
pub const MAX_ARGS: usize = 1024 * 1024;
/// Longest header line or inline request, as Redis's `PROTO_INLINE_MAX_SIZE`.
pub const MAX_INLINE: usize = 64 * 1024;

/// A reply: a RESP2 frame of the crate, or the null array the crate's frame
/// type cannot express (Redis answers a timed-out `BLPOP` with `*-1`).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An ordinary frame.
    Frame(BytesFrame),
    /// `*-1`.
    NullArray,
    /// An array that may hold null arrays (an `EXEC` result).
    Array(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::simple("OK")
    }

    /// A simple string.
    pub fn simple(s: &'static str) -> Reply {
        Reply::Frame(BytesFrame::SimpleString(Bytes::from_static(s.as_bytes())))
    }

    /// An error whose text is fixed.
    pub fn err(s: &'static str) -> Reply {
        Reply::Frame(BytesFrame::Error(
            redis_protocol::bytes_utils::Str::from_static(s),
        ))
    }

    /// An error built at run time.
    pub fn error(s: String) -> Reply {
        // Redis maps CR and LF in error texts to spaces: one line per error.
        let s = if s.contains(['\r', '\n']) {
            s.replace(['\r', '\n'], " ")
        } else {
            s
        };
        Reply::Frame(BytesFrame::Error(s.into()))
    }

    /// An integer.
    pub fn int(i: i64) -> Reply {
        Reply::Frame(BytesFrame::Integer(i))
    }

    /// A count as an integer.
    pub fn len(n: usize) -> Reply {
        Reply::int(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// A bulk string.
    pub fn bulk(b: Bytes) -> Reply {
        Reply::Frame(BytesFrame::BulkString(b))
    }

    /// The null bulk string, `$-1`.
    pub fn nil() -> Reply {
        Reply::Frame(BytesFrame::Null)
    }

    /// An array of bulk strings.
    pub fn bulks(items: impl IntoIterator<Item = Bytes>) -> Reply {
        Reply::Frame(BytesFrame::Array(
            items.into_iter().map(BytesFrame::BulkString).collect(),
        ))
    }

    /// The text of an error reply.
    pub fn error_text(&self) -> Option<&str> {
        match self {
            Reply::Frame(BytesFrame::Error(s)) => Some(s),
            _ => None,
        }
    }
}

/// Why the input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
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

/// Parses a length as Redis's `string2ll` does: optional `-`, digits, no
/// leading zeros, no `+`, no spaces.
pub fn parse_len(s: &[u8]) -> Option<i64> {
    crate::redis::commands::parse_i64(s)
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
fn scan_multibulk(buf: &[u8], progress: &mut Option<Progress>) -> Result<Scan, CodecError> {
    let mut p = match progress.take() {
        Some(p) => p,
        None => {
            let Some((count, at)) = line(buf, 1, "too big mbulk count string")? else {
                return Ok(Scan::Incomplete);
            };
            match parse_len(count) {
                Some(n) if n <= 0 => return Ok(Scan::Empty(at)),
                Some(n) if n as u64 <= MAX_ARGS as u64 => Progress {
                    left: n as usize,
                    at,
                },
                _ => return Err(protocol("invalid multibulk length")),
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
        let len = match parse_len(len) {
            Some(n) if n >= 0 && n as u64 <= MAX_BULK_LEN as u64 => n as usize,
            _ => return Err(protocol("invalid bulk length")),
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

/// Splits an inline request into arguments, as Redis's `sdssplitargs`:
/// whitespace separates, `"…"` understands `\n \r \t \b \a \\ \" \xHH`,
/// `'…'` only `\'`, and a closing quote must be followed by a space.
pub fn split_inline(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut i = 0;
    let at = |i: usize| line.get(i).copied();
    loop {
        while at(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let (mut in_dq, mut in_sq) = (false, false);
        loop {
            let c = at(i);
            if in_dq {
                match c? {
                    b'\\'
                        if at(i + 1) == Some(b'x')
                            && at(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
                            && at(i + 3).is_some_and(|c| c.is_ascii_hexdigit()) =>
                    {
                        let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                        cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                        i += 3;
                    }
                    b'\\' if at(i + 1).is_some() => {
                        i += 1;
                        cur.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                    }
                    b'"' => {
                        if at(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => cur.push(other),
                }
            } else if in_sq {
                match c? {
                    b'\\' if at(i + 1) == Some(b'\'') => {
                        i += 1;
                        cur.push(b'\'');
                    }
                    b'\'' => {
                        if at(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    other => cur.push(other),
                }
            } else {
                match c {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(other) => cur.push(other),
                }
            }
            i += 1;
        }
        args.push(Bytes::from(cur));
    }
}

/// The server side of the connection: requests (argument vectors) in,
/// [`Reply`]s out.
#[derive(Debug, Default)]
pub struct ServerCodec {
    resp: Resp2,
    /// Whether inline commands are accepted (not in the append-only file).
    inline: bool,
    /// The scan of the incomplete request at the front of the buffer.
    progress: Option<Progress>,
}

impl ServerCodec {
    /// A codec for client connections.
    pub fn client() -> ServerCodec {
        ServerCodec {
            resp: Resp2::default(),
            inline: true,
            progress: None,
        }
    }

    /// A codec for the append-only file: multibulk requests only.
    pub fn aof() -> ServerCodec {
        ServerCodec {
            resp: Resp2::default(),
            inline: false,
            progress: None,
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
            let len = match scan_multibulk(src, &mut self.progress)? {
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
pub fn encode_reply(resp: &mut Resp2, reply: Reply, dst: &mut BytesMut) -> Result<(), CodecError> {
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
pub fn encode_command<'a>(dst: &mut Vec<u8>, args: impl ExactSizeIterator<Item = &'a [u8]>) {
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
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> (Vec<Vec<Bytes>>, Option<String>) {
        let mut codec = ServerCodec::client();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(req)) => out.push(req),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn multibulk_and_inline_requests_decode() {
        let (reqs, err) =
            decode_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\n*0\r\n*-1\r\nset a 'x y'\r\n");
        assert_eq!(err, None);
        assert_eq!(
            reqs,
            vec![
                args(&["GET", "k"]),
                args(&["PING"]),
                args(&["set", "a", "x y"])
            ]
        );
    }

    #[test]
    fn partial_requests_wait_for_more() {
        let full = b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
        for cut in 0..full.len() {
            let (reqs, err) = decode_all(&full[..cut]);
            assert!(reqs.is_empty() && err.is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn malformed_requests_get_redis_error_texts() {
        let cases: &[(&[u8], &str)] = &[
            (b"*x\r\n", "Protocol error: invalid multibulk length"),
            (
                b"*99999999999\r\n",
                "Protocol error: invalid multibulk length",
            ),
            (b"*2\r\n:1\r\n", "Protocol error: expected '$', got ':'"),
            (b"*1\r\n*1\r\n", "Protocol error: expected '$', got '*'"),
            (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n$-5\r\n", "Protocol error: invalid bulk length"),
            (
                b"*1\r\n$536870913\r\n",
                "Protocol error: invalid bulk length",
            ),
            (
                b"set a \"b c\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
        ];
        for (input, want) in cases {
            let (_, err) = decode_all(input);
            assert_eq!(
                err.as_deref(),
                Some(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn a_request_fed_byte_by_byte_decodes_once_whole() {
        let mut codec = ServerCodec::client();
        let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n$4\r\nPING\r\n";
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for &b in full {
            buf.put_u8(b);
            while let Some(req) = codec.decode(&mut buf).unwrap() {
                got.push(req);
            }
        }
        assert_eq!(got, vec![args(&["SET", "k", "hello"]), args(&["PING"])]);
        assert!(buf.is_empty());
    }

    #[test]
    fn huge_declared_bulk_within_the_cap_allocates_nothing_up_front() {
        let mut codec = ServerCodec::client();
        let mut buf = BytesMut::from(&b"*1\r\n$536870912\r\nabc"[..]);
        assert!(
            codec
                .decode(&mut buf)
                .expect("well-formed so far")
                .is_none()
        );
        assert!(buf.capacity() < 1024 * 1024);
    }

    #[test]
    fn overlong_lines_are_refused() {
        let mut long = vec![b'a'; MAX_INLINE + 1];
        assert!(
            decode_all(&long)
                .1
                .unwrap()
                .contains("too big inline request")
        );
        long[0] = b'*';
        long[1..].fill(b'1');
        assert!(
            decode_all(&long)
                .1
                .unwrap()
                .contains("too big mbulk count string")
        );
    }

    #[test]
    fn inline_quoting_follows_sdssplitargs() {
        assert_eq!(
            split_inline(br#"a "b\x41\n" 'c\'d'"#),
            Some(vec![
                Bytes::from("a"),
                Bytes::from("bA\n"),
                Bytes::from("c'd")
            ])
        );
        assert_eq!(split_inline(br#""a"b"#), None);
        assert_eq!(split_inline(b"'a"), None);
        assert_eq!(split_inline(b"   "), Some(vec![]));
    }

    #[test]
    fn replies_encode_like_redis() {
        let mut codec = ServerCodec::client();
        let mut buf = BytesMut::new();
        for r in [
            Reply::ok(),
            Reply::int(-3),
            Reply::nil(),
            Reply::NullArray,
            Reply::Array(vec![Reply::NullArray, Reply::bulk(Bytes::from("x"))]),
            Reply::error("ERR a\r\nb".into()),
        ] {
            codec.encode(r, &mut buf).unwrap();
        }
        assert_eq!(
            &buf[..],
            b"+OK\r\n:-3\r\n$-1\r\n*-1\r\n*2\r\n*-1\r\n$1\r\nx\r\n-ERR a  b\r\n"
        );
    }
}
