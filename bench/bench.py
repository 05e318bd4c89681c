"""credcheck benchmark (issue 6). Run through `bench/run`; see bench/README.md.

Starts moto (STS + IAM) and the fake container endpoint (examples/fake_peer) on 127.0.0.1,
gets temporary credentials from moto (CreateRole + AssumeRole), serves them from the fake
container endpoint, then runs every command once per round, in a shuffled order, for N
rounds. Each run goes through bench/spawn.c, a tiny C helper that fork()s, execs and reaps
the command with wait4, which gives that one child's own peak RSS (ru_maxrss: a child that
Python forks or vforks carries Python's RSS high-water mark across exec), and times fork to
reap with CLOCK_MONOTONIC.
The two round trips credcheck cannot avoid (container GET, signed STS POST) are timed
inside curl (`-w %{time_total}`); floor = median(/bin/true) + median(GET) + median(POST).

Writes the Markdown table to bench/results.md (or --out) and prints it.
"""

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "x86_64-unknown-linux-gnu", "release")
ROLE = "credcheck-bench-role"
ADMIN_KEY = "AKIAMOTOADMIN0000001"
ECS_PATH = "/v2/credentials/0b3c5e6d-bench-4a1f-9e07-2d6c8f1a7b11"

# Targets of issue 6.
FULL_VS_FLOOR_MAX = 1.5
WHOAMI_SPEEDUP_MIN = 30.0
RSS_FRACTION_MAX = 0.25
HEALTH_MAX_MS = 5.0
BINARY_MAX_BYTES = 8 * 1000 * 1000  # "8 MB"; 8 MiB is also shown


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Peers


