//! Tests in real containers (issue 3): the images users copy from `docker/`, built
//! `FROM scratch` from the static binaries of this build (there is no registry here: nothing
//! is ever pulled), on a Docker network that owns the ECS agent's address.
//!
//! Each test gets a [`Lab`]:
//! - an `--internal` bridge network, subnet 169.254.170.0/24, gateway 169.254.170.1 (the
//!   host's end of the bridge). Containers reach nothing outside the subnet: no real
//!   169.254.169.254, no real 169.254.170.2, no AWS.
//! - `fake_peer` in a container at 169.254.170.2:80: the ECS agent (credentials at
//!   [`peer::ECS_PATH`], RoleArn [`ROLE_ARN`]) and a fake STS.
//! - with [`Sts::Moto`], moto on the host at 169.254.170.1 as the STS. It issued the
//!   credentials the agent serves, and answers GetCallerIdentity from its own state, so the
//!   assumed-role ARN in the report proves that credcheck signed with exactly those (the fake
//!   STS answers any key).
//! - app containers at 169.254.170.3 and up, with `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`,
//!   `AWS_EC2_METADATA_DISABLED=true`, `AWS_ENDPOINT_URL_STS` and `AWS_REGION`.
//!
//! Images: `docker/Dockerfile.scratch` (credcheck alone; with `CREDCHECK_TEST_BIN` and
//! `CREDCHECK_TEST_PLATFORM`, another binary for another platform, e.g. the aarch64 release
//! binary as linux/arm64); an "existing app image" holding
//! `examples/test_app.rs` as `/app/server`; `docker/Dockerfile.wrapper-example` built on both
//! with `--build-arg`s, the way users build it; health-check variants `FROM` that.
//!
//! Waits are event-driven and bounded: `docker logs -f` for output lines, `docker events`
//! for health status changes and network removals. The subnet can exist once per engine, so
//! the tests of this process take turns ([`SERIAL`]), wait for another process's network to be
//! removed, and remove the resources of test processes that died.
//!
//! Clean-up: everything is named `credcheck-test-<pid>-<random>…` and labelled
//! `credcheck.test=<that run>`; [`Lab`]'s `Drop` removes the run's containers, network and
//! images, also when the test panics. Without Docker, the tests print SKIP; with `CI=true`,
//! they fail instead.

use crate::support::{self, moto, peer, Output, TestCmd};
use serde_json::Value;
use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SUBNET: &str = "169.254.170.0/24";
const GATEWAY: &str = "169.254.170.1";
const GATEWAY_OCTETS: [u8; 4] = [169, 254, 170, 1];
const AGENT_IP: &str = "169.254.170.2";
/// EKS Pod Identity's agent address, and where EKS mounts its token.
const POD_IDENTITY_IP: &str = "169.254.170.23";
const POD_IDENTITY_TOKEN: &str =
    "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token";
/// The role that `docker/Dockerfile.wrapper-example`'s HEALTHCHECK expects.
const ROLE: &str = "my-task-role";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/my-task-role";
/// The fake STS's answer for the canary credentials (consistent with [`ROLE_ARN`]).
const CANARY_CALLER_ARN: &str = "arn:aws:sts::123456789012:assumed-role/my-task-role/canary";
/// On every container, network and image; the value is the run ([`Lab::run`]).
const LABEL: &str = "credcheck.test";
const NAME_ROOT: &str = "credcheck-test-";
/// `examples/test_app.rs` exits with this after SIGTERM, and only then.
const APP_EXIT_ON_SIGTERM: &str = "42";
/// The wrapper's default deadline, plus the 250 ms it may overrun.
const WRAP_DEADLINE_MS: u64 = 3250;
const BUILD_LIMIT: Duration = Duration::from_secs(180);
const WAIT_LIMIT: Duration = Duration::from_secs(60);
/// How long to wait for another test process to remove its network (same subnet).
const SUBNET_WAIT: Duration = Duration::from_secs(600);
/// Which engine to use: the only variables passed to the docker CLI.
const PASS_THROUGH: [&str; 5] = [
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
];

/// The platform of the credcheck image (`docker build --platform`), with `CREDCHECK_TEST_BIN`:
/// `scripts/release` runs the aarch64 binary as `linux/arm64` through binfmt's qemu.
const TEST_PLATFORM: &str = "CREDCHECK_TEST_PLATFORM";

/// One lab (one network on [`SUBNET`]) at a time in this process.
static SERIAL: Mutex<()> = Mutex::new(());

// ---- the tests ------------------------------------------------------------------

/// Wrapper: report on stderr (source, RoleArn, moto's identity), the image's CMD as PID 1,
/// `docker stop` → SIGTERM to the app → the app's exit code; argv and exit codes pass through;
/// `docker exec … /credcheck` (what ECS Exec runs) reports from inside the container.
#[test]
fn docker_wrapper_execs_the_app_as_pid_1() {
    let Some(mut lab) = Lab::start("docker_wrapper_execs_the_app_as_pid_1", Sts::Moto) else {
        return;
    };
    let creds = lab.moto_creds("docker-session");
    lab.start_agent(Some(&creds));
    let image = lab.images.wrapped.clone();
    let app = lab.start_app(&image, &["-e", "CREDCHECK_FORMAT=json"], &[]);
    let first = lab
        .follow(&app)
        .wait_for("the app's first line", WAIT_LIMIT, |_| true);
    assert_eq!(
        first, "app-started pid=1",
        "credcheck exec'd the app: PID 1"
    );
    assert_exec_report(&lab, &app);
    lab.docker.ok(&["stop", "--time", "30", &app]);
    let code = lab.docker.ok(&["wait", &app]);
    assert_eq!(
        code, APP_EXIT_ON_SIGTERM,
        "SIGTERM reached the app, whose code is the container's"
    );
    let logs = lab.logs(&app);
    assert_eq!(
        logs.stdout, "app-started pid=1\napp-args: --port 8080\napp-got-sigterm\n",
        "the image's CMD ran as written; stdout holds only the app's lines\n{logs}"
    );
    assert_eq!(
        logs.stderr.lines().count(),
        1,
        "one JSON report on stderr\n{logs}"
    );
    assert_moto_report(&report_line(&logs), "docker-session");
    let out = lab.run_app(&image, &[], &["/app/server", "--exit", "7"]);
    out.assert_code(7);
    assert_eq!(
        out.stdout, "app-started pid=1\napp-args: --exit 7\n",
        "{out}"
    );
    lab.assert_logs_clean();
}

