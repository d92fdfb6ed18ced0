//! A component that talks to a server of the same graph without depending
//! on it: nothing then orders their start and stop, which is the bug this
//! tool exists to prevent. Kinds say what they serve and dial
//! ([`crate::kind::Settings::serves`], [`crate::kind::Settings::dials`]);
//! this check needs no knowledge of any kind.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;

use super::ComponentSpec;
use super::raw::Tables;

/// A warning for every such pair, at the setting that dials.
pub(super) fn unordered(
    components: &[ComponentSpec],
    tables: &Tables<'_>,
    name_spans: &HashMap<&str, Range<usize>>,
) -> Vec<(Range<usize>, String)> {
    let mut warnings = Vec::new();
    for (i, c) in components.iter().enumerate() {
        for dial in c.kind.settings().dials() {
            let target = (dial.host.as_str(), dial.port);
            let server = components.iter().find(|s| {
                s.kind
                    .settings()
                    .serves()
                    .is_some_and(|l| serves(l, target))
            });
            let Some(server) = server else { continue };
            if server.name == c.name || depends_transitively(components, i, &server.name) {
                continue;
            }
            let span = tables
                .key_span(&c.name, dial.key)
                .or_else(|| name_spans.get(c.name.as_str()).cloned())
                .unwrap_or(0..0);
            warnings.push((
                span,
                format!(
                    "component `{}` uses `{}` ({}:{}) but does not depend on it, so their start and stop are not ordered; add it to depends_on",
                    c.name, server.name, dial.host, dial.port
                ),
            ));
        }
    }
    warnings
}

fn serves(listen: SocketAddr, (host, port): (&str, u16)) -> bool {
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    listen.port() == port
        && (listen.ip().to_string() == host
            || (listen.ip().is_unspecified() && host == "127.0.0.1"))
}

/// Whether component `from` depends on `target`, directly or through others.
fn depends_transitively(components: &[ComponentSpec], from: usize, target: &str) -> bool {
    let mut seen = vec![false; components.len()];
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        for d in &components[i].depends_on {
            if d == target {
                return true;
            }
            if let Ok(j) = components.binary_search_by(|c| c.name.as_str().cmp(d))
                && !std::mem::replace(&mut seen[j], true)
            {
                stack.push(j);
            }
        }
    }
    false
}
