//! `kind = "process"`: an external program in its own process group.
//!
//! The group is the unit: the stop signal and SIGKILL go to the whole group
//! so a shell's children go down with it, and when the main process has
//! exited, whatever is left of its group is killed so nothing outlives its
//! component. Each child gets `PR_SET_PDEATHSIG(SIGKILL)`, so even a
//! SIGKILLed supervisor takes its children with it. stdout and stderr are
//! forwarded line by line, the last line before exit included.
//!
//! Ready is either a guess (alive for `ready_after`) or a probe's answer
//! (`ready = {...}`); a liveness probe that keeps failing ends the process
//! as a failure. The stop sequence lives in `stop.rs`, the way commands are
//! built (user, group, environment) in `command.rs`.

mod argv;
mod command;
mod pidfd;
mod probe;
mod probe_settings;
mod settings;
mod stop;
mod tree;

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use self::probe_settings::{
    Check, DEFAULT_FAILURE_THRESHOLD, DEFAULT_LIVENESS_INTERVAL, DEFAULT_PROBE_TIMEOUT,
    DEFAULT_READY_INTERVAL, DEFAULT_READY_TIMEOUT, ProbeSpec,
};
pub use self::settings::{ProcessSpec, parse_signal};
pub(crate) use self::tree::other_pids;
pub use self::tree::{Leftover, RunRecord, kill_leftovers};

use self::command::{Identity, Launch};
use self::stop::Group;
use self::tree::Tree;
use crate::component::{BoxFuture, Component, Exit, Lifecycle, StopStep};
use crate::kind::{Kind, SerdeKind, Settings};
use crate::spawned::{self, Registration, Role};

/// `kind = "process"`.
pub const KIND: &dyn Kind = &SerdeKind::new("process", settings::process);

impl Settings for ProcessSpec {
    fn build(&self) -> Box<dyn Component> {
        Box::new(Process::new(self.clone()))
    }

    /// The `stop_timeout` it keeps bounds only a stop it begins itself
    /// (after a failed liveness probe), which a running process may go on
    /// bounding by the old one; the engine's stop uses the new one. Its
    /// `stop_command_timeout` (half the `stop_timeout` unless set) matters
    /// only with a `stop_command`.
    fn runs_as(&self, new: &dyn std::any::Any) -> bool {
        new.downcast_ref::<ProcessSpec>().is_some_and(|new| {
            let mut running = self.clone();
            running.stop_timeout = new.stop_timeout;
            if running.stop_command.is_none() && new.stop_command.is_none() {
                running.stop_command_timeout = new.stop_command_timeout;
            }
            running == *new
        })
    }
}

/// After the main process exits, how long its output pipes may stay open
/// (held by an escaped descendant) before forwarding gives up on them.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);
/// How long the end of a process waits for its last output lines, so logs
/// read in order; longer drains continue in the background.
const LOG_ORDER_GRACE: Duration = Duration::from_millis(50);

/// An external program.
pub struct Process {
    spec: ProcessSpec,
}

impl Process {
    /// A process component for this spec.
    pub fn new(spec: ProcessSpec) -> Process {
        Process { spec }
    }
}

fn exit_of(status: std::io::Result<ExitStatus>) -> Exit {
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(sig)) => Exit::Signal(
                Signal::try_from(sig)
                    .map_or_else(|_| format!("signal {sig}"), |s| s.as_str().to_string()),
            ),
            (None, None) => Exit::Error(format!("unknown exit status {s}")),
        },
        Err(e) => Exit::Error(format!("waiting for the process failed: {e}")),
    }
}

