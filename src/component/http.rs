//! `kind = "http"`. (Being written.)

use super::{BoxFuture, Component, Exit, Lifecycle};
use crate::config::HttpSpec;

/// The `http` component.
pub struct Http {
    spec: HttpSpec,
}

impl Http {
    /// A component for this spec.
    pub fn new(spec: HttpSpec) -> Http {
        Http { spec }
    }
}

impl Component for Http {
    fn kind(&self) -> &'static str {
        "http"
    }

    fn run(self: Box<Self>, _life: Lifecycle) -> BoxFuture<Exit> {
        let _ = self.spec;
        Box::pin(async { Exit::Error("not implemented yet".into()) })
    }
}
