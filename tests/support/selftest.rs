//! Self-tests of the test infrastructure itself (fakes, harness, moto, netns), not of
//! credcheck. Owner: test infrastructure. Wired in by `tests/support/mod.rs`.

use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::peer::*;
use super::*;

fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    http_request(addr, "GET", path, headers, b"").expect("GET")
}

fn sts_post(addr: SocketAddr, akid: &str, form: &[(&str, &str)]) -> HttpResponse {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={akid}/20261123/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00"
    );
    let headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Authorization", auth.as_str()),
    ];
    http_request(addr, "POST", "/", &headers, form_body(form).as_bytes()).expect("POST")
}

fn gci(addr: SocketAddr, akid: &str) -> HttpResponse {
    sts_post(
        addr,
        akid,
        &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
    )
}

fn ecs_peer(ecs: Ecs) -> Peer {
    Peer::start(Plan::new().with_ecs(ecs))
}

fn date_of(resp: &HttpResponse) -> i64 {
    let date = resp.header("date").expect("Date header");
    parse_imf_fixdate(date).unwrap_or_else(|| panic!("bad Date {date:?}"))
}

// ---- ECS -------------------------------------------------------------------

#[test]
fn ecs_success_has_the_real_shape() {
    let peer = ecs_peer(Ecs::default().with_expiration("2026-11-23T16:00:00Z"));
    let resp = get(peer.addr(), ECS_PATH, &[]);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    assert!((date_of(&resp) - unix_now()).abs() <= 5);
    let expected = format!(
        "{{\"RoleArn\":\"{ROLE_ARN}\",\"AccessKeyId\":\"{CANARY_AKID}\",\"SecretAccessKey\":\"{CANARY_SECRET}\",\"Token\":\"{CANARY_TOKEN}\",\"Expiration\":\"2026-11-23T16:00:00Z\"}}"
    );
    assert_eq!(resp.text(), expected);
    peer.assert_hits(1);
    assert_eq!(peer.requests()[0].path, ECS_PATH);
    assert!(peer.url().starts_with("http://127.0.0.1:"));
    assert_eq!(peer.ecs_url(), format!("{}{ECS_PATH}", peer.url()));
}

#[test]
fn ecs_wrong_path_answers_like_the_agent() {
    // aws/amazon-ecs-agent v1.105: tmds/handlers/v1/credentials_handler.go (texts, the
    // untagged HTTPErrorCode), tmds/server.go (gorilla/mux path cleaning, tollbooth headers).
    let peer = ecs_peer(Ecs::default());
    let resp = get(peer.addr(), "/v2/credentials/not-the-id", &[]);
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.text(),
        r#"{"code":"InvalidIdInRequest","message":"CredentialsV2Request: Credentials not found","HTTPErrorCode":400}"#
    );
    assert_eq!(resp.header("x-rate-limit-limit"), Some("40.00"));
    assert_eq!(resp.header("x-rate-limit-duration"), Some("1"));
    for (path, message) in [
        (
            "/v2/credentials/",
            "CredentialsV2Request: No Credential ID in the request",
        ),
        (
            "/v1/credentials",
            "CredentialsV1Request: No Credential ID in the request",
        ),
        (
            "/v1/credentials?id=",
            "CredentialsV1Request: No Credential ID in the request",
        ),
    ] {
        let resp = get(peer.addr(), path, &[]);
        assert_eq!(resp.status, 400, "{path}");
        assert_eq!(resp.json()["code"], "NoIdInRequest", "{path}");
        assert_eq!(resp.json()["message"], message, "{path}");
        assert_eq!(resp.json()["HTTPErrorCode"], 400, "{path}");
    }
    for path in ["/", "/v2/credentials"] {
        let resp = get(peer.addr(), path, &[]);
        assert_eq!(
            (
                resp.status,
                resp.text().as_str(),
                resp.header("content-type")
            ),
            (
                404,
                "404 page not found\n",
                Some("text/plain; charset=utf-8")
            ),
            "{path}"
        );
        assert!(resp.header("x-rate-limit-request-remote-addr").is_some());
    }
    let v1 = format!(
        "/v1/credentials?id={}",
        ECS_PATH.rsplit('/').next().unwrap()
    );
    assert_eq!(get(peer.addr(), &v1, &[]).status, 200);
    let resp = get(peer.addr(), &format!("/{ECS_PATH}"), &[]);
    assert_eq!(
        (resp.status, resp.header("location"), resp.body.len()),
        (301, Some(ECS_PATH), 0)
    );
    assert!(
        resp.header("x-rate-limit-limit").is_none(),
        "the router answers before the limiter"
    );
    let resp = get(peer.addr(), ECS_PATH, &[("Authorization", "anything")]);
    assert_eq!(resp.status, 200, "the ECS agent ignores Authorization");
    peer.assert_hits(9);
}

