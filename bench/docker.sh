#!/usr/bin/env bash
# bench/docker.sh — credcheck in containers (issue 3), one command:
#
#   bench/docker.sh [RUNS]        # default 11 runs per row; prints medians (ms)
#
# Measures, on the same lab as tests/docker.rs (nothing is pulled: every image is built
# FROM scratch from this build's static binaries):
#   - the size of the scratch image (docker/Dockerfile.scratch);
#   - the time from `docker run` to the app's first stdout line, with the wrapper
#     (docker/Dockerfile.wrapper-example: report + STS, and with CREDCHECK_NO_STS=1) and
#     without it (the same image, --entrypoint /app/server);
#   - `credcheck health` with and without --sts, run in the app container by `docker exec`:
#     the wall time of the exec, credcheck's own elapsed_ms, and, for reference, the wall
#     time of `docker exec` running the app binary (the exec overhead alone).
#
# The lab: an --internal Docker network 169.254.170.0/24 (gateway 169.254.170.1 = this
# host), examples/fake_peer as the ECS agent at 169.254.170.2:80, moto (from the venv made by
# scripts/test) on 169.254.170.1 as STS, serving credentials moto issued for my-task-role.
# Traffic stays on that network; containers get AWS_EC2_METADATA_DISABLED=true. The subnet
# can exist once per engine: while tests/docker.rs holds it, this waits (on Docker's network
# removal events, 10 minutes at most). Everything it creates is labelled credcheck.bench=<run>
# and removed on exit. Needs docker, curl, jq, and the venv with moto (scripts/test).
set -euo pipefail

RUNS="${1:-11}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CREDCHECK_VENV:-$ROOT/.venv}"
REL="$ROOT/target/x86_64-unknown-linux-gnu/release"
RUN="credcheck-bench-$$"
SUBNET=169.254.170.0/24
GATEWAY=169.254.170.1
AGENT=169.254.170.2
ECS_PATH=/v2/credentials/0f4b2f53-9a1e-4c36-8d7b-2f6c1e0b7a55
ROLE=my-task-role
ROLE_ARN="arn:aws:iam::123456789012:role/$ROLE"
MOTO_PID=""

# The docker CLI with a clean environment, except what chooses the engine; classic builder
# (resolves FROM <local tag> without a registry).
d() {
    env -i PATH="$PATH" DOCKER_BUILDKIT=0 \
        ${DOCKER_HOST:+DOCKER_HOST="$DOCKER_HOST"} ${DOCKER_CONTEXT:+DOCKER_CONTEXT="$DOCKER_CONTEXT"} \
        ${DOCKER_CONFIG:+DOCKER_CONFIG="$DOCKER_CONFIG"} docker "$@"
}

cleanup() {
    local ids
    ids="$(d ps -aq --filter "label=credcheck.bench=$RUN" 2>/dev/null || true)"
    [[ -n "$ids" ]] && d rm -f -v $ids >/dev/null 2>&1
    d network rm "$RUN" >/dev/null 2>&1 || true
    ids="$(d images --filter "label=credcheck.bench=$RUN" --format '{{.Repository}}:{{.Tag}}' 2>/dev/null || true)"
    [[ -n "$ids" ]] && d rmi -f $ids >/dev/null 2>&1
    [[ -n "$MOTO_PID" ]] && kill "$MOTO_PID" 2>/dev/null
    [[ -n "${CTX:-}" ]] && rm -rf "$CTX"
    return 0
}
trap cleanup EXIT

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }

