//! The `sundown` command line: the binary edge, where library errors become
//! messages and exit codes.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};
use sundown::ExitCode;

use crate::inspect::{self, GraphFormat};
use crate::logging::LogFormat;

/// Starts components in dependency order and stops them in reverse, phase by
/// phase, with timeouts, escalation and a JSON teardown report.
#[derive(Parser, Debug)]
#[command(name = "sundown", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr (`RUST_LOG` sets the level, default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Enable the components of this profile (`profiles = [...]`); repeatable, added to `SUNDOWN_PROFILES`.
    #[arg(long = "profile", value_name = "NAME", global = true)]
    profiles: Vec<String>,
    #[command(subcommand)]
    command: Option<Command>,
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
        /// When this component ends by itself, stop the rest in order and exit with its exit code (overrides `exit_with` in the config).
        #[arg(long, value_name = "NAME")]
        exit_with: Option<String>,
    },
    /// Validate the config and print every problem with its location.
    Check {
        /// The config file.
        #[arg(long, short, default_value = "supervisor.toml")]
        config: PathBuf,
    },
    /// Print the config as it will run: `${…}` interpolated, env files merged into each process's env, defaults written out.
    Config {
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
        /// Print the JSON status (schema 2) instead of a table.
        #[arg(long)]
        json: bool,
        /// Print nothing; exit 0 only when every component is ready (a readiness probe).
        #[arg(long, conflicts_with = "json")]
        ready: bool,
    },
    /// A live full-screen view: components in graph order, the selected one's log, keys to stop/start/restart/reload (`?` lists them); needs a terminal (else exit 2).
    Top {
        #[command(flatten)]
        target: crate::client::Target,
    },
    /// Write the graph as manifests for another system.
    Export {
        #[command(subcommand)]
        to: ExportTo,
    },
    /// Print a component's recent output and messages (kept per component, `[supervisor] log_lines`), or every component's in time order.
    Logs {
        /// The component; without one, every component's lines in time
        /// order, each with its time and name.
        name: Option<String>,
        #[command(flatten)]
        target: crate::client::Target,
        /// Keep printing new lines until the supervisor exits.
        #[arg(long, short)]
        follow: bool,
        /// Only the last N kept lines.
        #[arg(short = 'n', long = "lines", value_name = "N")]
        lines: Option<usize>,
        /// Only the lines of the last DURATION (`5m`, `30s`, `1h`).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        since: Option<std::time::Duration>,
    },
    /// Block until every component is ready (the default) or NAME has completed; exit 3 at the timeout, naming what is not.
    Wait {
        #[command(flatten)]
        target: crate::client::Target,
        /// Wait until every component is ready (or has finished by itself): the default.
        #[arg(long, conflicts_with = "completed")]
        ready: bool,
        /// Wait until NAME has ended by itself with exit status 0.
        #[arg(long, value_name = "NAME")]
        completed: Option<String>,
        /// Give up after this long (exit 3).
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
    /// Print a shell completion script on stdout (see the README's install section).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout.
    Man,
    /// Ask a running supervisor to shut down in order (the same as SIGTERM).
    Shutdown {
        #[command(flatten)]
        target: crate::client::Target,
    },
    /// Stop a component and everything that depends on it (dependents first); the rest keeps running.
    Stop(crate::change::OfOne),
    /// Start a stopped component, after its stopped dependencies, and what `stop` took down with it.
    Start(crate::change::OfOne),
    /// Stop a component and its dependents, then start them again in order.
    Restart(crate::change::OfOne),
    /// Read the config again and apply the difference (the same as SIGHUP); an invalid config changes nothing.
    Reload {
        /// Only print how the config differs and what would stop and start; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        target: crate::client::Target,
    },
    /// Run a component as N instances (NAME.1 … NAME.N): new ones start after their dependencies, removed ones stop; the file is not changed, so a later reload runs its `replicas` again.
    Scale {
        /// The component (as written in the config, without `.i`).
        name: String,
        /// How many instances (1 to 1000).
        replicas: u32,
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
    let args: Vec<OsString> = args.into_iter().collect();
    if let Some(code) = crate::completions::names_command(&args) {
        return code;
    }
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
    crate::startup::enable_profiles(&cli.profiles);
    let logging = crate::logging::init(cli.log_format);
    let live = logging.live.clone();
    let logs = logging.logs.clone();
    let command = cli.command.unwrap_or(Command::Run {
        config: PathBuf::from("supervisor.toml"),
        report: None,
        subreaper: false,
        only: None,
        socket: None,
        exit_with: None,
    });
    if !matches!(command, Command::Run { .. }) {
        crate::startup::quiet_on_closed_stdout();
    }
    let result = match command {
        Command::Run {
            config,
            report,
            subreaper,
            only,
            socket,
            exit_with,
        } => crate::supervise::supervise(
            &config,
            crate::supervise::RunFlags {
                report,
                subreaper,
                only,
                socket,
                exit_with,
            },
            live,
            logs,
        ),
        Command::Check { config } => inspect::check(&config),
        Command::Config { config } => inspect::resolved(&config),
        Command::Plan { config, strategy } => inspect::plan(&config, strategy.as_deref()),
        Command::Graph { config, format } => inspect::graph(&config, format),
        Command::Verify {
            report,
            config,
            before,
        } => inspect::verify(&report, config.as_deref(), &before),
        Command::Report {
            report,
            svg,
            html,
            width,
        } => inspect::show_report(&report, svg.as_deref(), html.as_deref(), width),
        Command::Status {
            target,
            json,
            ready,
        } => crate::client::status(&target, json, ready),
        Command::Top { target } => crate::top::top(&target),
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
        Command::Wait {
            target,
            ready: _,
            completed,
            timeout,
        } => crate::wait::wait(&target, completed.as_deref(), timeout),
        Command::Completions { shell } => crate::completions::completions(Cli::command(), shell),
        Command::Man => crate::completions::man(Cli::command()),
        Command::Shutdown { target } => crate::client::shutdown(&target),
        Command::Stop(c) => crate::change::one(&c, "stop"),
        Command::Start(c) => crate::change::one(&c, "start"),
        Command::Restart(c) => crate::change::one(&c, "restart"),
        Command::Reload { dry_run, target } => {
            crate::change::change(&target, "reload", None, dry_run)
        }
        Command::Scale {
            name,
            replicas,
            target,
        } => crate::change::scale(&target, &name, replicas),
        Command::Logs {
            name,
            target,
            follow,
            lines,
            since,
        } => crate::client::logs(
            &target,
            sundown::control::LogQuery {
                name,
                last: lines,
                since,
                follow,
            },
        ),
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
