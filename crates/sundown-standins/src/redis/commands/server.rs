//! Connection and server commands: what clients and tools ask before (and
//! besides) touching data.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::ctx::{Ctx, Outcome, Res, int_arg, is, syntax, wrong_args};
use crate::redis::glob;
use crate::redis::int::parse_i64;
use crate::redis::reply::Reply;
use crate::redis::settings::AppendFsync;

/// The version the stand-in reports: recent enough for clients to use
/// `BLMOVE` (6.2) and `LPOP` with a count.
pub(crate) const REDIS_VERSION: &str = "7.0.0";

pub(super) fn ping(_: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(match &args[1..] {
        [] => Reply::simple("PONG"),
        [msg] => Reply::bulk(msg.clone()),
        _ => return Err(wrong_args("ping")),
    }
    .into())
}

pub(super) fn echo(_: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    Ok(Reply::bulk(args[1].clone()).into())
}

pub(super) fn select(_: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    match int_arg(&args[1])? {
        0 => Ok(Reply::ok().into()),
        _ => Err(Reply::err("ERR DB index is out of range")),
    }
}

pub(super) fn time(_: &mut Ctx, _: &[Bytes]) -> Res<Outcome> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Reply::bulks([
        Bytes::from(now.as_secs().to_string()),
        Bytes::from(now.subsec_micros().to_string()),
    ])
    .into())
}

/// Sets the connection name, refusing what Redis refuses.
pub(super) fn set_name(ctx: &mut Ctx, name: &Bytes) -> Res<()> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(Reply::err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    let name = (!name.is_empty()).then(|| name.clone());
    ctx.store.clients.set_name(ctx.client.id, name.clone());
    ctx.client.name = name;
    Ok(())
}

fn client_line(ctx: &Ctx, id: u64) -> String {
    ctx.store
        .clients
        .line(id, ctx.store.blocking.is_blocked(id))
        .unwrap_or_default()
}

/// `CLIENT KILL`: the old form (`CLIENT KILL addr`, answers OK) and the
/// filter form (`ID`, `ADDR`, `LADDR`, `SKIPME`; answers how many).
fn client_kill(ctx: &mut Ctx, args: &[Bytes]) -> Res<Reply> {
    let me = ctx.client.id;
    if let [addr] = args {
        let found = ctx.store.clients.ids().find(|&id| {
            ctx.store
                .clients
                .get(id)
                .is_some_and(|c| c.addr.as_bytes() == &addr[..])
        });
        return match found {
            Some(id) => {
                ctx.store.kill_client(id);
                Ok(Reply::ok())
            }
            None => Err(Reply::err("ERR No such client")),
        };
    }
    if args.is_empty() || !args.len().is_multiple_of(2) {
        return Err(syntax());
    }
    let (mut id, mut addr, mut laddr, mut skip_me) = (None, None, None, true);
    for pair in args.chunks_exact(2) {
        let (key, value) = (&pair[0], &pair[1]);
        if is(key, "id") {
            let n = parse_i64(value)
                .and_then(|n| u64::try_from(n).ok())
                .filter(|&n| n > 0)
                .ok_or_else(|| Reply::err("ERR client-id should be greater than 0"))?;
            id = Some(n);
        } else if is(key, "addr") {
            addr = Some(value.clone());
        } else if is(key, "laddr") {
            laddr = Some(value.clone());
        } else if is(key, "skipme") {
            skip_me = if is(value, "yes") {
                true
            } else if is(value, "no") {
                false
            } else {
                return Err(syntax());
            };
        } else {
            return Err(syntax());
        }
    }
    let matching: Vec<u64> = ctx
        .store
        .clients
        .ids()
        .filter(|&c| {
            let Some(rec) = ctx.store.clients.get(c) else {
                return false;
            };
            id.is_none_or(|id| id == c)
                && addr.as_ref().is_none_or(|a| rec.addr.as_bytes() == &a[..])
                && laddr
                    .as_ref()
                    .is_none_or(|a| rec.laddr.as_bytes() == &a[..])
                && !(skip_me && c == me)
        })
        .collect();
    for &c in &matching {
        ctx.store.kill_client(c);
    }
    Ok(Reply::len(matching.len()))
}

