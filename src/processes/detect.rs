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
//! Reads no env vars of credcheck's own: only the evaluated process's environment ([`View`]).

use super::minimums::Sdk;
use crate::env::Env;
use crate::file::{self, FileError};
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

// ---------------------------------------------------------------------------------------------
// The executable: Go build info and cargo-auditable.

/// Opens `/proc/PID/exe` (the binary itself, even if deleted) if it is a regular file.
fn open_exe(exe: PathBuf) -> Option<(File, Id)> {
    file::run_bounded(move || {
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NONBLOCK)
            .open(&exe)
            .map_err(FileError::Io)?;
        let meta = opened.metadata().map_err(FileError::Io)?;
        file::ensure_regular(&meta, u64::MAX)?;
        Ok((opened, (meta.dev(), meta.ino())))
    })
    .ok()
}

/// The two sections that name dependencies, each at most [`SECTION_CAP`] bytes.
#[derive(Default)]
struct Sections {
    go_buildinfo: Option<Vec<u8>>,
    dep_v0: Option<Vec<u8>>,
}

/// The rows the executable's ELF sections give; only the headers, the section names and
/// those two sections are read, never the whole binary.
fn elf_rows(exe: File) -> Vec<Found> {
    let Some(sections) = elf_sections(&exe) else {
        return Vec::new();
    };
    let mut rows = sections
        .go_buildinfo
        .map(|data| parse_buildinfo(&data))
        .unwrap_or_default();
    rows.extend(
        sections
            .dep_v0
            .map(|data| parse_dep_v0(&data))
            .unwrap_or_default(),
    );
    rows
}

/// At most this many section headers are read (64 bytes each).
const MAX_SECTIONS: u64 = 4096;
/// `SHT_NOBITS`: a section with no bytes in the file (`.bss`).
const SHT_NOBITS: u32 = 8;

/// The two sections, by name, of a 64-bit ELF (the ELF-64 Object File Format, version 1.5:
/// the file header's `e_shoff`, `e_shentsize`, `e_shnum` and `e_shstrndx`; each section
/// header's `sh_name`, `sh_type`, `sh_offset`, `sh_size`; names in the `e_shstrndx` string
/// table). Only 64-bit: the platforms credcheck runs on (x86_64, aarch64) run no 32-bit
/// container images. Written here rather than with the `object` crate, whose generic reader
/// cost ~17 KB of the 6,300,000-byte budget (issue 22): every offset and size is checked, and
/// every read is positioned and capped.
fn elf_sections(exe: &File) -> Option<Sections> {
    let head = read_at(exe, 0, 64)?;
    if head.get(..4)? != b"\x7fELF" || head[4] != 2 {
        return None;
    }
    let le = match head[5] {
        1 => true,
        2 => false,
        _ => return None,
    };
    let u16_at = |b: &[u8], at: usize| -> Option<u64> {
        let x: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(u64::from(if le {
            u16::from_le_bytes(x)
        } else {
            u16::from_be_bytes(x)
        }))
    };
    let u32_at = |b: &[u8], at: usize| -> Option<u64> {
        let x: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(u64::from(if le {
            u32::from_le_bytes(x)
        } else {
            u32::from_be_bytes(x)
        }))
    };
    let u64_at = |b: &[u8], at: usize| -> Option<u64> {
        let x: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if le {
            u64::from_le_bytes(x)
        } else {
            u64::from_be_bytes(x)
        })
    };
    let (shoff, entsize) = (u64_at(&head, 0x28)?, u16_at(&head, 0x3a)?);
    let (count, names_at) = (u16_at(&head, 0x3c)?.min(MAX_SECTIONS), u16_at(&head, 0x3e)?);
    if entsize < 64 || names_at >= count {
        return None;
    }
    let table = read_at(exe, shoff, entsize.checked_mul(count)?)?;
    let header = |i: u64| table.get((i * entsize) as usize..(i * entsize + 64) as usize);
    // (name offset, type, file offset, size) of section `i`.
    let fields = |i: u64| -> Option<(u64, u64, u64, u64)> {
        let h = header(i)?;
        Some((u32_at(h, 0)?, u32_at(h, 4)?, u64_at(h, 24)?, u64_at(h, 32)?))
    };
    let (_, _, names_off, names_size) = fields(names_at)?;
    let names = read_at(exe, names_off, names_size.min(SECTION_CAP))?;
    let mut out = Sections::default();
    for i in 0..count {
        let Some((name, kind, offset, size)) = fields(i) else {
            continue;
        };
        let name = names.get(name as usize..).unwrap_or_default();
        let name = &name[..name.iter().position(|b| *b == 0).unwrap_or(name.len())];
        let bytes = || (kind != u64::from(SHT_NOBITS)).then_some((offset, size));
        match name {
            b".go.buildinfo" if out.go_buildinfo.is_none() => {
                // The header is at the start: a longer section is cut, not refused.
                out.go_buildinfo = section_bytes(exe, bytes(), true);
            }
            b".dep-v0" if out.dep_v0.is_none() => {
                // Compressed: a cut blob does not inflate, so a larger one is refused.
                out.dep_v0 = section_bytes(exe, bytes(), false);
            }
            _ => {}
        }
    }
    Some(out)
}

/// `len` bytes at `offset` (`None` when the file is shorter or `len` is over the cap).
fn read_at(file: &File, offset: u64, len: u64) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    if len > SECTION_CAP.max(MAX_SECTIONS * 64) {
        return None;
    }
    let mut buf = vec![0; len as usize];
    file.read_exact_at(&mut buf, offset).ok()?;
    Some(buf)
}

/// A section's bytes (`None` for one with no bytes in the file, `SHT_NOBITS`): the first
/// [`SECTION_CAP`] when `cut`, else nothing when it is larger.
fn section_bytes(file: &File, range: Option<(u64, u64)>, cut: bool) -> Option<Vec<u8>> {
    let (offset, size) = range?;
    if size > SECTION_CAP && !cut {
        return None;
    }
    read_at(file, offset, size.min(SECTION_CAP))
}

/// Go build info's magic (`src/debug/buildinfo/buildinfo.go`, `buildInfoMagic`).
const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// The header before the inline strings (`buildInfoHeaderSize`).
const GO_HEADER: usize = 32;
/// Where the header may start (`buildInfoAlign`).
const GO_ALIGN: usize = 16;
/// The flag saying the strings follow the header inline (Go 1.18 on).
const GO_FLAG_INLINE: u8 = 2;
/// Module info's sentinels (cmd/go/internal/modload `infoStart`, `infoEnd`), 16 bytes each.
const GO_SENTINEL: usize = 16;

