//! The health mode: the verdict, healthy (0) or unhealthy (1), never anything else, because
//! Docker reserves 2 in HEALTHCHECK. One short line says why. No STS call unless `--sts`.
//! Layout: `logs` (a log router's cached delivery check, handed to `run` as its
//! `DeliveryCheck`), `cache` (the verdict cache and its state directory).
//! Reads no env vars (CREDCHECK_MIN_TTL and friends arrive through `Settings`).

pub mod cache;
pub mod logs;

use crate::probe::verdict::Delivery;
use crate::report::Report;
use crate::warning::short;
use std::time::Duration;

pub const HEALTHY: i32 = 0;
pub const UNHEALTHY: i32 = 1;

/// The line to print and the exit code.
pub fn verdict(report: &Report, min_ttl: Duration) -> (String, i32) {
    if let Some(e) = report.errors.first() {
        return (format!("unhealthy: {} [{}]", e.message, e.code), UNHEALTHY);
    }
    if let Some(secs) = report
        .expires_in_secs
        .filter(|s| *s < min_ttl.as_secs() as i64)
    {
        return (
            format!(
                "unhealthy: the credentials expire in {} (--min-ttl {})",
                short(Duration::from_secs(secs.max(0) as u64)),
                short(min_ttl)
            ),
            UNHEALTHY,
        );
    }
    let source = report.source.map(|s| s.name()).unwrap_or("none");
    let who = report
        .role_arn
        .as_deref()
        .or(report.identity.as_ref().map(|i| i.arn.as_str()))
        .unwrap_or_else(|| report.access_key_id.as_deref().unwrap_or(""));
    let ttl = report
        .expires_in_secs
        .map(|s| {
            format!(
                ", expires in {}",
                short(Duration::from_secs(s.max(0) as u64))
            )
        })
        .unwrap_or_default();
    // Every blocked or unverified output carries an error, so the first check above has
    // answered; this only guards against an output added without one.
    if let Some(o) = report
        .log_outputs
        .iter()
        .find(|o| o.delivery != Delivery::Deliverable)
    {
        let why = o.why.as_deref().unwrap_or("not proven");
        return (
            format!(
                "unhealthy: logs to {}:{} are {}: {why}",
                o.group,
                o.stream,
                o.delivery.name()
            ),
            UNHEALTHY,
        );
    }
    let logs = match report.log_outputs.len() {
        0 => String::new(),
        n => {
            let ok = report
                .log_outputs
                .iter()
                .filter(|o| o.delivery == Delivery::Deliverable);
            format!(", logs deliverable {}/{n}", ok.count())
        }
    };
    (format!("healthy: {source} {who}{ttl}{logs}"), HEALTHY)
}
