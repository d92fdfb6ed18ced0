//! One client connection: read what has arrived, run it as one batch under
//! the store lock, wait until the batch is durable, answer, repeat.
//!
//! Batching is what makes pipelining cheap: a client that sends 16 commands
//! at once costs one lock, one append-only-file wake-up and one socket
//! write, not 16.
//!
//! What a client that does not read can make the server hold is bounded.
//! Nothing more is read from a connection until the answers to its last
//! batch are written (the kernel's buffers then push back on the client).
//! Answers are kept as they were produced, mostly sharing the stored
//! values, and encoded a chunk at a time as the socket takes them, never
//! the whole batch at once. And a connection whose answers not yet written
//! weigh more than `client_output_limit` ([`Reply::weight`]) is closed at
//! once, its batch abandoned, as Redis does past its hard limit.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt as _, SinkExt, StreamExt as _};
use redis_protocol::codec::Resp2;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio_util::codec::{Decoder as _, Framed};
use tokio_util::sync::CancellationToken;

use super::blocking::Served;
use super::clients::ClientRecord;
use super::codec::{CodecError, ServerCodec, encode_reply};
use super::reply::Reply;
use super::session::{Session, Step};
use super::shared::Shared;

/// Most requests run in one batch; more wait for the next one, so one
/// client's flood cannot hold the store lock for long.
const MAX_BATCH: usize = 1024;

/// Encoded answers are written out whenever this many bytes are waiting,
/// so a batch's answers are never all encoded at once.
const WRITE_CHUNK: usize = 64 * 1024;

enum Input {
    Open,
    /// The client closed its side, or the socket failed.
    Closed,
    /// The bytes stopped making sense: answer this error, then close.
    Garbled(String),
}

/// A client blocked in `BLPOP` and friends.
struct Blocked {
    id: u64,
    rx: oneshot::Receiver<Served>,
    deadline: Option<Instant>,
    timeout_reply: Reply,
}

enum End {
    Done,
    Quit,
    Blocked(Blocked),
    /// The answers not yet written passed `client_output_limit`.
    Overflow,
}

struct Conn {
    framed: Framed<TcpStream, ServerCodec>,
    resp: Resp2,
    session: Session,
    pending: VecDeque<Vec<Bytes>>,
    replies: Vec<Reply>,
    input: Input,
    shared: Arc<Shared>,
    durable: Option<watch::Receiver<u64>>,
    /// The weight of `replies` plus the encoded bytes not yet written.
    omem: Arc<AtomicUsize>,
    /// It was closed for passing `client_output_limit`.
    overflowed: bool,
}

/// Serves one client until it leaves, breaks the protocol, is killed
/// (`CLIENT KILL`), or `stop`.
pub(super) async fn serve(sock: TcpStream, shared: Arc<Shared>, id: u64, stop: CancellationToken) {
    let kill = CancellationToken::new();
    let omem = Arc::new(AtomicUsize::new(0));
    let addr =
        |a: std::io::Result<std::net::SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    let peer = addr(sock.peer_addr());
    shared.lock().clients.add(
        id,
        ClientRecord {
            addr: peer.clone(),
            laddr: addr(sock.local_addr()),
            name: None,
            since: Instant::now(),
            kill: kill.clone(),
            omem: omem.clone(),
        },
    );
    let mut conn = Conn {
        framed: Framed::new(sock, ServerCodec::client()),
        resp: Resp2::default(),
        session: Session::new(id),
        pending: VecDeque::new(),
        replies: Vec::new(),
        input: Input::Open,
        durable: shared.aof.as_ref().map(|a| a.durable.clone()),
        shared,
        omem,
        overflowed: false,
    };
    let result = tokio::select! {
        r = conn.run(&stop) => r,
        _ = kill.cancelled() => Ok(()),
    };
    if let Err(e) = result {
        tracing::debug!("redis client {id}: {e}");
    }
    {
        let mut store = conn.shared.lock();
        // Nothing may be handed to a client that is gone (it would be lost).
        store.kill_client(id);
        store.clients.remove(id);
    }
    let sock = conn.framed.into_inner();
    if conn.overflowed {
        let info = &conn.shared.info;
        tracing::warn!(
            "{}: closed the connection of client {peer} (id {id}): the replies it has not read passed client_output_limit ({} bytes)",
            info.name,
            info.client_output_limit
        );
        // A reset, at once: what it did not read is thrown away, and the
        // kernel lets go of its buffers too.
        let _ = sock.set_zero_linger();
        return;
    }
    linger(sock).await;
}

