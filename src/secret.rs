//! Secret values and the masking rules for everything credcheck may print.
//!
//! Owns: [`Secret`] (Debug/Display/Serialize always redact), [`KeyId`] (always masked as
//! `ASIA…WXYZ`), the process-wide scrub registry that the log writer applies to every line,
//! and [`sanitize_foreign`] for text that came from a peer (error bodies may echo secrets).
//! Reads no env vars.

use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;
use std::sync::{Mutex, OnceLock};

const REDACTED: &str = "** redacted **";
/// Runs at least this long that mix cases and digits are hidden in foreign text (AWS secret
/// keys are 40 characters, tokens hundreds; agent words like `CredentialsV2Request` are shorter).
const SECRET_LIKE_RUN: usize = 24;
/// Any run this long is hidden whatever its characters (a token that happens to be one case).
/// Shorter single-case runs stay: SHA-1 cache file names (`~/.aws/sso/cache/<40 hex>.json`).
const LONG_RUN: usize = 64;
/// Shorter values are not registered for scrubbing: they would mangle ordinary words.
const MIN_SCRUB_LEN: usize = 6;

/// A value that must never be printed: secret keys, session tokens, bearer tokens, JWTs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` and registers it with the log scrubber.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value, REDACTED);
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

/// An access key ID. Not a secret, but only ever shown masked (`ASIA…WXYZ`).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyId(String);

impl KeyId {
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register(&value, &mask_key_id(&value));
        KeyId(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask_key_id(&self.0)
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

/// `ASIAXXXXXXXXXXXXWXYZ` → `ASIA…WXYZ`. Anything too short or odd shows nothing of itself.
pub fn mask_key_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() < 12 || !chars.iter().all(|c| c.is_ascii_alphanumeric()) {
        return "****".to_string();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// Makes free text received from a peer printable (error messages, agent messages): one line,
/// bounded, every registered secret replaced, and every run that looks like key material hidden.
pub fn sanitize_foreign(text: &str, max_chars: usize) -> String {
    let clean: String = redact_runs(&scrub(text))
        .chars()
        .map(|c| if is_unprintable(c) { ' ' } else { c })
        .collect();
    truncate_chars(clean.trim(), max_chars)
}

/// For log lines: registered secrets, anything shaped like an access key ID, and runs that look
/// like key material are replaced; line structure is kept.
pub fn scrub_log(text: &str) -> String {
    redact_runs(&scrub(text))
}

/// Replaces key-material runs and masks access-key-shaped runs (`AKIA…`, `ASIA…`).
fn redact_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if is_key_char(c) {
            run.push(c);
            continue;
        }
        flush_run(&mut out, &mut run);
        out.push(c);
    }
    flush_run(&mut out, &mut run);
    out
}

/// `AKIA`/`ASIA`/`ABIA`/`ACCA` plus 16 upper-case letters or digits.
fn is_key_id_shaped(run: &str) -> bool {
    run.len() == 20
        && ["AKIA", "ASIA", "ABIA", "ACCA"]
            .iter()
            .any(|p| run.starts_with(p))
        && run
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Makes a structured field from a peer printable (an ARN, an account, a claim): registered
/// secrets replaced, control characters removed, length bounded. No heuristic: ARNs stay whole.
pub fn printable(text: &str, max_chars: usize) -> String {
    let clean: String = scrub(text)
        .chars()
        .map(|c| if is_unprintable(c) { ' ' } else { c })
        .collect();
    truncate_chars(clean.trim(), max_chars)
}

/// Control characters, and the format characters that reorder or split a line when shown
/// (bidi overrides, zero-width marks, line and paragraph separators).
fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2028}' | '\u{2029}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-')
}

/// Secret keys and tokens are long and mix cases and digits; names and ARNs rarely do.
fn looks_like_key_material(run: &str) -> bool {
    let len = run.chars().count();
    let has = |f: fn(&char) -> bool| run.chars().any(|c| f(&c));
    let mixed =
        has(char::is_ascii_digit) && has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase);
    // A 40-character secret key without a digit still mixes cases.
    let cased = has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase);
    (len >= SECRET_LIKE_RUN && mixed) || (len >= 40 && cased) || len >= LONG_RUN
}

fn flush_run(out: &mut String, run: &mut String) {
    if is_key_id_shaped(run) {
        out.push_str(&mask_key_id(run));
    } else if looks_like_key_material(run) {
        out.push_str("[redacted]");
    } else {
        out.push_str(run);
    }
    run.clear();
}

fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!("{cut}…")
}

fn registry() -> &'static Mutex<Vec<(String, String)>> {
    static REGISTRY: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Vec::new()))
}

/// Remembers `needle` so that [`scrub`] replaces it wherever it appears.
pub fn register(needle: &str, replacement: &str) {
    let needle = needle.trim();
    if needle.len() < MIN_SCRUB_LEN {
        return;
    }
    let mut list = registry().lock().unwrap_or_else(|e| e.into_inner());
    if !list.iter().any(|(n, _)| n == needle) {
        list.push((needle.to_string(), replacement.to_string()));
        // Longest first, so a token that contains a key id is replaced whole.
        list.sort_by_key(|(n, _)| std::cmp::Reverse(n.len()));
    }
}

/// Replaces every registered secret in `text`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let list = registry().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for (needle, replacement) in list.iter() {
        if out.contains(needle.as_str()) {
            out = Cow::Owned(out.replace(needle.as_str(), replacement));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"** redacted **\"");
    }

    #[test]
    fn key_id_is_masked_everywhere() {
        let k = KeyId::new("ASIAIOSFODNN7EXAMPLE");
        assert_eq!(format!("{k}"), "ASIA…MPLE");
        assert_eq!(format!("{k:?}"), "ASIA…MPLE");
        assert!(k.is_temporary());
        assert_eq!(mask_key_id("short"), "****");
    }

    #[test]
    fn foreign_text_hides_key_material_and_registered_secrets() {
        let _ = Secret::new("abc-registered-secret");
        let out = sanitize_foreign(
            "{\"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"} abc-registered-secret\n",
            200,
        );
        assert!(!out.contains("wJalr"), "{out}");
        assert!(!out.contains("abc-registered-secret"), "{out}");
        assert!(!out.contains('\n'));
        assert_eq!(
            sanitize_foreign("ok \u{202e}txt\u{2028}next", 50),
            "ok  txt next"
        );
    }

    #[test]
    fn names_and_arns_survive_foreign_sanitising() {
        let text =
            "role arn:aws:iam::123456789012:role/my-application-production-task-role not found";
        assert_eq!(sanitize_foreign(text, 200), text);
        assert_eq!(
            printable(
                "arn:aws:sts::1:assumed-role/r/0f4b2f539a1e4c368d7b2f6c1e0b7a55",
                200
            ),
            "arn:aws:sts::1:assumed-role/r/0f4b2f539a1e4c368d7b2f6c1e0b7a55"
        );
    }

    #[test]
    fn scrub_replaces_registered_values() {
        let _ = KeyId::new("AKIASCRUBTEST0000001");
        assert_eq!(scrub("id=AKIASCRUBTEST0000001"), "id=AKIA…0001");
    }
}
