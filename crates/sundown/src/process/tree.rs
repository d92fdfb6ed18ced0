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
//! The id is unique across PID namespaces (a random token, not only the
//! pid), so two sundowns that see the same `/proc` or share a parent cgroup
//! never take each other's processes.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::hash::{BuildHasher as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

use super::pidfd::Held;

/// The environment variable that marks a component instance's processes.
pub(crate) const MARKER: &str = "SUNDOWN_TREE";
/// How long the end of a component may take to kill what is left and see
/// it gone: well inside the engine's `KILL_GRACE`, which would abort it.
const GONE_WITHIN: Duration = Duration::from_secs(2);
/// Listings of the tree at most: a process may fork between a listing and
/// its kill, so one more listing follows each kill.
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

#[derive(Debug, Clone)]
struct Cgroup {
    dir: PathBuf,
    /// Its path as `/proc/<pid>/cgroup` shows it.
    path: String,
    /// `cgroup.procs`, ready for the child to open between fork and exec
    /// (allocating there is not allowed).
    procs: CString,
}

/// Where the members of a tree are found; owned, for a blocking task.
#[derive(Debug, Clone)]
enum Members {
    /// The directory, and the path `/proc/<pid>/cgroup` shows.
    Cgroup(PathBuf, String),
    Marker(String),
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

/// This sundown's part of every tree id.
fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        // RandomState is seeded from the OS's randomness.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        format!("{}-{:08x}", std::process::id(), h.finish() as u32)
    })
}

/// The cgroup v2 sundown runs in, when there is one: its path (as
/// `/proc/self/cgroup` shows it) and its directory.
fn own_cgroup() -> Option<&'static (String, PathBuf)> {
    static OWN: OnceLock<Option<(String, PathBuf)>> = OnceLock::new();
    OWN.get_or_init(|| {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        Some((path.to_string(), cgroup_dir(path, &mounts)?))
    })
    .as_ref()
}

/// The directory of cgroup `path` (as `/proc/self/cgroup` names it), given
/// `/proc/self/mountinfo`.
fn cgroup_dir(path: &str, mountinfo: &str) -> Option<PathBuf> {
    // Fields: id parent dev root mountpoint options... - fstype source options.
    let (root, mount) = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if !right.starts_with("cgroup2 ") {
            return None;
        }
        let mut fields = left.split(' ').skip(3);
        Some((unescape(fields.next()?), unescape(fields.next()?)))
    })?;
    // A mount of a subtree (a container's) shows the paths below its root.
    let below = match root.as_str() {
        "/" => path,
        root => path.strip_prefix(root)?,
    };
    Some(Path::new(&mount).join(below.trim_start_matches('/')))
}

