//! `credcheck health --logs-to GROUP:STREAM`, `--fluent-bit-config PATH` or `--firelens` at fleet scale
//! (issue 16): the logs verdict is cached per key in the state dir (`verdict_cache` decides when), and the health check sends
//! CloudWatch Logs at most one call per refresh, the too-old PutLogEvents: the exact action on
//! the exact stream, which both plugins call on every flush. DescribeLogStreams, Create* and
//! the simulator are never sent on that path, since their quotas (5 and 50 TPS per account)
//! cannot carry a fleet's health checks (README, "Scale"). Only an answer that proves neither
//! allowed nor denied (a missing group or stream, a failure) runs the full probe, to explain
//! (for a config's output: with its region, plugin and auto_create_group, and the endpoint of
//! the environment rather than the output's own).
//! Reads (through `Env`): `XDG_RUNTIME_DIR`; the endpoint variables through `probe::aws`.

use crate::error::Error;
use crate::notes::Note;
use crate::probe::plan::{self, Answer, Call, Target};
use crate::probe::verdict::{Basis, Delivery, LogOutput, Permission, Verdict};
use crate::probe::{self, aws, logs, Ctx, Findings, Request, Subject};
use crate::settings::Settings;
use crate::verdict_cache::{self as cache, AfterRefresh, Distrust, Entry, Key, Loaded, Step};
use crate::warning::Warning;
use std::time::{Duration, SystemTime};

/// The codes this module adds; the health line repeats them once (`health_clause`).
pub const CACHED: &str = "logs-verdict-cached";
pub const THROTTLED: &str = "logs-verdict-throttled";
pub const UNTRUSTED: &str = "logs-state-untrusted";
pub const READ_ONLY: &str = "logs-state-read-only";
const OK_TOO_OLD: &str = "ok too-old";

/// Whether the cached path applies: health mode with `--logs-to GROUP:STREAM`,
/// `--fluent-bit-config` or `--firelens` targets only (not `--can` or `--simulate`, which ask
/// for other actions or for IAM's answer, and run the full probe every time).
pub fn applies(settings: &Settings) -> bool {
    let r = &settings.probe;
    settings.is_health()
        && (!r.logs_to.is_empty() || !r.configs.is_empty() || r.firelens)
        && r.logs_to.iter().all(|(_, stream)| !stream.is_empty())
        && r.can.is_empty()
        && !r.simulate
}

/// Who the probe runs as (a full probe is built again from it for one target), and the role
/// the state is keyed by.
pub struct Who<'a> {
    pub subject: Subject<'a>,
    /// The key's role: the role ARN, else the caller ARN, else `unknown`.
    pub role: String,
}

struct State {
    /// Opened once, before any request, and used for every read and write (`StateDir`).
    dir: Result<cache::StateDir, Distrust>,
    every: Duration,
}

/// Runs the cached logs check for every `--logs-to` target and every config or FireLens
/// output (found as the full probe finds them: `probe::gather_targets`).
pub async fn run(settings: &Settings, ctx: &Ctx<'_>, who: Who<'_>) -> Findings {
    let uid = cache::euid();
    let path = cache::state_dir(settings.state_dir.as_deref(), ctx.env, uid);
    let state = State {
        dir: match uid {
            Some(uid) => cache::StateDir::open(&path, uid),
            None => Err(Distrust::Dir("credcheck's uid is unknown".into())),
        },
        every: settings.probe_every,
    };
    let mut f = Findings::default();
    for t in probe::gather_targets(&settings.probe, ctx, &who.subject, &mut f).await {
        one(ctx, &who, &state, &t, &mut f).await;
    }
    f
}

fn key(who: &Who<'_>, t: &Target) -> Key {
    Key {
        role: who.role.clone(),
        region: t.region.clone(),
        group: t.group.clone(),
        stream: t.stream.clone(),
        plugin: t.plugin.name().into(),
    }
}

async fn one(ctx: &Ctx<'_>, who: &Who<'_>, state: &State, t: &Target, f: &mut Findings) {
    let key = key(who, t);
    let now = ctx.env.now();
    let (prev, dir_ok) = load(state, &key, now, f);
    let entry = match cache::next_step(prev.as_ref(), now) {
        Step::Reuse => prev.clone(),
        Step::Refresh => refresh(ctx, who, state, t, prev.as_ref(), f).await,
        Step::Probe => fresh(ctx, who, state, t, prev.as_ref(), None, f).await,
    };
    let Some(entry) = entry else { return };
    if prev.as_ref() == Some(&entry) {
        f.notes.push(Note {
            code: CACHED,
            message: cache::age_note(&entry, now),
        });
    } else if dir_ok {
        save(state, &entry, f);
    }
    if !f
        .outputs
        .iter()
        .any(|o| o.group == t.group && o.stream == t.stream)
    {
        rebuild(t, who, &entry, f);
    }
}

