//! Probes and ports: sundown's readiness and liveness checks as Kubernetes
//! probes, and the ports sundown knows a component listens on.

use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ContainerPort, ExecAction, HTTPGetAction, Probe, ServicePort, TCPSocketAction,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{kube_name, secs_up};
use crate::config::{ComponentSpec, Config};
use crate::kind::K8sProbe;
use crate::process::{Check, ProbeSpec, ProcessSpec};

/// A kind's readiness hint as the container's probe.
pub(super) fn hinted(probe: &K8sProbe) -> Probe {
    match probe {
        K8sProbe::Tcp(port) => tcp(*port),
        K8sProbe::HttpGet { port, path } => Probe {
            http_get: Some(HTTPGetAction {
                path: Some(path.clone()),
                port: IntOrString::Int((*port).into()),
                ..Default::default()
            }),
            period_seconds: Some(1),
            ..Default::default()
        },
    }
}

pub(super) fn tcp(port: u16) -> Probe {
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
pub(super) fn startup_failures(c: &ComponentSpec) -> Option<i32> {
    let Some(p) = c.kind.get::<ProcessSpec>() else {
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
pub(super) fn probe(name: &str, spec: &ProbeSpec, warnings: &mut Vec<String>) -> Option<Probe> {
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

pub(super) fn split_addr(addr: &str) -> Option<(String, u16)> {
    let (host, port) = addr.rsplit_once(':')?;
    Some((
        host.trim_matches(['[', ']']).to_string(),
        port.parse().ok()?,
    ))
}

/// A host that means "this machine": in a pod, the pod itself, which is
/// where the kubelet probes by default.
pub(super) fn is_local(host: &str) -> bool {
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
pub(super) fn listen_port(c: &ComponentSpec) -> Option<u16> {
    if let Some(addr) = c.kind.settings().serves() {
        return Some(addr.port());
    }
    match c.kind.get::<ProcessSpec>() {
        None => None,
        // A probe that connects says where it listens.
        Some(p) => [&p.ready, &p.liveness]
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

pub(super) fn container_ports(config: &Config, c: Option<&ComponentSpec>) -> Vec<ContainerPort> {
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

pub(super) fn service_ports(config: &Config) -> Vec<ServicePort> {
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
