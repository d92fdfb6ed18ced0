//! `sundown run`: the supervisor itself, with everything around the
//! engine that a process needs: signals (a second one forces), the control
//! socket, metrics, sd_notify, the orphan reaper, and the report file.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use nix::sys::signal::Signal;
use sundown::process::RunRecord;
use sundown::{Config, ExitCode, ShutdownReport, Supervisor, Trigger};
use tokio::signal::unix::{SignalKind, signal};

use crate::config_file::load;
use crate::status_line::StatusLine;

/// `run`'s options.
pub(crate) struct RunFlags {
    pub(crate) report: Option<PathBuf>,
    pub(crate) subreaper: bool,
    pub(crate) only: Option<String>,
    pub(crate) socket: Option<PathBuf>,
    /// `--exit-with NAME`.
    pub(crate) exit_with: Option<String>,
}

pub(crate) fn supervise(
    path: &Path,
    flags: RunFlags,
    live: Option<StatusLine>,
    logs: sundown::logs::LogStore,
) -> anyhow::Result<i32> {
    let RunFlags {
        report: report_flag,
        subreaper,
        only,
        socket: socket_flag,
        exit_with,
    } = flags;
    let only = only.as_deref();
    let Some(mut config) = load(path) else {
        return Ok(ExitCode::Usage.code());
    };
    if let Some(name) = only {
        let needs = config
            .index_of(name)
            .map(|i| config.components[i].depends_on.join(", "))
            .unwrap_or_default();
        config = match config.only(name) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}: error: --only: {e}", path.display());
                return Ok(ExitCode::Usage.code());
            }
        };
        if !needs.is_empty() {
            tracing::info!(
                "--only {name}: not starting its dependencies ({needs}); they must be reachable"
            );
        }
    }
    if let Some(name) = &exit_with
        && let Err(e) = config.set_exit_with(name)
    {
        eprintln!("{}: error: --exit-with: {e}", path.display());
        return Ok(ExitCode::Usage.code());
    }
    let report_path = report_flag.or_else(|| config.supervisor.report.clone());
    // Read again on reload, whatever the working directory is by then.
    let config_file = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    logs.set_capacity(config.supervisor.log_lines);
    // Before any thread of the runtime opens descriptors of its own.
    let marked = no_inherited_descriptors_for_children();
    if marked > 0 {
        tracing::debug!("{marked} inherited descriptor(s) marked close-on-exec");
    }
    let runtime = runtime_for(&config).context("cannot start the async runtime")?;
    let files = logs.clone();
    let (code, lock) = runtime.block_on(async move {
        // Install the handlers before anything starts: a signal during startup must count.
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let mut forwarded = Vec::new();
        for (kind, sig) in FORWARDED {
            forwarded.push((
                signal(kind).with_context(|| format!("cannot handle {sig}"))?,
                sig,
            ));
        }
        // Before anything is spawned, so no orphan slips past.
        let reaper = if subreaper || sundown::pid1::is_init() {
            sundown::pid1::become_subreaper().context("cannot become a child subreaper")?;
            tracing::info!(
                "{}: reaping orphaned processes",
                if sundown::pid1::is_init() {
                    "running as PID 1"
                } else {
                    "running as a subreaper"
                }
            );
            Some(tokio::spawn(async {
                if let Err(e) = sundown::pid1::reap_orphans().await {
                    tracing::error!("cannot handle SIGCHLD, so orphans will not be reaped: {e}");
                }
            }))
        } else {
            None
        };
        // Before anything starts: a second sundown on the same config must
        // fail here, not after starting a second copy of every program.
        let target = sundown::control::SocketTarget {
            config_path: config_file.clone(),
            explicit: socket_flag,
            only: only.map(str::to_string),
        };
        let socket_path = target.path(&config);
        let mut control = match sundown::control::ControlSocket::bind(&socket_path) {
            Ok(c) => Some(c),
            // Only a directory others could write to is survivable: running
            // without the socket is safer than serving it there. Anything
            // else would also lose the guard against a second run.
            Err(e @ sundown::control::ControlError::UnsafeDir(_)) => {
                tracing::error!("{e}; running without a control socket");
                None
            }
            Err(e) => {
                eprintln!("error: {e}");
                return Ok((ExitCode::Usage.code(), None));
            }
        };
        // Beside the lock, which says whether the last run of this config
        // is over: if it left a record, it was killed and may have left
        // processes behind.
        let previous = control.as_ref().and_then(|c| c.previous_run());
        let metrics = match config.supervisor.metrics {
            Some(addr) => match sundown::metrics::bind(addr).await {
                Ok(l) => Some(l),
                Err(e) => {
                    eprintln!("error: cannot serve metrics on {addr}: {e}");
                    return Ok((ExitCode::Usage.code(), None));
                }
            },
            None => None,
        };
        let notifier = match sundown::notify::Notifier::from_env() {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("NOTIFY_SOCKET is set but unusable, not notifying: {e}");
                None
            }
        };
        let running =
            match Supervisor::from_config(config).map(|s| {
                s.with_kinds(crate::config_file::kinds())
                    .with_logs(logs.clone())
            }) {
                Ok(supervisor) => {
                    if let Some(text) = previous {
                        clean_up_after(&text, &supervisor).await;
                    }
                    // Only now: until here, the killed run's record stays
                    // for whichever run gets to clean up after it.
                    if let Some(c) = control.as_mut()
                        && let Err(e) = c.record(&RunRecord::current().to_text())
                    {
                        tracing::warn!("cannot keep a record of this run beside its lock: {e}");
                    }
                    supervisor.spawn()
                }
                // `load` validated it already; this only guards the invariants.
                Err(e) => {
                    eprintln!("{e}");
                    return Ok((ExitCode::Usage.code(), None));
                }
            };
        let notifying =
            notifier.map(|n| tokio::spawn(sundown::notify::follow(n, running.status())));
        let control_stop = tokio_util::sync::CancellationToken::new();
        // How SIGHUP's reload tells the socket to follow `control_socket`.
        let moves = control.as_ref().map(|c| c.moves());
        let serving = control.map(|c| {
            tracing::info!("control socket: {}", c.path().display());
            tokio::spawn(c.serve(
                running.status(),
                running.handle(),
                logs.clone(),
                // A reload would bring back the whole graph.
                only.is_none().then(|| target.clone()),
                control_stop.clone(),
            ))
        });
        let scraping = metrics.map(|l| {
            if let Ok(addr) = l.local_addr() {
                tracing::info!("metrics: http://{addr}/metrics");
            }
            tokio::spawn(sundown::metrics::serve(
                l,
                running.status(),
                control_stop.clone(),
            ))
        });
        let handle = running.handle();
        let can_reload = only.is_none();
        let signals = tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let reload = hup.recv();
                let forward = futures::future::select_all(
                    forwarded
                        .iter_mut()
                        .map(|(s, sig)| Box::pin(async move { s.recv().await.map(|_| *sig) })),
                );
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                    _ = reload, if can_reload => {
                        tracing::info!("SIGHUP received: reloading {}", config_file.display());
                        let (handle, file, moves) = (handle.clone(), config_file.clone(), moves.clone());
                        tokio::spawn(async move { reload_on_hup(&handle, &file, moves).await });
                        continue;
                    }
                    (Some(sig), _, _) = forward => {
                        let reached = sundown::pid1::forward(sig);
                        tracing::info!("{sig} received: forwarded to {reached} process(es)");
                        continue;
                    }
                };
                seen += 1;
                let trigger = Trigger::Signal(name.to_string());
                if seen == 1 {
                    tracing::info!("{name} received");
                    handle.shutdown(trigger);
                } else {
                    tracing::warn!("{name} received again: forcing the shutdown");
                    handle.force(trigger);
                }
            }
        });
        let follower = tokio::spawn(crate::status_line::follow(running.status(), live));
        let report = running.wait().await;
        signals.abort();
        let _ = follower.await;
        if let Some(n) = notifying {
            let _ = n.await;
        }
        control_stop.cancel();
        let lock = match serving {
            Some(s) => s.await.ok(),
            None => None,
        };
        if let Some(s) = scraping {
            let _ = s.await;
        }
        if let Some(r) = reaper {
            r.abort();
            sundown::pid1::reap_once();
        }
        if let Some(path) = &report_path {
            match write_report(path, &report) {
                Ok(()) => tracing::info!("teardown report written to {}", path.display()),
                Err(e) => tracing::error!(
                    "cannot write the teardown report to {}: {e:#}",
                    path.display()
                ),
            }
        }
        anyhow::Ok((report.exit_code, lock))
    })?;
    // Every component has ended (or was given up on after the kill grace),
    // so whatever still runs on a blocking thread is work nobody waits for:
    // waiting for it, as dropping the runtime does, once kept a stopped
    // Redis stand-in's process alive for 14 s after its report.
    runtime.shutdown_background();
    // After the last component's last line.
    files.close_files();
    // Last: until here, no second run of this config can start beside
    // what is left of this one.
    drop(lock);
    Ok(code)
}

