//! The hostile sweep (issue "The promise holds by construction"): generated from a list of
//! input channels and a list of injections, so that a new channel gets every injection for
//! free. Every (channel, injection) runs the built binary in both formats at RUST_LOG off,
//! info and trace, and asserts the promise:
//! - no fragment of 8 or more characters of the registered canary, and no fixed canary secret
//!   of the fake peers, in stdout or stderr;
//! - no raw control character (other than the line ends) in text output or logs;
//! - JSON mode: stdout is exactly one JSON line;
//! - a documented exit code (report 0–3, health 0/1), never 101 (panic) or 134 (abort);
//! - finished by `--deadline` + 250 ms.
//!
//! Plus the file sweep (every file-reading input × FIFO, socket, directory, /dev/zero, a 1 GiB
//! sparse file, an unreadable file, a symlink loop) and a resolver that never answers, inside
//! a network namespace this test creates. The sizes are printed to the CI log.
//!
//! Both generated sweeps run inside the egress trap (`support::egress`): after every run they
//! assert that no packet tried to leave loopback, so no run attempted a host that neither a
//! validated Region nor an explicit endpoint named (every endpoint here is a loopback fake).

use crate::support::{self, egress, netns::Netns, peer, say, Output, TestCmd};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Registered in every run (as `AWS_SESSION_TOKEN`, which credcheck registers at start
/// without changing the chain). `/` and `+` make its percent-encoded form differ.
const CANARY: &str = "Sw33p/Canary+Qx7Lm9Vt2Rk4Np6Hb8Jd0Fz";
const DEADLINE: Duration = Duration::from_millis(1500);
const DEADLINE_ARG: &str = "1500ms";
/// The only names an explicit endpoint of the sweep gives (`http://user:` + an injection that
/// holds a `/`, which ends the authority): a lookup of any other name fails the run.
const EXPLICIT_HOSTS: &[&str] = &["user"];
/// The promise: the process is gone by the deadline plus this.
const OVER_DEADLINE: Duration = support::OVER_DEADLINE;
/// Linux caps one environment string at 128 KiB (MAX_ARG_STRLEN): env channels get this much.
const ENV_LARGE: usize = 100 * 1024;
const LARGE: usize = 1024 * 1024;
const LOG_LEVELS: [&str; 3] = ["off", "info", "trace"];
const FORMATS: [&str; 2] = ["json", "text"];

#[derive(Clone, Copy, Debug)]
enum Injection {
    Verbatim,
    InUriPath,
    PercentEncoded,
    SplitByNewline,
    Fragment,
    Controls,
    Large,
    InvalidUtf8,
}

const INJECTIONS: [Injection; 8] = [
    Injection::Verbatim,
    Injection::InUriPath,
    Injection::PercentEncoded,
    Injection::SplitByNewline,
    Injection::Fragment,
    Injection::Controls,
    Injection::Large,
    Injection::InvalidUtf8,
];

fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b.is_ascii_alphanumeric() {
            true => (b as char).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect()
}

impl Injection {
    /// The injected bytes; `env` channels get a smaller large value (see [`ENV_LARGE`]).
    fn bytes(self, env: bool) -> Vec<u8> {
        match self {
            Injection::Verbatim => CANARY.into(),
            Injection::InUriPath => format!("/v2/credentials/{CANARY}/x").into(),
            Injection::PercentEncoded => percent_encoded(CANARY).into(),
            Injection::SplitByNewline => format!("{}\n{}", &CANARY[..17], &CANARY[17..]).into(),
            Injection::Fragment => format!("frag-{}-ment", &CANARY[9..17]).into(),
            Injection::Controls => {
                format!("a\r\nforged line\x1b[2J\x07\u{7f}\u{85}\u{9b}\u{202e}\u{2066}{CANARY}")
                    .into()
            }
            Injection::Large => {
                let mut v = vec![b'A'; if env { ENV_LARGE } else { LARGE }];
                v.extend_from_slice(CANARY.as_bytes());
                v
            }
            Injection::InvalidUtf8 => {
                let mut v = b"\xff\xfe\xc3(\xed\xa0\x80".to_vec();
                v.extend_from_slice(CANARY.as_bytes());
                v
            }
        }
    }
}

/// One run's inputs, built by a channel from the base set-up.
struct Setup {
    cmd: TestCmd,
    plan: peer::Plan,
    /// Env values that need the peer's URL: (name, value with `{peer}`).
    peer_env: Vec<(String, String)>,
    /// Files to write in HOME: (relative path, bytes).
    files: Vec<(String, Vec<u8>)>,
    health: bool,
    /// The CloudWatch Logs / IAM fake (`support::logs`), for the probe's channels; its URL
    /// replaces `{logs}` in `peer_env`.
    logs: Option<support::logs::Plan>,
}

impl Setup {
    fn env(&mut self, key: &str, value: impl AsRef<OsStr>) {
        self.cmd.env(key, value);
    }
    fn env_bytes(&mut self, key: &str, value: &[u8]) {
        self.cmd.env(key, OsStr::from_bytes(value));
    }
    fn file(&mut self, rel: &str, bytes: impl Into<Vec<u8>>) {
        self.files.push((rel.into(), bytes.into()));
    }
    fn home(&self, rel: &str) -> String {
        self.cmd.home_path(rel).display().to_string()
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A JWT whose claims carry `text` (the signature is a fixed canary; it is registered by
/// credcheck as part of the token).
fn jwt_with_claims(text: &str) -> String {
    use base64::Engine;
    let enc = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let claims = serde_json::json!({"iss": text, "sub": text, "aud": [text], "exp": 4102444800u64});
    format!(
        "{}.{}.{}",
        enc(br#"{"alg":"RS256"}"#),
        enc(claims.to_string().as_bytes()),
        support::CANARY_WEB_IDENTITY_SIGNATURE
    )
}

type Apply = fn(&mut Setup, &[u8]);

/// Every input channel: a name and how it carries an injection.
fn channels() -> Vec<(&'static str, Apply)> {
    let mut list: Vec<(&'static str, Apply)> = Vec::new();
    // Environment variables (values).
    list.extend([
        (
            "env AWS_PROFILE",
            (|s, v| s.env_bytes("AWS_PROFILE", v)) as Apply,
        ),
        ("env AWS_REGION", |s, v| s.env_bytes("AWS_REGION", v)),
        ("env AWS_DEFAULT_REGION", |s, v| {
            s.cmd.env_remove("AWS_REGION");
            s.env_bytes("AWS_DEFAULT_REGION", v)
        }),
        ("env AWS_ACCESS_KEY_ID", |s, v| {
            s.env_bytes("AWS_ACCESS_KEY_ID", v);
            s.env("AWS_SECRET_ACCESS_KEY", support::CANARY_SECRET);
        }),
        ("env AWS_SECRET_ACCESS_KEY", |s, v| {
            s.env("AWS_ACCESS_KEY_ID", support::CANARY_AKID_ENV);
            s.env_bytes("AWS_SECRET_ACCESS_KEY", v);
        }),
        ("env AWS_CONTAINER_CREDENTIALS_FULL_URI", |s, v| {
            let mut url = b"{peer}".to_vec();
            url.extend_from_slice(v);
            s.peer_env
                .push(("AWS_CONTAINER_CREDENTIALS_FULL_URI".into(), lossy(&url)));
        }),
        // Never starts with '/', so it is refused before any request to 169.254.170.2.
        ("env AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", |s, v| {
            let mut value = b"x".to_vec();
            value.extend_from_slice(v);
            s.env_bytes("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", &value);
        }),
        ("env AWS_CONTAINER_AUTHORIZATION_TOKEN", |s, v| {
            s.env_bytes("AWS_CONTAINER_AUTHORIZATION_TOKEN", v)
        }),
        ("env AWS_ROLE_ARN", |s, v| {
            s.file(".irsa-token", support::CANARY_WEB_IDENTITY);
            let token = s.home(".irsa-token");
            s.env("AWS_WEB_IDENTITY_TOKEN_FILE", token);
            s.env_bytes("AWS_ROLE_ARN", v);
        }),
        ("env AWS_ROLE_SESSION_NAME", |s, v| {
            s.file(".irsa-token", support::CANARY_WEB_IDENTITY);
            let token = s.home(".irsa-token");
            s.env("AWS_WEB_IDENTITY_TOKEN_FILE", token);
            s.env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa");
            s.env_bytes("AWS_ROLE_SESSION_NAME", v);
        }),
        ("env AWS_ENDPOINT_URL_STS", |s, v| {
            let mut url = b"{peer}/".to_vec();
            url.extend_from_slice(v);
            s.peer_env
                .push(("AWS_ENDPOINT_URL_STS".into(), lossy(&url)));
        }),
        ("env AWS_EC2_METADATA_SERVICE_ENDPOINT", |s, v| {
            s.peer_env
                .retain(|(k, _)| k != "AWS_CONTAINER_CREDENTIALS_FULL_URI");
            s.env("AWS_EC2_METADATA_DISABLED", "false");
            let mut url = b"{peer}/".to_vec();
            url.extend_from_slice(v);
            s.peer_env
                .push(("AWS_EC2_METADATA_SERVICE_ENDPOINT".into(), lossy(&url)));
        }),
        ("env ECS_CONTAINER_METADATA_URI_V4", |s, v| {
            let mut url = b"{peer}/".to_vec();
            url.extend_from_slice(v);
            s.peer_env
                .push(("ECS_CONTAINER_METADATA_URI_V4".into(), lossy(&url)));
        }),
        ("env HTTP_PROXY", |s, v| s.env_bytes("HTTP_PROXY", v)),
        ("env NO_PROXY", |s, v| s.env_bytes("NO_PROXY", v)),
        ("env CREDCHECK_EXPECT_ROLE", |s, v| {
            s.env_bytes("CREDCHECK_EXPECT_ROLE", v)
        }),
        ("env CREDCHECK_EXPECT_ACCOUNT", |s, v| {
            s.env_bytes("CREDCHECK_EXPECT_ACCOUNT", v)
        }),
        ("env HOME", |s, v| s.env_bytes("HOME", v)),
    ]);
    // File paths.
    list.extend([
        (
            "path AWS_CONFIG_FILE",
            (|s, v| s.env_bytes("AWS_CONFIG_FILE", v)) as Apply,
        ),
        ("path AWS_SHARED_CREDENTIALS_FILE", |s, v| {
            s.env_bytes("AWS_SHARED_CREDENTIALS_FILE", v)
        }),
        ("path AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", |s, v| {
            s.env_bytes("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", v)
        }),
        ("path AWS_WEB_IDENTITY_TOKEN_FILE", |s, v| {
            s.env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa");
            s.env_bytes("AWS_WEB_IDENTITY_TOKEN_FILE", v);
        }),
        ("path AWS_CA_BUNDLE", |s, v| {
            s.env("AWS_ENDPOINT_URL_STS", "https://127.0.0.1:9/");
            s.env_bytes("AWS_CA_BUNDLE", v);
        }),
    ]);
    // Profile files: section names, keys, values.
    list.extend([
        ("profile section name", (|s, v| {
            let mut text = b"[default]\nregion = us-east-1\n[profile ".to_vec();
            text.extend_from_slice(v);
            text.extend_from_slice(b"]\naws_access_key_id = x\n");
            s.file(".aws/config", text);
        }) as Apply),
        ("profile key name", |s, v| {
            let mut text = b"[default]\n".to_vec();
            text.extend_from_slice(v);
            text.extend_from_slice(b" = 1\n");
            s.file(".aws/config", text);
        }),
        ("profile region", |s, v| profile_value(s, "region", v)),
        ("profile role_arn", |s, v| {
            let mut text = b"[default]\nsource_profile = base\nrole_arn = ".to_vec();
            text.extend_from_slice(v);
            text.extend_from_slice(b"\n[profile base]\ncredential_source = Environment\n");
            s.file(".aws/config", text);
        }),
        ("profile credential_process", |s, v| profile_value(s, "credential_process", v)),
        ("profile sso_start_url", |s, v| {
            let mut text = b"[default]\nsso_account_id = 123456789012\nsso_role_name = r\nsso_region = us-east-1\nsso_start_url = ".to_vec();
            text.extend_from_slice(v);
            text.push(b'\n');
            s.file(".aws/config", text);
        }),
        ("profile web_identity_token_file", |s, v| {
            let mut text = b"[default]\nrole_arn = arn:aws:iam::123456789012:role/w\nweb_identity_token_file = ".to_vec();
            text.extend_from_slice(v);
            text.push(b'\n');
            s.file(".aws/config", text);
        }),
        ("credentials aws_access_key_id", |s, v| {
            let mut text = b"[default]\naws_secret_access_key = CANARYSECRETprofile0000000000000000000\naws_access_key_id = ".to_vec();
            text.extend_from_slice(v);
            text.push(b'\n');
            s.file(".aws/credentials", text);
        }),
        ("credentials aws_secret_access_key", |s, v| {
            let mut text = b"[default]\naws_access_key_id = AKIACANARY000000ENV1\naws_secret_access_key = ".to_vec();
            text.extend_from_slice(v);
            text.push(b'\n');
            s.file(".aws/credentials", text);
        }),
    ]);
    // File contents.
    list.extend([
        (
            "content container token file",
            (|s, v| {
                s.file(".pod-token", v);
                let path = s.home(".pod-token");
                s.env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path);
            }) as Apply,
        ),
        ("content web identity token file", |s, v| {
            s.file(".irsa-token", v);
            let path = s.home(".irsa-token");
            s.env("AWS_WEB_IDENTITY_TOKEN_FILE", path);
            s.env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa");
        }),
        ("content AWS_CA_BUNDLE", |s, v| {
            s.file("ca.pem", v);
            let path = s.home("ca.pem");
            s.env("AWS_CA_BUNDLE", path);
            s.env("AWS_ENDPOINT_URL_STS", "https://127.0.0.1:9/");
        }),
        ("content config file", |s, v| s.file(".aws/config", v)),
        ("content SSO token cache", |s, v| {
            sso_profile(s);
            s.file(&sso_cache_rel(), v);
        }),
        ("SSO accessToken", |s, v| {
            sso_profile(s);
            let token = serde_json::json!({"accessToken": lossy(v), "expiresAt": "2099-01-01T00:00:00Z", "region": "us-east-1", "startUrl": SSO_START_URL});
            s.file(&sso_cache_rel(), token.to_string());
        }),
        ("JWT claims", |s, v| {
            s.file(".irsa-token", jwt_with_claims(&lossy(v)));
            let path = s.home(".irsa-token");
            s.env("AWS_WEB_IDENTITY_TOKEN_FILE", path);
            s.env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa");
        }),
        ("credential_process stdout", |s, v| process_output(s, v, "")),
        ("credential_process stderr", |s, v| {
            process_output(s, v, " >&2; exit 1")
        }),
    ]);
    list.extend(peer_channels());
    list.extend(probe_channels());
    list
}

/// The permission probe's inputs (issue 14): Fluent Bit config values, its flags' values, the
/// FireLens log options, and the CloudWatch Logs and IAM simulator answers.
fn probe_channels() -> Vec<(&'static str, Apply)> {
    vec![
        ("fluent-bit log_group_name", |s, v| {
            fluent_bit(s, b"", b"log_group_name ", v)
        }),
        ("fluent-bit log_stream_name", |s, v| {
            fluent_bit(s, b"", b"log_stream_name ", v)
        }),
        ("fluent-bit region", |s, v| {
            fluent_bit(s, b"", b"region ", v)
        }),
        // Into the path of a loopback URL: a host name would be a DNS query off the machine.
        ("fluent-bit endpoint", |s, v| {
            fluent_bit(s, b"", b"endpoint http://127.0.0.1:9/", v)
        }),
        ("fluent-bit role_arn", |s, v| {
            fluent_bit(s, b"", b"role_arn ", v)
        }),
        ("fluent-bit @SET value", |s, v| {
            let mut set = b"@SET g=".to_vec();
            set.extend_from_slice(v);
            set.push(b'\n');
            fluent_bit(s, &set, b"log_group_name ${g}", b"")
        }),
        ("fluent-bit @INCLUDE path", |s, v| {
            let mut set = b"@INCLUDE ".to_vec();
            set.extend_from_slice(v);
            set.push(b'\n');
            fluent_bit(s, &set, b"log_group_name g", b"")
        }),
        ("fluent-bit yaml log_group_name", |s, v| {
            fluent_bit_yaml(s, b"", b"log_group_name: ", v)
        }),
        ("fluent-bit yaml quoted region", |s, v| {
            fluent_bit_yaml(s, b"", b"region: ", &[b"\"", v, b"\""].concat())
        }),
        ("fluent-bit yaml env value", |s, v| {
            let env = [b"env:\n  G: ", v, b"\n"].concat();
            fluent_bit_yaml(s, &env, b"log_group_name: ${G}", b"")
        }),
        // Issue 21: the rest of a Fluent Bit output's keys, in both formats; a foreign key of
        // another output; lines that do not parse; a doubling @SET chain; endpoint URLs
        // whose password is the injection.
        ("fluent-bit auto_create_group", |s, v| {
            fluent_bit(s, b"", b"auto_create_group ", v)
        }),
        ("fluent-bit log_retention_days", |s, v| {
            fluent_bit(s, b"", b"log_retention_days ", v)
        }),
        ("fluent-bit log_stream_prefix", |s, v| {
            fluent_bit(s, b"", b"log_stream_prefix ", v)
        }),
        ("fluent-bit Name", |s, v| fluent_bit(s, b"", b"Name ", v)),
        ("fluent-bit key name", |s, v| fluent_bit(s, b"", v, b" 1")),
        ("fluent-bit other output's http_passwd", |s, v| {
            let other = [b"[OUTPUT]\n    Name http\n    http_passwd ", v, b"\n"].concat();
            fluent_bit(s, &other, b"Match *", b"")
        }),
        ("fluent-bit @SET doubling chain", |s, v| {
            let mut chain = [b"@SET v0=", v, b"\n"].concat();
            for i in 1..30 {
                chain.extend(format!("@SET v{i}=${{v{}}}${{v{}}}\n", i - 1, i - 1).into_bytes());
            }
            fluent_bit(s, &chain, b"log_group_name ${v29}", b"")
        }),
        ("fluent-bit yaml region", |s, v| {
            fluent_bit_yaml(s, b"", b"region: ", v)
        }),
        ("fluent-bit yaml log_stream_name", |s, v| {
            fluent_bit_yaml(s, b"", b"log_stream_name: ", v)
        }),
        ("fluent-bit yaml endpoint", |s, v| {
            fluent_bit_yaml(s, b"", b"endpoint: http://127.0.0.1:9/", v)
        }),
        ("fluent-bit yaml auto_create_group", |s, v| {
            fluent_bit_yaml(s, b"", b"auto_create_group: ", v)
        }),
        ("fluent-bit yaml key name", |s, v| {
            fluent_bit_yaml(s, b"", v, b": 1")
        }),
        ("fluent-bit yaml unterminated quote", |s, v| {
            fluent_bit_yaml(s, b"", b"splunk_token: '", v)
        }),
        ("fluent-bit yaml anchor value", |s, v| {
            fluent_bit_yaml(s, b"", b"http_passwd: &pw ", v)
        }),
        ("fluent-bit yaml line that is not key: value", |s, v| {
            fluent_bit_yaml(s, b"", v, b"")
        }),
        ("fluent-bit yaml includes", |s, v| {
            let head = [b"includes:\n  - ", v, b"\n"].concat();
            fluent_bit_yaml(s, &head, b"match: '*'", b"")
        }),
        ("fluent-bit endpoint password", |s, v| {
            fluent_bit(
                s,
                b"",
                b"endpoint http://user:",
                &[v, b"@127.0.0.1:9/"].concat(),
            )
        }),
        ("env AWS_ENDPOINT_URL_CLOUDWATCH_LOGS password", |s, v| {
            probe_logs_to(s, support::logs::Plan::default());
            s.peer_env
                .retain(|(k, _)| k != "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS");
            s.env_bytes(
                "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
                &[b"http://user:", v, b"@127.0.0.1:9/"].concat(),
            );
        }),
        ("env AWS_ENDPOINT_URL_STS password", |s, v| {
            s.peer_env.retain(|(k, _)| k != "AWS_ENDPOINT_URL_STS");
            s.env_bytes(
                "AWS_ENDPOINT_URL_STS",
                &[b"http://user:", v, b"@127.0.0.1:9/"].concat(),
            );
        }),
        ("profile endpoint_url password", |s, v| {
            let url = [b"http://user:", v, b"@127.0.0.1:9/"].concat();
            profile_value(s, "endpoint_url", &url);
        }),
        ("arg --can", |s, v| {
            let mut arg = b"logs:PutLogEvents=".to_vec();
            arg.extend_from_slice(v);
            probe_fake(s, support::logs::Plan::default());
            s.cmd.arg("--can").arg(OsStr::from_bytes(&arg));
        }),
        ("arg --logs-to", |s, v| {
            probe_fake(s, support::logs::Plan::default());
            s.cmd.arg("--logs-to").arg(OsStr::from_bytes(v));
        }),
        ("firelens log_group_name", |s, v| {
            let task = serde_json::json!({"Cluster": "c", "Containers": [{"Name": lossy(v), "LogDriver": "awsfirelens",
                "LogOptions": {"Name": "cloudwatch_logs", "region": "ap-northeast-1", "log_group_name": lossy(v), "log_stream_name": lossy(v)}}]});
            s.plan = std::mem::take(&mut s.plan).with_task_metadata("/v4/meta", task.to_string());
            probe_fake(s, support::logs::Plan::default());
            s.cmd.arg("--firelens");
        }),
        ("logs AccessDenied message", |s, v| {
            let plan = support::logs::Plan {
                caller: lossy(v),
                ..Default::default()
            };
            probe_logs_to(s, plan);
        }),
        ("logs error body json", |s, v| {
            let body = serde_json::json!({"__type": lossy(v), "message": lossy(v)}).to_string();
            let fault = support::logs::Fault::Raw(
                400,
                "application/x-amz-json-1.1".into(),
                body.into_bytes(),
            );
            probe_logs_to(s, support::logs::Plan::default().fault(None, fault));
        }),
        ("logs error body html", |s, v| {
            let fault = support::logs::Fault::Raw(403, "text/html".into(), v.to_vec());
            probe_logs_to(s, support::logs::Plan::default().fault(None, fault));
        }),
        ("logs 200 body", |s, v| {
            let fault =
                support::logs::Fault::Raw(200, "application/x-amz-json-1.1".into(), v.to_vec());
            probe_logs_to(s, support::logs::Plan::default().fault(None, fault));
        }),
        ("simulator error body", |s, v| {
            let plan = support::logs::Plan::default()
                .simulator(support::logs::Simulator::Raw(403, v.to_vec()));
            probe_logs_to(s, plan);
            s.cmd.arg("--simulate");
        }),
        // Health keeps its logs verdict in a state file (issue 16): the file is checked like
        // the output (`run_setup`), here with the foreign text the stored line quotes.
        ("health state file (logs error body)", |s, v| {
            s.health = true;
            let body = serde_json::json!({"__type": lossy(v), "message": lossy(v)}).to_string();
            let fault = support::logs::Fault::Raw(
                400,
                "application/x-amz-json-1.1".into(),
                body.into_bytes(),
            );
            probe_logs_to(s, support::logs::Plan::default().fault(None, fault));
        }),
        ("simulator 200 body", |s, v| {
            let plan = support::logs::Plan::default()
                .simulator(support::logs::Simulator::Raw(200, v.to_vec()));
            probe_logs_to(s, plan);
            s.cmd.arg("--simulate");
        }),
    ]
}

/// The fake CloudWatch Logs / IAM behind the probe's endpoint variables.
fn probe_fake(s: &mut Setup, plan: support::logs::Plan) {
    s.logs = Some(plan);
    for key in ["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL_IAM"] {
        s.peer_env.push((key.into(), "{logs}".into()));
    }
}

fn probe_logs_to(s: &mut Setup, plan: support::logs::Plan) {
    probe_fake(s, plan);
    s.cmd.args(["--logs-to", "/ecs/logs/sample-test:webapp"]);
}

/// A Fluent Bit config in HOME: `head`, then one cloudwatch_logs [OUTPUT] whose `key` line
/// carries `v` (the other keys are plain).
fn fluent_bit(s: &mut Setup, head: &[u8], key: &[u8], v: &[u8]) {
    const OUTPUT: &[u8] = b"[OUTPUT]\n    Name cloudwatch_logs\n    region ap-northeast-1\n    log_group_name /ecs/logs/sample-test\n    log_stream_name webapp\n    auto_create_group true\n    ";
    fluent_bit_file(s, "fluent-bit.conf", [head, OUTPUT, key, v]);
}

/// The same in Fluent Bit's YAML format: `head`, then one cloudwatch_logs output whose last
/// line is `key` followed by `v`.
fn fluent_bit_yaml(s: &mut Setup, head: &[u8], key: &[u8], v: &[u8]) {
    const OUTPUT: &[u8] = b"pipeline:\n  outputs:\n    - name: cloudwatch_logs\n      region: ap-northeast-1\n      log_group_name: /ecs/logs/sample-test\n      log_stream_name: webapp\n      ";
    fluent_bit_file(s, "fluent-bit.yaml", [head, OUTPUT, key, v]);
}

/// Writes the parts (and a final newline) to HOME/`name` and runs `--fluent-bit-config` on it.
fn fluent_bit_file(s: &mut Setup, name: &str, parts: [&[u8]; 4]) {
    let mut text = parts.concat();
    text.push(b'\n');
    s.file(name, text);
    let path = s.home(name);
    probe_fake(
        s,
        support::logs::Plan::default().group("/ecs/logs/sample-test", &["webapp"]),
    );
    s.cmd.args(["--fluent-bit-config", &path]);
}

const SSO_START_URL: &str = "https://d-0000000000.awsapps.com/start";

/// A legacy SSO profile whose portal is the fake peer (which has no SSO API: its answer is
/// an error body credcheck must show safely).
fn sso_profile(s: &mut Setup) {
    s.file(
        ".aws/config",
        format!("[default]\nsso_start_url = {SSO_START_URL}\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = r\n"),
    );
    s.peer_env
        .push(("AWS_ENDPOINT_URL_SSO".into(), "{peer}".into()));
}

/// aws-config sso/cache.rs: `~/.aws/sso/cache/<sha1(start url)>.json`.
fn sso_cache_rel() -> String {
    use sha1::{Digest, Sha1};
    let hash: String = Sha1::digest(SSO_START_URL.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(".aws/sso/cache/{hash}.json")
}

fn profile_value(s: &mut Setup, key: &str, v: &[u8]) {
    let mut text = format!("[default]\n{key} = ").into_bytes();
    text.extend_from_slice(v);
    text.push(b'\n');
    s.file(".aws/config", text);
}

/// A credential_process that prints the injection (`suffix` sends it to stderr and fails).
fn process_output(s: &mut Setup, v: &[u8], suffix: &str) {
    s.file("inj.bin", v);
    let inj = s.home("inj.bin");
    s.file("proc.sh", format!("#!/bin/sh\ncat '{inj}'{suffix}\n"));
    let script = s.home("proc.sh");
    let _ = std::fs::create_dir_all(s.cmd.home_path(""));
    s.file(
        ".aws/config",
        format!("[default]\ncredential_process = /bin/sh {script}\n"),
    );
}

/// Peer answers: every field and error body of the container endpoint, IMDS, STS and task
/// metadata, and the response headers credcheck reads.
fn peer_channels() -> Vec<(&'static str, Apply)> {
    vec![
        ("ecs RoleArn", |s, v| {
            ecs_field(s, |e, t| e.role_arn = Some(t), v)
        }),
        ("ecs AccessKeyId", |s, v| {
            ecs_field(s, |e, t| e.access_key_id = t, v)
        }),
        ("ecs SecretAccessKey", |s, v| {
            ecs_field(s, |e, t| e.secret_access_key = t, v)
        }),
        ("ecs Token", |s, v| ecs_field(s, |e, t| e.token = t, v)),
        ("ecs Expiration", |s, v| {
            ecs_field(s, |e, t| e.expiration = t, v)
        }),
        ("ecs error body 400", |s, v| {
            ecs_fault(s, peer::EcsFault::raw(400, "application/json", v))
        }),
        ("ecs error body 500", |s, v| {
            ecs_fault(s, peer::EcsFault::raw(500, "text/plain", v))
        }),
        ("ecs 200 body", |s, v| {
            ecs_fault(s, peer::EcsFault::raw(200, "application/json", v))
        }),
        ("ecs agent message", |s, v| {
            ecs_fault(
                s,
                peer::EcsFault::agent_error(400, "InvalidIdInRequest", &lossy(v)),
            )
        }),
        ("ecs agent code", |s, v| {
            ecs_fault(s, peer::EcsFault::agent_error(400, &lossy(v), "x"))
        }),
        ("header Content-Type", |s, v| {
            ecs_fault(s, peer::EcsFault::raw(200, &header_safe(v), "not json"))
        }),
        ("header Location", |s, v| {
            ecs_fault(s, peer::EcsFault::Redirect(header_safe(v)))
        }),
        ("imds role name", |s, v| {
            imds(s, |i, t| i.role_name = Some(t), v)
        }),
        ("imds SecretAccessKey", |s, v| {
            imds(s, |i, t| i.secret_access_key = t, v)
        }),
        ("imds Expiration", |s, v| {
            imds(s, |i, t| i.expiration = t, v)
        }),
        ("sts Arn", |s, v| sts(s, |t, x| t.arn = x, v)),
        ("sts UserId", |s, v| sts(s, |t, x| t.user_id = x, v)),
        ("sts Account", |s, v| sts(s, |t, x| t.account = x, v)),
        ("sts error message", |s, v| {
            let fault = peer::StsFault::error(403, "InvalidClientTokenId", &lossy(v));
            sts(s, move |t, _| t.fault = fault.clone(), v)
        }),
        ("sts error code", |s, v| {
            let fault = peer::StsFault::error(400, &lossy(v), "x");
            sts(s, move |t, _| t.fault = fault.clone(), v)
        }),
        ("task metadata Cluster", |s, v| {
            let json = serde_json::json!({"Cluster": lossy(v), "TaskARN": lossy(v), "Family": lossy(v), "Revision": "1"});
            s.plan = std::mem::take(&mut s.plan).with_task_metadata("/v4/x", json.to_string());
        }),
    ]
}

/// Header values cannot carry CR/LF (the fake would send a broken response); keep the rest.
fn header_safe(v: &[u8]) -> String {
    lossy(v)
        .replace(['\r', '\n'], " ")
        .chars()
        .take(8000)
        .collect()
}

fn ecs_field(s: &mut Setup, set: fn(&mut peer::Ecs, String), v: &[u8]) {
    let mut ecs = s.plan.ecs.clone().unwrap_or_default();
    set(&mut ecs, lossy(v));
    s.plan.ecs = Some(ecs);
}

fn ecs_fault(s: &mut Setup, fault: peer::EcsFault) {
    let ecs = s.plan.ecs.clone().unwrap_or_default().with_fault(fault);
    s.plan.ecs = Some(ecs);
}

fn imds(s: &mut Setup, set: fn(&mut peer::Imds, String), v: &[u8]) {
    let mut imds = peer::Imds::default();
    set(&mut imds, lossy(v));
    s.plan.imds = Some(imds);
    s.plan.ecs = None;
    s.peer_env
        .retain(|(k, _)| k != "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    s.env("AWS_EC2_METADATA_DISABLED", "false");
    s.peer_env
        .push(("AWS_EC2_METADATA_SERVICE_ENDPOINT".into(), "{peer}".into()));
}

fn sts(s: &mut Setup, set: impl Fn(&mut peer::Sts, String), v: &[u8]) {
    let mut sts = s.plan.sts.clone().unwrap_or_default();
    set(&mut sts, lossy(v));
    s.plan.sts = Some(sts);
}

/// The base: a container endpoint on the fake peer, STS and task metadata on it too.
fn base(format: &str, level: &str, health: bool) -> Setup {
    let mut cmd = support::cmd();
    cmd.env("AWS_SESSION_TOKEN", CANARY)
        .env("RUST_LOG", level)
        .env("CREDCHECK_FORMAT", format)
        .env("CREDCHECK_DEADLINE", DEADLINE_ARG)
        .timeout(Duration::from_secs(30));
    let plan = peer::Plan::new()
        .with_ecs(peer::Ecs::task_role())
        .with_sts(peer::Sts::default())
        .with_task_metadata("/v4/meta", "{\"Cluster\":\"c\"}".into());
    Setup {
        cmd,
        plan,
        peer_env: vec![
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI".into(),
                format!("{{peer}}{}", peer::ECS_PATH),
            ),
            ("AWS_ENDPOINT_URL_STS".into(), "{peer}".into()),
            (
                "ECS_CONTAINER_METADATA_URI_V4".into(),
                "{peer}/v4/meta".into(),
            ),
        ],
        files: Vec::new(),
        health,
        logs: None,
    }
}

/// State files checked (`run_setup`): the sweep fails if it never saw one.
static STATE_FILES: AtomicUsize = AtomicUsize::new(0);

fn run_setup(mut s: Setup) -> Output {
    for (rel, bytes) in &s.files {
        let path = s.cmd.home_path(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("mkdir in HOME");
        }
        std::fs::write(&path, bytes).expect("write HOME file");
    }
    let peer = peer::Peer::start(std::mem::take(&mut s.plan));
    let logs = s.logs.take().map(support::logs::Fake::start);
    let logs_url = logs.as_ref().map_or_else(String::new, |l| l.url());
    for (key, value) in &s.peer_env {
        let value = value.replace("{peer}", &peer.url());
        s.cmd.env(key, value.replace("{logs}", &logs_url));
    }
    if s.health {
        s.cmd.arg("health");
    }
    let state = s.cmd.home_path("run");
    s.cmd.env("XDG_RUNTIME_DIR", &state);
    s.cmd.allow_secrets();
    let mut out = s.cmd.run();
    // Everything credcheck wrote to disk (issue 21: nothing on disk may hold what it would not
    // print): every file in HOME that the set-up did not write, the health check's state
    // files among them, is checked with stderr (so the canary assertions cover it).
    let ours: Vec<PathBuf> = s
        .files
        .iter()
        .map(|(rel, _)| s.cmd.home_path(rel))
        .collect();
    for path in files_under(s.cmd.home()) {
        if ours.contains(&path) {
            continue;
        }
        if path.starts_with(state.join("credcheck")) {
            STATE_FILES.fetch_add(1, Ordering::Relaxed);
        }
        WRITTEN_FILES.fetch_add(1, Ordering::Relaxed);
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
        out.stderr
            .push_str(&format!("\n--- file written {}\n{text}", path.display()));
    }
    out
}

/// Files credcheck wrote (`run_setup`).
static WRITTEN_FILES: AtomicUsize = AtomicUsize::new(0);

/// Every regular file under `dir` (links are not followed).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(entry.path()),
                Ok(t) if t.is_file() => out.push(entry.path()),
                _ => {}
            }
        }
    }
    out
}

/// The output, cut short enough to read in a failure.
fn brief(out: &Output) -> String {
    let cut = |s: &str| s.chars().take(3000).collect::<String>();
    format!(
        "exit {} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.code,
        out.elapsed,
        cut(&out.stdout),
        cut(&out.stderr)
    )
}

/// The promise, for one run. `what` names the run in failures.
fn assert_promise(what: &str, out: &Output, format: &str, health: bool) {
    assert!(
        out.code != 101 && out.code != 134,
        "{what}: crashed\n{}",
        brief(out)
    );
    let documented: &[i32] = if health { &[0, 1] } else { &[0, 1, 2, 3, 4] };
    assert!(
        documented.contains(&out.code),
        "{what}: undocumented exit\n{}",
        brief(out)
    );
    assert!(
        out.elapsed <= DEADLINE + OVER_DEADLINE,
        "{what}: ran {:?}, past the deadline {DEADLINE:?} + {OVER_DEADLINE:?}",
        out.elapsed
    );
    for window in CANARY.as_bytes().windows(8) {
        let window = std::str::from_utf8(window).unwrap();
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !stream.contains(window),
                "{what}: canary fragment {window:?} in {name}\n{}",
                brief(out)
            );
        }
    }
    support::assert_no_secrets(out);
    for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let bad = stream.chars().find(|c| {
            *c != '\n'
                && (c.is_control()
                    || ('\u{202a}'..='\u{202e}').contains(c)
                    || ('\u{2066}'..='\u{2069}').contains(c))
        });
        assert!(
            bad.is_none(),
            "{what}: raw control character {bad:?} in {name}\n{}",
            brief(out)
        );
    }
    if format == "json" && !(health && out.stdout.is_empty()) && !out.stdout.is_empty() {
        assert_eq!(
            out.stdout.matches('\n').count(),
            1,
            "{what}: not one JSON line\n{}",
            brief(out)
        );
        serde_json::from_str::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e})\n{}", brief(out)));
    }
}

