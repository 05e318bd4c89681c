//! The names a CloudWatch output will really write to, resolved the way the router resolves
//! them: `log_stream_prefix` + the FireLens tag, the C plugin's `$TAG`/`$TAG[n]` templates,
//! the Go plugin's `$(tag)`, `$(tag[n])`, `$(ecs_task_id)`, `$(ecs_cluster)`, `$(ecs_task_arn)`.
//! Per-record parts (`$key`, `$(key)`, `$(uuid)`) cannot be known from inside, so the name
//! every untranslatable record falls back to is the one checked, and the report says so.
//! No I/O: the task (its ARN, cluster and the containers that log through FireLens) comes from
//! task metadata v4, read by the caller. Reads no env vars (`${VAR}` was expanded when the
//! config was read).
//!
//! Sources (cited in `/work/notes` by the research for issue 20, summarised here):
//! - FireLens tags records `<container name>-firelens-<task ID>` (Amazon ECS Developer Guide,
//!   "Custom log routing": "the log stream name is `log_stream_prefix` + tag").
//! - C `cloudwatch_logs` (plugins/out_cloudwatch_logs/cloudwatch_logs.c, cloudwatch_api.c):
//!   `log_stream_prefix` gives the stream `prefix + tag`; `log_group_template` and
//!   `log_stream_template` are record-accessor templates evaluated per record, and a failed
//!   translation falls back to `log_group_name` / `log_stream_name` (or prefix + tag);
//!   `$TAG[n]` is the tag split on `.`.
//! - Go `cloudwatch` (cloudwatch/cloudwatch.go): `$(…)` inside `log_group_name` /
//!   `log_stream_name`; a variable that cannot be resolved sends the record to
//!   `default_log_group_name` / `default_log_stream_name`; `log_stream_prefix` + tag.

use super::plan::{Names, Plugin};
use std::collections::BTreeMap;

/// What the router knows about its task: from task metadata v4 (`/task`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Task {
    pub task_arn: String,
    pub cluster: String,
    /// The containers whose log driver is `awsfirelens` (their records reach the router).
    pub firelens_containers: Vec<String>,
}

impl Task {
    /// The task ID: the last segment of the task ARN.
    pub fn id(&self) -> &str {
        self.task_arn.rsplit('/').next().unwrap_or("")
    }

    /// The FireLens tags: `<container name>-firelens-<task ID>`.
    pub fn tags(&self) -> Vec<String> {
        self.firelens_containers
            .iter()
            .map(|c| format!("{c}-firelens-{}", self.id()))
            .collect()
    }
}

/// One (group, stream) the output will write to, and how each name was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub group: String,
    pub stream: String,
    pub names: Names,
}

/// A name and how it was found.
struct Name {
    value: String,
    how: String,
}

/// Every (group, stream) the output writes the FireLens records to; `Err` says why no name
/// can be known (e.g. the stream depends on the tag and no task metadata was readable).
pub fn resolve(
    plugin: Plugin,
    keys: &BTreeMap<String, String>,
    task: Option<&Task>,
) -> Result<Vec<Resolved>, String> {
    let needs_tag = needs_tag(plugin, keys);
    let tags: Vec<Option<String>> = match (needs_tag, task) {
        (false, _) => vec![None],
        (true, Some(t)) if !t.firelens_containers.is_empty() => {
            let matching = matching_tags(keys, t.tags());
            if matching.is_empty() {
                return Err("no FireLens tag of this task matches the output's Match".into());
            }
            matching.into_iter().map(Some).collect()
        }
        (true, Some(_)) => {
            return Err("the name depends on the FireLens tag, and task metadata lists no container that logs through awsfirelens".into())
        }
        (true, None) => {
            return Err("the name depends on the FireLens tag (<container>-firelens-<task ID>), and task metadata v4 was not readable (ECS_CONTAINER_METADATA_URI_V4)".into())
        }
    };
    let mut out: Vec<Resolved> = Vec::new();
    for tag in tags {
        let ctx = Ctx { tag, task };
        let group = group(plugin, keys, &ctx)?;
        let stream = stream(plugin, keys, &ctx)?;
        let r = Resolved {
            group: group.value,
            stream: stream.value,
            names: Names {
                group: group.how,
                stream: stream.how,
            },
        };
        if !out
            .iter()
            .any(|o| o.group == r.group && o.stream == r.stream)
        {
            out.push(r);
        }
    }
    Ok(out)
}

struct Ctx<'a> {
    tag: Option<String>,
    task: Option<&'a Task>,
}

fn key<'a>(keys: &'a BTreeMap<String, String>, k: &str) -> Option<&'a str> {
    keys.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// Whether any name the output uses needs the record's tag.
