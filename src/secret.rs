//! Secret values and the rules that keep them out of every byte credcheck writes.
//!
//! Owns: [`Secret`] (Debug/Display/Serialize always redact), [`KeyId`] (always masked as
//! `ASIA…WXYZ`, or `****` when it is not shaped like a key id), the process-wide scrub
//! registry, [`scrub`] (the first wall: every registered secret, and any run of
//! [`FRAGMENT`] or more of its characters, also percent-encoded, JSON-escaped or broken by a
//! line break), and [`sanitize_foreign`] for text that may hold secrets credcheck never saw
//! (peer error bodies, `credential_process` output): a bounded excerpt with key-like runs and
//! keyword values hidden. The output writer (`output`) applies [`scrub`] to everything.
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

// ---------------------------------------------------------------------------------------
// The registry: every secret's 8-character windows, for linear-time scrubbing.
// ---------------------------------------------------------------------------------------

/// A multiply-xorshift hasher for the u64 window keys (they are already well mixed or packed).
#[derive(Default)]
struct WindowHasher(u64);

impl Hasher for WindowHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        let x = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

type WindowSet = HashSet<u64, BuildHasherDefault<WindowHasher>>;

#[derive(Default)]
struct Registry {
    /// Keys of every [`FRAGMENT`]-character window of every registered variant.
    windows: WindowSet,
    /// Whole values shorter than a fragment, by length.
    short: HashSet<String>,
    short_lens: Vec<usize>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Registry::default()))
}

/// The key of a window: ASCII windows are packed exactly; others are hashed (top bit set).
fn window_key(chars: &[char]) -> u64 {
    if chars.iter().all(char::is_ascii) {
        return chars
            .iter()
            .fold(0u64, |acc, c| (acc << 8) | u64::from(*c as u8));
    }
    let mut h = WindowHasher::default();
    for c in chars {
        h.write_u64(u64::from(*c as u32));
    }
    h.finish() | (1 << 63)
}

