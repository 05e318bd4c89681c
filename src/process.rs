//! Another process, read through `/proc`: whose environment a run evaluates.
//!
//! Owns: `--pid PID` (evaluate the chain with PID's environment from `/proc/PID/environ` and
//! its files through `/proc/PID/root`), the init rule (when the process is an init such as
//! `docker-init`, tini, dumb-init or catatonit, which is what ECS `initProcessEnabled` and
//! `docker run --init` put at PID 1, the app is its child; when PID 1 is `pause`, a shared
//! namespace's, the app is the first process another container started), the automatic comparison with
//! PID 1 inside a container, the `environment-differs` warning (names only, never values),
//! and the typed errors of reading another process.
//!
//! "Inside a container" means: credcheck's PID namespace is not the initial one (the kernel
//! gives the initial namespace the fixed inode 0xEFFFFFFC, `pid:[4026531836]`). Only then is
//! PID 1 the container's app rather than the host's init; `/.dockerenv` or ECS/Kubernetes
//! variables alone do not say that (a container run with `--pid host` has them too).
//!
//! `/proc/PID/environ` is the environment the process was started with (what `exec` gave
//! it: an entrypoint's `export X; exec app` is visible); a later `setenv` inside the process
//! is not.
//! Reads: `/proc/PID/{environ,comm,status,root}`, `/proc/PID/task/PID/children`,
//! `/proc/self/ns/pid`, `/proc/self/status`; CREDCHECK_PID and CREDCHECK_NO_COMPARE arrive
//! through `Settings`.

use crate::chain::{container, env_vars, imds, web_identity};
use crate::env::Env;
use crate::error::Error;
use crate::secret::printable;
use crate::warning::Warning;
use serde::Serialize;
use std::io::{self, Read};
use std::path::PathBuf;

/// The kernel's inode for the initial PID namespace (`PROC_PID_INIT_INO`).
const INITIAL_PID_NS: &str = "pid:[4026531836]";
/// What PID 1 is called when it is an init that starts the app as its child.
const INITS: [&str; 5] = [
    "docker-init",
    "tini",
    "dumb-init",
    "catatonit",
    "tini-static",
];
/// PID 1 of a shared PID namespace: the pause container's process.
const PAUSE: &str = "pause";
/// An environment block is bounded by the kernel's argument limits; this is far above them.
const ENVIRON_CAP: u64 = 8 * 1024 * 1024;
/// Bit 19 of the capability sets.
const CAP_SYS_PTRACE: u32 = 19;
/// At most this many names are listed in one `environment-differs` warning.
const MAX_NAMES: usize = 24;

/// Whose environment a run evaluated (the report's `process`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Subject {
    pub pid: u32,
    /// `/proc/PID/comm`, printable.
    pub comm: String,
    /// Real uid.
    pub uid: Option<u32>,
    /// The init it was found under (`--pid 1` in a container whose PID 1 is an init).
    pub init: Option<String>,
}

impl Subject {
    /// `PID 7 (app)` for messages.
    pub fn label(&self) -> String {
        format!("PID {} ({})", self.pid, self.comm)
    }
}

/// `--pid PID`: PID's environment, with files read through its root. An init's child is
/// taken instead of the init, and a shared namespace's first app instead of its `pause`.
pub fn open(pid: u32) -> Result<(Subject, Env), Error> {
    let status = Status::read(pid)?;
    let app = match status.comm.as_str() {
        comm if INITS.contains(&comm) => app_below(pid),
        PAUSE if pid == 1 => first_container_process(),
        _ => None,
    };
    let Some(app) = app else {
        return open_exact(pid);
    };
    let (mut subject, env) = open_exact(app)?;
    subject.init = Some(status.comm);
    Ok((subject, env))
}

