//! `--pid PID` and the automatic comparison with the app (issue 15), end to end with the built
//! binary: a child process started with a chosen environment (env keys; a profile in its own
//! HOME, on a tmpfs only its mount namespace sees, so only `/proc/PID/root` reaches it), and
//! credcheck run from an environment that has a container URI instead. Every error case runs
//! for real: a PID that does not exist, one outside credcheck's PID namespace (`unshare`), an
//! environ another user cannot read (`setpriv`), root without CAP_SYS_PTRACE, a zombie. The
//! "inside a container" comparison runs credcheck with `nsenter` into a PID namespace whose
//! PID 1 is the app, or an init (`dumb-init`) with the app as its child.
//!
//! Network: the children set AWS_EC2_METADATA_DISABLED=true (under `--pid` their environment
//! decides); no test lets a network source be reached.

use crate::schema::assert_schema;
use crate::support::{
    self, cmd, Output, TestCmd, CANARY_AKID_ENV, CANARY_AUTH_TOKEN, CANARY_SECRET, CANARY_TOKEN,
    CANARY_WEB_IDENTITY,
};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const CONTAINER_URI: &str = "/v2/credentials/0f4b2f539a1e4c368d7b2f6c1e0b7a55";
const WAIT: Duration = Duration::from_secs(20);

/// A child process that prints `ready` once its environment is final; killed on drop.
struct App {
    child: Child,
    stdout: BufReader<ChildStdout>,
}

impl App {
    /// `program args…` with exactly `env` (after env_clear); waits for its `ready` line.
    fn start(program: &str, args: &[&str], env: &[(&str, &str)]) -> App {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut app = App { child, stdout };
        let mut line = String::new();
        app.stdout
            .read_line(&mut line)
            .expect("read the app's line");
        assert_eq!(line.trim(), "ready", "the app did not start");
        app
    }

    /// `sh -c 'echo ready; exec sleep 300'` with `env`: the environment is final at `ready`.
    /// Returns once the shell has become `sleep` (its `comm`, which the report shows).
    fn sleeping(env: &[(&str, &str)]) -> App {
        App::start_then_sleep("/bin/sh", &["-c", "echo ready; exec sleep 300"], env)
    }

    /// [`App::start`] for a command whose process ends in `exec sleep 300` after `ready`: returns
    /// once the exec is over (`comm` is `sleep`). Mid-exec the kernel shows the new, empty
    /// memory map with the old `comm`, so `/proc/PID/environ` reads empty for a moment (a CI
    /// run read it there: the report had no HOME and no AWS_PROFILE).
    fn start_then_sleep(program: &str, args: &[&str], env: &[(&str, &str)]) -> App {
        let app = App::start(program, args, env);
        wait_for_comm(app.pid(), "sleep");
        app
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The env keys and every secret canary, in the app's environment only.
fn app_env(home: &str) -> Vec<(&str, &str)> {
    vec![
        ("PATH", "/usr/bin:/bin"),
        ("HOME", home),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", CANARY_AKID_ENV),
        ("AWS_SECRET_ACCESS_KEY", CANARY_SECRET),
        ("AWS_SESSION_TOKEN", CANARY_TOKEN),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", CANARY_AUTH_TOKEN),
        ("APP_DATABASE_PASSWORD", CANARY_WEB_IDENTITY),
    ]
}

/// credcheck with a task role's environment (a container URI), as an ECS Exec shell has.
fn shell() -> TestCmd {
    let mut c = cmd();
    c.env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", CONTAINER_URI);
    c
}

fn warning<'a>(report: &'a Value, code: &str) -> Option<&'a str> {
    report["warnings"]
        .as_array()?
        .iter()
        .find(|w| w["code"] == code)
        .and_then(|w| w["message"].as_str())
}

fn error_code(report: &Value) -> &str {
    report["errors"][0]["code"].as_str().unwrap_or("")
}

fn credcheck() -> &'static str {
    env!("CARGO_BIN_EXE_credcheck")
}

/// credcheck where uid 65534 can exec it (a copy when the checkout is under a private folder).
fn credcheck_for_others() -> String {
    crate::support::runnable_by_others(std::path::Path::new(credcheck()))
        .display()
        .to_string()
}

// ---- the report of another process ----------------------------------------------

