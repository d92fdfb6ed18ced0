//! `[supervisor.metrics]`: the built binary serves `GET /metrics`, which a
//! real parser (Python's `prometheus_client`, installed by `.ci/run`) reads,
//! and whose values match `sundown status`; a remote address needs
//! `allow_remote`.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::common::{Sandbox, cli};
use crate::shared::{REQUIRE_ENV, TIMEOUT, free_addr};

/// The parser: reads OpenMetrics text on stdin, prints one line per sample,
/// `name{labels as JSON} value`.
/// A family's type and unit are given as a sample named `#type NAME`
/// (labels `{"type": …, "unit": …}`, value 0).
const PARSE: &str = r##"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    print("#type:" + family.name, json.dumps({"type": family.type, "unit": family.unit}, sort_keys=True), 0)
    for s in family.samples:
        print(s.name, json.dumps(s.labels, sort_keys=True), s.value)
"##;

/// Whether Python's `prometheus_client` is here; under [`REQUIRE_ENV`] it must be.
fn parser_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none(),
            "{REQUIRE_ENV} is set but python3 -m prometheus_client is missing"
        );
        eprintln!(
            "skipped: Python's prometheus_client is not installed (pip install prometheus_client)"
        );
    }
    ok
}

/// `(name, labels) -> value` of every sample, as the real parser read them.
type Samples = BTreeMap<(String, String), f64>;

fn scrape(addr: SocketAddr) -> Samples {
    let mut s = TcpStream::connect(addr).expect("connect to the metrics port");
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("request");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    let mut py = Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    py.stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed the parser");
    let out = py.wait_with_output().expect("the parser");
    assert!(
        out.status.success(),
        "the parser rejected the metrics: {}\n{body}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let (name, rest) = l.split_once(' ').expect("name");
            let (labels, value) = rest.rsplit_once(' ').expect("value");
            (
                (name.to_string(), labels.to_string()),
                value.parse().expect("a number"),
            )
        })
        .collect()
}

fn get(m: &Samples, name: &str, labels: &str) -> f64 {
    *m.get(&(name.to_string(), labels.to_string()))
        .unwrap_or_else(|| panic!("no {name}{labels} in {m:#?}"))
}

