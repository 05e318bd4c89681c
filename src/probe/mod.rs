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

pub mod aws;
pub mod firelens;
pub mod fluentbit;
pub mod fluentbit_yaml;
pub mod logs;
pub mod plan;
pub mod simulate;
pub mod verdict;

use crate::chain::Creds;
use crate::env::Env;
use crate::error::Error;
use crate::http::Budget;
use crate::region::Region;
use crate::warning::Warning;
use clap::Args;
use plan::{Answer, Call, Check, Existence, Need, Plugin, Target};
use std::path::PathBuf;
use std::time::Duration;
use verdict::{Basis, Delivery, LogOutput, Permission, Verdict};

/// The probe's command-line flags (flattened into the report, wrapper and health flags).
#[derive(Debug, Clone, Default, Args)]
pub struct ProbeArgs {
    /// Check that the credentials may do ACTION on RESOURCE (repeatable), e.g.
    /// logs:PutLogEvents=arn:aws:logs:REGION:ACCOUNT:log-group:G:log-stream:S
    #[arg(long, value_name = "ACTION=RESOURCE")]
    pub can: Vec<String>,

    /// Check that logs can be delivered to this CloudWatch Logs group and stream (repeatable).
    #[arg(long, value_name = "GROUP[:STREAM]")]
    pub logs_to: Vec<String>,

    /// The region of --logs-to (default: the configured region).
    #[arg(long, value_name = "REGION")]
    pub logs_region: Option<String>,

    /// The Fluent Bit plugin --logs-to stands for: cloudwatch_logs (C) or cloudwatch (Go).
    #[arg(long, value_name = "PLUGIN", default_value = "cloudwatch_logs")]
    pub plugin: String,

    /// --logs-to: the plugin creates the group when it is missing (auto_create_group true).
    #[arg(long)]
    pub auto_create_group: bool,

    /// Check every CloudWatch output of this Fluent Bit config, classic or YAML (with its includes).
    #[arg(long, value_name = "PATH")]
    pub fluent_bit_config: Vec<PathBuf>,

    /// Check the awsfirelens log options of the task's containers (ECS task metadata v4).
    #[arg(long)]
    pub firelens: bool,

    /// Ask IAM's policy simulator first (exact verdicts); fall back to the probes if refused.
    #[arg(long)]
    pub simulate: bool,
}

/// The probe request, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub can: Vec<(String, String)>,
    pub logs_to: Vec<(String, String)>,
    pub logs_region: Option<String>,
    pub plugin: Option<Plugin>,
    pub auto_create_group: bool,
    pub configs: Vec<PathBuf>,
    pub firelens: bool,
    pub simulate: bool,
}

fn usage(code: &'static str, message: String, hint: &str) -> Error {
    Error::usage(code, message, hint)
}

impl Request {
    pub fn from_args(a: ProbeArgs) -> Result<Request, Error> {
        let plugin = Plugin::parse(&a.plugin).ok_or_else(|| {
            usage("invalid-plugin", format!("--plugin {:?} is not a CloudWatch Logs plugin", crate::secret::sanitize_foreign(&a.plugin, 40)), "use --plugin cloudwatch_logs (Fluent Bit's C plugin) or --plugin cloudwatch (the Go plugin)")
        })?;
        let request = Request {
            can: a
                .can
                .iter()
                .map(|c| parse_can(c))
                .collect::<Result<_, _>>()?,
            logs_to: a
                .logs_to
                .iter()
                .map(|l| parse_logs_to(l))
                .collect::<Result<_, _>>()?,
            logs_region: a.logs_region,
            plugin: Some(plugin),
            auto_create_group: a.auto_create_group,
            configs: a.fluent_bit_config,
            firelens: a.firelens,
            simulate: a.simulate,
        };
        if let Some(r) = &request.logs_region {
            Region::parse(r, "--logs-region")?;
        }
        for (_, resource) in &request.can {
            if let Some(arn) = plan::parse_logs_arn(resource) {
                Region::parse(&arn.region, "the Region field of a --can ARN")?;
            }
        }
        if request.simulate && !request.is_active() {
            return Err(usage("nothing-to-probe", "--simulate needs something to check".into(), "add --can ACTION=RESOURCE, --logs-to GROUP:STREAM, --fluent-bit-config PATH or --firelens"));
        }
        Ok(request)
    }

