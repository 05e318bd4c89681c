//! Conformance with aws-config's own default-chain test data (`tests/conformance/data/`, copied
//! from smithy-rs; its README names the source, the commit and the licence), plus the botocore
//! differential in [`botocore`].
//!
//! Each scenario runs the built binary, `credcheck --format json --no-sts`, with a cleared
//! environment built from `env.json`, and compares the report with `test-case.json`.
//!
//! How a scenario is mapped (the scenarios name real paths and hosts; nothing may leave loopback):
//! - Files: `fs/<path>` is copied to `<tmp>/<path>`. `HOME`, `AWS_WEB_IDENTITY_TOKEN_FILE`,
//!   `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`, `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`
//!   and `web_identity_token_file` lines of the profile files are re-rooted the same way. A
//!   scenario without `HOME` gets an empty `<tmp>/home`, so no real `~/.aws` is ever read.
//! - Endpoints: the recorded answers are served by a [`replay::Replay`] on 127.0.0.1.
//!   `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL_SSO` and
//!   `AWS_ENDPOINT_URL_SSO_OIDC` name it (aws-config's `ProviderConfig::client_config` carries an
//!   env service config, so its STS, SSO and SSO-OIDC clients honour them), and so does
//!   `AWS_EC2_METADATA_SERVICE_ENDPOINT`. `AWS_EC2_METADATA_DISABLED=true` is added unless the
//!   recorded traffic goes to IMDS.
//! - Container: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=<rel>` becomes
//!   `AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:PORT<rel>`, because RELATIVE_URI always
//!   means 169.254.170.2, which must never be contacted; a FULL_URI on 169.254.x.x keeps its path
//!   and moves to the replay server. credcheck and aws-config select the same source either way.
//!
//! What passes:
//! - `Ok`: the selected provider and `source` are the ones in [`TABLE`]; `access_key_id` is the
//!   expected id masked as `src/secret/mod.rs` masks it (`ASIA…WXYZ`; an id not shaped like one,
//!   such as test-data's 12-character `ASIARCORRECT`, shows `****`, so there the source and
//!   provider carry the check); `ok` is true with no errors, except that credentials whose recorded expiry is in
//!   the past (aws-config's tests pin the clock, credcheck reads the real one) must give exactly
//!   the one error `credentials-expired`.
//! - `ErrorContains`: `ok` is false, the first error's code is the one [`TABLE`] names for the
//!   scenario (credcheck's equivalent of the SDK's error), and for `Text(code)` the expected text
//!   (backquoted `/paths` re-rooted) is also in an error message or a provider detail. `Code`
//!   alone is for aws-config's "the credential provider was not enabled" when it means that
//!   every provider answered "not loaded": credcheck calls that `no-credentials`.
//! - Always: no recorded secret or session token of 8 characters or more is printed.
//!
//! Limits: the endpoint overrides replace the recorded hosts, so `e2e_fips_and_dual_stack_sso`
//! checks the SSO flow but not that FIPS and dual-stack pick `portal.sso-fips.….api.aws`.
//! A request the recording lacks (credcheck's own IMDS region GET) gets a 404 and is listed in
//! the failure message, as are recorded requests that were never made.
//!
//! The test fails when a scenario fails that is not in [`KNOWN_DIVERGENCES`], and when one in
//! that list passes (the entry is stale).

mod botocore;
mod harness;
mod replay;

