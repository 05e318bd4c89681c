//! The container source's one GET and its answer: up to 3 attempts, retrying what aws-config
//! retries; a 200 parsed as credentials; every other answer (a redirect, a 4xx from the ECS or
//! EKS Pod Identity agent, a 429, a 5xx, a transport failure) explained with the agent's own
//! words, sorted as `mod.rs`'s header says. Reads: ECS_TASK_METADATA_RPS_LIMIT's name only
//! (in a hint).

use super::*;

/// aws-config's container provider (http_credential_provider.rs) makes up to 3 attempts
/// (`RetryConfig::standard()`) and retries only: IO errors and timeouts
/// (`TransientErrorClassifier`), HTTP 500, 502, 503 and 504 (`HttpStatusCodeClassifier::default()`,
/// aws-smithy-runtime's `TRANSIENT_ERROR_STATUS_CODES`), and success answers it cannot parse
/// (`HttpCredentialRetryClassifier`). Never a 4xx (so never a 429), a 3xx or another 5xx.
/// credcheck does the same, within the run's deadline, except that a 2xx other than 200 is a
/// bad answer at once: no agent sends one.
pub(super) const ATTEMPTS: u32 = 3;
pub(super) const RETRIED_STATUSES: [u16; 4] = [500, 502, 503, 504];

/// The ECS agent's task metadata rate limit (agent config; 40/s steady, burst 60).
pub const RPS_LIMIT: &str = "ECS_TASK_METADATA_RPS_LIMIT";
pub(super) const POD_IDENTITY_HOSTS: &str = "169.254.170.23 or [fd00:ec2::23]";
pub(super) const POD_IDENTITY_TOKEN_PATH: &str =
    "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token";

/// Fetches, retrying what the SDK retries, and explains any failure with the agent's own words.
pub async fn resolve(ctx: &Ctx<'_>) -> Outcome {
    let Some(target) = ctx.container.target() else {
        return Outcome::NotLoaded("not configured".into());
    };
    let mut attempt = 1;
    loop {
        let (outcome, retry) = fetch_once(ctx, target).await;
        if attempt >= ATTEMPTS || !retry || ctx.budget.is_spent() {
            return with_attempts(outcome, attempt);
        }
        attempt += 1;
    }
}

/// One GET: the outcome, and whether the SDK would try again.
pub(super) async fn fetch_once(ctx: &Ctx<'_>, target: &Target) -> (Outcome, bool) {
    let timeout = ctx.budget.request_timeout();
    let mut headers = Vec::new();
    if let Some(token) = &target.token {
        headers.push(("authorization", HeaderValue::Secret(token)));
    }
    let request = Request {
        method: crate::http::Method::GET,
        url: &target.url,
        headers,
        timeout,
    };
    match http::fetch(ctx.endpoints, request).await {
        Ok(answer) => interpret(answer, target),
        Err(err) => {
            let retry = err != FetchError::TooLarge;
            let error = transport_error(&err, timeout, target);
            (failed(error, None), retry)
        }
    }
}

pub(super) fn failed(error: Error, http_status: Option<u16>) -> Outcome {
    Outcome::Failed { error, http_status }
}

pub(super) fn with_attempts(mut outcome: Outcome, attempts: u32) -> Outcome {
    if let (Outcome::Failed { error, .. }, true) = (&mut outcome, attempts > 1) {
        error
            .message
            .push_str(&format!(" (after {attempts} attempts, as the SDK retries)"));
    }
    outcome
}

/// Sorts an answer by status class, as aws-config does, then by what the agent said.
pub(super) fn interpret(answer: Fetched, target: &Target) -> (Outcome, bool) {
    let status = answer.status;
    let error = match status {
        200 => match json_creds::parse(&answer.body) {
            Ok(parsed) => return (resolved(parsed, status), false),
            Err(why) => return (failed(bad_response(&why, &answer), Some(status)), true),
        },
        201..=299 => not_200(&answer),
        300..=399 => redirect(&answer, target),
        429 => throttled(&answer),
        400..=499 => rejected(&answer, target),
        500..=599 => unavailable(&answer),
        _ => not_200(&answer),
    };
    let retry = RETRIED_STATUSES.contains(&status);
    (failed(error, Some(status)), retry)
}

pub(super) fn resolved(parsed: json_creds::Parsed, status: u16) -> Outcome {
    Outcome::Resolved(Box::new(Resolved {
        creds: parsed.creds,
        role_arn: parsed.role_arn,
        account_id: parsed.account_id,
        region: None,
        detail: Some(format!("HTTP {status}")),
        http_status: Some(status),
    }))
}

pub(super) fn content_type(answer: &Fetched) -> String {
    answer
        .content_type
        .as_deref()
        .map(|c| sanitize_foreign(c, 60))
        .unwrap_or_else(|| "none".into())
}

