//! The log router's own evidence: Fluent Bit's metrics API (`GET /api/v1/metrics`), read on
//! loopback when the config enables its HTTP server (`HTTP_Server On`, `HTTP_Listen`,
//! `HTTP_Port`, default 2020; YAML `service: http_server/http_listen/http_port`), or at the
//! URL `--fluent-bit-metrics` names. It costs no AWS call.
//!
//! Per output (`"output": {"cloudwatch_logs.0": {...}}`, the name being the output's `Alias`
//! or `<plugin>.<N>` with N counting every output: src/flb_output.c) the counters are
//! cumulative since the router started (src/flb_metrics.c, src/http_server/api/v1/metrics.c):
//! - `proc_records`: records the output delivered;
//! - `errors`: flushes that failed for good (FLB_ERROR; the C plugin's PutLogEvents that got
//!   ResourceNotFound drops its chunk this way);
//! - `retries`, `retries_failed`, `dropped_records`: a flush that returned FLB_RETRY (an
//!   AccessDenied on CreateLogStream or PutLogEvents does), then the retry limit reached. A
//!   refusal may therefore show as retries with `errors` still 0.
//!
//! What they prove: records delivered with no failure of any kind prove delivery; failures
//! prove that something is wrong, not what (the probes say whether it is this role).
//! The API answers 404 until its first one-second rebuild. Reads no env vars.

use crate::http::{self, Budget, Url};
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a target's router publishes its counters, and the target's output name there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub url: String,
    /// `None`: not known (`--fluent-bit-metrics` without a config); the one CloudWatch
    /// output of the metrics is taken, if there is exactly one.
    pub instance: Option<String>,
}

/// One output's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub proc_records: u64,
    pub errors: u64,
    pub retries: u64,
    pub retries_failed: u64,
    pub dropped_records: u64,
}

impl Counters {
    /// Failed attempts of any kind so far.
    pub fn failures(&self) -> u64 {
        self.errors
            .saturating_add(self.retries)
            .saturating_add(self.retries_failed)
            .saturating_add(self.dropped_records)
    }

    /// Records delivered, and never a failure: delivery is proven.
    pub fn proves_delivery(&self) -> bool {
        self.proc_records > 0 && self.failures() == 0
    }

    /// In words, for the report.
    pub fn describe(&self, name: &str) -> String {
        format!(
            "{name}: {} records delivered, {} errors, {} retries ({} failed), {} dropped",
            self.proc_records, self.errors, self.retries, self.retries_failed, self.dropped_records
        )
    }
}

/// The metrics URL of a config's `[SERVICE]`: only when the HTTP server is on, and only on
/// loopback (`0.0.0.0`, the default, listens there too). Another address is not read.
pub fn url_from_service(service: &BTreeMap<String, String>) -> Option<String> {
    let on = service.get("http_server").is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "on" | "true" | "yes" | "1"
        )
    });
    if !on {
        return None;
    }
    let listen = service.get("http_listen").map_or("0.0.0.0", |v| v.trim());
    let port: u16 = service
        .get("http_port")
        .map_or(Some(2020), |p| p.trim().parse().ok())?;
    let host = match listen {
        "0.0.0.0" | "" | "localhost" => "127.0.0.1".to_string(),
        "::" | "::1" => "[::1]".to_string(),
        ip if ip.starts_with("127.") => ip.to_string(),
        _ => return None,
    };
    Some(format!("http://{host}:{port}/api/v1/metrics"))
}

/// The `output` counters of a metrics answer, by output name.
pub fn parse(body: &[u8]) -> Option<BTreeMap<String, Counters>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let outputs = v.get("output")?.as_object()?;
    let n = |o: &Value, k: &str| o.get(k).and_then(Value::as_u64).unwrap_or(0);
    Some(
        outputs
            .iter()
            .map(|(name, o)| {
                let c = Counters {
                    proc_records: n(o, "proc_records"),
                    errors: n(o, "errors"),
                    retries: n(o, "retries"),
                    retries_failed: n(o, "retries_failed"),
                    dropped_records: n(o, "dropped_records"),
                };
                (crate::secret::printable(name, 120), c)
            })
            .collect(),
    )
}

/// The counters for one source, from the metrics of its URL: by its name, else the single
/// CloudWatch output.
pub fn pick<'a>(
    metrics: &'a BTreeMap<String, Counters>,
    source: &Source,
) -> Option<(&'a str, &'a Counters)> {
    if let Some(name) = &source.instance {
        return metrics.get_key_value(name).map(|(k, v)| (k.as_str(), v));
    }
    let mut cloudwatch = metrics.iter().filter(|(k, _)| k.starts_with("cloudwatch"));
    match (cloudwatch.next(), cloudwatch.next()) {
        (Some((k, v)), None) => Some((k.as_str(), v)),
        _ => None,
    }
}

/// Reads one metrics URL (no proxy, the run's deadline; 404 until the router's first
/// rebuild). `Err` says why in one clause.
pub async fn fetch(
    url: &str,
    client: &crate::http::Client,
    budget: &Budget,
) -> Result<BTreeMap<String, Counters>, String> {
    let url = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let answer = http::get(client, &url, budget).await?;
    match answer.status {
        200 => {
            parse(&answer.body).ok_or_else(|| "the answer is not Fluent Bit's metrics JSON".into())
        }
        404 => {
            Err("HTTP 404 (the router publishes its first metrics a second after it starts)".into())
        }
        s => Err(format!("HTTP {s}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_section_names_the_loopback_url() {
        let s = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(url_from_service(&s(&[])), None);
        assert_eq!(
            url_from_service(&s(&[("http_server", "On")])).as_deref(),
            Some("http://127.0.0.1:2020/api/v1/metrics")
        );
        assert_eq!(
            url_from_service(&s(&[
                ("http_server", "on"),
                ("http_listen", "127.0.0.1"),
                ("http_port", "2021")
            ]))
            .as_deref(),
            Some("http://127.0.0.1:2021/api/v1/metrics")
        );
        assert_eq!(
            url_from_service(&s(&[("http_server", "on"), ("http_listen", "10.0.0.5")])),
            None
        );
    }

    #[test]
    fn counters_prove_delivery_only_without_any_failure() {
        let body = br#"{"input":{},"filter":{},"output":{"cloudwatch_logs.0":{"proc_records":3,"proc_bytes":9,"errors":0,"retries":0,"retries_failed":0,"dropped_records":0,"retried_records":0},"stdout.1":{"proc_records":1,"errors":2}}}"#;
        let m = parse(body).unwrap();
        let any = Source {
            url: String::new(),
            instance: None,
        };
        let (name, c) = pick(&m, &any).unwrap();
        assert_eq!(name, "cloudwatch_logs.0");
        assert!(c.proves_delivery());
        let retried = Counters {
            proc_records: 3,
            retries: 1,
            ..Counters::default()
        };
        assert!(!retried.proves_delivery());
        let named = Source {
            url: String::new(),
            instance: Some("stdout.1".into()),
        };
        assert_eq!(pick(&m, &named).unwrap().1.errors, 2);
    }
}
