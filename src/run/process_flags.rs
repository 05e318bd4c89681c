//! The flags of `credcheck processes` (issue 23; the codes are `processes`'), each a code with a message and a hint:
//! - `environment-differs`: the chain's variables differ from the main process's (names
//!   only, never values);
//! - `static-temporary-keys`: temporary keys (`ASIA…` with a session token) sit in the
//!   environment, where nothing refreshes them;
//! - `static-temporary-keys-expired`: the same, and STS says they have expired (a problem);
//! - `sdk-rejects-endpoint`: the process's SDK is older than the first version that supports
//!   the endpoint or feature its environment makes it use (`minimums`, cited).
//!
//! Owns: which flag a process gets and its wording. Reads no env vars of credcheck's own (the
//! process's variables arrive in its `Env`).

use crate::chain::{SourceType, Status};
use crate::env::Env;
use crate::error::Error;
use crate::process::{Difference, Subject};
use crate::processes::detect::Found;
use crate::processes::list::Proc;
use crate::processes::minimums::{self, Feature};
pub use crate::processes::{DIFFERS, SDK_REJECTS, STATIC_KEYS, STATIC_KEYS_EXPIRED};
use crate::report::Report;
use crate::secret::{mask_key_id, KeyId};
use crate::sts::Identity;
use crate::warning::{short, Warning};
use std::cmp::Ordering;
use std::time::{Duration, SystemTime};

/// An assumed role's session lasts 1 h unless asked otherwise (STS AssumeRole,
/// `DurationSeconds`, default 3600: the AssumeRole API reference).
const USUAL_SESSION: Duration = Duration::from_secs(3600);
/// No STS session lasts longer (GetSessionToken and GetFederationToken: 129,600 s, their API
/// references): keys issued before a process started are gone this long after its start.
const LONGEST_SESSION: Duration = Duration::from_secs(129_600);
/// EKS Pod Identity's agent addresses (the EKS user guide, "EKS Pod Identity").
const POD_IDENTITY_HOSTS: [&str; 2] = ["169.254.170.23", "[fd00:ec2::23]"];
/// At most this many variable names in one message.
const MAX_NAMES: usize = 12;

/// What every process's flags are judged against.
pub struct Ctx<'a> {
    /// The main process and its environment (PID 1, or the app under an init).
    pub main: Option<(&'a Subject, &'a Env)>,
    /// The key ID the container endpoint serves now (in memory only).
    pub container_key: Option<String>,
    pub now: SystemTime,
}

/// One process, with its walk and what detection found.
pub struct Facts<'a> {
    pub proc: &'a Proc,
    pub report: &'a Report,
    pub identity: Option<&'a Result<Identity, Error>>,
    pub found: &'a [Found],
}

pub fn flags(f: &Facts<'_>, ctx: &Ctx<'_>) -> Vec<Warning> {
    let mut out = Vec::new();
    out.extend(differs(f, ctx));
    out.extend(static_keys(f, ctx));
    out.extend(sdk_rejects(f));
    out
}

fn label(p: &Proc) -> String {
    format!("PID {} ({})", p.pid, p.comm)
}

fn differs(f: &Facts<'_>, ctx: &Ctx<'_>) -> Option<Warning> {
    let (main, main_env) = ctx.main?;
    if main.pid == f.proc.pid {
        return None;
    }
    let diff = Difference::between(main_env, &f.proc.env);
    if diff.is_empty() {
        return None;
    }
    let them = label(f.proc);
    let mut parts = Vec::new();
    if !diff.only_ours.is_empty() {
        parts.push(format!("it lacks {}", names(&diff.only_ours)));
    }
    if !diff.only_theirs.is_empty() {
        parts.push(format!("it has {} besides", names(&diff.only_theirs)));
    }
    if !diff.changed.is_empty() {
        parts.push(format!("its {} differ", names(&diff.changed)));
    }
    Some(Warning::new(
        DIFFERS,
        format!("{them}'s environment differs from {}'s: {}", main.label(), parts.join("; ")),
        "a worker started without the task's variables (php-fpm clear_env, supervisord, cron) resolves other credentials or none: pass the variables on (clear_env = no, environment=…), or read them from the main process",
    ))
}

fn names(list: &[String]) -> String {
    let mut shown: Vec<&str> = list.iter().take(MAX_NAMES).map(String::as_str).collect();
    let more = list.len().saturating_sub(MAX_NAMES);
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    shown.clear();
    text
}

fn static_keys(f: &Facts<'_>, ctx: &Ctx<'_>) -> Option<Warning> {
    let env = &f.proc.env;
    let id = env.non_blank("AWS_ACCESS_KEY_ID")?.trim();
    let temporary = KeyId::new(id).is_temporary() || env.non_blank("AWS_SESSION_TOKEN").is_some();
    if !temporary || env.non_blank("AWS_SESSION_TOKEN").is_none() {
        return None;
    }
    let age = f.proc.started.and_then(|s| ctx.now.duration_since(s).ok());
    let mut facts = vec![format!(
        "{} has temporary keys ({}) in its environment, where nothing refreshes them",
        label(f.proc),
        mask_key_id(id)
    )];
    if let Some(age) = age.filter(|a| *a > USUAL_SESSION) {
        facts.push(format!(
            "it started {} ago, longer than an assumed role's usual 1 h session",
            short(age)
        ));
    }
    if let Some(served) = ctx.container_key.as_deref().filter(|k| *k != id) {
        facts.push(format!(
            "the container endpoint serves {} now",
            mask_key_id(served)
        ));
    }
    let expired = matches!(f.identity, Some(Err(e)) if e.code.contains("expired"))
        || age.is_some_and(|a| a > LONGEST_SESSION);
    facts.push(expiry(f, age, expired));
    let code = if expired {
        STATIC_KEYS_EXPIRED
    } else {
        STATIC_KEYS
    };
    Some(Warning::new(
        code,
        facts.join("; "),
        "let the SDK fetch and refresh credentials itself (the task role's container endpoint, a profile with role_arn) instead of exporting keys in an entrypoint",
    ))
}

