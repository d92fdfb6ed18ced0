//! `profiles = ["debug"]`: components that run only when one of their
//! profiles is enabled, as Docker Compose's profiles do: a debugger, a
//! seeder, a metrics stack that one run wants and another does not, in
//! the same file. Profiles are enabled by `SUNDOWN_PROFILES` (what the
//! binary's `--profile` sets), read through the same environment as
//! `${VAR}`, so a reload sees the profiles the run started with.
//!
//! A component without `profiles` always runs. One whose profiles are all
//! off is still checked (its mistakes show whatever is enabled) and then
//! left out; a component that runs cannot depend on it.

use std::collections::{BTreeMap, BTreeSet};

use super::raw::RawConfig;
use super::validate::Validator;

/// The variable that enables profiles: names separated by commas or spaces.
pub const PROFILES_ENV: &str = "SUNDOWN_PROFILES";

/// The profiles `host` enables.
pub(super) fn enabled(host: &dyn Fn(&str) -> Option<String>) -> BTreeSet<String> {
    host(PROFILES_ENV)
        .unwrap_or_default()
        .split([',', ' '])
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

impl Validator<'_> {
    /// Checks every component's `profiles` and returns the components that
    /// are off (none of their profiles enabled), with their profiles.
    pub(super) fn profiles_off(&mut self, raw: &RawConfig) -> BTreeMap<String, Vec<String>> {
        let mut off = BTreeMap::new();
        for (key, c) in &raw.components {
            let Some(list) = &c.profiles else { continue };
            let name = key.get_ref();
            if list.get_ref().is_empty() {
                self.error(
                    list.span(),
                    format!("component `{name}`: profiles = [] would never run it; without the key it always runs"),
                );
                continue;
            }
            let mut profiles = Vec::new();
            for p in list.get_ref() {
                if super::is_valid_name(p.get_ref()) {
                    profiles.push(p.get_ref().clone());
                } else {
                    self.error(
                        p.span(),
                        format!(
                            "component `{name}`: profile `{}` is not allowed: a profile is {}",
                            p.get_ref().chars().take(64).collect::<String>(),
                            super::NAME_RULE
                        ),
                    );
                }
            }
            if !profiles.is_empty() && !profiles.iter().any(|p| self.profiles.contains(p)) {
                off.insert(name.clone(), profiles);
            }
        }
        off
    }
}

/// How to enable `profiles`, for a message.
pub(super) fn how_to_enable(profiles: &[String]) -> String {
    let list = profiles
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(" or ");
    let first = profiles.first().map_or("", String::as_str);
    format!("profile {list}, which is not enabled (--profile {first}, or {PROFILES_ENV}={first})")
}
