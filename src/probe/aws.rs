//! Signed AWS API calls without an SDK client: SigV4 (`aws-sigv4`) over the one HTTP client
//! (`http::fetch_with_body`), for the CloudWatch Logs JSON 1.1 calls and the IAM Query call
//! of the probe. The signer adds `x-amz-security-token` itself; the session token travels as
//! a sensitive header and the secret key never leaves the signer. Every call takes
//! `Budget::request_timeout()`, so the probes share the run's deadline.
//! Reads (through `Env`): AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL_IAM,
//! AWS_ENDPOINT_URL, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.

use crate::creds::Creds;
use crate::env::Env;
use crate::http::Url;
use crate::http::{self, Budget, FetchError, Fetched, HeaderValue, Request};
use crate::region::Region;
use crate::secret::Secret;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::time::SystemTime;

pub const ENDPOINT_URL_LOGS: &str = "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS";
pub const ENDPOINT_URL_IAM: &str = "AWS_ENDPOINT_URL_IAM";
pub const ENDPOINT_URL_STS: &str = "AWS_ENDPOINT_URL_STS";
pub const ENDPOINT_URL: &str = crate::sdk::ENDPOINT_URL;
pub const IGNORE_ENDPOINT_URLS: &str = crate::sdk::IGNORE_ENDPOINT_URLS;

/// Where a service is called and with which signing region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: Url,
    /// The signing name: `logs` or `iam`.
    pub service: &'static str,
    pub signing_region: String,
}

/// The configured endpoint, and the variable it came from.
fn configured(env: &Env, service_var: &'static str) -> Option<(String, &'static str)> {
    if env.is_true(IGNORE_ENDPOINT_URLS) {
        return None;
    }
    [service_var, ENDPOINT_URL]
        .into_iter()
        .find_map(|var| env.non_blank(var).map(|s| (s.trim().to_string(), var)))
}

/// An http(s) URL with a host and no user name or password; `source` names where it came from.
fn parse_url(raw: &str, source: &str) -> Result<Url, String> {
    crate::sdk::ensure_no_userinfo(raw, source).map_err(|e| e.message)?;
    let with_scheme = match raw.contains("://") {
        true => raw.to_string(),
        false => format!("https://{raw}"),
    };
    let url = Url::parse(&with_scheme).map_err(|e| {
        format!(
            "the endpoint {:?} ({source}) is not a URL: {e}",
            crate::secret::sanitize_foreign(raw, 80)
        )
    })?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some() => Ok(url),
        _ => Err(format!(
            "the endpoint {:?} ({source}) is not an http(s) URL with a host",
            crate::secret::sanitize_foreign(raw, 80)
        )),
    }
}

/// CloudWatch Logs: the plugin's `endpoint`, else AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, else
/// AWS_ENDPOINT_URL, else `https://logs.REGION.amazonaws.com` (`.com.cn` in China), the host
/// built by [`Region::host`] and nothing else.
pub fn logs_endpoint(env: &Env, region: &Region, plugin: Option<&str>) -> Result<Endpoint, String> {
    let url = match plugin
        .map(|p| (p.to_string(), "the output's endpoint"))
        .or_else(|| configured(env, ENDPOINT_URL_LOGS))
    {
        Some((raw, source)) => parse_url(&raw, source)?,
        None => region_url(region, "logs")?,
    };
    Ok(Endpoint {
        url,
        service: "logs",
        signing_region: region.to_string(),
    })
}

fn region_url(region: &Region, service: &str) -> Result<Url, String> {
    Url::parse(&format!("https://{}", region.host(service)))
        .map_err(|e| format!("the {service} endpoint of {region} is not a URL: {e}"))
}

