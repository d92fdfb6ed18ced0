//! Reading the status over and over: every second, every 250 ms during a
//! shutdown (whose countdowns move), at once when woken (a change was
//! sent). A failed read is retried, slower each time, and said once; only
//! a supervisor that is gone (nothing listens on its socket) ends it.

use std::future::Future;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

use sundown::control::client::ClientError;
use sundown::status::StatusView;
use tokio::sync::Notify;

/// How often the status is read while nothing happens, and during a
/// shutdown. A plain poll rather than a long one: each `top` holds as few
/// of the control socket's connections (32 in all) as it can.
const REFRESH: Duration = Duration::from_secs(1);
const REFRESH_STOPPING: Duration = Duration::from_millis(250);
/// The first wait after a failed read, doubled after each one, up to the last.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MOST: Duration = Duration::from_secs(5);

/// What a read of the status says.
#[derive(Debug)]
pub(crate) enum Polled {
    Status(StatusView),
    /// The status could not be read this time (why); it is tried again.
    Trouble(String),
    /// Nothing listens on the socket any more: the supervisor is gone.
    Gone(String),
}

/// Reads the status with `fetch` until the supervisor is gone, or `out`
/// no longer listens (it returns false).
pub(crate) async fn poll<F, Fut>(
    mut fetch: F,
    mut out: impl FnMut(Polled) -> bool,
    wake: Arc<Notify>,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<StatusView, ClientError>>,
{
    let mut retry = RETRY_FIRST;
    // The trouble last said, so a lasting one is said once.
    let mut said: Option<String> = None;
    loop {
        let every = match fetch().await {
            Ok(v) => {
                retry = RETRY_FIRST;
                said = None;
                let every = if v.shutdown.is_some() {
                    REFRESH_STOPPING
                } else {
                    REFRESH
                };
                if !out(Polled::Status(v)) {
                    return;
                }
                every
            }
            Err(e) if gone(&e) => {
                out(Polled::Gone("its control socket closed".to_string()));
                return;
            }
            Err(e) => {
                let why = e.to_string();
                if said.as_ref() != Some(&why) {
                    if !out(Polled::Trouble(why.clone())) {
                        return;
                    }
                    said = Some(why);
                }
                let wait = retry;
                retry = (retry * 2).min(RETRY_MOST);
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = wake.notified() => {}
        }
    }
}

/// Whether `e` says nothing listens on the socket: it is not there, or
/// no one accepts on it. A full queue of connections to accept is a busy
/// supervisor, not a gone one.
fn gone(e: &ClientError) -> bool {
    matches!(e, ClientError::NotRunning { source, .. }
        if matches!(source.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::path::PathBuf;
    use std::sync::Mutex;

    use hyper::StatusCode;
    use tokio::time::Instant;

    use super::*;

    fn broken(message: &str) -> ClientError {
        ClientError::Broken {
            path: PathBuf::from("s.sock"),
            message: message.into(),
        }
    }

    fn not_running(kind: ErrorKind) -> ClientError {
        ClientError::NotRunning {
            path: PathBuf::from("s.sock"),
            source: kind.into(),
        }
    }

    fn status() -> StatusView {
        crate::top::fixtures::running()
    }

    /// Runs `poll` over `answers` (in order) with a paused clock: what it
    /// said, each with the seconds since the start, and when each read was.
    async fn run(answers: Vec<Result<StatusView, ClientError>>) -> (Vec<(f64, String)>, Vec<f64>) {
        let start = Instant::now();
        let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
        let reads = Arc::new(Mutex::new(Vec::new()));
        let said = Arc::new(Mutex::new(Vec::new()));
        let (a, r, s) = (Arc::clone(&answers), Arc::clone(&reads), Arc::clone(&said));
        let fetch = move || {
            let next = a.lock().unwrap().pop_front();
            r.lock().unwrap().push(start.elapsed().as_secs_f64());
            async move { next.unwrap_or_else(|| Err(not_running(ErrorKind::NotFound))) }
        };
        let out = move |p: Polled| {
            let what = match p {
                Polled::Status(_) => "status".to_string(),
                Polled::Trouble(why) => format!("trouble: {why}"),
                Polled::Gone(why) => format!("gone: {why}"),
            };
            s.lock()
                .unwrap()
                .push((start.elapsed().as_secs_f64(), what));
            true
        };
        poll(fetch, out, Arc::new(Notify::new())).await;
        let said = said.lock().unwrap().clone();
        let reads = reads.lock().unwrap().clone();
        (said, reads)
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_read_is_said_once_and_retried_slower_until_an_answer_clears_it() {
        let refused = ClientError::Refused {
            path: PathBuf::from("s.sock"),
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "busy".into(),
        };
        let (said, reads) = run(vec![
            Ok(status()),
            Err(broken("no answer within 10s")),
            Err(broken("no answer within 10s")),
            Err(broken("no answer within 10s")),
            Err(broken("no answer within 10s")),
            Err(broken("no answer within 10s")),
            Err(refused),
            Err(not_running(ErrorKind::WouldBlock)),
            Ok(status()),
            Err(broken("the status does not parse")),
            Ok(status()),
        ])
        .await;
        // 1 s after the answer, then 1, 2, 4 and 5 s (the most) after each failure.
        assert_eq!(
            reads,
            [
                0.0, 1.0, 2.0, 4.0, 8.0, 13.0, 18.0, 23.0, 28.0, 29.0, 30.0, 31.0
            ]
        );
        let said: Vec<(f64, &str)> = said.iter().map(|(t, w)| (*t, w.as_str())).collect();
        assert_eq!(
            said,
            [
                (0.0, "status"),
                (1.0, "trouble: s.sock: no answer within 10s"),
                (18.0, "trouble: busy"),
                (
                    23.0,
                    "trouble: no sundown is running with the control socket s.sock (operation would block); is `sundown run` running with this config?"
                ),
                (28.0, "status"),
                // After an answer, the next failure is said again, and waited on 1 s.
                (29.0, "trouble: s.sock: the status does not parse"),
                (30.0, "status"),
                (31.0, "gone: its control socket closed"),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_socket_no_one_accepts_on_ends_it_at_once() {
        let (said, reads) = run(vec![
            Ok(status()),
            Err(not_running(ErrorKind::ConnectionRefused)),
        ])
        .await;
        assert_eq!(reads, [0.0, 1.0]);
        assert_eq!(
            said.last().map(|(t, w)| (*t, w.as_str())),
            Some((1.0, "gone: its control socket closed"))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn during_a_shutdown_it_reads_four_times_a_second() {
        let stopping = crate::top::fixtures::stopping();
        assert!(stopping.shutdown.is_some());
        let (_, reads) = run(vec![Ok(status()), Ok(stopping.clone()), Ok(stopping)]).await;
        assert_eq!(reads, [0.0, 1.0, 1.25, 1.5]);
    }
}
