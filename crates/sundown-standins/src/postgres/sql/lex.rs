//! The lexer: SQL text as tokens, split where SQLite's tokenizer splits it
//! (quotes, comments, `$1::int` being one parameter token), so statement
//! boundaries and parameters are found exactly where SQLite finds them.

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
pub(in crate::postgres) enum Param {
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
    pub(in crate::postgres) fn from_name(name: &str) -> Param {
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

/// Whether `t` is the keyword `kw`, in any case.
pub(super) fn word_is(t: Option<&Token<'_>>, kw: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
}

/// Whether `t` is the punctuation `p`.
pub(super) fn punct_is(t: Option<&Token<'_>>, p: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Punct(x), .. }) if *x == p)
}