    /// Whether any probe was asked for (they never run by default).
    pub fn is_active(&self) -> bool {
        !self.can.is_empty()
            || !self.logs_to.is_empty()
            || !self.configs.is_empty()
            || self.firelens
    }
}

fn parse_can(raw: &str) -> Result<(String, String), Error> {
    let bad = || {
        usage("invalid-can", format!("--can {:?} is not ACTION=RESOURCE", crate::secret::sanitize_foreign(raw, 120)), "e.g. --can logs:PutLogEvents=arn:aws:logs:us-east-1:123456789012:log-group:G:log-stream:S")
    };
    let (action, resource) = raw.split_once('=').ok_or_else(bad)?;
    let (action, resource) = (action.trim(), resource.trim());
    let valid_action = action
        .split_once(':')
        .is_some_and(|(s, a)| !s.is_empty() && !a.is_empty() && !a.contains(':'));
    if !valid_action || resource.is_empty() {
        return Err(bad());
    }
    Ok((action.to_string(), resource.to_string()))
}

/// `GROUP[:STREAM]`: group names cannot hold `:` (CloudWatch Logs' naming rules).
fn parse_logs_to(raw: &str) -> Result<(String, String), Error> {
    let (group, stream) = raw.trim().split_once(':').unwrap_or((raw.trim(), ""));
    if group.is_empty() || stream.contains(':') || stream.contains('*') {
        return Err(usage(
            "invalid-logs-to",
            format!(
                "--logs-to {:?} is not GROUP[:STREAM]",
                crate::secret::sanitize_foreign(raw, 120)
            ),
            "e.g. --logs-to /ecs/logs/sample-test:webapp",
        ));
    }
    Ok((group.to_string(), stream.to_string()))
}

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
    /// Notes for the report (`logs_health`: the age of a cached verdict).
    pub notes: Vec<crate::notes::Note>,
    pub permissions: Vec<Permission>,
    pub outputs: Vec<LogOutput>,
    pub warnings: Vec<Warning>,
    pub errors: Vec<Error>,
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
}

/// One (region, endpoint, group, stream): where calls go, and the checks that use them.
struct Site {
    region: String,
    endpoint: Option<String>,
    group: String,
    stream: String,
    /// (target index or none for --can, check)
    checks: Vec<(Option<usize>, Check)>,
    existence: Existence,
    answers: Vec<(Call, Answer)>,
}

/// Runs the probe.
pub async fn run(req: &Request, ctx: &Ctx<'_>, subject: Subject<'_>) -> Findings {
    let mut f = Findings::default();
    let targets = gather_targets(req, ctx, &subject, &mut f).await;
    let Some(account) = subject.account.clone() else {
        f.error(Error::problem("probe-account-unknown", "the permission probe needs the account ID, and no source named it (STS was not reachable)", "run with STS (drop --no-sts), or use credentials whose source names the role ARN"));
        return f;
    };
    let mut sites = sites(&targets, &account);
    let others = add_can(req, &mut sites);
    let decided = match req.simulate {
        true => simulated(ctx, &subject, &sites, &others, &mut f).await,
        false => None,
    };
    for site in &mut sites {
        probe_site(ctx, &subject, site, decided.is_some(), &mut f).await;
    }
    judge_all(&targets, &sites, &others, decided.as_deref(), &mut f);
    f
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
            retention_days: 0,
            tags: false,
        });
    }
    for path in &req.configs {
        match fluentbit::outputs(ctx.env, path) {
            Ok(sections) => add_config_targets(&fluentbit::targets(&sections), path, &mut out, f),
            Err(e) => f.error(e),
        }
    }
    if req.firelens {
        match firelens::targets(ctx.env, ctx.metadata, ctx.budget).await {
            Ok(found) => add_config_targets(&found, &PathBuf::from("task metadata"), &mut out, f),
            Err(e) => f.error(e),
        }
    }
    out
}

