//! End-to-end tests that need more than one run or more than loopback: real STS (moto), the
//! literal link-local addresses (network namespaces), an empty root (chroot), the wrapper's
//! exec and the health check's verdicts.

use crate::support::{self, moto, netns::Netns, peer, TestCmd};
use std::time::Duration;

fn moto_or_skip(test: &str) -> Option<&'static moto::Moto> {
    let m = moto::moto();
    if m.is_none() {
        support::skip(test, "no .venv with moto (run scripts/test)");
    }
    m
}

fn netns_or_skip(test: &str, addrs: &[&str]) -> Option<Netns> {
    let ns = Netns::create_with("credcheck", addrs);
    if ns.is_none() {
        support::skip(test, "network namespaces need root and iproute2");
    }
    ns
}

/// An ECS endpoint serving moto-issued credentials for `role`.
fn ecs_serving(creds: &moto::Creds, role_arn: &str) -> peer::Peer {
    let ecs = peer::Ecs {
        access_key_id: creds.akid.clone(),
        secret_access_key: creds.secret.clone(),
        token: creds.token.clone(),
        role_arn: Some(role_arn.to_string()),
        ..peer::Ecs::task_role()
    };
    peer::Peer::start(peer::Plan::new().with_ecs(ecs))
}

#[test]
fn moto_container_role_identity() {
    let Some(m) = moto_or_skip("moto_container_role_identity") else {
        return;
    };
    let role_arn = m.create_role("app-task-role");
    let creds = m.assume_role("app-task-role", "task-session");
    let ecs = ecs_serving(&creds, &role_arn);
    let mut cmd = support::cmd();
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}{}", ecs.url(), peer::ECS_PATH),
    )
    .env("AWS_ENDPOINT_URL_STS", m.url())
    .env("RUST_LOG", "trace");
    cmd.args(["--format", "json", "--expect-role", "app-task-role"]);
    let (out, v) = cmd.run_json();
    support::assert_no_strings(&out, &[&creds.secret, &creds.token, &creds.akid]);
    out.assert_success();
    assert_eq!(
        v["identity"]["arn"], "arn:aws:sts::123456789012:assumed-role/app-task-role/task-session",
        "{out}"
    );
    assert_eq!(v["role_arn"], role_arn.as_str());
    assert!(v["warnings"].as_array().unwrap().is_empty(), "{out}");
    assert_eq!(
        ecs.hits(),
        1,
        "the endpoint is fetched once, its credentials reused for STS"
    );
}

#[test]
fn moto_role_mismatch_is_warned() {
    let Some(m) = moto_or_skip("moto_role_mismatch_is_warned") else {
        return;
    };
    m.create_role("actual-role");
    let creds = m.assume_role("actual-role", "s1");
    let ecs = ecs_serving(&creds, "arn:aws:iam::123456789012:role/declared-role");
    let mut cmd = support::cmd();
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}{}", ecs.url(), peer::ECS_PATH),
    )
    .env("AWS_ENDPOINT_URL_STS", m.url());
    let (out, v) = cmd.args(["--format", "json"]).run_json();
    support::assert_no_strings(&out, &[&creds.secret, &creds.token]);
    let codes: Vec<_> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.contains(&"role-mismatch".to_string()), "{out}");
}

#[test]
fn moto_assume_role_profile() {
    let Some(m) = moto_or_skip("moto_assume_role_profile") else {
        return;
    };
    let role_arn = m.create_role("profile-role");
    let mut cmd = support::cmd();
    let config = format!(
        "[profile app]\nrole_arn = {role_arn}\nsource_profile = base\nrole_session_name = credcheck-test\n[profile base]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        moto::MOTO_ADMIN_KEY,
        support::CANARY_SECRET
    );
    cmd.home_file(".aws/config", config)
        .env("AWS_PROFILE", "app")
        .env("AWS_ENDPOINT_URL_STS", m.url());
    let (out, v) = cmd.args(["--format", "json"]).run_json();
    out.assert_success();
    assert_eq!(v["source"], "assume-role", "{out}");
    assert_eq!(
        v["identity"]["arn"], "arn:aws:sts::123456789012:assumed-role/profile-role/credcheck-test",
        "{out}"
    );
}

