//! Renderers: text for people (docker logs, ECS Exec), one JSON line for machines (FireLens).
//! They only render a finished [`Report`]; they decide nothing. Reads no env vars.

pub mod json;
pub mod text;

use crate::cli::Format;
use crate::report::Report;

pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Text => text::render(report),
        Format::Json => json::render(report),
    }
}
