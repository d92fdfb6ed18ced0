//! What the stand-in needs to know about a statement before SQLite sees it:
//! where one statement ends, whether it is transaction control (which the
//! session handles itself, PostgreSQL-style), which command tag it earns,
//! and what type each `$n` parameter probably has.
//!
//! This is a lexer plus a few token patterns, not a SQL parser: SQLite
//! parses and executes everything. The lexer follows SQLite's tokenizer
//! where it matters (quotes, comments, `$1::int` being one parameter token),
//! so a statement is split exactly where SQLite would split it.

use std::collections::HashMap;

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok<'a> {
    /// A keyword or bare identifier.
    Word(&'a str),
    /// A `"quoted"`, `` `quoted` `` or `[quoted]` identifier, unescaped.
    Ident(String),
    /// A string literal (its contents never matter here).
    Str,
    /// A numeric literal.
    Num,
    /// A bound parameter.
    Param(Param),
    /// An operator or punctuation: `=`, `<>`, `(`, `,`, `;`, …
    Punct(&'a str),
}

/// A parameter token as SQLite names it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Param {
    /// `$n` or `?n`, with the type of a `$n::type` suffix (which SQLite's
    /// tokenizer folds into the parameter's name).
    Numbered(u32, Option<String>),
    /// A bare `?`.
    Anonymous,
    /// `:name`, `@name`, `$name`: not PostgreSQL.
    Named,
}

impl Param {
    /// Reads a parameter name as SQLite reports it (`"$2"`, `"$1::int"`,
    /// `"?3"`).
    pub(super) fn from_name(name: &str) -> Param {
        let Some(rest) = name.strip_prefix('$').or_else(|| name.strip_prefix('?')) else {
            return Param::Named;
        };
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let Ok(n) = rest[..digits].parse::<u32>() else {
            return Param::Named;
        };
        if n == 0 {
            return Param::Named;
        }
        let tail = &rest[digits..];
        if tail.is_empty() {
            Param::Numbered(n, None)
        } else if let Some(cast) = tail.strip_prefix("::") {
            // `$1::int::text`: the parameter itself is an int.
            let first = cast.split("::").next().unwrap_or_default();
            let first = first.split('(').next().unwrap_or_default();
            Param::Numbered(n, Some(first.to_string()))
        } else {
            Param::Named
        }
    }
}

/// A token and where it is in the text.
#[derive(Debug, Clone)]
pub(super) struct Token<'a> {
    pub(super) tok: Tok<'a>,
    pub(super) start: usize,
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Splits `sql` into tokens, dropping whitespace and comments. Unterminated
/// quotes and comments run to the end: SQLite reports them.
pub(super) fn tokens(sql: &str) -> Vec<Token<'_>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    // Where a quoted run's contents end and the token ends: at the closing
    // quote (doubled quotes escape), or at the end of the text.
    let quoted_end = |from: usize, close: u8, doubled: bool| -> (usize, usize) {
        let mut j = from;
        while j < b.len() {
            if b[j] == close {
                if doubled && b.get(j + 1) == Some(&close) {
                    j += 2;
                    continue;
                }
                return (j, j + 1);
            }
            j += 1;
        }
        (b.len(), b.len())
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        let tok = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&x| x == b'\n')
                    .map_or(b.len(), |p| i + p + 1);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2);
                continue;
            }
            b'\'' => {
                i = quoted_end(i + 1, b'\'', true).1;
                Tok::Str
            }
            b'"' | b'`' => {
                let (inner_end, end) = quoted_end(i + 1, c, true);
                i = end;
                let q = if c == b'"' { "\"\"" } else { "``" };
                Tok::Ident(sql[start + 1..inner_end].replace(q, &q[..1]))
            }
            b'[' => {
                let (inner_end, end) = quoted_end(i + 1, b']', false);
                i = end;
                Tok::Ident(sql[start + 1..inner_end].to_string())
            }
            b'$' | b'?' | b':' | b'@' => {
                // SQLite's rule for `$`-variables: identifier characters,
                // `::` joins, and a parenthesised suffix.
                let mut j = i + 1;
                let mut n = 0;
                while j < b.len() {
                    let d = b[j];
                    if is_id_char(d) {
                        n += 1;
                        j += 1;
                    } else if c == b'$' && d == b'(' && n > 0 {
                        while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b')' {
                            j += 1;
                        }
                        j = (j + 1).min(b.len());
                        break;
                    } else if c == b'$' && d == b':' && b.get(j + 1) == Some(&b':') {
                        j += 2;
                    } else {
                        break;
                    }
                }
                if n == 0 {
                    i += 1;
                    if c == b'?' {
                        Tok::Param(Param::Anonymous)
                    } else {
                        Tok::Punct(&sql[start..i])
                    }
                } else {
                    i = j;
                    Tok::Param(Param::from_name(&sql[start..i]))
                }
            }
            b'0'..=b'9' => {
                i += 1;
                while i < b.len() {
                    let d = b[i];
                    let exp_sign = (d == b'+' || d == b'-')
                        && matches!(b[i - 1], b'e' | b'E')
                        && !sql[start..i].starts_with("0x");
                    if d.is_ascii_alphanumeric() || d == b'.' || d == b'_' || exp_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                Tok::Num
            }
            b'.' if b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                Tok::Num
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < b.len() && is_id_char(b[i]) {
                    i += 1;
                }
                // A multi-byte character ends on a char boundary by construction.
                Tok::Word(&sql[start..i])
            }
            _ => {
                let two = sql.get(i..i + 2).unwrap_or("");
                let three = sql.get(i..i + 3).unwrap_or("");
                i += if three == "->>" {
                    3
                } else if matches!(
                    two,
                    "<=" | ">=" | "<>" | "!=" | "==" | "||" | "<<" | ">>" | "->"
                ) {
                    2
                } else {
                    1
                };
                // Stay on a char boundary for stray non-ASCII punctuation.
                while !sql.is_char_boundary(i) {
                    i += 1;
                }
                Tok::Punct(&sql[start..i])
            }
        };
        out.push(Token { tok, start });
    }
    out
}