/// Runs `jobs` on a few threads (most runs wait on a peer or a deadline, not on a core).
fn parallel<T: Send>(jobs: Vec<T>, work: impl Fn(T) + Sync) {
    let queue = Mutex::new(jobs);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| loop {
                let Some(job) = queue.lock().unwrap().pop() else {
                    break;
                };
                work(job);
            });
        }
    });
}

struct Worst(Mutex<(Duration, String)>);

impl Worst {
    fn note(&self, what: &str, out: &Output) {
        let mut worst = self.0.lock().unwrap();
        if out.elapsed > worst.0 {
            *worst = (out.elapsed, what.to_string());
        }
    }
}

/// Every (channel, injection, format, log level) of a generated sweep: the channel's index
/// and name, and the rest.
fn grid<'a>(
    names: impl Iterator<Item = &'a str>,
) -> Vec<(usize, &'a str, Injection, &'static str, &'static str)> {
    let mut jobs = Vec::new();
    for (ci, name) in names.enumerate() {
        for injection in INJECTIONS {
            for format in FORMATS {
                for level in LOG_LEVELS {
                    jobs.push((ci, name, injection, format, level));
                }
            }
        }
    }
    jobs
}

/// The egress trap for sweep `test`: `None` when the re-run inside it has passed (nothing
/// left to do here), `Some(None)` when there is no trap here, `Some(Some(trap))` inside it.
fn trapped(test: &str) -> Option<Option<egress::Inside>> {
    match egress::enter(test) {
        egress::Trap::RanInside => None,
        egress::Trap::Inside(inside) => Some(Some(inside)),
        egress::Trap::Unavailable => Some(None),
    }
}

