//! Issue 20, "Real peer": the real Fluent Bit (v5.1.1, `support::fluentbit`) delivers through
//! the resource-aware fake CloudWatch Logs (`support::logs`, over TLS with a CA the test makes,
//! `support::testca`) under each case's policy, config and account state, and credcheck judges
//! the same config file with the same credentials (the loopback container endpoint, whose
//! RoleArn names the account, so `--no-sts`). The Go `cloudwatch` plugin is not in the binary;
//! its cases run `support::go_cloudwatch`, an emulator of its calls, on the same config keys.
//!
//! Per case: credcheck BEFORE the router runs (the probe alone), the router until the fake
//! stored one of its events (accepted) or it gave a chunk up or exited (refused), then credcheck
//! AFTER (the account as the router left it, the router still running so its metrics API is
//! there) and `credcheck health`. The differential table goes to stderr (the CI log); every case
//! must agree: accepted ⇒ credcheck never says `blocked` and says `deliverable` after;
//! refused ⇒ never `deliverable`, health exits 1; plus each case's own expectations.
//!
//! Verdicts and exit codes are the contract of issue 20: `log_outputs[i].delivery` is
//! `deliverable` / `blocked` / `unverified`; report exit 0 = all deliverable, 1 = something
//! blocked, 4 = unverified and nothing blocked, 2 = configuration error; health 0 only when
//! every output is deliverable.
//!
//! Reads `FLUENT_BIT` and `CI` (through `support::fluentbit`), and `CREDCHECK_FBDIFF_LOGS`: a
//! folder to keep each case's Fluent Bit log in (`NN.log`); `CREDCHECK_FBDIFF_VERBOSE`: print
//! every case's credcheck lines, not only those of a case that disagrees.

use crate::support::fluentbit::{self, Layout, Outcome, Router};
use crate::support::go_cloudwatch::{self, GoPlugin};
use crate::support::logs::{self as fake, Fake, Statement};
use crate::support::testca::TestCa;
use crate::support::{self, peer, say, Output};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

const G: &str = "/ecs/logs/sample-test";
const S: &str = "webapp";
/// The FireLens tag of the app container `app` (`<container>-firelens-<task id>`, the ECS
/// agent's `fluentTagDockerFormat`); the task id is the last segment of the fake task's ARN.
const TAG: &str = "app-firelens-0f4b2f539a1e4c368d7b2f6c1e0b7a55";
const PREFIX: &str = "from-fluent-bit-";
const ARN: &str = "arn:aws:logs:ap-northeast-1:123456789012:log-group:";
const SEED: [&str; 4] = [
    "logs:CreateLogStream",
    "logs:CreateLogGroup",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
];
/// Worker threads: each case runs one Fluent Bit and a few credcheck runs.
const WORKERS: usize = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plugin {
    C,
    Go,
}

/// One row of the table: policy × config × account state, and what is expected.
#[derive(Clone)]
struct Case {
    name: &'static str,
    plugin: Plugin,
    /// `[OUTPUT]` keys besides Name, Match and the fake's endpoint.
    keys: Vec<(&'static str, String)>,
    policy: Vec<Statement>,
    /// Groups that exist, with their streams.
    groups: Vec<(&'static str, Vec<String>)>,
    /// `AWS_REGION` absent from both environments.
    unset_region: bool,
    /// More variables for both environments (a `${VAR}` in the config).
    env: Vec<(&'static str, String)>,
    /// C plugin: `endpoint https://localhost` (the plugin strips `https://`).
    https_endpoint: bool,
    /// The policy becomes this once the router's first outcome is known (C plugin only);
    /// `accepted` and `after` are then about the second, `before` about the first.
    change: Option<Vec<Statement>>,
    /// A `stdout` output (which always delivers) before the CloudWatch one: its counters are
    /// `stdout.0`, the CloudWatch output's `cloudwatch_logs.1` (flb_output.c 603-614, 774).
    stdout_first: bool,
    layout: Layout,
    accepted: bool,
    before: &'static [&'static str],
    after: &'static [&'static str],
}

fn allow(actions: &[&str], resources: &[&str]) -> Statement {
    Statement {
        allow: true,
        actions: actions.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
    }
}

fn deny(actions: &[&str], resources: &[&str]) -> Statement {
    Statement {
        allow: false,
        ..allow(actions, resources)
    }
}

fn on_group(group: &str) -> String {
    format!("{ARN}{group}:*")
}

const DELIVERABLE: &[&str] = &["deliverable"];
const BLOCKED: &[&str] = &["blocked"];
const UNVERIFIED: &[&str] = &["unverified"];
const NOT_GREEN: &[&str] = &["blocked", "unverified", "config-error", "no-output"];

impl Case {
    /// The seed story: the seed's policy on G:*, G and S exist, `auto_create_group true`.
    fn seed(name: &'static str) -> Case {
        Case {
            name,
            plugin: Plugin::C,
            keys: vec![
                ("region", "ap-northeast-1".into()),
                ("log_group_name", G.into()),
                ("log_stream_name", S.into()),
                ("auto_create_group", "true".into()),
            ],
            policy: vec![allow(&SEED, &[&on_group(G)])],
            groups: vec![(G, vec![S.into()])],
            unset_region: false,
            env: Vec::new(),
            https_endpoint: false,
            stdout_first: false,
            change: None,
            layout: Layout::Extra,
            accepted: true,
            before: DELIVERABLE,
            after: DELIVERABLE,
        }
    }
    fn go(mut self) -> Case {
        self.plugin = Plugin::Go;
        self
    }
    fn set(mut self, key: &'static str, value: &str) -> Case {
        self.keys.retain(|(k, _)| *k != key);
        self.keys.push((key, value.to_string()));
        self
    }
    fn unset(mut self, key: &'static str) -> Case {
        self.keys.retain(|(k, _)| *k != key);
        self
    }
    fn policy(mut self, statements: Vec<Statement>) -> Case {
        self.policy = statements;
        self
    }
    fn groups(mut self, groups: Vec<(&'static str, Vec<String>)>) -> Case {
        self.groups = groups;
        self
    }
    fn refused(mut self, before: &'static [&'static str], after: &'static [&'static str]) -> Case {
        self.accepted = false;
        self.before = before;
        self.after = after;
        self
    }
    fn before(mut self, before: &'static [&'static str]) -> Case {
        self.before = before;
        self
    }
}

