//! One client connection: read what has arrived, run it as one batch under
//! the store lock, wait until the batch is durable, answer, repeat.
//!
//! Batching is what makes pipelining cheap: a client that sends 16 commands
//! at once costs one lock, one append-only-file wake-up and one socket
//! write, not 16.

use std::collections::VecDeque;
use std::sync::Arc;
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
}

/// Serves one client until it leaves, breaks the protocol, is killed
/// (`CLIENT KILL`), or `stop`.
pub(super) async fn serve(sock: TcpStream, shared: Arc<Shared>, id: u64, stop: CancellationToken) {
    let kill = CancellationToken::new();
    let addr =
        |a: std::io::Result<std::net::SocketAddr>| a.map(|a| a.to_string()).unwrap_or_default();
    shared.lock().clients.add(
        id,
        ClientRecord {
            addr: addr(sock.peer_addr()),
            laddr: addr(sock.local_addr()),
            name: None,
            since: Instant::now(),
            kill: kill.clone(),
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
    linger(conn.framed.into_inner()).await;
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
                        while matches!(self.input, Input::Open) && self.pending.len() < MAX_BATCH {
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

    /// Takes the requests already read. This decodes straight from the
    /// read buffer instead of polling the stream, which would try one more
    /// read from the socket per batch (a syscall that finds nothing). The
    /// buffer is lent to the framed codec itself: it is the one instance
    /// that remembers how far it scanned a partial request.
    fn read_ready(&mut self) {
        let mut buf = std::mem::take(self.framed.read_buffer_mut());
        while matches!(self.input, Input::Open) && self.pending.len() < MAX_BATCH {
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
            ..
        } = self;
        let mut store = shared.lock();
        // One clock reading per batch: a batch runs in microseconds, far
        // below the millisecond grain of expiry.
        store.tick();
        let mut end = End::Done;
        while let Some(args) = pending.pop_front() {
            match session.execute(&mut store, &shared.info, args) {
                Step::Reply(r) => replies.push(r),
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
        let buf = self.framed.write_buffer_mut();
        for r in self.replies.drain(..) {
            encode_reply(&mut self.resp, r, buf)?;
        }
        SinkExt::<Reply>::flush(&mut self.framed).await
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
