//! `kind = "worker_pool"`. (Being written.)

use super::{BoxFuture, Component, Exit, Lifecycle};
use crate::config::WorkerPoolSpec;

/// The `worker_pool` component.
pub struct WorkerPool {
    spec: WorkerPoolSpec,
}

impl WorkerPool {
    /// A component for this spec.
    pub fn new(spec: WorkerPoolSpec) -> WorkerPool {
        WorkerPool { spec }
    }
}

impl Component for WorkerPool {
    fn kind(&self) -> &'static str {
        "worker_pool"
    }

    fn run(self: Box<Self>, _life: Lifecycle) -> BoxFuture<Exit> {
        let _ = self.spec;
        Box::pin(async { Exit::Error("not implemented yet".into()) })
    }
}
