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
//! The grace period is computed from the plan, and how is written above
//! the objects. Stop actions are never put in a sidecar's `preStop`:
//! Kubernetes runs every container's `preStop` as soon as the pod begins
//! to terminate, so a sidecar stopped there would go down with the mains.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar, ExecAction, HTTPGetAction,
    Lifecycle, LifecycleHandler, Pod, PodSpec, PodTemplateSpec, Probe, Service, ServicePort,
    ServiceSpec, SleepAction, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::config::{Check, ComponentSpec, Config, KindSpec, ProbeSpec, Strategy};
use crate::graph::Graph;
use crate::plan::Plan;

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

fn secs_up(d: Duration) -> i64 {
    let whole = d.as_secs() as i64;
    if d.subsec_nanos() > 0 {
        whole + 1
    } else {
        whole
    }
}

fn fmt(d: Duration) -> String {
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
    let mut warnings = pod_warnings(config, opts);
    let mut notes = Vec::new();
    let config_path = format!("{CONFIG_DIR}/{}", opts.file_name);
    let (init, mains, grace, derivation) = match opts.mode {
        Mode::Sidecars => sidecars(config, graph, opts, &config_path, &mut notes, &mut warnings)?,
        Mode::Single => single(config, graph, opts, &config_path),
    };
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
    let ports = service_ports(config);
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
        let listen = match &c.kind {
            KindSpec::Http(h) => Some(h.listen),
            KindSpec::Redis(r) => {
                if let Some(p) = &r.aof {
                    in_config_dir(&format!("{name}: aof"), p, &mut w);
                }
                Some(r.listen)
            }
            KindSpec::Postgres(p) => {
                if let Some(d) = &p.data {
                    in_config_dir(&format!("{name}: data"), d, &mut w);
                }
                Some(p.listen)
            }
            _ => None,
        };
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

type Built = (Vec<Container>, Vec<Container>, i64, Vec<String>);

fn sidecars(
    config: &Config,
    graph: &Graph,
    opts: &Options,
    config_path: &str,
    notes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Built, ExportError> {
    let (side, main) = graph.as_sidecars();
    let mut init = Vec::new();
    for &i in &side {
        let c = &config.components[i];
        let mut k = container(config, c, opts, config_path, notes, warnings)?;
        k.restart_policy = Some("Always".into());
        // A sidecar's readiness gates the next one's start: a startup probe;
        // it still counts for the pod's readiness after that.
        k.startup_probe = k.readiness_probe.clone().map(|mut p| {
            p.failure_threshold = startup_failures(c);
            p
        });
        init.push(k);
    }
    let mut mains = Vec::new();
    let mut drain = Duration::ZERO;
    for &i in &main {
        let c = &config.components[i];
        let mut k = container(config, c, opts, config_path, notes, warnings)?;
        if let KindSpec::Http(h) = &c.kind
            && !h.drain_delay.is_zero()
        {
            // Endpoints are removed while this sleeps, before the listener closes.
            k.lifecycle = Some(Lifecycle {
                pre_stop: Some(LifecycleHandler {
                    sleep: Some(SleepAction {
                        seconds: secs_up(h.drain_delay),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            });
            drain = drain.max(Duration::from_secs(secs_up(h.drain_delay) as u64));
        }
        mains.push(k);
    }
    let longest_main = main
        .iter()
        .map(|&i| config.components[i].stop_timeout)
        .max()
        .unwrap_or_default();
    let sidecar_sum: Duration = side
        .iter()
        .map(|&i| config.components[i].stop_timeout)
        .sum();
    let total = drain + longest_main + sidecar_sum;
    let names = |v: &[usize]| -> String {
        v.iter()
            .rev()
            .map(|&i| {
                format!(
                    "{} {}",
                    graph.name(i),
                    fmt(config.components[i].stop_timeout)
                )
            })
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let derivation = vec![
        format!(
            "= preStop drain {} + longest main container stop {} + every sidecar's stop in turn {}",
            fmt(drain),
            fmt(longest_main),
            fmt(sidecar_sum)
        ),
        format!(
            "  (sidecars, last first: {}; Kubernetes sends each SIGTERM only once the later ones have exited)",
            if side.is_empty() {
                "none".into()
            } else {
                names(&side)
            }
        ),
    ];
    Ok((init, mains, secs_up(total), derivation))
}

fn single(config: &Config, graph: &Graph, opts: &Options, config_path: &str) -> Built {
    let plan = Plan::new(config, graph);
    let worst = plan
        .worst_case(graph)
        .min(config.supervisor.shutdown_timeout);
    let margin = crate::KILL_GRACE;
    let exec = |extra: &[&str]| Probe {
        exec: Some(ExecAction {
            command: Some(
                ["sundown", "status", "--socket", SOCKET]
                    .iter()
                    .chain(extra)
                    .map(|s| s.to_string())
                    .collect(),
            ),
        }),
        period_seconds: Some(5),
        timeout_seconds: Some(3),
        ..Default::default()
    };
    let ports = container_ports(config, None);
    let k = Container {
        name: "sundown".into(),
        image: Some(opts.image.clone()),
        command: Some(
            [
                "sundown",
                "run",
                "--config",
                config_path,
                "--socket",
                SOCKET,
            ]
            .map(String::from)
            .to_vec(),
        ),
        ports: (!ports.is_empty()).then_some(ports),
        readiness_probe: Some(exec(&["--ready"])),
        liveness_probe: Some(Probe {
            failure_threshold: Some(3),
            ..exec(&[])
        }),
        volume_mounts: Some(vec![config_mount()]),
        ..Default::default()
    };
    let how = match plan.strategy {
        Strategy::Eager => "longest chain of stop timeouts",
        _ => "sum of phase timeouts",
    };
    let derivation = vec![format!(
        "= sundown's worst case {} ({how}, at most shutdown_timeout {}) + margin {} for the last kills",
        fmt(plan.worst_case(graph)),
        fmt(config.supervisor.shutdown_timeout),
        fmt(margin)
    )];
    (Vec::new(), vec![k], secs_up(worst + margin), derivation)
}

/// Where each container's sundown serves its control socket, given on
/// the command line rather than derived from the config's path: in a
/// ConfigMap volume that path runs through a `..data` link that changes
/// with every update, and the probes must find the socket all the same.
/// The config's own directory is read-only.
pub const SOCKET: &str = "/tmp/sundown/control.sock";

fn config_mount() -> VolumeMount {
    VolumeMount {
        name: "config".into(),
        mount_path: CONFIG_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    }
}

/// The container running one component with `run --only`.
fn container(
    config: &Config,
    c: &ComponentSpec,
    opts: &Options,
    config_path: &str,
    notes: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Container, ExportError> {
    let command = [
        "sundown",
        "run",
        "--only",
        &c.name,
        "--config",
        config_path,
        "--socket",
        SOCKET,
    ]
    .map(String::from)
    .to_vec();
    let mut env = Vec::new();
    let mut working_dir = None;
    let (ready, liveness) = match &c.kind {
        KindSpec::Process(p) => {
            env.extend(p.env.iter().map(|(k, v)| EnvVar {
                name: k.clone(),
                value: Some(v.clone()),
                ..Default::default()
            }));
            working_dir = p.working_dir.as_ref().map(|d| d.display().to_string());
            let mut ready = p.ready.as_ref().and_then(|s| probe(&c.name, s, warnings));
            if let Some(Check::Log(re)) = p.ready.as_ref().map(|s| &s.check) {
                // Where sundown knows a port, connecting is the next best sign.
                let port = listen_port(c);
                notes.push(format!(
                    "{}: its log probe (/{}/) has no Kubernetes equivalent; {}",
                    c.name,
                    re.as_str(),
                    match port {
                        Some(port) => format!("a tcp probe of port {port} stands in for it"),
                        None => "sundown knows no port of it, so the container has no probe and Kubernetes counts it as started and ready at once".into(),
                    }
                ));
                ready = port.map(tcp);
            }
            let live = p
                .liveness
                .as_ref()
                .and_then(|s| probe(&c.name, s, warnings));
            (ready, live)
        }
        KindSpec::Http(h) => (
            Some(Probe {
                http_get: Some(HTTPGetAction {
                    path: Some("/readyz".into()),
                    port: IntOrString::Int(h.listen.port().into()),
                    ..Default::default()
                }),
                period_seconds: Some(1),
                ..Default::default()
            }),
            None,
        ),
        KindSpec::Redis(r) => (Some(tcp(r.listen.port())), None),
        KindSpec::Postgres(p) => (Some(tcp(p.listen.port())), None),
        KindSpec::Sim(_) | KindSpec::WorkerPool(_) => (None, None),
    };
    env.sort_by(|a, b| a.name.cmp(&b.name));
    let ports = container_ports(config, Some(c));
    Ok(Container {
        name: kube_name(&c.name)?,
        image: Some(opts.image.clone()),
        command: Some(command),
        env: (!env.is_empty()).then_some(env),
        working_dir,
        ports: (!ports.is_empty()).then_some(ports),
        readiness_probe: ready,
        liveness_probe: liveness,
        volume_mounts: Some(vec![config_mount()]),
        ..Default::default()
    })
}

fn tcp(port: u16) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(port.into()),
            ..Default::default()
        }),
        period_seconds: Some(1),
        ..Default::default()
    }
}

/// How many failed startup checks fit in the component's readiness budget.
fn startup_failures(c: &ComponentSpec) -> Option<i32> {
    let KindSpec::Process(p) = &c.kind else {
        return Some(30);
    };
    let spec = p.ready.as_ref()?;
    let window = spec.ready_timeout.saturating_sub(spec.start_period);
    let period = spec.interval.max(Duration::from_secs(1));
    Some(
        (window.as_secs_f64() / period.as_secs_f64())
            .ceil()
            .max(1.0) as i32,
    )
}

/// A sundown probe as a Kubernetes one; `None` for a `log` probe, which
/// has no equivalent.
fn probe(name: &str, spec: &ProbeSpec, warnings: &mut Vec<String>) -> Option<Probe> {
    let mut p = Probe {
        period_seconds: Some(secs_up(spec.interval).max(1) as i32),
        timeout_seconds: Some(secs_up(spec.timeout).max(1) as i32),
        initial_delay_seconds: (!spec.start_period.is_zero())
            .then(|| secs_up(spec.start_period) as i32),
        failure_threshold: Some(spec.failure_threshold.max(1) as i32),
        ..Default::default()
    };
    match &spec.check {
        Check::Tcp(addr) => {
            let (host, port) = split_addr(addr)?;
            loopback_warning(name, &host, warnings);
            p.tcp_socket = Some(TCPSocketAction {
                host: (!is_local(&host)).then_some(host),
                port: IntOrString::Int(port.into()),
            });
        }
        Check::Http { url, status } => {
            let uri: hyper::Uri = url.parse().ok()?;
            loopback_warning(name, uri.host().unwrap_or_default(), warnings);
            if !(200..400).contains(status) {
                warnings.push(format!(
                    "{name}: its http probe wants status {status}; Kubernetes counts only 200-399 as success"
                ));
            }
            let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
            p.http_get = Some(HTTPGetAction {
                host: (!is_local(host)).then(|| host.to_string()),
                path: Some(uri.path_and_query().map_or("/", |q| q.as_str()).to_string()),
                port: IntOrString::Int(uri.port_u16().unwrap_or(80).into()),
                ..Default::default()
            });
        }
        Check::Exec(argv) => {
            p.exec = Some(ExecAction {
                command: Some(argv.clone()),
            })
        }
        // The caller says what stands in for it.
        Check::Log(_) => return None,
    }
    Some(p)
}

fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    Some((
        host.trim_matches(['[', ']']).to_string(),
        port.parse().ok()?,
    ))
}

/// A host that means "this machine": in a pod, the pod itself, which is
/// where the kubelet probes by default.
fn is_local(host: &str) -> bool {
    matches!(
        host,
        "127.0.0.1" | "localhost" | "::1" | "0.0.0.0" | "::" | ""
    )
}

fn loopback_warning(name: &str, host: &str, warnings: &mut Vec<String>) {
    if matches!(host, "127.0.0.1" | "localhost" | "::1") {
        warnings.push(format!(
            "{name}: its probe checks {host}; the kubelet probes the pod's IP, so the program must listen on 0.0.0.0"
        ));
    }
}

/// The port a component listens on, if sundown knows it.
fn listen_port(c: &ComponentSpec) -> Option<u16> {
    match &c.kind {
        KindSpec::Http(h) => Some(h.listen.port()),
        KindSpec::Redis(r) => Some(r.listen.port()),
        KindSpec::Postgres(p) => Some(p.listen.port()),
        // A probe that connects says where it listens.
        KindSpec::Process(p) => [&p.ready, &p.liveness]
            .into_iter()
            .flatten()
            .find_map(|probe| {
                // A probe of another host says nothing of this component's ports.
                let (host, port) = match &probe.check {
                    Check::Tcp(addr) => split_addr(addr)?,
                    Check::Http { url, .. } => {
                        let uri = url.parse::<hyper::Uri>().ok()?;
                        (
                            uri.host()?.trim_matches(['[', ']']).to_string(),
                            uri.port_u16()?,
                        )
                    }
                    _ => return None,
                };
                is_local(&host).then_some(port)
            }),
        KindSpec::Sim(_) | KindSpec::WorkerPool(_) => None,
    }
}

/// Every component's port, each port once, named after its component
/// where that makes a valid and unique port name (at most 15 characters,
/// a letter, no `--`), else `p<port>`.
fn ports(config: &Config) -> Vec<(String, u16)> {
    let mut out: Vec<(String, u16)> = Vec::new();
    for c in &config.components {
        let Some(port) = listen_port(c) else {
            continue;
        };
        if out.iter().any(|(_, p)| *p == port) {
            continue;
        }
        let mut name: String = kube_name(&c.name)
            .unwrap_or_default()
            .chars()
            .take(15)
            .collect();
        while name.contains("--") {
            name = name.replace("--", "-");
        }
        let name = name.trim_matches('-').to_string();
        let valid = name.chars().any(|c| c.is_ascii_lowercase());
        let name = if valid && !out.iter().any(|(n, _)| *n == name) {
            name
        } else {
            format!("p{port}")
        };
        out.push((name, port));
    }
    out
}

fn container_ports(config: &Config, c: Option<&ComponentSpec>) -> Vec<ContainerPort> {
    let mine = c.and_then(listen_port);
    ports(config)
        .into_iter()
        .filter(|(_, p)| c.is_none() || Some(*p) == mine)
        .map(|(name, port)| ContainerPort {
            container_port: port.into(),
            name: Some(name),
            ..Default::default()
        })
        .collect()
}

fn service_ports(config: &Config) -> Vec<ServicePort> {
    ports(config)
        .into_iter()
        .map(|(name, port)| ServicePort {
            name: Some(name),
            port: port.into(),
            target_port: Some(IntOrString::Int(port.into())),
            ..Default::default()
        })
        .collect()
}
