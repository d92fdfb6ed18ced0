//! Running readiness and liveness probes for `kind = "process"`.
//!
//! A probe is the only place where sundown polls, and only because the
//! program offers nothing to wait on: the interval is the user's, every
//! check is bounded by its own timeout, and a `log` probe waits on the
//! output forwarder instead of polling at all.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::probe_settings::{Check, ProbeSpec};

/// Runs the command of an `exec` probe to its end, with the component's
/// environment, directory and user, and its output captured.
pub(crate) type ExecBuilder<'a> = &'a (
        dyn Fn(&[String]) -> crate::component::BoxFuture<std::io::Result<std::process::Output>>
            + Sync
    );

/// Waits until the readiness probe passes. `log_matched` fires when a line
/// of output matched a `log` probe. The error names the probe and its last
/// failure.
pub(crate) async fn until_ready(
    spec: &ProbeSpec,
    exec: ExecBuilder<'_>,
    log_matched: &CancellationToken,
) -> Result<(), String> {
    let deadline = Instant::now() + spec.ready_timeout;
    let within = humantime::format_duration(spec.ready_timeout);
    if let Check::Log(_) = spec.check {
        return tokio::select! {
            _ = log_matched.cancelled() => Ok(()),
            _ = tokio::time::sleep_until(deadline) => Err(format!(
                "not ready within {within}: readiness probe {}: no line of output matched", spec.check
            )),
        };
    }
    tokio::time::sleep_until((Instant::now() + spec.start_period).min(deadline)).await;
    let mut last: Option<String> = None;
    loop {
        let started = Instant::now();
        // A check never runs past the deadline: its failure would come too late.
        let limit = spec
            .timeout
            .min(deadline.saturating_duration_since(started));
        match tokio::time::timeout(limit, check_once(&spec.check, exec)).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => last = Some(e),
            // Cut short by the deadline, not by its own timeout: the failure
            // before it says more than "no answer within 3ms".
            Err(_) if limit < spec.timeout && last.is_some() => {}
            Err(_) => last = Some(no_answer(limit)),
        }
        let last = last.as_deref().unwrap_or_default();
        // A check that took longer than the interval is followed at once.
        let next = (started + spec.interval).max(Instant::now());
        if next >= deadline {
            return Err(format!(
                "not ready within {within}: readiness probe {}: {last}",
                spec.check
            ));
        }
        tokio::time::sleep_until(next).await;
    }
}

/// Runs the liveness probe until it has failed `failure_threshold` times in
/// a row, and returns why. Never returns while the program is healthy.
pub(crate) async fn until_dead(spec: &ProbeSpec, exec: ExecBuilder<'_>, name: &str) -> String {
    tokio::time::sleep(spec.start_period).await;
    let mut failures = 0;
    loop {
        let started = Instant::now();
        match check_within(&spec.check, spec.timeout, exec).await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures += 1;
                if failures >= spec.failure_threshold {
                    return format!(
                        "liveness probe {} failed {failures} time(s) in a row: {e}",
                        spec.check
                    );
                }
                tracing::warn!(component = %name, "{name}: liveness probe {} failed ({failures}/{}): {e}", spec.check, spec.failure_threshold);
            }
        }
        tokio::time::sleep_until(started + spec.interval).await;
    }
}

async fn check_within(check: &Check, limit: Duration, exec: ExecBuilder<'_>) -> Result<(), String> {
    match tokio::time::timeout(limit, check_once(check, exec)).await {
        Ok(result) => result,
        Err(_) => Err(no_answer(limit)),
    }
}

fn no_answer(limit: Duration) -> String {
    format!("no answer within {}", humantime::format_duration(limit))
}

async fn check_once(check: &Check, exec: ExecBuilder<'_>) -> Result<(), String> {
    match check {
        Check::Tcp(addr) => TcpStream::connect(addr.as_str())
            .await
            .map(drop)
            .map_err(|e| format!("connect to {addr}: {e}")),
        Check::Http { url, status } => {
            let got = http_status(url)
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            if got == *status {
                Ok(())
            } else {
                Err(format!("GET {url}: status {got}, want {status}"))
            }
        }
        Check::Exec(argv) => {
            let out = exec(argv)
                .await
                .map_err(|e| format!("cannot run `{}`: {e}", argv[0]))?;
            if out.status.success() {
                return Ok(());
            }
            // The program's own words say more than its status.
            let said = [&out.stderr, &out.stdout]
                .into_iter()
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .find(|s| !s.is_empty())
                .map(|s| format!(": {}", s.lines().last().unwrap_or_default()))
                .unwrap_or_default();
            Err(format!(
                "`{}` {}{said}",
                shell_words::join(argv),
                out.status
            ))
        }
        // Handled by `until_ready` without checking; config rejects it for liveness.
        Check::Log(_) => Ok(()),
    }
}

