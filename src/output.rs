//! The one writer: every byte credcheck writes (the text report, the JSON line, the health
//! line, wrapper lines, usage and error lines, logs) passes through here, and nowhere else.
//!
//! What it guarantees, whatever a field holds:
//! - every registered secret, and every run of 8 or more of its characters (also
//!   percent-encoded, JSON-escaped or broken by a line break), is replaced (`secret::scrub`);
//! - every run shaped like an access key id is masked (`ASIA…WXYZ`);
//! - text output: each control character (C0, DEL, C1) and each bidi or zero-width format
//!   character becomes a visible escape (`\x1b`, `\u202e`), so one line stays one line and a
//!   peer cannot forge a log line or reorder one;
//! - no line, and no JSON string, longer than [`MAX_LINE`] characters;
//! - JSON output: one line, with those characters escaped as `\uXXXX` (serde escapes C0;
//!   this adds DEL, C1 and the format characters).
//!
//! A closed pipe ends the output quietly (ripgrep's habit). Writes are serialised, and the
//! final report is claimed once ([`claim_final`]), so the deadline watchdog and the main
//! thread never both print one. Reads no env vars.

use crate::secret;
use serde::Serialize;
use serde_json::Value;
use std::cell::Cell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// No line (and no JSON string) is longer than this: a hostile value cannot flood a log.
pub const MAX_LINE: usize = 2000;

static WRITING: Mutex<()> = Mutex::new(());

/// Who prints the run's final output, and how far it got.
static FINAL: AtomicU8 = AtomicU8::new(OPEN);
const OPEN: u8 = 0;
/// The main thread claimed it and is rendering: the watchdog may still take it over.
const RENDERING: u8 = 1;
/// The main thread's first byte of it is out: it finishes, whole.
const WRITING_FINAL: u8 = 2;
/// The watchdog took it over (the deadline report).
const TAKEN: u8 = 3;
/// The main thread's exit code once its final output is written (`finished`).
static DONE: (Mutex<Option<i32>>, Condvar) = (Mutex::new(None), Condvar::new());

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    None,
    Main,
    Watchdog,
}

thread_local! {
    static ROLE: Cell<Role> = const { Cell::new(Role::None) };
}

/// Takes the right to print the run's final output; only the first caller gets it (the
/// watchdog, once it took over, keeps it).
pub fn claim_final() -> bool {
    if ROLE.get() == Role::Watchdog {
        return true;
    }
    let won = FINAL
        .compare_exchange(OPEN, RENDERING, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if won {
        ROLE.set(Role::Main);
    }
    won
}

/// Whether the final output was already claimed.
pub fn is_claimed() -> bool {
    FINAL.load(Ordering::SeqCst) != OPEN
}

/// What the deadline watchdog may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeOver {
    /// Print the deadline report: the main thread wrote nothing yet, and now never will.
    Print,
    /// The main thread is writing its report: wait for it ([`wait_finished`]).
    Wait,
}

/// The watchdog takes the final output unless the main thread has begun writing it; a main
/// thread still rendering parks at its first final write, so the output is one report,
/// whole, never a mix and never empty.
pub fn take_over() -> TakeOver {
    loop {
        let now = FINAL.load(Ordering::SeqCst);
        if now == WRITING_FINAL {
            return TakeOver::Wait;
        }
        if FINAL
            .compare_exchange(now, TAKEN, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            ROLE.set(Role::Watchdog);
            return TakeOver::Print;
        }
    }
}

/// The main thread has written its final output and will exit with `code`.
pub fn finished(code: i32) {
    let mut done = DONE.0.lock().unwrap_or_else(|e| e.into_inner());
    *done = Some(code);
    DONE.1.notify_all();
}

/// The main thread's exit code, once it finished writing (at most `limit`: a reader that
/// stopped reading a full pipe cannot keep the process alive).
pub fn wait_finished(limit: Duration) -> Option<i32> {
    let done = DONE.0.lock().unwrap_or_else(|e| e.into_inner());
    let (done, _) = DONE
        .1
        .wait_timeout_while(done, limit, |d| d.is_none())
        .unwrap_or_else(|e| e.into_inner());
    *done
}

/// The main thread's final write begins; if the watchdog took over, it never does.
fn enter_final_write() {
    if ROLE.get() != Role::Main {
        return;
    }
    let taken = FINAL
        .compare_exchange(RENDERING, WRITING_FINAL, Ordering::SeqCst, Ordering::SeqCst)
        .err()
        == Some(TAKEN);
    if taken {
        // The watchdog prints the deadline report and ends the process.
        loop {
            std::thread::park();
        }
    }
}

/// Writes lines of text: each element is one line, whatever it contains.
pub fn lines<S: AsRef<str>>(stream: Stream, lines: &[S]) {
    write(stream, &render_lines(lines));
}

/// Writes one line of text.
pub fn line(stream: Stream, text: &str) {
    lines(stream, &[text]);
}

/// Writes a text block whose `\n` separate lines (clap's messages, tracing's events).
pub fn block(stream: Stream, text: &str) {
    let parts: Vec<&str> = text.trim_end_matches('\n').split('\n').collect();
    lines(stream, &parts);
}

/// Writes `value` as one JSON line.
pub fn json(stream: Stream, value: &impl Serialize) {
    write(stream, &render_json(value));
}

