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
//! Answers are sorted by status class as aws-config sorts them (only 200 carries credentials;
//! only IO errors, timeouts, 500/502/503/504 and unparseable 200s are retried), then by what
//! the agent said, as the ECS agent (v1.105, tmds/) and the EKS Pod Identity agent word it:
//! a same-host 301 is the ECS router cleaning a non-canonical path, a 429 is its rate limiter.
//! Reads: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, AWS_CONTAINER_CREDENTIALS_FULL_URI,
//! AWS_CONTAINER_AUTHORIZATION_TOKEN, AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.

use super::{json_creds, Ctx, Inspection, Outcome, Resolved, SourceType};
use crate::env::Env;
use crate::error::Error;
use crate::http::Url;
use crate::http::{self, Budget, FetchError, Fetched, HeaderValue, Request};
use crate::secret::{printable, sanitize_foreign, Secret};
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

/// Masks every part of a URI that can carry the credential id or a token: each path segment
/// (with its `;` parameters), each query key and value, and the fragment, when the part is
/// longer than 12 characters (ids and tokens are; `v2`, `credentials` and `id` are not), and
/// the userinfo always. A masked part keeps its first 4 characters: `52b1…`.
pub fn mask_uri(raw: &str) -> String {
    let (authority, rest) = split_authority(raw);
    let (rest, fragment) = match rest.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (rest, None),
    };
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    let mut out = mask_userinfo(authority);
    out.push_str(&path.split('/').map(mask_id).collect::<Vec<_>>().join("/"));
    if let Some(query) = query {
        out.push('?');
        out.push_str(
            &query
                .split('&')
                .map(mask_query_part)
                .collect::<Vec<_>>()
                .join("&"),
        );
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(&mask_id(fragment));
    }
    out
}

/// `key=value`: a short key stays readable; a long key hides the whole part.
fn mask_query_part(part: &str) -> String {
    match part.split_once('=') {
        Some((k, v)) if k.chars().count() <= 12 => format!("{k}={}", mask_id(v)),
        _ => mask_id(part),
    }
}

/// `scheme://authority` and the rest; a relative URI has no authority, and a `://` that does
/// not follow a scheme (`/v2/credentials/<id>://x`) does not start one.
fn split_authority(raw: &str) -> (&str, &str) {
    let Some(start) = raw
        .find("://")
        .filter(|i| is_scheme(&raw[..*i]))
        .map(|i| i + 3)
    else {
        return ("", raw);
    };
    let end = raw[start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |i| start + i);
    raw.split_at(end)
}

/// RFC 3986 `scheme`, after any leading blanks (an untrimmed variable).
fn is_scheme(text: &str) -> bool {
    let text = text.trim_start();
    text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// `http://user:pass@host` → `http://****@host`: userinfo is a credential too.
fn mask_userinfo(authority: &str) -> String {
    match (authority.find("://"), authority.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}****{}", &authority[..s + 3], &authority[at..]),
        _ => authority.to_string(),
    }
}

fn mask_id(segment: &str) -> String {
    if segment.chars().count() <= 12 {
        return segment.to_string();
    }
    let head: String = segment.chars().take(4).collect();
    format!("{head}…")
}

/// aws-config's container provider (http_credential_provider.rs) makes up to 3 attempts
/// (`RetryConfig::standard()`) and retries only: IO errors and timeouts
/// (`TransientErrorClassifier`), HTTP 500, 502, 503 and 504 (`HttpStatusCodeClassifier::default()`,
/// aws-smithy-runtime's `TRANSIENT_ERROR_STATUS_CODES`), and success answers it cannot parse
/// (`HttpCredentialRetryClassifier`). Never a 4xx (so never a 429), a 3xx or another 5xx.
/// credcheck does the same, within the run's deadline, except that a 2xx other than 200 is a
/// bad answer at once: no agent sends one.
const ATTEMPTS: u32 = 3;
const RETRIED_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// The ECS agent's task metadata rate limit (agent config; 40/s steady, burst 60).
pub const RPS_LIMIT: &str = "ECS_TASK_METADATA_RPS_LIMIT";
const POD_IDENTITY_HOSTS: &str = "169.254.170.23 or [fd00:ec2::23]";
const POD_IDENTITY_TOKEN_PATH: &str =
    "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token";

