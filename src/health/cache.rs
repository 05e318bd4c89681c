//! The cached log-delivery verdict of `credcheck health` (issue 16): at fleet scale a health
//! check every 30 s must not spend the account's CloudWatch Logs quotas. Owns the policy (when
//! to reuse, refresh or fully probe), the jitter, and the state file; makes no HTTP call and
//! reads the clock only through the `now` its callers pass (a virtual clock in tests and in
//! `bench/fleet`). Reads `XDG_RUNTIME_DIR` (through `Env`) for the default state directory.
//!
//! The policy:
//! - no trusted entry for the key → the full probe; its verdict is stored with the answer of
//!   its too-old PutLogEvents (the *fingerprint*) and the time the next refresh is due;
//! - before that time → the stored verdict, and no request at all;
//! - at or after it → one refresh call, the too-old PutLogEvents; the same answer keeps the
//!   verdict, a different one runs the full probe again;
//! - a throttled answer (`ThrottlingException`, `LimitExceededException`) is never retried:
//!   the verdict is "unknown (throttled)", health keeps the last verdict, and the next try
//!   waits for the next due time like any other refresh;
//! - the router's own counters proving delivery store a healthy verdict with no fingerprint
//!   (`after_counters`) when none is due yet, and send nothing: its due time is when the
//!   full probe runs if the counters stop proving delivery;
//! - the due time is the check time + `--probe-every` + a jitter in [0, 20 %) of it, drawn
//!   from a hash of the key and the check time (nanoseconds): pinned under a virtual clock,
//!   spread across a fleet that started together.
//!
//! The state file, one per key under `--state-dir`: JSON with verdicts, keys and timestamps
//! only, written as the one writer renders JSON (`output::render_json`: registered secrets
//! and key ids scrubbed from every string, names included), so nothing on disk holds what
//! credcheck would not print. The directory is opened once (`O_NOFOLLOW | O_DIRECTORY`) and
//! checked on that descriptor; the file is read and written relative to it (`openat`, a new
//! `O_EXCL` temporary file, `renameat`), with a size cap and off-thread within the deadline;
//! nothing is trusted when the directory or the file is another user's, group- or
//! world-writable, a link, oversized or corrupt. The default directory is per user.

use crate::env::Env;
use rustix::fd::OwnedFd;
use rustix::fs::{fstat, openat, renameat, unlinkat, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `XDG_RUNTIME_DIR`: the per-user runtime directory (a tmpfs, mode 0700) when set.
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";
/// Where state goes when `XDG_RUNTIME_DIR` is not set: this, then `-<uid>`.
pub const FALLBACK_DIR: &str = "/tmp/credcheck";
/// `--probe-every` when not given.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(600);
/// The longest `--probe-every`: a verdict older than a week is not a health check.
pub const MAX_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);
/// A state file is a few hundred bytes; anything larger is not ours.
pub const STATE_CAP: u64 = 8 * 1024;
/// The jitter: up to this share of `--probe-every` (per mille).
const JITTER_PER_MILLE: u64 = 200;
const VERSION: u32 = 1;
/// Clock skew tolerated between a stored check time and now.
const SKEW: Duration = Duration::from_secs(60);

/// What a verdict is cached for: the role, and where and how the logs go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub role: String,
    pub region: String,
    pub group: String,
    pub stream: String,
    pub plugin: String,
}

impl Key {
    fn digest(&self, extra: &[u8]) -> [u8; 20] {
        let mut h = Sha1::new();
        for part in [
            &self.role,
            &self.region,
            &self.group,
            &self.stream,
            &self.plugin,
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update(extra);
        h.finalize().into()
    }

    /// The state file's name: a hash of the key, so any group or stream name is a safe name.
    pub fn file_name(&self) -> String {
        let hex: String = self.digest(b"")[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("verdict-{hex}.json")
    }
}

/// The verdict health shows: healthy or not, and the line's words after `healthy: `.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub healthy: bool,
    pub line: String,
}

/// One key's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub version: u32,
    pub key: Key,
    pub verdict: Verdict,
    /// The answer of the too-old PutLogEvents at the last full probe (`None`: the probe made
    /// no such call, or was throttled; the next refresh is then a full probe).
    pub fingerprint: Option<String>,
    /// Unix milliseconds of the last full probe.
    pub probed_at_ms: u64,
    /// Unix milliseconds of the last call of any kind.
    pub checked_at_ms: u64,
    /// Unix milliseconds from which the next refresh is due.
    pub due_at_ms: u64,
    /// The last refresh was throttled: the verdict shown is the one before.
    pub throttled: bool,
}

