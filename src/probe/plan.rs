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

/// The plugin enum is plain settings data (`--plugin`); the probe matches on it.
pub use crate::settings::Plugin;

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
    /// The Go plugin's `auto_create_stream` (default true); the C plugin always creates.
    pub auto_create_stream: bool,
    pub retention_days: u32,
    pub tags: bool,
    /// How the group and stream names were found (`literal`, `resolved …`, `fallback …`).
    pub names: Names,
    /// Where the router's own counters for this output can be read, if anywhere.
    pub counters: Option<super::counters::Source>,
    /// The output's `role_arn`: it writes as that role, which the probe assumes.
    pub role: Option<super::assume::Role>,
}

/// How a target's names were found, for the report: each is `literal`, `resolved (…)` or
/// `fallback (…)`; an unresolvable name never becomes a target (it is a finding instead).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    pub group: String,
    pub stream: String,
}

impl Names {
    pub fn literal() -> Names {
        Names {
            group: "literal".into(),
            stream: "literal".into(),
        }
    }
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

/// When a plugin makes a call, given what exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Always,
    IfGroupMissing,
    IfStreamMissing,
    Never,
}

/// The actions a plugin calls for a target, with the resource level (`true`: the stream ARN)
/// and when. Only what the plugin really calls (`../shared/reference.md`, "Fluent Bit's
/// CloudWatch plugins"; `/work/notes/fluentbit-facts.md` cites the source lines):
/// - C `cloudwatch_logs` (plugins/out_cloudwatch_logs/cloudwatch_api.c): CreateLogStream for
///   every (group, stream) it has not cached, existing or not (ResourceAlreadyExists counts as
///   success); on ResourceNotFound, CreateLogGroup only with `auto_create_group`, then
///   PutRetentionPolicy when `log_retention_days` > 0; PutLogEvents every flush; never
///   DescribeLogStreams.
/// - Go `cloudwatch` (cloudwatch/cloudwatch.go): CreateLogGroup for each new group with
///   `auto_create_group` (AlreadyExists is fine), then PutRetentionPolicy when
///   `log_retention_days` > 0 and TagResource with `new_log_group_tags`; DescribeLogStreams
///   before each new stream; CreateLogStream only when it was not listed (`auto_create_stream`);
///   PutLogEvents every flush.
pub fn needs(t: &Target) -> Vec<(&'static str, bool, Need)> {
    let when = |on: bool, need: Need| if on { need } else { Need::Never };
    match t.plugin {
        Plugin::CloudwatchLogs => vec![
            (
                CREATE_GROUP,
                false,
                when(t.auto_create_group, Need::IfGroupMissing),
            ),
            (
                RETENTION,
                false,
                when(
                    t.auto_create_group && t.retention_days > 0,
                    Need::IfGroupMissing,
                ),
            ),
            (CREATE_STREAM, true, Need::Always),
            (PUT, true, Need::Always),
        ],
        Plugin::Cloudwatch => vec![
            (CREATE_GROUP, false, when(t.auto_create_group, Need::Always)),
            (
                RETENTION,
                false,
                when(t.auto_create_group && t.retention_days > 0, Need::Always),
            ),
            (
                TAG,
                false,
                when(t.auto_create_group && t.tags, Need::IfGroupMissing),
            ),
            (DESCRIBE, false, Need::Always),
            (
                CREATE_STREAM,
                true,
                when(t.auto_create_stream, Need::IfStreamMissing),
            ),
            (PUT, true, Need::Always),
        ],
    }
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
        .filter(|(_, _, need)| *need != Need::Never)
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
    /// DescribeLogStreams(group, logStreamNamePrefix = stream): read-only.
    Describe,
    /// PutLogEvents with one event 15 days old: the exact action, nothing stored.
    PutTooOld,
    /// CreateLogStream, sent only where it cannot create: on a stream that exists
    /// (ResourceAlreadyExistsException) or in a group that does not (ResourceNotFound).
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

/// What a ResourceNotFoundException said was missing (its message: "The specified log group
/// does not exist." / "The specified log stream does not exist.").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    Group,
    Stream,
    /// The message named neither.
    Unstated,
}

