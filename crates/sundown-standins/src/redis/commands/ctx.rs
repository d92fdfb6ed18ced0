//! What a command runs with and answers (its context, its outcome), and
//! the argument parsing and error replies every command shares. Apart from
//! the table (mod.rs), so the command modules need nothing from it.

use std::time::Duration;

use bytes::Bytes;

use crate::redis::blocking::BlockOp;
use crate::redis::int::parse_i64;
use crate::redis::reply::Reply;
use crate::redis::shared::ServerInfo;
use crate::redis::store::Store;

/// The connection's identity, as `CLIENT` sees it.
#[derive(Debug, Default)]
pub(crate) struct ClientInfo {
    /// `CLIENT ID`.
    pub id: u64,
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// It gave the password (or none is required of it).
    pub authenticated: bool,
}

/// What a command runs with.
pub(crate) struct Ctx<'a> {
    /// The data.
    pub store: &'a mut Store,
    /// Who is asking.
    pub client: &'a mut ClientInfo,
    /// Server-wide facts for `INFO` and friends.
    pub server: &'a ServerInfo,
    /// Blocking commands answer at once (inside `EXEC`, and on replay).
    pub no_block: bool,
}

/// A client to block until one of `keys` has an element.
#[derive(Debug)]
pub(crate) struct BlockRequest {
    /// The lists, in the order given.
    pub keys: Vec<Bytes>,
    /// What to do then.
    pub op: BlockOp,
    /// `None`: forever.
    pub timeout: Option<Duration>,
}

/// How a command ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Answered.
    Reply(Reply),
    /// The client waits.
    Block(BlockRequest),
}

impl From<Reply> for Outcome {
    fn from(r: Reply) -> Outcome {
        Outcome::Reply(r)
    }
}

/// A command's result: `Err` carries the error reply, so `?` answers it.
pub(super) type Res<T> = Result<T, Reply>;

/// `-ERR wrong number of arguments for 'NAME' command`.
pub(crate) fn wrong_args(name: &str) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{name}' command"
    ))
}

/// `-ERR syntax error`.
pub(super) fn syntax() -> Reply {
    Reply::err("ERR syntax error")
}

/// `-ERR value is not an integer or out of range`.
pub(super) fn not_integer() -> Reply {
    Reply::err("ERR value is not an integer or out of range")
}

/// An integer argument.
pub(super) fn int_arg(s: &[u8]) -> Res<i64> {
    parse_i64(s).ok_or_else(not_integer)
}

/// Whether an argument is this keyword, in any case.
pub(super) fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// An integer as a bulk-string value.
pub(super) fn int_bytes(i: i64) -> Bytes {
    Bytes::from(i.to_string())
}