#[test]
fn hostile_sweep_channels_by_injections() {
    let Some(trap) = trapped("sweep::hostile_sweep_channels_by_injections") else {
        return;
    };
    let channels = channels();
    let jobs = grid(channels.iter().map(|(name, _)| *name));
    let total = jobs.len();
    let runs = AtomicUsize::new(0);
    let worst = Worst(Mutex::new((Duration::ZERO, String::new())));
    parallel(jobs, |(ci, name, injection, format, level)| {
        let health = ci % 5 == 0 && level == "off";
        let mut setup = base(format, level, health);
        // Arguments share the 128 KiB cap of one environment string.
        let is_env =
            name.starts_with("env ") || name.starts_with("path ") || name.starts_with("arg ");
        (channels[ci].1)(&mut setup, &injection.bytes(is_env));
        let what = format!("[{name} × {injection:?} × {format} × RUST_LOG={level}]");
        let out = run_setup(setup);
        assert_promise(&what, &out, format, health);
        if let Some(trap) = &trap {
            trap.assert_none(&what, EXPLICIT_HOSTS);
        }
        worst.note(&what, &out);
        runs.fetch_add(1, Ordering::Relaxed);
    });
    let (slowest, which) = worst.0.into_inner().unwrap();
    let state_files = STATE_FILES.load(Ordering::Relaxed);
    assert!(
        state_files > 0,
        "no health state file was written, so none was checked"
    );
    let egress = match &trap {
        Some(trap) => {
            let mut asked = trap.asked();
            asked.sort();
            asked.dedup();
            format!(
                "{} packets left loopback, names looked up {asked:?}, all explicit endpoints' (egress trap checked after every run)",
                trap.sent()
            )
        }
        None => "egress NOT trapped".to_string(),
    };
    say!(
        "hostile sweep: {} channels × {} injections × {} formats × {} log levels = {total} runs, {} passed, {state_files} health state files and {} files written in all checked; {egress}; slowest {slowest:?} {which} (deadline {DEADLINE:?})",
        channels.len(),
        INJECTIONS.len(),
        FORMATS.len(),
        LOG_LEVELS.len(),
        runs.load(Ordering::Relaxed),
        WRITTEN_FILES.load(Ordering::Relaxed)
    );
}

