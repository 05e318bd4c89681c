//! One JSON line per report (schema in the README, `schema_version` 2). Serialising,
//! scrubbing and escaping happen in `output::render_json`, the one JSON writer.

use crate::report::Report;

pub fn render(report: &Report) -> String {
    crate::output::render_json(report)
}
