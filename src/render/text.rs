//! The human report: a summary block, the providers in chain order, then warnings, notes and
//! errors, each with its hint. Aligned for `docker logs` and ECS Exec; no colour codes.

use crate::report::Report;
use crate::warning::short;
use std::fmt::Write;
use std::time::Duration;

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let verdict = if r.ok {
        "OK".to_string()
    } else {
        format!("PROBLEM (exit {})", r.exit_code)
    };
    let _ = writeln!(out, "credcheck {}: {verdict}", r.version);
    summary(&mut out, r);
    providers(&mut out, r);
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

fn row(out: &mut String, label: &str, value: impl AsRef<str>) {
    let _ = writeln!(out, "  {label:<10} {}", value.as_ref());
}

fn summary(out: &mut String, r: &Report) {
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
    let d = short(Duration::from_secs(secs.unsigned_abs()));
    if secs >= 0 {
        format!("in {d}")
    } else {
        format!("expired {d} ago")
    }
}

fn providers(out: &mut String, r: &Report) {
    let _ = writeln!(out, "\nchain (Rust SDK order)");
    for p in &r.providers {
        let status = serde_json::to_value(p.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<30} {:<15} {:>5} ms  {}",
            p.source_type.name(),
            status,
            p.elapsed_ms,
            p.location.as_deref().unwrap_or("-")
        );
        if let Some(detail) = &p.detail {
            let _ = writeln!(out, "  {:<30} {detail}", "");
        }
    }
}

fn items<'a>(
    out: &mut String,
    title: &str,
    list: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>)>,
) {
    let mut first = true;
    for (code, message, hint) in list {
        if first {
            let _ = writeln!(out, "\n{title}");
            first = false;
        }
        let _ = writeln!(out, "  [{code}] {message}");
        if let Some(hint) = hint {
            let _ = writeln!(out, "      hint: {hint}");
        }
    }
}
