//! The process environment, the filesystem and the clock, as seen by credcheck's own logic.
//!
//! Owns: the one snapshot of `std::env` (taken once at start; tests build their own), file
//! reads, and "now". aws-config's providers read the real process environment themselves;
//! every decision credcheck makes on its own reads this snapshot, so unit tests can inject it.
//! Reads: every variable (snapshot), `HOME` for `~` expansion.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[derive(Debug, Clone)]
pub struct Env {
    vars: BTreeMap<String, String>,
    now: SystemTime,
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
        Env { vars, now }
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

    /// Reads a file, at most `cap` bytes (a token file is never large; a device is never read whole).
    pub fn read_file(&self, path: &Path, cap: u64) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut buf = Vec::new();
        std::fs::File::open(path)?.take(cap).read_to_end(&mut buf)?;
        Ok(buf)
    }
}
