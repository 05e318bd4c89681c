//! `fake_logs`: the CloudWatch Logs / IAM simulator fake of the permission probe's tests
//! (`tests/support/logs.rs`) as a standalone binary, for `bench/probe`. It serves the seed
//! story: the task role's policy (`tests/firelens/policy.json`, or `--typo` for the misspelt
//! group) and the group `/ecs/logs/sample-test` with the stream `webapp`, and with
//! `--simulator` an IAM policy simulator for the default task role. Prints one line,
//! `listening on ADDR`, then serves until killed. Loopback, or with `--bind IP` an address of
//! a Docker network a test created (`tests/docker.rs`, the log router's health check).

#[path = "../tests/support/logs.rs"]
mod logs;

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let typo = args.iter().any(|a| a == "--typo");
    let resource = if typo {
        "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-tset:*"
    } else {
        "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:*"
    };
    let actions = [
        "logs:CreateLogStream",
        "logs:CreateLogGroup",
        "logs:DescribeLogStreams",
        "logs:PutLogEvents",
    ];
    let mut plan = logs::Plan::default()
        .allow(&actions, &[resource])
        .group("/ecs/logs/sample-test", &["webapp"]);
    if args.iter().any(|a| a == "--simulator") {
        plan = plan.simulator(logs::Simulator::Evaluate {
            per_resource: false,
            role_arn: "arn:aws:iam::123456789012:role/credcheck-task-role".into(),
        });
    }
    let ip = args
        .iter()
        .position(|a| a == "--bind")
        .and_then(|i| args.get(i + 1))
        .and_then(|ip| ip.parse().ok())
        .unwrap_or(std::net::Ipv4Addr::LOCALHOST);
    let fake = logs::Fake::start_on(plan, ip);
    let addr = fake.url().trim_start_matches("http://").to_string();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
    loop {
        std::thread::park();
    }
}
