//! Differential test against botocore: for each environment in [`CASES`], `aws configure list`
//! (awscli 1.x from the project venv, `$CREDCHECK_VENV` or `<repo>/.venv`, made by
//! `scripts/test`) and `credcheck --no-sts --format json` run with the same cleared environment,
//! and their answers are compared: the source type (aws-configure-list names) and the last four
//! characters of the access key id.
//!
//! Peers, all on 127.0.0.1: one [`Replay`] fake answers the container endpoint (ECS JSON), IMDSv2
//! and SSO GetRoleCredentials; one moto server answers STS. `aws configure list` is not lazy
//! about roles: it calls AssumeRole/AssumeRoleWithWebIdentity to show the key, as credcheck's
//! aws-config providers do, so both tools get `AWS_ENDPOINT_URL_STS` = moto. Moto issues a new
//! key per call, so those cases compare types only. (tests/support/{peer,moto}.rs were being
//! written alongside this module; it keeps its own small replay fake and moto launcher.)
//!
//! Every environment gets: `PATH=/usr/bin:/bin`, `HOME=<tmp>`, `AWS_EC2_METADATA_DISABLED=true`
//! (a case may set it to `false` to reach the IMDS fake), `AWS_REGION`/`AWS_DEFAULT_REGION`
//! (botocore reads only the latter), and every endpoint variable pointing at a loopback peer.
//!
//! `aws configure list` shows botocore's resolver (`session.get_credentials()`), except that it
//! reads `AWS_ACCESS_KEY_ID` from the environment itself first. Where botocore's order genuinely
//! differs from Rust's (web identity before a profile that has no `role_arn`; partial env keys
//! are an error there), the case expects the difference and requires credcheck's note or warning
//! about it. Every other disagreement fails the test.
//!
//! Without the venv the test prints a SKIP line, or panics when `CI=true`.

use super::harness::{self, Ran, Vars};
use super::replay::{Exchange, Replay};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

const MOTO_START_LIMIT: Duration = Duration::from_secs(60);
/// Environments run this many at a time (two cores; each run is a Python start-up).
const PARALLEL: usize = 4;
/// credcheck's `source` when nothing resolved, and `aws configure list`'s `<not set>`.
const NONE: &str = "none";
/// The "source" of a tool that failed.
const ERROR: &str = "error";

/// What the two tools must say.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Both name this source type, with the same last four characters of the key.
    Same(&'static str),
    /// Both name this type (moto mints a different key for each caller).
    SameType(&'static str),
    /// [`Expect::Same`], and credcheck notes another SDK's divergence (`notes[].code`).
    SameWithNote(&'static str, &'static str),
    /// The orders differ: botocore picks one type, credcheck another, and credcheck says so
    /// with this code in `notes[]` or `warnings[]`.
    Differs {
        botocore: &'static str,
        credcheck: &'static str,
        marker: &'static str,
    },
}

/// One environment. `{home}`, `{fake}` and `{sts}` in values and file contents are replaced by
/// the temp HOME, the fake's URL and moto's URL. Files are relative to HOME; those under
/// `bin/` are made executable.
struct Case {
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
    files: &'static [(&'static str, &'static str)],
    expect: Expect,
}

const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY0";
const KEY_CONTAINER: &str = "ASIAEXAMPLEKEYS0CONT";
const KEY_IMDS: &str = "ASIAEXAMPLEKEYS0IMDS";
const KEY_SSO: &str = "ASIAEXAMPLEKEYS00SSO";
const SSO_ACCOUNT: &str = "123456789012";
const SSO_ROLE: &str = "SsoRole";

const ENV_KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEKEYS0ENV1"),
    ("AWS_SECRET_ACCESS_KEY", "env-secret-value-0001"),
];
const IRSA: [(&str, &str); 2] = [
    ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa"),
    ("AWS_WEB_IDENTITY_TOKEN_FILE", "{home}/token/jwt"),
];
const FULL_URI: (&str, &str) = ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "{fake}/ecs/creds");
const IMDS_ON: (&str, &str) = ("AWS_EC2_METADATA_DISABLED", "false");

const CREDS_DEFAULT: (&str, &str) =
    (".aws/credentials", "[default]\naws_access_key_id = AKIAEXAMPLEKEYS0CRED\naws_secret_access_key = cred-secret-value\n");
