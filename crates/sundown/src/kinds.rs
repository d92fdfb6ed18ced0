//! The kinds this crate brings: the one list of them.

use crate::kind::Kinds;

/// `process` and `sim`. Another crate adds its own with [`Kinds::with`].
pub fn builtin() -> Kinds {
    Kinds::new()
        .with(crate::process::KIND)
        .with(crate::sim::KIND)
}
