//! The duties of an init process, for sundown as PID 1 in a container (or
//! as a subreaper with `run --subreaper`).
//!
//! The kernel hands every orphan of the namespace (or of the subtree) to
//! init, and an orphan that exits stays a zombie until init waits for it;
//! a shell entrypoint that never waits fills the process table. sundown
//! reaps them on every SIGCHLD, leaving its own children to tokio (see the
//! registry in `spawned.rs`). Signals meant for the program, not for
//! sundown, are forwarded with [`forward`].

use std::collections::BTreeSet;
use std::io;

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use tokio::signal::unix::{SignalKind, signal};

use crate::spawned;

/// Whether sundown is the init process of its PID namespace.
pub fn is_init() -> bool {
    std::process::id() == 1
}

/// Makes orphaned descendants come to sundown rather than to the machine's
/// init (`PR_SET_CHILD_SUBREAPER`), so they can be reaped and accounted for.
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// Reaps orphans until the future is dropped: once now, then after every
/// SIGCHLD. Returns only if SIGCHLD cannot be handled.
pub async fn reap_orphans() -> io::Result<()> {
    let mut sigchld = signal(SignalKind::child())?;
    loop {
        let complete = reap_pass().1;
        if complete {
            if sigchld.recv().await.is_none() {
                return Ok(());
            }
        } else {
            // Only without /proc's children lists: a registered zombie
            // hid the rest, and tokio reaping it raises no new SIGCHLD.
            tokio::select! {
                _ = sigchld.recv() => {}
                _ = tokio::time::sleep(PEEK_AGAIN) => {}
            }
        }
    }
}

/// How soon to look again when [`reap_by_peeking`] was stopped by one of
/// sundown's own zombies, which tokio is about to reap.
const PEEK_AGAIN: std::time::Duration = std::time::Duration::from_millis(100);

/// Waits for every exited child that sundown did not spawn itself; returns
/// how many were reaped.
pub fn reap_once() -> usize {
    reap_pass().0
}

/// How many were reaped, and whether every exited orphan was seen.
fn reap_pass() -> (usize, bool) {
    let mut registered = spawned::lock();
    spawned::forget_reaped(&mut registered);
    let mut reaped = 0;
    let candidates = match own_children() {
        Ok(pids) => pids,
        Err(e) => {
            tracing::debug!("cannot list children in /proc ({e}); reaping by peeking");
            return reap_by_peeking(&registered);
        }
    };
    for pid in candidates {
        if registered.contains_key(&pid) {
            continue;
        }
        match waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => {}
            Ok(status) => {
                reaped += 1;
                tracing::debug!("reaped orphan {pid}: {status:?}");
            }
            Err(e) => tracing::warn!("waiting for orphan {pid} failed: {e}"),
        }
    }
    (reaped, true)
}

/// The children of every thread of this process (a child belongs to the
/// thread that forked it, an orphan to whichever thread the kernel picked).
fn own_children() -> io::Result<BTreeSet<u32>> {
    let mut pids = BTreeSet::new();
    for task in std::fs::read_dir("/proc/self/task")? {
        let path = task?.path().join("children");
        match std::fs::read_to_string(&path) {
            Ok(list) => pids.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            ),
            // The thread ended while we looked.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(pids)
}

/// Without `/proc/<pid>/task/<tid>/children` (a kernel without
/// CONFIG_PROC_CHILDREN): look at exited children one at a time without
/// reaping them, and reap those that are not registered. It has to stop at
/// the first registered one, which tokio reaps soon (then incomplete).
fn reap_by_peeking(registered: &spawned::Registry) -> (usize, bool) {
    let mut reaped = 0;
    loop {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        let pid = match nix::sys::wait::waitid(nix::sys::wait::Id::All, flags) {
            Ok(status) => match status.pid() {
                Some(pid) => pid,
                None => return (reaped, true),
            },
            Err(_) => return (reaped, true),
        };
        if registered.contains_key(&(pid.as_raw() as u32)) {
            return (reaped, false);
        }
        if waitpid(pid, Some(WaitPidFlag::WNOHANG)).is_ok() {
            reaped += 1;
        }
    }
}

/// Sends `signal` to the main process of every running process component;
/// returns how many it reached.
pub fn forward(signal: Signal) -> usize {
    spawned::forward(signal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_its_own_children() -> io::Result<()> {
        let mut child = std::process::Command::new("sleep").arg("5").spawn()?;
        let listed = own_children()?;
        child.kill()?;
        child.wait()?;
        assert!(
            listed.contains(&child.id()),
            "{listed:?} lacks {}",
            child.id()
        );
        Ok(())
    }
}
