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
//!
//! This file is the tree of one component instance and the choice between
//! the two; `cgroup` holds what the cgroup way needs of the kernel, and
//! `members` how a tree's processes are found (either way) and killed.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use self::cgroup::{Cgroup, in_cgroup, make_cgroup};
use self::members::{Members, kill_members};
use crate::component::Tracked;

mod cgroup;
mod leftovers;
mod members;

pub(crate) use self::cgroup::join;
pub use self::leftovers::{Leftover, RunRecord, kill_leftovers};
pub(crate) use self::members::other_pids;

/// The environment variable that marks a component instance's processes.
pub(crate) const MARKER: &str = "SUNDOWN_TREE";

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

/// `name` with anything but letters, digits, `-`, `_` and `.` made `_`:
/// component names follow that rule already; a library user's need not.
fn safe(name: &str) -> String {
    name.chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.') {
                ch
            } else {
                '_'
            }
        })
        .collect()
}

/// This sundown's part of every tree id.
pub(crate) fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| {
        // RandomState is seeded from the OS's randomness.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        format!("{}-{:08x}", std::process::id(), h.finish() as u32)
    })
}

impl Tree {
    /// A new tree for an instance of component `name`: its cgroup is
    /// created here when cgroups can be used.
    pub(crate) fn new(name: &str) -> Result<Tree, String> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        // The name last: what a later run finds of a killed one (see
        // `leftovers`) says whose it was.
        let id = format!("{}.{seq}.{}", token(), safe(name));
        let mode = mode();
        let cgroup = match mode {
            Mode::Scan => None,
            Mode::Auto | Mode::Cgroup => match make_cgroup(&id, token()) {
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

    /// Where its processes are found, for measuring them.
    pub(crate) fn tracked(&self) -> Tracked {
        match &self.cgroup {
            Some(c) => Tracked::Cgroup(c.dir.clone()),
            None => Tracked::Marker(format!("{MARKER}={}", self.id)),
        }
    }

    fn members(&self) -> Members {
        match &self.cgroup {
            Some(c) => Members::Cgroup(c.dir.clone(), c.path.clone()),
            None => Members::Marker(format!("{MARKER}={}", self.id)),
        }
    }

    /// Kills whatever is left of the tree and waits until it is gone, for
    /// at most `members::GONE_WITHIN`. Returns the processes killed that were not
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

/// Says once per run why descendants are tracked by scanning.
fn fallback_once(why: &str) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        tracing::info!("tracking descendants by scanning /proc, not by cgroup: {why}");
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

#[cfg(test)]
mod tests {
    use super::members::scan;
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
    fn tree_ids_differ_between_instances_and_carry_a_random_token() -> Result<(), String> {
        let (a, b) = (Tree::new("a")?, Tree::new("b")?);
        assert_ne!(a.id(), b.id());
        let pid = std::process::id().to_string();
        assert!(a.id().starts_with(&format!("{pid}-")), "{}", a.id());
        Ok(())
    }
}