/// The SDK rows of a `.go.buildinfo` section's bytes.
///
/// The format, after Go's `src/debug/buildinfo/buildinfo.go` (Go ≥ 1.18): a 32-byte header
/// starting with `\xff Go buildinf:` (14 bytes), a pointer-size byte and a flags byte; with
/// `flags & 2` the Go version and the module info follow inline, each a uvarint length and
/// the bytes. The module info is framed by a 16-byte sentinel at each end (stripped when it is
/// at least 33 bytes and the byte before the end sentinel is `\n`, as Go does). The older
/// pointer format (flags & 2 == 0) gives nothing: unknown, not guessed.
fn parse_buildinfo(data: &[u8]) -> Vec<Found> {
    match buildinfo_modinfo(data) {
        Some(modinfo) => go_modules(&String::from_utf8_lossy(modinfo)),
        None => Vec::new(),
    }
}

/// The module info of the first build info header found at a 16-byte boundary.
fn buildinfo_modinfo(data: &[u8]) -> Option<&[u8]> {
    let start = (0..data.len())
        .step_by(GO_ALIGN)
        .find(|&at| data[at..].starts_with(GO_MAGIC))?;
    let header = data.get(start..start.checked_add(GO_HEADER)?)?;
    if header[GO_MAGIC.len() + 1] & GO_FLAG_INLINE == 0 {
        return None;
    }
    let (_go_version, rest) = go_string(&data[start + GO_HEADER..])?;
    let (modinfo, _) = go_string(rest)?;
    let n = modinfo.len();
    if n > 2 * GO_SENTINEL && modinfo[n - GO_SENTINEL - 1] == b'\n' {
        Some(&modinfo[GO_SENTINEL..n - GO_SENTINEL])
    } else {
        None
    }
}

/// A uvarint length and that many bytes (Go's `decodeString`); `None` when cut or absurd.
fn go_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, used) = uvarint(data)?;
    let rest = &data[used..];
    let len = usize::try_from(len).ok().filter(|&l| l <= rest.len())?;
    Some(rest.split_at(len))
}

/// Go's `binary.Uvarint`: at most 10 bytes, `None` on overflow or when cut.
fn uvarint(data: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in data.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((value, i + 1));
        }
    }
    None
}

/// The Go module paths that name an SDK.
fn go_sdk(module: &str) -> Option<Sdk> {
    match module {
        "github.com/aws/aws-sdk-go" => Some(Sdk::GoV1),
        "github.com/aws/aws-sdk-go-v2/credentials" => Some(Sdk::GoV2Credentials),
        "github.com/aws/aws-sdk-go-v2/config" => Some(Sdk::GoV2Config),
        "github.com/aws/aws-sdk-go-v2/feature/ec2/imds" => Some(Sdk::GoV2Imds),
        _ => None,
    }
}

/// A module line of the build info: `mod`/`dep` path version sum.
struct GoModule<'a> {
    kind: &'a str,
    path: &'a str,
    version: &'a str,
}

/// The SDK rows of module info text: `dep`/`mod` lines, each `=>` line replacing the module
/// of the line before it (a replacement without a version, a local folder, is unknown).
fn go_modules(modinfo: &str) -> Vec<Found> {
    let mut rows = Vec::new();
    let mut last: Option<(Sdk, GoModule)> = None;
    for line in modinfo.lines() {
        let mut fields = line.split('\t');
        let kind = fields.next().unwrap_or_default();
        let path = fields.next().unwrap_or_default();
        let version = fields.next().unwrap_or_default();
        let module = GoModule {
            kind,
            path,
            version,
        };
        match kind {
            "mod" | "dep" => {
                rows.extend(last.take().and_then(|(sdk, m)| go_row(sdk, &m, None)));
                last = go_sdk(path).map(|sdk| (sdk, module));
            }
            "=>" => {
                rows.extend(
                    last.take()
                        .and_then(|(sdk, m)| go_row(sdk, &m, Some(&module))),
                );
            }
            _ => {}
        }
    }
    rows.extend(last.take().and_then(|(sdk, m)| go_row(sdk, &m, None)));
    rows
}

fn go_row(sdk: Sdk, module: &GoModule, replaced_by: Option<&GoModule>) -> Option<Found> {
    let used = replaced_by.unwrap_or(module);
    let version = used.version.strip_prefix('v').unwrap_or(used.version);
    if !plausible_version(version) {
        return None;
    }
    let mut evidence = format!(
        "Go build info: {} {} {}",
        module.kind, module.path, module.version
    );
    if let Some(by) = replaced_by {
        evidence.push_str(&format!(" => {} {}", by.path, by.version));
    }
    Some(found(sdk, version, &evidence, Exactness::Exact))
}

/// cargo-auditable's package list (only what is used here; other fields are ignored).
#[derive(serde::Deserialize)]
struct AuditInfo {
    packages: Vec<AuditPackage>,
}

#[derive(serde::Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
}

/// The SDK rows of a `.dep-v0` section: zlib-compressed JSON `{"packages":[{"name", "version",
/// ...}]}`, inflated to at most [`DEP_JSON_CAP`] bytes.
fn parse_dep_v0(data: &[u8]) -> Vec<Found> {
    let Ok(json) = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(data, DEP_JSON_CAP)
    else {
        return Vec::new();
    };
    let Ok(info) = serde_json::from_slice::<AuditInfo>(&json) else {
        return Vec::new();
    };
    info.packages
        .iter()
        .filter(|p| p.name == "aws-config" && plausible_version(&p.version))
        .map(|p| {
            let evidence = format!("cargo-auditable: {} {}", p.name, p.version);
            found(Sdk::RustAwsConfig, &p.version, &evidence, Exactness::Exact)
        })
        .take(1)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Java: the jars the JVM has open or mapped.

fn java(proc_dir: &Path) -> Vec<Found> {
    let open = open_files(proc_dir).into_iter().map(|p| ("open", p));
    let mapped = mapped_files(proc_dir).into_iter().map(|p| ("mapped", p));
    open.chain(mapped)
        .filter_map(|(how, path)| {
            let (sdk, version) = jar_sdk(&link_name(Path::new(&path))?)?;
            let evidence = format!("{how} jar {path}");
            Some(found(sdk, &version, &evidence, Exactness::Exact))
        })
        .collect()
}

/// The `.jar` targets of `/proc/PID/fd/*` (at most [`MAX_FDS`] looked at).
fn open_files(proc_dir: &Path) -> Vec<String> {
    let fd_dir = proc_dir.join("fd");
    let Ok(fds) = file::list_dir(&fd_dir, MAX_FDS) else {
        return Vec::new();
    };
    fds.iter()
        .filter_map(|fd| read_link(&fd_dir.join(fd)))
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| is_jar(target))
        .collect()
}

