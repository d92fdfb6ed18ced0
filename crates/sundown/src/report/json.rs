//! The report on disk: pretty JSON, versioned by [`SCHEMA`] so that a
//! reader never misreads a report written by another sundown.

use super::ShutdownReport;

/// The report format version; bumped on any incompatible change.
pub const SCHEMA: u32 = 1;

impl ShutdownReport {
    /// Parses a report written by `sundown run --report`; a report of
    /// another schema version is refused rather than misread.
    pub fn from_json(json: &str) -> Result<ShutdownReport, serde_json::Error> {
        let report: ShutdownReport = serde_json::from_str(json)?;
        if report.schema != SCHEMA {
            return Err(<serde_json::Error as serde::de::Error>::custom(format!(
                "report schema {} is not supported (this sundown reads schema {SCHEMA})",
                report.schema
            )));
        }
        Ok(report)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialization cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
