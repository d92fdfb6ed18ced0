//! Who may come in: counts the authenticated sessions and, once the
//! component stops, turns new ones away. Entering and stopping are atomic
//! with respect to each other, so "stopping and no session left" is final.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

/// What sessions and the accept loop watch.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct GateState {
    pub(super) stopping: bool,
    pub(super) active: usize,
}

#[derive(Debug)]
pub(super) struct Gate {
    tx: watch::Sender<GateState>,
    next_id: AtomicU64,
}

/// Why a session was not admitted.
#[derive(Debug, PartialEq)]
pub(super) enum Refused {
    Stopping,
    Full,
}

/// An admitted session; leaving drops it.
#[derive(Debug)]
pub(super) struct SessionGuard {
    gate: Arc<Gate>,
    id: u64,
}

impl SessionGuard {
    pub(super) fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.gate.tx.send_modify(|s| s.active -= 1);
    }
}

impl Gate {
    pub(super) fn new() -> Arc<Gate> {
        Arc::new(Gate {
            tx: watch::Sender::new(GateState::default()),
            next_id: AtomicU64::new(1),
        })
    }

    pub(super) fn subscribe(&self) -> watch::Receiver<GateState> {
        self.tx.subscribe()
    }

    pub(super) fn is_stopping(&self) -> bool {
        self.tx.borrow().stopping
    }

    /// Admits a session, unless the component is stopping or `max`
    /// sessions are open.
    pub(super) fn enter(self: &Arc<Self>, max: usize) -> Result<SessionGuard, Refused> {
        let mut verdict = Ok(());
        self.tx.send_if_modified(|s| {
            if s.stopping {
                verdict = Err(Refused::Stopping);
                return false;
            }
            if s.active >= max {
                verdict = Err(Refused::Full);
                return false;
            }
            s.active += 1;
            true
        });
        verdict.map(|()| SessionGuard {
            gate: Arc::clone(self),
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// From now on nobody enters; sessions watch this to close when idle.
    pub(super) fn begin_stop(&self) {
        self.tx.send_modify(|s| s.stopping = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_enters_once_stopping() {
        let gate = Gate::new();
        let a = gate.enter(2).expect("open");
        let b = gate.enter(2).expect("open");
        assert_ne!(a.id(), b.id());
        assert_eq!(gate.enter(2).map(|_| ()), Err(Refused::Full));
        assert_eq!(gate.subscribe().borrow().active, 2);
        gate.begin_stop();
        assert_eq!(gate.enter(3).map(|_| ()), Err(Refused::Stopping));
        drop((a, b));
        let s = *gate.subscribe().borrow();
        assert!(s.stopping && s.active == 0);
    }
}
