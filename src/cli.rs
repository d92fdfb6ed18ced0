//! The `sundown` command line: the binary edge, where library errors become
//! messages and exit codes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use sundown::{ExitCode, Graph, Plan, ShutdownReport, Strategy};

use crate::config_file::load;
use crate::status_line::StatusLine;

/// Starts components in dependency order and stops them in reverse, phase by
/// phase, with timeouts, escalation and a JSON teardown report.
#[derive(Parser, Debug)]
#[command(name = "sundown", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr (`RUST_LOG` sets the level, default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GraphFormat {
    Mermaid,
    Dot,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start every component, run until SIGTERM/SIGINT or a failure, stop in reverse order (the default).
    Run {
        /// The config file.
        #[arg(long, short, default_value = "supervisor.toml")]
        config: PathBuf,
        /// Write the teardown report here (overrides `[supervisor] report`).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Adopt and reap orphaned descendants, as PID 1 does (implied when sundown is PID 1).
        #[arg(long)]
        subreaper: bool,
        /// Run only this component, its dependencies expected to run elsewhere (one container per component; see `export k8s`).
        #[arg(long, value_name = "NAME")]
        only: Option<String>,
        /// Serve the control socket here (overrides `[supervisor] control_socket`).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
    },
    /// Validate the config and print every problem with its location.
    Check {
        /// The config file.
        #[arg(long, short, default_value = "supervisor.toml")]
        config: PathBuf,
    },
    /// Print the start levels, the stop phases with their timeouts, and the worst case.
    Plan {
        /// The config file.
        #[arg(long, short, default_value = "supervisor.toml")]
        config: PathBuf,
        /// Plan the stop as this strategy would run it (`k8s-sidecars`: as
        /// Kubernetes stops the pod `export k8s` writes), compared with the others.
        #[arg(long = "as", value_name = "STRATEGY", value_parser = ["phased", "eager", "k8s-sidecars"])]
        strategy: Option<String>,
    },
    /// Print the dependency graph.
    Graph {
        /// The config file.
        #[arg(long, short, default_value = "supervisor.toml")]
        config: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
        format: GraphFormat,
    },
    /// Check a teardown report: exit 0 when every dependency edge was respected, 1 naming each violation.
    Verify {
        /// The JSON report written by `run --report`.
        report: PathBuf,
        /// Take the edges from this config instead of from the report.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Also require A to be down before B was asked to stop (repeatable).
        #[arg(long, value_name = "A:B")]
        before: Vec<String>,
    },
    /// Draw a teardown report as a timeline on stdout, and optionally as SVG and HTML files.
    Report {
        /// The JSON report written by `run --report`.
        report: PathBuf,
        /// Also write the timeline as a standalone SVG picture here.
        #[arg(long, value_name = "OUT.svg")]
        svg: Option<PathBuf>,
        /// Also write an HTML page (the picture and tables of phases and components) here.
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
        /// Terminal width in columns (default: $COLUMNS, else 100).
        #[arg(long, value_parser = clap::value_parser!(u16).range(20..))]
        width: Option<u16>,
    },
    /// Show each component of a running supervisor, and what a shutdown under way waits on.
    Status {
        #[command(flatten)]
        target: crate::client::Target,
        /// Print the JSON status (schema 1) instead of a table.
        #[arg(long)]
        json: bool,
        /// Print nothing; exit 0 only when every component is ready (a readiness probe).
        #[arg(long, conflicts_with = "json")]
        ready: bool,
    },
    /// Write the graph as manifests for another system.
    Export {
        #[command(subcommand)]
        to: ExportTo,
    },
    /// Print a component's recent output (kept per component, `[supervisor] log_lines`).
    Logs {
        /// The component.
        name: String,
        #[command(flatten)]
        target: crate::client::Target,
        /// Keep printing new lines until the supervisor exits.
        #[arg(long, short)]
        follow: bool,
    },
    /// Ask a running supervisor to shut down in order (the same as SIGTERM).
    Shutdown {
        #[command(flatten)]
        target: crate::client::Target,
    },
    /// Stop a component and everything that depends on it (dependents first); the rest keeps running.
    Stop {
        /// The component.
        name: String,
        #[command(flatten)]
        target: crate::client::Target,
    },
    /// Start a stopped component, after its stopped dependencies, and what `stop` took down with it.
    Start {
        /// The component.
        name: String,
        #[command(flatten)]
        target: crate::client::Target,
    },
    /// Stop a component and its dependents, then start them again in order.
    Restart {
        /// The component.
        name: String,
        #[command(flatten)]
        target: crate::client::Target,
    },
    /// Read the config again and apply the difference (the same as SIGHUP); an invalid config changes nothing.
    Reload {
        #[command(flatten)]
        target: crate::client::Target,
    },
}

