//! STS GetCallerIdentity, called once with the winning credentials through aws-sdk-sts, and
//! what it says: the account, the ARN, the user id, the role behind an assumed-role ARN, and
//! the server's `Date` header (for clock skew: SigV4 rejects requests more than 15 minutes off).
//! The call needs no IAM permission, so a rejection means the credentials themselves are bad.
//! Reads nothing itself: the region and endpoint come from `sdk` (AWS_REGION,
//! AWS_ENDPOINT_URL_STS, …).

use crate::creds::Creds;
use crate::error::Error;
use crate::http::Budget;
use crate::sdk::{Sdk, FALLBACK_REGION};
use crate::secret::{printable, sanitize_foreign};
use aws_sdk_sts::config::retry::RetryConfig;
use aws_sdk_sts::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
    /// The role name, when the ARN is an assumed role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
}

/// What one call produced: the identity or an error, and the server's clock either way.
#[derive(Debug)]
pub struct Call {
    pub result: Result<Identity, Error>,
    pub server_date: Option<SystemTime>,
}

/// Captures the response's `Date` header, also on errors.
#[derive(Debug, Clone, Default)]
struct DateCapture(Arc<Mutex<Option<String>>>);

impl Intercept for DateCapture {
    fn name(&self) -> &'static str {
        "credcheck-date-capture"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let date = context.response().headers().get("date").map(str::to_string);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = date;
        Ok(())
    }
}

pub async fn caller_identity(sdk: &Sdk, creds: &Creds, budget: &Budget) -> Call {
    if let Some(error) = unsignable(creds) {
        return Call {
            result: Err(error),
            server_date: None,
        };
    }
    let capture = DateCapture::default();
    let client = aws_sdk_sts::Client::from_conf(config(sdk, creds, budget, capture.clone()));
    let sent = client.get_caller_identity().send();
    let result = match tokio::time::timeout(budget.remaining(), sent).await {
        Ok(Ok(out)) => identity(out.account(), out.arn(), out.user_id()),
        Ok(Err(err)) => Err(map_error(&err, budget)),
        Err(_) => Err(deadline_error()),
    };
    let server_date = capture
        .0
        .lock()
        .ok()
        .and_then(|d| d.clone())
        .and_then(|d| httpdate(&d));
    Call {
        result,
        server_date,
    }
}

/// Credentials with bytes that cannot go into a signed request's headers: STS is not asked.
pub fn unsignable(creds: &Creds) -> Option<Error> {
    let token_ok = creds
        .session_token
        .as_ref()
        .is_none_or(|t| crate::secret::is_header_safe(t.expose()));
    let ok = crate::secret::is_header_safe(creds.access_key_id.expose())
        && crate::secret::is_header_safe(creds.secret_access_key.expose())
        && token_ok;
    (!ok).then(|| Error::problem(
        "credentials-malformed",
        "the credentials hold spaces, control characters or non-ASCII bytes, so no request can be signed with them (STS was not asked)",
        "re-create the key pair or session token at its source; check for stray quotes, CR/LF or pasted text around the values",
    ))
}

fn config(sdk: &Sdk, creds: &Creds, budget: &Budget, capture: DateCapture) -> aws_sdk_sts::Config {
    let credentials = Credentials::new(
        creds.access_key_id.expose(),
        creds.secret_access_key.expose(),
        creds.session_token.as_ref().map(|t| t.expose().to_string()),
        creds.expiration,
        "credcheck",
    );
    let region = sdk
        .region
        .as_ref()
        .map(|r| r.region.to_string())
        .unwrap_or_else(|| FALLBACK_REGION.into());
    let mut builder = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(credentials)
        .http_client(sdk.http.clone())
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .timeout_config(sdk.timeouts(budget))
        .interceptor(capture);
    if let Some(endpoint) = &sdk.sts_endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    builder.build()
}

fn identity(
    account: Option<&str>,
    arn: Option<&str>,
    user_id: Option<&str>,
) -> Result<Identity, Error> {
    let (Some(account), Some(arn)) = (account, arn) else {
        return Err(Error::problem(
            "sts-bad-response",
            "STS answered without an account or ARN",
            "the STS endpoint is not behaving like STS; check AWS_ENDPOINT_URL_STS",
        ));
    };
    Ok(Identity {
        account: printable(account, 32),
        arn: printable(arn, 256),
        user_id: printable(user_id.unwrap_or_default(), 128),
        role_name: role_from_assumed_arn(arn),
    })
}

/// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION` → `ROLE`. The role's IAM path is not in it.
pub fn role_from_assumed_arn(arn: &str) -> Option<String> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let rest = resource.strip_prefix("assumed-role/")?;
    let role = rest.split('/').next()?;
    (!role.is_empty()).then(|| role.to_string())
}

/// `arn:aws:iam::ACCT:role/path/ROLE` → `ROLE`; a bare name is returned as it is.
pub fn role_name_of(arn_or_name: &str) -> String {
    match arn_or_name.splitn(6, ':').nth(5) {
        Some(resource) => resource.rsplit('/').next().unwrap_or(resource).to_string(),
        None => arn_or_name.to_string(),
    }
}