/// Every variable that names a file credcheck (or the SDK, through credcheck) reads.
const FILE_VARS: [&str; 7] = [
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CA_BUNDLE",
    "web_identity_token_file (profile)",
    "SSO token cache",
];

#[derive(Clone, Copy, Debug)]
enum Special {
    Fifo,
    Socket,
    Directory,
    DevZero,
    Sparse1GiB,
    Unreadable,
    SymlinkLoop,
}

const SPECIALS: [Special; 7] = [
    Special::Fifo,
    Special::Socket,
    Special::Directory,
    Special::DevZero,
    Special::Sparse1GiB,
    Special::Unreadable,
    Special::SymlinkLoop,
];

/// Makes the special file under `dir`; returns its path and what the error must name.
fn make_special(dir: &Path, kind: Special) -> (PathBuf, &'static str) {
    let path = dir.join("special");
    match kind {
        Special::Fifo => {
            let ok = std::process::Command::new("mkfifo")
                .arg(&path)
                .status()
                .unwrap();
            assert!(ok.success(), "mkfifo");
            (path, "FIFO")
        }
        Special::Socket => {
            let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
            std::mem::forget(listener);
            (path, "socket")
        }
        Special::Directory => {
            std::fs::create_dir(&path).unwrap();
            (path, "directory")
        }
        Special::DevZero => (PathBuf::from("/dev/zero"), "character device"),
        Special::Sparse1GiB => {
            let f = std::fs::File::create(&path).unwrap();
            f.set_len(1 << 30).unwrap();
            (path, "bytes")
        }
        Special::Unreadable => {
            std::fs::write(&path, "[default]\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
            (path, "permission denied")
        }
        Special::SymlinkLoop => {
            std::os::unix::fs::symlink(&path, &path).unwrap();
            (path, "symbolic link loop")
        }
    }
}

#[test]
fn file_sweep_every_file_variable_by_special_file() {
    let Some(trap) = trapped("sweep::file_sweep_every_file_variable_by_special_file") else {
        return;
    };
    let mut runs = 0;
    let mut worst = Duration::ZERO;
    for var in FILE_VARS {
        for kind in SPECIALS {
            let dir = tempfile::tempdir().unwrap();
            let (path, names) = make_special(dir.path(), kind);
            let mut cmd = support::cmd();
            cmd.env("CREDCHECK_DEADLINE", DEADLINE_ARG);
            if var != "AWS_CA_BUNDLE" {
                cmd.arg("--no-sts");
            }
            let shown_var = match var {
                "SSO token cache" => {
                    let config = format!("[default]\nsso_start_url = {SSO_START_URL}\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = r\n");
                    cmd.home_file(".aws/config", config);
                    let cache = cmd.home_path(&sso_cache_rel());
                    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
                    if matches!(kind, Special::DevZero) {
                        std::os::unix::fs::symlink("/dev/zero", &cache).unwrap();
                    } else if matches!(kind, Special::SymlinkLoop) {
                        std::os::unix::fs::symlink(&cache, &cache).unwrap();
                    } else {
                        std::fs::rename(&path, &cache)
                            .or_else(|_| std::os::unix::fs::symlink(&path, &cache))
                            .unwrap();
                    }
                    "SSO token cache"
                }
                "web_identity_token_file (profile)" => {
                    let config = format!("[default]\nrole_arn = arn:aws:iam::123456789012:role/w\nweb_identity_token_file = {}\n", path.display());
                    cmd.home_file(".aws/config", config);
                    "web_identity_token_file"
                }
                "AWS_WEB_IDENTITY_TOKEN_FILE" => {
                    cmd.env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa")
                        .env(var, &path);
                    var
                }
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" => {
                    cmd.env(
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                        "http://127.0.0.1:9/v1/credentials",
                    )
                    .env(var, &path);
                    var
                }
                "AWS_CA_BUNDLE" => {
                    cmd.env("AWS_ACCESS_KEY_ID", support::CANARY_AKID_ENV)
                        .env("AWS_SECRET_ACCESS_KEY", support::CANARY_SECRET)
                        .env("AWS_ENDPOINT_URL_STS", "https://127.0.0.1:9/")
                        .env(var, &path);
                    var
                }
                _ => {
                    cmd.env(var, &path);
                    var
                }
            };
            if matches!(kind, Special::Unreadable) {
                cmd.as_user(65534);
                make_public(dir.path());
            }
            let out = cmd.run();
            let what = format!("[{var} = {kind:?}]");
            assert_promise(&what, &out, "text", false);
            if let Some(trap) = &trap {
                trap.assert_none(&what, EXPLICIT_HOSTS);
            }
            assert_ne!(
                out.code,
                0,
                "{what}: a special file must be an error\n{}",
                brief(&out)
            );
            let text = out.stdout.to_lowercase();
            assert!(
                text.contains(&shown_var.to_lowercase())
                    || text.contains(&path.display().to_string().to_lowercase()),
                "{what}: the error must name the variable or the file\n{}",
                brief(&out)
            );
            assert!(
                text.contains(&names.to_lowercase()),
                "{what}: the error must say {names:?}\n{}",
                brief(&out)
            );
            worst = worst.max(out.elapsed);
            runs += 1;
        }
    }
    let egress = trap.map_or("egress NOT trapped".to_string(), |t| {
        format!(
            "{} packets left loopback (checked after every run)",
            t.sent()
        )
    });
    say!("file sweep: {} variables × {} special files = {runs} runs; {egress}; slowest {worst:?} (deadline {DEADLINE:?})", FILE_VARS.len(), SPECIALS.len());
}

