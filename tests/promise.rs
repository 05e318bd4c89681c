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

// ---- issue 21: where signed requests go, what is written, what machines hand credcheck ----

/// The container credentials (RoleArn names the account) and STS on one loopback peer.
fn container_with_sts() -> (peer::Peer, TestCmd) {
    let peer = peer::Peer::start(
        peer::Plan::new()
            .with_ecs(peer::Ecs::task_role())
            .with_sts(peer::Sts::default()),
    );
    let cmd = container(&peer);
    (peer, cmd)
}

/// A listener that only records: a TCP handshake to it completes in the kernel's backlog
/// whether or not anyone reads, so `attempted()` is whether anything connected at all.
struct Trap(std::net::TcpListener);

impl Trap {
    fn bind(addr: &str) -> Option<Trap> {
        let l = std::net::TcpListener::bind(addr).ok()?;
        l.set_nonblocking(true).ok()?;
        Some(Trap(l))
    }
    fn attempted(&self) -> bool {
        self.0.accept().is_ok()
    }
}

/// A Region that would move the host (`x@127.0.0.9#` makes `https://logs.x@127.0.0.9#…`,
/// that is 127.0.0.9:443) from each source that is not a file: the run refuses it naming the
/// source, and nothing connects to the trap. (Host names such as `us-east-1.evil.example#`
/// run in a network namespace in `sweep.rs`, so no query can leave the machine.)
#[test]
fn a_region_cannot_move_a_signed_request_to_another_host() {
    let Some(trap) = Trap::bind("127.0.0.9:443") else {
        return support::skip(&support::current_test(), "cannot bind 127.0.0.9:443");
    };
    let arn = |r: &str| {
        format!("logs:PutLogEvents=arn:aws:logs:{r}:123456789012:log-group:g:log-stream:s")
    };
    for region in [
        "x@127.0.0.9#",
        "us-east-1@127.0.0.9#",
        "127.0.0.9#",
        "x@127.0.0.9?",
    ] {
        let cases: Vec<(&str, Vec<String>, Option<&str>)> = vec![
            ("--can ARN", vec!["--can".into(), arn(region)], None),
            (
                "health --can",
                vec!["health".into(), "--can".into(), arn(region)],
                None,
            ),
            (
                "--logs-region",
                vec![
                    "--logs-to".into(),
                    "g:s".into(),
                    "--logs-region".into(),
                    region.into(),
                ],
                None,
            ),
            (
                "AWS_REGION",
                vec!["--logs-to".into(), "g:s".into()],
                Some(region),
            ),
        ];
        for (source, args, env_region) in cases {
            let (_peer, mut cmd) = container_with_sts();
            cmd.args(&args).env("RUST_LOG", "trace");
            if let Some(r) = env_region {
                cmd.env("AWS_REGION", r);
            }
            let out = cmd.run();
            let health = args[0] == "health";
            assert_eq!(
                out.code,
                if health { 1 } else { 2 },
                "[{source} {region}]\n{out}"
            );
            assert!(
                out.combined().contains("invalid-region"),
                "[{source} {region}]\n{out}"
            );
            assert!(
                !trap.attempted(),
                "[{source} {region}] connected to the trap\n{out}"
            );
        }
    }
}

/// `USER:PASSWORD@` in an endpoint URL: refused before any request, and the password is
/// never printed, at any log level, from any of the places an endpoint is named.
#[test]
fn endpoint_urls_with_a_password_are_refused_and_never_printed() {
    const PASSWORD: &str = "Pw9trace";
    let url = format!("http://probe:{PASSWORD}@127.0.0.1:9");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fluent-bit.conf");
    std::fs::write(&config, format!("[OUTPUT]\n Name cloudwatch_logs\n region us-east-1\n log_group_name g\n log_stream_name s\n endpoint {url}\n")).unwrap();
    for (what, var, extra) in [
        ("sts", Some("AWS_ENDPOINT_URL_STS"), vec![]),
        (
            "logs",
            Some("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"),
            vec!["--logs-to", "g:s"],
        ),
        ("global", Some("AWS_ENDPOINT_URL"), vec!["--logs-to", "g:s"]),
        (
            "config endpoint",
            None,
            vec!["--fluent-bit-config", config.to_str().unwrap()],
        ),
    ] {
        for level in ["off", "info", "trace"] {
            let (_peer, mut cmd) = container_with_sts();
            cmd.env("RUST_LOG", level).args(&extra);
            if let Some(var) = var {
                cmd.env(var, &url);
            }
            let out = cmd.run();
            assert_ne!(out.code, 0, "[{what} {level}]\n{out}");
            assert!(
                out.stdout.contains("user name or password"),
                "[{what} {level}]\n{out}"
            );
            assert!(
                !out.combined().contains(PASSWORD),
                "[{what} {level}] password printed\n{out}"
            );
        }
    }
}