/// Fetches, retrying what the SDK retries, and explains any failure with the agent's own words.
pub async fn resolve(ctx: &Ctx<'_>) -> Outcome {
    let Some(target) = ctx.container.target() else {
        return Outcome::NotLoaded("not configured".into());
    };
    let mut attempt = 1;
    loop {
        let (outcome, retry) = fetch_once(ctx, target).await;
        if attempt >= ATTEMPTS || !retry || ctx.budget.is_spent() {
            return with_attempts(outcome, attempt);
        }
        attempt += 1;
    }
}

/// One GET: the outcome, and whether the SDK would try again.
async fn fetch_once(ctx: &Ctx<'_>, target: &Target) -> (Outcome, bool) {
    let timeout = ctx.budget.request_timeout();
    let mut headers = Vec::new();
    if let Some(token) = &target.token {
        headers.push(("authorization", HeaderValue::Secret(token)));
    }
    let request = Request {
        method: crate::http::Method::GET,
        url: &target.url,
        headers,
        timeout,
    };
    match http::fetch(ctx.endpoints, request).await {
        Ok(answer) => interpret(answer, target),
        Err(err) => {
            let retry = err != FetchError::TooLarge;
            let error = transport_error(&err, timeout, target);
            (failed(error, None), retry)
        }
    }
}

fn failed(error: Error, http_status: Option<u16>) -> Outcome {
    Outcome::Failed { error, http_status }
}

fn with_attempts(mut outcome: Outcome, attempts: u32) -> Outcome {
    if let (Outcome::Failed { error, .. }, true) = (&mut outcome, attempts > 1) {
        error
            .message
            .push_str(&format!(" (after {attempts} attempts, as the SDK retries)"));
    }
    outcome
}

/// Sorts an answer by status class, as aws-config does, then by what the agent said.
fn interpret(answer: Fetched, target: &Target) -> (Outcome, bool) {
    let status = answer.status;
    let error = match status {
        200 => match json_creds::parse(&answer.body) {
            Ok(parsed) => return (resolved(parsed, status), false),
            Err(why) => return (failed(bad_response(&why, &answer), Some(status)), true),
        },
        201..=299 => not_200(&answer),
        300..=399 => redirect(&answer, target),
        429 => throttled(&answer),
        400..=499 => rejected(&answer, target),
        500..=599 => unavailable(&answer),
        _ => not_200(&answer),
    };
    let retry = RETRIED_STATUSES.contains(&status);
    (failed(error, Some(status)), retry)
}

fn resolved(parsed: json_creds::Parsed, status: u16) -> Outcome {
    Outcome::Resolved(Box::new(Resolved {
        creds: parsed.creds,
        role_arn: parsed.role_arn,
        account_id: parsed.account_id,
        region: None,
        detail: Some(format!("HTTP {status}")),
        http_status: Some(status),
    }))
}

fn content_type(answer: &Fetched) -> String {
    answer
        .content_type
        .as_deref()
        .map(|c| sanitize_foreign(c, 60))
        .unwrap_or_else(|| "none".into())
}

const NOT_AN_AGENT: &str = "the URI points at something that is not the ECS agent or EKS Pod Identity agent; check the variable's value";

fn bad_response(why: &str, answer: &Fetched) -> Error {
    Error::problem(
        "container-bad-response",
        format!("the container endpoint answered HTTP 200 but not with credentials: {why} (content-type {}, {} bytes)", content_type(answer), answer.body.len()),
        NOT_AN_AGENT,
    )
}

/// A status no agent sends: a 2xx other than 200, a 1xx, anything past 599.
fn not_200(answer: &Fetched) -> Error {
    Error::problem(
        "container-bad-response",
        format!("the container endpoint answered HTTP {}, not 200: the agents send credentials only with 200 (content-type {}, {} bytes)", answer.status, content_type(answer), answer.body.len()),
        NOT_AN_AGENT,
    )
}

/// The ECS agent's router cleans the path (gorilla/mux, `SkipClean(false)` in tmds/server.go)
/// and answers 301 with a relative `Location`; a redirect elsewhere is something else.
fn redirect(answer: &Fetched, target: &Target) -> Error {
    let to = answer
        .location
        .as_deref()
        .and_then(|l| target.url.join(l.trim()).ok());
    match to {
        Some(to) if is_same_origin(&to, &target.url) && to != target.url => {
            not_canonical(answer.status, &to, target)
        }
        Some(to) if is_same_origin(&to, &target.url) => redirect_away(answer.status, "itself"),
        Some(to) => redirect_away(
            answer.status,
            &to.host_str()
                .map_or_else(|| "elsewhere".into(), |h| printable(h, 80)),
        ),
        None => redirect_away(answer.status, "an unreadable Location"),
    }
}