fn open_exact(pid: u32) -> Result<(Subject, Env), Error> {
    let status = Status::read(pid)?;
    let environ = read_environ(pid, &status)?;
    if environ.is_empty() && status.is_dead() {
        return Err(zombie(pid, &status));
    }
    let root = proc_path(pid, "root");
    if let Err(e) = std::fs::read_dir(&root) {
        if e.kind() == io::ErrorKind::PermissionDenied {
            return Err(denied(pid, &status, "root"));
        }
    }
    let env = Env::from_environ(&environ, root);
    env_vars::register_secrets(&env);
    Ok((
        Subject {
            pid,
            comm: status.comm,
            uid: status.uid,
            init: None,
        },
        env,
    ))
}

/// Without `--pid`, in report mode: the process to compare credcheck's environment with.
/// Only inside a container (see the header), only when PID 1 is not credcheck itself and its
/// environment is readable; any failure means "no comparison", never an error.
pub fn compare_target() -> Option<(Subject, Env)> {
    if !is_in_container() {
        return None;
    }
    let (subject, env) = open(1).ok()?;
    let own = std::process::id();
    (subject.pid != own && !is_ancestor_of_self(subject.pid)).then_some((subject, env))
}

/// credcheck runs in a PID namespace other than the initial one (a container's).
pub fn is_in_container() -> bool {
    std::fs::read_link("/proc/self/ns/pid").is_ok_and(|link| link.as_os_str() != INITIAL_PID_NS)
}

fn is_ancestor_of_self(pid: u32) -> bool {
    let mut current = std::process::id();
    for _ in 0..64 {
        match Status::read(current).ok().and_then(|s| s.ppid) {
            Some(parent) if parent == pid => return true,
            Some(parent) if parent > 0 => current = parent,
            _ => return false,
        }
    }
    false
}

/// A shared PID namespace's PID 1 (Kubernetes `shareProcessNamespace`, ECS `pidMode: task`):
/// the app is the first process another container started: the lowest PID whose parent is
/// outside the namespace (PPid 0), other than credcheck and its ancestors.
fn first_container_process() -> Option<u32> {
    let own = std::process::id();
    let dir = std::fs::read_dir("/proc").ok()?;
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| *p > 1 && *p != own && !is_ancestor_of_self(*p))
        .filter(|p| Status::read(*p).ok().and_then(|s| s.ppid) == Some(0))
        .min()
}

/// The app under an init: its first (lowest) child that is not credcheck itself.
fn app_below(pid: u32) -> Option<u32> {
    let own = std::process::id();
    children(pid).into_iter().filter(|c| *c != own).min()
}

/// Children from `/proc/PID/task/PID/children`, else by scanning every process's parent.
fn children(pid: u32) -> Vec<u32> {
    let listed = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_else(|_| Vec::new());
    if !listed.is_empty() {
        return listed;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| Status::read(*p).ok().and_then(|s| s.ppid) == Some(pid))
        .collect()
}

fn proc_path(pid: u32, leaf: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{leaf}"))
}

/// The few fields of `/proc/PID/status` credcheck needs.
#[derive(Debug)]
struct Status {
    comm: String,
    state: char,
    uid: Option<u32>,
    ppid: Option<u32>,
}

impl Status {
    fn read(pid: u32) -> Result<Status, Error> {
        let text =
            std::fs::read_to_string(proc_path(pid, "status")).map_err(|e| missing(pid, &e))?;
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let comm = std::fs::read_to_string(proc_path(pid, "comm"))
            .map(|c| c.trim_end_matches('\n').to_string())
            .unwrap_or_else(|_| field("Name:").unwrap_or("?").to_string());
        let first_number = |name: &str| {
            field(name)
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        };
        Ok(Status {
            comm: printable(&comm, 32),
            state: field("State:")
                .and_then(|s| s.chars().next())
                .unwrap_or('?'),
            uid: first_number("Uid:"),
            ppid: first_number("PPid:"),
        })
    }

