//! Where sundown's own lines and its components' output go: stderr through a
//! bounded, lossy queue (a reader that stalls costs dropped lines, never a
//! stuck engine), the live status line on a terminal, and the store
//! `sundown logs` reads.

use clap::ValueEnum;

use crate::status_line::StatusLine;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// The logging pipeline; dropping it flushes what is buffered (waiting at most ~1 s).
pub(crate) struct Logging {
    pub(crate) live: Option<StatusLine>,
    /// The components' recent output, for `sundown logs`.
    pub(crate) logs: sundown::logs::LogStore,
    pub(crate) dropped: tracing_appender::non_blocking::ErrorCounter,
    _flush: tracing_appender::non_blocking::WorkerGuard,
}

/// Sets up logging on stderr, in `format`, with the live status line on a terminal.
pub(crate) fn init(format: LogFormat) -> Logging {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    // Logs (and every child's output) go through a bounded queue to a writer
    // thread: if whoever reads stderr stalls, lines are dropped and counted
    // rather than blocking the engine, so signals and deadlines still work.
    let (out, flush) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(true)
        // Each slot is preallocated: 4 096 lines is ~160 KiB, where the
        // default 128 000 would cost megabytes of resident memory.
        .buffered_lines_limit(4096)
        .thread_name("sundown-log")
        .finish(std::io::stderr());
    let dropped = out.error_counter();
    // The live status line only makes sense for human-readable logs on a terminal.
    let live = match format {
        LogFormat::Text => StatusLine::for_stderr(out.clone()),
        LogFormat::Json => None,
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // Text lines already start with the component's name ("db: ready"), so
    // its field would only repeat it; JSON keeps every field for machines.
    let text_fields =
        tracing_subscriber::fmt::format::debug_fn(|w, field, value| match field.name() {
            "component" | "stream" => Ok(()),
            "message" => write!(w, "{value:?}"),
            name => write!(w, " {name}={value:?}"),
        });
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    type Boxed = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;
    let logs = sundown::logs::LogStore::default();
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(ansi);
    let stderr: Boxed = match (format, live.clone()) {
        (LogFormat::Text, Some(line)) => fmt.fmt_fields(text_fields).with_writer(line).boxed(),
        (LogFormat::Text, None) => fmt.fmt_fields(text_fields).with_writer(out).boxed(),
        (LogFormat::Json, _) => fmt.with_writer(out).json().flatten_event(true).boxed(),
    };
    use tracing_subscriber::filter::FilterExt as _;
    // Per layer: `RUST_LOG` and `log_stderr = false` decide what reaches
    // stderr, not what reaches the store and the log files.
    let stderr = stderr.with_filter(filter.and(sundown::logs::QuietFilter(logs.clone())));
    let output = sundown::logs::OutputLayer(logs.clone())
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(output)
        .try_init();
    Logging {
        live,
        logs,
        dropped,
        _flush: flush,
    }
}
