//! The embeddable entry point: load a graph, start it, shut it down, get the
//! report. `sundown run` is a thin layer of signal handling over this.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use sundown::Supervisor;
//! let sup = Supervisor::from_toml_str(r#"
//!     [components.db]
//!     kind = "sim"
//!     [components.web]
//!     kind = "sim"
//!     depends_on = ["db"]
//! "#).unwrap();
//! let running = sup.start().await.unwrap();
//! let report = running.shutdown().await;
//! report.assert_stopped_before("web", "db");
//! report.assert_respects_graph();
//! assert_eq!(report.exit_code, 0);
//! # }
//! ```

use std::path::Path;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::component::{self, Component, Factory};
use crate::config::{Config, ConfigError};
use crate::engine::{Accepted, Change, Command, Definition, Engine, Refused};
use crate::event::Trigger;
use crate::graph::Graph;
use crate::kind::Kinds;
use crate::plan::Plan;
use crate::report::ShutdownReport;
use crate::status::{State, Status};

mod preview;

/// A validated graph of components, ready to start.
pub struct Supervisor {
    config: Arc<Config>,
    graph: Arc<Graph>,
    plan: Arc<Plan>,
    components: Vec<Factory>,
    /// The kinds its config was read with, so that a reload reads the new one alike.
    kinds: Kinds,
    /// Told the components' log settings at the start and at each reload.
    logs: Option<crate::logs::LogStore>,
}

/// The supervisor did not get every component ready; the graph has already
/// been shut down in order, and this is its report.
#[derive(Debug, thiserror::Error)]
#[error("start failed: {}", .0.trigger.as_ref().map(ToString::to_string).unwrap_or_default())]
pub struct StartFailed(pub Box<ShutdownReport>);

/// Why a reload did not begin. The running graph was not touched.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new config is invalid; every problem with its line and column.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The engine refused the change.
    #[error("{0}")]
    Refused(#[from] Refused),
    /// `scale` asked for a count out of range.
    #[error("{0}")]
    Scale(String),
}

/// No component of that name.
#[derive(Debug, thiserror::Error)]
#[error("no component named `{0}`")]
pub struct UnknownComponent(pub String);

impl Supervisor {
    /// A supervisor for a config, each component built from its `kind`.
    /// The config's invariants are checked again ([`Config::check`]), so a
    /// config assembled or edited in code cannot break the engine.
    pub fn from_config(config: Config) -> Result<Supervisor, ConfigError> {
        config.check()?;
        let graph = Graph::new(&config);
        let plan = Plan::new(&config, &graph);
        let components = config.components.iter().map(|c| c.kind.factory()).collect();
        Ok(Supervisor {
            config: Arc::new(config),
            graph: Arc::new(graph),
            plan: Arc::new(plan),
            components,
            kinds: crate::kinds::builtin(),
            logs: None,
        })
    }

    /// Parses and validates TOML text (relative paths resolve against the current directory).
    pub fn from_toml_str(toml: &str) -> Result<Supervisor, ConfigError> {
        Config::parse(toml, "<string>", Path::new(".")).and_then(Supervisor::from_config)
    }

    /// The kinds a reload reads the config with (the built-in ones unless
    /// set here or by [`Supervisor::load_with`]).
    pub fn with_kinds(mut self, kinds: Kinds) -> Supervisor {
        self.kinds = kinds;
        self
    }

    /// The store `sundown logs` reads: it is given each component's log
    /// file and `log_stderr` when the run starts and when a reload is
    /// accepted.
    pub fn with_logs(mut self, logs: crate::logs::LogStore) -> Supervisor {
        self.logs = Some(logs);
        self
    }

    /// Parses and validates TOML text whose components may be of any of `kinds`.
    pub fn from_toml_str_with(toml: &str, kinds: &Kinds) -> Result<Supervisor, ConfigError> {
        let sup = Config::parse_with(toml, "<string>", Path::new("."), kinds)
            .and_then(Supervisor::from_config)?;
        Ok(sup.with_kinds(kinds.clone()))
    }

    /// Reads and validates a config file that uses the built-in kinds.
    pub fn load(path: &Path) -> Result<Supervisor, ConfigError> {
        Supervisor::load_with(path, &crate::kinds::builtin())
    }

