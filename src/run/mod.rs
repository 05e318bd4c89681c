//! One run: set-up, the chain walk (with the ECS task metadata fetched concurrently), one STS
//! call with the winner's credentials, and the report. Nothing here prints.
//! Reads (through `Env` and the modules it calls): see `chain`, `sdk`, `tls`, `ecs_metadata`.

pub mod process_flags;
pub mod processes;

use crate::chain::web_identity::{self, TokenFile};
use crate::chain::{self, container, env_vars, imds, profile::Profiles, Ctx, Provider, Walk};
use crate::ecs_metadata;
use crate::env::Env;
use crate::error::Error;
use crate::http::{self, Budget};
use crate::notes;
use crate::process::{self, Comparison, Subject};
use crate::report::{Inputs, Report};
use crate::sdk::{self, RegionChoice, Sdk};
use crate::settings::{Mode, Settings};
use crate::sts;
use crate::tls::Roots;
use crate::warning::{self, Warning};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A log router's delivery check that runs in place of the probe (the health mode's cached
/// one, `health::logs::Check`): the mode above hands it in, so `run` never imports a mode.
pub trait DeliveryCheck {
    /// Whether it answers for these settings (else the probe runs, if asked).
    fn applies(&self, settings: &Settings) -> bool;
    fn check<'a>(
        &'a self,
        settings: &'a Settings,
        ctx: &'a crate::probe::Ctx<'a>,
        subject: crate::probe::Subject<'a>,
        role: String,
    ) -> Checked<'a>;
}

/// What a [`DeliveryCheck`] returns: the findings, later.
pub type Checked<'a> = Pin<Box<dyn Future<Output = crate::probe::Findings> + 'a>>;

/// No delivery check: every mode but the health check, and `processes`' walks.
pub struct NoDeliveryCheck;

impl DeliveryCheck for NoDeliveryCheck {
    fn applies(&self, _: &Settings) -> bool {
        false
    }

    fn check<'a>(
        &'a self,
        _: &'a Settings,
        _: &'a crate::probe::Ctx<'a>,
        _: crate::probe::Subject<'a>,
        _: String,
    ) -> Checked<'a> {
        Box::pin(std::future::ready(crate::probe::Findings::default()))
    }
}

/// Slack between the inner per-step bounds and the hard stop, well inside the 250 ms promise.
const HARD_STOP_SLACK: Duration = Duration::from_millis(100);

/// `own` is credcheck's environment; under `--pid` the chain is walked with the process's.
pub async fn run(settings: &Settings, own: &Env, delivery: &dyn DeliveryCheck) -> Report {
    let budget = Budget::new(settings.deadline, settings.timeout);
    env_vars::register_secrets(own);
    if settings.mode == Mode::Processes {
        return processes(settings, own, budget).await;
    }
    let target = match settings.pid.map(process::open).transpose() {
        Ok(target) => target,
        Err(error) => return failed(settings, own, error, budget),
    };
    let walked = target
        .as_ref()
        .map(|(subject, env)| process::keep_imds_off(own, env, subject));
    let env = walked.as_ref().map_or(own, |(env, _)| env);
    let hard_stop = settings.deadline + HARD_STOP_SLACK;
    let mut report =
        match tokio::time::timeout(hard_stop, gather(settings, env, budget, delivery)).await {
            Ok(Ok(report)) => report,
            Ok(Err(error)) => failed(settings, env, error, budget),
            Err(_) => failed(settings, env, deadline_error(settings.deadline), budget),
        };
    report
        .warnings
        .extend(walked.and_then(|(_, warning)| warning));
    report
        .warnings
        .extend(compare(settings, own, target.as_ref()));
    report.process = target.map(|(subject, _)| subject);
    report
}

/// `credcheck processes`, bounded by the same hard stop as a walk.
async fn processes(settings: &Settings, own: &Env, budget: Budget) -> Report {
    let hard_stop = settings.deadline + HARD_STOP_SLACK;
    let run = processes::run(settings, own, budget);
    match tokio::time::timeout(hard_stop, run).await {
        Ok(Ok(report)) => report,
        Ok(Err(error)) => failed(settings, own, error, budget),
        Err(_) => failed(settings, own, deadline_error(settings.deadline), budget),
    }
}

/// `environment-differs`: with `--pid`, credcheck's own environment against the process's;
/// without it, in report mode inside a container, the app's (PID 1 or its child) against
/// credcheck's own.
fn compare(settings: &Settings, own: &Env, target: Option<&(Subject, Env)>) -> Option<Warning> {
    if let Some((subject, env)) = target {
        return process::environment_differs(own, env, Comparison::Evaluated(subject));
    }
    if !settings.compare || settings.mode != Mode::Report {
        return None;
    }
    let (subject, env) = process::compare_target()?;
    process::environment_differs(own, &env, Comparison::Observed(&subject))
}

