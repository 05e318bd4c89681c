//! Foreign text: what a peer or a helper process said, possibly with secrets credcheck never
//! saw ([`sanitize_foreign`], [`printable`], the log scrubs): a bounded excerpt, one line,
//! with keyword values and key-like runs hidden. Reads no env vars.

use super::*;

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
pub(super) const KEYWORDS: [&str; 8] = [
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
pub(super) const PROSE: [&str; 34] = [
    "a", "an", "and", "are", "cannot", "could", "did", "does", "expired", "file", "for", "from",
    "has", "have", "id", "in", "included", "invalid", "is", "must", "not", "of", "or", "provided",
    "that", "the", "to", "was", "we", "which", "with", "you", "has", "request",
];

/// Hides the value after each keyword: `token=abc`, `"SecretAccessKey": "abc"`, `secret abc`.
pub(super) fn hide_keyword_values(text: &str) -> String {
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
pub(super) fn next_word(text: &str) -> Option<(usize, bool)> {
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
pub(super) fn is_keyword(lower_word: &str) -> bool {
    KEYWORDS.iter().any(|k| lower_word.ends_with(k))
}

/// After a keyword: how many bytes of separator to keep, and how long the value is (0: none).
pub(super) fn keyword_value(text: &str) -> (usize, usize) {
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

pub(super) fn is_key_like(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '%')
}

/// Hides each run of [`FOREIGN_RUN`] or more key-like characters that is not made of words.
pub(super) fn hide_key_runs(text: &str) -> String {
    map_runs(text, is_key_like, |run| {
        run.chars().count() >= FOREIGN_RUN && !is_wordy(run)
    })
}

/// For logs: key material that is long (40+ mixing cases, or 64+ of anything).
pub(super) fn hide_long_material(text: &str) -> String {
    map_runs(text, is_key_like, |run| {
        let len = run.chars().count();
        let has = |f: fn(&char) -> bool| run.chars().any(|c| f(&c));
        let cased = has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase);
        ((len >= 40 && cased) || len >= 64) && !is_wordy(run)
    })
}

/// Copies `text`, replacing each maximal run of `pred` characters that `hide` picks.
pub(super) fn map_runs(text: &str, pred: fn(char) -> bool, hide: impl Fn(&str) -> bool) -> String {
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
pub(super) fn is_wordy(run: &str) -> bool {
    let run = run.trim_end_matches('=');
    let parts: Vec<&str> = run.split(['-', '_', '/']).collect();
    if parts.len() == 1 {
        return is_camel(run);
    }
    parts.iter().all(|p| p.is_empty() || is_word(p))
}

pub(super) fn is_word(part: &str) -> bool {
    let single_case = part.len() <= WORD_MAX
        && (part.bytes().all(|b| b.is_ascii_lowercase())
            || part.bytes().all(|b| b.is_ascii_uppercase()));
    let number = part.len() <= 12 && part.bytes().all(|b| b.is_ascii_digit());
    // SHA-1 names, as in the SSO token cache (`~/.aws/sso/cache/<40 hex>.json`).
    let sha1 = part.len() == 40 && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    single_case || number || sha1 || is_camel(part)
}

/// `[A-Z][a-z]+` or `[A-Z][0-9]{1,2}` pieces, one after another.
pub(super) fn is_camel(run: &str) -> bool {
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