#[test]
fn pid_reports_the_childs_env_keys_not_the_shells_container_role() {
    let home = tempfile::tempdir().expect("tempdir");
    let app = App::sleeping(&app_env(home.path().to_str().unwrap()));
    let pid = app.pid().to_string();
    for log in ["info", "trace"] {
        let (out, report) = shell()
            .args(["--pid", &pid, "--no-sts", "--format", "json"])
            .env("RUST_LOG", log)
            .run_json();
        out.assert_success();
        assert_schema(&report);
        assert_eq!(report["source"], "env", "{report:#}");
        assert_eq!(report["process"]["pid"], app.pid(), "{report:#}");
        assert_eq!(report["process"]["comm"], "sleep", "{report:#}");
        assert_eq!(report["process"]["uid"], 0, "{report:#}");
        assert_eq!(report["region"], "eu-west-1", "the child's region");
        let container = &report["providers"][3];
        assert_eq!(
            container["status"], "not-configured",
            "the child has no URI"
        );
        let differs = warning(&report, "environment-differs").expect("environment-differs");
        assert!(
            differs.contains(&format!("PID {pid} (sleep) has AWS_ACCESS_KEY_ID,")),
            "{differs}"
        );
        assert!(
            differs.contains("this shell has AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
            "{differs}"
        );
        assert!(differs.contains("AWS_REGION, HOME differ"), "{differs}");
        assert!(
            differs.contains("the app uses env keys, not the container role"),
            "{differs}"
        );
        assert_names_only(&out);
    }
    let text = shell().args(["--pid", &pid, "--no-sts"]).run();
    text.assert_success();
    assert!(
        text.stdout.contains(&format!(
            "process    PID {pid} (sleep), uid 0: its environment"
        )),
        "{text}"
    );
    assert!(text.stdout.contains("[environment-differs]"), "{text}");
    assert_names_only(&text);
}

/// No value of either environment reaches the output (the sweep's canaries are checked by
/// `run`): the region, the URI and the app's non-AWS variable are values too.
fn assert_names_only(out: &Output) {
    support::assert_no_strings(out, &[CONTAINER_URI, "0f4b2f53", "APP_DATABASE_PASSWORD"]);
}

/// The app's HOME holds its profile on a tmpfs mounted in its own mount namespace: credcheck's
/// side of that path is empty, so only `/proc/PID/root` reaches the file.
#[test]
fn pid_reads_the_childs_profile_through_its_root() {
    let home = tempfile::tempdir().expect("tempdir");
    let home_dir = home.path().to_str().unwrap().to_string();
    let script = "mount -t tmpfs tmpfs \"$HOME\" && mkdir \"$HOME/.aws\" && \
                  printf '[app]\\naws_access_key_id = %s\\naws_secret_access_key = %s\\n' \"$K\" \"$S\" > \"$HOME/.aws/credentials\" && \
                  unset K S && echo ready && exec sleep 300";
    let env = [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", home_dir.as_str()),
        ("AWS_PROFILE", "app"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("K", CANARY_AKID_ENV),
        ("S", CANARY_SECRET),
    ];
    let unshare = [
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        script,
    ];
    let app = App::start_then_sleep("/usr/bin/unshare", &unshare, &env);
    assert!(
        !home.path().join(".aws/credentials").exists(),
        "the profile is not visible from credcheck's mount namespace"
    );
    let pid = app.pid().to_string();
    let (out, report) = shell()
        .args(["--pid", &pid, "--no-sts", "--format", "json"])
        .run_json();
    out.assert_success();
    assert_eq!(report["source"], "shared-credentials-file", "{report:#}");
    let location = format!("{home_dir}/.aws/credentials [profile app]");
    assert_eq!(report["location"], location.as_str(), "{report:#}");
    assert_eq!(report["access_key_id"], "AKIA…ENV1", "{report:#}");
    let differs = warning(&report, "environment-differs").expect("environment-differs");
    assert!(differs.contains("has AWS_PROFILE"), "{differs}");
    assert!(differs.contains("HOME differs"), "{differs}");
}

/// IRSA under `--pid`: the token file exists only in the child's mount namespace; credcheck's
/// check and aws-config's provider both read it through `/proc/PID/root`, and moto's STS
/// accepts it (the child's `AWS_ENDPOINT_URL_STS`).
#[test]
fn pid_web_identity_token_through_its_root() {
    let Some(m) = crate::support::moto::moto() else {
        support::skip(
            &support::current_test(),
            "no .venv with moto (run scripts/test)",
        );
        return;
    };
    let role_arn = m.create_role("irsa-pid-role");
    let home = tempfile::tempdir().expect("tempdir");
    let home_dir = home.path().to_str().unwrap().to_string();
    let token_path = format!("{home_dir}/token");
    let sts = m.url();
    let script = "mount -t tmpfs tmpfs \"$HOME\" && printf '%s' \"$T\" > \"$HOME/token\" && \
                  unset T && echo ready && exec sleep 300";
    let env = [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", home_dir.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token_path.as_str()),
        ("AWS_ROLE_ARN", role_arn.as_str()),
        ("AWS_ROLE_SESSION_NAME", "irsa"),
        ("AWS_ENDPOINT_URL_STS", sts.as_str()),
        ("T", CANARY_WEB_IDENTITY),
    ];
    let unshare = [
        "--mount",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        script,
    ];
    let app = App::start_then_sleep("/usr/bin/unshare", &unshare, &env);
    assert!(
        !Path::new(&token_path).exists(),
        "only the child sees the token"
    );
    let pid = app.pid().to_string();
    let (out, report) = shell()
        .args([
            "--pid",
            &pid,
            "--format",
            "json",
            "--expect-role",
            "irsa-pid-role",
        ])
        .env("AWS_ENDPOINT_URL_STS", &sts)
        .run_json();
    out.assert_success();
    assert_eq!(
        report["source"], "assume-role-with-web-identity",
        "{report:#}"
    );
    assert_eq!(
        report["identity"]["role_name"], "irsa-pid-role",
        "{report:#}"
    );
    // aws-config's STS client reads credcheck's own endpoint variables: without the app's,
    // the call is not made (it would leave for AWS).
    let (out, report) = shell().args(["--pid", &pid, "--format", "json"]).run_json();
    out.assert_code(2);
    assert_eq!(
        error_code(&report),
        "pid-sts-endpoint-differs",
        "{report:#}"
    );
    assert_eq!(report["providers"][2]["status"], "error", "{report:#}");
}

/// A profile with `credential_process` in the child's HOME: aws-config would run the command in
/// credcheck's container, so `--pid` says it cannot evaluate it (and runs nothing).
#[test]
fn pid_profile_with_credential_process_is_not_evaluated() {
    let home = tempfile::tempdir().expect("tempdir");
    let home_dir = home.path().to_str().unwrap().to_string();
    let marker = home.path().join("ran");
    let script = "mkdir \"$HOME/.aws\" && printf '[profile app]\\ncredential_process = /bin/touch %s\\n' \"$M\" > \"$HOME/.aws/config\" && \
                  echo ready && exec sleep 300";
    let marker_str = marker.to_str().unwrap();
    let env = [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", home_dir.as_str()),
        ("AWS_PROFILE", "app"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("M", marker_str),
    ];
    let app = App::start_then_sleep("/bin/sh", &["-c", script], &env);
    let pid = app.pid().to_string();
    let (out, report) = shell()
        .args(["--pid", &pid, "--no-sts", "--format", "json"])
        .run_json();
    out.assert_code(2);
    assert_eq!(error_code(&report), "pid-source-unsupported", "{report:#}");
    assert_eq!(
        report["providers"][1]["type"], "custom-process",
        "{report:#}"
    );
    assert!(!marker.exists(), "the command was not run");
}

/// `--pid PID` where PID is an init: the report is the app's, its child.
#[test]
fn pid_of_an_init_means_its_child() {
    let dir = tempfile::tempdir().expect("tempdir");
    let init = dir.path().join("dumb-init");
    std::fs::write(
        &init,
        "#!/bin/sh\nenv -i AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=\"$K\" AWS_SECRET_ACCESS_KEY=\"$S\" /bin/sh -c 'echo ready; exec sleep 300' &\nwait\n",
    )
    .expect("write dumb-init");
    make_executable(&init);
    let env = [("K", CANARY_AKID_ENV), ("S", CANARY_SECRET)];
    let app = App::start(init.to_str().unwrap(), &[], &env);
    wait_for_child_comm(app.pid(), "sleep");
    let pid = app.pid().to_string();
    let (out, report) = shell()
        .args(["--pid", &pid, "--no-sts", "--format", "json"])
        .run_json();
    out.assert_success();
    assert_eq!(report["source"], "env", "{report:#}");
    assert_eq!(report["process"]["init"], "dumb-init", "{report:#}");
    assert_ne!(report["process"]["pid"], app.pid(), "{report:#}");
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// The child's environment does not disable IMDS; credcheck's own does (every test's): no IMDS
/// traffic, and a warning that the app's SDK would try it.
#[test]
fn pid_keeps_credchecks_own_imds_switch() {
    let app = App::sleeping(&[("PATH", "/usr/bin:/bin")]);
    let pid = app.pid().to_string();
    let (out, report) = shell().args(["--pid", &pid, "--format", "json"]).run_json();
    out.assert_code(1);
    assert_eq!(error_code(&report), "no-credentials", "{report:#}");
    let imds = &report["providers"][4];
    assert_eq!(imds["status"], "not-configured", "{report:#}");
    let warning = warning(&report, "imds-not-contacted").expect("imds-not-contacted");
    assert!(
        warning.contains(&format!("PID {pid} (sleep) does not disable IMDS")),
        "{warning}"
    );
}

// ---- errors ----------------------------------------------------------------------

/// `pid_max` itself is never a PID.
fn absent_pid() -> String {
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .expect("pid_max")
        .trim()
        .to_string()
}

#[test]
fn pid_not_found() {
    let pid = absent_pid();
    let (out, report) = shell().args(["--pid", &pid, "--format", "json"]).run_json();
    out.assert_code(2);
    assert_schema(&report);
    assert_eq!(error_code(&report), "pid-not-found", "{report:#}");
    assert!(report["process"].is_null());
    let health = shell().args(["health", "--pid", &pid]).run();
    health.assert_code(1);
    assert_eq!(
        health.stdout,
        format!("unhealthy: no process {pid} is running [pid-not-found]\n")
    );
}

#[test]
fn pid_not_in_credchecks_pid_namespace() {
    let app = App::sleeping(&[("AWS_EC2_METADATA_DISABLED", "true")]);
    let pid = app.pid().to_string();
    let mut c = TestCmd::new("/usr/bin/unshare");
    c.args([
        "--pid",
        "--fork",
        "--mount-proc",
        credcheck(),
        "--pid",
        &pid,
    ]);
    let out = c.args(["--format", "json"]).run();
    out.assert_code(2);
    let report = out.json();
    assert_eq!(error_code(&report), "pid-not-in-namespace", "{report:#}");
    let hint = report["errors"][0]["hint"].as_str().unwrap_or("");
    assert!(hint.contains("--pid container:<app>"), "{hint}");
}

#[test]
fn pid_environ_of_another_user_is_denied() {
    let app = App::sleeping(&[("AWS_EC2_METADATA_DISABLED", "true")]);
    let pid = app.pid().to_string();
    let bin = credcheck_for_others();
    let mut c = TestCmd::new("/usr/bin/setpriv");
    c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"]);
    let out = c
        .args([bin.as_str(), "--pid", &pid, "--format", "json"])
        .run();
    out.assert_code(2);
    let report = out.json();
    assert_eq!(error_code(&report), "pid-environ-denied", "{report:#}");
    let message = report["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains(&format!(
            "process {pid} (sleep) runs as uid 0, credcheck as uid 65534"
        )),
        "{message}"
    );
    let mut health = TestCmd::new("/usr/bin/setpriv");
    health.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"]);
    health
        .args([bin.as_str(), "health", "--pid", &pid])
        .run()
        .assert_code(1);
}

#[test]
fn pid_environ_denied_to_root_without_cap_sys_ptrace() {
    let nobody = ["--reuid", "65534", "--regid", "65534", "--clear-groups"];
    let args: Vec<&str> = nobody
        .iter()
        .copied()
        .chain(["/bin/sh", "-c", "echo ready; exec sleep 300"])
        .collect();
    let app = App::start_then_sleep(
        "/usr/bin/setpriv",
        &args,
        &[("AWS_EC2_METADATA_DISABLED", "true")],
    );
    let pid = app.pid().to_string();
    let mut c = TestCmd::new("/usr/bin/setpriv");
    c.args(["--bounding-set", "-sys_ptrace", "--inh-caps", "-sys_ptrace"]);
    let out = c
        .args([credcheck(), "--pid", &pid, "--format", "json"])
        .run();
    out.assert_code(2);
    let report = out.json();
    // Linux refuses both; some sandboxed kernels let the environ through and refuse the root.
    let code = error_code(&report);
    assert!(
        ["pid-environ-denied", "pid-root-denied"].contains(&code),
        "{report:#}"
    );
    let message = report["errors"][0]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("credcheck runs as root but without CAP_SYS_PTRACE"),
        "{message}"
    );
}

#[test]
fn pid_of_a_zombie() {
    // Never waited for until the end: it stays a zombie, credcheck's target.
    let mut child = Command::new("/bin/true")
        .env_clear()
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    wait_until(WAIT, || state(pid) == Some('Z'));
    let out = shell()
        .args(["--pid", &pid.to_string(), "--format", "json"])
        .run();
    let _ = child.wait();
    out.assert_code(2);
    let report = out.json();
    assert_eq!(error_code(&report), "pid-zombie", "{report:#}");
}

#[test]
fn pid_zero_and_pid_with_a_command_are_usage_errors() {
    let out = shell().args(["--pid", "0"]).run();
    out.assert_code(2);
    assert!(out.combined().contains("[invalid-pid]"), "{out}");
    let out = shell().args(["--pid", "1", "--", "/bin/true"]).run();
    out.assert_code(2);
    assert!(out.combined().contains("[pid-with-command]"), "{out}");
}

/// The exec after `ready` has happened: the process's `comm` is `name`.
fn wait_for_comm(pid: u32, name: &str) {
    wait_until(WAIT, || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
    });
}

