//! The probe's destinations, gathered: `--logs-to` (in the run's Region unless
//! `--logs-region`), every CloudWatch output of each Fluent Bit config (classic or YAML), then
//! the task's FireLens outputs (`firelens`), each with the warnings its config gives.
//! Reads (through `fluentbit` and `firelens`): `${VAR}`s named in a Fluent Bit config,
//! ECS_CONTAINER_METADATA_URI_V4.

use super::*;

/// The destinations: `--logs-to` (in the run's region unless `--logs-region`), then every
/// CloudWatch output of each config, then the task's FireLens outputs, with their warnings.
pub async fn gather_targets(
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
pub(super) fn add_config_targets(
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
