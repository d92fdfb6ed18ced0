//! A tree's members: where they are found (its cgroup's `cgroup.procs`, or
//! a scan of `/proc` for the marker in each environment), and killing them
//! until none is left.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::cgroup::in_cgroup;
use crate::process::pidfd::Held;

/// How long the end of a component may take to kill what is left and see
/// it gone: well inside the engine's `KILL_GRACE`, which would abort it.
const GONE_WITHIN: Duration = Duration::from_secs(2);
/// Listings of the tree at most: a process may fork between a listing and
/// its kill, so one more listing follows each kill.
const PASSES: usize = 8;

/// Where the members of a tree are found; owned, for a blocking task.
#[derive(Debug, Clone)]
pub(super) enum Members {
    /// The directory, and the path `/proc/<pid>/cgroup` shows.
    Cgroup(PathBuf, String),
    Marker(String),
}

/// Kills every member of a tree, listing it again after each round of
/// kills (a process may fork in between), until none is left or
/// [`GONE_WITHIN`] has passed. Returns what was killed: pid → (process
/// group, command).
pub(super) async fn kill_members(members: &Members, id: &str) -> BTreeMap<u32, (u32, String)> {
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

/// Every pid in `/proc` but the supervisor's own: what a scan of the
/// machine's processes goes through (the tree's markers, the usage of a
/// tree without a cgroup). Empty without `/proc`.
pub(crate) fn other_pids() -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .collect()
}

/// Processes whose initial environment holds `entry` (`NAME=value`).
pub(super) fn scan(entry: &str) -> Vec<u32> {
    other_pids()
        .into_iter()
        .filter(|&pid| has_marker(pid, entry))
        .collect()
}

/// The distinct environment entries that start with `prefix`, in every
/// process this one may read (a killed run's trees: `SUNDOWN_TREE=<token>.`).
pub(super) fn scan_values(prefix: &str) -> std::collections::BTreeSet<String> {
    let mut found = std::collections::BTreeSet::new();
    for pid in other_pids() {
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        found.extend(
            env.split(|&b| b == 0)
                .filter(|e| e.starts_with(prefix.as_bytes()))
                .map(|e| String::from_utf8_lossy(e).into_owned()),
        );
    }
    found
}

/// Whether `pid`'s initial environment holds `entry`. Unreadable (another
/// user's, or gone): not ours to kill anyway unless we are root, and root
/// can read them all. A zombie's is empty.
fn has_marker(pid: u32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|&b| b == 0).any(|e| e == entry.as_bytes()))
}
