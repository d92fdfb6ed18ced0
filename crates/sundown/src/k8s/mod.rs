//! `sundown export k8s`: the graph as Kubernetes objects, built from the
//! typed structs of `k8s-openapi` (well-formed by construction) and written
//! as YAML with `serde_yaml_ng`, the maintained fork of the deprecated
//! `serde_yaml` with the same API and output (`serde_yml`, the other
//! fork, was abandoned after soundness problems).
//!
//! Two shapes. `sidecars`: every component something depends on is a
//! native sidecar (an init container with `restartPolicy: Always`), listed
//! dependencies first; the rest are the main containers; each container
//! runs `sundown run --only NAME`. Kubernetes then starts them in that
//! order and stops the mains, then the sidecars one by one, last first: a
//! line, not the DAG (see [`crate::Strategy::K8sSidecars`]). `single`: one
//! container runs the whole graph with `sundown run` as PID 1, keeping the
//! exact order and phase timeouts.
//!
//! A one-shot (`oneshot = true`) is a plain init container in `sidecars`
//! mode, in dependency order among the sidecars: Kubernetes starts the next
//! init container only once it has exited 0, which is `condition =
//! "completed"`. Kubernetes has no `started` condition: every sidecar
//! after another waits for its startup probe, i.e. for it to be ready.
//!
//! The grace period is computed from the plan, and how is written above
//! the objects. Stop actions are never put in a sidecar's `preStop`:
//! Kubernetes runs every container's `preStop` as soon as the pod begins
//! to terminate, so a sidecar stopped there would go down with the mains.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Pod, PodSpec, PodTemplateSpec, Service, ServiceSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::config::Config;
use crate::graph::Graph;

mod pod;
mod probes;

pub use pod::SOCKET;

/// Where the config is mounted in every container.
pub const CONFIG_DIR: &str = "/etc/sundown";

/// How the graph maps onto a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A container per component, the depended-on ones as native sidecars.
    Sidecars,
    /// One container running the whole graph.
    Single,
}

/// The workload object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// A `Deployment` of one replica.
    Deployment,
    /// A bare `Pod`.
    Pod,
}

/// What to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The pod's shape.
    pub mode: Mode,
    /// The image every container runs; it must have `sundown` (and the
    /// programs of `process` components) on its `PATH`.
    pub image: String,
    /// The name of the objects and their `app` label.
    pub name: String,
    /// Deployment or Pod.
    pub workload: Workload,
    /// The config's file name, mounted at [`CONFIG_DIR`].
    pub file_name: String,
    /// The config's text, shipped in a ConfigMap.
    pub text: String,
    /// The config's directory here, against which its relative paths were
    /// resolved: in the pod that is the read-only ConfigMap.
    pub config_dir: std::path::PathBuf,
}

/// Why the graph cannot be exported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// A name Kubernetes does not take, even after lowering it and
    /// replacing `_` and `.` with `-`.
    #[error(
        "`{0}` cannot be a Kubernetes name (at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit)"
    )]
    BadName(String),
    /// The objects' name does not begin with a letter, as a Service's must.
    #[error(
        "`{0}` cannot name the objects: a Service's name must begin with a letter (pass --name)"
    )]
    BadAppName(String),
    /// Two components map to the same container name.
    #[error("components `{0}` and `{1}` would both be the container `{2}`; rename one")]
    Collision(String, String, String),
}

/// The YAML of every object, and what the user should know about it.
#[derive(Debug, Clone)]
pub struct Export {
    /// The manifests: a comment with the grace period's derivation, then
    /// the documents.
    pub yaml: String,
    /// Things the export could not carry over, or numbers worth a look.
    pub warnings: Vec<String>,
    /// The pod's `terminationGracePeriodSeconds`.
    pub grace_seconds: i64,
}

/// What each component with `replicas` became: instances inside the one
/// pod, not pod replicas, since the Deployment's `replicas` would copy the
/// whole graph.
fn replica_notes(config: &Config, mode: Mode) -> Vec<String> {
    config
        .replicas
        .iter()
        .map(|(name, n)| {
            let k = kube_name(name).unwrap_or_else(|_| name.clone());
            match mode {
                Mode::Sidecars => format!(
                    "`{name}` (replicas = {n}) is {n} containers {k}-1 … {k}-{n} in the pod, each `sundown run --only {name}.i` with SUNDOWN_REPLICA=i; the Deployment keeps 1 replica, since more would copy the whole graph"
                ),
                Mode::Single => format!(
                    "`{name}` (replicas = {n}) runs as {n} processes {name}.1 … {name}.{n} inside the container; the Deployment keeps 1 replica, since more would copy the whole graph"
                ),
            }
        })
        .collect()
}