use harness::{Ran, Vars};
use replay::Replay;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// What credcheck must report for a scenario.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Credentials from this provider (`providers[].provider`) with this `source`.
    Creds {
        provider: &'static str,
        source: &'static str,
    },
    /// The first error has this code, and the expected error text appears in an error message
    /// or a provider detail.
    Text(&'static str),
    /// The first error has this code.
    Code(&'static str),
}

const fn creds(provider: &'static str, source: &'static str) -> Want {
    Want::Creds { provider, source }
}

/// Every scenario, with what credcheck should say about it.
const TABLE: &[(&str, Want)] = &[
    ("e2e_fips_and_dual_stack_sso", creds("profile", "sso")),
    ("ecs_assume_role", creds("profile", "assume-role")),
    ("ecs_credentials", creds("container", "container-role")),
    (
        "ecs_credentials_invalid_profile",
        creds("container", "container-role"),
    ),
    (
        "eks_pod_identity_credentials",
        creds("container", "container-role"),
    ),
    // credcheck reads the token file itself; its message carries the io error.
    (
        "eks_pod_identity_no_token_file",
        Want::Text("token-file-unreadable"),
    ),
    ("environment_variables", creds("environment", "env")),
    (
        "environment_variables_blank",
        creds("profile", "config-file"),
    ),
    ("imds_assume_role", creds("profile", "assume-role")),
    ("imds_config_with_no_creds", creds("imds", "iam-role")),
    ("imds_default_chain_error", Want::Code("no-credentials")),
    ("imds_default_chain_retries", creds("imds", "iam-role")),
    ("imds_default_chain_success", creds("imds", "iam-role")),
    ("imds_disabled", Want::Code("no-credentials")),
    // The profile's IMDS base credentials say "not loaded"; aws-config's profile provider turns
    // that into a provider error (profile/credentials.rs `ChainProvider`), which stops the chain.
    ("imds_no_iam_role", Want::Text("provider-failed")),
    // Below, credcheck runs aws-config's profile provider and quotes its error.
    ("imds_token_fail", Want::Text("provider-failed")),
    ("prefer_environment", creds("environment", "env")),
    ("profile_name", creds("profile", "config-file")),
    (
        "profile_overrides_web_identity",
        Want::Text("provider-failed"),
    ),
    (
        "profile_static_keys",
        creds("profile", "shared-credentials-file"),
    ),
    (
        "profile_static_keys_case_insensitive",
        creds("profile", "shared-credentials-file"),
    ),
    ("sso_assume_role", creds("profile", "sso")),
    ("sso_no_token_file", Want::Text("provider-failed")),
    ("sso_server_error", Want::Text("provider-failed")),
    (
        "web_identity_source_profile_no_env",
        Want::Text("provider-config"),
    ),
    (
        "web_identity_token_env",
        creds("web-identity", "assume-role-with-web-identity"),
    ),
    (
        "web_identity_token_invalid_jwt",
        Want::Text("provider-failed"),
    ),
    (
        "web_identity_token_profile",
        creds("profile", "assume-role-with-web-identity"),
    ),
    (
        "web_identity_token_source_profile",
        creds("profile", "assume-role"),
    ),
];

/// Scenarios credcheck is known to answer differently, and why.
const KNOWN_DIVERGENCES: &[(&str, &str)] = &[];

const RE_ROOTED: [&str; 5] = [
    "HOME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];
const ENDPOINT_VARS: [&str; 5] = [
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_SSO",
    "AWS_ENDPOINT_URL_SSO_OIDC",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
];
const RELATIVE_URI: &str = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI";
const FULL_URI: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
const IMDS_HOST: &str = "169.254.169.254";
/// Shorter recorded secrets (`bar`, `FAKE`) are ordinary words; they are not leak-checked.
const MIN_LEAK_LEN: usize = 8;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/conformance/data/default-credential-provider-chain")
}

/// What `test-case.json` expects.
#[derive(Debug)]
enum Expected {
    Creds {
        key: String,
        expiry: Option<i64>,
        secrets: Vec<String>,
    },
    Error(String),
}

fn expected(dir: &Path) -> Expected {
    let text = std::fs::read_to_string(dir.join("test-case.json")).expect("test-case.json");
    let case: Value = serde_json::from_str(&text).expect("test-case.json is JSON");
    let result = &case["result"];
    if let Some(message) = result["ErrorContains"].as_str() {
        return Expected::Error(message.to_string());
    }
    let ok = &result["Ok"];
    let secrets = ["secret_access_key", "session_token"]
        .iter()
        .filter_map(|k| ok[*k].as_str())
        .map(str::to_string)
        .collect();
    Expected::Creds {
        key: ok["access_key_id"]
            .as_str()
            .expect("Ok.access_key_id")
            .to_string(),
        expiry: ok["expiry"].as_i64(),
        secrets,
    }
}

/// The expected id, masked as credcheck masks it (`ASIA…WXYZ`, or `****` for a value that is
/// not shaped like a key id, such as test-data's 12-character `ASIARCORRECT`).
fn masked(id: &str) -> String {
    credcheck::secret::mask_key_id(id)
}

/// Copies `fs/` under `root`, re-rooting `web_identity_token_file` in the profile files.
fn copy_tree(from: &Path, root: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    for entry in entries.map(|e| e.expect("read_dir entry")) {
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            std::fs::create_dir_all(&target).expect("create_dir_all");
            copy_tree(&source, root, &target);
        } else {
            let text = std::fs::read(&source).expect("read a scenario file");
            std::fs::write(&target, re_root_profile_file(&text, root))
                .expect("write a scenario file");
        }
    }
}

