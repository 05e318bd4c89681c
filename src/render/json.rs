//! One JSON line per report (schema in the README, `schema_version` 1).

use crate::report::Report;

pub fn render(report: &Report) -> String {
    let mut line = serde_json::to_string(report).unwrap_or_else(|e| {
        format!(r#"{{"schema_version":1,"ok":false,"exit_code":1,"errors":[{{"code":"render-failed","message":"{e}"}}]}}"#)
    });
    line.push('\n');
    line
}
