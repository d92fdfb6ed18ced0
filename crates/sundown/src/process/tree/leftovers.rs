//! What a killed sundown left running. `PR_SET_PDEATHSIG` takes a
//! supervisor's direct children with it when it is SIGKILLed, but not the
//! rest of their process groups, nor the daemons that escaped them. Every
//! one of those still carries its tree's marker (and sits in its tree's
//! cgroup when there was one), and a tree's id starts with its sundown's
//! token: so a run that writes down its token and cgroup ([`RunRecord`])
//! lets the next run of the same config find and kill what is left
//! ([`kill_leftovers`]).
//!
//! Limits: a process that cleared its environment is found only through a
//! cgroup; without a record (no control socket to keep it beside) nothing
//! is looked for.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::cgroup::own_cgroup;
use super::members::{Members, kill_members};
use super::{MARKER, token};

/// What identifies one run's processes: written by a run, read by the next
/// run of the same config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// The supervisor's pid, for the logs.
    pub pid: u32,
    /// Every tree id of the run starts with it.
    token: String,
    /// Where its trees' cgroups were made: the cgroup path (as
    /// `/proc/<pid>/cgroup` shows it) and its directory.
    cgroups: Option<(String, PathBuf)>,
}

impl RunRecord {
    /// This process's record.
    pub fn current() -> RunRecord {
        RunRecord {
            pid: std::process::id(),
            token: token().to_string(),
            cgroups: own_cgroup().cloned(),
        }
    }

    /// The record as text, for [`parse`](RunRecord::parse).
    pub fn to_text(&self) -> String {
        let mut text = format!("sundown-run 1\npid {}\ntoken {}\n", self.pid, self.token);
        if let Some((path, dir)) = &self.cgroups {
            text += &format!("cgroup {path}\ncgroup_dir {}\n", dir.display());
        }
        text
    }

    /// A record written by [`to_text`](RunRecord::to_text); `None` when
    /// `text` is not one (empty, or torn by a kill while being written).
    pub fn parse(text: &str) -> Option<RunRecord> {
        let mut lines = text.lines();
        if lines.next()? != "sundown-run 1" {
            return None;
        }
        let (mut pid, mut token, mut path, mut dir) = (None, None, None, None);
        for line in lines {
            match line.split_once(' ')? {
                ("pid", v) => pid = v.parse().ok(),
                ("token", v) => token = Some(v.to_string()),
                ("cgroup", v) => path = Some(v.to_string()),
                ("cgroup_dir", v) => dir = Some(PathBuf::from(v)),
                _ => {}
            }
        }
        let token = token
            .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))?;
        Some(RunRecord {
            pid: pid?,
            token,
            cgroups: path.zip(dir.filter(|d| d.is_absolute())),
        })
    }
}

/// What was left of one component of a killed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// The component, by the name the killed run gave it.
    pub component: String,
    /// What was killed, as `pid (command)`.
    pub killed: Vec<String>,
}

/// One tree of the killed run: where its members are.
struct Found {
    name: String,
    members: Vec<Members>,
    cgroup: Option<PathBuf>,
}

/// Finds what the run of `record` left and kills it in reverse dependency
/// order: component by component in the order of `stop_phase` (the stop
/// phase of a component of the current config, by name; components it
/// does not know go first), each phase's together, then removes their
/// cgroups. Returns what was killed, in that order.
pub async fn kill_leftovers(
    record: &RunRecord,
    stop_phase: impl Fn(&str) -> Option<usize>,
) -> Vec<Leftover> {
    let finding = tokio::task::spawn_blocking({
        let record = record.clone();
        move || find(&record)
    });
    let Ok(found) = finding.await else {
        return Vec::new();
    };
    let mut phases: BTreeMap<usize, Vec<(String, Found)>> = BTreeMap::new();
    for (id, tree) in found {
        let phase = stop_phase(&tree.name).unwrap_or(0);
        phases.entry(phase).or_default().push((id, tree));
    }
    let mut leftovers = Vec::new();
    for trees in phases.into_values() {
        let kills = trees.iter().map(|(id, tree)| async move {
            let mut killed = BTreeMap::new();
            for m in &tree.members {
                killed.extend(kill_members(m, id).await);
            }
            killed
        });
        let killed = futures::future::join_all(kills).await;
        for ((_, tree), killed) in trees.into_iter().zip(killed) {
            if let Some(dir) = &tree.cgroup
                && let Err(e) = std::fs::remove_dir(dir)
            {
                tracing::warn!("{} is left behind: {e}", dir.display());
            }
            if !killed.is_empty() {
                leftovers.push(Leftover {
                    component: tree.name,
                    killed: killed
                        .into_iter()
                        .map(|(pid, (_, comm))| format!("{pid} ({comm})"))
                        .collect(),
                });
            }
        }
    }
    leftovers
}

/// The trees of `record`'s run that still exist, by id: its cgroups, and
/// the processes that carry its marker.
fn find(record: &RunRecord) -> BTreeMap<String, Found> {
    let prefix = format!("{}.", record.token);
    let mut trees: BTreeMap<String, Found> = BTreeMap::new();
    fn tree<'a>(trees: &'a mut BTreeMap<String, Found>, prefix: &str, id: &str) -> &'a mut Found {
        trees.entry(id.to_string()).or_insert_with(|| Found {
            // `<token>.<seq>.<name>`; the name is `?` for ids of a sundown
            // before names were part of them.
            name: id
                .strip_prefix(prefix)
                .and_then(|rest| rest.split_once('.'))
                .map_or_else(|| "?".to_string(), |(_, name)| name.to_string()),
            members: Vec::new(),
            cgroup: None,
        })
    }
    if let Some((path, dir)) = &record.cgroups
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        let leaf_prefix = format!("sundown.{prefix}");
        for e in entries.filter_map(Result::ok) {
            let leaf = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = leaf.strip_prefix("sundown.")
                && leaf.starts_with(&leaf_prefix)
            {
                let t = tree(&mut trees, &prefix, id);
                t.members.push(Members::Cgroup(
                    dir.join(&leaf),
                    format!("{}/{leaf}", path.trim_end_matches('/')),
                ));
                t.cgroup = Some(dir.join(&leaf));
            }
        }
    }
    let marked: BTreeSet<String> = super::members::scan_values(&format!("{MARKER}={prefix}"));
    for value in marked {
        let id = value.strip_prefix(&format!("{MARKER}=")).unwrap_or(&value);
        tree(&mut trees, &prefix, id)
            .members
            .push(Members::Marker(value.clone()));
    }
    trees
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_a_torn_or_foreign_one_does_not() {
        let r = RunRecord {
            pid: 42,
            token: "42-0badf00d".into(),
            cgroups: Some((
                "/user.slice/x".into(),
                PathBuf::from("/sys/fs/cgroup/user.slice/x"),
            )),
        };
        assert_eq!(RunRecord::parse(&r.to_text()), Some(r.clone()));
        let text = r.to_text();
        assert_eq!(RunRecord::parse(&text[..10]), None);
        assert_eq!(RunRecord::parse(""), None);
        assert_eq!(RunRecord::parse("sundown-run 1\npid 1\ntoken ../x\n"), None);
        let no_cgroup = "sundown-run 1\npid 1\ntoken 1-ab\ncgroup /x\ncgroup_dir relative\n";
        assert_eq!(RunRecord::parse(no_cgroup).map(|r| r.cgroups), Some(None));
    }
}