fn re_root_profile_file(bytes: &[u8], root: &Path) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    let re_root_line = |line: &str| match line.split_once('=') {
        Some((key, value)) if key.trim() == "web_identity_token_file" => {
            format!("{key}= {}", re_root(root, value.trim()))
        }
        _ => line.to_string(),
    };
    let lines: Vec<String> = text.split('\n').map(re_root_line).collect();
    lines.join("\n").into_bytes()
}

fn re_root(root: &Path, value: &str) -> String {
    match value.strip_prefix('/') {
        Some(rest) => root.join(rest).display().to_string(),
        None => value.to_string(),
    }
}

/// One variable of `env.json`, as the test sets it.
fn map_var(key: &str, value: &str, root: &Path, url: &str) -> (String, String) {
    if RE_ROOTED.contains(&key) {
        return (key.to_string(), re_root(root, value));
    }
    match key {
        RELATIVE_URI => (FULL_URI.to_string(), format!("{url}{value}")),
        FULL_URI if value.contains("://169.254.") => (
            key.to_string(),
            format!("{url}{}", replay::split_uri(value).1),
        ),
        _ => (key.to_string(), value.to_string()),
    }
}

fn scenario_env(dir: &Path, root: &Path, url: &str, uses_imds: bool) -> Vars {
    let text = std::fs::read_to_string(dir.join("env.json")).expect("env.json");
    let raw: Vars = serde_json::from_str(&text).expect("env.json is a string map");
    let mut vars: Vars = raw.iter().map(|(k, v)| map_var(k, v, root, url)).collect();
    if !vars.contains_key("HOME") {
        let home = root.join("home");
        std::fs::create_dir_all(&home).expect("create HOME");
        vars.insert("HOME".into(), home.display().to_string());
    }
    for key in ENDPOINT_VARS {
        vars.insert(key.into(), url.into());
    }
    if !uses_imds {
        vars.entry("AWS_EC2_METADATA_DISABLED".into())
            .or_insert_with(|| "true".into());
    }
    vars
}

/// Runs one scenario; `Err` says why it does not conform.
fn run_scenario(name: &str, want: Want) -> Result<(), String> {
    let dir = data_dir().join(name);
    let root = tempfile::tempdir().expect("tempdir");
    let traffic = replay::load(&dir.join("http-traffic.json"));
    let uses_imds = traffic.iter().any(|e| e.host == IMDS_HOST);
    let server = Replay::start(traffic);
    copy_tree(&dir.join("fs"), root.path(), root.path());
    let vars = scenario_env(&dir, root.path(), &server.url(), uses_imds);
    let ran = harness::run(harness::credcheck(&vars), harness::LIMIT);
    let report = harness::report(&ran)?;
    let expected = expected(&dir);
    ensure_no_leak(&ran, &expected)?;
    judge(&report, &expected, want, root.path()).map_err(|why| with_traffic(why, &report, &server))
}

fn with_traffic(why: String, report: &Value, server: &Replay) -> String {
    let mut out = format!("{why}\n      observed: {}", harness::summary(report));
    let (unmatched, unused) = (server.unmatched(), server.unused());
    if !unmatched.is_empty() {
        out.push_str(&format!("\n      unrecorded requests: {unmatched:?}"));
    }
    if !unused.is_empty() {
        out.push_str(&format!("\n      recorded but never asked: {unused:?}"));
    }
    out
}

fn ensure_no_leak(ran: &Ran, expected: &Expected) -> Result<(), String> {
    let Expected::Creds { secrets, .. } = expected else {
        return Ok(());
    };
    match secrets
        .iter()
        .find(|s| s.len() >= MIN_LEAK_LEN && ran.contains(s))
    {
        Some(secret) => Err(format!(
            "a recorded secret was printed ({} characters)",
            secret.len()
        )),
        None => Ok(()),
    }
}

