//! The commands that read files and need no running supervisor: `check`,
//! `config`, `plan`, `graph`, `report` and `verify`.

use std::path::Path;

use anyhow::{Context as _, bail};
use clap::ValueEnum;
use sundown::{ExitCode, Graph, Plan, ShutdownReport, Strategy};

use crate::config_file::load;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum GraphFormat {
    Mermaid,
    Dot,
}

pub(crate) fn check(path: &Path) -> anyhow::Result<i32> {
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
    if let Some(name) = config.exit_with() {
        println!("{}", exit_with_line(name));
    }
    print_skipped(&config);
    print_log_files(&config);
    Ok(0)
}

/// The components a profile left out, so that a missing one is explained,
/// and those run as several instances, so that `worker.2` is too.
fn print_skipped(config: &sundown::Config) {
    for (name, n) in &config.replicas {
        println!("replicas: `{name}` runs as {n} instance(s), {name}.1 … {name}.{n}");
    }
    for (name, profiles) in &config.skipped {
        println!(
            "not run: `{name}` (profiles: {}; enable one with --profile)",
            profiles.join(", ")
        );
    }
}

/// Where each component's lines are kept, and which output is kept off stderr.
fn print_log_files(config: &sundown::Config) {
    for c in &config.components {
        let quiet = if c.log.stderr {
            ""
        } else {
            "; output not on sundown's stderr (log_stderr = false)"
        };
        match &c.log.file {
            Some(f) => println!(
                "log file: `{}` → {} (rotated at {} bytes, {} backup(s)){quiet}",
                c.name,
                f.path.display(),
                f.max_size,
                f.backups
            ),
            None if !quiet.is_empty() => {
                println!("log file: `{}`: none{quiet}", c.name)
            }
            None => {}
        }
    }
}

fn exit_with_line(name: &str) -> String {
    format!(
        "exit_with: `{name}`: when it ends by itself, the rest stops in order and sundown exits with its exit code"
    )
}

/// `sundown config`: the resolved TOML on stdout, problems as `check` prints them.
pub(crate) fn resolved(path: &Path) -> anyhow::Result<i32> {
    match sundown::Config::load_resolved(path, &crate::config_file::kinds()) {
        Ok((config, text)) => {
            for w in &config.warnings {
                eprintln!("{w}");
            }
            print!("{text}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::Usage.code())
        }
    }
}

pub(crate) fn plan(path: &Path, strategy: Option<&str>) -> anyhow::Result<i32> {
    let Some(mut config) = load(path) else {
        return Ok(ExitCode::Usage.code());
    };
    let graph = Graph::new(&config);
    let Some(strategy) = strategy else {
        print!("{}", Plan::new(&config, &graph).display(&graph));
        print!("{}", conditions(&config));
        if let Some(name) = config.exit_with() {
            println!("{}", exit_with_line(name));
        }
        print_skipped(&config);
        print_log_files(&config);
        return Ok(0);
    };
    let parse = |s: &str| serde_json::from_value::<Strategy>(serde_json::json!(s));
    config.supervisor.strategy = parse(strategy)?;
    print!("{}", Plan::new(&config, &graph).display(&graph));
    print!("{}", conditions(&config));
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

/// The one-shots and the edges that wait for something other than ready,
/// which the start levels alone do not show.
fn conditions(config: &sundown::Config) -> String {
    let mut out = String::new();
    let oneshots: Vec<&str> = config
        .components
        .iter()
        .filter(|c| c.oneshot)
        .map(|c| c.name.as_str())
        .collect();
    if !oneshots.is_empty() {
        out += &format!(
            "one-shots (run to completion, ready once completed, not stopped once ended): {}\n",
            oneshots.join(", ")
        );
    }
    for c in config
        .components
        .iter()
        .filter(|c| !c.conditions.is_empty())
    {
        let waits: Vec<String> = c
            .conditions
            .iter()
            .map(|(d, k)| format!("`{d}` {k}"))
            .collect();
        out += &format!("condition: `{}` starts once {}\n", c.name, waits.join(", "));
    }
    out
}

pub(crate) fn graph(path: &Path, format: GraphFormat) -> anyhow::Result<i32> {
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
pub(crate) fn show_report(
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

pub(crate) fn verify(
    report_path: &Path,
    config: Option<&Path>,
    before: &[String],
) -> anyhow::Result<i32> {
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
