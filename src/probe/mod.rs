//! The permission probe: can these credentials do action A on resource R, and can this role
//! deliver the logs (FireLens / Fluent Bit to CloudWatch Logs)? Without changing anything in
//! the account: see `plan` for the calls and the promise. Runs only when asked (`--can`,
//! `--logs-to`, `--fluent-bit-config`, `--firelens`), within the run's deadline.
//!
//! Layout: `verdict` (the findings as data), `plan` (which calls, and the verdict each answer
//! gives; no I/O), `fluentbit` (the classic config; `fluentbit_yaml` for the YAML one), `firelens` (task metadata log options),
//! `aws` (SigV4 + the one HTTP client), `logs` (the CloudWatch Logs calls), `simulate` (IAM's
//! policy simulator). Reads (through those modules): AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
//! AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS,
//! ECS_CONTAINER_METADATA_URI_V4, and `${VAR}`s named in a Fluent Bit config.

pub mod assume;
pub mod aws;
pub mod counters;
pub mod firelens;
pub mod fluentbit;
pub mod fluentbit_yaml;
pub mod logs;
pub mod names;
pub mod plan;
pub mod request;
pub mod simulate;
pub mod verdict;

use crate::creds::Creds;
use crate::env::Env;
use crate::error::Error;
use crate::http::Budget;
use crate::region::Region;
/// The validated request lives with the settings (plain data); `request` checks it.
pub use crate::settings::ProbeRequest as Request;
use crate::warning::Warning;
use plan::{Answer, Call, Check, Existence, Need, Plugin, Target};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use verdict::{Basis, Delivery, LogOutput, Permission, Verdict};

/// Who the probe runs as.
pub struct Subject<'a> {
    pub creds: &'a Creds,
    pub account: Option<String>,
    /// The IAM role ARN with its path (for the simulator), when a source named it.
    pub role_arn: Option<String>,
    /// The run's region (the default for --logs-to).
    pub region: Option<String>,
}

/// What the probe found: the report's `permissions` and `log_outputs`, and its codes.
#[derive(Debug, Default)]
pub struct Findings {
    /// Notes for the report (`health::logs`: the age of a cached verdict).
    pub notes: Vec<crate::notes::Note>,
    pub permissions: Vec<Permission>,
    pub outputs: Vec<LogOutput>,
    pub warnings: Vec<Warning>,
    pub errors: Vec<Error>,
    /// The too-old PutLogEvents answers, per (group, stream): what health's refresh compares.
    pub puts: Vec<(String, String, Answer)>,
}

impl Findings {
    fn error(&mut self, e: Error) {
        if !self
            .errors
            .iter()
            .any(|x| x.code == e.code && x.message == e.message)
        {
            self.errors.push(e);
        }
    }
}

/// Everything a run of the probe uses.
pub struct Ctx<'a> {
    pub env: &'a Env,
    pub budget: &'a Budget,
    pub timeout: Duration,
    pub client: &'a crate::http::Client,
    pub metadata: &'a crate::http::Client,
    /// The task, from task metadata v4, when it was readable: names that depend on the
    /// FireLens tag or the task resolve with it.
    pub task: Option<&'a names::Task>,
}

/// One (region, endpoint, group, stream): where calls go, and the checks that use them.
struct Site {
    place: Place,
    /// (target index or none for --can, check)
    checks: Vec<(Option<usize>, Check)>,
    existence: Existence,
    answers: Vec<(Call, Answer)>,
    /// The output's `role_arn` could not be assumed: nothing was probed.
    refused: Option<assume::Refusal>,
}

/// Where and as whom calls go: one site per distinct place.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    region: String,
    endpoint: Option<String>,
    group: String,
    stream: String,
    role: Option<assume::Role>,
}

impl Place {
    fn of(t: &Target) -> Place {
        Place {
            region: t.region.clone(),
            endpoint: t.endpoint.clone(),
            group: t.group.clone(),
            stream: t.stream.clone(),
            role: t.role.clone(),
        }
    }
}

/// Runs the probe.
pub async fn run(req: &Request, ctx: &Ctx<'_>, subject: Subject<'_>) -> Findings {
    let mut f = Findings::default();
    let targets = gather_targets(req, ctx, &subject, &mut f).await;
    probe_targets(req, &targets, ctx, &subject, Given::default(), &mut f).await;
    f
}