/// Forwards one pipe line by line until EOF, or until [`OUTPUT_DRAIN`] after
/// `exited` fires (an escaped descendant may hold the pipe open forever).
///
/// With a `log` readiness probe, the first matching line fires `log.1`.
async fn forward<R: AsyncRead + Unpin>(
    name: String,
    stream: &'static str,
    reader: R,
    exited: CancellationToken,
    log: Option<(regex::Regex, CancellationToken)>,
) {
    // Small buffer: fifty children with two pipes each must not cost megabytes;
    // a longer line just takes more reads.
    let mut reader = BufReader::with_capacity(1024, reader);
    let mut buf = Vec::new();
    let give_up = async {
        exited.cancelled().await;
        tokio::time::sleep(OUTPUT_DRAIN).await;
    };
    tokio::pin!(give_up);
    loop {
        buf.clear();
        let read = tokio::select! {
            biased;
            r = reader.read_until(b'\n', &mut buf) => r,
            _ = &mut give_up => {
                tracing::warn!(component = %name, "{name}: {stream} still open {OUTPUT_DRAIN:?} after exit (a descendant left the process group?); no longer forwarding it");
                return;
            }
        };
        match read {
            Ok(0) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']);
                if let Some((re, matched)) = &log
                    && !matched.is_cancelled()
                    && re.is_match(line)
                {
                    matched.cancel();
                }
                tracing::info!(target: "sundown::output", component = %name, stream, "{name} | {line}");
            }
            Err(e) => {
                tracing::warn!(component = %name, "{name}: reading {stream} failed: {e}");
                return;
            }
        }
    }
}

/// Where the start of a process left it.
enum Started {
    /// It ended (or could not be waited for) before anything else happened.
    Ended(std::io::Result<ExitStatus>),
    /// It is ready.
    Ready,
    /// The readiness probe gave up, with why.
    NotReady(String),
    /// The engine asked it to stop before it was ready.
    Stop,
    /// The engine killed it before it was ready.
    Kill,
}

