//! The real Fluent Bit (v5.1.1, `../shared/fluent-bit/`) as a log router in a test: find the
//! binary, write a FireLens-shaped classic config around one `[OUTPUT]`, run it with a clean
//! environment, read its metrics API, decide whether its records were accepted by the fake
//! CloudWatch Logs (`support::logs`) or refused, and stop it with SIGTERM.
//!
//! Reads `FLUENT_BIT` (the binary; default `<repo>/../shared/fluent-bit/bin/fluent-bit`) and,
//! through `support::in_ci`, `CI`. The router's own environment is built from nothing
//! (`env_clear()`): only what the caller passes, plus `AWS_EC2_METADATA_DISABLED=true`.
//!
//! Safety: Fluent Bit's credential chain ends with EC2 IMDS, which it reaches only when every
//! earlier provider fails (fluent-bit v5.1.1 `src/aws/flb_aws_credentials.c` 135-190, init and
//! refresh walk env, profile, web identity, HTTP, then EC2 and stop at the first success). The
//! callers give it a loopback container endpoint that always answers, and [`Router`] is
//! stopped (dropped) before that endpoint, so it never gets that far.

use super::logs::{Fake, Seen};
use super::peer;
use serde_json::Value;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The router's binary: `$FLUENT_BIT`, else `<repo>/../shared/fluent-bit/bin/fluent-bit`.
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("FLUENT_BIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fluent-bit/bin/fluent-bit")
        });
    path.is_file().then_some(path)
}

/// The binary, or None after one SKIP line; in CI (which has it) a missing binary fails.
pub fn binary_or_skip(test: &str) -> Option<PathBuf> {
    let found = binary();
    if found.is_none() {
        let why =
            "the real Fluent Bit is not at $FLUENT_BIT or ../shared/fluent-bit/bin/fluent-bit";
        assert!(!super::in_ci(), "{test}: {why} (CI must have it)");
        super::skip(test, why);
    }
    found
}

/// A free loopback port (bound, read, released) for the router's HTTP server.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Where the `[OUTPUT]` goes: FireLens's `@INCLUDE` of one user file, the 70th file of an
/// `@INCLUDE conf.d/*.conf` glob, or the YAML format (`includes: [extra.yaml]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    Extra,
    ConfD70,
    Yaml,
}

impl Layout {
    /// The file that holds the output.
    pub fn output_file(self, dir: &Path) -> PathBuf {
        match self {
            Layout::Extra => dir.join("extra.conf"),
            Layout::ConfD70 => dir.join("conf.d/69-cloudwatch.conf"),
            Layout::Yaml => dir.join("extra.yaml"),
        }
    }
}

/// The `[SERVICE]` + dummy `[INPUT]` of a FireLens-like router, and its `[OUTPUT]`s (in this
/// order) in an included file. Returns the main file. `http_port` None: no HTTP server (the Go plugin's
/// emulator has no metrics API).
pub fn write_config(
    dir: &Path,
    tag: &str,
    http_port: Option<u16>,
    outputs: &[Vec<(String, String)>],
    layout: Layout,
) -> PathBuf {
    if layout == Layout::Yaml {
        return write_yaml(dir, tag, http_port, outputs);
    }
    let mut service =
        String::from("[SERVICE]\n    Flush        1\n    Grace        1\n    Log_Level    info\n");
    if let Some(port) = http_port {
        service.push_str(&format!(
            "    HTTP_Server  On\n    HTTP_Listen  127.0.0.1\n    HTTP_Port    {port}\n"
        ));
    }
    // Retries after 1-2 s instead of 5-10 s: the refusal (retries_failed) shows sooner. It
    // changes when, not whether, a chunk is retried (Retry_Limit stays the default, 1).
    service.push_str("    scheduler.base 1\n    scheduler.cap  2\n");
    let include = match layout {
        Layout::Extra | Layout::Yaml => "extra.conf",
        Layout::ConfD70 => "conf.d/*.conf",
    };
    let main = format!(
        "{service}\n[INPUT]\n    Name  dummy\n    Tag   {tag}\n    Dummy {{\"log\":\"fbdiff record\",\"source\":\"stdout\"}}\n\n@INCLUDE {include}\n"
    );
    let mut out = String::new();
    for output in outputs {
        out.push_str("[OUTPUT]\n");
        for (k, v) in output {
            out.push_str(&format!("    {k} {v}\n"));
        }
    }
    match layout {
        Layout::Extra | Layout::Yaml => write(&layout.output_file(dir), &out),
        Layout::ConfD70 => {
            for i in 0..69 {
                write(
                    &dir.join(format!("conf.d/{i:02}.conf")),
                    &format!("# conf.d part {i}: nothing but a comment\n"),
                );
            }
            write(&layout.output_file(dir), &out);
        }
    }
    let path = dir.join("fluent-bit.conf");
    write(&path, &main);
    path
}