/// The text form of `lines`, as [`lines`] writes it.
pub fn render_lines<S: AsRef<str>>(lines: &[S]) -> String {
    let mut out = String::new();
    for line in lines {
        let bounded = secret::truncate_chars(line.as_ref(), MAX_LINE);
        let scrubbed = secret::scrub(&bounded);
        out.push_str(&escape_text(&secret::mask_key_runs(&scrubbed)));
        out.push('\n');
    }
    // Second pass over the whole: a secret split across two lines.
    secret::scrub(&out).into_owned()
}

/// The JSON report's `schema_version` (`report::Report` carries it; so does the fallback
/// line below).
/// 2: log outputs say deliverable, blocked or unverified, with names, evidence and why
/// (issue 20); permissions lost likely-allowed, likely-denied, unknown and the proxy basis.
/// 3: `processes` (`credcheck processes`, issue 23), absent in every other mode.
pub const SCHEMA_VERSION: u32 = 3;

/// The JSON form of `value`, as [`json`] writes it: one line ending in `\n`.
pub fn render_json(value: &impl Serialize) -> String {
    let mut tree = serde_json::to_value(value).unwrap_or_else(|e| {
        serde_json::json!({"schema_version": SCHEMA_VERSION, "ok": false, "exit_code": 1,
            "errors": [{"code": "render-failed", "message": e.to_string()}]})
    });
    clean_tree(&mut tree);
    let mut out = escape_json(&tree.to_string());
    out.push('\n');
    out
}

fn clean_tree(value: &mut Value) {
    match value {
        Value::String(s) => *s = clean_str(s),
        Value::Array(items) => items.iter_mut().for_each(clean_tree),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                clean_tree(&mut v);
                map.insert(clean_str(&k), v);
            }
        }
        _ => {}
    }
}

fn clean_str(s: &str) -> String {
    let bounded = secret::truncate_chars(s, MAX_LINE);
    secret::mask_key_runs(&secret::scrub(&bounded)).into_owned()
}

/// Text: every unprintable character becomes a visible escape.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if (c as u32) < 0x80 && secret::is_unprintable(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if secret::is_unprintable(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// JSON: serde already escaped C0, quotes and backslashes; escape the rest as `\uXXXX`.
fn escape_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if secret::is_unprintable(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn write(stream: Stream, text: &str) {
    enter_final_write();
    let _guard = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let _ = match stream {
        Stream::Stdout => write_all(&mut io::stdout().lock(), text),
        Stream::Stderr => write_all(&mut io::stderr().lock(), text),
    };
}

fn write_all(out: &mut dyn Write, text: &str) -> io::Result<()> {
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// For the log writer: one tracing event, scrubbed like the rest, lines kept apart; a
/// dependency's event (`foreign`) also passes the foreign-text rule.
pub fn log_text(text: &str, foreign: bool) -> String {
    let mut out = String::new();
    for line in text.trim_end_matches('\n').split('\n') {
        let bounded = secret::truncate_chars(line, MAX_LINE);
        let clean = match foreign {
            true => secret::scrub_foreign_log(&bounded),
            false => secret::scrub_log(&bounded),
        };
        out.push_str(&escape_text(&clean));
        out.push('\n');
    }
    secret::scrub(&out).into_owned()
}

/// Writes a log event to stderr (see [`log_text`]).
pub fn log(text: &str, foreign: bool) {
    write(Stream::Stderr, &log_text(text, foreign));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_stays_one_line() {
        let out = render_lines(&["a\nb\x1b[31m\u{202e}c\u{85}"]);
        assert_eq!(out, "a\\x0ab\\x1b[31m\\u202ec\\u0085\n");
    }

    #[test]
    fn json_is_one_line_and_escapes_format_characters() {
        let out = render_json(&serde_json::json!({"k\n": "v\u{202e}\u{7f}\u{9b}\n"}));
        assert_eq!(out.matches('\n').count(), 1, "{out}");
        assert!(out.contains("\\u202e") && out.contains("\\u007f") && out.contains("\\u009b"));
        let back: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["k\n"], "v\u{202e}\u{7f}\u{9b}\n");
    }

    #[test]
    fn a_dependencys_log_line_is_foreign_text() {
        // aws-config's WARN for a failing credential_process repeats the helper's stderr.
        let line = "2026-12-07T07:00:00Z  WARN aws_config::profile::credentials: failed: stderr: export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY AWS_SESSION_TOKEN IQoJb3JpZ2luX2VjEHQaCXVzLWVhc3QtMSJHMEUCIQ password hunter2x";
        let out = log_text(line, true);
        for leak in ["wJalrXUtnFEMI", "IQoJb3JpZ2luX2Vj", "hunter2x"] {
            assert!(!out.contains(leak), "{out}");
        }
        assert!(out.contains("aws_config::profile::credentials"), "{out}");
        // credcheck's own lines keep the log rule (a short id stays readable).
        let own = log_text("DEBUG credcheck::chain: token file read", false);
        assert!(own.contains("token file read"), "{own}");
    }

    #[test]
    fn registered_secrets_never_pass() {
        let s = "Kq8Wm3Np5Rt7Vx9Zb2Cd4Fg6Hj8Lk0";
        let _ = secret::Secret::new(s);
        let text = render_lines(&[
            format!("path /x/{}/y", &s[3..15]),
            s[..12].to_string(),
            s[12..].to_string(),
        ]);
        assert!(
            !text.contains(&s[3..11]) && !text.contains(&s[14..22]),
            "{text}"
        );
        let json = render_json(&serde_json::json!({ "profile": s }));
        assert!(!json.contains(&s[..8]), "{json}");
    }
}