#[derive(Subcommand, Debug)]
enum ExportTo {
    /// Kubernetes: a Deployment (or Pod) with the graph as native sidecars, or in one container; a ConfigMap with the config; a Service for what listens.
    K8s {
        /// The config file.
        #[arg(long, short, default_value = "supervisor.toml")]
        config: PathBuf,
        /// `sidecars`: a container per component, what others depend on as native sidecars; `single`: one container running the whole graph.
        #[arg(long, value_enum, default_value_t = K8sMode::Sidecars)]
        mode: K8sMode,
        /// The image of every container (with `sundown` and the programs on its PATH).
        #[arg(long, default_value = "sundown:latest")]
        image: String,
        /// The objects' name and `app` label (default: the config's file name).
        #[arg(long)]
        name: Option<String>,
        /// The workload object.
        #[arg(long, value_enum, default_value_t = K8sKind::Deployment)]
        kind: K8sKind,
        /// Write the YAML here instead of to stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum K8sMode {
    Sidecars,
    Single,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum K8sKind {
    Deployment,
    Pod,
}

/// Parses the arguments, runs the command, returns the process exit code.
pub(crate) fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::Usage.code()
            } else {
                0
            };
        }
    };
    let logging = init_logging(cli.log_format);
    let live = logging.live.clone();
    let logs = logging.logs.clone();
    let command = cli.command.unwrap_or(Command::Run {
        config: PathBuf::from("supervisor.toml"),
        report: None,
        subreaper: false,
        only: None,
        socket: None,
    });
    let result = match command {
        Command::Run {
            config,
            report,
            subreaper,
            only,
            socket,
        } => crate::supervise::supervise(
            &config,
            crate::supervise::RunFlags {
                report,
                subreaper,
                only,
                socket,
            },
            live,
            logs,
        ),
        Command::Check { config } => check(&config),
        Command::Plan { config, strategy } => plan(&config, strategy.as_deref()),
        Command::Graph { config, format } => graph(&config, format),
        Command::Verify {
            report,
            config,
            before,
        } => verify(&report, config.as_deref(), &before),
        Command::Report {
            report,
            svg,
            html,
            width,
        } => show_report(&report, svg.as_deref(), html.as_deref(), width),
        Command::Status {
            target,
            json,
            ready,
        } => crate::client::status(&target, json, ready),
        Command::Export {
            to:
                ExportTo::K8s {
                    config,
                    mode,
                    image,
                    name,
                    kind,
                    output,
                },
        } => crate::export::k8s(&crate::export::Request {
            config: &config,
            mode: match mode {
                K8sMode::Sidecars => sundown::k8s::Mode::Sidecars,
                K8sMode::Single => sundown::k8s::Mode::Single,
            },
            image: &image,
            name: name.as_deref(),
            workload: match kind {
                K8sKind::Deployment => sundown::k8s::Workload::Deployment,
                K8sKind::Pod => sundown::k8s::Workload::Pod,
            },
            out: output,
        }),
        Command::Shutdown { target } => crate::client::shutdown(&target),
        Command::Stop { name, target } => crate::client::change(&target, "stop", Some(&name)),
        Command::Start { name, target } => crate::client::change(&target, "start", Some(&name)),
        Command::Restart { name, target } => crate::client::change(&target, "restart", Some(&name)),
        Command::Reload { target } => crate::client::change(&target, "reload", None),
        Command::Logs {
            name,
            target,
            follow,
        } => crate::client::logs(&target, &name, follow),
    };
    let code = result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::Usage.code()
    });
    let dropped = logging.dropped.dropped_lines();
    if dropped > 0 {
        tracing::warn!(
            "{dropped} log line(s) were dropped because stderr was not being read fast enough"
        );
    }
    code
}

/// The logging pipeline; dropping it flushes what is buffered (waiting at most ~1 s).
struct Logging {
    live: Option<StatusLine>,
    /// The components' recent output, for `sundown logs`.
    logs: sundown::logs::LogStore,
    dropped: tracing_appender::non_blocking::ErrorCounter,
    _flush: tracing_appender::non_blocking::WorkerGuard,
}

fn init_logging(format: LogFormat) -> Logging {
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi);
    // Text lines already start with the component's name ("db: ready"), so
    // its field would only repeat it; JSON keeps every field for machines.
    let text_fields =
        tracing_subscriber::fmt::format::debug_fn(|w, field, value| match field.name() {
            "component" | "stream" => Ok(()),
            "message" => write!(w, "{value:?}"),
            name => write!(w, " {name}={value:?}"),
        });
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let logs = sundown::logs::LogStore::default();
    let output = sundown::logs::OutputLayer(logs.clone());
    let _ = match (format, live.clone()) {
        (LogFormat::Text, Some(line)) => builder
            .fmt_fields(text_fields)
            .with_writer(line)
            .finish()
            .with(output)
            .try_init(),
        (LogFormat::Text, None) => builder
            .fmt_fields(text_fields)
            .with_writer(out)
            .finish()
            .with(output)
            .try_init(),
        (LogFormat::Json, _) => builder
            .with_writer(out)
            .json()
            .flatten_event(true)
            .finish()
            .with(output)
            .try_init(),
    };
    Logging {
        live,
        logs,
        dropped,
        _flush: flush,
    }
}

