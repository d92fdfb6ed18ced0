//! The recent output of every component, for `sundown logs NAME
//! [--follow]`: a bounded ring of lines per component, and a broadcast of
//! new lines for followers.
//!
//! It is filled by a `tracing` layer ([`OutputLayer`]) that picks the
//! components' forwarded output out of the log stream, so the components
//! and the engine know nothing about it, and what `logs` shows is exactly
//! what the log showed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

/// Lines kept per component unless `[supervisor] log_lines` says otherwise.
pub const DEFAULT_LINES: usize = 1000;

/// One line of a component's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The component.
    pub component: String,
    /// `stdout`, `stderr` or `stop_command`.
    pub stream: String,
    /// The text, without the `name | ` prefix of the log line.
    pub text: String,
}

/// The rings, shared between the layer that fills them and the control
/// socket that reads them.
#[derive(Debug, Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
    live: broadcast::Sender<Line>,
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

    /// Adds a line.
    pub fn push(&self, line: Line) {
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

    /// New lines of every component from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Line> {
        self.live.subscribe()
    }
}

/// A `tracing` layer that copies the components' output into a [`LogStore`].
#[derive(Debug, Clone)]
pub struct OutputLayer(pub LogStore);

#[derive(Default)]
struct Fields {
    message: Option<String>,
    component: Option<String>,
    stream: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl Fields {
    fn record(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = Some(value),
            "component" => self.component = Some(value),
            "stream" => self.stream = Some(value),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for OutputLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "sundown::output" {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let (Some(message), Some(component)) = (f.message, f.component) else {
            return;
        };
        // "db | text" or "db (stop command) | text".
        let text = message
            .split_once(" | ")
            .map_or(message.as_str(), |(_, t)| t)
            .to_string();
        self.0.push(Line {
            component,
            stream: f.stream.unwrap_or_default(),
            text,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(c: &str, t: &str) -> Line {
        Line {
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
    fn the_layer_takes_only_forwarded_output() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let store = LogStore::new(10);
        let subscriber = tracing_subscriber::registry().with(OutputLayer(store.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "sundown::output", component = "db", stream = "stderr", "db | ready | really");
            tracing::info!(component = "db", "db: stopped");
        });
        assert_eq!(
            store.recent("db"),
            [Line {
                component: "db".into(),
                stream: "stderr".into(),
                text: "ready | really".into()
            }]
        );
    }
}
