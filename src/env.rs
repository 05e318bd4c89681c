//! The process environment, the filesystem and the clock, as seen by credcheck's own logic.
//!
//! Owns: the one snapshot of `std::env` (taken once at start; tests build their own), file
//! reads, and "now". aws-config's providers read the real process environment themselves;
//! every decision credcheck makes on its own reads this snapshot, so unit tests can inject it.
//! Reads: every variable (snapshot), `HOME` for `~` expansion.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct Env {
    vars: BTreeMap<String, String>,
    now: SystemTime,
    /// Another process's filesystem root (`/proc/PID/root`, `--pid`): every file read goes
    /// through it. `None`: credcheck's own root.
    root: Option<PathBuf>,
}

impl Env {
    /// Snapshot of the real process: variables (lossily decoded, never a panic) and the clock.
    pub fn from_process() -> Self {
        let vars = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.to_string_lossy().into_owned(),
                )
            })
            .collect();
        Env {
            vars,
            now: SystemTime::now(),
            root: None,
        }
    }

    /// Another process's environment: the NUL-separated `KEY=VALUE` bytes of
    /// `/proc/PID/environ`, decoded lossily (values may be hostile; this never panics). An
    /// entry without `=` is skipped; for a repeated name the first wins, as `getenv` does.
    /// Files are then read under `root` (`/proc/PID/root`).
    pub fn from_environ(environ: &[u8], root: PathBuf) -> Self {
        let mut vars = BTreeMap::new();
        for entry in environ.split(|b| *b == 0) {
            let Some(eq) = entry.iter().position(|b| *b == b'=') else {
                continue;
            };
            let key = String::from_utf8_lossy(&entry[..eq]).into_owned();
            let value = String::from_utf8_lossy(&entry[eq + 1..]).into_owned();
            vars.entry(key).or_insert(value);
        }
        Env {
            vars,
            now: SystemTime::now(),
            root: Some(root),
        }
    }

    /// A synthetic environment for tests.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        now: SystemTime,
    ) -> Self {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env {
            vars,
            now,
            root: None,
        }
    }

    /// The same environment with one variable set (credcheck's own safety switches carried
    /// into another process's environment, `process::keep_imds_off`).
    pub fn with_var(mut self, key: &str, value: &str) -> Env {
        self.vars.insert(key.to_string(), value.to_string());
        self
    }

    /// Every variable, in name order.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The other process's root (`--pid`), when files are read through it.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Where `path`, as the evaluated process names it, is on credcheck's side: an absolute
    /// path is mapped under the root (`/home/app/.aws/config` → `/proc/PID/root/home/app/.aws/config`);
    /// a relative one under the process's cwd (`/proc/PID/cwd`, the root's sibling).
    pub fn host_path(&self, path: &Path) -> PathBuf {
        let Some(root) = &self.root else {
            return path.to_path_buf();
        };
        match path.strip_prefix("/") {
            Ok(rest) => root.join(rest),
            Err(_) => root.with_file_name("cwd").join(path),
        }
    }

    /// The value, even when it is set but empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// The value when it is set and not blank (the SDKs treat blank as unset for most vars).
    pub fn non_blank(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.trim().is_empty())
    }

    pub fn is_set(&self, key: &str) -> bool {
        self.vars.contains_key(key)
    }

    /// `true`/`TRUE`/`True`, as the SDKs parse boolean variables.
    pub fn is_true(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    pub fn now(&self) -> SystemTime {
        self.now
    }

    pub fn home(&self) -> Option<PathBuf> {
        self.non_blank("HOME").map(PathBuf::from)
    }

    /// Expands a leading `~/` the way the SDKs do for profile paths.
    pub fn expand_home(&self, path: &str) -> PathBuf {
        match (path.strip_prefix("~/"), self.home()) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(path),
        }
    }

    /// Reads a file through the one bounded reader (`file::read`): regular files only, at most
    /// `cap` bytes, abandoned at the deadline. Under `--pid`, through the process's root.
    pub fn read_file(&self, path: &Path, cap: u64) -> Result<Vec<u8>, crate::file::FileError> {
        crate::file::read(&self.host_path(path), cap)
    }

    /// The names in a folder of the process's view, at most `max` (`file::list_dir`).
    pub fn list_dir(&self, path: &Path, max: usize) -> Result<Vec<String>, crate::file::FileError> {
        crate::file::list_dir(&self.host_path(path), max)
    }
}
