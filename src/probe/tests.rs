use super::request::{parse_can, parse_logs_to};
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
