//! Where a run's control socket is. One function answers it for `run`,
//! `run --only`, every client command and a reload, so that a client always
//! looks where the daemon listens.

use std::path::{Path, PathBuf};

use crate::config::Config;

/// Which run's control socket: the config file it was started with, and
/// the two flags that move the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketTarget {
    /// The config file.
    pub config_path: PathBuf,
    /// `--socket PATH`: this path, whatever the config says.
    pub explicit: Option<PathBuf>,
    /// `run --only NAME`: a socket of its own beside the graph's
    /// (`.sundown.supervisor.NAME.sock`), so that one run per component of
    /// the same config can run side by side.
    pub only: Option<String>,
}

impl SocketTarget {
    /// The run of `config_path`, without flags.
    pub fn new(config_path: impl Into<PathBuf>) -> SocketTarget {
        SocketTarget {
            config_path: config_path.into(),
            explicit: None,
            only: None,
        }
    }

    /// The socket of a run of `config`, the valid config read from
    /// [`SocketTarget::config_path`]: its `[supervisor] control_socket`,
    /// else [`default_socket_path`].
    pub fn path(&self, config: &Config) -> PathBuf {
        self.resolve(config.supervisor.control_socket.clone())
    }

    /// The same, read from the file whether or not the rest of it is valid
    /// (only `[supervisor] control_socket` is read): a run stays reachable
    /// while its file is being edited, and follows it after a reload.
    pub fn path_from_file(&self) -> PathBuf {
        let named = std::fs::read_to_string(&self.config_path)
            .ok()
            .and_then(|text| text.parse::<toml::Table>().ok())
            .and_then(|t| {
                let s = t.get("supervisor")?.get("control_socket")?.as_str()?;
                // Relative to the config's directory, as the config resolves it.
                Some(self.config_path.parent().unwrap_or(Path::new("")).join(s))
            });
        self.resolve(named)
    }

    fn resolve(&self, named: Option<PathBuf>) -> PathBuf {
        if let Some(p) = &self.explicit {
            return p.clone();
        }
        let mut path = named.unwrap_or_else(|| default_socket_path(&self.config_path));
        if let Some(name) = &self.only {
            path.set_extension(format!("{name}.sock"));
        }
        path
    }
}

/// Where the control socket of a config that sets no `control_socket` is:
/// `$XDG_RUNTIME_DIR/sundown/<name>-<hash>.sock` (the hash of the config's
/// absolute path, so two `supervisor.toml`s in different directories do
/// not collide), else `.sundown.<name>.sock` next to the config file.
pub fn default_socket_path(config_path: &Path) -> PathBuf {
    // Canonical, so `a/../supervisor.toml` and a symlink find the same run.
    let absolute = std::fs::canonicalize(config_path)
        .or_else(|_| std::path::absolute(config_path))
        .unwrap_or_else(|_| config_path.to_path_buf());
    let stem = config_path
        .file_stem()
        .map_or_else(|| "supervisor".into(), |s| s.to_string_lossy());
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            // FNV-1a: stable across runs and builds, unlike std's hasher.
            let hash = absolute
                .as_os_str()
                .as_encoded_bytes()
                .iter()
                .fold(0x811c_9dc5_u32, |h, b| {
                    (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
                });
            Path::new(&dir)
                .join("sundown")
                .join(format!("{stem}-{hash:08x}.sock"))
        }
        // Named after the config, so the configs of one directory
        // (`examples/`) can run side by side.
        None => absolute
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!(".sundown.{stem}.sock")),
    }
}