const CONFIG_DEFAULT: (&str, &str) =
    (".aws/config", "[default]\naws_access_key_id = AKIAEXAMPLEKEYS0CONF\naws_secret_access_key = conf-secret-value\n");
const CREDS_DEV: (&str, &str) = (
    ".aws/credentials",
    "[dev]\naws_access_key_id = AKIAEXAMPLEKEYS0CDEV\naws_secret_access_key = dev-secret-value\n",
);
const CONFIG_DEV: (&str, &str) =
    (".aws/config", "[profile dev]\naws_access_key_id = AKIAEXAMPLEKEYS0FDEV\naws_secret_access_key = dev-secret-value\n");
const CREDS_BASE: (&str, &str) = (
    ".aws/credentials",
    "[base]\naws_access_key_id = AKIAEXAMPLEKEYS0BASE\naws_secret_access_key = base-secret-value\n",
);
const CONFIG_ROLE: (&str, &str) = (
    ".aws/config",
    "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n",
);
const CONFIG_ROLE_DEFAULT: (&str, &str) = (
    ".aws/config",
    "[default]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n",
);
const CONFIG_ROLE_CHAIN: (&str, &str) = (
    ".aws/config",
    "[profile outer]\nrole_arn = arn:aws:iam::123456789012:role/outer\nsource_profile = role\n\n\
     [profile role]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\n",
);
const CONFIG_ROLE_FROM_PROCESS: (&str, &str) = (
    ".aws/config",
    "[profile role]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = proc\n\n\
     [profile proc]\ncredential_process = {home}/bin/creds\n",
);
const CONFIG_PROCESS_DEFAULT: (&str, &str) = (
    ".aws/config",
    "[default]\ncredential_process = {home}/bin/creds\n",
);
const CONFIG_PROCESS_AND_KEYS: (&str, &str) = (
    ".aws/config",
    "[default]\ncredential_process = {home}/bin/creds\n\
     aws_access_key_id = AKIAEXAMPLEKEYS0CONF\naws_secret_access_key = conf-secret-value\n",
);
const CONFIG_PROCESS: (&str, &str) = (
    ".aws/config",
    "[profile proc]\ncredential_process = {home}/bin/creds\n",
);
const CONFIG_WEB_IDENTITY: (&str, &str) =
    (".aws/config", "[profile web]\nrole_arn = arn:aws:iam::123456789012:role/web\nweb_identity_token_file = {home}/token/jwt\n");
const CONFIG_SSO: (&str, &str) = (
    ".aws/config",
    "[profile sso]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n\
     sso_account_id = 123456789012\nsso_role_name = SsoRole\n",
);
/// The cache file's name is the SHA-1 of the start URL, as both SDKs compute it.
const SSO_CACHE: (&str, &str) = (
    ".aws/sso/cache/e8be5486177c5b5392bd9aa76563515b29358e6e.json",
    r#"{"accessToken":"Sa7kT2wQ9mX4vL8sR3nZ","expiresAt":"2099-01-01T00:00:00Z","startUrl":"https://example.awsapps.com/start","region":"us-east-1"}"#,
);
const PROCESS_SCRIPT: (&str, &str) = (
    "bin/creds",
    "#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"ASIAEXAMPLEKEYS0PROC\",\"SecretAccessKey\":\"Pr7xK2mQ9vL4sT8wZ3nB\",\"SessionToken\":\"Ps3kW8nM2xQ7vR4tL9zC\"}'\n",
);
const FAILING_SCRIPT: (&str, &str) = (
    "bin/creds",
    "#!/bin/sh\necho 'no credentials for you' >&2\nexit 1\n",
);
/// A JWT-shaped IRSA token (aud sts.amazonaws.com, exp 2100); moto does not verify it.
const JWT: (&str, &str) = (
    "token/jwt",
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwczovL29pZGMuZXhhbXBsZSIsInN1YiI6InN5c3RlbTpzZXJ2aWNlYWNjb3VudDpkZWZhdWx0OmFwcCIsImF1ZCI6WyJzdHMuYW1hem9uYXdzLmNvbSJdLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJl",
);
const POD_TOKEN: (&str, &str) = ("token/pod", "Pd5tK9wQ3mX7vL2sR8nZ");

