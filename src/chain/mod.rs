//! The chain walk: asks each credential source in the Rust SDK's order (aws-config
//! `default_provider/credentials.rs`: env → profile → web identity → container → IMDS) and
//! records one [`Attempt`] per source. Like aws-config's `CredentialsProviderChain`
//! (meta/credentials/chain.rs), the walk stops at the first source that yields credentials or
//! fails with anything other than "not loaded". Sources below that point are still inspected
//! locally, so shadowing is visible; network sources below it are contacted only with `--all`.
//! Reads (through the source modules): see each module's header.

pub mod container;
pub mod env_vars;
pub mod imds;
pub mod json_creds;
pub mod profile;
pub mod shared;
pub mod web_identity;

/// The plain credential types live in the ground layer (`creds`), so the probe and STS need
/// not import the chain.
pub use crate::creds::{Creds, SourceType};

use crate::env::Env;
use crate::error::Error;
use crate::http::Budget;
use crate::sdk::Sdk;
use crate::settings::Settings;
use serde::Serialize;
use std::time::{Duration, Instant, SystemTime};

/// The five places the default chain asks, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    Environment,
    Profile,
    WebIdentity,
    Container,
    Imds,
}

impl Provider {
    pub const ORDER: [Provider; 5] = [
        Provider::Environment,
        Provider::Profile,
        Provider::WebIdentity,
        Provider::Container,
        Provider::Imds,
    ];

    /// The source type to show when nothing more specific is known.
    pub fn default_type(self) -> SourceType {
        match self {
            Provider::Environment => SourceType::Env,
            Provider::Profile => SourceType::SharedCredentialsFile,
            Provider::WebIdentity => SourceType::AssumeRoleWithWebIdentity,
            Provider::Container => SourceType::ContainerRole,
            Provider::Imds => SourceType::IamRole,
        }
    }

    fn is_network(self) -> bool {
        matches!(self, Provider::Container | Provider::Imds)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Selected,
    Shadowed,
    NotConfigured,
    Error,
    NotChecked,
}

/// What the walk learned about one source.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub provider: Provider,
    pub source_type: SourceType,
    pub status: Status,
    pub location: Option<String>,
    pub detail: Option<String>,
    pub elapsed: Duration,
    pub error: Option<Error>,
    pub http_status: Option<u16>,
}

/// The winner's answer.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub creds: Creds,
    /// The IAM role ARN, when the source names it (the ECS endpoint does; EKS Pod Identity does not).
    pub role_arn: Option<String>,
    pub account_id: Option<String>,
    /// A region learned on the way (IMDS placement).
    pub region: Option<String>,
    pub detail: Option<String>,
    pub http_status: Option<u16>,
}

/// Local configuration of a source, learned without any network traffic.
#[derive(Debug)]
pub enum Inspection {
    NotConfigured(String),
    Configured {
        source_type: SourceType,
        location: String,
        note: Option<String>,
    },
    /// Configured, but wrongly: the SDK would stop here with this error.
    Invalid {
        source_type: SourceType,
        location: String,
        error: Error,
    },
}

/// The result of asking a configured source.
#[derive(Debug, Clone)]
pub enum Outcome {
    Resolved(Box<Resolved>),
    /// The SDK moves on to the next source.
    NotLoaded(String),
    /// The SDK stops the chain with this error.
    Failed {
        error: Error,
        http_status: Option<u16>,
    },
}

/// Everything a source may need.
pub struct Ctx<'a> {
    pub env: &'a Env,
    pub settings: &'a Settings,
    pub budget: Budget,
    pub endpoints: &'a crate::http::Client,
    pub sdk: &'a Sdk,
    pub profile: &'a profile::Profiles,
    pub container: &'a container::Plan,
    /// The web identity token file, read once ([`web_identity::token_file`]).
    pub web_token: Option<&'a Result<web_identity::TokenFile, Error>>,
}

#[derive(Debug, Default)]
pub struct Walk {
    pub attempts: Vec<Attempt>,
    pub winner: Option<(Provider, Box<Resolved>)>,
    /// The chain stopped at this provider's error.
    pub stopped_at: Option<Provider>,
}

