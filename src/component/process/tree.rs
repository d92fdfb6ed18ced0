//! Descendants that left the process group: a daemon that double-forks and
//! calls `setsid`, a shell that starts a job in its own group. Killing the
//! group misses them, so each component's processes are also tracked as a
//! tree, and what is left of the tree when the component ends is killed.
//!
//! Two ways, chosen per component instance:
//! - **cgroup**: a cgroup v2 directory of its own next to sundown's, which
//!   the child joins between fork and exec; nothing it starts can leave
//!   it, whatever it does with sessions, groups or its environment.
//! - **scan**: where cgroups are not writable (an unprivileged container),
//!   every process carries `SUNDOWN_TREE=<id>` in its environment, and the
//!   end of the component kills each process in `/proc` whose initial
//!   environment has it. A program that execs with a cleared environment
//!   escapes this one.
//!
//! `SUNDOWN_DESCENDANTS=cgroup|scan` forces one (cgroup then fails the
//! start when it is not available), for tests and for the cautious.
//!
//! Every kill goes through a pidfd, so a pid reused in between is never hit,
//! and the end waits (on those pidfds) until each one is gone.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::fmt::Write as _;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::unix::AsyncFd;

/// The environment variable that marks a component instance's processes.
pub(crate) const MARKER: &str = "SUNDOWN_TREE";
/// How long the end of a component waits for SIGKILLed descendants to go
/// (a process in uninterruptible sleep takes as long as its I/O does).
const GONE_WITHIN: Duration = Duration::from_secs(2);
/// Passes over the tree: a process may fork between a listing and its kill.
const PASSES: usize = 8;

/// One component instance's processes.
#[derive(Debug)]
pub(crate) struct Tree {
    /// The value of [`MARKER`] in its processes' environment.
    id: String,
    /// Its cgroup, when it has one.
    cgroup: Option<Cgroup>,
    /// The process groups sundown made in it (stop commands, probes): their
    /// members did not escape anything.
    helpers: Arc<Mutex<BTreeSet<u32>>>,
}

#[derive(Debug)]
struct Cgroup {
    dir: PathBuf,
    /// `cgroup.procs`, ready for the child to open between fork and exec
    /// (allocating there is not allowed).
    procs: CString,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Auto,
    Cgroup,
    Scan,
}

fn mode() -> Mode {
    match std::env::var("SUNDOWN_DESCENDANTS").as_deref() {
        Ok("cgroup") => Mode::Cgroup,
        Ok("scan") => Mode::Scan,
        _ => Mode::Auto,
    }
}

/// The cgroup v2 directory sundown runs in, when there is one.
fn own_cgroup() -> Option<&'static Path> {
    static OWN: OnceLock<Option<PathBuf>> = OnceLock::new();
    OWN.get_or_init(|| {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        // Fields: id parent dev root mountpoint options... - fstype source options.
        let mount = mounts.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| left.split(' ').nth(4))
                .flatten()
        })?;
        Some(Path::new(mount).join(path.trim_start_matches('/')))
    })
    .as_deref()
}

impl Tree {
    /// A new tree for an instance of component `name`: its cgroup is
    /// created here when cgroups can be used.
    pub(crate) fn new(name: &str) -> Result<Tree, String> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}.{seq}", std::process::id());
        let mode = mode();
        let cgroup = match mode {
            Mode::Scan => None,
            Mode::Auto | Mode::Cgroup => match make_cgroup(&id, name) {
                Ok(c) => Some(c),
                Err(e) if mode == Mode::Cgroup => {
                    return Err(format!("SUNDOWN_DESCENDANTS=cgroup, but {e}"));
                }
                Err(e) => {
                    tracing::debug!("{name}: tracking descendants by scanning /proc: {e}");
                    None
                }
            },
        };
        Ok(Tree {
            id,
            cgroup,
            helpers: Arc::default(),
        })
    }

    /// Records a process group sundown started in the tree; see
    /// [`Tree::helper_groups`].
    pub(crate) fn helper_groups(&self) -> Arc<Mutex<BTreeSet<u32>>> {
        Arc::clone(&self.helpers)
    }

    /// The marker's value, to set in every process of the component.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// What a child must open to join the tree's cgroup (see [`join`]).
    pub(crate) fn cgroup_procs(&self) -> Option<CString> {
        self.cgroup.as_ref().map(|c| c.procs.clone())
    }

    /// Checks that the main process `pid` landed in the cgroup; when it did
    /// not (a cgroup we could make but not join), falls back to scanning.
    pub(crate) fn confirm(&mut self, pid: u32, name: &str) -> Result<(), String> {
        let Some(c) = &self.cgroup else { return Ok(()) };
        let mine = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("0::").map(str::to_owned))
            });
        let joined = mine.is_some_and(|m| c.dir.ends_with(m.trim_start_matches('/')));
        if joined {
            return Ok(());
        }
        let why = format!("{name}: the process could not join {}", c.dir.display());
        if mode() == Mode::Cgroup {
            return Err(format!("SUNDOWN_DESCENDANTS=cgroup, but {why}"));
        }
        tracing::debug!("{why}; tracking descendants by scanning /proc");
        if let Some(c) = self.cgroup.take() {
            let _ = std::fs::remove_dir(&c.dir);
        }
        Ok(())
    }

    /// How descendants are tracked, for logs.
    pub(crate) fn how(&self) -> &'static str {
        if self.cgroup.is_some() {
            "cgroup"
        } else {
            "scan"
        }
    }

    /// Kills whatever is left of the tree and waits until it is gone.
    /// Returns the processes that were not in the process group `group`
    /// (those had escaped it), as `pid (command)`.
    pub(crate) async fn kill_rest(&self, group: u32) -> Vec<String> {
        let mut escaped = std::collections::BTreeMap::new();
        for _ in 0..PASSES {
            let members = self.members();
            if members.is_empty() {
                break;
            }
            // Hold each one (pidfd) and read what it is before any kill: a
            // dead process has no group or name left to report.
            let held: Vec<(OwnedFd, u32)> = members
                .into_iter()
                .filter_map(|pid| {
                    let fd = pidfd_open(pid).ok()?;
                    let (pgid, comm) = stat(pid)?;
                    let helper = self.helpers.lock().is_ok_and(|h| h.contains(&pgid));
                    if pgid != group && !helper {
                        escaped.insert(pid, comm);
                    }
                    Some((fd, pid))
                })
                .collect();
            if let Some(c) = &self.cgroup {
                // One atomic kill of everything in it, forks in flight included.
                let _ = std::fs::write(c.dir.join("cgroup.kill"), "1");
            }
            let mut gone = Vec::new();
            for (fd, pid) in held {
                // ESRCH: it has exited already, which is what we want.
                if let Err(e) = pidfd_kill(&fd)
                    && e.raw_os_error() != Some(libc::ESRCH)
                {
                    // Another user's process (sundown is not root): waiting is pointless.
                    tracing::warn!("cannot kill {pid} of tree {}: {e}", self.id);
                    continue;
                }
                gone.push(fd);
            }
            if tokio::time::timeout(GONE_WITHIN, wait_all(gone))
                .await
                .is_err()
            {
                tracing::warn!(
                    "processes of tree {} still there {GONE_WITHIN:?} after SIGKILL",
                    self.id
                );
                break;
            }
        }
        escaped
            .into_iter()
            .map(|(pid, comm)| format!("{pid} ({comm})"))
            .collect()
    }

    /// The live processes of the tree.
    fn members(&self) -> Vec<u32> {
        match &self.cgroup {
            Some(c) => std::fs::read_to_string(c.dir.join("cgroup.procs"))
                .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
                .unwrap_or_default(),
            None => scan(&format!("{MARKER}={}", self.id)),
        }
    }
}