/// Kills what a killed run of this config left running (its record is
/// `text`), in reverse dependency order, before anything new starts.
async fn clean_up_after(text: &str, supervisor: &Supervisor) {
    let Some(record) = RunRecord::parse(text) else {
        tracing::warn!(
            "the previous run of this config was killed, and left no usable record: not looking for what it left running"
        );
        return;
    };
    let (graph, plan) = (supervisor.graph(), supervisor.plan());
    let phase = |name: &str| {
        (0..graph.len())
            .find(|&i| graph.name(i) == name)
            .map(|i| plan.phase_of[i])
    };
    let left = sundown::process::kill_leftovers(&record, phase).await;
    if left.is_empty() {
        tracing::info!(
            "the previous run of this config (pid {}) was killed; nothing of it was left running",
            record.pid
        );
    }
    for l in left {
        tracing::warn!(
            "the previous run of this config (pid {}) was killed and left {} running: killed {}",
            record.pid,
            l.component,
            l.killed.join(", ")
        );
    }
}

/// SIGHUP: the config is read again and the difference applied; an
/// invalid one is logged with its locations and changes nothing.
async fn reload_on_hup(
    handle: &sundown::Handle,
    file: &Path,
    moves: Option<sundown::control::Moves>,
) {
    match handle.reload(file).await {
        // The engine logs the difference and the end.
        Ok(accepted) => {
            if let Some(moves) = moves {
                moves.reloaded();
            }
            let _ = accepted.finished().await;
        }
        Err(sundown::ReloadError::Config(e)) => {
            tracing::error!("reload refused, still running the old config:\n{e}")
        }
        Err(e) => tracing::warn!("reload refused: {e}"),
    }
}