fn make_public(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
}

/// A resolver that never answers: inside a namespace of this test, `/etc/resolv.conf` names an
/// address behind a veth pair with no one at its end, where every query vanishes. getaddrinfo blocks for
/// seconds; credcheck must still end by the deadline + 250 ms.
#[test]
fn silent_resolver_cannot_outlive_the_deadline() {
    let Some(ns) = Netns::create("ccdns") else {
        return support::skip(
            "silent_resolver_cannot_outlive_the_deadline",
            "needs root and ip",
        );
    };
    ns.add_black_hole("10.253.0.1/24");
    let resolv = ns.resolv_conf("nameserver 10.253.0.2\noptions timeout:5 attempts:2\n");
    for (what, env) in [
        (
            "FULL_URI host name",
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://creds.example.invalid/v1/credentials",
            ),
        ),
        (
            "STS host name",
            ("AWS_ENDPOINT_URL_STS", "http://sts.example.invalid/"),
        ),
    ] {
        for health in [false, true] {
            let mut cmd = support::cmd();
            cmd.env("CREDCHECK_DEADLINE", "1s")
                .env(env.0, env.1)
                .env("AWS_ACCESS_KEY_ID", support::CANARY_AKID_ENV)
                .env("AWS_SECRET_ACCESS_KEY", support::CANARY_SECRET)
                .in_netns(&ns);
            if env.0 == "AWS_CONTAINER_CREDENTIALS_FULL_URI" {
                cmd.env_remove("AWS_ACCESS_KEY_ID");
            }
            if health {
                cmd.args(["health", "--sts"]);
            }
            let out = cmd.run();
            let label = format!("[{what}, health={health}]");
            assert!(
                out.elapsed <= Duration::from_secs(1) + OVER_DEADLINE,
                "{label}: ran {:?}\n{}",
                out.elapsed,
                brief(&out)
            );
            assert!(
                out.code != 0,
                "{label}: a silent resolver cannot be healthy\n{}",
                brief(&out)
            );
            say!(
                "silent resolver {label}: exit {} after {:?}",
                out.code,
                out.elapsed
            );
        }
    }
    drop(resolv);
}