pub fn deadline_error(deadline: Duration) -> Error {
    Error::unreachable(
        "deadline-exceeded",
        format!("the run did not finish within --deadline {}", crate::duration::human(deadline)),
        "an endpoint is hanging; run credcheck without --deadline limits in a shell to see which, or raise --deadline",
    )
}

/// A report that holds only a set-up error, so json consumers still get their one line.
pub fn failed(settings: &Settings, env: &Env, error: Error, budget: Budget) -> Report {
    let walk = Walk::not_run("not checked: set-up failed (see errors)");
    let mut report = Report::build(Inputs {
        env,
        settings,
        walk,
        sts: None,
        region: None,
        context: None,
        warnings: Vec::new(),
        notes: Vec::new(),
        elapsed: budget.elapsed(),
    });
    report.errors = vec![error];
    report.exit_code = report.errors[0].exit_code();
    report.ok = false;
    report
}

async fn gather(
    settings: &Settings,
    env: &Env,
    budget: Budget,
    delivery: &dyn DeliveryCheck,
) -> Result<Report, Error> {
    gather_with_creds(settings, env, budget, delivery)
        .await
        .map(|(report, _)| report)
}

/// One walk of the chain with `env` (another process's, read through its root, as `--pid`
/// reads it), never STS and never the probe: `processes` runs it once per distinct
/// environment and asks STS once per distinct set of credentials ([`identity`]). Returns the
/// winner's credentials too, which stay in memory only.
pub async fn walk_only(
    settings: &Settings,
    env: &Env,
    budget: Budget,
) -> (Report, Option<chain::Creds>) {
    let mut quiet = settings.clone();
    quiet.sts = false;
    quiet.probe = crate::probe::Request::default();
    match gather_with_creds(&quiet, env, budget, &NoDeliveryCheck).await {
        Ok(done) => done,
        Err(error) => (failed(&quiet, env, error, budget), None),
    }
}

/// STS GetCallerIdentity with `creds`, configured from `env` as the walk was (region,
/// endpoint, CA bundle).
pub async fn identity(
    settings: &Settings,
    env: &Env,
    creds: &chain::Creds,
    budget: &Budget,
) -> Result<sts::Identity, Error> {
    let profiles = Profiles::load(env).await;
    let roots = match sdk::needs_tls(env, &profiles) {
        true => Some(Roots::load(env)?),
        false => None,
    };
    let sdk = Sdk::new(env, &profiles, roots.as_ref(), settings.timeout)?;
    sts::caller_identity(&sdk, creds, budget).await.result
}

async fn gather_with_creds(
    settings: &Settings,
    env: &Env,
    budget: Budget,
    delivery: &dyn DeliveryCheck,
) -> Result<(Report, Option<chain::Creds>), Error> {
    env_vars::register_secrets(env);
    let profiles = Profiles::load(env).await;
    let container = container::plan(env, &budget).await;
    let endpoint_tls = container
        .target()
        .is_some_and(|t| t.url.scheme() == "https")
        || imds::endpoint(env).starts_with("https");
    // Roots only when the SDK may really make an https call: STS is asked, or a source that
    // calls STS/SSO itself (assume-role, SSO, web identity) may be reached.
    let sdk_tls = sdk::needs_tls(env, &profiles)
        && (settings.sts || settings.probe.is_active() || sdk::may_call_aws(env, &profiles));
    let roots = if endpoint_tls || sdk_tls {
        Some(Roots::load(env)?)
    } else {
        None
    };
    let endpoints =
        http::endpoint_client(roots.as_ref().filter(|_| endpoint_tls), settings.timeout)?;
    let mut sdk = Sdk::new(
        env,
        &profiles,
        roots.as_ref().filter(|_| sdk_tls),
        settings.timeout,
    )?;
    let web_token = web_identity::token_file(env, profiles.get("web_identity_token_file"));
    let ctx = Ctx {
        env,
        settings,
        budget,
        endpoints: &endpoints,
        sdk: &sdk,
        profile: &profiles,
        container: &container,
        web_token: web_token.as_ref(),
    };
    // Health skips it, unless a log router's names may need the task (its FireLens tags).
    let want_context = !settings.is_health() || settings.probe.is_active();
    let context_fetch = async {
        match want_context {
            true => ecs_metadata::fetch(env, &endpoints, &budget).await,
            false => None,
        }
    };
    let (walk, context) = tokio::join!(chain::walk(&ctx), context_fetch);
    sdk.region = region(&walk, sdk.region.take());
    let want_sts = settings.sts || probe_needs_sts(settings, &walk, delivery);
    let sts = match (&walk.winner, want_sts) {
        (Some((_, resolved)), true) => {
            Some(sts::caller_identity(&sdk, &resolved.creds, &budget).await)
        }
        _ => None,
    };
    let token = web_token.as_ref().and_then(|t| t.as_ref().ok());
    let winner = walk.winner.as_ref().map(|(_, r)| r.creds.clone());
    let warnings = warnings(
        env,
        &walk,
        &container,
        token,
        sdk.region.as_ref(),
        sts.is_some(),
    );
    let mut report = Report::build(Inputs {
        env,
        settings,
        walk,
        sts,
        region: sdk.region.clone(),
        context,
        warnings,
        notes: notes::notes(env, &profiles),
        elapsed: budget.elapsed(),
    });
    if let (true, Some(creds)) = (settings.probe.is_active(), winner.as_ref()) {
        let place = (&budget, &endpoints);
        let findings = probe(settings, env, &report, creds, place, delivery).await;
        report.add_probe(findings);
        report.elapsed_ms = budget.elapsed().as_millis() as u64;
    }
    Ok((report, winner))
}

