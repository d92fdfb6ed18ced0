//! A reply: what a command, a transaction or a blocked client is answered.
//! Everything that answers builds these (the store, the commands, the
//! session); only the codec (codec/) turns them into bytes.

use bytes::Bytes;
use redis_protocol::resp2::types::BytesFrame;

/// A reply: a RESP2 frame of the crate, or the null array the crate's frame
/// type cannot express (Redis answers a timed-out `BLPOP` with `*-1`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Reply {
    /// An ordinary frame.
    Frame(BytesFrame),
    /// `*-1`.
    NullArray,
    /// An array that may hold null arrays (an `EXEC` result).
    Array(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub(super) fn ok() -> Reply {
        Reply::simple("OK")
    }

    /// A simple string.
    pub(super) fn simple(s: &'static str) -> Reply {
        Reply::Frame(BytesFrame::SimpleString(Bytes::from_static(s.as_bytes())))
    }

    /// An error whose text is fixed.
    pub(super) fn err(s: &'static str) -> Reply {
        Reply::Frame(BytesFrame::Error(
            redis_protocol::bytes_utils::Str::from_static(s),
        ))
    }

    /// An error built at run time.
    pub(super) fn error(s: String) -> Reply {
        // Redis maps CR and LF in error texts to spaces: one line per error.
        let s = if s.contains(['\r', '\n']) {
            s.replace(['\r', '\n'], " ")
        } else {
            s
        };
        Reply::Frame(BytesFrame::Error(s.into()))
    }

    /// An integer.
    pub(super) fn int(i: i64) -> Reply {
        Reply::Frame(BytesFrame::Integer(i))
    }

    /// A count as an integer.
    pub(super) fn len(n: usize) -> Reply {
        Reply::int(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// A bulk string.
    pub(super) fn bulk(b: Bytes) -> Reply {
        Reply::Frame(BytesFrame::BulkString(b))
    }

    /// The null bulk string, `$-1`.
    pub(super) fn nil() -> Reply {
        Reply::Frame(BytesFrame::Null)
    }

    /// An array of bulk strings.
    pub(super) fn bulks(items: impl IntoIterator<Item = Bytes>) -> Reply {
        Reply::Frame(BytesFrame::Array(
            items.into_iter().map(BytesFrame::BulkString).collect(),
        ))
    }

    /// About how many bytes this reply costs until it is written: its
    /// length on the wire, plus a frame's size per element for holding it
    /// unencoded. What `client_output_limit` counts.
    pub(super) fn weight(&self) -> usize {
        match self {
            Reply::Frame(f) => frame_weight(f),
            Reply::NullArray => FRAME,
            Reply::Array(items) => FRAME + items.iter().map(Reply::weight).sum::<usize>(),
        }
    }

    /// The text of an error reply.
    pub(super) fn error_text(&self) -> Option<&str> {
        match self {
            Reply::Frame(BytesFrame::Error(s)) => Some(s),
            _ => None,
        }
    }
}

/// What holding one element costs, besides its data.
const FRAME: usize = std::mem::size_of::<BytesFrame>();

fn frame_weight(f: &BytesFrame) -> usize {
    // 16: a type byte, a length of up to 12 digits, CRLFs.
    FRAME
        + 16
        + match f {
            BytesFrame::BulkString(b) | BytesFrame::SimpleString(b) => b.len(),
            BytesFrame::Error(s) => s.len(),
            BytesFrame::Array(items) => items.iter().map(frame_weight).sum(),
            _ => 0,
        }
}
