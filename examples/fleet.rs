//! A fleet of `credcheck health` checks against a model of the AWS account's API quotas
//! (issue 16). Drives the binary's own decision code, `credcheck::health::cache`, on a virtual
//! clock: no network, no files, no sleeping.
//!
//! The model:
//! - N tasks start at random times over the first 5 minutes and run the health check every
//!   30 s until the horizon; each keeps its own state (its own tmpfs), as a sidecar would;
//! - each API has a token bucket per account and Region: refilled at the quota's rate,
//!   holding one second of it (the burst); a call that finds it empty is throttled;
//! - a step sends the calls of its profile: a refresh is one PutLogEvents (the too-old
//!   event); a full probe sends the calls listed in `--full`;
//! - at `--change-at` the role's policy changes: PutLogEvents is denied from then on, and a
//!   task has seen the change once its verdict is unhealthy.
//!
//! Usage: `fleet --tasks N [--every 10m] [--interval 30s] [--horizon 2h] [--change-at 1h]
//! [--full describe,put,create-stream] [--seed 1]`; prints one JSON object.

use credcheck::health::cache::{self as cache, AfterRefresh, Answer, Entry, Key, Step, Verdict};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The APIs of the model, with their quota (TPS per account and Region) and its source.
const APIS: [(&str, f64, &str); 6] = [
    (
        "DescribeLogStreams",
        5.0,
        "CloudWatch Logs quotas page and API reference: 5 TPS",
    ),
    (
        "CreateLogStream",
        50.0,
        "CloudWatch Logs quotas page and API reference: 50 TPS",
    ),
    ("CreateLogGroup", 5.0, "CloudWatch Logs quotas page: 5 TPS"),
    (
        "PutLogEvents",
        800.0,
        "CloudWatch Logs quota table: 800 TPS in ap-northeast-1 and 9 other Regions, 1,500 elsewhere (the lowest)",
    ),
    (
        "SimulatePrincipalPolicy",
        5.0,
        "IAM publishes no figure: assumed 5 TPS",
    ),
    (
        "GetCallerIdentity",
        100.0,
        "STS publishes no figure: assumed 100 TPS",
    ),
];
const PUT: usize = 3;
const DESCRIBE: usize = 0;

struct Bucket {
    rate: f64,
    tokens: f64,
    at_ms: u64,
}

impl Bucket {
    fn take(&mut self, now_ms: u64) -> bool {
        let dt = now_ms.saturating_sub(self.at_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + dt * self.rate).min(self.rate);
        self.at_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        false
    }
}

struct Account {
    buckets: Vec<Bucket>,
    /// Calls sent per API per second of the run (throttled ones included: they were sent).
    per_second: Vec<Vec<u32>>,
    throttled: Vec<u64>,
    change_at_ms: u64,
}

impl Account {
    fn call(&mut self, api: usize, now_ms: u64) -> bool {
        let second = (now_ms / 1000) as usize;
        if let Some(n) = self.per_second[api].get_mut(second) {
            *n += 1;
        }
        let ok = self.buckets[api].take(now_ms);
        if !ok {
            self.throttled[api] += 1;
        }
        ok
    }

    /// The too-old PutLogEvents, as the cache compares it.
    fn put(&mut self, now_ms: u64) -> Answer {
        match (self.call(PUT, now_ms), now_ms >= self.change_at_ms) {
            (false, _) => Answer::Throttled,
            (true, false) => Answer::Seen("ok too-old".into()),
            (true, true) => Answer::Seen("denied implicit".into()),
        }
    }
}

struct Config {
    tasks: usize,
    every: Duration,
    interval_ms: u64,
    horizon_ms: u64,
    change_at_ms: u64,
    full: Vec<usize>,
    seed: u64,
    /// `--counters on`: the routers publish their counters (HTTP_Server On); until the
    /// change they prove delivery, so a check sends nothing (`health::cache::after_counters`).
    counters: bool,
}

/// splitmix64: a reproducible stream of random numbers for the start times.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn clock(ms: u64) -> SystemTime {
    // A fixed origin; the sub-millisecond part differs per task (its own start), as real
    // clocks do, which is what spreads the jitter across a fleet.
    UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_millis(ms)
}

struct Task {
    key: Key,
    nanos: u32,
    entry: Option<Entry>,
    seen_change_ms: Option<u64>,
}

