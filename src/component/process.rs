//! `kind = "process"`: an external program in its own process group.
//!
//! The group is the unit: the stop signal and SIGKILL go to the whole group
//! so a shell's children go down with it, and when the main process has
//! exited, whatever is left of its group is killed so nothing outlives its
//! component. Each child gets `PR_SET_PDEATHSIG(SIGKILL)`, so even a
//! SIGKILLed supervisor takes its children with it. stdout and stderr are
//! forwarded line by line, the last line before exit included.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

use super::{BoxFuture, Component, Exit, Lifecycle};
use crate::config::ProcessSpec;

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

/// Kills the process group when dropped, so an aborted component (or a
/// panicking supervisor) never leaves its group behind.
struct Group(Pid);

impl Group {
    fn signal(&self, sig: Signal) {
        // ESRCH: the group is already gone, which is what we want.
        let _ = killpg(self.0, sig);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
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
async fn forward<R: AsyncRead + Unpin>(
    name: String,
    stream: &'static str,
    reader: R,
    exited: CancellationToken,
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
                tracing::info!(target: "sundown::output", component = %name, stream, "{name} | {line}");
            }
            Err(e) => {
                tracing::warn!(component = %name, "{name}: reading {stream} failed: {e}");
                return;
            }
        }
    }
}

impl Component for Process {
    fn kind(&self) -> &'static str {
        "process"
    }

    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        let spec = self.spec;
        Box::pin(async move {
            let mut cmd = Command::new(&spec.argv[0]);
            cmd.args(&spec.argv[1..])
                .envs(&spec.env)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            if let Some(dir) = &spec.working_dir {
                cmd.current_dir(dir);
            }
            let parent = std::process::id();
            // SAFETY: the closure runs between fork and exec and only makes
            // async-signal-safe system calls (prctl, getppid, raise).
            unsafe {
                cmd.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // The supervisor died before prctl took effect.
                    if libc::getppid() as u32 != parent {
                        libc::raise(libc::SIGKILL);
                    }
                    Ok(())
                });
            }
            let mut child = match cmd.spawn() {
                Ok(c) => c,
                Err(e) => return Exit::Error(format!("cannot start `{}`: {e}", spec.argv[0])),
            };
            let Some(pid) = child.id() else {
                return Exit::Error("the process vanished right after spawning".into());
            };
            life.pid(pid);
            let group = Group(Pid::from_raw(pid as i32));
            let name = life.name().to_string();
            // Forwarders run on the supervisor's tracker: the component's end is
            // reported as soon as the process is reaped, not when its pipes close.
            let exited = CancellationToken::new();
            let mut outputs = Vec::new();
            if let Some(out) = child.stdout.take() {
                outputs.push(life.spawn(forward(name.clone(), "stdout", out, exited.clone())));
            }
            if let Some(err) = child.stderr.take() {
                outputs.push(life.spawn(forward(name.clone(), "stderr", err, exited.clone())));
            }

            let ready_at = tokio::time::Instant::now() + spec.ready_after;
            let status = tokio::select! {
                s = child.wait() => {
                    // It stayed alive for `ready_after` even when the timer has not fired
                    // yet (a busy runtime, or `ready_after = "0s"`): it was ready.
                    if tokio::time::Instant::now() >= ready_at {
                        life.ready();
                    }
                    Some(s)
                }
                _ = tokio::time::sleep_until(ready_at) => { life.ready(); None }
                _ = life.stop_requested() => None,
                _ = life.kill_requested() => None,
            };
            let status = match status {
                Some(s) => s,
                None => {
                    tokio::select! {
                        s = child.wait() => s,
                        _ = life.stop_requested() => {
                            tracing::debug!(component = %name, "{name}: sending {} to process group {pid}", spec.stop_signal);
                            group.signal(spec.stop_signal);
                            tokio::select! {
                                s = child.wait() => s,
                                _ = life.kill_requested() => { group.signal(Signal::SIGKILL); child.wait().await }
                            }
                        }
                        _ = life.kill_requested() => { group.signal(Signal::SIGKILL); child.wait().await }
                    }
                }
            };
            // The main process is gone; descendants left in its group go with it.
            drop(group);
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
            exit_of(status)
        })
    }
}