fn judge(report: &Value, expected: &Expected, want: Want, root: &Path) -> Result<(), String> {
    match (expected, want) {
        (Expected::Creds { key, expiry, .. }, Want::Creds { provider, source }) => {
            judge_creds(report, key, *expiry, provider, source)
        }
        (Expected::Error(text), Want::Text(code)) => judge_failed(report)
            .and_then(|()| judge_code(report, code))
            .and_then(|()| judge_text(report, &re_root_quoted(text, root))),
        (Expected::Error(_), Want::Code(code)) => {
            judge_failed(report).and_then(|()| judge_code(report, code))
        }
        (expected, want) => Err(format!(
            "TABLE says {want:?} but test-case.json says {expected:?}"
        )),
    }
}

fn judge_creds(
    report: &Value,
    key: &str,
    expiry: Option<i64>,
    provider: &str,
    source: &str,
) -> Result<(), String> {
    let selected = harness::selected_provider(report);
    if selected != Some(provider) || report["source"] != source {
        return Err(format!(
            "expected {source} from the {provider} provider, got {} from {selected:?}",
            report["source"]
        ));
    }
    if report["access_key_id"] != masked(key).as_str() {
        return Err(format!(
            "expected access key {}, got {}",
            masked(key),
            report["access_key_id"]
        ));
    }
    let expired = expiry.is_some_and(|e| e < now_secs());
    let want_errors: &[&str] = if expired {
        &["credentials-expired"]
    } else {
        &[]
    };
    let errors = harness::codes(report, "errors");
    match errors == want_errors && report["ok"] == !expired {
        true => Ok(()),
        false => Err(format!(
            "expected ok={} with errors {want_errors:?}, got ok={} with {errors:?}",
            !expired, report["ok"]
        )),
    }
}

fn judge_failed(report: &Value) -> Result<(), String> {
    match report["ok"] == false && report["exit_code"] != 0 {
        true => Ok(()),
        false => Err("expected a failure, got ok=true".into()),
    }
}

fn judge_text(report: &Value, text: &str) -> Result<(), String> {
    let messages = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["message"]);
    let details = report["providers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| &p["detail"]);
    match messages
        .chain(details)
        .filter_map(Value::as_str)
        .any(|m| m.contains(text))
    {
        true => Ok(()),
        false => Err(format!("no error or provider detail contains {text:?}")),
    }
}

fn judge_code(report: &Value, code: &str) -> Result<(), String> {
    match harness::codes(report, "errors").first() == Some(&code) {
        true => Ok(()),
        false => Err(format!("expected the first error to be {code}")),
    }
}

/// `failed to read `/home/x`` → the same path under the scenario's root.
fn re_root_quoted(text: &str, root: &Path) -> String {
    text.replace("`/", &format!("`{}/", root.display()))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn known(name: &str) -> Option<&'static str> {
    KNOWN_DIVERGENCES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// The table covers exactly the scenario folders, and every known divergence is in the table.
fn ensure_table_matches_data() {
    let mut on_disk: Vec<String> = std::fs::read_dir(data_dir())
        .expect("conformance data")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut in_table: Vec<String> = TABLE.iter().map(|(n, _)| n.to_string()).collect();
    in_table.sort();
    assert_eq!(
        on_disk, in_table,
        "TABLE must list every scenario folder once"
    );
    for (name, _) in KNOWN_DIVERGENCES {
        assert!(
            TABLE.iter().any(|(n, _)| n == name),
            "KNOWN_DIVERGENCES names {name}, which is no scenario"
        );
    }
}

#[test]
fn aws_config_conformance() {
    ensure_table_matches_data();
    let results: Vec<(&str, Result<(), String>)> = TABLE
        .iter()
        .map(|(name, want)| (*name, run_scenario(name, *want)))
        .collect();
    let passed = results.iter().filter(|(_, r)| r.is_ok()).count();
    crate::support::say!("conformance: {passed}/{} pass", results.len());
    let mut problems = Vec::new();
    for (name, result) in &results {
        match (result, known(name)) {
            (Err(why), Some(reason)) => {
                crate::support::say!("  KNOWN {name}: {reason}\n      why: {why}")
            }
            (Err(why), None) => problems.push(format!("FAIL {name}: {why}")),
            (Ok(()), Some(_)) => problems.push(format!(
                "STALE {name}: passes now; remove it from KNOWN_DIVERGENCES"
            )),
            (Ok(()), None) => {}
        }
    }
    for problem in &problems {
        crate::support::say!("  {problem}");
    }
    assert!(
        problems.is_empty(),
        "{} scenario(s) disagree with aws-config:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
