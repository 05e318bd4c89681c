//! Renderers: text for people (docker logs, ECS Exec), one JSON line for machines (FireLens).
//! They only render a finished [`Report`]; they decide nothing and write nothing: [`emit`]
//! hands the result to `output`, the one writer. Reads no env vars.

pub mod json;
pub mod processes;
pub mod text;

use crate::output::{self, Stream};
use crate::report::Report;
use crate::settings::Format;

/// Writes the report in `format` to `stream`.
pub fn emit(report: &Report, format: Format, stream: Stream) {
    match format {
        Format::Text => output::lines(stream, &text::lines(report)),
        Format::Json => output::json(stream, report),
    }
}

/// The report as `output` would write it (tests, examples).
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => output::render_lines(&text::lines(report)),
        Format::Json => json::render(report),
    }
}
