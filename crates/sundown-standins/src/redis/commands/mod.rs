//! The command table: each command's name, arity and handler, found by
//! name for the session, and described to clients by `COMMAND`.
//!
//! Each command is a plain function over the store; it replies, and logs to
//! the append-only file what it did in a form that replays the same way
//! whatever the clock says then (`EXPIRE` as `PEXPIREAT`, a blocking pop as
//! the pop it became).

mod auth;
mod ctx;
mod hashes;
mod keys;
mod lists;
mod server;
mod strings;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use bytes::Bytes;

use super::reply::Reply;
pub(super) use ctx::{BlockRequest, ClientInfo, Ctx, Outcome, wrong_args};
use ctx::{Res, is};

type Handler = fn(&mut Ctx, &[Bytes]) -> Res<Outcome>;

/// What the session must handle itself rather than run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Special {
    /// An ordinary command.
    No,
    /// `MULTI`.
    Multi,
    /// `EXEC`.
    Exec,
    /// `DISCARD`.
    Discard,
    /// `QUIT`.
    Quit,
    /// `WATCH` (not supported: refused inside `MULTI` like Redis, and
    /// outside it as unknown).
    Watch,
}

/// One command.
pub(super) struct Spec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis's arity: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    /// Whether it may write (for `COMMAND INFO`).
    pub write: bool,
    /// Handled by the session instead.
    pub special: Special,
    run: Handler,
}

impl Spec {
    /// Runs it.
    pub(super) fn run(&self, ctx: &mut Ctx, args: &[Bytes]) -> Outcome {
        match (self.run)(ctx, args) {
            Ok(o) => o,
            Err(e) => Outcome::Reply(e),
        }
    }

    /// Whether `argc` arguments (name included) fit the arity.
    pub(super) fn arity_ok(&self, argc: usize) -> bool {
        let argc = i64::try_from(argc).unwrap_or(i64::MAX);
        let arity = i64::from(self.arity);
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }
}

fn special(_: &mut Ctx, _: &[Bytes]) -> Res<Outcome> {
    // The session answers these before dispatch.
    Err(Reply::err("ERR command not allowed here"))
}

macro_rules! table {
    ($( $name:literal $arity:literal $write:literal $special:ident $run:path; )*) => {
        static TABLE: &[Spec] = &[
            $( Spec { name: $name, arity: $arity, write: $write, special: Special::$special, run: $run }, )*
        ];
    };
}

table! {
    "ping" -1 false No server::ping;
    "echo" 2 false No server::echo;
    "select" 2 false No server::select;
    "hello" -1 false No auth::hello;
    "auth" -2 false No auth::auth;
    "client" -2 false No server::client;
    "command" -1 false No command;
    "config" -2 false No server::config;
    "info" -1 false No server::info;
    "time" 1 false No server::time;
    "quit" -1 false Quit special;
    "multi" 1 false Multi special;
    "exec" 1 false Exec special;
    "discard" 1 false Discard special;
    "watch" -2 false Watch special;
    "get" 2 false No strings::get;
    "set" -3 true No strings::set;
    "setex" 4 true No strings::setex;
    "psetex" 4 true No strings::psetex;
    "setnx" 3 true No strings::setnx;
    "mget" -2 false No strings::mget;
    "mset" -3 true No strings::mset;
    "strlen" 2 false No strings::strlen;
    "append" 3 true No strings::append;
    "incr" 2 true No strings::incr;
    "decr" 2 true No strings::decr;
    "incrby" 3 true No strings::incrby;
    "decrby" 3 true No strings::decrby;
    "del" -2 true No keys::del;
    "unlink" -2 true No keys::del;
    "exists" -2 false No keys::exists;
    "type" 2 false No keys::type_;
    "expire" -3 true No keys::expire;
    "pexpire" -3 true No keys::pexpire;
    "expireat" -3 true No keys::expireat;
    "pexpireat" -3 true No keys::pexpireat;
    "ttl" 2 false No keys::ttl;
    "pttl" 2 false No keys::pttl;
    "persist" 2 true No keys::persist;
    "keys" 2 false No keys::keys;
    "dbsize" 1 false No keys::dbsize;
    "flushall" -1 true No keys::flushall;
    "flushdb" -1 true No keys::flushall;
    "lpush" -3 true No lists::lpush;
    "rpush" -3 true No lists::rpush;
    "lpushx" -3 true No lists::lpushx;
    "rpushx" -3 true No lists::rpushx;
    "lpop" -2 true No lists::lpop;
    "rpop" -2 true No lists::rpop;
    "llen" 2 false No lists::llen;
    "lrange" 4 false No lists::lrange;
    "lindex" 3 false No lists::lindex;
    "lrem" 4 true No lists::lrem;
    "lmove" 5 true No lists::lmove;
    "rpoplpush" 3 true No lists::rpoplpush;
    "blpop" -3 true No lists::blpop;
    "brpop" -3 true No lists::brpop;
    "blmove" 6 true No lists::blmove;
    "brpoplpush" 4 true No lists::brpoplpush;
    "hset" -4 true No hashes::hset;
    "hmset" -4 true No hashes::hmset;
    "hsetnx" 4 true No hashes::hsetnx;
    "hget" 3 false No hashes::hget;
    "hmget" -3 false No hashes::hmget;
    "hdel" -3 true No hashes::hdel;
    "hexists" 3 false No hashes::hexists;
    "hgetall" 2 false No hashes::hgetall;
    "hlen" 2 false No hashes::hlen;
    "hkeys" 2 false No hashes::hkeys;
    "hvals" 2 false No hashes::hvals;
    "hincrby" 4 true No hashes::hincrby;
}

