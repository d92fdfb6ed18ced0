//! The selected component's log on its way to the [`App`](super::app::App):
//! `sundown logs -f NAME` through a short queue, so that a chatty
//! component slows its own stream (the supervisor then notes the lines
//! missed) instead of growing `top`'s memory, and the loop takes all that
//! is queued at once and draws once.

use std::path::PathBuf;

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use sundown::control::LogQuery;
use sundown::control::client;
use tokio::sync::mpsc;

use super::app::LOG_LINES;

/// Chunks waiting for the loop; the follower waits while it is full.
pub(crate) const QUEUE: usize = 64;

/// A chunk of the log followed as the generation it carries.
pub(crate) type Chunk = (u64, Bytes);

/// Follows `name`'s log as `generation`, until it ends or fails.
pub(crate) async fn follow(
    socket: PathBuf,
    name: String,
    generation: u64,
    tx: mpsc::Sender<Chunk>,
) {
    let query = LogQuery {
        name: Some(name),
        last: Some(LOG_LINES),
        since: None,
        follow: true,
    };
    let Ok(chunks) = client::log_chunks(&socket, &query).await else {
        return;
    };
    let chunks = futures::stream::unfold(chunks, |mut c| async move {
        let next = c.next().await?;
        Some((next, c))
    });
    forward(chunks, generation, tx).await;
}

/// Sends each chunk as `generation`, a chunk read only once the one
/// before is queued.
async fn forward<E>(
    chunks: impl Stream<Item = Result<Bytes, E>>,
    generation: u64,
    tx: mpsc::Sender<Chunk>,
) {
    let mut chunks = std::pin::pin!(chunks);
    while let Some(Ok(chunk)) = chunks.next().await {
        if tx.send((generation, chunk)).await.is_err() {
            return;
        }
    }
}

/// Hands `first` and whatever else is queued now (at most a queue's worth,
/// so that keys are not kept waiting) to `apply`.
pub(crate) fn drain<T>(rx: &mut mpsc::Receiver<T>, first: T, mut apply: impl FnMut(T)) {
    apply(first);
    for _ in 1..QUEUE {
        match rx.try_recv() {
            Ok(next) => apply(next),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_chatty_log_waits_for_the_loop_instead_of_piling_up() {
        let read = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&read);
        let chunks = futures::stream::iter(0..10_000).map(move |i| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Infallible>(Bytes::from(format!("line {i}\n")))
        });
        let (tx, mut rx) = mpsc::channel(QUEUE);
        let follower = tokio::spawn(forward(chunks, 7, tx));
        // Let it run as far as it can without the loop taking anything.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        let before = read.load(Ordering::SeqCst);
        assert!(
            (QUEUE..=QUEUE + 1).contains(&before),
            "read {before} chunks ahead of a queue of {QUEUE}"
        );
        // One turn of the loop takes all that is queued, in order.
        let first = rx.recv().await.expect("a chunk");
        let mut taken = Vec::new();
        drain(&mut rx, first, |c| taken.push(c));
        assert_eq!(taken.len(), QUEUE);
        assert!(taken.iter().all(|(generation, _)| *generation == 7));
        assert_eq!(taken[0].1, "line 0\n");
        assert_eq!(taken[QUEUE - 1].1, format!("line {}\n", QUEUE - 1));
        // Room again: the follower reads on, still no further than the queue.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(read.load(Ordering::SeqCst) <= 2 * QUEUE + 1);
        follower.abort();
    }

    #[tokio::test]
    async fn a_drain_takes_no_more_than_a_queue_s_worth() {
        let (tx, mut rx) = mpsc::channel(4 * QUEUE);
        for i in 0..3 * QUEUE {
            tx.send(i).await.expect("queued");
        }
        let first = rx.recv().await.expect("one");
        let mut taken = Vec::new();
        drain(&mut rx, first, |i| taken.push(i));
        assert_eq!(taken, (0..QUEUE).collect::<Vec<_>>());
    }
}
