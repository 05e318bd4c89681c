//! What to ask, decided without I/O: the ARNs a CloudWatch Logs destination is authorised
//! against, the actions each Fluent Bit plugin calls, which probe calls to make in which
//! order, and the verdict each answer gives. The HTTP calls live in `probe::logs`; this module
//! only decides, so a cached health check can choose fewer calls with the same rules.
//! Reads no env vars.
//!
//! The plugins (researched from their sources, issue 14):
//! - `cloudwatch_logs` (C): CreateLogStream for every stream, existing or not; CreateLogGroup
//!   only after ResourceNotFound and with `auto_create_group`; PutLogEvents; PutRetentionPolicy
//!   when `log_retention_days` > 0; never DescribeLogStreams.
//! - `cloudwatch` (Go): DescribeLogStreams first; CreateLogGroup at each start with
//!   `auto_create_group`; CreateLogStream when the stream is missing; PutLogEvents; retention
//!   and tags when configured.
//!
//! The probes change nothing: DescribeLogStreams (read-only), PutLogEvents with one event
//! dated 15 days ago (AWS answers `tooOldLogEventEndIndex` and stores nothing), Create* only
//! on names that exist (ResourceAlreadyExistsException). Never Create* on a missing name,
//! never PutRetentionPolicy, never a tagging call.

use super::verdict::{Basis, DenyReason, Permission, Verdict};
use serde::{Deserialize, Serialize};

pub const DESCRIBE: &str = "logs:DescribeLogStreams";
pub const PUT: &str = "logs:PutLogEvents";
pub const CREATE_STREAM: &str = "logs:CreateLogStream";
pub const CREATE_GROUP: &str = "logs:CreateLogGroup";
pub const RETENTION: &str = "logs:PutRetentionPolicy";
pub const TAG: &str = "logs:TagResource";

/// The Fluent Bit plugin that writes to CloudWatch Logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Plugin {
    /// The C plugin (`cloudwatch_logs`), Fluent Bit's own.
    #[serde(rename = "cloudwatch_logs")]
    CloudwatchLogs,
    /// The Go plugin (`cloudwatch`) of aws-for-fluent-bit.
    #[serde(rename = "cloudwatch")]
    Cloudwatch,
}

impl Plugin {
    pub fn name(self) -> &'static str {
        match self {
            Plugin::CloudwatchLogs => "cloudwatch_logs",
            Plugin::Cloudwatch => "cloudwatch",
        }
    }

    pub fn parse(name: &str) -> Option<Plugin> {
        match name.trim().to_ascii_lowercase().as_str() {
            "cloudwatch_logs" => Some(Plugin::CloudwatchLogs),
            "cloudwatch" => Some(Plugin::Cloudwatch),
            _ => None,
        }
    }
}

/// One log destination, as the plugin would write to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where it was read (`--logs-to`, `FILE:LINE`, `task metadata (NAME)`).
    pub from: String,
    pub plugin: Plugin,
    pub region: String,
    /// The plugin's `endpoint` (or none: the environment's or the region's).
    pub endpoint: Option<String>,
    pub group: String,
    pub stream: String,
    pub auto_create_group: bool,
    pub retention_days: u32,
    pub tags: bool,
}

/// The AWS partition of a region: `aws`, `aws-cn`, `aws-us-gov`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The DNS suffix of a region's endpoints.
pub fn dns_suffix(region: &str) -> &'static str {
    match partition(region) {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    }
}

/// The ARN group-level calls are authorised against: `…:log-group:G:log-stream:`.
pub fn group_arn(region: &str, account: &str, group: &str) -> String {
    format!(
        "arn:{}:logs:{region}:{account}:log-group:{group}:log-stream:",
        partition(region)
    )
}

/// The ARN stream-level calls are authorised against: `…:log-group:G:log-stream:S`.
pub fn stream_arn(region: &str, account: &str, group: &str, stream: &str) -> String {
    format!("{}{stream}", group_arn(region, account, group))
}

/// The policy Resource that covers both ARN shapes of a group: `…:log-group:G:*`.
pub fn covering_resource(arn: &str) -> Option<String> {
    let (head, _) = arn.split_once(":log-stream:")?;
    Some(format!("{head}:*"))
}

/// A logs ARN taken apart: region, account, group, and the stream (`None`: group level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsArn {
    pub region: String,
    pub account: String,
    pub group: String,
    pub stream: Option<String>,
}