/// What a client may run before it has given the password (Redis's
/// `no-auth` flag).
pub(super) const NO_AUTH: &[&str] = &["auth", "hello", "quit"];

/// What may add to the data, refused past `max_memory` (Redis's `denyoom`
/// flag); deletions, pops and reads still run, as with `noeviction`.
pub(super) const DENY_OOM: &[&str] = &[
    "set",
    "setex",
    "psetex",
    "setnx",
    "mset",
    "append",
    "incr",
    "decr",
    "incrby",
    "decrby",
    "lpush",
    "rpush",
    "lpushx",
    "rpushx",
    "lmove",
    "rpoplpush",
    "blmove",
    "brpoplpush",
    "hset",
    "hmset",
    "hsetnx",
    "hincrby",
];

/// Every command, for `COMMAND`.
pub(super) fn all() -> &'static [Spec] {
    TABLE
}

/// FNV-1a: the command index is fixed and known, so it needs no protection
/// against chosen collisions, and this is several times cheaper than SipHash
/// on every request.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// The command named `name`, in any case.
pub(super) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    type Index = HashMap<&'static [u8], &'static Spec, BuildHasherDefault<Fnv>>;
    static INDEX: OnceLock<Index> = OnceLock::new();
    let index = INDEX.get_or_init(|| TABLE.iter().map(|s| (s.name.as_bytes(), s)).collect());
    let mut lower = [0u8; 16];
    let lower = lower.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index.get(&lower[..]).copied()
}

/// Redis's reply to a command it does not know.
pub(super) fn unknown_command(args: &[Bytes]) -> Reply {
    // As Redis: the name and the first arguments, each cut so the list
    // stays under 128 bytes.
    let name = String::from_utf8_lossy(&args[0]);
    let name: String = name.chars().take(128).collect();
    let mut list = String::new();
    for a in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        let a = String::from_utf8_lossy(&a[..a.len().min(room)]);
        list.push_str(&format!("'{a}' "));
    }
    Reply::error(format!(
        "ERR unknown command '{name}', with args beginning with: {list}"
    ))
}

/// `COMMAND`: the table, described for clients (`redis-cli` asks it for
/// hints, drivers for which commands write).
/// One command as `COMMAND INFO` describes it.
fn command_info(spec: &Spec) -> Reply {
    let flag = |f: &'static str| Reply::simple(f);
    let flags = vec![flag(if spec.write { "write" } else { "readonly" })];
    let keyless = matches!(
        spec.name,
        "ping"
            | "echo"
            | "select"
            | "hello"
            | "auth"
            | "client"
            | "command"
            | "config"
            | "info"
            | "time"
            | "quit"
            | "multi"
            | "exec"
            | "discard"
            | "keys"
            | "dbsize"
            | "flushall"
            | "flushdb"
    );
    let k = i64::from(!keyless);
    Reply::Array(vec![
        Reply::bulk(Bytes::from_static(spec.name.as_bytes())),
        Reply::int(i64::from(spec.arity)),
        Reply::Array(flags),
        Reply::int(k),
        Reply::int(k),
        Reply::int(k),
    ])
}

fn command(_: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let Some(sub) = args.get(1) else {
        return Ok(Reply::Array(all().iter().map(command_info).collect()).into());
    };
    let reply = if is(sub, "count") {
        Reply::len(all().len())
    } else if is(sub, "docs") {
        // No documentation: an empty map, which redis-cli accepts (it
        // then offers no hints).
        Reply::bulks([])
    } else if is(sub, "info") {
        Reply::Array(
            args[2..]
                .iter()
                .map(|n| lookup(n).map_or(Reply::NullArray, command_info))
                .collect(),
        )
    } else if is(sub, "list") {
        Reply::bulks(all().iter().map(|s| Bytes::from_static(s.name.as_bytes())))
    } else {
        return Err(Reply::error(format!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(sub)
        )));
    };
    Ok(reply.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case_and_long_names() {
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert!(lookup(b"nosuchcommandatall").is_none());
        assert!(lookup(b"").is_none());
    }

    #[test]
    fn unknown_command_text_matches_redis() {
        let args: Vec<Bytes> = ["foo", "a", "b"].iter().map(|s| Bytes::from(*s)).collect();
        assert_eq!(
            unknown_command(&args),
            Reply::error("ERR unknown command 'foo', with args beginning with: 'a' 'b' ".into())
        );
    }
}