/// The forms a secret may take in text: as is, percent-encoded, JSON-escaped.
/// Only values with characters that encode differently get more forms (most keys have none).
fn variants(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    if value.bytes().any(|b| !is_unreserved(b)) {
        let upper = percent_encode(value);
        out.push(lower_hex(&upper));
        out.push(upper);
    }
    if value
        .chars()
        .any(|c| matches!(c, '"' | '\\' | '/') || c.is_control())
    {
        let json = serde_json::to_string(value).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        out.push(json.replace('/', "\\/"));
        out.push(json);
    }
    out.sort();
    out.dedup();
    out
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn percent_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

/// `%2F` → `%2f`, leaving the other characters alone.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut hex_left = 0;
    for c in encoded.chars() {
        if c == '%' {
            hex_left = 2;
            out.push(c);
        } else if hex_left > 0 {
            hex_left -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Remembers a secret so that [`scrub`] hides it, and any fragment of it, wherever it appears.
pub fn register_secret(value: &str) {
    register_all([value]);
}

/// Registers many secrets under one lock (100,000 profiles' keys in one go). The windows are
/// computed before the lock is taken, so a huge value (a 1 MiB secret key) never holds up a
/// writer (the deadline watchdog's report) that needs the registry to scrub.
pub fn register_all<'a>(values: impl IntoIterator<Item = &'a str>) {
    let mut new = Registry::default();
    for value in values {
        let value = value.trim_matches(|c: char| c.is_whitespace());
        if value.chars().count() < MIN_WHOLE {
            continue;
        }
        for form in variants(value) {
            add_form(&mut new, &form);
        }
    }
    let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    reg.windows.extend(new.windows);
    for short in new.short {
        let len = short.chars().count();
        if reg.short.insert(short) {
            reg.short_lens.push(len);
        }
    }
    reg.short_lens.sort_unstable();
    reg.short_lens.dedup();
}

fn add_form(reg: &mut Registry, form: &str) {
    // Line breaks inside a secret are skipped when matching, so they are skipped here too.
    let chars: Vec<char> = form.chars().filter(|c| !is_line_break(*c)).collect();
    if chars.len() < FRAGMENT {
        if chars.len() >= MIN_WHOLE && reg.short.insert(chars.iter().collect()) {
            reg.short_lens.push(chars.len());
            reg.short_lens.sort_unstable();
            reg.short_lens.dedup();
        }
        return;
    }
    for w in chars.windows(FRAGMENT) {
        reg.windows.insert(window_key(w));
    }
}

/// Kept for callers that registered a value with its replacement; the value is a secret.
pub fn register(needle: &str, _replacement: &str) {
    register_secret(needle);
}

fn is_line_break(c: char) -> bool {
    c == '\n' || c == '\r'
}

/// Hides every registered secret, and every run of [`FRAGMENT`] or more of its characters,
/// in `text`. Line breaks inside such a run are hidden with it. Linear in `text`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let reg = registry().lock().unwrap_or_else(|e| e.into_inner());
    if reg.windows.is_empty() && reg.short.is_empty() {
        return Cow::Borrowed(text);
    }
    // The view: the text's characters without line breaks, each with its byte offset.
    let view: Vec<(usize, char)> = text
        .char_indices()
        .filter(|(_, c)| !is_line_break(*c))
        .collect();
    let chars: Vec<char> = view.iter().map(|(_, c)| *c).collect();
    let mut hidden = vec![false; chars.len()];
    let mut any = mark_windows(&reg, &chars, &mut hidden);
    any |= mark_short(&reg, &chars, &mut hidden);
    drop(reg);
    if !any {
        return Cow::Borrowed(text);
    }
    Cow::Owned(rebuild(text, &view, &hidden))
}

fn mark_windows(reg: &Registry, chars: &[char], hidden: &mut [bool]) -> bool {
    let mut any = false;
    if reg.windows.is_empty() || chars.len() < FRAGMENT {
        return false;
    }
    for (i, w) in chars.windows(FRAGMENT).enumerate() {
        if reg.windows.contains(&window_key(w)) {
            hidden[i..i + FRAGMENT].iter_mut().for_each(|h| *h = true);
            any = true;
        }
    }
    any
}

fn mark_short(reg: &Registry, chars: &[char], hidden: &mut [bool]) -> bool {
    let mut any = false;
    for &len in &reg.short_lens {
        if chars.len() < len {
            continue;
        }
        for i in 0..=chars.len() - len {
            let candidate: String = chars[i..i + len].iter().collect();
            if reg.short.contains(&candidate) {
                hidden[i..i + len].iter_mut().for_each(|h| *h = true);
                any = true;
            }
        }
    }
    any
}

/// Copies `text`, replacing each hidden stretch (and the line breaks inside it) with [`HIDDEN`].
fn rebuild(text: &str, view: &[(usize, char)], hidden: &[bool]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied_to = 0;
    let mut i = 0;
    while i < view.len() {
        if !hidden[i] {
            i += 1;
            continue;
        }
        let start = view[i].0;
        while i < view.len() && hidden[i] {
            i += 1;
        }
        let end = view
            .get(i - 1)
            .map_or(text.len(), |(at, c)| at + c.len_utf8());
        out.push_str(&text[copied_to..start]);
        out.push_str(HIDDEN);
        copied_to = end;
    }
    out.push_str(&text[copied_to..]);
    out
}

/// Masks every run shaped like an access key id (`AKIA…`, `ASIA…`, `ABIA…`, `ACCA…`): ids are
/// never shown whole, whichever field or message carries them.
pub fn mask_key_runs(text: &str) -> Cow<'_, str> {
    if !KEY_PREFIXES.iter().any(|p| text.contains(p)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut run_start: Option<usize> = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let in_run = c.is_ascii_alphanumeric();
        match (in_run, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(s)) => {
                let run = &text[s..i];
                if KEY_PREFIXES.iter().any(|p| run.starts_with(p)) && is_key_id(run) {
                    out.push_str(&mask_key_id(run));
                } else {
                    out.push_str(run);
                }
                run_start = None;
                if i < text.len() {
                    out.push(c);
                }
            }
            (false, None) if i < text.len() => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

// ---------------------------------------------------------------------------------------
// Foreign text: what a peer or a helper process said, possibly with secrets never registered.
// ---------------------------------------------------------------------------------------

/// Makes free text received from a peer printable (error bodies, agent messages, process
/// output): registered secrets hidden, values after `secret`/`token`/`key`/`password`/
/// `signature` words hidden, every run of 16 or more key-like characters hidden (but for
/// identifiers such as `CredentialsV2Request` and kebab/snake/path words), one line, bounded.
pub fn sanitize_foreign(text: &str, max_chars: usize) -> String {
    let bounded = truncate_chars(text, max_chars.saturating_mul(4).max(256));
    let scrubbed = scrub(&bounded);
    let keyworded = hide_keyword_values(&scrubbed);
    let clean: String = hide_key_runs(&keyworded)
        .chars()
        .map(|c| if is_unprintable(c) { ' ' } else { c })
        .collect();
    truncate_chars(clean.trim(), max_chars)
}

/// Makes a structured field from a peer printable (an ARN, an account, a claim): registered
/// secrets hidden, control characters removed, length bounded. No heuristic: ARNs stay whole.
pub fn printable(text: &str, max_chars: usize) -> String {
    let bounded = truncate_chars(text, max_chars.saturating_add(64));
    let clean: String = scrub(&bounded)
        .chars()
        .map(|c| if is_unprintable(c) { ' ' } else { c })
        .collect();
    truncate_chars(clean.trim(), max_chars)
}

/// For log lines: registered secrets, key ids, and what looks like key material.
pub fn scrub_log(text: &str) -> String {
    let scrubbed = scrub(text);
    let masked = mask_key_runs(&scrubbed);
    hide_long_material(&masked)
}

/// For a dependency's log line (aws-config, the SDK, hyper): foreign text, as a peer's body
/// is. The log rule, then the foreign-text rule on the whole line: values after secret-like
/// words, and runs of 16 or more key-like characters that are not words, are hidden.
pub fn scrub_foreign_log(text: &str) -> String {
    let logged = scrub_log(text);
    hide_key_runs(&hide_keyword_values(&logged))
}

/// Control characters, and the format characters that reorder or split a line when shown
/// (bidi overrides and isolates, zero-width marks, line and paragraph separators).
pub fn is_unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2028}' | '\u{2029}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Words whose next value is hidden in foreign text.
const KEYWORDS: [&str; 8] = [
    "secret",
    "token",
    "key",
    "password",
    "passwd",
    "signature",
    "authorization",
    "bearer",
];
/// Words that follow a keyword in AWS's own prose ("the security token included in…").
const PROSE: [&str; 34] = [
    "a", "an", "and", "are", "cannot", "could", "did", "does", "expired", "file", "for", "from",
    "has", "have", "id", "in", "included", "invalid", "is", "must", "not", "of", "or", "provided",
    "that", "the", "to", "was", "we", "which", "with", "you", "has", "request",
];

/// Hides the value after each keyword: `token=abc`, `"SecretAccessKey": "abc"`, `secret abc`.
fn hide_keyword_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((word_end, is_kw)) = next_word(rest) {
        out.push_str(&rest[..word_end]);
        rest = &rest[word_end..];
        if is_kw {
            let (kept, value_len) = keyword_value(rest);
            out.push_str(&rest[..kept]);
            if value_len > 0 {
                out.push_str(HIDDEN);
            }
            rest = &rest[kept + value_len..];
        }
    }
    out.push_str(rest);
    out
}

