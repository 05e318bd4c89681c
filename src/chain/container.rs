//! The container source (ECS task roles, EKS Pod Identity), with aws-config's rules (ecs.rs)
//! and the SDKs & Tools Reference Guide's:
//! - `RELATIVE_URI` is appended to `http://169.254.170.2` and wins over `FULL_URI`;
//! - a `FULL_URI` over http must name loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23,
//!   by IP or by a name whose every address is one of those; https may name any host;
//! - the Authorization header is `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`'s content (re-read
//!   each time), else `AWS_CONTAINER_AUTHORIZATION_TOKEN`, sent raw; an unreadable file is an
//!   error, and CR/LF or surrounding whitespace is rejected (botocore rejects CR/LF; aws-config
//!   rejects any byte a header cannot carry, so a trailing newline fails there too).
//!
//! Unlike aws-config, credcheck makes the GET itself, once, so that RoleArn and the agent's
//! error body (`InvalidIdInRequest`, …) reach the report; the credentials are reused for STS.
//! Reads: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_CREDENTIALS_FULL_URI,
//! AWS_CONTAINER_AUTHORIZATION_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.

use super::{json_creds, Ctx, Inspection, Outcome, Resolved, SourceType};
use crate::env::Env;
use crate::error::Error;
use crate::http::{self, Budget, FetchError, Fetched, HeaderValue, Request};
use crate::secret::{sanitize_foreign, Secret};
use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

pub const RELATIVE_URI: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
pub const FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
pub const AUTH_TOKEN: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
pub const AUTH_TOKEN_FILE: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
pub const ECS_BASE: &str = "http://169.254.170.2";

pub const ECS_IPV4: Ipv4Addr = Ipv4Addr::new(169, 254, 170, 2);
pub const EKS_IPV4: Ipv4Addr = Ipv4Addr::new(169, 254, 170, 23);
pub const EKS_IPV6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23);
/// A token file holds a JWT of a few KiB; anything past this is not one.
const TOKEN_CAP: u64 = 64 * 1024;

/// Where the SDK would fetch container credentials, decided from the environment alone.
#[derive(Debug)]
pub enum Plan {
    NotConfigured,
    Ready(Target),
    Invalid { location: String, error: Error },
}

#[derive(Debug)]
pub struct Target {
    pub url: Url,
    /// The URL with its credential id masked: safe to print.
    pub shown: String,
    pub via: &'static str,
    pub token: Option<Secret>,
}

impl Plan {
    pub fn target(&self) -> Option<&Target> {
        match self {
            Plan::Ready(t) => Some(t),
            _ => None,
        }
    }

    pub fn inspection(&self) -> Inspection {
        match self {
            Plan::NotConfigured => {
                Inspection::NotConfigured(format!("neither {RELATIVE_URI} nor {FULL_URI} is set"))
            }
            Plan::Ready(t) => Inspection::Configured {
                source_type: SourceType::ContainerRole,
                location: t.shown.clone(),
                note: Some(format!("configured by {} (not contacted)", t.via)),
            },
            Plan::Invalid { location, error } => Inspection::Invalid {
                source_type: SourceType::ContainerRole,
                location: location.clone(),
                error: error.clone(),
            },
        }
    }
}

/// Decides the URL and the token. DNS is the only I/O besides the token file, and only for
/// an http FULL_URI that names a host instead of an IP.
pub async fn plan(env: &Env, budget: &Budget) -> Plan {
    let (via, raw) = match (env.get(RELATIVE_URI), env.get(FULL_URI)) {
        (Some(rel), _) => (RELATIVE_URI, rel),
        (None, Some(full)) => (FULL_URI, full),
        (None, None) => return Plan::NotConfigured,
    };
    let url = match via {
        RELATIVE_URI => relative_url(raw),
        _ => full_url(raw, budget).await,
    };
    let url = match url {
        Ok(url) => url,
        Err(error) => {
            return Plan::Invalid {
                location: format!("{via}={}", mask_uri(raw)),
                error,
            }
        }
    };
    let shown = mask_uri(url.as_str());
    match token(env) {
        Ok(token) => Plan::Ready(Target {
            url,
            shown,
            via,
            token,
        }),
        Err(error) => Plan::Invalid {
            location: shown,
            error,
        },
    }
}