/// The credentials of an output's `role_arn`, assumed once per role in a run.
async fn as_role(
    ctx: &Ctx<'_>,
    subject: &Subject<'_>,
    role: &assume::Role,
    region: &str,
    assumed: &mut Vec<(assume::Role, Result<Creds, assume::Refusal>)>,
) -> Result<Creds, assume::Refusal> {
    if let Some((_, done)) = assumed.iter().find(|(r, _)| r == role) {
        return done.clone();
    }
    let done = match Region::parse(region, "the output's region") {
        Ok(region) => assume::assume(ctx, subject.creds, role, &region).await,
        Err(e) => Err(assume::Refusal::Failed(e.message)),
    };
    assumed.push((role.clone(), done.clone()));
    done
}

/// What a caller already has, so that nothing is asked twice in one run.
#[derive(Default, Clone, Copy)]
pub struct Given<'a> {
    /// A too-old PutLogEvents answer for these targets (health's refresh).
    pub put: Option<&'a Answer>,
    /// The router's counters, already read.
    pub metrics: Option<&'a Metrics>,
}

/// Probes the given targets (and `req`'s `--can` checks, with `--simulate` if asked).
pub async fn probe_targets(
    req: &Request,
    targets: &[Target],
    ctx: &Ctx<'_>,
    subject: &Subject<'_>,
    given: Given<'_>,
    f: &mut Findings,
) {
    let Some(account) = subject.account.clone() else {
        f.error(Error::problem("probe-account-unknown", "the permission probe needs the account ID, and no source named it (STS was not reachable)", "run with STS (drop --no-sts), or use credentials whose source names the role ARN"));
        return;
    };
    let mut sites = sites(targets, &account);
    let others = add_can(req, &mut sites);
    let decided = match req.simulate {
        true => simulated(ctx, subject, &sites, &others, f).await,
        false => None,
    };
    let mut assumed: Vec<(assume::Role, Result<Creds, assume::Refusal>)> = Vec::new();
    for site in &mut sites {
        if let Some(answer) = given.put {
            site.answers.push((Call::PutTooOld, answer.clone()));
            f.puts.push((
                site.place.group.clone(),
                site.place.stream.clone(),
                answer.clone(),
            ));
        }
        let creds = match &site.place.role {
            None => Ok(subject.creds.clone()),
            Some(role) => as_role(ctx, subject, role, &site.place.region, &mut assumed).await,
        };
        match creds {
            Ok(creds) => probe_site(ctx, &creds, site, decided.is_some(), f).await,
            Err(refusal) => site.refused = Some(refusal),
        }
    }
    let fetched;
    let metrics = match given.metrics {
        Some(m) => m,
        None => {
            fetched = fetch_counters(targets, ctx, f).await;
            &fetched
        }
    };
    judge_all(targets, &sites, &others, decided.as_deref(), metrics, f);
}

/// The destinations: `--logs-to` (in the run's region unless `--logs-region`), then every
/// CloudWatch output of each config, then the task's FireLens outputs, with their warnings.
pub(crate) async fn gather_targets(
    req: &Request,
    ctx: &Ctx<'_>,
    subject: &Subject<'_>,
    f: &mut Findings,
) -> Vec<Target> {
    let mut out = Vec::new();
    let region = req.logs_region.clone().or_else(|| subject.region.clone());
    for (group, stream) in &req.logs_to {
        let Some(region) = region.clone() else {
            f.error(Error::config(
                "logs-no-region",
                format!("--logs-to {group} needs a region, and none is configured"),
                "pass --logs-region, or set AWS_REGION",
            ));
            continue;
        };
        out.push(Target {
            from: "--logs-to".into(),
            plugin: req.plugin.unwrap_or(Plugin::CloudwatchLogs),
            region,
            endpoint: None,
            group: group.clone(),
            stream: stream.clone(),
            auto_create_group: req.auto_create_group,
            auto_create_stream: true,
            retention_days: 0,
            tags: false,
            names: plan::Names::literal(),
            counters: None,
            role: None,
        });
    }
    for path in &req.configs {
        match fluentbit::read(ctx.env, path) {
            Ok(config) => {
                let mut found = fluentbit::targets(&config.outputs, ctx.task);
                let url = req
                    .metrics
                    .clone()
                    .or_else(|| counters::url_from_service(&config.service));
                for t in &mut found.targets {
                    let instance = t.counters.take().and_then(|s| s.instance);
                    t.counters = url.clone().map(|url| counters::Source { url, instance });
                }
                add_config_targets(found, path, &mut out, f)
            }
            Err(e) => f.error(e),
        }
    }
    if req.firelens {
        match firelens::targets(ctx.env, ctx.metadata, ctx.budget).await {
            Ok(found) => add_config_targets(found, &PathBuf::from("task metadata"), &mut out, f),
            Err(e) => f.error(e),
        }
    }
    for t in out.iter_mut().filter(|t| t.counters.is_none()) {
        t.counters = req.metrics.clone().map(|url| counters::Source {
            url,
            instance: None,
        });
    }
    out
}

