//! `credcheck processes` with real SDK evidence (issue 23): processes that use EKS Pod
//! Identity (`AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/…` with
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`) under two real botocore releases from PyPI (one
//! before Pod Identity, one with it), Go binaries built here whose build info names
//! aws-sdk-go v1.47.10 / v1.47.11 and old aws-sdk-go-v2 modules, and a Rust binary built by
//! cargo-auditable with aws-config 1.1.7 (`scripts/fixtures`). Detection must read each right,
//! and `sdk-rejects-endpoint` must be on exactly the old ones. credcheck runs in a network
//! namespace whose 169.254.170.23 is a fake Pod Identity agent; the processes themselves make
//! no request. The Docker test of the three environments is `docker::docker_processes_flags_each_process`.

use crate::support::{self, fixtures, netns::Netns, CANARY_AUTH_TOKEN};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const POD_IDENTITY_URL: &str = "http://169.254.170.23/v1/credentials";

/// A fixture program, killed on drop; started once it has printed `ready` (after its exec).
struct Running(Child);

impl Running {
    fn start(program: &Path, args: &[&str], env: &[(&str, String)]) -> Running {
        let mut child = Command::new(program)
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("its first line");
        assert_eq!(line.trim(), "ready", "{} did not start", program.display());
        Running(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn row(report: &Value, pid: u32) -> &Value {
    report["processes"]["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["pid"] == pid))
        .unwrap_or_else(|| panic!("no row for PID {pid}"))
}

fn codes(row: &Value) -> Vec<&str> {
    row["flags"]
        .as_array()
        .map(|f| f.iter().filter_map(|w| w["code"].as_str()).collect())
        .unwrap_or_default()
}

/// (sdk, version, exactness) of each SDK found.
fn sdks(row: &Value) -> Vec<(String, String, String)> {
    row["sdk"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|x| {
                    let f = |k: &str| x[k].as_str().unwrap_or("").to_string();
                    (f("sdk"), f("version"), f("exactness"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn processes_reads_real_sdks_and_flags_the_old_ones() {
    let Some(fx) = fixtures::fixtures() else {
        return;
    };
    let Some(ns) = Netns::create_with("procs", &["169.254.170.23/32"]) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("eks-pod-identity-token");
    std::fs::write(&token, CANARY_AUTH_TOKEN).expect("token file");
    let token_arg = token.to_string_lossy().into_owned();
    let _agent = ns.spawn_peer(&[
        "--bind",
        "169.254.170.23:80",
        "--pod-identity",
        "--pod-identity-host-check",
        "--token-file",
        &token_arg,
    ]);
    let home = dir.path().to_string_lossy().into_owned();
    let base = |extra: Option<(&'static str, String)>| {
        let mut env = vec![
            ("PATH", "/usr/bin:/bin".to_string()),
            ("HOME", home.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                POD_IDENTITY_URL.to_string(),
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", token_arg.clone()),
        ];
        env.extend(extra);
        env
    };
    let py = "import botocore, sys, time; print('ready', flush=True); time.sleep(300)";
    let python = |dir: &Path| {
        let path = ("PYTHONPATH", dir.to_string_lossy().into_owned());
        Running::start(&fx.python, &["-c", py], &base(Some(path)))
    };
    let py_old = python(&fx.botocore_old);
    let py_new = python(&fx.botocore_new);
    let go_old = Running::start(&fx.go_v1_old, &[], &base(None));
    let go_new = Running::start(&fx.go_v1_new, &[], &base(None));
    let go_v2 = Running::start(&fx.go_v2_old, &[], &base(None));
    let rust = Running::start(&fx.rust_auditable, &[], &base(None));

    let mut cmd = support::cmd();
    cmd.in_netns(&ns);
    let (out, report) = cmd
        .args(["processes", "--no-sts", "--format", "json"])
        .run_json();
    crate::schema::assert_schema(&report);
    out.assert_code(1);
    assert!(out.stdout.contains("processes-flagged"), "{out}");

    let want = |p: &Running, sdk: &str, version: &str, exactness: &str, flagged: bool| {
        let r = row(&report, p.pid());
        let found = sdks(r);
        assert!(
            found
                .iter()
                .any(|(s, v, e)| s == sdk && v == version && e == exactness),
            "PID {}: want {sdk} {version} ({exactness}), found {found:?}",
            p.pid()
        );
        assert_eq!(r["source"], "container-role", "PID {}: {r:#}", p.pid());
        let flags = codes(r);
        assert_eq!(
            flags.contains(&"sdk-rejects-endpoint"),
            flagged,
            "PID {} ({sdk} {version}): flags {flags:?}",
            p.pid()
        );
        assert!(
            flags.iter().all(|c| *c == "sdk-rejects-endpoint"),
            "PID {}: only the SDK flag: {flags:?}",
            p.pid()
        );
    };
    want(
        &py_old,
        "botocore",
        fixtures::BOTOCORE_OLD,
        "inferred",
        true,
    );
    want(
        &py_new,
        "botocore",
        fixtures::BOTOCORE_NEW,
        "inferred",
        false,
    );
    want(
        &go_old,
        "github.com/aws/aws-sdk-go",
        "1.47.10",
        "exact",
        true,
    );
    want(
        &go_new,
        "github.com/aws/aws-sdk-go",
        "1.47.11",
        "exact",
        false,
    );
    want(
        &go_v2,
        "github.com/aws/aws-sdk-go-v2/credentials",
        "1.15.0",
        "exact",
        true,
    );
    want(
        &go_v2,
        "github.com/aws/aws-sdk-go-v2/config",
        "1.24.0",
        "exact",
        true,
    );
    want(&rust, "aws-config (crate)", "1.1.7", "exact", true);
    let old = row(&report, py_old.pid());
    let message = old["flags"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("EKS Pod Identity's 169.254.170.23") && message.contains("1.34.41"),
        "{message}"
    );
    let text = {
        let mut cmd = support::cmd();
        cmd.in_netns(&ns);
        cmd.args(["processes", "--no-sts"]).run()
    };
    support::say!("credcheck processes (text), real SDKs\n{}", text.stdout);
}

/// Bounds (issue 23): 10,000 short-lived processes, spawned as fast as a shell can while
/// credcheck reads them (each lives 2 s, so many exit mid-read), in a PID namespace of their
/// own: `processes` ends by its deadline + 250 ms with a documented exit and one JSON line, and
/// counts what it could not read.
#[test]
fn processes_stays_within_its_deadline_among_10000_short_lived_processes() {
    let test = "processes_stays_within_its_deadline_among_10000_short_lived_processes";
    if support::netns::preflight().is_err() {
        assert!(!support::in_ci(), "{test} needs root in CI");
        support::skip(test, "needs root (a PID namespace)");
        return;
    }
    let spawner = "i=0; while [ $i -lt 10000 ]; do sleep 2 & i=$((i+1)); \
                   if [ $i = 2000 ]; then echo ready; fi; done; wait";
    let mut ns = Command::new("/usr/bin/unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "/bin/sh",
            "-c",
            spawner,
        ])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("unshare");
    let mut line = String::new();
    BufReader::new(ns.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the spawner's line");
    assert_eq!(line.trim(), "ready");
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", ns.id()))
        .expect("unshare's child");
    let pid1 = children
        .split_whitespace()
        .next()
        .expect("PID 1")
        .to_string();
    let mut cmd = support::TestCmd::new("/usr/bin/nsenter");
    cmd.args(["--target", &pid1, "--pid", "--mount", "--"])
        .arg(env!("CARGO_BIN_EXE_credcheck"))
        .args([
            "processes",
            "--no-sts",
            "--format",
            "json",
            "--deadline",
            "2s",
        ]);
    let out = cmd.run();
    let _ = ns.kill();
    let _ = ns.wait();
    let limit = std::time::Duration::from_secs(2) + support::OVER_DEADLINE;
    assert!(out.elapsed <= limit, "ran {:?}\n{out}", out.elapsed);
    assert!([0, 1, 3].contains(&out.code), "exit {}\n{out}", out.code);
    assert_eq!(out.stdout.matches('\n').count(), 1, "one JSON line\n{out}");
    let report: Value = serde_json::from_str(&out.stdout).expect("JSON");
    crate::schema::assert_schema(&report);
    let p = &report["processes"];
    support::say!(
        "{test}: {:?}, exit {}: read {}, exited mid-read {}, not read {}, environments {}",
        out.elapsed,
        out.code,
        p["read"],
        p["exited"],
        p["not_read"],
        p["environments"]
    );
    assert!(p["read"].as_u64().unwrap_or(0) >= 2000, "{report:#}");
}

/// The command line: `health` wins wherever it stands (0 or 1, never 2), and `processes`
/// refuses the probe's flags (it walks every process's chain and probes nothing).
#[test]
fn processes_command_line() {
    let out = support::cmd().args(["processes", "health"]).run();
    out.assert_code(1);
    let out = support::cmd()
        .args([
            "processes",
            "--can",
            "logs:PutLogEvents=arn:aws:logs:us-east-1:123456789012:log-group:g",
        ])
        .run();
    out.assert_code(2);
    assert!(out.stderr.contains("[processes-with-probe]"), "{out}");
}