/// The same router in Fluent Bit's YAML format: `service`, the dummy input, and the output in
/// `extra.yaml` by `includes`. Values are single-quoted YAML scalars.
fn write_yaml(
    dir: &Path,
    tag: &str,
    http_port: Option<u16>,
    outputs: &[Vec<(String, String)>],
) -> PathBuf {
    let q = |v: &str| format!("'{}'", v.replace('\'', "''"));
    let mut main = String::from("service:\n  flush: 1\n  grace: 1\n  log_level: info\n");
    if let Some(port) = http_port {
        main.push_str(&format!(
            "  http_server: on\n  http_listen: 127.0.0.1\n  http_port: {port}\n"
        ));
    }
    main.push_str("  scheduler.base: 1\n  scheduler.cap: 2\nincludes:\n  - extra.yaml\n");
    main.push_str(&format!(
        "pipeline:\n  inputs:\n    - name: dummy\n      tag: {}\n      dummy: {}\n",
        q(tag),
        q("{\"log\":\"fbdiff record\",\"source\":\"stdout\"}")
    ));
    let mut out = String::from("pipeline:\n  outputs:\n");
    for output in outputs {
        for (i, (k, v)) in output.iter().enumerate() {
            let lead = if i == 0 { "    - " } else { "      " };
            out.push_str(&format!("{lead}{}: {}\n", k.to_ascii_lowercase(), q(v)));
        }
    }
    write(&Layout::Yaml.output_file(dir), &out);
    let path = dir.join("fluent-bit.yaml");
    write(&path, &main);
    path
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("config dir");
    }
    std::fs::write(path, text).expect("write config");
}

/// A router's output (stdout and stderr as read) with the count of closed pipes, and the
/// condition notified on each read.
type Log = (Mutex<(Vec<u8>, u8)>, Condvar);

/// A running Fluent Bit; killed and reaped on drop if not stopped.
pub struct Router {
    child: Child,
    /// Its output so far and how many of its two pipes have closed; notified on each read.
    log: Arc<Log>,
    http: Option<SocketAddr>,
    status: Option<ExitStatus>,
}

/// What the router did with its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The fake stored an event it sent; the evidence.
    Accepted(String),
    /// It gave up a chunk, or exited; the evidence.
    Refused(String),
}

impl Outcome {
    pub fn accepted(&self) -> bool {
        matches!(self, Outcome::Accepted(_))
    }
    pub fn evidence(&self) -> &str {
        match self {
            Outcome::Accepted(e) | Outcome::Refused(e) => e,
        }
    }
}