/// A config's targets, warnings and unjudged outputs; a config with no CloudWatch output at
/// all is a finding too (nothing was checked, so it can never pass as deliverable).
fn add_config_targets(
    found: fluentbit::Found,
    from: &std::path::Path,
    out: &mut Vec<Target>,
    f: &mut Findings,
) {
    f.warnings.extend(found.warnings);
    for e in found.errors {
        f.error(e);
    }
    if found.outputs == 0 {
        f.error(Error::unverified(
            "logs-no-cloudwatch-output",
            format!(
                "{} has no CloudWatch Logs output (Name cloudwatch_logs or cloudwatch), so no delivery was checked",
                from.display()
            ),
            "pass the configuration the log router runs (FireLens: /fluent-bit/etc/fluent-bit.conf, which includes yours)",
        ));
    }
    out.extend(found.targets);
}

/// The sites of the targets; an output with `role_arn` is authorised in its role's account.
fn sites(targets: &[Target], account: &str) -> Vec<Site> {
    let mut out: Vec<Site> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let owner = t.role.as_ref().and_then(assume::Role::account);
        let checks = plan::checks(t, owner.as_deref().unwrap_or(account))
            .into_iter()
            .filter(|c| !t.stream.is_empty() || c.resource.ends_with(":log-stream:"));
        let site = site_for(&mut out, Place::of(t));
        site.checks.extend(checks.map(|c| (Some(i), c)));
    }
    out
}

fn site_for(sites: &mut Vec<Site>, place: Place) -> &mut Site {
    let at = match sites.iter().position(|s| s.place == place) {
        Some(at) => at,
        None => {
            sites.push(Site {
                place,
                checks: Vec::new(),
                existence: Existence::default(),
                answers: Vec::new(),
                refused: None,
            });
            sites.len() - 1
        }
    };
    &mut sites[at]
}

/// `--can` checks: the logs actions a probe can answer join a site; the rest are returned.
fn add_can(req: &Request, sites: &mut Vec<Site>) -> Vec<(String, String)> {
    let mut others = Vec::new();
    for (action, resource) in &req.can {
        let probe_able = [
            plan::DESCRIBE,
            plan::PUT,
            plan::CREATE_STREAM,
            plan::CREATE_GROUP,
        ]
        .contains(&action.as_str());
        let arn = plan::parse_logs_arn(resource);
        match arn {
            Some(a)
                if probe_able
                    && (a.stream.is_some()
                        || ![plan::PUT, plan::CREATE_STREAM].contains(&action.as_str())) =>
            {
                let place = Place {
                    region: a.region.clone(),
                    endpoint: None,
                    group: a.group.clone(),
                    stream: a.stream.clone().unwrap_or_default(),
                    role: None,
                };
                let site = site_for(sites, place);
                site.checks.push((
                    None,
                    Check {
                        action: action.clone(),
                        resource: resource.clone(),
                        need: Need::Always,
                    },
                ));
            }
            _ => others.push((action.clone(), resource.clone())),
        }
    }
    others
}

