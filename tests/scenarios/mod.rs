//! Data-driven end-to-end scenarios, laid out as aws-config's test-data:
//! `tests/scenarios/data/<name>/{env.json, home/, peer.json, test-case.json}`.
//!
//! - `env.json`: the process environment (on top of the harness's PATH, HOME, IMDS disabled,
//!   AWS_REGION). Placeholders: `{peer}` (the fake peer's URL), `{home}`, `{closed}` (a URL
//!   whose port refuses connections), `{proxy}` (a counting proxy's URL), `{data}` (this folder).
//! - `home/`: files copied into HOME (e.g. `home/.aws/config`).
//! - `peer.json`: what the loopback fake serves (container endpoint, IMDS, STS, task metadata).
//! - `test-case.json`: arguments and the expected outcome.
//!
//! Every scenario runs in both formats at the log levels `off`, `info` and `trace`, and every
//! run asserts the exit code and that no canary secret reached stdout or stderr (the secret
//! sweep of issue 4); the json runs also assert the expected report fields.

use crate::support::{self, peer, Output, TestCmd};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const FORMATS: [&str; 2] = ["json", "text"];
const LOG_LEVELS: [&str; 3] = ["off", "info", "trace"];
/// The harness's bound on top of the scenario's deadline: a hang fails, it does not block CI.
const RUN_SLACK: Duration = Duration::from_secs(20);

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeerSpec {
    ecs: Option<EcsSpec>,
    imds: Option<ImdsSpec>,
    sts: Option<StsSpec>,
    #[serde(default)]
    task_metadata: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EcsSpec {
    #[serde(default)]
    pod_identity: bool,
    path: Option<String>,
    #[serde(default)]
    require_auth_token: bool,
    /// Pod Identity shape: check the Host header against the agent's own addresses.
    #[serde(default)]
    check_host: bool,
    expires_in_secs: Option<i64>,
    expiration: Option<String>,
    fault: Option<EcsFaultSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum EcsFaultSpec {
    Hang,
    Slow {
        ms: u64,
    },
    AgentError {
        status: u16,
        code: String,
        message: String,
    },
    Raw {
        status: u16,
        content_type: String,
        body: Option<String>,
        body_hex: Option<String>,
    },
    Huge {
        bytes: usize,
    },
    Redirect {
        location: String,
    },
    ResetMidBody,
    Throttled,
    EksAuth {
        status: u16,
        code: String,
        message: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImdsSpec {
    #[serde(default)]
    no_role: bool,
    fault: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StsSpec {
    fault: Option<StsFaultSpec>,
    #[serde(default)]
    date_offset_secs: i64,
    caller_arn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum StsFaultSpec {
    Error {
        status: u16,
        code: String,
        message: String,
    },
    Hang,
    NotXml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestCase {
    docs: String,
    #[serde(default)]
    args: Vec<String>,
    exit_code: i32,
    /// Absent: not checked; `null`: no source won.
    source: Option<Value>,
    #[serde(default)]
    statuses: BTreeMap<String, String>,
    #[serde(default)]
    warnings: Vec<String>,
    #[serde(default)]
    errors: Vec<String>,
    #[serde(default)]
    notes: Vec<String>,
    /// Substrings the text output must contain.
    #[serde(default)]
    contains: Vec<String>,
    role_arn: Option<String>,
    role_arn_from: Option<String>,
    identity_arn: Option<String>,
    /// How many requests the fake peer must have received over one run.
    peer_hits: Option<usize>,
    /// How many requests the counting proxy must have received (always 0: never use a proxy).
    proxy_hits: Option<usize>,
    #[serde(default)]
    context: bool,
    /// Upper bound for one run's wall time.
    max_ms: Option<u64>,
    /// In the core set: the scenarios `CREDCHECK_TEST_SET=core` runs (`scripts/release` runs
    /// them against the aarch64 binary under qemu).
    #[serde(default)]
    core: bool,
}

struct Scenario {
    name: String,
    dir: PathBuf,
    env: BTreeMap<String, String>,
    peer: Option<PeerSpec>,
    case: TestCase,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/data")
}

fn load_all() -> Vec<Scenario> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("scenario data")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter().map(|dir| load(&dir)).collect()
}

fn parse_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Option<T> {
    let text = std::fs::read_to_string(dir.join(name)).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display())))
}

fn load(dir: &Path) -> Scenario {
    Scenario {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        dir: dir.to_path_buf(),
        env: parse_json(dir, "env.json").unwrap_or_default(),
        peer: parse_json(dir, "peer.json"),
        case: parse_json(dir, "test-case.json").expect("test-case.json"),
    }
}

fn ecs(spec: &EcsSpec) -> peer::Ecs {
    let mut ecs = if spec.pod_identity {
        peer::Ecs::pod_identity()
    } else {
        peer::Ecs::task_role()
    };
    if spec.require_auth_token {
        ecs = ecs.with_required_token(support::CANARY_AUTH_TOKEN);
    }
    if spec.check_host {
        ecs = ecs.with_target_hosts(&peer::POD_IDENTITY_HOSTS);
    }
    if let Some(path) = &spec.path {
        ecs = ecs.with_path(path);
    }
    if let Some(secs) = spec.expires_in_secs {
        ecs = ecs.with_expiration(&peer::rfc3339_in(secs));
    }
    if let Some(exp) = &spec.expiration {
        ecs = ecs.with_expiration(exp);
    }
    if let Some(fault) = &spec.fault {
        ecs = ecs.with_fault(ecs_fault(fault));
    }
    ecs
}

fn ecs_fault(spec: &EcsFaultSpec) -> peer::EcsFault {
    match spec {
        EcsFaultSpec::Hang => peer::EcsFault::Hang,
        EcsFaultSpec::Slow { ms } => peer::EcsFault::Slow(Duration::from_millis(*ms)),
        EcsFaultSpec::AgentError {
            status,
            code,
            message,
        } => peer::EcsFault::agent_error(*status, code, message),
        EcsFaultSpec::Raw {
            status,
            content_type,
            body,
            body_hex,
        } => {
            let bytes = match (body, body_hex) {
                (_, Some(hex)) => decode_hex(hex),
                (Some(text), None) => canaries(text).into_bytes(),
                (None, None) => Vec::new(),
            };
            peer::EcsFault::raw(*status, content_type, bytes)
        }
        EcsFaultSpec::Huge { bytes } => peer::EcsFault::Huge(*bytes),
        EcsFaultSpec::Redirect { location } => peer::EcsFault::Redirect(location.clone()),
        EcsFaultSpec::ResetMidBody => peer::EcsFault::ResetMidBody,
        EcsFaultSpec::Throttled => peer::EcsFault::Throttled,
        EcsFaultSpec::EksAuth {
            status,
            code,
            message,
        } => peer::EcsFault::EksAuth {
            status: *status,
            code: code.clone(),
            message: message.clone(),
        },
    }
}

fn sts(spec: &StsSpec) -> peer::Sts {
    let mut sts = peer::Sts::default().with_date_offset(spec.date_offset_secs);
    if let Some(arn) = &spec.caller_arn {
        sts.arn = arn.clone();
    }
    if let Some(fault) = &spec.fault {
        sts = sts.with_fault(match fault {
            StsFaultSpec::Error {
                status,
                code,
                message,
            } => peer::StsFault::error(*status, code, message),
            StsFaultSpec::Hang => peer::StsFault::Hang,
            StsFaultSpec::NotXml => peer::StsFault::NotXml,
        });
    }
    sts
}

fn imds(spec: &ImdsSpec) -> peer::Imds {
    let imds = if spec.no_role {
        peer::Imds::no_role()
    } else {
        peer::Imds::default()
    };
    match spec.fault.as_deref() {
        Some("hop-limit") => imds.with_fault(peer::ImdsFault::HopLimit),
        Some("token-forbidden") => imds.with_fault(peer::ImdsFault::TokenForbidden),
        Some("throttled") => imds.with_fault(peer::ImdsFault::Throttled),
        Some(other) => panic!("unknown imds fault {other}"),
        None => imds,
    }
}

fn plan(spec: &PeerSpec) -> peer::Plan {
    let mut plan = peer::Plan::new().with_sts(spec.sts.as_ref().map(sts).unwrap_or_default());
    if let Some(e) = &spec.ecs {
        plan = plan.with_ecs(ecs(e));
    }
    if let Some(i) = &spec.imds {
        plan = plan.with_imds(imds(i));
    }
    if spec.task_metadata {
        let json = peer::task_metadata_json(
            "prod",
            "arn:aws:ecs:us-east-1:123456789012:task/prod/0f4b2f539a1e4c368d7b2f6c1e0b7a55",
            "app",
            "42",
            "app-svc",
            "FARGATE",
            "us-east-1a",
        );
        plan = plan.with_task_metadata(peer::TASK_METADATA_PREFIX, json);
    }
    plan
}

/// Canary placeholders usable in bodies and files.
fn canaries(text: &str) -> String {
    text.replace("{secret}", support::CANARY_SECRET)
        .replace("{token}", support::CANARY_TOKEN)
        .replace("{auth_token}", support::CANARY_AUTH_TOKEN)
        .replace(
            "{web_identity_expired}",
            support::CANARY_WEB_IDENTITY_EXPIRED,
        )
        .replace("{web_identity}", support::CANARY_WEB_IDENTITY)
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// The peers one run talks to, alive for the run.
struct Peers {
    peer: Option<peer::Peer>,
    proxy: peer::Peer,
    closed: String,
}

impl Peers {
    fn start(s: &Scenario) -> Peers {
        Peers {
            peer: s.peer.as_ref().map(|p| peer::Peer::start(plan(p))),
            proxy: peer::Peer::start(peer::Plan::new()),
            closed: closed_url(),
        }
    }

    fn expand(&self, value: &str, home: &Path, dir: &Path) -> String {
        let peer = self
            .peer
            .as_ref()
            .map(|p| p.url())
            .unwrap_or_else(|| self.closed.clone());
        canaries(value)
            .replace("{peer}", &peer)
            .replace("{home}", &home.to_string_lossy())
            .replace("{closed}", &self.closed)
            .replace("{proxy}", &self.proxy.url())
            .replace("{data}", &dir.to_string_lossy())
    }
}

fn copy_home(src: &Path, cmd: &mut TestCmd, rel: &str) {
    let home = cmd.home().to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(src) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("entry").path();
        let name = format!("{rel}{}", path.file_name().unwrap().to_string_lossy());
        if path.is_dir() {
            copy_home(&path, cmd, &format!("{name}/"));
        } else {
            let text = std::fs::read_to_string(&path).expect("home file is text");
            cmd.home_file(&name, canaries(&text).replace("{home}", &home));
        }
    }
}

fn command(s: &Scenario, peers: &Peers, format: &str, level: &str) -> TestCmd {
    let mut cmd = support::cmd();
    copy_home(&s.dir.join("home"), &mut cmd, "");
    let home = cmd.home().to_path_buf();
    for (k, v) in &s.env {
        let value = peers.expand(v, &home, &s.dir);
        cmd.env(k, value);
    }
    cmd.env("RUST_LOG", level)
        .args(["--format", format])
        .args(&s.case.args);
    cmd.timeout(Duration::from_millis(s.case.max_ms.unwrap_or(10_000)) + RUN_SLACK);
    cmd
}

/// Runs one scenario in every format and log level; returns the number of runs.
fn run_scenario(s: &Scenario) -> usize {
    let mut runs = 0;
    for format in FORMATS {
        for level in LOG_LEVELS {
            let peers = Peers::start(s);
            let out = command(s, &peers, format, level).run();
            check_common(s, &out, format, level);
            check_peers(s, &peers, format, level);
            match format {
                "json" => check_json(s, &out.json(), &out),
                _ => check_text(s, &out),
            }
            runs += 1;
        }
    }
    runs
}

fn check_common(s: &Scenario, out: &Output, format: &str, level: &str) {
    assert_eq!(
        out.code, s.case.exit_code,
        "[{}] {format}/{level}: exit code\n{out}",
        s.name
    );
    assert_ne!(out.code, 101, "[{}] panicked\n{out}", s.name);
    if let Some(max) = s.case.max_ms {
        assert!(
            out.elapsed <= Duration::from_millis(max) + crate::support::LOAD_SLACK,
            "[{}] took {:?} > {max} ms (+ load slack)\n{out}",
            s.name,
            out.elapsed
        );
    }
    if level == "off" {
        assert!(
            out.stderr.is_empty(),
            "[{}] stderr must be empty without RUST_LOG\n{out}",
            s.name
        );
    }
}

fn check_peers(s: &Scenario, peers: &Peers, format: &str, level: &str) {
    if let (Some(want), Some(p)) = (s.case.peer_hits, &peers.peer) {
        assert_eq!(
            p.hits(),
            want,
            "[{}] {format}/{level}: requests to the fake peer: {:?}",
            s.name,
            p.requests()
        );
    }
    if let Some(want) = s.case.proxy_hits {
        assert_eq!(
            peers.proxy.hits(),
            want,
            "[{}] {format}/{level}: requests that reached the proxy",
            s.name
        );
    }
}

/// Every code the report shows must be documented in docs/codes.md (tests/codes.rs checks
/// the page against the source; this checks it against what a run really shows).
fn codes_doc() -> &'static str {
    static CODES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CODES.get_or_init(|| {
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/codes.md"))
            .expect("docs/codes.md")
    })
}

fn codes(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|w| w["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn check_json(s: &Scenario, v: &Value, out: &Output) {
    let c = &s.case;
    let name = &s.name;
    crate::schema::assert_schema(v);
    assert_eq!(
        v["exit_code"], c.exit_code,
        "[{name}] exit_code field\n{out}"
    );
    assert_eq!(v["ok"], c.exit_code == 0, "[{name}] ok field\n{out}");
    if let Some(source) = &c.source {
        assert_eq!(&v["source"], source, "[{name}] source\n{out}");
    }
    for (provider, status) in &c.statuses {
        let entry = v["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["provider"] == provider.as_str())
            .unwrap_or_else(|| panic!("[{name}] no provider {provider}"));
        assert_eq!(
            entry["status"],
            status.as_str(),
            "[{name}] status of {provider}\n{out}"
        );
    }
    for (field, want) in [
        ("warnings", &c.warnings),
        ("errors", &c.errors),
        ("notes", &c.notes),
    ] {
        let got = codes(v, field);
        for code in &got {
            let documented = codes_doc().contains(&format!("`{code}`"));
            assert!(
                documented,
                "[{name}] docs/codes.md does not document the {field} code {code}"
            );
        }
        for code in want {
            assert!(
                got.contains(code),
                "[{name}] {field} lack {code}: {got:?}\n{out}"
            );
        }
    }
    if c.errors.is_empty() {
        assert_eq!(
            codes(v, "errors"),
            Vec::<String>::new(),
            "[{name}] unexpected errors\n{out}"
        );
    }
    for (field, want) in [
        ("role_arn", &c.role_arn),
        ("role_arn_from", &c.role_arn_from),
    ] {
        if let Some(want) = want {
            assert_eq!(
                v[field].as_str(),
                Some(want.as_str()),
                "[{name}] {field}\n{out}"
            );
        }
    }
    if let Some(arn) = &c.identity_arn {
        assert_eq!(
            v["identity"]["arn"].as_str(),
            Some(arn.as_str()),
            "[{name}] identity\n{out}"
        );
    }
    if c.context {
        assert!(
            v["context"]["task_arn"].is_string(),
            "[{name}] context\n{out}"
        );
    }
}

fn check_text(s: &Scenario, out: &Output) {
    for needle in &s.case.contains {
        assert!(
            out.stdout.contains(needle.as_str()),
            "[{}] text lacks {needle:?}\n{out}",
            s.name
        );
    }
    for code in s.case.errors.iter().chain(&s.case.warnings) {
        assert!(
            out.stdout.contains(&format!("[{code}]")),
            "[{}] text lacks [{code}]\n{out}",
            s.name
        );
    }
    if s.case.exit_code != 0 {
        assert!(
            out.stdout.contains("hint: "),
            "[{}] a failure must carry a hint line\n{out}",
            s.name
        );
    }
}

/// Every scenario (with `CREDCHECK_TEST_SET=core`, the core set), every format, every log
/// level; scenarios run four at a time.
#[test]
fn scenarios_and_secret_sweep() {
    let mut all = load_all();
    let (set, least) = if support::core_only() {
        all.retain(|s| s.case.core);
        ("core", 15)
    } else {
        ("whole", 40)
    };
    assert!(
        all.len() >= least,
        "expected the {set} scenario set, found {}",
        all.len()
    );
    let next = AtomicUsize::new(0);
    let runs = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some(s) = all.get(next.fetch_add(1, Ordering::SeqCst)) {
                    assert!(!s.case.docs.is_empty(), "[{}] docs", s.name);
                    runs.fetch_add(run_scenario(s), Ordering::SeqCst);
                }
            });
        }
    });
    support::say!("secret sweep ({set} set, {}): {} scenarios, {} runs (formats {FORMATS:?} × RUST_LOG {LOG_LEVELS:?}), no canary leaked", support::credcheck_bin().display(), all.len(), runs.load(Ordering::SeqCst));
}
