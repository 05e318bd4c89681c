//! The end of a run: the report printed as the mode wants it (report and `processes` to
//! stdout, the health line, the wrapper's report to stderr and then its exec), and the exit
//! code. One caller prints: the main thread, or the deadline watchdog if it got there first
//! (`output::claim_final`).
//! Reads no env vars.

use crate::output::{self, Stream};
use crate::settings::{self, Mode, Settings};
use crate::{health, render, report, wrap};

/// Prints the report for the mode and returns the exit code (wrapper mode execs on success).
/// Only one caller prints: the main thread, or the deadline watchdog if it got there first.
pub fn finish(settings: &Settings, report: &report::Report) -> i32 {
    let code = finish_once(settings, report);
    output::finished(code);
    code
}

fn finish_once(settings: &Settings, report: &report::Report) -> i32 {
    if !output::claim_final() {
        // The watchdog is printing and will end the process.
        loop {
            std::thread::park();
        }
    }
    match &settings.mode {
        Mode::Report | Mode::Processes => {
            render::emit(report, settings.format, Stream::Stdout);
            report.exit_code
        }
        Mode::Health { min_ttl } => {
            let (line, code) = health::verdict(report, *min_ttl);
            let line = line + &health::logs::health_clause(&report.warnings, &report.notes);
            match settings.format {
                settings::Format::Text => output::line(Stream::Stdout, &line),
                settings::Format::Json => output::json(Stream::Stdout, report),
            }
            code
        }
        Mode::Wrap { cmd, require } => {
            render::emit(report, settings.format, Stream::Stderr);
            if *require && !report.ok {
                output::line(
                    Stream::Stderr,
                    "credcheck: not starting the command: the report is not ok (--require)",
                );
                return report.exit_code;
            }
            let (code, line) = wrap::exec(cmd);
            output::line(Stream::Stderr, &line);
            code
        }
    }
}
