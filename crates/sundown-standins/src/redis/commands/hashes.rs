//! Hash commands.

use bytes::Bytes;

use super::ctx::{Ctx, Outcome, Res, int_arg, int_bytes, wrong_args};
use crate::redis::int::parse_i64;
use crate::redis::reply::Reply;
use crate::redis::store::hash_field;
use crate::redis::value::own;

fn hset_pairs(ctx: &mut Ctx, args: &[Bytes], name: &str) -> Res<usize> {
    if !args.len().is_multiple_of(2) {
        return Err(wrong_args(name));
    }
    let hash = ctx.store.hash_or_create(&args[1])?;
    let (mut added, mut grew, mut shrank) = (0, 0, 0);
    for pair in args[2..].chunks_exact(2) {
        grew += hash_field(&pair[0], &pair[1]);
        match hash.insert(own(&pair[0]), own(&pair[1])) {
            Some(old) => shrank += hash_field(&pair[0], &old),
            None => added += 1,
        }
    }
    ctx.store.grew(grew);
    ctx.store.shrank(shrank);
    ctx.store.log_args(args);
    Ok(added)
}

pub(super) fn hset(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(Reply::len(hset_pairs(ctx, args, "hset")?).into())
}

pub(super) fn hmset(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    hset_pairs(ctx, args, "hmset")?;
    Ok(Reply::ok().into())
}

pub(super) fn hsetnx(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let hash = ctx.store.hash_or_create(&args[1])?;
    if hash.contains_key(&args[2]) {
        return Ok(Reply::int(0).into());
    }
    hash.insert(own(&args[2]), own(&args[3]));
    ctx.store.grew(hash_field(&args[2], &args[3]));
    ctx.store.log_args(args);
    Ok(Reply::int(1).into())
}

pub(super) fn hget(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let v = ctx
        .store
        .hash_mut(&args[1])?
        .and_then(|h| h.get(&args[2]).cloned());
    Ok(v.map_or_else(Reply::nil, Reply::bulk).into())
}

pub(super) fn hmget(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let hash = ctx.store.hash_mut(&args[1])?;
    let values = args[2..]
        .iter()
        .map(|f| {
            hash.as_ref()
                .and_then(|h| h.get(f).cloned())
                .map_or_else(Reply::nil, Reply::bulk)
        })
        .collect();
    Ok(Reply::Array(values).into())
}

pub(super) fn hdel(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let Some(hash) = ctx.store.hash_mut(&args[1])? else {
        return Ok(Reply::int(0).into());
    };
    let (mut removed, mut shrank) = (0, 0);
    for f in &args[2..] {
        if let Some(v) = hash.remove(&f[..]) {
            removed += 1;
            shrank += hash_field(f, &v);
        }
    }
    ctx.store.shrank(shrank);
    if removed > 0 {
        ctx.store.remove_if_empty(&args[1]);
        ctx.store.log_args(args);
    }
    Ok(Reply::len(removed).into())
}

pub(super) fn hexists(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let found = ctx
        .store
        .hash_mut(&args[1])?
        .is_some_and(|h| h.contains_key(&args[2]));
    Ok(Reply::int(i64::from(found)).into())
}

pub(super) fn hgetall(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let items: Vec<Bytes> = ctx
        .store
        .hash_mut(&args[1])?
        .map(|h| h.iter().flat_map(|(f, v)| [f.clone(), v.clone()]).collect())
        .unwrap_or_default();
    Ok(Reply::bulks(items).into())
}

pub(super) fn hlen(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(Reply::len(ctx.store.hash_mut(&args[1])?.map_or(0, |h| h.len())).into())
}

pub(super) fn hkeys(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let keys: Vec<Bytes> = ctx
        .store
        .hash_mut(&args[1])?
        .map(|h| h.keys().cloned().collect())
        .unwrap_or_default();
    Ok(Reply::bulks(keys).into())
}

pub(super) fn hvals(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let values: Vec<Bytes> = ctx
        .store
        .hash_mut(&args[1])?
        .map(|h| h.values().cloned().collect())
        .unwrap_or_default();
    Ok(Reply::bulks(values).into())
}

pub(super) fn hincrby(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let delta = int_arg(&args[3])?;
    let hash = ctx.store.hash_or_create(&args[1])?;
    let cur = match hash.get(&args[2]) {
        None => 0,
        Some(v) => parse_i64(v).ok_or_else(|| Reply::err("ERR hash value is not an integer"))?,
    };
    let new = cur
        .checked_add(delta)
        .ok_or_else(|| Reply::err("ERR increment or decrement would overflow"))?;
    let value = int_bytes(new);
    let grew = hash_field(&args[2], &value);
    let shrank = hash
        .insert(own(&args[2]), value)
        .map_or(0, |old| hash_field(&args[2], &old));
    ctx.store.grew(grew);
    ctx.store.shrank(shrank);
    ctx.store.log_args(args);
    Ok(Reply::int(new).into())
}