fn is_dns_failure(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return true;
        }
        cur = e.source();
    }
    false
}

fn not_sts() -> Error {
    Error::problem(
        "sts-bad-response",
        "STS answered with something that is not an STS response (no STS error code, not STS XML)",
        "a proxy or captive portal may sit in the way; check AWS_ENDPOINT_URL_STS and HTTPS_PROXY",
    )
}

fn deadline_error() -> Error {
    Error::unreachable(
        "sts-timeout",
        "STS gave no answer within the deadline",
        "check the network path to STS (proxy, VPC endpoint, security groups) or raise --deadline",
    )
}

fn map_error<R: std::fmt::Debug>(
    err: &SdkError<aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError, R>,
    budget: &Budget,
) -> Error {
    match err {
        SdkError::ServiceError(service) if service.err().code().is_none() => not_sts(),
        SdkError::ServiceError(service) => {
            let meta = service.err();
            rejected(meta.code(), meta.message())
        }
        SdkError::TimeoutError(_) => deadline_error(),
        SdkError::DispatchFailure(failure) => {
            let why = failure
                .as_connector_error()
                .map(|c| crate::http::last_cause(c));
            if failure
                .as_connector_error()
                .is_some_and(|c| is_dns_failure(c))
            {
                return Error::config(
                    "unresolvable-host",
                    format!("the STS endpoint's host name did not resolve: {}", why.unwrap_or_default()),
                    "use an IP literal in AWS_ENDPOINT_URL_STS, or add the name to /etc/hosts (a FROM scratch image has none)",
                );
            }
            let timed_out = failure.is_timeout() || budget.is_spent();
            Error::unreachable(
                if timed_out {
                    "sts-timeout"
                } else {
                    "sts-unreachable"
                },
                format!(
                    "STS could not be reached: {}",
                    why.unwrap_or_else(|| "dispatch failure".into())
                ),
                "check the network path to STS (proxy, VPC endpoint, DNS) and AWS_ENDPOINT_URL_STS",
            )
        }
        SdkError::ResponseError(_) => not_sts(),
        _ => Error::config(
            "sts-request",
            "the STS request could not be built",
            "check AWS_REGION and AWS_ENDPOINT_URL_STS",
        ),
    }
}

/// STS's own error codes, each with what to do.
fn rejected(code: Option<&str>, message: Option<&str>) -> Error {
    let code = code.unwrap_or("Unknown");
    let words = message
        .map(|m| sanitize_foreign(m, 200))
        .unwrap_or_default();
    let message = format!(
        "STS rejected the credentials: {} {words}",
        sanitize_foreign(code, 64)
    );
    match code {
        "InvalidClientTokenId" | "UnrecognizedClientException" => Error::problem("sts-invalid-key", message, "the access key is unknown to AWS: deleted, deactivated, or from another partition; rotate it, or remove it so the intended source wins"),
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => Error::problem("sts-expired", message, "the session credentials have expired: refresh them at their source, never copy temporary keys into the environment"),
        "SignatureDoesNotMatch" => Error::problem("sts-signature", message, "the secret does not belong to this key, or the local clock is more than 15 minutes off; check both"),
        "AccessDenied" | "AccessDeniedException" => Error::problem("sts-access-denied", message, "GetCallerIdentity needs no permission; an SCP or a VPC endpoint policy denies it"),
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => Error::unreachable("sts-throttled", message, "STS is throttling this account; retry later, and avoid calling STS on every health check (credcheck health skips it by default)"),
        "InternalFailure" | "InternalError" | "ServiceUnavailable" => Error::unreachable("sts-unavailable", message, "STS failed; retry"),
        _ => Error::problem("sts-rejected", message, "the message above names the cause"),
    }
}

/// RFC 7231 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), as STS sends it.
fn httpdate(raw: &str) -> Option<SystemTime> {
    use aws_smithy_types::date_time::{DateTime, Format};
    DateTime::from_str(raw.trim(), Format::HttpDate)
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_comes_from_assumed_role_arns_only() {
        assert_eq!(
            role_from_assumed_arn("arn:aws:sts::123456789012:assumed-role/app-task/abc").as_deref(),
            Some("app-task")
        );
        assert_eq!(
            role_from_assumed_arn("arn:aws:iam::123456789012:user/bob"),
            None
        );
        assert_eq!(role_from_assumed_arn("garbage"), None);
    }

    #[test]
    fn role_names_drop_the_path() {
        assert_eq!(
            role_name_of("arn:aws:iam::123456789012:role/service/app"),
            "app"
        );
        assert_eq!(role_name_of("app"), "app");
    }

    #[test]
    fn http_dates_parse() {
        assert!(httpdate("Sun, 06 Nov 1994 08:49:37 GMT").is_some());
        assert!(httpdate("yesterday").is_none());
    }
}