/// When the keys expire, as far as anyone can tell without the secret's issue time.
fn expiry(f: &Facts<'_>, age: Option<Duration>, expired: bool) -> String {
    if expired {
        return match f.identity {
            Some(Err(e)) => format!("they have expired (STS: {} [{}])", e.message, e.code),
            _ => "they have expired: they were issued before it started, longer ago than any STS session lasts (36 h)".into(),
        };
    }
    let sts = match f.identity {
        Some(Ok(_)) => "STS accepts them now; ",
        _ => "",
    };
    match (f.proc.started, age) {
        (Some(start), Some(_)) => format!(
            "{sts}they expire by {} at the latest (issued before it started; no STS session lasts over 36 h, an assumed role's 12 h)",
            crate::report::rfc3339(start + LONGEST_SESSION)
        ),
        _ => format!("{sts}when they expire cannot be told from here"),
    }
}

/// The features its environment makes its SDK use, at the source the walk chose or stopped at.
fn features(f: &Facts<'_>) -> Vec<(Feature, String)> {
    let env = &f.proc.env;
    let mut out = Vec::new();
    // The source the chain chose, or the one it stopped at: an SDK that rejects the endpoint
    // fails there, whatever credcheck's current SDK made of it.
    let chosen = f
        .report
        .providers
        .iter()
        .find(|p| matches!(p.status, Status::Selected | Status::Error))
        .map(|p| p.source_type);
    match chosen {
        Some(SourceType::ContainerRole) => {
            let relative = env
                .non_blank("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                .is_some();
            if let Some(full) = env
                .non_blank("AWS_CONTAINER_CREDENTIALS_FULL_URI")
                .filter(|_| !relative)
            {
                out.push((
                    Feature::FullUri,
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_string(),
                ));
                if let Some(host) = POD_IDENTITY_HOSTS.iter().find(|h| host_of(full) == **h) {
                    out.push((
                        Feature::PodIdentityHost,
                        format!("EKS Pod Identity's {host}"),
                    ));
                }
            }
            if env
                .non_blank("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
                .is_some()
            {
                out.push((
                    Feature::TokenFile,
                    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE".to_string(),
                ));
            }
        }
        Some(SourceType::AssumeRoleWithWebIdentity)
            if env.non_blank("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() =>
        {
            out.push((
                Feature::WebIdentityEnv,
                "AWS_WEB_IDENTITY_TOKEN_FILE (IRSA)".to_string(),
            ));
        }
        Some(SourceType::IamRole) => out.push((Feature::Imdsv2, "IMDSv2".to_string())),
        _ => {}
    }
    out
}

/// The host of a URL as written (`http://169.254.170.23/v1/credentials` → `169.254.170.23`).
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match authority.strip_prefix('[') {
        Some(_) => authority.split_inclusive(']').next().unwrap_or(authority),
        None => authority.split(':').next().unwrap_or(authority),
    }
}

fn sdk_rejects(f: &Facts<'_>) -> Vec<Warning> {
    let mut out = Vec::new();
    for (feature, what) in features(f) {
        for found in f.found {
            let Some(min) = minimums::minimum(found.sdk, feature) else {
                continue;
            };
            if minimums::compare(&found.version, min.version) != Some(Ordering::Less) {
                continue;
            }
            out.push(Warning::new(
                SDK_REJECTS,
                format!(
                    "{} uses {what}, but its SDK, {} {} ({}: {}), supports it only from {} [{}]: its credentials will fail",
                    label(f.proc),
                    found.sdk.name(),
                    found.version,
                    found.exactness.name(),
                    found.evidence,
                    min.version,
                    min.source
                ),
                format!(
                    "upgrade {} to {} or later (docs/sdk-minimums.md), or give this process a credential source its SDK supports",
                    found.sdk.name(),
                    min.version
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_as_written() {
        assert_eq!(
            host_of("http://169.254.170.23/v1/credentials"),
            "169.254.170.23"
        );
        assert_eq!(
            host_of("http://[fd00:ec2::23]/v1/credentials"),
            "[fd00:ec2::23]"
        );
        assert_eq!(host_of("http://127.0.0.1:8080/x"), "127.0.0.1");
        assert_eq!(host_of("http://u:p@169.254.170.23/x"), "169.254.170.23");
        assert_eq!(host_of("garbage"), "garbage");
    }

    #[test]
    fn names_are_capped() {
        let many: Vec<String> = (0..20).map(|i| format!("V{i}")).collect();
        assert!(names(&many).ends_with("and 8 more"));
    }
}
