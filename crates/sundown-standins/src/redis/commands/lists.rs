//! List commands, blocking ones included.

use std::time::Duration;

use bytes::Bytes;

use super::ctx::{BlockRequest, Ctx, Outcome, Res, int_arg, is, syntax, wrong_args};
use crate::redis::blocking::BlockOp;
use crate::redis::int::parse_i64;
use crate::redis::reply::Reply;
use crate::redis::store::{Store, list_item};
use crate::redis::value::own;

fn push(ctx: &mut Ctx, args: &[Bytes], left: bool, only_existing: bool) -> Res<Outcome> {
    let key = &args[1];
    let list = if only_existing {
        match ctx.store.list_mut(key)? {
            Some(l) => l,
            None => return Ok(Reply::int(0).into()),
        }
    } else {
        ctx.store.list_or_create(key)?
    };
    let mut added = 0;
    for v in &args[2..] {
        added += list_item(v);
        if left {
            list.push_front(own(v));
        } else {
            list.push_back(own(v));
        }
    }
    let len = list.len();
    ctx.store.grew(added);
    ctx.store.blocking.signal_ready(key);
    ctx.store.log_args(args);
    Ok(Reply::len(len).into())
}

pub(super) fn lpush(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    push(ctx, args, true, false)
}

pub(super) fn rpush(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    push(ctx, args, false, false)
}

pub(super) fn lpushx(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    push(ctx, args, true, true)
}

pub(super) fn rpushx(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    push(ctx, args, false, true)
}

fn pop(ctx: &mut Ctx, args: &[Bytes], left: bool) -> Res<Outcome> {
    let key = &args[1];
    let count = match &args[2..] {
        [] => None,
        // Redis gives this one text for a negative and a non-integer count.
        [c] => Some(
            parse_i64(c)
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| Reply::err("ERR value is out of range, must be positive"))?,
        ),
        _ => return Err(wrong_args(if left { "lpop" } else { "rpop" })),
    };
    let Some(list) = ctx.store.list_mut(key)? else {
        return Ok(count.map_or_else(Reply::nil, |_| Reply::NullArray).into());
    };
    let take = |list: &mut std::collections::VecDeque<Bytes>| {
        if left {
            list.pop_front()
        } else {
            list.pop_back()
        }
    };
    let taken: Vec<Bytes> = match count {
        None => take(list).into_iter().collect(),
        Some(n) => (0..n.min(list.len())).filter_map(|_| take(list)).collect(),
    };
    ctx.store
        .shrank(taken.iter().map(|v| list_item(v)).sum::<usize>());
    let reply = match count {
        None => taken
            .into_iter()
            .next()
            .map_or_else(Reply::nil, Reply::bulk),
        Some(_) => Reply::bulks(taken),
    };
    if count != Some(0) {
        ctx.store.remove_if_empty(key);
        ctx.store.log_args(args);
    }
    Ok(reply.into())
}

pub(super) fn lpop(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    pop(ctx, args, true)
}

pub(super) fn rpop(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    pop(ctx, args, false)
}

pub(super) fn llen(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(Reply::len(ctx.store.list_mut(&args[1])?.map_or(0, |l| l.len())).into())
}

/// A Redis index (negative from the end) into a list of `len`, clamped.
fn index(i: i64, len: usize) -> i64 {
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    if i < 0 { len.saturating_add(i) } else { i }
}

pub(super) fn lrange(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let (start, stop) = (int_arg(&args[2])?, int_arg(&args[3])?);
    let Some(list) = ctx.store.list_mut(&args[1])? else {
        return Ok(Reply::bulks([]).into());
    };
    let len = list.len();
    let start = index(start, len).max(0);
    let stop = index(stop, len).min(i64::try_from(len).unwrap_or(i64::MAX) - 1);
    if start > stop {
        return Ok(Reply::bulks([]).into());
    }
    // Both are within 0..len here.
    let (start, stop) = (start as usize, stop as usize);
    Ok(Reply::bulks(list.range(start..=stop).cloned().collect::<Vec<_>>()).into())
}

pub(super) fn lindex(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let i = int_arg(&args[2])?;
    let Some(list) = ctx.store.list_mut(&args[1])? else {
        return Ok(Reply::nil().into());
    };
    let i = index(i, list.len());
    let v = usize::try_from(i).ok().and_then(|i| list.get(i)).cloned();
    Ok(v.map_or_else(Reply::nil, Reply::bulk).into())
}

