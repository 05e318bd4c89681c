//! Secret values and the rules that keep them out of every byte credcheck writes.
//!
//! Owns: [`Secret`] (Debug/Display/Serialize always redact), [`KeyId`] (always masked as
//! `ASIA…WXYZ`, or `****` when it is not shaped like a key id), the process-wide scrub
//! registry, [`scrub`] (the first wall: every registered secret, and any run of
//! [`FRAGMENT`] or more of its characters, also percent-encoded, JSON-escaped or broken by a
//! line break), and [`sanitize_foreign`] for text that may hold secrets credcheck never saw
//! (peer error bodies, `credential_process` output): a bounded excerpt with key-like runs and
//! keyword values hidden. The output writer (`output`) applies [`scrub`] to everything.
//! Layout: this file holds the types and the key-id masks; `registry` the scrub registry and
//! [`scrub`]; `foreign` the foreign-text rule.
//! Reads no env vars.

use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, OnceLock};

const REDACTED: &str = "** redacted **";
/// What replaces secret material inside text.
pub const HIDDEN: &str = "[redacted]";
/// Any run of this many consecutive characters of a registered secret is hidden.
pub const FRAGMENT: usize = 8;
/// Secrets shorter than a fragment are hidden when they appear whole; shorter than this, not
/// at all (they would mangle ordinary words).
const MIN_WHOLE: usize = 6;
/// In foreign text, a run of this many key-like characters is hidden (issue: 16).
const FOREIGN_RUN: usize = 16;
/// Single-case words longer than this are not words (a MinIO-style single-case key).
const WORD_MAX: usize = 15;

mod foreign;
mod registry;

pub use foreign::*;
pub use registry::*;

/// A value that must never be printed: secret keys, session tokens, bearer tokens, JWTs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` and registers it with the scrubber.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register_secret(&value);
        Secret(value)
    }

    /// The raw value, for the one place that must send it (a header, a signer).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// An access key ID. Not a secret, but only ever shown masked (`ASIA…WXYZ`). A value that is
/// not shaped like a key id may be the secret key itself (a swapped pair): it is registered
/// as a secret and shown as `****`.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyId(String);

impl KeyId {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        if !is_key_id(&value) {
            register_secret(&value);
        }
        KeyId(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask_key_id(&self.0)
    }

    pub fn is_well_formed(&self) -> bool {
        is_key_id(&self.0)
    }

    /// `AKIA`/`ABIA`… keys are long-term; `ASIA` keys are temporary.
    pub fn is_temporary(&self) -> bool {
        self.0.starts_with("ASIA")
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.masked())
    }
}

/// Unique-id prefixes IAM documents ("IAM identifiers", unique ID prefixes). Only `AKIA`
/// (long-term) and `ASIA` (temporary) are access keys; the others are ids of other kinds.
const ID_PREFIXES: [&str; 13] = [
    "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AIPA", "ANPA", "ANVA", "APKA", "AROA", "ASCA",
    "AEKA",
];
/// Prefixes whose runs are masked wherever they appear in output.
const KEY_PREFIXES: [&str; 4] = ["AKIA", "ASIA", "ABIA", "ACCA"];

/// Shaped like an access key id: a known prefix, then upper-case letters and digits, 16 to 128
/// characters in all (IAM: `[\w]+`, 16–128). Digits are allowed everywhere, because emulators
/// (moto) issue `[A-Z0-9]` where AWS uses base32; anything with lower case, `/`, `+` or `=`
/// cannot be an id (reference.md, "Access key id shapes").
pub fn is_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len())
        && ID_PREFIXES.iter().any(|p| id.starts_with(p))
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Visible ASCII only: what a credential must be to travel in a signed request's headers
/// (aws-runtime unwraps the header values it builds from them and would abort otherwise).
pub fn is_header_safe(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// `ASIAXXXXXXXXXXXXWXYZ` → `ASIA…WXYZ`; anything not shaped like a key id → `****`.
pub fn mask_key_id(id: &str) -> String {
    if !is_key_id(id) {
        return "****".to_string();
    }
    format!("{}…{}", &id[..4], &id[id.len() - 4..])
}

#[cfg(test)]
mod tests;
