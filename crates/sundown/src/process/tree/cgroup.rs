//! The cgroup way of tracking a tree: finding the cgroup v2 sundown runs
//! in, making a cgroup of its own next to it for each tree, the child's
//! joining it between fork and exec, and sweeping up the empty ones an
//! earlier, killed sundown left behind.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A tree's own cgroup.
#[derive(Debug, Clone)]
pub(super) struct Cgroup {
    pub(super) dir: PathBuf,
    /// Its path as `/proc/<pid>/cgroup` shows it.
    pub(super) path: String,
    /// `cgroup.procs`, ready for the child to open between fork and exec
    /// (allocating there is not allowed).
    pub(super) procs: CString,
}

/// The cgroup v2 sundown runs in, when there is one: its path (as
/// `/proc/self/cgroup` shows it) and its directory.
pub(super) fn own_cgroup() -> Option<&'static (String, PathBuf)> {
    static OWN: OnceLock<Option<(String, PathBuf)>> = OnceLock::new();
    OWN.get_or_init(|| {
        let cgroup = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let path = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        Some((path.to_string(), cgroup_dir(path, &mounts)?))
    })
    .as_ref()
}

/// The directory of cgroup `path` (as `/proc/self/cgroup` names it), given
/// `/proc/self/mountinfo`.
fn cgroup_dir(path: &str, mountinfo: &str) -> Option<PathBuf> {
    // Fields: id parent dev root mountpoint options... - fstype source options.
    let (root, mount) = mountinfo.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if !right.starts_with("cgroup2 ") {
            return None;
        }
        let mut fields = left.split(' ').skip(3);
        Some((unescape(fields.next()?), unescape(fields.next()?)))
    })?;
    // A mount of a subtree (a container's) shows the paths below its root.
    let below = match root.as_str() {
        "/" => path,
        root => path.strip_prefix(root)?,
    };
    Some(Path::new(&mount).join(below.trim_start_matches('/')))
}

/// mountinfo writes space, tab, newline and backslash as `\040` and so on.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|o| u8::from_str_radix(o, 8).ok());
        match code {
            Some(c) => {
                out.push(char::from(c));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether `pid` is in the cgroup at `path` (as `/proc/<pid>/cgroup` shows it).
pub(super) fn in_cgroup(pid: u32, path: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .is_ok_and(|s| s.lines().any(|l| l.strip_prefix("0::") == Some(path)))
}

/// Moves the calling process into the cgroup whose `cgroup.procs` this is.
/// Runs in the child between fork and exec: only async-signal-safe calls,
/// no allocation. A failure is not fatal there; [`Tree::confirm`](super::Tree::confirm)
/// notices it.
pub(crate) fn join(procs: &CString) {
    // rustix makes the system calls directly, without allocating: safe
    // between fork and exec. The descriptor closes when it is dropped.
    use rustix::fs::{Mode, OFlags};
    if let Ok(fd) = rustix::fs::open(
        procs.as_c_str(),
        OFlags::WRONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        // "0" moves the writer itself.
        let _ = rustix::io::write(&fd, b"0");
    }
}

/// Makes the cgroup of tree `id` next to sundown's own; `token` is this
/// sundown's part of every tree id (see [`sweep`]).
pub(super) fn make_cgroup(id: &str, token: &str) -> Result<Cgroup, String> {
    let (own_path, own) = own_cgroup().ok_or("there is no cgroup v2 hierarchy mounted")?;
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(|| sweep(own, token));
    let leaf = format!("sundown.{id}");
    let dir = own.join(&leaf);
    let path = format!("{}/{leaf}", own_path.trim_end_matches('/'));
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let procs = CString::new(
        dir.join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .map_err(|_| format!("{} contains a NUL byte", dir.display()))?;
    Ok(Cgroup { dir, path, procs })
}

/// Removes the empty cgroups a killed sundown left next to ours (a
/// SIGKILLed supervisor cannot clean up). Only empty ones: rmdir fails on
/// a cgroup with processes, which may be another live sundown's. Ours
/// (their names carry `token`) are left alone.
fn sweep(own: &Path, token: &str) {
    let Ok(entries) = std::fs::read_dir(own) else {
        return;
    };
    let mine = format!("sundown.{token}.");
    let removed = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("sundown.") && !name.starts_with(&mine)
        })
        .filter(|e| std::fs::remove_dir(e.path()).is_ok())
        .count();
    if removed > 0 {
        tracing::info!(
            "removed {removed} empty cgroup(s) that earlier runs left in {}",
            own.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup_directory_follows_the_mount_and_its_root() {
        let host = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup_dir("/user.slice/x.scope", host),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/x.scope"))
        );
        // A container's view: its own subtree mounted at /sys/fs/cgroup.
        let container = "1 0 0:1 / / rw - ext4 /dev/vda rw\n\
                         7 1 0:30 /docker/abc /sys/fs/cgroup ro - cgroup2 cgroup rw\n";
        assert_eq!(
            cgroup_dir("/docker/abc/app", container),
            Some(PathBuf::from("/sys/fs/cgroup/app"))
        );
        let spaced = "7 1 0:30 / /mnt/my\\040cgroups rw - cgroup2 cgroup rw\n";
        assert_eq!(
            cgroup_dir("/", spaced),
            Some(PathBuf::from("/mnt/my cgroups"))
        );
        assert_eq!(cgroup_dir("/", "1 0 0:1 / / rw - ext4 /dev/vda rw\n"), None);
    }
}
