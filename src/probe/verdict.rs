//! The probe's findings as data: one [`Permission`] per (action, resource) and one
//! [`LogOutput`] per log destination. Everything here serialises (the JSON report, and a
//! cached verdict in health mode later), and nothing here does I/O. Reads no env vars.

use serde::{Deserialize, Serialize};

/// What credcheck concluded for one action on one resource. Only the exact action's own
/// answer (or IAM's simulator, or the router's counters) decides; one action's answer is never
/// taken for another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The exact action on the exact resource was authorised (and nothing changed).
    Allowed,
    /// The exact action on the exact resource was refused (`reason` says why).
    Denied,
    /// The plugin never makes this call with this configuration and account state.
    NotNeeded,
    /// Needed, but nothing could be sent without changing the account; `reason` says what
    /// would settle it.
    Unverified,
    /// The call failed for another reason (throttled, unreachable, a bad answer).
    Error,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Denied => "denied",
            Verdict::NotNeeded => "not-needed",
            Verdict::Unverified => "unverified",
            Verdict::Error => "error",
        }
    }

    pub fn is_denied(self) -> bool {
        self == Verdict::Denied
    }
}

/// What a verdict rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// The exact action was sent in a form that changes nothing.
    Probe,
    /// The log router's own counters (`/api/v1/metrics`): records delivered without errors.
    Counters,
    /// `iam:SimulatePrincipalPolicy` answered.
    Simulator,
    /// The plugin's configuration alone (not needed, or not checkable).
    Config,
}

/// Why a call was refused, from AWS's `because …` tail or the simulator's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DenyReason {
    /// No identity-based policy allows it.
    Implicit,
    /// A policy denies it explicitly.
    Explicit,
    /// A service control policy denies it.
    Scp,
    /// The permissions boundary does not allow it.
    Boundary,
    /// A session policy does not allow it.
    SessionPolicy,
    /// Refused, without saying why.
    Unstated,
}

impl DenyReason {
    /// The reason, from the words after the resource in AWS's AccessDenied message:
    /// `because no identity-based policy allows …`, `with an explicit deny in a service
    /// control policy`, `because no permissions boundary allows …` (IAM User Guide,
    /// "Troubleshooting access denied error messages").
    pub fn from_message(message: &str) -> DenyReason {
        let m = message.to_ascii_lowercase();
        let tail = match m.split_once(" on resource: ") {
            Some((_, rest)) => rest.split_once(' ').map_or("", |(_, t)| t),
            None => m.split_once(" to perform: ").map_or("", |(_, t)| t),
        };
        let has = |phrase: &str| tail.contains(phrase);
        if has("service control policy") || has("resource control policy") {
            DenyReason::Scp
        } else if has("permissions boundary") {
            DenyReason::Boundary
        } else if has("session policy") {
            DenyReason::SessionPolicy
        } else if has("explicit deny") {
            DenyReason::Explicit
        } else if has("no identity-based policy allows") {
            DenyReason::Implicit
        } else {
            DenyReason::Unstated
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DenyReason::Implicit => "implicit",
            DenyReason::Explicit => "explicit",
            DenyReason::Scp => "scp",
            DenyReason::Boundary => "boundary",
            DenyReason::SessionPolicy => "session-policy",
            DenyReason::Unstated => "unstated",
        }
    }

    /// What to change, in words.
    pub fn remedy(self) -> &'static str {
        match self {
            DenyReason::Implicit | DenyReason::Unstated => "add a statement to the role's policy",
            DenyReason::Explicit => "remove or narrow the Deny statement that matches",
            DenyReason::Scp => "ask the organization's admins: a service control policy denies it",
            DenyReason::Boundary => "widen the role's permissions boundary",
            DenyReason::SessionPolicy => {
                "widen the session policy the credentials were issued with"
            }
        }
    }
}

/// One (action, resource) and what credcheck found: the `permissions` array of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub action: String,
    pub resource: String,
    pub verdict: Verdict,
    pub basis: Basis,
    /// `implicit`, `explicit`, `scp`, `boundary` for a denial; why for an unknown or an error.
    pub reason: Option<String>,
}

/// Whether logs would reach the destination: proven either way, or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    /// Proven: every action the plugin will call is allowed, or the router's counters show
    /// records delivered without errors.
    Deliverable,
    /// Proven: a needed action is denied, or the configuration cannot work (`why`).
    Blocked,
    /// Neither could be proven; `why` says why and what would settle it.
    Unverified,
}

impl Delivery {
    pub fn name(self) -> &'static str {
        match self {
            Delivery::Deliverable => "deliverable",
            Delivery::Blocked => "blocked",
            Delivery::Unverified => "unverified",
        }
    }
}

/// One log destination (a Fluent Bit output, or `--logs-to`) and what the probe found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogOutput {
    /// Where it was read: `--logs-to`, `FILE:LINE`, or `task metadata (CONTAINER)`.
    pub from: String,
    pub plugin: String,
    pub region: String,
    pub group: String,
    pub stream: String,
    /// How the names were found: `literal`, `resolved (…)`, `fallback (…)`.
    pub names: super::plan::Names,
    /// `None`: not learned.
    pub group_exists: Option<bool>,
    pub stream_exists: Option<bool>,
    pub delivery: Delivery,
    /// What the verdict rests on: `probe`, `counters`, `simulator`, `config`.
    pub evidence: Basis,
    /// For blocked and unverified: why, and what would settle an unverified verdict.
    pub why: Option<String>,
}

/// Delivery from the verdicts of the actions a destination needs: blocked on any denial,
/// deliverable when every needed action is allowed, else unverified.
pub fn delivery(needed: &[&Permission]) -> Delivery {
    if needed.iter().any(|p| p.verdict.is_denied()) {
        return Delivery::Blocked;
    }
    let proven = needed
        .iter()
        .all(|p| matches!(p.verdict, Verdict::Allowed | Verdict::NotNeeded));
    match proven {
        true => Delivery::Deliverable,
        false => Delivery::Unverified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: logs:PutLogEvents on resource: arn:aws:logs:us-east-1:123456789012:log-group:g:log-stream:s";

    #[test]
    fn because_tails_name_the_reason() {
        let with = |tail: &str| DenyReason::from_message(&format!("{USER} {tail}"));
        assert_eq!(
            with("because no identity-based policy allows the logs:PutLogEvents action"),
            DenyReason::Implicit
        );
        assert_eq!(
            with("with an explicit deny in an identity-based policy"),
            DenyReason::Explicit
        );
        assert_eq!(
            with("with an explicit deny in a service control policy"),
            DenyReason::Scp
        );
        assert_eq!(
            with("because no permissions boundary allows the logs:PutLogEvents action"),
            DenyReason::Boundary
        );
        assert_eq!(
            with("because no session policy allows the logs:PutLogEvents action"),
            DenyReason::SessionPolicy
        );
        assert_eq!(DenyReason::from_message(USER), DenyReason::Unstated);
    }

    #[test]
    fn verdicts_serialise_in_kebab_case() {
        let p = Permission {
            action: "logs:PutLogEvents".into(),
            resource: "arn".into(),
            verdict: Verdict::Unverified,
            basis: Basis::Counters,
            reason: Some("implicit".into()),
        };
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"unverified\"") && json.contains("\"counters\""));
        let back: Permission = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }
}
