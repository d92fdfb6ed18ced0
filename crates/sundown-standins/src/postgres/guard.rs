//! What a client's SQL may not do: reach a file outside the database, or
//! change how the database is stored.
//!
//! SQLite lets any statement `ATTACH` a file by name (creating it), write a
//! copy of the database anywhere with `VACUUM INTO`, or switch off the WAL
//! and fsyncs with `PRAGMA`; run by the supervisor's user, that would write
//! attacker content wherever that user may. The checks here are SQLite's
//! own, applied to each session connection when SQLite compiles a statement,
//! not a reading of the SQL text (which quoting, comments or an expression
//! in place of a file name would get round):
//!
//! - an authorizer refuses `ATTACH` (so also `VACUUM INTO`, which SQLite
//!   runs as an `ATTACH` of its target), `DETACH`, every pragma outside a
//!   short list of harmless ones, and `load_extension`/`fts3_tokenizer`;
//! - at most one attached database (plain `VACUUM` needs one, SQLite's
//!   private temporary file, `ATTACH ''`, the only one the authorizer lets
//!   through; it has no name, so it can reach nothing);
//! - defensive mode (no writes to `sqlite_schema` or shadow tables) and an
//!   untrusted schema (no functions with side effects in views, triggers or
//!   defaults a client defines).
//!
//! The stand-in's own pragmas (WAL, synchronous, checkpoints) run before
//! this is installed, or on the component's own connection, which has none.

use std::cell::RefCell;

use rusqlite::config::DbConfig;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::{Connection, ffi};

/// Pragmas a client may run with or without an argument: they read the
/// schema, or set something that only matters inside this connection's SQL.
const FREE_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
    "collation_list",
    "function_list",
    "module_list",
    "pragma_list",
    "compile_options",
    "page_count",
    "freelist_count",
    "data_version",
    "foreign_keys",
    "defer_foreign_keys",
    "recursive_triggers",
    "case_sensitive_like",
    "query_only",
    "user_version",
    "application_id",
    "optimize",
];

/// Pragmas a client may read but not set: how the database is stored and
/// synced, and limits that are the stand-in's to choose.
const READ_ONLY_PRAGMAS: &[&str] = &[
    "journal_mode",
    "synchronous",
    "locking_mode",
    "wal_autocheckpoint",
    "journal_size_limit",
    "busy_timeout",
    "cache_size",
    "cache_spill",
    "page_size",
    "max_page_count",
    "mmap_size",
    "temp_store",
    "auto_vacuum",
    "secure_delete",
    "encoding",
    "schema_version",
    "trusted_schema",
    "writable_schema",
    "cell_size_check",
];

/// Functions no client may call: loading code, and a tokenizer hook that
/// hands out and takes raw pointers.
const REFUSED_FUNCTIONS: &[&str] = &["load_extension", "fts3_tokenizer"];

thread_local! {
    /// Why the authorizer refused the statement being compiled on this
    /// thread (each session's connection lives on a thread of its own), for
    /// the client's error message: SQLite itself only says "not authorized".
    static REFUSAL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The reason for the last refusal on this thread, if it has not been told
/// (taking it also forgets a refusal that no error reported, so it cannot
/// turn up in a later one).
pub(super) fn take_refusal() -> Option<String> {
    REFUSAL.with(|r| r.borrow_mut().take())
}

/// The largest string or blob a statement may make: 64 MiB (SQLite's own
/// limit is 1 GB).
pub(super) const MAX_VALUE: i32 = 64 << 20;

/// Applies the restrictions to a session's connection, once its own setup
/// is done.
pub(super) fn lock_down(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 1)?;
    // One string or blob (`zeroblob(1e9)`) is at most this, so a session
    // cannot make the supervisor hold a gigabyte with one expression.
    conn.set_limit(Limit::SQLITE_LIMIT_LENGTH, MAX_VALUE)?;
    conn.authorizer(Some(authorize))?;
    Ok(())
}

fn authorize(cx: AuthContext<'_>) -> Authorization {
    match refusal(&cx.action) {
        None => Authorization::Allow,
        Some(why) => {
            REFUSAL.with(|r| *r.borrow_mut() = Some(format!("permission denied: {why}")));
            Authorization::Deny
        }
    }
}

const OUTSIDE: &str = "a client may not reach files outside the database";