fn add_config_targets(
    found: &(Vec<Target>, Vec<Warning>),
    from: &std::path::Path,
    out: &mut Vec<Target>,
    f: &mut Findings,
) {
    let (targets, warnings) = found;
    f.warnings.extend(warnings.iter().cloned());
    if targets.is_empty() && warnings.is_empty() {
        f.warnings.push(Warning::new(
            "logs-no-cloudwatch-output",
            format!(
                "{} has no CloudWatch Logs output (Name cloudwatch_logs or cloudwatch)",
                from.display()
            ),
            "nothing was probed for it; check that this is the configuration the log router runs",
        ));
    }
    out.extend(targets.iter().cloned());
}

fn sites(targets: &[Target], account: &str) -> Vec<Site> {
    let mut out: Vec<Site> = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let checks = plan::checks(t, account)
            .into_iter()
            .filter(|c| !t.stream.is_empty() || c.resource.ends_with(":log-stream:"));
        let site = site_for(
            &mut out,
            &t.region,
            t.endpoint.as_deref(),
            &t.group,
            &t.stream,
        );
        site.checks.extend(checks.map(|c| (Some(i), c)));
    }
    out
}

fn site_for<'a>(
    sites: &'a mut Vec<Site>,
    region: &str,
    endpoint: Option<&str>,
    group: &str,
    stream: &str,
) -> &'a mut Site {
    let at = sites.iter().position(|s| {
        s.region == region
            && s.endpoint.as_deref() == endpoint
            && s.group == group
            && s.stream == stream
    });
    let at = at.unwrap_or_else(|| {
        sites.push(Site {
            region: region.into(),
            endpoint: endpoint.map(str::to_string),
            group: group.into(),
            stream: stream.into(),
            checks: Vec::new(),
            existence: Existence::default(),
            answers: Vec::new(),
        });
        sites.len() - 1
    });
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
                let stream = a.stream.clone().unwrap_or_default();
                let site = site_for(sites, &a.region, None, &a.group, &stream);
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
        .map(|s| s.region.clone())
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

/// The calls at one site, in the order: DescribeLogStreams, the too-old PutLogEvents,
/// then Create* on what exists. With the simulator's verdicts, only DescribeLogStreams runs
/// (to learn what exists).
async fn probe_site(
    ctx: &Ctx<'_>,
    subject: &Subject<'_>,
    site: &mut Site,
    simulated: bool,
    f: &mut Findings,
) {
    // Sources validate their regions; this is the backstop where the host is built.
    let source = format!("the region of log group {}", site.group);
    let region = match Region::parse(&site.region, &source) {
        Ok(r) => r,
        Err(e) => return f.error(e),
    };
    let endpoint = match aws::logs_endpoint(ctx.env, &region, site.endpoint.as_deref()) {
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
        creds: subject.creds,
        endpoint: &endpoint,
        budget: ctx.budget,
        now: ctx.env.now(),
        group: &site.group,
        stream: &site.stream,
    };
    let checks: Vec<Check> = site.checks.iter().map(|(_, c)| c.clone()).collect();
    let mut first = plan::first_calls(&checks);
    if simulated {
        first.retain(|c| *c == Call::Describe);
    }
    for call in first {
        let (answer, error) = logs::call(&logs, call).await;
        f.errors.extend(error);
        site.answers.push((call, answer));
    }
    site.existence = Existence::from_describe(
        site.answers
            .iter()
            .find(|(c, _)| *c == Call::Describe)
            .map(|(_, a)| a),
    );
    if simulated {
        return;
    }
    for call in plan::create_calls(&checks, site.existence) {
        let (answer, error) = logs::call(&logs, call).await;
        f.errors.extend(error);
        site.answers.push((call, answer));
    }
}

