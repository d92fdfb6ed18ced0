//! What `main` sets in its own process before any command runs.

/// `sundown status --json | head -c 10`: when the reader of stdout goes
/// away, the command ends quietly, as Unix tools do (killed by SIGPIPE),
/// instead of panicking on the failed write. Not for `run`: the supervisor
/// must outlive whoever reads its output.
pub(crate) fn quiet_on_closed_stdout() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: SIG_DFL runs no code of ours in a signal context; nothing
    // else in this process depends on SIGPIPE being ignored before a
    // client or offline command has begun.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// `--profile` adds to `SUNDOWN_PROFILES`, which is where the config reads
/// the enabled profiles: so a reload, which reads the file again, and the
/// processes started (which inherit it) see the same ones.
pub(crate) fn enable_profiles(profiles: &[String]) {
    if profiles.is_empty() {
        return;
    }
    let mut all: Vec<String> = std::env::var(sundown::config::PROFILES_ENV)
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    all.extend(profiles.iter().cloned());
    // SAFETY: called from `main` before logging, the runtime or anything
    // else has started a thread, so nothing reads the environment meanwhile.
    unsafe { std::env::set_var(sundown::config::PROFILES_ENV, all.join(",")) };
}
