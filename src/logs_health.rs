//! `credcheck health --logs-to GROUP:STREAM`, `--fluent-bit-config PATH` or `--firelens` at fleet scale
//! (issues 16 and 20): the logs verdict is cached per key in the state dir (`verdict_cache`
//! decides when). A key with no trusted verdict gets the full probe (exactly the actions the
//! plugin will call, each sent in its harmless form, with the output's own transport). Only a
//! definite verdict is stored: deliverable, or blocked (a denial, or a config that cannot
//! work). An unverified verdict, a transient failure (5xx, timeout, refused connection) or a
//! throttled first call is shown for this run and never stored, so the next run asks again and
//! ECS's own `retries` decide. A stored verdict is refreshed with one call, the too-old
//! PutLogEvents: the same answer keeps it, a different one runs the full probe again; a
//! throttled or failed refresh keeps the last verdict. DescribeLogStreams and Create* are
//! never sent on the refresh path, since their quotas (5 and 50 TPS per account) cannot carry
//! a fleet's health checks (README, "Scale").
//! Reads (through `Env`): `XDG_RUNTIME_DIR`; the endpoint variables through `probe::aws`.

use crate::error::Error;
use crate::notes::Note;
use crate::probe::plan::{self, Answer, Call, Target};
use crate::probe::verdict::{Basis, Delivery, LogOutput, Permission, Verdict};
use crate::probe::{self, aws, logs, Ctx, Findings, Request, Subject};
use crate::settings::Settings;
use crate::verdict_cache::{self as cache, AfterRefresh, Distrust, Entry, Key, Loaded, Step};
use crate::warning::Warning;
use std::path::PathBuf;
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
    dir: PathBuf,
    uid: Option<u32>,
    every: Duration,
}

/// Runs the cached logs check for every `--logs-to` target and every config or FireLens
/// output (found as the full probe finds them: `probe::gather_targets`).
pub async fn run(settings: &Settings, ctx: &Ctx<'_>, who: Who<'_>) -> Findings {
    let state = State {
        dir: cache::state_dir(settings.state_dir.as_deref(), ctx.env),
        uid: cache::euid(),
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
        Step::Probe => fresh(ctx, who, state, t, prev.as_ref(), f).await,
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
    let Some(uid) = state.uid else {
        return (None, false);
    };
    match cache::load(&state.dir, key, uid, now, state.every) {
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
    if let Err(d) = cache::save(&state.dir, entry) {
        untrusted(f, &d);
    }
}

async fn put(ctx: &Ctx<'_>, who: &Who<'_>, t: &Target) -> Option<(Answer, Option<Error>)> {
    let endpoint = aws::logs_endpoint(ctx.env, &t.region, t.endpoint.as_deref()).ok()?;
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
        Answer::NotFound(m) => format!("not-found {m:?}").to_ascii_lowercase(),
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
    let Some((answer, _)) = put(ctx, who, t).await else {
        return fresh(ctx, who, state, t, prev, f).await;
    };
    // A refresh that got no answer keeps the last verdict, like a throttled one: one blip
    // must not turn a fleet red (the full probe runs at the next due time).
    let seen = match answer {
        Answer::Failed(_) => cache::Answer::Throttled,
        _ => fingerprint(&answer),
    };
    match cache::after_refresh(prev_entry, &seen, ctx.env.now(), state.every) {
        AfterRefresh::Keep(kept) => {
            if kept.throttled {
                throttled(f);
            }
            Some(*kept)
        }
        AfterRefresh::Probe => fresh(ctx, who, state, t, prev, f).await,
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

/// The full probe for one target; its verdict is stored only when it is definite.
async fn fresh(
    ctx: &Ctx<'_>,
    who: &Who<'_>,
    state: &State,
    t: &Target,
    prev: Option<&Entry>,
    f: &mut Findings,
) -> Option<Entry> {
    let mut found = Findings::default();
    let req = Request::default();
    probe::probe_targets(&req, std::slice::from_ref(t), ctx, &who.subject, &mut found).await;
    let put = found.puts.first().map(|(_, _, a)| fingerprint(a));
    let verdict = definite(&found);
    let now = ctx.env.now();
    merge(f, found);
    match (verdict, put) {
        (Some(v), Some(put @ cache::Answer::Seen(_))) => Some(cache::after_probe(
            &key(who, t),
            prev,
            v,
            Some(&put),
            now,
            state.every,
        )),
        _ => None,
    }
}

fn merge(f: &mut Findings, found: Findings) {
    f.permissions.extend(found.permissions);
    f.outputs.extend(found.outputs);
    f.warnings.extend(found.warnings);
    f.errors.extend(found.errors);
}

/// A verdict worth storing: deliverable, or blocked by a denial or a config that cannot
/// work, with no transient failure beside it. Anything else is asked again next run.
fn definite(found: &Findings) -> Option<cache::Verdict> {
    let output = found.outputs.first()?;
    let transient = found
        .errors
        .iter()
        .any(|e| e.kind == crate::error::Kind::Unreachable);
    match output.delivery {
        Delivery::Deliverable if found.errors.is_empty() => Some(cache::Verdict {
            healthy: true,
            line: String::new(),
        }),
        Delivery::Blocked if !transient => {
            let e = found.errors.first()?;
            Some(cache::Verdict {
                healthy: false,
                line: format!("{}: {}", e.code, e.message),
            })
        }
        _ => None,
    }
}

/// The codes a stored line may carry (a code is a `&'static str`; anything else is generic).
fn known_code(code: &str) -> &'static str {
    const CODES: [&str; 5] = [
        "logs-delivery-denied",
        "logs-group-missing",
        "logs-bad-response",
        "logs-rejected-credentials",
        "logs-endpoint",
    ];
    CODES.into_iter().find(|c| *c == code).unwrap_or(CACHED)
}

/// The report's findings for a stored entry (only definite verdicts are stored).
fn rebuild(t: &Target, who: &Who<'_>, e: &Entry, f: &mut Findings) {
    let account = who.subject.account.as_deref().unwrap_or("ACCOUNT");
    let arn = plan::stream_arn(&e.key.region, account, &e.key.group, &e.key.stream);
    let denied = e
        .fingerprint
        .as_deref()
        .and_then(|s| s.strip_prefix("denied "));
    let delivery = match e.verdict.healthy {
        true => Delivery::Deliverable,
        false => Delivery::Blocked,
    };
    let put = put_permission(&arn, denied);
    let why = match (delivery, e.verdict.line.split_once(": ")) {
        (Delivery::Blocked, Some((code, message))) => {
            let hint = "the verdict is reused until --probe-every has passed; run credcheck --fluent-bit-config (or --logs-to) for the full probe";
            f.errors
                .push(Error::problem(known_code(code), message, hint));
            Some(message.to_string())
        }
        _ => None,
    };
    f.permissions.push(put);
    f.outputs.push(LogOutput {
        from: t.from.clone(),
        plugin: t.plugin.name().into(),
        region: e.key.region.clone(),
        group: e.key.group.clone(),
        stream: e.key.stream.clone(),
        names: t.names.clone(),
        group_exists: None,
        stream_exists: None,
        delivery,
        evidence: Basis::Probe,
        why,
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
