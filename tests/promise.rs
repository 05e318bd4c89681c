//! End-to-end checks of the promise's specific rules (issue "The promise holds by
//! construction"), beside the generated sweep in `sweep.rs`: exit codes and messages, time and
//! numbers, keys that are not keys, and cost that grows with input. Every test runs the built
//! binary.

use crate::support::{self, peer, TestCmd};
use std::fmt::Write as _;

fn container(peer: &peer::Peer) -> TestCmd {
    let mut cmd = support::cmd();
    cmd.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", peer.ecs_url())
        .env("AWS_ENDPOINT_URL_STS", peer.url());
    cmd
}

#[test]
fn health_exits_zero_or_one_wherever_the_subcommand_stands() {
    for args in [
        vec!["--format", "json", "health"],
        vec!["--deadline", "2s", "health", "--bogus-flag"],
        vec!["--format", "yaml", "health"],
        vec!["health", "--min-ttl", "18446744073709551615s"],
    ] {
        let out = support::cmd().args(&args).run();
        assert!(
            matches!(out.code, 0 | 1),
            "{args:?}: exit {}\n{out}",
            out.code
        );
    }
    let out = support::cmd().args(["--format", "json", "health"]).run();
    out.json();
}

#[test]
fn huge_durations_are_usage_errors_never_overflows() {
    for flag in ["--deadline", "--timeout"] {
        let out = support::cmd().args([flag, "18446744073709551615s"]).run();
        out.assert_code(2);
        assert!(out.stderr.contains("at most"), "{out}");
    }
    let out = support::cmd()
        .env("CREDCHECK_DEADLINE", "99999999999999h")
        .run();
    out.assert_code(2);
    let peer = peer::Peer::start(peer::Plan::new().with_ecs(peer::Ecs::task_role()));
    let out = container(&peer)
        .args(["health", "--min-ttl", "3650days"])
        .run();
    out.assert_code(1);
    assert!(
        out.stdout.starts_with("unhealthy:"),
        "a long --min-ttl is never healthy\n{out}"
    );
}

#[test]
fn durations_read_as_people_write_them() {
    let peer = peer::Peer::start(
        peer::Plan::new()
            .with_ecs(peer::Ecs::task_role().with_expiration(&peer::rfc3339_in(400 * 86_400))),
    );
    let out = container(&peer).arg("--no-sts").run();
    assert!(
        out.stdout.contains("(in 399 days)") || out.stdout.contains("(in 400 days)"),
        "{out}"
    );
    let out = support::cmd()
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://127.0.0.1:9/v1/credentials",
        )
        .args(["--timeout", "998ms", "--no-sts"])
        .run();
    assert!(
        !out.stdout.contains("us "),
        "no microseconds in messages\n{out}"
    );
}

#[test]
fn no_sts_never_says_sts_was_asked() {
    let peer = peer::Peer::start(peer::Plan::new().with_ecs(peer::Ecs::task_role()));
    let mut cmd = container(&peer);
    cmd.env_remove("AWS_REGION");
    let out = cmd.arg("--no-sts").run();
    assert!(out.stdout.contains("[no-region]"), "{out}");
    assert!(!out.stdout.contains("STS was asked"), "{out}");
}

#[test]
fn impossible_expirations_are_bad_responses_not_crashes() {
    for expiration in [
        "0000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z",
        "9999-12-31T23:59:60.999999999+14:00",
        "2026-12-03T01:03:57.123456789-23:59",
    ] {
        let peer = peer::Peer::start(
            peer::Plan::new().with_ecs(peer::Ecs::task_role().with_expiration(expiration)),
        );
        let (out, json) = container(&peer)
            .args(["--no-sts", "--format", "json"])
            .run_json();
        assert!(
            matches!(out.code, 0 | 1),
            "{expiration}: exit {}\n{out}",
            out.code
        );
        let codes: Vec<&str> = json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["code"].as_str())
            .collect();
        if expiration.starts_with("0000")
            || expiration.starts_with("1969")
            || expiration.starts_with("10000")
        {
            assert!(
                codes
                    .iter()
                    .any(|c| c.contains("bad-response") || *c == "expiration-invalid"),
                "{expiration}: {codes:?}\n{out}"
            );
        }
    }
}

