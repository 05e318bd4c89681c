//! Checks on the project's own claims (`tests/cli.rs` has `mod meta;`):
//! - the MSRV: `rust-version` in Cargo.toml is not below the highest `rust_version` any crate
//!   in the graph declares (`cargo metadata --offline`; scripts/test has run `cargo fetch`);
//! - the shell examples in README.md, docker/README.md and every docs/*.md (the reference the
//!   README links to, where most examples now live): each command that can run offline
//!   (it starts with `credcheck`) runs against the built binary through `/bin/sh -c`, with a
//!   cleared environment (IMDS disabled, empty HOME), inside a new network namespace with no
//!   interface up (`unshare --net`, root), so no example can reach any endpoint whatever it
//!   says; every other command must be listed in [`NOT_RUN`] with the reason, so that none is
//!   skipped silently.
//!
//! Reads: CARGO (the cargo running the tests; else `cargo` on PATH).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, TestCmd};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Files whose shell examples are checked: these, and every `docs/*.md` ([`docs`]).
const DOCS: [&str; 2] = ["README.md", "docker/README.md"];

/// Commands the docs show that this test does not run: (prefix, why). Each entry must
/// still match a command in the docs, so a stale entry fails too.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "cargo run --release --example demo",
        "README command 1: builds the demo; scripts/fresh-check runs it in a fresh clone",
    ),
    (
        "bash scripts/test",
        "README command 2: this suite itself; scripts/fresh-check runs it in a fresh clone",
    ),
    (
        "cargo build --release",
        "the build this test binary comes from",
    ),
    (
        "install -m 0755",
        "installs into /usr/local/bin: changes the machine",
    ),
    (
        "bench/run",
        "a benchmark: minutes long, timing lives in bench/",
    ),
    (
        "bash scripts/release",
        "the release: minutes long, as root; CI runs it after scripts/test (.ci/run)",
    ),
    (
        "curl -fsSLO https://github.com/",
        "downloads a published release: no network here",
    ),
    (
        "sha256sum -c",
        "checks the downloaded release; scripts/release runs `sha256sum -c` on dist/",
    ),
    (
        "gh attestation verify",
        "needs GitHub and a published release",
    ),
    (
        "aws ecs execute-command",
        "needs an ECS task and an AWS account",
    ),
    ("aws ecs register-task-definition", "needs an AWS account"),
    ("aws cloudformation deploy", "needs an AWS account"),
    (
        "docker run",
        "needs a Docker engine and the image; tests/docker.rs runs the same image",
    ),
    (
        "docker build",
        "builds an image from the user's app image; tests/docker.rs builds the same Dockerfiles",
    ),
];

/// Fenced block info strings that hold shell commands.
const SHELL_FENCES: [&str; 4] = ["sh", "bash", "shell", "console"];

/// Exit codes credcheck documents outside wrapper mode (2 is usage or configuration).
const DOCUMENTED_CODES: [i32; 5] = [0, 1, 2, 3, 4];

/// The line clap ends a usage error with: an example whose flags do not parse as written.
const USAGE_ERROR: &str = "For more information, try '--help'";

#[test]
fn declared_rust_version_covers_every_dependency() {
    let metadata = cargo_metadata();
    let packages = metadata["packages"].as_array().expect("packages array");
    let declared = packages
        .iter()
        .find(|p| p["name"] == "credcheck")
        .and_then(|p| p["rust_version"].as_str())
        .expect("Cargo.toml declares rust-version");
    let (needed, by) = packages
        .iter()
        .filter(|p| p["name"] != "credcheck")
        .filter_map(|p| {
            let v = p["rust_version"].as_str()?;
            Some((
                parse_version(v),
                format!("{} {}", p["name"].as_str()?, p["version"].as_str()?),
            ))
        })
        .max()
        .expect("at least one rust_version");
    support::say!(
        "MSRV: Cargo.toml declares {declared}; the highest in the graph is {needed:?} ({by})"
    );
    assert!(
        parse_version(declared) >= needed,
        "Cargo.toml declares rust-version = \"{declared}\", but {by} needs {}: raise rust-version",
        needed
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(".")
    );
}

#[test]
fn version_parsing_orders_like_cargo() {
    assert_eq!(parse_version("1.94"), [1, 94, 0]);
    assert!(parse_version("1.94.1") > parse_version("1.94"));
    assert!(parse_version("1.100") > parse_version("1.94.1"));
}

#[test]
fn readme_shell_examples_run_offline() {
    if !can_isolate_network() {
        let why = "needs root for `unshare --net` (examples run with no network at all)";
        assert!(!support::in_ci(), "{why}");
        support::skip(&support::current_test(), why);
        return;
    }
    let bin_dir = tempfile::tempdir().expect("tempdir for PATH");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_credcheck"),
        bin_dir.path().join("credcheck"),
    )
    .expect("symlink credcheck");
    let mut ran = 0;
    let mut used = vec![false; NOT_RUN.len()];
    let docs = docs();
    for doc in &docs {
        for (line, command) in shell_commands(&read(doc)) {
            let place = format!("{doc}:{line}");
            let listed = NOT_RUN
                .iter()
                .position(|(prefix, _)| command.starts_with(prefix));
            match (listed, program(&command)) {
                (Some(i), _) => used[i] = true,
                (None, "credcheck") => {
                    run_example(&place, &command, bin_dir.path());
                    ran += 1;
                }
                (None, _) => panic!(
                    "{place}: shell example `{command}` can neither run here (it does not start \
                     with `credcheck`) nor is it listed in tests/meta.rs NOT_RUN with a reason"
                ),
            }
        }
    }
    for ((prefix, _), used) in NOT_RUN.iter().zip(used) {
        assert!(
            used,
            "NOT_RUN entry `{prefix}` matches no shell example: remove it"
        );
    }
    support::say!(
        "shell examples of {} docs: {ran} run, {} listed as not runnable",
        docs.len(),
        NOT_RUN.len()
    );
    assert!(
        ran >= 3,
        "expected the docs' credcheck examples to run, ran {ran}"
    );
}