fn refusal(action: &AuthAction<'_>) -> Option<String> {
    let is = |list: &[&str], name: &str| list.iter().any(|p| p.eq_ignore_ascii_case(name));
    match action {
        // SQLite's private temporary database (plain VACUUM): no name, no file anyone can reach.
        AuthAction::Attach { filename: "" } => None,
        AuthAction::Attach { .. } => Some(format!("ATTACH and VACUUM INTO: {OUTSIDE}")),
        AuthAction::Detach { .. } => Some(format!("DETACH: {OUTSIDE}")),
        AuthAction::Pragma {
            pragma_name,
            pragma_value,
        } => {
            let allowed = is(FREE_PRAGMAS, pragma_name)
                || (pragma_value.is_none() && is(READ_ONLY_PRAGMAS, pragma_name));
            (!allowed).then(|| {
                format!(
                    "PRAGMA {pragma_name}{}: a client may not change how or where the database is stored",
                    if pragma_value.is_some() { " with a value" } else { "" }
                )
            })
        }
        AuthAction::Function { function_name } if is(REFUSED_FUNCTIONS, function_name) => {
            Some(format!("function {function_name}"))
        }
        // An ATTACH whose file name is an expression or parameter: SQLite
        // passes no name, so rusqlite cannot name the action.
        AuthAction::Unknown { code, .. }
            if [ffi::SQLITE_ATTACH, ffi::SQLITE_DETACH, ffi::SQLITE_PRAGMA].contains(code) =>
        {
            Some(format!("ATTACH, DETACH and PRAGMA: {OUTSIDE}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locked(dir: &std::path::Path) -> Connection {
        let mut c = Connection::open(dir.join("db.sqlite")).expect("open");
        c.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (a INTEGER)")
            .expect("setup before the lock-down");
        lock_down(&mut c).expect("lock down");
        c
    }

    /// The reason given, checking that the client sees it as 42501.
    fn refused(c: &Connection, sql: &str) -> String {
        let e = c.execute_batch(sql).expect_err(sql);
        let pg = super::super::error::from_sqlite(&e, sql, 0);
        assert_eq!(pg.code, "42501", "{sql}: {e:?}");
        assert!(take_refusal().is_none(), "the reason was used");
        pg.message
    }

    #[test]
    fn files_outside_the_database_are_out_of_reach() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = locked(dir.path());
        let target = dir.path().join("x.db");
        let t = target.display();
        for sql in [
            format!("ATTACH '{t}' AS x"),
            format!("ATTACH ('{t}') AS x"),
            format!("ATTACH '' || '{t}' AS x"),
            format!("VACUUM INTO '{t}'"),
            format!("VACUUM INTO ('{t}')"),
        ] {
            let why = refused(&c, &sql);
            assert!(why.starts_with("permission denied: ATTACH"), "{sql}: {why}");
        }
        let e = c
            .prepare("ATTACH ?1 AS x")
            .expect_err("a file name SQLite cannot see");
        assert!(e.to_string().contains("not authorized"), "{e}");
        assert!(take_refusal().is_some_and(|r| r.contains("ATTACH")));
        assert!(!target.exists(), "a file was created");
    }

    #[test]
    fn one_value_cannot_take_a_gigabyte() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = locked(dir.path());
        let e = c
            .query_row("SELECT length(zeroblob(1000000000))", [], |r| {
                r.get::<_, i64>(0)
            })
            .expect_err("over the limit");
        assert!(e.to_string().contains("too big"), "{e}");
        let n: i64 = c
            .query_row("SELECT length(zeroblob(1000000))", [], |r| r.get(0))
            .expect("under the limit");
        assert_eq!(n, 1_000_000);
    }

    #[test]
    fn storage_pragmas_are_read_only_and_schema_ones_free() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = locked(dir.path());
        for sql in [
            "PRAGMA journal_mode = DELETE",
            "PRAGMA main.journal_mode = MEMORY",
            "pragma SYNCHRONOUS = 0",
            "PRAGMA writable_schema = 1",
            "PRAGMA wal_checkpoint(TRUNCATE)",
            "PRAGMA wal_checkpoint",
            "PRAGMA temp_store_directory = '/tmp'",
            "PRAGMA hard_heap_limit = 1",
            "PRAGMA nonexistent",
        ] {
            assert!(refused(&c, sql).starts_with("permission denied: PRAGMA"));
        }
        let mode: String = c
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("read");
        assert_eq!(mode, "wal");
        let cols: i64 = c
            .query_row("SELECT count(*) FROM pragma_table_info('t')", [], |r| {
                r.get(0)
            })
            .expect("table-valued pragma");
        assert_eq!(cols, 1);
        c.execute_batch("PRAGMA table_info(t); PRAGMA foreign_keys = OFF; PRAGMA user_version = 3")
            .expect("harmless pragmas");
    }

    #[test]
    fn plain_vacuum_works_but_a_second_database_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = locked(dir.path());
        c.execute_batch("INSERT INTO t VALUES (1); VACUUM; VACUUM main")
            .expect("vacuum in place");
        c.execute_batch("ATTACH '' AS a")
            .expect("a private temporary database");
        let e = c.execute_batch("ATTACH '' AS b").expect_err("a second");
        assert!(e.to_string().contains("too many attached"), "{e}");
    }

    #[test]
    fn schema_tricks_and_extensions_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = locked(dir.path());
        let why = refused(&c, "SELECT load_extension('/tmp/evil.so')");
        assert!(why.contains("load_extension"), "{why}");
        let e = c
            .execute_batch("UPDATE sqlite_schema SET sql = 'x' WHERE name = 't'")
            .expect_err("defensive");
        assert!(e.to_string().contains("may not be modified"), "{e}");
    }
}