#[test]
fn ecs_throttled_answers_like_tollbooth() {
    let peer = ecs_peer(Ecs::default().with_fault(EcsFault::Throttled));
    for path in [ECS_PATH, "/anything"] {
        let resp = get(peer.addr(), path, &[]);
        assert_eq!(
            (
                resp.status,
                resp.text().as_str(),
                resp.header("content-type")
            ),
            (
                429,
                "You have reached maximum request limit.",
                Some("text/plain; charset=utf-8")
            )
        );
        assert_eq!(resp.header("x-rate-limit-limit"), Some("40.00"));
    }
}

#[test]
fn pod_identity_checks_the_host_then_the_token() {
    // aws/eks-pod-identity-agent internal/validation/request.go, pkg/errors/errors.go.
    let peer = ecs_peer(Ecs::pod_identity().with_target_hosts(&POD_IDENTITY_HOSTS));
    let resp = get(
        peer.addr(),
        POD_IDENTITY_PATH,
        &[("Authorization", CANARY_AUTH_TOKEN)],
    );
    assert_eq!(resp.status, 403);
    assert_eq!(
        resp.text(),
        "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 127.0.0.1\n"
    );
    let fault = EcsFault::EksAuth {
        status: 400,
        code: "AccessDeniedException".into(),
        message: "denied".into(),
    };
    let peer = ecs_peer(Ecs::pod_identity().with_fault(fault));
    let resp = get(
        peer.addr(),
        POD_IDENTITY_PATH,
        &[("Authorization", CANARY_AUTH_TOKEN)],
    );
    assert_eq!(resp.status, 400);
    let text = resp.text();
    assert!(
        text.starts_with('[')
            && text.ends_with("]: (AccessDeniedException): denied, fault: client\n"),
        "{text}"
    );
    let expiration = get(
        peer.addr(),
        POD_IDENTITY_PATH,
        &[("Authorization", CANARY_AUTH_TOKEN)],
    );
    assert_eq!(expiration.status, 400, "the fault holds");
    let ok = ecs_peer(Ecs::pod_identity());
    let body = get(
        ok.addr(),
        POD_IDENTITY_PATH,
        &[("Authorization", CANARY_AUTH_TOKEN)],
    )
    .json();
    assert!(
        body["Expiration"].as_str().unwrap().contains('.'),
        "RFC3339Nano: {body}"
    );
}

#[test]
fn pod_identity_requires_the_token_and_has_no_role_arn() {
    let peer = ecs_peer(Ecs::pod_identity());
    assert_eq!(get(peer.addr(), POD_IDENTITY_PATH, &[]).status, 400);
    assert_eq!(
        get(
            peer.addr(),
            POD_IDENTITY_PATH,
            &[("Authorization", "wrong")]
        )
        .status,
        400
    );
    let resp = get(
        peer.addr(),
        POD_IDENTITY_PATH,
        &[("Authorization", CANARY_AUTH_TOKEN)],
    );
    assert_eq!(resp.status, 200);
    let body = resp.json();
    assert_eq!(body["AccountId"], ACCOUNT_ID);
    assert!(body.get("RoleArn").is_none());
    assert_eq!(body["AccessKeyId"], CANARY_AKID);
    assert_eq!(
        peer.requests()[2].header("authorization"),
        Some(CANARY_AUTH_TOKEN)
    );
    assert_eq!(get(peer.addr(), "/v2/credentials/x", &[]).status, 404);
}

