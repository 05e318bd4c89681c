//! One JSON line per report (schema in docs/usage.md, "JSON report": `schema_version` 3).
//! Serialising, scrubbing and escaping happen in `output::render_json`, the one JSON writer.
//! Reads no env vars.

use crate::report::Report;

pub fn render(report: &Report) -> String {
    crate::output::render_json(report)
}
