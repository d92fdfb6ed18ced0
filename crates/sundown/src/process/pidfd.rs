//! Killing processes sundown did not spawn itself, without ever hitting a
//! stranger that got a reused pid: hold the process by a pidfd first, check
//! that it is the one meant, then signal through the pidfd, and wait on it
//! (it turns readable when the process exits).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return (None, None),
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
        let r = match &self.fd {
            // SAFETY: a plain syscall on a descriptor we own.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            },
            // SAFETY: a plain syscall.
            None => unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) as libc::c_long },
        };
        match r {
            0 => Ok(()),
            _ => match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
                e => Err(e),
            },
        }
    }

    /// Completes when it has exited; at once when it is held by pid only
    /// (the next listing tells whether it is gone).
    pub(crate) async fn gone(self) {
        let Some(fd) = self.fd else { return };
        // SAFETY: the OwnedFd is moved into the AsyncFd, which alone closes it.
        match unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) } {
            Ok(fd) => {
                let _ = fd.readable().await;
            }
            Err(e) => tracing::debug!("cannot wait on the pidfd of {}: {e}", self.pid),
        }
    }
}

fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: a plain syscall; the returned descriptor is ours alone.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
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