/// The `.jar` paths of `/proc/PID/maps` (its first [`MAPS_CAP`] bytes).
fn mapped_files(proc_dir: &Path) -> Vec<String> {
    let Ok(maps) = file::read_head(&proc_dir.join("maps"), MAPS_CAP) else {
        return Vec::new();
    };
    let mut paths: Vec<String> = String::from_utf8_lossy(&maps)
        .lines()
        .filter_map(|line| line.find('/').map(|at| line[at..].to_string()))
        .filter(|path| is_jar(path))
        .collect();
    paths.dedup();
    paths
}

fn is_jar(path: &str) -> bool {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    path.ends_with(".jar")
}

/// The SDK and version a jar's file name gives: `aws-java-sdk-core-1.12.500.jar` (and the
/// v1 bundle, which contains it) → Java v1; `sdk-core-2.21.0.jar` → Java v2.
fn jar_sdk(file_name: &str) -> Option<(Sdk, String)> {
    let stem = file_name.strip_suffix(".jar")?;
    let (sdk, version) = [
        ("aws-java-sdk-core-", Sdk::JavaV1),
        ("aws-java-sdk-bundle-", Sdk::JavaV1),
        ("sdk-core-", Sdk::JavaV2),
    ]
    .into_iter()
    .find_map(|(prefix, sdk)| stem.strip_prefix(prefix).map(|v| (sdk, v)))?;
    plausible_version(version).then(|| (sdk, cap(version)))
}

// ---------------------------------------------------------------------------------------------
// Python: botocore in the first site folder the interpreter would search.

/// A folder the interpreter searches, as the process names it, and why.
struct SiteDir {
    dir: PathBuf,
    why: &'static str,
}

/// `3.11` of `python3.11` (`python3.11-config` and the like are not interpreters).
fn python_minor(name: &str) -> Option<u32> {
    name.strip_prefix("python3.")?.parse().ok()
}

impl Detector {
    fn python(&mut self, ctx: &Ctx, prefer: Option<&str>) -> Option<Found> {
        for site in self.site_dirs(ctx, prefer) {
            let names = self.listing(ctx, &site.dir, Keep::Botocore);
            let best = names
                .iter()
                .filter_map(|name| botocore_version(name).map(|v| (name, v)))
                .max_by(|a, b| {
                    super::minimums::compare(a.1, b.1).unwrap_or(std::cmp::Ordering::Equal)
                });
            if let Some((name, version)) = best {
                let evidence = format!("{name} in {} ({})", site.dir.display(), site.why);
                return Some(found(
                    Sdk::Botocore,
                    version,
                    &evidence,
                    Exactness::Inferred,
                ));
            }
        }
        None
    }

    /// The candidate site folders, in the order Python searches them.
    fn site_dirs(&mut self, ctx: &Ctx, prefer: Option<&str>) -> Vec<SiteDir> {
        let env = ctx.view.env;
        let mut dirs = Vec::new();
        let python_path = env.get("PYTHONPATH").unwrap_or_default();
        for entry in python_path.split(':').filter(|e| !e.is_empty()) {
            let dir = in_process(ctx, entry);
            dirs.push(SiteDir {
                dir,
                why: "PYTHONPATH",
            });
            if dirs.len() >= MAX_PATH_ENTRIES {
                break;
            }
        }
        let venv = self.venv(ctx);
        let mut system = true;
        if let Some((venv, with_system)) = &venv {
            system = *with_system;
            self.push_lib_dirs(ctx, &mut dirs, venv, "site-packages", prefer, "venv");
        }
        if let Some(virtual_env) = env.non_blank("VIRTUAL_ENV") {
            let dir = in_process(ctx, virtual_env);
            self.push_lib_dirs(ctx, &mut dirs, &dir, "site-packages", prefer, "VIRTUAL_ENV");
        }
        if !system {
            return dirs;
        }
        if let Some(home) = env.home() {
            let local = home.join(".local");
            self.push_lib_dirs(ctx, &mut dirs, &local, "site-packages", prefer, "user site");
        }
        let usr_local = Path::new("/usr/local");
        self.push_lib_dirs(ctx, &mut dirs, usr_local, "site-packages", prefer, "system");
        // Debian's own python puts pip's installs here.
        self.push_lib_dirs(ctx, &mut dirs, usr_local, "dist-packages", prefer, "system");
        dirs.push(SiteDir {
            dir: PathBuf::from("/usr/lib/python3/dist-packages"),
            why: "system",
        });
        self.push_lib_dirs(
            ctx,
            &mut dirs,
            Path::new("/usr"),
            "site-packages",
            prefer,
            "system",
        );
        dirs
    }

    /// `<prefix>/lib/python3.*/<leaf>`: the interpreter's own minor version first, then the
    /// newest.
    fn push_lib_dirs(
        &mut self,
        ctx: &Ctx,
        dirs: &mut Vec<SiteDir>,
        prefix: &Path,
        leaf: &str,
        prefer: Option<&str>,
        why: &'static str,
    ) {
        let lib = prefix.join("lib");
        let mut names = self.listing(ctx, &lib, Keep::PythonLibs);
        names.sort_by_key(|name| {
            (
                Some(name.as_str()) != prefer,
                std::cmp::Reverse(python_minor(name)),
            )
        });
        for name in names {
            let dir = lib.join(name).join(leaf);
            if !dirs.iter().any(|d| d.dir == dir) {
                dirs.push(SiteDir { dir, why });
            }
        }
    }

    /// The venv the interpreter runs in (`pyvenv.cfg` beside its folder or in its parent, as
    /// Python looks), and whether it includes the system site folders.
    fn venv(&mut self, ctx: &Ctx) -> Option<(PathBuf, bool)> {
        let program = self.interpreter_path(ctx)?;
        let bin = program.parent()?;
        let candidates = [bin.to_path_buf(), bin.parent()?.to_path_buf()];
        let root = candidates
            .into_iter()
            .find(|dir| self.exists(ctx, &dir.join("pyvenv.cfg")))?;
        let cfg = ctx
            .view
            .env
            .read_file(&root.join("pyvenv.cfg"), PYVENV_CAP)
            .unwrap_or_default();
        Some((root, includes_system_site(&String::from_utf8_lossy(&cfg))))
    }