/// mountinfo writes space, tab, newline and backslash as `\040` and so on.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Tree {
    /// A new tree for an instance of component `name`: its cgroup is
    /// created here when cgroups can be used.
    pub(crate) fn new(name: &str) -> Result<Tree, String> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}.{seq}", token());
        let mode = mode();
        let cgroup = match mode {
            Mode::Scan => None,
            Mode::Auto | Mode::Cgroup => match make_cgroup(&id, name) {
                Ok(c) => Some(c),
                Err(e) if mode == Mode::Cgroup => {
                    return Err(format!("SUNDOWN_DESCENDANTS=cgroup, but {e}"));
                }
                Err(e) => {
                    fallback_once(&e);
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

    /// The process groups sundown starts in the tree, to be added to.
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
        if in_cgroup(pid, &c.path) {
            return Ok(());
        }
        let why = format!("{name}: the process could not join {}", c.dir.display());
        if mode() == Mode::Cgroup {
            return Err(format!("SUNDOWN_DESCENDANTS=cgroup, but {why}"));
        }
        fallback_once(&why);
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

    fn members(&self) -> Members {
        match &self.cgroup {
            Some(c) => Members::Cgroup(c.dir.clone(), c.path.clone()),
            None => Members::Marker(format!("{MARKER}={}", self.id)),
        }
    }

    /// Kills whatever is left of the tree and waits until it is gone, for
    /// at most [`GONE_WITHIN`]. Returns the processes killed that were not
    /// in the process group `group` (those had escaped it), as
    /// `pid (command)`.
    pub(crate) async fn kill_rest(&self, group: u32) -> Vec<String> {
        let killed = kill_members(&self.members(), &self.id).await;
        let helpers = self.helpers.lock().map(|h| h.clone()).unwrap_or_default();
        killed
            .into_iter()
            .filter(|(_, (pgid, _))| *pgid != group && !helpers.contains(pgid))
            .map(|(pid, (_, comm))| format!("{pid} ({comm})"))
            .collect()
    }
}

/// Kills every member of a tree, listing it again after each round of
/// kills (a process may fork in between), until none is left or
/// [`GONE_WITHIN`] has passed. Returns what was killed: pid → (process
/// group, command).
async fn kill_members(members: &Members, id: &str) -> BTreeMap<u32, (u32, String)> {
    let deadline = Instant::now() + GONE_WITHIN;
    let mut killed = BTreeMap::new();
    let mut cannot = BTreeMap::new();
    for pass in 0..PASSES {
        // /proc reads can block behind a process stuck in the kernel:
        // not on the runtime's threads.
        let listing = tokio::task::spawn_blocking({
            let members = members.clone();
            move || members.hold()
        });
        let held = match tokio::time::timeout_at(deadline, listing).await {
            Ok(Ok(Ok(held))) => held,
            Ok(Ok(Err(e))) => {
                tracing::warn!("listing the processes of tree {id} failed: {e}");
                break;
            }
            Ok(Err(e)) => {
                tracing::error!("listing the processes of tree {id} panicked: {e}");
                break;
            }
            Err(_) => {
                tracing::warn!("listing the processes of tree {id} is stuck; giving up on them");
                break;
            }
        };
        if held.is_empty() {
            break;
        }
        if let (0, Members::Cgroup(dir, _)) = (pass, members) {
            // One atomic kill of everything in it, forks in flight
            // included (kernel 5.14+; before, the kills below do it).
            if let Err(e) = std::fs::write(dir.join("cgroup.kill"), "1") {
                tracing::debug!(
                    "{}: no cgroup.kill ({e}); killing one by one",
                    dir.display()
                );
            }
        }
        let mut waits = Vec::new();
        for h in held {
            match h.kill() {
                Ok(()) => {
                    killed.insert(h.pid, (h.pgid, h.comm.clone()));
                    waits.push(h.gone());
                }
                // Another user's process, and sundown is not root.
                Err(e) => {
                    cannot.insert(h.pid, format!("{} ({}): {e}", h.pid, h.comm));
                }
            }
        }
        if waits.is_empty() {
            break;
        }
        let all_gone = futures::future::join_all(waits);
        if tokio::time::timeout_at(deadline, all_gone).await.is_err() {
            tracing::warn!("processes of tree {id} are still there {GONE_WITHIN:?} after SIGKILL");
            break;
        }
    }
    if !cannot.is_empty() {
        let list: Vec<String> = cannot.into_values().collect();
        tracing::warn!("cannot kill processes of tree {id}: {}", list.join(", "));
    }
    killed
}

/// Says once per run why descendants are tracked by scanning.
fn fallback_once(why: &str) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        tracing::info!("tracking descendants by scanning /proc, not by cgroup: {why}");
    }
}

impl Members {
    /// Lists the live members and holds each one, checked again once held.
    fn hold(&self) -> std::io::Result<Vec<Held>> {
        let pids: Vec<u32> = match self {
            Members::Cgroup(dir, _) => std::fs::read_to_string(dir.join("cgroup.procs"))?
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect(),
            Members::Marker(entry) => scan(entry),
        };
        let mut held = Vec::new();
        for pid in pids {
            let (h, unavailable) = Held::hold(pid, |pid| self.has(pid));
            if let Some(e) = unavailable {
                pidfds_unavailable_once(&e);
            }
            held.extend(h);
        }
        Ok(held)
    }

    fn has(&self, pid: u32) -> bool {
        match self {
            Members::Cgroup(_, path) => in_cgroup(pid, path),
            Members::Marker(entry) => has_marker(pid, entry),
        }
    }
}

fn pidfds_unavailable_once(e: &std::io::Error) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "pidfds are not available ({e}): descendants are killed by pid, which a reused pid could misdirect"
        );
    }
}

/// Whether `pid` is in the cgroup at `path` (as `/proc/<pid>/cgroup` shows it).
fn in_cgroup(pid: u32, path: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .is_ok_and(|s| s.lines().any(|l| l.strip_prefix("0::") == Some(path)))
}

