//! Test harness for credcheck's integration tests (`tests/cli.rs` has `mod support;`).
//!
//! Owner: test infrastructure. Owns: [`cmd`]/[`TestCmd`] (run credcheck with a clean,
//! hermetic environment), [`Output`], the canary secrets and [`assert_no_secrets`],
//! [`example_bin`] (built examples such as `fake_peer`), [`spawn_listening`] (start a
//! `fake_peer` process and wait for its `listening on` line) and [`skip`] (a visible
//! SKIP line that `cargo test` does not capture).
//!
//! Submodules: [`peer`] (in-process loopback fakes), [`logs`] (the CloudWatch Logs / IAM
//! fake, plain or TLS), [`testca`] (a CA made by the test), [`fluentbit`] (the real Fluent
//! Bit as a router), [`go_cloudwatch`] (the Go `cloudwatch` plugin's calls, emulated),
//! [`moto`] (the moto STS/IAM server from the venv), [`netns`] (network namespaces holding
//! the real link-local endpoint addresses).
#![allow(dead_code, unused_imports)]

pub mod egress;
pub mod fixtures;
pub mod fluentbit;
pub mod go_cloudwatch;
pub mod logs;
pub mod moto;
pub mod netns;
pub mod peer;
#[cfg(test)]
mod selftest;
pub mod testca;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub use peer::{
    CANARY_AKID, CANARY_AKIDS, CANARY_AKID_ENV, CANARY_AKID_IMDS, CANARY_AKID_STS,
    CANARY_AUTH_TOKEN, CANARY_SECRET, CANARY_TOKEN,
};

/// IRSA web identity token (JWT shape; never valid). Header `{"alg":"RS256","kid":"x"}`,
/// claims `aud:["sts.amazonaws.com"]`, `exp:4102444800` (2100-01-01), `iat:1700000000`,
/// `iss:https://oidc.eks.us-east-1.amazonaws.com/id/CANARYCLUSTER0000`,
/// `sub:system:serviceaccount:default:credcheck`. Its claims may be printed, the token
/// and its signature never. Verified with the `base64` crate in the self-tests.
pub const CANARY_WEB_IDENTITY: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJhdWQiOlsic3RzLmFtYXpvbmF3cy5jb20iXSwiZXhwIjo0MTAyNDQ0ODAwLCJpYXQiOjE3MDAwMDAwMDAsImlzcyI6Imh0dHBzOi8vb2lkYy5la3MudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20vaWQvQ0FOQVJZQ0xVU1RFUjAwMDAiLCJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpjcmVkY2hlY2sifQ.CANARYSIGwebIdentity0doNotPrint0xyz0";
/// Same claims as [`CANARY_WEB_IDENTITY`] but `exp:1600000000` (2020-09-13): expired.
pub const CANARY_WEB_IDENTITY_EXPIRED: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.eyJhdWQiOlsic3RzLmFtYXpvbmF3cy5jb20iXSwiZXhwIjoxNjAwMDAwMDAwLCJpYXQiOjE3MDAwMDAwMDAsImlzcyI6Imh0dHBzOi8vb2lkYy5la3MudXMtZWFzdC0xLmFtYXpvbmF3cy5jb20vaWQvQ0FOQVJZQ0xVU1RFUjAwMDAiLCJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpjcmVkY2hlY2sifQ.CANARYSIGwebIdentity0doNotPrint0xyz0";
/// The signature segment shared by both web identity canaries.
pub const CANARY_WEB_IDENTITY_SIGNATURE: &str = "CANARYSIGwebIdentity0doNotPrint0xyz0";

/// Substrings that only occur inside secret canaries; any of them in output is a leak,
/// even of a fragment (a truncated secret still contains its marker).
pub const CANARY_MARKERS: [&str; 4] = ["CANARYSECRET", "CANARYSESSION", "CANARYAUTH", "CANARYSIG"];

/// Default wall-clock limit of one [`TestCmd::run`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Wall-clock allowance for process start and scheduling on a loaded CI machine (2 cores, the
/// suite in parallel: a run with a 1 s deadline was seen ending at 1.256 s).
pub const LOAD_SLACK: Duration = Duration::from_millis(500);
/// How far past its `--deadline` a run may end in a test: the promise (the watchdog ends the
/// process 200 ms after the deadline; 250 ms) plus [`LOAD_SLACK`]. Far below what the
/// per-request timeouts in these tests (5 s and more) would take.
pub const OVER_DEADLINE: Duration = Duration::from_millis(250 + LOAD_SLACK.as_millis() as u64);