impl Walk {
    /// A walk that never ran (set-up failed): every source listed as not checked.
    pub fn not_run(why: &str) -> Walk {
        let attempts = Provider::ORDER
            .iter()
            .map(|p| Attempt {
                detail: Some(why.to_string()),
                ..base(*p, p.default_type(), Status::NotChecked, None)
            })
            .collect();
        Walk {
            attempts,
            ..Walk::default()
        }
    }

    fn is_decided(&self) -> bool {
        self.winner.is_some() || self.stopped_at.is_some()
    }

    pub fn attempt(&self, provider: Provider) -> Option<&Attempt> {
        self.attempts.iter().find(|a| a.provider == provider)
    }

    pub fn error(&self) -> Option<&Error> {
        self.stopped_at
            .and_then(|p| self.attempt(p))
            .and_then(|a| a.error.as_ref())
    }
}

/// Walks the chain once. No source is fetched twice.
pub async fn walk(ctx: &Ctx<'_>) -> Walk {
    let mut walk = Walk::default();
    for provider in Provider::ORDER {
        let started = Instant::now();
        let inspection = inspect(provider, ctx);
        let mut attempt = if walk.is_decided() {
            below(provider, inspection, ctx).await
        } else {
            ask(provider, inspection, ctx, &mut walk).await
        };
        attempt.elapsed = started.elapsed();
        walk.attempts.push(attempt);
    }
    walk
}

fn inspect(provider: Provider, ctx: &Ctx<'_>) -> Inspection {
    match provider {
        Provider::Environment => env_vars::inspect(ctx.env),
        Provider::Profile => profile::inspect(ctx.profile),
        Provider::WebIdentity => web_identity::inspect(ctx.env, ctx.web_token),
        Provider::Container => ctx.container.inspection(),
        Provider::Imds => imds::inspect(ctx.env),
    }
}

async fn resolve(provider: Provider, ctx: &Ctx<'_>) -> Outcome {
    let Some(key) = shared::key(provider, ctx) else {
        return resolve_now(provider, ctx).await;
    };
    if let Some(outcome) = shared::get(&key) {
        return outcome;
    }
    let outcome = resolve_now(provider, ctx).await;
    shared::put(key, outcome.clone());
    outcome
}

async fn resolve_now(provider: Provider, ctx: &Ctx<'_>) -> Outcome {
    match provider {
        Provider::Environment => env_vars::resolve(ctx.env),
        Provider::Profile => profile::resolve(ctx).await,
        Provider::WebIdentity => web_identity::resolve(ctx).await,
        Provider::Container => container::resolve(ctx).await,
        Provider::Imds => imds::resolve(ctx).await,
    }
}

/// The chain has not decided yet: ask this source for real.
async fn ask(
    provider: Provider,
    inspection: Inspection,
    ctx: &Ctx<'_>,
    walk: &mut Walk,
) -> Attempt {
    let configured = match inspection {
        Inspection::NotConfigured(why) => return not_configured(provider, why),
        Inspection::Invalid {
            source_type,
            location,
            error,
        } => {
            walk.stopped_at = Some(provider);
            return failed(provider, source_type, Some(location), error, None);
        }
        Inspection::Configured {
            source_type,
            location,
            note,
        } => (source_type, location, note),
    };
    let (source_type, location, note) = configured;
    match ensure_plausible(resolve(provider, ctx).await, source_type) {
        Outcome::Resolved(mut resolved) => {
            resolved.detail = resolved
                .detail
                .take()
                .or(note.filter(|_| provider != Provider::Container));
            let attempt = selected(provider, source_type, location, &resolved);
            walk.winner = Some((provider, resolved));
            attempt
        }
        Outcome::NotLoaded(why) => Attempt {
            location: Some(location),
            ..not_configured(provider, why)
        },
        Outcome::Failed { error, http_status } => {
            walk.stopped_at = Some(provider);
            failed(provider, source_type, Some(location), error, http_status)
        }
    }
}

