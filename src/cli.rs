//! The `sundown` command line: the binary edge, where library errors become
//! messages and exit codes.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand, ValueEnum};
use sundown::{Config, ExitCode, Graph, Plan, ShutdownReport, Supervisor, Trigger};
use tokio::signal::unix::{SignalKind, signal};

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
}

/// Parses the arguments, runs the command, returns the process exit code.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
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
    init_logging(cli.log_format);
    let command = cli.command.unwrap_or(Command::Run {
        config: PathBuf::from("supervisor.toml"),
        report: None,
    });
    let result = match command {
        Command::Run { config, report } => run_graph(&config, report),
        Command::Check { config } => check(&config),
        Command::Plan { config } => plan(&config),
        Command::Graph { config, format } => graph(&config, format),
        Command::Verify {
            report,
            config,
            before,
        } => verify(&report, config.as_deref(), &before),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::Usage.code()
    })
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Loads a config, printing its problems; `None` means exit 2.
fn load(path: &Path) -> Option<Config> {
    match Config::load(path) {
        Ok(config) => {
            for w in &config.warnings {
                eprintln!("{w}");
            }
            Some(config)
        }
        Err(e) => {
            eprintln!("{e}");
            None
        }
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

fn plan(path: &Path) -> anyhow::Result<i32> {
    let Some(config) = load(path) else {
        return Ok(ExitCode::Usage.code());
    };
    let graph = Graph::new(&config);
    print!("{}", Plan::new(&config, &graph).display(&graph));
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

fn verify(report_path: &Path, config: Option<&Path>, before: &[String]) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(report_path)
        .with_context(|| format!("cannot read {}", report_path.display()))?;
    let report = ShutdownReport::from_json(&text)
        .with_context(|| format!("{} is not a sundown report", report_path.display()))?;
    let mut violations: Vec<String> = Vec::new();
    let edges: Vec<(String, String)> = match config {
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
            config
                .components
                .iter()
                .flat_map(|c| c.depends_on.iter().map(|d| (c.name.clone(), d.clone())))
                .collect()
        }
        None => report
            .components
            .iter()
            .flat_map(|c| c.depends_on.iter().map(|d| (c.name.clone(), d.clone())))
            .collect(),
    };
    violations.extend(
        report
            .edge_violations(edges.iter().map(|(a, b)| (a.as_str(), b.as_str())))
            .into_iter()
            .map(|v| v.to_string()),
    );
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
            edges.len(),
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

fn run_graph(path: &Path, report_flag: Option<PathBuf>) -> anyhow::Result<i32> {
    let Some(config) = load(path) else {
        return Ok(ExitCode::Usage.code());
    };
    let report_path = report_flag.or_else(|| config.supervisor.report.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Install the handlers before anything starts: a signal during startup must count.
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let running = Supervisor::from_config(config).spawn();
        let handle = running.handle();
        let signals = tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                    _ = hup.recv() => {
                        tracing::warn!("SIGHUP received: config reload is not supported yet; ignoring it");
                        continue;
                    }
                };
                seen += 1;
                let trigger = Trigger::Signal(name.to_string());
                if seen == 1 {
                    tracing::info!("{name} received");
                    handle.shutdown(trigger);
                } else {
                    tracing::warn!("{name} received again: forcing the shutdown");
                    handle.force(trigger);
                }
            }
        });
        let report = running.wait().await;
        signals.abort();
        if let Some(path) = &report_path {
            match write_report(path, &report) {
                Ok(()) => tracing::info!("teardown report written to {}", path.display()),
                Err(e) => tracing::error!("cannot write the teardown report to {}: {e:#}", path.display()),
            }
        }
        Ok(report.exit_code)
    })
}

/// Writes next to the target and renames, so a reader never sees half a report.
fn write_report(path: &Path, report: &ShutdownReport) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
    f.write_all(report.to_json().as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