/// What the next health run does for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Show the stored verdict; no request.
    Reuse,
    /// One too-old PutLogEvents; compare its answer with the fingerprint.
    Refresh,
    /// The full probe.
    Probe,
}

/// The answer of one probe call, as the cache compares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Any answer but throttling, in a stable short form (`ok too-old`, `denied implicit`).
    Seen(String),
    /// `ThrottlingException` or `LimitExceededException`.
    Throttled,
}

/// After a refresh: keep (the updated entry), or probe fully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterRefresh {
    Keep(Box<Entry>),
    Probe,
}

/// The words health shows for a throttled call with no earlier verdict.
pub const THROTTLED: &str = "unknown (throttled)";

/// Unix milliseconds of `t` (0 before the epoch).
pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The jitter for a check of `key` at `now`: in [0, 20 %) of `every`, from a hash of both.
pub fn jitter(key: &Key, now: SystemTime, every: Duration) -> Duration {
    let nanos = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let d = key.digest(&nanos.to_le_bytes());
    let draw = u64::from_le_bytes(d[..8].try_into().unwrap_or_default());
    let span_ms = every.as_millis() as u64 * JITTER_PER_MILLE / 1000;
    match span_ms {
        0 => Duration::ZERO,
        span => Duration::from_millis(draw % span),
    }
}

fn due(key: &Key, now: SystemTime, every: Duration) -> u64 {
    millis(now) + (every + jitter(key, now, every)).as_millis() as u64
}

/// The next step for a stored entry (or none) at `now`.
pub fn next_step(entry: Option<&Entry>, now: SystemTime) -> Step {
    match entry {
        None => Step::Probe,
        Some(e) if millis(now) < e.due_at_ms => Step::Reuse,
        Some(e) if e.fingerprint.is_none() => Step::Probe,
        Some(_) => Step::Refresh,
    }
}

/// The entry after a full probe whose verdict is `verdict` and whose too-old PutLogEvents
/// answered `put` (`None`: not sent). A throttled probe keeps `prev`'s verdict, if any.
pub fn after_probe(
    key: &Key,
    prev: Option<&Entry>,
    verdict: Verdict,
    put: Option<&Answer>,
    now: SystemTime,
    every: Duration,
) -> Entry {
    let throttled = matches!(put, Some(Answer::Throttled));
    let fingerprint = match put {
        Some(Answer::Seen(s)) => Some(s.clone()),
        _ => None,
    };
    let kept = prev.filter(|_| throttled).map(|p| p.verdict.clone());
    Entry {
        version: VERSION,
        key: key.clone(),
        verdict: kept.unwrap_or(verdict),
        fingerprint,
        probed_at_ms: millis(now),
        checked_at_ms: millis(now),
        due_at_ms: due(key, now, every),
        throttled,
    }
}

/// The stored line of a verdict the router's counters gave.
pub const COUNTERS_LINE: &str = "the router's counters";

/// The router's own counters proved delivery at `now` (no AWS call): the entry to store, if
/// any. A healthy verdict with no fingerprint, due after `every` + jitter, so that a later
/// failure of the counters is judged by this verdict until then, and then by the full probe
/// (spread by the jitter, never by a whole fleet at once); a verdict not yet due is kept.
pub fn after_counters(
    key: &Key,
    prev: Option<&Entry>,
    now: SystemTime,
    every: Duration,
) -> Option<Entry> {
    if next_step(prev, now) == Step::Reuse {
        return None;
    }
    let verdict = Verdict {
        healthy: true,
        line: COUNTERS_LINE.into(),
    };
    Some(after_probe(key, prev, verdict, None, now, every))
}