fn needs_tag(plugin: Plugin, keys: &BTreeMap<String, String>) -> bool {
    let uses_tag = |v: &str| match plugin {
        Plugin::CloudwatchLogs => v.contains("$TAG"),
        Plugin::Cloudwatch => v.contains("$(tag"),
    };
    let stream_by_prefix =
        key(keys, "log_stream_name").is_none() && key(keys, "log_stream_prefix").is_some();
    stream_by_prefix
        || [
            "log_group_name",
            "log_stream_name",
            "log_group_template",
            "log_stream_template",
        ]
        .iter()
        .filter_map(|k| key(keys, k))
        .any(uses_tag)
}

/// The tags that the output's `Match` (a `*` glob, Fluent Bit's default `*`) lets through.
fn matching_tags(keys: &BTreeMap<String, String>, tags: Vec<String>) -> Vec<String> {
    let pattern = key(keys, "match").unwrap_or("*");
    tags.into_iter()
        .filter(|t| super::fluentbit::glob_match(pattern, t))
        .collect()
}

fn group(plugin: Plugin, keys: &BTreeMap<String, String>, ctx: &Ctx<'_>) -> Result<Name, String> {
    match plugin {
        Plugin::CloudwatchLogs => c_name(keys, "log_group_template", fixed_group(keys), ctx),
        Plugin::Cloudwatch => go_name(keys, "log_group_name", "default_log_group_name", ctx),
    }
}

fn stream(plugin: Plugin, keys: &BTreeMap<String, String>, ctx: &Ctx<'_>) -> Result<Name, String> {
    match plugin {
        Plugin::CloudwatchLogs => {
            let fixed = match key(keys, "log_stream_name") {
                Some(s) => Ok(literal(s)),
                None => by_prefix(keys, ctx),
            };
            c_name(keys, "log_stream_template", fixed, ctx)
        }
        Plugin::Cloudwatch if key(keys, "log_stream_name").is_some() => {
            go_name(keys, "log_stream_name", "default_log_stream_name", ctx)
        }
        Plugin::Cloudwatch => by_prefix(keys, ctx),
    }
}

fn literal(value: &str) -> Name {
    Name {
        value: value.into(),
        how: "literal".into(),
    }
}

fn fixed_group(keys: &BTreeMap<String, String>) -> Result<Name, String> {
    key(keys, "log_group_name")
        .map(literal)
        .ok_or_else(|| "it names no log_group_name (the plugin refuses to start)".into())
}

fn by_prefix(keys: &BTreeMap<String, String>, ctx: &Ctx<'_>) -> Result<Name, String> {
    let prefix = key(keys, "log_stream_prefix").ok_or(
        "it names neither log_stream_name nor log_stream_prefix (the plugin refuses to start)",
    )?;
    let tag = ctx
        .tag
        .as_deref()
        .ok_or("the stream is log_stream_prefix + the record's tag, and the tag is not known")?;
    Ok(Name {
        value: format!("{prefix}{tag}"),
        how: format!("resolved (log_stream_prefix + FireLens tag {tag})"),
    })
}

/// The C plugin: a template whose parts are all `$TAG`/`$TAG[n]` resolves; one with a record
/// key falls back, for every record lacking the key, to the fixed name.
fn c_name(
    keys: &BTreeMap<String, String>,
    template_key: &str,
    fixed: Result<Name, String>,
    ctx: &Ctx<'_>,
) -> Result<Name, String> {
    let Some(template) = key(keys, template_key) else {
        return fixed;
    };
    match render_c(template, ctx.tag.as_deref()) {
        Some(value) => Ok(Name {
            value,
            how: format!("resolved ({template_key} with the FireLens tag)"),
        }),
        None => fixed.map(|f| Name {
            value: f.value,
            how: format!("fallback ({template_key} names per-record keys; this is where records without them go)"),
        }),
    }
}

/// `$TAG` and `$TAG[n]` (the tag split on `.`); `None` when a record key is named.
fn render_c(template: &str, tag: Option<&str>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let tail = after.strip_prefix("TAG")?;
        let tag = tag?;
        let (part, used) = index(tail, tag, '.')?;
        out.push_str(part);
        rest = &tail[used..];
    }
    out.push_str(rest);
    Some(out)
}

/// `[n]` after a tag reference: the n-th part of the tag split on `sep`, and how many bytes
/// of `tail` were used; no index: the whole tag.
fn index<'a>(tail: &str, tag: &'a str, sep: char) -> Option<(&'a str, usize)> {
    let Some(inner) = tail.strip_prefix('[') else {
        return Some((tag, 0));
    };
    let close = inner.find(']')?;
    let n: usize = inner[..close].trim().parse().ok()?;
    Some((tag.split(sep).nth(n)?, close + 2))
}

