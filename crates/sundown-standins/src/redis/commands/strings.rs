//! String commands.

use bytes::Bytes;

use super::ctx::{Ctx, Outcome, Res, int_arg, int_bytes, is, not_integer, syntax, wrong_args};
use crate::redis::int::parse_i64;
use crate::redis::reply::Reply;
use crate::redis::value::{Entry, Value, own, wrongtype};

/// The string at `key`: `None` when absent, WRONGTYPE when not a string.
fn string(ctx: &mut Ctx, key: &[u8]) -> Res<Option<Bytes>> {
    match ctx.store.get(key) {
        None => Ok(None),
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => Ok(Some(s.clone())),
        Some(_) => Err(wrongtype()),
    }
}

pub(super) fn get(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(string(ctx, &args[1])?
        .map_or_else(Reply::nil, Reply::bulk)
        .into())
}

pub(super) fn mget(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let values = args[1..]
        .iter()
        .map(|k| {
            string(ctx, k)
                .ok()
                .flatten()
                .map_or_else(Reply::nil, Reply::bulk)
        })
        .collect();
    Ok(Reply::Array(values).into())
}

pub(super) fn strlen(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(Reply::len(string(ctx, &args[1])?.map_or(0, |s| s.len())).into())
}

/// An absolute expiry from a relative or absolute time in seconds or ms.
fn expiry_at(ctx: &Ctx, v: &[u8], unit_ms: u64, absolute: bool, cmd: &str) -> Res<u64> {
    let n = int_arg(v)?;
    let invalid = || Reply::error(format!("ERR invalid expire time in '{cmd}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let ms = u64::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(unit_ms))
        .ok_or_else(invalid)?;
    let at = if absolute {
        Some(ms)
    } else {
        ctx.store.now.checked_add(ms)
    };
    at.filter(|&t| t <= i64::MAX as u64).ok_or_else(invalid)
}

/// Sets a string as `SET` does, logging it with an absolute expiry.
fn store_string(ctx: &mut Ctx, key: &Bytes, value: &Bytes, expire_at: Option<u64>, keep_ttl: bool) {
    let expire_at = if keep_ttl {
        ctx.store.get(key).and_then(|e| e.expire_at)
    } else {
        expire_at
    };
    ctx.store.set(
        key,
        Entry {
            value: Value::Str(own(value)),
            expire_at,
        },
    );
    match (expire_at, keep_ttl) {
        (_, true) => ctx.store.log(&[b"SET", key, value, b"KEEPTTL"]),
        (Some(t), false) => {
            let t = t.to_string();
            ctx.store.log(&[b"SET", key, value, b"PXAT", t.as_bytes()]);
        }
        (None, false) => ctx.store.log(&[b"SET", key, value]),
    }
}

pub(super) fn set(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let (key, value) = (&args[1], &args[2]);
    let (mut nx, mut xx, mut get, mut keep_ttl) = (false, false, false, false);
    let mut expire_at = None;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let next = args.get(i + 1);
        let timed = |unit, absolute| -> Res<Option<u64>> {
            match next {
                Some(v) if expire_at.is_none() && !keep_ttl => {
                    expiry_at(ctx, v, unit, absolute, "set").map(Some)
                }
                _ => Err(syntax()),
            }
        };
        if is(a, "nx") && !xx {
            nx = true;
        } else if is(a, "xx") && !nx {
            xx = true;
        } else if is(a, "get") {
            get = true;
        } else if is(a, "keepttl") && expire_at.is_none() {
            keep_ttl = true;
        } else if is(a, "ex") {
            expire_at = timed(1000, false)?;
            i += 1;
        } else if is(a, "px") {
            expire_at = timed(1, false)?;
            i += 1;
        } else if is(a, "exat") {
            expire_at = timed(1000, true)?;
            i += 1;
        } else if is(a, "pxat") {
            expire_at = timed(1, true)?;
            i += 1;
        } else {
            return Err(syntax());
        }
        i += 1;
    }
    let old = if get { string(ctx, key)? } else { None };
    let exists = ctx.store.get(key).is_some();
    let reply_old = || old.clone().map_or_else(Reply::nil, Reply::bulk);
    if (nx && exists) || (xx && !exists) {
        return Ok(if get { reply_old() } else { Reply::nil() }.into());
    }
    store_string(ctx, key, value, expire_at, keep_ttl);
    Ok(if get { reply_old() } else { Reply::ok() }.into())
}

fn set_expiring(ctx: &mut Ctx, args: &[Bytes], unit: u64, cmd: &str) -> Res<Outcome> {
    let at = expiry_at(ctx, &args[2], unit, false, cmd)?;
    store_string(ctx, &args[1], &args[3], Some(at), false);
    Ok(Reply::ok().into())
}

pub(super) fn setex(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    set_expiring(ctx, args, 1000, "setex")
}

pub(super) fn psetex(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    set_expiring(ctx, args, 1, "psetex")
}

pub(super) fn setnx(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    if ctx.store.get(&args[1]).is_some() {
        return Ok(Reply::int(0).into());
    }
    store_string(ctx, &args[1], &args[2], None, false);
    Ok(Reply::int(1).into())
}

pub(super) fn mset(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    if args.len().is_multiple_of(2) {
        return Err(wrong_args("mset"));
    }
    for pair in args[1..].chunks_exact(2) {
        ctx.store.set(
            &pair[0],
            Entry {
                value: Value::Str(own(&pair[1])),
                expire_at: None,
            },
        );
    }
    ctx.store.log_args(args);
    Ok(Reply::ok().into())
}

pub(super) fn append(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let (key, tail) = (&args[1], &args[2]);
    let len = match ctx.store.get_mut(key) {
        None => {
            ctx.store.set(
                key,
                Entry {
                    value: Value::Str(own(tail)),
                    expire_at: None,
                },
            );
            tail.len()
        }
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => {
            let mut joined = Vec::with_capacity(s.len() + tail.len());
            joined.extend_from_slice(s);
            joined.extend_from_slice(tail);
            *s = Bytes::from(joined);
            let len = s.len();
            ctx.store.grew(tail.len());
            len
        }
        Some(_) => return Err(wrongtype()),
    };
    ctx.store.log_args(args);
    Ok(Reply::len(len).into())
}

fn incr_by(ctx: &mut Ctx, args: &[Bytes], delta: i64) -> Res<Outcome> {
    let key = &args[1];
    let overflow = || Reply::err("ERR increment or decrement would overflow");
    let new = match ctx.store.get_mut(key) {
        None => {
            ctx.store.set(
                key,
                Entry {
                    value: Value::Str(int_bytes(delta)),
                    expire_at: None,
                },
            );
            delta
        }
        Some(Entry {
            value: Value::Str(s),
            ..
        }) => {
            let cur = parse_i64(s).ok_or_else(not_integer)?;
            let new = cur.checked_add(delta).ok_or_else(overflow)?;
            // The expiry stays, as in Redis.
            let old = std::mem::replace(s, int_bytes(new)).len();
            let now = s.len();
            ctx.store.shrank(old);
            ctx.store.grew(now);
            new
        }
        Some(_) => return Err(wrongtype()),
    };
    ctx.store.log_args(args);
    Ok(Reply::int(new).into())
}

pub(super) fn incr(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    incr_by(ctx, args, 1)
}

pub(super) fn decr(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    incr_by(ctx, args, -1)
}

pub(super) fn incrby(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let delta = int_arg(&args[2])?;
    incr_by(ctx, args, delta)
}

pub(super) fn decrby(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let delta = int_arg(&args[2])?
        .checked_neg()
        .ok_or_else(|| Reply::err("ERR decrement would overflow"))?;
    incr_by(ctx, args, delta)
}
