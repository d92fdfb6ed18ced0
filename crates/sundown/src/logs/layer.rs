//! The `tracing` side of the store: [`OutputLayer`] files each event that
//! belongs to a component under it, and [`QuietFilter`] keeps the output
//! of `log_stderr = false` components off sundown's stderr.

use std::time::SystemTime;

use tracing::Level;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::Context;

use super::{Line, LogStore};
use crate::log_file::MAX_LINE;

/// Where the processes' forwarded output is logged.
const OUTPUT: &str = "sundown::output";

/// A `tracing` layer that copies into a [`LogStore`] the components'
/// forwarded output (target `sundown::output`) and the messages about a
/// component: those with a `component` field (the engine's), and those
/// starting with a component's name and `: ` (how the stand-ins log).
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

/// Only the `component` field, for the filter that runs on every event.
struct ComponentField(Option<String>);

impl Visit for ComponentField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "component" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "component" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for OutputLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let meta = event.metadata();
        let output = meta.target() == OUTPUT;
        if !output && *meta.level() > Level::INFO {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let Some(message) = f.message else { return };
        // "db: ready", "http: listening on …".
        let prefixed = message
            .split_once(": ")
            .filter(|(name, _)| self.0.knows(name));
        let (component, mut text) = if output {
            let Some(component) = f.component else { return };
            // "db | text" or "db (stop command) | text".
            let text = message
                .split_once(" | ")
                .map_or(message.as_str(), |(_, t)| t)
                .to_string();
            (component, text)
        } else {
            match (f.component, prefixed) {
                (Some(c), Some((name, text))) if c == name => (c, text.to_string()),
                (Some(c), _) => (c, message.clone()),
                (None, Some((name, text))) => (name.to_string(), text.to_string()),
                (None, None) => return,
            }
        };
        if text.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        let stream = match f.stream {
            Some(s) if output => s,
            _ => meta.level().as_str().to_ascii_lowercase(),
        };
        self.0.push(Line {
            time: SystemTime::now(),
            component,
            stream,
            text,
        });
    }
}

/// A per-layer filter for the layer that writes sundown's stderr: the
/// output of a component with `log_stderr = false` stays in its file and
/// in `sundown logs`.
#[derive(Debug, Clone)]
pub struct QuietFilter(pub LogStore);

impl<S> tracing_subscriber::layer::Filter<S> for QuietFilter {
    fn enabled(&self, _: &tracing::Metadata<'_>, _: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, _: &Context<'_, S>) -> bool {
        if event.metadata().target() != OUTPUT {
            return true;
        }
        let mut c = ComponentField(None);
        event.record(&mut c);
        !c.0.is_some_and(|c| self.0.quiet(&c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_layer_takes_output_and_messages_about_components() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let store = LogStore::new(10);
        let config = Config::parse(
            "[components.db]\ncommand = \"true\"\n[components.http]\nkind = \"sim\"\n",
            "t.toml",
            std::path::Path::new("."),
        )
        .expect("config");
        store.configure(&config);
        let subscriber = tracing_subscriber::registry().with(OutputLayer(store.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "sundown::output", component = "db", stream = "stderr", "db | ready | really");
            tracing::info!(component = "db", "db: stopped");
            tracing::warn!("http: listening on 127.0.0.1:1");
            tracing::info!("control socket: /tmp/x");
            tracing::debug!("http: too chatty");
        });
        let got = |c| {
            store
                .recent(c)
                .into_iter()
                .map(|l| (l.stream, l.text))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            got("db"),
            [
                ("stderr".to_string(), "ready | really".to_string()),
                ("info".to_string(), "stopped".to_string())
            ]
        );
        assert_eq!(
            got("http"),
            [("warn".to_string(), "listening on 127.0.0.1:1".to_string())]
        );
        assert_eq!(store.all_recent().len(), 3);
    }
}
