//! `credcheck health --logs-to GROUP:STREAM`, `--fluent-bit-config PATH` or `--firelens` at fleet scale
//! (issues 16 and 20): the logs verdict is cached per key in the state dir (`cache`
//! decides when). `run` calls it through [`Check`], its `DeliveryCheck`. A key with no trusted verdict gets the full probe (exactly the actions the
//! plugin will call, each sent in its harmless form, with the output's own transport). Only a
//! definite verdict is stored: deliverable, or blocked (a denial, or a config that cannot
//! work). An unverified verdict, a transient failure (5xx, timeout, refused connection) or a
//! throttled first call is shown for this run and never stored, so the next run asks again and
//! ECS's own `retries` decide. A stored verdict is refreshed with one call, the too-old
//! PutLogEvents: the same answer keeps it, a different one runs the full probe again; a
//! throttled or failed refresh keeps the last verdict. DescribeLogStreams and Create* are
//! never sent on the refresh path, since their quotas (5 and 50 TPS per account) cannot carry
//! a fleet's health checks (docs/scale.md).
//! Reads (through `Env`): `XDG_RUNTIME_DIR`; the endpoint variables through `probe::aws`.

use super::cache::{self, AfterRefresh, Distrust, Entry, Key, Loaded, Step};
use crate::error::Error;
use crate::notes::Note;
use crate::probe::plan::{self, Answer, Call, Existence, Target};
use crate::probe::verdict::{Basis, Delivery, Permission, Verdict};
use crate::probe::{self, aws, logs, Ctx, Findings, Request, Subject};
use crate::settings::Settings;
use crate::warning::Warning;
use std::time::{Duration, SystemTime};

/// The codes this module adds; the health line repeats them once (`health_clause`).
pub const CACHED: &str = "logs-verdict-cached";
/// The router's own counters proved delivery (no AWS call).
pub const COUNTERS: &str = "logs-router-counters";
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

/// The cached check, as `run` calls it: gathering never imports a mode.
pub struct Check;

impl crate::run::DeliveryCheck for Check {
    fn applies(&self, settings: &Settings) -> bool {
        applies(settings)
    }

    fn check<'a>(
        &'a self,
        settings: &'a Settings,
        ctx: &'a Ctx<'a>,
        subject: Subject<'a>,
        role: String,
    ) -> crate::run::Checked<'a> {
        Box::pin(run(settings, ctx, Who { subject, role }))
    }
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

/// One health run's context for every target.
struct Run<'a> {
    ctx: &'a Ctx<'a>,
    who: &'a Who<'a>,
    state: &'a State,
    metrics: &'a probe::Metrics,
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
    let targets = probe::gather_targets(&settings.probe, ctx, &who.subject, &mut f).await;
    let metrics = probe::fetch_counters(&targets, ctx, &mut f).await;
    let run = Run {
        ctx,
        who: &who,
        state: &state,
        metrics: &metrics,
    };
    for t in &targets {
        one(&run, t, &mut f).await;
    }
    f
}

/// The router's own counters prove delivery (records delivered, no failure of any kind):
/// no AWS call at all, and nothing to store (the counters are read live on every run).
fn delivered(t: &Target, name: &str, c: &crate::probe::counters::Counters, f: &mut Findings) {
    f.notes.push(Note {
        code: COUNTERS,
        message: c.describe(name),
    });
    let delivered = Existence {
        group: Some(true),
        stream: Some(true),
    };
    let out = probe::log_output(t, delivered, Delivery::Deliverable, Basis::Counters, None);
    f.outputs.push(out);
}

/// The key: the role that writes (the output's `role_arn`, else this task's), and where.
fn key(who: &Who<'_>, t: &Target) -> Key {
    Key {
        role: t
            .role
            .as_ref()
            .map_or_else(|| who.role.clone(), |r| r.arn.clone()),
        region: t.region.clone(),
        group: t.group.clone(),
        stream: t.stream.clone(),
        plugin: t.plugin.name().into(),
    }
}

