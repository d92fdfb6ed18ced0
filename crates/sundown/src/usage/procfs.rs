//! What `/proc` says of processes: one `/proc/PID/stat` read gives a
//! process's parent, CPU times (its own and its reaped children's) and
//! resident size; `/proc/PID/environ` says which tree it was started in.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::sync::{Mutex, OnceLock};

use rustix::fs::{Mode, OFlags};

/// One process, as its `/proc/PID/stat` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stat {
    pub(super) ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks: its own CPU time and
    /// that of the children it reaped, which the kernel adds to it then.
    pub(super) ticks: u64,
    /// Resident pages (anonymous, file and shared memory).
    pub(super) rss_pages: u64,
    /// When it started, in ticks since boot: tells a reused pid apart.
    pub(super) starttime: u64,
}

/// Parses `/proc/PID/stat`. The command (field 2) is in parentheses and
/// may hold spaces and parentheses itself, so fields are counted after the
/// last `)`.
pub(super) fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // From the state (field 3) on, 0-based.
    let fields: Vec<&str> = rest.split_ascii_whitespace().take(22).collect();
    let num = |i: usize| fields.get(i)?.parse::<u64>().ok();
    let ticks = (11..=14).try_fold(0u64, |sum, i| Some(sum.saturating_add(num(i)?)))?;
    Some(Stat {
        ppid: u32::try_from(num(1)?).ok()?,
        ticks,
        rss_pages: num(21)?,
        starttime: num(19)?,
    })
}

/// Reads the small files of `/proc` and cgroups into one buffer, kept for
/// a whole sample, which reads hundreds of them. What a sample costs is
/// mostly system calls and path lookups, so: `/proc` is opened once and
/// each process's files are opened below it, and a file is read with one
/// call where one is enough (`std::fs` would add a size hint's two).
pub(super) struct Reader {
    buf: Vec<u8>,
    proc: Option<OwnedFd>,
}

/// Records of the files read here are far shorter than this: a kernel
/// file (seq_file) read into a bigger buffer returns less than this only
/// at its end (it stops early only when its next record would overflow
/// its page).
const SHORT: usize = 2048;

impl Reader {
    pub(super) fn new() -> Reader {
        let proc = rustix::fs::open(
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        );
        Reader {
            buf: vec![0; 4 * SHORT],
            proc: proc.ok(),
        }
    }

    /// The whole file at `path`; `None` when it cannot be read (gone).
    pub(super) fn read(&mut self, path: impl rustix::path::Arg) -> Option<&str> {
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
        self.read_fd(&fd)
    }

    /// The whole file `pid/name` of `/proc`.
    fn read_proc(&mut self, pid: u32, name: &str) -> Option<&str> {
        let path = format!("{pid}/{name}");
        let fd = match &self.proc {
            Some(proc) => {
                rustix::fs::openat(proc, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            }
            None => rustix::fs::open(
                format!("/proc/{path}"),
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            ),
        };
        self.read_fd(&fd.ok()?)
    }

    fn read_fd(&mut self, fd: &OwnedFd) -> Option<&str> {
        let mut len = 0;
        loop {
            if self.buf.len() - len < SHORT {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            match rustix::io::read(fd, &mut self.buf[len..]) {
                Ok(0) => break,
                Ok(n) => {
                    len += n;
                    if n < SHORT {
                        break;
                    }
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => return None,
            }
        }
        std::str::from_utf8(&self.buf[..len]).ok()
    }

    /// `/proc/PID/stat`; `None` when the process is gone.
    pub(super) fn stat(&mut self, pid: u32) -> Option<Stat> {
        parse_stat(self.read_proc(pid, "stat")?)
    }

    /// The resident pages of `/proc/PID/statm`, which costs the kernel
    /// less than `stat`; `None` when the process is gone.
    pub(super) fn rss_pages(&mut self, pid: u32) -> Option<u64> {
        parse_statm(self.read_proc(pid, "statm")?)
    }
}

/// The resident pages of a `/proc/PID/statm` (its second field).
pub(super) fn parse_statm(text: &str) -> Option<u64> {
    text.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// The CPU seconds of `ticks` clock ticks.
pub(super) fn seconds(ticks: u64) -> f64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    let hz = *HZ.get_or_init(|| rustix::param::clock_ticks_per_second().max(1));
    ticks as f64 / hz as f64
}

/// The bytes of `pages` memory pages.
pub(super) fn bytes(pages: u64) -> u64 {
    pages.saturating_mul(rustix::param::page_size() as u64)
}

/// The entry of `environ` (NUL-separated) that starts with `prefix`.
pub(super) fn entry_with<'a>(environ: &'a [u8], prefix: &str) -> Option<&'a [u8]> {
    environ
        .split(|&b| b == 0)
        .find(|e| e.starts_with(prefix.as_bytes()))
}

/// Which tree each process was started in, remembered by (pid, start
/// time): a process's initial environment does not change until it execs,
/// and reading every process's at every sample would cost more than
/// everything else a sample does. Only this supervisor's trees are kept
/// (`prefix` is `SUNDOWN_TREE=<token>.`); a process of none is remembered as
/// `None`. Entries of processes no longer there go at each call.
pub(super) struct Markers {
    known: Mutex<BTreeMap<Proc, Option<Marker>>>,
}

/// A process: its pid and start time.
type Proc = (u32, u64);
/// A whole `SUNDOWN_TREE=…` entry.
pub(super) type Marker = Box<[u8]>;

impl Markers {
    pub(super) const fn new() -> Markers {
        Markers {
            known: Mutex::new(BTreeMap::new()),
        }
    }