    /// Reads and validates a config file whose components may be of any of
    /// `kinds`; a reload reads the file again with the same kinds.
    pub fn load_with(path: &Path, kinds: &Kinds) -> Result<Supervisor, ConfigError> {
        let mut sup = Config::load_with(path, kinds).and_then(Supervisor::from_config)?;
        sup.kinds = kinds.clone();
        Ok(sup)
    }

    /// Replaces the implementation of one component, keeping its place in the
    /// graph and its timeouts: how a program or test plugs in its own kinds.
    /// A single instance runs once: if its `restart` policy asks for another
    /// run, that is a failure; use [`Supervisor::replace_with`] for a
    /// component that may restart.
    pub fn replace(
        self,
        name: &str,
        component: Box<dyn Component>,
    ) -> Result<Supervisor, UnknownComponent> {
        self.replace_factory(name, component::once(component))
    }

    /// Replaces the implementation of one component with a function that
    /// makes a fresh one for each run (the first start and every restart).
    pub fn replace_with(
        self,
        name: &str,
        mut make: impl FnMut() -> Box<dyn Component> + Send + 'static,
    ) -> Result<Supervisor, UnknownComponent> {
        self.replace_factory(name, Box::new(move || Some(make())))
    }

    fn replace_factory(
        mut self,
        name: &str,
        make: Factory,
    ) -> Result<Supervisor, UnknownComponent> {
        let i = self
            .config
            .index_of(name)
            .ok_or_else(|| UnknownComponent(name.to_string()))?;
        self.components[i] = make;
        Ok(self)
    }

    /// The validated config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The dependency graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The start and stop plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Starts the engine and returns at once; see [`Running::ready`].
    pub fn spawn(self) -> Running {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let kinds = self.kinds.clone();
        let logs = self.logs.clone();
        if let Some(logs) = &logs {
            logs.configure(&self.config);
        }
        let (engine, status) = Engine::new(self.into(), cmd_rx);
        Running {
            handle: Handle {
                tx: cmd_tx,
                kinds,
                logs,
                scaled: Default::default(),
            },
            status,
            join: tokio::spawn(engine.drive()),
        }
    }

    /// Starts every component in dependency order and returns once all are
    /// ready. If one fails first, the rest are stopped in order and the
    /// error carries the report.
    pub async fn start(self) -> Result<Running, StartFailed> {
        let mut running = self.spawn();
        if running.ready().await {
            Ok(running)
        } else {
            Err(StartFailed(Box::new(running.wait().await)))
        }
    }
}

/// What the engine runs: the graph without the kinds it was read with,
/// which only [`Handle::reload`] needs.
impl From<Supervisor> for Definition {
    fn from(sup: Supervisor) -> Definition {
        Definition {
            config: sup.config,
            graph: sup.graph,
            plan: sup.plan,
            factories: sup.components,
        }
    }
}

/// A running supervisor.
pub struct Running {
    handle: Handle,
    status: watch::Receiver<Status>,
    join: JoinHandle<ShutdownReport>,
}

impl Running {
    /// A cloneable handle for asking for a shutdown from elsewhere (a signal task).
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The engine's current state.
    pub fn state(&self) -> State {
        self.status.borrow().state
    }

    /// A receiver of the live status, updated on every engine event.
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Waits until every component has been ready at once (`true`), or a
    /// shutdown began before that (`false`).
    pub async fn ready(&mut self) -> bool {
        // Ask whether everything *became* ready, not whether it still is: a
        // run may end by itself before this is polled.
        let _ = self.status.wait_for(|s| s.state != State::Starting).await;
        self.status.borrow().all_ready_at.is_some()
    }

    /// Shuts everything down in order and returns the report.
    pub async fn shutdown(self) -> ShutdownReport {
        self.handle.shutdown(Trigger::Requested);
        self.wait().await
    }

    /// Waits for the engine to finish by itself (a failure, every component
    /// done, or a shutdown asked through a [`Handle`]).
    pub async fn wait(self) -> ShutdownReport {
        // Keep our sender alive until the end: dropping it would read as "shut down".
        let _handle = self.handle;
        match self.join.await {
            Ok(report) => report,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("the supervisor's engine task was cancelled: {e}"),
        }
    }
}