/// Region strings that would move a host built from them: a name of their own, a path, a
/// user-info `@`, a port, a query, an IP literal. None is one DNS label.
const HOSTILE_REGIONS: [&str; 9] = [
    "us-east-1.evil.example#",
    "us-east-1.evil.example",
    "us-east-1/",
    "x@127.0.0.9#",
    "us-east-1@127.0.0.1#",
    "127.0.0.9",
    "us-east-1:443",
    "us-east-1?x=",
    "us-east-1\\@127.0.0.9#",
];

/// Records every attempt to reach a host inside the namespace: DNS queries to 127.0.0.1:53
/// (the namespace's only resolver) and TCP connections to port 443 on 127.0.0.1 and
/// 127.0.0.9, one line each in the file named by its argument.
const TRAP_PY: &str = r#"
import socket, sys, threading
log = open(sys.argv[1], "a", buffering=1)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 53))
tcps = []
for addr in ("127.0.0.1", "127.0.0.9"):
    t = socket.socket()
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, 443))
    t.listen(64)
    tcps.append(t)
def dns():
    while True:
        data, _ = udp.recvfrom(4096)
        log.write("dns %r\n" % data[12:96])
def tcp(t):
    while True:
        c, _ = t.accept()
        log.write("tcp %s:%d\n" % t.getsockname())
        c.close()
threading.Thread(target=dns, daemon=True).start()
for t in tcps:
    threading.Thread(target=tcp, args=(t,), daemon=True).start()
print("listening on 127.0.0.1:53", flush=True)
threading.Event().wait()
"#;

/// One Region source: how it carries `region` into a run (args, env, files in HOME).
type RegionSource = fn(&mut TestCmd, &str, &Path);

fn region_sources() -> Vec<(&'static str, RegionSource)> {
    fn fluent(cmd: &mut TestCmd, name: &str, text: String) {
        cmd.home_file(name, text);
        let path = cmd.home_path(name);
        cmd.arg("--fluent-bit-config").arg(path);
    }
    const OUT: &str = "[OUTPUT]\n Name cloudwatch_logs\n log_group_name g\n log_stream_name s\n";
    const YAML: &str = "pipeline:\n  outputs:\n    - name: cloudwatch_logs\n      log_group_name: g\n      log_stream_name: s\n";
    vec![
        ("env AWS_REGION", |c, r, _| {
            c.env("AWS_REGION", r).args(["--logs-to", "g:s"]);
        }),
        ("env AWS_DEFAULT_REGION", |c, r, _| {
            c.env_remove("AWS_REGION")
                .env("AWS_DEFAULT_REGION", r)
                .args(["--logs-to", "g:s"]);
        }),
        ("profile region", |c, r, _| {
            c.env_remove("AWS_REGION")
                .home_file(".aws/config", format!("[default]\nregion = {r}\n"))
                .args(["--logs-to", "g:s"]);
        }),
        ("--logs-region", |c, r, _| {
            c.args(["--logs-to", "g:s", "--logs-region", r]);
        }),
        ("--can ARN", |c, r, _| {
            c.arg("--can").arg(format!(
                "logs:PutLogEvents=arn:aws:logs:{r}:123456789012:log-group:g:log-stream:s"
            ));
        }),
        ("health --can ARN", |c, r, _| {
            c.arg("health").arg("--can").arg(format!(
                "logs:DescribeLogStreams=arn:aws:logs:{r}:123456789012:log-group:g:log-stream:"
            ));
        }),
        ("fluent-bit region", |c, r, _| {
            fluent(c, "fb.conf", format!("{OUT} region {r}\n"));
        }),
        ("fluent-bit region ${VAR}", |c, r, _| {
            c.env("FB_REGION", r);
            fluent(c, "fb.conf", format!("{OUT} region ${{FB_REGION}}\n"));
        }),
        ("fluent-bit region @SET", |c, r, _| {
            fluent(c, "fb.conf", format!("@SET R={r}\n{OUT} region ${{R}}\n"));
        }),
        ("health fluent-bit region", |c, r, _| {
            c.arg("health");
            fluent(c, "fb.conf", format!("{OUT} region {r}\n"));
        }),
        ("fluent-bit yaml region", |c, r, _| {
            fluent(c, "fb.yaml", format!("{YAML}      region: \"{r}\"\n"));
        }),
        ("fluent-bit yaml env region", |c, r, _| {
            fluent(
                c,
                "fb.yaml",
                format!("env:\n  R: \"{r}\"\n{YAML}      region: ${{R}}\n"),
            );
        }),
        ("FireLens log options", |c, _, _| {
            c.arg("--firelens");
        }),
    ]
}

