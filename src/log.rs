//! Tracing to stderr, filtered by RUST_LOG (default: off), through the one output writer
//! (`output::log`), which hides every registered secret, masks key ids, escapes control
//! characters and hides long key material before a byte leaves the process, so no log level
//! and no inherited switch (LOG_SENSITIVE_BODIES) can print one. The SDK's request/response
//! dumps are also capped at debug, whatever RUST_LOG says.
//! Reads: RUST_LOG.

use crate::output;
use std::io::{self, Write};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Targets whose trace output dumps whole requests and responses: never above debug.
const CAPS: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_http_client",
    "hyper_util",
    "h2",
    "rustls",
];

struct ScrubbingStderr;

impl Write for ScrubbingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        output::log(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub fn init() {
    // Unset or unparsable RUST_LOG: no subscriber at all, so logging costs nothing.
    // `Targets` reads the usual `level` and `target=level,...` forms without EnvFilter's regex
    // engine (~300 KB of the binary); span and field filters are not needed here.
    let Some(filter) = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
    else {
        return;
    };
    let caps = CAPS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |t, target| t.with_target(*target, LevelFilter::DEBUG),
    );
    let output = tracing_subscriber::fmt::layer()
        .with_writer(|| ScrubbingStderr)
        .with_ansi(false);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(caps)
        .with(output)
        .try_init();
}