const fn case(
    name: &'static str,
    env: &'static [(&'static str, &'static str)],
    files: &'static [(&'static str, &'static str)],
    expect: Expect,
) -> Case {
    Case {
        name,
        env,
        files,
        expect,
    }
}

const CASES: &[Case] = &[
    // Static keys: env, credentials file, config file.
    case("env_keys", &ENV_KEYS, &[], Expect::Same("env")),
    case(
        "env_keys_with_session_token",
        &[
            ENV_KEYS[0],
            ENV_KEYS[1],
            ("AWS_SESSION_TOKEN", "Es4kW9nQ2mX7vL3tR8sZ"),
        ],
        &[],
        Expect::Same("env"),
    ),
    case(
        "env_keys_beat_credentials_file",
        &ENV_KEYS,
        &[CREDS_DEFAULT],
        Expect::Same("env"),
    ),
    case(
        "env_keys_beat_aws_profile",
        &[ENV_KEYS[0], ENV_KEYS[1], ("AWS_PROFILE", "dev")],
        &[CREDS_DEV],
        Expect::SameWithNote("env", "js-skips-env-keys"),
    ),
    case(
        "credentials_file_default",
        &[],
        &[CREDS_DEFAULT],
        Expect::Same("shared-credentials-file"),
    ),
    case(
        "config_file_default",
        &[],
        &[CONFIG_DEFAULT],
        Expect::Same("config-file"),
    ),
    case(
        "credentials_file_beats_config_file",
        &[],
        &[CREDS_DEFAULT, CONFIG_DEFAULT],
        Expect::Same("shared-credentials-file"),
    ),
    case(
        "aws_profile_in_credentials_file",
        &[("AWS_PROFILE", "dev")],
        &[CREDS_DEV],
        Expect::Same("shared-credentials-file"),
    ),
    case(
        "aws_profile_in_config_file",
        &[("AWS_PROFILE", "dev")],
        &[CONFIG_DEV],
        Expect::Same("config-file"),
    ),
    case(
        "custom_credentials_file_path",
        &[("AWS_SHARED_CREDENTIALS_FILE", "{home}/elsewhere/creds")],
        &[("elsewhere/creds", CREDS_DEFAULT.1)],
        Expect::Same("shared-credentials-file"),
    ),
    case(
        "custom_config_file_path",
        &[
            ("AWS_CONFIG_FILE", "{home}/elsewhere/config"),
            ("AWS_PROFILE", "dev"),
        ],
        &[("elsewhere/config", CONFIG_DEV.1)],
        Expect::Same("config-file"),
    ),
    // Roles through moto.
    case(
        "assume_role_source_profile",
        &[("AWS_PROFILE", "role")],
        &[CONFIG_ROLE, CREDS_BASE],
        Expect::SameType("assume-role"),
    ),
    case(
        "assume_role_default_profile",
        &[],
        &[CONFIG_ROLE_DEFAULT, CREDS_BASE],
        Expect::SameType("assume-role"),
    ),
    case(
        "assume_role_chained",
        &[("AWS_PROFILE", "outer")],
        &[CONFIG_ROLE_CHAIN, CREDS_BASE],
        Expect::SameType("assume-role"),
    ),
    case(
        "assume_role_from_credential_process",
        &[("AWS_PROFILE", "role")],
        &[CONFIG_ROLE_FROM_PROCESS, PROCESS_SCRIPT],
        Expect::SameType("assume-role"),
    ),
    case(
        "env_keys_beat_assume_role_profile",
        &ENV_KEYS,
        &[CONFIG_ROLE_DEFAULT, CREDS_BASE],
        Expect::Same("env"),
    ),
    case(
        "web_identity_env",
        &IRSA,
        &[JWT],
        Expect::SameType("assume-role-with-web-identity"),
    ),
    case(
        "web_identity_profile",
        &[("AWS_PROFILE", "web")],
        &[CONFIG_WEB_IDENTITY, JWT],
        Expect::SameType("assume-role-with-web-identity"),
    ),
    case(
        "web_identity_beats_container",
        &[IRSA[0], IRSA[1], FULL_URI],
        &[JWT],
        Expect::SameType("assume-role-with-web-identity"),
    ),
    // botocore's assume-role provider comes before its web identity provider, as in Rust.
    case(
        "assume_role_profile_with_irsa_env",
        &[IRSA[0], IRSA[1], ("AWS_PROFILE", "role")],
        &[CONFIG_ROLE, CREDS_BASE, JWT],
        Expect::SameType("assume-role"),
    ),
    // credential_process.
    case(
        "credential_process_default",
        &[],
        &[CONFIG_PROCESS_DEFAULT, PROCESS_SCRIPT],
        Expect::Same("custom-process"),
    ),
    case(
        "credential_process_profile",
        &[("AWS_PROFILE", "proc")],
        &[CONFIG_PROCESS, PROCESS_SCRIPT],
        Expect::Same("custom-process"),
    ),
    // Container endpoint (FULL_URI on loopback).
    case(
        "container_full_uri",
        &[FULL_URI],
        &[],
        Expect::Same("container-role"),
    ),
    case(
        "container_full_uri_with_token",
        &[
            FULL_URI,
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Ck2tW7nQ4mX9vL3sR8zB"),
        ],
        &[],
        Expect::Same("container-role"),
    ),
    case(
        "container_full_uri_with_token_file",
        &[
            FULL_URI,
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "{home}/token/pod"),
        ],
        &[POD_TOKEN],
        Expect::Same("container-role"),
    ),
    case(
        "container_token_and_token_file",
        &[
            FULL_URI,
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Ck2tW7nQ4mX9vL3sR8zB"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "{home}/token/pod"),
        ],
        &[POD_TOKEN],
        Expect::SameWithNote("container-role", "java-prefers-token-env"),
    ),
    // "No config" as people write it (issue 21): every SDK reads /dev/null, and an empty
    // file, as an empty file, and goes on to the container endpoint.
    case(
        "config_files_dev_null_then_container",
        &[
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
            FULL_URI,
        ],
        &[],
        Expect::Same("container-role"),
    ),
    case(
        "config_files_empty_then_container",
        &[
            ("AWS_CONFIG_FILE", "{home}/empty"),
            ("AWS_SHARED_CREDENTIALS_FILE", "{home}/empty"),
            FULL_URI,
        ],
        &[("empty", "")],
        Expect::Same("container-role"),
    ),
    case(
        "env_keys_beat_container",
        &[ENV_KEYS[0], ENV_KEYS[1], FULL_URI],
        &[],
        Expect::Same("env"),
    ),
    case(
        "profile_beats_container",
        &[FULL_URI],
        &[CREDS_DEFAULT],
        Expect::Same("shared-credentials-file"),
    ),
    // IMDS (faked through AWS_EC2_METADATA_SERVICE_ENDPOINT) and nothing at all.
    case("imds", &[IMDS_ON], &[], Expect::Same("iam-role")),
    case(
        "container_beats_imds",
        &[IMDS_ON, FULL_URI],
        &[],
        Expect::Same("container-role"),
    ),
    case(
        "profile_beats_imds",
        &[IMDS_ON],
        &[CREDS_DEFAULT],
        Expect::Same("shared-credentials-file"),
    ),
    case("nothing_configured", &[], &[], Expect::Same(NONE)),
    // Both stop on a broken configuration instead of falling through.
    case(
        "aws_profile_missing",
        &[("AWS_PROFILE", "ghost")],
        &[CREDS_DEFAULT],
        Expect::Same(ERROR),
    ),
    case(
        "credential_process_fails",
        &[],
        &[CONFIG_PROCESS_DEFAULT, FAILING_SCRIPT],
        Expect::Same(ERROR),
    ),
    // Within one profile both take credential_process before keys in the config file.
    case(
        "process_beats_config_file_keys",
        &[],
        &[CONFIG_PROCESS_AND_KEYS, PROCESS_SCRIPT],
        Expect::Same("custom-process"),
    ),
    // SSO (legacy profile keys, cached token).
    case(
        "sso_profile",
        &[("AWS_PROFILE", "sso")],
        &[CONFIG_SSO, SSO_CACHE],
        Expect::Same("sso"),
    ),
    // Genuine order differences (reference.md: botocore tries web identity before profiles,
    // except role_arn profiles, whose assume-role provider comes first).
    case(
        "credentials_file_keys_with_irsa_env",
        &IRSA,
        &[CREDS_DEFAULT, JWT],
        Expect::Differs {
            botocore: "assume-role-with-web-identity",
            credcheck: "shared-credentials-file",
            marker: "web-identity-before-profile",
        },
    ),
    case(
        "config_file_keys_with_irsa_env",
        &IRSA,
        &[CONFIG_DEFAULT, JWT],
        Expect::Differs {
            botocore: "assume-role-with-web-identity",
            credcheck: "config-file",
            marker: "web-identity-before-profile",
        },
    ),
    case(
        "process_profile_with_irsa_env",
        &IRSA,
        &[CONFIG_PROCESS_DEFAULT, PROCESS_SCRIPT, JWT],
        Expect::Differs {
            botocore: "assume-role-with-web-identity",
            credcheck: "custom-process",
            marker: "web-identity-before-profile",
        },
    ),
    case(
        "sso_profile_with_irsa_env",
        &[IRSA[0], IRSA[1], ("AWS_PROFILE", "sso")],
        &[CONFIG_SSO, SSO_CACHE, JWT],
        Expect::Differs {
            botocore: "assume-role-with-web-identity",
            credcheck: "sso",
            marker: "web-identity-before-profile",
        },
    ),
    // botocore: shared-credentials-file before custom-process (credentials.py ProfileProviderBuilder);
    // aws-config: credential_process before static keys (profile/credentials/repr.rs base_provider).
    case(
        "process_and_credentials_file_keys",
        &[],
        &[CONFIG_PROCESS_DEFAULT, PROCESS_SCRIPT, CREDS_DEFAULT],
        Expect::Differs {
            botocore: "shared-credentials-file",
            credcheck: "custom-process",
            marker: "botocore-keys-before-process",
        },
    ),
    // A key id without its secret: botocore fails (PartialCredentialsError); the Rust SDK skips
    // the env source and goes on. credcheck warns.
    case(
        "partial_env_keys",
        &[ENV_KEYS[0]],
        &[CREDS_DEFAULT],
        Expect::Differs {
            botocore: ERROR,
            credcheck: "shared-credentials-file",
            marker: "partial-env-keys",
        },
    ),
];

