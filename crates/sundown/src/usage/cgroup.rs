//! What a cgroup v2 directory says of its processes: `cpu.stat` counts the
//! CPU time of every process that was ever in it (the core keeps it even
//! with no controller enabled), `memory.stat` their memory when the memory
//! controller is enabled for it.

use std::path::Path;

use super::procfs::Reader;

/// `usage_usec` of a `cpu.stat`, in seconds.
pub(super) fn parse_cpu(text: &str) -> Option<f64> {
    let usec: u64 = field(text, "usage_usec")?;
    Some(usec as f64 / 1e6)
}

/// The resident memory of a `memory.stat`: `anon` + `file_mapped`, the
/// pages mapped into its processes, each counted once. Not
/// `memory.current`: that adds the page cache of every file they read or
/// wrote and kernel memory, which the kernel reclaims at will, so a
/// component that wrote a big log would seem to hold it. This is the
/// cgroup's counterpart of a process's resident size, so a component reads
/// about the same whichever way it is measured (less, when its processes
/// share pages, which the sum of their resident sizes counts again for each).
pub(super) fn parse_memory(text: &str) -> Option<u64> {
    let anon: u64 = field(text, "anon")?;
    let mapped: u64 = field(text, "file_mapped")?;
    Some(anon.saturating_add(mapped))
}

fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

/// The CPU seconds of the cgroup at `dir`; `None` when it is gone.
pub(super) fn cpu(dir: &Path, r: &mut Reader) -> Option<f64> {
    parse_cpu(r.read(dir.join("cpu.stat"))?)
}

/// The resident memory of the cgroup at `dir`, when its memory controller
/// is enabled (often not: it must be enabled in the parent, which sundown
/// leaves as it finds it).
pub(super) fn memory(dir: &Path, r: &mut Reader) -> Option<u64> {
    parse_memory(r.read(dir.join("memory.stat"))?)
}

/// The processes in the cgroup at `dir`.
pub(super) fn procs(dir: &Path, r: &mut Reader) -> Vec<u32> {
    r.read(dir.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_stat_gives_usage_in_seconds() {
        let text = "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 0\n";
        assert_eq!(parse_cpu(text), Some(2.5));
        assert_eq!(parse_cpu("user_usec 1\n"), None);
        assert_eq!(parse_cpu("usage_usec lots\n"), None);
    }

    #[test]
    fn memory_is_anon_and_mapped_files_not_the_page_cache() {
        let text = "anon 1048576\nfile 9999999999\nkernel 4096\nkernel_stack 16384\n\
                    file_mapped 4096\nfile_dirty 0\nanon_thp 0\n";
        assert_eq!(parse_memory(text), Some(1_048_576 + 4096));
        // `anon_thp` is not `anon`: keys match whole.
        assert_eq!(parse_memory("anon_thp 5\nfile_mapped 1\n"), None);
    }
}