pub(super) const NOT_AN_AGENT: &str = "the URI points at something that is not the ECS agent or EKS Pod Identity agent; check the variable's value";

pub(super) fn bad_response(why: &str, answer: &Fetched) -> Error {
    Error::problem(
        "container-bad-response",
        format!("the container endpoint answered HTTP 200 but not with credentials: {why} (content-type {}, {} bytes)", content_type(answer), answer.body.len()),
        NOT_AN_AGENT,
    )
}

/// A status no agent sends: a 2xx other than 200, a 1xx, anything past 599.
pub(super) fn not_200(answer: &Fetched) -> Error {
    Error::problem(
        "container-bad-response",
        format!("the container endpoint answered HTTP {}, not 200: the agents send credentials only with 200 (content-type {}, {} bytes)", answer.status, content_type(answer), answer.body.len()),
        NOT_AN_AGENT,
    )
}

/// The ECS agent's router cleans the path (gorilla/mux, `SkipClean(false)` in tmds/server.go)
/// and answers 301 with a relative `Location`; a redirect elsewhere is something else.
pub(super) fn redirect(answer: &Fetched, target: &Target) -> Error {
    let to = answer
        .location
        .as_deref()
        .and_then(|l| target.url.join(l.trim()).ok());
    match to {
        Some(to) if is_same_origin(&to, &target.url) && to != target.url => {
            not_canonical(answer.status, &to, target)
        }
        Some(to) if is_same_origin(&to, &target.url) => redirect_away(answer.status, "itself"),
        Some(to) => redirect_away(
            answer.status,
            &to.host_str()
                .map_or_else(|| "elsewhere".into(), |h| printable(h, 80)),
        ),
        None => redirect_away(answer.status, "an unreadable Location"),
    }
}

pub(super) fn is_same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

pub(super) fn not_canonical(status: u16, to: &Url, target: &Target) -> Error {
    let canonical = mask_uri(&path_and_query(to));
    Error::problem(
        "container-uri-not-canonical",
        format!("the container endpoint answered HTTP {status} with a redirect to {canonical} on the same host: {} is not in canonical form (a double slash, or a /./ or /../ segment), and the SDKs do not follow redirects", target.via),
        format!("set {} to the canonical path {canonical}: pass the value ECS injects unchanged, and do not join it to a base URL that ends in '/'", target.via),
    )
}

pub(super) fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

pub(super) fn redirect_away(status: u16, to: &str) -> Error {
    Error::problem(
        "container-redirect",
        format!("the container endpoint answered HTTP {status} with a redirect to {to}; credential endpoints never redirect elsewhere, and the SDKs do not follow"),
        "point the variable at the agent itself; something (a proxy, a web server) sits at this URL",
    )
}

/// HTTP 429: the ECS agent's limiter (tollbooth, `You have reached maximum request limit.`)
/// or the Pod Identity agent's (`Too Many Requests. …`). aws-config does not retry a 429.
pub(super) fn throttled(answer: &Fetched) -> Error {
    let said = json_creds::parse_agent_body(&answer.body);
    let pod_identity =
        matches!(&said, json_creds::AgentSaid::Text(t) if t.starts_with("Too Many Requests"));
    let hint = if pod_identity {
        "the EKS Pod Identity agent allows 1000 requests/s per node (burst 500): some pod on this node polls it in a tight loop; let the SDK cache credentials".to_string()
    } else {
        format!("the ECS agent allows 40 requests/s per task (burst 60; {RPS_LIMIT} in the container instance's ecs.config): some container of this task polls the endpoint in a tight loop; let the SDK cache credentials, or raise the limit")
    };
    Error::unreachable(
        "container-throttled",
        format!("the container endpoint throttled the request: HTTP 429 {} (transient; not retried, as the SDKs retry only 500, 502, 503 and 504)", said.words()),
        hint,
    )
}

/// A 4xx other than 429: the ECS agent's JSON codes, the Pod Identity agent's lines, a 404.
pub(super) fn rejected(answer: &Fetched, target: &Target) -> Error {
    let said = json_creds::parse_agent_body(&answer.body);
    let status = answer.status;
    let words = said.words();
    let refused = |code, hint: String| {
        Error::problem(
            code,
            format!("the container endpoint refused: HTTP {status} {words}"),
            hint,
        )
    };
    match &said {
        json_creds::AgentSaid::NoToken => refused("pod-identity-no-token", no_token_hint(target)),
        json_creds::AgentSaid::BadToken(_) => refused("pod-identity-token-invalid", bad_token_hint()),
        json_creds::AgentSaid::WrongAddress(_) => refused("pod-identity-wrong-address", format!("{FULL_URI} must name the agent as {POD_IDENTITY_HOSTS} itself (the agent checks the Host header): not through a proxy, a DNS name or a rewritten host")),
        json_creds::AgentSaid::EksAuth { code, .. } => eks_auth(status, code, &words),
        _ => ecs_rejected(status, &said, target, refused),
    }
}