/// Moves the calling process into the cgroup whose `cgroup.procs` this is.
/// Runs in the child between fork and exec: only async-signal-safe calls,
/// no allocation. A failure is not fatal there; [`Tree::confirm`] notices it.
pub(crate) fn join(procs: &CString) {
    // SAFETY: open/write/close on a path allocated before the fork.
    unsafe {
        let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd >= 0 {
            // "0" moves the writer itself.
            libc::write(fd, b"0".as_ptr().cast(), 1);
            libc::close(fd);
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if let Some(c) = &self.cgroup {
            // Empty by now unless a kill timed out; then it stays, visible.
            if let Err(e) = std::fs::remove_dir(&c.dir) {
                tracing::debug!("cannot remove {}: {e}", c.dir.display());
            }
        }
    }
}

fn make_cgroup(id: &str, name: &str) -> Result<Cgroup, String> {
    let own = own_cgroup().ok_or("there is no cgroup v2 hierarchy mounted")?;
    let mut leaf = format!("sundown.{id}.");
    // Component names are identifiers already; keep the directory name safe anyway.
    for ch in name.chars() {
        let _ = write!(
            leaf,
            "{}",
            if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                ch
            } else {
                '_'
            }
        );
    }
    let dir = own.join(leaf);
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let procs = CString::new(
        dir.join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .map_err(|_| format!("{} contains a NUL byte", dir.display()))?;
    Ok(Cgroup { dir, procs })
}

/// Processes whose initial environment holds `entry` (`NAME=value`).
fn scan(entry: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            // Unreadable (another user's, or gone): not ours to kill anyway
            // unless we are root, and root can read them all.
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == entry.as_bytes()))
        })
        .collect()
}

/// The process group and command name of `pid`, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    let (head, tail) = stat.rsplit_once(')')?;
    let comm = head.split_once('(')?.1.to_string();
    let pgrp = tail.split_whitespace().nth(2)?.parse().ok()?;
    Some((pgrp, comm))
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

fn pidfd_kill(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: a plain syscall on a descriptor we own.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Completes when every process behind these pidfds has exited (a pidfd
/// turns readable then).
async fn wait_all(fds: Vec<OwnedFd>) {
    for fd in fds {
        // SAFETY: the OwnedFd is moved into the AsyncFd, which alone closes it.
        match unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) } {
            Ok(fd) => {
                let _ = fd.readable().await;
            }
            Err(e) => tracing::debug!("cannot wait on a pidfd: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_survives_odd_command_names() {
        let me = std::process::id();
        let (pgrp, comm) = stat(me).expect("own stat");
        assert_eq!(pgrp, nix::unistd::getpgrp().as_raw() as u32);
        assert!(!comm.is_empty());
    }

    #[test]
    fn scan_finds_a_marked_process_and_nothing_else() -> io::Result<()> {
        let entry = format!("{MARKER}=test.{}", std::process::id());
        let (name, value) = entry.split_once('=').expect("an entry");
        let mut marked = std::process::Command::new("sleep")
            .arg("5")
            .env(name, value)
            .spawn()?;
        let mut plain = std::process::Command::new("sleep").arg("5").spawn()?;
        let found = scan(&entry);
        marked.kill()?;
        plain.kill()?;
        marked.wait()?;
        plain.wait()?;
        assert_eq!(found, vec![marked.id()]);
        Ok(())
    }
}