#[test]
fn ecs_agent_errors_and_raw_bodies() {
    let peer = ecs_peer(Ecs::default().with_fault(EcsFault::uninitialized()));
    let resp = get(peer.addr(), ECS_PATH, &[]);
    assert_eq!(
        (resp.status, resp.json()["code"].as_str()),
        (503, Some("CredentialsUninitialized"))
    );
    let body = format!("internal error for secret {CANARY_SECRET}");
    peer.update_plan(|p| {
        p.ecs.as_mut().unwrap().fault = EcsFault::raw(500, "text/plain", body.clone())
    });
    let resp = get(peer.addr(), ECS_PATH, &[]);
    assert_eq!(
        (resp.status, resp.header("content-type")),
        (500, Some("text/plain"))
    );
    assert_eq!(resp.text(), body);
    peer.update_plan(|p| {
        p.ecs.as_mut().unwrap().fault =
            EcsFault::raw(200, "application/json", vec![0xff, 0xfe, b'{'])
    });
    assert_eq!(get(peer.addr(), ECS_PATH, &[]).body, vec![0xff, 0xfe, b'{']);
}

#[test]
fn ecs_fault_times_fails_first_requests_only() {
    let mut ecs =
        Ecs::default().with_fault(EcsFault::agent_error(500, "InternalServerError", "boom"));
    ecs.fault_times = Some(2);
    let peer = ecs_peer(ecs);
    let statuses: Vec<u16> = (0..3)
        .map(|_| get(peer.addr(), ECS_PATH, &[]).status)
        .collect();
    assert_eq!(statuses, [500, 500, 200]);
}

#[test]
fn ecs_hang_holds_the_socket_until_the_peer_is_dropped() {
    let peer = ecs_peer(Ecs::default().with_fault(EcsFault::Hang));
    let short = http_request_timeout(
        peer.addr(),
        "GET",
        ECS_PATH,
        &[],
        b"",
        Duration::from_millis(300),
    );
    assert!(short.is_err(), "hung endpoint answered: {short:?}");
    let addr = peer.addr();
    let waiter = thread::spawn(move || {
        let start = Instant::now();
        let res = http_request_timeout(addr, "GET", ECS_PATH, &[], b"", Duration::from_secs(20));
        (res.is_err(), start.elapsed())
    });
    let polling_since = Instant::now();
    while peer.hits() < 2 {
        assert!(
            polling_since.elapsed() < Duration::from_secs(10),
            "the second request never arrived"
        );
        thread::yield_now();
    }
    let dropped_at = Instant::now();
    drop(peer);
    let (failed, _) = waiter.join().unwrap();
    assert!(failed);
    assert!(
        dropped_at.elapsed() < Duration::from_secs(3),
        "drop did not release the hung connection"
    );
}

