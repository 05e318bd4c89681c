//! `credcheck health --logs-to` with the cached verdict (issue 16), end to end: the built
//! binary against the ECS credentials fake (`support::peer`) and the CloudWatch Logs fake
//! (`support::logs`), on loopback. Time passes by ageing the state file (its timestamps move
//! back), never by sleeping. Each test has its own `--state-dir`.

use crate::support::logs::{self as fake, Fake, Fault};
use crate::support::{self, peer, Output};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

const GROUP: &str = "/ecs/logs/sample-test";
const TARGET: &str = "/ecs/logs/sample-test:webapp";
const COVERING: &str = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:*";
/// A first health probe of a C-plugin output: exactly the plugin's own calls, each in its
/// harmless form (the too-old event; CreateLogStream on the stream that exists).
const FIRST: [&str; 2] = ["PutLogEvents", "CreateLogStream"];
const TYPO: &str = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-tset:*";

fn allowed(resource: &str) -> fake::Plan {
    fake::Plan::default()
        .allow(&["logs:*"], &[resource])
        .group(GROUP, &["webapp"])
}

struct Rig {
    creds: peer::Peer,
    state: tempfile::TempDir,
}

impl Rig {
    fn new() -> Rig {
        Rig::with(peer::Plan::new())
    }

    /// The ECS credentials and STS peers, plus whatever else `plan` serves.
    fn with(plan: peer::Plan) -> Rig {
        Rig {
            creds: peer::Peer::start(
                plan.with_ecs(peer::Ecs::task_role())
                    .with_sts(peer::Sts::default()),
            ),
            state: tempfile::tempdir().expect("state dir"),
        }
    }

    fn dir(&self) -> PathBuf {
        self.state.path().join("credcheck")
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let dir = self.dir().to_string_lossy().into_owned();
        let mut args: Vec<String> = ["health", "--logs-to", TARGET, "--state-dir", &dir]
            .iter()
            .map(|a| a.to_string())
            .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    }

    /// `program` with the peers' environment (credcheck itself, or a wrapper of it).
    fn with_env(&self, mut cmd: support::TestCmd, logs: &Fake) -> support::TestCmd {
        cmd.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", self.creds.ecs_url())
            .env("AWS_ENDPOINT_URL_STS", self.creds.url())
            .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", logs.url())
            .env("AWS_REGION", fake::REGION)
            .timeout(Duration::from_secs(30));
        cmd
    }

    fn cmd(&self, logs: &Fake, extra: &[&str]) -> support::TestCmd {
        let mut cmd = self.with_env(support::cmd(), logs);
        cmd.args(self.args(extra));
        cmd
    }

    /// One health run; the fake is cleared first, so its operations are this run's.
    fn health(&self, logs: &Fake, extra: &[&str]) -> (Output, Vec<String>) {
        logs.clear();
        let out = self.cmd(logs, extra).run();
        logs.assert_changed_nothing();
        (out, logs.operations())
    }

    fn state_file(&self) -> PathBuf {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir())
            .expect("state dir")
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "one state file: {files:?}");
        files.remove(0)
    }

    /// Moves the stored times `secs` into the past: as if that long had passed.
    fn age(&self, secs: u64) {
        let path = self.state_file();
        let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for field in ["probed_at_ms", "checked_at_ms", "due_at_ms"] {
            v[field] = (v[field].as_u64().unwrap() - secs * 1000).into();
        }
        std::fs::write(&path, v.to_string()).unwrap();
    }
}

fn healthy(out: &Output) {
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.starts_with("healthy: "), "{out}");
}

#[test]
fn health_with_firelens_outputs_is_cached_too() {
    // The task metadata v4 answer of a task whose app logs through FireLens (tests/logs.rs).
    let task = serde_json::json!({
        "Cluster": "prod",
        "TaskARN": "arn:aws:ecs:ap-northeast-1:123456789012:task/prod/0f4b2f539a1e4c368d7b2f6c1e0b7a55",
        "Containers": [{"Name": "webapp", "LogDriver": "awsfirelens", "LogOptions": {
            "Name": "cloudwatch_logs", "region": "ap-northeast-1", "log_group_name": GROUP,
            "log_stream_name": "webapp", "auto_create_group": "true"}}]
    });
    let rig = Rig::with(
        peer::Plan::new().with_task_metadata(peer::TASK_METADATA_PREFIX, task.to_string()),
    );
    let logs = Fake::start(allowed(COVERING));
    let dir = rig.dir().to_string_lossy().into_owned();
    let run = || {
        logs.clear();
        let mut cmd = rig.with_env(support::cmd(), &logs);
        cmd.args(["health", "--firelens", "--state-dir", dir.as_str()])
            .env(
                "ECS_CONTAINER_METADATA_URI_V4",
                rig.creds.task_metadata_uri(),
            );
        let out = cmd.run();
        logs.assert_changed_nothing();
        (out, logs.operations())
    };
    let (first, ops) = run();
    healthy(&first);
    assert_eq!(ops, FIRST, "{first}");
    let (second, ops) = run();
    healthy(&second);
    assert_eq!(ops, Vec::<String>::new(), "{second}");
    assert!(second.stdout.contains("logs verdict from "), "{second}");
}

