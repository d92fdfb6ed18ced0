//! Property tests of the stop order: random dependency graphs of simulated
//! components, run on tokio's paused clock, must stop dependents before their
//! dependencies under both strategies; graphs with a cycle must be rejected
//! with a cycle that really exists.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sundown::graph::find_cycles;
use sundown::status::ComponentState;
use sundown::{Change, Config, Outcome, Refused, ShutdownReport, Supervisor};

use crate::common::component;

/// `cases` cases, and the failures proptest has seen replayed from
/// `proptest_order.proptest-regressions` next to this file. (Proptest's
/// default looks for them in `../proptest-regressions/proptest_order.txt`
/// here, since this directory has a `main.rs`.)
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// A random acyclic graph: node `i` depends only on nodes with a smaller
/// index; names are a random permutation so that name order (which the
/// supervisor sorts by) and index order differ.
#[derive(Debug, Clone)]
struct Dag {
    names: Vec<String>,
    deps: Vec<BTreeSet<usize>>,
    start_ms: Vec<u64>,
    stop_ms: Vec<u64>,
}

impl Dag {
    fn len(&self) -> usize {
        self.names.len()
    }

    fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.deps
            .iter()
            .enumerate()
            .flat_map(|(a, ds)| ds.iter().map(move |&b| (a, b)))
    }

    fn dependents(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.len()).filter(move |&a| self.deps[a].contains(&i))
    }

    /// The TOML of this graph, with `strategy`.
    fn toml(&self, strategy: &str) -> String {
        let mut s = format!("[supervisor]\nstrategy = \"{strategy}\"\n");
        for i in 0..self.len() {
            let deps: Vec<String> = self.deps[i]
                .iter()
                .map(|&d| format!("\"{}\"", self.names[d]))
                .collect();
            let _ = write!(
                s,
                "\n[components.{}]\nkind = \"sim\"\nstart_delay = \"{}ms\"\nstop_delay = \"{}ms\"\ndepends_on = [{}]\n",
                self.names[i],
                self.start_ms[i],
                self.stop_ms[i],
                deps.join(", ")
            );
        }
        s
    }

    /// Stop phase of each node, computed here independently of the crate:
    /// 0 without dependents, else one more than the latest dependent.
    /// Dependents have larger indices, so going down from the top works.
    fn stop_phases(&self) -> Vec<usize> {
        let mut phase = vec![0; self.len()];
        for i in (0..self.len()).rev() {
            phase[i] = self.dependents(i).map(|d| phase[d] + 1).max().unwrap_or(0);
        }
        phase
    }

    /// Eager shutdown time: the longest chain of stop delays from a node
    /// nothing depends on down to a leaf.
    fn critical_path_ms(&self) -> u64 {
        let mut finish = vec![0; self.len()];
        for i in (0..self.len()).rev() {
            let after = self.dependents(i).map(|d| finish[d]).max().unwrap_or(0);
            finish[i] = after + self.stop_ms[i];
        }
        finish.into_iter().max().unwrap_or(0)
    }

    /// Phased shutdown time: the sum over phases of the slowest member.
    fn phased_ms(&self) -> u64 {
        let phase = self.stop_phases();
        let phases = phase.iter().max().map_or(0, |m| m + 1);
        (0..phases)
            .map(|k| {
                (0..self.len())
                    .filter(|&i| phase[i] == k)
                    .map(|i| self.stop_ms[i])
                    .max()
                    .unwrap_or(0)
            })
            .sum()
    }
}

fn dag(max_nodes: usize) -> impl Strategy<Value = Dag> {
    (1..=max_nodes).prop_flat_map(|n| {
        let deps: Vec<BoxedStrategy<BTreeSet<usize>>> = (0..n)
            .map(|i| {
                if i == 0 {
                    Just(BTreeSet::new()).boxed()
                } else {
                    prop::collection::btree_set(0..i, 0..=i.min(4)).boxed()
                }
            })
            .collect();
        (
            Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
            deps,
            prop::collection::vec(0u64..50, n),
            prop::collection::vec(0u64..50, n),
        )
            .prop_map(|(perm, deps, start_ms, stop_ms)| Dag {
                names: perm.iter().map(|p| format!("c{p}")).collect(),
                deps,
                start_ms,
                stop_ms,
            })
    })
}