async fn simulated(
    ctx: &Ctx<'_>,
    subject: &Subject<'_>,
    sites: &[Site],
    others: &[(String, String)],
    f: &mut Findings,
) -> Option<Vec<simulate::Decision>> {
    let Some(role) = subject.role_arn.as_deref() else {
        f.warnings.push(Warning::new("simulate-no-role-arn", "--simulate needs the role ARN with its path, and no source named it (the STS session ARN lacks the path)", "set AWS_ROLE_ARN, or run where the container endpoint names the role; the probes ran instead"));
        return None;
    };
    let mut pairs: Vec<(String, String)> = others.to_vec();
    for s in sites {
        pairs.extend(
            s.checks
                .iter()
                .map(|(_, c)| (c.action.clone(), c.resource.clone())),
        );
    }
    let region = sites
        .first()
        .map(|s| s.place.region.clone())
        .or_else(|| subject.region.clone())
        .unwrap_or_else(|| crate::sdk::FALLBACK_REGION.into());
    let region = match Region::parse(&region, "the probe's first region") {
        Ok(r) => r,
        Err(e) => {
            f.error(e);
            return None;
        }
    };
    let endpoint = match aws::iam_endpoint(ctx.env, &region) {
        Ok(e) => e,
        Err(why) => {
            f.error(Error::config(
                "simulate-endpoint",
                why,
                "check AWS_ENDPOINT_URL_IAM",
            ));
            return None;
        }
    };
    let answer = simulate::evaluate(
        ctx.client,
        subject.creds,
        &endpoint,
        role,
        &pairs,
        ctx.budget,
        ctx.env.now(),
    )
    .await;
    match answer {
        Ok(d) => Some(d),
        Err(refusal) => {
            f.warnings.push(simulate_warning(&refusal, role));
            None
        }
    }
}

fn simulate_warning(refusal: &simulate::Refusal, role: &str) -> Warning {
    let role = crate::secret::printable(role, 200);
    match refusal {
        simulate::Refusal::NotPermitted => Warning::new("simulate-denied", format!("the role may not call iam:SimulatePrincipalPolicy on {role}; the probes ran instead"), "allow iam:SimulatePrincipalPolicy on the role's own ARN for exact verdicts, or rely on the probes"),
        simulate::Refusal::NoSuchRole => Warning::new("simulate-no-such-role", format!("IAM knows no role {role} (NoSuchEntity); the probes ran instead"), "the role ARN needs its path (arn:aws:iam::ACCOUNT:role/PATH/NAME); set AWS_ROLE_ARN to the exact ARN"),
        simulate::Refusal::Failed(why) => Warning::new("simulate-failed", format!("the policy simulator gave no answer ({why}); the probes ran instead"), "check AWS_ENDPOINT_URL_IAM and the network path to IAM"),
    }
}

/// The calls at one site, each chosen by `plan::next_call` from the answers so far
/// (PutLogEvents first; Create* only where they cannot create). With the simulator's verdicts,
/// only the calls that tell what exists run.
async fn probe_site(
    ctx: &Ctx<'_>,
    creds: &Creds,
    site: &mut Site,
    simulated: bool,
    f: &mut Findings,
) {
    let place = &site.place;
    // Sources validate their regions; this is the backstop where the host is built.
    let source = format!("the region of log group {}", place.group);
    let region = match Region::parse(&place.region, &source) {
        Ok(r) => r,
        Err(e) => return f.error(e),
    };
    let endpoint = match aws::logs_endpoint(ctx.env, &region, place.endpoint.as_deref()) {
        Ok(e) => e,
        Err(why) => {
            f.error(Error::config(
                "logs-endpoint",
                why,
                "fix the plugin's endpoint, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS or AWS_ENDPOINT_URL",
            ));
            return;
        }
    };
    let logs = logs::Site {
        client: ctx.client,
        creds,
        endpoint: &endpoint,
        budget: ctx.budget,
        now: ctx.env.now(),
        group: &place.group,
        stream: &place.stream,
    };
    let checks: Vec<Check> = site.checks.iter().map(|(_, c)| c.clone()).collect();
    while let Some(call) = plan::next_call(&checks, &site.answers) {
        if simulated && !matches!(call, Call::PutTooOld | Call::Describe) {
            break;
        }
        let (answer, error) = logs::call(&logs, call).await;
        f.errors.extend(error);
        if call == Call::PutTooOld {
            f.puts
                .push((place.group.clone(), place.stream.clone(), answer.clone()));
        }
        site.answers.push((call, answer));
    }
    site.existence = Existence::from_answers(&site.answers);
}

/// The router's counters, by metrics URL (fetched once each).
pub type Metrics = BTreeMap<String, BTreeMap<String, counters::Counters>>;

