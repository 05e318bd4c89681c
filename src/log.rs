//! Tracing to stderr, filtered by RUST_LOG (default: off), through the one output writer
//! (`output::log`), which hides every registered secret, masks key ids, escapes control
//! characters and hides long key material before a byte leaves the process, so no log level
//! and no inherited switch (LOG_SENSITIVE_BODIES) can print one. The SDK's request/response
//! dumps are also capped at debug, whatever RUST_LOG says. A line from a dependency's target
//! (aws-config, the SDK, hyper, rustls: anything not `credcheck::…`) is foreign text, as a
//! peer's body is: it may repeat what a helper printed (aws-config's WARN for a failing
//! `credential_process` quotes its stderr), so it also passes the foreign-text rule
//! (`secret::scrub_foreign_log`: values after secret-like words and long key-like runs hidden).
//! Reads: RUST_LOG.

use crate::output;
use std::io::{self, Write};
use tracing::Metadata;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
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

struct ScrubbingStderr {
    /// The event comes from a dependency's target: foreign text.
    foreign: bool,
}

impl Write for ScrubbingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        output::log(&String::from_utf8_lossy(buf), self.foreign);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Picks the rule by the event's target.
struct Writers;

impl<'a> MakeWriter<'a> for Writers {
    type Writer = ScrubbingStderr;

    fn make_writer(&'a self) -> ScrubbingStderr {
        ScrubbingStderr { foreign: true }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> ScrubbingStderr {
        ScrubbingStderr {
            foreign: !is_own(meta.target()),
        }
    }
}

/// credcheck's own targets (`credcheck`, `credcheck::…`); everything else is a dependency's.
fn is_own(target: &str) -> bool {
    target == "credcheck" || target.starts_with("credcheck::")
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
        .with_writer(Writers)
        .with_ansi(false);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(caps)
        .with(output)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_credcheck_targets_are_its_own() {
        assert!(is_own("credcheck") && is_own("credcheck::chain::profile"));
        assert!(!is_own("aws_config::profile::credentials") && !is_own("credcheckx"));
    }
}