    /// A zombie (`Z`) or a process on its way out (`X`): its memory, and so its
    /// environment, is gone.
    fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

fn read_environ(pid: u32, status: &Status) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    std::fs::File::open(proc_path(pid, "environ"))
        .and_then(|f| f.take(ENVIRON_CAP).read_to_end(&mut buf))
        .map_err(|e| match e.kind() {
            io::ErrorKind::PermissionDenied => denied(pid, status, "environ"),
            _ if status.is_dead() => zombie(pid, status),
            _ => missing(pid, &e),
        })?;
    Ok(buf)
}

/// credcheck's own `AWS_EC2_METADATA_DISABLED=true` is a promise to send no IMDS traffic; it
/// holds under `--pid` too. When the process's environment does not disable IMDS, the walk
/// uses a copy that does, and a warning says the app's SDK would try IMDS.
pub fn keep_imds_off(own: &Env, env: &Env, subject: &Subject) -> (Env, Option<Warning>) {
    if !imds::is_disabled(own) || imds::is_disabled(env) {
        return (env.clone(), None);
    }
    let warning = Warning::new(
        "imds-not-contacted",
        format!("{} does not disable IMDS, but credcheck's own {}=true does: IMDS was not contacted, and the chain shows it disabled; the app's SDK would try it", subject.label(), imds::DISABLED),
        format!("unset {} in credcheck's environment to check IMDS as the app would", imds::DISABLED),
    );
    (env.clone().with_var(imds::DISABLED, "true"), Some(warning))
}

// ---------------------------------------------------------------------------------------
// Errors: each one line with a hint; all exit 2 in report mode (1 in health mode).
// ---------------------------------------------------------------------------------------

const SHARE_HINT: &str = "run credcheck in the app's PID namespace: ECS Exec or docker exec into the app's container, or a sidecar with ECS pidMode \"task\", docker run --pid container:<app>, or Kubernetes shareProcessNamespace: true";

fn missing(pid: u32, e: &io::Error) -> Error {
    if e.kind() == io::ErrorKind::PermissionDenied {
        return Error::config(
            "pid-unreadable",
            format!("/proc/{pid} cannot be read: {e}"),
            "mount /proc without hidepid, or run credcheck as the process's user or as root",
        );
    }
    if is_in_container() {
        return Error::usage(
            "pid-not-in-namespace",
            format!("no process {pid} in credcheck's PID namespace: credcheck runs in a container's own PID namespace and sees only its processes"),
            SHARE_HINT,
        );
    }
    Error::usage(
        "pid-not-found",
        format!("no process {pid} is running"),
        "pass the PID of the running app (pgrep -f <app>, or 1 inside its container)",
    )
}

fn zombie(pid: u32, status: &Status) -> Error {
    Error::usage(
        "pid-zombie",
        format!(
            "process {pid} ({}) has exited (a zombie): its environment is gone",
            status.comm
        ),
        "pass the PID of the running app, not of a finished process; its parent has not reaped it yet",
    )
}

/// `/proc/PID/environ` or `/proc/PID/root` (the kernel checks both alike, but a sandbox may
/// refuse only one) cannot be read: say who runs as whom, and what is missing.
fn denied(pid: u32, status: &Status, leaf: &'static str) -> Error {
    let me = Status::read(std::process::id()).ok().and_then(|s| s.uid);
    let theirs = status
        .uid
        .map_or_else(|| "?".to_string(), |u| u.to_string());
    let why = match me {
        Some(0) if !has_ptrace_capability() => format!("credcheck runs as root but without CAP_SYS_PTRACE (process {pid} runs as uid {theirs})"),
        Some(0) => format!("credcheck runs as root, yet the kernel refused (Yama ptrace_scope or an LSM; process {pid} runs as uid {theirs})"),
        Some(uid) if Some(uid) != status.uid => format!("process {pid} ({}) runs as uid {theirs}, credcheck as uid {uid}, without root or CAP_SYS_PTRACE", status.comm),
        _ => format!("the kernel refused (Yama ptrace_scope or an LSM; process {pid} runs as uid {theirs})"),
    };
    let code = match leaf {
        "root" => "pid-root-denied",
        _ => "pid-environ-denied",
    };
    Error::config(
        code,
        format!("/proc/{pid}/{leaf} cannot be read: {why}"),
        "run credcheck as the app's user, or as root with CAP_SYS_PTRACE (docker --cap-add SYS_PTRACE; ECS linuxParameters.capabilities.add [\"SYS_PTRACE\"])",
    )
}

