//! An output's `role_arn` (with `external_id`): the plugin writes as that role, so the probe
//! assumes it as the plugin does and probes with the assumed credentials (cross-account
//! delivery to a central logging account is common). The call is STS `AssumeRole` (Query API,
//! XML), signed with the chain's credentials, sent to the output's `sts_endpoint` (a host name;
//! the plugin strips `https://` and always speaks TLS: src/aws/flb_aws_credentials_sts.c
//! 624-652), else `AWS_ENDPOINT_URL_STS`, else `sts.REGION.amazonaws.com`
//! (`flb_aws_endpoint("sts", region)`). `external_id` goes as `ExternalId` (sts.c 892, 920).
//! The answer's secret key and session token are registered as secrets before anything else
//! touches them. Reads (through `Env`): AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL,
//! AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.

use super::aws::{self, Post};
use crate::creds::Creds;
use crate::region::Region;
use crate::secret::{register_secret, sanitize_foreign, KeyId, Secret};
use std::time::SystemTime;

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// The session name credcheck's AssumeRole uses (the plugin's is random).
const SESSION: &str = "credcheck-probe";

/// What the plugin's `role_arn` needs: the role, its external id, and where STS is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub arn: String,
    pub external_id: Option<String>,
    /// The output's `sts_endpoint`, as the URL it stands for.
    pub sts_endpoint: Option<String>,
}

impl Role {
    /// The account the role lives in: `arn:PARTITION:iam::ACCOUNT:role/NAME`.
    pub fn account(&self) -> Option<String> {
        let account = self.arn.split(':').nth(4)?;
        (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
            .then(|| account.to_string())
    }
}

/// Why no credentials came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// STS refused: the chain's role may not assume it (or the trust policy or the external
    /// id does not match). The router, with the same credentials, cannot either.
    Denied,
    /// Anything else, in one clause (AWS's code, never its whole body).
    Failed(String),
}

/// The assumed credentials.
pub async fn assume(
    ctx: &super::Ctx<'_>,
    creds: &Creds,
    role: &Role,
    region: &Region,
) -> Result<Creds, Refusal> {
    let endpoint = aws::sts_endpoint(ctx.env, region, role.sts_endpoint.as_deref())
        .map_err(Refusal::Failed)?;
    let post = Post {
        endpoint: &endpoint,
        content_type: FORM,
        target: None,
        body: form(role).into_bytes(),
    };
    let now: SystemTime = ctx.env.now();
    let timeout = ctx.budget.request_timeout();
    let answer = aws::send(ctx.client, creds, post, ctx.budget, now)
        .await
        .map_err(|e| Refusal::Failed(e.describe(timeout)))?;
    let text = String::from_utf8_lossy(&answer.body);
    if answer.status != 200 {
        let code = aws::xml_text(&text, "Code").unwrap_or("");
        if code == "AccessDenied" {
            return Err(Refusal::Denied);
        }
        return Err(Refusal::Failed(format!(
            "STS answered HTTP {} {}",
            answer.status,
            sanitize_foreign(code, 64)
        )));
    }
    parse(&text).ok_or_else(|| Refusal::Failed("STS answered without credentials".into()))
}

fn form(role: &Role) -> String {
    let mut pairs = vec![
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", role.arn.as_str()),
        ("RoleSessionName", SESSION),
    ];
    if let Some(id) = &role.external_id {
        pairs.push(("ExternalId", id.as_str()));
    }
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", aws::query_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `AssumeRoleResult/Credentials`; the secret and the token are registered at once.
fn parse(xml: &str) -> Option<Creds> {
    let secret = aws::xml_text(xml, "SecretAccessKey")?;
    let token = aws::xml_text(xml, "SessionToken")?;
    register_secret(secret);
    register_secret(token);
    let expiration = aws::xml_text(xml, "Expiration")
        .and_then(|e| humantime::parse_rfc3339_weak(e.trim_end_matches('Z')).ok());
    Some(Creds {
        access_key_id: KeyId::new(aws::xml_text(xml, "AccessKeyId")?),
        secret_access_key: Secret::new(secret),
        session_token: Some(Secret::new(token)),
        expiration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_carries_the_external_id_encoded() {
        let role = Role {
            arn: "arn:aws:iam::210987654321:role/central/logs-writer".into(),
            external_id: Some("a b&c".into()),
            sts_endpoint: None,
        };
        let f = form(&role);
        assert!(
            f.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A210987654321%3Arole%2Fcentral%2Flogs-writer"),
            "{f}"
        );
        assert!(f.ends_with("ExternalId=a%20b%26c"), "{f}");
        assert_eq!(role.account().as_deref(), Some("210987654321"));
    }

    #[test]
    fn an_answer_becomes_credentials() {
        let xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLEEXAMPLE12</AccessKeyId><SecretAccessKey>assumedSecretKeyValue0000000000000000000</SecretAccessKey><SessionToken>assumedSessionTokenValue000000</SessionToken><Expiration>2026-12-07T12:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let c = parse(xml).unwrap();
        assert_eq!(c.access_key_id.expose(), "ASIAEXAMPLEEXAMPLE12");
        assert!(c.expiration.is_some());
        assert!(!crate::secret::scrub("x assumedSessionTokenValue000000 y").contains("Token"));
    }
}
