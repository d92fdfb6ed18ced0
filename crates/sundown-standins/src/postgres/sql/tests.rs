//! The statement splitter, classifier, lexer and parameter inference
//! against SQLite's rules, and against any text at all.

use super::lex::tokens;
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
    let timeout = |value: Option<&str>, local: bool, tag: &'static str| Kind::StatementTimeout {
        value: value.map(str::to_string),
        local,
        tag,
    };
    assert_eq!(
        classify("SET statement_timeout = '5s'"),
        timeout(Some("'5s'"), false, "SET")
    );
    assert_eq!(
        classify("set SESSION Statement_Timeout to 5000"),
        timeout(Some("5000"), false, "SET")
    );
    assert_eq!(
        classify("SET LOCAL \"statement_timeout\" = '1min'"),
        timeout(Some("'1min'"), true, "SET")
    );
    assert_eq!(
        classify("SET statement_timeout TO DEFAULT"),
        timeout(None, false, "SET")
    );
    assert_eq!(
        classify("RESET statement_timeout"),
        timeout(None, false, "RESET")
    );
    assert_eq!(classify("RESET ALL"), timeout(None, false, "RESET"));
    assert_eq!(classify("DISCARD ALL"), timeout(None, false, "DISCARD ALL"));
    assert_eq!(classify("RESET search_path"), Kind::Ignored("RESET"));
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