/// Reads every distinct metrics URL the targets name, once; a failure is a warning (the
/// probes still decide).
pub async fn fetch_counters(targets: &[Target], ctx: &Ctx<'_>, f: &mut Findings) -> Metrics {
    let mut out = Metrics::new();
    for source in targets.iter().filter_map(|t| t.counters.as_ref()) {
        if out.contains_key(&source.url) {
            continue;
        }
        match counters::fetch(&source.url, ctx.metadata, ctx.budget).await {
            Ok(m) => {
                out.insert(source.url.clone(), m);
            }
            Err(why) => {
                out.insert(source.url.clone(), BTreeMap::new());
                f.warnings.push(Warning::new("logs-counters-unavailable", format!("the log router's counters at {} could not be read: {why}", crate::secret::printable(&source.url, 200)), "enable HTTP_Server in the router's [SERVICE] (FireLens health checks already use port 2020), or pass --fluent-bit-metrics URL"));
            }
        }
    }
    out
}

/// Failures in the router's counters while every action it needs is allowed: not this role.
/// `last`: the age of health's stored verdict, when that (not a probe now) is the proof.
pub fn destination_failing(name: &str, c: &counters::Counters, last: Option<&str>) -> Warning {
    let proof = match last {
        None => "every action it needs is allowed to this role now".to_string(),
        Some(age) => {
            format!("delivery was proven {age} ago and is probed again at the next refresh")
        }
    };
    // The counters add up everything since the router started: the failures may also be
    // those of a policy fixed since (they do not say when they happened).
    Warning::new("logs-destination-failing", format!("the router has reported failures since it started ({}) while {proof}: the destination or the network failed, or the policy was fixed since; not this role as it is", c.describe(name)), "look at CloudWatch Logs' health in the Region, the VPC endpoint or the proxy; the router retries on its own")
}

/// A target's counters in fetched metrics: its output's name and counters.
pub fn counters_for<'a>(
    t: &Target,
    metrics: &'a Metrics,
) -> Option<(&'a str, &'a counters::Counters)> {
    let source = t.counters.as_ref()?;
    counters::pick(metrics.get(&source.url)?, source)
}

fn judge_all(
    targets: &[Target],
    sites: &[Site],
    others: &[(String, String)],
    decided: Option<&[simulate::Decision]>,
    metrics: &Metrics,
    f: &mut Findings,
) {
    let judge = |site: &Site, check: &Check| {
        let simulated = decided
            .filter(|_| plan::is_needed(check, site.existence) != Some(false))
            .and_then(|d| simulate::permission(d, &check.action, &check.resource));
        simulated.unwrap_or_else(|| plan::judge(check, site.existence, &site.answers))
    };
    for (i, t) in targets.iter().enumerate() {
        let Some(site) = sites.iter().find(|s| s.place == Place::of(t)) else {
            continue;
        };
        if let Some(refusal) = &site.refused {
            role_refused(t, refusal, f);
            continue;
        }
        let perms: Vec<Permission> = site
            .checks
            .iter()
            .filter(|(at, _)| *at == Some(i))
            .map(|(_, c)| judge(site, c))
            .collect();
        output(t, site.existence, &perms, counters_for(t, metrics), f);
        f.permissions.extend(perms);
    }
    for site in sites {
        for (_, check) in site.checks.iter().filter(|(at, _)| at.is_none()) {
            let p = judge(site, check);
            can_outcome(&p, f);
            f.permissions.push(p);
        }
    }
    for (action, resource) in others {
        let p = decided
            .and_then(|d| simulate::permission(d, action, resource))
            .unwrap_or_else(|| Permission {
                action: action.clone(),
                resource: resource.clone(),
                verdict: Verdict::Unverified,
                basis: Basis::Config,
                reason: Some(
                    "no probe answers this action on this resource without changing it; --simulate settles it".into(),
                ),
            });
        can_outcome(&p, f);
        f.permissions.push(p);
    }
    dedup(&mut f.permissions);
}

fn dedup(perms: &mut Vec<Permission>) {
    let mut seen = Vec::new();
    perms.retain(|p| {
        let key = (p.action.clone(), p.resource.clone());
        let fresh = !seen.contains(&key);
        seen.push(key);
        fresh
    });
}