/// Parses `arn:P:logs:R:A:log-group:G[:log-stream:[S]]` (also `log-group:G:*`, group level).
pub fn parse_logs_arn(arn: &str) -> Option<LogsArn> {
    let mut parts = arn.splitn(6, ':');
    let (scheme, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account, resource) = (parts.next()?, parts.next()?, parts.next()?);
    if scheme != "arn" || service != "logs" || region.is_empty() || account.is_empty() {
        return None;
    }
    let rest = resource.strip_prefix("log-group:")?;
    let (group, stream) = match rest.split_once(":log-stream:") {
        Some((g, "")) => (g, None),
        Some((g, s)) => (g, Some(s.to_string())),
        None => (rest.strip_suffix(":*").unwrap_or(rest), None),
    };
    (!group.is_empty()).then(|| LogsArn {
        region: region.into(),
        account: account.into(),
        group: group.into(),
        stream,
    })
}

/// When a plugin makes a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Always,
    IfGroupMissing,
    IfStreamMissing,
    Never,
}

/// The actions a plugin calls for a target, with the resource level and when.
pub fn needs(t: &Target) -> Vec<(&'static str, bool, Need)> {
    let create_group = match (t.plugin, t.auto_create_group) {
        (_, false) => Need::Never,
        (Plugin::CloudwatchLogs, true) => Need::IfGroupMissing,
        (Plugin::Cloudwatch, true) => Need::Always,
    };
    let (describe, create_stream) = match t.plugin {
        Plugin::CloudwatchLogs => (Need::Never, Need::Always),
        Plugin::Cloudwatch => (Need::Always, Need::IfStreamMissing),
    };
    let mut out = vec![
        (DESCRIBE, false, describe),
        (CREATE_GROUP, false, create_group),
        (CREATE_STREAM, true, create_stream),
        (PUT, true, Need::Always),
    ];
    if t.retention_days > 0 {
        out.push((RETENTION, false, Need::Always));
    }
    if t.tags && t.plugin == Plugin::Cloudwatch {
        out.push((TAG, false, Need::Always));
    }
    out
}

/// One check: an action on an exact resource, and when it matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub action: String,
    pub resource: String,
    pub need: Need,
}

/// The checks for a target in an account.
pub fn checks(t: &Target, account: &str) -> Vec<Check> {
    needs(t)
        .into_iter()
        .map(|(action, stream_level, need)| Check {
            action: action.to_string(),
            resource: match stream_level {
                true => stream_arn(&t.region, account, &t.group, &t.stream),
                false => group_arn(&t.region, account, &t.group),
            },
            need,
        })
        .collect()
}

/// A probe call. Each changes nothing (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Call {
    /// DescribeLogStreams(group, logStreamNamePrefix = stream): what exists.
    Describe,
    /// PutLogEvents with one event 15 days old: the exact action, nothing stored.
    PutTooOld,
    /// CreateLogStream on a stream that exists: ResourceAlreadyExistsException.
    CreateStream,
    /// CreateLogGroup on a group that exists: ResourceAlreadyExistsException.
    CreateGroup,
}

impl Call {
    /// The action the call is authorised as.
    pub fn action(self) -> &'static str {
        match self {
            Call::Describe => DESCRIBE,
            Call::PutTooOld => PUT,
            Call::CreateStream => CREATE_STREAM,
            Call::CreateGroup => CREATE_GROUP,
        }
    }

    fn for_action(action: &str) -> Option<Call> {
        [
            Call::Describe,
            Call::PutTooOld,
            Call::CreateStream,
            Call::CreateGroup,
        ]
        .into_iter()
        .find(|c| c.action() == action)
    }
}

/// What the service said to one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// HTTP 200; for DescribeLogStreams, whether the stream is listed; for PutLogEvents, whether
    /// AWS reported the event too old (so stored nothing).
    Ok {
        stream_listed: bool,
        too_old: bool,
    },
    AlreadyExists,
    NotFound,
    Denied(DenyReason),
    Throttled,
    Failed(String),
}

/// What the calls so far have shown to exist (`None`: not learned).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Existence {
    pub group: Option<bool>,
    pub stream: Option<bool>,
}

impl Existence {
    /// From DescribeLogStreams' answer.
    pub fn from_describe(answer: Option<&Answer>) -> Existence {
        match answer {
            Some(Answer::Ok { stream_listed, .. }) => Existence {
                group: Some(true),
                stream: Some(*stream_listed),
            },
            Some(Answer::NotFound) => Existence {
                group: Some(false),
                stream: Some(false),
            },
            _ => Existence::default(),
        }
    }

    fn says(self, need: Need) -> bool {
        match need {
            Need::Always => true,
            Need::Never => false,
            Need::IfGroupMissing => self.group != Some(true),
            Need::IfStreamMissing => self.stream != Some(true),
        }
    }
}