#[test]
fn a_second_run_within_probe_every_sends_nothing_to_the_logs_endpoint() {
    let rig = Rig::new();
    let logs = Fake::start(allowed(COVERING));
    let (first, ops) = rig.health(&logs, &[]);
    healthy(&first);
    assert_eq!(
        ops, FIRST,
        "the first health probe sends exactly the C plugin's own calls, harmlessly"
    );
    assert!(first.stdout.contains("logs deliverable 1/1"), "{first}");
    let (second, ops) = rig.health(&logs, &[]);
    healthy(&second);
    assert_eq!(ops, Vec::<String>::new(), "{second}");
    assert!(second.stdout.contains("logs verdict from "), "{second}");
    let mode = std::fs::metadata(rig.state_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(rig.dir()).unwrap().permissions().mode() & 0o777,
        0o700
    );
}

#[test]
fn probe_every_zero_refreshes_with_exactly_one_put_log_events() {
    let rig = Rig::new();
    let logs = Fake::start(allowed(COVERING));
    healthy(&rig.health(&logs, &["--probe-every", "0s"]).0);
    let (out, ops) = rig.health(&logs, &["--probe-every", "0s"]);
    healthy(&out);
    assert_eq!(ops, ["PutLogEvents"], "{out}");
}

#[test]
fn a_policy_change_is_seen_after_the_interval_and_not_before() {
    let rig = Rig::new();
    let ok = Fake::start(allowed(COVERING));
    healthy(&rig.health(&ok, &[]).0);
    let typo = Fake::start(allowed(TYPO));
    let (out, ops) = rig.health(&typo, &[]);
    healthy(&out);
    assert!(ops.is_empty(), "within --probe-every: {ops:?}");
    // 10 minutes + the largest jitter (2 min) later, the refresh sees the denial.
    rig.age(12 * 60 + 1);
    let (out, ops) = rig.health(&typo, &[]);
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stdout
            .starts_with("unhealthy: logs:PutLogEvents is denied on arn:aws:logs:"),
        "{out}"
    );
    assert!(out.stdout.contains("[logs-delivery-denied]"), "{out}");
    assert_eq!(
        ops,
        ["PutLogEvents"],
        "one call: the refresh's answer is sent once, and a denial settles the full probe"
    );
    // The denial is now the stored verdict, reused without a call.
    let (again, ops) = rig.health(&typo, &[]);
    assert_eq!(again.code, 1, "{again}");
    assert!(ops.is_empty(), "{ops:?}");
}

#[test]
fn throttling_keeps_the_last_verdict_and_is_never_retried() {
    let rig = Rig::new();
    let ok = Fake::start(allowed(COVERING));
    healthy(&rig.health(&ok, &[]).0);
    rig.age(13 * 60);
    let throttling = Fake::start(allowed(COVERING).fault(Some("PutLogEvents"), Fault::Throttle));
    let (out, ops) = rig.health(&throttling, &[]);
    healthy(&out);
    assert!(out.stdout.contains("unknown (throttled)"), "{out}");
    assert_eq!(ops, ["PutLogEvents"], "sent once, never retried: {out}");
    let (out, ops) = rig.health(&throttling, &[]);
    healthy(&out);
    assert!(
        ops.is_empty(),
        "the next try waits a whole interval: {ops:?}"
    );
}

/// A 503, a refused connection or a timeout proves nothing: that run is unhealthy (ECS's own
/// `retries` decide), nothing is stored, and the next run probes again (issue 20: a blip
/// must never be replayed red for a whole --probe-every across a fleet).
#[test]
fn a_transient_failure_is_never_cached_red() {
    let rig = Rig::new();
    let failing = Fake::start(allowed(COVERING).fault(Some("PutLogEvents"), Fault::ServerError));
    let (out, ops) = rig.health(&failing, &[]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("[logs-unavailable]"), "{out}");
    assert_eq!(ops, ["PutLogEvents"]);
    assert!(
        std::fs::read_dir(rig.dir()).map_or(true, |d| d.count() == 0),
        "nothing stored"
    );
    let ok = Fake::start(allowed(COVERING));
    let (out, ops) = rig.health(&ok, &[]);
    healthy(&out);
    assert_eq!(ops, FIRST, "{out}");
}