#[test]
fn ecs_slow_answers_after_the_delay() {
    let peer = ecs_peer(Ecs::default().with_fault(EcsFault::Slow(Duration::from_millis(300))));
    let start = Instant::now();
    assert_eq!(get(peer.addr(), ECS_PATH, &[]).status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn ecs_reset_close_redirect_and_huge() {
    let peer = ecs_peer(Ecs::default().with_fault(EcsFault::ResetMidBody));
    let err = http_request(peer.addr(), "GET", ECS_PATH, &[], b"").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    peer.update_plan(|p| p.ecs.as_mut().unwrap().fault = EcsFault::Close);
    assert!(http_request(peer.addr(), "GET", ECS_PATH, &[], b"").is_err());
    let location = "http://127.0.0.1:9/elsewhere";
    peer.update_plan(|p| p.ecs.as_mut().unwrap().fault = EcsFault::Redirect(location.into()));
    let resp = get(peer.addr(), ECS_PATH, &[]);
    assert_eq!(
        (resp.status, resp.header("location")),
        (302, Some(location))
    );
    peer.update_plan(|p| p.ecs.as_mut().unwrap().fault = EcsFault::Huge(10 << 20));
    let resp = get(peer.addr(), ECS_PATH, &[]);
    assert_eq!((resp.status, resp.body.len()), (200, 10 << 20));
    assert!(resp.body.starts_with(b"{\"RoleArn\":\"AAAA"));
}

// ---- task metadata ------------------------------------------------------------

#[test]
fn task_metadata_v4_is_served_under_its_prefix() {
    let plan = Plan::new()
        .with_ecs(Ecs::default())
        .with_task_metadata(TASK_METADATA_PREFIX, default_task_metadata());
    let peer = Peer::start(plan);
    assert_eq!(
        peer.task_metadata_uri(),
        format!("{}{TASK_METADATA_PREFIX}", peer.url())
    );
    let task = get(peer.addr(), &format!("{TASK_METADATA_PREFIX}/task"), &[]).json();
    for key in [
        "Cluster",
        "TaskARN",
        "Family",
        "Revision",
        "ServiceName",
        "LaunchType",
        "AvailabilityZone",
    ] {
        assert!(task[key].is_string(), "{key} missing in {task}");
    }
    assert_eq!(
        (task["LaunchType"].as_str(), task["Revision"].as_str()),
        (Some("FARGATE"), Some("7"))
    );
    assert_eq!(task["DesiredStatus"], "RUNNING");
    assert_eq!(task["Containers"][0]["Name"], "app");
    let container = get(peer.addr(), TASK_METADATA_PREFIX, &[]).json();
    assert_eq!(container["Name"], "app");
    assert_eq!(get(peer.addr(), ECS_PATH, &[]).status, 200);
}

// ---- IMDS ------------------------------------------------------------------

fn imds_token(addr: SocketAddr) -> HttpResponse {
    let ttl = [("X-aws-ec2-metadata-token-ttl-seconds", "21600")];
    http_request(addr, "PUT", "/latest/api/token", &ttl, b"").expect("PUT token")
}

#[test]
fn imds_v2_token_flow() {
    let peer = Peer::start(Plan::new().with_imds(Imds::default()));
    let no_ttl = http_request(peer.addr(), "PUT", "/latest/api/token", &[], b"").unwrap();
    assert_eq!(no_ttl.status, 400);
    let token = imds_token(peer.addr());
    assert_eq!((token.status, token.text().as_str()), (200, IMDS_TOKEN));
    let list = "/latest/meta-data/iam/security-credentials/";
    assert_eq!(get(peer.addr(), list, &[]).status, 401);
    let auth = [("X-aws-ec2-metadata-token", IMDS_TOKEN)];
    assert_eq!(get(peer.addr(), list, &auth).text(), IMDS_ROLE);
    let creds = get(peer.addr(), &format!("{list}{IMDS_ROLE}"), &auth);
    assert_eq!(creds.header("content-type"), Some("text/plain"));
    let creds = creds.json();
    assert_eq!(
        (creds["Code"].as_str(), creds["Type"].as_str()),
        (Some("Success"), Some("AWS-HMAC"))
    );
    assert_eq!(creds["AccessKeyId"], CANARY_AKID_IMDS);
    assert!(creds["LastUpdated"].is_string() && creds["Expiration"].is_string());
    assert_eq!(
        get(peer.addr(), &format!("{list}other-role"), &auth).status,
        404
    );
    assert_eq!(
        get(peer.addr(), "/latest/meta-data/placement/region", &auth).text(),
        "us-east-1"
    );
}

#[test]
fn imds_without_instance_profile_is_404() {
    let peer = Peer::start(Plan::new().with_imds(Imds::no_role()));
    imds_token(peer.addr());
    let auth = [("X-aws-ec2-metadata-token", IMDS_TOKEN)];
    assert_eq!(
        get(
            peer.addr(),
            "/latest/meta-data/iam/security-credentials/",
            &auth
        )
        .status,
        404
    );
}

#[test]
fn imds_hop_limit_hangs_the_put_and_401s_the_get() {
    let peer = Peer::start(Plan::new().with_imds(Imds::default().with_fault(ImdsFault::HopLimit)));
    let ttl = [("X-aws-ec2-metadata-token-ttl-seconds", "21600")];
    let put = http_request_timeout(
        peer.addr(),
        "PUT",
        "/latest/api/token",
        &ttl,
        b"",
        Duration::from_millis(500),
    );
    assert!(put.is_err(), "token PUT answered: {put:?}");
    let start = Instant::now();
    assert_eq!(
        get(
            peer.addr(),
            "/latest/meta-data/iam/security-credentials/",
            &[]
        )
        .status,
        401
    );
    assert!(start.elapsed() < Duration::from_millis(500));
    peer.update_plan(|p| p.imds.as_mut().unwrap().fault = ImdsFault::TokenForbidden);
    assert_eq!(imds_token(peer.addr()).status, 403);
}

// ---- STS -------------------------------------------------------------------

#[test]
fn sts_get_caller_identity_is_real_xml() {
    let peer = Peer::start(Plan::new().with_sts(Sts::default()));
    let resp = gci(peer.addr(), CANARY_AKID);
    assert_eq!(
        (resp.status, resp.header("content-type")),
        (200, Some("text/xml"))
    );
    let xml = resp.text();
    assert!(xml.starts_with(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
    ));
    assert_eq!(xml_value(&xml, "Arn"), Some(CALLER_ARN));
    assert_eq!(xml_value(&xml, "Account"), Some(ACCOUNT_ID));
    assert!(xml_value(&xml, "UserId").unwrap().starts_with("AROA"));
    assert!(xml_value(&xml, "RequestId").is_some());
    assert!(resp.header("x-amzn-requestid").is_some());
    assert_eq!(
        peer.requests()[0].sigv4_access_key().as_deref(),
        Some(CANARY_AKID)
    );
    assert!((date_of(&resp) - unix_now()).abs() <= 5);
}

#[test]
fn sts_date_header_can_be_skewed() {
    let peer = Peer::start(Plan::new().with_sts(Sts::default().with_date_offset(-20 * 60)));
    let resp = gci(peer.addr(), CANARY_AKID);
    let skew = date_of(&resp) - unix_now();
    assert!((-1205..=-1195).contains(&skew), "skew {skew}");
}

#[test]
fn sts_errors_are_real_error_documents() {
    let cases = [
        (
            StsFault::invalid_client_token_id(),
            403,
            "InvalidClientTokenId",
            "Sender",
        ),
        (StsFault::expired_token(), 400, "ExpiredToken", "Sender"),
        (
            StsFault::signature_does_not_match(),
            403,
            "SignatureDoesNotMatch",
            "Sender",
        ),
        (StsFault::access_denied(), 403, "AccessDenied", "Sender"),
        (StsFault::throttling(), 400, "Throttling", "Sender"),
        (
            StsFault::internal_failure(),
            500,
            "InternalFailure",
            "Receiver",
        ),
    ];
    for (fault, status, code, kind) in cases {
        let peer = Peer::start(Plan::new().with_sts(Sts::default().with_fault(fault)));
        let resp = gci(peer.addr(), CANARY_AKID);
        let xml = resp.text();
        assert_eq!(resp.status, status, "{xml}");
        assert!(xml.starts_with("<ErrorResponse"), "{xml}");
        assert_eq!(
            (xml_value(&xml, "Code"), xml_value(&xml, "Type")),
            (Some(code), Some(kind))
        );
        assert!(xml_value(&xml, "Message").is_some() && xml_value(&xml, "RequestId").is_some());
    }
}

#[test]
fn sts_not_xml_and_per_action_faults() {
    let peer = Peer::start(Plan::new().with_sts(Sts::default().with_fault(StsFault::NotXml)));
    let resp = gci(peer.addr(), CANARY_AKID);
    assert_eq!(
        (resp.status, resp.header("content-type")),
        (200, Some("text/html"))
    );
    let sts = Sts::default().with_fault_on(
        "AssumeRoleWithWebIdentity",
        StsFault::invalid_identity_token(),
    );
    peer.update_plan(|p| p.sts = Some(sts));
    assert_eq!(gci(peer.addr(), CANARY_AKID).status, 200);
    let form = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("RoleArn", ROLE_ARN),
        ("RoleSessionName", "s"),
    ];
    assert_eq!(sts_post(peer.addr(), "", &form).status, 400);
}

#[test]
fn sts_web_identity_then_caller_identity_of_the_new_key() {
    let peer = Peer::start(Plan::new().with_sts(Sts::default()));
    let form = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", "arn:aws:iam::123456789012:role/path/irsa-role"),
        ("RoleSessionName", "botocore-session-1"),
        ("WebIdentityToken", CANARY_WEB_IDENTITY),
    ];
    let resp = sts_post(peer.addr(), "", &form);
    let xml = resp.text();
    assert_eq!(resp.status, 200, "{xml}");
    assert!(xml.starts_with("<AssumeRoleWithWebIdentityResponse"));
    assert_eq!(xml_value(&xml, "AccessKeyId"), Some(CANARY_AKID_STS));
    assert_eq!(
        xml_value(&xml, "SubjectFromWebIdentityToken"),
        Some("system:serviceaccount:default:credcheck")
    );
    let arn = "arn:aws:sts::123456789012:assumed-role/irsa-role/botocore-session-1";
    assert_eq!(xml_value(&xml, "Arn"), Some(arn));
    assert_eq!(
        peer.requests()[0].form()["WebIdentityToken"],
        CANARY_WEB_IDENTITY
    );
    assert_eq!(
        xml_value(&gci(peer.addr(), CANARY_AKID_STS).text(), "Arn"),
        Some(arn)
    );
    assert_eq!(
        xml_value(&gci(peer.addr(), CANARY_AKID).text(), "Arn"),
        Some(CALLER_ARN)
    );
    let user = Sts::user("alice").with_identity_for(CANARY_AKID, CALLER_ARN, "AROAX:s");
    peer.update_plan(|p| p.sts = Some(user));
    assert_eq!(
        xml_value(&gci(peer.addr(), CANARY_AKID_ENV).text(), "Arn"),
        Some("arn:aws:iam::123456789012:user/alice")
    );
    assert_eq!(
        xml_value(&gci(peer.addr(), CANARY_AKID).text(), "Arn"),
        Some(CALLER_ARN)
    );
}

