//! Which AWS SDK a process uses, and at which version, for `credcheck processes` (issue 23).
//!
//! Owns: reading the evidence of one process (`/proc/PID/exe`'s ELF sections, the jars it has
//! open or mapped, the Python or Node packages its interpreter would load) and naming the SDK,
//! with the evidence and whether it is `exact` (the build recorded it) or `inferred` (what the
//! interpreter would find on disk). Nothing found is an empty list: the caller says "unknown";
//! this never guesses.
//!
//! Every read is bounded (`crate::file`: size caps, the run's deadline); a vanished process or
//! an unreadable file is just "nothing found". Everything read here is foreign text: returned
//! strings are capped at `MAX_CHARS` (200), and the renderer sanitizes them.
//!
//! Layout: this file holds the detector, its cache and the shared helpers; `exe` reads the
//! executable (Go build info, cargo-auditable), `java`, `python` and `node` the runtimes'.
//! Reads no env vars of credcheck's own: only the evaluated process's environment ([`View`]).

mod exe;
mod java;
mod node;
mod python;

use super::minimums::Sdk;
use crate::env::Env;
use crate::file::{self, FileError};
use exe::*;
use java::*;
use python::*;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

/// Every string returned is at most this many characters.
const MAX_CHARS: usize = 200;
/// At most this much of an ELF section is read (`.go.buildinfo`, `.dep-v0`).
const SECTION_CAP: u64 = 1 << 20;
/// cargo-auditable's JSON inflates to at most this.
const DEP_JSON_CAP: usize = 8 << 20;
/// `/proc/PID/maps` is read up to this much.
const MAPS_CAP: u64 = 4 << 20;
/// At most this many of a process's open files are looked at.
const MAX_FDS: usize = 4096;
/// A `package.json` is at most this big.
const PACKAGE_JSON_CAP: u64 = 64 << 10;
/// `pyvenv.cfg` is at most this big.
const PYVENV_CAP: u64 = 64 << 10;
/// Names listed in one site-packages folder.
const MAX_SITE_ENTRIES: usize = 16_384;
/// Names listed in one `lib` folder (looking for `python3.*`).
const MAX_LIB_ENTRIES: usize = 512;
/// Entries of `PYTHONPATH` / `PATH` looked at.
const MAX_PATH_ENTRIES: usize = 64;
/// Folders checked for `node_modules` from one start (the folder and its parents).
const NODE_LEVELS: usize = 8;
/// Entries kept in each of the detector's caches.
const MAX_CACHED: usize = 65_536;
/// `O_NONBLOCK` (Linux), as `crate::file` opens: a FIFO swapped in cannot block the open.
const O_NONBLOCK: i32 = 0o4000;

/// How a version was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exactness {
    /// Recorded by the build (Go build info, cargo-auditable) or the jar the JVM has open.
    Exact,
    /// What the interpreter would load from disk (Python site dirs, Node `node_modules`).
    Inferred,
}

impl Exactness {
    pub fn name(self) -> &'static str {
        match self {
            Exactness::Exact => "exact",
            Exactness::Inferred => "inferred",
        }
    }
}

/// One SDK found in a process.
#[derive(Clone, Debug)]
pub struct Found {
    pub sdk: Sdk,
    /// As the package names it, without a leading `v` (foreign text, capped).
    pub version: String,
    /// Where it was seen, one clause (foreign text, capped).
    pub evidence: String,
    pub exactness: Exactness,
}

/// What detection may look at for one process. Paths are host paths (`/proc/PID/...`).
pub struct View<'a> {
    /// `/proc/PID`.
    pub proc_dir: &'a Path,
    /// From `/proc/PID/cmdline` (lossy).
    pub argv: &'a [String],
    /// The process's environment, reading files through its root (`/proc/PID/root`).
    pub env: &'a Env,
}

/// A filesystem object's identity: (st_dev, st_ino).
type Id = (u64, u64);
/// A path as a process sees it, under one root.
type RootedPath = (Id, PathBuf);

/// Caches per executable (st_dev, st_ino of /proc/PID/exe) so 200 workers of one binary cost
/// one read; folders and packages under one root (its st_dev, st_ino) are looked at once too.
#[derive(Default)]
pub struct Detector {
    /// Executables' rows (keyed by the executable's identity and an empty path), folder
    /// listings, existence checks and `package.json` versions (keyed by the root's identity
    /// and the path): one map, so one copy of its code in the binary, keyed by what was asked
    /// (`ASKED_*`, `Keep`).
    paths: HashMap<(u8, RootedPath), Cached>,
}

/// What a cached path answered.
#[derive(Clone)]
enum Cached {
    Rows(Vec<Found>),
    Names(Vec<String>),
    There(bool),
    Version(Option<String>),
}

/// The kinds of question a path is asked, besides [`Keep`]'s listings (0 and 1).
const ASKED_EXISTS: u8 = 2;
const ASKED_VERSION: u8 = 3;
const ASKED_BINARY: u8 = 4;