/// `--require` (as `CREDCHECK_REQUIRE=1`): the app starts while the agent is up, and does
/// not once the agent container is stopped; without it, the app starts anyway (fail-open).
#[test]
fn docker_wrapper_require_fails_closed_when_the_endpoint_is_stopped() {
    let test = "docker_wrapper_require_fails_closed_when_the_endpoint_is_stopped";
    let Some(mut lab) = Lab::start(test, Sts::Fake) else {
        return;
    };
    let agent = lab.start_agent(None);
    let image = lab.images.wrapped.clone();
    // At trace level, with the canaries served and signed with: none may reach the logs.
    let require = argv(
        "-e CREDCHECK_REQUIRE=1 -e CREDCHECK_FORMAT=json -e RUST_LOG=trace",
        &[],
    );
    let require: Vec<&str> = require.iter().map(String::as_str).collect();
    let up = lab.run_app(&image, &require, &["/app/server", "--exit", "0"]);
    up.assert_success();
    assert!(up.stdout.starts_with("app-started pid=1\n"), "{up}");
    lab.docker.ok(&["stop", "--time", "1", &agent]);
    let closed = lab.run_app(&image, &require, &["/app/server", "--exit", "0"]);
    assert_eq!(
        closed.stdout, "",
        "--require: the app must not start\n{closed}"
    );
    closed.assert_code(3);
    assert!(
        closed.stderr.contains("not starting the command"),
        "{closed}"
    );
    let report = report_line(&closed);
    assert_eq!(report["ok"], false, "{closed}");
    let elapsed = report["elapsed_ms"].as_u64().unwrap_or(u64::MAX);
    assert!(
        elapsed <= WRAP_DEADLINE_MS,
        "the wrapper's deadline bounds the report: {elapsed} ms"
    );
    let open = lab.run_app(
        &image,
        &["-e", "CREDCHECK_FORMAT=json"],
        &["/app/server", "--exit", "5"],
    );
    open.assert_code(5);
    assert!(
        open.stdout.starts_with("app-started pid=1\n"),
        "fail-open by default\n{open}"
    );
    lab.assert_logs_clean();
}

/// The example image's own HEALTHCHECK (interval shortened with `--health-*`): healthy with
/// the agent up, unhealthy once the agent container is disconnected from the network.
#[test]
fn docker_health_check_turns_unhealthy_when_the_endpoint_is_disconnected() {
    let test = "docker_health_check_turns_unhealthy_when_the_endpoint_is_disconnected";
    let Some(mut lab) = Lab::start(test, Sts::Fake) else {
        return;
    };
    let agent = lab.start_agent(None);
    let image = lab.images.wrapped.clone();
    let since = docker_now();
    let fast = ["--health-interval", "1s", "--health-retries", "1"];
    let app = lab.start_app(&image, &fast, &[]);
    let test_cmd = lab.docker.ok(&[
        "inspect",
        "--format",
        "{{json .Config.Healthcheck.Test}}",
        &app,
    ]);
    assert_eq!(
        test_cmd,
        r#"["CMD","/credcheck","health","--expect-role","my-task-role"]"#
    );
    let health = lab.wait_health(&app, &since, "healthy");
    let (code, line) = last_probe(&health);
    assert_eq!(code, 0, "{health:#}");
    let healthy = format!("healthy: container-role {ROLE_ARN}, expires in ");
    assert!(
        line.starts_with(&healthy) && line.lines().count() == 1,
        "{health:#}"
    );
    let since = docker_now();
    lab.docker.ok(&["network", "disconnect", &lab.run, &agent]);
    let health = lab.wait_health(&app, &since, "unhealthy");
    let (code, line) = last_probe(&health);
    assert_eq!(code, 1, "health exits 0 or 1 only\n{health:#}");
    assert!(
        line.starts_with("unhealthy: ") && line.contains(AGENT_IP),
        "{health:#}"
    );
    lab.assert_logs_clean();
}

/// HEALTHCHECK --interval=1s --timeout=5s --retries=1 CMD ["/credcheck","health",
/// "--expect-role",ROLE]: healthy for the agent's role, unhealthy (naming both) for another.
#[test]
fn docker_health_check_follows_the_expected_role() {
    let Some(mut lab) = Lab::start("docker_health_check_follows_the_expected_role", Sts::Fake)
    else {
        return;
    };
    lab.start_agent(None);
    let (matching, other) = (lab.health_image(ROLE), lab.health_image("payments-role"));
    let since = docker_now();
    let good = lab.start_app(&matching, &[], &[]);
    let bad = lab.start_app(&other, &["-e", "RUST_LOG=trace"], &[]);
    let health = lab.wait_health(&good, &since, "healthy");
    assert_eq!(last_probe(&health).0, 0, "{health:#}");
    let health = lab.wait_health(&bad, &since, "unhealthy");
    let (code, output) = last_probe(&health);
    assert_eq!(code, 1, "{health:#}");
    let verdict = output.lines().find(|l| l.starts_with("unhealthy: "));
    let verdict = verdict.unwrap_or_else(|| panic!("no verdict line\n{health:#}"));
    assert!(
        verdict.contains("payments-role") && verdict.contains(ROLE),
        "{verdict}"
    );
    lab.assert_logs_clean();
}

/// The log router's own health check (docker/log-router-healthcheck.json, the seed story):
/// `credcheck health --fluent-bit-config /fluent-bit/etc/fluent-bit.conf` in a `FROM scratch`
/// image with the seed's config, against the CloudWatch Logs fake on the lab's network. The
/// seed's policy makes it healthy; the same policy with the group misspelt makes it unhealthy,
/// naming the denied action and the exact stream ARN.
#[test]
fn docker_log_router_health_check_follows_the_policy() {
    let Some(mut lab) = Lab::start(
        "docker_log_router_health_check_follows_the_policy",
        Sts::Fake,
    ) else {
        return;
    };
    lab.start_agent(None);
    let good = lab.start_logs_fake("169.254.170.250", false);
    let typo = lab.start_logs_fake("169.254.170.251", true);
    let router = lab.log_router_image();
    let since = docker_now();
    let endpoint = |url: &str| format!("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS={url}");
    let ok = lab.start_app(&router, &["--tmpfs", "/tmp", "-e", &endpoint(&good)], &[]);
    let denied = lab.start_app(&router, &["-e", &endpoint(&typo)], &[]);
    let health = lab.wait_health(&ok, &since, "healthy");
    let (code, output) = last_probe(&health);
    assert_eq!(code, 0, "{health:#}");
    assert!(output.starts_with("healthy: "), "{output}");
    let health = lab.wait_health(&denied, &since, "unhealthy");
    let (code, output) = last_probe(&health);
    assert_eq!(code, 1, "{health:#}");
    let stream = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:log-stream:webapp";
    assert!(
        output.contains("logs:PutLogEvents") && output.contains(stream),
        "{output}"
    );
    support::say!("log router health check, group misspelt in the policy: {output}");
    lab.assert_logs_clean();
}

/// Clean-up runs even when a test fails halfway: no container, network or image of the run
/// survives a panic.
#[test]
fn docker_lab_is_removed_even_when_the_test_fails() {
    let test = "docker_lab_is_removed_even_when_the_test_fails";
    let Some(docker) = Docker::available(test) else {
        return;
    };
    let (tx, rx) = mpsc::channel();
    let failed = thread::spawn(move || {
        let mut lab = Lab::start(test, Sts::Fake).expect("Docker is available");
        lab.start_agent(None);
        let _ = tx.send(lab.run.clone());
        panic!("deliberate failure (expected): the lab must still be removed");
    })
    .join();
    assert!(failed.is_err(), "the inner test was meant to fail");
    let run = rx.recv().expect("the lab got as far as its agent");
    let filter = format!("label={LABEL}={run}");
    assert_eq!(
        docker.ok(&["ps", "-aq", "--filter", &filter]),
        "",
        "containers left"
    );
    assert_eq!(
        docker.ok(&["network", "ls", "-q", "--filter", &filter]),
        "",
        "network left"
    );
    assert_eq!(
        docker.ok(&["images", "-aq", "--filter", &filter]),
        "",
        "images left"
    );
}

