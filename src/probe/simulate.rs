//! `iam:SimulatePrincipalPolicy` (IAM Query API, XML): the exact decision per (action,
//! resource), and the only way to judge Create* on names that do not exist. It needs the role
//! ARN with its path (the container endpoint's RoleArn or AWS_ROLE_ARN; not the STS session
//! ARN). Most task roles may not call it: the caller then falls back to the probes.
//! Answers parsed in both shapes: one result per action (`EvalDecision`), or per resource
//! (`ResourceSpecificResults/member/EvalResourceDecision`). Reads no env vars.

use super::aws::{self, Endpoint, Post};
use super::verdict::{Basis, DenyReason, Permission, Verdict};
use crate::creds::Creds;
use crate::http::Budget;
use crate::secret::sanitize_foreign;
use std::time::SystemTime;

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Why the simulator gave no decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The role may not call iam:SimulatePrincipalPolicy.
    NotPermitted,
    /// IAM knows no role by that ARN (a wrong path?).
    NoSuchRole,
    Failed(String),
}

/// One decision: action, resource, verdict and reason.
pub type Decision = (String, String, Verdict, Option<DenyReason>);

/// Asks the simulator about every action on every resource.
pub async fn evaluate(
    client: &crate::http::Client,
    creds: &Creds,
    endpoint: &Endpoint,
    role_arn: &str,
    pairs: &[(String, String)],
    budget: &Budget,
    now: SystemTime,
) -> Result<Vec<Decision>, Refusal> {
    let post = Post {
        endpoint,
        content_type: FORM,
        target: None,
        body: form(role_arn, pairs).into_bytes(),
    };
    let timeout = budget.request_timeout();
    let answer = aws::send(client, creds, post, budget, now)
        .await
        .map_err(|e| Refusal::Failed(e.describe(timeout)))?;
    let text = String::from_utf8_lossy(&answer.body);
    match answer.status {
        200 => Ok(parse(&text)),
        _ if text.contains("<Code>AccessDenied</Code>") => Err(Refusal::NotPermitted),
        _ if text.contains("<Code>NoSuchEntity</Code>") => Err(Refusal::NoSuchRole),
        status => Err(Refusal::Failed(format!(
            "HTTP {status} {}",
            sanitize_foreign(aws::xml_text(&text, "Code").unwrap_or(""), 64)
        ))),
    }
}

fn form(role_arn: &str, pairs: &[(String, String)]) -> String {
    let mut actions: Vec<&str> = pairs.iter().map(|(a, _)| a.as_str()).collect();
    let mut resources: Vec<&str> = pairs.iter().map(|(_, r)| r.as_str()).collect();
    actions.sort();
    actions.dedup();
    resources.sort();
    resources.dedup();
    let mut out = format!(
        "Action=SimulatePrincipalPolicy&Version=2010-05-08&PolicySourceArn={}",
        aws::query_encode(role_arn)
    );
    for (i, a) in actions.iter().enumerate() {
        out.push_str(&format!(
            "&ActionNames.member.{}={}",
            i + 1,
            aws::query_encode(a)
        ));
    }
    for (i, r) in resources.iter().enumerate() {
        out.push_str(&format!(
            "&ResourceArns.member.{}={}",
            i + 1,
            aws::query_encode(r)
        ));
    }
    out
}

/// The `<member>` elements directly inside the first `<container>`.
fn members<'a>(xml: &'a str, container: &str) -> Vec<&'a str> {
    let Some(inner) = aws::xml_text(xml, container) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (mut depth, mut start, mut i) = (0usize, 0usize, 0usize);
    while i < inner.len() {
        let rest = &inner[i..];
        if rest.starts_with("<member>") {
            if depth == 0 {
                start = i + "<member>".len();
            }
            depth += 1;
            i += "<member>".len();
        } else if rest.starts_with("</member>") {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                out.push(&inner[start..i]);
            }
            i += "</member>".len();
        } else {
            i += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
    out
}

