//! Network sources asked once per run, however many environments name them (issue 23):
//! `credcheck processes` walks the chain once per distinct environment, and two environments
//! that name the same container endpoint with the same token, or the same IMDS, get the one
//! answer. Off unless [`enable`] was called, so every other mode asks as before.
//!
//! Owns: the memo (in memory only; its keys hold the authorization token as a [`Secret`],
//! never printed). Reads (through `Env`): the IMDS variables that decide its requests.

use super::{imds, Ctx, Outcome, Provider};
use crate::secret::Secret;
use std::sync::{Mutex, OnceLock};

/// Which fetch an outcome answers: the provider, the URL, and the token sent with it.
#[derive(PartialEq, Eq)]
pub struct Key {
    provider: Provider,
    url: String,
    token: Option<Secret>,
}

type Memo = Mutex<Vec<(Key, Outcome)>>;

static MEMO: OnceLock<Memo> = OnceLock::new();

/// From now on, network sources are asked once per distinct [`Key`].
pub fn enable() {
    MEMO.get_or_init(Memo::default);
}

/// The key of a network source's fetch, when the memo is on; `None` for local sources.
pub fn key(provider: Provider, ctx: &Ctx<'_>) -> Option<Key> {
    MEMO.get()?;
    match provider {
        Provider::Container => {
            let target = ctx.container.target()?;
            Some(Key {
                provider,
                url: target.url.as_str().to_string(),
                token: target.token.clone(),
            })
        }
        Provider::Imds => Some(Key {
            provider,
            url: imds_identity(ctx),
            token: None,
        }),
        _ => None,
    }
}

/// Everything that changes what IMDS is asked: the endpoint and the v1 fallback switch.
fn imds_identity(ctx: &Ctx<'_>) -> String {
    let v1 = ctx.env.get("AWS_EC2_METADATA_V1_DISABLED").unwrap_or("");
    let disabled = imds::is_disabled(ctx.env);
    format!(
        "{} v1-disabled={v1} disabled={disabled}",
        imds::endpoint(ctx.env)
    )
}

pub fn get(key: &Key) -> Option<Outcome> {
    let memo = MEMO.get()?.lock().unwrap_or_else(|e| e.into_inner());
    memo.iter().find(|(k, _)| k == key).map(|(_, o)| o.clone())
}

pub fn put(key: Key, outcome: Outcome) {
    if let Some(memo) = MEMO.get() {
        memo.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((key, outcome));
    }
}

/// How many distinct network fetches the memo holds (the `processes` summary).
pub fn fetches() -> usize {
    MEMO.get()
        .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()).len())
        .unwrap_or(0)
}