#[test]
fn shell_commands_are_found_and_joined() {
    let md = "text\n```sh\n# comment\ncredcheck a \\\n    --b c   # note\n\nbench/run\n```\n\
              ```text\ncredcheck not-shell\n```\n```dockerfile\nRUN x\n```\n";
    assert_eq!(
        shell_commands(md),
        vec![
            (4, "credcheck a --b c   # note".to_string()),
            (7, "bench/run".to_string())
        ]
    );
    assert_eq!(program("A=1 B=2 credcheck health"), "credcheck");
    assert_eq!(program("bash scripts/test"), "bash");
}

/// Runs one example and checks what the docs promise for it.
fn run_example(place: &str, command: &str, bin_dir: &Path) {
    let mut cmd = TestCmd::new(UNSHARE);
    cmd.args(["--net", "/bin/sh", "-c", command])
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env_remove("AWS_REGION");
    let out = cmd.run();
    let args: Vec<&str> = command
        .split('#')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip_while(|w| *w != "credcheck")
        .skip(1)
        .collect();
    assert!(
        !out.stderr.contains("panicked"),
        "{place}: `{command}` panicked\n{out}"
    );
    assert!(
        !out.combined().contains(USAGE_ERROR),
        "{place}: `{command}` is a usage error as written (a synopsis belongs in NOT_RUN)\n{out}"
    );
    if args.contains(&"--version") || args.contains(&"-V") {
        out.assert_success();
        assert_eq!(
            out.stdout,
            format!("credcheck {}\n", env!("CARGO_PKG_VERSION")),
            "{place}: `{command}`\n{out}"
        );
    } else if args.contains(&"--help") || args.contains(&"-h") {
        out.assert_success();
        assert!(
            out.stdout.contains("Exit codes:"),
            "{place}: `{command}` prints no exit codes\n{out}"
        );
    } else if args.first() == Some(&"health") {
        // "exits 0 or 1, prints one line"
        assert!(
            [0, 1].contains(&out.code),
            "{place}: `{command}` must exit 0 or 1\n{out}"
        );
        assert_eq!(
            out.combined().lines().count(),
            1,
            "{place}: `{command}` must print one line\n{out}"
        );
    } else {
        assert!(
            DOCUMENTED_CODES.contains(&out.code),
            "{place}: `{command}` exited {}, not a documented exit code\n{out}",
            out.code
        );
    }
}

/// util-linux `unshare`: `--net` gives a command a network namespace of its own, `lo` down.
const UNSHARE: &str = "/usr/bin/unshare";

fn can_isolate_network() -> bool {
    Command::new(UNSHARE)
        .args(["--net", "/bin/true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// `(line number, command)` for each command in the shell-fenced blocks of `markdown`, with
/// `\`-continued lines joined and whole-line comments dropped.
fn shell_commands(markdown: &str) -> Vec<(usize, String)> {
    let mut commands = Vec::new();
    let mut in_shell = None::<bool>;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in markdown.lines().enumerate() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            in_shell = match in_shell {
                Some(_) => None,
                None => Some(SHELL_FENCES.contains(&info.split_whitespace().next().unwrap_or(""))),
            };
            continue;
        }
        if in_shell != Some(true) {
            continue;
        }
        let text = line.trim();
        if pending.is_none() && (text.is_empty() || text.starts_with('#')) {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        if !joined.is_empty() {
            joined.push(' ');
        }
        match text.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head.trim_end());
                pending = Some((start, joined));
            }
            None => {
                joined.push_str(text);
                commands.push((start, joined));
            }
        }
    }
    commands
}

/// The program a command line runs: its first word after any `NAME=value` assignments.
fn program(command: &str) -> &str {
    command
        .split_whitespace()
        .find(|w| !w.contains('='))
        .unwrap_or("")
}

/// [`DOCS`], then every `docs/*.md` in name order: a doc added there is checked too.
fn docs() -> Vec<String> {
    let dir = Path::new(MANIFEST_DIR).join("docs");
    let mut more: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            e.expect("docs/ entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".md"))
        .map(|name| format!("docs/{name}"))
        .collect();
    more.sort();
    DOCS.iter().map(|d| d.to_string()).chain(more).collect()
}

fn read(relative: &str) -> String {
    let path = PathBuf::from(MANIFEST_DIR).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `cargo metadata` for the whole graph (every target), offline: no test reaches a registry.
fn cargo_metadata() -> serde_json::Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--offline", "--locked", "--format-version", "1"])
        .arg("--manifest-path")
        .arg(Path::new(MANIFEST_DIR).join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata --offline failed (run `cargo fetch`, as scripts/test does, first):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata JSON")
}

/// `1.94.1` → `[1, 94, 1]`; a missing patch is 0, as cargo reads `rust-version`.
fn parse_version(version: &str) -> [u32; 3] {
    let mut parts = [0; 3];
    for (slot, part) in parts.iter_mut().zip(version.split('.')) {
        *slot = part
            .parse()
            .unwrap_or_else(|_| panic!("not a version: {version}"));
    }
    parts
}