/// The end of the next alphanumeric word, and whether it contains a keyword.
fn next_word(text: &str) -> Option<(usize, bool)> {
    let start = text.find(|c: char| c.is_ascii_alphanumeric())?;
    let len = text[start..]
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(text.len() - start);
    let word = text[start..start + len].to_ascii_lowercase();
    Some((start + len, is_keyword(&word)))
}

/// A word that names a secret: it ends with a keyword (`SecretAccessKey`, `aws_session_token`,
/// `X-Amz-Signature`, `password`), unlike AWS error codes that merely contain one
/// (`InvalidIdentityTokenException`, `SignatureDoesNotMatch`, `AccessKeyId`).
fn is_keyword(lower_word: &str) -> bool {
    KEYWORDS.iter().any(|k| lower_word.ends_with(k))
}

/// After a keyword: how many bytes of separator to keep, and how long the value is (0: none).
fn keyword_value(text: &str) -> (usize, usize) {
    let sep_len = text
        .find(|c: char| !matches!(c, ' ' | '\t' | '"' | '\'' | ':' | '=' | '\\'))
        .unwrap_or(text.len());
    let sep = &text[..sep_len];
    let has_sep = sep.contains([':', '=']);
    let value = &text[sep_len..];
    let quoted = sep.ends_with(['"', '\'']);
    let len = value
        .find(|c: char| {
            c.is_whitespace()
                || matches!(c, '"' | '\'' | ',' | ';' | '&' | '}' | ']' | ')' | '<')
                || (!quoted && !has_sep && c == '.')
        })
        .unwrap_or(value.len());
    let candidate = &value[..len];
    let lower = candidate.to_ascii_lowercase();
    let is_prose = !has_sep && PROSE.contains(&lower.as_str());
    // Another keyword is not a value: it gets its own turn (`key password hunter2`).
    let is_keyword = is_keyword(&lower);
    let done = value.starts_with(HIDDEN);
    if len == 0 || is_prose || is_keyword || done || (!has_sep && sep_len == 0) {
        return (sep_len, 0);
    }
    (sep_len, len)
}

