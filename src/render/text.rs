//! The human report: a summary block, the providers in chain order, then warnings, notes and
//! errors, each with its hint. Aligned for `docker logs` and ECS Exec; no colour codes.
//! It returns lines; `output` escapes and scrubs each one, so a field can never add a line.
//! Reads no env vars.

use crate::duration::human;
use crate::report::Report;
use std::time::Duration;

/// The report as lines of text (without line ends).
pub fn lines(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    let verdict = match (r.ok, r.exit_code) {
        (true, _) => "OK".to_string(),
        (false, crate::error::exit::UNVERIFIED) => "UNVERIFIED (exit 4)".to_string(),
        (false, code) => format!("PROBLEM (exit {code})"),
    };
    out.push(format!("credcheck {}: {verdict}", r.version));
    summary(&mut out, r);
    providers(&mut out, r);
    probe(&mut out, r);
    if let Some(p) = &r.processes {
        out.extend(super::processes::lines(p));
    }
    items(
        &mut out,
        "warnings",
        r.warnings
            .iter()
            .map(|w| (w.code, w.message.as_str(), Some(w.hint.as_str()))),
    );
    items(
        &mut out,
        "notes (other SDKs)",
        r.notes.iter().map(|n| (n.code, n.message.as_str(), None)),
    );
    items(
        &mut out,
        "errors",
        r.errors
            .iter()
            .map(|e| (e.code, e.message.as_str(), Some(e.hint.as_str()))),
    );
    out
}

fn row(out: &mut Vec<String>, label: &str, value: impl AsRef<str>) {
    out.push(format!("  {label:<10} {}", value.as_ref()));
}

fn summary(out: &mut Vec<String>, r: &Report) {
    if let Some(p) = &r.process {
        let uid = p.uid.map_or_else(|| "?".to_string(), |u| u.to_string());
        let init = p
            .init
            .as_deref()
            .map(|i| format!(", the app under {i}"))
            .unwrap_or_default();
        row(
            out,
            "process",
            format!(
                "PID {} ({}), uid {uid}{init}: its environment and files (--pid)",
                p.pid, p.comm
            ),
        );
    }
    match r.source {
        Some(source) => row(
            out,
            "source",
            format!("{}  {}", source.name(), r.location.as_deref().unwrap_or("")),
        ),
        None => row(out, "source", "none"),
    }
    if let Some(arn) = &r.role_arn {
        row(
            out,
            "role",
            format!("{arn}  (from {})", r.role_arn_from.unwrap_or("?")),
        );
    }
    if let Some(key) = &r.access_key_id {
        row(
            out,
            "key",
            format!("{key}  ({})", r.key_kind.unwrap_or("?")),
        );
    }
    if let (Some(exp), Some(secs)) = (&r.expiration, r.expires_in_secs) {
        row(out, "expires", format!("{exp}  ({})", relative(secs)));
    }
    if let Some(id) = &r.identity {
        row(out, "identity", &id.arn);
        row(out, "account", &id.account);
        row(out, "user id", &id.user_id);
    }
    if let Some(region) = &r.region {
        row(
            out,
            "region",
            format!("{region}  ({})", r.region_from.as_deref().unwrap_or("?")),
        );
    }
    if let Some(c) = &r.context {
        let task = c.task_arn.as_deref().unwrap_or("?");
        row(
            out,
            "task",
            format!(
                "{task}  cluster {}  {}:{}",
                c.cluster.as_deref().unwrap_or("?"),
                c.family.as_deref().unwrap_or("?"),
                c.revision.as_deref().unwrap_or("?")
            ),
        );
    }
    row(out, "took", format!("{} ms", r.elapsed_ms));
}

fn relative(secs: i64) -> String {
    let d = human(Duration::from_secs(secs.unsigned_abs()));
    if secs >= 0 {
        format!("in {d}")
    } else {
        format!("expired {d} ago")
    }
}

fn providers(out: &mut Vec<String>, r: &Report) {
    out.push(String::new());
    out.push("chain (Rust SDK order)".into());
    for p in &r.providers {
        let status = serde_json::to_value(p.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push(format!(
            "  {:<30} {:<15} {:>5} ms  {}",
            p.source_type.name(),
            status,
            p.elapsed_ms,
            p.location.as_deref().unwrap_or("-")
        ));
        if let Some(detail) = &p.detail {
            out.push(format!("  {:<30} {detail}", ""));
        }
    }
}

/// The permission probe: each log destination, then each (action, resource) verdict.
fn probe(out: &mut Vec<String>, r: &Report) {
    if !r.log_outputs.is_empty() {
        out.push(String::new());
        out.push("log outputs".into());
    }
    let seen = |known: Option<bool>| match known {
        Some(true) => "exists",
        Some(false) => "missing",
        None => "unknown",
    };
    for o in &r.log_outputs {
        let evidence = serde_json::to_value(o.evidence)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push(format!(
            "  {:<11} {}:{}  ({} {}, {})",
            o.delivery.name(),
            o.group,
            o.stream,
            o.plugin,
            o.region,
            o.from
        ));
        out.push(format!(
            "  {:<11} group {} ({}), stream {} ({}); evidence: {evidence}",
            "",
            seen(o.group_exists),
            o.names.group,
            seen(o.stream_exists),
            o.names.stream
        ));
        if let Some(why) = &o.why {
            out.push(format!("  {:<11} {why}", ""));
        }
    }
    if !r.permissions.is_empty() {
        out.push(String::new());
        out.push("permissions".into());
    }
    for p in &r.permissions {
        let basis = serde_json::to_value(p.basis)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let reason = p
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        out.push(format!(
            "  {:<14} {:<26} {}  ({basis}{reason})",
            p.verdict.name(),
            p.action,
            p.resource
        ));
    }
}

fn items<'a>(
    out: &mut Vec<String>,
    title: &str,
    list: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>)>,
) {
    let mut first = true;
    for (code, message, hint) in list {
        if first {
            out.push(String::new());
            out.push(title.to_string());
            first = false;
        }
        out.push(format!("  [{code}] {message}"));
        if let Some(hint) = hint {
            out.push(format!("      hint: {hint}"));
        }
    }
}
