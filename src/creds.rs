//! Credentials as plain data: what a source returned ([`Creds`], secrets kept inside
//! `secret::Secret`) and the source type names ([`SourceType`]). The chain fills them; STS,
//! the SDK configuration and the probe only read them.
//! Reads no env vars.

use crate::secret::{KeyId, Secret};
use serde::Serialize;
use std::time::SystemTime;

/// Source type names, as `aws configure list` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceType {
    Env,
    SharedCredentialsFile,
    ConfigFile,
    AssumeRole,
    Sso,
    CustomProcess,
    AssumeRoleWithWebIdentity,
    ContainerRole,
    IamRole,
}

impl SourceType {
    pub fn name(self) -> &'static str {
        match self {
            SourceType::Env => "env",
            SourceType::SharedCredentialsFile => "shared-credentials-file",
            SourceType::ConfigFile => "config-file",
            SourceType::AssumeRole => "assume-role",
            SourceType::Sso => "sso",
            SourceType::CustomProcess => "custom-process",
            SourceType::AssumeRoleWithWebIdentity => "assume-role-with-web-identity",
            SourceType::ContainerRole => "container-role",
            SourceType::IamRole => "iam-role",
        }
    }
}

/// Credentials as a source returned them. Secrets stay inside [`Secret`].
#[derive(Debug, Clone)]
pub struct Creds {
    pub access_key_id: KeyId,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub expiration: Option<SystemTime>,
}
