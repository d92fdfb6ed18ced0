//! The recent output of every component, for `sundown logs NAME
//! [--follow]`: a bounded ring of lines per component, and a broadcast of
//! new lines for followers.
//!
//! It is filled by a `tracing` layer ([`OutputLayer`]) that picks the
//! components' forwarded output, and every message naming a component (the
//! stand-ins' own, the engine's about it), out of the log stream, so the
//! components and the engine know nothing about it, and what `logs` shows
//! is exactly what the log showed. The same layer feeds each component's
//! `log_file`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use tokio::sync::broadcast;

use crate::config::{Config, LogFileSpec};
use crate::log_file::LogFile;

mod layer;
pub use layer::{OutputLayer, QuietFilter};

/// Lines kept per component unless `[supervisor] log_lines` says otherwise.
pub use crate::config::DEFAULT_LOG_LINES as DEFAULT_LINES;

/// One line of a component's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// When sundown read it.
    pub time: SystemTime,
    /// The component.
    pub component: String,
    /// `stdout`, `stderr` or `stop_command` for a program's output; the
    /// level (`info`, `warn`, `error`) for a message.
    pub stream: String,
    /// The text, without the `name | ` prefix of the log line.
    pub text: String,
}

impl Line {
    /// Whether it is a message about the component (its `stream` is a
    /// level) rather than a program's output.
    pub fn is_message(&self) -> bool {
        matches!(
            self.stream.as_str(),
            "error" | "warn" | "info" | "debug" | "trace"
        )
    }
}

/// The rings, shared between the layer that fills them and the control
/// socket that reads them.
#[derive(Debug, Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
    live: broadcast::Sender<Line>,
    /// Per component of the running config: its file and whether its
    /// output goes to stderr. Read at every line, written at a reload.
    sinks: Arc<RwLock<HashMap<String, Sink>>>,
}

#[derive(Debug)]
struct Sink {
    file: Option<(LogFileSpec, Arc<LogFile>)>,
    stderr: bool,
    /// Not in the config any more: kept until the next reload, so that the
    /// messages of its stop still reach its file.
    removed: bool,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    rings: BTreeMap<String, VecDeque<Line>>,
}

impl Default for LogStore {
    fn default() -> Self {
        LogStore::new(DEFAULT_LINES)
    }
}