/// Whether a check matters, given what exists.
pub fn is_needed(check: &Check, existence: Existence) -> bool {
    existence.says(check.need)
}

/// The first round: DescribeLogStreams when anything at this (group, stream) depends on what
/// exists or asks for it, and the too-old PutLogEvents when PutLogEvents is checked.
pub fn first_calls(checks: &[Check]) -> Vec<Call> {
    let wants = |action: &str| checks.iter().any(|c| c.action == action);
    let mut out = Vec::new();
    if wants(DESCRIBE) || wants(CREATE_STREAM) || wants(CREATE_GROUP) {
        out.push(Call::Describe);
    }
    if wants(PUT) {
        out.push(Call::PutTooOld);
    }
    out
}

/// The second round: Create* only on names DescribeLogStreams listed, and only when the
/// check matters (the plugin would make the call).
pub fn create_calls(checks: &[Check], existence: Existence) -> Vec<Call> {
    let wanted = |action: &str| {
        checks
            .iter()
            .any(|c| c.action == action && is_needed(c, existence))
    };
    let mut out = Vec::new();
    if existence.stream == Some(true) && wanted(CREATE_STREAM) {
        out.push(Call::CreateStream);
    }
    if existence.group == Some(true) && wanted(CREATE_GROUP) {
        out.push(Call::CreateGroup);
    }
    out
}

/// The verdict for a check, from the answers gathered at its (group, stream).
pub fn judge(check: &Check, existence: Existence, answers: &[(Call, Answer)]) -> Permission {
    let permission = |verdict, basis, reason: Option<&str>| Permission {
        action: check.action.clone(),
        resource: check.resource.clone(),
        verdict,
        basis,
        reason: reason.map(str::to_string),
    };
    if !is_needed(check, existence) {
        return permission(Verdict::NotNeeded, Basis::Config, None);
    }
    let answer = |call: Call| answers.iter().find(|(c, _)| *c == call).map(|(_, a)| a);
    if let Some(a) = Call::for_action(&check.action).and_then(answer) {
        let (verdict, reason) = exact(a);
        return permission(verdict, Basis::Probe, reason.as_deref());
    }
    let proxy = match check.action.as_str() {
        CREATE_STREAM => answer(Call::PutTooOld),
        CREATE_GROUP => answer(Call::Describe),
        _ => None,
    };
    match proxy.map(by_proxy) {
        Some((verdict, reason)) => permission(verdict, Basis::Proxy, reason.as_deref()),
        None => permission(Verdict::Unknown, Basis::Config, Some(unprobed(check))),
    }
}

fn unprobed(check: &Check) -> &'static str {
    match check.action.as_str() {
        CREATE_STREAM => "the stream does not exist: CreateLogStream is not sent on a missing name",
        CREATE_GROUP => "the group does not exist: CreateLogGroup is not sent on a missing name",
        RETENTION | TAG => "never sent (it would change the group); use --simulate",
        _ => "no probe answers this action; use --simulate",
    }
}

/// The exact action's answer.
fn exact(a: &Answer) -> (Verdict, Option<String>) {
    match a {
        Answer::Ok { .. } | Answer::AlreadyExists => (Verdict::Allowed, None),
        // Access is checked before existence, so a missing name was not refused.
        Answer::NotFound => (
            Verdict::LikelyAllowed,
            Some("not refused, but the resource does not exist".into()),
        ),
        Answer::Denied(r) => (Verdict::Denied, Some(r.name().into())),
        Answer::Throttled => (Verdict::Error, Some("throttled".into())),
        Answer::Failed(why) => (Verdict::Error, Some(why.clone())),
    }
}