fn relative_url(raw: &str) -> Result<Url, Error> {
    if raw.trim().is_empty() {
        return Err(Error::config(
            "empty-relative-uri",
            format!("{RELATIVE_URI} is set but empty: most SDKs then request the bare {ECS_BASE} and get a 404, and the Rust SDK fails"),
            "pass the variable through unchanged (php-fpm: clear_env = no; shell scripts: do not blank it), or unset it",
        ));
    }
    if !raw.starts_with('/') {
        return Err(Error::config(
            "relative-uri-no-slash",
            format!(
                "{RELATIVE_URI} does not start with '/': the SDKs append it to {ECS_BASE} verbatim"
            ),
            "use the value ECS injects, which looks like /v2/credentials/<id>",
        ));
    }
    Url::parse(&format!("{ECS_BASE}{raw}")).map_err(|e| {
        Error::config(
            "relative-uri-invalid",
            format!("{RELATIVE_URI} does not form a valid URL: {e}"),
            "use the value ECS injects, /v2/credentials/<id>",
        )
    })
}

async fn full_url(raw: &str, budget: &Budget) -> Result<Url, Error> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        Error::config(
            "full-uri-invalid",
            format!("{FULL_URI} is not a valid URL: {e}"),
            "set it to a full URL such as http://169.254.170.23/v1/credentials",
        )
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" => ensure_allowed_host(url, budget).await,
        other => Err(Error::config(
            "full-uri-scheme",
            format!("{FULL_URI} uses the scheme {other:?}; the SDKs accept only http and https"),
            "use http://169.254.170.23/v1/credentials (EKS Pod Identity), or an https URL",
        )),
    }
}

/// aws-config ecs.rs `validate_full_uri`: every resolved address must be allowed.
async fn ensure_allowed_host(url: Url, budget: &Budget) -> Result<Url, Error> {
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => resolve_host(&host, url.port_or_known_default().unwrap_or(80), budget).await?,
    };
    if addrs.iter().all(is_allowed_ip) && !addrs.is_empty() {
        return Ok(url);
    }
    Err(Error::config(
        "full-uri-host-not-allowed",
        format!("{FULL_URI} names the host {host:?}, which is not allowed over http: the SDKs refuse it, and no token is sent there"),
        "over http use loopback, 169.254.170.2, 169.254.170.23 or [fd00:ec2::23]; any other host needs https",
    ))
}

async fn resolve_host(host: &str, port: u16, budget: &Budget) -> Result<Vec<IpAddr>, Error> {
    let unresolvable = || {
        Error::config(
            "unresolvable-host",
            format!("{FULL_URI} names the host {host:?}, which did not resolve"),
            "use an IP literal (127.0.0.1, 169.254.170.23), or add the name to /etc/hosts (a FROM scratch image has none)",
        )
    };
    let lookup = tokio::net::lookup_host((host.to_string(), port));
    match tokio::time::timeout(budget.request_timeout(), lookup).await {
        Ok(Ok(addrs)) => Ok(addrs.map(|a| a.ip()).collect()),
        _ => Err(unresolvable()),
    }
}

pub fn is_allowed_ip(ip: &IpAddr) -> bool {
    ip.is_loopback()
        || *ip == IpAddr::V4(ECS_IPV4)
        || *ip == IpAddr::V4(EKS_IPV4)
        || *ip == IpAddr::V6(EKS_IPV6)
}