// ---- pure helpers ----------------------------------------------------------------

#[test]
fn dates_are_formatted_without_chrono() {
    assert_eq!(imf_fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(imf_fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_795_449_600), "2026-11-23T16:00:00Z");
    assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    let mut t = -10_000_000_000_i64;
    while t < 10_000_000_000 {
        assert_eq!(parse_imf_fixdate(&imf_fixdate(t)), Some(t), "{t}");
        t += 7_777_777;
    }
}

#[test]
fn forms_round_trip() {
    let form = [
        ("A", "x y+z/%&="),
        ("Token", CANARY_WEB_IDENTITY),
        ("U", "é✓"),
    ];
    let parsed = parse_form(&form_body(&form));
    for (k, v) in form {
        assert_eq!(parsed[k], v);
    }
    assert_eq!(url_decode("a+b%2Bc%zz%"), "a b+c%zz%");
}

// ---- canaries and harness -----------------------------------------------------------

#[test]
fn canaries_have_real_shapes() {
    for akid in CANARY_AKIDS {
        assert_eq!(akid.len(), 20, "{akid}");
        assert!(akid.starts_with("ASIA") || akid.starts_with("AKIA"));
        assert!(akid
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    }
    assert_eq!(CANARY_SECRET.len(), 40);
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for (jwt, exp) in [
        (CANARY_WEB_IDENTITY, 4_102_444_800_u64),
        (CANARY_WEB_IDENTITY_EXPIRED, 1_600_000_000),
    ] {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "RS256", "kid": "x"}));
        let claims: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["exp"], exp);
        assert_eq!(claims["aud"][0], "sts.amazonaws.com");
        assert_eq!(claims["sub"], "system:serviceaccount:default:credcheck");
        assert!(claims["iss"]
            .as_str()
            .unwrap()
            .starts_with("https://oidc.eks."));
        assert_eq!(parts[2], CANARY_WEB_IDENTITY_SIGNATURE);
        assert!(b64.decode(parts[2]).is_ok());
    }
}