fn is_key_like(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '%')
}

/// Hides each run of [`FOREIGN_RUN`] or more key-like characters that is not made of words.
fn hide_key_runs(text: &str) -> String {
    map_runs(text, is_key_like, |run| {
        run.chars().count() >= FOREIGN_RUN && !is_wordy(run)
    })
}

/// For logs: key material that is long (40+ mixing cases, or 64+ of anything).
fn hide_long_material(text: &str) -> String {
    map_runs(text, is_key_like, |run| {
        let len = run.chars().count();
        let has = |f: fn(&char) -> bool| run.chars().any(|c| f(&c));
        let cased = has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase);
        ((len >= 40 && cased) || len >= 64) && !is_wordy(run)
    })
}

/// Copies `text`, replacing each maximal run of `pred` characters that `hide` picks.
fn map_runs(text: &str, pred: fn(char) -> bool, hide: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut start = None;
    let flush = |out: &mut String, run: &str| {
        out.push_str(if hide(run) { HIDDEN } else { run });
    };
    for (i, c) in text.char_indices() {
        match (pred(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                flush(&mut out, &text[s..i]);
                out.push(c);
                start = None;
            }
            (false, None) => out.push(c),
            (true, Some(_)) => {}
        }
    }
    if let Some(s) = start {
        flush(&mut out, &text[s..]);
    }
    out
}

/// Made of words: CamelCase identifiers (`AccessDeniedException`, `CredentialsV2Request`),
/// or words joined by `-`, `_` or `/` (`my-task-role`, `web_identity_token_file`).
fn is_wordy(run: &str) -> bool {
    let run = run.trim_end_matches('=');
    let parts: Vec<&str> = run.split(['-', '_', '/']).collect();
    if parts.len() == 1 {
        return is_camel(run);
    }
    parts.iter().all(|p| p.is_empty() || is_word(p))
}

fn is_word(part: &str) -> bool {
    let single_case = part.len() <= WORD_MAX
        && (part.bytes().all(|b| b.is_ascii_lowercase())
            || part.bytes().all(|b| b.is_ascii_uppercase()));
    let number = part.len() <= 12 && part.bytes().all(|b| b.is_ascii_digit());
    // SHA-1 names, as in the SSO token cache (`~/.aws/sso/cache/<40 hex>.json`).
    let sha1 = part.len() == 40 && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    single_case || number || sha1 || is_camel(part)
}

