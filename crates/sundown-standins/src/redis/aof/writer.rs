//! The writer: one task owns the file. Connections append to the store's
//! buffer under the store lock (so the file has the order of execution),
//! wake the writer, and wait until it reports their position durable before
//! answering. Everything appended while the writer was busy goes out in its
//! next write and fsync: one fsync covers many pipelined commands from many
//! connections (group commit).

use std::fs::File;
use std::io::{self, Write as _};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::redis::settings::AppendFsync;
use crate::redis::shared::{AofLink, Shared};

/// The writer's half.
pub(crate) struct Writer {
    file: File,
    fsync: AppendFsync,
    durable: watch::Sender<u64>,
}

/// A writer for `file` and the link the connections use.
pub(crate) fn writer(file: File, fsync: AppendFsync) -> (Writer, AofLink) {
    let (tx, rx) = watch::channel(0);
    (
        Writer {
            file,
            fsync,
            durable: tx,
        },
        AofLink {
            wake: Notify::new(),
            durable: rx,
        },
    )
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| io::Error::other(format!("writer thread failed: {e}")))?
}

impl Writer {
    /// Writes until `done`, then writes and fsyncs the rest and returns.
    /// An error ends it: the component then fails, because acknowledging
    /// writes that cannot be made durable would be a lie.
    pub(crate) async fn run(self, shared: Arc<Shared>, done: CancellationToken) -> io::Result<()> {
        let Writer {
            file,
            fsync,
            durable,
        } = self;
        let Some(link) = shared.aof.as_ref() else {
            return Ok(());
        };
        let mut file = Some(file);
        let mut spare: Vec<u8> = Vec::with_capacity(64 * 1024);
        let mut second = tokio::time::interval(Duration::from_secs(1));
        second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut unsynced = false;
        loop {
            let mut finishing = false;
            let mut tick = false;
            tokio::select! {
                _ = link.wake.notified() => {}
                _ = second.tick(), if fsync == AppendFsync::Everysec => tick = true,
                _ = done.cancelled() => finishing = true,
            }
            let seq = shared.lock().take_aof(&mut spare);
            let sync = fsync == AppendFsync::Always || tick || finishing;
            if !spare.is_empty() || (sync && unsynced) {
                let (f, buf) = (file.take(), std::mem::take(&mut spare));
                let (f, mut buf) = blocking(move || {
                    let mut f = f.ok_or_else(|| io::Error::other("no file"))?;
                    f.write_all(&buf)?;
                    if sync {
                        f.sync_data()?;
                    }
                    Ok((f, buf))
                })
                .await?;
                unsynced = !sync;
                buf.clear();
                file = Some(f);
                spare = buf;
            }
            durable.send_replace(seq);
            if finishing {
                return Ok(());
            }
        }
    }
}