/// The snippets users copy agree on the wrapper entrypoint, the health command, FireLens
/// and the task role (no Docker needed).
#[test]
fn docker_snippets_agree_with_each_other() {
    let json: Value = serde_json::from_str(&repo_file("docker/ecs-task-definition.json"))
        .expect("docker/ecs-task-definition.json is JSON");
    assert!(json["taskRoleArn"]
        .as_str()
        .unwrap_or("")
        .ends_with(":role/my-task-role"));
    let app = &json["containerDefinitions"][0];
    assert_eq!(app["entryPoint"], serde_json::json!(["/credcheck", "--"]));
    let health = serde_json::json!(["CMD", "/credcheck", "health", "--expect-role", ROLE]);
    assert_eq!(app["healthCheck"]["command"], health);
    assert_eq!(app["logConfiguration"]["logDriver"], "awsfirelens");
    assert_eq!(
        json["containerDefinitions"][1]["firelensConfiguration"]["type"],
        "fluentbit"
    );
    let yaml = repo_file("docker/ecs-task-definition.yaml");
    for line in [
        r#"EntryPoint: ["/credcheck", "--"]"#,
        r#"Command: ["CMD", "/credcheck", "health", "--expect-role", "my-task-role"]"#,
        "LogDriver: awsfirelens",
        "Type: fluentbit",
        "TaskRoleArn: !GetAtt TaskRole.Arn",
        "RoleName: my-task-role",
    ] {
        assert!(yaml.contains(line), "ecs-task-definition.yaml lacks {line}");
    }
    let example = repo_file("docker/Dockerfile.wrapper-example");
    assert!(example.contains("\nENTRYPOINT [\"/credcheck\", \"--\"]\n"));
    assert!(example.contains("\nHEALTHCHECK --interval=30s --timeout=5s CMD [\"/credcheck\", \"health\", \"--expect-role\", \"my-task-role\"]\n"));
    let readme = repo_file("docker/README.md");
    assert!(
        readme.contains("aws ecs execute-command") && readme.contains("--command \"/credcheck\"")
    );
}

/// Issue 15: a sidecar started with `--pid container:<app>` (ECS `pidMode: task`) runs
/// `credcheck --pid 1`. The app runs under `--init` (ECS `initProcessEnabled`: docker-init is
/// PID 1), with `AWS_PROFILE` naming a profile that exists only in the app's image. The
/// sidecar's own environment has the task role's URI; the report is the app's: its profile,
/// read through `/proc/PID/root`, signed and confirmed by the fake STS, and an
/// `environment-differs` warning with names only. Then `docker exec` into a wrapped app with
/// extra env keys (what an exec shell may have): credcheck compares with PID 1 by itself.
#[test]
fn docker_sidecar_reports_the_apps_profile_with_pid() {
    let test = "docker_sidecar_reports_the_apps_profile_with_pid";
    let Some(mut lab) = Lab::start(test, Sts::Fake) else {
        return;
    };
    lab.start_agent(None);
    let image = lab.profile_app_image();
    let env = ["--init", "-e", "AWS_PROFILE=app", "-e", "HOME=/home/app"];
    let app = lab.start_app(&image, &env, &[]);
    let first = lab
        .follow(&app)
        .wait_for("the app's first line", WAIT_LIMIT, |_| true);
    assert!(first.starts_with("app-started pid="), "{first}");
    assert_ne!(first, "app-started pid=1", "docker-init is PID 1");
    let pid_ns = format!("container:{app}");
    let sidecar = ["--pid", pid_ns.as_str()];
    let out = lab.run_app(
        &lab.images.credcheck.clone(),
        &sidecar,
        &["--pid", "1", "--format", "json"],
    );
    out.assert_success();
    let report = out.json();
    crate::schema::assert_schema(&report);
    assert_eq!(report["source"], "shared-credentials-file", "{report:#}");
    assert_eq!(
        report["location"], "/home/app/.aws/credentials [profile app]",
        "{report:#}"
    );
    assert_eq!(report["identity"]["arn"], CANARY_CALLER_ARN, "{report:#}");
    assert_eq!(report["process"]["init"], "docker-init", "{report:#}");
    assert_eq!(report["process"]["comm"], "server", "{report:#}");
    let differs = report["warnings"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["code"] == "environment-differs"))
        .and_then(|w| w["message"].as_str())
        .unwrap_or_else(|| panic!("environment-differs: {report:#}"));
    assert!(differs.contains(") has AWS_PROFILE"), "{differs}");
    assert!(!differs.contains("/home/app"), "names only: {differs}");
    let text = lab.run_app(&lab.images.credcheck.clone(), &sidecar, &["--pid", "1"]);
    text.assert_success();
    support::say!("{test}: the sidecar's report (text)\n{}", text.stdout);
    assert_exec_compares_with_pid_1(&mut lab);
    lab.assert_logs_clean();
}

/// `docker/ecs-task-definition-sidecar.json`: the sidecar shares the task's PID namespace and
/// runs what the test above runs.
#[test]
fn docker_sidecar_snippet_shares_the_pid_namespace() {
    let json: Value = serde_json::from_str(&repo_file("docker/ecs-task-definition-sidecar.json"))
        .expect("docker/ecs-task-definition-sidecar.json is JSON");
    assert_eq!(json["pidMode"], "task");
    let app = &json["containerDefinitions"][0];
    assert_eq!(app["linuxParameters"]["initProcessEnabled"], true);
    let sidecar = &json["containerDefinitions"][1];
    assert_eq!(
        sidecar["command"],
        serde_json::json!(["--pid", "1", "--format", "json"])
    );
    assert_eq!(sidecar["essential"], false);
    assert_eq!(sidecar["dependsOn"][0]["containerName"], app["name"]);
    let readme = repo_file("docker/README.md");
    assert!(readme.contains("--command \"/credcheck --pid 1\""));
}

/// `docker exec` with env keys the app does not have: the report is the shell's, and warns
/// that PID 1, the app, uses the container role.
fn assert_exec_compares_with_pid_1(lab: &mut Lab) {
    let image = lab.images.wrapped.clone();
    let app = lab.start_app(&image, &[], &[]);
    lab.follow(&app)
        .wait_for("the app's first line", WAIT_LIMIT, |_| true);
    let keys = [
        format!("AWS_ACCESS_KEY_ID={}", support::CANARY_AKID_ENV),
        format!("AWS_SECRET_ACCESS_KEY={}", support::CANARY_SECRET),
    ];
    let args = argv(
        "exec -e",
        &[
            &keys[0],
            "-e",
            &keys[1],
            &app,
            "/credcheck",
            "--format",
            "json",
        ],
    );
    let out = lab.docker.run(&args);
    lab.assert_clean(&out);
    let report = out.json();
    assert_eq!(report["source"], "env", "{report:#}");
    let differs = report["warnings"]
        .as_array()
        .and_then(|w| w.iter().find(|w| w["code"] == "environment-differs"))
        .and_then(|w| w["message"].as_str())
        .unwrap_or_else(|| panic!("environment-differs: {report:#}"));
    assert_eq!(
        differs,
        "this shell has AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, PID 1 (server) does not: the app uses the container role, not env keys"
    );
}