/// `name` as a DNS-1123 label, as container, object and port names must be.
pub fn kube_name(name: &str) -> Result<String, ExportError> {
    let n: String = name
        .chars()
        .map(|c| match c {
            '_' | '.' => '-',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if n.is_empty() || n.len() > 63 || !edge_ok(n.chars().next()) || !edge_ok(n.chars().last()) {
        return Err(ExportError::BadName(name.to_string()));
    }
    Ok(n)
}

pub(crate) fn secs_up(d: Duration) -> i64 {
    let whole = d.as_secs() as i64;
    if d.subsec_nanos() > 0 {
        whole + 1
    } else {
        whole
    }
}

pub(crate) fn fmt(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Builds the objects for a validated config.
pub fn export(config: &Config, graph: &Graph, opts: &Options) -> Result<Export, ExportError> {
    let app = kube_name(&opts.name)?;
    // A Service's name must also begin with a letter.
    if !app.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(ExportError::BadAppName(opts.name.clone()));
    }
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for c in &config.components {
        let k = kube_name(&c.name)?;
        if let Some(other) = seen.insert(k.clone(), &c.name) {
            return Err(ExportError::Collision(other.to_string(), c.name.clone(), k));
        }
    }
    let mut b = pod::Builder {
        config,
        opts,
        config_path: format!("{CONFIG_DIR}/{}", opts.file_name),
        notes: Vec::new(),
        warnings: pod_warnings(config, opts),
    };
    let (init, mains, grace, derivation) = match opts.mode {
        Mode::Sidecars => b.sidecars(graph)?,
        Mode::Single => b.single(graph),
    };
    let pod::Builder {
        mut warnings,
        mut notes,
        ..
    } = b;
    notes.extend(replica_notes(config, opts.mode));
    // In one container sundown's own budget bounds the stop, and the grace
    // period is that plus a margin by construction.
    if opts.mode == Mode::Sidecars && grace > secs_up(config.supervisor.shutdown_timeout) {
        warnings.push(format!(
            "terminationGracePeriodSeconds is {grace}, more than shutdown_timeout ({}): Kubernetes stops the sidecars one at a time, where sundown stops independent components together",
            fmt(config.supervisor.shutdown_timeout),
        ));
    }
    let labels = BTreeMap::from([("app".to_string(), app.clone())]);
    let pod_spec = PodSpec {
        init_containers: (!init.is_empty()).then_some(init),
        containers: mains,
        termination_grace_period_seconds: Some(grace),
        volumes: Some(vec![Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: format!("{app}-config"),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let meta = |name: String| ObjectMeta {
        name: Some(name),
        labels: Some(labels.clone()),
        ..Default::default()
    };
    let mut docs = Vec::new();
    let config_map = ConfigMap {
        metadata: meta(format!("{app}-config")),
        data: Some(BTreeMap::from([(
            opts.file_name.clone(),
            opts.text.clone(),
        )])),
        ..Default::default()
    };
    docs.push(yaml(&config_map));
    match opts.workload {
        Workload::Deployment => docs.push(yaml(&Deployment {
            metadata: meta(app.clone()),
            spec: Some(DeploymentSpec {
                replicas: Some(1),
                selector: LabelSelector {
                    match_labels: Some(labels.clone()),
                    ..Default::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels.clone()),
                        ..Default::default()
                    }),
                    spec: Some(pod_spec),
                },
                ..Default::default()
            }),
            ..Default::default()
        })),
        Workload::Pod => docs.push(yaml(&Pod {
            metadata: meta(app.clone()),
            spec: Some(pod_spec),
            ..Default::default()
        })),
    }
    let ports = probes::service_ports(config);
    if !ports.is_empty() {
        docs.push(yaml(&Service {
            metadata: meta(app.clone()),
            spec: Some(ServiceSpec {
                selector: Some(labels),
                ports: Some(ports),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Generated by `sundown export k8s --mode {}` from {}.",
        match opts.mode {
            Mode::Sidecars => "sidecars",
            Mode::Single => "single",
        },
        opts.file_name
    );
    let _ = writeln!(out, "# terminationGracePeriodSeconds: {grace}");
    for line in derivation {
        let _ = writeln!(out, "#   {line}");
    }
    for n in &notes {
        let _ = writeln!(out, "# note: {n}");
    }
    out.push_str(&docs.join("---\n"));
    Ok(Export {
        yaml: out,
        warnings,
        grace_seconds: grace,
    })
}

/// What works on this machine and will not in the pod.
fn pod_warnings(config: &Config, opts: &Options) -> Vec<String> {
    let mut w = Vec::new();
    let in_config_dir = |what: &str, p: &std::path::Path, w: &mut Vec<String>| {
        if p.is_relative() || p.starts_with(&opts.config_dir) {
            w.push(format!(
                "{what} is relative to the config, which is a read-only ConfigMap at {CONFIG_DIR} in the pod; give it an absolute path on a writable volume"
            ));
        }
    };
    if let Some(r) = &config.supervisor.report {
        in_config_dir("[supervisor] report", r, &mut w);
    }
    for c in &config.components {
        let name = &c.name;
        let settings = c.kind.settings();
        for (key, path) in &settings.k8s().data_paths {
            in_config_dir(&format!("{name}: {key}"), path, &mut w);
        }
        // The pod's own log is its containers' stdout (`kubectl logs`); a
        // file is only worth keeping on a volume.
        if let Some(f) = &c.log.file {
            in_config_dir(&format!("{name}: log_file"), &f.path, &mut w);
        }
        let listen = settings.serves();
        if let Some(addr) = listen.filter(|a| a.ip().is_loopback()) {
            w.push(format!(
                "{name}: listens on {addr}; in a pod, containers share localhost, but the kubelet's probes and the Service reach the pod's IP: listen on 0.0.0.0:{}",
                addr.port()
            ));
        }
    }
    w
}

fn yaml(value: &impl serde::Serialize) -> String {
    // The typed objects always serialize; a failure would be a bug in them.
    serde_yaml_ng::to_string(value).unwrap_or_else(|e| format!("# cannot serialize: {e}\n"))
}