/// Hostile Region strings × every Region source, inside a network namespace this test
/// creates (so nothing can leave the machine), with a trap recording every DNS query and
/// every connection to port 443 in it. The promise: no attempt is made to reach a host that
/// did not come from a validated region or an explicit endpoint. A control run with a real
/// region proves the trap records (its DNS query for logs.eu-west-1.amazonaws.com).
#[test]
fn hostile_regions_by_every_region_source_reach_no_host() {
    let Some(ns) = Netns::create_with("ccreg", &[]) else {
        return support::skip(&support::current_test(), "needs root and ip");
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("attempts");
    std::fs::write(&log, "").unwrap();
    let mut trap = ns.command("/usr/bin/python3");
    trap.args(["-c", TRAP_PY]).arg(&log).env_clear();
    let _trap = support::spawn_listening(trap, Duration::from_secs(10));
    let resolv = ns.resolv_conf("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    let attempts = || std::fs::read_to_string(&log).unwrap_or_default();
    let run = |source: &(&str, RegionSource), region: &str| {
        let task = serde_json::json!({"Cluster": "c", "Containers": [{"Name": "app", "LogDriver": "awsfirelens",
            "LogOptions": {"Name": "cloudwatch_logs", "region": region, "log_group_name": "g", "log_stream_name": "s"}}]});
        let task_file = dir.path().join("task.json");
        std::fs::write(&task_file, task.to_string()).unwrap();
        let peer = ns.spawn_peer(&[
            "--bind",
            "127.0.0.1:0",
            "--role-arn",
            "arn:aws:iam::123456789012:role/task",
            "--task-metadata-prefix",
            "/v4/meta",
            "--task-metadata-file",
            task_file.to_str().unwrap(),
        ]);
        let mut cmd = support::cmd();
        let run_dir = cmd.home_path("run");
        cmd.env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}{}", peer.url(), peer::ECS_PATH),
        )
        .env(
            "ECS_CONTAINER_METADATA_URI_V4",
            format!("{}/v4/meta", peer.url()),
        )
        .env("CREDCHECK_DEADLINE", DEADLINE_ARG)
        .env("XDG_RUNTIME_DIR", run_dir)
        // The account comes from the RoleArn; health never asks STS without --sts.
        .env("CREDCHECK_NO_STS", "true")
        .in_netns(&ns);
        (source.1)(&mut cmd, region, dir.path());
        let out = cmd.run();
        (out, cmd)
    };
    let sources = region_sources();
    // (`us-east-1:443` in an ARN shifts its fields: no longer a logs ARN, nothing is probed.)
    let (mut runs, mut worst) = (0, Duration::ZERO);
    for source in &sources {
        for region in HOSTILE_REGIONS {
            let (out, _cmd) = run(source, region);
            let what = format!("[{} = {region:?}]", source.0);
            let health = out.stdout.starts_with("healthy") || out.stdout.starts_with("unhealthy");
            assert_promise(&what, &out, "text", health);
            // A refusal names the region; a `--can` ARN whose fields the region shifted is no
            // logs ARN any more, so nothing is sent and it is `unverified` (issue 20).
            let unverified = out.combined().contains("[action-unverified]");
            assert!(
                out.code == 0 || unverified || out.combined().contains("region"),
                "{what}: a refusal must name the region\n{}",
                brief(&out)
            );
            let seen = attempts();
            assert!(
                seen.is_empty(),
                "{what}: reached for a host:\n{seen}\n{}",
                brief(&out)
            );
            worst = worst.max(out.elapsed);
            runs += 1;
        }
    }
    // The control: a valid region (no explicit endpoint) is looked up, and the trap sees it.
    let (out, _cmd) = run(&sources[0], "eu-west-1");
    let seen = attempts();
    assert!(
        seen.contains("logs") && seen.contains("eu-west-1"),
        "the trap recorded nothing for a valid region, so its silence proves nothing\n{seen}\n{}",
        brief(&out)
    );
    drop(resolv);
    say!(
        "hostile regions: {} sources × {} regions = {runs} runs in a netns, 0 attempts to reach a host; control run recorded {} attempt(s); slowest {worst:?}",
        sources.len(),
        HOSTILE_REGIONS.len(),
        seen.lines().count()
    );
}

/// `/dev/null` in every file variable is an empty file, as the SDKs read it (issue 21): never
/// refused as a device; what follows is what an empty file gives.
#[test]
fn dev_null_in_every_file_variable_is_an_empty_file() {
    for var in [
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_CA_BUNDLE",
    ] {
        let mut cmd = support::cmd();
        cmd.env("CREDCHECK_DEADLINE", DEADLINE_ARG)
            .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa")
            .env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://127.0.0.1:9/v1/credentials",
            )
            .env("AWS_ENDPOINT_URL_STS", "https://127.0.0.1:9/")
            .env(var, "/dev/null");
        let out = cmd.run();
        let what = format!("[{var} = /dev/null]");
        assert_promise(&what, &out, "text", false);
        assert!(
            !out.stdout.contains("character device"),
            "{what}: /dev/null is an empty file, not a device\n{}",
            brief(&out)
        );
    }
}

/// What the health check's state directory may be when credcheck starts (issue 21).
#[derive(Clone, Copy, Debug)]
enum StateDirState {
    /// A link to a directory of root's own (mode 0700: only the link stands between).
    LinkToRootsDir,
    /// Another user's directory.
    OtherOwner,
    /// Writable by its group.
    GroupWritable,
    /// A regular file where the directory should be.
    AFile,
    /// A dangling link.
    DanglingLink,
}

const STATE_DIR_STATES: [StateDirState; 5] = [
    StateDirState::LinkToRootsDir,
    StateDirState::OtherOwner,
    StateDirState::GroupWritable,
    StateDirState::AFile,
    StateDirState::DanglingLink,
];

/// Every state-directory state × both formats × every log level, with the canary in the
/// session token: the promise holds, nothing is written through a link or into a directory
/// that is not credcheck's own, and the health line says the state is not trusted. (The same
/// directory swapped mid-run, in a loop: `cache::a_state_dir_swapped_for_a_link_mid_run_…`.)
#[test]
fn state_dir_states_by_format_and_log_level() {
    use std::os::unix::fs::PermissionsExt;
    let mut runs = 0;
    for state in STATE_DIR_STATES {
        for format in FORMATS {
            for level in LOG_LEVELS {
                let mut setup = base(format, level, true);
                probe_logs_to(&mut setup, support::logs::Plan::default());
                let victim = tempfile::tempdir().unwrap();
                std::fs::set_permissions(victim.path(), std::fs::Permissions::from_mode(0o700))
                    .unwrap();
                let dir = setup.cmd.home_path("state");
                match state {
                    StateDirState::LinkToRootsDir => {
                        std::os::unix::fs::symlink(victim.path(), &dir).unwrap()
                    }
                    StateDirState::OtherOwner => {
                        std::fs::create_dir(&dir).unwrap();
                        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
                    }
                    StateDirState::GroupWritable => {
                        std::fs::create_dir(&dir).unwrap();
                        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770))
                            .unwrap();
                    }
                    StateDirState::AFile => std::fs::write(&dir, "").unwrap(),
                    StateDirState::DanglingLink => {
                        std::os::unix::fs::symlink(victim.path().join("gone"), &dir).unwrap()
                    }
                }
                setup.cmd.arg("--state-dir").arg(&dir);
                let what = format!("[state dir {state:?} × {format} × RUST_LOG={level}]");
                let out = run_setup(setup);
                assert_promise(&what, &out, format, true);
                let written: Vec<_> = std::fs::read_dir(victim.path()).unwrap().collect();
                assert!(
                    written.is_empty(),
                    "{what}: wrote {written:?}\n{}",
                    brief(&out)
                );
                if format == "text" {
                    assert!(
                        out.stdout.contains("not trusted"),
                        "{what}: the health line must say so\n{}",
                        brief(&out)
                    );
                }
                runs += 1;
            }
        }
    }
    say!(
        "state dir sweep: {} states × {} formats × {} log levels = {runs} runs, nothing written through",
        STATE_DIR_STATES.len(),
        FORMATS.len(),
        LOG_LEVELS.len()
    );
}

/// One hostile process for the processes sweep: `test_app --exec-env PROGRAM …` (see
/// `examples/test_app.rs`), run in a PID namespace of its own beside credcheck.
struct ProcSetup {
    dir: tempfile::TempDir,
    program: PathBuf,
    argv0: Option<Vec<u8>>,
    cwd: Option<PathBuf>,
    stdin: Option<PathBuf>,
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
}

