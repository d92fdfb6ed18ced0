//! Prometheus metrics (`[supervisor.metrics] listen = "127.0.0.1:9464"`):
//! `GET /metrics` in the OpenMetrics text format, encoded by the
//! `prometheus-client` crate from the same status snapshot `sundown status`
//! shows, so the two never disagree.
//!
//! A scrape renders a fresh registry from the snapshot instead of keeping
//! metrics updated on every event: the engine pays nothing for metrics
//! nobody reads, and a scrape during a shutdown only reads a `watch`. The
//! components' CPU and memory are measured for the scrape, as for `GET
//! /status` (see `usage`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Response, StatusCode};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::control::{Clients, serve_one};
use crate::status::{ComponentState, State, Status, Usage};

type Labels = Vec<(&'static str, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;
type FloatCounter = Counter<f64, AtomicU64>;

/// The metrics of this snapshot, as OpenMetrics text; `usage` is each
/// component's, in the snapshot's order (components without one are left
/// out of the CPU and memory metrics).
pub fn render(status: &Status, usage: &[Option<Usage>]) -> String {
    let mut registry = Registry::default();
    let up = Family::<Labels, Gauge>::default();
    let restarts = Family::<Labels, Counter>::default();
    let last_stop = Family::<Labels, FloatGauge>::default();
    let phase = Family::<Labels, FloatGauge>::default();
    let state = Family::<Labels, Gauge>::default();
    let stopping = Gauge::<i64>::default();
    let cpu = Family::<Labels, FloatCounter>::default();
    let memory = Family::<Labels, Gauge>::default();
    for (c, u) in status.components.iter().zip(usage) {
        let Some((cpu_seconds, memory_bytes)) = u.as_ref().and_then(Usage::measured) else {
            continue;
        };
        let name = vec![("component", c.name.clone())];
        cpu.get_or_create(&name).inc_by(cpu_seconds);
        memory
            .get_or_create(&name)
            .set(i64::try_from(memory_bytes).unwrap_or(i64::MAX));
    }
    for c in &status.components {
        let name = || vec![("component", c.name.clone())];
        up.get_or_create(&name())
            .set(i64::from(c.state == ComponentState::Ready));
        restarts
            .get_or_create(&name())
            .inc_by(u64::from(c.restarts));
        if let Some(ms) = c.last_stop_ms {
            last_stop.get_or_create(&name()).set(ms / 1000.0);
        }
        for s in ComponentState::ALL {
            let mut labels = name();
            labels.push(("state", s.as_str().to_string()));
            state.get_or_create(&labels).set(i64::from(c.state == s));
        }
    }
    for (i, (start, end)) in status.phase_ms.iter().enumerate() {
        if let (Some(start), Some(end)) = (start, end) {
            phase
                .get_or_create(&vec![("phase", (i + 1).to_string())])
                .set((end - start) / 1000.0);
        }
    }
    stopping.set(i64::from(status.state == State::Stopping));
    registry.register(
        "sundown_component_up",
        "1 when the component is ready, else 0",
        up,
    );
    registry.register(
        "sundown_component_restarts",
        "Restarts of the component since the supervisor started",
        restarts,
    );
    registry.register(
        "sundown_component_last_stop_duration_seconds",
        "How long the component's last stop took, from the request to its end",
        last_stop,
    );
    registry.register(
        "sundown_phase_last_duration_seconds",
        "How long each stop phase of the last shutdown took (phases count from 1)",
        phase,
    );
    registry.register(
        "sundown_shutdown_in_progress",
        "1 while the ordered shutdown runs",
        stopping,
    );
    registry.register(
        "sundown_component_state",
        "1 for the state the component is in, 0 for the others",
        state,
    );
    registry.register_with_unit(
        "sundown_component_cpu",
        "CPU time of the component's processes (its cgroup, or its process tree); process kinds only, while running, from 0 at each start",
        Unit::Seconds,
        cpu,
    );
    registry.register_with_unit(
        "sundown_component_memory",
        "Resident memory of the component's processes (its cgroup, or its process tree); process kinds only, while running",
        Unit::Bytes,
        memory,
    );
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut out, &registry);
    out
}

/// Binds the metrics address (before the graph starts, so a taken port is
/// an error up front).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Answers `GET /metrics` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    status: watch::Receiver<Status>,
    stop: CancellationToken,
) {
    let connections = TaskTracker::new();
    // Bounded, as on the control socket: a stalled scraper holds a slot.
    let clients = Clients::new("metrics".into());
    let accept = || async { listener.accept().await.map(|(s, _)| s) };
    while let Some((slot, stream)) = clients.next(&stop, accept).await {
        let status = status.clone();
        let stop = stop.clone();
        connections.spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let status = status.clone();
                    async move {
                        let reply = if req.method() == Method::GET && req.uri().path() == "/metrics"
                        {
                            // Rendered from a copy: the engine waits while the lock is held.
                            let snapshot = status.borrow().clone();
                            let usage = crate::usage::sample(&snapshot).await;
                            let text = render(&snapshot, &usage);
                            let mut r = Response::new(Full::new(Bytes::from(text)));
                            r.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static(
                                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                                ),
                            );
                            r
                        } else {
                            let mut r = Response::new(Full::new(Bytes::from_static(
                                b"only GET /metrics here\n",
                            )));
                            *r.status_mut() = StatusCode::NOT_FOUND;
                            r
                        };
                        Ok::<_, Infallible>(reply)
                    }
                });
            serve_one(stream, slot, service, &stop).await;
        });
    }
    connections.close();
    connections.wait().await;
}