/// Runs `run` to its end on a paused clock.
fn paused<T>(run: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a tokio runtime")
        .block_on(run)
}

/// Starts and shuts down `toml` on a paused clock.
fn run(toml: &str) -> ShutdownReport {
    paused(async {
        let sup = Supervisor::from_toml_str(toml).expect("a valid generated config");
        let running = sup.start().await.expect("every sim starts");
        running.shutdown().await
    })
}

/// Runs `toml` for `ms` on a paused clock, then shuts it down.
fn run_for(toml: &str, ms: u64) -> ShutdownReport {
    paused(async {
        let sup = Supervisor::from_toml_str(toml).expect("a valid generated config");
        let running = sup.spawn();
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        running.shutdown().await
    })
}

fn time(t: Option<f64>, what: &str, name: &str) -> f64 {
    t.unwrap_or_else(|| panic!("`{name}` has no {what}"))
}

/// The checks both strategies must pass.
fn check_common(dag: &Dag, report: &ShutdownReport) -> Result<(), TestCaseError> {
    report.assert_respects_graph();
    prop_assert_eq!(report.exit_code, 0);
    prop_assert_eq!(report.components.len(), dag.len());
    for c in &report.components {
        prop_assert_eq!(
            c.outcome,
            Outcome::Stopped,
            "`{}` did not stop cleanly",
            &c.name
        );
        prop_assert!(c.killed_at.is_none(), "`{}` was killed", &c.name);
    }
    // Every edge of the generated graph, checked from the raw times rather
    // than through the report's own assertion.
    for (a, b) in dag.edges() {
        let (na, nb) = (&dag.names[a], &dag.names[b]);
        let a_down = time(component(report, na).stopped_at, "stopped_at", na);
        let b_asked = time(component(report, nb).stop_requested, "stop_requested", nb);
        prop_assert!(
            a_down <= b_asked,
            "`{na}` depends on `{nb}` but was down at {a_down} ms, after `{nb}` was asked at {b_asked} ms"
        );
    }
    // The phases the report shows are the ones the graph implies.
    let phase = dag.stop_phases();
    for (name, &phase) in dag.names.iter().zip(&phase) {
        prop_assert_eq!(component(report, name).phase, phase, "phase of `{}`", name);
    }
    Ok(())
}

