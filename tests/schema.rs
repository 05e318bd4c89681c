//! The JSON report's schema, as a test: the report must deserialise into these structs, which
//! deny unknown fields (ripgrep's approach). A field added to or renamed in `src/report.rs`
//! without updating the schema table in docs/usage.md and this file fails here.

use serde::Deserialize;
use serde_json::Value;

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    schema_version: u32,
    version: String,
    ok: bool,
    exit_code: i32,
    process: Option<Process>,
    source: Option<String>,
    location: Option<String>,
    role_arn: Option<String>,
    role_arn_from: Option<String>,
    access_key_id: Option<String>,
    key_kind: Option<String>,
    expiration: Option<String>,
    expires_in_secs: Option<i64>,
    region: Option<String>,
    region_from: Option<String>,
    identity: Option<Identity>,
    clock_skew_secs: Option<i64>,
    context: Option<Context>,
    providers: Vec<Provider>,
    warnings: Vec<Warning>,
    notes: Vec<Note>,
    errors: Vec<Error>,
    /// The permission probe's verdicts; absent unless a probe was asked for.
    #[serde(default)]
    permissions: Vec<Permission>,
    #[serde(default)]
    log_outputs: Vec<LogOutput>,
    /// `credcheck processes` only.
    processes: Option<Processes>,
    elapsed_ms: u64,
}

/// `credcheck processes`: every process of the namespace.
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Processes {
    namespace: String,
    main_pid: Option<u32>,
    read: usize,
    exited: usize,
    unreadable: usize,
    kernel_threads: usize,
    not_read: usize,
    sdk_not_read: usize,
    environments: usize,
    network_fetches: usize,
    sts_calls: usize,
    rows: Vec<ProcessRow>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProcessRow {
    pid: u32,
    ppid: Option<u32>,
    comm: String,
    command: String,
    uid: Option<u32>,
    user: Option<String>,
    age_secs: Option<u64>,
    environment: usize,
    source: Option<String>,
    location: Option<String>,
    role_arn: Option<String>,
    access_key_id: Option<String>,
    identity: Option<String>,
    error: Option<String>,
    sdk: Vec<SdkRow>,
    flags: Vec<Warning>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SdkRow {
    sdk: String,
    version: String,
    exactness: String,
    evidence: String,
}

/// One (action, resource) verdict of the permission probe.
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Permission {
    action: String,
    resource: String,
    verdict: String,
    basis: String,
    reason: Option<String>,
}

/// One log destination the probe checked.
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogOutput {
    from: String,
    plugin: String,
    region: String,
    group: String,
    stream: String,
    names: Names,
    group_exists: Option<bool>,
    stream_exists: Option<bool>,
    delivery: String,
    evidence: String,
    why: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Names {
    group: String,
    stream: String,
}

const VERDICTS: [&str; 5] = ["allowed", "denied", "not-needed", "unverified", "error"];
const BASES: [&str; 4] = ["probe", "counters", "simulator", "config"];
const DELIVERIES: [&str; 3] = ["deliverable", "blocked", "unverified"];

/// Whose environment was evaluated (`--pid`); null for credcheck's own.
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Process {
    pid: u32,
    comm: String,
    uid: Option<u32>,
    init: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    account: String,
    arn: String,
    user_id: String,
    role_name: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Context {
    cluster: Option<String>,
    task_arn: Option<String>,
    family: Option<String>,
    revision: Option<String>,
    service: Option<String>,
    launch_type: Option<String>,
    availability_zone: Option<String>,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Provider {
    provider: String,
    #[serde(rename = "type")]
    source_type: String,
    status: String,
    location: Option<String>,
    detail: Option<String>,
    http_status: Option<u16>,
    elapsed_ms: u64,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Warning {
    code: String,
    message: String,
    hint: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Note {
    code: String,
    message: String,
}

#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Error {
    kind: String,
    code: String,
    message: String,
    hint: String,
}

const PROVIDERS: [&str; 5] = [
    "environment",
    "profile",
    "web-identity",
    "container",
    "imds",
];
const STATUSES: [&str; 5] = [
    "selected",
    "shadowed",
    "not-configured",
    "error",
    "not-checked",
];
const TYPES: [&str; 9] = [
    "env",
    "shared-credentials-file",
    "config-file",
    "assume-role",
    "sso",
    "custom-process",
    "assume-role-with-web-identity",
    "container-role",
    "iam-role",
];

/// Deserialises the report strictly and checks its enumerations.
pub fn assert_schema(v: &Value) {
    let report: Report = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("report does not match the schema: {e}\n{v}"));
    assert_eq!(report.schema_version, 3);
    let order: Vec<&str> = report
        .providers
        .iter()
        .map(|p| p.provider.as_str())
        .collect();
    assert_eq!(order, PROVIDERS, "providers in chain order");
    for p in &report.providers {
        assert!(STATUSES.contains(&p.status.as_str()), "status {}", p.status);
        assert!(
            TYPES.contains(&p.source_type.as_str()),
            "type {}",
            p.source_type
        );
    }
    if let Some(source) = &report.source {
        assert!(TYPES.contains(&source.as_str()), "source {source}");
    }
    for code in report
        .warnings
        .iter()
        .map(|w| &w.code)
        .chain(report.errors.iter().map(|e| &e.code))
    {
        assert!(
            code.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "code {code} is not kebab-case"
        );
    }
    for p in &report.permissions {
        assert!(
            VERDICTS.contains(&p.verdict.as_str()),
            "verdict {}",
            p.verdict
        );
        assert!(BASES.contains(&p.basis.as_str()), "basis {}", p.basis);
    }
    for o in &report.log_outputs {
        assert!(
            DELIVERIES.contains(&o.delivery.as_str()),
            "delivery {}",
            o.delivery
        );
        assert!(
            BASES.contains(&o.evidence.as_str()),
            "evidence {}",
            o.evidence
        );
        assert_eq!(
            o.why.is_some(),
            o.delivery != "deliverable",
            "a blocked or unverified output says why: {o:?}"
        );
    }
    if let Some(key) = &report.access_key_id {
        assert!(
            key.contains('…') || key == "****",
            "access key id must be masked: {key}"
        );
    }
}