fn word_is(t: Option<&Token<'_>>, kw: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
}

fn punct_is(t: Option<&Token<'_>>, p: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Punct(x), .. }) if *x == p)
}

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
        "SET" => Kind::Ignored("SET"),
        "RESET" => Kind::Ignored("RESET"),
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

/// Where each parameter of a statement goes, as far as token patterns can
/// tell: the declared type (SQLite's `decltype` string, or a `$n::type`
/// cast) of the column a parameter is inserted into or compared with.
///
/// `columns_of(table)` lists a table's `(column, declared type)` in order.
/// Parameters no pattern matches are absent: the caller defaults them.
pub(super) fn infer_params(
    stmt: &str,
    mut columns_of: impl FnMut(&str) -> Vec<(String, String)>,
) -> HashMap<u32, String> {
    let toks = tokens(stmt);
    let mut out: HashMap<u32, String> = HashMap::new();

    // Casts are what the client asked for: they win.
    for t in &toks {
        if let Tok::Param(Param::Numbered(n, Some(cast))) = &t.tok {
            out.entry(*n).or_insert_with(|| cast.clone());
        }
    }

    let name_at = |k: usize| -> Option<String> {
        match toks.get(k).map(|t| &t.tok) {
            Some(Tok::Word(w)) => Some(w.to_string()),
            Some(Tok::Ident(w)) => Some(w.clone()),
            _ => None,
        }
    };
    // `schema.table` names the table after the dot.
    let table_at = |k: usize| -> Option<String> {
        if punct_is(toks.get(k + 1), ".") {
            name_at(k + 2)
        } else {
            name_at(k)
        }
    };

    let mut tables: Vec<String> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        let Tok::Word(w) = t.tok else { continue };
        if ["FROM", "JOIN", "INTO", "UPDATE"]
            .iter()
            .any(|kw| w.eq_ignore_ascii_case(kw))
        {
            let mut at = k + 1;
            // `UPDATE OR IGNORE t`
            if word_is(toks.get(at), "OR") {
                at += 2;
            }
            if let Some(name) = table_at(at) {
                tables.push(name);
            }
        }
    }
    let mut columns: Vec<(String, String)> = Vec::new();
    let mut table_columns: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for t in &tables {
        let key = t.to_ascii_lowercase();
        if table_columns.contains_key(&key) {
            continue;
        }
        let cols = columns_of(t);
        columns.extend(cols.iter().cloned());
        table_columns.insert(key, cols);
    }
    let decl_of = |name: &str| -> Option<String> {
        columns
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(name))
            .map(|(_, d)| d.clone())
    };

    // INSERT INTO t [(cols)] VALUES (…), (…)
    if let Some(into) = toks.iter().position(|t| word_is(Some(t), "INTO")) {
        let table = table_at(into + 1);
        let mut k = into + 2;
        if punct_is(toks.get(into + 2), ".") {
            k += 2;
        }
        // `INSERT INTO t AS alias (…)`
        if word_is(toks.get(k), "AS") {
            k += 2;
        }
        let mut targets: Vec<String> = Vec::new();
        if punct_is(toks.get(k), "(") {
            k += 1;
            while let Some(name) = name_at(k) {
                targets.push(name);
                k += 1;
                if punct_is(toks.get(k), ",") {
                    k += 1;
                }
            }
            if punct_is(toks.get(k), ")") {
                k += 1;
            }
        } else if let Some(t) = &table
            && let Some(cols) = table_columns.get(&t.to_ascii_lowercase())
        {
            targets = cols.iter().map(|(c, _)| c.clone()).collect();
        }
        if word_is(toks.get(k), "VALUES") {
            k += 1;
            while punct_is(toks.get(k), "(") {
                k += 1;
                let mut col = 0;
                let mut depth = 0;
                let mut element: Vec<&Tok<'_>> = Vec::new();
                while let Some(t) = toks.get(k) {
                    k += 1;
                    match &t.tok {
                        Tok::Punct("(") => depth += 1,
                        Tok::Punct(")") if depth > 0 => depth -= 1,
                        Tok::Punct(")") | Tok::Punct(",") if depth == 0 => {
                            if let [Tok::Param(Param::Numbered(n, _))] = element.as_slice()
                                && let Some(d) = targets.get(col).and_then(|c| decl_of(c))
                            {
                                out.entry(*n).or_insert(d);
                            }
                            element.clear();
                            col += 1;
                            if t.tok == Tok::Punct(")") {
                                break;
                            }
                            continue;
                        }
                        _ => {}
                    }
                    element.push(&t.tok);
                }
                if punct_is(toks.get(k), ",") {
                    k += 1;
                } else {
                    break;
                }
            }
        }
    }

    let is_cmp = |k: usize| -> bool {
        match toks.get(k).map(|t| &t.tok) {
            Some(Tok::Punct(p)) => matches!(*p, "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">="),
            Some(Tok::Word(w)) => ["LIKE", "GLOB", "IS"]
                .iter()
                .any(|kw| w.eq_ignore_ascii_case(kw)),
            _ => false,
        }
    };
    let column_decl = |k: usize| name_at(k).and_then(|n| decl_of(&n));
    for (k, t) in toks.iter().enumerate() {
        let Tok::Param(Param::Numbered(n, _)) = t.tok else {
            continue;
        };
        if out.contains_key(&n) {
            continue;
        }
        let before = |d: usize| k.checked_sub(d);
        let mut found: Option<String> = None;
        // col = $n
        if let Some(op) = before(1)
            && is_cmp(op)
            && let Some(c) = before(2)
        {
            found = column_decl(c);
        }
        // $n = [alias.]col
        if found.is_none() && is_cmp(k + 1) {
            found = if punct_is(toks.get(k + 3), ".") {
                column_decl(k + 4)
            } else {
                column_decl(k + 2)
            };
        }
        // col [NOT] BETWEEN $a AND $b
        if found.is_none() {
            let between = if word_is(before(1).and_then(|i| toks.get(i)), "BETWEEN") {
                before(1)
            } else if word_is(before(1).and_then(|i| toks.get(i)), "AND")
                && word_is(before(3).and_then(|i| toks.get(i)), "BETWEEN")
            {
                before(3)
            } else {
                None
            };
            if let Some(b) = between {
                let col = if word_is(b.checked_sub(1).and_then(|i| toks.get(i)), "NOT") {
                    b.checked_sub(2)
                } else {
                    b.checked_sub(1)
                };
                found = col.and_then(column_decl);
            }
        }
        // col [NOT] IN ($a, $b)
        if found.is_none() {
            let mut j = k;
            while let Some(p) = j.checked_sub(1) {
                match &toks[p].tok {
                    Tok::Param(_) | Tok::Punct(",") | Tok::Num | Tok::Str => j = p,
                    _ => break,
                }
            }
            if let Some(open) = j.checked_sub(1)
                && punct_is(toks.get(open), "(")
                && let Some(in_kw) = open.checked_sub(1)
                && word_is(toks.get(in_kw), "IN")
            {
                let col = if word_is(in_kw.checked_sub(1).and_then(|i| toks.get(i)), "NOT") {
                    in_kw.checked_sub(2)
                } else {
                    in_kw.checked_sub(1)
                };
                found = col.and_then(column_decl);
            }
        }
        // LIMIT $n OFFSET $m
        if found.is_none()
            && let Some(p) = before(1)
            && (word_is(toks.get(p), "LIMIT") || word_is(toks.get(p), "OFFSET"))
        {
            found = Some("BIGINT".to_string());
        }
        if let Some(d) = found {
            out.insert(n, d);
        }
    }
    out
}