impl Component for Process {
    fn kind(&self) -> &'static str {
        "process"
    }

    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        let spec = self.spec;
        Box::pin(async move {
            let who = match Identity::resolve(&spec) {
                Ok(who) => who,
                Err(e) => return Exit::Error(e),
            };
            let name = life.name().to_string();
            let mut tree = match Tree::new(&name) {
                Ok(tree) => tree,
                Err(e) => return Exit::Error(e),
            };
            // Said before the spawn, so the status never takes the starting
            // process for an in-process kind.
            life.tracked(tree.tracked());
            let mut cmd = Launch {
                spec: &spec,
                who: who.as_ref(),
                tree: &tree,
            }
            .command(&spec.argv);
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let (mut child, registration) = match spawned::spawn(&mut cmd, Role::Main) {
                Ok(c) => c,
                Err(e) => return Exit::Error(format!("cannot start `{}`: {e}", spec.argv[0])),
            };
            let Some(pid) = child.id() else {
                return Exit::Error("the process vanished right after spawning".into());
            };
            life.pid(pid);
            let group = Group(Pid::from_raw(pid as i32));
            let how = tree.how();
            if let Err(e) = tree.confirm(pid, &name) {
                let _ = stop::kill_group(&life, &mut child, &group).await;
                return Exit::Error(e);
            }
            if tree.how() != how {
                life.tracked(tree.tracked());
            }
            tracing::debug!(component = %name, "{name}: pid {pid}, descendants tracked by {}", tree.how());
            let launch = Launch {
                spec: &spec,
                who: who.as_ref(),
                tree: &tree,
            };
            // Forwarders run on the supervisor's tracker: the component's end is
            // reported as soon as the process is reaped, not when its pipes close.
            let exited = CancellationToken::new();
            let log_matched = CancellationToken::new();
            let log = match spec.ready.as_ref().map(|p| &p.check) {
                Some(Check::Log(re)) => Some((re.clone(), log_matched.clone())),
                _ => None,
            };
            let mut outputs = Vec::new();
            if let Some(out) = child.stdout.take() {
                outputs.push(life.spawn(forward(
                    name.clone(),
                    "stdout",
                    out,
                    exited.clone(),
                    log.clone(),
                )));
            }
            if let Some(err) = child.stderr.take() {
                outputs.push(life.spawn(forward(name.clone(), "stderr", err, exited.clone(), log)));
            }
            let end = Ending {
                group,
                exited,
                outputs,
                _registration: registration,
            };
            let group = &end.group;
            let exec = |argv: &[String]| launch.output(argv);

            let ready_at = Instant::now() + spec.ready_after;
            let readiness = async {
                match &spec.ready {
                    Some(p) => probe::until_ready(p, &exec, &log_matched).await,
                    None => {
                        tokio::time::sleep_until(ready_at).await;
                        Ok(())
                    }
                }
            };
            let started = tokio::select! {
                s = child.wait() => {
                    // It stayed alive for `ready_after` even when the timer has not fired
                    // yet (a busy runtime, or `ready_after = "0s"`): it was ready.
                    if spec.ready.is_none() && Instant::now() >= ready_at {
                        life.ready();
                    }
                    Started::Ended(s)
                }
                r = readiness => match r {
                    Ok(()) => { life.ready(); Started::Ready }
                    Err(e) => Started::NotReady(e),
                },
                _ = life.stop_requested() => Started::Stop,
                _ = life.kill_requested() => Started::Kill,
            };
            let status = match started {
                Started::Ended(s) => s,
                Started::Kill => stop::kill_group(&life, &mut child, group).await,
                Started::Stop => {
                    stop::stop(launch, &life, &mut child, group, life.kill_requested()).await
                }
                Started::NotReady(why) => {
                    // It serves nobody yet, and a half-started program has
                    // nothing to flush: no graceful stop.
                    tracing::warn!(component = %name, "{name}: {why}");
                    let _ = stop::kill_group(&life, &mut child, group).await;
                    return end.finish(&life, &tree, Exit::Error(why)).await;
                }
                Started::Ready => {
                    let liveness = async {
                        match &spec.liveness {
                            Some(p) => probe::until_dead(p, &exec, &name).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        s = child.wait() => s,
                        why = liveness => {
                            tracing::error!(component = %name, "{name}: {why}; stopping it");
                            // It stops itself, so it bounds the stop itself.
                            let deadline = Instant::now() + spec.stop_timeout;
                            let kill = async {
                                tokio::select! {
                                    _ = tokio::time::sleep_until(deadline) => {}
                                    _ = life.kill_requested() => {}
                                }
                            };
                            let _ = stop::stop(launch, &life, &mut child, group, kill).await;
                            return end.finish(&life, &tree, Exit::Error(why)).await;
                        }
                        _ = life.stop_requested() => stop::stop(launch, &life, &mut child, group, life.kill_requested()).await,
                        _ = life.kill_requested() => stop::kill_group(&life, &mut child, group).await,
                    }
                }
            };
            end.finish(&life, &tree, exit_of(status)).await
        })
    }
}

/// What is left to clean up when the main process has ended.
struct Ending {
    group: Group,
    exited: CancellationToken,
    outputs: Vec<tokio::task::JoinHandle<()>>,
    /// Normally dropped once the main process has been waited for; if not
    /// (an aborted component), its entry stays, released, until reaped.
    _registration: Registration,
}

impl Ending {
    /// The main process is gone: kill what is left of its group and of its
    /// tree, and let the last lines of output reach the log before the
    /// component's end does.
    async fn finish(self, life: &Lifecycle, tree: &Tree, exit: Exit) -> Exit {
        let Ending {
            group,
            exited,
            outputs,
            _registration,
        } = self;
        let leader = group.0.as_raw() as u32;
        drop(group);
        let escaped = tree.kill_rest(leader).await;
        if !escaped.is_empty() {
            life.step(
                StopStep::Descendants,
                format!(
                    "SIGKILL to {} process(es) that had left the process group ({}): {}",
                    escaped.len(),
                    tree.how(),
                    escaped.join(", ")
                ),
            );
        }
        exited.cancel();
        // Normally the pipes close with the group, at once: wait a moment so
        // the last lines are logged before the "stopped" line. A pipe held
        // open elsewhere keeps draining in the background instead.
        let _ = tokio::time::timeout(LOG_ORDER_GRACE, async {
            for handle in outputs {
                let _ = handle.await;
            }
        })
        .await;
        exit
    }
}
