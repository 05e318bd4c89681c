//! Parses the credentials JSON that the container endpoint (ECS, EKS Pod Identity) and IMDS
//! return, with aws-config's rules (json_credentials.rs): keys match case-insensitively,
//! `Token` or `SessionToken`, `Expiration` as RFC 3339. Unlike aws-config, it keeps `RoleArn`
//! and reads the agents' error bodies: the ECS agent's JSON (`code`/`message`), and the EKS Pod
//! Identity agent's plain-text `http.Error` lines, recognised by their texts in its source.
//! Error messages never quote a value: serde's messages can echo input, so the JSON is read as
//! a tree and every field is checked by hand.
//! Reads no env vars.

use super::Creds;
use crate::secret::{printable, sanitize_foreign, KeyId, Secret};
use aws_smithy_types::date_time::{DateTime, Format};
use serde_json::{Map, Value};
use std::time::SystemTime;

#[derive(Debug)]
pub struct Parsed {
    pub creds: Creds,
    pub role_arn: Option<String>,
    pub account_id: Option<String>,
}

/// An agent's error body, e.g. `{"code":"InvalidIdInRequest","message":"CredentialsV2Request: ID not found"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentError {
    pub code: Option<String>,
    pub message: Option<String>,
}

/// Parses a successful answer. The error says what is wrong, never what a value was.
pub fn parse(body: &[u8]) -> Result<Parsed, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8 text".to_string())?;
    let value: Value = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Eof if text.trim().is_empty() => {
            "the body is empty".to_string()
        }
        _ => format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    let object = value
        .as_object()
        .ok_or("the body is JSON but not an object")?;
    ensure_success_code(object)?;
    let creds = Creds {
        access_key_id: KeyId::new(required(object, &["AccessKeyId"])?),
        secret_access_key: Secret::new(required(object, &["SecretAccessKey"])?),
        session_token: optional(object, &["Token", "SessionToken"])?.map(Secret::new),
        expiration: optional(object, &["Expiration"])?
            .map(|raw| parse_expiration(&raw))
            .transpose()?,
    };
    Ok(Parsed {
        creds,
        role_arn: optional(object, &["RoleArn"])?.map(|s| printable(&s, 256)),
        account_id: optional(object, &["AccountId"])?.map(|s| printable(&s, 32)),
    })
}

/// Reads an agent's error body; anything unexpected yields empty fields, never an error.
pub fn parse_agent_error(body: &[u8]) -> AgentError {
    let object = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.as_object().cloned());
    let field = |names: &[&str]| {
        object
            .as_ref()
            .and_then(|o| find(o, names))
            .and_then(Value::as_str)
            .map(|s| sanitize_foreign(s, 200))
    };
    AgentError {
        code: field(&["code", "Code"]).filter(|c| is_code(c)),
        message: field(&["message", "Message"]),
    }
}

/// What an agent said in an error answer, told apart by the texts in the agents' sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentSaid {
    /// The ECS agent's JSON (tmds/handlers/utils/helpers.go `ErrorMessage`).
    Json(AgentError),
    /// Pod Identity agent (internal/validation/request.go): no Authorization header was sent.
    NoToken,
    /// Pod Identity agent: the token is not a JWT, or fails its claim checks. Shown text.
    BadToken(String),
    /// Pod Identity agent (pkg/errors `AccessDeniedError`): the Host header is not its
    /// address. Shown text.
    WrongAddress(String),
    /// Pod Identity agent relaying EKS Auth (pkg/errors `HandleCredentialFetchingError`):
    /// `[request-id]: (Code): message, fault: client`.
    EksAuth { code: String, message: String },
    /// Any other text (Go's `404 page not found`, tollbooth's 429 line), sanitised, bounded.
    Text(String),
    /// An empty body, or bytes that are not text.
    Nothing { bytes: usize },
}

const NO_TOKEN: &str = "Service account token cannot be empty";
const BAD_TOKEN: [&str; 2] = [
    "Service account token cannot be parsed: ",
    "Service account token failed basic claim validations: ",
];
const WRONG_ADDRESS: &str = "Access Denied. Called agent through invalid address";
/// How much of a plain-text body is quoted.
const QUOTE_CHARS: usize = 160;