/// The venv, or None after a SKIP line (a panic under `CI=true`).
fn venv() -> Option<PathBuf> {
    let dir = match std::env::var_os("CREDCHECK_VENV") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv"),
    };
    if dir.join("bin/aws").is_file() && dir.join("bin/moto_server").is_file() {
        return Some(dir);
    }
    let why = format!("{} has no bin/aws and bin/moto_server", dir.display());
    if matches!(std::env::var("CI").as_deref(), Ok("true")) {
        panic!("botocore differential: {why}; run scripts/test");
    }
    crate::support::say!("SKIP botocore_differential: {why} (run scripts/test to create it)");
    None
}

/// moto on 127.0.0.1, killed (by its pid, through the `Child`) when dropped.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start(venv: &Path, home: &Path) -> Moto {
        let mut cmd = Command::new(venv.join("bin/moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", "0"])
            .env_clear()
            .env("PATH", harness::PATH)
            .env("HOME", home);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let stderr = child.stderr.take().expect("moto stderr");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("Running on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx.recv_timeout(MOTO_START_LIMIT).unwrap_or_else(|_| {
            panic!("moto printed no 'Running on' line within {MOTO_START_LIMIT:?}")
        });
        Moto { child, url }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fake container endpoint, IMDS and SSO portal.