/// Moves the calling process into the cgroup whose `cgroup.procs` this is.
/// Runs in the child between fork and exec: only async-signal-safe calls,
/// no allocation. A failure is not fatal there; [`Tree::confirm`] notices it.
pub(crate) fn join(procs: &CString) {
    // rustix makes the system calls directly, without allocating: safe
    // between fork and exec. The descriptor closes when it is dropped.
    use rustix::fs::{Mode, OFlags};
    if let Ok(fd) = rustix::fs::open(
        procs.as_c_str(),
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        // "0" moves the writer itself.
        let _ = rustix::io::write(&fd, b"0");
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let Some(c) = self.cgroup.take() else { return };
        if std::fs::remove_dir(&c.dir).is_ok() {
            return;
        }
        // Not empty: the end was cut short (an aborted component, a kill
        // that timed out). Kill what is in it and remove it once it is gone.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            let _ = std::fs::write(c.dir.join("cgroup.kill"), "1");
            tracing::warn!("{} is left behind, not empty", c.dir.display());
            return;
        };
        let id = std::mem::take(&mut self.id);
        runtime.spawn(async move {
            kill_members(&Members::Cgroup(c.dir.clone(), c.path.clone()), &id).await;
            if let Err(e) = std::fs::remove_dir(&c.dir) {
                tracing::warn!("{} is left behind: {e}", c.dir.display());
            }
        });
    }
}

fn make_cgroup(id: &str, name: &str) -> Result<Cgroup, String> {
    let (own_path, own) = own_cgroup().ok_or("there is no cgroup v2 hierarchy mounted")?;
    // Component names are identifiers already; keep the directory name safe anyway.
    let name: String = name
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' {
                ch
            } else {
                '_'
            }
        })
        .collect();
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| sweep(own));
    let leaf = format!("sundown.{id}.{name}");
    let dir = own.join(&leaf);
    let path = format!("{}/{leaf}", own_path.trim_end_matches('/'));
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let procs = CString::new(
        dir.join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .map_err(|_| format!("{} contains a NUL byte", dir.display()))?;
    Ok(Cgroup { dir, path, procs })
}

/// Removes the empty cgroups a killed sundown left next to ours (a
/// SIGKILLed supervisor cannot clean up). Only empty ones: rmdir fails on
/// a cgroup with processes, which may be another live sundown's.
fn sweep(own: &Path) {
    let Ok(entries) = std::fs::read_dir(own) else {
        return;
    };
    let mine = format!("sundown.{}.", token());
    let removed = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("sundown.") && !name.starts_with(&mine)
        })
        .filter(|e| std::fs::remove_dir(e.path()).is_ok())
        .count();
    if removed > 0 {
        tracing::info!(
            "removed {removed} empty cgroup(s) that earlier runs left in {}",
            own.display()
        );
    }
}

/// Processes whose initial environment holds `entry` (`NAME=value`).
fn scan(entry: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me && has_marker(pid, entry))
        .collect()
}

/// Whether `pid`'s initial environment holds `entry`. Unreadable (another
/// user's, or gone): not ours to kill anyway unless we are root, and root
/// can read them all. A zombie's is empty.
fn has_marker(pid: u32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == entry.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_a_marked_process_and_nothing_else() -> std::io::Result<()> {
        let entry = format!("{MARKER}=test.{}", token());
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

    #[test]
    fn the_cgroup_directory_follows_the_mount_and_its_root() {
        let host = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup_dir("/user.slice/x.scope", host),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/x.scope"))
        );
        // A container's view: its own subtree mounted at /sys/fs/cgroup.
        let container = "1 0 0:1 / / rw - ext4 /dev/vda rw\n\
                         7 1 0:30 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup rw\n";
        assert_eq!(
            cgroup_dir("/docker/abc/app", container),
            Some(PathBuf::from("/sys/fs/cgroup/app"))
        );
        let spaced = "7 1 0:30 / /mnt/my\\040cgroups rw - cgroup2 cgroup rw\n";
        assert_eq!(
            cgroup_dir("/", spaced),
            Some(PathBuf::from("/mnt/my cgroups"))
        );
        assert_eq!(cgroup_dir("/", "1 0 0:1 / / rw - ext4 /dev/vda rw\n"), None);
    }

    #[test]
    fn tree_ids_differ_between_instances_and_carry_a_random_token() -> Result<(), String> {
        let (a, b) = (Tree::new("a")?, Tree::new("b")?);
        assert_ne!(a.id(), b.id());
        let pid = std::process::id().to_string();
        assert!(a.id().starts_with(&format!("{pid}-")), "{}", a.id());
        Ok(())
    }
}
