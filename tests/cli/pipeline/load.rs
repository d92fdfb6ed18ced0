//! A load generator for the job pipeline: concurrent clients posting jobs to
//! `POST /jobs` until the front end stops accepting connections, recording
//! which job ids were accepted (202) and how many requests failed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::shared::TIMEOUT;

/// What the clients saw.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// Ids of the jobs answered 202: the pipeline promised to do these.
    pub accepted: BTreeSet<u64>,
    /// Answers other than 202 (a 503 while Redis is down, …), by status.
    pub rejected: Vec<u16>,
    /// Requests that ended without an answer on an open connection.
    pub errors: usize,
}

/// A running load; [`Load::finish`] waits for it to end by itself (the
/// front end refused connections) and returns what it saw.
pub(super) struct Load {
    accepted: Arc<(Mutex<usize>, Condvar)>,
    thread: JoinHandle<Outcome>,
}

/// Upper bound on a load's life, so a pipeline that never stops cannot hang a test.
const MAX_LOAD: Duration = Duration::from_secs(60);

impl Load {
    /// Starts `clients` concurrent clients against `http`.
    pub(super) fn start(http: SocketAddr, clients: usize) -> Load {
        let accepted: Arc<(Mutex<usize>, Condvar)> = Arc::default();
        let count = Arc::clone(&accepted);
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the load");
            rt.block_on(run(http, clients, count))
        });
        Load { accepted, thread }
    }

    /// Waits (bounded) until at least `n` jobs were accepted.
    pub(super) fn wait_accepted(&self, n: usize) {
        let (lock, cvar) = &*self.accepted;
        let guard = lock.lock().expect("load lock");
        let (guard, timeout) = cvar
            .wait_timeout_while(guard, TIMEOUT, |c| *c < n)
            .expect("load lock");
        assert!(
            !timeout.timed_out(),
            "only {} jobs accepted within {:?}",
            *guard,
            TIMEOUT
        );
    }

    /// Waits for the clients to give up (the front end is gone) and returns what they saw.
    pub(super) fn finish(self) -> Outcome {
        self.thread.join().expect("the load thread panicked")
    }
}

async fn run(http: SocketAddr, clients: usize, count: Arc<(Mutex<usize>, Condvar)>) -> Outcome {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let seq = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, count, seq) = (client.clone(), Arc::clone(&count), Arc::clone(&seq));
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            let uri: hyper::Uri = format!("http://{http}/jobs").parse().expect("uri");
            let started = Instant::now();
            while started.elapsed() < MAX_LOAD {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let body = format!(r#"{{"client":{c},"n":{n}}}"#);
                let req = hyper::Request::post(uri.clone())
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .expect("request");
                match client.request(req).await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body = resp.into_body().collect().await.map(|b| b.to_bytes());
                        match (status, body) {
                            (202, Ok(body)) => {
                                let v: serde_json::Value =
                                    serde_json::from_slice(&body).expect("a JSON answer");
                                let id = v["id"].as_u64().expect("the answer has an id");
                                assert!(out.accepted.insert(id), "id {id} accepted twice");
                                let (lock, cvar) = &*count;
                                *lock.lock().expect("load lock") += 1;
                                cvar.notify_all();
                            }
                            // A 202 whose body was cut off: the job is accepted
                            // but its id unknown; count it as an error.
                            (202, Err(_)) => out.errors += 1,
                            (other, _) => out.rejected.push(other),
                        }
                    }
                    // Refused: the front end has closed its listener; this client is done.
                    Err(e) if e.is_connect() => break,
                    Err(_) => out.errors += 1,
                }
            }
            out
        }));
    }
    let mut total = Outcome::default();
    for t in tasks {
        let out = t.await.expect("a load client panicked");
        for id in out.accepted {
            assert!(total.accepted.insert(id), "id {id} accepted twice");
        }
        total.rejected.extend(out.rejected);
        total.errors += out.errors;
    }
    total
}

/// Posts one job, retrying (bounded by `TIMEOUT`) until it is accepted, and
/// returns its id: waits for the whole pipeline to take jobs, where
/// readiness says less (a real Redis may still be loading when its process
/// counts as started).
pub(super) fn first_job(http: SocketAddr) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let req = hyper::Request::post(format!("http://{http}/jobs"))
                .body(Full::new(Bytes::from_static(b"{\"first\":true}")))
                .expect("request");
            if let Ok(resp) = client.request(req).await
                && resp.status() == 202
            {
                let body = resp.into_body().collect().await.expect("body").to_bytes();
                let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
                return v["id"].as_u64().expect("an id");
            }
            assert!(
                Instant::now() < deadline,
                "the pipeline never accepted a job"
            );
            // Polling an observable state: there is no event for "Redis has
            // finished loading" to wait on.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}