#[test]
fn the_metrics_parse_and_match_the_status_while_running_and_stopping() {
    if !parser_available() {
        return;
    }
    let sb = Sandbox::new();
    let addr = free_addr();
    let flag = sb.path("crashed-once");
    // `flaky` fails once, then runs: one restart. `db` ignores its stop, so
    // the shutdown is caught in its second phase; `web` stops in 100 ms.
    sb.config(&format!(
        "[supervisor.metrics]\nlisten = \"{addr}\"\n\n\
         [components.db]\nkind = \"sim\"\nignore_stop = true\nstop_timeout = \"10s\"\n\n\
         [components.web]\nkind = \"sim\"\nstop_delay = \"100ms\"\ndepends_on = [\"db\"]\n\n{}",
        sb.shell(
            "flaky",
            &format!(
                "if [ -f {f} ]; then exec sleep 1000; else touch {f}; exit 1; fi",
                f = flag.display()
            ),
            "ready_after = \"100ms\"\nrestart = \"on-failure\"\nrestart_backoff = \"20ms\""
        )
    ));
    let mut sd = sb.run();
    sd.wait_ready(3);
    sd.wait_for(&format!("metrics: http://{addr}/metrics"));
    let m = scrape(addr);
    let v = sb.status();
    for c in &v.components {
        let l = format!("{{\"component\": \"{}\"}}", c.name);
        assert_eq!(get(&m, "sundown_component_up", &l), 1.0, "{}", c.name);
        assert_eq!(
            get(&m, "sundown_component_restarts_total", &l),
            f64::from(c.restarts),
            "{}",
            c.name
        );
        let state = serde_json::to_value(c.state).expect("state");
        let l = format!("{{\"component\": \"{}\", \"state\": {state}}}", c.name);
        assert_eq!(get(&m, "sundown_component_state", &l), 1.0, "{}", c.name);
    }
    assert_eq!(
        v.components
            .iter()
            .find(|c| c.name == "flaky")
            .map(|c| c.restarts),
        Some(1)
    );
    assert_eq!(get(&m, "sundown_shutdown_in_progress", "{}"), 0.0);
    let ones = m
        .iter()
        .filter(|((n, _), v)| n == "sundown_component_state" && **v == 1.0)
        .count();
    assert_eq!(ones, 3, "one state per component");
    // CPU and memory: of the process component, not of the in-process ones,
    // typed as OpenMetrics says (a counter in seconds, a gauge in bytes).
    let typed = |family: &str, t: &str, unit: &str| {
        let labels = format!("{{\"type\": \"{t}\", \"unit\": \"{unit}\"}}");
        assert!(
            m.contains_key(&(format!("#type:{family}"), labels)),
            "{family} is not a {t} in {unit}: {m:#?}"
        );
    };
    typed("sundown_component_cpu_seconds", "counter", "seconds");
    typed("sundown_component_memory_bytes", "gauge", "bytes");
    let flaky = "{\"component\": \"flaky\"}";
    let cpu = get(&m, "sundown_component_cpu_seconds_total", flaky);
    assert!((0.0..10.0).contains(&cpu), "{cpu}");
    let memory = get(&m, "sundown_component_memory_bytes", flaky);
    assert!((4096.0..1e9).contains(&memory), "a sleep's size: {memory}");
    for sim in ["db", "web"] {
        let l = format!("{{\"component\": \"{sim}\"}}");
        assert!(
            !m.contains_key(&("sundown_component_memory_bytes".into(), l)),
            "{sim} runs inside sundown: {m:#?}"
        );
    }
    match v
        .components
        .iter()
        .find(|c| c.name == "flaky")
        .and_then(|c| c.usage?.measured())
    {
        Some((_, memory_bytes)) => {
            // Measured again for each: the same sleep, about the same size.
            let ratio = memory / memory_bytes as f64;
            assert!((0.5..2.0).contains(&ratio), "{memory} vs {memory_bytes}");
        }
        other => panic!("flaky is not measured in status: {other:?}"),
    }

    sd.signal(Signal::SIGTERM);
    // Wait (observably, not for a fixed time) until phase 1 is over and db holds phase 2.
    let deadline = Instant::now() + TIMEOUT;
    let m = loop {
        let m = scrape(addr);
        if m.contains_key(&(
            "sundown_phase_last_duration_seconds".into(),
            "{\"phase\": \"1\"}".into(),
        )) {
            break m;
        }
        assert!(Instant::now() < deadline, "phase 1 never ended: {m:#?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(get(&m, "sundown_shutdown_in_progress", "{}"), 1.0);
    assert_eq!(
        get(
            &m,
            "sundown_component_state",
            "{\"component\": \"db\", \"state\": \"stopping\"}"
        ),
        1.0
    );
    assert_eq!(
        get(&m, "sundown_component_up", "{\"component\": \"web\"}"),
        0.0
    );
    let web_stop = get(
        &m,
        "sundown_component_last_stop_duration_seconds",
        "{\"component\": \"web\"}",
    );
    assert!((0.09..2.0).contains(&web_stop), "{web_stop}");
    let phase1 = get(
        &m,
        "sundown_phase_last_duration_seconds",
        "{\"phase\": \"1\"}",
    );
    assert!(
        phase1 >= web_stop - 0.01 && phase1 < 2.0,
        "{phase1} vs {web_stop}"
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 4, "{}", sd.stderr());
}

#[test]
fn a_remote_metrics_address_needs_allow_remote() {
    let sb = Sandbox::new();
    let toml =
        "[supervisor.metrics]\nlisten = \"0.0.0.0:9464\"\n\n[components.a]\nkind = \"sim\"\n";
    let path = sb.config(toml);
    let out = cli(&["check", "--config", path.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("0.0.0.0:9464 is reachable from other machines"),
        "{err}"
    );
    assert!(
        err.contains("supervisor.toml:2:10"),
        "the error points at the value: {err}"
    );
    sb.config(&toml.replace("9464\"\n", "9464\"\nallow_remote = true\n"));
    let out = cli(&["check", "--config", path.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_metrics_port_in_use_fails_the_run_before_anything_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let sb = Sandbox::new();
    sb.config(&format!(
        "[supervisor.metrics]\nlisten = \"{addr}\"\n\n{}",
        sb.service("db", "")
    ));
    let mut sd = sb.run();
    assert_eq!(sd.exit_code(), 2);
    assert!(
        sd.stderr()
            .contains(&format!("cannot serve metrics on {addr}")),
        "{}",
        sd.stderr()
    );
    assert!(!sb.log().exists(), "a component started");
}