pub(super) fn lrem(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let count = int_arg(&args[2])?;
    let (key, value) = (&args[1], &args[3]);
    let Some(list) = ctx.store.list_mut(key)? else {
        return Ok(Reply::int(0).into());
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
    };
    let mut removed = 0;
    if count >= 0 {
        let mut i = 0;
        while i < list.len() && removed < limit {
            if list[i] == value {
                list.remove(i);
                removed += 1;
            } else {
                i += 1;
            }
            // Counted below: every element removed equals `value`.
        }
    } else {
        let mut i = list.len();
        while i > 0 && removed < limit {
            i -= 1;
            if list[i] == value {
                list.remove(i);
                removed += 1;
            }
        }
    }
    if removed > 0 {
        ctx.store.shrank(removed * list_item(value));
        ctx.store.remove_if_empty(key);
        ctx.store.log_args(args);
    }
    Ok(Reply::len(removed).into())
}

/// `LEFT` or `RIGHT`: whether left.
fn side(arg: &[u8]) -> Res<bool> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(syntax())
    }
}

fn move_reply(v: Option<Bytes>) -> Reply {
    v.map_or_else(Reply::nil, Reply::bulk)
}

pub(super) fn lmove(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let (from_left, to_left) = (side(&args[3])?, side(&args[4])?);
    Ok(move_reply(ctx.store.lmove(&args[1], &args[2], from_left, to_left)?).into())
}

pub(super) fn rpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(move_reply(ctx.store.lmove(&args[1], &args[2], false, true)?).into())
}

/// A blocking timeout in seconds (fractions allowed); `None` for 0, forever.
fn timeout(arg: &[u8]) -> Res<Option<Duration>> {
    let bad = || Reply::err("ERR timeout is not a float or out of range");
    let secs: f64 = std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| s.is_finite())
        .ok_or_else(bad)?;
    if secs < 0.0 {
        return Err(Reply::err("ERR timeout is negative"));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|_| bad())
}

/// Whether `key` holds a non-empty list (WRONGTYPE if another type).
fn has_elements(store: &mut Store, key: &[u8]) -> Res<bool> {
    Ok(store.list_mut(key)?.is_some_and(|l| !l.is_empty()))
}

fn bpop(ctx: &mut Ctx, args: &[Bytes], left: bool) -> Res<Outcome> {
    let (keys, t) = args[1..].split_at(args.len() - 2);
    let timeout = timeout(&t[0])?;
    for key in keys {
        if has_elements(ctx.store, key)? {
            let list = ctx.store.list_mut(key)?;
            let v = list
                .and_then(|l| if left { l.pop_front() } else { l.pop_back() })
                .unwrap_or_default();
            ctx.store.shrank(list_item(&v));
            ctx.store.remove_if_empty(key);
            ctx.store.log(&[if left { b"LPOP" } else { b"RPOP" }, key]);
            return Ok(Reply::bulks([key.clone(), v]).into());
        }
    }
    if ctx.no_block {
        return Ok(Reply::NullArray.into());
    }
    Ok(Outcome::Block(BlockRequest {
        keys: keys.to_vec(),
        op: BlockOp::Pop { left },
        timeout,
    }))
}

pub(super) fn blpop(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    bpop(ctx, args, true)
}

pub(super) fn brpop(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    bpop(ctx, args, false)
}

fn bmove(ctx: &mut Ctx, args: &[Bytes], from_left: bool, to_left: bool, t: &[u8]) -> Res<Outcome> {
    let timeout = timeout(t)?;
    let (src, dst) = (&args[1], &args[2]);
    if let Some(v) = ctx.store.lmove(src, dst, from_left, to_left)? {
        return Ok(Reply::bulk(v).into());
    }
    if ctx.no_block {
        return Ok(Reply::nil().into());
    }
    Ok(Outcome::Block(BlockRequest {
        keys: vec![src.clone()],
        op: BlockOp::Move {
            dst: dst.clone(),
            from_left,
            to_left,
        },
        timeout,
    }))
}

pub(super) fn blmove(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let (from_left, to_left) = (side(&args[3])?, side(&args[4])?);
    bmove(ctx, args, from_left, to_left, &args[5])
}

pub(super) fn brpoplpush(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    bmove(ctx, args, false, true, &args[3])
}