fn is_same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn not_canonical(status: u16, to: &Url, target: &Target) -> Error {
    let canonical = mask_uri(&path_and_query(to));
    Error::problem(
        "container-uri-not-canonical",
        format!("the container endpoint answered HTTP {status} with a redirect to {canonical} on the same host: {} is not in canonical form (a double slash, or a /./ or /../ segment), and the SDKs do not follow redirects", target.via),
        format!("set {} to the canonical path {canonical}: pass the value ECS injects unchanged, and do not join it to a base URL that ends in '/'", target.via),
    )
}

fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

fn redirect_away(status: u16, to: &str) -> Error {
    Error::problem(
        "container-redirect",
        format!("the container endpoint answered HTTP {status} with a redirect to {to}; credential endpoints never redirect elsewhere, and the SDKs do not follow"),
        "point the variable at the agent itself; something (a proxy, a web server) sits at this URL",
    )
}

/// HTTP 429: the ECS agent's limiter (tollbooth, `You have reached maximum request limit.`)
/// or the Pod Identity agent's (`Too Many Requests. …`). aws-config does not retry a 429.
fn throttled(answer: &Fetched) -> Error {
    let said = json_creds::parse_agent_body(&answer.body);
    let pod_identity =
        matches!(&said, json_creds::AgentSaid::Text(t) if t.starts_with("Too Many Requests"));
    let hint = if pod_identity {
        "the EKS Pod Identity agent allows 1000 requests/s per node (burst 500): some pod on this node polls it in a tight loop; let the SDK cache credentials".to_string()
    } else {
        format!("the ECS agent allows 40 requests/s per task (burst 60; {RPS_LIMIT} in the container instance's ecs.config): some container of this task polls the endpoint in a tight loop; let the SDK cache credentials, or raise the limit")
    };
    Error::unreachable(
        "container-throttled",
        format!("the container endpoint throttled the request: HTTP 429 {} (transient; not retried, as the SDKs retry only 500, 502, 503 and 504)", said.words()),
        hint,
    )
}

/// A 4xx other than 429: the ECS agent's JSON codes, the Pod Identity agent's lines, a 404.
fn rejected(answer: &Fetched, target: &Target) -> Error {
    let said = json_creds::parse_agent_body(&answer.body);
    let status = answer.status;
    let words = said.words();
    let refused = |code, hint: String| {
        Error::problem(
            code,
            format!("the container endpoint refused: HTTP {status} {words}"),
            hint,
        )
    };
    match &said {
        json_creds::AgentSaid::NoToken => refused("pod-identity-no-token", no_token_hint(target)),
        json_creds::AgentSaid::BadToken(_) => refused("pod-identity-token-invalid", bad_token_hint()),
        json_creds::AgentSaid::WrongAddress(_) => refused("pod-identity-wrong-address", format!("{FULL_URI} must name the agent as {POD_IDENTITY_HOSTS} itself (the agent checks the Host header): not through a proxy, a DNS name or a rewritten host")),
        json_creds::AgentSaid::EksAuth { code, .. } => eks_auth(status, code, &words),
        _ => ecs_rejected(status, &said, target, refused),
    }
}

