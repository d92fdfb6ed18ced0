//! What the stand-in needs to know about a statement before SQLite sees it:
//! where one statement ends, whether it is transaction control (which the
//! session handles itself, PostgreSQL-style), which command tag it earns,
//! and what type each `$n` parameter probably has.
//!
//! This is a lexer (lex.rs) plus a few token patterns (here, and for
//! parameter types in infer.rs), not a SQL parser: SQLite parses and
//! executes everything. The lexer follows SQLite's tokenizer where it
//! matters (quotes, comments, `$1::int` being one parameter token), so a
//! statement is split exactly where SQLite would split it.

mod infer;
mod lex;

pub(super) use infer::{infer_params, tables};
pub(super) use lex::Param;
use lex::{Tok, Token, punct_is, tokens, word_is};

/// Splits a query string into its statements (without the `;`), the way
/// SQLite would: quotes and comments hide semicolons, and a `CREATE
/// TRIGGER` body runs to its `END;`. Empty statements are dropped.
pub(super) fn split(sql: &str) -> Vec<&str> {
    let toks = tokens(sql);
    let mut out = Vec::new();
    let mut first: Option<usize> = None; // index of the statement's first token
    for (k, t) in toks.iter().enumerate() {
        if punct_is(Some(t), ";") {
            let Some(f) = first else { continue };
            if is_trigger(&toks[f..k]) && !word_is(toks.get(k.wrapping_sub(1)), "END") {
                continue;
            }
            out.push(sql[toks[f].start..t.start].trim_end());
            first = None;
        } else if first.is_none() {
            first = Some(k);
        }
    }
    if let Some(f) = first {
        out.push(sql[toks[f].start..].trim_end());
    }
    out
}

