//! The permission probe end to end (issue 14): the built binary against the ECS credentials
//! fake (`support::peer`) and the CloudWatch Logs / IAM fake (`support::logs`), on loopback.
//! Every run checks: no canary secret in the output (`TestCmd::run`), every code shown is
//! documented in docs/codes.md, and the fake saw nothing that changes the account (no Create*
//! on a missing name, no retention or tagging call, no event stored).

use crate::support::logs::{self as fake, DenySource, Fake, Fault, Simulator};
use crate::support::{self, peer, Output};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const GROUP: &str = "/ecs/logs/sample-test";
const STREAM_ARN: &str =
    "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:log-stream:webapp";
const GROUP_ARN: &str =
    "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:log-stream:";
const COVERING: &str = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:*";

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/firelens")
}

fn seed_config() -> String {
    seed_dir()
        .join("fluent-bit.conf")
        .to_string_lossy()
        .into_owned()
}

/// The seed's policy as fake statements; `typo` misspells the group in its Resource.
fn seed_policy(typo: bool) -> fake::Plan {
    let text = std::fs::read_to_string(seed_dir().join("policy.json")).expect("policy.json");
    let text = match typo {
        true => text.replace("/ecs/logs/sample-test:*", "/ecs/logs/sample-tset:*"),
        false => text,
    };
    let policy: Value = serde_json::from_str(&text).expect("policy json");
    let mut plan = fake::Plan::default();
    for s in policy["Statement"].as_array().unwrap() {
        let list = |v: &Value| match v {
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
            other => vec![other.as_str().unwrap().to_string()],
        };
        plan.statements.push(fake::Statement {
            allow: s["Effect"] == "Allow",
            actions: list(&s["Action"]),
            resources: list(&s["Resource"]),
        });
    }
    plan
}

struct Peers {
    creds: peer::Peer,
    logs: Fake,
    /// Each test's own XDG_RUNTIME_DIR: health's cached logs verdict (issue 16) never
    /// carries over from another test.
    state: tempfile::TempDir,
}

fn start(plan: fake::Plan) -> Peers {
    Peers {
        creds: peer::Peer::start(
            peer::Plan::new()
                .with_ecs(peer::Ecs::task_role())
                .with_sts(peer::Sts::default()),
        ),
        logs: Fake::start(plan),
        state: tempfile::tempdir().expect("state dir"),
    }
}

impl Peers {
    fn cmd(&self, args: &[&str]) -> support::TestCmd {
        let mut cmd = support::cmd();
        cmd.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", self.creds.ecs_url())
            .env("AWS_ENDPOINT_URL_STS", self.creds.url())
            .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", self.logs.url())
            .env("AWS_ENDPOINT_URL_IAM", self.logs.url())
            .env("AWS_REGION", fake::REGION)
            .env("XDG_RUNTIME_DIR", self.state.path())
            .args(args)
            .timeout(Duration::from_secs(30));
        cmd
    }

    /// Runs in json, checks the common promises, returns the output and the report.
    fn json(&self, args: &[&str]) -> (Output, Value) {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let (out, v) = self.cmd(&all).run_json();
        crate::schema::assert_schema(&v);
        assert_documented(&v);
        self.logs.assert_changed_nothing();
        (out, v)
    }

    fn text(&self, args: &[&str]) -> Output {
        let out = self.cmd(args).env("RUST_LOG", "trace").run();
        self.logs.assert_changed_nothing();
        out
    }
}

fn assert_documented(v: &Value) {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/codes.md"))
        .expect("docs/codes.md");
    for field in ["errors", "warnings"] {
        for c in v[field].as_array().unwrap() {
            let code = c["code"].as_str().unwrap();
            assert!(
                doc.contains(&format!("`{code}`")),
                "docs/codes.md does not document {code}"
            );
        }
    }
}

fn codes(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect()
}

fn verdict(v: &Value, action: &str, resource: &str) -> (String, String, Option<String>) {
    let p = v["permissions"]
        .as_array()
        .unwrap_or_else(|| panic!("no permissions in {v}"))
        .iter()
        .find(|p| p["action"] == action && p["resource"] == resource)
        .unwrap_or_else(|| panic!("no verdict for {action} on {resource} in {v}"));
    (
        p["verdict"].as_str().unwrap().into(),
        p["basis"].as_str().unwrap().into(),
        p["reason"].as_str().map(str::to_string),
    )
}

fn existing() -> fake::Plan {
    seed_policy(false).group(GROUP, &["webapp"])
}

