//! The `processes` section as text: one summary line, a table (one row per process), then
//! each flag with its hint and each SDK's evidence. Only renders `Processes`; `output` escapes
//! and scrubs every line. Reads no env vars.

use crate::processes::{Processes, Row};

/// Column widths; longer cells are cut with `…`.
const WIDTHS: [usize; 7] = [7, 10, 22, 44, 26, 40, 40];

pub fn lines(p: &Processes) -> Vec<String> {
    let mut out = vec![
        String::new(),
        format!(
            "processes in {}: {} read, {} environments walked, {} network fetches, {} STS calls{}",
            p.namespace,
            p.read,
            p.environments,
            p.network_fetches,
            p.sts_calls,
            skipped(p)
        ),
        cells(&[
            "PID",
            "USER",
            "SOURCE",
            "IDENTITY / KEY",
            "SDK",
            "FLAGS",
            "COMMAND",
        ]),
    ];
    out.extend(p.rows.iter().map(|r| table_row(r, p.main_pid)));
    for r in &p.rows {
        for f in &r.flags {
            out.push(format!("  ! {} [{}]", f.message, f.code));
            out.push(format!("    hint: {}", f.hint));
        }
    }
    for r in &p.rows {
        for s in &r.sdk {
            out.push(format!(
                "  PID {} {} {} ({}): {}",
                r.pid, s.sdk, s.version, s.exactness, s.evidence
            ));
        }
    }
    out
}

fn skipped(p: &Processes) -> String {
    let parts: Vec<String> = [
        (p.exited, "exited mid-read"),
        (p.unreadable, "unreadable"),
        (p.kernel_threads, "kernel threads"),
        (p.not_read, "not read (cap or deadline)"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    match parts.is_empty() {
        true => String::new(),
        false => format!("; skipped: {}", parts.join(", ")),
    }
}

fn table_row(r: &Row, main: Option<u32>) -> String {
    let pid = match main == Some(r.pid) {
        true => format!("{}*", r.pid),
        false => r.pid.to_string(),
    };
    let user = r
        .user
        .clone()
        .or_else(|| r.uid.map(|u| u.to_string()))
        .unwrap_or_else(|| "?".into());
    let source = r.source.unwrap_or("none");
    let who = r
        .identity
        .clone()
        .or_else(|| r.role_arn.clone())
        .or_else(|| r.access_key_id.clone())
        .or_else(|| r.error.clone())
        .unwrap_or_else(|| "-".into());
    let sdk = match r.sdk.first() {
        Some(s) => format!("{} {}", short_sdk(s.sdk), s.version),
        None => "unknown".into(),
    };
    let flags: Vec<&str> = r.flags.iter().map(|f| f.code).collect();
    let flags = match flags.is_empty() {
        true => "-".to_string(),
        false => flags.join(","),
    };
    cells(&[&pid, &user, source, &who, &sdk, &flags, &r.command])
}

/// The last path segment of a Go module or Maven name.
fn short_sdk(name: &str) -> &str {
    match name {
        "github.com/aws/aws-sdk-go" => "aws-sdk-go",
        n if n.starts_with("github.com/aws/aws-sdk-go-v2/") => "aws-sdk-go-v2",
        n => n,
    }
}

fn cells(values: &[&str]) -> String {
    let mut line = String::from(" ");
    for (v, w) in values.iter().zip(WIDTHS) {
        let cut: String = match v.chars().count() > w {
            true => v.chars().take(w - 1).chain(['…']).collect(),
            false => v.to_string(),
        };
        line.push_str(&format!(" {cut:<w$}"));
    }
    line.trim_end().to_string()
}