/// Signals meant for the programs, not for sundown: passed on to every
/// process component's main process, as an init does (`tini`). SIGHUP is
/// sundown's own: reload.
const FORWARDED: [(SignalKind, Signal); 2] = [
    (SignalKind::user_defined1(), Signal::SIGUSR1),
    (SignalKind::user_defined2(), Signal::SIGUSR2),
];

/// A graph of external processes only needs one thread: the supervisor
/// waits, it does not compute, and one thread keeps it small. In-process
/// services (a Redis stand-in answering a benchmark, an HTTP front end under
/// load) need the cores, so they get a multi-threaded runtime (at most 4
/// workers: the services are I/O-bound, more threads only cost memory).
fn runtime_for(config: &Config) -> std::io::Result<tokio::runtime::Runtime> {
    let serves = config
        .components
        .iter()
        .any(|c| c.kind.settings().works_in_process());
    if serves {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores.min(4))
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
}

/// Writes next to the target and renames, so a reader never sees half a report.
fn write_report(path: &Path, report: &ShutdownReport) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(report.to_json().as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Descriptors sundown inherited without close-on-exec (a shell's, a CI
/// runner's) would reach every program it starts, as whatever user that
/// program runs as. Marks each of them (above stderr) close-on-exec, once,
/// at the start: everything sundown opens itself already is. Returns how
/// many it marked. (`close_range(CLOSE_RANGE_CLOEXEC)` in the child would
/// do it per spawn, but neither nix nor rustix offers it.)
fn no_inherited_descriptors_for_children() -> usize {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    use std::os::fd::BorrowedFd;
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    let mut marked = 0;
    for fd in fds {
        // SAFETY: `fd` was listed as open just now, and nothing in this
        // process closes descriptors it did not open; if it was the
        // listing's own (closed since), fcntl fails with EBADF and it is
        // skipped. Only the descriptor flag is read and set.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let Ok(flags) = fcntl(borrowed, FcntlArg::F_GETFD) else {
            continue;
        };
        let flags = FdFlag::from_bits_truncate(flags);
        if !flags.contains(FdFlag::FD_CLOEXEC)
            && fcntl(borrowed, FcntlArg::F_SETFD(flags | FdFlag::FD_CLOEXEC)).is_ok()
        {
            marked += 1;
        }
    }
    marked
}
