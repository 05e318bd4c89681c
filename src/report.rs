//! The report: everything credcheck found, in one serialisable value, and the verdict derived
//! from it. Renderers only render this; `main` maps `exit_code` to the process's exit.
//! Reads no env vars (everything arrives in [`Inputs`]).

use crate::chain::{Attempt, Provider, Resolved, SourceType, Status, Walk};
use crate::ecs_metadata::EcsContext;
use crate::env::Env;
use crate::error::{exit, Error, Kind};
use crate::notes::Note;
use crate::process::Subject;
use crate::sdk::RegionChoice;
use crate::settings::Settings;
use crate::sts::{self, Identity};
use crate::warning::{self, Warning};
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// Kept with the one writer, whose fallback JSON line carries it too.
pub use crate::output::SCHEMA_VERSION;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub version: &'static str,
    pub ok: bool,
    pub exit_code: i32,
    /// Whose environment and files were evaluated (`--pid`); `None`: credcheck's own.
    pub process: Option<Subject>,
    pub source: Option<SourceType>,
    pub location: Option<String>,
    pub role_arn: Option<String>,
    /// Where `role_arn` came from: `endpoint`, `env` or `sts`.
    pub role_arn_from: Option<&'static str>,
    pub access_key_id: Option<String>,
    /// `temporary` (ASIA…) or `long-term` (AKIA…).
    pub key_kind: Option<&'static str>,
    pub expiration: Option<String>,
    pub expires_in_secs: Option<i64>,
    pub region: Option<String>,
    pub region_from: Option<String>,
    pub identity: Option<Identity>,
    pub clock_skew_secs: Option<i64>,
    pub context: Option<EcsContext>,
    pub providers: Vec<ProviderEntry>,
    pub warnings: Vec<Warning>,
    pub notes: Vec<Note>,
    pub errors: Vec<Error>,
    /// The permission probe's verdicts (`--can`, `--logs-to`, …); absent when not asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<crate::probe::verdict::Permission>,
    /// The log destinations the probe checked; absent when not asked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub log_outputs: Vec<crate::probe::verdict::LogOutput>,
    /// Every process of the namespace (`credcheck processes`); absent in other modes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<crate::processes::Processes>,
    pub elapsed_ms: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProviderEntry {
    pub provider: Provider,
    #[serde(rename = "type")]
    pub source_type: SourceType,
    pub status: Status,
    pub location: Option<String>,
    pub detail: Option<String>,
    pub http_status: Option<u16>,
    pub elapsed_ms: u64,
}

/// What the run gathered.
pub struct Inputs<'a> {
    pub env: &'a Env,
    pub settings: &'a Settings,
    pub walk: Walk,
    pub sts: Option<sts::Call>,
    pub region: Option<RegionChoice>,
    pub context: Option<Result<EcsContext, String>>,
    pub warnings: Vec<Warning>,
    pub notes: Vec<Note>,
    pub elapsed: Duration,
}

