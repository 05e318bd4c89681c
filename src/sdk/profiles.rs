//! The shared config and credentials files, as the SDK sees them: read once (a missing file
//! is an empty one, `/dev/null` too; at most 4 MiB each), parsed with aws-config's own parser
//! under the evaluated process's variables and root, every secret in them registered, and the
//! selected profile classified by aws-config's precedence (`resolve_chain`,
//! profile/credentials/repr.rs). `chain::profile` resolves the selected profile; `sdk` takes
//! its region and endpoints from it.
//! Reads: AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, HOME.

use crate::creds::SourceType;
use crate::env::Env;
use crate::error::Error;
use crate::secret::sanitize_foreign;
use aws_config::profile::{Profile, ProfileSet};
use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use std::path::PathBuf;

pub const PROFILE: &str = "AWS_PROFILE";
pub const CONFIG_FILE: &str = "AWS_CONFIG_FILE";
pub const CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";

/// The profile files as the SDK sees them.
#[derive(Debug)]
pub struct Profiles {
    pub selected: String,
    /// `AWS_PROFILE` names the profile (rather than the implicit `default`).
    pub explicit: bool,
    pub config_path: PathBuf,
    pub credentials_path: PathBuf,
    pub set: Result<ProfileSet, String>,
    /// The files' contents, read once, for aws-config's provider.
    files: EnvConfigFiles,
    /// The selected profile has keys in the credentials file (not the config file).
    keys_in_credentials_file: bool,
    /// A profile file exists but cannot be read (not a regular file, too large, …).
    pub unreadable: Option<Error>,
}

impl Profiles {
    /// Reads each file once; the parser, the classification and aws-config's provider all
    /// work from these contents.
    pub async fn load(env: &Env) -> Profiles {
        let selected = env.non_blank(PROFILE).map(|p| p.trim().to_string());
        let config_path = path(env, CONFIG_FILE, "~/.aws/config");
        let credentials_path = path(env, CREDENTIALS_FILE, "~/.aws/credentials");
        let (config, config_err) = read_text(env, &config_path, CONFIG_FILE);
        let (credentials, credentials_err) = read_text(env, &credentials_path, CREDENTIALS_FILE);
        let files = EnvConfigFiles::builder()
            .with_contents(EnvConfigFileKind::Config, config)
            .with_contents(EnvConfigFileKind::Credentials, credentials.clone())
            .build();
        let set = parse(env, &files)
            .await
            .map_err(|e| sanitize_foreign(&crate::error::chain_text(&e), 300));
        let name = selected.clone().unwrap_or_else(|| "default".into());
        let keys_in_credentials_file = has_keys_in_section(&credentials, &name);
        tracing::debug!("profile files parsed");
        if let Ok(set) = &set {
            register_secrets(set);
        }
        tracing::debug!("profile secrets registered");
        Profiles {
            explicit: selected.is_some(),
            selected: name,
            config_path,
            credentials_path,
            set,
            files,
            keys_in_credentials_file,
            unreadable: config_err.or(credentials_err),
        }
    }

    pub fn profile(&self) -> Option<&Profile> {
        self.set
            .as_ref()
            .ok()
            .and_then(|s| s.get_profile(&self.selected))
    }

    /// A setting of the selected profile.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.profile()
            .and_then(|p| p.get(key))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// What kind of source the selected profile is, by aws-config's precedence.
    pub fn source_type(&self) -> Option<SourceType> {
        let p = self.profile()?;
        let has = |k: &str| p.get(k).is_some_and(|v| !v.trim().is_empty());
        Some(if has("role_arn") {
            if has("web_identity_token_file") && !has("source_profile") && !has("credential_source")
            {
                SourceType::AssumeRoleWithWebIdentity
            } else {
                SourceType::AssumeRole
            }
        } else if has("web_identity_token_file") {
            SourceType::AssumeRoleWithWebIdentity
        } else if has("sso_session") || has("sso_start_url") {
            SourceType::Sso
        } else if has("credential_process") {
            SourceType::CustomProcess
        } else if has("aws_access_key_id") && self.keys_in_credentials_file {
            SourceType::SharedCredentialsFile
        } else if has("aws_access_key_id") {
            SourceType::ConfigFile
        } else {
            return None;
        })
    }

    /// The files' contents, for aws-config's provider.
    pub fn files(&self) -> &EnvConfigFiles {
        &self.files
    }

    pub fn location(&self) -> String {
        let file = match self.source_type() {
            Some(SourceType::SharedCredentialsFile) => &self.credentials_path,
            _ => &self.config_path,
        };
        format!("{} [profile {}]", file.display(), self.selected)
    }
}

/// Profile files are small text; a missing or unreadable file is an empty one, as for the SDK.
const PROFILE_FILE_CAP: u64 = 4 * 1024 * 1024;

/// Whether the credentials file's `[name]` section sets `aws_access_key_id` (a linear scan:
/// parsing the file a second time costs as much as the first, 0.3 s for 100,000 profiles).
fn has_keys_in_section(credentials: &str, name: &str) -> bool {
    let mut in_section = false;
    for line in credentials.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = header.trim() == name;
        } else if in_section {
            let key = line.split('=').next().unwrap_or_default().trim();
            // aws-config reads property names case-insensitively (profile/parser).
            if key.eq_ignore_ascii_case("aws_access_key_id") && line.contains('=') {
                return true;
            }
        }
    }
    false
}

/// A missing file is an empty one, as for the SDK; any other failure is an error.
fn read_text(env: &Env, path: &std::path::Path, var: &str) -> (String, Option<Error>) {
    match env.read_file(path, PROFILE_FILE_CAP) {
        Ok(bytes) => (String::from_utf8_lossy(&bytes).into_owned(), None),
        Err(crate::file::FileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            (String::new(), None)
        }
        Err(e) => (
            String::new(),
            Some(Error::config(
                "profile-file-unreadable",
                format!(
                    "the profile file {} ({var} or its default) cannot be read: {e}",
                    path.display()
                ),
                format!("point {var} at a regular, readable file, or unset it"),
            )),
        ),
    }
}

/// The contents are already read; the parser still gets the evaluated process's variables and
/// root (`--pid`), never credcheck's own.
async fn parse(
    env: &Env,
    files: &EnvConfigFiles,
) -> Result<ProfileSet, aws_config::profile::ProfileFileLoadError> {
    let (sdk_env, fs) = (super::shims::sdk_env(env), super::shims::sdk_fs(env));
    aws_config::profile::load(&fs, &sdk_env, files, None).await
}

fn path(env: &Env, var: &str, default: &str) -> PathBuf {
    env.expand_home(env.non_blank(var).unwrap_or(default).trim())
}

/// Every profile's secrets, and every key id that is not shaped like one (it may be a
/// secret in the wrong place), in one pass under one lock.
fn register_secrets(set: &ProfileSet) {
    let profiles = set.profiles().filter_map(|name| set.get_profile(name));
    let values = profiles.flat_map(|p| {
        let secrets = ["aws_secret_access_key", "aws_session_token"]
            .into_iter()
            .filter_map(|k| p.get(k));
        let odd_id = p
            .get("aws_access_key_id")
            .filter(|id| !crate::secret::is_key_id(id.trim()));
        secrets.chain(odd_id)
    });
    crate::secret::register_all(values);
}
