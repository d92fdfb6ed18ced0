//! One client's state between commands: its name and its open `MULTI`.
//! The session decides what a request means (queue it, run it, run the
//! queue) and runs it against the store its caller has locked.

use bytes::Bytes;

use super::commands::{self, BlockRequest, ClientInfo, Ctx, Outcome, Spec, Special};
use super::reply::Reply;
use super::shared::ServerInfo;
use super::store::Store;

/// What a request came to.
#[derive(Debug)]
pub(super) enum Step {
    /// Answer this.
    Reply(Reply),
    /// Block the client.
    Block(BlockRequest),
    /// Answer this, then close.
    Quit(Reply),
}

struct Multi {
    queue: Vec<Vec<Bytes>>,
    /// A queued command was refused: `EXEC` aborts.
    failed: bool,
}

/// A client's session.
pub(super) struct Session {
    /// Its identity.
    pub client: ClientInfo,
    multi: Option<Multi>,
    /// Blocking commands answer at once (replaying the append-only file).
    no_block: bool,
}

/// The command `args` names, if it exists and the count of arguments fits.
pub(super) fn check(args: &[Bytes]) -> Result<&'static Spec, Reply> {
    let spec = commands::lookup(&args[0]).ok_or_else(|| commands::unknown_command(args))?;
    if spec.arity_ok(args.len()) {
        Ok(spec)
    } else {
        Err(commands::wrong_args(spec.name))
    }
}

/// Redis's answer past `maxmemory`.
fn oom_error() -> Reply {
    Reply::err("OOM command not allowed when used memory > 'maxmemory'.")
}

/// Whether a request may add to the data.
fn grows(args: &[Bytes]) -> bool {
    commands::lookup(&args[0]).is_some_and(|s| commands::DENY_OOM.contains(&s.name))
}

impl Session {
    /// A session for client `id`.
    pub(super) fn new(id: u64) -> Session {
        Session {
            client: ClientInfo {
                id,
                name: None,
                authenticated: false,
            },
            multi: None,
            no_block: false,
        }
    }

    /// A session that replays the append-only file.
    pub(super) fn replay() -> Session {
        let mut session = Session::new(0);
        session.no_block = true;
        // The file holds what authenticated clients did.
        session.client.authenticated = true;
        session
    }

    /// Whether a `MULTI` is open.
    pub(super) fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Runs one request (never empty) against the locked store, whose
    /// clock the caller has read ([`Store::tick`]).
    pub(super) fn execute(
        &mut self,
        store: &mut Store,
        server: &ServerInfo,
        args: Vec<Bytes>,
    ) -> Step {
        let spec = check(&args);
        // After the name and arity checks, before anything else, as Redis.
        if let Ok(spec) = spec
            && server.password.is_some()
            && !self.client.authenticated
            && !commands::NO_AUTH.contains(&spec.name)
        {
            return Step::Reply(Reply::err("NOAUTH Authentication required."));
        }
        // Never while replaying: the file holds what was accepted.
        let oom = !store.loading
            && server
                .max_memory
                .is_some_and(|max| store.used_memory() > max);
        if let Some(multi) = &mut self.multi {
            let special = spec.as_ref().map(|s| s.special).unwrap_or(Special::No);
            match special {
                Special::Exec if oom && multi.queue.iter().any(|a| grows(a)) => {
                    self.multi = None;
                    return Step::Reply(Reply::err(
                        "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.",
                    ));
                }
                Special::Exec => return Step::Reply(self.exec(store, server)),
                Special::Discard => {
                    self.multi = None;
                    return Step::Reply(Reply::ok());
                }
                Special::Multi => {
                    return Step::Reply(Reply::err("ERR MULTI calls can not be nested"));
                }
                Special::Watch => {
                    return Step::Reply(Reply::err("ERR WATCH inside MULTI is not allowed"));
                }
                Special::Quit => return Step::Quit(Reply::ok()),
                Special::No => {}
            }
            // Queuing takes memory too: Redis refuses it all when out of it.
            if oom && spec.is_ok() {
                multi.failed = true;
                return Step::Reply(oom_error());
            }
            return Step::Reply(match spec {
                Ok(_) => {
                    multi.queue.push(args);
                    Reply::simple("QUEUED")
                }
                Err(e) => {
                    multi.failed = true;
                    e
                }
            });
        }
        let spec = match spec {
            Ok(spec) => spec,
            Err(e) => return Step::Reply(e),
        };
        if oom && commands::DENY_OOM.contains(&spec.name) {
            return Step::Reply(oom_error());
        }
        match spec.special {
            Special::Multi => {
                self.multi = Some(Multi {
                    queue: Vec::new(),
                    failed: false,
                });
                Step::Reply(Reply::ok())
            }
            Special::Exec => Step::Reply(Reply::err("ERR EXEC without MULTI")),
            Special::Discard => Step::Reply(Reply::err("ERR DISCARD without MULTI")),
            Special::Quit => Step::Quit(Reply::ok()),
            Special::Watch => Step::Reply(Reply::err(
                "ERR WATCH is not supported by this Redis stand-in",
            )),
            Special::No => {
                let mut ctx = Ctx {
                    store,
                    client: &mut self.client,
                    server,
                    no_block: self.no_block,
                };
                let outcome = spec.run(&mut ctx, &args);
                store.serve_ready();
                match outcome {
                    Outcome::Reply(r) => Step::Reply(r),
                    Outcome::Block(b) => Step::Block(b),
                }
            }
        }
    }

    /// Runs the queued commands as one: nothing else runs in between (the
    /// caller holds the store), and the append-only file gets them between
    /// `MULTI` and `EXEC` so a replay applies all or none.
    fn exec(&mut self, store: &mut Store, server: &ServerInfo) -> Reply {
        let Some(multi) = self.multi.take() else {
            return Reply::err("ERR EXEC without MULTI");
        };
        if multi.failed {
            return Reply::err("EXECABORT Transaction discarded because of previous errors.");
        }
        let mark = store.aof_mark();
        store.log(&[b"MULTI"]);
        let body = store.aof_mark();
        let mut replies = Vec::with_capacity(multi.queue.len());
        for args in multi.queue {
            let reply = match commands::lookup(&args[0]) {
                Some(spec) => {
                    let mut ctx = Ctx {
                        store,
                        client: &mut self.client,
                        server,
                        no_block: true,
                    };
                    match spec.run(&mut ctx, &args) {
                        Outcome::Reply(r) => r,
                        // Cannot happen with `no_block`; answer as a timeout would.
                        Outcome::Block(b) => b.op.timeout_reply(),
                    }
                }
                None => commands::unknown_command(&args),
            };
            replies.push(reply);
        }
        if store.aof_mark() == body {
            // Nothing was written: no empty transaction in the file.
            store.aof_rollback(mark);
        } else {
            store.log(&[b"EXEC"]);
        }
        store.serve_ready();
        Reply::Array(replies)
    }
}
