#!/usr/bin/env python3
"""bench/probe.py: the wall time the permission probe (issue 14) adds to one credcheck run,
against the local peers (examples/fake_peer for the task role, examples/fake_logs for
CloudWatch Logs and IAM). Loopback only; IMDS disabled. Prints a Markdown table.

Usage: bench/probe.py [--rounds N]   (after cargo build --release --bins --examples)
"""
import json, os, statistics, subprocess, sys, time

REL = os.path.join(os.path.dirname(__file__), "..", "target", "x86_64-unknown-linux-gnu", "release")
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 30
CONF = os.path.join(os.path.dirname(__file__), "..", "tests", "firelens", "fluent-bit.conf")
ECS_PATH = "/v2/credentials/0f4b2f53-9a1e-4c36-8d7b-2f6c1e0b7a55"
STREAM = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:log-stream:webapp"


def serve(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={"PATH": "/usr/bin:/bin"})
    line = p.stdout.readline()
    return p, "http://" + line.split("listening on ")[1].split()[0].strip()


def main():
    peer, peer_url = serve([os.path.join(REL, "examples", "fake_peer"), "--ecs-path", ECS_PATH, "--sts"])
    logs, logs_url = serve([os.path.join(REL, "examples", "fake_logs"), "--simulator"])
    env = {
        "PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_REGION": "ap-northeast-1", "AWS_CONTAINER_CREDENTIALS_FULL_URI": peer_url + ECS_PATH,
        "AWS_ENDPOINT_URL_STS": peer_url, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": logs_url,
        "AWS_ENDPOINT_URL_IAM": logs_url, "XDG_RUNTIME_DIR": "/nonexistent-state",
    }
    variants = [
        ("report, no probe", [], 0),
        ("--can logs:PutLogEvents (1 call)", ["--can", "logs:PutLogEvents=" + STREAM], 1),
        ("--logs-to G:S, C plugin (3 calls)", ["--logs-to", "/ecs/logs/sample-test:webapp"], 3),
        ("--fluent-bit-config seed (3 calls)", ["--fluent-bit-config", CONF], 3),
        ("--logs-to G:S --plugin cloudwatch --auto-create-group (3 calls)",
         ["--logs-to", "/ecs/logs/sample-test:webapp", "--plugin", "cloudwatch", "--auto-create-group"], 3),
        ("--simulate --fluent-bit-config seed (2 calls)", ["--simulate", "--fluent-bit-config", CONF], 2),
    ]
    exe = os.path.join(REL, "credcheck")
    rows = []
    try:
        # Interleaved (every variant once per round), so other load on the machine hits all alike.
        samples = {name: ([], []) for name, _, _ in variants}
        for _ in range(ROUNDS):
            for name, args, calls in variants:
                t = time.perf_counter()
                r = subprocess.run([exe, "--format", "json"] + args, env=env, capture_output=True)
                samples[name][0].append((time.perf_counter() - t) * 1000)
                assert r.returncode == 0, (name, r.stdout, r.stderr)
                samples[name][1].append(json.loads(r.stdout)["elapsed_ms"])
        for name, _, calls in variants:
            times, inner = samples[name]
            rows.append((name, calls, statistics.median(times), max(times), statistics.median(inner)))
    finally:
        peer.kill()
        logs.kill()
    base, base_in = rows[0][2], rows[0][4]
    print("| variant | logs/IAM calls | wall median ms | added wall ms | wall max ms | report elapsed_ms (median) |")
    print("|---|---|---|---|---|---|")
    for name, calls, med, mx, inn in rows:
        print(f"| {name} | {calls} | {med:.1f} | {med - base:+.1f} | {mx:.1f} | {inn:.0f} |")
    print(f"\n{ROUNDS} rounds each, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, loopback fakes.")


if __name__ == "__main__":
    main()
