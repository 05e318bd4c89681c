//! The EC2 instance metadata source, IMDSv2 only, as aws-config (imds/): PUT a session token,
//! GET the role name, GET the role's credentials. Short timeouts (1 s per step, like
//! aws-config), one attempt each: credcheck diagnoses, it does not wait out a broken network.
//!
//! It tells apart: IMDS disabled; unreachable (Fargate, not EC2); no instance profile; and the
//! hop-limit signature of a container behind `HttpPutResponseHopLimit=1`: the token PUT hangs
//! while a plain GET answers 401 at once (DataDog/datadog-agent#55269, awslabs/aws-sdk-rust#760).
//! Reads: AWS_EC2_METADATA_DISABLED, AWS_EC2_METADATA_SERVICE_ENDPOINT,
//! AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE.

use super::{json_creds, Ctx, Inspection, Outcome, Resolved, SourceType};
use crate::env::Env;
use crate::error::Error;
use crate::http::{self, FetchError, Fetched, HeaderValue, Request};
use crate::http::{Method, Url};
use crate::secret::{printable, Secret};
use std::time::Duration;

pub const DISABLED: &str = "AWS_EC2_METADATA_DISABLED";
pub const ENDPOINT: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
pub const ENDPOINT_MODE: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE";
pub const DEFAULT_V4: &str = "http://169.254.169.254";
pub const DEFAULT_V6: &str = "http://[fd00:ec2::254]";
const STEP_CAP: Duration = Duration::from_secs(1);
const ATTEMPTS: u32 = 4;
const TOKEN_PATH: &str = "/latest/api/token";
const ROLE_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const REGION_PATH: &str = "/latest/meta-data/placement/region";

pub fn is_disabled(env: &Env) -> bool {
    env.is_true(DISABLED)
}

/// The base URL, as aws-config picks it: the explicit endpoint, else by mode.
pub fn endpoint(env: &Env) -> String {
    if let Some(url) = env.non_blank(ENDPOINT) {
        return url.trim().trim_end_matches('/').to_string();
    }
    match env.non_blank(ENDPOINT_MODE) {
        Some(mode) if mode.trim().eq_ignore_ascii_case("ipv6") => DEFAULT_V6.into(),
        _ => DEFAULT_V4.into(),
    }
}

pub fn inspect(env: &Env) -> Inspection {
    if is_disabled(env) {
        return Inspection::NotConfigured(format!("disabled by {DISABLED}=true"));
    }
    Inspection::Configured {
        source_type: SourceType::IamRole,
        location: endpoint(env),
        note: None,
    }
}

struct Imds<'a> {
    ctx: &'a Ctx<'a>,
    base: Url,
}

pub async fn resolve(ctx: &Ctx<'_>) -> Outcome {
    let base = match Url::parse(&endpoint(ctx.env)) {
        Ok(base) => base,
        Err(e) => {
            let error = Error::config(
                "imds-endpoint-invalid",
                format!("{ENDPOINT} is not a valid URL: {e}"),
                "set it to a URL such as http://169.254.169.254, or unset it",
            );
            return Outcome::Failed {
                error,
                http_status: None,
            };
        }
    };
    let imds = Imds { ctx, base };
    match imds.credentials().await {
        Ok(resolved) => Outcome::Resolved(Box::new(resolved)),
        Err(outcome) => outcome,
    }
}

