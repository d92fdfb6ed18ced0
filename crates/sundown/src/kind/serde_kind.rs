//! The usual kind, in one constant.

use serde::de::DeserializeOwned;

use super::{Context, Kind, KindSpec, Settings, keys_of};

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
/// assert!(typo.to_string().starts_with("s.toml:3:1: error: component `e`: unknown key `greting` (did you mean `greeting`?)"));
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

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
}
