//! A component's `log_file`: lines queued without blocking, written by a
//! thread of its own, rotated by size (`x.log` → `x.log.1` … `x.log.N`, the
//! oldest dropped).
//!
//! Whoever pushes a line (the `tracing` layer, on whatever thread logged it,
//! the engine's included) only takes a short lock: a slow or full disk costs
//! dropped lines, counted and said, never a stuck engine. A write error is
//! warned about once, and once more when writing works again.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::config::LogFileSpec;

/// Bytes queued for the writer before lines are dropped (the writer holds
/// at most as much again, the batch it is writing): a fraction of a second
/// of a very chatty program.
pub const QUEUE_BYTES: usize = 1 << 20;
/// A longer line is cut here (with `…`), so one line cannot fill the queue.
pub const MAX_LINE: usize = 16 << 10;
/// How long closing waits for the queued lines to reach the file.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// An open log file: push lines, they are written in order.
#[derive(Debug)]
pub struct LogFile {
    shared: Arc<Shared>,
    /// Told when the writer has written its last line.
    done: Mutex<std::sync::mpsc::Receiver<()>>,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct Queue {
    lines: VecDeque<String>,
    bytes: usize,
    /// Lines dropped because the queue was full, since the writer last looked.
    overflow: u64,
    closed: bool,
}

impl LogFile {
    /// Starts the writer of `spec.path` for `component`. The file is opened
    /// by the writer, at the first line: a failure there is a warning, not
    /// an error, as for every write after it.
    pub fn start(component: &str, spec: &LogFileSpec) -> std::io::Result<LogFile> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        });
        let (done_tx, done) = std::sync::mpsc::channel();
        let mut writer = Writer {
            component: component.to_string(),
            spec: spec.clone(),
            file: None,
            size: 0,
            rotates: false,
            failing: None,
        };
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name(format!("sundown-log-{component}"))
            .spawn(move || {
                writer.run(&theirs);
                let _ = done_tx.send(());
            })?;
        Ok(LogFile {
            shared,
            done: Mutex::new(done),
        })
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.shared.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a line (without its newline); drops it, counted, when the
    /// queue is full.
    pub fn push(&self, mut line: String) {
        if line.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        let mut q = self.queue();
        if q.closed {
            return;
        }
        if q.bytes + line.len() > QUEUE_BYTES {
            q.overflow += 1;
        } else {
            q.bytes += line.len();
            q.lines.push_back(line);
        }
        drop(q);
        self.shared.wake.notify_one();
    }

    /// Writes what is queued (waiting at most about a second) and stops the
    /// writer. Lines pushed afterwards are ignored.
    pub fn close(&self) {
        self.queue().closed = true;
        self.shared.wake.notify_one();
        let done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        let _ = done.recv_timeout(CLOSE_WAIT);
    }
}

impl Drop for LogFile {
    fn drop(&mut self) {
        // Without waiting: a file replaced by a reload finishes on its own.
        self.queue().closed = true;
        self.shared.wake.notify_one();
    }
}

struct Writer {
    component: String,
    spec: LogFileSpec,
    file: Option<BufWriter<File>>,
    /// The open file's size, for rotation.
    size: u64,
    /// Only a regular file is rotated: `/dev/null` or a fifo is not renamed.
    rotates: bool,
    /// Lines dropped since writing began to fail.
    failing: Option<u64>,
}

impl Writer {
    fn run(&mut self, shared: &Shared) {
        loop {
            let (lines, overflow, closed) = {
                let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
                while q.lines.is_empty() && q.overflow == 0 && !q.closed {
                    q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                q.bytes = 0;
                (
                    std::mem::take(&mut q.lines),
                    std::mem::take(&mut q.overflow),
                    q.closed,
                )
            };
            self.write(lines, overflow);
            if closed {
                if let Some(mut f) = self.file.take() {
                    let _ = f.flush();
                }
                return;
            }
        }
    }

    fn write(&mut self, mut lines: VecDeque<String>, overflow: u64) {
        if overflow > 0 {
            lines.push_front(format!(
                "{} sundown | {overflow} line(s) dropped here: the log file's writer fell behind",
                humantime::format_rfc3339_micros(std::time::SystemTime::now())
            ));
        }
        if lines.is_empty() {
            return;
        }
        let n = lines.len() as u64;
        match self.try_write(&lines) {
            Ok(()) => {
                if let Some(dropped) = self.failing.take() {
                    tracing::warn!(
                        component = %self.component,
                        "{}: log file {} is writable again; {dropped} line(s) were dropped while it was not",
                        self.component,
                        self.spec.path.display()
                    );
                }
            }
            Err(e) => {
                // Reopened at the next line: the disk may have room by then.
                self.file = None;
                match &mut self.failing {
                    Some(dropped) => *dropped += n,
                    None => {
                        self.failing = Some(n);
                        tracing::warn!(
                            component = %self.component,
                            "{}: cannot write log file {}: {e}; its lines are dropped (and counted) until it works again, the component keeps running",
                            self.component,
                            self.spec.path.display()
                        );
                    }
                }
            }
        }
    }

    fn try_write(&mut self, lines: &VecDeque<String>) -> std::io::Result<()> {
        for line in lines {
            let len = line.len() as u64 + 1;
            if self.rotates && self.size > 0 && self.size + len > self.spec.max_size {
                self.rotate()?;
            }
            if self.file.is_none() {
                self.file = Some(self.open()?);
            }
            let Some(file) = &mut self.file else {
                continue;
            };
            file.write_all(line.as_bytes())?;
            file.write_all(b"\n")?;
            self.size += len;
        }
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }

    fn open(&mut self) -> std::io::Result<BufWriter<File>> {
        let path = &self.spec.path;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let meta = file.metadata()?;
        self.rotates = meta.is_file();
        self.size = meta.len();
        Ok(BufWriter::with_capacity(64 << 10, file))
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        if let Some(mut f) = self.file.take() {
            f.flush()?;
        }
        let path = &self.spec.path;
        // Gone (deleted or moved away by someone else): nothing to rotate,
        // and the backups must not shift again on every batch.
        if std::fs::symlink_metadata(path).is_err() {
            self.size = 0;
            return Ok(());
        }
        if self.spec.backups == 0 {
            ignore_missing(std::fs::remove_file(path))?;
        } else {
            // The oldest is overwritten by the next one, so there are never
            // more than `backups`.
            for i in (1..self.spec.backups).rev() {
                ignore_missing(std::fs::rename(backup(path, i), backup(path, i + 1)))?;
            }
            std::fs::rename(path, backup(path, 1))?;
        }
        self.size = 0;
        Ok(())
    }
}

/// `x.log.3`.
pub fn backup(path: &Path, i: u32) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(format!(".{i}"));
    PathBuf::from(p)
}