impl LogStore {
    /// An empty store keeping `capacity` lines per component.
    pub fn new(capacity: usize) -> LogStore {
        LogStore {
            inner: Arc::new(Mutex::new(Inner {
                capacity,
                rings: BTreeMap::new(),
            })),
            // A follower that falls this far behind is told it missed lines.
            live: broadcast::channel(1024).0,
            sinks: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes how many lines are kept per component (the config is read
    /// after logging starts).
    pub fn set_capacity(&self, capacity: usize) {
        let mut inner = self.lock();
        inner.capacity = capacity;
        for ring in inner.rings.values_mut() {
            while ring.len() > capacity {
                ring.pop_front();
            }
        }
    }

    /// Takes the components and log files of `config` (at the start and
    /// at each reload). A file whose settings are unchanged keeps its
    /// writer; the others are closed and opened anew.
    pub fn configure(&self, config: &Config) {
        // Logged after the lock is released: the layer reads the sinks.
        let mut failed = Vec::new();
        {
            let mut sinks = self.sinks.write().unwrap_or_else(|e| e.into_inner());
            let mut old = std::mem::take(&mut *sinks);
            for c in &config.components {
                let kept = old
                    .remove(&c.name)
                    .and_then(|s| s.file)
                    .filter(|(spec, _)| Some(spec) == c.log.file.as_ref());
                let file = kept.or_else(|| {
                    let spec = c.log.file.clone()?;
                    match LogFile::start(&c.name, &spec) {
                        Ok(f) => Some((spec, Arc::new(f))),
                        Err(e) => {
                            failed.push((c.name.clone(), spec.path, e));
                            None
                        }
                    }
                });
                sinks.insert(
                    c.name.clone(),
                    Sink {
                        file,
                        stderr: c.log.stderr,
                        removed: false,
                    },
                );
            }
            for (name, mut sink) in old.into_iter().filter(|(_, s)| !s.removed) {
                sink.removed = true;
                sinks.insert(name, sink);
            }
        }
        for (name, path, e) in failed {
            tracing::warn!(component = %name, "{name}: cannot start writing {}: {e}", path.display());
        }
    }

    /// Writes what the log files have queued and closes them (at the end of
    /// a run).
    pub fn close_files(&self) {
        let sinks = std::mem::take(&mut *self.sinks.write().unwrap_or_else(|e| e.into_inner()));
        for (_, file) in sinks.into_values().filter_map(|s| s.file) {
            file.close();
        }
    }

    /// Whether `component` is one of the running config's.
    pub fn knows(&self, component: &str) -> bool {
        self.sinks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(component)
    }

    /// Whether `component`'s output is kept off sundown's stderr (`log_stderr = false`).
    pub fn quiet(&self, component: &str) -> bool {
        self.sinks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(component)
            .is_some_and(|s| !s.stderr)
    }

    /// Adds a line, to the ring and to the component's log file.
    pub fn push(&self, line: Line) {
        if let Some(s) = self
            .sinks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&line.component)
            && let Some((_, file)) = &s.file
        {
            file.push(format!(
                "{} {} | {}",
                humantime::format_rfc3339_micros(line.time),
                line.stream,
                line.text
            ));
        }
        {
            let mut inner = self.lock();
            let capacity = inner.capacity;
            let ring = inner.rings.entry(line.component.clone()).or_default();
            if ring.len() == capacity {
                ring.pop_front();
            }
            if capacity > 0 {
                ring.push_back(line.clone());
            }
        }
        // Nobody following is fine.
        let _ = self.live.send(line);
    }

    /// The kept lines of `component`, oldest first.
    pub fn recent(&self, component: &str) -> Vec<Line> {
        self.lock()
            .rings
            .get(component)
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every component's kept lines, in time order.
    pub fn all_recent(&self) -> Vec<Line> {
        let mut lines: Vec<Line> = self
            .lock()
            .rings
            .values()
            .flat_map(|r| r.iter().cloned())
            .collect();
        // Stable: lines of one component read at the same instant keep their order.
        lines.sort_by_key(|l| l.time);
        lines
    }

    /// New lines of every component from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Line> {
        self.live.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(c: &str, t: &str) -> Line {
        Line {
            time: SystemTime::now(),
            component: c.into(),
            stream: "stdout".into(),
            text: t.into(),
        }
    }

    #[test]
    fn each_component_keeps_its_last_lines() {
        let store = LogStore::new(2);
        for t in ["1", "2", "3"] {
            store.push(line("db", t));
        }
        store.push(line("web", "w"));
        let texts = |c| {
            store
                .recent(c)
                .into_iter()
                .map(|l| l.text)
                .collect::<Vec<_>>()
        };
        assert_eq!(texts("db"), ["2", "3"]);
        assert_eq!(texts("web"), ["w"]);
        store.set_capacity(1);
        assert_eq!(texts("db"), ["3"]);
        assert!(store.recent("nobody").is_empty());
    }

    #[test]
    fn a_removed_component_keeps_its_file_until_the_next_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config =
            |text: &str| crate::config::Config::parse(text, "t.toml", dir.path()).expect("config");
        let both = config(
            "[components.a]\nkind = \"sim\"\nlog_file = \"{name}.log\"\n[components.b]\nkind = \"sim\"\n",
        );
        let only_b = config("[components.b]\nkind = \"sim\"\n");
        let store = LogStore::new(10);
        store.configure(&both);
        store.configure(&only_b);
        assert!(store.knows("a"));
        store.push(line("a", "stopping"));
        store.close_files();
        let text = std::fs::read_to_string(dir.path().join("a.log")).expect("a.log");
        assert!(text.ends_with(" stdout | stopping\n"), "{text}");
        store.configure(&both);
        store.configure(&only_b);
        store.configure(&only_b);
        assert!(!store.knows("a"));
    }
}