fn is_trigger(toks: &[Token<'_>]) -> bool {
    let mut it = toks.iter();
    if !word_is(it.next(), "CREATE") {
        return false;
    }
    for t in it.take(2) {
        if word_is(Some(t), "TRIGGER") {
            return true;
        }
        if !(word_is(Some(t), "TEMP") || word_is(Some(t), "TEMPORARY")) {
            return false;
        }
    }
    false
}

/// What kind of statement this is, for the session.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// `BEGIN`, `START TRANSACTION`; SQLite's `DEFERRED`/`IMMEDIATE`/
    /// `EXCLUSIVE` are kept, PostgreSQL's modes are ignored.
    Begin(Option<&'static str>),
    /// `COMMIT`, `END`.
    Commit,
    /// `ROLLBACK`, `ABORT`.
    Rollback,
    /// `ROLLBACK TO [SAVEPOINT] name`.
    RollbackTo,
    /// `SAVEPOINT name`.
    Savepoint,
    /// `RELEASE [SAVEPOINT] name`.
    Release,
    /// Session settings the stand-in accepts and ignores (`SET`, `RESET`,
    /// `DISCARD`), with their command tag.
    Ignored(&'static str),
    /// `SET [SESSION | LOCAL] statement_timeout { TO | = } value`, `RESET
    /// statement_timeout`, `RESET ALL`, `DISCARD ALL`: `value` is the new
    /// value as written (`None`: back to the component's default).
    StatementTimeout {
        value: Option<String>,
        local: bool,
        tag: &'static str,
    },
    /// `SHOW name`.
    Show(String),
    /// Anything else: SQLite runs it.
    Sql(Command),
}

impl Kind {
    /// Whether the statement may run in a failed transaction (it ends it).
    pub(super) fn ends_failed_transaction(&self) -> bool {
        matches!(self, Kind::Commit | Kind::Rollback | Kind::RollbackTo)
    }
}

/// The command a SQLite statement performs, for its tag.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Command {
    /// Rows: `SELECT n`.
    Select,
    /// `INSERT 0 n` (also `REPLACE`).
    Insert,
    /// `UPDATE n`.
    Update,
    /// `DELETE n`.
    Delete,
    /// Anything else, with its tag (`CREATE TABLE`, `PRAGMA`, …).
    Other(String),
}

fn upper_words<'a>(toks: &'a [Token<'a>]) -> impl Iterator<Item = String> + 'a {
    toks.iter().map_while(|t| match &t.tok {
        Tok::Word(w) => Some(w.to_ascii_uppercase()),
        _ => None,
    })
}

/// Classifies one statement (as returned by [`split`]).
pub(super) fn classify(stmt: &str) -> Kind {
    let toks = tokens(stmt);
    let words: Vec<String> = upper_words(&toks).collect();
    let w = |i: usize| words.get(i).map_or("", String::as_str);
    match w(0) {
        "BEGIN" => Kind::Begin(match w(1) {
            "DEFERRED" => Some("DEFERRED"),
            "IMMEDIATE" => Some("IMMEDIATE"),
            "EXCLUSIVE" => Some("EXCLUSIVE"),
            _ => None,
        }),
        "START" if w(1) == "TRANSACTION" => Kind::Begin(None),
        "COMMIT" | "END" => Kind::Commit,
        "ROLLBACK" | "ABORT" => {
            if toks.iter().any(|t| word_is(Some(t), "TO")) {
                Kind::RollbackTo
            } else {
                Kind::Rollback
            }
        }
        "SAVEPOINT" => Kind::Savepoint,
        "RELEASE" => Kind::Release,
        "SET" => set(stmt, &toks).unwrap_or(Kind::Ignored("SET")),
        "RESET" if matches!(w(1), "STATEMENT_TIMEOUT" | "ALL") => Kind::StatementTimeout {
            value: None,
            local: false,
            tag: "RESET",
        },
        "RESET" => Kind::Ignored("RESET"),
        "DISCARD" if w(1) == "ALL" => Kind::StatementTimeout {
            value: None,
            local: false,
            tag: "DISCARD ALL",
        },
        "DISCARD" => Kind::Ignored("DISCARD ALL"),
        "SHOW" => Kind::Show(
            toks[1..]
                .iter()
                .map(|t| match &t.tok {
                    Tok::Word(x) => x.to_ascii_lowercase(),
                    Tok::Ident(x) => x.clone(),
                    _ => String::new(),
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => Kind::Sql(command(&toks)),
    }
}

/// `SET … statement_timeout …`; `None` for any other setting.
fn set(stmt: &str, toks: &[Token<'_>]) -> Option<Kind> {
    let mut i = 1;
    let local = word_is(toks.get(i), "LOCAL");
    if local || word_is(toks.get(i), "SESSION") {
        i += 1;
    }
    let named = match toks.get(i).map(|t| &t.tok) {
        Some(Tok::Word(w)) => w.eq_ignore_ascii_case("statement_timeout"),
        Some(Tok::Ident(w)) => w == "statement_timeout",
        _ => false,
    };
    if !named || !(punct_is(toks.get(i + 1), "=") || word_is(toks.get(i + 1), "TO")) {
        return None;
    }
    let written = toks.get(i + 2).map_or("", |t| stmt[t.start..].trim());
    let value = (!written.eq_ignore_ascii_case("DEFAULT")).then(|| written.to_string());
    Some(Kind::StatementTimeout {
        value,
        local,
        tag: "SET",
    })
}

fn command(toks: &[Token<'_>]) -> Command {
    let first = match toks.first().map(|t| &t.tok) {
        Some(Tok::Word(w)) => w.to_ascii_uppercase(),
        _ => return Command::Other(String::new()),
    };
    let dml = |w: &str| match w {
        "SELECT" | "VALUES" => Some(Command::Select),
        "INSERT" | "REPLACE" => Some(Command::Insert),
        "UPDATE" => Some(Command::Update),
        "DELETE" => Some(Command::Delete),
        _ => None,
    };
    if let Some(c) = dml(&first) {
        return c;
    }
    match first.as_str() {
        "WITH" => {
            // The main statement is the first DML keyword outside the
            // parenthesised common table expressions.
            let mut depth = 0i32;
            for t in &toks[1..] {
                match &t.tok {
                    Tok::Punct("(") => depth += 1,
                    Tok::Punct(")") => depth -= 1,
                    Tok::Word(w) if depth == 0 => {
                        if let Some(c) = dml(&w.to_ascii_uppercase()) {
                            return c;
                        }
                    }
                    _ => {}
                }
            }
            Command::Select
        }
        "CREATE" | "DROP" | "ALTER" => {
            let object = upper_words(&toks[1..]).find(|w| {
                !matches!(
                    w.as_str(),
                    "UNIQUE" | "TEMP" | "TEMPORARY" | "VIRTUAL" | "OR" | "REPLACE"
                )
            });
            match object {
                Some(o) => Command::Other(format!("{first} {o}")),
                None => Command::Other(first),
            }
        }
        _ => Command::Other(first),
    }
}

#[cfg(test)]
mod tests;