    /// The marker entry of each `(pid, starttime)` given, in order, reading
    /// the environment of those not seen before; forgets every other one.
    pub(super) fn of(&self, procs: &[Proc], prefix: &str) -> Vec<Option<Marker>> {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let mut fresh = BTreeMap::new();
        let found = procs
            .iter()
            .map(|&key| {
                let marker = known.remove(&key).unwrap_or_else(|| {
                    // Unreadable (another user's, or gone): not ours.
                    std::fs::read(format!("/proc/{}/environ", key.0))
                        .ok()
                        .and_then(|env| entry_with(&env, prefix).map(Box::from))
                });
                fresh.insert(key, marker.clone());
                marker
            })
            .collect();
        *known = fresh;
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_last_parenthesis() {
        // A real line of a process named `a) b (c`, shortened after rss.
        let line = "4242 (a) b (c) S 17 4242 4242 0 -1 4194560 120 0 0 0 \
                    250 31 7 2 20 0 1 0 987654 12345678 321 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 17,
                ticks: 250 + 31 + 7 + 2,
                rss_pages: 321,
                starttime: 987654,
            })
        );
    }

    #[test]
    fn a_truncated_or_garbled_stat_is_none() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("1 (x) S 0 1 1"), None);
        assert_eq!(
            parse_stat("1 (x) S zero 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 5 6 7"),
            None
        );
    }

    #[test]
    fn our_own_stat_is_read_and_plausible() {
        let mut r = Reader::new();
        let me = r.stat(std::process::id()).expect("our own stat");
        assert!(me.rss_pages > 0, "{me:?}");
        assert!(bytes(me.rss_pages) >= me.rss_pages * 4096, "{me:?}");
        assert_eq!(me.ppid, nix::unistd::getppid().as_raw() as u32);
        let rss = r.rss_pages(std::process::id()).expect("our own statm");
        // The same count both ways, give or take what the test allocated between.
        assert!(rss.abs_diff(me.rss_pages) < 1024, "{rss} vs {me:?}");
        assert!(r.stat(u32::MAX).is_none());
        assert_eq!(parse_statm("2000 321 100 5 0 700 0\n"), Some(321));
        assert_eq!(parse_statm("2000"), None);
    }

    #[test]
    fn a_file_longer_than_the_buffer_is_read_whole() {
        let mut r = Reader::new();
        // Our own environment and maps can be anything; a file of ours is known.
        let file = std::env::temp_dir().join(format!("sundown-reader-{}", std::process::id()));
        let text = "x".repeat(10_000) + "end";
        std::fs::write(&file, &text).expect("write");
        let read = r.read(&file).map(str::to_string);
        let _ = std::fs::remove_file(&file);
        assert_eq!(read.as_deref(), Some(text.as_str()));
        assert_eq!(r.read("/nonexistent/file"), None);
    }

    #[test]
    fn the_marker_is_found_among_the_environment_entries() {
        let env = b"PATH=/bin\0SUNDOWN_TREE=1-ab.3.db\0HOME=/\0";
        assert_eq!(
            entry_with(env, "SUNDOWN_TREE=1-ab."),
            Some(&b"SUNDOWN_TREE=1-ab.3.db"[..])
        );
        assert_eq!(entry_with(env, "SUNDOWN_TREE=2-cd."), None);
        assert_eq!(entry_with(b"", "X="), None);
    }

    #[test]
    fn markers_are_remembered_per_process_and_forgotten_when_it_is_gone() {
        let markers = Markers::new();
        // A pid that cannot exist: its environment is never readable.
        let gone = (u32::MAX, 1);
        assert_eq!(markers.of(&[gone], "X="), vec![None]);
        markers
            .known
            .lock()
            .expect("lock")
            .insert((7, 9), Some(Box::from(&b"X=1"[..])));
        // Remembered, not read again (pid 7's real environment has no X=).
        assert_eq!(
            markers.of(&[(7, 9)], "X="),
            vec![Some(Box::from(&b"X=1"[..]))]
        );
        // The same pid with another start time is another process.
        assert_ne!(
            markers.of(&[(7, 10)], "X="),
            vec![Some(Box::from(&b"X=1"[..]))]
        );
        assert_eq!(markers.known.lock().expect("lock").len(), 1);
    }
}