fn fake_peer() -> Replay {
    let expiration = "2099-01-01T00:00:00Z";
    let ecs = format!(
        r#"{{"RoleArn":"arn:aws:iam::123456789012:role/task","AccessKeyId":"{KEY_CONTAINER}","SecretAccessKey":"{SECRET}","Token":"Ct9sQ2vX7mKp4LzR8wN3","Expiration":"{expiration}"}}"#
    );
    let imds = format!(
        r#"{{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"{KEY_IMDS}","SecretAccessKey":"{SECRET}","Token":"Im4sR7kW2nQ9xL3vT8mZ","Expiration":"{expiration}"}}"#
    );
    let sso = format!(
        r#"{{"roleCredentials":{{"accessKeyId":"{KEY_SSO}","secretAccessKey":"{SECRET}","sessionToken":"So8nK3wQ7mX2vL9tR4sZ","expiration":4070908800000}}}}"#
    );
    Replay::start(vec![
        Exchange::new("GET", "/ecs/creds", 200, ecs),
        Exchange::new("PUT", "/latest/api/token", 200, "It6kQ2wM9xL4vR7nT3sZ"),
        Exchange::new(
            "GET",
            "/latest/meta-data/iam/security-credentials/",
            200,
            "fake-role",
        ),
        Exchange::new(
            "GET",
            "/latest/meta-data/iam/security-credentials/fake-role",
            200,
            imds,
        ),
        Exchange::new(
            "GET",
            &format!("/federation/credentials?account_id={SSO_ACCOUNT}&role_name={SSO_ROLE}"),
            200,
            sso,
        ),
    ])
}