/// The stored entry, if one can be trusted; whether the directory may be written.
fn load(state: &State, key: &Key, now: SystemTime, f: &mut Findings) -> (Option<Entry>, bool) {
    let dir = match &state.dir {
        Ok(dir) => dir,
        Err(d) => {
            untrusted(f, d);
            return (None, false);
        }
    };
    match dir.load(key, now, state.every) {
        Loaded::Found(e) => (Some(e), true),
        Loaded::Missing => (None, true),
        Loaded::Distrusted(d) => {
            let dir_ok = !matches!(d, Distrust::Dir(_));
            untrusted(f, &d);
            (None, dir_ok)
        }
    }
}

fn untrusted(f: &mut Findings, d: &Distrust) {
    let (code, hint) = match d {
        Distrust::ReadOnly(_) => (READ_ONLY, "mount a tmpfs or a volume at the state dir (docker run --tmpfs /tmp), or pass --state-dir DIR"),
        _ => (UNTRUSTED, "remove the file or point --state-dir at a directory of credcheck's own user (mode 0700)"),
    };
    if !f.warnings.iter().any(|w| w.code == code) {
        f.warnings.push(Warning::new(code, d.to_string(), hint));
    }
}

fn save(state: &State, entry: &Entry, f: &mut Findings) {
    if let Some(Err(d)) = state.dir.as_ref().ok().map(|dir| dir.save(entry)) {
        untrusted(f, &d);
    }
}

async fn put(ctx: &Ctx<'_>, who: &Who<'_>, t: &Target) -> Option<(Answer, Option<Error>)> {
    let region = crate::region::Region::parse(&t.region, &t.from).ok()?;
    let endpoint = aws::logs_endpoint(ctx.env, &region, t.endpoint.as_deref()).ok()?;
    let site = logs::Site {
        client: ctx.client,
        creds: who.subject.creds,
        endpoint: &endpoint,
        budget: ctx.budget,
        now: ctx.env.now(),
        group: &t.group,
        stream: &t.stream,
    };
    Some(logs::call(&site, Call::PutTooOld).await)
}

/// The answer as the cache compares it.
fn fingerprint(answer: &Answer) -> cache::Answer {
    cache::Answer::Seen(match answer {
        Answer::Ok { too_old: true, .. } => OK_TOO_OLD.into(),
        Answer::Ok { .. } => "ok stored".into(),
        Answer::Denied(r) => format!("denied {}", r.name()),
        Answer::NotFound => "not-found".into(),
        Answer::AlreadyExists => "already-exists".into(),
        Answer::Failed(_) => "failed".into(),
        Answer::Throttled => return cache::Answer::Throttled,
    })
}

async fn refresh(
    ctx: &Ctx<'_>,
    who: &Who<'_>,
    state: &State,
    t: &Target,
    prev: Option<&Entry>,
    f: &mut Findings,
) -> Option<Entry> {
    let prev_entry = prev?;
    let Some(answer) = put(ctx, who, t).await else {
        return fresh(ctx, who, state, t, prev, None, f).await;
    };
    match cache::after_refresh(
        prev_entry,
        &fingerprint(&answer.0),
        ctx.env.now(),
        state.every,
    ) {
        AfterRefresh::Keep(kept) => {
            if kept.throttled {
                throttled(f);
            }
            Some(*kept)
        }
        AfterRefresh::Probe => fresh(ctx, who, state, t, prev, Some(answer), f).await,
    }
}

fn throttled(f: &mut Findings) {
    f.warnings.push(Warning::new(
        THROTTLED,
        format!(
            "logs:PutLogEvents is {} this time; the last verdict stands",
            cache::THROTTLED
        ),
        "health never retries a throttled call; the next refresh is after --probe-every",
    ));
}

/// A verdict from a PutLogEvents answer (`known`: the refresh's, so it is not sent twice).
async fn fresh(
    ctx: &Ctx<'_>,
    who: &Who<'_>,
    state: &State,
    t: &Target,
    prev: Option<&Entry>,
    known: Option<(Answer, Option<Error>)>,
    f: &mut Findings,
) -> Option<Entry> {
    let answer = match known {
        Some(a) => Some(a),
        None => put(ctx, who, t).await,
    };
    let now = ctx.env.now();
    let verdict = match &answer {
        Some((Answer::Ok { too_old: true, .. }, _)) => ok_verdict(),
        Some((Answer::Denied(_), _)) => cache::Verdict {
            healthy: false,
            line: String::new(),
        },
        Some((Answer::Throttled, error)) => match prev {
            Some(p) => {
                throttled(f);
                p.verdict.clone()
            }
            // Nothing to keep: the probe's own outcome (logs-throttled); not stored, so the
            // next check asks again rather than repeating an unhealthy verdict for minutes.
            None => {
                f.errors.extend(error.clone());
                return None;
            }
        },
        _ => {
            full(ctx, who, t, f).await;
            summary(f)
        }
    };
    let put = answer.as_ref().map(|(a, _)| fingerprint(a));
    Some(cache::after_probe(
        &key(who, t),
        prev,
        verdict,
        put.as_ref(),
        now,
        state.every,
    ))
}

fn ok_verdict() -> cache::Verdict {
    cache::Verdict {
        healthy: true,
        line: String::new(),
    }
}