#[test]
fn a_corrupt_state_file_is_not_trusted_and_is_replaced() {
    let rig = Rig::new();
    let logs = Fake::start(allowed(COVERING));
    healthy(&rig.health(&logs, &[]).0);
    std::fs::write(rig.state_file(), b"{\"version\":1,\"verdict\":").unwrap();
    let (out, ops) = rig.health(&logs, &[]);
    healthy(&out);
    assert!(out.stdout.contains("is corrupt"), "{out}");
    assert_eq!(out.stdout.lines().count(), 1, "{out}");
    assert_eq!(ops, FIRST);
    let (out, ops) = rig.health(&logs, &[]);
    assert!(ops.is_empty() && !out.stdout.contains("corrupt"), "{out}");
}

#[test]
fn a_state_file_of_another_user_is_not_trusted() {
    let rig = Rig::new();
    let logs = Fake::start(allowed(COVERING));
    healthy(&rig.health(&logs, &[]).0);
    let file = rig.state_file();
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    let (out, ops) = rig.health(&logs, &[]);
    healthy(&out);
    assert!(out.stdout.contains("belongs to uid 65534"), "{out}");
    assert_eq!(ops, FIRST);
    // A state dir open to others is refused as a whole: nothing read, nothing written.
    std::fs::set_permissions(rig.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (out, ops) = rig.health(&logs, &[]);
    assert!(out.stdout.contains("has mode 0777, not 0700"), "{out}");
    assert_eq!(ops, FIRST);
}

/// A read-only state dir (a read-only root filesystem): a tmpfs mounted read-only over it in
/// a mount namespace of the run's own (`unshare -m`, root), so nothing outside changes.
#[test]
fn a_read_only_state_dir_is_said_once_and_every_run_probes() {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        support::skip(
            &support::current_test(),
            "a read-only mount needs root (unshare -m)",
        );
        return;
    }
    let rig = Rig::new();
    std::fs::create_dir(rig.dir()).unwrap();
    std::fs::set_permissions(rig.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let logs = Fake::start(allowed(COVERING));
    let script = "mount -t tmpfs -o ro,mode=0700 none \"$0\" && exec \"$@\"";
    for _ in 0..2 {
        logs.clear();
        let mut cmd = rig.with_env(support::TestCmd::new("/usr/bin/unshare"), &logs);
        cmd.args(["-m", "sh", "-c", script])
            .arg(rig.dir())
            .arg(env!("CARGO_BIN_EXE_credcheck"))
            .args(rig.args(&[]));
        let out = cmd.run();
        healthy(&out);
        assert_eq!(
            out.stdout
                .matches("is not writable: probing on every run")
                .count(),
            1,
            "{out}"
        );
        assert!(out.stdout.contains("tmpfs"), "{out}");
        assert_eq!(logs.operations(), FIRST, "{out}");
    }
    assert_eq!(std::fs::read_dir(rig.dir()).unwrap().count(), 0);
}

#[test]
fn a_denied_first_probe_names_the_action_and_the_arn() {
    let rig = Rig::new();
    let logs = Fake::start(allowed(TYPO));
    let (out, ops) = rig.health(&logs, &[]);
    assert_eq!(out.code, 1, "{out}");
    let arn = format!("{}:log-stream:webapp", COVERING.trim_end_matches(":*"));
    assert!(
        out.stdout.starts_with(&format!(
            "unhealthy: logs:PutLogEvents is denied on {arn} (implicit)"
        )),
        "{out}"
    );
    assert_eq!(ops, ["PutLogEvents"]);
}

/// The log router's own health check (`docker/log-router-healthcheck.json`) reads the Fluent
/// Bit config: its outputs get the same cached verdict.
#[test]
fn the_fluent_bit_config_health_check_is_cached_too() {
    let rig = Rig::new();
    let logs = Fake::start(allowed(COVERING));
    let config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/firelens/fluent-bit.conf");
    let dir = rig.dir();
    let run = || {
        logs.clear();
        let mut cmd = rig.with_env(support::cmd(), &logs);
        cmd.args(["health", "--fluent-bit-config"])
            .arg(&config)
            .arg("--state-dir")
            .arg(&dir);
        let out = cmd.run();
        logs.assert_changed_nothing();
        (out, logs.operations())
    };
    let (first, ops) = run();
    healthy(&first);
    assert!(first.stdout.contains("logs deliverable 1/1"), "{first}");
    assert_eq!(ops, FIRST, "{first}");
    let (second, ops) = run();
    healthy(&second);
    assert!(ops.is_empty(), "{second}");
    assert!(second.stdout.contains("logs verdict from "), "{second}");
}

/// The state file holds verdicts, keys and timestamps: a secret quoted back by the endpoint
/// (here the session token, in an error body) never reaches it. Such an answer proves
/// nothing either way, so nothing is stored at all and the next run asks again.
#[test]
fn the_state_file_never_holds_a_secret() {
    let rig = Rig::new();
    let body = serde_json::json!({
        "__type": "SomethingOdd",
        "message": format!("token {} secret {}", peer::CANARY_TOKEN, peer::CANARY_SECRET),
    })
    .to_string();
    let fault = Fault::Raw(400, "application/x-amz-json-1.1".into(), body.into_bytes());
    let logs = Fake::start(allowed(COVERING).fault(None, fault));
    let (out, _) = rig.health(&logs, &[]);
    assert_eq!(out.code, 1, "{out}");
    assert!(out.stdout.contains("logs-bad-response"), "{out}");
    let (again, ops) = rig.health(&logs, &[]);
    assert_eq!(again.code, 1, "{again}");
    assert_eq!(ops, ["PutLogEvents"], "not cached: asked again");
    for entry in std::fs::read_dir(rig.dir()).into_iter().flatten() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        for needle in [peer::CANARY_TOKEN, peer::CANARY_SECRET] {
            for window in needle.as_bytes().windows(8) {
                let window = std::str::from_utf8(window).unwrap();
                assert!(!text.contains(window), "{window:?} in the state: {text}");
            }
        }
    }
}

