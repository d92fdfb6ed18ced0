//! The registry of the processes sundown spawned. Every one is
//! registered here, for two reasons.
//!
//! As PID 1 (or a subreaper) sundown must reap orphans it never spawned,
//! but tokio waits for its own children by pid: reaping one of those from
//! under it would turn its exit into an error. So the orphan reaper only
//! touches unregistered pids, and a spawn holds the registry's lock from
//! fork to registration, so a child that dies at once cannot be taken for
//! an orphan. A child whose handle was dropped before it was waited for
//! belongs to tokio's orphan queue until it is reaped: its entry stays
//! (released) until then.
//!
//! Signals sundown forwards (SIGUSR1, SIGUSR2) go to the registered
//! main processes.

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// What a registered child is to its component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A component's main process, leader of its process group: forwarded
    /// signals go to its group.
    Main,
    /// A stop command or an exec probe.
    Helper,
}

/// One registered child.
#[derive(Debug)]
pub(crate) struct Entry {
    role: Role,
    /// Tells a reused pid's entry from the one a [`Registration`] made.
    generation: u64,
    /// Its handle is gone; it is tokio's until reaped.
    released: bool,
}

/// The registered children by pid.
pub(crate) type Registry = BTreeMap<u32, Entry>;

static REGISTRY: Mutex<Registry> = Mutex::new(BTreeMap::new());

pub(crate) fn lock() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock cannot leave the map half-updated.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether `pid` is no longer a child of ours to wait for (someone reaped
/// it). Looks without reaping.
fn reaped(pid: u32) -> bool {
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    matches!(
        waitid(Id::Pid(Pid::from_raw(pid as i32)), flags),
        Err(Errno::ECHILD)
    )
}

/// Drops the entries of released children that have been reaped since.
pub(crate) fn forget_reaped(registry: &mut Registry) {
    registry.retain(|pid, e| !(e.released && reaped(*pid)));
}

/// Keeps a child registered; dropping it releases the entry, which goes
/// once the child has been reaped.
#[derive(Debug)]
pub(crate) struct Registration {
    pid: u32,
    generation: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut registry = lock();
        if let Some(e) = registry.get_mut(&self.pid)
            && e.generation == self.generation
        {
            if reaped(self.pid) {
                registry.remove(&self.pid);
            } else {
                e.released = true;
            }
        }
    }
}

/// Spawns `cmd` and registers the child before anyone can reap it.
pub(crate) fn spawn(cmd: &mut Command, role: Role) -> io::Result<(Child, Registration)> {
    static GENERATION: AtomicU64 = AtomicU64::new(0);
    let mut registry = lock();
    forget_reaped(&mut registry);
    let child = cmd.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the process vanished right after spawning"))?;
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    registry.insert(
        pid,
        Entry {
            role,
            generation,
            released: false,
        },
    );
    Ok((child, Registration { pid, generation }))
}

/// Sends `signal` to every main process; returns how many it reached.
/// Only the main process: it decides what its children hear, as under
/// systemd's reload (a shell's `sleep` would die of a SIGUSR1 it never
/// asked for).
pub(crate) fn forward(signal: Signal) -> usize {
    lock()
        .iter()
        .filter(|(_, e)| e.role == Role::Main && !e.released)
        .filter(|(pid, _)| kill(Pid::from_raw(**pid as i32), signal).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper() -> Command {
        let mut cmd = Command::new("sleep");
        cmd.arg("100").kill_on_drop(true);
        cmd
    }

    #[tokio::test]
    async fn a_waited_child_is_forgotten_when_its_registration_goes() -> io::Result<()> {
        let (mut child, registration) = spawn(&mut sleeper(), Role::Helper)?;
        let pid = child.id().expect("a pid");
        assert!(lock().contains_key(&pid));
        child.kill().await?;
        drop(registration);
        assert!(!lock().contains_key(&pid));
        Ok(())
    }

    #[tokio::test]
    async fn an_unwaited_child_stays_registered_released_until_reaped() -> io::Result<()> {
        let (mut child, registration) = spawn(&mut sleeper(), Role::Main)?;
        let pid = child.id().expect("a pid");
        drop(registration);
        // Still tokio's to wait for: the orphan reaper must keep off it, and
        // forwarded signals no longer go to it.
        assert!(lock().get(&pid).is_some_and(|e| e.released));
        assert!(
            !lock()
                .iter()
                .any(|(p, e)| *p == pid && e.role == Role::Main && !e.released)
        );
        child.kill().await?;
        forget_reaped(&mut lock());
        assert!(!lock().contains_key(&pid));
        Ok(())
    }
}
