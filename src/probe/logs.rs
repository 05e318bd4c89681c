//! The CloudWatch Logs calls of the probe (JSON 1.1, `Logs_20140328.*`), each mapped to a
//! [`plan::Answer`]. Which calls to make is decided in `plan`; this module only sends them.
//! Error shapes are AWS's: HTTP 400 with `{"__type": "…#AccessDeniedException", "message":
//! "User: … is not authorized to perform: logs:X on resource: ARN because …"}`
//! (`x-amzn-ErrorType` carries the same code). Reads no env vars.

use super::aws::{self, Endpoint, Post};
use super::plan::{Answer, Call, Missing};
use super::verdict::DenyReason;
use crate::creds::Creds;
use crate::error::Error;
use crate::http::{Budget, FetchError, Fetched};
use crate::secret::sanitize_foreign;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const JSON_1_1: &str = "application/x-amz-json-1.1";
/// Older than PutLogEvents accepts (14 days), so AWS stores nothing.
pub const TOO_OLD: Duration = Duration::from_secs(15 * 24 * 3600);
pub const PROBE_MESSAGE: &str = "credcheck permission probe: dated 15 days ago, so CloudWatch Logs rejects it as too old and stores nothing";

/// Everything one call needs.
pub struct Site<'a> {
    pub client: &'a crate::http::Client,
    pub creds: &'a Creds,
    pub endpoint: &'a Endpoint,
    pub budget: &'a Budget,
    pub now: SystemTime,
    pub group: &'a str,
    pub stream: &'a str,
}

fn target_and_body(
    call: Call,
    group: &str,
    stream: &str,
    now: SystemTime,
) -> (&'static str, Value) {
    match call {
        Call::Describe => (
            "Logs_20140328.DescribeLogStreams",
            json!({"logGroupName": group, "logStreamNamePrefix": stream, "limit": 50}),
        ),
        Call::PutTooOld => {
            let at = now.checked_sub(TOO_OLD).unwrap_or(UNIX_EPOCH);
            let millis = at
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis() as u64;
            (
                "Logs_20140328.PutLogEvents",
                json!({"logGroupName": group, "logStreamName": stream,
                       "logEvents": [{"timestamp": millis, "message": PROBE_MESSAGE}]}),
            )
        }
        Call::CreateStream => (
            "Logs_20140328.CreateLogStream",
            json!({"logGroupName": group, "logStreamName": stream}),
        ),
        Call::CreateGroup => (
            "Logs_20140328.CreateLogGroup",
            json!({"logGroupName": group}),
        ),
    }
}

/// Sends one probe call; an error is returned beside the answer when the run should say so.
pub async fn call(site: &Site<'_>, call: Call) -> (Answer, Option<Error>) {
    if site.budget.is_spent() {
        return failed(
            call,
            "the deadline was reached before this call",
            "logs-timeout",
        );
    }
    let (target, body) = target_and_body(call, site.group, site.stream, site.now);
    let post = Post {
        endpoint: site.endpoint,
        content_type: JSON_1_1,
        target: Some(target),
        body: body.to_string().into_bytes(),
    };
    let timeout = site.budget.request_timeout();
    match aws::send(site.client, site.creds, post, site.budget, site.now).await {
        Ok(answer) => read(call, site.stream, &answer),
        Err(e) => transport(call, &e, timeout),
    }
}

fn transport(call: Call, e: &FetchError, timeout: Duration) -> (Answer, Option<Error>) {
    let code = if e.is_timeout() {
        "logs-timeout"
    } else {
        "logs-unreachable"
    };
    failed(call, &e.describe(timeout), code)
}

fn failed(call: Call, why: &str, code: &'static str) -> (Answer, Option<Error>) {
    let error = Error::unreachable(
        code,
        format!("CloudWatch Logs {} got no answer: {why}", call.action()),
        "check the network path to CloudWatch Logs (VPC endpoint, proxy, security groups), the endpoint, or raise --deadline",
    );
    (Answer::Failed(why.to_string()), Some(error))
}

/// AWS's error code: `__type` (after any `#`), else `code`.
pub fn error_code(body: &Value) -> Option<&str> {
    let raw = body.get("__type").or_else(|| body.get("code"))?.as_str()?;
    Some(raw.rsplit('#').next().unwrap_or(raw))
}