/// Decisions from a SimulatePrincipalPolicy answer.
pub fn parse(xml: &str) -> Vec<Decision> {
    let mut out = Vec::new();
    for result in members(xml, "EvaluationResults") {
        let Some(action) = aws::xml_text(result, "EvalActionName") else {
            continue;
        };
        let org_denied = aws::xml_text(result, "AllowedByOrganizations") == Some("false");
        let boundary_denied =
            aws::xml_text(result, "AllowedByPermissionsBoundary") == Some("false");
        let judge = |decision: &str| decide(decision, org_denied, boundary_denied);
        let specific = members(result, "ResourceSpecificResults");
        if specific.is_empty() {
            let resource = aws::xml_text(result, "EvalResourceName").unwrap_or("*");
            let (v, r) = judge(aws::xml_text(result, "EvalDecision").unwrap_or(""));
            out.push((action.to_string(), unescape(resource), v, r));
        }
        for s in specific {
            let resource = aws::xml_text(s, "EvalResourceName").unwrap_or("*");
            let (v, r) = judge(aws::xml_text(s, "EvalResourceDecision").unwrap_or(""));
            out.push((action.to_string(), unescape(resource), v, r));
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn decide(
    decision: &str,
    org_denied: bool,
    boundary_denied: bool,
) -> (Verdict, Option<DenyReason>) {
    match decision {
        "allowed" => (Verdict::Allowed, None),
        "explicitDeny" if org_denied => (Verdict::Denied, Some(DenyReason::Scp)),
        "explicitDeny" => (Verdict::Denied, Some(DenyReason::Explicit)),
        "implicitDeny" if org_denied => (Verdict::Denied, Some(DenyReason::Scp)),
        "implicitDeny" if boundary_denied => (Verdict::Denied, Some(DenyReason::Boundary)),
        "implicitDeny" => (Verdict::Denied, Some(DenyReason::Implicit)),
        _ => (Verdict::Error, None),
    }
}

/// The simulator's verdict for one pair, if it gave one.
pub fn permission(decisions: &[Decision], action: &str, resource: &str) -> Option<Permission> {
    let found = decisions
        .iter()
        .find(|(a, r, _, _)| a == action && r == resource)
        .or_else(|| {
            let single = decisions.iter().filter(|(a, _, _, _)| a == action).count() == 1;
            decisions.iter().find(|(a, _, _, _)| single && a == action)
        })?;
    Some(Permission {
        action: action.to_string(),
        resource: resource.to_string(),
        verdict: found.2,
        basis: Basis::Simulator,
        reason: found.3.map(|r| r.name().to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGGREGATE: &str = r#"<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults><member><MatchedStatements><member><SourcePolicyId>p</SourcePolicyId></member></MatchedStatements><MissingContextValues/><EvalResourceName>arn:aws:logs:r:1:log-group:g:log-stream:s</EvalResourceName><EvalDecision>allowed</EvalDecision><EvalActionName>logs:PutLogEvents</EvalActionName></member><member><MatchedStatements/><MissingContextValues/><EvalResourceName>arn:aws:logs:r:1:log-group:g:log-stream:s</EvalResourceName><EvalDecision>explicitDeny</EvalDecision><EvalActionName>logs:CreateLogStream</EvalActionName></member></EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>"#;

    const PER_RESOURCE: &str = r#"<SimulatePrincipalPolicyResponse><SimulatePrincipalPolicyResult><EvaluationResults><member><EvalActionName>logs:CreateLogGroup</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>implicitDeny</EvalDecision><ResourceSpecificResults><member><EvalResourceName>arn:aws:logs:r:1:log-group:a:log-stream:</EvalResourceName><EvalResourceDecision>allowed</EvalResourceDecision><MatchedStatements><member><SourcePolicyId>x</SourcePolicyId></member></MatchedStatements></member><member><EvalResourceName>arn:aws:logs:r:1:log-group:b:log-stream:</EvalResourceName><EvalResourceDecision>implicitDeny</EvalResourceDecision></member></ResourceSpecificResults><PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>false</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail></member></EvaluationResults></SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>"#;

    #[test]
    fn both_answer_shapes_parse() {
        let agg = parse(AGGREGATE);
        assert_eq!(agg.len(), 2);
        assert_eq!(agg[0].2, Verdict::Allowed);
        assert_eq!(
            (agg[1].2, agg[1].3),
            (Verdict::Denied, Some(DenyReason::Explicit))
        );
        let per = parse(PER_RESOURCE);
        assert_eq!(per.len(), 2);
        assert_eq!(per[0].1, "arn:aws:logs:r:1:log-group:a:log-stream:");
        assert_eq!(per[0].2, Verdict::Allowed);
        assert_eq!(
            (per[1].2, per[1].3),
            (Verdict::Denied, Some(DenyReason::Boundary))
        );
    }

    #[test]
    fn the_form_is_percent_encoded() {
        let f = form(
            "arn:aws:iam::1:role/path/r",
            &[(
                "logs:PutLogEvents".into(),
                "arn:aws:logs:r:1:log-group:/a b:*".into(),
            )],
        );
        assert!(f.contains("PolicySourceArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fpath%2Fr"));
        assert!(f.contains(
            "ResourceArns.member.1=arn%3Aaws%3Alogs%3Ar%3A1%3Alog-group%3A%2Fa%20b%3A%2A"
        ));
    }
}