fn shutdown_ms(report: &ShutdownReport) -> f64 {
    report.shutdown_ms().expect("the shutdown started")
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn random_dags_stop_in_dependency_order(dag in dag(30)) {
        let phased = run(&dag.toml("phased"));
        check_common(&dag, &phased)?;

        // Phase k+1 is asked to stop only once every member of phase k is down.
        for pair in phased.phases.windows(2) {
            let last_down = pair[0]
                .members
                .iter()
                .map(|m| time(component(&phased, m).stopped_at, "stopped_at", m))
                .fold(f64::NEG_INFINITY, f64::max);
            for m in &pair[1].members {
                let asked = time(component(&phased, m).stop_requested, "stop_requested", m);
                prop_assert!(
                    asked >= last_down,
                    "phase {} member `{m}` asked at {asked} ms, before phase {} was down at {last_down} ms",
                    pair[1].index,
                    pair[0].index
                );
            }
        }

        let eager = run(&dag.toml("eager"));
        check_common(&dag, &eager)?;

        let (eager_ms, phased_ms) = (shutdown_ms(&eager), shutdown_ms(&phased));
        prop_assert!(
            eager_ms <= phased_ms,
            "eager took {eager_ms} ms, longer than phased's {phased_ms} ms"
        );
        // On a paused clock the totals are exact.
        prop_assert_eq!(eager_ms, dag.critical_path_ms() as f64);
        prop_assert_eq!(phased_ms, dag.phased_ms() as f64);
    }

    #[test]
    fn restarts_with_restart_dependents_keep_every_order(
        (dag, x, fail_ms, run_ms) in dag(12).prop_flat_map(|d| {
            let n = d.len();
            (Just(d), 0..n, 10u64..80, 100u64..600)
        })
    ) {
        let name = dag.names[x].clone();
        let toml = dag.toml("phased").replace(
            &format!("[components.{name}]\n"),
            &format!("[components.{name}]\nfail_after = \"{fail_ms}ms\"\nrestart = \"on-failure\"\nmax_restarts = 1000\nrestart_backoff = \"5ms\"\nrestart_backoff_max = \"40ms\"\nrestart_dependents = true\n"),
        );
        let report = run_for(&toml, run_ms);
        report.assert_respects_graph();
        // x may also fail during the shutdown, before its turn: a real crash
        // (the exit code says so), not restarted.
        let x_report = component(&report, &name);
        let crashed_late = x_report.outcome == Outcome::Failed
            && x_report.stopped_at >= report.shutdown_started_at;
        prop_assert_eq!(report.exit_code, if crashed_late { 1 } else { 0 }, "{:?}", x_report);
        // What restarts with x is exactly what depends on it, directly or not.
        let mut above = vec![false; dag.len()];
        above[x] = true;
        for i in 0..dag.len() {
            // Dependencies have smaller indices: one pass upward suffices.
            if dag.deps[i].iter().any(|&d| above[d]) {
                above[i] = true;
            }
        }
        for (i, n) in dag.names.iter().enumerate() {
            let c = component(&report, n);
            // The shutdown may come before a deep graph is all up.
            let never = c.outcome == Outcome::NeverStarted && c.start_requested.is_none();
            let excused = never || (i == x && crashed_late);
            if !excused {
                prop_assert_eq!(c.outcome, Outcome::Stopped, "`{}`", n);
            }
            if !above[i] {
                prop_assert!(c.restarts.is_empty(), "`{}` is not above `{}` but restarted", n, name);
            }
        }
        // Each component's last run started after its dependencies were
        // ready: a dependency whose own last run began earlier must have been
        // ready by then (one that began later restarted while it ran, and
        // restart_dependents was stopping it when the shutdown came).
        for (a, b) in dag.edges() {
            let (na, nb) = (&dag.names[a], &dag.names[b]);
            let (ca, cb) = (component(&report, na), component(&report, nb));
            if ca.start_requested.is_none() {
                continue;
            }
            let started = time(ca.start_requested, "start_requested", na);
            let b_started = time(cb.start_requested, "start_requested", nb);
            if b_started <= started {
                let ready = time(cb.ready_at, "ready_at", nb);
                prop_assert!(started >= ready, "`{}` started at {} before `{}` was ready at {}", na, started, nb, ready);
            } else {
                prop_assert!(ca.stop_requested.is_some_and(|s| s <= b_started), "`{}` ran on while `{}` restarted", na, nb);
            }
        }
    }

    #[test]
    fn random_changes_keep_the_graph_consistent(
        (dag, ops, crasher) in dag(10).prop_flat_map(|d| {
            let n = d.len();
            (
                Just(d),
                prop::collection::vec((0u8..4, 0..n, 0u64..60), 1..6),
                prop::option::of(0..n),
            )
        })
    ) {
        let mut toml = dag.toml("phased");
        // Maybe one component crash-loops with restart_dependents meanwhile,
        // slowly enough that the graph (at most 10 × 50 ms deep) gets ready
        // between its crashes.
        if let Some(x) = crasher {
            let name = &dag.names[x];
            toml = toml.replace(
                &format!("[components.{name}]\n"),
                &format!("[components.{name}]\nfail_after = \"600ms\"\nrestart = \"on-failure\"\nmax_restarts = 1000\nrestart_backoff = \"5ms\"\nrestart_dependents = true\n"),
            );
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a tokio runtime");
        let report = rt.block_on(async {
            let sup = Supervisor::from_toml_str(&toml).expect("a valid generated config");
            let mut running = sup.spawn();
            assert!(running.ready().await);
            for (op, i, wait) in &ops {
                let name = dag.names[*i].clone();
                let change = match op {
                    0 => Change::Stop(name),
                    1 => Change::Start(name),
                    2 => Change::Restart(name),
                    _ => Change::reload(Supervisor::from_toml_str(&toml).expect("valid")),
                };
                let what = change.to_string();
                match running.handle().change(change).await {
                    // Every change ends, within the stop and start delays
                    // (and the crash loop's, which the test bounds).
                    Ok(accepted) => {
                        let ended = tokio::time::timeout(std::time::Duration::from_secs(60), accepted.finished()).await;
                        assert!(ended.is_ok(), "`{what}` never ended");
                    }
                    Err(Refused::Busy(_)) => {}
                    Err(e) => panic!("`{what}` refused: {e}"),
                }
                tokio::time::sleep(std::time::Duration::from_millis(*wait)).await;
                // Whatever is ready has every dependency ready, unless the
                // crasher just went down and its dependents are on their way.
                let status = running.status().borrow().clone();
                let ready = |n: &str| status.components.iter().any(|c| c.name == n && c.state == ComponentState::Ready);
                if crasher.is_none() {
                    for (a, b) in dag.edges() {
                        assert!(
                            !ready(&dag.names[a]) || ready(&dag.names[b]),
                            "after `{what}`: `{}` is ready but its dependency `{}` is not: {status:?}",
                            dag.names[a], dag.names[b]
                        );
                    }
                }
            }
            running.shutdown().await
        });
        report.assert_respects_graph();
        let crashed_late = report.components.iter().any(|c| c.outcome == Outcome::Failed);
        prop_assert!(report.exit_code == 0 || crashed_late && crasher.is_some(), "{report:?}");
    }

    #[test]
    fn a_cycle_is_reported_with_a_path_of_real_edges(
        (dag, chain) in dag(30)
            .prop_filter("a cycle needs two nodes", |d| d.len() >= 2)
            .prop_flat_map(|d| {
                let n = d.len();
                (Just(d), prop::collection::btree_set(0..n, 2..=n.min(6)))
            })
    ) {
        // Close a chain hi → … → lo (edges from higher to lower index, so
        // the DAG stays a DAG) with the back edge lo → hi.
        let mut dag = dag;
        let chain: Vec<usize> = chain.into_iter().rev().collect();
        for pair in chain.windows(2) {
            dag.deps[pair[0]].insert(pair[1]);
        }
        let (hi, lo) = (chain[0], chain[chain.len() - 1]);
        dag.deps[lo].insert(hi);
        let edges: HashSet<(&str, &str)> = dag
            .edges()
            .map(|(a, b)| (dag.names[a].as_str(), dag.names[b].as_str()))
            .collect();

        let text = dag.toml("phased");
        let e = match Config::parse(&text, "supervisor.toml", Path::new("/base")) {
            Ok(_) => panic!("a config with a cycle was accepted:\n{text}"),
            Err(e) => e,
        };
        // One back edge makes one strongly connected component: one cycle, nothing else.
        prop_assert_eq!(e.diagnostics.len(), 1, "{}", e);
        let d = &e.diagnostics[0];
        let path = d
            .message
            .strip_prefix("dependency cycle: ")
            .unwrap_or_else(|| panic!("not a cycle message: {}", d.message));
        prop_assert!(e.to_string().contains("dependency cycle: "));
        let path: Vec<&str> = path.split(" → ").collect();
        prop_assert!(path.len() >= 3, "{:?}", path);
        prop_assert_eq!(path.first(), path.last(), "the path returns to its start");
        let inner: HashSet<&str> = path[1..].iter().copied().collect();
        prop_assert_eq!(inner.len(), path.len() - 1, "the cycle is simple: {:?}", path);
        for pair in path.windows(2) {
            prop_assert!(
                edges.contains(&(pair[0], pair[1])),
                "`{}` → `{}` is not an edge of the graph; path {:?}",
                pair[0],
                pair[1],
                path
            );
        }
        let back = (dag.names[lo].as_str(), dag.names[hi].as_str());
        prop_assert!(
            path.windows(2).any(|p| (p[0], p[1]) == back),
            "every cycle uses the back edge {:?}; path {:?}",
            back,
            path
        );

        // The location points at the `depends_on` entry of the first edge.
        let line = text.lines().nth(d.line - 1).expect("the line exists");
        let at: String = line.chars().skip(d.column - 1).collect();
        prop_assert!(
            line.starts_with("depends_on = ") && at.starts_with(&format!("\"{}\"", path[1])),
            "{}:{} is `{}`",
            d.line,
            d.column,
            line
        );
        let header = text
            .lines()
            .take(d.line)
            .filter(|l| l.starts_with("[components."))
            .last()
            .expect("a component header");
        prop_assert_eq!(header, format!("[components.{}]", path[0]));
    }

    #[test]
    fn find_cycles_on_acyclic_adjacency_is_empty(
        (dag, perm) in dag(40).prop_flat_map(|d| {
            let n = d.len();
            (Just(d), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
        })
    ) {
        // Relabel nodes so edges do not all point from high to low index.
        let mut adjacency = vec![Vec::new(); dag.len()];
        for (a, b) in dag.edges() {
            adjacency[perm[a]].push(perm[b]);
        }
        prop_assert_eq!(find_cycles(&adjacency), Vec::<Vec<usize>>::new());
    }

    #[test]
    fn find_cycles_agrees_with_a_reference_on_any_graph(
        adjacency in (1usize..25).prop_flat_map(|n| {
            prop::collection::vec(prop::collection::btree_set(0..n, 0..3), n)
        })
    ) {
        let adjacency: Vec<Vec<usize>> = adjacency
            .into_iter()
            .enumerate()
            .map(|(a, ds)| ds.into_iter().filter(|&b| b != a).collect())
            .collect();
        let cycles = find_cycles(&adjacency);
        prop_assert_eq!(cycles.is_empty(), is_acyclic(&adjacency), "{:?}", cycles);
        let mut seen = HashMap::new();
        for (k, cycle) in cycles.iter().enumerate() {
            prop_assert!(cycle.len() >= 2);
            prop_assert_eq!(cycle.iter().min(), cycle.first(), "starts at its smallest node");
            for (i, &a) in cycle.iter().enumerate() {
                let b = cycle[(i + 1) % cycle.len()];
                prop_assert!(adjacency[a].contains(&b), "{} → {} is not an edge", a, b);
                // One cycle per strongly connected component: no node twice.
                prop_assert!(seen.insert(a, k).is_none(), "{} is in two cycles", a);
            }
        }
    }
}

/// Kahn's algorithm: whether every node can be removed in dependency order.
fn is_acyclic(deps: &[Vec<usize>]) -> bool {
    let mut out_degree: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents = vec![Vec::new(); deps.len()];
    for (a, ds) in deps.iter().enumerate() {
        for &b in ds {
            dependents[b].push(a);
        }
    }
    let mut ready: Vec<usize> = (0..deps.len()).filter(|&i| out_degree[i] == 0).collect();
    let mut removed = 0;
    while let Some(b) = ready.pop() {
        removed += 1;
        for &a in &dependents[b] {
            out_degree[a] -= 1;
            if out_degree[a] == 0 {
                ready.push(a);
            }
        }
    }
    removed == deps.len()
}
