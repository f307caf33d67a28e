//! How bad a check result or log line is.

/// Severity of a check or log line, as the theme colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Ok,
    Warning,
    Critical,
    Unknown,
}