/// URLs of the peers, substituted into the cases.
struct Peers {
    fake: String,
    sts: String,
}

fn fill(template: &str, home: &Path, peers: &Peers) -> String {
    template
        .replace("{home}", &home.display().to_string())
        .replace("{fake}", &peers.fake)
        .replace("{sts}", &peers.sts)
}

fn write_files(case: &Case, home: &Path, peers: &Peers) {
    for (relative, contents) in case.files {
        let path = home.join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create_dir_all");
        std::fs::write(&path, fill(contents, home, peers)).expect("write a case file");
        if relative.starts_with("bin/") {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("chmod +x");
        }
    }
}

fn case_env(case: &Case, home: &Path, peers: &Peers) -> Vars {
    let defaults = [
        ("HOME", "{home}"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "{fake}"),
        ("AWS_ENDPOINT_URL_STS", "{sts}"),
        ("AWS_ENDPOINT_URL_SSO", "{fake}"),
        ("AWS_ENDPOINT_URL_SSO_OIDC", "{fake}"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "{fake}"),
    ];
    let pairs = defaults.iter().chain(case.env.iter());
    pairs
        .map(|(k, v)| (k.to_string(), fill(v, home, peers)))
        .collect()
}

/// One tool's answer: the source type (or [`NONE`]) and the key's last four characters.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    source: String,
    last4: Option<String>,
    /// Why the tool failed, when `source` is [`ERROR`].
    detail: Option<String>,
}

impl Answer {
    fn new(source: &str, last4: Option<String>) -> Answer {
        Answer {
            source: source.to_string(),
            last4,
            detail: None,
        }
    }
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} …{}",
            self.source,
            self.last4.as_deref().unwrap_or("?")
        )?;
        match &self.detail {
            Some(detail) => write!(f, " ({detail})"),
            None => Ok(()),
        }
    }
}

fn aws_configure_list(venv: &Path, vars: &Vars) -> Result<Answer, String> {
    harness::ensure_loopback_only(vars);
    let mut cmd = Command::new(venv.join("bin/aws"));
    cmd.env_clear()
        .env("PATH", harness::PATH)
        .envs(vars)
        .args(["configure", "list"]);
    let ran = harness::run(cmd, harness::LIMIT);
    match ran.code {
        Some(0) => parse_configure_list(&ran.stdout),
        code if ran.timed_out || code.is_none() => Err(format!(
            "aws configure list was killed: {}",
            ran.stderr.trim()
        )),
        code => Ok(Answer {
            detail: Some(format!("exit {code:?}: {}", ran.stderr.trim())),
            ..Answer::new(ERROR, None)
        }),
    }
}

/// The `access_key` row: `access_key  ****************1234  shared-credentials-file  …`.
fn parse_configure_list(stdout: &str) -> Result<Answer, String> {
    let row = stdout
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("access_key "))
        .ok_or_else(|| format!("no access_key row in {stdout:?}"))?;
    let cells: Vec<&str> = row.split_whitespace().collect();
    match cells.as_slice() {
        [_, "<not", "set>", ..] => Ok(Answer::new(NONE, None)),
        [_, value, source, ..] if value.starts_with('*') => {
            Ok(Answer::new(source, Some(last4(value))))
        }
        _ => Err(format!("cannot read the access_key row {row:?}")),
    }
}