/// The Go plugin: `$(…)` variables the router knows resolve; any other sends the record to
/// the `default_…` name.
fn go_name(
    keys: &BTreeMap<String, String>,
    name_key: &str,
    default_key: &str,
    ctx: &Ctx<'_>,
) -> Result<Name, String> {
    let template = key(keys, name_key).ok_or_else(|| format!("it names no {name_key}"))?;
    if !template.contains("$(") {
        return Ok(literal(template));
    }
    if let Some(value) = render_go(template, ctx) {
        return Ok(Name {
            value,
            how: format!("resolved ({name_key} with the task's metadata and tag)"),
        });
    }
    let fallback = key(keys, default_key).unwrap_or(match default_key {
        "default_log_group_name" => GO_DEFAULT_GROUP,
        _ => GO_DEFAULT_STREAM,
    });
    Ok(Name {
        value: fallback.into(),
        how: format!("fallback ({name_key} names per-record values; records go to {default_key})"),
    })
}

/// The Go plugin's defaults for `default_log_group_name` / `default_log_stream_name`
/// (cloudwatch/cloudwatch.go, `fluentbit-default` / `/fluentbit-default`).
pub const GO_DEFAULT_GROUP: &str = "fluentbit-default";
pub const GO_DEFAULT_STREAM: &str = "/fluentbit-default";

fn render_go(template: &str, ctx: &Ctx<'_>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find("$(") {
        out.push_str(&rest[..at]);
        let inner_end = rest[at..].find(')')? + at;
        let var = rest[at + 2..inner_end].trim();
        out.push_str(&go_var(var, ctx)?);
        rest = &rest[inner_end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn go_var(var: &str, ctx: &Ctx<'_>) -> Option<String> {
    let task = || ctx.task;
    match var {
        "ecs_task_id" => Some(task()?.id().to_string()),
        "ecs_cluster" => Some(task()?.cluster.clone()),
        "ecs_task_arn" => Some(task()?.task_arn.clone()),
        _ => {
            let tail = var.strip_prefix("tag")?;
            let tag = ctx.tag.as_deref()?;
            let (part, used) = index(tail, tag, '.')?;
            (used == tail.len()).then(|| part.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn task() -> Task {
        Task {
            task_arn: "arn:aws:ecs:us-east-1:123456789012:task/prod/0f4b2f539a1e4c36".into(),
            cluster: "prod".into(),
            firelens_containers: vec!["app".into()],
        }
    }

    #[test]
    fn a_prefix_takes_the_firelens_tag() {
        let k = keys(&[("log_group_name", "/ecs/app"), ("log_stream_prefix", "fb-")]);
        let r = resolve(Plugin::CloudwatchLogs, &k, Some(&task())).unwrap();
        assert_eq!(r[0].stream, "fb-app-firelens-0f4b2f539a1e4c36");
        assert_eq!(r[0].names.group, "literal");
        assert!(r[0].names.stream.starts_with("resolved"));
        let e = resolve(Plugin::CloudwatchLogs, &k, None).unwrap_err();
        assert!(e.contains("task metadata"), "{e}");
    }

    #[test]
    fn c_templates_resolve_the_tag_and_fall_back_on_record_keys() {
        let k = keys(&[
            ("log_group_name", "/fallback"),
            ("log_group_template", "/ecs/$kubernetes['namespace_name']"),
            ("log_stream_name", "s"),
            ("log_stream_template", "$TAG[0].x"),
        ]);
        let r = resolve(Plugin::CloudwatchLogs, &k, Some(&task())).unwrap();
        assert_eq!(r[0].group, "/fallback");
        assert!(r[0].names.group.starts_with("fallback"));
        assert_eq!(r[0].stream, "app-firelens-0f4b2f539a1e4c36.x");
    }

    #[test]
    fn go_templates_take_task_values_or_the_defaults() {
        let k = keys(&[
            ("log_group_name", "/ecs/$(ecs_cluster)"),
            ("log_stream_name", "$(ecs_task_id)/$(tag)"),
        ]);
        let r = resolve(Plugin::Cloudwatch, &k, Some(&task())).unwrap();
        assert_eq!(r[0].group, "/ecs/prod");
        assert_eq!(
            r[0].stream,
            "0f4b2f539a1e4c36/app-firelens-0f4b2f539a1e4c36"
        );
        let k = keys(&[
            ("log_group_name", "$(kubernetes['ns'])"),
            ("log_stream_name", "s"),
        ]);
        let r = resolve(Plugin::Cloudwatch, &k, Some(&task())).unwrap();
        assert_eq!(r[0].group, GO_DEFAULT_GROUP);
        assert!(r[0].names.group.starts_with("fallback"));
    }

    #[test]
    fn match_filters_the_tags() {
        let mut t = task();
        t.firelens_containers.push("sidecar".into());
        let k = keys(&[
            ("match", "app-firelens*"),
            ("log_group_name", "g"),
            ("log_stream_prefix", "p-"),
        ]);
        let r = resolve(Plugin::CloudwatchLogs, &k, Some(&t)).unwrap();
        assert_eq!(r.len(), 1);
        assert!(r[0].stream.starts_with("p-app-"));
    }
}
