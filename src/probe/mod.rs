//! The permission probe: can these credentials do action A on resource R, and can this role
//! deliver the logs (FireLens / Fluent Bit to CloudWatch Logs)? Without changing anything in
//! the account: see `plan` for the calls and the promise. Runs only when asked (`--can`,
//! `--logs-to`, `--fluent-bit-config`, `--firelens`), within the run's deadline.
//!
//! Layout: `request` (the flags, checked), `verdict` (the findings as data), `plan` (which
//! calls, and the verdict each answer gives; no I/O), `targets` (the destinations gathered),
//! `fluentbit` (the classic config; `fluentbit_yaml` for the YAML one), `firelens` (task
//! metadata log options), `names` (FireLens stream and group names), `aws` (SigV4 + the one
//! HTTP client), `logs` (the CloudWatch Logs calls), `assume` (the plugin's `role_arn`),
//! `simulate` (IAM's policy simulator), `counters` (the router's own metrics), `judge` (each
//! output's verdict); this file runs them per site. Reads (through those modules): AWS_ENDPOINT_URL_CLOUDWATCH_LOGS,
//! AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS,
//! ECS_CONTAINER_METADATA_URI_V4, and `${VAR}`s named in a Fluent Bit config.

pub mod assume;
pub mod aws;
pub mod counters;
pub mod firelens;
pub mod fluentbit;
pub mod fluentbit_yaml;
mod judge;
pub mod logs;
pub mod names;
pub mod plan;
pub mod request;
pub mod simulate;
mod targets;

pub use judge::*;
pub use targets::*;
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

#[cfg(test)]
mod tests;