fn output(stdout: &str, stderr: &str) -> Output {
    Output {
        code: 0,
        stdout: stdout.into(),
        stderr: stderr.into(),
        elapsed: Duration::ZERO,
    }
}

#[test]
fn assert_no_secrets_accepts_masked_output() {
    assert_no_secrets(&output(
        "key ASIA****************XYZ1 ASIA…MDS1\n",
        "iss https://oidc.eks…CANARYCLUSTER0000",
    ));
}

#[test]
#[should_panic(expected = "secret leaked to stderr")]
fn assert_no_secrets_catches_a_partial_secret() {
    assert_no_secrets(&output("", &CANARY_SECRET[..20]));
}

#[test]
#[should_panic(expected = "secret leaked to stdout")]
fn assert_no_secrets_catches_a_full_key_id() {
    assert_no_secrets(&output(CANARY_AKID_ENV, ""));
}

#[test]
fn harness_environment_is_hermetic() {
    let mut c = TestCmd::new("/usr/bin/env");
    c.home_file(".aws/config", "[default]\nregion = eu-west-1\n")
        .env("AWS_PROFILE", "p");
    let out = c.run();
    out.assert_success();
    let mut vars: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split('=').next().unwrap())
        .collect();
    vars.sort_unstable();
    assert_eq!(
        vars,
        [
            "AWS_EC2_METADATA_DISABLED",
            "AWS_PROFILE",
            "AWS_REGION",
            "HOME",
            "PATH"
        ]
    );
    assert!(out
        .stdout
        .contains(&format!("HOME={}\n", c.home().display())));
    assert!(out.stdout.contains("AWS_EC2_METADATA_DISABLED=true\n"));
    let config = std::fs::read_to_string(c.home_path(".aws/config")).unwrap();
    assert!(config.contains("eu-west-1"));
    assert!(Path::new(env!("CARGO_BIN_EXE_credcheck")).is_file());
    let removed = TestCmd::new("/usr/bin/env").env_remove("AWS_REGION").run();
    assert!(!removed.stdout.contains("AWS_REGION"), "{removed}");
}

