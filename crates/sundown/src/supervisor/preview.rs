//! Dry runs: what a change would do, asked of the engine itself (it alone
//! sees the live state), without making it. `sundown stop NAME --dry-run`
//! and the plan `sundown top` shows before asking come from here.

use std::path::Path;

use super::{Handle, ReloadError};
use crate::engine::{Change, Command, Preview, Refused};

impl Handle {
    /// What `change` would do now: the stop and start lists the change
    /// itself would be answered with, or the same refusal. Nothing is
    /// touched. The state may move on before a change that follows it.
    pub async fn preview(&self, change: Change) -> Result<Preview, Refused> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.tx
            .send(Command::Preview(change, reply))
            .map_err(|_| Refused::Gone)?;
        answer.await.map_err(|_| Refused::Gone)?
    }

    /// What [`Handle::reload`] of `path` would do now: the config read and
    /// validated again (an invalid one is the same error), its difference
    /// from the running one, and what would stop and start. The scale
    /// counts set since the last reload are dropped, as a reload drops them.
    pub async fn preview_reload(&self, path: &Path) -> Result<Preview, ReloadError> {
        let sup = self.read_again(path, Default::default()).await?;
        Ok(self.preview(Change::reload(sup)).await?)
    }
}
