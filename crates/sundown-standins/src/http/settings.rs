//! Settings of `kind = "http"`: the pipeline's front end.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use sundown::component::Component;
use sundown::diagnostic::Zero;
use sundown::kind::{Context, Dial, K8sHints, K8sProbe, Kind, SerdeKind, Settings};
use toml::Spanned;

use crate::settings::{DEFAULT_HTTP_LISTEN, dial, listen, queue, redis_target, redis_url};

/// `kind = "http"`.
pub const KIND: &dyn Kind = &SerdeKind::new("http", validate);

/// Settings of `kind = "http"`: the pipeline's front end.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSpec {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Redis the jobs are pushed to (`redis://host:port/`).
    pub redis: String,
    /// Name of the Redis list that is the job queue.
    pub queue: String,
    /// How long `/readyz` answers 503 before the listener closes, so a load
    /// balancer notices and stops sending new requests.
    pub drain_delay: Duration,
    /// At most this many connections at once; more wait in the accept queue.
    pub max_connections: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: Option<Spanned<String>>,
    redis: Option<Spanned<String>>,
    queue: Option<Spanned<String>>,
    drain_delay: Option<Spanned<String>>,
    max_connections: Option<Spanned<i64>>,
}

impl Settings for HttpSpec {
    fn build(&self) -> Box<dyn Component> {
        Box::new(super::Http::new(self.clone()))
    }

    fn serves(&self) -> Option<SocketAddr> {
        Some(self.listen)
    }

    fn dials(&self) -> Vec<Dial> {
        dial("redis", redis_target(&self.redis))
            .into_iter()
            .collect()
    }

    fn k8s(&self) -> K8sHints {
        K8sHints {
            ready: Some(K8sProbe::HttpGet {
                port: self.listen.port(),
                path: "/readyz".into(),
            }),
            pre_stop_sleep: Some(self.drain_delay),
            data_paths: Vec::new(),
        }
    }

    fn works_in_process(&self) -> bool {
        true
    }
}

fn validate(cx: &mut Context<'_, '_>, c: RawHttp) -> Option<HttpSpec> {
    let name = cx.name().to_string();
    let what = &|key: &str| format!("component `{name}`: {key}");
    let listen = listen(cx, &c.listen, DEFAULT_HTTP_LISTEN, what);
    let redis = redis_url(cx, &c.redis, what);
    let queue = queue(cx, &c.queue, what);
    let drain_delay = cx
        .opt_duration(&c.drain_delay, &what("drain_delay"), Zero::Allowed)
        .unwrap_or_default();
    let max_connections = match &c.max_connections {
        None => None,
        Some(n) if *n.get_ref() >= 1 => usize::try_from(*n.get_ref()).ok(),
        Some(n) => {
            cx.error(
                n.span(),
                format!("{} must be at least 1", what("max_connections")),
            );
            None
        }
    };
    Some(HttpSpec {
        listen: listen?,
        redis: redis?,
        queue: queue?,
        drain_delay,
        max_connections,
    })
}
