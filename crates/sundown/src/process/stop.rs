//! The stop sequence of a process: `stop_command`, then `stop_signal`, then
//! SIGKILL to the group. Each step is logged and recorded, and no step can
//! keep the next one from coming: a stop command that fails or hangs only
//! moves the sequence on to the signal.

use std::future::Future;
use std::io;
use std::process::{ExitStatus, Stdio};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio::time::Instant;

use super::command::Launch;
use crate::component::Lifecycle;
use crate::component::StopStep;

/// Runs the whole sequence against `child` and returns its exit status.
/// `kill` completes when the stop has run out of time (the engine's
/// deadline, or the process's own when it stops itself); SIGKILL follows.
pub(super) async fn stop(
    launch: Launch<'_>,
    life: &Lifecycle,
    child: &mut Child,
    group: &Group,
    kill: impl Future<Output = ()>,
) -> io::Result<ExitStatus> {
    tokio::pin!(kill);
    let spec = launch.spec;
    let pid = group.0;
    if let Some(argv) = &spec.stop_command {
        let budget = spec.stop_command_timeout;
        let until = Instant::now() + budget;
        let shown = shell_words::join(argv);
        life.step(StopStep::StopCommand, format!("`{shown}`"));
        // Its output goes to the log with the component's; a hung command
        // is killed, group and all, when this scope ends.
        let mut cmd = launch.command(argv);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let ended = match launch.spawn_helper(&mut cmd) {
            Err(e) => Some(format!("cannot start `{}`: {e}", argv[0])),
            Ok((stopper, _registration)) => {
                let _stopper_group = stopper
                    .id()
                    .map(|p| Group(nix::unistd::Pid::from_raw(p as i32)));
                let output = stopper.wait_with_output();
                tokio::select! {
                    s = child.wait() => {
                        life.step(StopStep::StopCommandEnded, "the process exited while it ran".into());
                        return s;
                    }
                    out = output => match out {
                        Ok(out) => {
                            log_output(life.name(), &out.stdout);
                            log_output(life.name(), &out.stderr);
                            if out.status.success() { None } else { Some(format!("failed: {}", out.status)) }
                        }
                        Err(e) => Some(format!("failed: {e}")),
                    },
                    _ = tokio::time::sleep_until(until) => Some(format!("timed out after {}; killed it", humantime::format_duration(budget))),
                    _ = &mut kill => return kill_group(life, child, group).await,
                }
            }
        };
        match ended {
            Some(why) => life.step(StopStep::StopCommandEnded, why),
            None => {
                life.step(StopStep::StopCommandEnded, "exit status 0".into());
                // It worked: the program is on its way down; give it the rest of the budget.
                tokio::select! {
                    s = child.wait() => return s,
                    _ = tokio::time::sleep_until(until) => tracing::warn!(
                        component = %life.name(),
                        "{}: still running {} after its stop command succeeded",
                        life.name(),
                        humantime::format_duration(budget)
                    ),
                    _ = &mut kill => return kill_group(life, child, group).await,
                }
            }
        }
    }
    life.step(
        StopStep::Signal,
        format!("{} to process group {pid}", spec.stop_signal),
    );
    group.signal(spec.stop_signal);
    tokio::select! {
        s = child.wait() => s,
        _ = &mut kill => kill_group(life, child, group).await,
    }
}

pub(super) async fn kill_group(
    life: &Lifecycle,
    child: &mut Child,
    group: &Group,
) -> io::Result<ExitStatus> {
    life.step(
        StopStep::Kill,
        format!("SIGKILL to process group {}", group.0),
    );
    group.signal(Signal::SIGKILL);
    child.wait().await
}

fn log_output(name: &str, bytes: &[u8]) {
    for line in String::from_utf8_lossy(bytes).lines() {
        tracing::info!(target: "sundown::output", component = %name, stream = "stop_command", "{name} (stop command) | {line}");
    }
}

/// Kills the process group when dropped, so an aborted component (or a
/// panicking supervisor) never leaves its group behind.
pub(super) struct Group(pub(super) Pid);

impl Group {
    pub(super) fn signal(&self, sig: Signal) {
        // ESRCH: the group is already gone, which is what we want.
        let _ = killpg(self.0, sig);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}
