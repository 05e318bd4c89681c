//! The profile source: `~/.aws/config` and `~/.aws/credentials`, parsed once with aws-config's
//! own parser, classified the way aws-config's `resolve_chain` (profile/credentials/repr.rs)
//! reads a profile (role_arn → assume-role, or web identity; then SSO; credential_process;
//! static keys), and resolved with aws-config's `ProfileFileCredentialsProvider`, once.
//! Reads: AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, HOME (through aws-config).

use super::{env_vars, Creds, Ctx, Inspection, Outcome, Resolved, SourceType};
use crate::env::Env;
use crate::error::Error;
use crate::secret::{sanitize_foreign, KeyId, Secret};
use aws_config::profile::ProfileFileCredentialsProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, future, ProvideCredentials};
use aws_credential_types::Credentials;

/// The files are loaded as the SDK loads them (`sdk::profiles`); this module resolves them.
pub use crate::sdk::profiles::{Profiles, CONFIG_FILE, CREDENTIALS_FILE, PROFILE};

pub fn inspect(profiles: &Profiles) -> Inspection {
    if let Some(error) = &profiles.unreadable {
        return Inspection::Invalid {
            source_type: SourceType::ConfigFile,
            location: profiles.config_path.display().to_string(),
            error: error.clone(),
        };
    }
    if let Err(why) = &profiles.set {
        return Inspection::Invalid {
            source_type: SourceType::ConfigFile,
            location: profiles.config_path.display().to_string(),
            error: Error::config(
                "profile-file-invalid",
                format!("the profile files cannot be parsed: {why}"),
                "fix the file's syntax: [profile name] sections with key = value lines",
            ),
        };
    }
    if profiles.profile().is_none() {
        return missing_profile(profiles);
    }
    match profiles.source_type() {
        Some(source_type) => Inspection::Configured {
            source_type,
            location: profiles.location(),
            note: None,
        },
        None => Inspection::NotConfigured(format!(
            "profile {} defines no credentials",
            profiles.selected
        )),
    }
}

fn missing_profile(profiles: &Profiles) -> Inspection {
    if !profiles.explicit {
        return Inspection::NotConfigured(format!(
            "no [default] profile in {} or {}",
            profiles.config_path.display(),
            profiles.credentials_path.display()
        ));
    }
    Inspection::Invalid {
        source_type: SourceType::ConfigFile,
        location: format!("{PROFILE}={}", profiles.selected),
        error: Error::config(
            "profile-not-found",
            format!(
                "{PROFILE} names the profile {:?}, which is in neither {} nor {}",
                profiles.selected,
                profiles.config_path.display(),
                profiles.credentials_path.display()
            ),
            format!("fix {PROFILE}, or add the profile (mount the files, or set {CONFIG_FILE})"),
        ),
    }
}

/// Runs aws-config's profile provider once, inside the run's deadline.
pub async fn resolve(ctx: &Ctx<'_>) -> Outcome {
    // aws-config reads these files itself, without a size limit: check them first.
    if let Some(error) = files_error(ctx) {
        return Outcome::Failed {
            error,
            http_status: None,
        };
    }
    if let Some(error) = crate::sdk::shims::ensure_profile_evaluable(ctx.env, ctx.profile) {
        return Outcome::Failed {
            error,
            http_status: None,
        };
    }
    if let Some(resolved) = static_keys(ctx) {
        return Outcome::Resolved(Box::new(resolved));
    }
    #[allow(deprecated)] // `profile_files` takes the contents read once in `Profiles::load`.
    let builder = ProfileFileCredentialsProvider::builder()
        .profile_files(ctx.profile.files().clone())
        .configure(&ctx.sdk.provider_config(&ctx.budget))
        .profile_name(ctx.profile.selected.clone());
    let provider = with_process_env(builder, ctx.env).build();
    from_sdk(
        provider.provide_credentials(),
        ctx,
        "the profile's credential provider",
    )
    .await
}

/// The files aws-config would read for this profile (its web identity token, its SSO token
/// cache), checked through the bounded reader before aws-config opens them.
fn files_error(ctx: &Ctx<'_>) -> Option<Error> {
    if let Some(error) = unsignable_profile(ctx) {
        return Some(error);
    }
    match ctx.profile.source_type()? {
        SourceType::AssumeRoleWithWebIdentity => ctx.web_token?.as_ref().err().cloned(),
        SourceType::Sso => sso_cache_error(ctx.env, ctx.profile),
        _ => None,
    }
}