fn has_ptrace_capability() -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_PTRACE) != 0)
}

// ---------------------------------------------------------------------------------------
// environment-differs: names only, and which side has each.
// ---------------------------------------------------------------------------------------

/// Proxy variables, either case: they decide whether the SDK reaches the endpoints.
const PROXY_VARS: [&str; 8] = [
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
];

/// A variable that changes the credential chain (or credcheck's checks of it).
pub fn is_chain_variable(name: &str) -> bool {
    name.starts_with("AWS_")
        || name.starts_with("CREDCHECK_")
        || name.starts_with("ECS_CONTAINER_METADATA_URI")
        || matches!(
            name,
            "HOME" | "SECRET_ACCESS_KEY" | "LOG_SENSITIVE_BODIES" | "SSL_CERT_FILE"
        )
        || PROXY_VARS.contains(&name)
}

/// How two environments differ in the chain's variables, by name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Difference {
    pub only_theirs: Vec<String>,
    pub only_ours: Vec<String>,
    pub changed: Vec<String>,
}

impl Difference {
    pub fn between(ours: &Env, theirs: &Env) -> Difference {
        let mut diff = Difference::default();
        for (name, value) in theirs.vars().filter(|(n, _)| is_chain_variable(n)) {
            match ours.get(name) {
                None => diff.only_theirs.push(printable(name, 80)),
                Some(v) if v != value => diff.changed.push(printable(name, 80)),
                Some(_) => {}
            }
        }
        for (name, _) in ours.vars().filter(|(n, _)| is_chain_variable(n)) {
            if !theirs.is_set(name) {
                diff.only_ours.push(printable(name, 80));
            }
        }
        diff
    }

    pub fn is_empty(&self) -> bool {
        self.only_theirs.is_empty() && self.only_ours.is_empty() && self.changed.is_empty()
    }
}