impl AgentSaid {
    /// The agent's words, ready to follow `HTTP <status> ` in a message.
    pub fn words(&self) -> String {
        match self {
            AgentSaid::Json(e) => match (&e.code, &e.message) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.clone(),
                (None, Some(m)) => m.clone(),
                (None, None) => "with a JSON body that names no error".into(),
            },
            AgentSaid::NoToken => format!("\"{NO_TOKEN}\""),
            AgentSaid::BadToken(t) | AgentSaid::WrongAddress(t) | AgentSaid::Text(t) => {
                format!("\"{t}\"")
            }
            AgentSaid::EksAuth { code, message } => format!("{code}: {message}"),
            AgentSaid::Nothing { bytes: 0 } => "with an empty body".into(),
            AgentSaid::Nothing { bytes } => format!("with {bytes} bytes that are not text"),
        }
    }

    /// The ECS agent's `code`, if it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AgentSaid::Json(e) => e.code.as_deref(),
            _ => None,
        }
    }
}

/// Reads any error answer: the ECS agent's JSON first, then the Pod Identity agent's lines.
pub fn parse_agent_body(body: &[u8]) -> AgentSaid {
    let json = parse_agent_error(body);
    if json.code.is_some() || json.message.is_some() {
        return AgentSaid::Json(json);
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return AgentSaid::Nothing { bytes: body.len() };
    };
    let text = text.trim();
    if text.is_empty() {
        return AgentSaid::Nothing { bytes: 0 };
    }
    pod_identity_said(text).unwrap_or_else(|| AgentSaid::Text(sanitize_foreign(text, QUOTE_CHARS)))
}

fn pod_identity_said(text: &str) -> Option<AgentSaid> {
    if text == NO_TOKEN {
        return Some(AgentSaid::NoToken);
    }
    let bad_token = BAD_TOKEN
        .iter()
        .find_map(|p| text.strip_prefix(p).map(|reason| (*p, reason)));
    if let Some((prefix, reason)) = bad_token {
        // The prefix is the agent's own constant; only the reason is foreign.
        let reason = sanitize_foreign(reason, QUOTE_CHARS);
        return Some(AgentSaid::BadToken(format!("{prefix}{reason}")));
    }
    if text.starts_with(WRONG_ADDRESS) {
        return Some(AgentSaid::WrongAddress(sanitize_foreign(text, QUOTE_CHARS)));
    }
    eks_auth_said(text)
}

/// `[request-id]: (Code): message, fault: client`; the request id is optional.
fn eks_auth_said(text: &str) -> Option<AgentSaid> {
    let rest = match text.strip_prefix('[') {
        Some(rest) => rest.split_once("]: ")?.1,
        None => text,
    };
    let (code, rest) = rest.strip_prefix('(')?.split_once("): ")?;
    let message = rest.rsplit_once(", fault: ").map_or(rest, |(m, _)| m);
    is_code(code).then(|| AgentSaid::EksAuth {
        code: code.to_string(),
        message: sanitize_foreign(message, QUOTE_CHARS),
    })
}

fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// IMDS answers `"Code": "Success"`; anything else there is a failure it explains.
fn ensure_success_code(object: &Map<String, Value>) -> Result<(), String> {
    match find(object, &["Code"]).and_then(Value::as_str) {
        Some(code) if !code.eq_ignore_ascii_case("success") => Err(format!(
            "the answer's Code is {:?}, not \"Success\"",
            sanitize_foreign(code, 64)
        )),
        _ => Ok(()),
    }
}

fn find<'a>(object: &'a Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .map(|(_, v)| v)
}

fn required(object: &Map<String, Value>, names: &[&str]) -> Result<String, String> {
    optional(object, names)?.ok_or_else(|| format!("the field {} is missing", names[0]))
}

fn optional(object: &Map<String, Value>, names: &[&str]) -> Result<Option<String>, String> {
    match find(object, names) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(format!("the field {} is empty", names[0]))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("the field {} is not a string", names[0])),
    }
}