fn judge_all(
    targets: &[Target],
    sites: &[Site],
    others: &[(String, String)],
    decided: Option<&[simulate::Decision]>,
    f: &mut Findings,
) {
    let judge = |site: &Site, check: &Check| {
        let simulated = decided
            .filter(|_| plan::is_needed(check, site.existence))
            .and_then(|d| simulate::permission(d, &check.action, &check.resource));
        simulated.unwrap_or_else(|| plan::judge(check, site.existence, &site.answers))
    };
    for (i, t) in targets.iter().enumerate() {
        let Some(site) = sites.iter().find(|s| {
            s.region == t.region
                && s.endpoint == t.endpoint
                && s.group == t.group
                && s.stream == t.stream
        }) else {
            continue;
        };
        let perms: Vec<Permission> = site
            .checks
            .iter()
            .filter(|(at, _)| *at == Some(i))
            .map(|(_, c)| judge(site, c))
            .collect();
        output(t, site.existence, &perms, f);
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
                verdict: Verdict::Unknown,
                basis: Basis::Config,
                reason: Some(
                    "no probe answers this action on this resource; use --simulate".into(),
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

fn output(t: &Target, existence: Existence, perms: &[Permission], f: &mut Findings) {
    let needed: Vec<&Permission> = perms
        .iter()
        .filter(|p| p.verdict != Verdict::NotNeeded)
        .collect();
    let mut delivery = verdict::delivery(&needed);
    let group_missing = existence.group == Some(false);
    if group_missing && !t.auto_create_group {
        delivery = Delivery::Blocked;
        f.warnings.push(Warning::new("logs-group-missing", format!("the log group {} does not exist in {} and the {} output at {} does not create it (auto_create_group off)", t.group, t.region, t.plugin.name(), t.from), "create the group (CloudFormation, Terraform), or set auto_create_group true and allow logs:CreateLogGroup"));
    }
    if t.stream.is_empty() && delivery == Delivery::Ok {
        delivery = Delivery::Unknown;
    }
    // Exact denials first: the health line names the first error.
    let denied = needed.iter().filter(|p| p.verdict == Verdict::Denied);
    let likely = needed.iter().filter(|p| p.verdict == Verdict::LikelyDenied);
    for p in denied.chain(likely) {
        f.error(denied_error(
            "logs-delivery-denied",
            p,
            &format!(
                "so the {} output at {} cannot deliver to {}",
                t.plugin.name(),
                t.from,
                t.group
            ),
        ));
    }
    if delivery == Delivery::Unknown {
        let open: Vec<String> = needed
            .iter()
            .filter(|p| p.verdict != Verdict::Allowed)
            .map(|p| format!("{} {}", p.action, p.verdict.name()))
            .collect();
        f.warnings.push(Warning::new("logs-delivery-unknown", format!("delivery to {}:{} ({}) is not proven: {}", t.group, t.stream, t.from, open.join(", ")), "see the permissions list: a likely or unknown verdict rests on another action or on nothing; --simulate gives exact verdicts where IAM allows it"));
    }
    f.outputs.push(LogOutput {
        from: t.from.clone(),
        plugin: t.plugin.name().into(),
        region: t.region.clone(),
        group: t.group.clone(),
        stream: t.stream.clone(),
        group_exists: existence.group,
        stream_exists: existence.stream,
        delivery,
    });
}

fn can_outcome(p: &Permission, f: &mut Findings) {
    if p.verdict.is_denied() {
        f.error(denied_error("action-denied", p, "as --can asked"));
    }
}

/// One line naming the action and the exact ARN, and a hint naming the Resource that covers it.
pub fn denied_error(code: &'static str, p: &Permission, tail: &str) -> Error {
    let reason = p.reason.as_deref().unwrap_or("unstated");
    let likely = match p.verdict {
        Verdict::LikelyDenied => "likely denied (another action on the same resource was refused)",
        _ => "denied",
    };
    let message = format!(
        "{} is {likely} on {} ({reason}), {tail}",
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

#[cfg(test)]
mod tests {
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