    /// argv[0] as a path: as given when it has a `/`, else found on the process's `PATH`.
    fn interpreter_path(&mut self, ctx: &Ctx) -> Option<PathBuf> {
        let arg0 = ctx.view.argv.first()?;
        if arg0.contains('/') {
            return Some(in_process(ctx, arg0));
        }
        let path = ctx.view.env.get("PATH")?;
        path.split(':')
            .filter(|e| e.starts_with('/'))
            .take(MAX_PATH_ENTRIES)
            .map(|entry| normalize(&Path::new(entry).join(arg0)))
            .find(|candidate| self.exists(ctx, candidate))
    }

    /// Names in a folder of the process's view that `keep` wants, listed once per root.
    fn listing(&mut self, ctx: &Ctx, dir: &Path, keep: Keep) -> Vec<String> {
        let key = ctx.root.map(|root| (keep as u8, (root, dir.to_path_buf())));
        if let Some(Cached::Names(names)) = key.as_ref().and_then(|k| self.paths.get(k)) {
            return names.clone();
        }
        let max = match keep {
            Keep::PythonLibs => MAX_LIB_ENTRIES,
            Keep::Botocore => MAX_SITE_ENTRIES,
        };
        let names: Vec<String> = ctx
            .view
            .env
            .list_dir(dir, max)
            .unwrap_or_default()
            .into_iter()
            .filter(|name| match keep {
                Keep::PythonLibs => python_minor(name).is_some(),
                Keep::Botocore => botocore_version(name).is_some(),
            })
            .map(|name| cap(&name))
            .collect();
        self.remember(key, Cached::Names(names.clone()));
        names
    }

    /// Whether a path of the process's view exists (checked once per root).
    fn exists(&mut self, ctx: &Ctx, path: &Path) -> bool {
        let key = ctx
            .root
            .map(|root| (ASKED_EXISTS, (root, path.to_path_buf())));
        if let Some(Cached::There(known)) = key.as_ref().and_then(|k| self.paths.get(k)) {
            return *known;
        }
        let host = ctx.view.env.host_path(path);
        let there =
            file::run_bounded(move || std::fs::metadata(&host).map_err(FileError::Io)).is_ok();
        self.remember(key, Cached::There(there));
        there
    }

    fn remember(&mut self, key: Option<(u8, RootedPath)>, answer: Cached) {
        if let Some(key) = key.filter(|_| self.paths.len() < MAX_CACHED) {
            self.paths.insert(key, answer);
        }
    }
}

/// `include-system-site-packages = true` in a `pyvenv.cfg`.
fn includes_system_site(cfg: &str) -> bool {
    cfg.lines().any(|line| {
        let mut parts = line.splitn(2, '=');
        let key = parts.next().unwrap_or_default().trim();
        let value = parts.next().unwrap_or_default().trim();
        key.eq_ignore_ascii_case("include-system-site-packages")
            && value.eq_ignore_ascii_case("true")
    })
}

/// The version a `botocore-<ver>.dist-info` or `botocore-<ver>[-py3.X].egg-info` names.
fn botocore_version(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("botocore-")?;
    let version = match rest.strip_suffix(".dist-info") {
        Some(version) => version,
        None => {
            let egg = rest.strip_suffix(".egg-info")?;
            egg.split_once("-py").map_or(egg, |(version, _)| version)
        }
    };
    plausible_version(version).then_some(version)
}

// ---------------------------------------------------------------------------------------------
// Node: node_modules above the cwd and the script.

/// The packages that name a JS SDK, under a `node_modules` folder.
const NODE_PACKAGES: [(&str, Sdk); 2] = [
    ("@aws-sdk/credential-provider-node", Sdk::JsV3),
    ("aws-sdk", Sdk::JsV2),
];

impl Detector {
    fn node(&mut self, ctx: &Ctx) -> Vec<Found> {
        let mut rows = Vec::new();
        for dir in node_dirs(ctx) {
            for (package, sdk) in NODE_PACKAGES {
                if rows.iter().any(|f: &Found| f.sdk == sdk) {
                    continue;
                }
                let json = dir.join("node_modules").join(package).join("package.json");
                if let Some(version) = self.package_version(ctx, &json) {
                    let evidence = format!(
                        "node_modules/{package}/package.json {version} under {}",
                        dir.display()
                    );
                    rows.push(found(sdk, &version, &evidence, Exactness::Inferred));
                }
            }
        }
        rows
    }

    /// A `package.json`'s `"version"`, read once per root.
    fn package_version(&mut self, ctx: &Ctx, json: &Path) -> Option<String> {
        let key = ctx
            .root
            .map(|root| (ASKED_VERSION, (root, json.to_path_buf())));
        if let Some(Cached::Version(known)) = key.as_ref().and_then(|k| self.paths.get(k)) {
            return known.clone();
        }
        let version = ctx
            .view
            .env
            .read_file(json, PACKAGE_JSON_CAP)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|value| value.get("version")?.as_str().map(cap))
            .filter(|version| plausible_version(version));
        self.remember(key, Cached::Version(version.clone()));
        version
    }
}