#[test]
fn harness_reports_codes_signals_stdin_and_json() {
    let out = TestCmd::new("/bin/sh")
        .args(["-c", "cat; echo err >&2; exit 3"])
        .stdin("{\"a\":1}\n")
        .run();
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (3, "{\"a\":1}\n", "err\n")
    );
    assert_eq!(out.json()["a"], 1);
    assert_eq!(
        TestCmd::new("/bin/sh")
            .args(["-c", "kill -9 $$"])
            .run()
            .code,
        137
    );
}

#[test]
#[should_panic(expected = "still running")]
fn harness_kills_runaway_processes() {
    TestCmd::new("/bin/sleep")
        .arg("30")
        .timeout(Duration::from_millis(200))
        .run();
}

// ---- fake_peer binary, netns, moto ---------------------------------------------------

#[test]
fn fake_peer_binary_serves_and_probes() {
    let bin = example_bin("fake_peer");
    let mut c = std::process::Command::new(&bin);
    c.args([
        "--bind",
        "127.0.0.1:0",
        "--bind",
        "[::1]:0",
        "--ecs-path",
        "/v2/credentials/abc",
        "--sts",
    ]);
    c.env_clear();
    let peer = spawn_listening(c, Duration::from_secs(10));
    assert_eq!(peer.addrs.len(), 2);
    let resp = get(peer.addr(), "/v2/credentials/abc", &[]);
    assert_eq!(
        (resp.status, resp.json()["RoleArn"].as_str()),
        (200, Some(ROLE_ARN))
    );
    assert_eq!(
        xml_value(&gci(peer.addrs[1], CANARY_AKID).text(), "Arn"),
        Some(CALLER_ARN)
    );
    let url = format!("{}/v2/credentials/abc", peer.url());
    let out = TestCmd::new(&bin)
        .args(["--probe", &url])
        .allow_secrets()
        .run();
    out.assert_success();
    assert!(out.stdout.starts_with("HTTP 200\n"), "{out}");
    let out = TestCmd::new(&bin)
        .args(["--probe", &format!("{}/nope", peer.url())])
        .run();
    assert_eq!(out.code, 1, "{out}");
}

