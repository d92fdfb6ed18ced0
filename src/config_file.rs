//! Reading the config file the way every command does: with the kinds this
//! build runs, warnings printed, problems printed and turned into exit 2.

use std::path::Path;

use sundown::Config;

/// The kinds this build runs: the built-in ones, and the stand-ins unless
/// it was built without them (`--no-default-features`).
pub(crate) fn kinds() -> sundown::Kinds {
    #[cfg(feature = "standins")]
    let kinds = sundown_standins::kinds();
    #[cfg(not(feature = "standins"))]
    let kinds = sundown::kinds::builtin();
    kinds
}

/// Loads a config, printing its problems; `None` means exit 2.
pub(crate) fn load(path: &Path) -> Option<Config> {
    match Config::load_with(path, &kinds()) {
        Ok(config) if config.components.is_empty() => {
            eprintln!(
                "{}: error: there is nothing to supervise: the config has no components; add a [components.NAME] table",
                path.display()
            );
            None
        }
        Ok(config) => {
            for w in &config.warnings {
                eprintln!("{w}");
            }
            Some(config)
        }
        Err(e) => {
            eprintln!("{e}");
            #[cfg(not(feature = "standins"))]
            if e.diagnostics
                .iter()
                .any(|d| d.message.contains("unknown kind"))
            {
                eprintln!(
                    "note: this sundown was built without the stand-ins (http, worker_pool, redis, postgres); the default build has them"
                );
            }
            None
        }
    }
}
