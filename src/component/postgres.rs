//! `kind = "postgres"`. (Being written.)

use super::{BoxFuture, Component, Exit, Lifecycle};
use crate::config::PostgresSpec;

/// The `postgres` component.
pub struct Postgres {
    spec: PostgresSpec,
}

impl Postgres {
    /// A component for this spec.
    pub fn new(spec: PostgresSpec) -> Postgres {
        Postgres { spec }
    }
}

impl Component for Postgres {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn run(self: Box<Self>, _life: Lifecycle) -> BoxFuture<Exit> {
        let _ = self.spec;
        Box::pin(async { Exit::Error("not implemented yet".into()) })
    }
}