/// One full probe: the profile's calls; the verdict follows the PutLogEvents answer. After a
/// refresh whose answer changed, that answer is the probe's (PutLogEvents is not sent twice).
fn full_probe(
    cfg: &Config,
    acct: &mut Account,
    task: &Task,
    now_ms: u64,
    known: Option<Answer>,
) -> Entry {
    let mut put = known.clone();
    let healthy = now_ms < acct.change_at_ms;
    for &api in &cfg.full {
        if api == PUT {
            if known.is_none() {
                put = Some(acct.put(now_ms));
            }
        } else if healthy || api == DESCRIBE {
            // Create* is sent only once PutLogEvents proved the names exist (plan::next_call).
            acct.call(api, now_ms);
        }
    }
    let verdict = Verdict {
        healthy,
        line: if healthy {
            "logs ok"
        } else {
            "logs:PutLogEvents denied"
        }
        .into(),
    };
    let now = clock(now_ms) + Duration::from_nanos(task.nanos as u64);
    cache::after_probe(
        &task.key,
        task.entry.as_ref(),
        verdict,
        put.as_ref(),
        now,
        cfg.every,
    )
}

/// One health check of one task: the same steps as `credcheck health`.
fn check(cfg: &Config, acct: &mut Account, task: &mut Task, now_ms: u64) {
    let now = clock(now_ms) + Duration::from_nanos(task.nanos as u64);
    if cfg.counters && now_ms < acct.change_at_ms {
        if let Some(e) = cache::after_counters(&task.key, task.entry.as_ref(), now, cfg.every) {
            task.entry = Some(e);
        }
        return;
    }
    let entry = match cache::next_step(task.entry.as_ref(), now) {
        Step::Reuse => return,
        Step::Probe => full_probe(cfg, acct, task, now_ms, None),
        Step::Refresh => {
            let current = task
                .entry
                .clone()
                .unwrap_or_else(|| unreachable_entry(task));
            let answer = acct.put(now_ms);
            match cache::after_refresh(&current, &answer, now, cfg.every) {
                AfterRefresh::Keep(kept) => *kept,
                AfterRefresh::Probe => full_probe(cfg, acct, task, now_ms, Some(answer)),
            }
        }
    };
    if !entry.verdict.healthy && task.seen_change_ms.is_none() {
        task.seen_change_ms = Some(now_ms);
    }
    task.entry = Some(entry);
}

fn unreachable_entry(task: &Task) -> Entry {
    panic!("a refresh without an entry for {:?}", task.key)
}

struct Outcome {
    acct: Account,
    worst_age_ms: u64,
    worst_seen_ms: u64,
    unseen: usize,
    checks: u64,
}

fn simulate(cfg: &Config) -> Outcome {
    let seconds = (cfg.horizon_ms / 1000 + 2) as usize;
    let mut acct = Account {
        buckets: APIS
            .iter()
            .map(|(_, q, _)| Bucket {
                rate: *q,
                tokens: *q,
                at_ms: 0,
            })
            .collect(),
        per_second: APIS.iter().map(|_| vec![0; seconds]).collect(),
        throttled: vec![0; APIS.len()],
        change_at_ms: cfg.change_at_ms,
    };
    let mut rng = cfg.seed;
    let mut tasks: Vec<Task> = Vec::with_capacity(cfg.tasks);
    let mut heap = BinaryHeap::with_capacity(cfg.tasks);
    for i in 0..cfg.tasks {
        let start = splitmix(&mut rng) % 300_000;
        let nanos = (splitmix(&mut rng) % 1_000_000) as u32;
        tasks.push(Task {
            key: Key {
                role: "arn:aws:iam::123456789012:role/firelens".into(),
                region: "ap-northeast-1".into(),
                group: "/ecs/logs/sample-test".into(),
                stream: format!("firelens-{i}"),
                plugin: "cloudwatch_logs".into(),
            },
            nanos,
            entry: None,
            seen_change_ms: None,
        });
        heap.push(Reverse((start, i)));
    }
    let (mut worst_age_ms, mut checks) = (0, 0);
    while let Some(Reverse((now_ms, i))) = heap.pop() {
        if now_ms > cfg.horizon_ms {
            break;
        }
        check(cfg, &mut acct, &mut tasks[i], now_ms);
        checks += 1;
        if let Some(e) = &tasks[i].entry {
            let age = cache::millis(clock(now_ms)).saturating_sub(e.checked_at_ms);
            worst_age_ms = worst_age_ms.max(age);
        }
        heap.push(Reverse((now_ms + cfg.interval_ms, i)));
    }
    let seen: Vec<u64> = tasks.iter().filter_map(|t| t.seen_change_ms).collect();
    let worst_seen_ms = seen.iter().map(|s| s - cfg.change_at_ms).max().unwrap_or(0);
    Outcome {
        unseen: tasks.len() - seen.len(),
        acct,
        worst_age_ms,
        worst_seen_ms,
        checks,
    }
}