#[test]
fn netns_serves_the_real_link_local_endpoints() {
    let Some(ns) = netns::Netns::create("selftest") else {
        return;
    };
    let task_role = ["--bind", "169.254.170.2:80", "--ecs-path", ECS_PATH];
    let _ecs = ns.spawn_peer(&task_role);
    let pod = [
        "--bind",
        "169.254.170.23:80",
        "--bind",
        "[fd00:ec2::23]:80",
        "--pod-identity",
    ];
    let _pod = ns.spawn_peer(&pod);
    let probe = |url: &str, extra: &[&str]| {
        let mut c = TestCmd::new(example_bin("fake_peer"));
        c.in_netns(&ns)
            .allow_secrets()
            .args(["--probe", url])
            .args(extra)
            .run()
    };
    let out = probe(&format!("http://169.254.170.2{ECS_PATH}"), &[]);
    assert!(
        out.stdout.starts_with("HTTP 200\n") && out.stdout.contains(ROLE_ARN),
        "{out}"
    );
    let auth = format!("Authorization: {CANARY_AUTH_TOKEN}");
    let out = probe("http://[fd00:ec2::23]/v1/credentials", &["--header", &auth]);
    assert!(out.stdout.contains("\"AccountId\""), "{out}");
    assert_eq!(probe("http://169.254.170.23/v1/credentials", &[]).code, 1);
    assert_eq!(ns.pids().len(), 2);
}

#[test]
fn moto_assume_role_round_trip() {
    let Some(moto) = moto::moto() else { return };
    let creds = moto.assume_role("credcheck-selftest", "selftest-session");
    assert!(
        creds.akid.starts_with("ASIA") && creds.akid.len() == 20,
        "{creds:?}"
    );
    assert!(!creds.secret.is_empty() && !creds.token.is_empty() && creds.expiration.contains('T'));
    let arn = moto.caller_arn(&creds.akid);
    assert_eq!(
        arn,
        "arn:aws:sts::123456789012:assumed-role/credcheck-selftest/selftest-session"
    );
    let again = moto.assume_role("credcheck-selftest", "second");
    assert_ne!(again.akid, creds.akid);
}
