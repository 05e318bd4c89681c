//! The scrub registry: every registered secret's 8-character windows (also percent-encoded,
//! JSON-escaped, lower-hex), for linear-time scrubbing of every byte credcheck writes
//! ([`scrub`]), and [`mask_key_runs`]. Reads no env vars.

use super::*;

/// A multiply-xorshift hasher for the u64 window keys (they are already well mixed or packed).
#[derive(Default)]
pub(super) struct WindowHasher(u64);

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
pub(super) struct Registry {
    /// Keys of every [`FRAGMENT`]-character window of every registered variant.
    windows: WindowSet,
    /// Whole values shorter than a fragment, by length.
    short: HashSet<String>,
    short_lens: Vec<usize>,
}

pub(super) fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Registry::default()))
}

/// The key of a window: ASCII windows are packed exactly; others are hashed (top bit set).
pub(super) fn window_key(chars: &[char]) -> u64 {
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
pub(super) fn variants(value: &str) -> Vec<String> {
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

pub(super) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

pub(super) fn percent_encode(value: &str) -> String {
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
pub(super) fn lower_hex(encoded: &str) -> String {
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

pub(super) fn add_form(reg: &mut Registry, form: &str) {
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

pub(super) fn is_line_break(c: char) -> bool {
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

pub(super) fn mark_windows(reg: &Registry, chars: &[char], hidden: &mut [bool]) -> bool {
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

pub(super) fn mark_short(reg: &Registry, chars: &[char], hidden: &mut [bool]) -> bool {
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
pub(super) fn rebuild(text: &str, view: &[(usize, char)], hidden: &[bool]) -> String {
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