fn message(body: &Value) -> &str {
    body.get("message")
        .or_else(|| body.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn read(call: Call, stream: &str, answer: &Fetched) -> (Answer, Option<Error>) {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    if answer.status == 200 {
        let answer = ok(call, stream, &body);
        let stored = call == Call::PutTooOld
            && answer
                == (Answer::Ok {
                    stream_listed: false,
                    too_old: false,
                });
        return (answer, stored.then(event_stored));
    }
    let code = error_code(&body).unwrap_or("");
    // An XML AccessDenied with 403 (a proxy's or moto's dialect) is still a refusal.
    let text = String::from_utf8_lossy(&answer.body);
    if code.is_empty() && answer.status == 403 && text.contains("AccessDenied") {
        return (Answer::Denied(DenyReason::from_message(&text)), None);
    }
    match code {
        "AccessDeniedException" | "AccessDenied" => (
            Answer::Denied(DenyReason::from_message(message(&body))),
            None,
        ),
        "ResourceNotFoundException" => (
            Answer::NotFound(Missing::from_message(message(&body))),
            None,
        ),
        "ResourceAlreadyExistsException" => (Answer::AlreadyExists, None),
        "ThrottlingException" | "LimitExceededException" | "RequestLimitExceeded" => {
            throttled(call)
        }
        _ if answer.status == 429 => throttled(call),
        _ => rejected(call, answer.status, code, message(&body), answer),
    }
}

fn ok(call: Call, stream: &str, body: &Value) -> Answer {
    let listed = body["logStreams"]
        .as_array()
        .is_some_and(|a| a.iter().any(|s| s["logStreamName"] == stream));
    let rejected = &body["rejectedLogEventsInfo"];
    let too_old = rejected["tooOldLogEventEndIndex"].is_number()
        || rejected["expiredLogEventEndIndex"].is_number();
    Answer::Ok {
        stream_listed: call == Call::Describe && listed,
        too_old,
    }
}

/// PutLogEvents answered 200 without rejecting the 15-day-old event: it may have been stored.
fn event_stored() -> Error {
    Error::problem(
        "logs-probe-event-stored",
        "CloudWatch Logs accepted the probe's PutLogEvents event without reporting it too old (no tooOldLogEventEndIndex): one event, saying it is a credcheck probe, may have been stored",
        "check the local clock (the event is dated 15 days before it) and that the endpoint is CloudWatch Logs",
    )
}

fn throttled(call: Call) -> (Answer, Option<Error>) {
    let error = Error::unreachable(
        "logs-throttled",
        format!("CloudWatch Logs throttled {} (the verdict is unknown)", call.action()),
        "the account's CloudWatch Logs API quota is spent; retry later, and do not probe on every health check",
    );
    (Answer::Throttled, Some(error))
}

fn rejected(
    call: Call,
    status: u16,
    code: &str,
    message: &str,
    answer: &Fetched,
) -> (Answer, Option<Error>) {
    let words = sanitize_foreign(message, 200);
    let code = sanitize_foreign(code, 64);
    let (err_code, hint, transient) = match (code.as_str(), status) {
        ("", _) if !is_json(answer) => ("logs-bad-response", "the endpoint is not CloudWatch Logs; check AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, the plugin's endpoint, or a proxy", false),
        (_, 500..=599) | ("ServiceUnavailableException", _) => ("logs-unavailable", "CloudWatch Logs failed; retry", true),
        ("UnrecognizedClientException" | "InvalidSignatureException" | "ExpiredTokenException" | "IncompleteSignatureException", _) => ("logs-rejected-credentials", "CloudWatch Logs rejected the credentials themselves; run credcheck without the probe to see why (STS)", false),
        _ => ("logs-bad-response", "the answer names the cause", false),
    };
    let text = format!(
        "CloudWatch Logs answered {} HTTP {status} {code} {words}",
        call.action()
    );
    let error = match transient {
        true => Error::unreachable(err_code, text, hint),
        false => Error::problem(err_code, text, hint),
    };
    (Answer::Failed(format!("HTTP {status} {code}")), Some(error))
}

fn is_json(answer: &Fetched) -> bool {
    answer
        .content_type
        .as_deref()
        .is_some_and(|c| c.contains("json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(status: u16, body: &str) -> Fetched {
        Fetched {
            status,
            content_type: Some(JSON_1_1.into()),
            location: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn aws_shaped_answers_map_to_answers() {
        let denied = r#"{"__type":"com.amazonaws.logs#AccessDeniedException","message":"User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: logs:PutLogEvents on resource: arn:aws:logs:us-east-1:1:log-group:g:log-stream:s because no identity-based policy allows the logs:PutLogEvents action"}"#;
        assert_eq!(
            read(Call::PutTooOld, "s", &fetched(400, denied)).0,
            Answer::Denied(DenyReason::Implicit)
        );
        let exists = r#"{"__type":"ResourceAlreadyExistsException","message":"The specified log stream already exists"}"#;
        assert_eq!(
            read(Call::CreateStream, "s", &fetched(400, exists)).0,
            Answer::AlreadyExists
        );
        let too_old =
            r#"{"nextSequenceToken":"1","rejectedLogEventsInfo":{"tooOldLogEventEndIndex":0}}"#;
        assert_eq!(
            read(Call::PutTooOld, "s", &fetched(200, too_old)).0,
            Answer::Ok {
                stream_listed: false,
                too_old: true
            }
        );
        let listed = r#"{"logStreams":[{"logStreamName":"s"},{"logStreamName":"s2"}]}"#;
        assert_eq!(
            read(Call::Describe, "s", &fetched(200, listed)).0,
            Answer::Ok {
                stream_listed: true,
                too_old: false
            }
        );
        let throttled = read(
            Call::Describe,
            "s",
            &fetched(
                400,
                r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            ),
        );
        assert_eq!(throttled.0, Answer::Throttled);
        assert_eq!(throttled.1.unwrap().code, "logs-throttled");
        let html = Fetched {
            status: 403,
            content_type: Some("text/html".into()),
            location: None,
            body: b"<ErrorResponse/>".to_vec(),
        };
        assert_eq!(
            read(Call::Describe, "s", &html).1.unwrap().code,
            "logs-bad-response"
        );
        let moto = Fetched {
            status: 403,
            content_type: Some("text/html".into()),
            location: None,
            body: b"<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>"
                .to_vec(),
        };
        assert_eq!(
            read(Call::Describe, "s", &moto).0,
            Answer::Denied(DenyReason::Unstated)
        );
        assert_eq!(
            read(Call::Describe, "s", &fetched(503, "{}"))
                .1
                .unwrap()
                .code,
            "logs-unavailable"
        );
    }
}
