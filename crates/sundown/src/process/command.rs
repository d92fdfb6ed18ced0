//! Building the commands of a process component: its program, its stop
//! command and its `exec` probe all run the same way — same environment,
//! directory and user, their own process group, and death with the
//! supervisor.

use std::ffi::CString;
use std::io;
use std::path::PathBuf;
use std::process::{Output, Stdio};

use nix::sys::signal::Signal;
use nix::unistd::{Gid, Group, Uid, User, getgrouplist};
use tokio::process::{Child, Command};

use super::settings::ProcessSpec;
use super::tree::{self, Tree};
use crate::component::BoxFuture;
use crate::spawned::{self, Registration, Role};

/// Whom a component runs as, resolved before any fork: looking users up
/// reads files and allocates, which is not safe between fork and exec.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    uid: Uid,
    gid: Gid,
    /// Resolved before the fork: nothing is looked up or allocated after it.
    groups: Vec<Gid>,
    /// Set when `user` is: HOME, USER and LOGNAME follow it.
    user: Option<(String, PathBuf)>,
}

impl Identity {
    /// The identity `user`/`group` ask for; `None` when neither is set.
    pub(crate) fn resolve(spec: &ProcessSpec) -> Result<Option<Identity>, String> {
        if spec.user.is_none() && spec.group.is_none() {
            return Ok(None);
        }
        let user = spec.user.as_deref().map(lookup_user).transpose()?;
        let gid = match (&spec.group, &user) {
            (Some(g), _) => lookup_group(g)?,
            (None, Some(u)) => u.gid,
            (None, None) => Gid::effective(),
        };
        let groups = match &user {
            Some(u) => {
                let name = CString::new(u.name.as_str())
                    .map_err(|_| format!("user name `{}` contains a NUL byte", u.name))?;
                getgrouplist(&name, gid)
                    .map_err(|e| format!("cannot list the groups of user `{}`: {e}", u.name))?
            }
            None => vec![gid],
        };
        let uid = user.as_ref().map_or(Uid::effective(), |u| u.uid);
        if !Uid::effective().is_root() && (uid != Uid::effective() || gid != Gid::effective()) {
            return Err(format!(
                "cannot run as {}: only root can switch users, and sundown runs as uid {}",
                describe(spec),
                Uid::effective()
            ));
        }
        Ok(Some(Identity {
            uid,
            gid,
            groups,
            user: user.map(|u| (u.name, u.dir)),
        }))
    }
}

fn describe(spec: &ProcessSpec) -> String {
    match (&spec.user, &spec.group) {
        (Some(u), Some(g)) => format!("user `{u}` and group `{g}`"),
        (Some(u), None) => format!("user `{u}`"),
        (None, Some(g)) => format!("group `{g}`"),
        (None, None) => "the current user".into(),
    }
}

fn lookup_user(name: &str) -> Result<User, String> {
    let found = match name.parse::<u32>() {
        Ok(uid) => User::from_uid(Uid::from_raw(uid)),
        Err(_) => User::from_name(name),
    };
    match found {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(format!("there is no user `{name}` on this machine")),
        Err(e) => Err(format!("cannot look up user `{name}`: {e}")),
    }
}

fn lookup_group(name: &str) -> Result<Gid, String> {
    let found = match name.parse::<u32>() {
        Ok(gid) => Group::from_gid(Gid::from_raw(gid)),
        Err(_) => Group::from_name(name),
    };
    match found {
        Ok(Some(g)) => Ok(g.gid),
        Ok(None) => Err(format!("there is no group `{name}` on this machine")),
        Err(e) => Err(format!("cannot look up group `{name}`: {e}")),
    }
}

/// How every command of one component instance is launched: as whom, and
/// into which tree of processes.
#[derive(Clone, Copy)]
pub(crate) struct Launch<'a> {
    pub(crate) spec: &'a ProcessSpec,
    pub(crate) who: Option<&'a Identity>,
    pub(crate) tree: &'a Tree,
}

impl Launch<'_> {
    /// Spawns a helper (a stop command, a probe) built by
    /// [`Launch::command`], registered, its group known to the tree.
    pub(crate) fn spawn_helper(&self, cmd: &mut Command) -> io::Result<(Child, Registration)> {
        let (child, registration) = spawned::spawn(cmd, Role::Helper)?;
        if let (Some(pid), Ok(mut groups)) = (child.id(), self.tree.helper_groups().lock()) {
            groups.insert(pid);
        }
        Ok((child, registration))
    }

    /// Runs `argv` as a helper to its end, its output captured.
    pub(crate) fn output(&self, argv: &[String]) -> BoxFuture<io::Result<Output>> {
        let mut cmd = self.command(argv);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let spawned = self.spawn_helper(&mut cmd);
        Box::pin(async move {
            let (child, _registration) = spawned?;
            child.wait_with_output().await
        })
    }

    /// `argv` as the component runs it: stdin from /dev/null, in a new
    /// process group and the component's tree, killed when its handle is
    /// dropped and when the supervisor dies. The caller chooses what
    /// happens to stdout and stderr.
    pub(crate) fn command(&self, argv: &[String]) -> Command {
        let spec = self.spec;
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .stdin(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            // sundown speaks to the service manager; a component that did
            // too would be taken for sundown. The config's env may still set it.
            .env_remove("NOTIFY_SOCKET")
            .env(tree::MARKER, self.tree.id());
        if let Some((name, home)) = self.who.and_then(|w| w.user.as_ref()) {
            // Programs find their files through these; the config's env still wins.
            cmd.env("HOME", home).env("USER", name).env("LOGNAME", name);
        }
        cmd.envs(&spec.env);
        if let Some(dir) = &spec.working_dir {
            cmd.current_dir(dir);
        }
        let parent = std::process::id();
        let who = self.who.cloned();
        let cgroup = self.tree.cgroup_procs();
        // SAFETY: the closure runs between fork and exec, where only
        // async-signal-safe calls are allowed: it makes system calls only
        // (open, write, close, setgroups, setgid, setuid, prctl, getppid,
        // raise; the nix and rustix wrappers used add no allocation and take
        // no lock) on memory allocated before the fork.
        unsafe {
            cmd.pre_exec(move || {
                // First, while still allowed to move itself: as another user
                // it may not write to the cgroup.
                if let Some(procs) = &cgroup {
                    tree::join(procs);
                }
                if let Some(w) = &who {
                    // Groups first, the user last: after setuid the rest is not allowed.
                    nix::unistd::setgroups(&w.groups)?;
                    nix::unistd::setgid(w.gid)?;
                    nix::unistd::setuid(w.uid)?;
                }
                // After setuid, which clears the parent-death signal.
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
                // The supervisor died before prctl took effect.
                if nix::unistd::getppid().as_raw() as u32 != parent {
                    let _ = nix::sys::signal::raise(Signal::SIGKILL);
                }
                Ok(())
            });
        }
        cmd
    }
}