impl Report {
    pub fn build(inputs: Inputs<'_>) -> Report {
        let now = inputs.env.now();
        let winner = inputs.walk.winner.as_ref().map(|(p, r)| (*p, r.as_ref()));
        let selected = inputs
            .walk
            .attempts
            .iter()
            .find(|a| a.status == Status::Selected);
        let (identity, sts_error, server_date) = split_sts(inputs.sts);
        let (role_arn, role_arn_from) = role_arn(winner, identity.as_ref());
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION"),
            ok: false,
            exit_code: exit::OK,
            process: None,
            source: selected.map(|a| a.source_type),
            location: selected.and_then(|a| a.location.clone()),
            role_arn,
            role_arn_from,
            access_key_id: winner.map(|(_, r)| r.creds.access_key_id.masked()),
            key_kind: winner.map(|(_, r)| {
                if r.creds.access_key_id.is_temporary() {
                    "temporary"
                } else {
                    "long-term"
                }
            }),
            expiration: winner.and_then(|(_, r)| r.creds.expiration).map(rfc3339),
            expires_in_secs: winner
                .and_then(|(_, r)| r.creds.expiration)
                .map(|e| signed_secs(e, now)),
            region: inputs.region.as_ref().map(|r| r.region.to_string()),
            region_from: inputs.region.map(|r| r.origin),
            identity,
            clock_skew_secs: None,
            context: None,
            providers: inputs.walk.attempts.iter().map(entry).collect(),
            warnings: inputs.warnings,
            notes: inputs.notes,
            errors: Vec::new(),
            permissions: Vec::new(),
            log_outputs: Vec::new(),
            processes: None,
            elapsed_ms: inputs.elapsed.as_millis() as u64,
        };
        report.add_context(inputs.context);
        report.add_time_checks(winner, now, server_date);
        report.add_role_mismatch(winner);
        report.add_errors(&inputs.walk, sts_error, inputs.env);
        report.add_expectations(inputs.settings, winner);
        report.decide();
        report
    }

    fn add_context(&mut self, context: Option<Result<EcsContext, String>>) {
        match context {
            Some(Ok(ctx)) => self.context = Some(ctx),
            Some(Err(why)) => self.warnings.push(Warning::new(
                "ecs-metadata-unavailable",
                format!("the ECS task metadata could not be read: {why}"),
                "the report lacks the task context; the credentials are unaffected",
            )),
            None => {}
        }
    }

    fn add_time_checks(
        &mut self,
        winner: Option<(Provider, &Resolved)>,
        now: SystemTime,
        server_date: Option<SystemTime>,
    ) {
        self.warnings.extend(warning::expiry(
            winner.and_then(|(_, r)| r.creds.expiration),
            now,
        ));
        if let Some((secs, w)) = warning::clock_skew(now, server_date) {
            self.clock_skew_secs = Some(secs);
            self.warnings.push(w);
        }
    }

    /// The endpoint names one role, STS another: the app is not using what the task defines.
    fn add_role_mismatch(&mut self, winner: Option<(Provider, &Resolved)>) {
        let (Some(endpoint_arn), Some(sts_role)) = (
            winner.and_then(|(_, r)| r.role_arn.as_deref()),
            self.identity.as_ref().and_then(|i| i.role_name.as_deref()),
        ) else {
            return;
        };
        let endpoint_role = sts::role_name_of(endpoint_arn);
        if endpoint_role != sts_role {
            self.warnings.push(Warning::new(
                "role-mismatch",
                format!("the source names the role {endpoint_role} ({endpoint_arn}), but STS says the credentials belong to {sts_role}"),
                "the endpoint serves another task's or a stale role; check the task definition's taskRoleArn and the agent",
            ));
        }
    }

    fn add_errors(&mut self, walk: &Walk, sts_error: Option<Error>, env: &Env) {
        if let Some(e) = walk.error() {
            self.errors.push(e.clone());
        } else if walk.winner.is_none() {
            self.errors.push(no_credentials(env, walk));
        }
        self.errors.extend(sts_error);
        if self
            .warnings
            .iter()
            .any(|w| w.code == "credentials-expired")
            && !self.errors.iter().any(|e| e.code == "sts-expired")
        {
            self.errors.push(Error::problem(
                "credentials-expired",
                "the credentials have expired",
                "refresh them at their source",
            ));
        }
    }

    fn add_expectations(&mut self, settings: &Settings, winner: Option<(Provider, &Resolved)>) {
        if let Some(expected) = &settings.expect_role {
            let actual = self
                .identity
                .as_ref()
                .and_then(|i| i.role_name.clone())
                .or_else(|| self.role_arn.as_deref().map(sts::role_name_of));
            self.errors
                .extend(role_expectation(expected, actual.as_deref()));
        }
        if let Some(expected) = &settings.expect_account {
            let actual = self
                .identity
                .as_ref()
                .map(|i| i.account.clone())
                .or_else(|| winner.and_then(|(_, r)| r.account_id.clone()))
                .or_else(|| self.role_arn.as_deref().and_then(account_of));
            self.errors
                .extend(account_expectation(expected, actual.as_deref()));
        }
    }

    /// Adds the permission probe's findings; its errors join the verdict.
    pub fn add_probe(&mut self, findings: crate::probe::Findings) {
        self.permissions = findings.permissions;
        self.log_outputs = findings.outputs;
        self.warnings.extend(findings.warnings);
        self.notes.extend(findings.notes);
        self.errors.extend(findings.errors);
        self.decide();
    }

    /// Adds `credcheck processes`'s section; a problem flag on any process joins the verdict
    /// as one error that names them.
    pub fn attach_processes(&mut self, section: crate::processes::Processes) {
        let flagged: Vec<String> = section
            .rows
            .iter()
            .flat_map(|r| {
                r.flags
                    .iter()
                    .filter(|w| crate::processes::is_problem(w))
                    .map(move |w| format!("PID {} ({}) {}", r.pid, r.comm, w.code))
            })
            .collect::<Vec<String>>();
        let mut flagged = flagged;
        flagged.dedup();
        if !flagged.is_empty() {
            self.errors.push(Error::problem(
                "processes-flagged",
                format!(
                    "{} problem(s) among the processes: {}",
                    flagged.len(),
                    flagged
                        .iter()
                        .take(8)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "each flag below says what fails and how to fix it",
            ));
        }
        self.processes = Some(section);
        self.decide();
    }

    fn decide(&mut self) {
        // The first error decides, except that `unverified` yields to any other kind.
        let first = self.errors.iter().find(|e| e.kind != Kind::Unverified);
        self.exit_code = first
            .or(self.errors.first())
            .map_or(exit::OK, Error::exit_code);
        self.ok = self.errors.is_empty();
    }
}

