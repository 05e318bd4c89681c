//! aws-config's view of the evaluated process: it reads variables and files through
//! `os_shim_internal::{Env, Fs}`, which `ProviderConfig` does not let a caller replace; so the
//! parser gets them directly ([`sdk_env`], [`sdk_fs`]), and the profile chain's sources that
//! would read credcheck's own are refused under `--pid` (SSO, credential_process, profile web
//! identity, an STS endpoint that differs) or replaced (env keys, in `chain::profile`).
//! Reads: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (credcheck's
//! own and the process's, to compare them).

use super::profiles::Profiles;
use crate::creds::SourceType;
use crate::env::Env;
use crate::error::Error;

/// The variables aws-config's parser sees: the evaluated environment, never the real one.
pub fn sdk_env(env: &Env) -> aws_types::os_shim_internal::Env {
    let vars: std::collections::HashMap<String, String> = env
        .vars()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    aws_types::os_shim_internal::Env::from(vars)
}

/// The files aws-config sees: under `--pid`, every absolute path through `/proc/PID/root`.
pub fn sdk_fs(env: &Env) -> aws_types::os_shim_internal::Fs {
    match env.root() {
        Some(root) => aws_types::os_shim_internal::Fs::from_test_dir(root, "/"),
        None => aws_types::os_shim_internal::Fs::real(),
    }
}

/// Under `--pid`, a profile whose credentials aws-config would fetch with credcheck's own
/// files, variables or commands cannot be evaluated for the other process: say so.
pub fn ensure_profile_evaluable(env: &Env, profiles: &Profiles) -> Option<Error> {
    env.root()?;
    let what = match profiles.source_type()? {
        SourceType::AssumeRole => return ensure_same_sts_endpoint(env),
        SourceType::Sso => "SSO (its token cache is read from credcheck's HOME)",
        SourceType::CustomProcess => {
            "credential_process (it would run in credcheck's container, not the app's)"
        }
        SourceType::AssumeRoleWithWebIdentity => {
            "web_identity_token_file (aws-config reads it from credcheck's root)"
        }
        _ => match profiles.get("credential_source") {
            Some(source @ ("EcsContainer" | "Ec2InstanceMetadata")) => {
                return Some(unsupported(profiles, &format!("credential_source = {source} (aws-config reads credcheck's own variables for it)")));
            }
            _ => return None,
        },
    };
    Some(unsupported(profiles, what))
}

/// What aws-config's STS client (web identity, assume-role) reads to pick its endpoint.
const STS_ENDPOINT_VARS: [&str; 3] = [
    super::ENDPOINT_URL_STS,
    super::ENDPOINT_URL,
    super::IGNORE_ENDPOINT_URLS,
];

/// Under `--pid`, aws-config's own STS calls (AssumeRoleWithWebIdentity, AssumeRole) take
/// their endpoint from credcheck's real environment, which `ProviderConfig` does not let a
/// caller replace: when it differs from the process's, the call would go elsewhere than the
/// app's (possibly to AWS itself), so it is not made.
pub fn ensure_same_sts_endpoint(env: &Env) -> Option<Error> {
    env.root()?;
    let real = aws_types::os_shim_internal::Env::real();
    let differing: Vec<&str> = STS_ENDPOINT_VARS
        .into_iter()
        .filter(|v| env.get(v) != real.get(v).ok().as_deref())
        .collect();
    if differing.is_empty() {
        return None;
    }
    let names = differing.join(", ");
    Some(Error::config(
        "pid-sts-endpoint-differs",
        format!("{names} differ between the process and credcheck: aws-config would send this source's STS call to credcheck's endpoint, not the app's, so it was not made"),
        format!("run credcheck with the app's {names} (or unset them on both sides), or inside the app's container"),
    ))
}

fn unsupported(profiles: &Profiles, what: &str) -> Error {
    Error::config(
        "pid-source-unsupported",
        format!("profile {} uses {what}: credcheck --pid cannot evaluate it for another process", profiles.selected),
        "run credcheck inside the app's container (ECS Exec, docker exec) without --pid, where the files and variables are the app's",
    )
}