/// STS for an output's `role_arn`: its `sts_endpoint` (a host name; the plugin strips
/// `https://` and always speaks TLS), else AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL, else
/// `https://sts.REGION.amazonaws.com` (`flb_aws_endpoint("sts", region)`).
pub fn sts_endpoint(env: &Env, region: &Region, plugin: Option<&str>) -> Result<Endpoint, String> {
    let url = match plugin
        .map(|p| {
            (
                format!("https://{}", p.trim_start_matches("https://")),
                "the output's sts_endpoint",
            )
        })
        .or_else(|| configured(env, ENDPOINT_URL_STS))
    {
        Some((raw, source)) => parse_url(&raw, source)?,
        None => region_url(region, "sts")?,
    };
    Ok(Endpoint {
        url,
        service: "sts",
        signing_region: region.to_string(),
    })
}

/// IAM is global per partition: us-east-1 (`iam.amazonaws.com`), cn-north-1
/// (`iam.cn-north-1.amazonaws.com.cn`), us-gov-west-1 (`iam.us-gov.amazonaws.com`).
pub fn iam_endpoint(env: &Env, region: &Region) -> Result<Endpoint, String> {
    let (host, signing) = match region.partition() {
        "aws-cn" => ("iam.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        "aws-us-gov" => ("iam.us-gov.amazonaws.com", "us-gov-west-1"),
        _ => ("iam.amazonaws.com", "us-east-1"),
    };
    let url = match configured(env, ENDPOINT_URL_IAM) {
        Some((raw, source)) => parse_url(&raw, source)?,
        None => Url::parse(&format!("https://{host}")).map_err(|e| e.to_string())?,
    };
    Ok(Endpoint {
        url,
        service: "iam",
        signing_region: signing.to_string(),
    })
}

/// One signed POST.
pub struct Post<'a> {
    pub endpoint: &'a Endpoint,
    pub content_type: &'static str,
    /// `X-Amz-Target` for JSON 1.1 calls.
    pub target: Option<&'a str>,
    pub body: Vec<u8>,
}