/// One HTTP/1.1 GET on a fresh connection; the status code.
async fn http_status(url: &str) -> Result<u16, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let host = uri.host().ok_or("no host in the URL")?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{e}"))?;
    let authority = uri
        .authority()
        .map_or(host.to_string(), ToString::to_string);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "sundown-probe")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("{e}"))?;
    tokio::pin!(conn);
    // The connection future does the I/O; the response arrives through the sender.
    tokio::select! {
        response = sender.send_request(request) => response
            .map(|r| r.status().as_u16())
            .map_err(|e| format!("{e}")),
        done = &mut conn => Err(match done {
            Ok(()) => "connection closed before the response".to_string(),
            Err(e) => format!("{e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(check: Check) -> ProbeSpec {
        ProbeSpec {
            check,
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(200),
            start_period: Duration::ZERO,
            ready_timeout: Duration::from_millis(400),
            failure_threshold: 2,
        }
    }

    use tokio::process::Command;

    fn no_exec(
        argv: &[String],
    ) -> crate::component::BoxFuture<std::io::Result<std::process::Output>> {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]).kill_on_drop(true);
        Box::pin(async move { c.output().await })
    }

    #[tokio::test]
    async fn tcp_passes_once_something_listens() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let spec = probe(Check::Tcp(l.local_addr().expect("addr").to_string()));
        assert_eq!(
            until_ready(&spec, &no_exec, &CancellationToken::new()).await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn tcp_names_the_last_error_when_nothing_listens() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr")
        };
        let spec = probe(Check::Tcp(addr.to_string()));
        let e = until_ready(&spec, &no_exec, &CancellationToken::new())
            .await
            .expect_err("nothing listens");
        assert!(
            e.starts_with("not ready within 400ms: readiness probe tcp "),
            "{e}"
        );
        assert!(e.contains("connect to") && e.contains("refused"), "{e}");
    }

    #[tokio::test]
    async fn log_waits_for_the_match_without_polling() {
        let spec = probe(Check::Log(regex::Regex::new("ready").expect("regex")));
        let matched = CancellationToken::new();
        matched.cancel();
        assert_eq!(until_ready(&spec, &no_exec, &matched).await, Ok(()));
        let e = until_ready(&spec, &no_exec, &CancellationToken::new())
            .await
            .expect_err("no line");
        assert!(e.contains("no line of output matched"), "{e}");
    }

    #[tokio::test]
    async fn exec_reports_the_programs_own_words() {
        let mut spec = probe(Check::Exec(vec![
            "sh".into(),
            "-c".into(),
            "echo 'no server on 5432' >&2; exit 2".into(),
        ]));
        // One check, with all the time a loaded machine needs to start `sh`
        // (CI saw more than 200 ms); it fails in milliseconds, and then the
        // next would come too late, so that is the answer.
        (spec.timeout, spec.interval, spec.ready_timeout) = (
            Duration::from_secs(10),
            Duration::from_secs(10),
            Duration::from_secs(10),
        );
        let e = until_ready(&spec, &no_exec, &CancellationToken::new())
            .await
            .expect_err("fails");
        assert!(e.contains("exit status: 2: no server on 5432"), "{e}");
    }

    /// The last check, cut short by the deadline, must not hide why the
    /// one before failed (a loaded machine made `sh` that slow).
    #[tokio::test(start_paused = true)]
    async fn a_check_cut_short_by_the_deadline_keeps_the_earlier_failure() {
        use std::os::unix::process::ExitStatusExt;
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let exec =
            |_: &[String]| -> crate::component::BoxFuture<std::io::Result<std::process::Output>> {
                let first = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
                Box::pin(async move {
                    if !first {
                        std::future::pending::<()>().await;
                    }
                    Ok(std::process::Output {
                        status: std::process::ExitStatus::from_raw(2 << 8),
                        stdout: Vec::new(),
                        stderr: b"no server on 5432".to_vec(),
                    })
                })
            };
        let mut spec = probe(Check::Exec(vec!["pg_isready".into()]));
        spec.ready_timeout = Duration::from_millis(230);
        let e = until_ready(&spec, &exec, &CancellationToken::new())
            .await
            .expect_err("fails");
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(e.ends_with("exit status: 2: no server on 5432"), "{e}");
    }

    #[tokio::test]
    async fn liveness_fails_after_the_threshold_in_a_row() {
        let spec = probe(Check::Exec(vec!["false".into()]));
        let e = until_dead(&spec, &no_exec, "db").await;
        assert!(
            e.starts_with("liveness probe exec `false` failed 2 time(s) in a row"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn http_checks_the_status() {
        use axum::{Router, http::StatusCode, routing::get};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let app = Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route("/down", get(|| async { StatusCode::SERVICE_UNAVAILABLE }));
        let server = tokio::spawn(async move { axum::serve(l, app).await });
        let ok = probe(Check::Http {
            url: format!("http://{addr}/ok"),
            status: 200,
        });
        assert_eq!(
            until_ready(&ok, &no_exec, &CancellationToken::new()).await,
            Ok(())
        );
        let down = probe(Check::Http {
            url: format!("http://{addr}/down"),
            status: 200,
        });
        let e = until_ready(&down, &no_exec, &CancellationToken::new())
            .await
            .expect_err("503");
        assert!(e.contains("status 503, want 200"), "{e}");
        server.abort();
    }
}
