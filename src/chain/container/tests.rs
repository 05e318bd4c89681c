use super::*;

#[test]
fn allowed_hosts_match_the_sdk() {
    for ip in [
        "127.0.0.1",
        "::1",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::23",
    ] {
        assert!(is_allowed_ip(&ip.parse().unwrap()), "{ip}");
    }
    for ip in ["169.254.169.254", "10.0.0.1", "fd00:ec2::254"] {
        assert!(!is_allowed_ip(&ip.parse().unwrap()), "{ip}");
    }
}

#[test]
fn credential_ids_are_masked() {
    assert_eq!(
        mask_uri("http://169.254.170.2/v2/credentials/52b19262-e7aa-4f56"),
        "http://169.254.170.2/v2/credentials/52b1…"
    );
    assert_eq!(
        mask_uri("/v1/credentials?id=0123456789abcdef"),
        "/v1/credentials?id=0123…"
    );
    assert_eq!(
        mask_uri("http://169.254.170.23/v1/credentials"),
        "http://169.254.170.23/v1/credentials"
    );
}

#[test]
fn ids_and_tokens_are_masked_wherever_they_sit() {
    let id = "52b19262-e7aa-4f56-b3a1-8e5a2f1c0d99";
    for (raw, shown) in [
        (
            format!("http://h/{id}/v2/credentials"),
            "http://h/52b1…/v2/credentials",
        ),
        (
            format!("http://h/v2/credentials;id={id}"),
            "http://h/v2/cred…",
        ),
        (
            format!("http://h/v1/credentials#{id}"),
            "http://h/v1/credentials#52b1…",
        ),
        (format!("http://h#{id}"), "http://h#52b1…"),
        (
            format!("/v2/credentials/{id}://x"),
            "/v2/credentials/52b1…//x",
        ),
        (
            format!("/v1/credentials?{id}=1&x=y"),
            "/v1/credentials?52b1…&x=y",
        ),
    ] {
        assert_eq!(mask_uri(&raw), shown, "{raw}");
    }
}

fn target(url: &str, via: &'static str, token: Option<&str>) -> Target {
    let url = Url::parse(url).unwrap();
    Target {
        shown: mask_uri(url.as_str()),
        url,
        via,
        token: token.map(Secret::new),
    }
}

fn answer(status: u16, content_type: &str, body: &str) -> Fetched {
    Fetched {
        status,
        content_type: Some(content_type.to_string()),
        location: None,
        body: body.as_bytes().to_vec(),
    }
}

fn error_of(answer: Fetched, target: &Target) -> (Error, bool) {
    match interpret(answer, target) {
        (Outcome::Failed { error, .. }, retry) => (error, retry),
        (other, _) => panic!("not a failure: {other:?}"),
    }
}

const ECS_URL: &str = "http://127.0.0.1:9/v2/credentials/0f4b2f53-9a1e-4c36-8d7b-2f6c1e0b7a55";

#[test]
fn status_classes_follow_aws_config() {
    let t = target(ECS_URL, RELATIVE_URI, None);
    let cases = [
        (
            204,
            "container-bad-response",
            crate::error::Kind::Problem,
            false,
        ),
        (
            206,
            "container-bad-response",
            crate::error::Kind::Problem,
            false,
        ),
        (
            429,
            "container-throttled",
            crate::error::Kind::Unreachable,
            false,
        ),
        (
            500,
            "container-unavailable",
            crate::error::Kind::Unreachable,
            true,
        ),
        (
            501,
            "container-unavailable",
            crate::error::Kind::Unreachable,
            false,
        ),
        (
            503,
            "container-unavailable",
            crate::error::Kind::Unreachable,
            true,
        ),
        (
            504,
            "container-unavailable",
            crate::error::Kind::Unreachable,
            true,
        ),
        (
            505,
            "container-unavailable",
            crate::error::Kind::Unreachable,
            false,
        ),
        (
            600,
            "container-bad-response",
            crate::error::Kind::Problem,
            false,
        ),
    ];
    for (status, code, kind, retried) in cases {
        let (error, retry) = error_of(answer(status, "text/plain", ""), &t);
        assert_eq!(
            (error.code, error.kind, retry),
            (code, kind, retried),
            "{status}"
        );
    }
    let (error, retry) = error_of(answer(200, "text/html", "<html>"), &t);
    assert_eq!((error.code, retry), ("container-bad-response", true));
}