fn check(path: &Path) -> anyhow::Result<i32> {
    let Some(config) = load(path) else {
        return Ok(ExitCode::Usage.code());
    };
    let graph = Graph::new(&config);
    println!(
        "{}: ok: {} component(s), {} dependency edge(s), {} warning(s)",
        path.display(),
        graph.len(),
        graph.edges().count(),
        config.warnings.len()
    );
    Ok(0)
}

fn plan(path: &Path, strategy: Option<&str>) -> anyhow::Result<i32> {
    let Some(mut config) = load(path) else {
        return Ok(ExitCode::Usage.code());
    };
    let graph = Graph::new(&config);
    let Some(strategy) = strategy else {
        print!("{}", Plan::new(&config, &graph).display(&graph));
        return Ok(0);
    };
    let parse = |s: &str| serde_json::from_value::<Strategy>(serde_json::json!(s));
    config.supervisor.strategy = parse(strategy)?;
    print!("{}", Plan::new(&config, &graph).display(&graph));
    println!("compared, worst case (before shutdown_timeout applies):");
    for s in [Strategy::Phased, Strategy::Eager, Strategy::K8sSidecars] {
        config.supervisor.strategy = s;
        let p = Plan::new(&config, &graph);
        let phases = match s {
            Strategy::Eager => String::new(),
            Strategy::Phased => format!(" ({} phases)", p.phases.len()),
            Strategy::K8sSidecars => format!(
                " (the main containers, then {} sidecar(s) one at a time)",
                p.phases.len() - 1
            ),
        };
        println!(
            "  {:13} {}{phases}",
            s.to_string(),
            humantime::format_duration(p.worst_case(&graph))
        );
    }
    if strategy == "k8s-sidecars" {
        for (a, b) in Plan::serialised_sidecars(&graph) {
            println!(
                "serialised without a dependency: `{}` waits for `{}` to stop, although neither needs the other",
                graph.name(b),
                graph.name(a)
            );
        }
    }
    Ok(0)
}

fn graph(path: &Path, format: GraphFormat) -> anyhow::Result<i32> {
    let Some(config) = load(path) else {
        return Ok(ExitCode::Usage.code());
    };
    let graph = Graph::new(&config);
    print!(
        "{}",
        match format {
            GraphFormat::Mermaid => graph.to_mermaid(),
            GraphFormat::Dot => graph.to_dot(),
        }
    );
    Ok(0)
}

/// `report`: the timeline on stdout (coloured on a terminal unless
/// `NO_COLOR` is set), the SVG and HTML files when asked for.
fn show_report(
    path: &Path,
    svg: Option<&Path>,
    html: Option<&Path>,
    width: Option<u16>,
) -> anyhow::Result<i32> {
    use std::io::IsTerminal as _;
    use sundown::timeline::{render_html, render_svg, render_terminal};
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let report = ShutdownReport::from_json(&text)
        .with_context(|| format!("{} is not a sundown report", path.display()))?;
    let width = width
        .map(usize::from)
        .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .unwrap_or(100);
    let color = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let picture = render_terminal(&report, width, color);
    println!("{}", picture.trim_end_matches('\n'));
    let render: [fn(&ShutdownReport) -> String; 2] = [render_svg, render_html];
    for (out, render) in [svg, html].into_iter().zip(render) {
        if let Some(out) = out {
            std::fs::write(out, render(&report))
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("wrote {}", out.display());
        }
    }
    Ok(0)
}

fn verify(report_path: &Path, config: Option<&Path>, before: &[String]) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(report_path)
        .with_context(|| format!("cannot read {}", report_path.display()))?;
    let report = ShutdownReport::from_json(&text)
        .with_context(|| format!("{} is not a sundown report", report_path.display()))?;
    let mut violations: Vec<String> = Vec::new();
    // The edges to check: the config's when given (it may differ from
    // what was run), else the ones the report recorded.
    let (edges, found) = match config {
        Some(path) => {
            let Some(config) = load(path) else {
                return Ok(ExitCode::Usage.code());
            };
            for c in &config.components {
                if report.component(&c.name).is_none() {
                    violations.push(format!(
                        "`{}` is in {} but not in the report",
                        c.name,
                        path.display()
                    ));
                }
            }
            let edges: Vec<(&str, &str)> = config
                .components
                .iter()
                .flat_map(|c| {
                    c.depends_on
                        .iter()
                        .map(move |d| (c.name.as_str(), d.as_str()))
                })
                .collect();
            (edges.len(), report.edge_violations(edges))
        }
        None => (
            report.components.iter().map(|c| c.depends_on.len()).sum(),
            report.graph_violations(),
        ),
    };
    violations.extend(found.iter().map(ToString::to_string));
    for pair in before {
        let Some((a, b)) = pair.split_once(':') else {
            bail!("--before expects A:B, got `{pair}`");
        };
        if let Err(v) = report.check_stopped_before(a, b) {
            violations.push(v.to_string());
        }
    }
    if violations.is_empty() {
        println!(
            "ok: {} edge(s) and {} extra pair(s) respected; stop order: {}",
            edges,
            before.len(),
            report.stop_order().join(", ")
        );
        Ok(0)
    } else {
        for v in &violations {
            println!("violation: {v}");
        }
        println!("{} violation(s)", violations.len());
        Ok(1)
    }
}