/// Fails the test if any canary secret, token, authorization token, web identity
/// token (or its signature), secret marker, or unmasked canary key id is in
/// stdout or stderr.
pub fn assert_no_secrets(out: &Output) {
    let mut needles: Vec<&str> = vec![
        CANARY_SECRET,
        CANARY_TOKEN,
        CANARY_AUTH_TOKEN,
        CANARY_WEB_IDENTITY,
        CANARY_WEB_IDENTITY_EXPIRED,
        CANARY_WEB_IDENTITY_SIGNATURE,
    ];
    needles.extend(CANARY_MARKERS);
    needles.extend(CANARY_AKIDS);
    assert_no_strings(out, &needles);
}

/// Fails the test if any of `needles` (e.g. moto-issued secrets) is in stdout or stderr.
pub fn assert_no_strings(out: &Output, needles: &[&str]) {
    for needle in needles.iter().filter(|n| !n.is_empty()) {
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !stream.contains(needle),
                "secret leaked to {name}: {needle:?}\n{out}"
            );
        }
    }
}

/// Print a SKIP line that survives `cargo test`'s output capture.
/// `eprintln!` past the test harness's capture: summaries (pass counts, sweep runs) reach the
/// CI log even when the test passes.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = std::io::Write::write_fmt(&mut std::io::stderr(), format_args!("{}\n", format_args!($($arg)*)));
    }};
}
pub(crate) use say;

pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIP {test}: {why}");
}

/// Name of the running test (libtest names each test's thread after it).
pub fn current_test() -> String {
    thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_string()
}

/// `CI=true` (or `1`) in the environment: skips become failures.
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

/// A built example (e.g. `fake_peer`): `<target>/<triple>/<profile>/examples/<name>`,
/// found from this test binary (`…/<profile>/deps/cli-HASH`). `cargo test` builds
/// examples; `cargo test --test cli` alone does not.
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary is in <profile>/deps");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "{} not built: run `cargo build --release --examples` (a plain `cargo test --release` builds it)",
        path.display()
    );
    path
}

/// The binary under test: `CREDCHECK_TEST_BIN` when set (e.g. the release's aarch64 binary,
/// `scripts/release`), else this build's.
pub fn credcheck_bin() -> PathBuf {
    match std::env::var_os(TEST_BIN) {
        Some(bin) if !bin.is_empty() => PathBuf::from(bin),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_credcheck")),
    }
}

/// Names the binary under test instead of this build's (see [`credcheck_bin`]).
pub const TEST_BIN: &str = "CREDCHECK_TEST_BIN";
/// A program that runs the binary under test, e.g. `qemu-aarch64-static` for an aarch64 build.
pub const TEST_RUNNER: &str = "CREDCHECK_TEST_RUNNER";
/// `core`: the data-driven scenarios run only their core set (`"core": true`), the set
/// `scripts/release` runs against the aarch64 binary under qemu.
pub const TEST_SET: &str = "CREDCHECK_TEST_SET";

/// The runner of [`TEST_RUNNER`], if any.
pub fn test_runner() -> Option<PathBuf> {
    std::env::var_os(TEST_RUNNER)
        .filter(|r| !r.is_empty())
        .map(PathBuf::from)
}

/// `CREDCHECK_TEST_SET=core`: run only the core set.
pub fn core_only() -> bool {
    std::env::var(TEST_SET).is_ok_and(|v| v == "core")
}

/// The credcheck binary under test, with a clean environment: only `PATH=/usr/bin:/bin`,
/// `HOME=<fresh empty tempdir>`, `AWS_EC2_METADATA_DISABLED=true`, `AWS_REGION=us-east-1`.
/// [`TEST_BIN`] and [`TEST_RUNNER`] choose another binary and the program that runs it.
pub fn cmd() -> TestCmd {
    let mut cmd = TestCmd::new(credcheck_bin());
    cmd.runner = test_runner();
    cmd
}

/// Whether another user can exec `program`: every folder above it lets others through.
fn reachable_by_others(program: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    program
        .ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
}