#[test]
fn moto_web_identity() {
    let Some(m) = moto_or_skip("moto_web_identity") else {
        return;
    };
    let role_arn = m.create_role("irsa-role");
    let mut cmd = support::cmd();
    cmd.home_file("token", support::CANARY_WEB_IDENTITY);
    let token = cmd.home_path("token");
    cmd.env("AWS_WEB_IDENTITY_TOKEN_FILE", token)
        .env("AWS_ROLE_ARN", &role_arn)
        .env("AWS_ROLE_SESSION_NAME", "irsa")
        .env("AWS_ENDPOINT_URL_STS", m.url());
    let (out, v) = cmd
        .args(["--format", "json", "--expect-role", "irsa-role"])
        .run_json();
    out.assert_success();
    assert_eq!(v["source"], "assume-role-with-web-identity", "{out}");
    assert_eq!(v["identity"]["role_name"], "irsa-role", "{out}");
}

/// The literal 169.254.170.2 + RELATIVE_URI flow, inside a namespace this test owns.
#[test]
fn relative_uri_in_netns() {
    let Some(ns) = netns_or_skip("relative_uri_in_netns", &["169.254.170.2/32"]) else {
        return;
    };
    let _agent = ns.spawn_peer(&[
        "--bind",
        "169.254.170.2:80",
        "--ecs-path",
        peer::ECS_PATH,
        "--role-arn",
        peer::ROLE_ARN,
    ]);
    let mut cmd = support::cmd();
    cmd.in_netns(&ns)
        .env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", peer::ECS_PATH)
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://127.0.0.1:1/ignored",
        );
    let (out, v) = cmd.args(["--format", "json", "--no-sts"]).run_json();
    out.assert_success();
    assert_eq!(v["source"], "container-role", "{out}");
    assert_eq!(v["role_arn"], peer::ROLE_ARN);
    assert!(
        v["location"]
            .as_str()
            .unwrap()
            .starts_with("http://169.254.170.2/v2/credentials/0f4b"),
        "{out}"
    );
    let warnings = v["warnings"].to_string();
    assert!(warnings.contains("both-container-uris"), "{out}");
    assert!(
        v["notes"].to_string().contains("go-full-uri-first"),
        "{out}"
    );
}

/// ECS agent's answer for a stale id, over the literal address.
#[test]
fn relative_uri_stale_id_in_netns() {
    let Some(ns) = netns_or_skip("relative_uri_stale_id_in_netns", &["169.254.170.2/32"]) else {
        return;
    };
    let _agent = ns.spawn_peer(&["--bind", "169.254.170.2:80", "--ecs-path", peer::ECS_PATH]);
    let mut cmd = support::cmd();
    cmd.in_netns(&ns).env(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "/v2/credentials/deadbeef-0000-0000-0000-000000000000",
    );
    let out = cmd.args(["--no-sts"]).run();
    out.assert_code(1);
    assert!(out.stdout.contains("InvalidIdInRequest"), "{out}");
}

/// A RELATIVE_URI with a double slash: the ECS agent's router answers 301 with a relative
/// Location, resolved against http://169.254.170.2: the URI is not canonical (not a proxy).
#[test]
fn relative_uri_not_canonical_in_netns() {
    let Some(ns) = netns_or_skip("relative_uri_not_canonical_in_netns", &["169.254.170.2/32"])
    else {
        return;
    };
    let _agent = ns.spawn_peer(&["--bind", "169.254.170.2:80", "--ecs-path", peer::ECS_PATH]);
    let mut cmd = support::cmd();
    cmd.in_netns(&ns).env(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        format!("/{}", peer::ECS_PATH),
    );
    let out = cmd.args(["--no-sts"]).run();
    out.assert_code(1);
    assert!(
        out.stdout.contains("[container-uri-not-canonical]"),
        "{out}"
    );
    assert!(
        out.stdout.contains("canonical path /v2/credentials/0f4b…"),
        "{out}"
    );
}

/// EKS Pod Identity over 169.254.170.23 and [fd00:ec2::23], with the token file required and
/// the agent's Host check on (the literal addresses pass it).
#[test]
fn pod_identity_in_netns() {
    let Some(ns) = netns_or_skip(
        "pod_identity_in_netns",
        &["169.254.170.23/32", "fd00:ec2::23/128"],
    ) else {
        return;
    };
    let token_dir = tempfile::tempdir().expect("tempdir");
    let token = token_dir.path().join("eks-pod-identity-token");
    std::fs::write(&token, support::CANARY_AUTH_TOKEN).expect("token file");
    let token_arg = token.to_string_lossy().into_owned();
    let _agent = ns.spawn_peer(&[
        "--bind",
        "169.254.170.23:80",
        "--bind",
        "[fd00:ec2::23]:80",
        "--pod-identity",
        "--pod-identity-host-check",
        "--token-file",
        &token_arg,
    ]);
    for url in [
        "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials",
    ] {
        let mut cmd = support::cmd();
        cmd.in_netns(&ns)
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", url)
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token);
        let (out, v) = cmd.args(["--format", "json", "--no-sts"]).run_json();
        out.assert_success();
        assert_eq!(v["source"], "container-role", "{url}: {out}");
        assert!(
            v["role_arn"].is_null(),
            "Pod Identity sends no RoleArn: {out}"
        );
    }
    let mut no_token = support::cmd();
    no_token.in_netns(&ns).env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://169.254.170.23/v1/credentials",
    );
    let out = no_token.arg("--no-sts").run();
    out.assert_code(1);
    assert!(
        out.stdout.contains("pod-identity-no-token"),
        "the agent requires the token\n{out}"
    );
}