fn ecs_rejected(
    status: u16,
    said: &json_creds::AgentSaid,
    target: &Target,
    refused: impl Fn(&'static str, String) -> Error,
) -> Error {
    match said.code() {
        Some("InvalidIdInRequest") => refused("container-rejected", "the credential id in the URI is unknown to the agent: the variable was copied from another task, or is stale; use the value ECS injects into this container (agents before January 2026 also answer this while a task starts)".into()),
        Some("NoIdInRequest") => refused("container-no-id", format!("the URI carries no credential id: {} must end in /v2/credentials/<id> (or /v1/credentials?id=<id>); the value was cut short or templated without the id: use the value ECS injects", target.via)),
        Some("NoCredentialsAssociated") => refused("container-rejected", "no task role is attached to this task: set taskRoleArn in the task definition".into()),
        _ if status == 404 => refused("container-not-found", format!("no such path on the agent: the ECS agent serves /v2/credentials/<id> ({RELATIVE_URI} as ECS injects it), the EKS Pod Identity agent http://169.254.170.23/v1/credentials; check {}", target.via)),
        _ if target.token.is_none() && target.via == FULL_URI => refused("container-rejected", format!("the agent may require a token: set {AUTH_TOKEN_FILE} (EKS Pod Identity) or {AUTH_TOKEN}")),
        _ => refused("container-rejected", format!("check {} and the token; the agent refused this request", target.via)),
    }
}

fn no_token_hint(target: &Target) -> String {
    match target.token {
        None => format!("no token was sent: set {AUTH_TOKEN_FILE}={POD_IDENTITY_TOKEN_PATH} (EKS sets it, with {FULL_URI}, in pods whose service account has a Pod Identity association)"),
        Some(_) => format!("the token was lost on the way (a proxy that drops Authorization?): call the agent directly as {POD_IDENTITY_HOSTS}"),
    }
}

fn bad_token_hint() -> String {
    format!("the token file does not hold a valid service account token: point {AUTH_TOKEN_FILE} at the projected {POD_IDENTITY_TOKEN_PATH} itself, not a copy (a copy expires), and unset {AUTH_TOKEN}")
}

/// EKS Auth's answer relayed by the Pod Identity agent, with EKS Auth's own status.
fn eks_auth(status: u16, code: &str, words: &str) -> Error {
    let message = format!("EKS Auth refused this pod's credentials (via the EKS Pod Identity agent): HTTP {status} {words}");
    let hint = match code {
        "ExpiredTokenException" | "InvalidTokenException" => bad_token_hint(),
        _ => "check the Pod Identity association of this pod's namespace and service account (aws eks list-pod-identity-associations --cluster-name <cluster>), and that its role trusts pods.eks.amazonaws.com for sts:AssumeRole and sts:TagSession; pods started before the association need a restart".to_string(),
    };
    if status >= 500 || code == "ThrottlingException" {
        return Error::unreachable("pod-identity-eks-auth", message, hint);
    }
    Error::problem("pod-identity-eks-auth", message, hint)
}

fn unavailable(answer: &Fetched) -> Error {
    let said = json_creds::parse_agent_body(&answer.body);
    let words = said.words();
    if let json_creds::AgentSaid::EksAuth { code, .. } = &said {
        return eks_auth(answer.status, code, &words);
    }
    let hint = match said.code() {
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
    fn ids_and_tokens_are_masked_wherever_they_sit() {
        let id = "52b19262-e7aa-4f56-b3a1-8e5a2f1c0d99";
        for (raw, shown) in [
            (
                format!("http://h/{id}/v2/credentials"),
                "http://h/52b1…/v2/credentials",
            ),
            (
                format!("http://h/v2/credentials;id={id}"),
                "http://h/v2/cred…",
            ),
            (
                format!("http://h/v1/credentials#{id}"),
                "http://h/v1/credentials#52b1…",
            ),
            (format!("http://h#{id}"), "http://h#52b1…"),
            (
                format!("/v2/credentials/{id}://x"),
                "/v2/credentials/52b1…//x",
            ),
            (
                format!("/v1/credentials?{id}=1&x=y"),
                "/v1/credentials?52b1…&x=y",
            ),
        ] {
            assert_eq!(mask_uri(&raw), shown, "{raw}");
        }
    }

    fn target(url: &str, via: &'static str, token: Option<&str>) -> Target {
        let url = Url::parse(url).unwrap();
        Target {
            shown: mask_uri(url.as_str()),
            url,
            via,
            token: token.map(Secret::new),
        }
    }

    fn answer(status: u16, content_type: &str, body: &str) -> Fetched {
        Fetched {
            status,
            content_type: Some(content_type.to_string()),
            location: None,
            body: body.as_bytes().to_vec(),
        }
    }

    fn error_of(answer: Fetched, target: &Target) -> (Error, bool) {
        match interpret(answer, target) {
            (Outcome::Failed { error, .. }, retry) => (error, retry),
            (other, _) => panic!("not a failure: {other:?}"),
        }
    }

    const ECS_URL: &str = "http://127.0.0.1:9/v2/credentials/0f4b2f53-9a1e-4c36-8d7b-2f6c1e0b7a55";

    #[test]
    fn status_classes_follow_aws_config() {
        let t = target(ECS_URL, RELATIVE_URI, None);
        let cases = [
            (
                204,
                "container-bad-response",
                crate::error::Kind::Problem,
                false,
            ),
            (
                206,
                "container-bad-response",
                crate::error::Kind::Problem,
                false,
            ),
            (
                429,
                "container-throttled",
                crate::error::Kind::Unreachable,
                false,
            ),
            (
                500,
                "container-unavailable",
                crate::error::Kind::Unreachable,
                true,
            ),
            (
                501,
                "container-unavailable",
                crate::error::Kind::Unreachable,
                false,
            ),
            (
                503,
                "container-unavailable",
                crate::error::Kind::Unreachable,
                true,
            ),
            (
                504,
                "container-unavailable",
                crate::error::Kind::Unreachable,
                true,
            ),
            (
                505,
                "container-unavailable",
                crate::error::Kind::Unreachable,
                false,
            ),
            (
                600,
                "container-bad-response",
                crate::error::Kind::Problem,
                false,
            ),
        ];
        for (status, code, kind, retried) in cases {
            let (error, retry) = error_of(answer(status, "text/plain", ""), &t);
            assert_eq!(
                (error.code, error.kind, retry),
                (code, kind, retried),
                "{status}"
            );
        }
        let (error, retry) = error_of(answer(200, "text/html", "<html>"), &t);
        assert_eq!((error.code, retry), ("container-bad-response", true));
    }

    #[test]
    fn throttling_names_the_rate_limit() {
        let t = target(ECS_URL, RELATIVE_URI, None);
        let body = "You have reached maximum request limit.";
        let (error, _) = error_of(answer(429, "text/plain; charset=utf-8", body), &t);
        assert!(
            error.message.contains(&format!("\"{body}\"")),
            "{}",
            error.message
        );
        assert!(error.hint.contains(RPS_LIMIT), "{}", error.hint);
        assert_eq!(error.exit_code(), crate::error::exit::UNREACHABLE);
    }

    #[test]
    fn a_same_host_redirect_shows_the_canonical_path_masked() {
        let t = target(
            "http://127.0.0.1:9//v2/credentials/0f4b2f53-9a1e-4c36-8d7b-2f6c1e0b7a55",
            RELATIVE_URI,
            None,
        );
        let mut a = answer(301, "", "");
        a.location = Some("/v2/credentials/0f4b2f53-9a1e-4c36-8d7b-2f6c1e0b7a55".into());
        let (error, _) = error_of(a, &t);
        assert_eq!(error.code, "container-uri-not-canonical");
        assert!(
            error.hint.contains("/v2/credentials/0f4b…"),
            "{}",
            error.hint
        );
        assert!(!format!("{error:?}").contains("9a1e-4c36"), "{error:?}");
        let mut away = answer(302, "", "");
        away.location = Some("http://192.0.2.55/steal".into());
        let (error, _) = error_of(away, &t);
        assert_eq!(error.code, "container-redirect");
        assert!(error.message.contains("192.0.2.55"), "{}", error.message);
    }

    #[test]
    fn each_agent_answer_gets_its_own_diagnosis() {
        let ecs = target(ECS_URL, RELATIVE_URI, None);
        let pod = target("http://127.0.0.1:9/v1/credentials", FULL_URI, Some("a.b.c"));
        let json = |code: &str, message: &str, status: u16| {
            format!(r#"{{"code":"{code}","message":"{message}","HTTPErrorCode":{status}}}"#)
        };
        let cases = [
            (&ecs, 400, json("NoIdInRequest", "CredentialsV2Request: No Credential ID in the request", 400), "container-no-id", "no credential id"),
            (&ecs, 400, json("InvalidIdInRequest", "CredentialsV2Request: Credentials not found", 400), "container-rejected", "unknown to the agent"),
            (&ecs, 404, "404 page not found\n".to_string(), "container-not-found", "no such path"),
            (&pod, 400, "Service account token cannot be empty\n".to_string(), "pod-identity-no-token", "lost on the way"),
            (&pod, 400, "Service account token cannot be parsed: token is malformed\n".to_string(), "pod-identity-token-invalid", AUTH_TOKEN_FILE),
            (&pod, 403, "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 127.0.0.1\n".to_string(), "pod-identity-wrong-address", "169.254.170.23"),
            (&pod, 400, "[8d7c-11]: (AccessDeniedException): Access denied, fault: client\n".to_string(), "pod-identity-eks-auth", "association"),
        ];
        for (t, status, body, code, hint) in cases {
            let (error, retry) = error_of(answer(status, "text/plain; charset=utf-8", &body), t);
            assert_eq!(error.code, code, "{body}");
            assert!(error.hint.contains(hint), "{body}: {}", error.hint);
            assert!(!retry, "{body}");
        }
        let (error, _) = error_of(
            answer(404, "text/plain; charset=utf-8", "404 page not found\n"),
            &ecs,
        );
        assert!(
            error.message.contains("\"404 page not found\""),
            "{}",
            error.message
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