/// The token, from the file when its variable is set, else from the variable itself.
fn token(env: &Env) -> Result<Option<Secret>, Error> {
    if let Some(path) = env.non_blank(AUTH_TOKEN_FILE) {
        let bytes = env.read_file(Path::new(path), TOKEN_CAP).map_err(|e| {
            Error::config(
                "token-file-unreadable",
                format!("{AUTH_TOKEN_FILE}={path} cannot be read: {e}"),
                "mount the projected token (EKS Pod Identity: /var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token) or unset the variable",
            )
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::config(
                "token-file-invalid",
                format!("{AUTH_TOKEN_FILE}={path} is not text"),
                "the file must hold the token alone",
            )
        })?;
        let token = Secret::new(text);
        ensure_clean_token(&token, &format!("the token file {path}"))?;
        return Ok(Some(token));
    }
    match env.get(AUTH_TOKEN) {
        Some(raw) if !raw.is_empty() => {
            let token = Secret::new(raw);
            ensure_clean_token(&token, AUTH_TOKEN)?;
            Ok(Some(token))
        }
        _ => Ok(None),
    }
}

/// Names the offending byte and where it is, never the token.
pub fn ensure_clean_token(token: &Secret, what: &str) -> Result<(), Error> {
    let raw = token.expose();
    if raw.trim().is_empty() {
        return Err(Error::config(
            "token-empty",
            format!("{what} is empty"),
            "write the token into it, without a trailing newline",
        ));
    }
    let Some((pos, byte)) = bad_byte(raw) else {
        return Ok(());
    };
    Err(Error::config(
        "token-whitespace",
        format!("{what} holds {} at byte {pos} of {}: the SDKs reject it or send a broken Authorization header", byte_name(byte), raw.len()),
        "remove the surrounding whitespace, e.g. printf '%s' \"$TOKEN\" > file instead of echo",
    ))
}

fn bad_byte(raw: &str) -> Option<(usize, u8)> {
    let bytes = raw.as_bytes();
    if let Some(pos) = bytes.iter().position(|b| *b == b'\r' || *b == b'\n') {
        return Some((pos, bytes[pos]));
    }
    let first = bytes
        .first()
        .filter(|b| b.is_ascii_whitespace())
        .map(|b| (0, *b));
    first.or_else(|| {
        bytes
            .last()
            .filter(|b| b.is_ascii_whitespace())
            .map(|b| (bytes.len() - 1, *b))
    })
}

fn byte_name(b: u8) -> &'static str {
    match b {
        b'\n' => "a newline (LF, 0x0a)",
        b'\r' => "a carriage return (CR, 0x0d)",
        b'\t' => "a tab (0x09)",
        _ => "a space (0x20)",
    }
}

/// Masks what identifies the task's credentials: the last path segment and query values.
pub fn mask_uri(raw: &str) -> String {
    let (authority, rest) = split_authority(raw);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut out = format!("{}{}", mask_userinfo(authority), mask_last_segment(path));
    if !query.is_empty() {
        let masked: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => format!("{k}={}", mask_id(v)),
                None => mask_id(kv),
            })
            .collect();
        out = format!("{out}?{}", masked.join("&"));
    }
    out
}

/// `scheme://authority` and the rest; a relative URI has no authority.
fn split_authority(raw: &str) -> (&str, &str) {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return ("", raw);
    };
    let end = raw[start..]
        .find(['/', '?'])
        .map_or(raw.len(), |i| start + i);
    raw.split_at(end)
}

/// `http://user:pass@host` → `http://****@host`: userinfo is a credential too.
fn mask_userinfo(authority: &str) -> String {
    match (authority.find("://"), authority.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}****{}", &authority[..s + 3], &authority[at..]),
        _ => authority.to_string(),
    }
}

/// Masks the last non-empty path segment (the credential id), even before a trailing '/'.
fn mask_last_segment(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let tail = &path[trimmed.len()..];
    match trimmed.rsplit_once('/') {
        Some((head, last)) => format!("{head}/{}{tail}", mask_id(last)),
        None => format!("{}{tail}", mask_id(trimmed)),
    }
}

fn mask_id(segment: &str) -> String {
    if segment.chars().count() <= 12 {
        return segment.to_string();
    }
    let head: String = segment.chars().take(4).collect();
    format!("{head}…")
}

