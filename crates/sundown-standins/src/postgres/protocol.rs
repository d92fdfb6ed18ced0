//! The connection's codec: frontend messages are framed and decoded here,
//! backend messages are pgwire's and encode themselves.
//!
//! Why not pgwire's own frontend decoder: it reads each message body from
//! the connection's whole read buffer rather than from the message's frame,
//! with unchecked `get_u16`/`split_to` (a short Bind or a Password message
//! shorter than its header panics), so hostile bytes could panic a session.
//! Here every frame is cut to its declared length first and read with
//! bounds-checked accessors; a malformed frame is an error the session
//! answers with `08P01` and a close.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use pgwire::messages::PgWireBackendMessage;
use tokio_util::codec::{Decoder, Encoder};

/// The largest startup packet PostgreSQL accepts.
const MAX_STARTUP: usize = 10_000;
/// The largest `Query`, `Parse`, `Bind` or `CopyData` message (PostgreSQL
/// allows 1 GiB; a stand-in has no business with more than this).
const MAX_LARGE: usize = 256 << 20;
/// The largest of any other message (PostgreSQL's small-message limit).
const MAX_SMALL: usize = 10_000;
/// How much may be read ahead while a statement runs (see [`Codec::read_ahead`]).
const AHEAD_MESSAGES: usize = 64;
const AHEAD_BYTES: usize = 1 << 20;

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// A message from the client.
#[derive(Debug, PartialEq)]
pub(super) enum Frontend {
    SslRequest,
    GssEncRequest,
    /// The process id and secret of the session whose query to cancel.
    CancelRequest {
        pid: i32,
        secret: Bytes,
    },
    Startup {
        major: u16,
        minor: u16,
        params: Vec<(String, String)>,
    },
    /// `p`: a password message: the SASL messages of SCRAM authentication.
    Password(Bytes),
    Query(String),
    Parse {
        name: String,
        query: String,
        types: Vec<u32>,
    },
    Bind {
        portal: String,
        statement: String,
        param_formats: Vec<i16>,
        params: Vec<Option<Bytes>>,
        result_formats: Vec<i16>,
    },
    Describe {
        target: u8,
        name: String,
    },
    Execute {
        portal: String,
        max_rows: i32,
    },
    Close {
        target: u8,
        name: String,
    },
    Sync,
    Flush,
    Terminate,
    /// `CopyData`, `CopyDone`, `CopyFail`: ignored outside COPY, as PostgreSQL does.
    Copy,
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProtocolError {
    #[error("invalid length of startup packet")]
    StartupLength,
    #[error("invalid message length {0} for message type \"{1}\"")]
    Length(usize, char),
    #[error("invalid frontend message type {0}")]
    Type(u8),
    #[error("invalid {0} message format")]
    Format(&'static str),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Bounds-checked reads over one frame's body.
struct Body<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Body<'a> {
    fn bad(&self) -> ProtocolError {
        ProtocolError::Format(self.what)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(self.bad());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    fn i16(&mut self) -> Result<i16, ProtocolError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn count(&mut self) -> Result<usize, ProtocolError> {
        usize::try_from(self.i16()?).map_err(|_| self.bad())
    }

    fn i32(&mut self) -> Result<i32, ProtocolError> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn cstr(&mut self) -> Result<String, ProtocolError> {
        let end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.bad())?;
        let s = std::str::from_utf8(&self.buf[..end])
            .map_err(|_| self.bad())?
            .to_string();
        self.buf = &self.buf[end + 1..];
        Ok(s)
    }

    fn end(&self) -> Result<(), ProtocolError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.bad())
        }
    }
}

impl Frontend {
    /// About how much memory the message holds.
    fn size(&self) -> usize {
        16 + match self {
            Frontend::Query(q) => q.len(),
            Frontend::Parse { query, types, .. } => query.len() + 4 * types.len(),
            Frontend::Bind { params, .. } => params.iter().flatten().map(Bytes::len).sum(),
            Frontend::Password(b) => b.len(),
            _ => 0,
        }
    }
}

/// What reading the connection yields: a message, a broken one, or its end.
pub(super) type Read = Option<Result<Frontend, ProtocolError>>;

/// Frames and decodes frontend messages, encodes backend ones.
#[derive(Debug)]
pub(super) struct Codec {
    /// Before the startup packet: messages have no type byte.
    startup: bool,
    /// Messages read while the session's database thread was busy, to be
    /// handled in order after it.
    ahead: VecDeque<Read>,
    ahead_bytes: usize,
}

impl Codec {
    pub(super) fn new() -> Codec {
        Codec {
            startup: true,
            ahead: VecDeque::new(),
            ahead_bytes: 0,
        }
    }

    /// Whether the connection may be read ahead: its end has not been
    /// read, and what was read ahead is within bounds (a client that
    /// pipelines that much is still there).
    pub(super) fn may_read_ahead(&self) -> bool {
        !matches!(self.ahead.back(), Some(None | Some(Err(_))))
            && self.ahead.len() < AHEAD_MESSAGES
            && self.ahead_bytes < AHEAD_BYTES
    }

    /// Keeps what was read while a statement ran: reading on is the only
    /// way to see the client close its connection behind messages it
    /// pipelined. Returns [`Codec::may_read_ahead`].
    pub(super) fn read_ahead(&mut self, read: Read) -> bool {
        if let Some(Ok(m)) = &read {
            self.ahead_bytes += m.size();
        }
        self.ahead.push_back(read);
        self.may_read_ahead()
    }