/// The static binary alone in an empty root: no /etc, no certificates, no resolver.
#[test]
fn empty_root_chroot() {
    if !is_root() {
        support::skip("empty_root_chroot", "chroot needs root");
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        env!("CARGO_BIN_EXE_credcheck"),
        root.path().join("credcheck"),
    )
    .expect("copy binary");
    let ecs = peer::Peer::start(
        peer::Plan::new()
            .with_ecs(peer::Ecs::task_role())
            .with_sts(peer::Sts::default()),
    );
    let mut cmd = TestCmd::new("/usr/sbin/chroot");
    cmd.arg(root.path())
        .arg("/credcheck")
        .env("HOME", "/")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}{}", ecs.url(), peer::ECS_PATH),
        )
        .env("AWS_ENDPOINT_URL_STS", ecs.url());
    let out = cmd.run();
    out.assert_success();
    assert!(out.stdout.contains("credcheck-task-role"), "{out}");
    let port = ecs.addr().port();
    let mut cmd = TestCmd::new("/usr/sbin/chroot");
    cmd.arg(root.path()).arg("/credcheck").env("HOME", "/").env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("http://localhost:{port}{}", peer::ECS_PATH),
    );
    let out = cmd.run();
    out.assert_code(2);
    assert!(
        out.stdout.contains("unresolvable-host") && out.stdout.contains("/etc/hosts"),
        "{out}"
    );
    let mut sts = TestCmd::new("/usr/sbin/chroot");
    sts.arg(root.path()).arg("/credcheck").env("HOME", "/");
    sts.env("AWS_ACCESS_KEY_ID", support::CANARY_AKID)
        .env("AWS_SECRET_ACCESS_KEY", support::CANARY_SECRET);
    let out = sts
        .env("AWS_ENDPOINT_URL_STS", format!("http://localhost:{port}"))
        .run();
    out.assert_code(2);
    assert!(
        out.stdout.contains("unresolvable-host") && out.stdout.contains("AWS_ENDPOINT_URL_STS"),
        "{out}"
    );
}

/// Root, read from /proc (no libc in the tests).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[test]
fn deadline_bounds_the_whole_run() {
    let hang = peer::Peer::start(
        peer::Plan::new().with_ecs(peer::Ecs::task_role().with_fault(peer::EcsFault::Hang)),
    );
    let mut cmd = support::cmd();
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}{}", hang.url(), peer::ECS_PATH),
    )
    .args(["--timeout", "30s", "--deadline", "1s"]);
    let out = cmd.run();
    out.assert_code(3);
    assert!(
        out.elapsed < Duration::from_secs(1) + support::OVER_DEADLINE,
        "deadline 1s overrun: {:?}",
        out.elapsed
    );
}

fn container_cmd(ecs: &peer::Peer) -> TestCmd {
    let mut cmd = support::cmd();
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}{}", ecs.url(), peer::ECS_PATH),
    )
    .env("AWS_ENDPOINT_URL_STS", ecs.url());
    cmd
}

fn ok_peer() -> peer::Peer {
    peer::Peer::start(
        peer::Plan::new()
            .with_ecs(peer::Ecs::task_role())
            .with_sts(peer::Sts::default()),
    )
}

#[test]
fn wrapper_execs_the_app_with_its_argv_env_and_exit_code() {
    let ecs = ok_peer();
    let mut cmd = container_cmd(&ecs);
    cmd.env("APP_SETTING", "kept").args([
        "--",
        "/bin/sh",
        "-c",
        "echo \"app: $0 $1 $APP_SETTING\"; exit 7",
        "arg0",
        "arg 1",
    ]);
    let out = cmd.run();
    out.assert_code(7);
    assert_eq!(
        out.stdout, "app: arg0 arg 1 kept\n",
        "the app's stdout stays clean\n{out}"
    );
    assert!(
        out.stderr.contains("credcheck-task-role") && out.stderr.contains("container-role"),
        "report on stderr\n{out}"
    );
}

