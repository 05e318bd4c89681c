//! The probe's request, checked: each `--can`, `--logs-to`, `--plugin`, `--logs-region` and
//! `--fluent-bit-metrics` value is parsed here (a bad one is a usage error that names the flag
//! and never quotes more than a sanitized prefix); `cli` maps its flags onto
//! `settings::ProbeRequest` with these functions, then calls [`validate`].
//! Reads no env vars.

use super::plan;
use crate::error::Error;
use crate::region::Region;
use crate::settings::{Plugin, ProbeRequest};

fn usage(code: &'static str, message: String, hint: &str) -> Error {
    Error::usage(code, message, hint)
}

/// `--plugin NAME`: the C plugin (`cloudwatch_logs`) or the Go one (`cloudwatch`).
pub fn parse_plugin(raw: &str) -> Result<Plugin, Error> {
    Plugin::parse(raw).ok_or_else(|| {
        usage("invalid-plugin", format!("--plugin {:?} is not a CloudWatch Logs plugin", crate::secret::sanitize_foreign(raw, 40)), "use --plugin cloudwatch_logs (Fluent Bit's C plugin) or --plugin cloudwatch (the Go plugin)")
    })
}

/// The checks across flags: every Region named is a Region, and `--simulate` has something
/// to simulate.
pub fn validate(request: ProbeRequest) -> Result<ProbeRequest, Error> {
    if let Some(r) = &request.logs_region {
        Region::parse(r, "--logs-region")?;
    }
    for (_, resource) in &request.can {
        if let Some(arn) = plan::parse_logs_arn(resource) {
            Region::parse(&arn.region, "the Region field of a --can ARN")?;
        }
    }
    if request.simulate && !request.is_active() {
        return Err(usage("nothing-to-probe", "--simulate needs something to check".into(), "add --can ACTION=RESOURCE, --logs-to GROUP:STREAM, --fluent-bit-config PATH or --firelens"));
    }
    Ok(request)
}

pub fn parse_can(raw: &str) -> Result<(String, String), Error> {
    let bad = || {
        usage("invalid-can", format!("--can {:?} is not ACTION=RESOURCE", crate::secret::sanitize_foreign(raw, 120)), "e.g. --can logs:PutLogEvents=arn:aws:logs:us-east-1:123456789012:log-group:G:log-stream:S")
    };
    let (action, resource) = raw.split_once('=').ok_or_else(bad)?;
    let (action, resource) = (action.trim(), resource.trim());
    let valid_action = action
        .split_once(':')
        .is_some_and(|(s, a)| !s.is_empty() && !a.is_empty() && !a.contains(':'));
    if !valid_action || resource.is_empty() {
        return Err(bad());
    }
    Ok((action.to_string(), resource.to_string()))
}

/// `--fluent-bit-metrics URL`: an explicit http(s) URL with a host (it carries no credential).
pub fn parse_metrics(raw: &str) -> Result<String, Error> {
    crate::sdk::ensure_no_userinfo(raw, "--fluent-bit-metrics")?;
    let url = crate::http::Url::parse(raw.trim()).ok();
    match url {
        Some(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none() =>
        {
            Ok(u.to_string())
        }
        _ => Err(usage(
            "invalid-fluent-bit-metrics",
            format!(
                "--fluent-bit-metrics {:?} is not an http(s) URL",
                crate::secret::sanitize_foreign(raw, 120)
            ),
            "e.g. --fluent-bit-metrics http://127.0.0.1:2020/api/v1/metrics",
        )),
    }
}

/// `GROUP[:STREAM]`: group names cannot hold `:` (CloudWatch Logs' naming rules).
pub fn parse_logs_to(raw: &str) -> Result<(String, String), Error> {
    let (group, stream) = raw.trim().split_once(':').unwrap_or((raw.trim(), ""));
    if group.is_empty() || stream.contains(':') || stream.contains('*') {
        return Err(usage(
            "invalid-logs-to",
            format!(
                "--logs-to {:?} is not GROUP[:STREAM]",
                crate::secret::sanitize_foreign(raw, 120)
            ),
            "e.g. --logs-to /ecs/logs/sample-test:webapp",
        ));
    }
    Ok((group.to_string(), stream.to_string()))
}
