//! The log file: `tracing` through a non-blocking appender under the XDG state dir, level from
//! `OPSCONSOLE_LOG`. Never the terminal the UI draws on, and never a password inside a URL.

use tracing_appender::non_blocking::WorkerGuard;

/// Starts logging to [`crate::paths::log_file`]; keep the guard until exit (it flushes on drop).
/// `None` when the file cannot be opened: the console then runs without a log.
pub fn init() -> Option<WorkerGuard> {
    let path = crate::paths::log_file();
    let dir = path.parent()?.to_path_buf();
    std::fs::create_dir_all(&dir).ok()?;
    let appender = tracing_appender::rolling::never(dir, path.file_name()?);
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_env("OPSCONSOLE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        // Defence in depth: no URL credentials in the file, whoever formatted the line.
        .with_writer(move || crate::redact::Writer(writer.clone()))
        .with_ansi(false)
        .with_env_filter(filter)
        .init();
    Some(guard)
}