/// `program`, or a copy of it that another user can exec: a checkout under a private folder
/// (a clone in a 0700 or 0750 home, mktemp's 0700) is out of reach for a test that runs
/// credcheck as uid 65534. The copy is made once per test process, in a folder this harness
/// creates (`$TMPDIR/credcheck-bin-<pid>`, 0755); folders of processes that are gone are
/// removed first.
pub fn runnable_by_others(program: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::OnceLock;
    if reachable_by_others(program) {
        return program.to_path_buf();
    }
    static COPIES: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let tmp = std::env::temp_dir();
        for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let gone = name
                .strip_prefix("credcheck-bin-")
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
            if gone {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tmp.join(format!("credcheck-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for binaries other users run");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(
            reachable_by_others(&dir.join("x")),
            "{} cannot be reached by other users either (TMPDIR under a private folder?)",
            dir.display()
        );
        dir
    });
    let mut copies = COPIES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, copy)) = copies.iter().find(|(p, _)| p == program) {
        return copy.clone();
    }
    let copy = dir.join(format!(
        "{}-{}",
        copies.len(),
        program
            .file_name()
            .map_or("bin".into(), |n| n.to_string_lossy())
    ));
    std::fs::copy(program, &copy).expect("copy the binary for another user");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copies.push((program.to_path_buf(), copy.clone()));
    copy
}

/// Builder around a process run: program, args, env, a private HOME, optional netns.
/// The HOME tempdir lives as long as the builder.
pub struct TestCmd {
    program: PathBuf,
    /// Runs `program` (an emulator such as qemu-aarch64-static), when set.
    runner: Option<PathBuf>,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    home: tempfile::TempDir,
    netns: Option<(PathBuf, String)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    check_secrets: bool,
    uid: Option<u32>,
}

impl TestCmd {
    /// Any program with the same hermetic environment as [`cmd`].
    pub fn new(program: impl Into<PathBuf>) -> TestCmd {
        let home = tempfile::Builder::new()
            .prefix("credcheck-home-")
            .tempdir()
            .expect("tempdir for HOME");
        let mut cmd = TestCmd {
            program: program.into(),
            runner: None,
            args: Vec::new(),
            envs: Vec::new(),
            home,
            netns: None,
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            check_secrets: true,
            uid: None,
        };
        let home_dir = cmd.home.path().to_path_buf();
        cmd.env("PATH", "/usr/bin:/bin")
            .env("HOME", home_dir)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1");
        cmd
    }
    /// Run as this user (e.g. 65534, nobody) instead of root: files root could read anyway
    /// become unreadable. HOME is opened to every user for it.
    pub fn as_user(&mut self, uid: u32) -> &mut Self {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(self.home.path(), std::fs::Permissions::from_mode(0o755));
        self.program = runnable_by_others(&self.program);
        self.uid = Some(uid);
        self
    }
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.envs
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.envs.push((key.as_ref().to_owned(), None));
        self
    }
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }
    /// The private HOME directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }
    /// `HOME/relative` (not created).
    pub fn home_path(&self, relative: &str) -> PathBuf {
        self.home.path().join(relative)
    }
    /// Write `HOME/relative` (parents created), e.g. `.aws/config`.
    pub fn home_file(&mut self, relative: &str, contents: impl AsRef<[u8]>) -> &mut Self {
        let path = self.home_path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs under HOME");
        }
        std::fs::write(&path, contents).expect("write file under HOME");
        self
    }
    /// Bytes fed to stdin (default: stdin is /dev/null).
    pub fn stdin(&mut self, data: impl Into<Vec<u8>>) -> &mut Self {
        self.stdin = Some(data.into());
        self
    }
    /// Kill the process and fail the test after this long (default 60 s).
    pub fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }
    /// Run inside a network namespace (`ip netns exec NS program args…`).
    pub fn in_netns(&mut self, ns: &netns::Netns) -> &mut Self {
        self.netns = Some((ns.ip_bin().to_path_buf(), ns.name().to_string()));
        self
    }
    /// Do not run [`assert_no_secrets`] after [`run`](Self::run).
    pub fn allow_secrets(&mut self) -> &mut Self {
        self.check_secrets = false;
        self
    }
    /// The std `Command` this builder runs (stdio not set).
    pub fn command(&self) -> Command {
        let mut argv: Vec<&OsStr> = Vec::new();
        if let Some((ip, ns)) = &self.netns {
            argv.extend([
                ip.as_os_str(),
                OsStr::new("netns"),
                OsStr::new("exec"),
                OsStr::new(ns),
            ]);
        }
        argv.extend(self.runner.as_deref().map(Path::as_os_str));
        argv.push(self.program.as_os_str());
        let mut cmd = Command::new(argv[0]);
        cmd.args(&argv[1..]).args(&self.args).env_clear();
        for (key, value) in &self.envs {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        if let Some(uid) = self.uid {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        cmd
    }
    /// Run to completion (bounded by the timeout); asserts no canary leaked unless
    /// [`allow_secrets`](Self::allow_secrets) was called.
    pub fn run(&self) -> Output {
        let out = run_bounded(self.command(), self.stdin.clone(), self.timeout);
        if self.check_secrets {
            assert_no_secrets(&out);
        }
        out
    }
    /// Run and parse stdout, which must be exactly one line of JSON.
    pub fn json(&self) -> serde_json::Value {
        self.run().json()
    }
    /// Run and return both the output and its one-line JSON stdout.
    pub fn run_json(&self) -> (Output, serde_json::Value) {
        let out = self.run();
        let value = out.json();
        (out, value)
    }
}

impl fmt::Debug for TestCmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.command())
    }
}