/// A profile of static keys, read from the parse already made: aws-config's provider would
/// parse the files a third time to return the same three values
/// (profile/credentials/exec.rs `AccessKey`: id, secret, optional session token).
fn static_keys(ctx: &Ctx<'_>) -> Option<Resolved> {
    let profiles = ctx.profile;
    if !matches!(
        profiles.source_type()?,
        SourceType::SharedCredentialsFile | SourceType::ConfigFile
    ) {
        return None;
    }
    let (id, secret) = (
        profiles.get("aws_access_key_id")?,
        profiles.get("aws_secret_access_key")?,
    );
    Some(Resolved {
        creds: Creds {
            access_key_id: KeyId::new(id),
            secret_access_key: Secret::new(secret),
            session_token: profiles.get("aws_session_token").map(Secret::new),
            expiration: None,
        },
        role_arn: None,
        account_id: profiles.get("aws_account_id").map(str::to_string),
        region: None,
        detail: None,
        http_status: None,
    })
}

/// aws-config signs AssumeRole with static keys from the files (or the environment, for
/// `credential_source = Environment`); keys it cannot put in a header would abort it.
fn unsignable_profile(ctx: &Ctx<'_>) -> Option<Error> {
    const KEYS: [&str; 3] = [
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    ];
    let set = ctx.profile.set.as_ref().ok()?;
    let from_files = set.profiles().find(|name| {
        set.get_profile(name).is_some_and(|p| {
            KEYS.iter()
                .filter_map(|k| p.get(k))
                .any(|v| !crate::secret::is_header_safe(v.trim()))
        })
    });
    let env_bad = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ]
    .iter()
    .filter_map(|k| ctx.env.non_blank(k))
    .any(|v| !crate::secret::is_header_safe(v.trim()));
    let via_env = env_bad && ctx.profile.get("credential_source") == Some("Environment");
    let what = match (from_files, via_env) {
        (Some(name), _) => format!("the profile {name:?} holds credentials"),
        (None, true) => "credential_source = Environment uses env credentials that hold".into(),
        (None, false) => return None,
    };
    Some(Error::config(
        "profile-credentials-malformed",
        format!("{what} with spaces, control characters or non-ASCII bytes: no request can be signed with them"),
        "fix the aws_access_key_id / aws_secret_access_key / aws_session_token values (stray quotes, CR, pasted text)",
    ))
}

/// SSO token caches are small JSON files; anything larger is not one.
const SSO_CACHE_CAP: u64 = 1024 * 1024;

/// aws-config sso/cache.rs `cached_token_path`: `$HOME/.aws/sso/cache/<sha1(id)>.json`, the
/// id being the `sso_session` name, else the `sso_start_url`. A missing file is aws-config's
/// own (clear) error; anything else that is not a small regular file is refused here.
fn sso_cache_error(env: &Env, profiles: &Profiles) -> Option<Error> {
    use sha1::{Digest, Sha1};
    let id = profiles
        .get("sso_session")
        .or_else(|| profiles.get("sso_start_url"))?;
    let hash: String = Sha1::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = env
        .home()?
        .join(".aws/sso/cache")
        .join(format!("{hash}.json"));
    match env.read_file(&path, SSO_CACHE_CAP) {
        Ok(_) => None,
        Err(crate::file::FileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Error::config(
            "sso-cache-unreadable",
            format!("the SSO token cache {} cannot be read: {e}", path.display()),
            "remove the file and run aws sso login again",
        )),
    }
}