/// The state dir raced (issue 21): while health runs in a loop, another thread keeps swapping
/// the state dir for a link to a directory credcheck must never write (root's own, mode 0700,
/// so only the link, not an owner check, stands between). The directory is opened once with
/// O_NOFOLLOW and written relative to that descriptor, so the victim stays empty whichever
/// moment the swap lands on: before the open (the link is refused), or between the check and
/// the write (the write goes to the directory that was opened).
#[test]
fn a_state_dir_swapped_for_a_link_mid_run_is_never_written_through() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let rig = Rig::new();
    let logs = Fake::start(allowed(COVERING));
    let (dir, saved) = (rig.dir(), rig.state.path().join("saved"));
    let victim = tempfile::tempdir().unwrap();
    std::fs::set_permissions(victim.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let stop = AtomicBool::new(false);
    let swaps = AtomicUsize::new(0);
    let (mut refused, runs) = (0, 60);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let swapped = std::fs::rename(&dir, &saved).is_ok()
                    && std::os::unix::fs::symlink(victim.path(), &dir).is_ok();
                std::thread::yield_now();
                if swapped
                    && std::fs::remove_file(&dir).is_ok()
                    && std::fs::rename(&saved, &dir).is_ok()
                {
                    swaps.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                // A run created the dir in the gap: start again from a clean state.
                for p in [&dir, &saved] {
                    let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir_all(p));
                }
                let _ = std::fs::DirBuilder::new().create(&dir);
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
            }
        });
        for _ in 0..runs {
            let (out, _) = rig.health(&logs, &["--probe-every", "0s"]);
            assert!([0, 1].contains(&out.code), "{out}");
            refused += usize::from(out.stdout.contains("is a symbolic link"));
            let written: Vec<_> = std::fs::read_dir(victim.path()).unwrap().collect();
            assert!(
                written.is_empty(),
                "credcheck wrote through the link: {written:?}\n{out}"
            );
        }
        stop.store(true, Ordering::Relaxed);
    });
    support::say!(
        "state dir race: {runs} health runs, {} swaps, {refused} runs refused the link, 0 files in the victim",
        swaps.load(Ordering::Relaxed)
    );
}

/// The default state dir is per user: `/tmp/credcheck-<uid>` without XDG_RUNTIME_DIR.
#[test]
fn the_default_state_dir_is_per_user() {
    let rig = Rig::new();
    let logs = Fake::start(allowed(COVERING));
    let mut cmd = rig.with_env(support::cmd(), &logs);
    cmd.args(["health", "--logs-to", TARGET, "--probe-every", "0s"]);
    healthy(&cmd.run());
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap();
    let dir = PathBuf::from(format!("/tmp/credcheck-{uid}"));
    let meta = std::fs::symlink_metadata(&dir).unwrap();
    assert!(
        meta.is_dir() && meta.permissions().mode() & 0o077 == 0,
        "{meta:?}"
    );
}