/// [`wait_for_comm`] for the first child of `pid` (an init's app, nsenter's forked shell).
fn wait_for_child_comm(pid: u32, name: &str) {
    wait_until(WAIT, || {
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next()?.parse::<u32>().ok())
            .and_then(|child| std::fs::read_to_string(format!("/proc/{child}/comm")).ok())
            .is_some_and(|c| c.trim_end() == name)
    });
}

fn state(pid: u32) -> Option<char> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("State:"))
        .and_then(|s| s.trim().chars().next())
}

/// A bounded wait on a condition the kernel will make true (a process's state).
fn wait_until(limit: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        std::thread::yield_now();
    }
}

// ---- the automatic comparison inside a container ---------------------------------

/// A PID namespace of its own whose PID 1 runs `init_args`; credcheck enters it (and its
/// mount namespace, for its /proc) with nsenter, as `docker exec` and ECS Exec do.
struct Namespace {
    app: App,
}

impl Namespace {
    fn start(init_args: &[&str], env: &[(&str, &str)]) -> Namespace {
        let mut args = vec!["--pid", "--fork", "--mount-proc", "--kill-child"];
        args.extend_from_slice(init_args);
        Namespace {
            app: App::start("/usr/bin/unshare", &args, env),
        }
    }

    /// The host PID of the namespace's PID 1 (unshare's child).
    fn pid1(&self) -> String {
        let pid = self.app.pid();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .expect("unshare's children");
        children
            .split_whitespace()
            .next()
            .expect("PID 1")
            .to_string()
    }