impl Router {
    /// Starts `bin -c config` with exactly `env` (plus `AWS_EC2_METADATA_DISABLED=true`).
    pub fn start(
        bin: &Path,
        config: &Path,
        env: &[(String, String)],
        http_port: Option<u16>,
    ) -> Router {
        let mut cmd = Command::new(bin);
        cmd.arg("-c")
            .arg(config)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let log = Arc::new((Mutex::new((Vec::new(), 0)), Condvar::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let sink = Arc::clone(&log);
            thread::spawn(move || drain(pipe, &sink));
        }
        Router {
            child,
            log,
            http: http_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
            status: None,
        }
    }

    /// Whether it exited because its HTTP port was taken: it logs "[engine] could not start
    /// HTTP server" and exits 255 (seen with v5.1.1). Blocks on its log until it says it
    /// listens (`[http_server] listen`) or could not, or its output ends, at most 10 s.
    pub fn http_port_taken(&self) -> bool {
        if self.http.is_none() {
            return false;
        }
        let text = self.wait_log(Duration::from_secs(10), |t| {
            t.contains("[http_server] listen") || t.contains("could not start HTTP server")
        });
        text.contains("could not start HTTP server")
    }

    /// Blocks until `done` holds for its log, or both pipes closed, or `timeout`; the log.
    fn wait_log(&self, timeout: Duration, done: impl Fn(&str) -> bool) -> String {
        let (buf, changed) = &*self.log;
        let end = Instant::now() + timeout;
        let mut guard = buf.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let text = String::from_utf8_lossy(&guard.0).into_owned();
            let left = end.saturating_duration_since(Instant::now());
            if done(&text) || guard.1 == 2 || left.is_zero() {
                return text;
            }
            guard = changed
                .wait_timeout(guard, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Everything it printed so far (stdout and stderr, interleaved as read).
    pub fn log(&self) -> String {
        let guard = self.log.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&guard.0).into_owned()
    }

    /// Its `[error]` lines (the refusal as Fluent Bit tells it).
    pub fn error_lines(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("[error]"))
            .map(str::to_string)
            .collect()
    }

    /// `GET /api/v1/metrics` (None before the first snapshot, which answers 404, or without
    /// an HTTP server).
    pub fn metrics(&self) -> Option<Value> {
        let addr = self.http?;
        let resp = peer::http_request_timeout(
            addr,
            "GET",
            "/api/v1/metrics",
            &[],
            b"",
            Duration::from_secs(2),
        )
        .ok()?;
        (resp.status == 200)
            .then(|| serde_json::from_slice(&resp.body).ok())
            .flatten()
    }

    /// Whether it has exited (reaped once).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits until the fake stored an event from it (accepted), or it gave up a chunk
    /// (`retries_failed`, `errors` or `dropped_records` above 0 in its metrics: fluent-bit
    /// v5.1.1 `src/flb_engine.c` 730-861) or exited (refused), at most `limit`. Requests the
    /// fake saw before `mark` are not its own. Blocks on the fake's answers in 300 ms slices,
    /// reading the metrics between them.
    pub fn outcome(&mut self, fake: &Fake, mark: usize, limit: Duration) -> Option<Outcome> {
        self.outcome_since(fake, mark, None, limit)
    }

    /// The same, counting only failures beyond `baseline` (an earlier [`Router::metrics`]),
    /// and with a baseline only when the fake also refused one of the requests it sent from
    /// `mark` on: the metrics snapshot lags up to 1 s (src/flb_metrics_exporter.c 233-234), so
    /// failures from before `mark` may still arrive after the baseline.
    pub fn outcome_since(
        &mut self,
        fake: &Fake,
        mark: usize,
        baseline: Option<&Value>,
        limit: Duration,
    ) -> Option<Outcome> {
        let end = Instant::now() + limit;
        let stored = |seen: &[Seen]| seen.iter().skip(mark).any(|s| s.stored > 0);
        loop {
            if fake.wait_for(Duration::from_millis(300), stored) {
                let seen = fake.seen();
                let n: usize = seen.iter().skip(mark).map(|s| s.stored).sum();
                return Some(Outcome::Accepted(format!(
                    "the fake stored {n} event(s) [{}]",
                    calls(&seen[mark..])
                )));
            }
            if let Some(status) = self.exited() {
                return Some(Outcome::Refused(format!(
                    "Fluent Bit exited ({status}): {}",
                    self.first_error().unwrap_or_default()
                )));
            }
            let refused_since = || {
                fake.seen().iter().skip(mark).any(|s| {
                    s.error
                        .as_deref()
                        .is_some_and(|e| e != "ResourceAlreadyExistsException")
                })
            };
            let given_up = self.metrics().and_then(|m| gave_up(&m, baseline));
            if let Some(given_up) = given_up.filter(|_| baseline.is_none() || refused_since()) {
                return Some(Outcome::Refused(format!(
                    "{given_up} [{}]; {}",
                    calls(&fake.seen()[mark..]),
                    self.first_error().unwrap_or_default()
                )));
            }
            if Instant::now() >= end {
                return None;
            }
        }
    }

    /// The output's first `[error]` line (the credential chain's notes about absent profile
    /// files are not the refusal).
    fn first_error(&self) -> Option<String> {
        let lines = self.error_lines();
        lines
            .iter()
            .find(|l| l.contains("[output:"))
            .or_else(|| lines.iter().find(|l| !l.contains("[aws_credentials]")))
            .cloned()
    }

    /// SIGTERM, then wait (Grace 1 bounds its shutdown; after 10 s it is killed). Returns
    /// its exit status and log.
    pub fn stop(mut self) -> (Option<ExitStatus>, String) {
        if self.exited().is_none() {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let (tx, rx) = std::sync::mpsc::channel();
            let child = &mut self.child;
            self.status = thread::scope(|scope| {
                scope.spawn(move || {
                    let _ = tx.send(child.wait().ok());
                });
                rx.recv_timeout(Duration::from_secs(10))
                    .unwrap_or_else(|_| {
                        let _ = Command::new("kill").args(["-KILL", &pid]).status();
                        rx.recv().ok().flatten()
                    })
            });
        }
        (self.status, self.log())
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `Op → status code, …` for the requests the fake answered (a run of the same answer once,
/// with its count).
pub fn calls(seen: &[Seen]) -> String {
    let mut runs: Vec<(String, usize)> = Vec::new();
    for s in seen {
        let call = match &s.error {
            Some(e) => format!("{} → {} {e}", s.operation, s.status),
            None => format!("{} → {}", s.operation, s.status),
        };
        match runs.last_mut() {
            Some((last, n)) if *last == call => *n += 1,
            _ => runs.push((call, 1)),
        }
    }
    runs.into_iter()
        .map(|(c, n)| if n > 1 { format!("{c} ×{n}") } else { c })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Some(why)` when any output's counters say a chunk was given up (since `baseline`).
fn gave_up(metrics: &Value, baseline: Option<&Value>) -> Option<String> {
    let outputs = metrics["output"].as_object()?;
    outputs.iter().find_map(|(name, m)| {
        let base = |k: &str| {
            baseline
                .and_then(|b| b["output"][name][k].as_u64())
                .unwrap_or(0)
        };
        let n = |k: &str| m[k].as_u64().unwrap_or(0).saturating_sub(base(k));
        (n("retries_failed") > 0 || n("errors") > 0 || n("dropped_records") > 0).then(|| {
            format!(
                "{name}: errors {}, retries {}, retries_failed {}, dropped_records {}",
                n("errors"),
                n("retries"),
                n("retries_failed"),
                n("dropped_records")
            )
        })
    })
}

fn drain(mut pipe: Box<dyn Read + Send>, sink: &Log) {
    let mut chunk = [0u8; 8192];
    let lock = || sink.0.lock().unwrap_or_else(|e| e.into_inner());
    while let Ok(n @ 1..) = pipe.read(&mut chunk) {
        lock().0.extend_from_slice(&chunk[..n]);
        sink.1.notify_all();
    }
    lock().1 += 1;
    sink.1.notify_all();
}