/// aws-config's WARN line for a failing credential_process repeats the helper's stderr; the
/// secrets in it were never registered. At info and trace, nothing of them is printed.
#[test]
fn a_credential_process_helpers_stderr_is_foreign_text_in_the_sdks_log_lines() {
    const SECRET: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYzzUNREG1";
    const TOKEN: &str = "IQoJb3JpZ2luX2VjEHQaCXVzLWVhc3QtMSJHMEUCIQUNREG";
    let mut cmd = support::cmd();
    let script = cmd.home_path("helper.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"export AWS_SECRET_ACCESS_KEY={SECRET}\" >&2\necho \"{{\\\"SessionToken\\\": \\\"{TOKEN}\\\"}}\" >&2\necho \"{TOKEN} {SECRET}\" >&2\nexit 1\n"),
    )
    .unwrap();
    cmd.home_file(
        ".aws/config",
        format!(
            "[default]\ncredential_process = /bin/sh {}\n",
            script.display()
        ),
    );
    for level in ["info", "trace"] {
        let out = cmd.env("RUST_LOG", level).arg("--no-sts").run();
        for (name, secret) in [("secret key", SECRET), ("session token", TOKEN)] {
            for window in secret.as_bytes().windows(16) {
                let window = std::str::from_utf8(window).unwrap();
                assert!(
                    !out.combined().contains(window),
                    "[{level}] {name} fragment {window:?}\n{out}"
                );
            }
        }
    }
}

/// A Fluent Bit YAML config that does not parse: the error names the file, the line and the
/// key, and quotes nothing of the other outputs' secrets, in the report and the health line.
#[test]
fn a_config_that_does_not_parse_is_never_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = ["SplunkTok3nValue", "Hunter2Passwd", "DatadogApiK3y"];
    for (i, line) in [
        format!("      splunk_token: '{}", secrets[0]),
        format!("      http_passwd: &pw {}", secrets[1]),
        format!("      {} apikey", secrets[2]),
    ]
    .iter()
    .enumerate()
    {
        let path = dir.path().join(format!("f{i}.yaml"));
        std::fs::write(&path, format!("pipeline:\n  outputs:\n    - name: cloudwatch_logs\n      region: us-east-1\n    - name: splunk\n{line}\n")).unwrap();
        for health in [false, true] {
            let (_peer, mut cmd) = container_with_sts();
            if health {
                cmd.arg("health");
            }
            let out = cmd
                .env("RUST_LOG", "trace")
                .args(["--fluent-bit-config", path.to_str().unwrap()])
                .run();
            assert_eq!(out.code, if health { 1 } else { 2 }, "{out}");
            assert!(out.stdout.contains(&format!("f{i}.yaml: line 6")), "{out}");
            for s in secrets {
                assert!(!out.combined().contains(s), "{s} printed\n{out}");
            }
        }
    }
}

/// `AWS_CONFIG_FILE=/dev/null` (and the credentials file) is the usual "no config": read as
/// empty, as every SDK does, so the container credentials are found.
#[test]
fn dev_null_profile_files_report_the_container_role() {
    let (_peer, mut cmd) = container_with_sts();
    let (_, report) = cmd
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .args(["--format", "json"])
        .run_json();
    assert_eq!(report["source"], "container-role", "{report:#}");
    assert_eq!(report["exit_code"], 0, "{report:#}");
}

/// 29 `@SET` lines that each double the last would make 1 GiB: refused at the line where the
/// cap is passed, quickly, in both modes.
#[test]
fn a_doubling_set_chain_is_a_config_error_not_a_gigabyte() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("@SET v0=xxxxxxxx\n");
    for i in 1..29 {
        text.push_str(&format!("@SET v{i}=${{v{}}}${{v{}}}\n", i - 1, i - 1));
    }
    text.push_str("[OUTPUT]\n Name cloudwatch_logs\n region us-east-1\n log_group_name ${v28}\n log_stream_name s\n");
    let path = dir.path().join("chain.conf");
    std::fs::write(&path, text).unwrap();
    for health in [false, true] {
        let (_peer, mut cmd) = container_with_sts();
        if health {
            cmd.arg("health");
        }
        let out = cmd
            .args(["--fluent-bit-config", path.to_str().unwrap()])
            .run();
        assert_eq!(out.code, if health { 1 } else { 2 }, "{out}");
        assert!(out.stdout.contains("chain.conf:17"), "{out}");
        assert!(out.elapsed < std::time::Duration::from_secs(5), "{out}");
    }
}

/// 20,000 `--can` flags against a logs endpoint that never answers (issue 21): the output is
/// one whole report (the run's, or the deadline report), never empty, never cut, and the
/// process is gone by the deadline + 250 ms (+ the suite's load slack).
#[test]
fn twenty_thousand_can_flags_end_whole_and_on_time() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let logs = format!("http://{}", silent.local_addr().unwrap());
    let cans: Vec<String> = (0..20_000)
        .map(|i| format!("--can=logs:PutLogEvents=arn:aws:logs:us-east-1:123456789012:log-group:g{i}:log-stream:s"))
        .collect();
    let deadline = std::time::Duration::from_secs(1);
    for format in ["json", "text", "json", "text"] {
        let (_peer, mut cmd) = container_with_sts();
        cmd.env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", &logs)
            .args(["--deadline", "1s", "--format", format])
            .args(&cans);
        let out = cmd.run();
        assert!(
            out.elapsed <= deadline + support::OVER_DEADLINE,
            "[{format}] ran {:?}\n{}",
            out.elapsed,
            out.stderr
        );
        assert!([1, 3].contains(&out.code), "[{format}] exit {}", out.code);
        match format {
            "json" => {
                let report = out.json();
                assert!(report["errors"].is_array(), "[{format}] {report}");
            }
            _ => assert!(
                out.stdout.starts_with("credcheck ") && out.stdout.ends_with('\n'),
                "[{format}] not one whole report: {:?}…",
                out.stdout.chars().take(200).collect::<String>()
            ),
        }
    }
}
