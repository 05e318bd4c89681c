#!/usr/bin/env bash
# bench/processes.sh — `credcheck processes` over N processes (issue 23): N `sleep` processes
# in a PID namespace of their own (unshare --pid --fork --mount-proc, root), each with one of
# 10 environments, then credcheck processes --no-sts --format json R times; prints the median
# and worst wall time and the counts the report gives. Loopback only: the environments name no
# endpoint (AWS_EC2_METADATA_DISABLED=true), so the walks make no request.
#   bench/processes.sh [N=1000] [R=11] [BIN=target/x86_64-unknown-linux-gnu/release/credcheck]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N="${1:-1000}" R="${2:-11}" BIN="$(realpath "${3:-target/x86_64-unknown-linux-gnu/release/credcheck}")"
exec unshare --pid --fork --mount-proc --kill-child /bin/bash -s "$N" "$R" "$BIN" <<'INNER'
set -euo pipefail
N="$1" R="$2" BIN="$3"
for i in $(seq "$N"); do
    env -i AWS_EC2_METADATA_DISABLED=true AWS_REGION="eu-west-$((i % 10))" sleep 600 &
done
# Every sleep has exec'd once /proc shows N processes named sleep.
until [ "$(grep -l '^sleep$' /proc/[0-9]*/comm 2>/dev/null | wc -l)" -ge "$N" ]; do :; done
times=()
for _ in $(seq "$R"); do
    start=$(date +%s%N)
    env -i AWS_EC2_METADATA_DISABLED=true "$BIN" processes --no-sts --format json >/tmp/credcheck-processes.json || true
    times+=($(( ($(date +%s%N) - start) / 1000000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
python3 - "$N" "${sorted[$((R / 2))]}" "${sorted[$((R - 1))]}" <<'PY'
import json, sys
n, median, worst = sys.argv[1:]
p = json.load(open("/tmp/credcheck-processes.json"))["processes"]
print(f"credcheck processes, {n} processes: median {median} ms, worst {worst} ms; read {p['read']}, "
      f"environments {p['environments']}, network fetches {p['network_fetches']}, sts calls {p['sts_calls']}, "
      f"exited {p['exited']}, not read {p['not_read']}, sdk not read {p['sdk_not_read']}")
PY
INNER