/// What a cached listing keeps of a folder's names.
#[derive(Clone, Copy)]
enum Keep {
    /// `python3.N` folders of a `lib` folder.
    PythonLibs,
    /// `botocore-*.dist-info` / `.egg-info` in a site folder.
    Botocore,
}

/// One process being looked at: its view and what was read of it once.
struct Ctx<'v, 'a> {
    view: &'v View<'a>,
    root: Option<Id>,
    /// The process's cwd as it names it (`/app`), when readable.
    cwd: Option<PathBuf>,
}

impl Detector {
    pub fn new() -> Self {
        Self::default()
    }

    /// The SDKs `view`'s process uses, at most one row per SDK (exact evidence first).
    pub fn detect(&mut self, view: &View) -> Vec<Found> {
        let mut found = self.binary(view.proc_dir);
        let (exe, arg0) = program_names(view);
        let named = |test: fn(&str) -> bool| {
            exe.as_deref().is_some_and(test) || arg0.as_deref().is_some_and(test)
        };
        // Only a JVM's jars, Python's site dirs and Node's modules are looked at, and only in
        // such a process: 10,000 other processes cost one open of their executable each.
        if named(is_java) {
            found.extend(java(view.proc_dir));
        }
        if !named(is_python) && !named(is_node) {
            return dedupe(found);
        }
        let ctx = Ctx {
            view,
            root: root_id(view.env),
            cwd: read_link(&view.proc_dir.join("cwd")).filter(|p| p.is_absolute()),
        };
        if named(is_python) {
            let prefer = [&exe, &arg0]
                .into_iter()
                .flatten()
                .find(|n| python_minor(n).is_some())
                .cloned();
            found.extend(self.python(&ctx, prefer.as_deref()));
        }
        if named(is_node) {
            found.extend(self.node(&ctx));
        }
        dedupe(found)
    }

    /// Go build info and cargo-auditable rows of the executable, read once per binary.
    fn binary(&mut self, proc_dir: &Path) -> Vec<Found> {
        let Some((exe, id)) = open_exe(proc_dir.join("exe")) else {
            return Vec::new();
        };
        let key = Some((ASKED_BINARY, (id, PathBuf::new())));
        if let Some(Cached::Rows(rows)) = key.as_ref().and_then(|k| self.paths.get(k)) {
            return rows.clone();
        }
        let rows = file::run_bounded(move || Ok(elf_rows(exe))).unwrap_or_default();
        self.remember(key, Cached::Rows(rows.clone()));
        rows
    }
}

/// One row per SDK: the first seen wins.
fn dedupe(found: Vec<Found>) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    for row in found {
        if !out.iter().any(|f| f.sdk == row.sdk) {
            out.push(row);
        }
    }
    out
}

/// At most [`MAX_CHARS`] characters.
fn cap(text: &str) -> String {
    text.chars().take(MAX_CHARS).collect()
}

fn found(sdk: Sdk, version: &str, evidence: &str, exactness: Exactness) -> Found {
    Found {
        sdk,
        version: cap(version),
        evidence: cap(evidence),
        exactness,
    }
}

/// A version worth reporting: it starts with a digit (not `(devel)`, not empty).
fn plausible_version(version: &str) -> bool {
    version.starts_with(|c: char| c.is_ascii_digit())
        && !version.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn read_link(path: &Path) -> Option<PathBuf> {
    std::fs::read_link(path).ok()
}

/// A `/proc` link target's file name, without the kernel's ` (deleted)` mark.
fn link_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    Some(match name.strip_suffix(" (deleted)") {
        Some(kept) => kept.to_string(),
        None => name,
    })
}

/// The file names of the executable and of argv[0].
fn program_names(view: &View) -> (Option<String>, Option<String>) {
    let exe = read_link(&view.proc_dir.join("exe")).and_then(|p| link_name(&p));
    let arg0 = view
        .argv
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned());
    (exe, arg0)
}

fn is_python(name: &str) -> bool {
    name.starts_with("python")
}

/// The JVM launcher (`java`, as `exec java -jar app.jar` leaves it).
fn is_java(name: &str) -> bool {
    name == "java"
}

fn is_node(name: &str) -> bool {
    name == "node" || name == "nodejs"
}

/// The identity of the process's root folder, for the caches (none: nothing is cached).
fn root_id(env: &Env) -> Option<Id> {
    let root = env.root().unwrap_or(Path::new("/")).to_path_buf();
    file::run_bounded(move || {
        let meta = std::fs::metadata(&root).map_err(FileError::Io)?;
        Ok((meta.dev(), meta.ino()))
    })
    .ok()
}

/// Removes `.` and resolves `..` by name (no link is followed): `/venv/bin/..` → `/venv`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` as the process names it, made absolute against its cwd when that is known.
fn in_process(ctx: &Ctx, path: &str) -> PathBuf {
    match &ctx.cwd {
        Some(cwd) if !path.starts_with('/') => normalize(&cwd.join(path)),
        _ => normalize(Path::new(path)),
    }
}

#[cfg(test)]
mod tests;
