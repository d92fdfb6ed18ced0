//! Binding the control socket safely, serving it, and moving it when a
//! reload changes `control_socket`.

use std::convert::Infallible;
use std::io;
use std::os::unix::fs::{
    DirBuilderExt as _, FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _,
    PermissionsExt as _,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{Flock, FlockArg};
use tokio::net::UnixListener;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::answer::{Ctx, answer};
use super::clients::{Clients, serve_one};
use super::{ControlError, SocketTarget};
use crate::logs::LogStore;
use crate::status::Status;
use crate::supervisor::Handle;

/// A bound control socket; removed when dropped.
#[derive(Debug)]
pub struct ControlSocket {
    bound: Bound,
    /// Held while the socket lives, and after it when [`serve`] hands it on.
    ///
    /// [`serve`]: ControlSocket::serve
    lock: RunLock,
    /// Rung after a reload: the socket may have to move.
    moves: Arc<Notify>,
    /// What [`record`](ControlSocket::record) wrote, to write again where
    /// the socket moves.
    record: Option<String>,
}

/// The socket file and its listener; the file is removed when dropped.
#[derive(Debug)]
struct Bound {
    listener: UnixListener,
    path: PathBuf,
    /// To remove only our own socket, not a successor's.
    ino: u64,
}

/// The lock a run holds on its control socket's place (`<socket>.lock`,
/// `flock`): while it is held, no other sundown can serve that socket,
/// so no second run of the same config starts. [`ControlSocket::serve`]
/// returns it, so that the socket can go away when the run stops
/// answering while the lock stays until the process really ends (drop it
/// last).
///
/// The file also holds the run's record (see [`ControlSocket::record`]):
/// a run that ends removes it, record and all; one that is killed leaves
/// it for the next. A killed run's record stays until a run has written
/// its own over it, so a run that fails before then (or is killed itself)
/// leaves it for the one after.
#[derive(Debug)]
pub struct RunLock {
    lock: Flock<std::fs::File>,
    path: PathBuf,
    /// A killed run's record is in the file, not yet replaced by ours.
    keep: bool,
}

impl RunLock {
    /// What the file holds: the previous run's record if that run was
    /// killed, else nothing.
    fn read_record(&self) -> io::Result<String> {
        use std::io::{Read as _, Seek as _};
        let mut file: &std::fs::File = &self.lock;
        let mut text = String::new();
        file.seek(io::SeekFrom::Start(0))?;
        // A record is a few lines; anything longer is not one.
        file.take(4096).read_to_string(&mut text)?;
        Ok(text)
    }

    fn write_record(&mut self, ours: &str) -> io::Result<()> {
        use std::io::{Seek as _, Write as _};
        let mut file: &std::fs::File = &self.lock;
        file.set_len(0)?;
        file.seek(io::SeekFrom::Start(0))?;
        file.write_all(ours.as_bytes())?;
        self.keep = false;
        Ok(())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Removed while still held (the flock goes with the descriptor,
        // after this): a run that opened it meanwhile finds it gone once it
        // has the lock, and takes a new one (see `take_lock`).
        if !self.keep && is_file(&self.path, &self.lock) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Tells a served control socket that the config was reloaded, so that it
/// moves when `control_socket` changed (what SIGHUP's reload calls; the
/// socket's own `POST /reload` does it by itself).
#[derive(Debug, Clone)]
pub struct Moves(Arc<Notify>);

impl Moves {
    /// The config was reloaded.
    pub fn reloaded(&self) {
        self.0.notify_one();
    }
}

impl ControlSocket {
    /// Binds the socket at `path` (creating its directory, mode 0700, when
    /// missing). Must run inside a tokio runtime.
    ///
    /// `<path>.lock` is locked (`flock`) for as long as the socket lives,
    /// so two runs starting together cannot both decide the socket is stale.
    pub fn bind(path: &Path) -> Result<ControlSocket, ControlError> {
        let io = |what: &str, at: &Path| {
            let (what, at) = (what.to_string(), at.to_path_buf());
            move |source| ControlError::Io {
                what,
                path: at,
                source,
            }
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io("create the directory", dir))?;
        }
        let meta = std::fs::metadata(dir).map_err(io("look at the directory", dir))?;
        let me = nix::unistd::Uid::effective().as_raw();
        // Whoever can write there (or owns it) could replace the socket.
        if meta.permissions().mode() & 0o022 != 0 || (meta.uid() != me && meta.uid() != 0) {
            return Err(ControlError::UnsafeDir(dir.to_path_buf()));
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let lock = match take_lock(&lock_path) {
            Ok(Some(lock)) => {
                let mut lock = RunLock {
                    lock,
                    path: lock_path,
                    keep: true,
                };
                lock.keep = !lock.read_record().unwrap_or_default().is_empty();
                lock
            }
            Ok(None) => return Err(ControlError::InUse(path.to_path_buf())),
            Err(e) => return Err(io("lock", &lock_path)(e)),
        };
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.file_type().is_socket() => {
                return Err(ControlError::NotASocket(path.to_path_buf()));
            }
            Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
                Ok(_) => return Err(ControlError::InUse(path.to_path_buf())),
                // Nobody listens: a dead run's socket.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path).map_err(io("remove the stale socket", path))?
                }
                Err(e) => return Err(io("probe the existing socket", path)(e)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("look at", path)(e)),
        }
        let listener = bind_privately(dir, path).map_err(io("bind", path))?;
        let ino = std::fs::metadata(path).map_err(io("look at", path))?.ino();
        Ok(ControlSocket {
            bound: Bound {
                listener,
                path: path.to_path_buf(),
                ino,
            },
            lock,
            moves: Arc::new(Notify::new()),
            record: None,
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.bound.path
    }

    /// The record a killed run left in the lock file (a
    /// [`RunRecord`](crate::process::RunRecord)'s text), if the last run of
    /// this socket was killed before it could clean up. It stays there
    /// until [`record`](ControlSocket::record) replaces it.
    pub fn previous_run(&self) -> Option<String> {
        self.lock.read_record().ok().filter(|t| !t.is_empty())
    }

    /// Keeps `ours` in the lock file while the run lives (replacing a
    /// killed run's record: call it once that run's leftovers are dealt
    /// with). A run that ends removes the file, record and all.
    pub fn record(&mut self, ours: &str) -> io::Result<()> {
        self.lock.write_record(ours)?;
        self.record = Some(ours.to_string());
        Ok(())
    }

    /// How to tell it that the config was reloaded.
    pub fn moves(&self) -> Moves {
        Moves(Arc::clone(&self.moves))
    }

    /// Answers requests until `stop` is cancelled, then removes the socket
    /// and returns the lock, for the caller to hold until its process ends.
    /// `reload` is the run's target: the config `POST /reload` reads again,
    /// and where the socket belongs after a reload; `None` for a run that
    /// cannot reload (`run --only`).
    pub async fn serve(
        self,
        status: watch::Receiver<Status>,
        handle: Handle,
        logs: LogStore,
        reload: Option<SocketTarget>,
        stop: CancellationToken,
    ) -> RunLock {
        let moves = Arc::clone(&self.moves);
        let ctx = Arc::new(Ctx {
            status,
            handle,
            logs,
            reload: reload.clone(),
            moves: Arc::clone(&moves),
            ends: stop.clone(),
        });
        let connections = TaskTracker::new();
        let clients = Clients::new("control socket".to_string());
        let me = nix::unistd::Uid::effective().as_raw();
        let mut socket = self;
        loop {
            let accept = || async { socket.bound.listener.accept().await.map(|(s, _)| s) };
            let next = tokio::select! {
                next = clients.next(&stop, accept) => next,
                () = moves.notified() => {
                    if let Some(target) = &reload {
                        socket = socket.moved_to(target.path_from_file());
                    }
                    continue;
                }
            };
            let Some((slot, stream)) = next else { break };
            let peer = stream.peer_cred().map(|c| c.uid()).ok();
            let allowed = peer.is_some_and(|uid| uid == me || uid == 0);
            if !allowed {
                tracing::warn!(
                    "control socket: refused a client running as uid {}",
                    peer.map_or_else(|| "unknown".to_string(), |u| u.to_string())
                );
            }
            let ctx = Arc::clone(&ctx);
            let stop = stop.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let who = allowed.then_some(()).ok_or((peer, me));
                    let ctx = Arc::clone(&ctx);
                    async move { Ok::<_, Infallible>(answer(req, who, &ctx).await) }
                });
                serve_one(stream, slot, service, &stop).await;
            });
        }
        connections.close();
        connections.wait().await;
        let ControlSocket { bound, lock, .. } = socket;
        // The socket goes first, so that whoever takes the lock next finds
        // no socket of ours.
        drop(bound);
        lock
    }

    /// This socket, or one bound at `path` when that is elsewhere (this one
    /// is then removed as it is dropped). Kept when `path` cannot be served.
    fn moved_to(self, path: PathBuf) -> ControlSocket {
        if path == self.bound.path {
            return self;
        }
        match ControlSocket::bind(&path) {
            Ok(mut moved) => {
                moved.moves = Arc::clone(&self.moves);
                if let Some(left) = moved.previous_run() {
                    tracing::warn!(
                        "{} was the control socket of a run that was killed ({}); a run of its own config cleans up what it left, not this one",
                        path.display(),
                        left.lines()
                            .find(|l| l.starts_with("pid "))
                            .unwrap_or("pid unknown")
                    );
                }
                if let Some(record) = &self.record
                    && let Err(e) = moved.record(record)
                {
                    tracing::warn!(
                        "cannot keep the run's record beside {}: {e}",
                        path.display()
                    );
                }
                // Said once the old one is gone, so that whoever reads it
                // finds the socket in one place only.
                let old = self.bound.path.clone();
                drop(self);
                tracing::info!(
                    "control socket moved: {} -> {} (control_socket changed)",
                    old.display(),
                    path.display()
                );
                moved
            }
            Err(e) => {
                tracing::error!(
                    "control_socket is now {}, but {e}; still serving {}",
                    path.display(),
                    self.bound.path.display()
                );
                self
            }
        }
    }
}

