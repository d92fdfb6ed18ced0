//! PostgreSQL's transaction behaviour and command tags on a real SQLite
//! connection.

use super::*;

fn db() -> (Db, Arc<Store>, ()) {
    let store = Arc::new(Store::open(None).expect("memory store"));
    let mut conn = store.connect().expect("connect");
    let control = Control::install(&mut conn, 1).expect("control");
    (Db::new(conn, Arc::clone(&store), control, None), store, ())
}

fn tags(replies: &[Reply]) -> Vec<String> {
    replies
        .iter()
        .map(|r| match r {
            Reply::Rows { tag, rows, .. } => format!("{tag:?}/{}", rows.len()),
            Reply::Command(tag) => format!("{tag:?}"),
            Reply::Empty => "empty".into(),
            Reply::Notice(e) => format!("notice {}", e.code),
            Reply::Error(e) => format!("error {}", e.code),
        })
        .collect()
}

fn tag_text(t: &Tag) -> String {
    pgwire::messages::response::CommandComplete::from(t.clone()).tag
}

#[test]
fn command_tags_match_postgresql() {
    let (mut db, _s, _k) = db();
    let r = db.simple_query(
        "CREATE TABLE IF NOT EXISTS t (id BIGINT PRIMARY KEY, v TEXT); \
         INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'); \
         INSERT INTO t VALUES (1, 'x') ON CONFLICT DO NOTHING; \
         UPDATE t SET v = 'z' WHERE id > 1; DELETE FROM t WHERE id = 3; SELECT * FROM t",
    );
    let texts: Vec<String> = r
        .iter()
        .map(|r| match r {
            Reply::Rows { tag, .. } | Reply::Command(tag) => tag_text(tag),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        texts,
        [
            "CREATE TABLE",
            "INSERT 0 3",
            "INSERT 0 0",
            "UPDATE 2",
            "DELETE 1",
            "SELECT 2"
        ]
    );
    assert_eq!(db.status(), TransactionStatus::Idle);
}

#[test]
fn failed_transaction_until_rollback() {
    let (mut db, _s, _k) = db();
    db.simple_query("CREATE TABLE t (id INTEGER PRIMARY KEY)");
    db.simple_query("BEGIN");
    assert_eq!(db.status(), TransactionStatus::Transaction);
    db.simple_query("INSERT INTO t VALUES (1)");
    let r = db.simple_query("INSERT INTO t VALUES (1)");
    assert_eq!(tags(&r), ["error 23505"]);
    assert_eq!(db.status(), TransactionStatus::Error);
    assert_eq!(tags(&db.simple_query("SELECT 1")), ["error 25P02"]);
    let r = db.simple_query("COMMIT");
    assert_eq!(r.len(), 1);
    assert!(matches!(&r[0], Reply::Command(t) if tag_text(t) == "ROLLBACK"));
    assert_eq!(db.status(), TransactionStatus::Idle);
    let r = db.simple_query("SELECT count(*) FROM t");
    assert!(matches!(&r[0], Reply::Rows { tag, .. } if tag_text(tag) == "SELECT 1"));
    assert_eq!(tags(&db.simple_query("COMMIT"))[0], "notice 25P01");
    assert_eq!(tags(&db.simple_query("SAVEPOINT a")), ["error 25P01"]);
}

#[test]
fn multi_statement_query_is_one_transaction() {
    let (mut db, _s, _k) = db();
    db.simple_query("CREATE TABLE t (id INTEGER PRIMARY KEY)");
    let r = db.simple_query("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1)");
    assert_eq!(tags(&r).last().map(String::as_str), Some("error 23505"));
    assert_eq!(db.status(), TransactionStatus::Idle);
    let r =
        db.simple_query("INSERT INTO t VALUES (2); COMMIT; INSERT INTO t VALUES (3); SELECT 1/0x");
    assert!(tags(&r).last().is_some_and(|t| t.starts_with("error")));
    let rows = db.simple_query("SELECT id FROM t");
    assert!(
        matches!(&rows[0], Reply::Rows { rows, .. } if rows.len() == 1),
        "only 2 was committed"
    );
    db.simple_query("BEGIN; INSERT INTO t VALUES (4)");
    assert_eq!(db.status(), TransactionStatus::Transaction);
    db.simple_query("ROLLBACK");
}

#[test]
fn prepared_statements_infer_types() {
    let (mut db, _s, _k) = db();
    db.simple_query("CREATE TABLE jobs (id BIGINT PRIMARY KEY, payload TEXT NOT NULL, n INTEGER)");
    let p = db
        .prepare(
            "INSERT INTO jobs (id, payload, n) VALUES ($1, $2, $3) RETURNING id, n + 1",
            &[],
        )
        .expect("prepare");
    assert_eq!(p.params, [Type::INT8, Type::TEXT, Type::INT4]);
    assert_eq!(
        p.columns.iter().map(|c| c.1.clone()).collect::<Vec<_>>(),
        [Type::INT8, Type::TEXT]
    );
    let p = db
        .prepare(
            "SELECT count(*) AS n, max(payload) FROM jobs WHERE id > $1",
            &[],
        )
        .expect("prepare");
    assert_eq!(p.params, [Type::INT8]);
    assert_eq!(p.columns[0].1, Type::INT8);
    let p = db
        .prepare("SELECT $2::int4", &[Type::TEXT.oid()])
        .expect("prepare");
    assert_eq!(p.params, [Type::TEXT, Type::INT4]);
    assert_eq!(
        db.prepare("SELECT 1; SELECT 2", &[])
            .map(|_| ())
            .map_err(|e| e.code),
        Err("42601")
    );
    assert_eq!(
        db.prepare("SELECT :x", &[]).map(|_| ()).map_err(|e| e.code),
        Err("42P02")
    );
    let p = db
        .prepare("SELECT * FROM jobs WHERE id = $1", &[])
        .expect("prepare");
    let r = db.execute(&p, &[Value::Integer(5)], &[FieldFormat::Binary]);
    assert!(
        matches!(&r[0], Reply::Rows { rows, fields, .. } if rows.is_empty() && fields.len() == 3)
    );
}
