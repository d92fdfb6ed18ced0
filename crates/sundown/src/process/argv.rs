//! A command as the config writes it (`command`, `stop_command`, an `exec`
//! probe): one line split the way a shell would, without running one, or
//! an array taken as it is.

use serde::Deserialize;
use toml::Spanned;

use crate::kind::Context;

/// A command as written: one line, or an array.
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "`command` must be a string (\"prog --flag arg\") or an array of strings"
)]
pub(super) enum RawCommand {
    Line(String),
    Argv(Vec<String>),
}

/// A command given as one line (split like a shell would, without running
/// one) or as an array.
pub(super) fn split_command(
    v: &mut Context<'_, '_>,
    command: &Spanned<RawCommand>,
    what: &str,
) -> Option<Vec<String>> {
    let argv = match command.get_ref() {
        RawCommand::Argv(a) => a.clone(),
        RawCommand::Line(line) => match shell_words::split(line) {
            Ok(a) => a,
            Err(e) => {
                v.error(
                    command.span(),
                    format!("{what}: cannot split `{line}`: {e}"),
                );
                return None;
            }
        },
    };
    if argv.first().is_none_or(|p| p.trim().is_empty()) {
        v.error(command.span(), format!("{what} is empty"));
        return None;
    }
    Some(argv)
}