#[test]
fn throttling_names_the_rate_limit() {
    let t = target(ECS_URL, RELATIVE_URI, None);
    let body = "You have reached maximum request limit.";
    let (error, _) = error_of(answer(429, "text/plain; charset=utf-8", body), &t);
    assert!(
        error.message.contains(&format!("\"{body}\"")),
        "{}",
        error.message
    );
    assert!(error.hint.contains(RPS_LIMIT), "{}", error.hint);
    assert_eq!(error.exit_code(), crate::error::exit::UNREACHABLE);
}

#[test]
fn a_same_host_redirect_shows_the_canonical_path_masked() {
    let t = target(
        "http://127.0.0.1:9//v2/credentials/0f4b2f53-9a1e-4c36-8d7b-2f6c1e0b7a55",
        RELATIVE_URI,
        None,
    );
    let mut a = answer(301, "", "");
    a.location = Some("/v2/credentials/0f4b2f53-9a1e-4c36-8d7b-2f6c1e0b7a55".into());
    let (error, _) = error_of(a, &t);
    assert_eq!(error.code, "container-uri-not-canonical");
    assert!(
        error.hint.contains("/v2/credentials/0f4b…"),
        "{}",
        error.hint
    );
    assert!(!format!("{error:?}").contains("9a1e-4c36"), "{error:?}");
    let mut away = answer(302, "", "");
    away.location = Some("http://192.0.2.55/steal".into());
    let (error, _) = error_of(away, &t);
    assert_eq!(error.code, "container-redirect");
    assert!(error.message.contains("192.0.2.55"), "{}", error.message);
}

#[test]
fn each_agent_answer_gets_its_own_diagnosis() {
    let ecs = target(ECS_URL, RELATIVE_URI, None);
    let pod = target("http://127.0.0.1:9/v1/credentials", FULL_URI, Some("a.b.c"));
    let json = |code: &str, message: &str, status: u16| {
        format!(r#"{{"code":"{code}","message":"{message}","HTTPErrorCode":{status}}}"#)
    };
    let cases = [
        (&ecs, 400, json("NoIdInRequest", "CredentialsV2Request: No Credential ID in the request", 400), "container-no-id", "no credential id"),
        (&ecs, 400, json("InvalidIdInRequest", "CredentialsV2Request: Credentials not found", 400), "container-rejected", "unknown to the agent"),
        (&ecs, 404, "404 page not found\n".to_string(), "container-not-found", "no such path"),
        (&pod, 400, "Service account token cannot be empty\n".to_string(), "pod-identity-no-token", "lost on the way"),
        (&pod, 400, "Service account token cannot be parsed: token is malformed\n".to_string(), "pod-identity-token-invalid", AUTH_TOKEN_FILE),
        (&pod, 403, "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 127.0.0.1\n".to_string(), "pod-identity-wrong-address", "169.254.170.23"),
        (&pod, 400, "[8d7c-11]: (AccessDeniedException): Access denied, fault: client\n".to_string(), "pod-identity-eks-auth", "association"),
    ];
    for (t, status, body, code, hint) in cases {
        let (error, retry) = error_of(answer(status, "text/plain; charset=utf-8", &body), t);
        assert_eq!(error.code, code, "{body}");
        assert!(error.hint.contains(hint), "{body}: {}", error.hint);
        assert!(!retry, "{body}");
    }
    let (error, _) = error_of(
        answer(404, "text/plain; charset=utf-8", "404 page not found\n"),
        &ecs,
    );
    assert!(
        error.message.contains("\"404 page not found\""),
        "{}",
        error.message
    );
}

#[test]
fn token_whitespace_names_the_byte_not_the_token() {
    let err =
        ensure_clean_token(&Secret::new("tok-secret-value\n"), "the token file /t").unwrap_err();
    assert!(err.message.contains("newline"), "{}", err.message);
    assert!(!err.message.contains("tok-secret-value"));
    assert!(ensure_clean_token(&Secret::new("clean-token"), "x").is_ok());
}