fn ignore_missing(r: std::io::Result<()>) -> std::io::Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &Path, max_size: u64, backups: u32) -> LogFileSpec {
        LogFileSpec {
            path: dir.join("logs/x.log"),
            max_size,
            backups,
        }
    }

    #[test]
    fn rotates_by_size_and_keeps_at_most_the_backups() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = spec(dir.path(), 100, 2);
        let file = LogFile::start("x", &spec).expect("start");
        for i in 0..100 {
            file.push(format!("line {i:04} ........."));
        }
        file.close();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        assert!(backup(&spec.path, 1).exists() && backup(&spec.path, 2).exists());
        assert!(!backup(&spec.path, 3).exists());
        for p in [
            spec.path.clone(),
            backup(&spec.path, 1),
            backup(&spec.path, 2),
        ] {
            assert!(read(&p).len() <= 100, "{}", read(&p));
        }
        assert!(read(&spec.path).ends_with("line 0099 .........\n"));
    }

    /// A file removed by someone else while it is open: the next rotation
    /// finds nothing to move, starts a new file, and keeps the backups (it
    /// used to fail on every batch, shifting the backups each time and
    /// dropping every line).
    #[test]
    fn a_file_removed_under_the_writer_is_started_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = spec(dir.path(), 100, 2);
        let mut w = Writer {
            component: "x".into(),
            spec: spec.clone(),
            file: None,
            size: 0,
            rotates: false,
            failing: None,
        };
        let lines = |from: usize| -> VecDeque<String> {
            (from..from + 3)
                .map(|i| format!("line {i:04} ........."))
                .collect()
        };
        w.try_write(&lines(0)).expect("first lines");
        std::fs::remove_file(&spec.path).expect("someone removes it");
        for batch in 1..4 {
            w.try_write(&lines(batch * 3))
                .expect("written after the removal");
        }
        let text = std::fs::read_to_string(&spec.path).expect("started again");
        assert!(text.ends_with("line 0011 .........\n"), "{text}");
        assert!(!backup(&spec.path, 3).exists());
    }

    #[test]
    fn no_backups_truncates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = spec(dir.path(), 50, 0);
        let file = LogFile::start("x", &spec).expect("start");
        for i in 0..10 {
            file.push(format!("line {i} ...................."));
        }
        file.close();
        assert!(!backup(&spec.path, 1).exists());
        let text = std::fs::read_to_string(&spec.path).expect("read");
        assert!(text.len() <= 50 && text.ends_with("line 9 ....................\n"));
    }

    #[test]
    fn a_long_line_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = spec(dir.path(), 1 << 20, 1);
        let file = LogFile::start("x", &spec).expect("start");
        file.push("é".repeat(MAX_LINE));
        file.close();
        let text = std::fs::read_to_string(&spec.path).expect("read");
        assert!(text.len() <= MAX_LINE + 4 && text.ends_with("…\n"));
    }

    #[test]
    fn a_stalled_file_costs_dropped_lines_never_a_blocked_caller() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = spec(dir.path(), 1 << 30, 0);
        std::fs::create_dir_all(dir.path().join("logs")).expect("mkdir");
        // Opening a fifo for writing blocks until a reader comes: the
        // writer thread is stuck as on a hung disk.
        nix::unistd::mkfifo(&spec.path, nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
        let file = LogFile::start("x", &spec).expect("start");
        let began = std::time::Instant::now();
        let line = "y".repeat(1000);
        for _ in 0..3000 {
            file.push(line.clone());
        }
        assert!(
            began.elapsed() < Duration::from_secs(1),
            "{:?}",
            began.elapsed()
        );
        let path = spec.path.clone();
        let reader = std::thread::spawn(move || std::fs::read_to_string(path).expect("read"));
        file.close();
        drop(file);
        let text = reader.join().expect("reader");
        let dropped: u64 = text
            .lines()
            .filter_map(|l| {
                l.split_once("sundown | ")?
                    .1
                    .split(' ')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        let written = text.lines().filter(|l| *l == line).count() as u64;
        assert!(dropped > 0, "{dropped}");
        assert_eq!(written + dropped, 3000);
        // What was queued, and the batch the writer had taken before it stuck.
        assert!(written as usize * 1000 <= 2 * QUEUE_BYTES, "{written}");
    }
}