# build TAG DOCKERFILE [FILE...] [-- BUILD_ARG...]: a FROM scratch image from local files.
build() {
    local tag="$1" dockerfile="$2"; shift 2
    local ctx="$CTX/$tag" args=()
    mkdir -p "$ctx"
    while [[ $# -gt 0 && "$1" != "--" ]]; do cp "$1" "$ctx/"; shift; done
    [[ $# -gt 0 ]] && shift
    for a in "$@"; do args+=(--build-arg "$a"); done
    d build -q --label "credcheck.bench=$RUN" -t "$RUN:$tag" -f "$dockerfile" "${args[@]}" "$ctx" >/dev/null 2>&1 \
        || { echo "docker build $tag failed" >&2; exit 1; }
}

build_images() {
    (cd "$ROOT" && cargo build --release --quiet --bin credcheck --example fake_peer --example test_app)
    CTX="$(mktemp -d)"
    build credcheck "$ROOT/docker/Dockerfile.scratch" "$REL/credcheck"
    printf 'FROM scratch\nCOPY fake_peer /fake_peer\nENTRYPOINT ["/fake_peer"]\n' >"$CTX/agent.Dockerfile"
    build agent "$CTX/agent.Dockerfile" "$REL/examples/fake_peer"
    printf 'FROM scratch\nCOPY test_app /app/server\nCMD ["/app/server"]\n' >"$CTX/app.Dockerfile"
    build app "$CTX/app.Dockerfile" "$REL/examples/test_app"
    build wrapped "$ROOT/docker/Dockerfile.wrapper-example" -- \
        "CREDCHECK_IMAGE=$RUN:credcheck" "APP_IMAGE=$RUN:app"
}

# The lab network; while another lab holds the subnet (tests/docker.rs), wait for a network
# removal event and retry (at most 10 minutes).
create_network() {
    local since err fd pid line deadline=$(( $(date +%s) + 600 ))
    while :; do
        since="$(date +%s.%N)"
        err="$(d network create --internal --subnet "$SUBNET" --gateway "$GATEWAY" \
            --label "credcheck.bench=$RUN" "$RUN" 2>&1 >/dev/null)" && return 0
        [[ "$err" == *overlap* && $(date +%s) -lt $deadline ]] || { echo "$err" >&2; exit 1; }
        echo "bench/docker.sh: $SUBNET is taken (tests/docker.rs running?); waiting for its removal" >&2
        exec {fd}< <(exec env -i PATH="$PATH" docker events --since "$since" --filter type=network --filter event=destroy)
        pid=$!
        read -r -t 600 -u "$fd" line || true
        kill "$pid" 2>/dev/null || true
        exec {fd}<&-
    done
}

start_moto() {
    local line fd
    exec {fd}< <(exec env -i PATH="$VENV/bin:/usr/bin:/bin" HOME="$CTX" "$VENV/bin/moto_server" -H "$GATEWAY" -p 0 2>&1)
    MOTO_PID=$!
    while read -r -t 60 -u "$fd" line; do
        if [[ "$line" == *"Running on http://"* ]]; then MOTO_PORT="${line##*:}"; break; fi
    done
    [[ -n "${MOTO_PORT:-}" ]] || { echo "moto_server did not start" >&2; exit 1; }
    cat <&"$fd" >/dev/null &
    STS_URL="http://$GATEWAY:$MOTO_PORT"
}

# moto SERVICE FORM...: a Query-API POST with an unsigned SigV4 header (moto does not verify).
moto() {
    local service="$1"; shift
    local amz zeros form=()
    amz="$(date -u +%Y%m%dT%H%M%SZ)"
    zeros="$(printf '0%.0s' {1..64})"
    for kv in "$@"; do form+=(--data-urlencode "$kv"); done
    curl -sS --fail --noproxy '*' --max-time 10 "$STS_URL/" \
        -H "X-Amz-Date: $amz" \
        -H "Authorization: AWS4-HMAC-SHA256 Credential=AKIAMOTOADMIN0000001/${amz:0:8}/us-east-1/$service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=$zeros" \
        "${form[@]}"
}

xml() { grep -o "<$1>[^<]*" | head -1 | cut -d'>' -f2; }

start_agent() {
    local policy xml_out line fd pid
    policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}'
    moto iam Action=CreateRole Version=2010-05-08 "RoleName=$ROLE" "AssumeRolePolicyDocument=$policy" >/dev/null
    xml_out="$(moto sts Action=AssumeRole Version=2011-06-15 "RoleArn=$ROLE_ARN" RoleSessionName=bench)"
    d run -d --name "$RUN-agent" --label "credcheck.bench=$RUN" --network "$RUN" --ip "$AGENT" "$RUN:agent" \
        --bind "$AGENT:80" --ecs-path "$ECS_PATH" --role-arn "$ROLE_ARN" \
        --akid "$(xml AccessKeyId <<<"$xml_out")" --secret "$(xml SecretAccessKey <<<"$xml_out")" \
        --session-token "$(xml SessionToken <<<"$xml_out")" >/dev/null
    exec {fd}< <(exec env -i PATH="$PATH" docker logs -f "$RUN-agent")
    pid=$!
    read -r -t 30 -u "$fd" line || true
    kill "$pid" 2>/dev/null || true
    exec {fd}<&-
    [[ "$line" == "listening on "* ]] || { echo "the agent did not start: $line" >&2; exit 1; }
}

APP_ENV=()
set_app_env() {
    APP_ENV=(--network "$RUN" --label "credcheck.bench=$RUN"
        -e "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=$ECS_PATH" -e AWS_EC2_METADATA_DISABLED=true
        -e "AWS_ENDPOINT_URL_STS=$STS_URL" -e AWS_REGION=us-east-1)
}

# first_line_ms DOCKER_RUN_ARGS...: ms from `docker run` to the app's first stdout line.
# The container's stderr (the wrapper's report) is left in $CTX/stderr.
first_line_ms() {
    local t0 line fd ms
    t0="$(now_ns)"
    exec {fd}< <(exec env -i PATH="$PATH" DOCKER_BUILDKIT=0 docker run --rm "${APP_ENV[@]}" "$@" 2>"$CTX/stderr")
    read -r -t 30 -u "$fd" line || true
    ms="$(ms_since "$t0")"
    cat <&"$fd" >/dev/null
    exec {fd}<&-
    [[ "$line" == "app-started pid=1" ]] || { echo "unexpected first line: $line" >&2; exit 1; }
    echo "$ms"
}

# The wrapper report's own elapsed_ms, from the last first_line_ms run (CREDCHECK_FORMAT=json).
report_elapsed() { grep '^{"schema_version"' "$CTX/stderr" | jq -r .elapsed_ms; }

# show LABEL VALUE...: the median and the values.
show() {
    local label="$1"; shift
    printf '%-58s %8s ms   (runs: %s)\n' "$label" "$(printf '%s\n' "$@" | median)" "$*"
}

# row LABEL CMD...: run CMD (which prints one number) RUNS times after one warm-up; the median.
row() {
    local label="$1" values=(); shift
    "$@" >/dev/null
    for _ in $(seq "$RUNS"); do values+=("$("$@")"); done
    show "$label" "${values[@]}"
}

# The three ways to start the app, interleaved round by round (the engine's speed drifts).
startup_rows() {
    local img="$RUN:wrapped" json=(-e CREDCHECK_FORMAT=json) plain=() wrap=() nosts=() wrap_self=() nosts_self=()
    first_line_ms --entrypoint /app/server "$img" --exit 0 >/dev/null
    first_line_ms "${json[@]}" "$img" /app/server --exit 0 >/dev/null
    for _ in $(seq "$RUNS"); do
        plain+=("$(first_line_ms --entrypoint /app/server "$img" --exit 0)")
        wrap+=("$(first_line_ms "${json[@]}" "$img" /app/server --exit 0)")
        wrap_self+=("$(report_elapsed)")
        nosts+=("$(first_line_ms "${json[@]}" -e CREDCHECK_NO_STS=1 "$img" /app/server --exit 0)")
        nosts_self+=("$(report_elapsed)")
    done
    show "docker run → first line, no wrapper" "${plain[@]}"
    show "docker run → first line, wrapper (report + STS)" "${wrap[@]}"
    show "  the wrapper report's own elapsed_ms" "${wrap_self[@]}"
    show "docker run → first line, wrapper, CREDCHECK_NO_STS=1" "${nosts[@]}"
    show "  the wrapper report's own elapsed_ms" "${nosts_self[@]}"
}

exec_ms() {
    local t0
    t0="$(now_ns)"
    d exec "$RUN-app" "$@" >/dev/null 2>&1 || true
    ms_since "$t0"
}

# credcheck's own elapsed_ms from `health --format json` (the whole report as JSON).
health_elapsed() {
    d exec "$RUN-app" /credcheck health --expect-role "$ROLE" --format json "$@" 2>/dev/null | jq -r .elapsed_ms
}

main() {
    build_images
    create_network
    start_moto
    start_agent
    set_app_env
    local size
    size="$(d image inspect --format '{{.Size}}' "$RUN:credcheck")"
    printf '%-58s %8s bytes (%s MB); binary %s bytes\n' "scratch image (docker/Dockerfile.scratch)" "$size" \
        "$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1e6 }')" "$(stat -c %s "$REL/credcheck")"
    echo "medians of $RUNS runs (one warm-up run each):"
    startup_rows
    d run -d --name "$RUN-app" "${APP_ENV[@]}" "$RUN:wrapped" >/dev/null
    [[ "$(d exec "$RUN-app" /credcheck health --expect-role "$ROLE")" == healthy:* ]] || { echo "not healthy" >&2; exit 1; }
    [[ "$(d exec "$RUN-app" /credcheck health --expect-role "$ROLE" --sts)" == healthy:* ]] || { echo "not healthy with --sts" >&2; exit 1; }
    row "docker exec /app/server --exit 0 (exec overhead)" exec_ms /app/server --exit 0
    row "docker exec credcheck health (wall)" exec_ms /credcheck health --expect-role "$ROLE"
    row "docker exec credcheck health --sts (wall)" exec_ms /credcheck health --expect-role "$ROLE" --sts
    row "credcheck health, its own elapsed_ms" health_elapsed
    row "credcheck health --sts, its own elapsed_ms" health_elapsed --sts
}

main
