//! A reload that changes only settings read when a component stops or
//! ends (`stop_timeout`, the restart policy, its phase's cap) applies them
//! to the running component: no restart, and the next stop or exit uses
//! them. On tokio's paused clock.

use std::time::Duration;

use sundown::event::KillReason;
use sundown::{Change, Supervisor, Updated};

/// `web` ignores its stop request: only its deadline ends it.
const GRAPH: &str = r#"
    [supervisor]
    shutdown_timeout = "60s"
    [components.db]
    kind = "sim"
    [components.web]
    kind = "sim"
    depends_on = ["db"]
    ignore_stop = true
    stop_timeout = "20s"
"#;

fn updated(name: &str, settings: &[&str]) -> Updated {
    Updated {
        name: name.to_string(),
        settings: settings.iter().map(|s| s.to_string()).collect(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_new_stop_timeout_is_applied_without_a_restart_and_used_at_the_next_stop() {
    let sup = Supervisor::from_toml_str(GRAPH).expect("valid");
    let mut r = sup.spawn();
    assert!(r.ready().await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let new = GRAPH.replace(
        "stop_timeout = \"20s\"",
        "stop_timeout = \"3s\"\nrestart = \"always\"",
    ) + "\n[phase_timeouts]\ndb = \"4s\"\n";
    let accepted = r
        .handle()
        .change(Change::reload(
            Supervisor::from_toml_str(&new).expect("valid"),
        ))
        .await
        .expect("accepted");
    let diff = accepted.diff.clone().expect("a diff");
    assert_eq!(
        diff.updated,
        [
            updated("db", &["phase_timeouts"]),
            updated("web", &["stop_timeout", "restart"]),
        ]
    );
    assert!(
        diff.changed.is_empty() && diff.dependents.is_empty(),
        "{diff:?}"
    );
    assert!(diff.unchanged.is_empty(), "{diff:?}");
    assert_eq!(
        diff.to_string(),
        "updated in place: db (phase_timeouts), web (stop_timeout, restart)"
    );
    assert!(accepted.stop.is_empty() && accepted.start.is_empty());
    accepted.finished().await.expect("reloaded");
    {
        let status = r.status().borrow().clone();
        let web = status
            .components
            .iter()
            .find(|c| c.name == "web")
            .expect("web");
        assert_eq!(web.restarts, 0);
    }

    let report = r.shutdown().await;
    let web = report.component("web").expect("web").clone();
    assert_eq!(
        web.start_requested,
        Some(0.0),
        "the same run since the start"
    );
    assert!(web.restarts.is_empty(), "{:?}", web.restarts);
    // Killed at the new stop timeout, 3 s after it was asked to stop, not 20 s.
    assert_eq!(web.killed_by, Some(KillReason::StopTimeout));
    let asked = web.stop_requested.expect("asked to stop");
    assert_eq!(web.killed_at, Some(asked + 3000.0));
    // The new plan has the new cap on db's phase.
    let phase = &report.phases[report.component("db").expect("db").phase];
    assert_eq!(phase.timeout_ms, 4000.0);
}

#[tokio::test(start_paused = true)]
async fn a_new_restart_policy_applies_at_the_running_components_next_exit() {
    let graph = "[components.job]\nkind = \"sim\"\nexit_after = \"5s\"\n";
    let sup = Supervisor::from_toml_str(graph).expect("valid");
    let mut r = sup.spawn();
    assert!(r.ready().await);
    let new = format!("{graph}restart = \"always\"\nrestart_backoff = \"1s\"\n");
    let accepted = r
        .handle()
        .change(Change::reload(
            Supervisor::from_toml_str(&new).expect("valid"),
        ))
        .await
        .expect("accepted");
    assert_eq!(
        accepted.diff.as_ref().expect("a diff").updated,
        [updated("job", &["restart", "restart_backoff"])]
    );
    accepted.finished().await.expect("reloaded");
    // It ends at 5 s by itself; "never" would leave it finished, "always"
    // starts it again after its new backoff.
    tokio::time::sleep(Duration::from_secs(7)).await;
    let report = r.shutdown().await;
    let job = report.component("job").expect("job");
    assert_eq!(job.restarts.len(), 1, "{:?}", job.restarts);
    let restart = &job.restarts[0];
    assert_eq!(restart.at, 5000.0, "{restart:?}");
    // The new backoff, less its jitter of up to 20 %.
    let delay = restart.delay_ms.expect("a delay");
    assert!((800.0..=1000.0).contains(&delay), "{restart:?}");
}

#[tokio::test(start_paused = true)]
async fn a_setting_the_running_component_was_built_with_still_restarts_it() {
    let sup = Supervisor::from_toml_str(GRAPH).expect("valid");
    let mut r = sup.spawn();
    assert!(r.ready().await);
    // A kind key and a stop_timeout together: the kind key needs the restart.
    let new = GRAPH.replace(
        "[components.db]\n    kind = \"sim\"",
        "[components.db]\n    kind = \"sim\"\n    stop_delay = \"1ms\"\n    stop_timeout = \"5s\"",
    );
    let accepted = r
        .handle()
        .change(Change::reload(
            Supervisor::from_toml_str(&new).expect("valid"),
        ))
        .await
        .expect("accepted");
    let diff = accepted.diff.clone().expect("a diff");
    assert_eq!(diff.changed, ["db"]);
    assert_eq!(diff.dependents, ["web"]);
    assert!(diff.updated.is_empty(), "{diff:?}");
    r.shutdown().await;
}

/// `kind = "patient"`: keeps its own copy of its `stop_timeout` (as the
/// process kind does) and, asked to stop, takes half of it to end.
mod patient {
    use std::time::Duration;

    use serde::Deserialize;
    use sundown::component::{BoxFuture, Component, Exit, Lifecycle};
    use sundown::kind::{Context, Kind, SerdeKind, Settings};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Raw {}

    #[derive(Debug, Clone, PartialEq)]
    pub(crate) struct Spec {
        stop_timeout: Duration,
    }

    fn validate(cx: &mut Context<'_, '_>, _: Raw) -> Option<Spec> {
        Some(Spec {
            stop_timeout: cx.stop_timeout(),
        })
    }

    impl Settings for Spec {
        fn build(&self) -> Box<dyn Component> {
            Box::new(Patient(self.stop_timeout / 2))
        }
        /// Its copy is the engine's to update: no restart for it.
        fn runs_as(&self, new: &dyn std::any::Any) -> bool {
            new.downcast_ref::<Spec>().is_some()
        }
    }

    struct Patient(Duration);

    impl Component for Patient {
        fn kind(&self) -> &'static str {
            "patient"
        }
        fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
            Box::pin(async move {
                life.ready();
                tokio::select! {
                    () = life.stop_requested() => {}
                    () = life.kill_requested() => return Exit::Signal("SIGKILL".into()),
                }
                tokio::select! {
                    () = tokio::time::sleep(self.0) => Exit::Code(0),
                    () = life.kill_requested() => Exit::Signal("SIGKILL".into()),
                }
            })
        }
    }

    pub(crate) const KIND: &dyn Kind = &SerdeKind::new("patient", validate);
}

#[tokio::test(start_paused = true)]
async fn a_dependent_restarted_with_its_dependency_runs_with_its_updated_settings() {
    let kinds = sundown::kinds::builtin().with(patient::KIND);
    let parse =
        |text: &str| Supervisor::from_toml_str_with(text, &kinds).unwrap_or_else(|e| panic!("{e}"));
    let graph = r#"
        [supervisor]
        shutdown_timeout = "60s"
        [components.db]
        kind = "sim"
        [components.api]
        kind = "patient"
        depends_on = ["db"]
        stop_timeout = "20s"
    "#;
    let mut r = parse(graph).spawn();
    assert!(r.ready().await);
    // db changed (restarted), api both restarted with it and given a new stop_timeout.
    let new = graph
        .replace("kind = \"sim\"", "kind = \"sim\"\nstart_delay = \"1ms\"")
        .replace("\"20s\"", "\"4s\"");
    let accepted = r
        .handle()
        .change(Change::reload(parse(&new)))
        .await
        .expect("accepted");
    let diff = accepted.diff.clone().expect("a diff");
    assert_eq!(diff.changed, ["db"]);
    assert_eq!(diff.dependents, ["api"]);
    accepted.finished().await.expect("reloaded");
    assert!(r.ready().await);
    let report = r.shutdown().await;
    let api = report.component("api").expect("api");
    // Built with the new copy, it ends 2 s after the request, before the
    // engine's 4 s; the old one would have taken 10 s and been killed.
    assert_eq!(api.outcome, sundown::Outcome::Stopped, "{api:?}");
    assert_eq!(api.killed_by, None, "{api:?}");
    assert_eq!(api.stop_ms, Some(2000.0), "{api:?}");
}
