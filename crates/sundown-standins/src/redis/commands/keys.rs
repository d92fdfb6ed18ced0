//! Commands on keys of any type: deletion, existence, expiry, listing.

use bytes::Bytes;

use super::ctx::{Ctx, Outcome, Res, int_arg, is, syntax};
use crate::redis::reply::Reply;
use crate::redis::value::Value;

pub(super) fn del(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let mut removed = Vec::new();
    for key in &args[1..] {
        if ctx.store.remove(key) {
            removed.push(&key[..]);
        }
    }
    if !removed.is_empty() {
        let mut entry: Vec<&[u8]> = vec![b"DEL"];
        entry.extend_from_slice(&removed);
        ctx.store.log(&entry);
    }
    Ok(Reply::len(removed.len()).into())
}

pub(super) fn exists(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let n = args[1..]
        .iter()
        .filter(|k| ctx.store.get(k).is_some())
        .count();
    Ok(Reply::len(n).into())
}

pub(super) fn type_(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let name = match ctx.store.get(&args[1]).map(|e| &e.value) {
        None => "none",
        Some(Value::Str(_)) => "string",
        Some(Value::List(_)) => "list",
        Some(Value::Hash(_)) => "hash",
    };
    Ok(Reply::simple(name).into())
}

/// The `EXPIRE` family: `unit` ms per unit, relative or absolute.
fn expire_generic(
    ctx: &mut Ctx,
    args: &[Bytes],
    unit: i128,
    absolute: bool,
    cmd: &str,
) -> Res<Outcome> {
    let key = &args[1];
    let n = int_arg(&args[2])?;
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for a in &args[3..] {
        if is(a, "nx") {
            nx = true;
        } else if is(a, "xx") {
            xx = true;
        } else if is(a, "gt") {
            gt = true;
        } else if is(a, "lt") {
            lt = true;
        } else {
            return Err(Reply::error(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Reply::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Reply::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let base = if absolute {
        0
    } else {
        i128::from(ctx.store.now)
    };
    let when = i128::from(n) * unit + base;
    let when = i64::try_from(when)
        .map_err(|_| Reply::error(format!("ERR invalid expire time in '{cmd}' command")))?;
    let (now, loading) = (ctx.store.now, ctx.store.loading);
    let Some(entry) = ctx.store.get_mut(key) else {
        return Ok(Reply::int(0).into());
    };
    let when_ms = u64::try_from(when).unwrap_or(0);
    let allowed = match entry.expire_at {
        None => !xx && !gt,
        Some(cur) => !nx && (!gt || when_ms > cur) && (!lt || when_ms < cur),
    };
    if !allowed {
        return Ok(Reply::int(0).into());
    }
    if when_ms <= now && !loading {
        ctx.store.remove(key);
        ctx.store.log(&[b"DEL", key]);
    } else {
        entry.expire_at = Some(when_ms);
        let at = when_ms.to_string();
        ctx.store.log(&[b"PEXPIREAT", key, at.as_bytes()]);
    }
    Ok(Reply::int(1).into())
}

pub(super) fn expire(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    expire_generic(ctx, args, 1000, false, "expire")
}

pub(super) fn pexpire(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    expire_generic(ctx, args, 1, false, "pexpire")
}

pub(super) fn expireat(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    expire_generic(ctx, args, 1000, true, "expireat")
}

pub(super) fn pexpireat(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    expire_generic(ctx, args, 1, true, "pexpireat")
}

/// Remaining time in ms: -2 no key, -1 no expiry.
fn remaining_ms(ctx: &mut Ctx, key: &[u8]) -> i64 {
    let now = ctx.store.now;
    match ctx.store.get(key) {
        None => -2,
        Some(e) => match e.expire_at {
            None => -1,
            Some(at) => i64::try_from(at.saturating_sub(now)).unwrap_or(i64::MAX),
        },
    }
}

pub(super) fn ttl(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let ms = remaining_ms(ctx, &args[1]);
    Ok(Reply::int(if ms < 0 { ms } else { (ms + 500) / 1000 }).into())
}

pub(super) fn pttl(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(Reply::int(remaining_ms(ctx, &args[1])).into())
}

pub(super) fn persist(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let cleared = match ctx.store.get_mut(&args[1]) {
        Some(e) => e.expire_at.take().is_some(),
        None => false,
    };
    if cleared {
        ctx.store.log_args(args);
    }
    Ok(Reply::int(i64::from(cleared)).into())
}

pub(super) fn keys(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(Reply::bulks(ctx.store.keys(&args[1])).into())
}

pub(super) fn dbsize(ctx: &mut Ctx, _: &[Bytes]) -> Res<Outcome> {
    Ok(Reply::len(ctx.store.len()).into())
}

pub(super) fn flushall(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    match &args[1..] {
        [] => {}
        [mode] if is(mode, "async") || is(mode, "sync") => {}
        _ => return Err(syntax()),
    }
    ctx.store.clear();
    ctx.store.log(&[b"FLUSHALL"]);
    Ok(Reply::ok().into())
}