/// Who is compared with whom, for the warning's wording.
pub enum Comparison<'a> {
    /// `--pid`: the report is the subject's; credcheck's own environment differs.
    Evaluated(&'a Subject),
    /// No `--pid`: the report is credcheck's own; the app (PID 1 or its child) differs.
    Observed(&'a Subject),
}

/// `environment-differs`, when the chain's variables differ. Never a value.
pub fn environment_differs(ours: &Env, theirs: &Env, cmp: Comparison<'_>) -> Option<Warning> {
    let diff = Difference::between(ours, theirs);
    if diff.is_empty() {
        return None;
    }
    let (subject, hint) = match cmp {
        Comparison::Evaluated(s) => (s, format!("this report is {}'s; credcheck's own environment would resolve differently. Fix the app's environment at its source (task definition, entrypoint), not the shell's", s.label())),
        Comparison::Observed(s) => (s, format!("ECS Exec, docker exec and kubectl exec start with the container's configured environment, not what the entrypoint exported or unset: run credcheck --pid {} to see what the app uses", s.pid)),
    };
    let mut parts = Vec::new();
    let them = subject.label();
    if !diff.only_theirs.is_empty() {
        parts.push(format!(
            "{them} has {}, this shell does not",
            names(&diff.only_theirs)
        ));
    }
    if !diff.only_ours.is_empty() {
        parts.push(format!(
            "this shell has {}, {them} does not",
            names(&diff.only_ours)
        ));
    }
    if !diff.changed.is_empty() {
        let verb = if diff.changed.len() == 1 {
            "differs"
        } else {
            "differ"
        };
        parts.push(format!("{} {verb}", names(&diff.changed)));
    }
    let mut message = parts.join("; ");
    if let Some(consequence) = consequence(ours, theirs) {
        message.push_str(": ");
        message.push_str(&consequence);
    }
    Some(Warning::new("environment-differs", message, hint))
}

fn names(list: &[String]) -> String {
    let shown: Vec<&str> = list.iter().take(MAX_NAMES).map(String::as_str).collect();
    match list.len().saturating_sub(MAX_NAMES) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// "the app uses env keys, not the container role": the first source each environment
/// configures by variables alone (profiles need files, so they are left out).
fn consequence(ours: &Env, theirs: &Env) -> Option<String> {
    let (mine, app) = (env_source(ours)?, env_source(theirs)?);
    (mine != app).then(|| format!("the app uses {app}, not {mine}"))
}

fn env_source(env: &Env) -> Option<&'static str> {
    if env_vars::keys(env) == env_vars::Keys::Both {
        return Some("env keys");
    }
    if env.non_blank(web_identity::TOKEN_FILE).is_some()
        && env.non_blank(web_identity::ROLE_ARN).is_some()
    {
        return Some("the web identity role");
    }
    if env.non_blank(container::RELATIVE_URI).is_some()
        || env.non_blank(container::FULL_URI).is_some()
    {
        return Some("the container role");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::SystemTime;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied(), SystemTime::UNIX_EPOCH)
    }

    #[test]
    fn environ_is_decoded_lossily_first_wins() {
        let raw = b"A=1\0B\0A=2\0C=x=y\0\xff\xfe=\xc3\0\0";
        let e = Env::from_environ(raw, PathBuf::from("/proc/9/root"));
        assert_eq!(e.get("A"), Some("1"));
        assert_eq!(e.get("C"), Some("x=y"));
        assert!(!e.is_set("B"));
        assert_eq!(e.vars().count(), 3);
    }

    #[test]
    fn host_path_maps_under_the_root() {
        let e = Env::from_environ(b"", PathBuf::from("/proc/9/root"));
        assert_eq!(
            e.host_path(Path::new("/home/app/.aws/config")),
            PathBuf::from("/proc/9/root/home/app/.aws/config")
        );
        assert_eq!(
            e.host_path(Path::new("token")),
            PathBuf::from("/proc/9/cwd/token")
        );
        assert_eq!(
            env(&[]).host_path(Path::new("/etc/x")),
            PathBuf::from("/etc/x")
        );
    }

    #[test]
    fn difference_names_each_side_never_values() {
        let ours = env(&[
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/x"),
            ("AWS_REGION", "us-east-1"),
            ("PATH", "/bin"),
        ]);
        let theirs = env(&[
            ("AWS_ACCESS_KEY_ID", "AKIAVALUE"),
            ("AWS_SECRET_ACCESS_KEY", "secretvalue"),
            ("AWS_REGION", "eu-west-1"),
            ("PATH", "/usr/bin"),
        ]);
        let subject = Subject {
            pid: 7,
            comm: "app".into(),
            uid: Some(0),
            init: None,
        };
        let w = environment_differs(&ours, &theirs, Comparison::Observed(&subject)).unwrap();
        assert_eq!(w.code, "environment-differs");
        assert!(
            w.message.contains(
                "PID 7 (app) has AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, this shell does not"
            ),
            "{}",
            w.message
        );
        assert!(w
            .message
            .contains("this shell has AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"));
        assert!(w.message.contains("AWS_REGION differs"));
        assert!(w
            .message
            .contains("the app uses env keys, not the container role"));
        for value in ["AKIAVALUE", "secretvalue", "eu-west-1", "/v2/x", "PATH"] {
            assert!(!w.message.contains(value), "{value} in {}", w.message);
        }
        assert!(environment_differs(&ours, &ours, Comparison::Observed(&subject)).is_none());
    }
}
