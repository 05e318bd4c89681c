//! Warnings: things that do not stop credentials from resolving but explain, or foretell, a
//! failure. Each has a stable kebab-case code, one line of message and one of hint
//! (docs/codes.md, "Warnings"). All are derived from data already gathered: no I/O here.
//! Reads (through `Env`): AWS_PROFILE, LOG_SENSITIVE_BODIES, HTTP(S)_PROXY, ALL_PROXY, NO_PROXY
//! (either case), plus the variables named by each check.

use crate::chain::container::{Plan, FULL_URI, RELATIVE_URI};
use crate::chain::env_vars::{self, Keys};
use crate::chain::web_identity::TokenFile;
use crate::chain::{imds, Provider, Walk};
use crate::env::Env;
use serde::Serialize;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

pub const EXPIRING_WITHIN: Duration = Duration::from_secs(15 * 60);
const SKEW_WARN: Duration = Duration::from_secs(5 * 60);
const SKEW_SIGV4: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
    pub hint: String,
}

impl Warning {
    pub fn new(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Warning {
            code,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// Shadowing: the env keys won although another source is configured.
pub fn shadowing(walk: &Walk) -> Vec<Warning> {
    if !matches!(walk.winner, Some((Provider::Environment, _))) {
        return Vec::new();
    }
    let configured = |p| {
        walk.attempt(p)
            .is_some_and(|a| a.status == crate::chain::Status::Shadowed)
    };
    let mut out = Vec::new();
    if configured(Provider::Container) {
        out.push(Warning::new(
            "env-shadows-container",
            "AWS_ACCESS_KEY_ID in the environment shadows the task role: the application, and the SSM agent behind ECS Exec (TargetNotConnectedException), use the env keys",
            "remove AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from the task definition (and from any secrets it injects)",
        ));
    }
    if configured(Provider::WebIdentity) {
        out.push(Warning::new(
            "env-shadows-web-identity",
            "AWS_ACCESS_KEY_ID in the environment shadows the web identity role (IRSA)",
            "remove the env keys from the pod spec",
        ));
    }
    if configured(Provider::Profile) {
        out.push(Warning::new(
            "env-shadows-profile",
            "AWS_ACCESS_KEY_ID in the environment shadows the configured profile",
            "unset the env keys to use the profile, or remove the profile",
        ));
    }
    out
}

/// The access key id is not shaped like one (`AKIA`/`ASIA` + 16 or more upper-case letters and
/// digits): most often the id and the secret were swapped. Nothing of the value is shown.
pub fn malformed_key_id(env: &Env, walk: &Walk) -> Option<Warning> {
    let from_env = env
        .non_blank(env_vars::ACCESS_KEY_ID)
        .is_some_and(|id| !crate::secret::is_key_id(id.trim()));
    let from_winner = walk
        .winner
        .as_ref()
        .is_some_and(|(_, r)| !r.creds.access_key_id.is_well_formed());
    (from_env || from_winner).then(|| Warning::new(
        "access-key-id-malformed",
        "the access key id is not shaped like one (AKIA… or ASIA… followed by upper-case letters and digits); the id and the secret may be swapped, so none of it is shown",
        "check that AWS_ACCESS_KEY_ID / aws_access_key_id holds the id (20 characters, AKIA… or ASIA…) and the secret key is in its own variable",
    ))
}

/// Configuration smells visible in the environment alone.
pub fn environment(env: &Env, plan: &Plan) -> Vec<Warning> {
    let mut out = Vec::new();
    if env.is_set(RELATIVE_URI) && env.non_blank(FULL_URI).is_some() {
        out.push(Warning::new("both-container-uris", format!("both {RELATIVE_URI} and {FULL_URI} are set: most SDKs use RELATIVE_URI, Go uses FULL_URI"), "keep only the one your platform injects"));
    }
    if env.non_blank("AWS_PROFILE").is_some() && env_vars::keys(env) == Keys::Both {
        out.push(Warning::new("profile-with-env-keys", "AWS_PROFILE is set alongside env keys: most SDKs use the env keys, JS v3 uses the profile", "unset one of them so that every SDK agrees"));
    }
    out.extend(partial_keys(env));
    if env.is_true("LOG_SENSITIVE_BODIES") {
        out.push(Warning::new("sensitive-logging-enabled", "LOG_SENSITIVE_BODIES=true: the application's Rust SDK logs credential response bodies at trace level (credcheck still redacts)", "unset LOG_SENSITIVE_BODIES outside local debugging"));
    }
    out.extend(proxy_capture(env, plan));
    out
}

fn partial_keys(env: &Env) -> Option<Warning> {
    let which = match env_vars::keys(env) {
        Keys::IdOnly => "AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY",
        Keys::SecretOnly => "AWS_SECRET_ACCESS_KEY is set without AWS_ACCESS_KEY_ID",
        _ => return None,
    };
    Some(Warning::new(
        "partial-env-keys",
        format!("{which}: the Rust and Go SDKs silently skip to the next source, botocore fails with PartialCredentialsError"),
        "set both variables, or neither",
    ))
}

/// The web identity token's claims, wherever the token file is configured.
pub fn web_identity_token(env: &Env, token: Option<&TokenFile>) -> Vec<Warning> {
    let Some(token) = token else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(ws) = &token.whitespace {
        out.push(Warning::new(
            "token-file-whitespace",
            ws.clone(),
            "write the token without surrounding whitespace (printf '%s', not echo)",
        ));
    }
    let Some(claims) = &token.claims else {
        out.push(Warning::new(
            "web-identity-token-not-jwt",
            format!("the web identity token in {} is not a JWT", token.path),
            "mount the projected service account token",
        ));
        return out;
    };
    if claims.exp.is_some_and(|exp| exp <= env.now()) {
        out.push(Warning::new("web-identity-token-expired", format!("the web identity token in {} has expired (exp claim)", token.path), "the kubelet refreshes projected tokens; a copied token goes stale: mount the projected volume"));
    }
    if !claims.aud.is_empty() && !claims.aud.iter().any(|a| a == "sts.amazonaws.com") {
        out.push(Warning::new(
            "web-identity-audience",
            format!(
                "the web identity token's audience is {}, not sts.amazonaws.com",
                claims.aud.join(",")
            ),
            "set the projected token's audience to sts.amazonaws.com (IRSA's default)",
        ));
    }
    out
}

pub fn expiry(expiration: Option<SystemTime>, now: SystemTime) -> Option<Warning> {
    let exp = expiration?;
    match exp.duration_since(now) {
        Err(past) => Some(Warning::new(
            "credentials-expired",
            format!("the credentials expired {} ago", short(past.duration())),
            "temporary credentials must be refreshed at their source; never copy them into the environment of a long-running task",
        )),
        Ok(left) if left < EXPIRING_WITHIN => Some(Warning::new(
            "credentials-expiring",
            format!("the credentials expire in {}", short(left)),
            "the SDK refreshes container and role credentials itself; static copies will fail soon",
        )),
        _ => None,
    }
}

pub fn clock_skew(local: SystemTime, server: Option<SystemTime>) -> Option<(i64, Warning)> {
    let server = server?;
    let (skew, ahead) = match local.duration_since(server) {
        Ok(d) => (d, true),
        Err(e) => (e.duration(), false),
    };
    let secs = if ahead {
        skew.as_secs() as i64
    } else {
        -(skew.as_secs() as i64)
    };
    if skew <= SKEW_WARN {
        return None;
    }
    let side = if ahead { "ahead of" } else { "behind" };
    let mut message = format!("the local clock is {} {side} STS's", short(skew));
    if skew > SKEW_SIGV4 {
        message.push_str(": past 15 minutes SigV4 rejects every request (SignatureDoesNotMatch / RequestExpired)");
    }
    Some((
        secs,
        Warning::new(
            "clock-skew",
            message,
            "sync the clock (chrony/NTP; on a laptop running Docker, restart the VM)",
        ),
    ))
}

pub fn short(d: Duration) -> String {
    crate::duration::human(d)
}

/// A proxy variable would carry the SDK's credential requests to the container endpoint or IMDS.
fn proxy_capture(env: &Env, plan: &Plan) -> Vec<Warning> {
    let mut targets: Vec<(String, &str, &str)> = Vec::new();
    if let Some(t) = plan.target() {
        targets.push((
            t.url
                .host_str()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_string(),
            t.url.scheme(),
            "the container credentials endpoint",
        ));
    }
    if !imds::is_disabled(env) {
        if let Ok(url) = crate::http::Url::parse(&imds::endpoint(env)) {
            targets.push((
                url.host_str()
                    .unwrap_or_default()
                    .trim_matches(['[', ']'])
                    .to_string(),
                "http",
                "IMDS",
            ));
        }
    }
    let no_proxy = first_set(env, &["NO_PROXY", "no_proxy"])
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    targets
        .into_iter()
        .filter_map(|(host, scheme, what)| {
            let (var, _) = proxy_for(env, scheme)?;
            (!no_proxy_covers(&no_proxy, &host))
                .then(|| capture_warning(var, &host, what, &no_proxy))
        })
        .collect()
}

fn capture_warning(var: &str, host: &str, what: &str, no_proxy: &str) -> Warning {
    let fixed = if no_proxy.trim().is_empty() {
        host.to_string()
    } else {
        format!("{},{host}", no_proxy.trim())
    };
    Warning::new(
        "proxy-captures-credentials-endpoint",
        format!("{var} is set and NO_PROXY does not cover {host}: the SDKs send {what} requests through the proxy, which cannot reach it"),
        format!("set NO_PROXY={fixed} (credcheck itself never uses a proxy for these endpoints)"),
    )
}

fn first_set<'a>(env: &'a Env, names: &[&'static str]) -> Option<(&'static str, &'a str)> {
    names.iter().find_map(|n| env.non_blank(n).map(|v| (*n, v)))
}

fn proxy_for<'a>(env: &'a Env, scheme: &str) -> Option<(&'static str, &'a str)> {
    let specific: &[&'static str] = if scheme == "https" {
        &["HTTPS_PROXY", "https_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy"]
    };
    first_set(env, specific).or_else(|| first_set(env, &["ALL_PROXY", "all_proxy"]))
}

/// NO_PROXY as curl and hyper-util read it: `*`, exact hosts, domain suffixes, IP CIDRs.
pub fn no_proxy_covers(no_proxy: &str, host: &str) -> bool {
    let ip = host.parse::<IpAddr>().ok();
    no_proxy
        .split(',')
        .map(|e| e.trim().trim_matches(['[', ']']))
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" || entry.eq_ignore_ascii_case(host) {
                return true;
            }
            match (ip, entry.split_once('/')) {
                (Some(ip), Some((net, bits))) => cidr_contains(net, bits, ip),
                (Some(_), None) => false,
                (None, _) => {
                    let suffix = entry.trim_start_matches('.');
                    host.len() > suffix.len()
                        && host
                            .to_ascii_lowercase()
                            .ends_with(&format!(".{}", suffix.to_ascii_lowercase()))
                }
            }
        })
}