pub(super) fn client(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(wrong_args(&format!("client|{sub}")))
        }
    };
    let reply = match sub.as_str() {
        "setname" => {
            arity(3)?;
            set_name(ctx, &args[2])?;
            Reply::ok()
        }
        "getname" => {
            arity(2)?;
            ctx.client.name.clone().map_or_else(Reply::nil, Reply::bulk)
        }
        "id" => {
            arity(2)?;
            Reply::int(i64::try_from(ctx.client.id).unwrap_or(i64::MAX))
        }
        // Library name and version: accepted and forgotten.
        "setinfo" => {
            arity(4)?;
            Reply::ok()
        }
        "info" => {
            arity(2)?;
            Reply::bulk(Bytes::from(client_line(ctx, ctx.client.id)))
        }
        "list" => {
            let ids: Vec<u64> = ctx.store.clients.ids().collect();
            let lines: String = ids.into_iter().map(|id| client_line(ctx, id)).collect();
            Reply::bulk(Bytes::from(lines))
        }
        "kill" => client_kill(ctx, &args[2..])?,
        _ => {
            return Err(Reply::error(format!(
                "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(&args[1])
            )));
        }
    };
    Ok(reply.into())
}

pub(super) fn config(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let sub = &args[1];
    if is(sub, "get") {
        if args.len() < 3 {
            return Err(wrong_args("config|get"));
        }
        let server = ctx.server;
        let params: [(&str, String); 9] = [
            ("save", String::new()),
            ("appendonly", if server.aof { "yes" } else { "no" }.into()),
            (
                "appendfsync",
                match server.fsync {
                    AppendFsync::Always => "always",
                    AppendFsync::Everysec => "everysec",
                }
                .into(),
            ),
            ("databases", "1".into()),
            ("port", server.port.to_string()),
            ("maxmemory", server.max_memory.unwrap_or(0).to_string()),
            ("maxmemory-policy", "noeviction".into()),
            ("timeout", "0".into()),
            (
                "proto-max-bulk-len",
                crate::redis::codec::MAX_BULK_LEN.to_string(),
            ),
        ];
        let mut out = Vec::new();
        for (name, value) in &params {
            if args[2..]
                .iter()
                .any(|p| glob::matches(&p.to_ascii_lowercase(), name.as_bytes()))
            {
                out.push(Bytes::from_static(name.as_bytes()));
                out.push(Bytes::from(value.clone()));
            }
        }
        return Ok(Reply::bulks(out).into());
    }
    if is(sub, "set") {
        return Err(Reply::error(format!(
            "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
            args.get(2)
                .map(|a| String::from_utf8_lossy(a))
                .unwrap_or_default()
        )));
    }
    if is(sub, "resetstat") {
        return Ok(Reply::ok().into());
    }
    Err(Reply::error(format!(
        "ERR unknown subcommand '{}'. Try CONFIG HELP.",
        String::from_utf8_lossy(sub)
    )))
}

fn human(bytes: usize) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes}B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    }
}

pub(super) fn info(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    let wanted = |section: &str| {
        args.len() == 1
            || args[1..]
                .iter()
                .any(|a| is(a, section) || is(a, "all") || is(a, "default") || is(a, "everything"))
    };
    let server = ctx.server;
    let uptime = server.started.elapsed().as_secs();
    let mut s = String::new();
    // Writing to a String cannot fail.
    if wanted("server") {
        let _ = write!(
            s,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\nos:sundown stand-in\r\narch_bits:64\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\n\r\n",
            std::process::id(),
            server.port,
            uptime / 86400
        );
    }
    if wanted("clients") {
        let _ = write!(
            s,
            "# Clients\r\nconnected_clients:{}\r\nblocked_clients:{}\r\n\r\n",
            ctx.store.clients.count(),
            ctx.store.blocking.len()
        );
    }
    if wanted("memory") {
        let used = ctx.store.used_memory();
        let max = server.max_memory.unwrap_or(0);
        let _ = write!(
            s,
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:noeviction\r\n\r\n",
            human(used),
            human(max)
        );
    }
    if wanted("persistence") {
        let _ = write!(
            s,
            "# Persistence\r\nloading:0\r\naof_enabled:{}\r\naof_rewrite_in_progress:0\r\naof_last_write_status:ok\r\n\r\n",
            u8::from(server.aof)
        );
    }
    if wanted("replication") {
        let _ = write!(
            s,
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n"
        );
    }
    if wanted("keyspace") {
        let _ = write!(s, "# Keyspace\r\n");
        if !ctx.store.is_empty() {
            let _ = write!(
                s,
                "db0:keys={},expires={},avg_ttl=0\r\n",
                ctx.store.len(),
                ctx.store.expires()
            );
        }
    }
    Ok(Reply::bulk(Bytes::from(s)).into())
}
