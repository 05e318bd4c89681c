//! Cross-SDK notes: where the application's SDK, if it is not the Rust SDK, would pick a
//! different source in this environment (../shared/reference.md, "Where they diverge").
//! Reads (through `Env`): the container, token, web identity, profile and env-key variables.

use crate::chain::container::{AUTH_TOKEN, AUTH_TOKEN_FILE, FULL_URI, RELATIVE_URI};
use crate::chain::env_vars::{self, Keys};
use crate::chain::profile::{Profiles, PROFILE};
use crate::chain::web_identity::{ROLE_ARN, TOKEN_FILE};
use crate::chain::SourceType;
use crate::env::Env;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Note {
    pub code: &'static str,
    pub message: String,
}

pub fn notes(env: &Env, profiles: &Profiles) -> Vec<Note> {
    let mut out = Vec::new();
    let mut add = |code, message: String| out.push(Note { code, message });
    if env.is_set(RELATIVE_URI) && env.non_blank(FULL_URI).is_some() {
        add("go-full-uri-first", format!("Go (aws-sdk-go-v2) reads {FULL_URI} before {RELATIVE_URI}; Rust, Java, JS and botocore use {RELATIVE_URI}"));
    }
    if env.non_blank(PROFILE).is_some() && env_vars::keys(env) == Keys::Both {
        add("js-skips-env-keys", format!("JS (aws-sdk-js-v3) skips the env keys when {PROFILE} is set and uses the profile; the other SDKs use the env keys"));
    }
    if env.non_blank(AUTH_TOKEN).is_some() && env.non_blank(AUTH_TOKEN_FILE).is_some() {
        add("java-prefers-token-env", format!("Java (SDK v2) sends {AUTH_TOKEN}; the other SDKs send the content of {AUTH_TOKEN_FILE}"));
    }
    if let Some(note) = web_identity_vs_profile(env, profiles) {
        out.push(note);
    }
    if profiles.get("aws_access_key_id").is_some()
        && profiles.get("credential_process").is_some()
        && profiles.get("role_arn").is_none()
    {
        out.push(Note {
            code: "botocore-keys-before-process",
            message: "the profile has both static keys and credential_process: botocore (and the AWS CLI) use the keys, Rust uses credential_process".into(),
        });
    }
    out
}

/// IRSA variables next to a profile: botocore's chain puts web identity after assume-role but
/// before the other profile sources (credentials.py); Java tries web identity before profiles.
fn web_identity_vs_profile(env: &Env, profiles: &Profiles) -> Option<Note> {
    if env.non_blank(TOKEN_FILE).is_none() || env.non_blank(ROLE_ARN).is_none() {
        return None;
    }
    let message = match profiles.source_type()? {
        SourceType::AssumeRole => "Java tries web identity (AWS_WEB_IDENTITY_TOKEN_FILE) before the profile; Rust, Go, JS and botocore use the profile's assume-role",
        _ => "botocore and Java try web identity (AWS_WEB_IDENTITY_TOKEN_FILE) before this profile; Rust, Go and JS use the profile",
    };
    Some(Note {
        code: "web-identity-before-profile",
        message: message.into(),
    })
}
