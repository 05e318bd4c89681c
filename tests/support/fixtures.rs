//! Real SDK artifacts for the `credcheck processes` tests (issue 23), built by
//! `scripts/fixtures` (which `scripts/test` runs) into `$CREDCHECK_FIXTURES`, default
//! `<repo>/target/fixtures`.
//!
//! Owner: test infrastructure. [`fixtures()`] only finds what the script built; it builds
//! nothing. The script verifies each artifact before moving it into place, so one that exists
//! is complete. Every program prints `ready` on stdout, then sleeps 300 s (`--version` prints
//! the SDK version and exits). Missing artifacts: None after a visible SKIP line, or a panic
//! under `CI=true`.
//!
//! - botocore: run [`Fixtures::python`] with `PYTHONPATH=<botocore_old|botocore_new>`; each
//!   dir is a `pip install --target` holding `botocore-<ver>.dist-info` and what
//!   `import botocore` needs. The venv's own site-packages may hold another botocore (awscli's),
//!   after PYTHONPATH on `sys.path`.
//! - Go: build info (`go version -m`) lists `dep github.com/aws/aws-sdk-go v1.47.10` / `v1.47.11`;
//!   `go_v2_old` lists aws-sdk-go-v2 v1.24.0, `/config` v1.24.0, `/credentials` v1.15.0.
//! - Rust: cargo-auditable's `.dep-v0` names `aws-config` 1.1.7 (source `local`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// botocore before EKS Pod Identity (docs/sdk-minimums.md: 1.34.41).
pub const BOTOCORE_OLD: &str = "1.34.40";
/// The first botocore with EKS Pod Identity.
pub const BOTOCORE_NEW: &str = "1.34.41";

/// Paths to everything `scripts/fixtures` builds.
#[derive(Clone, Debug)]
pub struct Fixtures {
    /// `py-botocore-1.34.40/`: a `PYTHONPATH` entry.
    pub botocore_old: PathBuf,
    /// `py-botocore-1.34.41/`: a `PYTHONPATH` entry.
    pub botocore_new: PathBuf,
    /// The venv's `bin/python3` (`$CREDCHECK_VENV`, else `<repo>/.venv`).
    pub python: PathBuf,
    /// Go program built with `github.com/aws/aws-sdk-go` v1.47.10 (before Pod Identity).
    pub go_v1_old: PathBuf,
    /// Go program built with `github.com/aws/aws-sdk-go` v1.47.11 (the first with it).
    pub go_v1_new: PathBuf,
    /// Go program built with aws-sdk-go-v2 `config` v1.24.0 and `credentials` v1.15.0.
    pub go_v2_old: PathBuf,
    /// Rust program built by `cargo auditable`, depending on `aws-config` 1.1.7.
    pub rust_auditable: PathBuf,
}

/// `$CREDCHECK_FIXTURES`, else `<CARGO_MANIFEST_DIR>/target/fixtures` (a relative path is
/// taken from the repo root, as `scripts/fixtures` takes it).
pub fn fixtures_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match std::env::var_os("CREDCHECK_FIXTURES") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target/fixtures"),
    }
}

/// The artifacts, or None when `scripts/fixtures` has not built them all: a SKIP line naming
/// the calling test has been printed (under `CI=true` this panics instead).
pub fn fixtures() -> Option<Fixtures> {
    match locate(&fixtures_dir(), &super::moto::venv_dir()) {
        Ok(fixtures) => Some(fixtures),
        Err(why) if super::in_ci() => panic!("the SDK fixtures are required in CI: {why}"),
        Err(why) => {
            super::skip(&super::current_test(), &why);
            None
        }
    }
}

fn locate(dir: &Path, venv: &Path) -> Result<Fixtures, String> {
    let botocore = |version: &str| {
        let target = dir.join(format!("py-botocore-{version}"));
        let dist_info = target.join(format!("botocore-{version}.dist-info"));
        dist_info.is_dir().then_some(target).ok_or(dist_info)
    };
    let file = |path: PathBuf| if path.is_file() { Ok(path) } else { Err(path) };
    let found = (|| {
        Ok(Fixtures {
            botocore_old: botocore(BOTOCORE_OLD)?,
            botocore_new: botocore(BOTOCORE_NEW)?,
            python: file(venv.join("bin/python3"))?,
            go_v1_old: file(dir.join("go-sdk-v1.47.10"))?,
            go_v1_new: file(dir.join("go-sdk-v1.47.11"))?,
            go_v2_old: file(dir.join("go-sdk-v2-old"))?,
            rust_auditable: file(dir.join("rust-aws-config-1.1.7"))?,
        })
    })();
    found.map_err(|missing: PathBuf| {
        format!(
            "{} not found; run scripts/test (or scripts/fixtures alone) to build the SDK fixtures",
            missing.display()
        )
    })
}