    /// credcheck inside the namespace, with the shell's environment.
    fn credcheck(&self) -> TestCmd {
        let mut c = TestCmd::new("/usr/bin/nsenter");
        c.args([
            "--target",
            &self.pid1(),
            "--pid",
            "--mount",
            "--",
            credcheck(),
        ])
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://127.0.0.1:9/creds",
        );
        c
    }
}

fn keys_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("PATH", "/usr/bin:/bin"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ACCESS_KEY_ID", CANARY_AKID_ENV),
        ("AWS_SECRET_ACCESS_KEY", CANARY_SECRET),
    ]
}

#[test]
fn in_a_container_the_report_is_compared_with_pid_1() {
    let ns = Namespace::start(
        &["/bin/sh", "-c", "echo ready; exec sleep 300"],
        &keys_env(),
    );
    wait_for_comm(ns.pid1().parse().expect("a PID"), "sleep");
    let out = ns
        .credcheck()
        .args(["--no-sts", "--format", "json", "--timeout", "1s"])
        .run();
    let report = out.json();
    assert!(report["process"].is_null(), "the report is credcheck's own");
    assert_eq!(report["source"], Value::Null, "the shell's URI is refused");
    let differs = warning(&report, "environment-differs").expect("environment-differs");
    assert!(
        differs.starts_with("PID 1 (sleep) has AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, this shell does not; this shell has AWS_CONTAINER_CREDENTIALS_FULL_URI"),
        "{differs}"
    );
    assert!(
        differs.ends_with(": the app uses env keys, not the container role"),
        "{differs}"
    );
    let off = ns
        .credcheck()
        .env("CREDCHECK_NO_COMPARE", "1")
        .args(["--no-sts", "--format", "json", "--timeout", "1s"])
        .run()
        .json();
    assert!(warning(&off, "environment-differs").is_none(), "{off:#}");
    let health = ns
        .credcheck()
        .args(["health", "--format", "json", "--timeout", "1s"])
        .run();
    assert!(
        warning(&health.json(), "environment-differs").is_none(),
        "report mode only"
    );
}