fn split_sts(call: Option<sts::Call>) -> (Option<Identity>, Option<Error>, Option<SystemTime>) {
    match call {
        None => (None, None, None),
        Some(call) => match call.result {
            Ok(id) => (Some(id), None, call.server_date),
            Err(e) => (None, Some(e), call.server_date),
        },
    }
}

fn role_arn(
    winner: Option<(Provider, &Resolved)>,
    identity: Option<&Identity>,
) -> (Option<String>, Option<&'static str>) {
    if let Some(arn) = winner.and_then(|(_, r)| r.role_arn.clone()) {
        let from = if matches!(winner, Some((Provider::WebIdentity, _))) {
            "env"
        } else {
            "endpoint"
        };
        return (Some(arn), Some(from));
    }
    let from_sts = identity.and_then(|i| {
        i.role_name
            .as_ref()
            .map(|role| format!("arn:aws:iam::{}:role/{role}", i.account))
    });
    let from = from_sts.is_some().then_some("sts");
    (from_sts, from)
}

fn account_of(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
}

fn no_credentials(env: &Env, walk: &Walk) -> Error {
    // A source that is configured but yielded nothing names the cause better than "nothing".
    let configured = walk
        .attempts
        .iter()
        .find(|a| a.status == Status::NotConfigured && a.location.is_some());
    if let Some(a) = configured {
        return Error::problem(
            "no-credentials",
            format!(
                "no credentials: {} is configured but yields none: {}",
                a.source_type.name(),
                a.detail.as_deref().unwrap_or("not loaded")
            ),
            "fix the configuration named above; the SDK moves past it silently",
        );
    }
    if crate::ecs_metadata::is_ecs_task(env) {
        return Error::problem(
            "no-task-role",
            "no credentials: this is an ECS task (ECS metadata variables are set) but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not, so no task role is attached",
            "set taskRoleArn in the task definition (the execution role is not the task role), or pass the variable through if a wrapper drops it",
        );
    }
    Error::problem(
        "no-credentials",
        "no credentials: no source in the chain is configured",
        "set a task role (ECS), a service account role (EKS), an instance profile (EC2), a profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    )
}

fn role_expectation(expected: &str, actual: Option<&str>) -> Option<Error> {
    let want = sts::role_name_of(expected);
    match actual {
        Some(actual) if actual == want => None,
        Some(actual) => Some(Error::problem("role-not-expected", format!("expected role {want}, but the credentials are for role {actual}"), "check the task/pod role, or the --expect-role value")),
        None => Some(Error::problem("role-unknown", format!("expected role {want}, but the role is unknown (the source names none and STS was not asked)"), "run with STS (drop --no-sts, or add --sts to health) so the role can be checked")),
    }
}

fn account_expectation(expected: &str, actual: Option<&str>) -> Option<Error> {
    match actual {
        Some(actual) if actual == expected => None,
        Some(actual) => Some(Error::problem(
            "account-not-expected",
            format!("expected account {expected}, but the credentials are for account {actual}"),
            "check which account the role lives in, or the --expect-account value",
        )),
        None => Some(Error::problem(
            "account-unknown",
            format!("expected account {expected}, but the account is unknown (STS was not asked)"),
            "run with STS so the account can be checked",
        )),
    }
}

fn entry(a: &Attempt) -> ProviderEntry {
    ProviderEntry {
        provider: a.provider,
        source_type: a.source_type,
        status: a.status,
        location: a.location.clone(),
        detail: a.detail.clone(),
        http_status: a.http_status,
        elapsed_ms: a.elapsed.as_millis() as u64,
    }
}

/// RFC 3339 to the second; a time outside 1970–9999 (which the chain refuses as a bad
/// response before it gets here) is named, never a panic (humantime panics on both).
pub fn rfc3339(t: SystemTime) -> String {
    if !crate::chain::is_plausible_time(t) {
        return "(out of range)".to_string();
    }
    humantime::format_rfc3339_seconds(t).to_string()
}

fn signed_secs(t: SystemTime, now: SystemTime) -> i64 {
    let secs = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    match t.duration_since(now) {
        Ok(d) => secs(d),
        Err(e) => -secs(e.duration()),
    }
}