/// The full probe (issue 14) for one target, when PutLogEvents alone did not decide.
async fn full(ctx: &Ctx<'_>, who: &Who<'_>, t: &Target, f: &mut Findings) {
    let req = Request {
        logs_to: vec![(t.group.clone(), t.stream.clone())],
        logs_region: Some(t.region.clone()),
        plugin: Some(t.plugin),
        auto_create_group: t.auto_create_group,
        ..Request::default()
    };
    let subject = Subject {
        creds: who.subject.creds,
        account: who.subject.account.clone(),
        role_arn: who.subject.role_arn.clone(),
        region: who.subject.region.clone(),
    };
    let found = probe::run(&req, ctx, subject).await;
    f.permissions.extend(found.permissions);
    f.outputs.extend(found.outputs);
    f.warnings.extend(found.warnings);
    f.errors.extend(found.errors);
}

/// The full probe's outcome as a stored verdict: `CODE: message` of what health would show.
fn summary(f: &Findings) -> cache::Verdict {
    if let Some(e) = f.errors.first() {
        return cache::Verdict {
            healthy: false,
            line: format!("{}: {}", e.code, e.message),
        };
    }
    let blocked = f.outputs.iter().any(|o| o.delivery == Delivery::Blocked);
    let why = f.warnings.iter().find(|w| w.code.starts_with("logs-"));
    cache::Verdict {
        healthy: !blocked,
        line: why.map_or(String::new(), |w| format!("{}: {}", w.code, w.message)),
    }
}

/// The codes a stored line may carry (a code is a `&'static str`; anything else is generic).
fn known_code(code: &str) -> &'static str {
    const CODES: [&str; 10] = [
        "logs-delivery-denied",
        "logs-group-missing",
        "logs-delivery-unknown",
        "logs-throttled",
        "logs-unreachable",
        "logs-timeout",
        "logs-unavailable",
        "logs-bad-response",
        "logs-rejected-credentials",
        "logs-endpoint",
    ];
    CODES.into_iter().find(|c| *c == code).unwrap_or(CACHED)
}

/// The report's findings for a stored (or just made) entry.
fn rebuild(t: &Target, who: &Who<'_>, e: &Entry, f: &mut Findings) {
    let account = who.subject.account.as_deref().unwrap_or("ACCOUNT");
    let arn = plan::stream_arn(&e.key.region, account, &e.key.group, &e.key.stream);
    let denied = e
        .fingerprint
        .as_deref()
        .and_then(|s| s.strip_prefix("denied "));
    let exact = e.fingerprint.as_deref() == Some(OK_TOO_OLD) || denied.is_some();
    let delivery = match (e.verdict.healthy, exact) {
        (false, _) => Delivery::Blocked,
        (true, true) => Delivery::Ok,
        (true, false) => Delivery::Unknown,
    };
    if exact {
        let p = put_permission(&arn, denied);
        if p.verdict == Verdict::Denied {
            let tail = format!(
                "so the {} output at {} cannot deliver to {}",
                e.key.plugin, t.from, e.key.group
            );
            f.errors
                .push(probe::denied_error("logs-delivery-denied", &p, &tail));
        }
        f.permissions.push(p);
    } else if let Some((code, message)) = e.verdict.line.split_once(": ") {
        let hint = "the verdict is reused until --probe-every has passed; run credcheck --logs-to GROUP:STREAM for the full probe";
        match e.verdict.healthy {
            true => f
                .warnings
                .push(Warning::new(known_code(code), message, hint)),
            false => f
                .errors
                .push(Error::problem(known_code(code), message, hint)),
        }
    }
    f.outputs.push(LogOutput {
        from: t.from.clone(),
        plugin: t.plugin.name().into(),
        region: e.key.region.clone(),
        group: e.key.group.clone(),
        stream: e.key.stream.clone(),
        group_exists: (delivery == Delivery::Ok).then_some(true),
        stream_exists: (delivery == Delivery::Ok).then_some(true),
        delivery,
    });
}

fn put_permission(arn: &str, denied: Option<&str>) -> Permission {
    Permission {
        action: plan::PUT.into(),
        resource: arn.into(),
        verdict: if denied.is_some() {
            Verdict::Denied
        } else {
            Verdict::Allowed
        },
        basis: Basis::Probe,
        reason: denied.map(str::to_string),
    }
}

/// What the health line adds, once: the verdict's age, a throttled refresh, a state dir
/// that cannot be written or trusted.
pub fn health_clause(warnings: &[Warning], notes: &[Note]) -> String {
    let mut parts: Vec<&str> = notes
        .iter()
        .filter(|n| n.code == CACHED)
        .map(|n| n.message.as_str())
        .take(1)
        .collect();
    for code in [THROTTLED, READ_ONLY, UNTRUSTED] {
        parts.extend(
            warnings
                .iter()
                .filter(|w| w.code == code)
                .map(|w| w.message.as_str())
                .take(1),
        );
    }
    match parts.is_empty() {
        true => String::new(),
        false => format!(" ({})", parts.join("; ")),
    }
}
