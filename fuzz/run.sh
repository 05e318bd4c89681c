#!/usr/bin/env bash
# Runs each fuzz target in turn on the stable toolchain (RUSTC_BOOTSTRAP=1 lets stable rustc
# take cargo-fuzz's -Zsanitizer flag), seeded from seeds/<target>/, for SECONDS_EACH seconds.
# New inputs go to corpus/<target>/ (ignored by git), crashes to artifacts/<target>/, the
# libFuzzer logs to artifacts/<target>.<n>.log.
#
# CHUNK=<seconds> restarts the fuzzer every CHUNK seconds on the same corpus. json_creds needs
# it: every parsed key and secret is registered with credcheck's process-wide scrub list,
# which never shrinks, so one long-lived process slows down as it grows (see README.md).
#
# Usage: fuzz/run.sh [SECONDS_EACH] [TARGET...]      e.g. CHUNK=60 fuzz/run.sh 600 json_creds
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(json_creds full_uri jwt_claims masking)
chunk=${CHUNK:-$seconds}
export RUSTC_BOOTSTRAP=1
cargo fuzz build
mkdir -p artifacts
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== $t: ${seconds}s in runs of ${chunk}s"
    left=$seconds n=0 execs=0
    while [ "$left" -gt 0 ]; do
        n=$((n + 1))
        run=$((left < chunk ? left : chunk))
        log="artifacts/$t.$n.log"
        cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
            -max_total_time="$run" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
            >"$log" 2>&1 || { echo "   run $n: exit $? (see $log)"; break; }
        { grep -E '^#[0-9]+[[:space:]]+DONE' "$log" || true; } | cut -c1-120 | sed "s/^/   run $n: /"
        execs=$((execs + $(sed -n 's/^stat::number_of_executed_units: *//p' "$log")))
        left=$((left - run))
    done
    echo "   $execs executions; corpus $(ls "corpus/$t" | wc -l) files; crashes $(ls "artifacts/$t" | wc -l)"
done
