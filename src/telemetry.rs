//! Logging with tracing: human-readable or JSON lines on standard error,
//! filtered by `TASKQL_LOG`. Standard output stays free for command output
//! such as `taskql schema`.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogFormat, LogSettings};

pub fn init(settings: &LogSettings) {
    let filter = settings
        .filter
        .directives()
        .fold(EnvFilter::default(), EnvFilter::add_directive);
    let layer = fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    match settings.format {
        LogFormat::Pretty => registry.with(layer).init(),
        LogFormat::Json => registry.with(layer.json().flatten_event(true)).init(),
    }
}