/// What a run produced. `code` is the exit code, or 128 + signal number.
#[derive(Clone, Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    /// stdout as exactly one line of JSON (panics with the whole output otherwise).
    pub fn json(&self) -> serde_json::Value {
        let lines = self.stdout.lines().count();
        assert!(
            lines == 1 && self.stdout.ends_with('\n'),
            "expected exactly one line of JSON on stdout, got {lines} lines\n{self}"
        );
        serde_json::from_str(self.stdout.trim_end())
            .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{self}"))
    }
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code\n{self}");
        self
    }
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }
    /// stdout followed by stderr.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--- exit code {} after {:?}\n--- stdout\n{}\n--- stderr\n{}\n---",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Collects a pipe into a shared buffer on a thread; `done` fires at EOF.
fn drain<R: Read + Send + 'static>(mut pipe: R, done: mpsc::Sender<()>) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buf);
    thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&chunk[..n]);
        }
        let _ = done.send(());
    });
    buf
}

fn take_text(buf: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

#[cfg(unix)]
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Spawn, feed stdin, wait at most `timeout` (kill + panic after), collect output.
/// Pipes held open by grandchildren are waited for at most 5 s after the exit.
fn run_bounded(mut cmd: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        thread::spawn(move || pipe.write_all(&data));
    }
    let (done_tx, done_rx) = mpsc::channel();
    let stdout = drain(child.stdout.take().expect("stdout piped"), done_tx.clone());
    let stderr = drain(child.stderr.take().expect("stderr piped"), done_tx);
    let status = wait_bounded(&mut child, start, timeout);
    let elapsed = start.elapsed();
    for _ in 0..2 {
        let _ = done_rx.recv_timeout(Duration::from_secs(5));
    }
    let (stdout, stderr) = (take_text(&stdout), take_text(&stderr));
    match status {
        Some(status) => Output { code: exit_code(status), stdout, stderr, elapsed },
        None => panic!("{cmd:?} still running after {timeout:?}; killed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"),
    }
}

/// Waits for exit on a thread and receives the status over a channel, so the test blocks on
/// the event itself; after `timeout` the process is killed (by pid) and None is returned.
fn wait_bounded(
    child: &mut Child,
    start: Instant,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::scope(|scope| {
        scope.spawn(|| {
            let _ = tx.send(child.wait());
        });
        let left = timeout.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(status) => status.ok(),
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                let _ = rx.recv();
                None
            }
        }
    })
}

/// A process that printed `listening on ADDR…`; killed and reaped on drop.
pub struct Listening {
    pub child: Child,
    /// Every address from the `listening on` line.
    pub addrs: Vec<SocketAddr>,
}

impl Listening {
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawn `cmd` (typically `fake_peer`) and block until it prints
/// `listening on ADDR[ ADDR…]` (at most `timeout`); its stderr is passed through.
pub fn spawn_listening(mut cmd: Command, timeout: Duration) -> Listening {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"));
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || forward_first_line(stdout, tx));
    let line = match rx.recv_timeout(timeout) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not print `listening on` within {timeout:?}");
        }
    };
    let addrs = parse_listening(&line);
    let listening = Listening { child, addrs };
    assert!(
        !listening.addrs.is_empty(),
        "{cmd:?} printed {line:?} instead of `listening on ADDR`"
    );
    listening
}

/// Send the first stdout line, then keep reading so the child never blocks on a full pipe.
fn forward_first_line(stdout: ChildStdout, tx: mpsc::Sender<String>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let _ = tx.send(line);
    let _ = std::io::copy(&mut reader, &mut std::io::sink());
}

fn parse_listening(line: &str) -> Vec<SocketAddr> {
    line.trim()
        .strip_prefix("listening on ")
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|a| a.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}
