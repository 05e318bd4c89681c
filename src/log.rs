//! Tracing to stderr, filtered by RUST_LOG (default: off), through a writer that replaces
//! every registered secret (see `secret::register`) before a byte leaves the process, so no
//! log level and no inherited switch (LOG_SENSITIVE_BODIES) can print one. The SDK's
//! request/response dumps are also capped at debug, whatever RUST_LOG says.
//! Reads: RUST_LOG.

use crate::secret;
use std::io::{self, Write};
use tracing_subscriber::EnvFilter;

/// Targets whose trace output dumps whole requests and responses.
const CAPS: &[&str] = &["aws_smithy_runtime=debug", "aws_smithy_http_client=debug", "hyper_util=info", "h2=info", "rustls=info"];

struct ScrubbingStderr;

impl Write for ScrubbingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        io::stderr().lock().write_all(secret::scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

pub fn init() {
    let mut filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("off"));
    for cap in CAPS {
        if let Ok(directive) = cap.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt().with_writer(|| ScrubbingStderr).with_env_filter(filter).with_ansi(false).try_init();
}