/// Signs and sends `post` with `creds`, within the budget.
pub async fn send(
    client: &crate::http::Client,
    creds: &Creds,
    post: Post<'_>,
    budget: &Budget,
    now: SystemTime,
) -> Result<Fetched, FetchError> {
    let mut unsigned: Vec<(&'static str, String)> =
        vec![("content-type", post.content_type.to_string())];
    if let Some(target) = post.target {
        unsigned.push(("x-amz-target", target.to_string()));
    }
    let signed = signature(creds, &post, &unsigned, now).map_err(FetchError::Other)?;
    let secrets: Vec<(&'static str, Secret)> = signed
        .iter()
        .filter(|(_, _, sensitive)| *sensitive)
        .map(|(n, v, _)| (*n, Secret::new(v.clone())))
        .collect();
    let mut headers: Vec<(&'static str, HeaderValue)> = unsigned
        .iter()
        .map(|(n, v)| (*n, HeaderValue::Plain(v)))
        .collect();
    headers.extend(
        signed
            .iter()
            .filter(|(_, _, sensitive)| !sensitive)
            .map(|(n, v, _)| (*n, HeaderValue::Plain(v))),
    );
    headers.extend(secrets.iter().map(|(n, s)| (*n, HeaderValue::Secret(s))));
    let request = Request {
        method: crate::http::Method::POST,
        url: &post.endpoint.url,
        headers,
        timeout: budget.request_timeout(),
    };
    http::fetch_with_body(client, request, Some(post.body)).await
}

type SignedHeaders = Vec<(&'static str, String, bool)>;

fn signature(
    creds: &Creds,
    post: &Post<'_>,
    unsigned: &[(&'static str, String)],
    now: SystemTime,
) -> Result<SignedHeaders, String> {
    let identity: Identity = Credentials::new(
        creds.access_key_id.expose(),
        creds.secret_access_key.expose(),
        creds.session_token.as_ref().map(|t| t.expose().to_string()),
        creds.expiration,
        "credcheck",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&post.endpoint.signing_region)
        .name(post.endpoint.service)
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("the request could not be signed: {e}"))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        post.endpoint.url.as_str(),
        unsigned.iter().map(|(n, v)| (*n, v.as_str())),
        SignableBody::Bytes(&post.body),
    )
    .map_err(|e| format!("the request could not be signed: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("the request could not be signed: {e}"))?
        .into_parts();
    let (headers, _) = instructions.into_parts();
    Ok(headers
        .into_iter()
        .map(|h| (h.name(), h.value().to_string(), h.sensitive()))
        .collect())
}

/// RFC 3986 percent-encoding of everything but unreserved characters, as SigV4 and the Query
/// APIs (IAM, STS) want.
pub fn query_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of the first `<name>` element in a Query API's XML answer.
pub fn xml_text<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(xml[start..start + len].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied(), SystemTime::now())
    }

    fn r(name: &str) -> Region {
        Region::parse(name, "test").unwrap()
    }

    #[test]
    fn endpoints_with_a_user_or_password_are_refused_without_quoting_them() {
        for (var, raw) in [
            (ENDPOINT_URL_LOGS, "http://user:Pa55word@127.0.0.1:9"),
            (ENDPOINT_URL, "https://only-user@logs.example.test/"),
            (ENDPOINT_URL_LOGS, "user:Pa55word@127.0.0.1:9"),
            (ENDPOINT_URL_LOGS, "http://a:b@c@127.0.0.1:9"),
        ] {
            let e = env(&[(var, raw)]);
            let why = logs_endpoint(&e, &r("us-east-1"), None).unwrap_err();
            assert!(why.contains("user name or password"), "{why}");
            assert!(why.contains(var), "{why}");
            assert!(
                !why.contains("Pa55word") && !why.contains("only-user"),
                "{why}"
            );
        }
        let why =
            logs_endpoint(&env(&[]), &r("us-east-1"), Some("http://u:Pa55word@h")).unwrap_err();
        assert!(
            why.contains("the output's endpoint") && !why.contains("Pa55word"),
            "{why}"
        );
        let e = env(&[(ENDPOINT_URL_IAM, "http://u:Pa55word@127.0.0.1:9")]);
        assert!(iam_endpoint(&e, &r("us-east-1")).is_err());
    }

    #[test]
    fn logs_endpoints_follow_precedence_and_partition() {
        let none = env(&[]);
        let cn = logs_endpoint(&none, &r("cn-north-1"), None).unwrap();
        assert_eq!(cn.url.as_str(), "https://logs.cn-north-1.amazonaws.com.cn/");
        let e = env(&[
            (ENDPOINT_URL, "http://127.0.0.1:1"),
            (ENDPOINT_URL_LOGS, "http://127.0.0.1:2"),
        ]);
        assert_eq!(
            logs_endpoint(&e, &r("us-east-1"), None).unwrap().url.port(),
            Some(2)
        );
        let plugin = logs_endpoint(&e, &r("us-east-1"), Some("logs.example.test")).unwrap();
        assert_eq!(plugin.url.as_str(), "https://logs.example.test/");
        let ignored = env(&[
            (ENDPOINT_URL, "http://127.0.0.1:1"),
            (IGNORE_ENDPOINT_URLS, "true"),
        ]);
        assert!(logs_endpoint(&ignored, &r("eu-west-1"), None)
            .unwrap()
            .url
            .as_str()
            .contains("logs.eu-west-1.amazonaws.com"));
        assert!(logs_endpoint(&none, &r("us-east-1"), Some("ftp://x")).is_err());
    }

    #[test]
    fn iam_is_global_per_partition() {
        let none = env(&[]);
        let gov = iam_endpoint(&none, &r("us-gov-east-1")).unwrap();
        assert_eq!(
            (gov.url.host_str(), gov.signing_region.as_str()),
            (Some("iam.us-gov.amazonaws.com"), "us-gov-west-1")
        );
        let cn = iam_endpoint(&none, &r("cn-northwest-1")).unwrap();
        assert_eq!(cn.url.host_str(), Some("iam.cn-north-1.amazonaws.com.cn"));
        assert_eq!(
            iam_endpoint(&none, &r("eu-west-1")).unwrap().signing_region,
            "us-east-1"
        );
    }
}
