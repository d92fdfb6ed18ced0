//! Every process sundown spawns is registered here, for two reasons.
//!
//! As PID 1 (or a subreaper) sundown must reap orphans it never spawned,
//! but tokio waits for its own children by pid: reaping one of those from
//! under it would turn its exit into an error. So the orphan reaper only
//! touches unregistered pids, and a spawn holds the registry's lock from
//! fork to registration, so a child that dies at once cannot be taken for
//! an orphan.
//!
//! Signals sundown forwards (SIGHUP, SIGUSR1, SIGUSR2) go to the process
//! groups of the registered main processes.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, MutexGuard};

use nix::sys::signal::{Signal, killpg};
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

static REGISTRY: Mutex<BTreeMap<u32, Role>> = Mutex::new(BTreeMap::new());

pub(crate) fn lock() -> MutexGuard<'static, BTreeMap<u32, Role>> {
    // A panic while holding the lock cannot leave the map half-updated.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps a child registered until dropped; drop it only once the child has
/// been waited for (or handed to tokio's orphan queue by dropping it).
#[derive(Debug)]
pub(crate) struct Registration(u32);

impl Drop for Registration {
    fn drop(&mut self) {
        lock().remove(&self.0);
    }
}

/// Spawns `cmd` and registers the child before anyone can reap it.
pub(crate) fn spawn(cmd: &mut Command, role: Role) -> io::Result<(Child, Registration)> {
    let mut children = lock();
    let child = cmd.spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| io::Error::other("the process vanished right after spawning"))?;
    children.insert(pid, role);
    Ok((child, Registration(pid)))
}

/// Sends `signal` to the process group of every main process; returns how
/// many groups it reached.
pub fn forward(signal: Signal) -> usize {
    lock()
        .iter()
        .filter(|(_, role)| **role == Role::Main)
        .filter(|(pid, _)| killpg(Pid::from_raw(**pid as i32), signal).is_ok())
        .count()
}
