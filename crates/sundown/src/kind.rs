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
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::DeTable;

use crate::component::{Component, Factory};
use crate::diagnostic::{Diagnostics, Zero};

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

/// The usual kind: its keys are the fields of a serde struct `R`, and
/// `validate` turns them into settings `S` (reporting problems through the
/// [`Context`]; `None` after one). A whole kind, outside this crate:
///
/// ```
/// use serde::Deserialize;
/// use sundown::component::{BoxFuture, Component, Exit, Lifecycle};
/// use sundown::kind::{Context, Kind, SerdeKind, Settings};
/// use toml::Spanned;
///
/// #[derive(Deserialize)]
/// #[serde(deny_unknown_fields)]
/// struct RawEcho {
///     greeting: Option<Spanned<String>>,
/// }
///
/// #[derive(Debug, Clone, PartialEq)]
/// struct EchoSpec {
///     greeting: String,
/// }
///
/// fn validate(cx: &mut Context<'_, '_>, raw: RawEcho) -> Option<EchoSpec> {
///     let Some(greeting) = raw.greeting else {
///         return Some(EchoSpec { greeting: "hello".into() });
///     };
///     if greeting.get_ref().is_empty() {
///         cx.error(greeting.span(), format!("{} is empty", cx.what("greeting")));
///         return None;
///     }
///     Some(EchoSpec { greeting: greeting.into_inner() })
/// }
///
/// struct Echo(EchoSpec);
///
/// impl Component for Echo {
///     fn kind(&self) -> &'static str {
///         "echo"
///     }
///     fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
///         Box::pin(async move {
///             tracing::info!("{}", self.0.greeting);
///             life.ready();
///             life.stop_requested().await;
///             Exit::Code(0)
///         })
///     }
/// }
///
/// impl Settings for EchoSpec {
///     fn build(&self) -> Box<dyn Component> {
///         Box::new(Echo(self.clone()))
///     }
/// }
///
/// const ECHO: &dyn Kind = &SerdeKind::new("echo", validate);
///
/// let kinds = sundown::kinds::builtin().with(ECHO);
/// let parse = |text: &str| sundown::Config::parse_with(text, "s.toml", ".".as_ref(), &kinds);
/// let config = parse("[components.e]\nkind = \"echo\"\ngreeting = \"hi\"\n").unwrap();
/// assert_eq!(config.components[0].kind.get::<EchoSpec>().unwrap().greeting, "hi");
/// let typo = parse("[components.e]\nkind = \"echo\"\ngreting = \"hi\"\n").unwrap_err();
/// assert!(typo.to_string().starts_with("s.toml:3:1: error: component `e`: unknown field `greting`"));
/// let empty = parse("[components.e]\nkind = \"echo\"\ngreeting = \"\"\n").unwrap_err();
/// assert_eq!(empty.to_string(), "s.toml:3:12: error: component `e`: greeting is empty");
/// ```
pub struct SerdeKind<R, S> {
    name: &'static str,
    validate: fn(&mut Context<'_, '_>, R) -> Option<S>,
}

impl<R, S> SerdeKind<R, S> {
    /// The kind `name`, read as `R` and validated by `validate`.
    pub const fn new(
        name: &'static str,
        validate: fn(&mut Context<'_, '_>, R) -> Option<S>,
    ) -> SerdeKind<R, S> {
        SerdeKind { name, validate }
    }
}

impl<R, S> Kind for SerdeKind<R, S>
where
    R: DeserializeOwned + 'static,
    S: Settings + PartialEq,
{
    fn name(&self) -> &'static str {
        self.name
    }

    fn keys(&self) -> &'static [&'static str] {
        keys_of::<R>()
    }

    fn settings(&self, cx: &mut Context<'_, '_>) -> Option<KindSpec> {
        let raw: R = cx.parse()?;
        (self.validate)(cx, raw).map(|settings| KindSpec::new(self.name, settings))
    }
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