/// The cwd and the script's folder, each with its parents (at most [`NODE_LEVELS`] folders
/// from each), nearest first, without repeats.
fn node_dirs(ctx: &Ctx) -> Vec<PathBuf> {
    let script = ctx
        .view
        .argv
        .iter()
        .skip(1)
        .find(|arg| !arg.starts_with('-') && !arg.is_empty())
        .map(|arg| in_process(ctx, arg))
        .filter(|path| path.is_absolute())
        .and_then(|path| path.parent().map(Path::to_path_buf));
    let mut dirs: Vec<PathBuf> = Vec::new();
    for start in [ctx.cwd.clone(), script].into_iter().flatten() {
        for dir in start.ancestors().take(NODE_LEVELS) {
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_path_buf());
            }
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Go's `infoStart` and `infoEnd` (cmd/go/internal/modload).
    const INFO_START: &[u8] = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6";
    const INFO_END: &[u8] = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2";

    fn put_uvarint(out: &mut Vec<u8>, mut value: u64) {
        while value >= 0x80 {
            out.push((value as u8) | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    /// A `.go.buildinfo` section as Go ≥ 1.18 writes it, after `pad` bytes of zeros.
    fn buildinfo_with(pad: usize, flags: u8, modinfo: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; pad];
        out.extend_from_slice(GO_MAGIC);
        out.push(8);
        out.push(flags);
        out.resize(pad + GO_HEADER, 0);
        let version = b"go1.21.5";
        put_uvarint(&mut out, version.len() as u64);
        out.extend_from_slice(version);
        put_uvarint(&mut out, modinfo.len() as u64);
        out.extend_from_slice(modinfo);
        out
    }

    fn framed(text: &str) -> Vec<u8> {
        [INFO_START, text.as_bytes(), INFO_END].concat()
    }

    fn buildinfo(text: &str) -> Vec<u8> {
        buildinfo_with(0, GO_FLAG_INLINE, &framed(text))
    }

    const MODINFO: &str = "path\texample.com/app\n\
        mod\texample.com/app\t(devel)\t\n\
        dep\tgithub.com/aws/aws-sdk-go\tv1.47.10\th1:abc=\n\
        dep\tgithub.com/aws/aws-sdk-go-v2/config\tv1.25.12\th1:def=\n\
        dep\tgithub.com/aws/aws-sdk-go-v2/credentials\tv1.16.10\th1:ghi=\n\
        dep\tgithub.com/aws/aws-sdk-go-v2/feature/ec2/imds\tv1.14.9\th1:jkl=\n\
        dep\tgithub.com/jmespath/go-jmespath\tv0.4.0\th1:mno=\n\
        build\t-compiler=gc\n";

    fn by_sdk(rows: &[Found], sdk: Sdk) -> Option<&Found> {
        rows.iter().find(|f| f.sdk == sdk)
    }

    #[test]
    fn buildinfo_inline_format_names_every_sdk_module() {
        let rows = parse_buildinfo(&buildinfo(MODINFO));
        assert_eq!(rows.len(), 4, "{rows:?}");
        let v1 = by_sdk(&rows, Sdk::GoV1).unwrap();
        assert_eq!(v1.version, "1.47.10");
        assert_eq!(
            v1.evidence,
            "Go build info: dep github.com/aws/aws-sdk-go v1.47.10"
        );
        assert_eq!(v1.exactness, Exactness::Exact);
        assert_eq!(by_sdk(&rows, Sdk::GoV2Config).unwrap().version, "1.25.12");
        assert_eq!(
            by_sdk(&rows, Sdk::GoV2Credentials).unwrap().version,
            "1.16.10"
        );
        assert_eq!(by_sdk(&rows, Sdk::GoV2Imds).unwrap().version, "1.14.9");
    }

    #[test]
    fn buildinfo_header_is_found_at_a_16_byte_boundary_only() {
        let rows = parse_buildinfo(&buildinfo_with(48, GO_FLAG_INLINE, &framed(MODINFO)));
        assert_eq!(rows.len(), 4);
        assert!(parse_buildinfo(&buildinfo_with(8, GO_FLAG_INLINE, &framed(MODINFO))).is_empty());
    }

    #[test]
    fn buildinfo_replacement_line_replaces_the_previous_dep() {
        let text = "path\tx\n\
            dep\tgithub.com/aws/aws-sdk-go\tv1.44.0\th1:a=\n\
            =>\tgithub.com/fork/aws-sdk-go\tv1.50.1\th1:b=\n\
            dep\tgithub.com/aws/aws-sdk-go-v2/config\tv1.18.0\th1:c=\n\
            =>\t../local/config\t\t\n\
            dep\tgithub.com/other/thing\tv9.9.9\th1:d=\n\
            =>\tgithub.com/aws/aws-sdk-go-v2/credentials\tv1.0.0\th1:e=\n";
        let rows = parse_buildinfo(&buildinfo(text));
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].sdk, Sdk::GoV1);
        assert_eq!(rows[0].version, "1.50.1");
        assert_eq!(
            rows[0].evidence,
            "Go build info: dep github.com/aws/aws-sdk-go v1.44.0 => github.com/fork/aws-sdk-go v1.50.1"
        );
    }

    #[test]
    fn buildinfo_without_inline_strings_or_framing_is_unknown() {
        // The pre-1.18 pointer format: never guessed.
        assert!(parse_buildinfo(&buildinfo_with(0, 0, &framed(MODINFO))).is_empty());
        // No sentinels.
        assert!(parse_buildinfo(&buildinfo_with(0, 2, MODINFO.as_bytes())).is_empty());
        // Framed, but no newline before the end sentinel.
        let bad = framed(MODINFO.trim_end());
        assert!(parse_buildinfo(&buildinfo_with(0, 2, &bad)).is_empty());
        assert!(parse_buildinfo(&buildinfo_with(0, 2, &[])).is_empty());
        assert!(parse_buildinfo(b"").is_empty());
        // The main module at `(devel)` is not a version.
        let devel = "mod\tgithub.com/aws/aws-sdk-go\t(devel)\t\n";
        assert!(parse_buildinfo(&buildinfo(devel)).is_empty());
    }

    #[test]
    fn buildinfo_truncated_or_garbage_input_gives_nothing() {
        let whole = buildinfo(MODINFO);
        for end in 0..whole.len() {
            assert!(parse_buildinfo(&whole[..end]).is_empty(), "cut at {end}");
        }
        // Deterministic noise, with and without a header in front of it.
        let mut state: u32 = 0x1234_5678;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect();
        assert!(parse_buildinfo(&noise).is_empty());
        let mut headed = buildinfo_with(0, GO_FLAG_INLINE, &[]);
        headed.truncate(GO_HEADER);
        headed.extend_from_slice(&noise);
        let _ = parse_buildinfo(&headed);
        // Not valid UTF-8 inside the module info: decoded lossily, never a panic.
        let mut text = MODINFO.as_bytes().to_vec();
        text.splice(0..0, [0xff, 0xfe, b'\n']);
        assert_eq!(
            parse_buildinfo(&buildinfo_with(0, 2, &framed_bytes(&text))).len(),
            4
        );
    }

    fn framed_bytes(text: &[u8]) -> Vec<u8> {
        [INFO_START, text, INFO_END].concat()
    }

    #[test]
    fn buildinfo_huge_varint_is_refused() {
        let mut header = buildinfo_with(0, GO_FLAG_INLINE, &[]);
        header.truncate(GO_HEADER);
        // Length u64::MAX: more than the data.
        let mut huge = header.clone();
        huge.extend_from_slice(&[0xff; 9]);
        huge.push(0x01);
        huge.extend_from_slice(&[b'a'; 64]);
        assert!(parse_buildinfo(&huge).is_empty());
        // Overflowing (10th byte > 1) and over-long (11 bytes) varints.
        let mut overflow = header.clone();
        overflow.extend_from_slice(&[0xff; 9]);
        overflow.push(0x02);
        assert!(parse_buildinfo(&overflow).is_empty());
        let mut long = header;
        long.extend_from_slice(&[0x80; 11]);
        long.push(0);
        assert!(parse_buildinfo(&long).is_empty());
        assert_eq!(uvarint(&[0xac, 0x02]), Some((300, 2)));
        assert_eq!(uvarint(&[0x80]), None);
        assert_eq!(uvarint(&[]), None);
        let mut max = vec![0xff; 9];
        max.push(0x01);
        assert_eq!(uvarint(&max), Some((u64::MAX, 10)));
    }

    fn dep_v0(json: &str) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec_zlib(json.as_bytes(), 6)
    }

    const AUDIT_JSON: &str = r#"{"packages":[
        {"name":"app","version":"0.1.0","source":"local","root":true,"dependencies":[1,2]},
        {"name":"aws-config","version":"1.5.0","source":"crates.io","dependencies":[2]},
        {"name":"aws-types","version":"1.3.1","source":"crates.io"}
    ]}"#;

    #[test]
    fn dep_v0_names_aws_config() {
        let rows = parse_dep_v0(&dep_v0(AUDIT_JSON));
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].sdk, Sdk::RustAwsConfig);
        assert_eq!(rows[0].version, "1.5.0");
        assert_eq!(rows[0].evidence, "cargo-auditable: aws-config 1.5.0");
        assert_eq!(rows[0].exactness, Exactness::Exact);
    }

    #[test]
    fn dep_v0_garbage_or_too_large_gives_nothing() {
        assert!(parse_dep_v0(b"").is_empty());
        assert!(parse_dep_v0(AUDIT_JSON.as_bytes()).is_empty());
        assert!(parse_dep_v0(&dep_v0("not json")).is_empty());
        assert!(parse_dep_v0(&dep_v0(r#"{"packages":{}}"#)).is_empty());
        assert!(parse_dep_v0(&dep_v0(r#"{"packages":[]}"#)).is_empty());
        let cut = dep_v0(AUDIT_JSON);
        assert!(parse_dep_v0(&cut[..cut.len() / 2]).is_empty());
        // Inflates past the limit.
        let mut big = String::from(r#"{"packages":[{"name":"aws-config","version":"1.5.0"}]}"#);
        big.push_str(&" ".repeat(DEP_JSON_CAP));
        let blob = miniz_oxide::deflate::compress_to_vec_zlib(big.as_bytes(), 1);
        assert!(parse_dep_v0(&blob).is_empty());
    }

    /// A minimal little-endian ELF64 with the given sections (name, bytes).
    fn elf64(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut shstrtab = vec![0u8];
        let mut names = Vec::new();
        for (name, _) in sections.iter().copied().chain([(".shstrtab", &[][..])]) {
            names.push(shstrtab.len() as u32);
            shstrtab.extend_from_slice(name.as_bytes());
            shstrtab.push(0);
        }
        let mut out = vec![0u8; 64];
        let mut ranges = Vec::new();
        for (_, data) in sections {
            ranges.push((out.len() as u64, data.len() as u64));
            out.extend_from_slice(data);
        }
        ranges.push((out.len() as u64, shstrtab.len() as u64));
        out.extend_from_slice(&shstrtab);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let shoff = out.len() as u64;
        out.extend_from_slice(&[0u8; 64]); // the null section
        for (i, (offset, size)) in ranges.iter().enumerate() {
            let kind: u32 = if i == sections.len() { 3 } else { 1 };
            out.extend_from_slice(&names[i].to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes()); // flags
            out.extend_from_slice(&0u64.to_le_bytes()); // addr
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&[0u8; 8]); // link, info
            out.extend_from_slice(&1u64.to_le_bytes()); // addralign
            out.extend_from_slice(&0u64.to_le_bytes()); // entsize
        }
        let shnum = (sections.len() + 2) as u16;
        let mut header = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        header.resize(16, 0);
        header.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        header.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        header.extend_from_slice(&1u32.to_le_bytes());
        header.extend_from_slice(&0u64.to_le_bytes()); // entry
        header.extend_from_slice(&0u64.to_le_bytes()); // phoff
        header.extend_from_slice(&shoff.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes()); // flags
        header.extend_from_slice(&64u16.to_le_bytes()); // ehsize
        header.extend_from_slice(&56u16.to_le_bytes()); // phentsize
        header.extend_from_slice(&0u16.to_le_bytes()); // phnum
        header.extend_from_slice(&64u16.to_le_bytes()); // shentsize
        header.extend_from_slice(&shnum.to_le_bytes());
        header.extend_from_slice(&(shnum - 1).to_le_bytes()); // shstrndx
        out[..64].copy_from_slice(&header);
        out
    }

    #[test]
    fn elf_sections_are_read_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app");
        let go = buildinfo(MODINFO);
        let dep = dep_v0(AUDIT_JSON);
        std::fs::write(
            &path,
            elf64(&[
                (".text", b"\x90\x90"),
                (".go.buildinfo", &go),
                (".dep-v0", &dep),
            ]),
        )
        .unwrap();
        let rows = elf_rows(File::open(&path).unwrap());
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert!(by_sdk(&rows, Sdk::RustAwsConfig).is_some());
        assert!(by_sdk(&rows, Sdk::GoV1).is_some());
        // Not an ELF, or a cut one: nothing.
        std::fs::write(&path, b"#!/bin/sh\necho hi\n").unwrap();
        assert!(elf_rows(File::open(&path).unwrap()).is_empty());
        let whole = elf64(&[(".go.buildinfo", &go)]);
        std::fs::write(&path, &whole[..whole.len() - 10]).unwrap();
        assert!(elf_rows(File::open(&path).unwrap()).is_empty());
    }

    fn view<'a>(proc_dir: &'a Path, argv: &'a [String], env: &'a Env) -> View<'a> {
        View {
            proc_dir,
            argv,
            env,
        }
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A fake `/proc/PID` (its `exe` and `cwd` links) and a root folder beside it.
    struct Fake {
        _dir: tempfile::TempDir,
        proc_dir: PathBuf,
        root: PathBuf,
    }

    fn fake(exe: &str, cwd: &str) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let proc_dir = dir.path().join("proc");
        let root = dir.path().join("root");
        std::fs::create_dir_all(&proc_dir).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        symlink(exe, proc_dir.join("exe")).unwrap();
        symlink(cwd, proc_dir.join("cwd")).unwrap();
        Fake {
            _dir: dir,
            proc_dir,
            root,
        }
    }

    impl Fake {
        fn env(&self, vars: &str) -> Env {
            Env::from_environ(vars.replace(' ', "\0").as_bytes(), self.root.clone())
        }

        fn mkdir(&self, path: &str) {
            std::fs::create_dir_all(self.root.join(path.trim_start_matches('/'))).unwrap();
        }

        fn write(&self, path: &str, text: &str) {
            let host = self.root.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(host.parent().unwrap()).unwrap();
            std::fs::write(host, text).unwrap();
        }

        fn detect(&self, argv: &[&str], vars: &str) -> Vec<Found> {
            let env = self.env(vars);
            let argv = args(argv);
            Detector::new().detect(&view(&self.proc_dir, &argv, &env))
        }
    }

    #[test]
    fn a_binary_is_read_once_per_executable() {
        let f = fake("/app", "/");
        let exe = f.root.join("server");
        std::fs::write(&exe, elf64(&[(".go.buildinfo", &buildinfo(MODINFO))])).unwrap();
        std::fs::remove_file(f.proc_dir.join("exe")).unwrap();
        symlink(&exe, f.proc_dir.join("exe")).unwrap();
        let env = f.env("");
        let argv = args(&["/app/server"]);
        let mut detector = Detector::new();
        let first = detector.detect(&view(&f.proc_dir, &argv, &env));
        assert_eq!(first.len(), 4, "{first:?}");
        // Same inode, other bytes: the cached rows stand.
        std::fs::write(&exe, b"not an elf any more").unwrap();
        let again = detector.detect(&view(&f.proc_dir, &argv, &env));
        assert_eq!(again.len(), 4);
        assert!(Detector::new()
            .detect(&view(&f.proc_dir, &argv, &env))
            .is_empty());
    }

    #[test]
    fn jar_names_give_java_sdks() {
        assert_eq!(
            jar_sdk("aws-java-sdk-core-1.12.500.jar"),
            Some((Sdk::JavaV1, "1.12.500".into()))
        );
        assert_eq!(
            jar_sdk("aws-java-sdk-bundle-1.12.262.jar"),
            Some((Sdk::JavaV1, "1.12.262".into()))
        );
        assert_eq!(
            jar_sdk("sdk-core-2.21.0.jar"),
            Some((Sdk::JavaV2, "2.21.0".into()))
        );
        for other in [
            "sdk-core-2.21.0.pom",
            "sdk-core-.jar",
            "sdk-core-latest.jar",
            "aws-java-sdk-s3-1.12.500.jar",
            "auth-2.21.0.jar",
            "my-sdk-core-2.21.0.jar",
            "sdk-core-2.21.0 x.jar",
            "",
        ] {
            assert_eq!(jar_sdk(other), None, "{other}");
        }
        assert!(is_jar("/app/lib/sdk-core-2.21.0.jar (deleted)"));
        assert_eq!(
            link_name(Path::new("/a/sdk-core-2.21.0.jar (deleted)")).as_deref(),
            Some("sdk-core-2.21.0.jar")
        );
    }

    #[test]
    fn open_and_mapped_jars_are_found() {
        let f = fake("/usr/lib/jvm/bin/java", "/app");
        let fd = f.proc_dir.join("fd");
        std::fs::create_dir(&fd).unwrap();
        symlink("/app/lib/sdk-core-2.21.0.jar", fd.join("7")).unwrap();
        symlink("/app/lib/other-1.0.jar", fd.join("8")).unwrap();
        symlink("socket:[1234]", fd.join("9")).unwrap();
        std::fs::write(
            f.proc_dir.join("maps"),
            "7f00-7f10 r--s 00000000 08:01 42 /opt/lib/aws-java-sdk-core-1.12.600.jar\n\
             7f10-7f20 rw-p 00000000 00:00 0 \n\
             7f20-7f30 r--s 00000000 08:01 43 /opt/lib/sdk-core-2.20.0.jar (deleted)\n",
        )
        .unwrap();
        let rows = f.detect(&["java", "-jar", "/app/app.jar"], "");
        assert_eq!(rows.len(), 2, "{rows:?}");
        let v2 = by_sdk(&rows, Sdk::JavaV2).unwrap();
        assert_eq!(v2.version, "2.21.0");
        assert_eq!(v2.evidence, "open jar /app/lib/sdk-core-2.21.0.jar");
        let v1 = by_sdk(&rows, Sdk::JavaV1).unwrap();
        assert_eq!(v1.version, "1.12.600");
        assert_eq!(
            v1.evidence,
            "mapped jar /opt/lib/aws-java-sdk-core-1.12.600.jar"
        );
    }

    #[test]
    fn python_pythonpath_wins_over_the_system_site() {
        let f = fake("/usr/local/bin/python3.11", "/app");
        f.mkdir("/opt/old/site-packages/botocore-1.34.40.dist-info");
        f.mkdir("/usr/local/lib/python3.11/site-packages/botocore-1.34.50.dist-info");
        let rows = f.detect(
            &["python3", "app.py"],
            "HOME=/home/app PYTHONPATH=/nope::/opt/old/site-packages",
        );
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].sdk, Sdk::Botocore);
        assert_eq!(rows[0].version, "1.34.40");
        assert_eq!(
            rows[0].evidence,
            "botocore-1.34.40.dist-info in /opt/old/site-packages (PYTHONPATH)"
        );
        assert_eq!(rows[0].exactness, Exactness::Inferred);
        let rows = f.detect(&["python3", "app.py"], "HOME=/home/app");
        assert_eq!(rows[0].version, "1.34.50");
        assert_eq!(
            rows[0].evidence,
            "botocore-1.34.50.dist-info in /usr/local/lib/python3.11/site-packages (system)"
        );
    }

    #[test]
    fn python_prefers_its_own_minor_version_and_the_user_site() {
        let f = fake("/usr/bin/python3.11", "/srv");
        f.mkdir("/usr/lib/python3.12/site-packages/botocore-1.35.0.dist-info");
        f.mkdir("/usr/lib/python3.11/site-packages/botocore-1.30.0.dist-info");
        let rows = f.detect(&["/usr/bin/python3.11"], "");
        assert_eq!(rows[0].version, "1.30.0", "{rows:?}");
        f.mkdir("/usr/lib/python3/dist-packages/botocore-1.29.0.egg-info");
        assert_eq!(f.detect(&["python3.11"], "")[0].version, "1.29.0");
        f.mkdir("/home/app/.local/lib/python3.11/site-packages/botocore-1.28.1-py3.11.egg-info");
        let rows = f.detect(&["python3.11"], "HOME=/home/app");
        assert_eq!(rows[0].version, "1.28.1");
        assert!(rows[0].evidence.ends_with("(user site)"), "{rows:?}");
    }

    #[test]
    fn python_venv_on_path_hides_the_system_site_unless_it_includes_it() {
        let f = fake("/usr/local/bin/python3.12", "/app");
        f.write("/venv/bin/python", "");
        f.write("/venv/pyvenv.cfg", "home = /usr/local/bin\n");
        f.mkdir("/venv/lib/python3.12/site-packages");
        f.mkdir("/usr/local/lib/python3.12/site-packages/botocore-1.34.50.dist-info");
        let vars = "PATH=/venv/bin:/usr/local/bin:/usr/bin";
        assert!(f.detect(&["python", "app.py"], vars).is_empty());
        f.write(
            "/venv/pyvenv.cfg",
            "home = /usr/local/bin\ninclude-system-site-packages = true\n",
        );
        assert_eq!(f.detect(&["python", "app.py"], vars)[0].version, "1.34.50");
        f.mkdir("/venv/lib/python3.12/site-packages/botocore-1.31.0.dist-info");
        let rows = f.detect(&["python", "app.py"], vars);
        assert_eq!(
            rows[0].evidence,
            "botocore-1.31.0.dist-info in /venv/lib/python3.12/site-packages (venv)"
        );
        // By argv[0]'s path, and by VIRTUAL_ENV.
        assert_eq!(f.detect(&["/venv/bin/python"], "")[0].version, "1.31.0");
        let rows = f.detect(&["python"], "VIRTUAL_ENV=/venv");
        assert!(rows[0].evidence.ends_with("(VIRTUAL_ENV)"), "{rows:?}");
    }

    #[test]
    fn only_python_processes_are_looked_at_for_botocore() {
        let f = fake("/usr/bin/ruby", "/app");
        f.mkdir("/usr/local/lib/python3.11/site-packages/botocore-1.34.50.dist-info");
        assert!(f.detect(&["ruby", "app.rb"], "").is_empty());
        // argv[0] alone is enough (a python whose executable link is unreadable).
        assert_eq!(f.detect(&["python3"], "").len(), 1);
        assert!(f.detect(&[], "").is_empty());
    }

    #[test]
    fn botocore_folder_names() {
        assert_eq!(
            botocore_version("botocore-1.34.40.dist-info"),
            Some("1.34.40")
        );
        assert_eq!(
            botocore_version("botocore-1.2.3-py3.8.egg-info"),
            Some("1.2.3")
        );
        assert_eq!(botocore_version("botocore-1.2.3.egg-info"), Some("1.2.3"));
        assert_eq!(botocore_version("botocore"), None);
        assert_eq!(botocore_version("botocore-.dist-info"), None);
        assert_eq!(botocore_version("botocore_stubs-1.0.dist-info"), None);
        assert_eq!(botocore_version("boto3-1.34.40.dist-info"), None);
    }

    #[test]
    fn node_modules_above_the_cwd_and_the_script() {
        let f = fake("/usr/local/bin/node", "/app");
        f.write(
            "/app/node_modules/aws-sdk/package.json",
            r#"{"name":"aws-sdk","version":"2.1500.0"}"#,
        );
        f.write(
            "/srv/node_modules/@aws-sdk/credential-provider-node/package.json",
            r#"{"name":"@aws-sdk/credential-provider-node","version":"3.503.1"}"#,
        );
        let rows = f.detect(&["node", "--enable-source-maps", "/srv/api/server.js"], "");
        assert_eq!(rows.len(), 2, "{rows:?}");
        let v2 = by_sdk(&rows, Sdk::JsV2).unwrap();
        assert_eq!(v2.version, "2.1500.0");
        assert_eq!(
            v2.evidence,
            "node_modules/aws-sdk/package.json 2.1500.0 under /app"
        );
        assert_eq!(v2.exactness, Exactness::Inferred);
        let v3 = by_sdk(&rows, Sdk::JsV3).unwrap();
        assert_eq!(v3.version, "3.503.1");
        assert!(v3.evidence.ends_with("under /srv"), "{v3:?}");
        // A relative script resolves against the cwd; without it only the cwd's parents.
        assert_eq!(f.detect(&["node", "server.js"], "").len(), 1);
        std::fs::remove_file(f.proc_dir.join("exe")).unwrap();
        symlink("/usr/bin/ruby", f.proc_dir.join("exe")).unwrap();
        assert!(f.detect(&["ruby", "/srv/api/server.js"], "").is_empty());
    }

    #[test]
    fn node_package_json_is_bounded_and_checked() {
        let f = fake("/usr/bin/nodejs", "/a/b/c/d/e/f/g/h/i");
        f.write(
            "/node_modules/aws-sdk/package.json",
            r#"{"version":"2.1.0"}"#,
        );
        // Nine levels up: past the limit.
        assert!(f.detect(&["nodejs"], "").is_empty());
        f.write("/a/b/node_modules/aws-sdk/package.json", "not json");
        assert!(f.detect(&["nodejs"], "").is_empty());
        let long = format!(r#"{{"version":"1{}"}}"#, "0".repeat(500));
        f.write("/a/b/c/node_modules/aws-sdk/package.json", &long);
        let rows = f.detect(&["nodejs"], "");
        assert_eq!(rows[0].version.chars().count(), MAX_CHARS);
        assert!(rows[0].evidence.chars().count() <= MAX_CHARS);
        let huge = format!(r#"{{"version":"2.1.0","x":"{}"}}"#, "y".repeat(70_000));
        f.write("/a/b/c/d/node_modules/aws-sdk/package.json", &huge);
        assert_eq!(f.detect(&["nodejs"], "")[0].version.len(), MAX_CHARS);
        f.write(
            "/a/b/c/d/e/node_modules/aws-sdk/package.json",
            r#"{"version":"latest"}"#,
        );
        assert_eq!(f.detect(&["nodejs"], "")[0].version.len(), MAX_CHARS);
    }

    #[test]
    fn this_test_binary_is_an_elf_without_sdk_sections() {
        let exe = File::open("/proc/self/exe").unwrap();
        let sections = elf_sections(&exe).expect("an ELF");
        assert!(sections.go_buildinfo.is_none());
        assert!(sections.dep_v0.is_none());
        let env = Env::from_pairs([("PATH", "/usr/bin")], std::time::SystemTime::now());
        let argv = args(&["credcheck-test"]);
        let rows = Detector::new().detect(&view(Path::new("/proc/self"), &argv, &env));
        assert!(rows.is_empty(), "{rows:?}");
    }

    #[test]
    fn a_vanished_process_gives_nothing() {
        let env = Env::from_pairs([], std::time::SystemTime::now());
        let argv = args(&["node", "x.js"]);
        let gone = Path::new("/proc/0/nope");
        assert!(Detector::new().detect(&view(gone, &argv, &env)).is_empty());
    }

    #[test]
    fn exactness_names() {
        assert_eq!(Exactness::Exact.name(), "exact");
        assert_eq!(Exactness::Inferred.name(), "inferred");
    }
}