/// How long a closing connection waits for the client to close its side.
const LINGER: Duration = Duration::from_secs(1);

/// Closes like a careful HTTP server does: closing a socket that still has
/// unread input makes the kernel send a reset and throw away the replies not
/// yet transmitted, and a client pipelining at stop time would lose answers
/// to commands that did run. So send FIN first, then discard input until
/// the client closes too (or [`LINGER`] passes).
async fn linger(mut sock: TcpStream) {
    if sock.shutdown().await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        let mut sink = [0u8; 4096];
        while matches!(sock.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

impl Conn {
    async fn run(&mut self, stop: &CancellationToken) -> Result<(), CodecError> {
        let mut stopping = false;
        loop {
            // Before anything is decoded: the limits depend on the AUTH
            // that the previous request may have been.
            self.batch();
            if self.pending.is_empty() {
                if stopping || !matches!(self.input, Input::Open) {
                    break;
                }
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => {
                        // What has already arrived is in flight: answer it,
                        // including what waits in the socket.
                        stopping = true;
                        self.read_ready();
                        while matches!(self.input, Input::Open) && self.pending.len() < self.batch() {
                            match self.framed.next().now_or_never() {
                                Some(item) => self.accept(item),
                                None => break,
                            }
                        }
                        continue;
                    }
                    item = self.framed.next() => self.accept(item),
                }
            }
            self.read_ready();
            let (end, need) = self.execute();
            self.send(need).await?;
            match end {
                End::Done => {}
                End::Quit => return Ok(()),
                End::Overflow => {
                    self.overflowed = true;
                    return Ok(());
                }
                End::Blocked(b) => {
                    if self.wait_blocked(b, stop).await? {
                        return Ok(());
                    }
                }
            }
        }
        if let Input::Garbled(msg) = &self.input {
            let msg = format!("ERR Protocol error: {msg}");
            self.replies.push(Reply::error(msg));
            self.send(0).await?;
        }
        Ok(())
    }

    fn accept(&mut self, item: Option<Result<Vec<Bytes>, CodecError>>) {
        match item {
            Some(Ok(args)) => self.pending.push_back(args),
            Some(Err(CodecError::Protocol(m))) => self.input = Input::Garbled(m),
            Some(Err(CodecError::Io(_))) | None => self.input = Input::Closed,
        }
    }

    /// How many requests to read ahead. Until a client has given the
    /// password, one at a time: each is read under the limits for clients
    /// that have not (see the codec), and an `AUTH` must run before the
    /// request after it is read, or a pipelined `AUTH` + `SET` would be
    /// refused.
    fn batch(&mut self) -> usize {
        let locked = self.shared.info.password.is_some() && !self.session.client.authenticated;
        self.framed.codec_mut().unauthenticated = locked;
        if locked { 1 } else { MAX_BATCH }
    }

    /// Takes the requests already read. This decodes straight from the
    /// read buffer instead of polling the stream, which would try one more
    /// read from the socket per batch (a syscall that finds nothing). The
    /// buffer is lent to the framed codec itself: it is the one instance
    /// that remembers how far it scanned a partial request.
    fn read_ready(&mut self) {
        let batch = self.batch();
        let mut buf = std::mem::take(self.framed.read_buffer_mut());
        while matches!(self.input, Input::Open) && self.pending.len() < batch {
            match self.framed.codec_mut().decode(&mut buf) {
                Ok(Some(args)) => self.pending.push_back(args),
                Ok(None) => break,
                Err(e) => self.accept(Some(Err(e))),
            }
        }
        *self.framed.read_buffer_mut() = buf;
    }

    /// Runs the pending requests under one lock, until one blocks or quits.
    /// Returns how far the append-only file must be durable before the
    /// answers go out: everything logged so far, by anyone, so no client is
    /// ever shown a write that a crash could still lose.
    fn execute(&mut self) -> (End, u64) {
        let Conn {
            shared,
            session,
            pending,
            replies,
            omem,
            ..
        } = self;
        let limit = shared.info.client_output_limit;
        let mut weight = omem.load(Ordering::Relaxed);
        let mut store = shared.lock();
        // One clock reading per batch: a batch runs in microseconds, far
        // below the millisecond grain of expiry.
        store.tick();
        let mut end = End::Done;
        while let Some(args) = pending.pop_front() {
            match session.execute(&mut store, &shared.info, args) {
                Step::Reply(r) => {
                    weight = weight.saturating_add(r.weight());
                    replies.push(r);
                    if weight > limit {
                        // What ran stays done (it may be logged already);
                        // the rest of the batch is dropped with the client.
                        replies.clear();
                        pending.clear();
                        end = End::Overflow;
                        break;
                    }
                }
                Step::Quit(r) => {
                    replies.push(r);
                    end = End::Quit;
                    break;
                }
                Step::Block(req) => {
                    let (tx, rx) = oneshot::channel();
                    let deadline = req.timeout.and_then(|t| Instant::now().checked_add(t));
                    let timeout_reply = req.op.timeout_reply();
                    let id = store
                        .blocking
                        .block(session.client.id, req.keys, req.op, tx);
                    end = End::Blocked(Blocked {
                        id,
                        rx,
                        deadline,
                        timeout_reply,
                    });
                    break;
                }
            }
        }
        omem.store(weight, Ordering::Relaxed);
        (end, store.aof_seq())
    }

    /// Waits until the append-only file covers `need`, then writes the
    /// answers.
    async fn send(&mut self, need: u64) -> Result<(), CodecError> {
        if let (Some(durable), Some(link)) = (&mut self.durable, &self.shared.aof)
            && need > *durable.borrow()
        {
            link.wake.notify_one();
            durable
                .wait_for(|&d| d >= need)
                .await
                .map_err(|_| std::io::Error::other("the append-only file writer stopped"))?;
        }
        if self.replies.is_empty() {
            return Ok(());
        }
        let mut unwritten: usize = self.replies.iter().map(Reply::weight).sum();
        self.omem.store(unwritten, Ordering::Relaxed);
        for r in std::mem::take(&mut self.replies) {
            unwritten = unwritten.saturating_sub(r.weight());
            encode_reply(&mut self.resp, r, self.framed.write_buffer_mut())?;
            let encoded = self.framed.write_buffer().len();
            if encoded >= WRITE_CHUNK {
                self.omem.store(unwritten + encoded, Ordering::Relaxed);
                SinkExt::<Reply>::flush(&mut self.framed).await?;
            }
        }
        self.omem
            .store(self.framed.write_buffer().len(), Ordering::Relaxed);
        SinkExt::<Reply>::flush(&mut self.framed).await?;
        self.omem.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Answers the pending reply of a client that was served while it was
    /// being unblocked (the channel is filled under the same lock).
    async fn deliver(&mut self, rx: oneshot::Receiver<Served>) -> Result<(), CodecError> {
        if let Ok(served) = rx.await {
            self.replies.push(served.reply);
            self.send(served.seq).await?;
        }
        Ok(())
    }

    /// Waits for a blocked command's answer. Returns whether the connection
    /// must close now (stop, or the client left).
    async fn wait_blocked(
        &mut self,
        b: Blocked,
        stop: &CancellationToken,
    ) -> Result<bool, CodecError> {
        let Blocked {
            id,
            mut rx,
            deadline,
            timeout_reply,
        } = b;
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timeout);
        loop {
            let can_read = matches!(self.input, Input::Open) && self.pending.len() < MAX_BATCH;
            tokio::select! {
                served = &mut rx => {
                    let Ok(served) = served else { return Ok(true) };
                    self.replies.push(served.reply);
                    self.send(served.seq).await?;
                    return Ok(false);
                }
                _ = &mut timeout => {
                    if self.shared.lock().blocking.unblock(id) {
                        self.replies.push(timeout_reply);
                        self.send(0).await?;
                    } else {
                        self.deliver(rx).await?;
                    }
                    return Ok(false);
                }
                _ = stop.cancelled() => {
                    // Closing without an answer: the client sees EOF, not a
                    // nil it would take for a timeout. Unless the element
                    // was already taken for it, which must not be lost.
                    if !self.shared.lock().blocking.unblock(id) {
                        self.deliver(rx).await?;
                    }
                    return Ok(true);
                }
                item = self.framed.next(), if can_read => {
                    self.accept(item);
                    if matches!(self.input, Input::Closed) {
                        if !self.shared.lock().blocking.unblock(id) {
                            self.deliver(rx).await?;
                        }
                        return Ok(true);
                    }
                }
            }
        }
    }
}