/// The probe needs the account; STS is asked when the source did not name it.
fn probe_needs_sts(settings: &Settings, walk: &Walk, delivery: &dyn DeliveryCheck) -> bool {
    let named = walk.winner.as_ref().is_some_and(|(_, r)| {
        r.account_id.is_some()
            || r.role_arn
                .as_deref()
                .is_some_and(|a| a.split(':').nth(4).is_some_and(|x| !x.is_empty()))
    });
    // The cached health check must not add an STS call per run (issue 16).
    settings.probe.is_active() && !named && !delivery.applies(settings)
}

/// The permission probe, with the winner's credentials (`probe`).
async fn probe(
    settings: &Settings,
    env: &Env,
    report: &Report,
    creds: &chain::Creds,
    (budget, metadata): (&Budget, &crate::http::Client),
    delivery: &dyn DeliveryCheck,
) -> crate::probe::Findings {
    let client =
        match Roots::load(env).and_then(|r| http::endpoint_client(Some(&r), settings.timeout)) {
            Ok(c) => c,
            Err(e) => {
                return crate::probe::Findings {
                    errors: vec![e],
                    ..Default::default()
                }
            }
        };
    let account = report
        .identity
        .as_ref()
        .map(|i| i.account.clone())
        .or_else(|| {
            report
                .role_arn
                .as_deref()
                .and_then(|a| a.split(':').nth(4))
                .filter(|a| !a.is_empty())
                .map(str::to_string)
        });
    // The STS session ARN lacks the role's path, which the simulator needs.
    let role_arn = report
        .role_arn
        .clone()
        .filter(|_| report.role_arn_from != Some("sts"));
    let subject = crate::probe::Subject {
        creds,
        account,
        role_arn,
        region: report.region.clone(),
    };
    let task = report.context.as_ref().map(|c| crate::probe::names::Task {
        task_arn: c.task_arn.clone().unwrap_or_default(),
        cluster: c.cluster.clone().unwrap_or_default(),
        firelens_containers: c.firelens_containers.clone(),
    });
    let ctx = crate::probe::Ctx {
        env,
        budget,
        timeout: settings.timeout,
        client: &client,
        metadata,
        task: task.as_ref(),
    };
    if delivery.applies(settings) {
        let role = report.role_arn.clone();
        let role = role.or_else(|| report.identity.as_ref().map(|i| i.arn.clone()));
        let role = role.unwrap_or_else(|| "unknown".into());
        return delivery.check(settings, &ctx, subject, role).await;
    }
    crate::probe::run(&settings.probe, &ctx, subject).await
}

/// The configured region; else the one IMDS reported; else none (STS then uses us-east-1).
fn region(walk: &Walk, configured: Option<RegionChoice>) -> Option<RegionChoice> {
    configured.or_else(|| match &walk.winner {
        // A peer's answer: a name that is not a region is ignored, never made a host.
        Some((Provider::Imds, r)) => r.region.as_deref().and_then(|raw| {
            Some(RegionChoice {
                region: crate::region::Region::parse(raw, "IMDS").ok()?,
                origin: "imds".into(),
            })
        }),
        _ => None,
    })
}

fn warnings(
    env: &Env,
    walk: &Walk,
    container: &container::Plan,
    token: Option<&TokenFile>,
    region: Option<&RegionChoice>,
    sts_asked: bool,
) -> Vec<Warning> {
    let mut out = warning::shadowing(walk);
    out.extend(warning::environment(env, container));
    out.extend(warning::web_identity_token(env, token));
    out.extend(warning::malformed_key_id(env, walk));
    if region.is_none() && walk.winner.is_some() {
        let sts = match sts_asked {
            true => format!("; STS was asked in {}", sdk::FALLBACK_REGION),
            false => String::new(),
        };
        out.push(Warning::new(
            "no-region",
            format!("no region is configured (AWS_REGION, AWS_DEFAULT_REGION, profile){sts}"),
            "set AWS_REGION: most SDK clients fail without one",
        ));
    }
    out
}
