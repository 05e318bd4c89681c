//! SDK detection in the executable itself: the Go build info (`runtime/debug.BuildInfo`, as
//! `go version -m` reads it) and cargo-auditable's `.dep-v0` section, from an ELF64 section
//! table read by hand (every offset checked, every read capped).
//! Reads no env vars of credcheck's own (the process's arrive in `View`).

use super::*;

/// Opens `/proc/PID/exe` (the binary itself, even if deleted) if it is a regular file.
pub(super) fn open_exe(exe: PathBuf) -> Option<(File, Id)> {
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
pub(super) struct Sections {
    pub(super) go_buildinfo: Option<Vec<u8>>,
    pub(super) dep_v0: Option<Vec<u8>>,
}

/// The rows the executable's ELF sections give; only the headers, the section names and
/// those two sections are read, never the whole binary.
pub(super) fn elf_rows(exe: File) -> Vec<Found> {
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
pub(super) const MAX_SECTIONS: u64 = 4096;
/// `SHT_NOBITS`: a section with no bytes in the file (`.bss`).
pub(super) const SHT_NOBITS: u32 = 8;

/// The two sections, by name, of a 64-bit ELF (the ELF-64 Object File Format, version 1.5:
/// the file header's `e_shoff`, `e_shentsize`, `e_shnum` and `e_shstrndx`; each section
/// header's `sh_name`, `sh_type`, `sh_offset`, `sh_size`; names in the `e_shstrndx` string
/// table). Only 64-bit: the platforms credcheck runs on (x86_64, aarch64) run no 32-bit
/// container images. Written here rather than with the `object` crate, whose generic reader
/// cost ~17 KB of the 6,300,000-byte budget (issue 22): every offset and size is checked, and
/// every read is positioned and capped.
pub(super) fn elf_sections(exe: &File) -> Option<Sections> {
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
pub(super) fn read_at(file: &File, offset: u64, len: u64) -> Option<Vec<u8>> {
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
pub(super) fn section_bytes(file: &File, range: Option<(u64, u64)>, cut: bool) -> Option<Vec<u8>> {
    let (offset, size) = range?;
    if size > SECTION_CAP && !cut {
        return None;
    }
    read_at(file, offset, size.min(SECTION_CAP))
}

/// Go build info's magic (`src/debug/buildinfo/buildinfo.go`, `buildInfoMagic`).
pub(super) const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// The header before the inline strings (`buildInfoHeaderSize`).
pub(super) const GO_HEADER: usize = 32;
/// Where the header may start (`buildInfoAlign`).
pub(super) const GO_ALIGN: usize = 16;
/// The flag saying the strings follow the header inline (Go 1.18 on).
pub(super) const GO_FLAG_INLINE: u8 = 2;
/// Module info's sentinels (cmd/go/internal/modload `infoStart`, `infoEnd`), 16 bytes each.
pub(super) const GO_SENTINEL: usize = 16;

/// The SDK rows of a `.go.buildinfo` section's bytes.
///
/// The format, after Go's `src/debug/buildinfo/buildinfo.go` (Go ≥ 1.18): a 32-byte header
/// starting with `\xff Go buildinf:` (14 bytes), a pointer-size byte and a flags byte; with
/// `flags & 2` the Go version and the module info follow inline, each a uvarint length and
/// the bytes. The module info is framed by a 16-byte sentinel at each end (stripped when it is
/// at least 33 bytes and the byte before the end sentinel is `\n`, as Go does). The older
/// pointer format (flags & 2 == 0) gives nothing: unknown, not guessed.
pub(super) fn parse_buildinfo(data: &[u8]) -> Vec<Found> {
    match buildinfo_modinfo(data) {
        Some(modinfo) => go_modules(&String::from_utf8_lossy(modinfo)),
        None => Vec::new(),
    }
}

/// The module info of the first build info header found at a 16-byte boundary.
pub(super) fn buildinfo_modinfo(data: &[u8]) -> Option<&[u8]> {
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
pub(super) fn go_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, used) = uvarint(data)?;
    let rest = &data[used..];
    let len = usize::try_from(len).ok().filter(|&l| l <= rest.len())?;
    Some(rest.split_at(len))
}

/// Go's `binary.Uvarint`: at most 10 bytes, `None` on overflow or when cut.
pub(super) fn uvarint(data: &[u8]) -> Option<(u64, usize)> {
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
pub(super) fn go_sdk(module: &str) -> Option<Sdk> {
    match module {
        "github.com/aws/aws-sdk-go" => Some(Sdk::GoV1),
        "github.com/aws/aws-sdk-go-v2/credentials" => Some(Sdk::GoV2Credentials),
        "github.com/aws/aws-sdk-go-v2/config" => Some(Sdk::GoV2Config),
        "github.com/aws/aws-sdk-go-v2/feature/ec2/imds" => Some(Sdk::GoV2Imds),
        _ => None,
    }
}

/// A module line of the build info: `mod`/`dep` path version sum.
pub(super) struct GoModule<'a> {
    kind: &'a str,
    path: &'a str,
    version: &'a str,
}

/// The SDK rows of module info text: `dep`/`mod` lines, each `=>` line replacing the module
/// of the line before it (a replacement without a version, a local folder, is unknown).
pub(super) fn go_modules(modinfo: &str) -> Vec<Found> {
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

pub(super) fn go_row(sdk: Sdk, module: &GoModule, replaced_by: Option<&GoModule>) -> Option<Found> {
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
pub(super) struct AuditInfo {
    packages: Vec<AuditPackage>,
}

#[derive(serde::Deserialize)]
pub(super) struct AuditPackage {
    name: String,
    version: String,
}

/// The SDK rows of a `.dep-v0` section: zlib-compressed JSON `{"packages":[{"name", "version",
/// ...}]}`, inflated to at most [`DEP_JSON_CAP`] bytes.
pub(super) fn parse_dep_v0(data: &[u8]) -> Vec<Found> {
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