// ---- assertions ------------------------------------------------------------------

/// What ECS Exec runs (`--command "/credcheck"`), here through `docker exec`: a report on
/// stdout from inside the running container, with its environment.
fn assert_exec_report(lab: &Lab, app: &str) {
    let out = lab
        .docker
        .run(&["exec", app, "/credcheck", "--format", "json"]);
    lab.assert_clean(&out);
    out.assert_success();
    assert_moto_report(&out.json(), "docker-session");
}

/// A report that found the task role at the agent and had it confirmed by moto.
fn assert_moto_report(report: &Value, session: &str) {
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["source"], "container-role", "{report:#}");
    assert_eq!(report["role_arn"], ROLE_ARN, "{report:#}");
    let location = report["location"].as_str().unwrap_or("");
    assert!(
        location.starts_with("http://169.254.170.2/v2/credentials/"),
        "{report:#}"
    );
    let arn = format!(
        "arn:aws:sts::{}:assumed-role/{ROLE}/{session}",
        moto::MOTO_ACCOUNT
    );
    assert_eq!(report["identity"]["arn"], arn, "{report:#}");
}

/// The JSON report among the wrapper's stderr lines (log lines may surround it).
fn report_line(out: &Output) -> Value {
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("{\"schema_version\""));
    let line = line.unwrap_or_else(|| panic!("no JSON report on stderr\n{out}"));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("report is not JSON ({e})\n{out}"))
}

/// Exit code and output of the latest health probe.
fn last_probe(health: &Value) -> (i64, String) {
    let last = health["Log"].as_array().and_then(|log| log.last());
    let last = last.unwrap_or_else(|| panic!("no health probe yet: {health:#}"));
    let code = last["ExitCode"].as_i64().unwrap_or(-1);
    (code, last["Output"].as_str().unwrap_or("").to_string())
}

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---- the lab ------------------------------------------------------------------

/// Where the app containers' STS is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sts {
    /// The agent container's fake STS (`fake_peer --sts`).
    Fake,
    /// moto on the host, at the gateway address.
    Moto,
}

/// Tags of the images every lab builds.
#[derive(Default)]
struct Images {
    /// `docker/Dockerfile.scratch`.
    credcheck: String,
    /// `fake_peer` alone.
    agent: String,
    /// The "existing app image": `test_app` as `/app/server`.
    app: String,
    /// `docker/Dockerfile.wrapper-example` on `app`, with credcheck from `credcheck`.
    wrapped: String,
    /// `fake_logs` alone, built when a test needs it.
    logs: String,
}

/// One network with its agent, moto, images and app containers; all removed on drop.
struct Lab {
    docker: Docker,
    /// `credcheck-test-<pid>-<random>`: the network, the image repository, the prefix of
    /// every container name, and the value of [`LABEL`] on all of them.
    run: String,
    ctx: tempfile::TempDir,
    images: Images,
    /// Secrets that must not be printed besides the canaries (moto's credentials).
    needles: Vec<String>,
    sts_url: String,
    next_ip: u8,
    moto: Option<GatewayMoto>,
    _serial: MutexGuard<'static, ()>,
}

impl Lab {
    /// Network and images ready; None (after a SKIP line) without Docker or moto.
    fn start(test: &str, sts: Sts) -> Option<Lab> {
        let docker = Docker::available(test)?;
        let moto_server = match sts {
            Sts::Moto => Some(moto_server(test)?),
            Sts::Fake => None,
        };
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut lab = Lab {
            run: format!("{NAME_ROOT}{}-{}", std::process::id(), random_hex()),
            ctx: tempfile::Builder::new()
                .prefix("credcheck-docker-")
                .tempdir()
                .expect("tempdir"),
            images: Images::default(),
            needles: Vec::new(),
            sts_url: format!("http://{AGENT_IP}"),
            next_ip: 3,
            moto: None,
            docker,
            _serial: serial,
        };
        remove_stale(&lab.docker);
        lab.create_network();
        if let Some(server) = moto_server {
            let moto = GatewayMoto::start(&server);
            lab.sts_url = moto.url();
            lab.moto = Some(moto);
        }
        lab.build_images();
        Some(lab)
    }

    fn label(&self) -> String {
        format!("{LABEL}={}", self.run)
    }

