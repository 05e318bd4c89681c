//! What the AWS SDK needs from credcheck: the region, the STS endpoint override, and one
//! HTTP client (rustls + ring, the bundled roots plus AWS_CA_BUNDLE, built only when an https
//! endpoint can be reached). Region and endpoints follow the SDKs' precedence: env, then the
//! selected profile. The region is never looked up from IMDS here (that costs 2 s when IMDS is
//! silent, and would be traffic the user did not ask for); IMDS hands it over when it wins.
//! Reads: AWS_REGION, AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL,
//! AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.

pub mod profiles;
pub mod shims;

use crate::env::Env;
use crate::error::Error;
use crate::http::Budget;
use crate::tls::Roots;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::Region;
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::tls::{
    self as smithy_tls, rustls_provider::CryptoMode, TlsContext, TrustStore,
};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use profiles::Profiles;

pub const REGION: &str = "AWS_REGION";
pub const DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
pub const ENDPOINT_URL_STS: &str = "AWS_ENDPOINT_URL_STS";
pub const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
pub const IGNORE_ENDPOINT_URLS: &str = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS";
/// GetCallerIdentity needs some region; the global endpoint's is us-east-1.
/// The web identity variables (the SDK's web identity provider reads them; `chain::web_identity`
/// reports them).
pub const WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
pub const ROLE_ARN: &str = "AWS_ROLE_ARN";

pub const FALLBACK_REGION: &str = "us-east-1";

#[derive(Debug, Clone)]
pub struct RegionChoice {
    pub region: crate::region::Region,
    /// Where it came from: a variable name, `profile <name>`, `imds`, or `default`.
    pub origin: String,
}

pub struct Sdk {
    pub http: SharedHttpClient,
    pub region: Option<RegionChoice>,
    pub sts_endpoint: Option<String>,
    timeout: std::time::Duration,
}

impl Sdk {
    pub fn new(
        env: &Env,
        profiles: &Profiles,
        roots: Option<&Roots>,
        timeout: std::time::Duration,
    ) -> Result<Sdk, Error> {
        let region = region(env, profiles)?;
        ensure_endpoints_have_no_userinfo(env, profiles)?;
        let sts_endpoint = sts_endpoint(env, profiles);
        Ok(Sdk {
            http: http_client(roots)?,
            region,
            sts_endpoint,
            timeout,
        })
    }

    /// The configuration handed to aws-config's providers (profile, web identity).
    pub fn provider_config(&self, budget: &Budget) -> ProviderConfig {
        let region = self
            .region
            .as_ref()
            .map(|r| Region::new(r.region.to_string()))
            .unwrap_or_else(|| Region::from_static(FALLBACK_REGION));
        ProviderConfig::without_region()
            .with_http_client(self.http.clone())
            .with_sleep_impl(TokioSleep::new())
            .with_region(Some(region))
            .with_retry_config(RetryConfig::standard().with_max_attempts(1))
            .with_timeout_config(self.timeouts(budget))
    }

    pub fn timeouts(&self, budget: &Budget) -> TimeoutConfig {
        let per = self.timeout.min(budget.remaining());
        TimeoutConfig::builder()
            .connect_timeout(per)
            .read_timeout(per)
            .operation_timeout(budget.remaining())
            .build()
    }
}

/// Whether any endpoint the SDK may call speaks TLS: STS by default, any https override, SSO.
pub fn needs_tls(env: &Env, profiles: &Profiles) -> bool {
    let sts_https = sts_endpoint(env, profiles)
        .is_none_or(|e| e.trim().to_ascii_lowercase().starts_with("https"));
    let sso = profiles.get("sso_start_url").is_some() || profiles.get("sso_session").is_some();
    sts_https || sso
}

/// Whether a credential source (not STS GetCallerIdentity) may call an AWS API itself.
pub fn may_call_aws(env: &Env, profiles: &Profiles) -> bool {
    use crate::creds::SourceType;
    let profile = matches!(
        profiles.source_type(),
        Some(SourceType::AssumeRole | SourceType::Sso | SourceType::AssumeRoleWithWebIdentity)
    );
    let web_identity =
        env.non_blank(WEB_IDENTITY_TOKEN_FILE).is_some() && env.non_blank(ROLE_ARN).is_some();
    profile || web_identity
}