fn output(
    t: &Target,
    existence: Existence,
    perms: &[Permission],
    seen: Option<(&str, &counters::Counters)>,
    f: &mut Findings,
) {
    let needed: Vec<&Permission> = perms
        .iter()
        .filter(|p| p.verdict != Verdict::NotNeeded)
        .collect();
    let mut delivery = verdict::delivery(&needed);
    let mut evidence = match needed.iter().any(|p| p.basis == Basis::Simulator) {
        true => Basis::Simulator,
        false => Basis::Probe,
    };
    let mut why = None;
    if let Some(cannot) = cannot_work(t, existence) {
        delivery = Delivery::Blocked;
        f.error(Error::problem("logs-group-missing", format!("{cannot}, so the {} output at {} cannot deliver", t.plugin.name(), t.from), "create it (CloudFormation, Terraform), or turn the plugin's auto_create option on and allow the Create action"));
        why = Some(cannot);
    }
    for p in needed.iter().filter(|p| p.verdict == Verdict::Denied) {
        let tail = format!(
            "so the {} output at {} cannot deliver to {}",
            t.plugin.name(),
            t.from,
            t.group
        );
        f.error(denied_error("logs-delivery-denied", p, &tail));
        why.get_or_insert_with(|| format!("{} is denied on {}", p.action, p.resource));
    }
    if t.stream.is_empty() && delivery == Delivery::Deliverable {
        delivery = Delivery::Unverified;
    }
    if let Some((name, c)) = seen {
        match delivery {
            Delivery::Unverified if c.proves_delivery() => {
                delivery = Delivery::Deliverable;
                evidence = Basis::Counters;
            }
            Delivery::Deliverable if c.failures() > 0 => {
                f.warnings.push(destination_failing(name, c, None))
            }
            Delivery::Blocked if c.failures() > 0 => {
                why =
                    why.map(|w| format!("{w}; the router's counters agree ({})", c.describe(name)));
            }
            _ => {}
        }
    }
    if delivery == Delivery::Unverified {
        let open = match t.stream.is_empty() {
            true => {
                "no stream was named, so PutLogEvents and CreateLogStream were not checked".into()
            }
            false => unproven(&needed),
        };
        // Counters that were read and settled nothing are not offered as what settles it.
        let open = match seen {
            Some((name, c)) => format!(
                "{}; the router's counters ({}) prove nothing either way: --simulate settles it",
                open.replace(&format!("; {}", plan::SETTLE), ""),
                c.describe(name)
            ),
            None => open,
        };
        f.error(Error::unverified(
            "logs-delivery-unverified",
            format!(
                "delivery to {}:{} ({}) is not proven: {open}",
                t.group, t.stream, t.from
            ),
            plan::SETTLE,
        ));
        why = Some(open);
    }
    f.outputs
        .push(log_output(t, existence, delivery, evidence, why));
}

/// An output whose `role_arn` could not be assumed: blocked when STS refused (the router,
/// with the same credentials, cannot assume it either), else unverified.
fn role_refused(t: &Target, refusal: &assume::Refusal, f: &mut Findings) {
    let role = t.role.as_ref().map_or("", |r| r.arn.as_str());
    let (delivery, why) = match refusal {
        assume::Refusal::Denied => {
            let why = format!("sts:AssumeRole of {role} is denied to this task's credentials");
            f.error(Error::problem("logs-assume-role-denied", format!("{why}, so the {} output at {} cannot deliver", t.plugin.name(), t.from), "allow sts:AssumeRole on that role to the task role, and trust the task role (and the external_id) in the role's trust policy"));
            (Delivery::Blocked, why)
        }
        assume::Refusal::Failed(e) => {
            let why = format!("the role {role} (role_arn) could not be assumed: {e}");
            f.error(Error::unverified(
                "logs-assume-role-failed",
                format!(
                    "delivery to {}:{} ({}) is not proven: {why}",
                    t.group, t.stream, t.from
                ),
                "check the output's sts_endpoint and the network path to STS",
            ));
            (Delivery::Unverified, why)
        }
    };
    f.outputs.push(log_output(
        t,
        Existence::default(),
        delivery,
        Basis::Probe,
        Some(why),
    ));
}

/// A configuration that cannot work whatever the policy says: the group is missing and the
/// plugin will not create it (or, for the Go plugin, the stream and `auto_create_stream off`).
fn cannot_work(t: &Target, e: Existence) -> Option<String> {
    if e.group == Some(false) && !t.auto_create_group {
        return Some(format!(
            "the log group {} does not exist in {} and auto_create_group is off",
            t.group, t.region
        ));
    }
    let go_stream = t.plugin == Plugin::Cloudwatch && !t.auto_create_stream;
    (go_stream && e.stream == Some(false)).then(|| {
        format!(
            "the log stream {} does not exist in {} and auto_create_stream is off",
            t.stream, t.group
        )
    })
}

