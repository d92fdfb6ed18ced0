//! Measuring real processes found each way a tree is tracked, and a cgroup
//! directory's files.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command};

use super::*;

fn marked(marker: &str, script: &str) -> std::io::Result<Child> {
    let (name, value) = marker.split_once('=').unwrap_or(("X", ""));
    Command::new("sh")
        .args(["-c", script])
        .env(name, value)
        .process_group(0)
        .spawn()
}

fn end(mut child: Child) {
    // Each is the leader of its own group, with its children in it.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_tree_counts_its_descendants_and_the_processes_that_carry_its_marker() -> std::io::Result<()> {
    let marker = format!("SUNDOWN_TREE=test.{}.usage", std::process::id());
    // A main process with a child: both are the tree's by descent.
    let main = Command::new("sh")
        .args(["-c", "sleep 30 & wait"])
        .process_group(0)
        .spawn()?;
    // Not a descendant of `main`, but marked: it left (a double fork).
    let escaped = marked(&marker, "exec sleep 30")?;
    // Neither: not counted.
    let other = Command::new("sleep").arg("30").process_group(0).spawn()?;
    // Let the shell start its child.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let targets = [
        Target::Tree(Some(main.id()), marker.as_bytes().into()),
        Target::Nothing,
        Target::Supervisor,
    ];
    let usage = loop {
        let usage = measure(&targets);
        let found = matches!(usage[0], Some(Usage::Processes { count: 3, .. }));
        if found || std::time::Instant::now() > deadline {
            break usage;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    for c in [main, escaped, other] {
        end(c);
    }
    let Some(Usage::Processes {
        cpu_seconds,
        memory_bytes,
        count,
    }) = usage[0]
    else {
        panic!("not measured as processes: {usage:?}");
    };
    assert_eq!(count, 3, "sh, its sleep and the marked sleep");
    assert!(cpu_seconds >= 0.0, "{cpu_seconds}");
    // Three small programs: more than a page each, less than a gigabyte.
    assert!(
        (3 * 4096..1 << 30).contains(&memory_bytes),
        "{memory_bytes}"
    );
    assert_eq!(usage[1], None);
    assert_eq!(usage[2], Some(Usage::Supervisor));
    Ok(())
}

#[test]
fn a_tree_whose_main_process_is_not_there_yet_counts_nothing() {
    let usage = measure(&[Target::Tree(None, b"SUNDOWN_TREE=none"[..].into())]);
    assert_eq!(
        usage,
        vec![Some(Usage::Processes {
            cpu_seconds: 0.0,
            memory_bytes: 0,
            count: 0
        })]
    );
}

#[test]
fn a_cgroup_is_read_from_its_files() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(
        dir.path().join("cpu.stat"),
        "usage_usec 1500000\nuser_usec 1\n",
    )?;
    // No memory controller: the resident sizes of its processes (this one).
    std::fs::write(
        dir.path().join("cgroup.procs"),
        format!("{}\n", std::process::id()),
    )?;
    let target = [Target::Cgroup(dir.path().to_path_buf())];
    let Some(Usage::Cgroup {
        cpu_seconds,
        memory_bytes,
    }) = measure(&target)[0]
    else {
        panic!("not measured as a cgroup");
    };
    assert_eq!(cpu_seconds, 1.5);
    assert!(
        memory_bytes > 1 << 20,
        "the test's own size: {memory_bytes}"
    );
    // With the memory controller, its own count.
    std::fs::write(
        dir.path().join("memory.stat"),
        "anon 2000\nfile 50000\nfile_mapped 48\n",
    )?;
    assert_eq!(
        measure(&target)[0],
        Some(Usage::Cgroup {
            cpu_seconds: 1.5,
            memory_bytes: 2048
        })
    );
    // Gone (the run ended between the snapshot and the sample).
    drop(dir);
    assert_eq!(measure(&target)[0], None);
    Ok(())
}

/// A process component `p` and an in-process one `s`, both just started.
fn started() -> Status {
    use crate::event::{Event, EventKind};
    let text = "[components.p]\ncommand = \"sleep 100\"\n[components.s]\nkind = \"sim\"\n";
    let config = crate::config::Config::parse(text, "s.toml", std::path::Path::new("/"))
        .unwrap_or_else(|e| panic!("{e}"));
    let graph = crate::graph::Graph::new(&config);
    let plan = crate::plan::Plan::new(&config, &graph);
    let mut status = Status::new(&config, &graph, &plan, tokio::time::Instant::now());
    for i in 0..2 {
        let e = Event {
            at: std::time::Duration::ZERO,
            kind: EventKind::StartRequested(i),
        };
        status.apply(&e, plan.phases.len());
    }
    status
}

#[tokio::test]
async fn a_process_component_not_located_yet_is_unknown_not_in_sundown() {
    let status = started();
    assert!(matches!(target(&status.components[0]), Target::Nothing));
    assert!(matches!(target(&status.components[1]), Target::Supervisor));
    assert_eq!(sample(&status).await, [None, Some(Usage::Supervisor)]);
}

#[test]
fn a_process_component_is_measured_once_located_and_after_a_reload_kept_it() {
    let mut status = started();
    let marker = "SUNDOWN_TREE=test.located";
    status.set_tracked(0, Tracked::Marker(marker.into()));
    let located = |s: &Status| match target(&s.components[0]) {
        Target::Tree(_, m) => &*m == marker.as_bytes(),
        _ => false,
    };
    assert!(located(&status));
    // A reload builds the status anew from the events, which do not say
    // where the processes are: a kept run keeps its place, a changed one not.
    let mut reloaded = started();
    reloaded.carry_over(&status, |_| true);
    assert!(located(&reloaded));
    assert!(matches!(
        target(&reloaded.components[1]),
        Target::Supervisor
    ));
    let mut changed = started();
    changed.carry_over(&status, |name| name != "p");
    assert!(matches!(target(&changed.components[0]), Target::Nothing));
}
