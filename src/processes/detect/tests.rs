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
