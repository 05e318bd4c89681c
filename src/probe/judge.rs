//! The probe's verdicts: each log output judged deliverable, blocked or unverified from the
//! answers its site's calls got (and the router's own counters, read once per metrics URL),
//! each `--can` from its answer; never one permission inferred from another.
//! Reads no env vars.

use super::*;

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

pub(super) fn judge_all(
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

pub(super) fn dedup(perms: &mut Vec<Permission>) {
    let mut seen = Vec::new();
    perms.retain(|p| {
        let key = (p.action.clone(), p.resource.clone());
        let fresh = !seen.contains(&key);
        seen.push(key);
        fresh
    });
}

pub(super) fn output(
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
pub(super) fn role_refused(t: &Target, refusal: &assume::Refusal, f: &mut Findings) {
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
pub(super) fn cannot_work(t: &Target, e: Existence) -> Option<String> {
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
pub(super) fn unproven(needed: &[&Permission]) -> String {
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

pub(super) fn can_outcome(p: &Permission, f: &mut Findings) {
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