/// The chain already decided above this source: show its configuration, and contact it
/// only when it is a network source and `--all` was given.
async fn below(provider: Provider, inspection: Inspection, ctx: &Ctx<'_>) -> Attempt {
    match inspection {
        Inspection::NotConfigured(why) => not_configured(provider, why),
        Inspection::Configured {
            source_type,
            location,
            ..
        } if provider == Provider::Imds && !ctx.settings.all => Attempt {
            detail: Some("not contacted: a source above decided (use --all to probe it)".into()),
            ..base(provider, source_type, Status::NotChecked, Some(location))
        },
        Inspection::Invalid {
            source_type,
            location,
            error,
        } => Attempt {
            detail: Some(format!(
                "never reached by the SDK; would fail: {}",
                error.message
            )),
            ..base(provider, source_type, Status::Shadowed, Some(location))
        },
        Inspection::Configured {
            source_type,
            location,
            note,
        } => {
            let mut attempt = Attempt {
                detail: note,
                ..base(provider, source_type, Status::Shadowed, Some(location))
            };
            if provider.is_network() && ctx.settings.all {
                attempt.detail = Some(probe_summary(resolve(provider, ctx).await));
            }
            attempt
        }
    }
}

/// The last second of year 9999: RFC 3339 cannot write a later time.
const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

/// Between 1970 and the end of year 9999: what an `Expiration` can sensibly be.
pub fn is_plausible_time(t: SystemTime) -> bool {
    t.duration_since(std::time::UNIX_EPOCH)
        .is_ok_and(|d| d.as_secs() <= LAST_RFC3339_SECOND)
}

/// Every source's answer passes here: an impossible `Expiration` (before 1970, after 9999) is
/// a bad response, whichever source sent it (container, IMDS, process, SSO, STS).
fn ensure_plausible(outcome: Outcome, source_type: SourceType) -> Outcome {
    let Outcome::Resolved(resolved) = &outcome else {
        return outcome;
    };
    match resolved.creds.expiration {
        Some(t) if !is_plausible_time(t) => Outcome::Failed {
            error: Error::problem(
                "expiration-invalid",
                format!("the {} source returned an impossible Expiration (before 1970 or after 9999): a bad response", source_type.name()),
                "the credentials' source is broken or is not what it claims to be; check what serves them",
            ),
            http_status: resolved.http_status,
        },
        _ => outcome,
    }
}

fn probe_summary(outcome: Outcome) -> String {
    match outcome {
        Outcome::Resolved(r) => match &r.role_arn {
            Some(role) => format!(
                "answers (--all): role {role}, key {}",
                r.creds.access_key_id
            ),
            None => format!("answers (--all): key {}", r.creds.access_key_id),
        },
        Outcome::NotLoaded(why) => format!("checked (--all): {why}"),
        Outcome::Failed { error, .. } => format!("checked (--all): {}", error.message),
    }
}

fn base(
    provider: Provider,
    source_type: SourceType,
    status: Status,
    location: Option<String>,
) -> Attempt {
    Attempt {
        provider,
        source_type,
        status,
        location,
        detail: None,
        elapsed: Duration::ZERO,
        error: None,
        http_status: None,
    }
}

fn not_configured(provider: Provider, why: String) -> Attempt {
    Attempt {
        detail: Some(why),
        ..base(
            provider,
            provider.default_type(),
            Status::NotConfigured,
            None,
        )
    }
}

fn failed(
    provider: Provider,
    source_type: SourceType,
    location: Option<String>,
    error: Error,
    http_status: Option<u16>,
) -> Attempt {
    Attempt {
        detail: Some(error.message.clone()),
        error: Some(error),
        http_status,
        ..base(provider, source_type, Status::Error, location)
    }
}

fn selected(
    provider: Provider,
    source_type: SourceType,
    location: String,
    resolved: &Resolved,
) -> Attempt {
    Attempt {
        detail: resolved.detail.clone(),
        http_status: resolved.http_status,
        ..base(provider, source_type, Status::Selected, Some(location))
    }
}
