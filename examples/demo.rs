//! A complete credcheck report with no AWS account: starts a fake ECS container-credentials
//! endpoint (with task metadata) and a fake STS on loopback, then runs credcheck against them
//! in a clean environment (IMDS disabled), once as text and once as JSON.
//!
//! Run: `cargo run --release --example demo`.
//!
//! The demo re-executes itself with a cleared environment and `CREDCHECK_DEMO_CHILD=1`; the
//! child is credcheck's own `main_entry`, so what you see is exactly what the binary prints.
//! With `CREDCHECK_TEST_BIN` set, the child is that binary instead (run by
//! `CREDCHECK_TEST_RUNNER` when set): `scripts/release` shows the aarch64 binary's report
//! under `qemu-aarch64-static` this way.
#![forbid(unsafe_code)]

#[allow(dead_code)]
#[path = "../tests/support/peer.rs"]
mod peer;

use std::process::Command;

const CHILD: &str = "CREDCHECK_DEMO_CHILD";
/// Another credcheck binary to run, and the program that runs it (as in the test harness).
const TEST_BIN: &str = "CREDCHECK_TEST_BIN";
const TEST_RUNNER: &str = "CREDCHECK_TEST_RUNNER";

fn main() {
    if std::env::var_os(CHILD).is_some() {
        std::process::exit(credcheck::main_entry());
    }
    let task = peer::task_metadata_json(
        "demo-cluster",
        "arn:aws:ecs:us-east-1:123456789012:task/demo-cluster/0f4b2f539a1e4c368d7b2f6c1e0b7a55",
        "demo-app",
        "7",
        "demo-service",
        "FARGATE",
        "us-east-1a",
    );
    let plan = peer::Plan::new()
        .with_ecs(peer::Ecs::task_role())
        .with_task_metadata(peer::TASK_METADATA_PREFIX, task)
        .with_sts(peer::Sts::default());
    let fake = peer::Peer::start(plan);
    println!(
        "demo: fake ECS agent + task metadata + STS on {}\n",
        fake.url()
    );
    let mut code = 0;
    for format in ["text", "json"] {
        println!("$ credcheck --format {format}");
        code = run(&fake, format);
        println!("(exit {code})\n");
    }
    std::process::exit(code);
}

fn run(fake: &peer::Peer, format: &str) -> i32 {
    let set = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let me = std::env::current_exe().expect("the demo knows its own path");
    let bin = set(TEST_BIN).map_or(me, std::path::PathBuf::from);
    let mut command = match set(TEST_RUNNER) {
        Some(runner) => {
            let mut c = Command::new(runner);
            c.arg(bin);
            c
        }
        None => Command::new(bin),
    };
    let status = command
        .env_clear()
        .env(CHILD, "1")
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}{}", fake.url(), peer::ECS_PATH),
        )
        .env(
            "ECS_CONTAINER_METADATA_URI_V4",
            format!("{}{}", fake.url(), peer::TASK_METADATA_PREFIX),
        )
        .env("AWS_ENDPOINT_URL_STS", fake.url())
        .args(["--format", format])
        .status()
        .expect("the demo can start itself");
    status.code().unwrap_or(1)
}
