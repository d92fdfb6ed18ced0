//! `sundown export k8s`: the config's graph as Kubernetes manifests (see
//! the library's `k8s` module for the mapping).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sundown::k8s::{self, Mode, Options, Workload};
use sundown::{ExitCode, Graph};

/// What `export k8s` was asked for.
pub(crate) struct Request<'a> {
    pub(crate) config: &'a Path,
    pub(crate) mode: Mode,
    pub(crate) image: &'a str,
    pub(crate) name: Option<&'a str>,
    pub(crate) workload: Workload,
    pub(crate) out: Option<PathBuf>,
}

pub(crate) fn k8s(r: &Request<'_>) -> anyhow::Result<i32> {
    let (config, resolved) =
        match sundown::Config::load_resolved(r.config, &crate::config_file::kinds()) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::Usage.code());
            }
        };
    let mut text = std::fs::read_to_string(r.config)
        .with_context(|| format!("cannot read {}", r.config.display()))?;
    // The pod has neither the included files, the env files nor this
    // machine's environment: it gets the config as resolved here. A config
    // without any of them keeps its own text, comments included.
    let includes = toml::from_str::<toml::Table>(&text).is_ok_and(|t| t.contains_key("include"));
    if includes || text.contains("env_file") || text.contains("${") || text.contains("$$") {
        text = resolved;
    }
    let file_name = r.config.file_name().map_or_else(
        || "supervisor.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let stem = r
        .config
        .file_stem()
        .map_or_else(|| "supervisor".into(), |n| n.to_string_lossy().into_owned());
    let opts = Options {
        mode: r.mode,
        image: r.image.to_string(),
        name: r.name.map_or(stem, str::to_string),
        workload: r.workload,
        file_name,
        text,
        config_dir: std::path::absolute(r.config)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default(),
    };
    let graph = Graph::new(&config);
    let export = match k8s::export(&config, &graph, &opts) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}: error: {e}", r.config.display());
            return Ok(ExitCode::Usage.code());
        }
    };
    for w in &export.warnings {
        eprintln!("warning: {w}");
    }
    match &r.out {
        Some(path) => std::fs::write(path, &export.yaml)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{}", export.yaml),
    }
    Ok(0)
}