/// The outcome of the refresh call `answer` for `entry` at `now`.
pub fn after_refresh(
    entry: &Entry,
    answer: &Answer,
    now: SystemTime,
    every: Duration,
) -> AfterRefresh {
    let same = match answer {
        Answer::Throttled => true,
        Answer::Seen(s) => entry.fingerprint.as_deref() == Some(s.as_str()),
    };
    if !same {
        return AfterRefresh::Probe;
    }
    let mut kept = entry.clone();
    kept.checked_at_ms = millis(now);
    kept.due_at_ms = due(&entry.key, now, every);
    kept.throttled = *answer == Answer::Throttled;
    AfterRefresh::Keep(Box::new(kept))
}

/// How long ago the entry's verdict was made, for people (`4m30s`).
pub fn age(entry: &Entry, now: SystemTime) -> String {
    let age = Duration::from_millis(millis(now).saturating_sub(entry.probed_at_ms));
    crate::duration::human(age)
}

/// The words health adds for a kept verdict: its age, and whether the last call was throttled.
pub fn age_note(entry: &Entry, now: SystemTime) -> String {
    let age = Duration::from_millis(millis(now).saturating_sub(entry.probed_at_ms));
    let throttled = match entry.throttled {
        true => format!("; last refresh {THROTTLED}"),
        false => String::new(),
    };
    format!(
        "logs verdict from {} ago{throttled}",
        crate::duration::human(age)
    )
}

/// `--probe-every`: humantime's syntax, `0s` allowed (a refresh on every run), at most a week.
pub fn parse_every(raw: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(raw.trim())
        .map_err(|e| format!("{e}; write durations like 0s, 30s or 10m"))?;
    if d > MAX_EVERY {
        return Err(format!(
            "must be at most {}; write durations like 0s, 30s or 10m",
            crate::duration::human(MAX_EVERY)
        ));
    }
    Ok(d)
}

/// The state directory: `--state-dir`, else `$XDG_RUNTIME_DIR/credcheck`, else
/// `/tmp/credcheck-<uid>` (per user, so one user's directory is never another's to race).
pub fn state_dir(flag: Option<&Path>, env: &Env, uid: Option<u32>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.to_path_buf();
    }
    match env.non_blank(XDG_RUNTIME_DIR) {
        Some(run) if run.starts_with('/') => Path::new(run).join("credcheck"),
        _ => PathBuf::from(format!(
            "{FALLBACK_DIR}-{}",
            uid.map_or("unknown".into(), |u| u.to_string())
        )),
    }
}

/// Why the stored state was not used; its Display is one clause for the health line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Distrust {
    /// The directory cannot be written (read-only filesystem, no permission).
    ReadOnly(PathBuf),
    /// The directory is not safe to trust (another user's, writable by others, not a
    /// directory, a link): nothing is read from it or written to it.
    Dir(String),
    /// The file is not safe to trust; a fresh verdict replaces it.
    File(String),
}

impl fmt::Display for Distrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Distrust::ReadOnly(dir) => write!(
                f,
                "state dir {} is not writable: probing on every run (mount a tmpfs or a volume there, or pass --state-dir)",
                dir.display()
            ),
            Distrust::Dir(why) => write!(f, "{why}: not trusted, probing on every run"),
            Distrust::File(why) => write!(f, "{why}: not trusted, probed again"),
        }
    }
}

/// The state of one key in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loaded {
    Found(Entry),
    Missing,
    Distrusted(Distrust),
}

/// The process's effective uid.
pub fn euid() -> Option<u32> {
    Some(rustix::process::geteuid().as_raw())
}

/// Owner and mode checks on what an open descriptor refers to (never on a path, which a
/// local user could swap between the check and the use).
fn unsafe_owner(what: &str, path: &Path, st: &rustix::fs::Stat, uid: u32) -> Option<String> {
    if st.st_uid != uid {
        return Some(format!(
            "{what} {} belongs to uid {}, not to credcheck's uid {uid}",
            path.display(),
            st.st_uid
        ));
    }
    let mode = st.st_mode & 0o777;
    let (loose, want) = match what {
        "state dir" => (mode & 0o022 != 0, "0700"),
        _ => (mode & 0o077 != 0, "0600"),
    };
    loose.then(|| format!("{what} {} has mode {mode:04o}, not {want}", path.display()))
}