fn cases() -> Vec<Case> {
    let g_all = on_group(G);
    let typo = on_group("/ecs/logs/sample-tset");
    let exact_stream = format!("{ARN}{G}:log-stream:{S}");
    let put_create = ["logs:CreateLogStream", "logs:PutLogEvents"];
    let no_group = || Vec::new();
    let g_only = || vec![(G, Vec::new())];
    vec![
        Case::seed("01 seed policy, G+S exist"),
        Case::seed("02 policy names a misspelt group")
            .policy(vec![allow(&SEED, &[&typo])])
            .refused(BLOCKED, BLOCKED),
        Case::seed("03 Create stream+Put on exactly the stream ARN")
            .policy(vec![allow(&put_create, &[&exact_stream])]),
        Case::seed("04 Create stream+Put on G:* (no Describe, no CreateLogGroup)")
            .policy(vec![allow(&put_create, &[&g_all])]),
        Case::seed("05 PutLogEvents only")
            .policy(vec![allow(&["logs:PutLogEvents"], &[&g_all])])
            .refused(BLOCKED, BLOCKED),
        Case::seed("06 CreateLogStream only")
            .policy(vec![allow(&["logs:CreateLogStream"], &[&g_all])])
            .refused(BLOCKED, BLOCKED),
        Case::seed("07 S missing, Create stream+Put allowed")
            .policy(vec![allow(&put_create, &[&g_all])])
            .groups(g_only())
            .before(UNVERIFIED),
        Case::seed("08 S missing, only Put allowed")
            .policy(vec![allow(&["logs:PutLogEvents"], &[&g_all])])
            .groups(g_only())
            .refused(UNVERIFIED, &["unverified", "blocked"]),
        Case::seed("09 G missing, auto_create_group true, all allowed")
            .groups(no_group())
            .before(UNVERIFIED),
        Case::seed("10 G missing, auto_create_group off")
            .unset("auto_create_group")
            .groups(no_group())
            .refused(BLOCKED, BLOCKED),
        Case::seed("11 G missing, auto_create_group true, CreateLogGroup not allowed")
            .policy(vec![allow(
                &[
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                &[&g_all],
            )])
            .groups(no_group())
            .refused(&["blocked", "unverified"], &["blocked", "unverified"]),
        Case::seed("12 explicit Deny on PutLogEvents beside Allow *")
            .policy(vec![
                allow(&["logs:*"], &["*"]),
                deny(&["logs:PutLogEvents"], &["*"]),
            ])
            .refused(BLOCKED, BLOCKED),
        Case::seed("13 log_stream_prefix, FireLens tag from task metadata v4")
            .unset("log_stream_name")
            .set("log_stream_prefix", PREFIX)
            .groups(vec![(G, vec![format!("{PREFIX}{TAG}")])]),
        Case::seed("14 log_stream_prefix, misspelt group in the policy")
            .unset("log_stream_name")
            .set("log_stream_prefix", PREFIX)
            .policy(vec![allow(&SEED, &[&typo])])
            .groups(vec![(G, vec![format!("{PREFIX}{TAG}")])])
            .refused(BLOCKED, BLOCKED),
        Case {
            unset_region: true,
            ..Case::seed("15 region ${AWS_REGION} with AWS_REGION unset")
                .set("region", "${AWS_REGION}")
                .refused(NOT_GREEN, NOT_GREEN)
        },
        Case::seed("16 log_group_template $kubernetes['namespace_name'], fallback G")
            .set("log_group_template", "$kubernetes['namespace_name']"),
        Case::seed("17 log_retention_days 7, G exists").set("log_retention_days", "7"),
        Case::seed("18 policy names another Region")
            .policy(vec![allow(
                &SEED,
                &[&format!(
                    "arn:aws:logs:us-west-2:123456789012:log-group:{G}:*"
                )],
            )])
            .refused(BLOCKED, BLOCKED),
        Case::seed("19 Go: G+S exist, no DescribeLogStreams")
            .go()
            .policy(vec![allow(
                &[
                    "logs:CreateLogStream",
                    "logs:CreateLogGroup",
                    "logs:PutLogEvents",
                ],
                &[&g_all],
            )])
            .refused(BLOCKED, BLOCKED),
        Case::seed("20 Go: auto_create_group true, G exists, no CreateLogGroup")
            .go()
            .policy(vec![allow(
                &[
                    "logs:CreateLogStream",
                    "logs:DescribeLogStreams",
                    "logs:PutLogEvents",
                ],
                &[&g_all],
            )])
            .refused(BLOCKED, BLOCKED),
        Case::seed("21 Go: all allowed, G+S exist").go(),
        Case::seed("22 Go: S missing, CreateLogStream allowed")
            .go()
            .groups(g_only())
            .before(UNVERIFIED),
        Case {
            layout: Layout::ConfD70,
            ..Case::seed("23 @INCLUDE conf.d/*.conf, the output in the 70th file")
        },
        Case {
            layout: Layout::Yaml,
            ..Case::seed("24 YAML config, output in an included file, misspelt group")
                .policy(vec![allow(&SEED, &[&typo])])
                .refused(BLOCKED, BLOCKED)
        },
        Case {
            layout: Layout::Yaml,
            ..Case::seed("25 YAML config, S missing, Create stream+Put allowed")
                .policy(vec![allow(&put_create, &[&g_all])])
                .groups(g_only())
                .before(UNVERIFIED)
        },
        // cloudwatch_api.c 1931-1938: retention after the group's creation; its failure fails
        // the flush, the retry finds the group and delivers (retention never set).
        Case::seed("26 G missing, log_retention_days 7, PutRetentionPolicy not allowed")
            .set("log_retention_days", "7")
            .groups(no_group())
            .before(UNVERIFIED),
        // cloudwatch.go 608-638: the Go plugin sets retention on an existing group too. No
        // harmless form of PutRetentionPolicy exists, so credcheck may only say unverified.
        Case::seed("27 Go: log_retention_days 7, G+S exist, PutRetentionPolicy not allowed")
            .go()
            .set("log_retention_days", "7")
            .refused(&["blocked", "unverified"], &["blocked", "unverified"]),
        Case::seed("28 log_stream_template $TAG (the FireLens tag), fallback S absent")
            .set("log_stream_template", "$TAG")
            .groups(vec![(G, vec![TAG.into()])]),
        Case::seed("29 Go: log_stream_prefix + FireLens tag, stream exists")
            .go()
            .unset("log_stream_name")
            .set("log_stream_prefix", PREFIX)
            .groups(vec![(G, vec![format!("{PREFIX}{TAG}")])]),
        Case::seed("30 Go: auto_create_group false, G missing")
            .go()
            .set("auto_create_group", "false")
            .groups(no_group())
            .refused(BLOCKED, BLOCKED),
        Case {
            env: vec![("LOG_GROUP", G.into())],
            ..Case::seed("31 log_group_name ${LOG_GROUP} from the environment")
                .set("log_group_name", "${LOG_GROUP}")
        },
        Case {
            https_endpoint: true,
            ..Case::seed("32 endpoint https://localhost (scheme stripped) and port")
        },
        // docs/codes.md, `logs-delivery-denied` (allow it on `…:log-group:G:*`): a bare
        // `log-group:G` covers neither the group's nor its streams' ARNs.
        Case::seed("33 policy on the bare log-group:G ARN (no :*)")
            .policy(vec![allow(&SEED, &[&format!("{ARN}{G}")])])
            .refused(BLOCKED, BLOCKED),
        // The counters of another output must not speak for this one.
        Case {
            stdout_first: true,
            ..Case::seed("34 stdout output first (delivers), S missing, only Put allowed")
                .policy(vec![allow(&["logs:PutLogEvents"], &[&g_all])])
                .groups(g_only())
                .refused(UNVERIFIED, &["unverified", "blocked"])
        },
        Case {
            stdout_first: true,
            layout: Layout::Yaml,
            ..Case::seed("35 YAML, stdout output first, G missing, no CreateLogGroup")
                .policy(vec![allow(
                    &[
                        "logs:CreateLogStream",
                        "logs:DescribeLogStreams",
                        "logs:PutLogEvents",
                    ],
                    &[&g_all],
                )])
                .groups(no_group())
                .refused(&["blocked", "unverified"], &["blocked", "unverified"])
        },
        Case {
            stdout_first: true,
            ..Case::seed("36 stdout output first, S missing, Create stream+Put allowed")
                .policy(vec![allow(&put_create, &[&g_all])])
                .groups(g_only())
                .before(UNVERIFIED)
        },
        // The role's policy edited while the router runs. Revoked after delivery: the router's
        // counters still show records delivered and no failure until its next flush fails;
        // credcheck runs once the router gave a chunk up, and must not be green.
        Case {
            change: Some(vec![allow(&SEED, &[&typo])]),
            ..Case::seed("37 policy revoked after the router delivered")
                .refused(DELIVERABLE, BLOCKED)
        },
        // Fixed after refusal: the router's next chunks get through; its counters keep the
        // earlier failures, which must not keep credcheck red.
        Case {
            change: Some(vec![allow(&SEED, &[&g_all])]),
            ..Case::seed("38 policy fixed after the router was refused")
                .policy(vec![allow(&SEED, &[&typo])])
                .before(BLOCKED)
        },
    ]
}

/// The task metadata v4 of a FireLens task: the app container `app` logs through
/// `awsfirelens`, the router `log_router` through awslogs.
fn firelens_task() -> String {
    let mut task: Value = serde_json::from_str(&peer::default_task_metadata()).expect("task json");
    let mut router = task["Containers"][0].clone();
    let app = &mut task["Containers"][0];
    app["LogDriver"] = json!("awsfirelens");
    app.as_object_mut().expect("container").remove("LogOptions");
    router["Name"] = json!("log_router");
    router["DockerName"] = json!("log_router");
    router["DockerId"] = json!("0f4b2f539a1e4c368d7b2f6c1e0b7a55-0987654321");
    router["Image"] = json!("public.ecr.aws/aws-observability/aws-for-fluent-bit:stable");
    task["Containers"]
        .as_array_mut()
        .expect("containers")
        .push(router);
    task.to_string()
}

/// What one case gave.
struct Row {
    name: &'static str,
    plugin: Plugin,
    router: Result<Outcome, String>,
    /// The outcome before the case's policy change, if it has one.
    first: Option<Outcome>,
    before: Verdict,
    after: Verdict,
    health: Option<Output>,
    problems: Vec<String>,
    router_log: String,
}

/// credcheck's verdict on the one output: its `delivery`, `config-error` (exit 2) or
/// `no-output` (no `log_outputs` entry), with the exit code and its codes.
struct Verdict {
    delivery: String,
    out: Output,
}

impl Verdict {
    fn of(out: Output) -> Verdict {
        let v: Option<Value> = serde_json::from_str(out.stdout.trim()).ok();
        let delivery = match (&v, out.code) {
            (_, 2) => "config-error".to_string(),
            (Some(v), _) => match v["log_outputs"].as_array().map(Vec::as_slice) {
                Some([one, ..]) => one["delivery"].as_str().unwrap_or("?").to_string(),
                _ => "no-output".to_string(),
            },
            (None, _) => "no-json".to_string(),
        };
        Verdict { delivery, out }
    }
    fn cell(&self) -> String {
        format!("{} ({})", self.delivery, self.out.code)
    }
    /// The exit code the contract gives this verdict.
    fn expected_exit(&self) -> Option<i32> {
        match self.delivery.as_str() {
            "deliverable" => Some(0),
            "blocked" => Some(1),
            "unverified" => Some(4),
            "config-error" => Some(2),
            _ => None,
        }
    }
    /// The report's error and warning lines (`[code] message`).
    fn lines(&self) -> Vec<String> {
        let Ok(v) = serde_json::from_str::<Value>(self.out.stdout.trim()) else {
            return vec![format!(
                "stdout: {} stderr: {}",
                self.out.stdout.trim(),
                self.out.stderr.trim()
            )];
        };
        let mut lines = Vec::new();
        for field in ["errors", "warnings"] {
            for c in v[field].as_array().into_iter().flatten() {
                lines.push(format!(
                    "{field}: [{}] {}",
                    c["code"].as_str().unwrap_or("?"),
                    c["message"].as_str().unwrap_or("")
                ));
            }
        }
        for p in v["permissions"].as_array().into_iter().flatten() {
            lines.push(format!(
                "permission: {} {} {} ({})",
                p["verdict"].as_str().unwrap_or("?"),
                p["action"].as_str().unwrap_or("?"),
                p["resource"].as_str().unwrap_or("?"),
                p["basis"].as_str().unwrap_or("?")
            ));
        }
        for o in v["log_outputs"].as_array().into_iter().flatten() {
            lines.push(format!("log_output: {o}"));
        }
        lines
    }
}

/// Everything one case runs against: the credentials endpoint (with task metadata v4), the
/// fake CloudWatch Logs over TLS, the config, the shared environment.
struct Setup {
    dir: tempfile::TempDir,
    main: PathBuf,
    output_file: PathBuf,
    http_port: Option<u16>,
    env: Vec<(String, String)>,
}

fn setup(case: &Case, peer: &peer::Peer, logs: &Fake, decoy: &Fake, ca: &TestCa) -> Setup {
    let dir = tempfile::Builder::new()
        .prefix("credcheck-fbdiff-")
        .tempdir()
        .expect("case dir");
    let mut keys: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: String| keys.push((k.to_string(), v));
    match case.plugin {
        Plugin::C => push("Name", "cloudwatch_logs".into()),
        Plugin::Go => push("Name", "cloudwatch".into()),
    }
    push("Match", "*".into());
    for (k, v) in &case.keys {
        push(k, v.clone());
    }
    match case.plugin {
        // cloudwatch_logs.c 170-174 and 355: `endpoint` is a host name, `port` replaces 443.
        Plugin::C => {
            let host = if case.https_endpoint {
                "https://localhost"
            } else {
                "localhost"
            };
            push("endpoint", host.into());
            push("port", logs.port().to_string());
            push("tls.ca_file", ca.ca_file().display().to_string());
        }
        // The Go plugin's `endpoint` is a URL for the SDK's resolver (cloudwatch.go 251-263).
        Plugin::Go => push("endpoint", logs.url()),
    }
    let http_port = (case.plugin == Plugin::C).then(fluentbit::free_port);
    let mut outputs: Vec<Vec<(String, String)>> = Vec::new();
    if case.stdout_first {
        outputs.push(vec![
            ("Name".to_string(), "stdout".to_string()),
            ("Match".to_string(), "*".to_string()),
        ]);
    }
    outputs.push(keys);
    let main = fluentbit::write_config(dir.path(), TAG, http_port, &outputs, case.layout);
    let output_file = case.layout.output_file(dir.path());
    let mut env = vec![
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
        ("HOME".to_string(), dir.path().display().to_string()),
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_string(),
            peer.ecs_url(),
        ),
        (
            "ECS_CONTAINER_METADATA_URI_V4".to_string(),
            peer.task_metadata_uri(),
        ),
        (
            "AWS_CA_BUNDLE".to_string(),
            ca.ca_file().display().to_string(),
        ),
        // Where credcheck would go if it ignored the output's own `endpoint`/`port`: a decoy
        // on loopback (never an outside name), which must see nothing.
        ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS".to_string(), decoy.url()),
        ("AWS_ENDPOINT_URL_IAM".to_string(), decoy.url()),
    ];
    if !case.unset_region {
        env.push(("AWS_REGION".to_string(), fake::REGION.to_string()));
    }
    env.extend(case.env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Setup {
        dir,
        main,
        output_file,
        http_port,
        env,
    }
}

fn credcheck(setup: &Setup, args: &[&str]) -> Output {
    let mut cmd = support::cmd();
    cmd.env_remove("AWS_REGION");
    for (k, v) in setup.env.iter().filter(|(k, _)| k != "HOME" && k != "PATH") {
        cmd.env(k, v);
    }
    cmd.args(args).timeout(Duration::from_secs(30));
    cmd.run()
}

fn report(setup: &Setup) -> Verdict {
    let main = setup.main.display().to_string();
    Verdict::of(credcheck(
        setup,
        &[
            "--fluent-bit-config",
            &main,
            "--format",
            "json",
            "--no-sts",
            "--deadline",
            "10s",
        ],
    ))
}

fn health(setup: &Setup) -> Output {
    let main = setup.main.display().to_string();
    let state = setup.dir.path().join("health-state");
    let state = state.display().to_string();
    credcheck(
        setup,
        &[
            "health",
            "--fluent-bit-config",
            &main,
            "--state-dir",
            &state,
            "--deadline",
            "10s",
        ],
    )
}

fn run_case(case: &Case, bin: &Path, ca: &TestCa) -> Row {
    let mut plan = fake::Plan {
        statements: case.policy.clone(),
        ..fake::Plan::default()
    };
    for (g, streams) in &case.groups {
        plan.groups.insert(g.to_string(), streams.clone());
    }
    // Declared before the router: dropped after it, so the router's credential chain always
    // has its loopback endpoint (see support::fluentbit's safety note).
    let creds = peer::Peer::start(
        peer::Plan::new()
            .with_ecs(peer::Ecs::task_role())
            .with_task_metadata(peer::TASK_METADATA_PREFIX, firelens_task()),
    );
    let logs = Fake::start_tls(plan, ca.server_config());
    let decoy = Fake::start_tls(fake::Plan::default(), ca.server_config());
    let mut setup = setup(case, &creds, &logs, &decoy, ca);
    let before = report(&setup);
    let mut promise = changes(&logs, 0, "credcheck before");
    let mark = logs.seen().len();
    let mut router = None;
    let mut first = None;
    let outcome = match case.plugin {
        Plugin::C => {
            let r = router.insert(start_router(bin, &mut setup));
            let limit = Duration::from_secs(40);
            let none = || "Fluent Bit neither delivered nor gave up within 40 s".to_string();
            match (r.outcome(&logs, mark, limit), &case.change) {
                (Some(o), Some(policy)) => {
                    let baseline = r.metrics();
                    logs.set_statements(policy.clone());
                    let mark = logs.seen().len();
                    first = Some(o);
                    r.outcome_since(&logs, mark, baseline.as_ref(), limit)
                        .ok_or_else(none)
                }
                (o, _) => o.ok_or_else(none),
            }
        }
        Plugin::Go => Ok(emulate(&setup, &creds, &logs, ca, mark)),
    };
    let after_mark = logs.seen().len();
    let after = report(&setup);
    let health = health(&setup);
    promise.extend(changes(&logs, after_mark, "credcheck after and health"));
    if !decoy.seen().is_empty() {
        promise.push(format!(
            "credcheck called the environment's endpoint, not the output's: {}",
            fluentbit::calls(&decoy.seen())
        ));
    }
    let router_log = router.map(|r| r.stop().1).unwrap_or_default();
    if let Some(dir) = std::env::var_os("CREDCHECK_FBDIFF_LOGS") {
        let name = format!("{}.log", &case.name[..2]);
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(Path::new(&dir).join(name), &router_log);
    }
    let mut row = Row {
        name: case.name,
        plugin: case.plugin,
        router: outcome,
        first,
        before,
        after,
        health: Some(health),
        problems: Vec::new(),
        router_log,
    };
    row.problems = judge(case, &row);
    row.problems.extend(promise);
    // What the router printed is shown in the CI log: the canary credentials it was given
    // must not be in it.
    for canary in [support::CANARY_SECRET, support::CANARY_TOKEN] {
        if row.router_log.contains(canary) {
            row.problems
                .push("the router's log holds a canary secret".into());
        }
    }
    row
}

/// The promise on what credcheck sent from `from` on: no Create* that created something, no
/// retention or tagging call, no event stored. The router's own requests, which may arrive
/// meanwhile, carry Fluent Bit's User-Agent `aws-fluent-bit-plugin…` (src/aws/flb_aws_util.c
/// 84, 476-500; the Go emulator sends the Go plugin's) and are not credcheck's.
fn changes(logs: &Fake, from: usize, who: &str) -> Vec<String> {
    logs.seen()
        .iter()
        .skip(from)
        .filter(|s| !s.user_agent.starts_with("aws-fluent-bit-plugin"))
        .filter(|s| {
            s.stored > 0
                || s.operation.contains("Retention")
                || s.operation.contains("Tag")
                || (s.operation.starts_with("Create") && s.status == 200)
        })
        .map(|s| {
            format!(
                "{who} changed the account: {} → {} (stored {})",
                s.operation, s.status, s.stored
            )
        })
        .collect()
}

/// Starts the router; when another process took its HTTP port in the meantime (Fluent Bit
/// then exits: "[engine] could not start HTTP server"), again on a new port, at most 3 times.
fn start_router(bin: &Path, setup: &mut Setup) -> Router {
    for _ in 0..3 {
        let router = Router::start(bin, &setup.main, &setup.env, setup.http_port);
        if !router.http_port_taken() {
            return router;
        }
        let (old, new) = (setup.http_port.unwrap_or(0), fluentbit::free_port());
        let text = std::fs::read_to_string(&setup.main).expect("main config");
        let text = text
            .replace(
                &format!("HTTP_Port    {old}"),
                &format!("HTTP_Port    {new}"),
            )
            .replace(&format!("http_port: {old}"), &format!("http_port: {new}"));
        std::fs::write(&setup.main, text).expect("main config");
        setup.http_port = Some(new);
    }
    panic!("Fluent Bit could not bind a free HTTP port three times");
}

/// The Go plugin's calls for one record (and its one retry), on the same `[OUTPUT]` keys.
fn emulate(setup: &Setup, creds: &peer::Peer, logs: &Fake, ca: &TestCa, mark: usize) -> Outcome {
    let keys = go_cloudwatch::output_keys(&setup.output_file);
    let mut plugin = match GoPlugin::init(&keys, TAG, &creds.ecs_url(), ca.client_config()) {
        Ok(p) => p,
        Err(e) => return Outcome::Refused(format!("the Go plugin would not start: {e}")),
    };
    let result = plugin.deliver();
    let stored: usize = logs.seen().iter().skip(mark).map(|s| s.stored).sum();
    match result {
        Ok(why) if stored > 0 => Outcome::Accepted(format!(
            "{why}; the fake stored {stored} event(s) [{}]",
            plugin.log.join(", ")
        )),
        Ok(why) => Outcome::Refused(format!(
            "{why} but nothing stored [{}]",
            plugin.log.join(", ")
        )),
        Err(e) => Outcome::Refused(format!("{e} [{}]", plugin.log.join(", "))),
    }
}

/// Why this row disagrees (empty: it agrees).
fn judge(case: &Case, row: &Row) -> Vec<String> {
    let mut p = Vec::new();
    let accepted = match &row.router {
        Ok(o) => o.accepted(),
        Err(e) => {
            p.push(e.clone());
            return p;
        }
    };
    if accepted != case.accepted {
        p.push(format!(
            "the router {} but the case expects it to be {}",
            if accepted {
                "was accepted"
            } else {
                "was refused"
            },
            if case.accepted { "accepted" } else { "refused" }
        ));
    }
    let health = row.health.as_ref().map_or(-1, |h| h.code);
    let first = row.first.as_ref().map_or(accepted, Outcome::accepted);
    for (when, v, accepted) in [
        ("before", &row.before, first),
        ("after", &row.after, accepted),
    ] {
        if accepted && v.delivery == "blocked" {
            p.push(format!("{when}: blocked, but Fluent Bit delivered"));
        }
        if !accepted && v.delivery == "deliverable" {
            p.push(format!(
                "{when}: deliverable, but Fluent Bit's records were refused"
            ));
        }
        if let Some(code) = v.expected_exit() {
            if code != v.out.code {
                p.push(format!(
                    "{when}: {} should exit {code}, exited {}",
                    v.delivery, v.out.code
                ));
            }
        } else if !accepted && v.out.code == 0 {
            p.push(format!(
                "{when}: exit 0 ({}) while Fluent Bit was refused",
                v.delivery
            ));
        }
    }
    if accepted && row.after.delivery != "deliverable" {
        p.push(format!(
            "after: {}, but Fluent Bit delivered",
            row.after.delivery
        ));
    }
    if !case.before.contains(&row.before.delivery.as_str()) {
        p.push(format!(
            "before: {} (expected {})",
            row.before.delivery,
            case.before.join(" or ")
        ));
    }
    if !case.after.contains(&row.after.delivery.as_str()) {
        p.push(format!(
            "after: {} (expected {})",
            row.after.delivery,
            case.after.join(" or ")
        ));
    }
    let want_health = if accepted { 0 } else { 1 };
    if health != want_health {
        p.push(format!("health exited {health}, expected {want_health}"));
    }
    p
}

fn print_table(rows: &[Row]) {
    say!("\nFluent Bit v5.1.1 (C cloudwatch_logs) and the Go cloudwatch emulator vs credcheck, same config and credentials");
    say!(
        "{:<64} {:<6} {:<9} {:<18} {:<18} {:<6} agree",
        "case",
        "plugin",
        "router",
        "before (exit)",
        "after (exit)",
        "health"
    );
    for r in rows {
        let router = match &r.router {
            Ok(o) if o.accepted() && r.first.as_ref().is_some_and(|f| !f.accepted()) => {
                "refused→accepted"
            }
            Ok(o) if !o.accepted() && r.first.as_ref().is_some_and(Outcome::accepted) => {
                "accepted→refused"
            }
            Ok(o) if o.accepted() => "accepted",
            Ok(_) => "refused",
            Err(_) => "no result",
        };
        say!(
            "{:<64} {:<6} {:<9} {:<18} {:<18} {:<6} {}",
            r.name,
            format!("{:?}", r.plugin),
            router,
            r.before.cell(),
            r.after.cell(),
            r.health.as_ref().map_or("-".into(), |h| h.code.to_string()),
            if r.problems.is_empty() { "yes" } else { "NO" }
        );
    }
    say!("\nthe router's evidence:");
    for r in rows {
        let evidence = match &r.router {
            Ok(o) => o.evidence().to_string(),
            Err(e) => e.clone(),
        };
        say!("{:<3} {}", &r.name[..2], support_trim(&evidence, 400));
    }
    let verbose = std::env::var_os("CREDCHECK_FBDIFF_VERBOSE").is_some();
    for r in rows.iter().filter(|r| verbose || !r.problems.is_empty()) {
        say!(
            "\n--- {} {}:",
            r.name,
            if r.problems.is_empty() {
                "agrees"
            } else {
                "disagrees"
            }
        );
        for p in &r.problems {
            say!("    {p}");
        }
        match &r.router {
            Ok(o) => {
                if let Some(first) = &r.first {
                    say!("    router, before the policy change: {}", first.evidence());
                }
                say!("    router: {}", o.evidence())
            }
            Err(e) => say!("    router: {e}"),
        }
        for (when, v) in [("before", &r.before), ("after", &r.after)] {
            for line in v.lines() {
                say!("    credcheck {when}: {line}");
            }
        }
        if let Some(h) = &r.health {
            say!("    credcheck health: {}", h.stdout.trim());
        }
        for line in r
            .router_log
            .lines()
            .filter(|l| l.contains("[error]") || l.contains("[ warn]"))
            .take(6)
        {
            say!("    fluent-bit: {line}");
        }
    }
}

fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".into())
}

