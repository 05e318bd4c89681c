#!/usr/bin/env python3
"""bench/fleet's table and plot data from examples/fleet's JSON lines (issue 16).

Usage: fleet.py FLEET.jsonl OUT.md OUT.dat
"""
import json
import sys

SHOWN = ["DescribeLogStreams", "CreateLogStream", "PutLogEvents"]
TARGET_N = 10000


PROFILES = ["issue 14 full probe", "health, no counters", "health, router counters"]


def profile(run):
    if "DescribeLogStreams" in run["full_probe"]:
        return PROFILES[0]
    return PROFILES[2] if run.get("counters") else PROFILES[1]


def cell(api):
    share = 100.0 * api["peak_tps"] / api["quota_tps"]
    return f"{api['peak_tps']} ({share:.1f} %) / {api['mean_tps']:.2f}"


def target(run):
    apis = run["apis"]
    within = all(a["peak_tps"] <= 0.1 * a["quota_tps"] for a in apis)
    throttled = sum(a["throttled"] for a in apis)
    fresh = run["worst_change_seen_after_s"] <= run["probe_every_s"] * 1.2
    return within and throttled == 0 and fresh and run["tasks_that_missed_the_change"] == 0


def table(runs):
    head = "| profile | N | " + " | ".join(f"{a} peak (share of quota) / mean TPS" for a in SHOWN)
    head += " | throttled | worst verdict age | change seen after (worst) | target |"
    lines = [head, "|" + "---|" * (len(SHOWN) + 6)]
    for r in runs:
        by = {a["api"]: a for a in r["apis"]}
        throttled = sum(a["throttled"] for a in r["apis"])
        met = ("met" if target(r) else "**missed**") if r["tasks"] == TARGET_N else ""
        lines.append(
            f"| {profile(r)} | {r['tasks']:,} | "
            + " | ".join(cell(by[a]) for a in SHOWN)
            + f" | {throttled:,} | {r['worst_verdict_age_s']:.0f} s | "
            + f"{r['worst_change_seen_after_s']:.0f} s | {met} |"
        )
    quotas = ", ".join(f"{a['api']} {a['quota_tps']:g} TPS ({a['quota_source']})" for a in runs[0]["apis"])
    lines.append("")
    lines.append(f"Quotas in the model (per account and Region, 1 s of burst): {quotas}.")
    r = runs[0]
    lines.append(
        f"Run: --probe-every {r['probe_every_s'] // 60}m, checks every {r['interval_s']} s, "
        f"starts spread over 5 min, {r['horizon_s'] // 3600} h simulated, the policy denies "
        f"PutLogEvents from {r['change_at_s'] // 60} min on. Target (N = {TARGET_N:,}): every API's "
        "peak at most 10 % of its quota, 0 throttled, every task sees the change within "
        "--probe-every + 20 % jitter."
    )
    return "\n".join(lines) + "\n"


def dat(runs):
    # N, then the peak TPS of each shown API for each profile in PROFILES' order; 0 -> NaN.
    rows = {}
    for r in runs:
        by = {a["api"]: a["peak_tps"] for a in r["apis"]}
        col = PROFILES.index(profile(r))
        row = rows.setdefault(r["tasks"], [["NaN"] * len(SHOWN) for _ in PROFILES])
        row[col] = [by[a] or "NaN" for a in SHOWN]
    names = ["full", "health", "counters"]
    out = ["# N " + " ".join(f"{p}_{a}" for p in names for a in SHOWN)]
    for n in sorted(rows):
        out.append(" ".join(str(x) for x in [n, *[v for col in rows[n] for v in col]]))
    return "\n".join(out) + "\n"


def main():
    src, md, dat_path = sys.argv[1:4]
    runs = [json.loads(line) for line in open(src) if line.strip()]
    open(md, "w").write(table(runs))
    open(dat_path, "w").write(dat(runs))
    for r in runs:
        if r["tasks"] == TARGET_N:
            print(f"N={TARGET_N} {profile(r)}: target {'met' if target(r) else 'MISSED'}")


if __name__ == "__main__":
    main()
