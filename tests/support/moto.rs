//! One moto server (STS + IAM fake, from the project venv) per test process.
//!
//! Owner: test infrastructure. [`moto()`] starts `<venv>/bin/moto_server -H 127.0.0.1
//! -p 0` once (the venv is `$CREDCHECK_VENV` or `<repo>/.venv`, made by `scripts/test`),
//! waits for werkzeug's `Running on http://127.0.0.1:PORT` line (≤ 60 s) and keeps
//! draining its stderr. Moto runs under a tiny `sh` watchdog whose stdin pipe this
//! process holds: when the test binary exits, however it exits, the pipe closes and the
//! watchdog kills moto. Without a venv it returns None after a visible SKIP line, or
//! panics when `CI=true`.
//!
//! Requests to moto are plain HTTP form POSTs with a syntactically valid (unsigned)
//! SigV4 `Authorization` header: moto routes by the credential scope's service and
//! reads the access key id from it, but does not verify signatures.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use super::peer::{form_body, http_request, rfc3339, unix_now, xml_value, HttpResponse};

/// Account moto puts everything in.
pub const MOTO_ACCOUNT: &str = "123456789012";
/// Any key id works for moto's own (non-assumed) calls.
pub const MOTO_ADMIN_KEY: &str = "AKIAMOTOADMIN0000001";
const STARTUP_LIMIT: Duration = Duration::from_secs(60);

/// Temporary credentials issued by moto.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    pub akid: String,
    pub secret: String,
    pub token: String,
    pub expiration: String,
}

/// The running moto server.
pub struct Moto {
    addr: SocketAddr,
    /// Held, never written: closing it (process exit) makes the watchdog kill moto.
    _watchdog_stdin: Mutex<ChildStdin>,
    log: Arc<Mutex<Vec<String>>>,
}

/// Outcome of the one start attempt, shared by every test.
enum State {
    Ready(Moto),
    /// No venv: tests skip (or fail under `CI=true`).
    Missing(String),
    /// moto is installed but did not come up: every test that needs it fails.
    Failed(String),
}

static MOTO: OnceLock<State> = OnceLock::new();

/// The process-wide moto, started on first use. None = no venv: a SKIP line naming
/// the calling test has been printed (under `CI=true` this panics instead).
pub fn moto() -> Option<&'static Moto> {
    match MOTO.get_or_init(start) {
        State::Ready(moto) => Some(moto),
        State::Missing(why) if super::in_ci() => panic!("moto is required in CI: {why}"),
        State::Missing(why) => {
            super::skip(&super::current_test(), why);
            None
        }
        State::Failed(why) => panic!("{why}"),
    }
}

/// `$CREDCHECK_VENV`, else `<CARGO_MANIFEST_DIR>/.venv`.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("CREDCHECK_VENV") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv"),
    }
}

fn start() -> State {
    let server = venv_dir().join("bin/moto_server");
    if !server.is_file() {
        let why = format!(
            "{} not found; run scripts/test to create the venv",
            server.display()
        );
        return State::Missing(why);
    }
    match spawn_moto(&server) {
        Ok(moto) => State::Ready(moto),
        Err(why) => State::Failed(why),
    }
}

fn spawn_moto(server: &std::path::Path) -> Result<Moto, String> {
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("moto-home");
    std::fs::create_dir_all(&home).map_err(|e| format!("create {}: {e}", home.display()))?;
    let mut child = watchdog_command(server, &home)
        .spawn()
        .map_err(|e| format!("cannot spawn moto_server watchdog: {e}"))?;
    let stdin = child.stdin.take().expect("watchdog stdin");
    let stderr = child.stderr.take().expect("moto stderr");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let sink = Arc::clone(&log);
    thread::spawn(move || drain_stderr(stderr, sink, tx));
    let port = rx.recv_timeout(STARTUP_LIMIT).map_err(|_| {
        format!(
            "moto_server not ready within {STARTUP_LIMIT:?} (exited or hung):\n{}",
            join(&log)
        )
    });
    // Reap the watchdog whenever it ends; on failure, dropping `stdin` ends it.
    thread::spawn(move || child.wait());
    let addr = SocketAddr::from(([127, 0, 0, 1], port?));
    Ok(Moto {
        addr,
        _watchdog_stdin: Mutex::new(stdin),
        log,
    })
}