/// Fetches once and explains any failure with the agent's own words.
/// aws-config's container provider (http_credential_provider.rs: `RetryConfig::standard()`,
/// `TransientErrorClassifier`, its own classifier for 5xx and unparseable 200s) makes up to 3
/// attempts and none on 4xx; credcheck does the same, within the run's deadline.
const ATTEMPTS: u32 = 3;

/// Fetches, retrying transient failures as the SDK does, and explains any failure with the
/// agent's own words.
pub async fn resolve(ctx: &Ctx<'_>) -> Outcome {
    let Some(target) = ctx.container.target() else {
        return Outcome::NotLoaded("not configured".into());
    };
    let mut attempt = 1;
    loop {
        let outcome = fetch_once(ctx, target).await;
        if attempt >= ATTEMPTS || !is_transient(&outcome) || ctx.budget.is_spent() {
            return with_attempts(outcome, attempt);
        }
        attempt += 1;
    }
}

async fn fetch_once(ctx: &Ctx<'_>, target: &Target) -> Outcome {
    let timeout = ctx.budget.request_timeout();
    let mut headers = Vec::new();
    if let Some(token) = &target.token {
        headers.push(("authorization", HeaderValue::Secret(token)));
    }
    let request = Request {
        method: reqwest::Method::GET,
        url: &target.url,
        headers,
        timeout,
    };
    match http::fetch(ctx.endpoints, request).await {
        Ok(answer) => interpret(answer, target),
        Err(err) => Outcome::Failed {
            error: transport_error(&err, timeout, target),
            http_status: None,
        },
    }
}

fn is_transient(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Failed { error, .. } => {
            error.kind == crate::error::Kind::Unreachable || error.code == "container-bad-response"
        }
        _ => false,
    }
}

fn with_attempts(mut outcome: Outcome, attempts: u32) -> Outcome {
    if let (Outcome::Failed { error, .. }, true) = (&mut outcome, attempts > 1) {
        error
            .message
            .push_str(&format!(" (after {attempts} attempts, as the SDK retries)"));
    }
    outcome
}

fn interpret(answer: Fetched, target: &Target) -> Outcome {
    let status = answer.status;
    let failed = |error| Outcome::Failed {
        error,
        http_status: Some(status),
    };
    match status {
        200 => match json_creds::parse(&answer.body) {
            Ok(parsed) => Outcome::Resolved(Box::new(Resolved {
                creds: parsed.creds,
                role_arn: parsed.role_arn,
                account_id: parsed.account_id,
                region: None,
                detail: Some(format!("HTTP {status}")),
                http_status: Some(status),
            })),
            Err(why) => failed(bad_response(&why, &answer)),
        },
        300..=399 => failed(redirect(&answer)),
        400..=499 => failed(rejected(&answer, target)),
        _ => failed(unavailable(&answer)),
    }
}

fn bad_response(why: &str, answer: &Fetched) -> Error {
    let ct = answer
        .content_type
        .as_deref()
        .map(|c| sanitize_foreign(c, 60))
        .unwrap_or_else(|| "none".into());
    Error::problem(
        "container-bad-response",
        format!("the container endpoint answered HTTP 200 but not with credentials: {why} (content-type {ct}, {} bytes)", answer.body.len()),
        "the URI points at something that is not the ECS agent or EKS Pod Identity agent; check the variable's value",
    )
}

fn redirect(answer: &Fetched) -> Error {
    let to = answer
        .location
        .as_deref()
        .and_then(|l| Url::parse(l).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "elsewhere".into());
    Error::problem(
        "container-redirect",
        format!("the container endpoint answered HTTP {} with a redirect to {to}; credential endpoints never redirect, and the SDKs do not follow", answer.status),
        "point the variable at the agent itself; something (a proxy, a web server) sits at this URL",
    )
}

