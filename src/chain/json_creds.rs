//! Parses the credentials JSON that the container endpoint (ECS, EKS Pod Identity) and IMDS
//! return, with aws-config's rules (json_credentials.rs): keys match case-insensitively,
//! `Token` or `SessionToken`, `Expiration` as RFC 3339. Unlike aws-config, it keeps `RoleArn`
//! and reads the agents' error bodies (`code`/`message`).
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
        let e = parse_agent_error(
            br#"{"code":"InvalidIdInRequest","message":"CredentialsV2Request: ID not found"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("InvalidIdInRequest"));
        assert_eq!(
            e.message.as_deref(),
            Some("CredentialsV2Request: ID not found")
        );
        assert_eq!(
            parse_agent_error(b"<html>"),
            AgentError {
                code: None,
                message: None
            }
        );
    }
}
