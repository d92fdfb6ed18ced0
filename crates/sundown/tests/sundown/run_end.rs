//! The supervisor tells how its run ended: the final status (`done`)
//! carries the exit code its process exits with and what that means, and
//! the control socket's `GET /wait?end` answers with it before it closes.

use std::time::Duration;

use sundown::control::{ControlSocket, client};
use sundown::logs::LogStore;
use sundown::status::StatusView;
use sundown::{RunExit, Running, State, Trigger};
use tokio_util::sync::CancellationToken;

use crate::common::sup;

/// `web` ignores its stop and is killed at its 50 ms stop timeout.
const STUBBORN: &str = r#"
[components.db]
kind = "sim"
[components.web]
kind = "sim"
depends_on = ["db"]
ignore_stop = true
stop_timeout = "50ms"
"#;

fn view(r: &Running) -> StatusView {
    let s = r.status();
    let s = s.borrow();
    s.view(s.now_ms())
}

fn exit(code: i32, meaning: &str) -> Option<RunExit> {
    Some(RunExit {
        code,
        meaning: meaning.into(),
    })
}

#[tokio::test(start_paused = true)]
async fn the_final_status_says_the_exit_code_and_its_meaning() {
    let mut r = sup(STUBBORN).spawn();
    assert!(r.ready().await);
    assert_eq!(view(&r).exit, None, "not while it runs");
    let status = r.status();
    r.handle().shutdown(Trigger::Requested);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(view(&r).exit, None, "nor while it stops");
    let report = r.wait().await;
    let last = status.borrow().view(0.0);
    assert_eq!(last.state, State::Done);
    assert_eq!(last.exit, exit(3, "stopped by force"));
    assert_eq!(last.exit.map(|e| e.code), Some(report.exit_code));
    // In JSON as documented, and read back by clients.
    let json = serde_json::to_value(status.borrow().view(0.0)).expect("serializes");
    crate::report_schema::assert_matches("docs/status.schema.json", &json);
    assert_eq!(
        json["exit"],
        serde_json::json!({"code": 3, "meaning": "stopped by force"})
    );

    // A second signal: 4.
    let mut r = sup(STUBBORN).spawn();
    assert!(r.ready().await);
    let status = r.status();
    r.handle().shutdown(Trigger::Signal("SIGTERM".into()));
    tokio::time::sleep(Duration::from_millis(10)).await;
    r.handle().force(Trigger::Signal("SIGTERM".into()));
    assert_eq!(r.wait().await.exit_code, 4);
    assert_eq!(status.borrow().exit, exit(4, "second signal"));
}

#[tokio::test(start_paused = true)]
async fn an_exit_with_components_own_code_is_said_to_be_its() {
    let r = sup(
        "[components.db]\nkind = \"sim\"\n[components.tests]\nkind = \"sim\"\nexit_with = true\nexit_after = \"20ms\"\ndepends_on = [\"db\"]\n",
    )
    .spawn();
    let status = r.status();
    let report = r.wait().await;
    assert_eq!(report.exit_code, 0);
    assert_eq!(
        status.borrow().exit,
        exit(0, "`tests`'s exit status (exit_with)")
    );
}

#[tokio::test]
async fn wait_end_answers_with_the_exit_before_the_socket_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.sock");
    let mut r = sup(STUBBORN).spawn();
    assert!(r.ready().await);
    let socket = ControlSocket::bind(&path).expect("bind");
    let stop = CancellationToken::new();
    let serving = tokio::spawn(socket.serve(
        r.status(),
        r.handle(),
        LogStore::new(16),
        None,
        stop.clone(),
    ));
    // Asked while the run is still up: answered once it has ended.
    let asked = tokio::spawn({
        let path = path.clone();
        async move { client::end(&path).await }
    });
    let handle = r.handle();
    handle.shutdown(Trigger::Requested);
    let report = r.wait().await;
    // As `sundown run` does it: the run is over, then the socket closes.
    let late = client::end(&path)
        .await
        .expect("answered after the end too");
    stop.cancel();
    let said = asked.await.expect("joined").expect("the end, said");
    assert_eq!(
        said,
        RunExit {
            code: report.exit_code,
            meaning: "stopped by force".into()
        }
    );
    assert_eq!(late, said);
    drop(serving.await.expect("served"));
    assert!(matches!(
        client::end(&path).await,
        Err(client::ClientError::NotRunning { .. })
    ));
}
