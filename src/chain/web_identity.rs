//! The web identity source from the environment (EKS IRSA), as aws-config's
//! web_identity_token.rs: both `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN` must be set
//! (either alone is "not loaded"); `AWS_ROLE_SESSION_NAME` is optional. credcheck checks the
//! token file itself (exists, readable, not empty, no surrounding whitespace), reads the JWT's
//! claims for the report, then resolves with aws-config's provider (AssumeRoleWithWebIdentity).
//! Under `--pid` the provider gets the process's variables and its token file through
//! `/proc/PID/root` (`Env::host_path`).
//! Reads: AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_ROLE_SESSION_NAME.

use super::{Ctx, Inspection, Outcome, SourceType};
use crate::env::Env;
use crate::error::Error;
use crate::jwt::{self, Claims};
use crate::secret::Secret;
use aws_config::web_identity_token::{StaticConfiguration, WebIdentityTokenCredentialsProvider};
use aws_credential_types::provider::ProvideCredentials;
use std::path::Path;

pub use crate::sdk::{ROLE_ARN, WEB_IDENTITY_TOKEN_FILE as TOKEN_FILE};
pub const SESSION_NAME: &str = "AWS_ROLE_SESSION_NAME";
const TOKEN_CAP: u64 = 64 * 1024;

/// What the token file says about itself, without the token.
#[derive(Debug, Clone)]
pub struct TokenFile {
    pub path: String,
    pub claims: Option<Claims>,
    /// Leading/trailing whitespace (the byte's name), reported as a warning.
    pub whitespace: Option<String>,
}

/// Reads and checks a web identity token file; the token is registered for scrubbing.
pub fn read_token_file(env: &Env, path: &str, origin: &str) -> Result<TokenFile, Error> {
    let bytes = env.read_file(Path::new(path), TOKEN_CAP).map_err(|e| {
        Error::config(
            "web-identity-token-unreadable",
            format!("{origin}={path} cannot be read: {e}"),
            "mount the projected service account token (IRSA: /var/run/secrets/eks.amazonaws.com/serviceaccount/token), or unset the variable",
        )
    })?;
    let text = Secret::new(String::from_utf8_lossy(&bytes).into_owned());
    if text.expose().trim().is_empty() {
        return Err(Error::config(
            "web-identity-token-empty",
            format!("{origin}={path} is empty"),
            "the file must hold the service account's JWT",
        ));
    }
    let whitespace =
        crate::chain::container::ensure_clean_token(&text, &format!("the token file {path}"))
            .err()
            .map(|e| e.message);
    Ok(TokenFile {
        path: path.to_string(),
        claims: jwt::claims(text.expose()),
        whitespace,
    })
}

/// The token file a web identity source would use, read once per run: the variables'
/// when both are set (they win in the chain), else the selected profile's.
pub fn token_file(env: &Env, profile_token_file: Option<&str>) -> Option<Result<TokenFile, Error>> {
    let (path, origin) = match (env.non_blank(TOKEN_FILE), env.non_blank(ROLE_ARN)) {
        (Some(p), Some(_)) => (p.trim().to_string(), TOKEN_FILE),
        _ => (profile_token_file?.to_string(), "web_identity_token_file"),
    };
    Some(read_token_file(env, &path, origin))
}

/// `token` is [`token_file`]'s answer for this run.
pub fn inspect(env: &Env, token: Option<&Result<TokenFile, Error>>) -> Inspection {
    let (file, role) = (env.non_blank(TOKEN_FILE), env.non_blank(ROLE_ARN));
    let (path, role) = match (file, role) {
        (None, None) => return Inspection::NotConfigured(format!("{TOKEN_FILE} is not set")),
        (Some(_), None) => {
            return Inspection::NotConfigured(format!(
                "{TOKEN_FILE} is set but {ROLE_ARN} is not: the SDK skips this source"
            ))
        }
        (None, Some(_)) => {
            return Inspection::NotConfigured(format!(
                "{ROLE_ARN} is set but {TOKEN_FILE} is not: the SDK skips this source"
            ))
        }
        (Some(path), Some(role)) => (path.trim(), role.trim()),
    };
    let source_type = SourceType::AssumeRoleWithWebIdentity;
    let location = format!("{TOKEN_FILE}={path}");
    match token {
        Some(Ok(token)) => Inspection::Configured {
            source_type,
            location,
            note: Some(describe(role, token)),
        },
        Some(Err(error)) => Inspection::Invalid {
            source_type,
            location,
            error: error.clone(),
        },
        None => Inspection::NotConfigured(format!("{TOKEN_FILE} was not read")),
    }
}

/// One line on the role and the token's claims.
pub fn describe(role: &str, token: &TokenFile) -> String {
    let Some(c) = &token.claims else {
        return format!("role {role}; the token is not a JWT");
    };
    let mut parts = vec![format!("role {role}")];
    if let Some(sub) = &c.sub {
        parts.push(format!("sub {sub}"));
    }
    if !c.aud.is_empty() {
        parts.push(format!("aud {}", c.aud.join(",")));
    }
    if let Some(iss) = &c.iss {
        parts.push(format!("iss {iss}"));
    }
    parts.join("; ")
}

pub async fn resolve(ctx: &Ctx<'_>) -> Outcome {
    if let Some(error) = crate::sdk::shims::ensure_same_sts_endpoint(ctx.env) {
        return Outcome::Failed {
            error,
            http_status: None,
        };
    }
    let mut builder = WebIdentityTokenCredentialsProvider::builder()
        .configure(&ctx.sdk.provider_config(&ctx.budget));
    if let Some(conf) = for_other_process(ctx.env) {
        builder = builder.static_configuration(conf);
    }
    let provider = builder.build();
    let mut outcome = super::profile::from_sdk(
        provider.provide_credentials(),
        ctx,
        "AssumeRoleWithWebIdentity",
    )
    .await;
    if let Outcome::Resolved(r) = &mut outcome {
        r.role_arn = ctx.env.non_blank(ROLE_ARN).map(|s| s.trim().to_string());
    }
    outcome
}

/// Under `--pid`, aws-config's provider would read credcheck's own variables and files: hand
/// it the process's instead, with the token file reached through its root. The session name
/// is aws-config's default (`web-identity-token-<millis>`) unless the process sets one.
fn for_other_process(env: &Env) -> Option<StaticConfiguration> {
    env.root()?;
    let file = env.non_blank(TOKEN_FILE)?.trim();
    let role_arn = env.non_blank(ROLE_ARN)?.trim().to_string();
    let session_name = env.non_blank(SESSION_NAME).map_or_else(
        || {
            let millis = env
                .now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis());
            format!("web-identity-token-{millis}")
        },
        |s| s.trim().to_string(),
    );
    Some(StaticConfiguration {
        web_identity_token_file: env.host_path(Path::new(file)),
        role_arn,
        session_name,
    })
}