#[test]
fn in_a_container_with_an_init_the_report_is_compared_with_its_child() {
    let dir = tempfile::tempdir().expect("tempdir");
    let init = dir.path().join("dumb-init");
    std::fs::write(
        &init,
        "#!/bin/sh\n/bin/sh -c 'echo ready; exec sleep 300' &\nwait\n",
    )
    .expect("write dumb-init");
    make_executable(&init);
    let ns = Namespace::start(&[init.to_str().unwrap()], &keys_env());
    let report = ns
        .credcheck()
        .args(["--no-sts", "--format", "json", "--timeout", "1s"])
        .run()
        .json();
    let differs = warning(&report, "environment-differs").expect("environment-differs");
    assert!(
        differs.starts_with("PID 2 (") && differs.contains(" has AWS_ACCESS_KEY_ID"),
        "the app, PID 2 under the init: {differs}"
    );
}

/// A shared PID namespace (Kubernetes `shareProcessNamespace`, ECS `pidMode: task`): PID 1 is
/// `pause`; `--pid 1` means the first process another container started (entered from
/// outside, like the app container's entry process).
#[test]
fn pid_1_of_a_shared_namespace_means_the_first_app() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pause = dir.path().join("pause");
    std::fs::write(
        &pause,
        "#!/bin/sh\necho ready\nwhile :; do sleep 300; done\n",
    )
    .expect("write pause");
    make_executable(&pause);
    let ns = Namespace::start(&[pause.to_str().unwrap()], &[("PATH", "/usr/bin:/bin")]);
    let pid1 = ns.pid1();
    let enter = [
        "--target",
        pid1.as_str(),
        "--pid",
        "--mount",
        "--",
        "/bin/sh",
        "-c",
        "echo ready; exec sleep 300",
    ];
    let app = App::start("/usr/bin/nsenter", &enter, &keys_env());
    wait_for_child_comm(app.pid(), "sleep");
    let (out, report) = {
        let mut c = ns.credcheck();
        c.args(["--pid", "1", "--no-sts", "--format", "json"]);
        c.run_json()
    };
    out.assert_success();
    assert_eq!(report["source"], "env", "{report:#}");
    assert_eq!(report["process"]["init"], "pause", "{report:#}");
    assert_ne!(report["process"]["pid"], 1, "{report:#}");
}

/// On a host (the initial PID namespace), PID 1 is not the app: no comparison, even as root
/// with /proc/1/environ readable and a container marker in the environment.
#[test]
fn on_a_host_there_is_no_comparison() {
    let ns = std::fs::read_link("/proc/self/ns/pid").expect("/proc/self/ns/pid");
    if ns.as_os_str() != "pid:[4026531836]" {
        support::skip(
            &support::current_test(),
            "the tests run in a PID namespace of their own",
        );
        return;
    }
    let report = shell()
        .env("ECS_CONTAINER_METADATA_URI_V4", "http://127.0.0.1:9/v4")
        .env("AWS_ACCESS_KEY_ID", CANARY_AKID_ENV)
        .env("AWS_SECRET_ACCESS_KEY", CANARY_SECRET)
        .args(["--no-sts", "--format", "json", "--timeout", "1s"])
        .run()
        .json();
    assert!(
        warning(&report, "environment-differs").is_none(),
        "{report:#}"
    );
}