fn http_client(roots: Option<&Roots>) -> Result<SharedHttpClient, Error> {
    let builder = aws_smithy_http_client::Builder::new();
    let Some(roots) = roots else {
        return Ok(builder.build_http());
    };
    let context = TlsContext::builder()
        .with_trust_store(
            TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(roots.pem()),
        )
        .build()
        .map_err(|e| {
            Error::config(
                "tls-setup",
                format!("TLS set-up for the SDK failed: {e}"),
                "check AWS_CA_BUNDLE",
            )
        })?;
    Ok(builder
        .tls_provider(smithy_tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https())
}

fn region(env: &Env, profiles: &Profiles) -> Result<Option<RegionChoice>, Error> {
    let from_env = [REGION, DEFAULT_REGION].into_iter().find_map(|v| {
        env.non_blank(v)
            .map(|r| (r.trim().to_string(), v.to_string()))
    });
    let from_profile = || {
        profiles
            .get("region")
            .map(|r| (r.to_string(), format!("profile {}", profiles.selected)))
    };
    let Some((raw, origin)) = from_env.or_else(from_profile) else {
        return Ok(None);
    };
    let region = crate::region::Region::parse(&raw, &origin)?;
    Ok(Some(RegionChoice { region, origin }))
}

/// Every endpoint URL the SDK or the probe may use (`AWS_ENDPOINT_URL`, each
/// `AWS_ENDPOINT_URL_<SERVICE>`, the profile's `endpoint_url`) is refused, before any request,
/// when it carries `USER[:PASSWORD]@`: the SDK's trace logs print endpoint URLs whole.
fn ensure_endpoints_have_no_userinfo(env: &Env, profiles: &Profiles) -> Result<(), Error> {
    for (name, value) in env.vars() {
        if name == ENDPOINT_URL || name.starts_with("AWS_ENDPOINT_URL_") {
            ensure_no_userinfo(value, name)?;
        }
    }
    if let Some(url) = profiles.get("endpoint_url") {
        ensure_no_userinfo(
            url,
            &format!("endpoint_url in profile {}", profiles.selected),
        )?;
    }
    Ok(())
}

/// An endpoint URL may not hold `USER[:PASSWORD]@` before its host: a configuration error
/// naming `source`, which never quotes the URL (the password is registered as a secret, so
/// no other path prints it either).
pub fn ensure_no_userinfo(raw: &str, source: &str) -> Result<(), Error> {
    let Some(userinfo) = userinfo(raw) else {
        return Ok(());
    };
    if let Some((_, password)) = userinfo.split_once(':') {
        crate::secret::register_secret(password);
    }
    Err(Error::config(
        "endpoint-userinfo",
        format!(
            "the endpoint URL in {} holds a user name or password (USER:PASSWORD@ before the host); credcheck neither sends nor prints them",
            crate::secret::printable(source, 200)
        ),
        "remove the USER:PASSWORD@ part: AWS endpoints authenticate with SigV4, not with URL credentials",
    ))
}

/// The `user[:password]` part of a URL's authority (the url crate's reading: up to the last
/// `@` before the path, where `\` ends the authority as `/` does).
fn userinfo(raw: &str) -> Option<&str> {
    let rest = raw.trim().split_once("://").map_or(raw.trim(), |(_, r)| r);
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..end];
    authority.rfind('@').map(|at| &authority[..at])
}

/// aws-config's precedence for a service endpoint: ignore switch, service variable, global
/// variable, then the profile's `endpoint_url`.
fn sts_endpoint(env: &Env, profiles: &Profiles) -> Option<String> {
    if env.is_true(IGNORE_ENDPOINT_URLS)
        || profiles
            .get("ignore_configured_endpoint_urls")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return None;
    }
    env.non_blank(ENDPOINT_URL_STS)
        .or_else(|| env.non_blank(ENDPOINT_URL))
        .or_else(|| profiles.get("endpoint_url"))
        .map(|s| s.trim().to_string())
}