/// At most `n` characters (on a char boundary), with `…` when cut.
fn support_trim(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[test]
fn real_fluent_bit_and_credcheck_agree_on_every_case() {
    let Some(bin) = fluentbit::binary_or_skip(&support::current_test()) else {
        return;
    };
    let started = Instant::now();
    let ca = TestCa::new();
    let cases = cases();
    assert!(cases.len() >= 22);
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<(usize, Result<Row, String>)>> = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else {
                    return;
                };
                let row = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_case(case, &bin, &ca)
                }))
                .map_err(|e| panic_text(&*e));
                rows.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((i, row));
            });
        }
    });
    let mut rows = rows.into_inner().unwrap_or_else(|e| e.into_inner());
    rows.sort_by_key(|(i, _)| *i);
    let mut crashed = Vec::new();
    let rows: Vec<Row> = rows
        .into_iter()
        .filter_map(|(i, r)| {
            r.map_err(|e| crashed.push(format!("{}: {e}", cases[i].name)))
                .ok()
        })
        .collect();
    print_table(&rows);
    assert!(crashed.is_empty(), "cases that could not run: {crashed:#?}");
    let agree = rows.iter().filter(|r| r.problems.is_empty()).count();
    say!(
        "\n{agree}/{} cases agree ({:.1} s)",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(rows.len(), cases.len(), "a case did not finish");
    let disagree: Vec<&str> = rows
        .iter()
        .filter(|r| !r.problems.is_empty())
        .map(|r| r.name)
        .collect();
    assert!(
        disagree.is_empty(),
        "credcheck and Fluent Bit disagree on: {disagree:?}"
    );
}