impl Missing {
    pub fn from_message(message: &str) -> Missing {
        let m = message.to_ascii_lowercase();
        if m.contains("log group") {
            Missing::Group
        } else if m.contains("log stream") {
            Missing::Stream
        } else {
            Missing::Unstated
        }
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
    /// Authorised, but the group or stream does not exist: AWS authorises a call before it
    /// looks the resource up, so a refused call says AccessDenied whatever exists.
    NotFound(Missing),
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
    /// What the answers prove, whichever call gave them (never DescribeLogStreams alone: the C
    /// plugin never calls it, so a tight policy may refuse it).
    pub fn from_answers(answers: &[(Call, Answer)]) -> Existence {
        let mut e = Existence::default();
        for (call, answer) in answers {
            e.learn(*call, answer);
        }
        e
    }

    fn learn(&mut self, call: Call, answer: &Answer) {
        let both = |g, s| (Some(g), Some(s));
        let (group, stream) = match (call, answer) {
            (Call::PutTooOld, Answer::Ok { .. }) => both(true, true),
            (Call::Describe, Answer::Ok { stream_listed, .. }) => both(true, *stream_listed),
            (Call::CreateStream, Answer::AlreadyExists) => both(true, true),
            (Call::CreateGroup, Answer::AlreadyExists) => (Some(true), None),
            (Call::Describe | Call::CreateStream, Answer::NotFound(_)) => both(false, false),
            (Call::PutTooOld, Answer::NotFound(Missing::Group)) => both(false, false),
            (Call::PutTooOld, Answer::NotFound(Missing::Stream)) => both(true, false),
            _ => (None, None),
        };
        self.group = group.or(self.group);
        self.stream = stream.or(self.stream);
    }

    /// Whether a call with this need is made: `None` when it depends on what is not known.
    fn says(self, need: Need) -> Option<bool> {
        match need {
            Need::Always => Some(true),
            Need::Never => Some(false),
            Need::IfGroupMissing => self.group.map(|g| !g),
            Need::IfStreamMissing => self.stream.map(|s| !s),
        }
    }
}

/// Whether the plugin makes the check's call, given what exists (`None`: not known).
pub fn is_needed(check: &Check, existence: Existence) -> Option<bool> {
    existence.says(check.need)
}

/// The next probe call at one (group, stream), given the answers so far; `None` when done.
/// PutLogEvents first (it also tells what exists), DescribeLogStreams when asked for, then
/// CreateLogStream only where it cannot create anything (the stream exists, or its group does
/// not), CreateLogGroup only on a group that exists. Each call at most once.
pub fn next_call(checks: &[Check], answers: &[(Call, Answer)]) -> Option<Call> {
    let e = Existence::from_answers(answers);
    let wanted = |call: Call| {
        !answers.iter().any(|(c, _)| *c == call)
            && checks
                .iter()
                .any(|c| c.action == call.action() && is_needed(c, e) != Some(false))
    };
    let safe = |call: Call| match call {
        Call::CreateStream => e.stream == Some(true) || e.group == Some(false),
        Call::CreateGroup => e.group == Some(true),
        Call::Describe | Call::PutTooOld => true,
    };
    [
        Call::PutTooOld,
        Call::Describe,
        Call::CreateStream,
        Call::CreateGroup,
    ]
    .into_iter()
    .find(|c| wanted(*c) && safe(*c))
}

/// The verdict for a check, from the answers at its (group, stream): the exact action's own
/// answer, or `unverified` with what would settle it. Never one action's answer for another.
pub fn judge(check: &Check, existence: Existence, answers: &[(Call, Answer)]) -> Permission {
    let permission = |verdict, basis, reason: Option<String>| Permission {
        action: check.action.clone(),
        resource: check.resource.clone(),
        verdict,
        basis,
        reason,
    };
    if is_needed(check, existence) == Some(false) {
        return permission(Verdict::NotNeeded, Basis::Config, None);
    }
    let answer = Call::for_action(&check.action)
        .and_then(|call| answers.iter().find(|(c, _)| *c == call))
        .map(|(_, a)| a);
    match answer.map(exact) {
        Some((verdict, reason)) => permission(verdict, Basis::Probe, reason),
        None => permission(
            Verdict::Unverified,
            Basis::Config,
            Some(unprobed(check, existence)),
        ),
    }
}

/// Why a needed action was not sent, and what would settle it.
fn unprobed(check: &Check, e: Existence) -> String {
    let why = match check.action.as_str() {
        _ if is_needed(check, e).is_none() => {
            "needed only if the group or stream is missing, and that is not known"
        }
        CREATE_STREAM if e.stream.is_none() => {
            "whether the stream exists is not known, and CreateLogStream would create it"
        }
        CREATE_STREAM => "the stream does not exist yet, and CreateLogStream would create it",
        CREATE_GROUP if e.group.is_none() => {
            "whether the group exists is not known, and CreateLogGroup would create it"
        }
        CREATE_GROUP => "the group does not exist, and CreateLogGroup would create it",
        RETENTION | TAG => "never sent: it would change the group",
        _ => "no probe answers this action",
    };
    format!("{why}; {SETTLE}")
}

/// What settles an unverified action.
pub const SETTLE: &str = "--simulate, the router's own counters (HTTP_Server On), or a run after the router's first flush settle it";

/// The exact action's answer.
fn exact(a: &Answer) -> (Verdict, Option<String>) {
    match a {
        Answer::Ok { .. } | Answer::AlreadyExists => (Verdict::Allowed, None),
        Answer::NotFound(m) => (
            Verdict::Allowed,
            Some(format!(
                "authorised; the {} does not exist",
                match m {
                    Missing::Group => "group",
                    Missing::Stream => "stream",
                    Missing::Unstated => "resource",
                }
            )),
        ),
        Answer::Denied(r) => (Verdict::Denied, Some(r.name().into())),
        Answer::Throttled => (Verdict::Error, Some("throttled".into())),
        Answer::Failed(why) => (Verdict::Error, Some(why.clone())),
    }
}

#[cfg(test)]
mod tests;
