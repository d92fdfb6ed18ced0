//! The pod's containers: one per component (native sidecars, then the
//! mains), or one for the whole graph, and the grace period each shape needs.

use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, EnvVar, ExecAction, Lifecycle, LifecycleHandler, Probe, SleepAction, VolumeMount,
};

use super::probes::{container_ports, hinted, listen_port, probe, startup_failures, tcp};
use super::{CONFIG_DIR, ExportError, Options, fmt, kube_name, secs_up};
use crate::config::{ComponentSpec, Config, Strategy};
use crate::graph::Graph;
use crate::plan::Plan;
use crate::process::{Check, ProcessSpec};

/// What the containers are built from, and what is learnt on the way.
pub(super) struct Builder<'a> {
    pub(super) config: &'a Config,
    pub(super) opts: &'a Options,
    /// The config's path in every container.
    pub(super) config_path: String,
    /// Written as comments above the objects.
    pub(super) notes: Vec<String>,
    /// Printed on stderr.
    pub(super) warnings: Vec<String>,
}

pub(super) type Built = (Vec<Container>, Vec<Container>, i64, Vec<String>);

impl Builder<'_> {
    pub(super) fn sidecars(&mut self, graph: &Graph) -> Result<Built, ExportError> {
        let config = self.config;
        let (mut side, mut main) = graph.as_sidecars();
        // A Deployment's pod restarts a main container that exits, so a
        // one-shot nothing depends on is an init container too; the mains
        // then wait for it as well.
        let oneshot = |i: &usize| config.components[*i].oneshot;
        let (jobs, services): (Vec<usize>, Vec<usize>) =
            main.iter().copied().partition(|i| oneshot(i));
        for &j in &jobs {
            self.notes.push(format!(
                "{}: a one-shot nothing depends on; the main containers start after it completes, since a Deployment's pod would restart it as a main container",
                graph.name(j)
            ));
        }
        main = services;
        side.extend(jobs);
        let level = graph.start_levels();
        side.sort_by(|&a, &b| (level[a], graph.name(a)).cmp(&(level[b], graph.name(b))));
        let mut init = Vec::new();
        for &i in &side {
            let c = &config.components[i];
            let mut k = self.container(c)?;
            if c.oneshot {
                // A plain init container: Kubernetes runs it to completion
                // (exit 0) before it starts the next one, as sundown holds
                // its dependents until it has completed. Such a container
                // takes no probes.
                k.readiness_probe = None;
                k.liveness_probe = None;
                init.push(k);
                continue;
            }
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
            let mut k = self.container(c)?;
            if let Some(drain_delay) = c.kind.settings().k8s().pre_stop_sleep
                && !drain_delay.is_zero()
            {
                // Endpoints are removed while this sleeps, before the listener closes.
                k.lifecycle = Some(Lifecycle {
                    pre_stop: Some(LifecycleHandler {
                        sleep: Some(SleepAction {
                            seconds: secs_up(drain_delay),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                drain = drain.max(Duration::from_secs(secs_up(drain_delay) as u64));
            }
            mains.push(k);
        }
        let longest_main = main
            .iter()
            .map(|&i| config.components[i].stop_timeout)
            .max()
            .unwrap_or_default();
        // A one-shot has ended before the pod is stopped.
        side.retain(|i| !oneshot(i));
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

    pub(super) fn single(&self, graph: &Graph) -> Built {
        let (config, opts, config_path) = (self.config, self.opts, self.config_path.as_str());
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

impl Builder<'_> {
    /// The container running one component with `run --only`.
    fn container(&mut self, c: &ComponentSpec) -> Result<Container, ExportError> {
        let (config, opts, config_path) = (self.config, self.opts, self.config_path.clone());
        let config_path = config_path.as_str();
        let (notes, warnings) = (&mut self.notes, &mut self.warnings);
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
        let (ready, liveness) = match c.kind.get::<ProcessSpec>() {
            Some(p) => {
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
            None => (c.kind.settings().k8s().ready.as_ref().map(hinted), None),
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
}
