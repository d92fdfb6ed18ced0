//! `AUTH` and `HELLO`: the commands a client may run before it has given
//! the password, when one is set.

use bytes::Bytes;

use super::ctx::{Ctx, Outcome, Res, int_arg, is, syntax};
use super::server::{REDIS_VERSION, set_name};
use crate::redis::reply::Reply;

/// The only user there is, as in a Redis without ACLs.
const USER: &[u8] = b"default";

fn wrongpass() -> Reply {
    Reply::err("WRONGPASS invalid username-password pair or user is disabled.")
}

/// Whether `given` is `secret`, in a time that depends on `given`'s length
/// only: no early exit at the first differing byte, which would let a
/// client find the password a byte at a time by timing its attempts.
fn same(secret: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(secret.len() != given.len());
    for (i, &b) in given.iter().enumerate() {
        diff |= b ^ secret.get(i).copied().unwrap_or(!b);
    }
    // Keeps the compiler from turning the loop back into an early exit.
    std::hint::black_box(diff) == 0
}

/// Logs the client in as `user` (`None`: the default user) with `pass`.
fn authenticate(ctx: &mut Ctx, user: Option<&Bytes>, pass: &[u8]) -> Res<()> {
    let user_ok = user.is_none_or(|u| &u[..] == USER);
    match &ctx.server.password {
        // The default user has no password: any will do, as in Redis.
        None if user.is_some() => {}
        None => {
            return Err(Reply::err(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            ));
        }
        // `&`, not `&&`: the password is compared whatever the user.
        Some(secret) => {
            if !(user_ok & same(secret, pass)) {
                return Err(wrongpass());
            }
        }
    }
    if !user_ok {
        return Err(wrongpass());
    }
    ctx.client.authenticated = true;
    Ok(())
}

pub(super) fn auth(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    match &args[1..] {
        [pass] => authenticate(ctx, None, pass)?,
        [user, pass] => authenticate(ctx, Some(user), pass)?,
        _ => return Err(syntax()),
    }
    Ok(Reply::ok().into())
}

pub(super) fn hello(ctx: &mut Ctx, args: &[Bytes]) -> Res<Outcome> {
    if let Some(ver) = args.get(1) {
        let ver = int_arg(ver)
            .map_err(|_| Reply::err("ERR Protocol version is not an integer or out of range"))?;
        if ver != 2 {
            // What Redis 5 answers too: clients fall back to RESP2.
            return Err(Reply::err("NOPROTO unsupported protocol version"));
        }
    }
    let (mut login, mut name) = (None, None);
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is(&args[i], "auth") && more >= 2 {
            login = Some((&args[i + 1], &args[i + 2]));
            i += 3;
        } else if is(&args[i], "setname") && more >= 1 {
            name = Some(&args[i + 1]);
            i += 2;
        } else {
            return Err(Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            )));
        }
    }
    if let Some((user, pass)) = login {
        authenticate(ctx, Some(user), pass)?;
    }
    if ctx.server.password.is_some() && !ctx.client.authenticated {
        return Err(Reply::err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = name {
        set_name(ctx, name)?;
    }
    let s = |v: &'static str| Reply::bulk(Bytes::from_static(v.as_bytes()));
    Ok(Reply::Array(vec![
        s("server"),
        s("redis"),
        s("version"),
        s(REDIS_VERSION),
        s("proto"),
        Reply::int(2),
        s("id"),
        Reply::int(i64::try_from(ctx.client.id).unwrap_or(i64::MAX)),
        s("mode"),
        s("standalone"),
        s("role"),
        s("master"),
        s("modules"),
        Reply::bulks([]),
    ])
    .into())
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn same_compares_whole_strings() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(same(b"", b""));
        for other in [&b""[..], b"s3cre", b"s3cret!", b"S3cret", b"s3creu", b"\0"] {
            assert!(!same(b"s3cret", other), "{other:?}");
        }
        assert!(!same(b"", b"x"));
    }
}
