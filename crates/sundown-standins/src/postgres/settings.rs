//! Settings of `kind = "postgres"`: the PostgreSQL stand-in.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use sundown::component::Component;
use sundown::diagnostic::Zero;
use sundown::kind::{Context, K8sHints, K8sProbe, Kind, SerdeKind, Settings};
use toml::Spanned;

use crate::settings::{DEFAULT_POSTGRES_LISTEN, DEFAULT_USER, listen};

/// PostgreSQL's own default is no limit; a stand-in's clients are tests
/// and pipelines, where a query running for minutes is a bug to surface.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// `kind = "postgres"`.
pub const KIND: &dyn Kind = &SerdeKind::new("postgres", validate);

/// Settings of `kind = "postgres"`: the PostgreSQL stand-in.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresSpec {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// SQLite database file, resolved against the config's directory; `None`
    /// keeps data in memory only.
    pub data: Option<PathBuf>,
    /// The user clients must log in as.
    pub user: String,
    /// `None`: trust authentication; `Some`: SCRAM-SHA-256 password
    /// authentication.
    pub password: Option<String>,
    /// How long a statement may run before it is cancelled (`57014`); a
    /// session may change its own with `SET statement_timeout`. `None`: no
    /// limit (`"0s"`).
    pub statement_timeout: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPostgres {
    listen: Option<Spanned<String>>,
    data: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    statement_timeout: Option<Spanned<String>>,
}

impl Settings for PostgresSpec {
    fn build(&self) -> Box<dyn Component> {
        Box::new(super::Postgres::new(self.clone()))
    }

    fn serves(&self) -> Option<SocketAddr> {
        Some(self.listen)
    }

    fn k8s(&self) -> K8sHints {
        K8sHints {
            ready: Some(K8sProbe::Tcp(self.listen.port())),
            pre_stop_sleep: None,
            data_paths: self
                .data
                .iter()
                .map(|p| ("data".into(), p.clone()))
                .collect(),
        }
    }

    fn works_in_process(&self) -> bool {
        true
    }
}

fn validate(cx: &mut Context<'_, '_>, c: RawPostgres) -> Option<PostgresSpec> {
    let name = cx.name().to_string();
    let what = &|key: &str| format!("component `{name}`: {key}");
    let listen = listen(cx, &c.listen, DEFAULT_POSTGRES_LISTEN, what);
    let user = match &c.user {
        None => Some(DEFAULT_USER.to_string()),
        Some(u) if !u.get_ref().trim().is_empty() => Some(u.get_ref().clone()),
        Some(u) => {
            cx.error(u.span(), format!("{} is empty", what("user")));
            None
        }
    };
    let statement_timeout = match &c.statement_timeout {
        None => Some(Some(DEFAULT_STATEMENT_TIMEOUT)),
        Some(t) => cx
            .duration(t, &what("statement_timeout"), Zero::Allowed)
            .map(|d| (!d.is_zero()).then_some(d)),
    };
    Some(PostgresSpec {
        listen: listen?,
        data: c.data.as_ref().map(|p| cx.resolve(p.get_ref())),
        user: user?,
        password: c.password.as_ref().map(|p| p.get_ref().clone()),
        statement_timeout: statement_timeout?,
    })
}