/// RFC 3339, as aws-config parses it (`Format::DateTime`).
pub fn parse_expiration(raw: &str) -> Result<SystemTime, String> {
    DateTime::from_str(raw.trim(), Format::DateTime)
        .ok()
        .and_then(|dt| SystemTime::try_from(dt).ok())
        .ok_or_else(|| "the field Expiration is not an RFC 3339 timestamp".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECS: &str = r#"{"RoleArn":"arn:aws:iam::123456789012:role/app","AccessKeyId":"ASIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","Token":"tok","Expiration":"2026-11-23T16:00:00Z"}"#;

    #[test]
    fn ecs_shape_keeps_role_arn() {
        let p = parse(ECS.as_bytes()).unwrap();
        assert_eq!(
            p.role_arn.as_deref(),
            Some("arn:aws:iam::123456789012:role/app")
        );
        assert_eq!(p.creds.access_key_id.masked(), "ASIA…MPLE");
        assert!(p.creds.expiration.is_some());
    }

    #[test]
    fn keys_match_case_insensitively_and_session_token_is_accepted() {
        let body = r#"{"accesskeyid":"ASIAIOSFODNN7EXAMPLE","secretaccesskey":"s3cr3t-value","SessionToken":"t","AccountId":"123456789012"}"#;
        let p = parse(body.as_bytes()).unwrap();
        assert!(p.role_arn.is_none());
        assert_eq!(p.account_id.as_deref(), Some("123456789012"));
        assert!(p.creds.session_token.is_some());
    }

    #[test]
    fn errors_never_quote_values() {
        let body = r#"{"AccessKeyId":"ASIAIOSFODNN7EXAMPLE","SecretAccessKey":"leakme-leakme","Expiration":"leakme-date"}"#;
        let err = parse(body.as_bytes()).unwrap_err();
        assert!(!err.contains("leakme"), "{err}");
        assert!(parse(b"\xff\xfe").unwrap_err().contains("UTF-8"));
        assert!(parse(b"{").unwrap_err().contains("not valid JSON"));
        assert!(parse(b"{}").unwrap_err().contains("AccessKeyId is missing"));
    }

    #[test]
    fn agent_error_body_is_read() {
        // The ECS agent v1.105's body (tmds/handlers/v1/credentials_handler.go).
        let e = parse_agent_error(
            br#"{"code":"InvalidIdInRequest","message":"CredentialsV2Request: Credentials not found","HTTPErrorCode":400}"#,
        );
        assert_eq!(e.code.as_deref(), Some("InvalidIdInRequest"));
        assert_eq!(
            e.message.as_deref(),
            Some("CredentialsV2Request: Credentials not found")
        );
        assert_eq!(
            parse_agent_error(b"<html>"),
            AgentError {
                code: None,
                message: None
            }
        );
    }

    #[test]
    fn plain_text_bodies_are_told_apart_and_quoted() {
        // The EKS Pod Identity agent's `http.Error` lines (internal/validation/request.go,
        // pkg/errors/errors.go) and Go's own 404.
        let said = |body: &str| parse_agent_body(body.as_bytes());
        assert_eq!(
            said("Service account token cannot be empty\n"),
            AgentSaid::NoToken
        );
        assert!(matches!(
            said("Service account token cannot be parsed: token is malformed: token contained an invalid number of segments\n"),
            AgentSaid::BadToken(t) if t.starts_with("Service account token cannot be parsed: ")
        ));
        assert!(matches!(
            said("Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 10.0.0.7\n"),
            AgentSaid::WrongAddress(t) if t.ends_with("address not 10.0.0.7")
        ));
        assert_eq!(
            said("[5f1c7a2e-0d3b]: (AccessDeniedException): Access denied, fault: client\n"),
            AgentSaid::EksAuth {
                code: "AccessDeniedException".into(),
                message: "Access denied".into()
            }
        );
        assert_eq!(
            said("404 page not found\n").words(),
            "\"404 page not found\""
        );
        assert_eq!(said("").words(), "with an empty body");
        assert_eq!(
            parse_agent_body(b"\xff\xfe").words(),
            "with 2 bytes that are not text"
        );
    }

    #[test]
    fn quoted_text_is_bounded_and_one_line() {
        let long = format!("line one\r\nline two {}", "x".repeat(10_000));
        let AgentSaid::Text(text) = parse_agent_body(long.as_bytes()) else {
            panic!("not text");
        };
        assert!(text.chars().count() <= QUOTE_CHARS, "{}", text.len());
        assert!(!text.contains(['\r', '\n']), "{text:?}");
    }
}
