//! `sundown config`: the config as it will run, in TOML (what
//! `docker compose config` is to Compose): every `${…}` replaced, env files
//! merged into each process's `env`, the defaults of the common keys
//! written out. It parses back to the same [`Config`].

use std::path::Path;

use super::interpolate::escape;
use super::{Config, ConfigError};
use crate::kind::Kinds;
use crate::process::ProcessSpec;

impl Config {
    /// Reads a config like [`Config::load_with`], and returns it also as
    /// resolved TOML text. Paths stay as written, relative to the config's
    /// directory.
    pub fn load_resolved(path: &Path, kinds: &Kinds) -> Result<(Config, String), ConfigError> {
        let (text, base) = super::read(path)?;
        let file = path.display().to_string();
        let combined = super::include::combine(&text, &file, &base)?;
        let (config, doc) = Config::parse_in(
            &combined.text,
            &file,
            &base,
            kinds,
            &super::host_env,
            &combined.segments,
        )?;
        let mut table: toml::Table =
            serde::Deserialize::deserialize(toml::de::Deserializer::from(doc)).map_err(|e| {
                ConfigError {
                    file: file.clone(),
                    diagnostics: vec![super::Located {
                        file: None,
                        line: 0,
                        column: 0,
                        message: format!("cannot write the resolved config: {e}"),
                    }],
                }
            })?;
        fill(&mut table, &config);
        escape_all(&mut table);
        // In the order a config is usually written, not alphabetical.
        let mut text = format!("# {file}, resolved by `sundown config`\n");
        for key in ["supervisor", "components", "phase_timeouts"] {
            if let Some(value) = table.remove(key) {
                let one = toml::Table::from_iter([(key.to_string(), value)]);
                if !text.ends_with("`\n") {
                    text.push('\n');
                }
                text += &toml::to_string(&one).unwrap_or_default();
            }
        }
        Ok((config, text))
    }
}

/// Env files folded in, defaults written out.
fn fill(table: &mut toml::Table, config: &Config) {
    use toml::Value;
    // What runs, as `docker compose config` shows only enabled services.
    for key in ["components", "phase_timeouts"] {
        if let Some(Value::Table(t)) = table.get_mut(key) {
            for name in config.skipped.keys() {
                t.remove(name);
            }
        }
    }
    let duration = |d| Value::String(humantime::format_duration(d).to_string());
    let supervisor = table
        .entry("supervisor")
        .or_insert_with(|| Value::Table(toml::Table::new()));
    if let Value::Table(s) = supervisor {
        s.remove("env_file");
        s.insert(
            "shutdown_timeout".into(),
            duration(config.supervisor.shutdown_timeout),
        );
        s.insert(
            "strategy".into(),
            Value::String(config.supervisor.strategy.to_string()),
        );
    }
    let Some(Value::Table(components)) = table.get_mut("components") else {
        return;
    };
    for c in &config.components {
        let Some(Value::Table(t)) = components.get_mut(&c.name) else {
            continue;
        };
        t.remove("env_file");
        t.insert("kind".into(), Value::String(c.kind.name().to_string()));
        t.insert("stop_timeout".into(), duration(c.stop_timeout));
        if let Some(p) = c.kind.get::<ProcessSpec>() {
            if p.env.is_empty() {
                t.remove("env");
            } else {
                let env = p
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                t.insert("env".into(), Value::Table(env));
            }
        }
    }
}

/// Every `$` doubled, so that reading the text again interpolates nothing.
fn escape_all(table: &mut toml::Table) {
    fn value(v: &mut toml::Value) {
        match v {
            toml::Value::String(s) => {
                if let std::borrow::Cow::Owned(e) = escape(s) {
                    *s = e;
                }
            }
            toml::Value::Array(a) => a.iter_mut().for_each(value),
            toml::Value::Table(t) => escape_all(t),
            _ => {}
        }
    }
    for (_, v) in table.iter_mut() {
        value(v);
    }
}