/// The tables a statement reads or writes (after `FROM`, `JOIN`, `INTO`,
/// `UPDATE`), for naming result columns that have no declared type.
pub(super) fn tables(stmt: &str) -> Vec<String> {
    let mut found = Vec::new();
    let _ = infer_params(stmt, |t| {
        found.push(t.to_string());
        Vec::new()
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_comments_and_triggers() {
        assert_eq!(split("SELECT 1; SELECT 2"), vec!["SELECT 1", "SELECT 2"]);
        assert_eq!(
            split("SELECT ';'; -- x;\n SELECT \"a;b\""),
            vec!["SELECT ';'", "SELECT \"a;b\""]
        );
        assert_eq!(split(" ;; /* only ; comment */ ;"), Vec::<&str>::new());
        assert_eq!(split(""), Vec::<&str>::new());
        let trig = "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO b VALUES (1); UPDATE b SET x = 2; END";
        assert_eq!(split(&format!("{trig}; SELECT 1")), vec![trig, "SELECT 1"]);
        assert_eq!(
            split("SELECT 'unterminated; SELECT 2"),
            vec!["SELECT 'unterminated; SELECT 2"]
        );
    }

    #[test]
    fn classify_transaction_control_and_commands() {
        assert_eq!(classify("begin"), Kind::Begin(None));
        assert_eq!(
            classify("BEGIN ISOLATION LEVEL SERIALIZABLE"),
            Kind::Begin(None)
        );
        assert_eq!(classify("BEGIN IMMEDIATE"), Kind::Begin(Some("IMMEDIATE")));
        assert_eq!(
            classify("/* c */ START TRANSACTION READ WRITE"),
            Kind::Begin(None)
        );
        assert_eq!(classify("END"), Kind::Commit);
        assert_eq!(classify("abort"), Kind::Rollback);
        assert_eq!(classify("ROLLBACK TO SAVEPOINT a"), Kind::RollbackTo);
        assert_eq!(classify("SET extra_float_digits = 3"), Kind::Ignored("SET"));
        assert_eq!(
            classify("SHOW server_version"),
            Kind::Show("server_version".into())
        );
        assert_eq!(classify("select 1"), Kind::Sql(Command::Select));
        assert_eq!(
            classify("INSERT INTO t VALUES (1)"),
            Kind::Sql(Command::Insert)
        );
        assert_eq!(
            classify("WITH x AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM x)"),
            Kind::Sql(Command::Delete)
        );
        assert_eq!(
            classify("CREATE TABLE IF NOT EXISTS t (a)"),
            Kind::Sql(Command::Other("CREATE TABLE".into()))
        );
        assert_eq!(
            classify("CREATE UNIQUE INDEX i ON t (a)"),
            Kind::Sql(Command::Other("CREATE INDEX".into()))
        );
        assert_eq!(
            classify("vacuum"),
            Kind::Sql(Command::Other("VACUUM".into()))
        );
        assert_eq!(
            classify("(SELECT 1)"),
            Kind::Sql(Command::Other(String::new()))
        );
    }

    #[test]
    fn parameter_names_as_sqlite_reports_them() {
        assert_eq!(Param::from_name("$2"), Param::Numbered(2, None));
        assert_eq!(Param::from_name("?7"), Param::Numbered(7, None));
        assert_eq!(
            Param::from_name("$1::int8::text"),
            Param::Numbered(1, Some("int8".into()))
        );
        assert_eq!(
            Param::from_name("$1::numeric(10,2)"),
            Param::Numbered(1, Some("numeric".into()))
        );
        assert_eq!(Param::from_name("$x"), Param::Named);
        assert_eq!(Param::from_name(":x"), Param::Named);
        assert_eq!(Param::from_name("$0"), Param::Named);
        assert_eq!(Param::from_name("$99999999999"), Param::Named);
    }

    fn jobs(t: &str) -> Vec<(String, String)> {
        match t {
            "jobs" => vec![
                ("id".into(), "BIGINT".into()),
                ("payload".into(), "TEXT".into()),
                ("n".into(), "INTEGER".into()),
                ("ok".into(), "BOOLEAN".into()),
            ],
            _ => vec![],
        }
    }

    #[test]
    fn parameter_types_from_insert_targets() {
        let p = infer_params(
            "INSERT INTO jobs (id, payload, n) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            jobs,
        );
        assert_eq!(p.get(&1).map(String::as_str), Some("BIGINT"));
        assert_eq!(p.get(&2).map(String::as_str), Some("TEXT"));
        assert_eq!(p.get(&3).map(String::as_str), Some("INTEGER"));
        let p = infer_params(
            "insert into main.jobs values ($2, $1, 3, $3), ($4, 'x', abs($5), $6)",
            jobs,
        );
        assert_eq!(p.get(&2).map(String::as_str), Some("BIGINT"));
        assert_eq!(p.get(&1).map(String::as_str), Some("TEXT"));
        assert_eq!(p.get(&3).map(String::as_str), Some("BOOLEAN"));
        assert_eq!(p.get(&4).map(String::as_str), Some("BIGINT"));
        assert_eq!(p.get(&5), None);
        assert_eq!(p.get(&6).map(String::as_str), Some("BOOLEAN"));
    }

    #[test]
    fn parameter_types_from_comparisons() {
        let p = infer_params(
            "SELECT * FROM jobs j WHERE j.id >= $1 AND $2 = payload AND n BETWEEN $3 AND $4 \
             AND id NOT IN ($5, 7, $6) AND ok IS $7 LIMIT $8 OFFSET $9",
            jobs,
        );
        for (n, d) in [
            (1, "BIGINT"),
            (2, "TEXT"),
            (3, "INTEGER"),
            (4, "INTEGER"),
            (5, "BIGINT"),
            (6, "BIGINT"),
            (7, "BOOLEAN"),
            (8, "BIGINT"),
            (9, "BIGINT"),
        ] {
            assert_eq!(p.get(&n).map(String::as_str), Some(d), "${n}");
        }
        let p = infer_params("UPDATE jobs SET payload = $2 WHERE id = $1::int4", jobs);
        assert_eq!(p.get(&1).map(String::as_str), Some("int4"));
        assert_eq!(p.get(&2).map(String::as_str), Some("TEXT"));
        let p = infer_params("SELECT $1 + 1, length($2)", jobs);
        assert!(p.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn any_text_lexes_and_splits_into_pieces_of_itself(
            s in "(\\PC|[;'\"`\\[\\]$?:@()=<>!.,-/*]|--|/\\*|\\*/){0,60}"
        ) {
            for piece in split(&s) {
                proptest::prop_assert!(s.contains(piece));
                let _ = classify(piece);
            }
            let _ = infer_params(&s, jobs);
        }
    }

    #[test]
    fn lexer_never_panics_on_odd_text() {
        for s in [
            "\"",
            "'",
            "[",
            "$",
            "$(",
            "$a(",
            "$1::",
            "?",
            "/*",
            "--",
            "é$ü",
            "1e+",
            ".5e-3",
            "0x1f+1",
            "->>",
            "\u{2028};",
            "x'00'",
            "$1::",
            "@",
            ":",
            "a.b.c",
            "(((",
            ")))",
        ] {
            let _ = tokens(s);
            let _ = split(s);
            let _ = classify(s);
            let _ = infer_params(s, jobs);
        }
    }
}