    /// The network; waits (on network removal events) while another test process holds
    /// the subnet.
    fn create_network(&self) {
        let since = docker_now();
        let deadline = Instant::now() + SUBNET_WAIT;
        let mut removals: Option<Stream> = None;
        loop {
            let fixed = format!("network create --internal --subnet {SUBNET} --gateway {GATEWAY}");
            let out = self
                .docker
                .run(&argv(&fixed, &["--label", &self.label(), &self.run]));
            if out.code == 0 {
                return;
            }
            assert!(
                out.stderr.contains("overlap"),
                "docker network create failed\n{out}"
            );
            let stream = removals.get_or_insert_with(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "{}: {SUBNET} is taken; waiting for its network to be removed",
                    self.run
                );
                let args = argv(
                    "events --filter type=network --filter event=destroy --since",
                    &[&since],
                );
                Stream::spawn(&self.docker, &args)
            });
            let left = deadline.saturating_duration_since(Instant::now());
            stream.wait_for(
                &format!("the removal of the network on {SUBNET} (see `docker network ls`)"),
                left,
                |_| true,
            );
            remove_stale(&self.docker);
        }
    }

    fn build_images(&mut self) {
        let scratch = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/Dockerfile.scratch");
        // The binary under test (`CREDCHECK_TEST_BIN`, e.g. the release's aarch64 build) for
        // `CREDCHECK_TEST_PLATFORM` (e.g. linux/arm64, run through binfmt's qemu), else this build's.
        // The Dockerfile copies `credcheck`: the binary under test goes in under that name.
        let credcheck = self.context("bin").join("credcheck");
        std::fs::copy(support::credcheck_bin(), &credcheck).expect("copy the binary under test");
        let platform = std::env::var(TEST_PLATFORM).ok().filter(|p| !p.is_empty());
        let platform = platform.as_deref();
        self.images.credcheck = self.build_for(platform, "credcheck", &scratch, &[&credcheck], &[]);
        if let Some(platform) = platform {
            let format = ["image", "inspect", "--format", "{{.Os}}/{{.Architecture}}"];
            let built = self
                .docker
                .ok(&[&format[..], &[self.images.credcheck.as_str()]].concat());
            assert_eq!(built, platform, "the credcheck image's platform");
        }
        let agent = "FROM scratch\nCOPY fake_peer /fake_peer\nENTRYPOINT [\"/fake_peer\"]\n";
        let agent = self.dockerfile("agent", agent);
        self.images.agent = self.build("agent", &agent, &[&support::example_bin("fake_peer")], &[]);
        let app = "FROM scratch\nCOPY test_app /app/server\nCMD [\"/app/server\"]\n";
        let app = self.dockerfile("app", app);
        self.images.app = self.build("app", &app, &[&support::example_bin("test_app")], &[]);
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/Dockerfile.wrapper-example");
        let args = [
            format!("CREDCHECK_IMAGE={}", self.images.credcheck),
            format!("APP_IMAGE={}", self.images.app),
        ];
        self.images.wrapped = self.build("wrapped", &example, &[], &args);
    }

    /// The app image with a profile `[app]` (canary keys) in `/home/app/.aws/credentials`.
    fn profile_app_image(&self) -> String {
        let ctx = self.context("app-profile");
        let credentials = format!(
            "[app]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            support::CANARY_AKID_ENV,
            support::CANARY_SECRET
        );
        std::fs::write(ctx.join("credentials"), credentials).expect("write credentials");
        let text = format!(
            "FROM {}\nCOPY credentials /home/app/.aws/credentials\n",
            self.images.app
        );
        let dockerfile = self.dockerfile("app-profile", &text);
        self.build("app-profile", &dockerfile, &[], &[])
    }

    /// The wrapped image plus the Go program built with aws-sdk-go v1.47.10 (before EKS Pod
    /// Identity: `scripts/fixtures`) at `/app/go-old`, and the Pod Identity token at its path.
    fn pod_identity_app_image(&self, go_old: &Path) -> String {
        let ctx = self.context("app-pod-identity");
        std::fs::write(ctx.join("token"), support::CANARY_AUTH_TOKEN).expect("write token");
        let text = format!(
            "FROM {}\nCOPY {} /app/go-old\nCOPY token {POD_IDENTITY_TOKEN}\n",
            self.images.wrapped,
            go_old.file_name().unwrap().to_string_lossy()
        );
        let dockerfile = self.dockerfile("app-pod-identity", &text);
        self.build("app-pod-identity", &dockerfile, &[go_old], &[])
    }

    /// A second `fake_peer` at 169.254.170.23: the EKS Pod Identity agent (it requires the
    /// canary token).
    fn start_pod_identity_agent(&mut self) -> String {
        let name = format!("{}-pod-identity", self.run);
        let fixed = format!(
            "run -d --network {} --ip {POD_IDENTITY_IP} --label {}",
            self.run,
            self.label()
        );
        let mut args = argv(&fixed, &["--name", &name, &self.images.agent]);
        args.extend(argv(
            &format!("--bind {POD_IDENTITY_IP}:80 --pod-identity"),
            &[],
        ));
        self.docker.ok(&args);
        let listening = |l: &str| l.starts_with("listening on ");
        self.follow(&name).wait_for(
            "`listening on` from the Pod Identity agent",
            WAIT_LIMIT,
            listening,
        );
        name
    }

    /// The wrapped image with `HEALTHCHECK --interval=1s … --expect-role ROLE`.
    fn health_image(&self, role: &str) -> String {
        let text = format!(
            "FROM {}\nHEALTHCHECK --interval=1s --timeout=5s --retries=1 CMD [\"/credcheck\", \"health\", \"--expect-role\", \"{role}\"]\n",
            self.images.wrapped
        );
        let tag = format!("health-{role}");
        let dockerfile = self.dockerfile(&tag, &text);
        self.build(&tag, &dockerfile, &[], &[])
    }

    /// The wrapped app as a FireLens log router: the seed's Fluent Bit config in
    /// /fluent-bit/etc and docker/log-router-healthcheck.json's health check command.
    fn log_router_image(&self) -> String {
        let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/firelens");
        let files = [seed.join("fluent-bit.conf"), seed.join("extra.conf")];
        let text = format!(
            "FROM {}\nCOPY fluent-bit.conf extra.conf /fluent-bit/etc/\nHEALTHCHECK --interval=1s --timeout=5s --retries=1 CMD [\"/credcheck\", \"health\", \"--fluent-bit-config\", \"/fluent-bit/etc/fluent-bit.conf\"]\n",
            self.images.wrapped
        );
        let dockerfile = self.dockerfile("log-router", &text);
        let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        self.build("log-router", &dockerfile, &files, &[])
    }

    /// `examples/fake_logs` (the seed's policy; `typo`: its group misspelt) at `ip`; returns
    /// its URL once it listens.
    fn start_logs_fake(&mut self, ip: &str, typo: bool) -> String {
        if self.images.logs.is_empty() {
            let text = "FROM scratch\nCOPY fake_logs /fake_logs\nENTRYPOINT [\"/fake_logs\"]\n";
            let dockerfile = self.dockerfile("logs", text);
            let bin = support::example_bin("fake_logs");
            self.images.logs = self.build("logs", &dockerfile, &[&bin], &[]);
        }
        let name = format!("{}-logs-{}", self.run, ip.rsplit('.').next().unwrap_or("x"));
        let fixed = format!(
            "run -d --network {} --ip {ip} --label {}",
            self.run,
            self.label()
        );
        let mut args = argv(&fixed, &["--name", &name, &self.images.logs, "--bind", ip]);
        if typo {
            args.push("--typo".into());
        }
        self.docker.ok(&args);
        let line = self
            .follow(&name)
            .wait_for("`listening on` from fake_logs", WAIT_LIMIT, |l| {
                l.starts_with("listening on ")
            });
        format!("http://{}", line.trim_start_matches("listening on ").trim())
    }

    /// `Dockerfile` in the build context of `tag`.
    fn dockerfile(&self, tag: &str, text: &str) -> PathBuf {
        let path = self.context(tag).join("Dockerfile");
        std::fs::write(&path, text).expect("write Dockerfile");
        path
    }

    fn context(&self, tag: &str) -> PathBuf {
        let dir = self.ctx.path().join(tag);
        std::fs::create_dir_all(&dir).expect("build context");
        dir
    }

    /// `docker build` (classic builder: FROM resolves local tags) → `<run>:<tag>`.
    fn build(
        &self,
        tag: &str,
        dockerfile: &Path,
        files: &[&Path],
        build_args: &[String],
    ) -> String {
        self.build_for(None, tag, dockerfile, files, build_args)
    }

    /// The same, for `platform` (`--platform`) when given.
    fn build_for(
        &self,
        platform: Option<&str>,
        tag: &str,
        dockerfile: &Path,
        files: &[&Path],
        build_args: &[String],
    ) -> String {
        let ctx = self.context(tag);
        for file in files {
            let name = file.file_name().expect("file name");
            std::fs::copy(file, ctx.join(name))
                .unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
        }
        let image = format!("{}:{tag}", self.run);
        let dockerfile = path_arg(dockerfile);
        let mut args = argv(
            "build -q -t",
            &[&image, "-f", &dockerfile, "--label", &self.label()],
        );
        for arg in build_args {
            args.extend(argv("--build-arg", &[arg]));
        }
        if let Some(platform) = platform {
            args.extend(argv("--platform", &[platform]));
        }
        args.push(path_arg(&ctx));
        let out = self.docker.cmd(&args).timeout(BUILD_LIMIT).run();
        assert_eq!(out.code, 0, "docker build {image} failed\n{out}");
        image
    }

    /// moto's credentials for [`ROLE`]; they become secrets no output may contain.
    fn moto_creds(&mut self, session: &str) -> moto::Creds {
        let moto = self.moto.as_ref().expect("a lab with Sts::Moto");
        let creds = moto.assume_role(session);
        self.needles.extend([
            creds.akid.clone(),
            creds.secret.clone(),
            creds.token.clone(),
        ]);
        creds
    }

    /// The ECS agent (and a fake STS) at 169.254.170.2:80, serving `creds` (None: the
    /// canaries) for [`ROLE_ARN`]; returns its name once it listens.
    fn start_agent(&mut self, creds: Option<&moto::Creds>) -> String {
        let name = format!("{}-agent", self.run);
        let fixed = format!(
            "run -d --network {} --ip {AGENT_IP} --label {}",
            self.run,
            self.label()
        );
        let mut args = argv(&fixed, &["--name", &name, &self.images.agent]);
        let serve = format!(
            "--bind {AGENT_IP}:80 --ecs-path {} --role-arn {ROLE_ARN} --sts-arn {CANARY_CALLER_ARN}",
            peer::ECS_PATH
        );
        args.extend(argv(&serve, &[]));
        if let Some(c) = creds {
            let secrets = [
                "--akid",
                &c.akid,
                "--secret",
                &c.secret,
                "--session-token",
                &c.token,
            ];
            args.extend(argv("", &secrets));
        }
        self.docker.ok(&args);
        let listening = |l: &str| l.starts_with("listening on ");
        self.follow(&name)
            .wait_for("`listening on` from the agent", WAIT_LIMIT, listening);
        name
    }

    /// `docker run` options of the next app container: its name, address and ECS env.
    fn app_opts(&mut self) -> (String, Vec<String>) {
        let name = format!("{}-app{}", self.run, self.next_ip);
        let ip = format!("169.254.170.{}", self.next_ip);
        self.next_ip += 1;
        let env = format!(
            "-e AWS_CONTAINER_CREDENTIALS_RELATIVE_URI={} -e AWS_EC2_METADATA_DISABLED=true \
             -e AWS_ENDPOINT_URL_STS={} -e AWS_REGION=us-east-1",
            peer::ECS_PATH,
            self.sts_url
        );
        let fixed = format!(
            "--label {} --network {} --ip {ip} {env}",
            self.label(),
            self.run
        );
        let opts = argv(&fixed, &["--name", &name]);
        (name, opts)
    }

    fn app_args(
        &mut self,
        mode: &str,
        image: &str,
        extra: &[&str],
        cmd: &[&str],
    ) -> (String, Vec<String>) {
        let (name, opts) = self.app_opts();
        let mut args = vec!["run".to_string()];
        args.extend(mode.split_whitespace().map(String::from));
        args.extend(opts);
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push(image.to_string());
        args.extend(cmd.iter().map(|s| s.to_string()));
        (name, args)
    }

    /// Start an app container in the background; returns its name.
    fn start_app(&mut self, image: &str, extra: &[&str], cmd: &[&str]) -> String {
        let (name, args) = self.app_args("-d", image, extra, cmd);
        self.docker.ok(&args);
        name
    }

    /// Run an app container to its end, attached: the output and exit code are the container's.
    fn run_app(&mut self, image: &str, extra: &[&str], cmd: &[&str]) -> Output {
        let (_, args) = self.app_args("", image, extra, cmd);
        let out = self.docker.run(&args);
        self.assert_clean(&out);
        out
    }

    /// `docker logs -f NAME`: the container's stdout lines as they come.
    fn follow(&self, name: &str) -> Stream {
        Stream::spawn(&self.docker, &["logs", "-f", name])
    }

    /// `docker logs NAME`: the container's stdout and stderr, checked for secrets.
    fn logs(&self, name: &str) -> Output {
        let out = self.docker.run(&["logs", name]);
        assert_eq!(out.code, 0, "docker logs {name}\n{out}");
        self.assert_clean(&out);
        out
    }

    /// `.State.Health` (null without a health check), checked for secrets.
    fn health(&self, name: &str) -> Value {
        let out = self
            .docker
            .run(&["inspect", "--format", "{{json .State.Health}}", name]);
        assert_eq!(out.code, 0, "docker inspect {name}\n{out}");
        self.assert_clean(&out);
        serde_json::from_str(out.stdout.trim()).expect("health is JSON")
    }

    /// The first health status event after `since` must be `want`; returns `.State.Health`.
    fn wait_health(&self, name: &str, since: &str, want: &str) -> Value {
        let container = format!("container={name}");
        let fixed = "events --filter event=health_status --format {{.Action}} --filter";
        let args = argv(fixed, &[&container, "--since", since]);
        let mut events = Stream::spawn(&self.docker, &args);
        let what = format!("a health status of {name}");
        let event = events.wait_for(&what, WAIT_LIMIT, |l| l.starts_with("health_status"));
        let health = self.health(name);
        assert_eq!(event, format!("health_status: {want}"), "{health:#}");
        health
    }

    /// Requirement 4: no canary and no moto secret in `out`.
    fn assert_clean(&self, out: &Output) {
        support::assert_no_secrets(out);
        let needles: Vec<&str> = self.needles.iter().map(String::as_str).collect();
        support::assert_no_strings(out, &needles);
    }

    /// Every container's log and health log (including the agent's) is free of secrets.
    fn assert_logs_clean(&self) {
        let filter = format!("label={}", self.label());
        let names = self
            .docker
            .ok(&["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]);
        for name in names.lines() {
            self.logs(name);
            self.health(name);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        remove_run(&self.docker, &self.run);
    }
}

/// Remove a run's containers, then its network, then its images (by tag: an image ID may
/// be shared, through the build cache, with another run's).
fn remove_run(docker: &Docker, run: &str) {
    let filter = format!("label={LABEL}={run}");
    let containers = docker.quiet(&["ps", "-aq", "--filter", &filter]);
    docker.quiet_each(&["rm", "-f", "-v"], &containers);
    docker.quiet(&["network", "rm", run]);
    let images = docker.quiet(&[
        "images",
        "--filter",
        &filter,
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    docker.quiet_each(&["rmi", "-f"], &images);
}

/// Remove the runs of test processes that are gone (killed before their `Drop` ran).
fn remove_stale(docker: &Docker) {
    let filter = format!("label={LABEL}");
    let format = format!("{{{{.Label \"{LABEL}\"}}}}");
    let mut runs = BTreeSet::new();
    for list in [&["ps", "-a"][..], &["network", "ls"]] {
        let args = [list, &["--filter", &filter, "--format", &format]].concat();
        runs.extend(docker.quiet(&args).lines().map(String::from));
    }
    let images = docker.quiet(&["images", "--filter", &filter, "--format", "{{.Repository}}"]);
    runs.extend(images.lines().map(String::from));
    for run in runs.iter().filter(|run| owner_is_gone(run)) {
        remove_run(docker, run);
    }
}

/// `credcheck-test-<pid>-…` whose pid no longer exists.
fn owner_is_gone(run: &str) -> bool {
    let pid = run
        .strip_prefix(NAME_ROOT)
        .and_then(|rest| rest.split('-').next());
    let pid = pid.and_then(|p| p.parse::<u32>().ok());
    pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

/// Now, as `docker events --since` reads it (seconds.nanoseconds).
fn docker_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

fn random_hex() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{:08x}", hasher.finish() as u32)
}

/// The words of `fixed` (no quoting: none has blanks), then `rest` as they are.
fn argv(fixed: &str, rest: &[&str]) -> Vec<String> {
    let words = fixed.split_whitespace().chain(rest.iter().copied());
    words.map(String::from).collect()
}

fn path_arg(path: &Path) -> String {
    path.to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 path {}", path.display()))
        .to_string()
}

// ---- the docker CLI --------------------------------------------------------------

/// The docker CLI with a clean environment (plus the DOCKER_* variables that choose the
/// engine) and the classic builder, which resolves `FROM <local tag>` without a registry.
#[derive(Clone, Debug)]
struct Docker {
    bin: PathBuf,
}

impl Docker {
    /// Docker with a reachable engine; None after a SKIP line (a panic under `CI=true`).
    fn available(test: &str) -> Option<Docker> {
        match Docker::probe() {
            Ok(docker) => Some(docker),
            Err(why) if support::in_ci() => panic!("Docker is required in CI: {why}"),
            Err(why) => {
                support::skip(test, &format!("no Docker engine: {why}"));
                None
            }
        }
    }

    fn probe() -> Result<Docker, String> {
        let bin = find_in_path("docker").ok_or("no `docker` executable in PATH")?;
        let docker = Docker { bin };
        let args = ["version", "--format", "{{.Server.Version}}"];
        let out = docker.cmd(&args).timeout(Duration::from_secs(30)).run();
        match out.code {
            0 => Ok(docker),
            _ => Err(format!("`docker version` failed: {}", out.stderr.trim())),
        }
    }

    fn cmd<S: AsRef<OsStr>>(&self, args: &[S]) -> TestCmd {
        let mut cmd = TestCmd::new(&self.bin);
        cmd.env("DOCKER_BUILDKIT", "0")
            .args(args)
            .timeout(WAIT_LIMIT);
        for var in PASS_THROUGH {
            if let Some(value) = std::env::var_os(var) {
                cmd.env(var, value);
            }
        }
        cmd
    }

    /// Run to completion (panics after [`WAIT_LIMIT`]); canaries in the output fail the test.
    fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        self.cmd(args).run()
    }

    /// Run, require exit 0, return stdout trimmed.
    fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let out = self.run(args);
        let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        assert_eq!(out.code, 0, "docker {} failed\n{out}", shown.join(" "));
        out.stdout.trim().to_string()
    }

    /// Best effort, for clean-up: never panics; returns stdout.
    fn quiet(&self, args: &[&str]) -> String {
        let cmd = self.cmd(args);
        let mut command = cmd.command();
        let out = command.stdin(Stdio::null()).stderr(Stdio::null()).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// `quiet(args + items)` when `items` (one per line) is not empty.
    fn quiet_each(&self, args: &[&str], items: &str) {
        let items: Vec<&str> = items
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        if !items.is_empty() {
            self.quiet(&[args, &items[..]].concat());
        }
    }
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let fallbacks = ["/usr/local/bin", "/usr/bin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(fallbacks)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A long-running docker command (`logs -f`, `events`) whose stdout lines arrive on a
/// channel; killed and reaped on drop.
struct Stream {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    /// Keeps the command's private HOME alive.
    _cmd: TestCmd,
}

impl Stream {
    fn spawn<S: AsRef<OsStr>>(docker: &Docker, args: &[S]) -> Stream {
        let cmd = docker.cmd(args);
        let mut command = cmd.command();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Stream {
            child,
            lines,
            seen: Vec::new(),
            _cmd: cmd,
        }
    }

    /// The next line that `want` accepts; fails the test after `limit`.
    fn wait_for(&mut self, what: &str, limit: Duration, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if want(&line) => return line,
                Ok(line) => self.seen.push(line),
                Err(e) => panic!(
                    "no {what} within {limit:?} ({e:?}); lines so far: {:?}",
                    self.seen
                ),
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- moto on the gateway ------------------------------------------------------------

/// `moto_server` from the venv, or None after a SKIP line (a panic under `CI=true`).
fn moto_server(test: &str) -> Option<PathBuf> {
    let server = moto::venv_dir().join("bin/moto_server");
    if server.is_file() {
        return Some(server);
    }
    let why = format!("{} not found; run scripts/test", server.display());
    assert!(!support::in_ci(), "moto is required in CI: {why}");
    support::skip(test, &why);
    None
}

/// moto bound to the gateway address (the host's end of the lab network), so containers
/// reach it; `support::moto` listens on loopback only. Like there, moto runs under an `sh`
/// watchdog that kills it when its stdin closes: on drop, or when this process dies.
struct GatewayMoto {
    addr: SocketAddr,
    stdin: Option<ChildStdin>,
    child: Child,
}

impl GatewayMoto {
    fn start(server: &Path) -> GatewayMoto {
        let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("moto-home");
        std::fs::create_dir_all(&home).expect("moto home");
        let script = format!(
            r#""$0" -H {GATEWAY} -p 0 & pid=$!; exec 2>/dev/null; read _unused; kill "$pid"; wait "$pid""#
        );
        let bin_dir = server.parent().unwrap_or(server);
        let mut child = Command::new("/bin/sh")
            .args(["-c", &script])
            .arg(server)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .env("HOME", &home)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the moto_server watchdog");
        let port = wait_for_port(child.stderr.take().expect("stderr piped"));
        let stdin = child.stdin.take();
        // Owned by a guard before the port is checked: a failed start still stops moto.
        let mut moto = GatewayMoto {
            addr: SocketAddr::from((GATEWAY_OCTETS, 0)),
            stdin,
            child,
        };
        let port =
            port.unwrap_or_else(|log| panic!("moto_server on {GATEWAY} did not start:\n{log}"));
        moto.addr.set_port(port);
        moto
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// CreateRole [`ROLE`], then AssumeRole it: moto's credentials for [`ROLE_ARN`].
    fn assume_role(&self, session: &str) -> moto::Creds {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        let create = [
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", ROLE),
            ("AssumeRolePolicyDocument", policy),
        ];
        self.call("iam", &create);
        let assume = [
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", ROLE_ARN),
            ("RoleSessionName", session),
        ];
        let xml = self.call("sts", &assume);
        let field = |tag: &str| {
            peer::xml_value(&xml, tag)
                .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
                .to_string()
        };
        moto::Creds {
            akid: field("AccessKeyId"),
            secret: field("SecretAccessKey"),
            token: field("SessionToken"),
            expiration: field("Expiration"),
        }
    }

    /// A Query-API POST with a well-formed, unsigned SigV4 header (moto routes by its scope
    /// and does not verify signatures); returns the 200 response's body.
    fn call(&self, service: &str, form: &[(&str, &str)]) -> String {
        let stamp = peer::rfc3339(peer::unix_now()).replace(['-', ':'], "");
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}/us-east-1/{service}/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={}",
            moto::MOTO_ADMIN_KEY, &stamp[..8], "0".repeat(64)
        );
        let headers = [
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("X-Amz-Date", &stamp),
            ("Authorization", &auth),
        ];
        let body = peer::form_body(form);
        let resp = peer::http_request(self.addr, "POST", "/", &headers, body.as_bytes());
        let resp = resp.unwrap_or_else(|e| panic!("moto {service} at {}: {e}", self.addr));
        assert_eq!(resp.status, 200, "moto {service} {form:?}: {}", resp.text());
        resp.text()
    }
}

impl Drop for GatewayMoto {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The port from werkzeug's `Running on http://…:PORT` line (≤ 60 s), or moto's log; the
/// rest of stderr keeps being drained.
fn wait_for_port(stderr: std::process::ChildStderr) -> Result<u16, String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let (mut log, mut tx) = (Vec::new(), Some(tx));
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            match (tx.as_ref(), running_on_port(&line)) {
                (Some(sender), Some(port)) => {
                    let _ = sender.send(Ok(port));
                    tx = None;
                }
                (Some(_), None) => log.push(line),
                (None, _) => {}
            }
        }
        if let Some(sender) = tx {
            let _ = sender.send(Err(log.join("\n")));
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| Err("no `Running on` line within 60 s".into()))
}

fn running_on_port(line: &str) -> Option<u16> {
    let url = line.split("Running on http://").nth(1)?;
    url.rsplit(':')
        .next()?
        .trim()
        .trim_end_matches('/')
        .parse()
        .ok()
}

/// `credcheck processes` in one container with four kinds of process (issue 23): PID 1, the
/// app (its chain reaches the container endpoint); a worker started with an empty environment
/// (`--env-clear`, as php-fpm's `clear_env` or cron start one); a process with exported static
/// temporary keys (`docker exec -e`); a Go program built with aws-sdk-go v1.47.10 given EKS
/// Pod Identity (a second agent at 169.254.170.23, the token file). Each flag must be on the
/// right process and on no other, within the report's deadline.
#[test]
fn docker_processes_flags_each_process() {
    let test = "docker_processes_flags_each_process";
    let Some(mut lab) = Lab::start(test, Sts::Fake) else {
        return;
    };
    let Some(fx) = support::fixtures::fixtures() else {
        return;
    };
    lab.start_agent(None);
    lab.start_pod_identity_agent();
    let image = lab.pod_identity_app_image(&fx.go_v1_old);
    let app = lab.start_app(&image, &[], &[]);
    lab.follow(&app)
        .wait_for("the app's first line", WAIT_LIMIT, |_| true);
    // Only what EKS gives a pod: the Pod Identity URI and token file (no RELATIVE_URI).
    let full_uri =
        format!("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://{POD_IDENTITY_IP}/v1/credentials");
    let token_file = format!("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={POD_IDENTITY_TOKEN}");
    let go_args = [
        "exec",
        app.as_str(),
        "/app/server",
        "--exec-env",
        "/app/go-old",
        &full_uri,
        &token_file,
        "AWS_EC2_METADATA_DISABLED=true",
    ];
    let mut go_old = Stream::spawn(&lab.docker, &go_args);
    go_old.wait_for("the Go program's first line", WAIT_LIMIT, |l| l == "ready");
    let mut worker = Stream::spawn(
        &lab.docker,
        &["exec", &app, "/app/server", "--env-clear", "worker"],
    );
    worker.wait_for("the worker's first line", WAIT_LIMIT, |l| {
        l.starts_with("app-started")
    });
    let keys = [
        format!("AWS_ACCESS_KEY_ID={}", support::CANARY_AKID_STS),
        format!("AWS_SECRET_ACCESS_KEY={}", support::CANARY_SECRET),
        format!("AWS_SESSION_TOKEN={}", support::CANARY_TOKEN),
    ];
    let mut exported = Stream::spawn(
        &lab.docker,
        &[
            "exec",
            "-e",
            &keys[0],
            "-e",
            &keys[1],
            "-e",
            &keys[2],
            &app,
            "/app/server",
            "exported",
        ],
    );
    exported.wait_for("the exported-keys process's first line", WAIT_LIMIT, |l| {
        l.starts_with("app-started")
    });
    let out = lab
        .docker
        .run(&["exec", &app, "/credcheck", "processes", "--format", "json"]);
    lab.assert_clean(&out);
    assert!(
        out.elapsed <= Duration::from_secs(10) + support::OVER_DEADLINE,
        "within the report deadline: {:?}",
        out.elapsed
    );
    let report = out.json();
    crate::schema::assert_schema(&report);
    let section = &report["processes"];
    let rows = section["rows"].as_array().expect("rows");
    let by_args = |word: &str| {
        rows.iter()
            .find(|r| r["command"].as_str().is_some_and(|c| c.ends_with(word)))
            .unwrap_or_else(|| panic!("no process ending in {word}: {report:#}"))
    };
    let main = rows
        .iter()
        .find(|r| r["pid"] == 1)
        .unwrap_or_else(|| panic!("PID 1: {report:#}"));
    let codes = |r: &Value| -> Vec<String> {
        r["flags"]
            .as_array()
            .map(|f| {
                f.iter()
                    .map(|w| w["code"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(main["source"], "container-role", "{report:#}");
    assert_eq!(main["identity"], CANARY_CALLER_ARN, "{report:#}");
    assert!(codes(main).is_empty(), "PID 1 has no flag: {report:#}");
    let worker_row = by_args("worker");
    assert_eq!(worker_row["source"], Value::Null, "{report:#}");
    assert_eq!(codes(worker_row), ["environment-differs"], "{report:#}");
    let lacks = worker_row["flags"][0]["message"].as_str().unwrap();
    assert!(
        lacks.contains("it lacks") && lacks.contains("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        "{lacks}"
    );
    let exported_row = by_args("exported");
    assert_eq!(exported_row["source"], "env", "{report:#}");
    assert_eq!(
        codes(exported_row),
        ["environment-differs", "static-temporary-keys"],
        "{report:#}"
    );
    let stale = exported_row["flags"][1]["message"].as_str().unwrap();
    assert!(
        stale.contains("the container endpoint serves ASIA…XYZ1 now"),
        "{stale}"
    );
    let go_row = by_args("/app/go-old");
    assert_eq!(go_row["source"], "container-role", "{report:#}");
    assert_eq!(
        codes(go_row),
        [
            "environment-differs",
            "sdk-rejects-endpoint",
            "sdk-rejects-endpoint"
        ],
        "the Pod Identity host and the token file: {report:#}"
    );
    assert_eq!(go_row["sdk"][0]["version"], "1.47.10", "{report:#}");
    assert_eq!(go_row["sdk"][0]["exactness"], "exact", "{report:#}");
    for row in [main, worker_row, exported_row] {
        assert!(
            !codes(row).contains(&"sdk-rejects-endpoint".to_string()),
            "{report:#}"
        );
    }
    assert_eq!(section["environments"], 4, "{report:#}");
    assert_eq!(
        section["network_fetches"], 2,
        "the ECS endpoint and the Pod Identity agent, once each: {report:#}"
    );
    // The fake Pod Identity agent serves the ECS agent's canary credentials: two sets.
    assert_eq!(
        section["sts_calls"], 2,
        "one per distinct set of credentials: {report:#}"
    );
    assert_eq!(
        report["exit_code"], 1,
        "sdk-rejects-endpoint is a problem: {report:#}"
    );
    assert_eq!(
        report["errors"][0]["code"], "processes-flagged",
        "{report:#}"
    );
    let text = lab
        .docker
        .run(&["exec", &app, "/credcheck", "processes", "--no-sts"]);
    lab.assert_clean(&text);
    support::say!("{test}: credcheck processes (text)\n{}", text.stdout);
    lab.assert_logs_clean();
}