#[test]
fn a_key_id_that_is_not_a_key_id_shows_nothing_of_itself() {
    let swapped = "wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEY0";
    for id in [swapped, "test", "asiaiosfodnn7example"] {
        let out = support::cmd()
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", support::CANARY_SECRET)
            .args(["--no-sts", "--format", "json"])
            .run();
        let json = out.json();
        assert_eq!(json["access_key_id"], "****", "{out}");
        assert!(
            json["warnings"]
                .to_string()
                .contains("access-key-id-malformed"),
            "{out}"
        );
        if id.len() >= 8 {
            for w in id.as_bytes().windows(8) {
                let w = std::str::from_utf8(w).unwrap();
                assert!(
                    !out.stdout.contains(w) && !out.stderr.contains(w),
                    "{id}: {w}\n{out}"
                );
            }
        }
    }
    let out = support::cmd()
        .env("AWS_ACCESS_KEY_ID", support::CANARY_AKID_ENV)
        .env("AWS_SECRET_ACCESS_KEY", support::CANARY_SECRET)
        .arg("--no-sts")
        .run();
    assert!(!out.stdout.contains("access-key-id-malformed"), "{out}");
}

#[test]
fn wrapper_names_the_real_cause_of_a_failed_exec() {
    let out = support::cmd().args(["--no-sts", "--"]).run();
    out.assert_code(2);
    assert!(out.stderr.contains("needs a command"), "{out}");

    let mut crlf = support::cmd();
    crlf.home_file("crlf.sh", "#!/bin/sh\r\necho hi\r\n");
    let script = crlf.home_path("crlf.sh");
    make_executable(&script);
    let out = crlf.arg("--no-sts").arg("--").arg(&script).run();
    out.assert_code(126);
    assert!(out.stderr.contains("CRLF"), "{out}");
    assert!(!out.stderr.contains("command not found"), "{out}");

    let mut interp = support::cmd();
    interp.home_file("app.sh", "#!/no/such/interpreter\necho hi\n");
    let script = interp.home_path("app.sh");
    make_executable(&script);
    let out = interp.arg("--no-sts").arg("--").arg(&script).run();
    out.assert_code(126);
    assert!(
        out.stderr.contains("/no/such/interpreter") && out.stderr.contains("does not exist"),
        "{out}"
    );
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// 100,000 profiles in a 4 MiB credentials file, every one with a secret: registering them
/// all for scrubbing must not grow quadratically (it took 52 s once; 0.5 s now, on an idle
/// machine). The deadline is generous so that a loaded CI machine cannot fail it, and still
/// an order of magnitude below the quadratic time: the watchdog would end that run with 3.
#[test]
fn a_huge_credentials_file_is_read_in_near_linear_time() {
    let mut text = String::with_capacity(4 << 20);
    for i in 0..100_000 {
        let _ = writeln!(text, "[p{i}]\naws_secret_access_key=S{i:06}xQ");
    }
    text.push_str("[default]\naws_access_key_id=AKIACANARY000000ENV1\naws_secret_access_key=CANARYSECRETdefault000000000000000000000\n");
    assert!(text.len() <= 4 << 20, "{} bytes", text.len());
    let mut cmd = support::cmd();
    cmd.home_file(".aws/credentials", &text);
    let out = cmd.args(["--no-sts", "--deadline", "5s"]).run();
    out.assert_code(0);
    assert!(out.stdout.contains("shared-credentials-file"), "{out}");
    support::say!(
        "4 MiB credentials file with 100,000 profiles: exit {} in {:?}",
        out.code,
        out.elapsed
    );
}
