//! The kind interface: what a `kind = "..."` is to the supervisor.
//!
//! A kind is one module, in this crate (`process`, `sim`) or in another one
//! (the stand-ins crate registers `http`, `worker_pool`, `redis` and
//! `postgres` through this same interface). It owns its name, its keys (a
//! serde struct, so the list cannot drift from what is parsed), their
//! validation, how a component is built from them, and what the Kubernetes
//! export and the config checks may know of it. The config parser sees a
//! kind only through [`Kind`]; the engine only through [`KindSpec::build`].

use std::any::Any;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::component::{Component, Factory};

mod context;
mod serde_kind;

pub use self::context::{Context, keys_of};
pub use self::serde_kind::SerdeKind;

/// A kind of component, as the config parser sees it.
pub trait Kind: Send + Sync + 'static {
    /// The `kind = "..."` name.
    fn name(&self) -> &'static str;

    /// The keys a component of this kind takes besides the common ones
    /// (`depends_on`, `stop_timeout`, the restart keys). Written as
    /// [`keys_of::<Raw>()`](keys_of) of the kind's serde struct, so that the
    /// list and the parser cannot disagree.
    fn keys(&self) -> &'static [&'static str];

    /// Reads and validates a component's settings: [`Context::parse`] its
    /// keys, report every problem with [`Context::error`], and return `None`
    /// when there was one.
    fn settings(&self, cx: &mut Context<'_, '_>) -> Option<KindSpec>;
}

/// A kind's validated settings: what a component of it is.
pub trait Settings: Any + fmt::Debug + Send + Sync {
    /// A fresh component to run with these settings (once per run: a
    /// restart builds a new one).
    fn build(&self) -> Box<dyn Component>;

    /// The address the component listens on, if it has one: the Kubernetes
    /// export publishes its port, and a component that dials it without
    /// depending on it is warned about.
    fn serves(&self) -> Option<SocketAddr> {
        None
    }

    /// The servers the component connects to, by setting.
    fn dials(&self) -> Vec<Dial> {
        Vec::new()
    }

    /// What the Kubernetes export should know about it.
    fn k8s(&self) -> K8sHints {
        K8sHints::default()
    }

    /// Whether the component does real work inside the supervisor's process
    /// (serves clients), so that the supervisor runs on several threads.
    /// Kinds that only wait (processes, sims) leave it `false`.
    fn works_in_process(&self) -> bool {
        false
    }

    /// Whether a component running with these settings may run on when the
    /// config now says `new` (of the same kind): they differ only in copies
    /// of settings the engine applies itself, such as
    /// [`Context::stop_timeout`]. A reload then updates the component in
    /// place instead of restarting it. The default: only when equal.
    fn runs_as(&self, new: &dyn Any) -> bool {
        let _ = new;
        false
    }
}

/// A server a component connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dial {
    /// The setting that names it (`"redis"`), for the warning's place.
    pub key: &'static str,
    /// Host as written.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// What the Kubernetes export should know about a component.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct K8sHints {
    /// The readiness probe of its container.
    pub ready: Option<K8sProbe>,
    /// How long a `preStop` hook sleeps before the container gets SIGTERM
    /// (time for endpoints to be removed while the component still serves).
    pub pre_stop_sleep: Option<Duration>,
    /// Files it writes, by setting: a path inside the config's directory is
    /// read-only in the pod, which the export warns about.
    pub data_paths: Vec<(String, PathBuf)>,
}

/// A readiness probe the export writes, checked every second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum K8sProbe {
    /// A TCP connection to this port of the pod succeeds.
    Tcp(u16),
    /// An HTTP GET of this path on this port answers 2xx or 3xx.
    HttpGet {
        /// Port.
        port: u16,
        /// Path, with a leading `/`.
        path: String,
    },
}

/// Settings of one component of some kind: cheap to clone, comparable (a
/// reload restarts only what changed), and readable back as the kind's own
/// type with [`KindSpec::get`].
#[derive(Clone)]
pub struct KindSpec {
    name: &'static str,
    settings: Arc<dyn Settings>,
    eq: fn(&dyn Any, &dyn Any) -> bool,
}

impl KindSpec {
    /// Wraps a kind's settings.
    pub fn new<T: Settings + PartialEq>(name: &'static str, settings: T) -> KindSpec {
        fn eq<T: PartialEq + 'static>(a: &dyn Any, b: &dyn Any) -> bool {
            matches!((a.downcast_ref::<T>(), b.downcast_ref::<T>()), (Some(a), Some(b)) if a == b)
        }
        KindSpec {
            name,
            settings: Arc::new(settings),
            eq: eq::<T>,
        }
    }

    /// The `kind = "..."` name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The settings as their own type, when they are of type `T`.
    pub fn get<T: Settings>(&self) -> Option<&T> {
        let any: &dyn Any = &*self.settings;
        any.downcast_ref::<T>()
    }

    /// The settings, as every kind has them.
    pub fn settings(&self) -> &dyn Settings {
        &*self.settings
    }

    /// Whether a component running with these settings may run on with
    /// `new`'s, without a restart (see [`Settings::runs_as`]).
    pub fn runs_as(&self, new: &KindSpec) -> bool {
        let other: &dyn Any = &*new.settings;
        self == new || (self.name == new.name && self.settings.runs_as(other))
    }

    /// A fresh component.
    pub fn build(&self) -> Box<dyn Component> {
        self.settings.build()
    }

    /// Builds a fresh component for every run of its slot.
    pub fn factory(&self) -> Factory {
        let settings = Arc::clone(&self.settings);
        Box::new(move || Some(settings.build()))
    }
}

impl PartialEq for KindSpec {
    fn eq(&self, other: &KindSpec) -> bool {
        let (a, b): (&dyn Any, &dyn Any) = (&*self.settings, &*other.settings);
        self.name == other.name && (self.eq)(a, b)
    }
}

impl fmt::Debug for KindSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f)
    }
}

/// The kinds a config may use. [`crate::kinds::builtin`] has `process` and
/// `sim`; another crate adds its own with [`Kinds::with`].
#[derive(Clone, Default)]
pub struct Kinds {
    kinds: Vec<&'static dyn Kind>,
}

impl Kinds {
    /// No kinds at all.
    pub fn new() -> Kinds {
        Kinds::default()
    }

    /// These kinds and `kind`; a kind of the same name is replaced.
    pub fn with(mut self, kind: &'static dyn Kind) -> Kinds {
        self.kinds.retain(|k| k.name() != kind.name());
        self.kinds.push(kind);
        self
    }

    /// The kind of this name.
    pub fn get(&self, name: &str) -> Option<&'static dyn Kind> {
        self.kinds.iter().copied().find(|k| k.name() == name)
    }

    /// Every name, in the order they were added.
    pub fn names(&self) -> Vec<&'static str> {
        self.kinds.iter().map(|k| k.name()).collect()
    }

    /// The kinds that take `key`.
    pub fn owners(&self, key: &str) -> Vec<&'static str> {
        self.kinds
            .iter()
            .filter(|k| k.keys().contains(&key))
            .map(|k| k.name())
            .collect()
    }
}

impl fmt::Debug for Kinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}
