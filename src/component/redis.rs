//! `kind = "redis"`. (Being written.)

use super::{BoxFuture, Component, Exit, Lifecycle};
use crate::config::RedisSpec;

/// The `redis` component.
pub struct Redis {
    spec: RedisSpec,
}

impl Redis {
    /// A component for this spec.
    pub fn new(spec: RedisSpec) -> Redis {
        Redis { spec }
    }
}

impl Component for Redis {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn run(self: Box<Self>, _life: Lifecycle) -> BoxFuture<Exit> {
        let _ = self.spec;
        Box::pin(async { Exit::Error("not implemented yet".into()) })
    }
}