class Peer:
    """A child process whose one output stream is drained forever (moto logs every request)."""

    def __init__(self, name, argv, env, stream, ready_re, timeout=60):
        self.name = name
        self.lines = []
        kw = dict(stdin=subprocess.DEVNULL, env=env, text=True, bufsize=1)
        if stream == "stderr":
            kw.update(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        else:
            kw.update(stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.proc = subprocess.Popen(argv, **kw)
        pipe = self.proc.stderr if stream == "stderr" else self.proc.stdout
        found = threading.Event()
        self.match = None

        def drain():
            for line in pipe:
                if len(self.lines) < 2000:
                    self.lines.append(line.rstrip("\n"))
                if self.match is None:
                    m = re.search(ready_re, line)
                    if m:
                        self.match = m
                        found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(timeout) or self.match is None:
            self.stop()
            raise SystemExit(f"{name} did not start:\n" + "\n".join(self.lines[-30:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def amz_date():
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def moto_call(url, service, akid, form):
    """A Query-API form POST with a SigV4-shaped (unsigned) Authorization header: moto
    routes by the credential scope's service and reads the key id, but checks no signature."""
    stamp = amz_date()
    auth = (
        f"AWS4-HMAC-SHA256 Credential={akid}/{stamp[:8]}/us-east-1/{service}/aws4_request, "
        f"SignedHeaders=content-type;host;x-amz-date, Signature={'0' * 64}"
    )
    body = urllib.parse.urlencode(form).encode()
    req = urllib.request.Request(
        url + "/",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "X-Amz-Date": stamp,
            "Authorization": auth,
        },
    )
    # No proxy, whatever the caller's environment says: moto is on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def xml_value(xml, tag):
    m = re.search(f"<{tag}>([^<]*)</{tag}>", xml)
    if not m:
        raise SystemExit(f"no <{tag}> in moto's answer:\n{xml}")
    return m.group(1)


def moto_creds(url):
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    status, text = moto_call(
        url,
        "iam",
        ADMIN_KEY,
        {
            "Action": "CreateRole",
            "Version": "2010-05-08",
            "RoleName": ROLE,
            "AssumeRolePolicyDocument": policy,
        },
    )
    if status != 200 and "EntityAlreadyExists" not in text:
        raise SystemExit(f"moto CreateRole failed: {status} {text}")
    role_arn = xml_value(text, "Arn") if status == 200 else None
    role_arn = role_arn or f"arn:aws:iam::123456789012:role/{ROLE}"
    status, text = moto_call(
        url,
        "sts",
        ADMIN_KEY,
        {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleArn": role_arn,
            "RoleSessionName": "bench",
            "DurationSeconds": "3600",
        },
    )
    if status != 200:
        raise SystemExit(f"moto AssumeRole failed: {status} {text}")
    return {
        "role_arn": role_arn,
        "akid": xml_value(text, "AccessKeyId"),
        "secret": xml_value(text, "SecretAccessKey"),
        "token": xml_value(text, "SessionToken"),
        "expiration": xml_value(text, "Expiration"),
    }


# ---------------------------------------------------------------------------------------
# Measuring


SPAWN = None  # bench/spawn.c, built by bench/run


def spawn_measure(argv, env, out_path):
    """One run through the spawn helper: (wall ns, the child's own peak RSS KiB, exit code).
    stdout+stderr of the command go to out_path."""
    res = subprocess.run([SPAWN, out_path, *argv], env=env, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True)
    fields = res.stdout.split()
    if res.returncode != 0 or len(fields) != 3:
        raise SystemExit(f"spawn helper failed on {argv}: {res.stderr}")
    ns, rss, code = (int(f) for f in fields)
    return ns, rss, code


class Command:
    def __init__(self, key, label, argv, kind="process", check=None, env=None):
        self.key, self.label, self.argv, self.kind = key, label, argv, kind
        self.env = env  # replaces the common environment for this command
        self.check = check  # fn(output text) -> error string or None
        self.wall_ms, self.rss_kib = [], []

    def run(self, env, workdir):
        out = os.path.join(workdir, f"{self.key}.out")
        ns, rss, code = spawn_measure(self.argv, self.env or env, out)
        text = open(out, errors="replace").read()
        if code != 0:
            raise SystemExit(f"{self.label} exited {code}:\n{text[-2000:]}")
        if self.kind == "curl":
            # stdout is `<time_total>\n<http_code>`; the body went to a file.
            m = re.fullmatch(r"\s*([0-9.]+)\s+(\d{3})\s*", text)
            if not m or m.group(2) != "200":
                raise SystemExit(f"{self.label}: unexpected curl output {text!r}")
            return float(m.group(1)) * 1000.0, rss, text
        return ns / 1e6, rss, text

    def measure(self, env, workdir):
        ms, rss, _ = self.run(env, workdir)
        self.wall_ms.append(ms)
        self.rss_kib.append(rss)


def pct(values, p):
    """Percentile with linear interpolation (p in 0..100)."""
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values):
    return statistics.median(values), pct(values, 10), pct(values, 90)


# ---------------------------------------------------------------------------------------
# Facts about the machine and the binary


def sh(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def binary_facts(path, workdir):
    info = sh(["file", "-b", path])
    size = os.stat(path).st_size
    stripped_size, how = size, "as built: the release profile strips"
    if "not stripped" in info:
        copy = os.path.join(workdir, "credcheck.stripped")
        subprocess.run(["strip", "-o", copy, path], check=True)
        stripped_size, how = os.stat(copy).st_size, "after `strip` of the built binary"
    return {"file": info, "size": size, "stripped_size": stripped_size, "stripped_how": how}


def build_time(bench_dir):
    """One clean release build in a copy of the tree (bench/build-variants current)."""
    out = os.path.join(tempfile.gettempdir(), "credcheck-bench-build")
    log("clean release build in a copy under " + out + " (takes minutes on 2 cores)")
    res = subprocess.run(
        [os.path.join(bench_dir, "build-variants"), "--out", out, "current"],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        raise SystemExit("clean build failed:\n" + res.stderr[-3000:])
    return parse_build_line(res.stdout.strip().splitlines()[-1])


def parse_build_line(line):
    f = line.rstrip("\n").split("\t")
    return {
        "wall_s": float(f[2]),
        "user_s": float(f[3]),
        "sys_s": float(f[4]),
        "bytes": int(f[5]),
        "load_before": f[7],
    }


# ---------------------------------------------------------------------------------------
# Report


def fmt_ms(x):
    return f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def fmt_mib(kib):
    return f"{kib / 1024:.1f}"


def render(ctx):
    c = ctx["commands"]
    lines = []
    w = lines.append
    w(f"# credcheck benchmark: {ctx['date']}")
    w("")
    w(
        f"Machine: {ctx['nproc']} CPUs ({ctx['cpu']}), Linux {ctx['kernel']}, load average "
        f"{ctx['load_start']} at the start and {ctx['load_end']} at the end. "
        f"{ctx['rounds']} rounds, each command once per round in a shuffled order "
        f"(seed {ctx['seed']}), after {ctx['warmup']} unrecorded warm-up round(s). "
        f"Peers on 127.0.0.1: moto {ctx['moto_version']} (STS), fake_peer (container endpoint). "
        f"{ctx['credcheck_version']}: `{ctx['credcheck_path']}`."
    )
    w("")
    w("Wall: fork to reap in `bench/spawn.c` (exec and loader included), ms; curl rows: curl's own "
      "`%{time_total}` (the round trip only). Peak RSS: the process's own `ru_maxrss` from "
      "`wait4`, MiB. Median, with p10–p90.")
    w("")
    w("| command | wall median | wall p10–p90 | peak RSS median | RSS p10–p90 |")
    w("|---|---:|---:|---:|---:|")
    for cmd in ctx["order"]:
        m, lo, hi = summary(cmd.wall_ms)
        rm, rlo, rhi = summary(cmd.rss_kib)
        rss_cells = (
            f"{fmt_mib(rm)} | {fmt_mib(rlo)}–{fmt_mib(rhi)}"
            if cmd.kind != "curl"
            else "(curl) | "
        )
        w(f"| {cmd.label} | {fmt_ms(m)} | {fmt_ms(lo)}–{fmt_ms(hi)} | {rss_cells} |")
    pair = ctx["aws_pair_ms"]
    m, lo, hi = summary(pair)
    w(f"| `aws configure list` + `aws sts get-caller-identity` (sum per round) | {fmt_ms(m)} | "
      f"{fmt_ms(lo)}–{fmt_ms(hi)} | | |")
    w(f"| **floor** = true + GET + POST medians | **{fmt_ms(ctx['floor'])}** | | | |")
    w("")

    full = statistics.median(c["cc_full"].wall_ms)
    nosts = statistics.median(c["cc_nosts"].wall_ms)
    health = statistics.median(c["cc_health"].wall_ms)
    health_https = statistics.median(c["cc_health_https"].wall_ms)
    whoami = statistics.median(c["whoami"].wall_ms)
    pair_m = statistics.median(pair)
    rss_full = statistics.median(c["cc_full"].rss_kib)
    rss_whoami = statistics.median(c["whoami"].rss_kib)
    floor = ctx["floor"]
    floor_nosts = statistics.median(c["true"].wall_ms) + statistics.median(c["curl_get"].wall_ms)
    # The same ratios from the 10th percentiles: on a shared machine the short commands
    # lose proportionally more to scheduling delays, and p10 shows the less contended runs.
    p10 = lambda key: pct(c[key].wall_ms, 10)
    floor10 = p10("true") + p10("curl_get") + p10("curl_post")
    floor10_nosts = p10("true") + p10("curl_get")
    ratios = [
        ("full report / floor", full / floor, p10("cc_full") / floor10, "{:.2f}×"),
        ("full report − floor (credcheck's own time)", full - floor, p10("cc_full") - floor10, "{:.2f} ms"),
        ("`--no-sts` / (true + GET)", nosts / floor_nosts, p10("cc_nosts") / floor10_nosts, "{:.2f}×"),
        ("`health` / (true + GET)", health / floor_nosts, p10("cc_health") / floor10_nosts, "{:.2f}×"),
        ("`health` with an https STS endpoint / `health`", health_https / health,
         p10("cc_health_https") / p10("cc_health"), "{:.2f}×"),
        ("aws-whoami / full report", whoami / full, p10("whoami") / p10("cc_full"), "{:.1f}×"),
        ("(`aws configure list` + `aws sts get-caller-identity`) / full report", pair_m / full,
         pct(pair, 10) / p10("cc_full"), "{:.1f}×"),
    ]
    w("## Ratios")
    w("")
    w("Targets are judged on the medians. The p10 column applies the same formulas to the 10th "
      "percentiles (floor = p10 of true + GET + POST), the least contended runs.")
    w("")
    w("| ratio | medians | p10s |")
    w("|---|---:|---:|")
    for name, m, q, f in ratios:
        w(f"| {name} | {f.format(m)} | {f.format(q)} |")
    w(f"| peak RSS, full report / aws-whoami | {rss_full / rss_whoami:.3f} (1/{rss_whoami / rss_full:.1f}) | |")
    w("")

    if ctx["extras"]:
        w("## Other builds, same rounds")
        w("")
        w("| build | size | full report wall median | p10–p90 | `health` wall median | p10–p90 | full report peak RSS |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        rows = [("this run's credcheck", ctx["credcheck_path"], ctx["binary"]["size"], c["cc_full"], c["cc_health"])]
        rows += [(name, path, size, c[f"x_{name}_full"], c[f"x_{name}_health"]) for name, path, size in ctx["extras"]]
        for name, path, size, f, h in rows:
            fm, flo, fhi = summary(f.wall_ms)
            hm, hlo, hhi = summary(h.wall_ms)
            w(f"| {name} (`{path}`) | {size / 1e6:.2f} MB | {fmt_ms(fm)} | {fmt_ms(flo)}–{fmt_ms(fhi)} | "
              f"{fmt_ms(hm)} | {fmt_ms(hlo)}–{fmt_ms(hhi)} | {fmt_mib(statistics.median(f.rss_kib))} MiB |")
        w("")

    b = ctx["binary"]
    w("## Binary and build")
    w("")
    w("| what | value |")
    w("|---|---|")
    w(f"| stripped size | {b['stripped_size']:,} bytes = {b['stripped_size'] / 1e6:.2f} MB = "
      f"{b['stripped_size'] / 2**20:.2f} MiB ({b['stripped_how']}) |")
    w(f"| `file` | {b['file']} |")
    bt = ctx.get("build")
    if bt:
        when = ", recorded before this run" if bt.get("recorded") else ""
        w(f"| clean release build (`bench/build-variants current`, {ctx['nproc']} CPUs{when}) | "
          f"{bt['wall_s']:.0f} s wall ({bt['wall_s'] / 60:.1f} min), {bt['user_s']:.0f} s user + "
          f"{bt['sys_s']:.0f} s sys; load average before: {bt['load_before']} |")
        w(f"| binary of that clean `cargo build --release` | {bt['bytes']:,} bytes = {bt['bytes'] / 1e6:.2f} MB |")
    else:
        w("| clean release build | not measured in this run (`bench/run --build-time`) |")
    w("")

    checks = [
        ("full report median ≤ 1.5× floor", full <= FULL_VS_FLOOR_MAX * floor,
         f"{fmt_ms(full)} ms vs 1.5 × {fmt_ms(floor)} = {fmt_ms(FULL_VS_FLOOR_MAX * floor)} ms ({full / floor:.2f}×)"),
        ("full report ≥ 30× faster than aws-whoami", whoami >= WHOAMI_SPEEDUP_MIN * full,
         f"{whoami / full:.1f}× ({fmt_ms(whoami)} / {fmt_ms(full)} ms)"),
        ("credcheck peak RSS ≤ 1/4 of aws-whoami's", rss_full <= RSS_FRACTION_MAX * rss_whoami,
         f"{fmt_mib(rss_full)} MiB vs {fmt_mib(rss_whoami)} MiB (1/{rss_whoami / rss_full:.1f})"),
        ("`credcheck health` median < 5 ms", health < HEALTH_MAX_MS,
         f"{fmt_ms(health)} ms (with an https STS endpoint, as in a task without overrides: {fmt_ms(health_https)} ms)"),
        ("stripped static binary ≤ 8 MB", b["stripped_size"] <= BINARY_MAX_BYTES and "static" in b["file"],
         f"{b['stripped_size'] / 1e6:.2f} MB, {'static' if 'static' in b['file'] else 'NOT static'}"),
    ]
    w("## Targets (issue 6)")
    w("")
    w("| target | holds | measured |")
    w("|---|---|---|")
    for name, ok, detail in checks:
        w(f"| {name} | {'yes' if ok else '**no**'} | {detail} |")
    w("")
    w(f"This table: `{ctx['command']}`. "
      "Reproduce: `bench/run` (add `--build-time` for the clean build figure). "
      "Timings vary with machine load; compare figures from one run only.")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------


def clean_argv():
    """This run's options as given to bench/run (without the ones bench/run adds)."""
    out, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a in ("--venv", "--spawn"):
            skip = True
        elif not a.startswith(("--venv=", "--spawn=")):
            out.append(a)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--venv", required=True)
    ap.add_argument("--spawn", required=True, help="the built bench/spawn.c")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--credcheck", default=os.path.join(REL, "credcheck"))
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                    help="also measure another credcheck build (full report and health)")
    ap.add_argument("--build-time", action="store_true",
                    help="also time one clean release build in a copy of the tree")
    ap.add_argument("--build-from", default=None, metavar="TSV",
                    help="instead of building, quote the last `current` line of a "
                         "bench/build-variants record (e.g. /tmp/credcheck-bench-build/variants.tsv)")
    ap.add_argument("--wait-load", type=float, default=None, metavar="L",
                    help="before measuring, wait (at most 15 min) until the 1-minute load "
                         "average is below L")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results.md"))
    ap.add_argument("--raw", default=None, help="write every sample as JSON here")
    ap.add_argument("--serve", default=None, metavar="ENVFILE",
                    help="only start the peers, write the commands' environment to ENVFILE "
                         "(NAME=VALUE lines, plus BENCH_* facts), and wait until stdin closes "
                         "(used by bench/profile)")
    args = ap.parse_args()
    global SPAWN
    SPAWN = os.path.abspath(args.spawn)

    venv_bin = os.path.join(os.path.abspath(args.venv), "bin")
    credcheck = os.path.abspath(args.credcheck)
    fake_peer = os.path.join(REL, "examples", "fake_peer")
    curl = shutil.which("curl") or "/usr/bin/curl"
    true_bin = "/bin/true"
    for p in (credcheck, fake_peer, curl, true_bin, os.path.join(venv_bin, "moto_server")):
        if not os.access(p, os.X_OK):
            raise SystemExit(f"missing: {p}")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    rng = random.Random(seed)

    workdir = tempfile.mkdtemp(prefix="credcheck-bench-")
    home = os.path.join(workdir, "home")
    os.mkdir(home)
    # Private copies: another engineer's `cargo build` may replace target/ files mid-run.
    credcheck_shown = os.path.relpath(credcheck, ROOT) if credcheck.startswith(ROOT + "/") else credcheck
    bins = os.path.join(workdir, "bin")
    os.mkdir(bins)
    for src, dst in ((credcheck, "credcheck"), (fake_peer, "fake_peer")):
        shutil.copy2(src, os.path.join(bins, dst))
    credcheck = os.path.join(bins, "credcheck")
    fake_peer = os.path.join(bins, "fake_peer")
    base_env = {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "AWS_EC2_METADATA_DISABLED": "true",
        "LANG": "C.UTF-8",
    }
    peers = []

    def cleanup(*_):
        for p in reversed(peers):
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    signal.signal(signal.SIGTERM, lambda *a: (cleanup(), sys.exit(143)))
    try:
        log("starting moto")
        moto = Peer(
            "moto_server",
            [os.path.join(venv_bin, "moto_server"), "-H", "127.0.0.1", "-p", "0"],
            dict(base_env, PATH=f"{venv_bin}:/usr/bin:/bin"),
            "stderr",
            r"Running on (http://127\.0\.0\.1:\d+)",
        )
        peers.append(moto)
        moto_url = moto.match.group(1)
        creds = moto_creds(moto_url)
        log(f"moto at {moto_url}; AssumeRole gave {creds['akid'][:4]}…{creds['akid'][-4:]}")
        peer = Peer(
            "fake_peer",
            [fake_peer, "--bind", "127.0.0.1:0", "--ecs-path", ECS_PATH,
             "--role-arn", creds["role_arn"], "--akid", creds["akid"],
             "--secret", creds["secret"], "--session-token", creds["token"],
             "--expiration", creds["expiration"]],
            base_env,
            "stdout",
            r"listening on (127\.0\.0\.1:\d+)",
        )
        peers.append(peer)
        ecs_url = f"http://{peer.match.group(1)}{ECS_PATH}"
        log(f"fake container endpoint at http://{peer.match.group(1)}")

        env = dict(
            base_env,
            AWS_REGION="us-east-1",
            # botocore (aws, aws-whoami) reads only AWS_DEFAULT_REGION.
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs_url,
            AWS_ENDPOINT_URL_STS=moto_url,
            # Safety nets: any other service a tool might call goes to moto, not the internet;
            # aws-whoami's account-alias lookup (IAM) is skipped, so it makes one STS call
            # like the others.
            AWS_ENDPOINT_URL=moto_url,
            AWS_WHOAMI_DISABLE_ACCOUNT_ALIAS="true",
        )

        if args.serve:
            facts = dict(env, BENCH_AKID=creds["akid"], BENCH_SECRET=creds["secret"],
                         BENCH_TOKEN=creds["token"], BENCH_MOTO_URL=moto_url,
                         BENCH_ECS_URL=ecs_url)
            with open(args.serve + ".tmp", "w") as f:
                f.writelines(f"{k}={v}\n" for k, v in facts.items())
            os.rename(args.serve + ".tmp", args.serve)
            log(f"peers up; environment in {args.serve}; close stdin to stop")
            sys.stdin.read()
            return

        assumed = f"assumed-role/{ROLE}/bench"
        # What a task without endpoint overrides has: the STS endpoint is https, so TLS may be
        # set up although `health` never calls STS. It points at a closed loopback port, so
        # even a call by mistake could not leave the machine (and would fail the check).
        prod_env = {k: v for k, v in env.items() if not k.startswith("AWS_ENDPOINT_URL")}
        prod_env["AWS_ENDPOINT_URL_STS"] = "https://127.0.0.1:9"

        def has(*needles):
            return lambda text: None if all(n in text for n in needles) else f"missing {needles}"

        def json_identity(text):
            try:
                r = json.loads(text)
            except ValueError:
                return "not JSON"
            if r.get("source") != "container-role" or assumed not in ((r.get("identity") or {}).get("arn") or ""):
                return f"unexpected report: source={r.get('source')} identity={r.get('identity')}"
            return None

        cc = lambda *a: [credcheck, *a]
        commands = [
            Command("cc_full", "`credcheck --format json`", cc("--format", "json"), check=json_identity),
            Command("cc_nosts", "`credcheck --no-sts`", cc("--no-sts"), check=has("container-role", ROLE)),
            Command("cc_health", "`credcheck health`", cc("health"), check=has("healthy: container-role", ROLE)),
            Command("cc_health_https", "`credcheck health`, STS endpoint https (never contacted)", cc("health"),
                    check=has("healthy: container-role", ROLE), env=prod_env),
        ]
        extras = []
        for spec in args.extra:
            name, _, path = spec.partition("=")
            path = shutil.copy2(os.path.abspath(path), os.path.join(bins, f"credcheck-{name}"))
            extras.append((name, spec.partition("=")[2], os.stat(path).st_size))
            commands += [
                Command(f"x_{name}_full", f"`credcheck --format json` [{name}]", [path, "--format", "json"], check=json_identity),
                Command(f"x_{name}_health", f"`credcheck health` [{name}]", [path, "health"], check=has("healthy: container-role")),
            ]
        body = os.path.join(workdir, "curl-body")
        curl_common = [curl, "-sS", "--noproxy", "*", "-o", body, "-w", "%{time_total}\n%{http_code}"]
        commands += [
            Command("whoami", "aws-whoami", [os.path.join(venv_bin, "aws-whoami")], check=has(assumed)),
            Command("aws_list", "`aws configure list`", [os.path.join(venv_bin, "aws"), "configure", "list"], check=has("container-role")),
            Command("aws_gci", "`aws sts get-caller-identity`", [os.path.join(venv_bin, "aws"), "sts", "get-caller-identity"], check=has(assumed)),
            Command("true", "`/bin/true`", [true_bin]),
            Command("curl_get", "credentials GET (curl `time_total`)", curl_common + [ecs_url], kind="curl"),
            Command("curl_post", "signed STS POST (curl `time_total`)",
                    curl_common + ["--aws-sigv4", "aws:amz:us-east-1:sts",
                                   "--user", f"{creds['akid']}:{creds['secret']}",
                                   "-H", f"x-amz-security-token: {creds['token']}",
                                   "-d", "Action=GetCallerIdentity&Version=2011-06-15",
                                   moto_url + "/"], kind="curl"),
        ]
        by_key = {c.key: c for c in commands}

        # Warm-up: every command once, outputs checked (also fills page cache and .pyc).
        for i in range(args.warmup):
            for c in commands:
                _, _, text = c.run(env, workdir)
                if i == 0 and c.check:
                    err = c.check(text)
                    if err:
                        raise SystemExit(f"{c.label}: {err}\n{text[-2000:]}")
        post_body = open(body, errors="replace").read()
        if assumed not in post_body:
            raise SystemExit(f"curl's signed STS POST did not get the assumed role:\n{post_body}")

        if args.wait_load is not None:
            limit = time.monotonic() + 900
            while float(open("/proc/loadavg").read().split()[0]) >= args.wait_load:
                if time.monotonic() > limit:
                    log(f"load still at or above {args.wait_load} after 15 min; measuring anyway")
                    break
                time.sleep(5)
        load_start = " ".join(open("/proc/loadavg").read().split()[:3])
        log(f"{args.rounds} rounds × {len(commands)} commands (seed {seed}); load {load_start}")
        t0 = time.monotonic()
        aws_pair = []
        for r in range(args.rounds):
            order = commands[:]
            rng.shuffle(order)
            for c in order:
                c.measure(env, workdir)
            aws_pair.append(by_key["aws_list"].wall_ms[-1] + by_key["aws_gci"].wall_ms[-1])
            if (r + 1) % 10 == 0:
                log(f"round {r + 1}/{args.rounds} ({time.monotonic() - t0:.0f} s)")
        load_end = " ".join(open("/proc/loadavg").read().split()[:3])

        floor = sum(statistics.median(by_key[k].wall_ms) for k in ("true", "curl_get", "curl_post"))
        version = sh([credcheck, "--version"]) or "?"
        ctx = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "nproc": os.cpu_count(),
            "cpu": cpu_model(),
            "kernel": platform.release(),
            "load_start": load_start,
            "load_end": load_end,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "seed": seed,
            "moto_version": sh([os.path.join(venv_bin, "python"), "-c", "import moto; print(moto.__version__)"]),
            "credcheck_version": version,
            "credcheck_path": credcheck_shown,
            "commands": by_key,
            "order": commands,
            "aws_pair_ms": aws_pair,
            "floor": floor,
            "binary": binary_facts(credcheck, workdir),
            "extras": extras,
            "command": "bench/run " + " ".join(clean_argv()),
        }
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        for p in reversed(peers):
            p.stop()
        if args.serve:
            shutil.rmtree(workdir, ignore_errors=True)

    if args.build_time:
        ctx["build"] = build_time(os.path.join(ROOT, "bench"))
    elif args.build_from:
        lines = [l for l in open(args.build_from) if l.split("\t")[0] == "current"]
        if not lines:
            raise SystemExit(f"no `current` build recorded in {args.build_from}")
        ctx["build"] = parse_build_line(lines[-1])
        ctx["build"]["recorded"] = True
    text = render(ctx)
    with open(args.out, "w") as f:
        f.write(text)
    if args.raw:
        with open(args.raw, "w") as f:
            json.dump({c.key: {"label": c.label, "wall_ms": c.wall_ms, "rss_kib": c.rss_kib}
                       for c in commands}, f, indent=1)
    shutil.rmtree(workdir, ignore_errors=True)
    print(text)
    log(f"wrote {os.path.relpath(args.out, os.getcwd())}")


if __name__ == "__main__":
    main()