impl Imds<'_> {
    fn url(&self, path: &str) -> Url {
        self.base.join(path).unwrap_or_else(|_| self.base.clone())
    }

    fn timeout(&self) -> Duration {
        self.ctx.budget.request_timeout_capped(STEP_CAP)
    }

    async fn call_once(
        &self,
        method: Method,
        path: &str,
        headers: Vec<(&'static str, HeaderValue<'_>)>,
    ) -> Result<Fetched, FetchError> {
        let url = self.url(path);
        let request = Request {
            method,
            url: &url,
            headers,
            timeout: self.timeout(),
        };
        http::fetch(self.ctx.endpoints, request).await
    }

    /// aws-config's IMDS client (imds/client.rs: `DEFAULT_ATTEMPTS` 4, `ImdsResponseRetryClassifier`)
    /// retries 5xx (`is_server_error`) and 401 answers; not timeouts, not a 429, not a success
    /// it cannot parse. credcheck does the same, within the deadline.
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: Vec<(&'static str, HeaderValue<'_>)>,
    ) -> Result<Fetched, FetchError> {
        let mut attempt = 1;
        loop {
            let answer = self.call_once(method.clone(), path, headers.clone()).await;
            let retryable = matches!(&answer, Ok(a) if a.status >= 500 || a.status == 401);
            if !retryable || attempt >= ATTEMPTS || self.ctx.budget.is_spent() {
                return answer;
            }
            attempt += 1;
        }
    }

    async fn credentials(&self) -> Result<Resolved, Outcome> {
        let token = self.token().await?;
        let role = self.role_name(&token).await?;
        let path = format!("{ROLE_PATH}{role}");
        let (creds, region) = tokio::join!(self.get(&path, &token), self.get(REGION_PATH, &token));
        let answer = creds.map_err(|e| self.transport_failure(&e))?;
        if answer.status != 200 {
            return Err(failed(status_error(&answer, "the role's credentials")));
        }
        let parsed = json_creds::parse(&answer.body).map_err(|why| {
            failed(Error::problem(
                "imds-bad-response",
                format!("IMDS answered, but not with credentials: {why}"),
                "this endpoint does not behave like EC2 IMDS; check the endpoint setting",
            ))
        })?;
        Ok(Resolved {
            creds: parsed.creds,
            role_arn: None,
            account_id: parsed.account_id,
            region: region
                .ok()
                .filter(|r| r.status == 200)
                .and_then(|r| region_text(&r.body)),
            detail: Some(format!("instance profile role {role}")),
            http_status: Some(200),
        })
    }

    async fn get(&self, path: &str, token: &Secret) -> Result<Fetched, FetchError> {
        self.call(
            Method::GET,
            path,
            vec![("x-aws-ec2-metadata-token", HeaderValue::Secret(token))],
        )
        .await
    }

    async fn token(&self) -> Result<Secret, Outcome> {
        let answer = self
            .call(
                Method::PUT,
                TOKEN_PATH,
                vec![(
                    "x-aws-ec2-metadata-token-ttl-seconds",
                    HeaderValue::Plain("21600"),
                )],
            )
            .await;
        match answer {
            Ok(a) if a.status == 200 => Ok(Secret::new(String::from_utf8_lossy(&a.body).trim().to_string())),
            Ok(a) if a.status == 403 => Err(Outcome::NotLoaded("IMDS refused a session token (HTTP 403): the instance metadata service is turned off for this instance".into())),
            Ok(a) => Err(failed(status_error(&a, "the session token"))),
            Err(e) if e.is_timeout() => Err(self.after_token_timeout().await),
            Err(e) => Err(Outcome::NotLoaded(format!("IMDS unreachable ({}): not on EC2, or on Fargate, where there is no IMDS", e.describe(self.timeout())))),
        }
    }

    /// The token PUT timed out: a plain GET that answers 401 at once means the hop limit.
    async fn after_token_timeout(&self) -> Outcome {
        // One plain GET: its immediate 401 is the signal, not a failure to retry.
        match self.call_once(Method::GET, "/latest/meta-data/", vec![]).await {
            Ok(a) if a.status == 401 => failed(Error::problem(
                "imds-hop-limit",
                "IMDS answers plain requests but the IMDSv2 token PUT times out: the instance's hop limit (1) drops the answer before it reaches this container",
                "raise it: aws ec2 modify-instance-metadata-options --http-put-response-hop-limit 2 (or the launch template); better, give the task its own role",
            )),
            _ => Outcome::NotLoaded(format!(
                "IMDS unreachable (no answer within {}): not on EC2, or on Fargate, where there is no IMDS",
                crate::duration::human(self.timeout())
            )),
        }
    }

    async fn role_name(&self, token: &Secret) -> Result<String, Outcome> {
        let answer = self
            .get(ROLE_PATH, token)
            .await
            .map_err(|e| self.transport_failure(&e))?;
        match answer.status {
            200 => String::from_utf8_lossy(&answer.body)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(|l| printable(l, 128))
                .ok_or_else(|| {
                    Outcome::NotLoaded(
                        "no instance profile is attached to this instance (empty role list)".into(),
                    )
                }),
            404 => Err(Outcome::NotLoaded(
                "no instance profile is attached to this instance (IMDS answered 404)".into(),
            )),
            _ => Err(failed(status_error(&answer, "the role name"))),
        }
    }

    fn transport_failure(&self, err: &FetchError) -> Outcome {
        failed(Error::unreachable(
            "imds-unreachable",
            format!(
                "IMDS gave a token but then failed: {}",
                err.describe(self.timeout())
            ),
            "retry; if it persists the instance's metadata service is unhealthy",
        ))
    }
}

fn failed(error: Error) -> Outcome {
    Outcome::Failed {
        error,
        http_status: None,
    }
}

/// Any answer but 200, by status class: only 4xx are refusals; a 429 is throttling, a 5xx a
/// failure, and anything else (1xx, a 2xx other than 200, 3xx) is not how IMDS answers.
fn status_error(answer: &Fetched, what: &str) -> Error {
    let message = format!("IMDS answered HTTP {} when asked for {what}", answer.status);
    match answer.status {
        429 => Error::unreachable(
            "imds-throttled",
            format!("{message}: throttled (transient; not retried, as the SDKs do not)"),
            "IMDS limits requests per instance: a process on this instance polls it in a tight loop; let the SDK cache credentials",
        ),
        400..=499 => Error::problem(
            "imds-rejected",
            message,
            "check the instance's metadata options (IMDSv2 required, endpoint enabled)",
        ),
        500..=599 => Error::unreachable(
            "imds-unavailable",
            message,
            "retry; the metadata service is failing",
        ),
        _ => Error::problem(
            "imds-bad-response",
            format!("{message}: IMDS answers 200 or an error, never this"),
            "this endpoint does not behave like EC2 IMDS; check the endpoint setting",
        ),
    }
}

fn region_text(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?.trim();
    let valid = !text.is_empty()
        && text.len() <= 32
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    valid.then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn status_classes_follow_aws_config() {
        let cases = [
            (204, "imds-bad-response", Kind::Problem),
            (301, "imds-bad-response", Kind::Problem),
            (400, "imds-rejected", Kind::Problem),
            (401, "imds-rejected", Kind::Problem),
            (429, "imds-throttled", Kind::Unreachable),
            (500, "imds-unavailable", Kind::Unreachable),
            (503, "imds-unavailable", Kind::Unreachable),
        ];
        for (status, code, kind) in cases {
            let answer = Fetched {
                status,
                content_type: Some("text/html".into()),
                location: None,
                body: Vec::new(),
            };
            let error = status_error(&answer, "the role name");
            assert_eq!((error.code, error.kind), (code, kind), "{status}");
            assert!(
                error.message.contains(&format!("HTTP {status}")),
                "{status}"
            );
        }
    }
}
