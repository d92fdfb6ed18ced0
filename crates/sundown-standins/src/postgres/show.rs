//! The server settings a client can read: `SHOW name`, and the
//! `server_version` reported at startup.

/// The server version reported to clients.
pub(super) fn server_version() -> String {
    format!("15.0 (sundown stand-in on SQLite {})", rusqlite::version())
}

/// The column name `SHOW name` answers with.
pub(super) fn show_column(name: &str) -> String {
    match name {
        "transaction isolation level" => "transaction_isolation".to_string(),
        other => other.to_string(),
    }
}

/// The value `SHOW name` answers with; `None` for a setting it does not know.
pub(super) fn show(name: &str) -> Option<String> {
    Some(
        match name {
            "server_version" => return Some(server_version()),
            "server_version_num" => "150000",
            "server_encoding" | "client_encoding" => "UTF8",
            "timezone" => "UTC",
            "datestyle" => "ISO, MDY",
            "intervalstyle" => "postgres",
            "integer_datetimes" | "standard_conforming_strings" | "is_superuser" => "on",
            "transaction_isolation"
            | "transaction isolation level"
            | "default_transaction_isolation" => "serializable",
            "transaction_read_only" | "default_transaction_read_only" => "off",
            "max_identifier_length" => "63",
            "search_path" => "public",
            "application_name" => "",
            _ => return None,
        }
        .to_string(),
    )
}
