//! The environment source: static keys in the process environment, read with aws-config's
//! rules (environment/credentials.rs): a blank value counts as unset, `SECRET_ACCESS_KEY` is
//! accepted when `AWS_SECRET_ACCESS_KEY` is blank or unset, `AWS_SESSION_TOKEN` is optional.
//! A key ID without a secret (or the other way round) is "not loaded" for the Rust SDK, and
//! an error for botocore; the report warns about it (`partial-env-keys`).
//! Reads: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.

use super::{Creds, Inspection, Outcome, Resolved, SourceType};
use crate::env::Env;
use crate::secret::{KeyId, Secret};

pub const ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const SECRET_ACCESS_KEY_ALT: &str = "SECRET_ACCESS_KEY";
pub const SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";

/// Which halves of the static key pair are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    None,
    Both,
    IdOnly,
    SecretOnly,
}

pub fn keys(env: &Env) -> Keys {
    match (
        env.non_blank(ACCESS_KEY_ID).is_some(),
        secret(env).is_some(),
    ) {
        (true, true) => Keys::Both,
        (true, false) => Keys::IdOnly,
        (false, true) => Keys::SecretOnly,
        (false, false) => Keys::None,
    }
}

fn secret(env: &Env) -> Option<&str> {
    env.non_blank(SECRET_ACCESS_KEY)
        .or_else(|| env.non_blank(SECRET_ACCESS_KEY_ALT))
}

pub fn inspect(env: &Env) -> Inspection {
    match keys(env) {
        Keys::Both => Inspection::Configured {
            source_type: SourceType::Env,
            location: ACCESS_KEY_ID.into(),
            note: None,
        },
        Keys::None => Inspection::NotConfigured(format!("{ACCESS_KEY_ID} is not set")),
        Keys::IdOnly => Inspection::NotConfigured(format!(
            "{ACCESS_KEY_ID} is set but {SECRET_ACCESS_KEY} is not: the Rust SDK skips this source"
        )),
        Keys::SecretOnly => Inspection::NotConfigured(format!(
            "{SECRET_ACCESS_KEY} is set but {ACCESS_KEY_ID} is not: the Rust SDK skips this source"
        )),
    }
}

pub fn resolve(env: &Env) -> Outcome {
    let (Some(id), Some(secret)) = (env.non_blank(ACCESS_KEY_ID), secret(env)) else {
        return Outcome::NotLoaded(format!("{ACCESS_KEY_ID} is not set"));
    };
    let creds = Creds {
        access_key_id: KeyId::new(id.trim()),
        secret_access_key: Secret::new(secret),
        session_token: env.non_blank(SESSION_TOKEN).map(|t| Secret::new(t.trim())),
        expiration: None,
    };
    Outcome::Resolved(Box::new(Resolved {
        creds,
        role_arn: None,
        account_id: env
            .non_blank("AWS_ACCOUNT_ID")
            .map(|a| a.trim().to_string()),
        region: None,
        detail: None,
        http_status: None,
    }))
}

/// Registers the environment's secrets with the log scrubber before any code can log them.
pub fn register_secrets(env: &Env) {
    for name in [
        SECRET_ACCESS_KEY,
        SECRET_ACCESS_KEY_ALT,
        SESSION_TOKEN,
        "AWS_SECURITY_TOKEN",
        super::container::AUTH_TOKEN,
    ] {
        if let Some(v) = env.non_blank(name) {
            let _ = Secret::new(v);
        }
    }
    if let Some(id) = env.non_blank(ACCESS_KEY_ID) {
        let _ = KeyId::new(id.trim());
    }
}