/// Turns an aws-config provider's answer into an outcome, bounded by the time left.
pub async fn from_sdk<F>(future: F, ctx: &Ctx<'_>, what: &str) -> Outcome
where
    F: std::future::Future<Output = aws_credential_types::provider::Result>,
{
    let remaining = ctx.budget.remaining();
    match tokio::time::timeout(remaining, future).await {
        Ok(Ok(creds)) => Outcome::Resolved(Box::new(resolved(&creds))),
        Ok(Err(err)) => map_error(&err, what),
        Err(_) => Outcome::Failed {
            error: Error::unreachable(
                "provider-timeout",
                format!("{what} gave no answer within the deadline ({})", crate::duration::human(remaining)),
                "check credential_process, the STS endpoint and the network; raise --deadline if it is merely slow",
            ),
            http_status: None,
        },
    }
}

fn resolved(creds: &aws_credential_types::Credentials) -> Resolved {
    Resolved {
        creds: Creds {
            access_key_id: KeyId::new(creds.access_key_id()),
            secret_access_key: Secret::new(creds.secret_access_key()),
            session_token: creds.session_token().map(Secret::new),
            expiration: creds.expiry(),
        },
        role_arn: None,
        account_id: creds.account_id().map(|a| a.as_str().to_string()),
        region: None,
        detail: None,
        http_status: None,
    }
}

fn map_error(err: &CredentialsError, what: &str) -> Outcome {
    let text = sanitize_foreign(&crate::error::chain_text(err), 400);
    let failed = |error| Outcome::Failed {
        error,
        http_status: None,
    };
    match err {
        CredentialsError::CredentialsNotLoaded(_) => Outcome::NotLoaded(text),
        CredentialsError::ProviderTimedOut(_) => failed(Error::unreachable(
            "provider-timeout",
            format!("{what} timed out: {text}"),
            "check the network path to STS/SSO",
        )),
        CredentialsError::InvalidConfiguration(_) => failed(Error::config(
            "provider-config",
            format!("{what} is misconfigured: {text}"),
            "fix the profile or the variables named above",
        )),
        _ if is_transport(&text) => failed(Error::unreachable(
            "provider-unreachable",
            format!("{what} failed: {text}"),
            "check the network path to STS/SSO, and AWS_ENDPOINT_URL_STS",
        )),
        _ => failed(Error::problem(
            "provider-failed",
            format!("{what} failed: {text}"),
            "the message above names the cause; fix it in the profile or the role's trust policy",
        )),
    }
}

fn is_transport(text: &str) -> bool {
    [
        "dispatch failure",
        "timeout",
        "timed out",
        "Connection refused",
        "io error",
    ]
    .iter()
    .any(|s| text.contains(s))
}

/// Under `--pid`, the profile chain's `credential_source = Environment` reads the process's
/// env keys, not credcheck's.
pub fn with_process_env(builder: ProfileBuilder, env: &Env) -> ProfileBuilder {
    match env.root() {
        Some(_) => builder.with_custom_provider("Environment", ProcessEnvKeys(env.clone())),
        None => builder,
    }
}

type ProfileBuilder = aws_config::profile::credentials::Builder;

/// The env keys of the evaluated process, as aws-config's environment provider reads them.
struct ProcessEnvKeys(Env);

impl std::fmt::Debug for ProcessEnvKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProcessEnvKeys(..)")
    }
}

impl ProvideCredentials for ProcessEnvKeys {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(self.keys())
    }
}

impl ProcessEnvKeys {
    fn keys(&self) -> provider::Result {
        match env_vars::resolve(&self.0) {
            Outcome::Resolved(r) => Ok(Credentials::new(
                r.creds.access_key_id.expose(),
                r.creds.secret_access_key.expose(),
                r.creds
                    .session_token
                    .as_ref()
                    .map(|t| t.expose().to_string()),
                None,
                "Environment",
            )),
            _ => Err(CredentialsError::not_loaded(
                "the process's environment has no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_runtime::env_config::file::EnvConfigFiles;

    /// aws-config is the oracle (issue 21): `AWS_CONFIG_FILE=/dev/null` is an empty file for
    /// its loader, and so for credcheck (botocore's answer: tests/conformance/botocore.rs).
    #[tokio::test]
    async fn dev_null_profile_files_are_empty_for_aws_config_and_for_credcheck() {
        let vars = [
            (CONFIG_FILE, "/dev/null"),
            (CREDENTIALS_FILE, "/dev/null"),
            ("HOME", "/nonexistent"),
        ];
        let oracle = aws_config::profile::load(
            &aws_types::os_shim_internal::Fs::real(),
            &aws_types::os_shim_internal::Env::from_slice(&vars),
            &EnvConfigFiles::default(),
            None,
        )
        .await
        .expect("aws-config reads /dev/null");
        assert_eq!(oracle.profiles().count(), 0);
        let env = Env::from_pairs(vars, std::time::SystemTime::now());
        let ours = Profiles::load(&env).await;
        assert!(ours.unreadable.is_none(), "{:?}", ours.unreadable);
        assert_eq!(ours.set.as_ref().map(|s| s.profiles().count()), Ok(0));
    }
}
