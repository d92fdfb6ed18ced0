//! The shape of the file, read by serde into the raw tree twice (before
//! and after interpolation) without stopping at its first wrong value or
//! unknown key: each is reported, left out, and the rest read on.

use toml::Spanned;
use toml::de::DeTable;

use super::errors::first_pass_message;
use super::raw::RawConfig;
use crate::diagnostic::lenient;
use crate::diagnostic::{Located, Source};

/// What the shape pass found: the raw tree of what was right, the
/// document without what was wrong, and every problem.
pub(super) struct Shape<'t> {
    pub(super) raw: Option<RawConfig>,
    pub(super) doc: Spanned<DeTable<'t>>,
    pub(super) errors: Vec<Located>,
}

/// The text as a document; a syntax error is one problem, since what
/// follows it cannot be read with any confidence.
pub(super) fn parse<'t>(source: &Source<'t>) -> Result<Spanned<DeTable<'t>>, Located> {
    DeTable::parse(source.text).map_err(|e| locate(source, &e))
}

/// `doc` as the raw tree, every serde error of it collected.
pub(super) fn read<'t>(source: &Source<'_>, doc: Spanned<DeTable<'t>>) -> Shape<'t> {
    let found = lenient::deserialize::<RawConfig>(doc);
    Shape {
        errors: found.errors.iter().map(|e| locate(source, e)).collect(),
        raw: found.value,
        doc: found.doc,
    }
}

fn locate(source: &Source<'_>, e: &toml::de::Error) -> Located {
    source.locate(e.span().unwrap_or(0..0), first_pass_message(source.text, e))
}
