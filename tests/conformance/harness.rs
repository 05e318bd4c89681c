//! Shared by the conformance and botocore tests: run a process with a cleared environment and
//! a wall-clock limit, read credcheck's one JSON line, and refuse any environment that would
//! send a request off loopback.
//!
//! The limit is enforced by waiting on a channel with a timeout (no sleeping); a process that
//! overruns it is killed by its pid. Reads no env vars of the test process itself.

use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The only PATH any child process gets.
pub const PATH: &str = "/usr/bin:/bin";
/// No credcheck run may take longer (its own --deadline is shorter).
pub const LIMIT: Duration = Duration::from_secs(60);

pub type Vars = BTreeMap<String, String>;

/// What a process did.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Ran {
    pub fn contains(&self, needle: &str) -> bool {
        self.stdout.contains(needle) || self.stderr.contains(needle)
    }
}

/// Runs `cmd` to completion, or kills it after `limit`.
pub fn run(mut cmd: Command, limit: Duration) -> Ran {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let (output, timed_out) = match rx.recv_timeout(limit) {
        Ok(output) => (output, false),
        Err(_) => {
            kill(pid);
            (rx.recv().expect("the waiting thread answers"), true)
        }
    };
    from_output(output.expect("wait for the child"), timed_out)
}

fn from_output(output: Output, timed_out: bool) -> Ran {
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        timed_out,
    }
}

/// Kills the one process this test started, by its id.
fn kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

/// `credcheck --format json --no-sts` with exactly `vars` (plus PATH) as its environment.
pub fn credcheck(vars: &Vars) -> Command {
    ensure_loopback_only(vars);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_credcheck"));
    cmd.env_clear().env("PATH", PATH).envs(vars).args([
        "--format",
        "json",
        "--no-sts",
        "--deadline",
        "20s",
    ]);
    cmd
}

/// The report: stdout must be exactly one JSON line.
pub fn report(ran: &Ran) -> Result<Value, String> {
    if ran.timed_out {
        return Err(format!("credcheck overran {LIMIT:?}"));
    }
    let lines: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let [line] = lines.as_slice() else {
        return Err(format!(
            "expected one JSON line on stdout, got {}: {:?} (stderr {:?})",
            lines.len(),
            ran.stdout,
            ran.stderr
        ));
    };
    let report: Value =
        serde_json::from_str(line).map_err(|e| format!("stdout is not JSON ({e}): {line}"))?;
    match report["exit_code"].as_i64() == ran.code.map(i64::from) {
        true => Ok(report),
        false => Err(format!(
            "exit status {:?} differs from the report's exit_code {}",
            ran.code, report["exit_code"]
        )),
    }
}

/// The hard rule: no request may go anywhere but 127.0.0.1. Every variable that holds a URL
/// must name 127.0.0.1, and none may name a link-local or EC2 IPv6 endpoint address.
pub fn ensure_loopback_only(vars: &Vars) {
    for (key, value) in vars {
        let lower = value.to_ascii_lowercase();
        assert!(
            !lower.contains("169.254.") && !lower.contains("fd00:ec2"),
            "{key}={value} names a real endpoint address"
        );
        if let Some((_, rest)) = lower.split_once("://") {
            assert!(
                rest.starts_with("127.0.0.1:") || rest.starts_with("127.0.0.1/"),
                "{key}={value} would leave loopback"
            );
        }
    }
}

/// The selected provider's name in `providers[]`, if any.
pub fn selected_provider(report: &Value) -> Option<&str> {
    let providers = report["providers"].as_array()?;
    providers
        .iter()
        .find(|p| p["status"] == "selected")
        .and_then(|p| p["provider"].as_str())
}

/// The codes of `errors[]` (or of `notes[]`, `warnings[]`: any list of `{code, …}`).
pub fn codes<'a>(report: &'a Value, list: &str) -> Vec<&'a str> {
    let items = report[list]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    items.iter().filter_map(|e| e["code"].as_str()).collect()
}

/// One line saying what credcheck concluded, for failure messages.
pub fn summary(report: &Value) -> String {
    let errors: Vec<String> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{}: {}", e["code"], e["message"]))
        .collect();
    format!(
        "ok={} source={} key={} provider={:?} errors=[{}]",
        report["ok"],
        report["source"],
        report["access_key_id"],
        selected_provider(report),
        errors.join(" | ")
    )
}