fn agent_words(answer: &Fetched) -> (Option<String>, String) {
    let agent = json_creds::parse_agent_error(&answer.body);
    let words = match (&agent.code, &agent.message) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => format!("{} bytes, no agent error body", answer.body.len()),
    };
    (agent.code, words)
}

fn rejected(answer: &Fetched, target: &Target) -> Error {
    let (code, words) = agent_words(answer);
    let hint = match code.as_deref() {
        Some("InvalidIdInRequest") | Some("NoIdInRequest") => {
            "the credential id in the URI is unknown to the agent: the variable was copied from another task, or is stale; use the value ECS injects into this container".to_string()
        }
        Some("NoCredentialsAssociated") => "no task role is attached to this task: set taskRoleArn in the task definition".into(),
        _ if target.token.is_none() && target.via == FULL_URI => {
            format!("the agent may require a token: set {AUTH_TOKEN_FILE} (EKS Pod Identity) or {AUTH_TOKEN}")
        }
        _ => format!("check {} and the token; the agent refused this request", target.via),
    };
    Error::problem(
        "container-rejected",
        format!(
            "the container endpoint refused: HTTP {} {words}",
            answer.status
        ),
        hint,
    )
}

fn unavailable(answer: &Fetched) -> Error {
    let (code, words) = agent_words(answer);
    let hint = match code.as_deref() {
        Some("CredentialsUninitialized") => "the agent has not received this task's credentials yet (task starting); retry in a few seconds",
        _ => "the agent failed to serve credentials; retry, and check the ECS/EKS agent if it persists",
    };
    Error::unreachable(
        "container-unavailable",
        format!(
            "the container endpoint failed: HTTP {} {words}",
            answer.status
        ),
        hint,
    )
}

fn transport_error(err: &FetchError, timeout: Duration, target: &Target) -> Error {
    if *err == FetchError::TooLarge {
        return Error::problem(
            "container-bad-response",
            format!("the container endpoint's answer is larger than {} KiB: it is not a credentials document", http::BODY_CAP / 1024),
            "point the variable at the ECS agent or the EKS Pod Identity agent",
        );
    }
    let hint = match err {
        FetchError::Dns(_) => "use an IP literal, or add the name to /etc/hosts (a FROM scratch image has none)".to_string(),
        _ if target.via == RELATIVE_URI => {
            "169.254.170.2 is only reachable inside an ECS task (awsvpc or bridge with the agent); outside ECS, unset the variable".to_string()
        }
        _ => "check that the agent runs and that the URL's host and port are right".to_string(),
    };
    Error::unreachable(
        "container-unreachable",
        format!(
            "the container endpoint {}: {}",
            target.shown,
            err.describe(timeout)
        ),
        hint,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_match_the_sdk() {
        for ip in [
            "127.0.0.1",
            "::1",
            "169.254.170.2",
            "169.254.170.23",
            "fd00:ec2::23",
        ] {
            assert!(is_allowed_ip(&ip.parse().unwrap()), "{ip}");
        }
        for ip in ["169.254.169.254", "10.0.0.1", "fd00:ec2::254"] {
            assert!(!is_allowed_ip(&ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn credential_ids_are_masked() {
        assert_eq!(
            mask_uri("http://169.254.170.2/v2/credentials/52b19262-e7aa-4f56"),
            "http://169.254.170.2/v2/credentials/52b1…"
        );
        assert_eq!(
            mask_uri("/v1/credentials?id=0123456789abcdef"),
            "/v1/credentials?id=0123…"
        );
        assert_eq!(
            mask_uri("http://169.254.170.23/v1/credentials"),
            "http://169.254.170.23/v1/credentials"
        );
    }

    #[test]
    fn token_whitespace_names_the_byte_not_the_token() {
        let err = ensure_clean_token(&Secret::new("tok-secret-value\n"), "the token file /t")
            .unwrap_err();
        assert!(err.message.contains("newline"), "{}", err.message);
        assert!(!err.message.contains("tok-secret-value"));
        assert!(ensure_clean_token(&Secret::new("clean-token"), "x").is_ok());
    }
}