fn last4(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// credcheck's answer; a run that stopped on an error (not just "no credentials") is [`ERROR`].
fn credcheck_answer(report: &Value) -> Answer {
    let last4 = report["access_key_id"]
        .as_str()
        .and_then(|k| k.split('…').nth(1))
        .map(str::to_string);
    match (
        report["source"].as_str(),
        harness::codes(report, "errors").first(),
    ) {
        (Some(source), _) => Answer::new(source, last4),
        (None, None | Some(&"no-credentials")) => Answer::new(NONE, None),
        (None, Some(code)) => Answer {
            detail: Some(code.to_string()),
            ..Answer::new(ERROR, None)
        },
    }
}

/// Both tools' answers for one case, and credcheck's report.
struct Observed {
    botocore: Answer,
    credcheck: Answer,
    report: Value,
}

fn observe(case: &Case, venv: &Path, peers: &Peers) -> Result<Observed, String> {
    let home = tempfile::tempdir().expect("tempdir");
    write_files(case, home.path(), peers);
    let vars = case_env(case, home.path(), peers);
    let botocore = aws_configure_list(venv, &vars)?;
    let ran: Ran = harness::run(harness::credcheck(&vars), harness::LIMIT);
    let report = harness::report(&ran)?;
    if ran.contains(SECRET) {
        return Err("credcheck printed a secret access key".into());
    }
    Ok(Observed {
        botocore,
        credcheck: credcheck_answer(&report),
        report,
    })
}

fn has_marker(report: &Value, code: &str) -> bool {
    harness::codes(report, "notes").contains(&code)
        || harness::codes(report, "warnings").contains(&code)
}

fn judge(expect: Expect, seen: &Observed) -> Result<(), String> {
    let (b, c) = (&seen.botocore, &seen.credcheck);
    let agree = |source: &str, keys: bool| {
        b.source == source && c.source == source && (!keys || b.last4 == c.last4)
    };
    let ok = match expect {
        Expect::Same(source) => agree(source, true),
        Expect::SameType(source) => agree(source, false),
        Expect::SameWithNote(source, note) => agree(source, true) && has_marker(&seen.report, note),
        Expect::Differs {
            botocore,
            credcheck,
            marker,
        } => b.source == botocore && c.source == credcheck && has_marker(&seen.report, marker),
    };
    match ok {
        true => Ok(()),
        false => Err(format!(
            "expected {expect:?}; botocore: {b}, credcheck: {c} (notes {:?}, warnings {:?}; {})",
            harness::codes(&seen.report, "notes"),
            harness::codes(&seen.report, "warnings"),
            harness::summary(&seen.report)
        )),
    }
}

fn run_case(case: &Case, venv: &Path, peers: &Peers) -> Result<(), String> {
    observe(case, venv, peers).and_then(|seen| judge(case.expect, &seen))
}

/// Runs every case, [`PARALLEL`] at a time, in [`CASES`] order.
fn run_all(venv: &Path, peers: &Peers) -> Vec<(&'static str, Result<(), String>)> {
    let mut results = Vec::new();
    for chunk in CASES.chunks(PARALLEL) {
        thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|c| (c.name, s.spawn(|| run_case(c, venv, peers))))
                .collect();
            for (name, handle) in handles {
                results.push((
                    name,
                    handle.join().unwrap_or_else(|_| Err("panicked".into())),
                ));
            }
        });
    }
    results
}

#[test]
fn botocore_differential() {
    let Some(venv) = venv() else { return };
    let moto_home = tempfile::tempdir().expect("tempdir");
    let moto = Moto::start(&venv, moto_home.path());
    let fake = fake_peer();
    let peers = Peers {
        fake: fake.url(),
        sts: moto.url.clone(),
    };
    let results = run_all(&venv, &peers);
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(n, r)| r.as_ref().err().map(|why| format!("{n}: {why}")))
        .collect();
    crate::support::say!(
        "botocore differential: {}/{} environments as expected",
        results.len() - failures.len(),
        results.len()
    );
    for failure in &failures {
        crate::support::say!("  FAIL {failure}");
    }
    assert!(
        failures.is_empty(),
        "{} environment(s) disagree with botocore:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