pub(super) fn ecs_rejected(
    status: u16,
    said: &json_creds::AgentSaid,
    target: &Target,
    refused: impl Fn(&'static str, String) -> Error,
) -> Error {
    match said.code() {
        Some("InvalidIdInRequest") => refused("container-rejected", "the credential id in the URI is unknown to the agent: the variable was copied from another task, or is stale; use the value ECS injects into this container (agents before January 2026 also answer this while a task starts)".into()),
        Some("NoIdInRequest") => refused("container-no-id", format!("the URI carries no credential id: {} must end in /v2/credentials/<id> (or /v1/credentials?id=<id>); the value was cut short or templated without the id: use the value ECS injects", target.via)),
        Some("NoCredentialsAssociated") => refused("container-rejected", "no task role is attached to this task: set taskRoleArn in the task definition".into()),
        _ if status == 404 => refused("container-not-found", format!("no such path on the agent: the ECS agent serves /v2/credentials/<id> ({RELATIVE_URI} as ECS injects it), the EKS Pod Identity agent http://169.254.170.23/v1/credentials; check {}", target.via)),
        _ if target.token.is_none() && target.via == FULL_URI => refused("container-rejected", format!("the agent may require a token: set {AUTH_TOKEN_FILE} (EKS Pod Identity) or {AUTH_TOKEN}")),
        _ => refused("container-rejected", format!("check {} and the token; the agent refused this request", target.via)),
    }
}

pub(super) fn no_token_hint(target: &Target) -> String {
    match target.token {
        None => format!("no token was sent: set {AUTH_TOKEN_FILE}={POD_IDENTITY_TOKEN_PATH} (EKS sets it, with {FULL_URI}, in pods whose service account has a Pod Identity association)"),
        Some(_) => format!("the token was lost on the way (a proxy that drops Authorization?): call the agent directly as {POD_IDENTITY_HOSTS}"),
    }
}

pub(super) fn bad_token_hint() -> String {
    format!("the token file does not hold a valid service account token: point {AUTH_TOKEN_FILE} at the projected {POD_IDENTITY_TOKEN_PATH} itself, not a copy (a copy expires), and unset {AUTH_TOKEN}")
}

/// EKS Auth's answer relayed by the Pod Identity agent, with EKS Auth's own status.
pub(super) fn eks_auth(status: u16, code: &str, words: &str) -> Error {
    let message = format!("EKS Auth refused this pod's credentials (via the EKS Pod Identity agent): HTTP {status} {words}");
    let hint = match code {
        "ExpiredTokenException" | "InvalidTokenException" => bad_token_hint(),
        _ => "check the Pod Identity association of this pod's namespace and service account (aws eks list-pod-identity-associations --cluster-name <cluster>), and that its role trusts pods.eks.amazonaws.com for sts:AssumeRole and sts:TagSession; pods started before the association need a restart".to_string(),
    };
    if status >= 500 || code == "ThrottlingException" {
        return Error::unreachable("pod-identity-eks-auth", message, hint);
    }
    Error::problem("pod-identity-eks-auth", message, hint)
}

pub(super) fn unavailable(answer: &Fetched) -> Error {
    let said = json_creds::parse_agent_body(&answer.body);
    let words = said.words();
    if let json_creds::AgentSaid::EksAuth { code, .. } = &said {
        return eks_auth(answer.status, code, &words);
    }
    let hint = match said.code() {
        Some("CredentialsUninitialized") => "the agent has not received this task's credentials yet (task starting); retry in a few seconds",
        _ => "the agent failed to serve credentials; retry, and check the ECS/EKS agent if it persists",
    };
    Error::unreachable(
        "container-unavailable",
        format!(
            "the container endpoint failed: HTTP {} {words}",
            answer.status
        ),
        hint,
    )
}

pub(super) fn transport_error(err: &FetchError, timeout: Duration, target: &Target) -> Error {
    if *err == FetchError::TooLarge {
        return Error::problem(
            "container-bad-response",
            format!("the container endpoint's answer is larger than {} KiB: it is not a credentials document", http::BODY_CAP / 1024),
            "point the variable at the ECS agent or the EKS Pod Identity agent",
        );
    }
    let hint = match err {
        FetchError::Dns(_) => "use an IP literal, or add the name to /etc/hosts (a FROM scratch image has none)".to_string(),
        _ if target.via == RELATIVE_URI => {
            "169.254.170.2 is only reachable inside an ECS task (awsvpc or bridge with the agent); outside ECS, unset the variable".to_string()
        }
        _ => "check that the agent runs and that the URL's host and port are right".to_string(),
    };
    Error::unreachable(
        "container-unreachable",
        format!(
            "the container endpoint {}: {}",
            target.shown,
            err.describe(timeout)
        ),
        hint,
    )
}