#[test]
fn seed_config_and_policy_deliver() {
    let p = start(existing());
    let (out, v) = p.json(&["--fluent-bit-config", &seed_config()]);
    assert_eq!(out.code, 0, "{out}");
    // The C plugin's own calls, each in its harmless form; never DescribeLogStreams.
    assert_eq!(p.logs.operations(), ["PutLogEvents", "CreateLogStream"]);
    assert_eq!(verdict(&v, "logs:PutLogEvents", STREAM_ARN).0, "allowed");
    assert_eq!(
        verdict(&v, "logs:CreateLogStream", STREAM_ARN),
        ("allowed".into(), "probe".into(), None)
    );
    assert_eq!(
        verdict(&v, "logs:CreateLogGroup", GROUP_ARN).0,
        "not-needed"
    );
    assert!(
        !v["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["action"] == "logs:DescribeLogStreams"),
        "the C plugin never calls DescribeLogStreams: {v}"
    );
    let o = &v["log_outputs"][0];
    assert_eq!(o["delivery"], "deliverable");
    assert_eq!(o["evidence"], "probe");
    assert_eq!(
        (o["group_exists"].as_bool(), o["stream_exists"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(o["from"].as_str().unwrap().ends_with("extra.conf:6"), "{o}");
    let put = p
        .logs
        .seen()
        .into_iter()
        .find(|s| s.operation == "PutLogEvents")
        .unwrap();
    let event = &put.json()["logEvents"][0];
    let age = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - event["timestamp"].as_u64().unwrap();
    assert!(
        age > 14 * 24 * 3600 * 1000,
        "the probe event must be too old: {age} ms"
    );
}

#[test]
fn seed_policy_with_a_typo_is_denied_naming_the_action_and_arn() {
    let p = start(seed_policy(true).group(GROUP, &["webapp"]));
    let (out, v) = p.json(&["--fluent-bit-config", &seed_config()]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(codes(&v, "errors"), ["logs-delivery-denied"]);
    assert_eq!(
        verdict(&v, "logs:PutLogEvents", STREAM_ARN),
        ("denied".into(), "probe".into(), Some("implicit".into()))
    );
    // PutLogEvents' refusal says nothing of CreateLogStream, and what exists is not known,
    // so CreateLogStream (which could create the stream) is not sent: unverified, not inferred.
    assert_eq!(
        verdict(&v, "logs:CreateLogStream", STREAM_ARN).0,
        "unverified"
    );
    assert_eq!(v["log_outputs"][0]["delivery"], "blocked");
    assert_eq!(p.logs.operations(), ["PutLogEvents"]);
    let text = p.text(&["--fluent-bit-config", &seed_config()]);
    assert_eq!(text.code, 1);
    assert!(
        text.stdout.contains(&format!(
            "[logs-delivery-denied] logs:PutLogEvents is denied on {STREAM_ARN} (implicit)"
        )),
        "{text}"
    );
    assert!(
        text.stdout.contains(&format!(
            "hint: allow logs:PutLogEvents on Resource {COVERING}"
        )),
        "{text}"
    );
}

#[test]
fn the_seed_story_in_yaml_is_judged_the_same_both_ways() {
    let yaml = seed_dir()
        .join("fluent-bit.yaml")
        .to_string_lossy()
        .into_owned();
    let p = start(existing());
    let (out, v) = p.json(&["--fluent-bit-config", &yaml]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(verdict(&v, "logs:PutLogEvents", STREAM_ARN).0, "allowed");
    assert_eq!(verdict(&v, "logs:CreateLogStream", STREAM_ARN).0, "allowed");
    let o = &v["log_outputs"][0];
    assert_eq!(o["delivery"], "deliverable");
    assert!(
        o["from"].as_str().unwrap().ends_with("extra.yaml:10"),
        "{o}"
    );
    let p = start(seed_policy(true).group(GROUP, &["webapp"]));
    let (out, v) = p.json(&["--fluent-bit-config", &yaml]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(
        verdict(&v, "logs:PutLogEvents", STREAM_ARN),
        ("denied".into(), "probe".into(), Some("implicit".into()))
    );
    assert_eq!(v["log_outputs"][0]["delivery"], "blocked");
}

#[test]
fn first_start_with_a_missing_group_is_unverified_and_creates_nothing() {
    let p = start(seed_policy(false));
    let (out, v) = p.json(&["--fluent-bit-config", &seed_config()]);
    assert_eq!(out.code, 4, "{out}");
    // CreateLogStream in a missing group creates nothing (ResourceNotFound), so it is sent;
    // CreateLogGroup would create the group, so it is not.
    assert_eq!(p.logs.operations(), ["PutLogEvents", "CreateLogStream"]);
    assert_eq!(verdict(&v, "logs:CreateLogStream", STREAM_ARN).0, "allowed");
    let (verdict_, basis, reason) = verdict(&v, "logs:CreateLogGroup", GROUP_ARN);
    assert_eq!(
        (verdict_.as_str(), basis.as_str()),
        ("unverified", "config")
    );
    assert!(reason.unwrap().contains("--simulate"), "{v}");
    assert_eq!(verdict(&v, "logs:PutLogEvents", STREAM_ARN).0, "allowed");
    assert_eq!(v["log_outputs"][0]["group_exists"], false);
    assert_eq!(v["log_outputs"][0]["delivery"], "unverified");
    assert_eq!(codes(&v, "errors"), ["logs-delivery-unverified"]);
    let health = p
        .cmd(&["health", "--fluent-bit-config", &seed_config()])
        .run();
    assert_eq!(health.code, 1, "unverified is never healthy: {health}");
    assert!(
        health.stdout.contains("[logs-delivery-unverified]"),
        "{health}"
    );
}

#[test]
fn logs_to_a_missing_group_without_auto_create_is_blocked_and_health_fails() {
    let p = start(seed_policy(false));
    let (out, v) = p.json(&["--logs-to", "/ecs/logs/sample-test:webapp"]);
    assert_eq!(out.code, 1, "{out}");
    assert!(codes(&v, "errors").contains(&"logs-group-missing".to_string()));
    assert_eq!(v["log_outputs"][0]["delivery"], "blocked");
    let health = p
        .cmd(&["health", "--logs-to", "/ecs/logs/sample-test:webapp"])
        .run();
    assert_eq!(health.code, 1, "{health}");
    assert!(
        health
            .stdout
            .starts_with("unhealthy: the log group /ecs/logs/sample-test does not exist"),
        "{health}"
    );
    assert!(health.stdout.contains("[logs-group-missing]"), "{health}");
}

#[test]
fn health_says_which_action_is_denied_on_which_arn() {
    let p = start(seed_policy(true).group(GROUP, &["webapp"]));
    let out = p
        .cmd(&["health", "--fluent-bit-config", &seed_config()])
        .run();
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stdout.starts_with(&format!(
            "unhealthy: logs:PutLogEvents is denied on {STREAM_ARN} (implicit)"
        )),
        "{out}"
    );
    assert!(out.stdout.contains("[logs-delivery-denied]"), "{out}");
    let ok = start(existing());
    let out = ok
        .cmd(&["health", "--fluent-bit-config", &seed_config()])
        .run();
    assert_eq!(out.code, 0, "{out}");
    assert!(out.stdout.contains("logs deliverable 1/1"), "{out}");
    assert_eq!(out.stdout.lines().count(), 1);
}

#[test]
fn can_answers_an_exact_action_and_says_unverified_for_others() {
    let p = start(existing());
    let can = format!("logs:PutLogEvents={STREAM_ARN}");
    let (out, v) = p.json(&["--can", &can]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(p.logs.operations(), ["PutLogEvents"]);
    assert_eq!(verdict(&v, "logs:PutLogEvents", STREAM_ARN).0, "allowed");
    let other = "s3:GetObject=arn:aws:s3:::bucket/key";
    let (out, v) = p.json(&["--can", &can, "--can", other]);
    assert_eq!(out.code, 4, "{out}");
    assert_eq!(
        verdict(&v, "s3:GetObject", "arn:aws:s3:::bucket/key").0,
        "unverified"
    );
    assert_eq!(codes(&v, "errors"), ["action-unverified"]);
    // A group-level PutLogEvents ARN names no stream: nothing exact can be sent.
    let group_level = format!("logs:PutLogEvents={GROUP_ARN}");
    let health = p.cmd(&["health", "--can", &group_level]).run();
    assert_eq!(health.code, 1, "{health}");
    assert!(health.stdout.contains("[action-unverified]"), "{health}");
    let wrong = STREAM_ARN.replace("sample-test", "sample-tset");
    let (out, v) = p.json(&["--can", &format!("logs:PutLogEvents={wrong}")]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(codes(&v, "errors"), ["action-denied"]);
}

#[test]
fn the_go_plugin_describes_first_and_creates_the_existing_group() {
    let p = start(existing());
    let (out, v) = p.json(&[
        "--logs-to",
        "/ecs/logs/sample-test:webapp",
        "--plugin",
        "cloudwatch",
        "--auto-create-group",
    ]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(
        p.logs.operations(),
        ["PutLogEvents", "DescribeLogStreams", "CreateLogGroup"]
    );
    assert_eq!(
        verdict(&v, "logs:DescribeLogStreams", GROUP_ARN).0,
        "allowed"
    );
    assert_eq!(verdict(&v, "logs:CreateLogGroup", GROUP_ARN).0, "allowed");
    assert_eq!(
        verdict(&v, "logs:CreateLogStream", STREAM_ARN).0,
        "not-needed"
    );
}

#[test]
fn deny_reasons_come_from_the_message_tail() {
    for (source, explicit, want) in [
        (DenySource::Identity, true, "explicit"),
        (DenySource::Scp, false, "scp"),
        (DenySource::Boundary, false, "boundary"),
    ] {
        let mut plan = existing().deny_source(source);
        if explicit {
            plan = plan.deny(&["logs:PutLogEvents"], &["*"]);
        } else {
            plan = plan.deny(&["logs:NothingElse"], &["*"]);
            plan.statements.retain(|s| !s.allow);
        }
        let p = start(plan);
        let (out, v) = p.json(&["--logs-to", "/ecs/logs/sample-test:webapp"]);
        assert_eq!(out.code, 1, "{out}");
        assert_eq!(
            verdict(&v, "logs:PutLogEvents", STREAM_ARN).2.as_deref(),
            Some(want)
        );
    }
}

#[test]
fn simulate_gives_exact_verdicts_and_only_describes() {
    for per_resource in [false, true] {
        let plan = existing().simulator(Simulator::Evaluate {
            per_resource,
            role_arn: peer::ROLE_ARN.into(),
        });
        let p = start(plan);
        let (out, v) = p.json(&["--simulate", "--fluent-bit-config", &seed_config()]);
        assert_eq!(out.code, 0, "{out}");
        assert_eq!(
            p.logs.operations(),
            ["SimulatePrincipalPolicy", "PutLogEvents"]
        );
        assert_eq!(
            verdict(&v, "logs:PutLogEvents", STREAM_ARN),
            ("allowed".into(), "simulator".into(), None)
        );
    }
    let typo = seed_policy(true)
        .group(GROUP, &["webapp"])
        .simulator(Simulator::Evaluate {
            per_resource: false,
            role_arn: peer::ROLE_ARN.into(),
        });
    let p = start(typo);
    let (out, v) = p.json(&["--simulate", "--fluent-bit-config", &seed_config()]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(
        verdict(&v, "logs:CreateLogStream", STREAM_ARN),
        ("denied".into(), "simulator".into(), Some("implicit".into()))
    );
}

#[test]
fn simulate_refused_falls_back_to_the_probes_once() {
    for (sim, code) in [
        (Simulator::Forbidden, "simulate-denied"),
        (Simulator::NoSuchEntity, "simulate-no-such-role"),
        (Simulator::Broken, "simulate-failed"),
    ] {
        let p = start(existing().simulator(sim));
        let (out, v) = p.json(&["--simulate", "--fluent-bit-config", &seed_config()]);
        assert_eq!(out.code, 0, "{out}");
        assert_eq!(codes(&v, "warnings"), [code]);
        assert_eq!(
            p.logs.operations(),
            ["SimulatePrincipalPolicy", "PutLogEvents", "CreateLogStream"]
        );
        assert_eq!(verdict(&v, "logs:PutLogEvents", STREAM_ARN).1, "probe");
    }
}

#[test]
fn firelens_reads_the_awsfirelens_log_options() {
    let task = serde_json::json!({
        "Cluster": "prod", "TaskARN": "arn:aws:ecs:ap-northeast-1:123456789012:task/prod/0f4b2f539a1e4c368d7b2f6c1e0b7a55",
        "Containers": [
            {"Name": "webapp", "LogDriver": "awsfirelens", "LogOptions": {"Name": "cloudwatch_logs", "region": "ap-northeast-1", "log_group_name": GROUP, "log_stream_name": "webapp", "auto_create_group": "true"}},
            {"Name": "log_router", "LogDriver": "awslogs", "LogOptions": {"awslogs-group": "/ecs/logs/sample-test-firelens"}}
        ]
    });
    let logs = Fake::start(existing());
    let creds = peer::Peer::start(
        peer::Plan::new()
            .with_ecs(peer::Ecs::task_role())
            .with_sts(peer::Sts::default())
            .with_task_metadata(peer::TASK_METADATA_PREFIX, task.to_string()),
    );
    let p = Peers {
        creds,
        logs,
        state: tempfile::tempdir().expect("state dir"),
    };
    let uri = p.creds.task_metadata_uri();
    let mut cmd = p.cmd(&["--format", "json", "--firelens"]);
    cmd.env("ECS_CONTAINER_METADATA_URI_V4", &uri);
    let (out, v) = cmd.run_json();
    crate::schema::assert_schema(&v);
    assert_documented(&v);
    p.logs.assert_changed_nothing();
    assert_eq!(out.code, 0, "{out}");
    assert!(
        v["log_outputs"][0]["from"]
            .as_str()
            .unwrap()
            .contains("container webapp"),
        "{v}"
    );
    assert_eq!(v["log_outputs"][0]["delivery"], "deliverable");
}

#[test]
fn throttling_errors_and_hangs_are_bounded_and_exit_3() {
    for (fault, code) in [
        (Fault::Throttle, "logs-throttled"),
        (Fault::ServerError, "logs-unavailable"),
        (
            Fault::Html(403, "<html>blocked by proxy</html>".into()),
            "logs-bad-response",
        ),
    ] {
        let p = start(existing().fault(Some("PutLogEvents"), fault));
        let (out, v) = p.json(&["--logs-to", "/ecs/logs/sample-test:webapp"]);
        let want_exit = if code == "logs-bad-response" { 1 } else { 3 };
        assert_eq!(out.code, want_exit, "{out}");
        assert!(codes(&v, "errors").contains(&code.to_string()), "{v}");
        assert_eq!(verdict(&v, "logs:PutLogEvents", STREAM_ARN).0, "error");
        let health = p
            .cmd(&["health", "--logs-to", "/ecs/logs/sample-test:webapp"])
            .run();
        assert_eq!(health.code, 1, "{health}");
    }
    let p = start(existing().fault(None, Fault::Hang));
    let (out, v) = p.json(&[
        "--logs-to",
        "/ecs/logs/sample-test:webapp",
        "--timeout",
        "300ms",
        "--deadline",
        "3s",
    ]);
    assert_eq!(out.code, 3, "{out}");
    assert!(
        codes(&v, "errors").contains(&"logs-timeout".to_string()),
        "{v}"
    );
    assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
}

#[test]
fn requests_are_signed_for_logs_in_the_region_and_carry_the_session_token() {
    let p = start(existing());
    let (out, _) = p.json(&["--logs-to", "/ecs/logs/sample-test:webapp"]);
    assert_eq!(out.code, 0, "{out}");
    for seen in p.logs.seen() {
        assert!(
            seen.authorization.starts_with(&format!(
                "AWS4-HMAC-SHA256 Credential={}/",
                support::CANARY_AKID
            )),
            "{}",
            seen.authorization
        );
        assert!(
            seen.authorization
                .contains("/ap-northeast-1/logs/aws4_request"),
            "{}",
            seen.authorization
        );
        assert_eq!(seen.security_token.as_deref(), Some(support::CANARY_TOKEN));
    }
}

/// The plugin always speaks TLS to `endpoint` as a host name and strips only `https://`
/// (plugins/out_cloudwatch_logs; ../shared/fluent-bit/README.md): an `http://` endpoint
/// cannot work, and credcheck says so instead of probing a plain-HTTP URL the router never
/// uses. (The TLS endpoint with its `port` is exercised against the real router in
/// tests/router.rs.)
#[test]
fn an_http_plugin_endpoint_is_a_config_that_cannot_work() {
    let p = start(existing());
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("out.conf");
    std::fs::write(&conf, format!("[OUTPUT]\n Name cloudwatch_logs\n region ap-northeast-1\n endpoint {}\n log_group_name {GROUP}\n log_stream_name webapp\n", p.logs.url())).unwrap();
    let (out, v) = p.json(&["--fluent-bit-config", &conf.to_string_lossy()]);
    assert_eq!(out.code, 2, "{out}");
    assert_eq!(codes(&v, "errors"), ["logs-endpoint"]);
    assert!(p.logs.operations().is_empty());
}

#[test]
fn bad_probe_flags_are_usage_errors() {
    let p = start(existing());
    for args in [
        vec!["--can", "PutLogEvents"],
        vec!["--logs-to", ":webapp"],
        vec!["--plugin", "kinesis", "--logs-to", "g:s"],
        vec!["--simulate"],
        vec!["--logs-region", "not a region", "--logs-to", "g:s"],
    ] {
        let out = p.cmd(&args).run();
        assert_eq!(out.code, 2, "{args:?}\n{out}");
        assert!(out.stderr.contains("hint: "), "{out}");
    }
    assert!(p.logs.operations().is_empty());
}

/// docker/log-router-healthcheck.json: its healthCheck command, run against the fakes with the
/// seed's config in place of /fluent-bit/etc/fluent-bit.conf: healthy, then unhealthy.
#[test]
fn the_docker_log_router_health_check_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("docker/log-router-healthcheck.json")).unwrap();
    let task: Value = serde_json::from_str(&text).unwrap();
    let router = task["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["firelensConfiguration"].is_object())
        .expect("a log router");
    assert_eq!(
        router["firelensConfiguration"]["options"]["config-file-value"],
        "/fluent-bit/etc/extra.conf"
    );
    let dockerfile = std::fs::read_to_string(root.join("docker/Dockerfile.log-router")).unwrap();
    assert!(dockerfile.contains("COPY extra.conf /fluent-bit/etc/extra.conf"));
    let command: Vec<String> = router["healthCheck"]["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            w.as_str()
                .unwrap()
                .replace("/fluent-bit/etc/fluent-bit.conf", &seed_config())
        })
        .collect();
    assert_eq!(&command[..3], ["CMD", "/credcheck", "health"]);
    let args: Vec<&str> = command[2..].iter().map(String::as_str).collect();
    let ok = start(existing());
    let out = ok.cmd(&args).run();
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stdout.starts_with("healthy: container-role ")
            && out.stdout.contains("logs deliverable 1/1"),
        "{out}"
    );
    let typo = start(seed_policy(true).group(GROUP, &["webapp"]));
    let out = typo.cmd(&args).run();
    assert_eq!(out.code, 1, "{out}");
    assert!(
        out.stdout
            .starts_with("unhealthy: logs:PutLogEvents is denied on "),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------
// moto with IAM enforced: the signer, action-level allow and deny with assumed-role keys,
// existence errors and the too-old event against a second implementation; and its gaps,
// each pinned by a test that fails if moto changes (then move the case to moto).
// ---------------------------------------------------------------------------------------

/// Actions moto lets through before it enforces IAM: CreateRole, PutRolePolicy,
/// CreateLogGroup, CreateLogStream, AssumeRole.
const MOTO_SETUP_ACTIONS: &str = "5";

/// A moto server of this test's own (the shared one in `support::moto` runs without IAM, and
/// other tests rely on that); killed, by its own handle, when dropped.
struct AuthMoto {
    child: std::process::Child,
    addr: std::net::SocketAddr,
}

impl Drop for AuthMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn auth_moto() -> Option<AuthMoto> {
    use std::io::BufRead;
    let server = support::moto::venv_dir().join("bin/moto_server");
    if !server.exists() {
        assert!(!support::in_ci(), "moto is required in CI");
        support::skip(
            &support::current_test(),
            "no moto_server in the venv (scripts/test makes it)",
        );
        return None;
    }
    let mut child = std::process::Command::new(server)
        .args(["-H", "127.0.0.1", "-p", "0"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .env("INITIAL_NO_AUTH_ACTION_COUNT", MOTO_SETUP_ACTIONS)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("moto_server starts");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(port) = line.split("http://127.0.0.1:").nth(1) {
                let port: String = port.chars().take_while(char::is_ascii_digit).collect();
                let _ = tx.send(port);
            }
        }
    });
    let port = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("moto prints its port");
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    Some(AuthMoto { child, addr })
}

/// Temporary credentials moto issued, and the role they belong to.
struct MotoRole {
    akid: String,
    secret: String,
    token: String,
    role_arn: String,
}

impl AuthMoto {
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A request signed with aws-sigv4 (the same signer credcheck uses), for the raw pins and
    /// the set-up (moto only reads the key id of those).
    fn post(
        &self,
        creds: (&str, &str, Option<&str>),
        service: &str,
        target: Option<&str>,
        body: &str,
    ) -> peer::HttpResponse {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        let identity = aws_credential_types::Credentials::new(
            creds.0,
            creds.1,
            creds.2.map(str::to_string),
            None,
            "test",
        )
        .into();
        let region = if service == "logs" {
            fake::REGION
        } else {
            "us-east-1"
        };
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let content_type = match target {
            Some(_) => "application/x-amz-json-1.1",
            None => "application/x-www-form-urlencoded; charset=utf-8",
        };
        let mut headers = vec![("content-type", content_type.to_string())];
        if let Some(t) = target {
            headers.push(("x-amz-target", t.to_string()));
        }
        let url = format!("{}/", self.url());
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().map(|(k, v)| (*k, v.as_str())),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let signed: Vec<(String, String)> = instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut all: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        peer::http_request(self.addr, "POST", "/", &all, body.as_bytes()).expect("moto answers")
    }

    /// The five set-up actions: the role with `policy`, the seed's group and stream, AssumeRole.
    fn setup(&self, policy: &Value) -> MotoRole {
        let admin = ("AKIAMOTOADMIN0000001", "x", None);
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        let form = |pairs: &[(&str, &str)]| peer::form_body(pairs);
        let r = self.post(
            admin,
            "iam",
            None,
            &form(&[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", "sample-test-task"),
                ("AssumeRolePolicyDocument", trust),
            ]),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let doc = policy.to_string();
        let r = self.post(
            admin,
            "iam",
            None,
            &form(&[
                ("Action", "PutRolePolicy"),
                ("Version", "2010-05-08"),
                ("RoleName", "sample-test-task"),
                ("PolicyName", "SentCloudWatchLogsPolicy"),
                ("PolicyDocument", &doc),
            ]),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let r = self.post(
            admin,
            "logs",
            Some("Logs_20140328.CreateLogGroup"),
            &serde_json::json!({"logGroupName": GROUP}).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let r = self.post(
            admin,
            "logs",
            Some("Logs_20140328.CreateLogStream"),
            &serde_json::json!({"logGroupName": GROUP, "logStreamName": "webapp"}).to_string(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        let role_arn = "arn:aws:iam::123456789012:role/sample-test-task";
        let r = self.post(
            admin,
            "sts",
            None,
            &form(&[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", role_arn),
                ("RoleSessionName", "webapp-task"),
            ]),
        );
        let xml = r.text();
        assert_eq!(r.status, 200, "{xml}");
        let field = |t: &str| peer::xml_value(&xml, t).unwrap().to_string();
        MotoRole {
            akid: field("AccessKeyId"),
            secret: field("SecretAccessKey"),
            token: field("SessionToken"),
            role_arn: role_arn.into(),
        }
    }
}

fn seed_policy_json(resource: &str) -> Value {
    let mut policy: Value =
        serde_json::from_str(&std::fs::read_to_string(seed_dir().join("policy.json")).unwrap())
            .unwrap();
    if resource != "seed" {
        policy["Statement"][0]["Resource"] = Value::from(resource);
    }
    policy
}

/// credcheck with moto's credentials served by the container fake, against moto.
fn credcheck_on_moto(moto: &AuthMoto, role: &MotoRole, args: &[&str]) -> (Output, Value) {
    let mut ecs = peer::Ecs::task_role();
    ecs.access_key_id = role.akid.clone();
    ecs.secret_access_key = role.secret.clone();
    ecs.token = role.token.clone();
    ecs.role_arn = Some(role.role_arn.clone());
    let creds = peer::Peer::start(peer::Plan::new().with_ecs(ecs));
    let mut cmd = support::cmd();
    cmd.env("AWS_CONTAINER_CREDENTIALS_FULL_URI", creds.ecs_url())
        .env("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", moto.url())
        .env("AWS_ENDPOINT_URL_IAM", moto.url())
        .env("AWS_REGION", fake::REGION)
        .args(["--format", "json", "--no-sts"])
        .args(args);
    let (out, v) = cmd.run_json();
    support::assert_no_strings(&out, &[&role.secret, &role.token]);
    crate::schema::assert_schema(&v);
    assert_documented(&v);
    (out, v)
}

#[test]
fn moto_signed_probe_allows_with_resource_star() {
    let Some(moto) = auth_moto() else { return };
    let role = moto.setup(&seed_policy_json("*"));
    let (out, v) = credcheck_on_moto(&moto, &role, &["--fluent-bit-config", &seed_config()]);
    assert_eq!(out.code, 0, "{out}");
    // moto verified the SigV4 signature and the session token, and answered the too-old event.
    assert_eq!(
        verdict(&v, "logs:PutLogEvents", STREAM_ARN),
        ("allowed".into(), "probe".into(), None)
    );
    assert_eq!(verdict(&v, "logs:CreateLogStream", STREAM_ARN).0, "allowed");
    assert_eq!(v["log_outputs"][0]["delivery"], "deliverable");
    // moto says "The specified log group does not exist." to PutLogEvents, as AWS does.
    let (out, v) = credcheck_on_moto(&moto, &role, &["--logs-to", "/ecs/logs/missing:webapp"]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(v["log_outputs"][0]["group_exists"], false);
    assert_eq!(v["log_outputs"][0]["delivery"], "blocked");
}

#[test]
fn moto_denies_an_action_the_policy_lacks() {
    let Some(moto) = auth_moto() else { return };
    let mut policy = seed_policy_json("*");
    policy["Statement"][0]["Action"] =
        serde_json::json!(["logs:DescribeLogStreams", "logs:CreateLogStream"]);
    let role = moto.setup(&policy);
    let (out, v) = credcheck_on_moto(&moto, &role, &["--fluent-bit-config", &seed_config()]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(verdict(&v, "logs:PutLogEvents", STREAM_ARN).0, "denied");
    // Nothing says the stream exists, so CreateLogStream (which could create it) is not sent.
    assert_eq!(
        verdict(&v, "logs:CreateLogStream", STREAM_ARN).0,
        "unverified"
    );
}

/// moto gap 1: it never evaluates the Resource of a logs policy, so the seed's exact policy is
/// denied on the right group too (AWS allows it; tests/support/logs.rs evaluates Resources).
#[test]
fn moto_gap_logs_resources_are_not_evaluated() {
    let Some(moto) = auth_moto() else { return };
    let role = moto.setup(&seed_policy_json("seed"));
    let (out, v) = credcheck_on_moto(&moto, &role, &["--logs-to", "/ecs/logs/sample-test:webapp"]);
    assert_eq!(
        out.code, 1,
        "moto now allows the seed's policy: move the seed scenario to moto\n{out}"
    );
    assert_eq!(verdict(&v, "logs:PutLogEvents", STREAM_ARN).0, "denied");
}

/// moto gap 2: its AccessDenied is a 403 XML ErrorResponse served as text/html, with no
/// `because` tail (AWS: 400 JSON `AccessDeniedException`); credcheck still reads it as a
/// denial, reason `unstated`.
#[test]
fn moto_gap_access_denied_is_403_xml_as_html() {
    let Some(moto) = auth_moto() else { return };
    let role = moto.setup(&seed_policy_json("seed"));
    let put = serde_json::json!({"logGroupName": GROUP, "logStreamName": "webapp", "logEvents": [{"timestamp": 0, "message": "x"}]});
    let r = moto.post(
        (&role.akid, &role.secret, Some(&role.token)),
        "logs",
        Some("Logs_20140328.PutLogEvents"),
        &put.to_string(),
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{:?}",
        r.headers
    );
    assert!(
        r.text().contains("<Code>AccessDenied</Code>") && !r.text().contains("because"),
        "{}",
        r.text()
    );
    let (_, v) = credcheck_on_moto(&moto, &role, &["--logs-to", "/ecs/logs/sample-test:webapp"]);
    assert_eq!(
        verdict(&v, "logs:PutLogEvents", STREAM_ARN).2.as_deref(),
        Some("unstated")
    );
}

/// moto gap 3: SimulatePrincipalPolicy answers HTTP 500 (AWS: EvaluationResults XML); credcheck
/// says so once (simulate-failed) and falls back to the probes.
#[test]
fn moto_gap_simulator_answers_500() {
    let Some(moto) = auth_moto() else { return };
    let mut policy = seed_policy_json("*");
    policy["Statement"][0]["Action"] = serde_json::json!(["logs:*", "iam:SimulatePrincipalPolicy"]);
    let role = moto.setup(&policy);
    let form = peer::form_body(&[
        ("Action", "SimulatePrincipalPolicy"),
        ("Version", "2010-05-08"),
        ("PolicySourceArn", &role.role_arn),
        ("ActionNames.member.1", "logs:PutLogEvents"),
    ]);
    let r = moto.post(
        (&role.akid, &role.secret, Some(&role.token)),
        "iam",
        None,
        &form,
    );
    assert_eq!(
        r.status,
        500,
        "moto's simulator now answers: use it in the --simulate tests\n{}",
        r.text()
    );
    let (out, v) = credcheck_on_moto(
        &moto,
        &role,
        &["--simulate", "--logs-to", "/ecs/logs/sample-test:webapp"],
    );
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(codes(&v, "warnings"), ["simulate-failed"]);
    assert_eq!(verdict(&v, "logs:PutLogEvents", STREAM_ARN).1, "probe");
}

/// The promise's last guard: a PutLogEvents answer that does not reject the 15-day-old event
/// is reported (the event may have been stored), never passed over.
#[test]
fn an_accepted_probe_event_is_reported() {
    let accepted =
        br#"{"nextSequenceToken":"49039859613988223640138291739842364817698543223847364"}"#;
    let fault = Fault::Raw(200, "application/x-amz-json-1.1".into(), accepted.to_vec());
    let p = start(existing().fault(Some("PutLogEvents"), fault));
    let (out, v) = p.json(&["--logs-to", "/ecs/logs/sample-test:webapp"]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(codes(&v, "errors"), ["logs-probe-event-stored"]);
}

/// The router's counters at `--fluent-bit-metrics` (here served by the loopback peer under a
/// prefix of its own, in Fluent Bit's `/api/v1/metrics` shape): they settle what the probes
/// cannot (CreateLogStream on a stream that does not exist yet), and failures beside every
/// action proven allowed are the destination's, not this role's.
#[test]
fn the_routers_counters_settle_what_the_probes_cannot() {
    let metrics = |errors: u64, retries: u64| {
        serde_json::json!({"input": {}, "filter": {}, "output": {"cloudwatch_logs.0": {
            "proc_records": 5, "proc_bytes": 300, "errors": errors, "retries": retries,
            "retries_failed": 0, "dropped_records": 0, "retried_records": retries}}})
        .to_string()
    };
    let with_metrics = |plan: fake::Plan, body: String| {
        let creds = peer::Peer::start(
            peer::Plan::new()
                .with_ecs(peer::Ecs::task_role())
                .with_sts(peer::Sts::default())
                .with_task_metadata("/fluent-bit", body),
        );
        Peers {
            creds,
            logs: Fake::start(plan),
            state: tempfile::tempdir().expect("state dir"),
        }
    };
    // The group exists, the stream not yet: the probes leave CreateLogStream unverified.
    let p = with_metrics(seed_policy(false).group(GROUP, &[]), metrics(0, 0));
    let url = format!("{}/task", p.creds.task_metadata_uri());
    let target = "/ecs/logs/sample-test:webapp";
    let (out, v) = p.json(&["--logs-to", target]);
    assert_eq!(
        (out.code, &v["log_outputs"][0]["delivery"]),
        (4, &"unverified".into()),
        "{out}"
    );
    let (out, v) = p.json(&["--logs-to", target, "--fluent-bit-metrics", &url]);
    assert_eq!(out.code, 0, "{out}");
    let o = &v["log_outputs"][0];
    assert_eq!(
        (&o["delivery"], &o["evidence"]),
        (&"deliverable".into(), &"counters".into())
    );
    // Everything exists and is allowed, yet the router fails: the destination, not this role.
    let p = with_metrics(existing(), metrics(2, 3));
    let url = format!("{}/task", p.creds.task_metadata_uri());
    let (out, v) = p.json(&["--logs-to", target, "--fluent-bit-metrics", &url]);
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(codes(&v, "warnings"), ["logs-destination-failing"]);
    let health = p
        .cmd(&["health", "--logs-to", target, "--fluent-bit-metrics", &url])
        .run();
    assert_eq!(
        health.code, 0,
        "a destination outage must not fail the fleet: {health}"
    );
    // A metrics URL is an explicit http(s) URL with no user name or password.
    let bad = p
        .cmd(&[
            "--logs-to",
            target,
            "--fluent-bit-metrics",
            "http://u:pw@127.0.0.1:1/",
        ])
        .run();
    assert_eq!(bad.code, 2, "{bad}");
    assert!(!bad.combined().contains("pw@"), "{bad}");
}

/// An output's `role_arn` (cross-account delivery to a central logging account): credcheck
/// assumes it as the plugin does (STS AssumeRole with `external_id`), probes with the assumed
/// credentials on the role account's ARNs, and says blocked when STS refuses the assumption.
#[test]
fn an_outputs_role_arn_is_assumed_and_probed_as_that_role() {
    const CENTRAL: &str = "210987654321";
    // The fake authorises against its own account's ARNs whoever signs (it models one
    // account); credcheck names the role's account in its verdicts.
    let plan = || {
        fake::Plan::default()
            .allow(&["logs:CreateLogStream", "logs:PutLogEvents"], &[COVERING])
            .group(GROUP, &["webapp"])
    };
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("out.conf");
    std::fs::write(&conf, format!("[OUTPUT]\n Name cloudwatch_logs\n region ap-northeast-1\n log_group_name {GROUP}\n log_stream_name webapp\n role_arn arn:aws:iam::{CENTRAL}:role/central-logs-writer\n external_id ext-1234\n")).unwrap();
    let conf = conf.to_string_lossy().into_owned();
    let p = start(plan());
    let (out, v) = p.json(&["--fluent-bit-config", &conf]);
    assert_eq!(out.code, 0, "{out}");
    let stream =
        format!("arn:aws:logs:ap-northeast-1:{CENTRAL}:log-group:{GROUP}:log-stream:webapp");
    assert_eq!(verdict(&v, "logs:PutLogEvents", &stream).0, "allowed");
    assert_eq!(v["log_outputs"][0]["delivery"], "deliverable");
    let assume: Vec<String> = p
        .creds
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .filter(|b| b.contains("Action=AssumeRole"))
        .collect();
    assert_eq!(assume.len(), 1, "{assume:?}");
    assert!(assume[0].contains("ExternalId=ext-1234"), "{}", assume[0]);
    for seen in p.logs.seen() {
        assert!(
            seen.authorization
                .contains(&format!("Credential={}/", peer::CANARY_AKID_STS)),
            "signed with the assumed credentials: {}",
            seen.authorization
        );
    }
    // STS refuses the assumption: the router, with the same credentials, cannot either.
    let sts = peer::Sts {
        fault: peer::StsFault::access_denied(),
        fault_action: Some("AssumeRole".into()),
        ..peer::Sts::default()
    };
    let p = Peers {
        creds: peer::Peer::start(
            peer::Plan::new()
                .with_ecs(peer::Ecs::task_role())
                .with_sts(sts),
        ),
        logs: Fake::start(plan()),
        state: tempfile::tempdir().expect("state dir"),
    };
    let (out, v) = p.json(&["--fluent-bit-config", &conf]);
    assert_eq!(out.code, 1, "{out}");
    assert_eq!(codes(&v, "errors"), ["logs-assume-role-denied"]);
    assert_eq!(v["log_outputs"][0]["delivery"], "blocked");
    assert!(p.logs.operations().is_empty());
}
