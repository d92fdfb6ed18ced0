//! Killing processes sundown did not spawn itself, without ever hitting a
//! stranger that got a reused pid: hold the process by a pidfd first, check
//! that it is the one meant, then signal through the pidfd, and wait on it
//! (it turns readable when the process exits).

use std::io;
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;

/// A process held for killing.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) pid: u32,
    /// `None` where pidfds are not available (a kernel before 5.3, a
    /// seccomp profile that denies them): then the pid is all there is.
    fd: Option<OwnedFd>,
    /// Its process group and command name, read while it was alive.
    pub(crate) pgid: u32,
    pub(crate) comm: String,
}

impl Held {
    /// Holds `pid` if `is_meant(pid)` still says yes once it is held.
    /// The error is why pidfds do not work here (it is held by pid then).
    pub(crate) fn hold(
        pid: u32,
        is_meant: impl Fn(u32) -> bool,
    ) -> (Option<Held>, Option<io::Error>) {
        let (fd, unavailable) = match pidfd_open(pid) {
            Ok(fd) => (Some(fd), None),
            // Gone already: nothing to hold.
            Err(e) if e.raw_os_error() == Some(Errno::ESRCH as i32) => return (None, None),
            Err(e) => (None, Some(e)),
        };
        // Checked after the pidfd pins the process: a pid reused before the
        // pidfd was opened fails this check instead of being killed.
        if !is_meant(pid) {
            return (None, unavailable);
        }
        let held = stat(pid).map(|(pgid, comm)| Held {
            pid,
            fd,
            pgid,
            comm,
        });
        (held, unavailable)
    }

    /// SIGKILL; `Ok` also when it had exited already.
    pub(crate) fn kill(&self) -> io::Result<()> {
        let sent = match &self.fd {
            Some(fd) => rustix::process::pidfd_send_signal(fd, rustix::process::Signal::KILL)
                .map_err(io::Error::from),
            None => kill(Pid::from_raw(self.pid as i32), Signal::SIGKILL).map_err(io::Error::from),
        };
        match sent {
            Err(e) if e.raw_os_error() == Some(Errno::ESRCH as i32) => Ok(()),
            other => other,
        }
    }

    /// Completes when it has exited; at once when it is held by pid only
    /// (the next listing tells whether it is gone).
    pub(crate) async fn gone(self) {
        let Some(fd) = self.fd else { return };
        // SAFETY: the OwnedFd is moved into the AsyncFd, so the descriptor
        // stays open for as long as it is registered and is closed by it alone.
        match unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) } {
            Ok(fd) => {
                let _ = fd.readable().await;
            }
            Err(e) => tracing::debug!("cannot wait on the pidfd of {}: {e}", self.pid),
        }
    }
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| io::Error::from(Errno::ESRCH))?;
    Ok(rustix::process::pidfd_open(
        pid,
        rustix::process::PidfdFlags::empty(),
    )?)
}

/// The process group and command name of `pid`, from `/proc/<pid>/stat`.
pub(crate) fn stat(pid: u32) -> Option<(u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    let (head, tail) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let pgrp = tail.split_whitespace().nth(2)?.parse().ok()?;
    Some((pgrp, comm))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_reads_the_group_and_name() {
        let (pgrp, comm) = stat(std::process::id()).expect("own stat");
        assert_eq!(pgrp, nix::unistd::getpgrp().as_raw() as u32);
        assert!(!comm.is_empty());
    }

    #[tokio::test]
    async fn a_held_process_is_killed_and_waited_for() -> io::Result<()> {
        let mut child = std::process::Command::new("sleep").arg("100").spawn()?;
        let (held, unavailable) = Held::hold(child.id(), |_| true);
        assert!(unavailable.is_none(), "{unavailable:?}");
        let held = held.expect("alive");
        assert_eq!(held.comm, "sleep");
        held.kill()?;
        held.gone().await;
        // Exited (a zombie until waited for), so this returns at once.
        assert!(child.try_wait()?.is_some());
        Ok(())
    }

    #[test]
    fn a_process_that_is_not_meant_is_not_held() -> io::Result<()> {
        let mut child = std::process::Command::new("sleep").arg("100").spawn()?;
        let (held, _) = Held::hold(child.id(), |_| false);
        child.kill()?;
        child.wait()?;
        assert!(held.is_none());
        Ok(())
    }
}