/// The harness's own claim: a router whose HTTP port is taken is told apart from a refusal
/// (Fluent Bit exits 255 then, as it does for a bad output), so `start_router` can move it.
#[test]
fn the_router_harness_tells_a_taken_http_port_from_a_running_router() {
    let Some(bin) = fluentbit::binary_or_skip(&support::current_test()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let stdout = vec![vec![
        ("Name".to_string(), "stdout".to_string()),
        ("Match".to_string(), "*".to_string()),
    ]];
    let env = [("PATH".to_string(), "/usr/bin:/bin".to_string())];
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let main = fluentbit::write_config(dir.path(), TAG, Some(port), &stdout, Layout::Extra);
    let router = Router::start(&bin, &main, &env, Some(port));
    assert!(router.http_port_taken(), "{}", router.log());
    let (status, _) = router.stop();
    assert_eq!(status.and_then(|s| s.code()), Some(255));
    drop(taken);
    let free = fluentbit::free_port();
    let main = fluentbit::write_config(dir.path(), TAG, Some(free), &stdout, Layout::Extra);
    let router = Router::start(&bin, &main, &env, Some(free));
    assert!(!router.http_port_taken(), "{}", router.log());
    let (status, log) = router.stop();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{log}");
}

/// Issue 20, item 4, against the real router: once Fluent Bit's own counters show records
/// delivered with no failure, `credcheck health` says deliverable from them and sends nothing
/// to CloudWatch Logs (case 02 of the differential shows the other side: a proven denial, and
/// the counters agreeing). Prints the health line (the README's example).
#[test]
fn the_real_routers_counters_prove_delivery_with_no_aws_call() {
    let Some(bin) = fluentbit::binary_or_skip(&support::current_test()) else {
        return;
    };
    let ca = TestCa::new();
    let case = Case::seed("counters");
    let creds = peer::Peer::start(
        peer::Plan::new()
            .with_ecs(peer::Ecs::task_role())
            .with_task_metadata(peer::TASK_METADATA_PREFIX, firelens_task()),
    );
    let plan = fake::Plan {
        statements: case.policy.clone(),
        groups: [(G.to_string(), vec![S.to_string()])].into(),
        ..fake::Plan::default()
    };
    let logs = Fake::start_tls(plan, ca.server_config());
    let decoy = Fake::start_tls(fake::Plan::default(), ca.server_config());
    let mut setup = setup(&case, &creds, &logs, &decoy, &ca);
    let mut router = start_router(&bin, &mut setup);
    let outcome = router.outcome(&logs, 0, Duration::from_secs(40));
    assert!(
        outcome.as_ref().is_some_and(Outcome::accepted),
        "{}",
        router.log()
    );
    // The metrics API is rebuilt once a second (src/http_server/api/v1/metrics.c): wait,
    // bounded, until it shows the delivered record.
    let end = Instant::now() + Duration::from_secs(10);
    let delivered = |m: &Value| m["output"]["cloudwatch_logs.0"]["proc_records"].as_u64() > Some(0);
    while !router.metrics().is_some_and(|m| delivered(&m)) {
        assert!(
            Instant::now() < end,
            "no delivered record in the metrics: {}",
            router.log()
        );
        std::thread::park_timeout(Duration::from_millis(100));
    }
    let mark = logs.seen().len();
    let out = health(&setup);
    say!("counters, healthy: {}", out.stdout.trim());
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout
            .contains(" records delivered, 0 errors, 0 retries (0 failed), 0 dropped"),
        "{out}"
    );
    assert_eq!(
        logs.seen().len(),
        mark,
        "health sent a call: {:?}",
        logs.operations()
    );
    let (_, log) = router.stop();
    assert!(!log.is_empty());
}