    /// The oldest message read ahead, if any.
    pub(super) fn next_ahead(&mut self) -> Option<Read> {
        let read = self.ahead.pop_front()?;
        if let Some(Ok(m)) = &read {
            self.ahead_bytes -= m.size();
        }
        Some(read)
    }

    /// After the startup packet, messages carry a type byte.
    pub(super) fn started(&mut self) {
        self.startup = false;
    }

    fn decode_startup(&mut self, src: &mut BytesMut) -> Result<Option<Frontend>, ProtocolError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = usize::try_from(u32::from_be_bytes([src[0], src[1], src[2], src[3]]))
            .map_err(|_| ProtocolError::StartupLength)?;
        if !(8..=MAX_STARTUP).contains(&len) {
            return Err(ProtocolError::StartupLength);
        }
        if src.len() < len {
            return Ok(None);
        }
        let frame = src.split_to(len).freeze();
        let code = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let mut body = Body {
            buf: &frame[8..],
            what: "startup packet",
        };
        Ok(Some(match code {
            SSL_REQUEST => Frontend::SslRequest,
            GSSENC_REQUEST => Frontend::GssEncRequest,
            CANCEL_REQUEST => {
                let pid = body.i32()?;
                Frontend::CancelRequest {
                    pid,
                    secret: Bytes::copy_from_slice(body.buf),
                }
            }
            _ => {
                let (major, minor) = ((code >> 16) as u16, (code & 0xffff) as u16);
                let mut params = Vec::new();
                if major == 3 {
                    loop {
                        let name = body.cstr()?;
                        if name.is_empty() {
                            break;
                        }
                        params.push((name, body.cstr()?));
                    }
                    body.end()?;
                }
                Frontend::Startup {
                    major,
                    minor,
                    params,
                }
            }
        }))
    }
}

impl Decoder for Codec {
    type Item = Frontend;
    type Error = ProtocolError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frontend>, ProtocolError> {
        if self.startup {
            return self.decode_startup(src);
        }
        if src.len() < 5 {
            return Ok(None);
        }
        let kind = src[0];
        let len = usize::try_from(u32::from_be_bytes([src[1], src[2], src[3], src[4]]))
            .unwrap_or(usize::MAX);
        let max = match kind {
            b'Q' | b'P' | b'B' | b'd' => MAX_LARGE,
            _ => MAX_SMALL,
        };
        if !(4..=max).contains(&len) {
            return Err(ProtocolError::Length(len, char::from(kind)));
        }
        // No reserving ahead: the buffer grows with what actually arrives,
        // not with what a length field claims.
        if src.len() < len + 1 {
            return Ok(None);
        }
        let mut frame = src.split_to(len + 1).freeze();
        frame.advance(5);
        let what = match kind {
            b'Q' => "Query",
            b'P' => "Parse",
            b'B' => "Bind",
            b'D' => "Describe",
            b'E' => "Execute",
            b'C' => "Close",
            _ => "message",
        };
        let mut b = Body { buf: &frame, what };
        let msg = match kind {
            b'p' => Frontend::Password(frame.clone()),
            b'Q' => Frontend::Query(b.cstr()?),
            b'P' => {
                let name = b.cstr()?;
                let query = b.cstr()?;
                let n = b.count()?;
                let mut types = Vec::with_capacity(n.min(b.buf.len() / 4));
                for _ in 0..n {
                    types.push(u32::from_be_bytes(b.i32()?.to_be_bytes()));
                }
                Frontend::Parse { name, query, types }
            }
            b'B' => {
                let portal = b.cstr()?;
                let statement = b.cstr()?;
                let n = b.count()?;
                let mut param_formats = Vec::with_capacity(n.min(b.buf.len() / 2));
                for _ in 0..n {
                    param_formats.push(b.i16()?);
                }
                let n = b.count()?;
                let mut params = Vec::with_capacity(n.min(b.buf.len() / 4));
                for _ in 0..n {
                    let len = b.i32()?;
                    params.push(match usize::try_from(len) {
                        Ok(len) => {
                            let start = frame.len() - b.buf.len();
                            b.take(len)?;
                            Some(frame.slice(start..start + len))
                        }
                        // -1 is NULL; other negative lengths are nonsense.
                        Err(_) if len == -1 => None,
                        Err(_) => return Err(b.bad()),
                    });
                }
                let n = b.count()?;
                let mut result_formats = Vec::with_capacity(n.min(b.buf.len() / 2));
                for _ in 0..n {
                    result_formats.push(b.i16()?);
                }
                Frontend::Bind {
                    portal,
                    statement,
                    param_formats,
                    params,
                    result_formats,
                }
            }
            b'D' | b'C' => {
                let target = b.u8()?;
                let name = b.cstr()?;
                if kind == b'D' {
                    Frontend::Describe { target, name }
                } else {
                    Frontend::Close { target, name }
                }
            }
            b'E' => Frontend::Execute {
                portal: b.cstr()?,
                max_rows: b.i32()?,
            },
            b'S' => Frontend::Sync,
            b'H' => Frontend::Flush,
            b'X' => Frontend::Terminate,
            b'd' | b'c' | b'f' => return Ok(Some(Frontend::Copy)),
            other => return Err(ProtocolError::Type(other)),
        };
        if kind != b'p' {
            b.end()?;
        }
        Ok(Some(msg))
    }
}

impl Encoder<PgWireBackendMessage> for Codec {
    type Error = std::io::Error;

    fn encode(&mut self, msg: PgWireBackendMessage, dst: &mut BytesMut) -> std::io::Result<()> {
        msg.encode(dst).map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests;
