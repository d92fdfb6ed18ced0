//! `replicas`: the instances a component becomes, their number in `env`
//! and in `${…}`, the edges they share, and each bad count at its place.

use std::collections::BTreeMap;

use super::*;

const WORKERS: &str = r#"[components.db]
kind = "sim"
[components.worker]
command = ["serve", "--port", "${PORT}"]
replicas = 3
depends_on = ["db"]
env = { PORT = "80${SUNDOWN_REPLICA}" }
[components.api]
kind = "sim"
depends_on = ["worker"]
[phase_timeouts]
worker = "5s"
"#;

#[test]
fn a_component_with_replicas_becomes_its_instances() {
    let c = ok(WORKERS);
    let names: Vec<&str> = c.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["api", "db", "worker.1", "worker.2", "worker.3"]);
    assert_eq!(c.replicas, BTreeMap::from([("worker".to_string(), 3)]));
    for i in 1..=3 {
        let name = format!("worker.{i}");
        let p = process(&c, &name);
        assert_eq!(p.env["SUNDOWN_REPLICA"], i.to_string());
        assert_eq!(p.env["PORT"], format!("80{i}"));
        assert_eq!(p.argv, ["serve", "--port", &format!("80{i}")]);
        assert_eq!(
            c.components[c.index_of(&name).expect("instance")].depends_on,
            ["db"]
        );
        assert_eq!(c.group_of(&name), Some("worker"));
        assert_eq!(c.phase_timeouts[&name], Duration::from_secs(5));
    }
    let api = c.index_of("api").expect("api");
    assert_eq!(
        c.components[api].depends_on,
        ["worker.1", "worker.2", "worker.3"]
    );
    assert_eq!(c.group_of("api"), None);
    assert_eq!(c.group_of("worker.4"), None);
    assert_eq!(c.check().map_err(|e| e.to_string()), Ok(()));
}

#[test]
fn a_dependent_may_name_one_instance_and_keep_a_condition() {
    let c = ok(r#"[components.seed]
command = "true"
oneshot = true
replicas = 2
[components.one]
kind = "sim"
depends_on = ["seed.2"]
[components.all]
kind = "sim"
depends_on = [{ name = "seed", condition = "completed" }]
"#);
    let one = c.index_of("one").expect("one");
    assert_eq!(c.components[one].depends_on, ["seed.2"]);
    let all = c.index_of("all").expect("all");
    assert_eq!(c.components[all].depends_on, ["seed.1", "seed.2"]);
    assert_eq!(c.condition(all, "seed.1"), Condition::Completed);
    assert!(c.components[c.index_of("seed.1").expect("seed.1")].oneshot);
}

#[test]
fn one_replica_is_an_instance_too() {
    let c = ok("[components.w]\ncommand = \"true\"\nreplicas = 1\n");
    assert_eq!(c.components[0].name, "w.1");
}

#[test]
fn bad_counts_are_errors_at_the_count() {
    for count in ["0", "-2", "1001", "99999999999"] {
        assert_one_error(
            &format!("[components.w]\ncommand = \"true\"\nreplicas = {count}\n"),
            3,
            12,
            &format!(
                "component `w`: replicas = {count}: a count is 1 to 1000; to leave a component out, use profiles"
            ),
        );
    }
    assert_one_error_starting(
        "[components.w]\ncommand = \"true\"\nreplicas = \"3\"\n",
        3,
        12,
        "component `w`: replicas: invalid type",
    );
}

#[test]
fn only_a_process_has_replicas() {
    assert_one_error(
        "[components.w]\nkind = \"sim\"\nreplicas = 2\n",
        3,
        12,
        "component `w`: replicas: only a process can have replicas, and this component is kind `sim`",
    );
}

#[test]
fn exit_with_cannot_go_with_replicas() {
    assert_one_error(
        "[components.w]\ncommand = \"true\"\nreplicas = 2\nexit_with = true\n",
        4,
        13,
        "component `w`: exit_with = true cannot go with replicas: the run would have several exit codes to choose from",
    );
}

#[test]
fn an_instance_cannot_take_another_components_name() {
    assert_one_error(
        "[components.w]\ncommand = \"true\"\nreplicas = 2\n[components.\"w.2\"]\nkind = \"sim\"\n",
        3,
        12,
        "component `w`: replicas: instance `w.2` would have the name of another component",
    );
}

#[test]
fn a_mistake_in_a_replicated_table_is_one_error_naming_the_component() {
    assert_one_error(
        "[components.w]\ncommand = \"true\"\nreplicas = 3\nstop_timeout = \"0s\"\n",
        4,
        16,
        "component `w`: stop_timeout must be greater than zero",
    );
}

#[test]
fn scale_overrides_the_count_and_names_an_unknown_component() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("s.toml");
    std::fs::write(&path, WORKERS).expect("write");
    let kinds = crate::kinds::builtin();
    let five = BTreeMap::from([("worker".to_string(), 5)]);
    let c = Config::load_scaled(&path, &kinds, &five).expect("valid");
    assert_eq!(c.replicas["worker"], 5);
    let api = c.index_of("api").expect("api");
    assert_eq!(c.components[api].depends_on.len(), 5);
    // A component without `replicas` can be scaled too.
    let db = BTreeMap::from([("db".to_string(), 2)]);
    let e = Config::load_scaled(&path, &kinds, &db).expect_err("db is a sim");
    assert_eq!(
        e.to_string(),
        "supervisor.toml:1:13: error: component `db`: replicas: only a process can have replicas, and this component is kind `sim`"
            .replace("supervisor.toml", &path.display().to_string())
    );
    let typo = BTreeMap::from([("wroker".to_string(), 2)]);
    let e = Config::load_scaled(&path, &kinds, &typo).expect_err("no such component");
    assert!(
        e.to_string()
            .contains("there is no component `wroker` (did you mean `worker`?)"),
        "{e}"
    );
}