/// Another action's answer on the same resource.
fn by_proxy(a: &Answer) -> (Verdict, Option<String>) {
    match a {
        Answer::Ok { .. } | Answer::AlreadyExists | Answer::NotFound => {
            (Verdict::LikelyAllowed, None)
        }
        Answer::Denied(r) => (Verdict::LikelyDenied, Some(r.name().into())),
        Answer::Throttled => (Verdict::Unknown, Some("throttled".into())),
        Answer::Failed(why) => (Verdict::Unknown, Some(why.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(plugin: Plugin, auto: bool) -> Target {
        Target {
            from: "--logs-to".into(),
            plugin,
            region: "ap-northeast-1".into(),
            endpoint: None,
            group: "/ecs/logs/sample-test".into(),
            stream: "webapp".into(),
            auto_create_group: auto,
            retention_days: 0,
            tags: false,
        }
    }

    fn ok(listed: bool) -> Answer {
        Answer::Ok {
            stream_listed: listed,
            too_old: true,
        }
    }

    #[test]
    fn arns_follow_the_partition() {
        assert_eq!(
            stream_arn("ap-northeast-1", "123456789012", "/ecs/logs/sample-test", "webapp"),
            "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:log-stream:webapp"
        );
        assert!(group_arn("cn-north-1", "1", "g").starts_with("arn:aws-cn:logs:"));
        assert!(group_arn("us-gov-west-1", "1", "g").starts_with("arn:aws-us-gov:logs:"));
        assert_eq!(dns_suffix("cn-northwest-1"), "amazonaws.com.cn");
        assert_eq!(
            covering_resource("arn:aws:logs:r:1:log-group:g:log-stream:s").as_deref(),
            Some("arn:aws:logs:r:1:log-group:g:*")
        );
    }

    #[test]
    fn logs_arns_parse_at_both_levels() {
        let s = parse_logs_arn("arn:aws:logs:us-east-1:1:log-group:/a/b:log-stream:x:y").unwrap();
        assert_eq!(
            (s.group.as_str(), s.stream.as_deref()),
            ("/a/b", Some("x:y"))
        );
        let g = parse_logs_arn("arn:aws:logs:us-east-1:1:log-group:/a/b:log-stream:").unwrap();
        assert_eq!(g.stream, None);
        let star = parse_logs_arn("arn:aws:logs:us-east-1:1:log-group:/a/b:*").unwrap();
        assert_eq!(star.group, "/a/b");
        assert!(parse_logs_arn("arn:aws:s3:::bucket").is_none());
        assert!(parse_logs_arn("logs:PutLogEvents").is_none());
    }

    #[test]
    fn the_c_plugin_never_describes_and_creates_groups_only_when_missing() {
        let c = checks(&target(Plugin::CloudwatchLogs, true), "1");
        let exists = Existence {
            group: Some(true),
            stream: Some(true),
        };
        assert_eq!(first_calls(&c), [Call::Describe, Call::PutTooOld]);
        assert_eq!(create_calls(&c, exists), [Call::CreateStream]);
        let answers = [(Call::Describe, ok(true)), (Call::PutTooOld, ok(false))];
        let verdicts: Vec<_> = c
            .iter()
            .map(|k| judge(k, exists, &answers).verdict)
            .collect();
        assert_eq!(verdicts[0], Verdict::NotNeeded);
        assert_eq!(verdicts[1], Verdict::NotNeeded);
        assert_eq!(verdicts[3], Verdict::Allowed);
    }

    #[test]
    fn nothing_is_created_on_a_missing_name() {
        for plugin in [Plugin::CloudwatchLogs, Plugin::Cloudwatch] {
            let c = checks(&target(plugin, true), "1");
            let missing = Existence::from_describe(Some(&Answer::NotFound));
            assert_eq!(create_calls(&c, missing), []);
            let no_stream = Existence::from_describe(Some(&ok(false)));
            assert!(!create_calls(&c, no_stream).contains(&Call::CreateStream));
        }
    }

    #[test]
    fn the_go_plugin_creates_the_group_at_each_start() {
        let c = checks(&target(Plugin::Cloudwatch, true), "1");
        let exists = Existence::from_describe(Some(&ok(true)));
        assert_eq!(create_calls(&c, exists), [Call::CreateGroup]);
        let off = checks(&target(Plugin::Cloudwatch, false), "1");
        assert_eq!(create_calls(&off, exists), []);
    }

    #[test]
    fn a_missing_stream_is_judged_by_proxy() {
        let c = checks(&target(Plugin::CloudwatchLogs, true), "1");
        let no_stream = Existence::from_describe(Some(&ok(false)));
        let denied = Answer::Denied(DenyReason::Implicit);
        let answers = [(Call::Describe, ok(false)), (Call::PutTooOld, denied)];
        let create = judge(&c[2], no_stream, &answers);
        assert_eq!(
            (create.verdict, create.basis),
            (Verdict::LikelyDenied, Basis::Proxy)
        );
        let put = judge(&c[3], no_stream, &answers);
        assert_eq!(put.verdict, Verdict::Denied);
        assert_eq!(put.reason.as_deref(), Some("implicit"));
    }

    #[test]
    fn retention_is_never_probed() {
        let mut t = target(Plugin::CloudwatchLogs, false);
        t.retention_days = 7;
        let c = checks(&t, "1");
        let r = c.iter().find(|k| k.action == RETENTION).unwrap();
        assert_eq!(
            judge(r, Existence::default(), &[]).verdict,
            Verdict::Unknown
        );
    }
}
