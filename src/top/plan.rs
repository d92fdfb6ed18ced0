//! What a stop, start or restart of the selected component will do, worked
//! out here from the graph and the states in the last status, by the
//! engine's rules (`engine/change/order.rs`), so it can be shown before
//! asking. Once the supervisor accepts, its own answer is shown too.

use sundown::Graph;
use sundown::control::client::Planned;
use sundown::status::{ComponentState as S, StatusView};

/// A change `top` can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Stop,
    Start,
    Restart,
    Reload,
}

impl Verb {
    /// As in the command and the control socket's path.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verb::Stop => "stop",
            Verb::Start => "start",
            Verb::Restart => "restart",
            Verb::Reload => "reload",
        }
    }
}

/// The plan of `verb` on component `i` of `graph`, as the engine would
/// make it now. Reload has none here: only the supervisor can diff configs.
pub(crate) fn preview(graph: &Graph, view: &StatusView, verb: Verb, i: usize) -> Option<Planned> {
    let state = |j: usize| {
        view.components
            .iter()
            .find(|c| c.name == graph.name(j))
            .map_or(S::Pending, |c| c.state)
    };
    let ended = |j| {
        matches!(
            state(j),
            S::Exited | S::Completed | S::Failed | S::NeverStarted
        )
    };
    let running = |j| matches!(state(j), S::Starting | S::Ready | S::Stopping | S::Killing);
    let down = |j| matches!(state(j), S::Stopped | S::Pending | S::Restarting);
    let members = with_dependents(graph, i);
    // What a stop of `i` took down and left down (as far as states tell).
    let stopped_with = members
        .iter()
        .copied()
        .filter(|&j| j != i && state(j) == S::Stopped);
    let names = |v: Vec<usize>| v.into_iter().map(|j| graph.name(j).to_string()).collect();
    let (stop, start) = match verb {
        Verb::Reload => return None,
        Verb::Stop => {
            let set = members
                .iter()
                .copied()
                .filter(|&j| !ended(j) && state(j) != S::Stopped);
            (levelled(graph, &set.collect::<Vec<_>>(), true), Vec::new())
        }
        // A completed one-shot runs again with what depends on it: a restart.
        Verb::Start if state(i) != S::Completed => {
            let wanted: Vec<usize> = std::iter::once(i).chain(stopped_with).collect();
            (Vec::new(), closure(graph, &wanted, down))
        }
        Verb::Start | Verb::Restart => {
            let set: Vec<usize> = members.iter().copied().filter(|&j| running(j)).collect();
            let stop = levelled(graph, &set, true);
            let mut up = stop.clone();
            up.push(i);
            up.extend(stopped_with);
            let start = closure(graph, &up, |j| up.contains(&j) || down(j));
            (stop, start)
        }
    };
    Some(Planned {
        stop: names(stop),
        start: names(start),
        diff: None,
    })
}

/// `root` and everything that depends on it, directly or not.
fn with_dependents(graph: &Graph, root: usize) -> Vec<usize> {
    let mut seen = vec![false; graph.len()];
    let mut queue = vec![root];
    let mut out = Vec::new();
    while let Some(c) = queue.pop() {
        if !std::mem::replace(&mut seen[c], true) {
            out.push(c);
            queue.extend_from_slice(graph.dependents(c));
        }
    }
    out
}

/// `wanted` and their dependencies that are `down`, dependencies first.
fn closure(graph: &Graph, wanted: &[usize], down: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut seen = vec![false; graph.len()];
    let mut queue = wanted.to_vec();
    while let Some(c) = queue.pop() {
        if down(c) && !std::mem::replace(&mut seen[c], true) {
            queue.extend_from_slice(graph.deps(c));
        }
    }
    let set: Vec<usize> = (0..graph.len()).filter(|&j| seen[j]).collect();
    levelled(graph, &set, false)
}

/// `set` by level within the set, then by name: going down (`stopping`)
/// one more than its highest dependent in the set, going up one more than
/// its highest dependency.
fn levelled(graph: &Graph, set: &[usize], stopping: bool) -> Vec<usize> {
    let mut level = vec![0usize; graph.len()];
    let topo = graph.topological_order();
    let order: Vec<usize> = if stopping {
        topo.iter().rev().copied().collect()
    } else {
        topo.to_vec()
    };
    for i in order {
        let next = if stopping {
            graph.dependents(i)
        } else {
            graph.deps(i)
        };
        level[i] = next
            .iter()
            .filter(|j| set.contains(j))
            .map(|&j| level[j] + 1)
            .max()
            .unwrap_or(0);
    }
    let mut out = set.to_vec();
    out.sort_by(|&a, &b| (level[a], graph.name(a)).cmp(&(level[b], graph.name(b))));
    out
}