/// `sh -c 'moto_server … & read; kill'`: moto lives exactly as long as our stdin pipe.
fn watchdog_command(server: &std::path::Path, home: &std::path::Path) -> Command {
    let bin_dir = server.parent().unwrap_or(server);
    // sh drops its own copy of the stderr pipe, so EOF there means moto itself exited.
    let script = r#""$0" -H 127.0.0.1 -p 0 & pid=$!; exec 2>/dev/null; read _unused; kill "$pid"; wait "$pid""#;
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", script])
        .arg(server)
        .env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Keep the last 500 stderr lines; send the port once "Running on http://…:PORT" appears.
fn drain_stderr(
    stderr: std::process::ChildStderr,
    log: Arc<Mutex<Vec<String>>>,
    ready: mpsc::Sender<u16>,
) {
    let mut ready = Some(ready);
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if let Some(port) = running_on_port(&line) {
            if let Some(tx) = ready.take() {
                let _ = tx.send(port);
            }
        }
        let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= 500 {
            log.remove(0);
        }
        log.push(line);
    }
}

fn running_on_port(line: &str) -> Option<u16> {
    let url = line
        .split("Running on ")
        .nth(1)?
        .split_whitespace()
        .next()?;
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

fn join(log: &Mutex<Vec<String>>) -> String {
    log.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
}

impl Moto {
    /// `http://127.0.0.1:PORT` (use as `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_STS`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// moto's stderr so far (request log, tracebacks).
    pub fn log(&self) -> String {
        join(&self.log)
    }

    /// POST a Query-API form to `service` ("sts", "iam"), "signed" with `akid`.
    pub fn call(&self, service: &str, akid: &str, form: &[(&str, &str)]) -> HttpResponse {
        let auth = sigv4_header(akid, service);
        let amz_date = amz_date(unix_now());
        let headers = [
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("X-Amz-Date", amz_date.as_str()),
            ("Authorization", auth.as_str()),
        ];
        let body = form_body(form);
        http_request(self.addr, "POST", "/", &headers, body.as_bytes())
            .unwrap_or_else(|e| panic!("moto {service} request failed: {e}\n{}", self.log()))
    }

    /// iam CreateRole (trusting everyone); an existing role is fine. Returns the role ARN.
    pub fn create_role(&self, role_name: &str) -> String {
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        let resp = self.call(
            "iam",
            MOTO_ADMIN_KEY,
            &[
                ("Action", "CreateRole"),
                ("Version", "2010-05-08"),
                ("RoleName", role_name),
                ("AssumeRolePolicyDocument", policy),
            ],
        );
        let exists = resp.text().contains("EntityAlreadyExists");
        assert!(
            resp.status == 200 || exists,
            "CreateRole failed: {} {}",
            resp.status,
            resp.text()
        );
        format!("arn:aws:iam::{MOTO_ACCOUNT}:role/{role_name}")
    }

    /// Create the role if needed and AssumeRole it; moto remembers the new key, so
    /// GetCallerIdentity with it answers `arn:aws:sts::123456789012:assumed-role/ROLE/SESSION`.
    pub fn assume_role(&self, role_name: &str, session: &str) -> Creds {
        let role_arn = self.create_role(role_name);
        let resp = self.call(
            "sts",
            MOTO_ADMIN_KEY,
            &[
                ("Action", "AssumeRole"),
                ("Version", "2011-06-15"),
                ("RoleArn", &role_arn),
                ("RoleSessionName", session),
                ("DurationSeconds", "3600"),
            ],
        );
        let xml = resp.text();
        assert_eq!(resp.status, 200, "AssumeRole failed: {xml}");
        let field = |tag: &str| {
            xml_value(&xml, tag)
                .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
                .to_string()
        };
        Creds {
            akid: field("AccessKeyId"),
            secret: field("SecretAccessKey"),
            token: field("SessionToken"),
            expiration: field("Expiration"),
        }
    }

    /// sts GetCallerIdentity "signed" with `akid`; returns the raw response.
    pub fn get_caller_identity(&self, akid: &str) -> HttpResponse {
        self.call(
            "sts",
            akid,
            &[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")],
        )
    }

    /// The `<Arn>` GetCallerIdentity reports for `akid`.
    pub fn caller_arn(&self, akid: &str) -> String {
        let resp = self.get_caller_identity(akid);
        let xml = resp.text();
        assert_eq!(resp.status, 200, "GetCallerIdentity failed: {xml}");
        xml_value(&xml, "Arn")
            .unwrap_or_else(|| panic!("no <Arn> in {xml}"))
            .to_string()
    }
}

/// `20261123T100000Z`.
fn amz_date(unix: i64) -> String {
    rfc3339(unix).replace(['-', ':'], "")
}

/// A well-formed SigV4 header with a dummy signature (moto does not verify it).
fn sigv4_header(akid: &str, service: &str) -> String {
    let stamp = amz_date(unix_now());
    let date = &stamp[..8];
    format!(
        "AWS4-HMAC-SHA256 Credential={akid}/{date}/us-east-1/{service}/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, Signature={}",
        "0".repeat(64)
    )
}