fn is_read_only(e: Errno) -> bool {
    matches!(e, Errno::ACCESS | Errno::ROFS | Errno::PERM)
}

/// The state directory, opened once per run (`O_NOFOLLOW | O_DIRECTORY`) and checked on that
/// descriptor: every later read and write is relative to it (`openat`, `renameat`), so
/// swapping the path for a link between the check and the write (the probe's network call
/// sits between them) changes nothing credcheck touches.
#[derive(Debug)]
pub struct StateDir {
    fd: OwnedFd,
    path: PathBuf,
    uid: u32,
}

impl StateDir {
    /// Opens `path`, creating it (mode 0700) when missing, and trusts it only if it is a real
    /// directory of `uid` that no one else may write.
    pub fn open(path: &Path, uid: u32) -> Result<StateDir, Distrust> {
        let fd = match open_dir(path) {
            Err(Errno::NOENT) => {
                create_dir(path)?;
                open_dir(path)
            }
            other => other,
        };
        let fd = fd.map_err(|e| not_a_dir(path, e))?;
        let st = fstat(&fd).map_err(|e| not_a_dir(path, e))?;
        if !FileType::from_raw_mode(st.st_mode).is_dir() {
            return Err(not_a_dir(path, Errno::NOTDIR));
        }
        if let Some(why) = unsafe_owner("state dir", path, &st, uid) {
            return Err(Distrust::Dir(why));
        }
        Ok(StateDir {
            fd,
            path: path.to_path_buf(),
            uid,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `key`'s entry, trusted only if the file is safe and sound at `now`.
    pub fn load(&self, key: &Key, now: SystemTime, every: Duration) -> Loaded {
        let name = key.file_name();
        let path = self.path.join(&name);
        let Ok(dir) = self.fd.try_clone() else {
            return Loaded::Missing;
        };
        let uid = self.uid;
        let shown = path.clone();
        let read = crate::file::run_bounded(move || {
            read_state(&dir, &name, &shown, uid).map_err(crate::file::FileError::Io)
        });
        match read {
            Ok(Ok(bytes)) => parse(&path, &bytes, key, now, every),
            Ok(Err(None)) => Loaded::Missing,
            Ok(Err(Some(why))) => Loaded::Distrusted(Distrust::File(why)),
            Err(e) => Loaded::Distrusted(Distrust::File(format!(
                "state file {} cannot be read: {e}",
                path.display()
            ))),
        }
    }

    /// Writes `entry` atomically: a new private temporary file (`O_CREAT | O_EXCL |
    /// O_NOFOLLOW`, 0600) in the opened directory, then `renameat` over the old one. What is
    /// written is what credcheck would print (`stored`).
    pub fn save(&self, entry: &Entry) -> Result<(), Distrust> {
        let failed = |e: Errno| match is_read_only(e) {
            true => Distrust::ReadOnly(self.path.clone()),
            false => Distrust::Dir(format!(
                "state dir {} cannot be written: {}",
                self.path.display(),
                std::io::Error::from(e)
            )),
        };
        let text = crate::output::render_json(entry);
        let name = entry.key.file_name();
        let tmp = format!(".{name}.{}.tmp", std::process::id());
        let written = self
            .write_new(&tmp, text.as_bytes())
            .and_then(|_| renameat(&self.fd, tmp.as_str(), &self.fd, name.as_str()));
        if written.is_err() {
            let _ = unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
        }
        written.map_err(failed)
    }

    fn write_new(&self, name: &str, text: &[u8]) -> Result<(), Errno> {
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(0o600);
        let fd = match openat(&self.fd, name, flags, mode) {
            // A temporary file left by a killed run of the same pid: remove it, once.
            Err(Errno::EXIST) => {
                unlinkat(&self.fd, name, AtFlags::empty())?;
                openat(&self.fd, name, flags, mode)?
            }
            other => other?,
        };
        let mut file = std::fs::File::from(fd);
        let io = |e: std::io::Error| Errno::from_io_error(&e).unwrap_or(Errno::IO);
        file.write_all(text).map_err(io)?;
        file.sync_all().map_err(io)
    }
}

/// `Ok(bytes)`; `Err(None)`: no such file; `Err(Some(why))`: a file not to be trusted.
type StateRead = Result<Vec<u8>, Option<String>>;

fn read_state(dir: &OwnedFd, name: &str, path: &Path, uid: u32) -> std::io::Result<StateRead> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(Err(None)),
        Err(Errno::LOOP) => {
            return Ok(Err(Some(format!(
                "state file {} is a symbolic link",
                path.display()
            ))))
        }
        Err(e) => {
            return Ok(Err(Some(format!(
                "state file {} cannot be read: {}",
                path.display(),
                std::io::Error::from(e)
            ))))
        }
    };
    let st = fstat(&fd)?;
    if !FileType::from_raw_mode(st.st_mode).is_file() {
        let why = format!("state file {} is not a regular file", path.display());
        return Ok(Err(Some(why)));
    }
    if let Some(why) = unsafe_owner("state file", path, &st, uid) {
        return Ok(Err(Some(why)));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(STATE_CAP + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > STATE_CAP {
        return Ok(Err(Some(format!(
            "state file {} is more than {STATE_CAP} bytes",
            path.display()
        ))));
    }
    Ok(Ok(bytes))
}

fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::open(path, flags, Mode::empty())
}

/// The missing directory, 0700 (its parents as `mkdir -p` makes them).
fn create_dir(path: &Path) -> Result<(), Distrust> {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match rustix::fs::mkdir(path, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) if is_read_only(e) => Err(Distrust::ReadOnly(path.to_path_buf())),
        Err(e) => Err(Distrust::Dir(format!(
            "state dir {} cannot be created: {}",
            path.display(),
            std::io::Error::from(e)
        ))),
    }
}

fn not_a_dir(path: &Path, e: Errno) -> Distrust {
    let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let why = match e {
        _ if link => format!("state dir {} is a symbolic link", path.display()),
        Errno::NOTDIR | Errno::LOOP => format!("state dir {} is not a directory", path.display()),
        e if is_read_only(e) => return Distrust::ReadOnly(path.to_path_buf()),
        e => format!(
            "state dir {} cannot be opened: {}",
            path.display(),
            std::io::Error::from(e)
        ),
    };
    Distrust::Dir(why)
}

/// The key as it is stored: through the one writer's JSON form (`output::render_json`), so a
/// name holding a registered secret is stored scrubbed, as it would be printed.
fn stored_key(key: &Key) -> Option<Key> {
    serde_json::from_str(&crate::output::render_json(key)).ok()
}

fn parse(path: &Path, bytes: &[u8], key: &Key, now: SystemTime, every: Duration) -> Loaded {
    let corrupt = |why: &str| {
        Loaded::Distrusted(Distrust::File(format!(
            "state file {} is corrupt ({why})",
            path.display()
        )))
    };
    let entry: Entry = match serde_json::from_slice(bytes) {
        Ok(e) => e,
        Err(_) => return corrupt("not a credcheck state file"),
    };
    if entry.version != VERSION {
        return corrupt("another version");
    }
    if Some(&entry.key) != stored_key(key).as_ref() {
        return corrupt("another key");
    }
    if !is_plausible(&entry, now, every) {
        return corrupt("impossible times");
    }
    Loaded::Found(Entry {
        key: key.clone(),
        ..entry
    })
}

/// Times a real run could have written: not in the future, due no later than the longest
/// interval allows (so a forged file cannot silence the probe for ever).
fn is_plausible(e: &Entry, now: SystemTime, every: Duration) -> bool {
    let now = millis(now) + SKEW.as_millis() as u64;
    let longest = every.as_millis() as u64 * (1000 + JITTER_PER_MILLE) / 1000;
    e.probed_at_ms <= e.checked_at_ms
        && e.checked_at_ms <= now
        && e.due_at_ms >= e.checked_at_ms
        && e.due_at_ms - e.checked_at_ms <= longest
}

#[cfg(test)]
mod tests;
