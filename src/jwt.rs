//! Reads a JWT's claims (`iss`, `sub`, `aud`, `exp`) without verifying it, for the report.
//! The token itself is never returned, stored or printed: only the claims that describe it.
//! Reads no env vars.

use base64::Engine;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::secret::printable;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Vec<String>,
    pub exp: Option<SystemTime>,
}

/// Decodes the payload; `None` when the token is not a JWT.
pub fn claims(token: &str) -> Option<Claims> {
    let mut parts = token.trim().split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    let object = value.as_object()?;
    let text = |k: &str| {
        object
            .get(k)
            .and_then(Value::as_str)
            .map(|s| printable(s, 200))
    };
    let aud = match object.get("aud") {
        Some(Value::String(s)) => vec![printable(s, 200)],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| printable(s, 200))
            .collect(),
        _ => Vec::new(),
    };
    let exp = object
        .get("exp")
        .and_then(Value::as_f64)
        .filter(|e| e.is_finite() && *e >= 0.0 && *e < 1e11);
    Some(Claims {
        iss: text("iss"),
        sub: text("sub"),
        aud,
        exp: exp.map(|e| UNIX_EPOCH + Duration::from_secs(e as u64)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(payload: &str) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            e.encode(r#"{"alg":"RS256"}"#),
            e.encode(payload)
        )
    }

    #[test]
    fn reads_claims() {
        let c = claims(&token(r#"{"iss":"https://oidc.eks","sub":"system:serviceaccount:ns:sa","aud":["sts.amazonaws.com"],"exp":1700000000}"#)).unwrap();
        assert_eq!(c.aud, vec!["sts.amazonaws.com"]);
        assert_eq!(c.sub.as_deref(), Some("system:serviceaccount:ns:sa"));
        assert_eq!(c.exp, Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)));
    }

    #[test]
    fn garbage_is_not_a_jwt() {
        assert_eq!(claims("not-a-jwt"), None);
        assert_eq!(claims("a.%%%.c"), None);
        assert_eq!(claims(""), None);
    }
}