#[test]
fn wrapper_keeps_the_pid() {
    let ecs = ok_peer();
    let cmd = {
        let mut c = container_cmd(&ecs);
        c.args(["--no-sts", "--", "/bin/sh", "-c", "echo $$"]);
        c
    };
    let child = cmd
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        pid.to_string(),
        "exec keeps the PID"
    );
}

#[test]
fn wrapper_json_report_goes_to_stderr_as_one_line() {
    let ecs = ok_peer();
    let mut cmd = container_cmd(&ecs);
    let out = cmd.args(["--format", "json", "--", "/bin/true"]).run();
    out.assert_success();
    assert!(out.stdout.is_empty());
    assert_eq!(out.stderr.lines().count(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out.stderr).expect("json on stderr");
    crate::schema::assert_schema(&v);
}

#[test]
fn wrapper_fails_open_by_default_and_closed_with_require() {
    let mut open = support::cmd();
    let out = open.args(["--", "/bin/echo", "started"]).run();
    out.assert_success();
    assert_eq!(
        out.stdout, "started\n",
        "fail-open: the app starts although there are no credentials\n{out}"
    );
    let mut closed = support::cmd();
    let out = closed
        .args(["--require", "--", "/bin/echo", "started"])
        .run();
    out.assert_code(1);
    assert!(
        out.stdout.is_empty(),
        "--require: the app must not start\n{out}"
    );
    let mut by_env = support::cmd();
    by_env.env("CREDCHECK_REQUIRE", "1");
    let out = by_env.args(["--", "/bin/echo", "started"]).run();
    out.assert_code(1);
    assert!(
        out.stdout.is_empty(),
        "CREDCHECK_REQUIRE=1 as --require\n{out}"
    );
}

#[test]
fn wrapper_missing_and_unexecutable_commands() {
    let mut missing = support::cmd();
    let out = missing
        .args(["--no-sts", "--", "no-such-command-credcheck"])
        .run();
    out.assert_code(127);
    assert!(out.stderr.contains("command not found"), "{out}");
    let mut noexec = support::cmd();
    noexec.home_file("app.sh", "#!/bin/sh\necho hi\n");
    let script = noexec.home_path("app.sh");
    let out = noexec.arg("--no-sts").arg("--").arg(&script).run();
    out.assert_code(126);
    assert!(out.stderr.contains("cannot execute"), "{out}");
}

#[test]
fn health_is_healthy_with_the_expected_role() {
    let ecs = ok_peer();
    let mut cmd = container_cmd(&ecs);
    let out = cmd
        .args(["health", "--expect-role", "credcheck-task-role"])
        .run();
    out.assert_success();
    assert!(out.stdout.starts_with("healthy: container-role arn:aws:iam::123456789012:role/credcheck-task-role, expires in"), "{out}");
    assert_eq!(out.stdout.lines().count(), 1);
    assert_eq!(ecs.hits(), 1, "no STS call by default");
}

#[test]
fn health_is_unhealthy_on_role_mismatch_ttl_and_missing_credentials() {
    let ecs = ok_peer();
    let mut wrong = container_cmd(&ecs);
    let out = wrong.args(["health", "--expect-role", "payments"]).run();
    out.assert_code(1);
    assert!(
        out.stdout.contains("unhealthy:")
            && out.stdout.contains("payments")
            && out.stdout.contains("credcheck-task-role"),
        "{out}"
    );
    let mut ttl = container_cmd(&ecs);
    let out = ttl.args(["health", "--min-ttl", "5h"]).run();
    out.assert_code(1);
    assert!(out.stdout.contains("--min-ttl"), "{out}");
    let out = support::cmd().arg("health").run();
    out.assert_code(1);
}

#[test]
fn health_with_sts_and_usage_errors_stay_zero_or_one() {
    let ecs = ok_peer();
    let mut sts = container_cmd(&ecs);
    sts.env("CREDCHECK_STS", "true");
    let out = sts
        .args(["health", "--expect-account", "123456789012"])
        .run();
    out.assert_success();
    assert_eq!(
        ecs.hits(),
        2,
        "--sts (here via CREDCHECK_STS) calls STS once"
    );
    let out = support::cmd().args(["health", "--min-ttl", "soon"]).run();
    out.assert_code(1);
    let out = support::cmd().args(["--timeout", "soon"]).run();
    out.assert_code(2);
    assert!(
        out.stderr.contains("500ms"),
        "a bad duration says how to write one\n{out}"
    );
}