impl ProcSetup {
    fn new() -> ProcSetup {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().to_string_lossy().into_owned();
        ProcSetup {
            program: support::example_bin("test_app"),
            argv0: None,
            cwd: None,
            stdin: None,
            args: Vec::new(),
            env: vec![
                b"PATH=/usr/bin:/bin".to_vec(),
                format!("HOME={home}").into_bytes(),
                b"AWS_EC2_METADATA_DISABLED=true".to_vec(),
                format!("AWS_ACCESS_KEY_ID={}", support::CANARY_AKID_ENV).into_bytes(),
                format!("AWS_SECRET_ACCESS_KEY={}", support::CANARY_SECRET).into_bytes(),
            ],
            dir,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn set_env(&mut self, key: &str, value: &[u8]) {
        let prefix = format!("{key}=");
        self.env.retain(|e| !e.starts_with(prefix.as_bytes()));
        self.env.push([prefix.as_bytes(), value].concat());
    }

    fn drop_keys(&mut self) {
        self.env.retain(|e| {
            !e.starts_with(b"AWS_ACCESS_KEY_ID=") && !e.starts_with(b"AWS_SECRET_ACCESS_KEY=")
        });
    }

    /// `test_app --exec-env …`'s words.
    fn words(&self) -> Vec<std::ffi::OsString> {
        use std::os::unix::ffi::OsStringExt;
        let os = |b: &[u8]| std::ffi::OsString::from_vec(b.to_vec());
        let mut w = vec![
            support::example_bin("test_app").into_os_string(),
            "--exec-env".into(),
            self.program.clone().into_os_string(),
        ];
        if let Some(a) = &self.argv0 {
            w.extend(["--argv0".into(), os(a)]);
        }
        if let Some(c) = &self.cwd {
            w.extend(["--cwd".into(), c.clone().into_os_string()]);
        }
        if let Some(f) = &self.stdin {
            w.extend(["--stdin".into(), f.clone().into_os_string()]);
        }
        for a in &self.args {
            w.extend(["--arg".into(), os(a)]);
        }
        w.extend(self.env.iter().map(|e| os(e)));
        w
    }
}

/// A file name from an injection: no `/` or NUL, at most 200 bytes.
fn file_name(v: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    let bytes: Vec<u8> = v
        .iter()
        .take(200)
        .map(|b| if *b == b'/' || *b == 0 { b'_' } else { *b })
        .collect();
    std::ffi::OsString::from_vec(bytes)
}

/// `head` + [`file_name`] of `v` + `tail`.
fn named(head: &str, v: &[u8], tail: &str) -> std::ffi::OsString {
    let mut name = std::ffi::OsString::from(head);
    name.push(file_name(v));
    name.push(tail);
    name
}

fn symlink_loop(path: &Path) {
    std::os::unix::fs::symlink(path, path).expect("symlink loop");
}

type ProcApply = fn(&mut ProcSetup, &[u8]);

/// The processes sweep's channels (issue 23): what another process hands `credcheck processes`.
fn process_channels() -> Vec<(&'static str, ProcApply)> {
    vec![
        ("process comm (executable name)", |s, v| {
            let link = s.dir.path().join(file_name(v));
            std::os::unix::fs::symlink(support::example_bin("test_app"), &link).expect("link");
            s.program = link;
        }),
        ("process argv0", |s, v| s.argv0 = Some(v.to_vec())),
        ("process argument", |s, v| s.args.push(v.to_vec())),
        ("process environ AWS_REGION", |s, v| {
            s.set_env("AWS_REGION", v)
        }),
        (
            "process environ AWS_ACCESS_KEY_ID (temporary keys)",
            |s, v| {
                s.set_env("AWS_ACCESS_KEY_ID", &[b"ASIA", v].concat());
                s.set_env("AWS_SESSION_TOKEN", support::CANARY_TOKEN.as_bytes());
            },
        ),
        ("process environ FULL_URI", |s, v| {
            s.drop_keys();
            s.set_env(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                &[b"http://127.0.0.1:9/", v].concat(),
            );
        }),
        ("process environ PYTHONPATH (python)", |s, v| {
            s.argv0 = Some(b"python3".to_vec());
            s.set_env("PYTHONPATH", v);
        }),
        ("process jar name (java)", |s, v| {
            let jar = s.path("lib").join(named("sdk-core-", v, ".jar"));
            std::fs::create_dir_all(jar.parent().unwrap()).unwrap();
            std::fs::write(&jar, b"PK").unwrap();
            s.argv0 = Some(b"java".to_vec());
            s.stdin = Some(jar);
        }),
        ("process dist-info name (python)", |s, v| {
            let site = s.path("site");
            let name = named("botocore-", v, ".dist-info");
            std::fs::create_dir_all(site.join(name)).unwrap();
            s.argv0 = Some(b"python3".to_vec());
            s.set_env("PYTHONPATH", site.as_os_str().as_encoded_bytes());
        }),
        ("process package.json version (node)", |s, v| {
            let pkg = s.path("app/node_modules/aws-sdk");
            std::fs::create_dir_all(&pkg).unwrap();
            std::fs::write(
                pkg.join("package.json"),
                [b"{\"version\":\"".as_slice(), v, b"\"}"].concat(),
            )
            .unwrap();
            s.argv0 = Some(b"node".to_vec());
            s.cwd = Some(s.path("app"));
            s.args.push(v.to_vec());
        }),
        (
            "process symlink loops under its root (python, node, HOME)",
            |s, v| {
                let lp = s.path("loop");
                symlink_loop(&lp);
                std::fs::create_dir_all(s.path("app")).unwrap();
                symlink_loop(&s.path("app/node_modules"));
                s.argv0 = Some(b"python3".to_vec());
                s.set_env(
                    "PYTHONPATH",
                    &[lp.as_os_str().as_encoded_bytes(), b":", v].concat(),
                );
                s.set_env("HOME", lp.as_os_str().as_encoded_bytes());
                s.cwd = Some(s.path("app"));
            },
        ),
        ("process symlink loop as node's cwd modules", |s, v| {
            std::fs::create_dir_all(s.path("app")).unwrap();
            symlink_loop(&s.path("app/node_modules"));
            s.argv0 = Some(b"node".to_vec());
            s.cwd = Some(s.path("app"));
            s.args.push(v.to_vec());
        }),
    ]
}

/// Starts the hostile process in a PID namespace of its own, waits for its first line (after
/// its exec), then execs credcheck there: `processes --no-sts`.
const PROCESS_RUN: &str = r#"cred="$1"; fmt="$2"; shift 2
exec 5< <("$@")
read -r line <&5 || exit 70
exec "$cred" processes --no-sts --format "$fmt" --deadline 1500ms"#;

fn run_process_setup(s: &ProcSetup, format: &str, level: &str) -> Output {
    let mut cmd = TestCmd::new("/usr/bin/unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "/bin/bash",
        "-c",
        PROCESS_RUN,
        "bash",
    ])
    .arg(support::credcheck_bin())
    .arg(format)
    .args(s.words())
    .env("AWS_SESSION_TOKEN", CANARY)
    .env("RUST_LOG", level)
    .timeout(Duration::from_secs(30));
    cmd.allow_secrets();
    cmd.run()
}

#[test]
fn processes_sweep_hostile_processes_by_injections() {
    let test = "sweep::processes_sweep_hostile_processes_by_injections";
    if support::netns::preflight().is_err() {
        assert!(
            !support::in_ci(),
            "{test} needs root (PID namespaces) in CI"
        );
        support::skip(test, "needs root (PID namespaces)");
        return;
    }
    let Some(trap) = trapped(test) else {
        return;
    };
    let channels = process_channels();
    let jobs = grid(channels.iter().map(|(name, _)| *name));
    let total = jobs.len();
    let worst = Worst(Mutex::new((Duration::ZERO, String::new())));
    let rows = AtomicUsize::new(0);
    parallel(jobs, |(ci, name, injection, format, level)| {
        let mut setup = ProcSetup::new();
        (channels[ci].1)(&mut setup, &injection.bytes(true));
        let what = format!("[{name} × {injection:?} × {format} × RUST_LOG={level}]");
        let out = run_process_setup(&setup, format, level);
        assert!(
            out.code != 70,
            "{what}: the hostile process did not start\n{}",
            brief(&out)
        );
        assert_promise(&what, &out, format, false);
        if let Some(trap) = &trap {
            trap.assert_none(&what, EXPLICIT_HOSTS);
        }
        if format == "json" {
            let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
            let n = report["processes"]["rows"].as_array().map_or(0, Vec::len);
            assert!(
                n >= 1,
                "{what}: the hostile process is not listed\n{}",
                brief(&out)
            );
            rows.fetch_add(n, Ordering::Relaxed);
        }
        worst.note(&what, &out);
    });
    let (slowest, which) = worst.0.into_inner().unwrap();
    say!(
        "processes sweep: {} channels × {} injections × {} formats × {} log levels = {total} runs, {} process rows in JSON; slowest {slowest:?} {which} (deadline {DEADLINE:?})",
        channels.len(),
        INJECTIONS.len(),
        FORMATS.len(),
        LOG_LEVELS.len(),
        rows.load(Ordering::Relaxed)
    );
}