/// `[A-Z][a-z]+` or `[A-Z][0-9]{1,2}` pieces, one after another.
fn is_camel(run: &str) -> bool {
    let bytes = run.as_bytes();
    if bytes.is_empty() || !bytes[0].is_ascii_uppercase() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_uppercase() {
            return false;
        }
        let tail = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_lowercase())
            .count();
        let digits = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        match (tail, digits) {
            (0, 1..=2) => i += 1 + digits,
            (1.., _) => i += 1 + tail,
            _ => return false,
        }
    }
    true
}

pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
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
        assert_eq!(
            mask_key_id("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "****"
        );
        assert_eq!(mask_key_id("asiaiosfodnn7example"), "****");
    }

    #[test]
    fn fragments_of_registered_secrets_are_hidden_in_every_form() {
        let secret = "Zq9Xk2LmP4vR8sT1uW3yB5nC7dF0gH/+AbCdEf";
        let _ = Secret::new(secret);
        for text in [
            format!("x {secret} y"),
            format!("x {} y", &secret[10..18]),
            format!("x {}\n{} y", &secret[..20], &secret[20..]),
            format!("x {} y", percent_encode(secret)),
            format!("x {} y", lower_hex(&percent_encode(secret))),
            format!(
                "x {} y",
                serde_json::to_string(secret).unwrap().replace('/', "\\/")
            ),
        ] {
            let out = scrub(&text);
            assert!(out.starts_with("x ") && out.ends_with(" y"), "{out}");
            for w in secret.as_bytes().windows(FRAGMENT) {
                let w = std::str::from_utf8(w).unwrap();
                assert!(!out.contains(w), "{text:?} → {out:?} shows {w}");
            }
        }
    }

    #[test]
    fn foreign_text_hides_key_material_and_keyword_values() {
        let out = sanitize_foreign(
            "{\"SecretAccessKey\":\"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"} + export AWS_SECRET_ACCESS_KEY=abcdefgh12\nminioadminsecretkey0123 password hunter2 Token: xyz",
            400,
        );
        for leaked in [
            "wJalr",
            "abcdefgh12",
            "minioadminsecretkey",
            "hunter2",
            "xyz",
        ] {
            assert!(!out.contains(leaked), "{leaked}: {out}");
        }
        assert!(!out.contains('\n'));
        assert_eq!(
            sanitize_foreign("ok \u{202e}txt\u{2028}next", 50),
            "ok  txt next"
        );
    }

    #[test]
    fn names_and_prose_survive_foreign_sanitising() {
        for text in [
            "role arn:aws:iam::123456789012:role/my-application-production-task-role not found",
            "InvalidIdInRequest: CredentialsV2Request: Credentials not found",
            "The security token included in the request is invalid.",
            "AccessDeniedException: web_identity_token_file is not readable",
        ] {
            assert_eq!(sanitize_foreign(text, 200), text);
        }
        assert_eq!(
            printable(
                "arn:aws:sts::1:assumed-role/r/0f4b2f539a1e4c368d7b2f6c1e0b7a55",
                200
            ),
            "arn:aws:sts::1:assumed-role/r/0f4b2f539a1e4c368d7b2f6c1e0b7a55"
        );
    }

    #[test]
    fn key_runs_are_masked() {
        assert_eq!(
            mask_key_runs("id=AKIASCRUBTEST0000001, x"),
            "id=AKIA…0001, x"
        );
        assert_eq!(
            mask_key_runs("AROAXXXXXXXXXXXXXXXX:s"),
            "AROAXXXXXXXXXXXXXXXX:s"
        );
    }

    #[test]
    fn many_secrets_register_and_scrub() {
        for i in 0..20_000 {
            register_secret(&format!("bulk-secret-{i:08}-Zq9Xk2LmP4"));
        }
        let out = scrub("nothing here but bulk-secret-00001234-Zq9Xk2LmP4");
        assert!(!out.contains("00001234"), "{out}");
    }
}
