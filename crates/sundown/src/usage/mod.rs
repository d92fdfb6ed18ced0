//! CPU and memory of each component, measured when a client asks (`GET
//! /status`, a metrics scrape), never on a timer: the engine does no work
//! for it, and nothing is read that nobody looks at.
//!
//! A process component is measured the way its descendants are tracked
//! (see `process::tree`): over its cgroup when it has one (`cpu.stat`
//! counts every process that was ever in it, reaped ones included), else
//! over its main process's descendants and every process carrying its
//! marker, from `/proc` (never less than it was seen at in the same run:
//! see `high_water`). An in-process kind shares the supervisor's
//! process and has nothing of its own to measure.
//!
//! `/proc` reads can block behind a process stuck in the kernel, so the
//! reading runs on a blocking thread, one sample at a time, and an answer
//! waits for it at most [`WITHIN`]; a sample that takes longer leaves the
//! usage `null` rather than holding the answer up, and a stuck one blocks
//! no more than its own thread.

mod cgroup;
mod high_water;
mod procfs;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::Semaphore;

use self::high_water::HighWater;
use self::procfs::{Markers, Reader, Stat};
use crate::component::Tracked;
use crate::status::{ComponentStatus, Status, Usage};

/// How long an answer waits for a sample.
const WITHIN: Duration = Duration::from_secs(1);

/// What a sample measures of one component.
#[derive(Debug, Clone)]
enum Target {
    /// Nothing of it runs, or where its processes are is not known yet.
    Nothing,
    /// It runs in the supervisor's process.
    Supervisor,
    Cgroup(PathBuf),
    /// The main process (when started) and the marker of its tree.
    Tree(Option<u32>, Box<[u8]>),
}

/// The usage of each component of `status`, in its order.
pub(crate) async fn sample(status: &Status) -> Vec<Option<Usage>> {
    let targets: Vec<Target> = status.components.iter().map(target).collect();
    let measured = |t: &Target| matches!(t, Target::Cgroup(_) | Target::Tree(..));
    if !targets.iter().any(measured) {
        return measure(&targets);
    }
    let fallback: Vec<Option<Usage>> = targets
        .iter()
        .map(|t| matches!(t, Target::Supervisor).then_some(Usage::Supervisor))
        .collect();
    // One sample at a time: a stuck one holds the permit, and the others
    // give up after WITHIN instead of piling up threads behind it.
    static ONE: Semaphore = Semaphore::const_new(1);
    let run = async {
        let permit = ONE.acquire().await.ok()?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            measure(&targets)
        })
        .await
        .ok()
    };
    match tokio::time::timeout(WITHIN, run).await {
        Ok(Some(usage)) => usage,
        _ => {
            tracing::debug!("measuring the components' CPU and memory took over {WITHIN:?}");
            fallback
        }
    }
}

/// What to measure of `c`.
fn target(c: &ComponentStatus) -> Target {
    match c.tracked() {
        _ if !c.state.is_running() => Target::Nothing,
        Some(Tracked::Cgroup(dir)) => Target::Cgroup(dir.clone()),
        Some(Tracked::Marker(m)) => Target::Tree(c.pid, m.as_bytes().into()),
        None if c.in_process() => Target::Supervisor,
        // A process component whose run has not yet said where its
        // processes are (it is being started): unknown, not in sundown.
        None => Target::Nothing,
    }
}

/// Reads what `targets` need; blocking.
fn measure(targets: &[Target]) -> Vec<Option<Usage>> {
    let mut r = Reader::new();
    let markers: Vec<&[u8]> = targets
        .iter()
        .filter_map(|t| match t {
            Target::Tree(_, m) => Some(&m[..]),
            _ => None,
        })
        .collect();
    let (trees, mut high) = if markers.is_empty() {
        (HashMap::new(), None)
    } else {
        let trees = trees(targets, &mut r);
        let mut high = HighWater::shared();
        high.retain(markers);
        (trees, Some(high))
    };
    // The trees' cgroups are siblings, so they all have a memory controller
    // or none do: once one has no `memory.stat`, the others are not tried.
    let mut memory_stat = true;
    targets
        .iter()
        .enumerate()
        .map(|(i, t)| match t {
            Target::Nothing => None,
            Target::Supervisor => Some(Usage::Supervisor),
            Target::Cgroup(dir) => {
                let cpu_seconds = cgroup::cpu(dir, &mut r)?;
                let stat = memory_stat.then(|| cgroup::memory(dir, &mut r)).flatten();
                memory_stat = stat.is_some();
                let memory_bytes = stat.unwrap_or_else(|| {
                    let pages = cgroup::procs(dir, &mut r)
                        .into_iter()
                        .filter_map(|pid| r.rss_pages(pid))
                        .sum();
                    procfs::bytes(pages)
                });
                Some(Usage::Cgroup {
                    cpu_seconds,
                    memory_bytes,
                })
            }
            Target::Tree(_, marker) => {
                let (ticks, pages, count) = trees.get(&i).copied().unwrap_or_default();
                let ticks = high.as_mut().map_or(ticks, |h| h.keep(marker, ticks));
                Some(Usage::Processes {
                    cpu_seconds: procfs::seconds(ticks),
                    memory_bytes: procfs::bytes(pages),
                    count,
                })
            }
        })
        .collect()
}

/// Every process of the system once, each counted for the tree it belongs
/// to: that of a main process it descends from, or else that of its marker
/// (it left: a double fork, a daemon). Per target index: CPU ticks,
/// resident pages, processes.
fn trees(targets: &[Target], r: &mut Reader) -> HashMap<usize, (u64, u64, u32)> {
    static MARKERS: Markers = Markers::new();
    let procs: Vec<(u32, Stat)> = crate::process::other_pids()
        .into_iter()
        .filter_map(|pid| Some((pid, r.stat(pid)?)))
        .collect();
    let keys: Vec<(u32, u64)> = procs.iter().map(|(p, s)| (*p, s.starttime)).collect();
    let markers = MARKERS.of(&keys, "SUNDOWN_TREE=");
    let mut owner: HashMap<u32, usize> = HashMap::new();
    let mut roots: Vec<u32> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        if let Target::Tree(Some(pid), _) = t {
            owner.insert(*pid, i);
            roots.push(*pid);
        }
    }
    let by_marker: HashMap<&[u8], usize> = targets
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match t {
            Target::Tree(_, m) => Some((&m[..], i)),
            _ => None,
        })
        .collect();
    for ((pid, _), marker) in procs.iter().zip(&markers) {
        if let Some(&i) = marker.as_deref().and_then(|m| by_marker.get(m))
            && !owner.contains_key(pid)
        {
            owner.insert(*pid, i);
            roots.push(*pid);
        }
    }
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, s) in &procs {
        children.entry(s.ppid).or_default().push(*pid);
    }
    // Down from each root: descendants belong to the tree of the nearest root above them.
    while let Some(pid) = roots.pop() {
        let Some(&i) = owner.get(&pid) else { continue };
        for &child in children.get(&pid).into_iter().flatten() {
            if let std::collections::hash_map::Entry::Vacant(e) = owner.entry(child) {
                e.insert(i);
                roots.push(child);
            }
        }
    }
    let mut sums: HashMap<usize, (u64, u64, u32)> = HashMap::new();
    for (pid, s) in &procs {
        if let Some(&i) = owner.get(pid) {
            let sum = sums.entry(i).or_default();
            sum.0 = sum.0.saturating_add(s.ticks);
            sum.1 = sum.1.saturating_add(s.rss_pages);
            sum.2 += 1;
        }
    }
    sums
}

#[cfg(test)]
mod tests;