fn report(cfg: &Config, o: &Outcome) -> serde_json::Value {
    let secs = cfg.horizon_ms as f64 / 1000.0;
    let apis: Vec<serde_json::Value> = APIS
        .iter()
        .enumerate()
        .map(|(i, (name, quota, source))| {
            let counts = &o.acct.per_second[i];
            let total: u64 = counts.iter().map(|n| *n as u64).sum();
            let peak = counts.iter().copied().max().unwrap_or(0);
            let peak_at = counts.iter().position(|n| *n == peak).unwrap_or(0);
            serde_json::json!({
                "api": name, "quota_tps": quota, "quota_source": source,
                "calls": total, "peak_tps": peak, "peak_at_s": peak_at, "mean_tps": total as f64 / secs,
                "peak_share_of_quota": peak as f64 / quota, "throttled": o.acct.throttled[i],
            })
        })
        .collect();
    let full: Vec<&str> = cfg.full.iter().map(|i| APIS[*i].0).collect();
    serde_json::json!({
        "tasks": cfg.tasks, "probe_every_s": cfg.every.as_secs(),
        "interval_s": cfg.interval_ms / 1000, "horizon_s": cfg.horizon_ms / 1000,
        "change_at_s": cfg.change_at_ms / 1000, "full_probe": full, "counters": cfg.counters,
        "checks": o.checks,
        "apis": apis,
        "worst_verdict_age_s": o.worst_age_ms as f64 / 1000.0,
        "worst_change_seen_after_s": o.worst_seen_ms as f64 / 1000.0,
        "tasks_that_missed_the_change": o.unseen,
        "bound_s": (cfg.every.as_secs_f64() * 1.2) + cfg.interval_ms as f64 / 1000.0,
    })
}

fn api_index(name: &str) -> Result<usize, String> {
    let wanted = match name {
        "describe" => "DescribeLogStreams",
        "put" => "PutLogEvents",
        "create-stream" => "CreateLogStream",
        "create-group" => "CreateLogGroup",
        "simulate" => "SimulatePrincipalPolicy",
        "sts" => "GetCallerIdentity",
        other => return Err(format!("unknown API {other:?} in --full")),
    };
    Ok(APIS
        .iter()
        .position(|(n, _, _)| *n == wanted)
        .unwrap_or(PUT))
}

fn parse(args: &[String]) -> Result<Config, String> {
    let mut flags: HashMap<&str, &str> = HashMap::new();
    for pair in args.chunks(2) {
        match pair {
            [k, v] => flags.insert(k.as_str(), v.as_str()),
            _ => return Err(format!("{} needs a value", pair[0])),
        };
    }
    let dur = |k: &str, d: &str| {
        humantime::parse_duration(flags.get(k).copied().unwrap_or(d))
            .map_err(|e| format!("{k}: {e}"))
    };
    let full = flags
        .get("--full")
        .copied()
        .unwrap_or("describe,put,create-stream");
    Ok(Config {
        tasks: flags
            .get("--tasks")
            .copied()
            .unwrap_or("1000")
            .parse()
            .map_err(|e| format!("--tasks: {e}"))?,
        every: dur("--every", "10m")?,
        interval_ms: dur("--interval", "30s")?.as_millis() as u64,
        horizon_ms: dur("--horizon", "2h")?.as_millis() as u64,
        change_at_ms: dur("--change-at", "1h")?.as_millis() as u64,
        full: full.split(',').map(api_index).collect::<Result<_, _>>()?,
        seed: flags
            .get("--seed")
            .copied()
            .unwrap_or("1")
            .parse()
            .map_err(|e| format!("--seed: {e}"))?,
        counters: flags.get("--counters").copied() == Some("on"),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args) {
        Ok(cfg) => println!("{}", report(&cfg, &simulate(&cfg))),
        Err(e) => {
            eprintln!("fleet: {e}");
            std::process::exit(2);
        }
    }
}