/// Binds `path` without a moment at which another user could connect: the
/// socket is made in a fresh directory only we can enter, given mode 0600,
/// then renamed into place. (A umask would do it too, but it is
/// process-wide, and other threads create files meanwhile.)
fn bind_privately(dir: &Path, path: &Path) -> io::Result<UnixListener> {
    let staging = dir.join(format!(".sundown-bind-{}", std::process::id()));
    // Left by a run of the same pid that was killed while binding.
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    let bound = (|| {
        let tmp = staging.join("s");
        let listener = UnixListener::bind(&tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    bound
}

impl Drop for Bound {
    fn drop(&mut self) {
        if std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.ino) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Locks `path` (created 0600, never through a symlink); `None` when
/// another run holds it. A lock file is removed by the run that held it,
/// so one that was removed between opening and locking it is not the lock
/// any more: then it is opened again.
fn take_lock(path: &Path) -> io::Result<Option<Flock<std::fs::File>>> {
    loop {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(code) if code == nix::errno::Errno::ELOOP as i32 => {
                    io::Error::new(e.kind(), "it is a symbolic link, which is not followed")
                }
                _ => e,
            })?;
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(None),
            Err((_, e)) => return Err(e.into()),
        };
        if is_file(path, &lock) {
            return Ok(Some(lock));
        }
    }
}

/// Whether `path` is still the file `held` has open.
fn is_file(path: &Path, held: &std::fs::File) -> bool {
    match (std::fs::symlink_metadata(path), held.metadata()) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}