fn cidr_contains(net: &str, bits: &str, ip: IpAddr) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matching() {
        assert!(no_proxy_covers(
            "169.254.170.2,169.254.169.254",
            "169.254.170.2"
        ));
        assert!(no_proxy_covers("169.254.0.0/16", "169.254.170.23"));
        assert!(no_proxy_covers("*", "anything"));
        assert!(no_proxy_covers(".internal", "agent.internal"));
        assert!(!no_proxy_covers("localhost,127.0.0.1", "169.254.170.2"));
        assert!(!no_proxy_covers("", "169.254.169.254"));
        assert!(no_proxy_covers("fd00:ec2::/32", "fd00:ec2::23"));
    }

    #[test]
    fn expiry_thresholds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            expiry(Some(now - Duration::from_secs(60)), now)
                .unwrap()
                .code,
            "credentials-expired"
        );
        assert_eq!(
            expiry(Some(now + Duration::from_secs(600)), now)
                .unwrap()
                .code,
            "credentials-expiring"
        );
        assert!(expiry(Some(now + Duration::from_secs(3600)), now).is_none());
    }

    #[test]
    fn skew_thresholds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(clock_skew(now, Some(now + Duration::from_secs(60))).is_none());
        let (secs, w) = clock_skew(now, Some(now - Duration::from_secs(3 * 3600))).unwrap();
        assert_eq!(secs, 3 * 3600);
        assert!(w.message.contains("SigV4"));
    }
}