/// One target: the router's counters when they prove delivery (no AWS call), else the
/// stored verdict, its refresh, or the full probe (`cache` decides).
async fn one(run: &Run<'_>, t: &Target, f: &mut Findings) {
    let (ctx, who, state) = (run.ctx, run.who, run.state);
    let key = key(who, t);
    let now = ctx.env.now();
    let (prev, dir_ok) = load(state, &key, now, f);
    let seen = probe::counters_for(t, run.metrics);
    if let Some((name, c)) = seen.filter(|(_, c)| c.proves_delivery()) {
        let entry = cache::after_counters(&key, prev.as_ref(), now, state.every);
        if let (Some(entry), true) = (entry, dir_ok) {
            save(state, &entry, f);
        }
        return delivered(t, name, c, f);
    }
    let entry = match cache::next_step(prev.as_ref(), now) {
        Step::Reuse => prev.clone(),
        Step::Refresh => refresh(run, t, prev.as_ref(), f).await,
        Step::Probe => fresh(run, t, prev.as_ref(), None, f).await,
    };
    if let (Some((name, c)), Some(e)) = (seen.filter(|(_, c)| c.failures() > 0), &entry) {
        let said = f
            .warnings
            .iter()
            .any(|w| w.code == "logs-destination-failing");
        if e.verdict.healthy && !said {
            let age = cache::age(e, now);
            f.warnings
                .push(probe::destination_failing(name, c, Some(&age)));
        }
    }
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

/// The refresh's one call, as the output's own writer: an output with `role_arn` assumes it
/// first (if that fails, `None`: the full probe says why).
async fn put(ctx: &Ctx<'_>, who: &Who<'_>, t: &Target) -> Option<(Answer, Option<Error>)> {
    let region = crate::region::Region::parse(&t.region, &t.from).ok()?;
    let endpoint = aws::logs_endpoint(ctx.env, &region, t.endpoint.as_deref()).ok()?;
    let assumed = match &t.role {
        Some(role) => Some(
            probe::assume::assume(ctx, who.subject.creds, role, &region)
                .await
                .ok()?,
        ),
        None => None,
    };
    let site = logs::Site {
        client: ctx.client,
        creds: assumed.as_ref().unwrap_or(who.subject.creds),
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
    run: &Run<'_>,
    t: &Target,
    prev: Option<&Entry>,
    f: &mut Findings,
) -> Option<Entry> {
    let prev_entry = prev?;
    let Some((answer, _)) = put(run.ctx, run.who, t).await else {
        return fresh(run, t, prev, None, f).await;
    };
    // A refresh that got no answer keeps the last verdict, like a throttled one: one blip
    // must not turn a fleet red (the full probe runs at the next due time).
    let seen = match answer {
        Answer::Failed(_) => cache::Answer::Throttled,
        _ => fingerprint(&answer),
    };
    match cache::after_refresh(prev_entry, &seen, run.ctx.env.now(), run.state.every) {
        AfterRefresh::Keep(kept) => {
            if kept.throttled {
                throttled(f);
            }
            Some(*kept)
        }
        AfterRefresh::Probe => fresh(run, t, prev, Some(&answer), f).await,
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

/// The full probe for one target (`known`: the refresh's PutLogEvents answer, not sent
/// again); its verdict is stored only when it is definite.
async fn fresh(
    run: &Run<'_>,
    t: &Target,
    prev: Option<&Entry>,
    known: Option<&Answer>,
    f: &mut Findings,
) -> Option<Entry> {
    let (ctx, who, state) = (run.ctx, run.who, run.state);
    let mut found = Findings::default();
    let req = Request::default();
    let targets = std::slice::from_ref(t);
    let given = probe::Given {
        put: known,
        metrics: Some(run.metrics),
    };
    probe::probe_targets(&req, targets, ctx, &who.subject, given, &mut found).await;
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
    let owner = t.role.as_ref().and_then(probe::assume::Role::account);
    let account = owner
        .as_deref()
        .or(who.subject.account.as_deref())
        .unwrap_or("ACCOUNT");
    let arn = plan::stream_arn(&e.key.region, account, &e.key.group, &e.key.stream);
    let denied = e
        .fingerprint
        .as_deref()
        .and_then(|s| s.strip_prefix("denied "));
    let delivery = match e.verdict.healthy {
        true => Delivery::Deliverable,
        false => Delivery::Blocked,
    };
    let by_counters = e.fingerprint.is_none() && e.verdict.line == cache::COUNTERS_LINE;
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
    if !by_counters {
        f.permissions.push(put);
    }
    let evidence = match by_counters {
        true => Basis::Counters,
        false => Basis::Probe,
    };
    let out = probe::log_output(t, Existence::default(), delivery, evidence, why);
    f.outputs.push(out);
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
        .filter(|n| n.code == CACHED || n.code == COUNTERS)
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
