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
//! Layout: this file plans the request (the URL rules, the token, `mask_uri`); `fetch` makes
//! it and reads the answer.
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

mod fetch;
pub use fetch::*;

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

#[cfg(test)]
mod tests;