/// Asks a running supervisor to stop. Dropping every handle (and the
/// [`Running`]) also starts the shutdown, so nothing outlives its owner.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: mpsc::UnboundedSender<Command>,
    kinds: Kinds,
    logs: Option<crate::logs::LogStore>,
    /// The counts `scale` set since the last plain reload, shared by every
    /// handle: a scale of one component keeps the others' (as Compose's).
    scaled: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, u32>>>,
}

impl Handle {
    /// Begins the ordered shutdown; a no-op once one is under way.
    pub fn shutdown(&self, trigger: Trigger) {
        let _ = self.tx.send(Command::Shutdown(trigger));
    }

    /// Kills everything still running at once (what a second signal does).
    pub fn force(&self, trigger: Trigger) {
        let _ = self.tx.send(Command::Force(trigger));
    }

    /// Asks for a change to the running graph (stop, start or restart one
    /// component, or reload). Answers at once with what will happen, or
    /// why it will not; [`Accepted::finished`] resolves when it has happened.
    pub async fn change(&self, change: Change) -> Result<Accepted, Refused> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.tx
            .send(Command::Change(change, reply))
            .map_err(|_| Refused::Gone)?;
        answer.await.map_err(|_| Refused::Gone)?
    }

    /// Reads and validates the config file again and, when it is valid,
    /// asks for a [`Change::Reload`] to it: what SIGHUP and `sundown
    /// reload` do.
    pub async fn reload(&self, path: &Path) -> Result<Accepted, ReloadError> {
        let accepted = self
            .reload_scaled(path, std::collections::BTreeMap::new())
            .await?;
        self.scales().clear();
        Ok(accepted)
    }

    fn scales(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, u32>> {
        // A map of counts: a panic elsewhere cannot leave it half-written.
        self.scaled.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `sundown scale NAME N`: a reload of the config file with `name`
    /// run as `n` instances, whatever its `replicas` says. As with Docker
    /// Compose's `scale`, the file is not changed: a later reload runs
    /// the file's count again.
    pub async fn scale(&self, path: &Path, name: &str, n: u32) -> Result<Accepted, ReloadError> {
        if !(1..=crate::config::MAX_REPLICAS).contains(&n) {
            return Err(ReloadError::Scale(format!(
                "cannot scale `{name}` to {n}: a count is 1 to {}",
                crate::config::MAX_REPLICAS
            )));
        }
        let mut counts = self.scales().clone();
        counts.insert(name.to_string(), n);
        let accepted = self.reload_scaled(path, counts.clone()).await?;
        *self.scales() = counts;
        Ok(accepted)
    }

    async fn reload_scaled(
        &self,
        path: &Path,
        scale: std::collections::BTreeMap<String, u32>,
    ) -> Result<Accepted, ReloadError> {
        let sup = self.read_again(path, scale).await?;
        for w in &sup.config().warnings {
            tracing::warn!("{w}");
        }
        // Once the engine has taken the change (a refused one must leave
        // the files as they were), before its first new run has started.
        let config = self.logs.as_ref().map(|_| sup.config().clone());
        let accepted = self.change(Change::reload(sup)).await?;
        if let (Some(logs), Some(config)) = (&self.logs, &config) {
            logs.configure(config);
        }
        Ok(accepted)
    }

    /// The config at `path`, read and validated again with `scale`'s counts.
    async fn read_again(
        &self,
        path: &Path,
        scale: std::collections::BTreeMap<String, u32>,
    ) -> Result<Supervisor, ReloadError> {
        let path = path.to_path_buf();
        let kinds = self.kinds.clone();
        // Reading a file blocks; the engine's thread must not.
        let sup = tokio::task::spawn_blocking(move || {
            let mut sup =
                Config::load_scaled(&path, &kinds, &scale).and_then(Supervisor::from_config)?;
            sup.kinds = kinds;
            Ok::<_, ConfigError>(sup)
        })
        .await
        .map_err(|_| Refused::Gone)??;
        Ok(sup)
    }
}
