//! The systemd notification protocol (`sd_notify`), for `Type=notify`
//! units: `READY=1` once every component is ready, so units ordered after
//! sundown's wait for the whole stack and not just for the fork, and
//! `STOPPING=1` when the ordered shutdown begins.
//!
//! The protocol is one datagram per message to the socket named by
//! `NOTIFY_SOCKET` (a path, or an abstract name written with a leading
//! `@`). Children do not inherit the variable (`command.rs` removes it): a
//! component's own `READY=1` would otherwise be taken for sundown's.

use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use tokio::sync::watch;

use crate::status::{State, Status};

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    to: SocketAddr,
}

impl Notifier {
    /// The notifier `NOTIFY_SOCKET` asks for; `Ok(None)` when it is unset
    /// or empty (sundown was not started by a service manager that listens).
    pub fn from_env() -> io::Result<Option<Notifier>> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(path) if !path.is_empty() => Notifier::new(&path.to_string_lossy()).map(Some),
            _ => Ok(None),
        }
    }

    /// A notifier for this socket (`@name` for an abstract socket).
    pub fn new(socket: &str) -> io::Result<Notifier> {
        let to = match socket.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt as _;
                SocketAddr::from_abstract_name(name.as_bytes())?
            }
            None => SocketAddr::from_pathname(socket)?,
        };
        let socket = UnixDatagram::unbound()?;
        // A service manager that does not read must not stall the runtime;
        // a full queue drops the message with a warning instead.
        socket.set_nonblocking(true)?;
        Ok(Notifier { socket, to })
    }

    /// Sends one message (`"READY=1\nSTATUS=…"`).
    pub fn notify(&self, message: &str) -> io::Result<()> {
        self.socket
            .send_to_addr(message.as_bytes(), &self.to)
            .map(drop)
    }
}

/// Tells the service manager about the supervisor's state as it changes,
/// until the supervisor is done.
pub async fn follow(notifier: Notifier, mut status: watch::Receiver<Status>) {
    let mut ready_sent = false;
    let mut stopping_sent = false;
    loop {
        let (state, count) = {
            let s = status.borrow_and_update();
            (s.state, s.components.len())
        };
        let message = match state {
            State::Running if !ready_sent && !stopping_sent => {
                ready_sent = true;
                Some(format!("READY=1\nSTATUS=all {count} component(s) ready"))
            }
            State::Stopping | State::Done if !stopping_sent => {
                stopping_sent = true;
                Some("STOPPING=1\nSTATUS=stopping in reverse dependency order".to_string())
            }
            _ => None,
        };
        if let Some(message) = message
            && let Err(e) = notifier.notify(&message)
        {
            tracing::warn!("cannot notify the service manager ({message:?}): {e}");
        }
        if state == State::Done || status.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram_per_message() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path)?;
        let notifier = Notifier::new(&path.to_string_lossy())?;
        notifier.notify("READY=1")?;
        let mut buf = [0; 64];
        let n = listener.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"READY=1");
        Ok(())
    }

    #[test]
    fn abstract_sockets_are_written_with_an_at_sign() -> io::Result<()> {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("sundown-test-{}", std::process::id());
        let listener = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name)?)?;
        Notifier::new(&format!("@{name}"))?.notify("STOPPING=1")?;
        let mut buf = [0; 64];
        let n = listener.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"STOPPING=1");
        Ok(())
    }
}