/// What a kind sees of the component it validates: its keys, its name and
/// common settings, and where to report problems (with `line:col`).
pub struct Context<'a, 'd> {
    pub(crate) diagnostics: &'a mut Diagnostics<'d>,
    pub(crate) name: &'a str,
    pub(crate) name_span: Range<usize>,
    pub(crate) base_dir: &'a Path,
    pub(crate) stop_timeout: Duration,
    pub(crate) table: Option<Spanned<DeTable<'d>>>,
}

impl Context<'_, '_> {
    /// The component's name.
    pub fn name(&self) -> &str {
        self.name
    }

    /// Its `stop_timeout`, validated.
    pub fn stop_timeout(&self) -> Duration {
        self.stop_timeout
    }

    /// A path as written in the config, resolved against the config's directory.
    pub fn resolve(&self, path: &str) -> PathBuf {
        self.base_dir.join(path)
    }

    /// The component's kind-specific keys as `T` (a serde struct with
    /// [`Spanned`] fields keeps each value's place). A type error is
    /// reported at its place; the keys can be parsed once.
    pub fn parse<T: DeserializeOwned>(&mut self) -> Option<T> {
        let table = self.table.take()?;
        match T::deserialize(toml::de::Deserializer::from(table)) {
            Ok(t) => Some(t),
            Err(e) => {
                let span = e.span().unwrap_or(self.name_span.clone());
                let message = format!("component `{}`: {}", self.name, e.message().trim_end());
                self.diagnostics.error(span, message);
                None
            }
        }
    }

    /// `component `NAME`: KEY`, the way every message names a setting.
    pub fn what(&self, key: &str) -> String {
        format!("component `{}`: {key}", self.name)
    }

    /// An error at a place in the file.
    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.error(span, message);
    }

    /// An error at the component's name (for a key that is missing).
    pub fn error_at_name(&mut self, message: impl Into<String>) {
        self.diagnostics.error(self.name_span.clone(), message);
    }

    /// A warning at a place in the file: the config still runs.
    pub fn warn(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.diagnostics.warn(span, message);
    }

    /// A duration setting; `what` names it in messages.
    pub fn duration(
        &mut self,
        value: &Spanned<String>,
        what: &str,
        zero: Zero,
    ) -> Option<Duration> {
        self.diagnostics.duration(value, what, zero)
    }

    /// An optional duration setting; `what` names it in messages.
    pub fn opt_duration(
        &mut self,
        value: &Option<Spanned<String>>,
        what: &str,
        zero: Zero,
    ) -> Option<Duration> {
        self.diagnostics.opt_duration(value, what, zero)
    }
}

/// The field names of a serde struct, read from its `Deserialize` impl: a
/// kind's [`Kind::keys`] without a second list to keep in step.
pub fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Fields(Option<&'static [&'static str]>);
    #[derive(Debug)]
    struct Stop;
    impl fmt::Display for Stop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl serde::de::Error for Stop {
        fn custom<M: fmt::Display>(_: M) -> Stop {
            Stop
        }
    }
    impl<'de> serde::Deserializer<'de> for &mut Fields {
        type Error = Stop;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = Fields(None);
    // The deserializer stops every type at once; only the field list matters.
    let _ = T::deserialize(&mut fields);
    fields.0.unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only the field names are read")]
    struct Raw {
        listen: Option<String>,
        #[serde(default)]
        size: i64,
    }

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Nothing {}

    fn refuse(_: &mut Context<'_, '_>, _: Nothing) -> Option<crate::sim::SimSpec> {
        None
    }

    const MUTE: &dyn Kind = &SerdeKind::new("mute", refuse);

    #[test]
    fn a_kind_that_refuses_without_an_error_still_fails_the_config() {
        let kinds = crate::kinds::builtin().with(MUTE);
        let e = crate::Config::parse_with(
            "[components.m]\nkind = \"mute\"\n",
            "s.toml",
            Path::new("."),
            &kinds,
        )
        .expect_err("a refused component is an error");
        assert_eq!(
            e.to_string(),
            "s.toml:1:13: error: component `m`: kind `mute` refused its settings without saying why"
        );
    }

    #[test]
    fn keys_come_from_the_serde_struct() {
        assert_eq!(keys_of::<Raw>(), ["listen", "size"]);
    }
}
