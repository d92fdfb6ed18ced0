//! The probable type of each `$n` parameter, from the token patterns
//! around it (the column an `INSERT` puts it in, the column it is compared
//! with, `LIMIT`), for a `Parse` that leaves parameter types unspecified.

use std::collections::HashMap;

use super::lex::{Param, Tok, punct_is, tokens, word_is};

/// Where each parameter of a statement goes, as far as token patterns can
/// tell: the declared type (SQLite's `decltype` string, or a `$n::type`
/// cast) of the column a parameter is inserted into or compared with.
///
/// `columns_of(table)` lists a table's `(column, declared type)` in order.
/// Parameters no pattern matches are absent: the caller defaults them.
pub(in crate::postgres) fn infer_params(
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
pub(in crate::postgres) fn tables(stmt: &str) -> Vec<String> {
    let mut found = Vec::new();
    let _ = infer_params(stmt, |t| {
        found.push(t.to_string());
        Vec::new()
    });
    found
}