/// The needed actions not proven allowed, each with its verdict and reason.
fn unproven(needed: &[&Permission]) -> String {
    let open: Vec<String> = needed
        .iter()
        .filter(|p| p.verdict != Verdict::Allowed)
        .map(|p| match &p.reason {
            Some(r) => format!("{} {} ({r})", p.action, p.verdict.name()),
            None => format!("{} {}", p.action, p.verdict.name()),
        })
        .collect();
    open.join("; ")
}

fn can_outcome(p: &Permission, f: &mut Findings) {
    if p.verdict.is_denied() {
        f.error(denied_error("action-denied", p, "as --can asked"));
    } else if p.verdict == Verdict::Unverified {
        let why = p.reason.as_deref().unwrap_or("not proven");
        f.error(Error::unverified(
            "action-unverified",
            format!("{} on {} is not proven: {why}", p.action, p.resource),
            "--simulate asks IAM for the exact answer",
        ));
    }
}

/// One line naming the action and the exact ARN, and a hint naming the Resource that covers it.
pub fn denied_error(code: &'static str, p: &Permission, tail: &str) -> Error {
    let reason = p.reason.as_deref().unwrap_or("unstated");
    let message = format!(
        "{} is denied on {} ({reason}), {tail}",
        p.action, p.resource
    );
    let remedy = match reason {
        "explicit" => "remove or narrow the Deny statement that matches".to_string(),
        "scp" => "a service control policy denies it: ask the organization's admins".to_string(),
        "boundary" => "widen the role's permissions boundary to allow it".to_string(),
        _ => match plan::covering_resource(&p.resource) {
            Some(r) => format!("allow {} on Resource {r} in the role's policy (it covers the group and its streams; a bare log-group:NAME covers neither)", p.action),
            None => format!("allow {} on Resource {} in the role's policy", p.action, p.resource),
        },
    };
    Error::problem(code, message, remedy)
}

/// The report's entry for a target.
pub fn log_output(
    t: &Target,
    existence: Existence,
    delivery: Delivery,
    evidence: Basis,
    why: Option<String>,
) -> LogOutput {
    LogOutput {
        from: t.from.clone(),
        plugin: t.plugin.name().into(),
        region: t.region.clone(),
        group: t.group.clone(),
        stream: t.stream.clone(),
        names: t.names.clone(),
        group_exists: existence.group,
        stream_exists: existence.stream,
        delivery,
        evidence,
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::request::{parse_can, parse_logs_to};
    use super::*;

    #[test]
    fn can_and_logs_to_parse() {
        assert_eq!(
            parse_can("logs:PutLogEvents=arn:aws:logs:r:1:log-group:g:log-stream:s")
                .unwrap()
                .0,
            "logs:PutLogEvents"
        );
        assert_eq!(
            parse_can("s3:GetObject=arn:aws:s3:::b/k=v").unwrap().1,
            "arn:aws:s3:::b/k=v"
        );
        for bad in ["logs:PutLogEvents", "PutLogEvents=x", "logs:Put=", "=x"] {
            assert_eq!(parse_can(bad).unwrap_err().code, "invalid-can", "{bad}");
        }
        assert_eq!(
            parse_logs_to("/ecs/logs/sample-test:webapp").unwrap(),
            ("/ecs/logs/sample-test".into(), "webapp".into())
        );
        assert_eq!(parse_logs_to("g").unwrap().1, "");
        assert!(parse_logs_to(":s").is_err());
    }

    #[test]
    fn a_denial_names_the_action_the_arn_and_the_covering_resource() {
        let p = Permission {
            action: plan::PUT.into(),
            resource: "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:log-stream:webapp".into(),
            verdict: Verdict::Denied,
            basis: Basis::Probe,
            reason: Some("implicit".into()),
        };
        let e = denied_error("logs-delivery-denied", &p, "so …");
        assert!(e.message.starts_with("logs:PutLogEvents is denied on arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:log-stream:webapp (implicit)"));
        assert!(e.hint.contains(
            "Resource arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:*"
        ));
        assert_eq!(e.exit_code(), 1);
    }
}
