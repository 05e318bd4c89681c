//! The processes of one PID namespace, read through `/proc` (issue 23): each one's PID,
//! parent, command, user, start time and the chain's variables of its environment.
//!
//! Owns: enumerating `/proc`, the namespace filter, the caps. Everything is read on one
//! thread of the bounded reader (`file::run_bounded`), each file with its own cap, and the
//! listing stops at the run's deadline with what it has (the rest is counted, never waited
//! for). A process that exits mid-read is skipped and counted; kernel threads (no command
//! line, no environment) are skipped and counted. Only the variables the chain, the flags and
//! SDK detection read are kept, so 10,000 processes cost little memory.
//! Reads: `/proc/PID/{stat,status,comm,cmdline,environ,ns/pid,ns/mnt}`, `/proc/stat`
//! (`btime`); no env vars of credcheck's own.

use crate::env::Env;
use crate::file::{self, FileError};
use crate::process::is_chain_variable;
use crate::secret::{printable, sanitize_foreign};
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// More processes than this in one namespace are counted, not read.
pub const MAX_PROCESSES: usize = 20_000;
/// The kernel caps one environment string at 128 KiB and the whole block near ARG_MAX.
const ENVIRON_CAP: u64 = 4 * 1024 * 1024;
const CMDLINE_CAP: u64 = 64 * 1024;
const SMALL_CAP: u64 = 16 * 1024;
/// Variables SDK detection reads besides the chain's.
const DETECTION_VARS: [&str; 3] = ["PYTHONPATH", "VIRTUAL_ENV", "NODE_PATH"];

/// One process, as read.
#[derive(Debug, Clone)]
pub struct Proc {
    pub pid: u32,
    /// `/proc/PID`.
    pub dir: PathBuf,
    pub ppid: Option<u32>,
    /// `/proc/PID/comm`, printable.
    pub comm: String,
    /// The command line under the foreign-text rule (`secret::sanitize_foreign`), at most 160
    /// characters.
    pub command: String,
    /// The command line's words (lossy), for SDK detection.
    pub argv: Vec<String>,
    pub uid: Option<u32>,
    pub started: Option<SystemTime>,
    /// The chain's variables (and detection's) only, with files read through its root.
    pub env: Env,
    /// `/proc/PID/ns/mnt`: processes that share it see the same files.
    pub mount_ns: String,
}

/// What the listing found.
#[derive(Debug, Default)]
pub struct Listing {
    pub procs: Vec<Proc>,
    /// Gone between the directory listing and the read.
    pub exited: usize,
    /// `/proc/PID/environ` refused (another user's process, without root).
    pub unreadable: usize,
    pub kernel_threads: usize,
    /// Not read: over [`MAX_PROCESSES`], or the deadline came first.
    pub not_read: usize,
}

/// Every process whose PID namespace is `ns` (a `/proc/PID/ns/pid` link text), except
/// credcheck itself. `deadline`: when reading must stop.
pub fn list(ns: String, deadline: Instant) -> Result<Listing, FileError> {
    let own = std::process::id();
    file::run_bounded(move || Ok(read_all(&ns, own, deadline)))
}

fn read_all(ns: &str, own: u32, deadline: Instant) -> Listing {
    let mut listing = Listing::default();
    let pids = pids();
    let boot = boot_time();
    for (i, pid) in pids.iter().copied().enumerate() {
        if i >= MAX_PROCESSES || Instant::now() >= deadline {
            listing.not_read = pids.len() - i;
            break;
        }
        if pid == own || !in_namespace(pid, ns) {
            continue;
        }
        match read_one(pid, boot) {
            Outcome::Got(p) => listing.procs.push(*p),
            Outcome::Exited => listing.exited += 1,
            Outcome::Unreadable => listing.unreadable += 1,
            Outcome::Kernel => listing.kernel_threads += 1,
        }
    }
    listing
}

/// The numeric entries of `/proc`, ascending.
fn pids() -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids
}

fn in_namespace(pid: u32, ns: &str) -> bool {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l.as_os_str() == ns)
}

enum Outcome {
    Got(Box<Proc>),
    Exited,
    Unreadable,
    Kernel,
}

fn read_one(pid: u32, boot: Option<SystemTime>) -> Outcome {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = capped(&dir.join("stat"), SMALL_CAP) else {
        return Outcome::Exited;
    };
    let stat = Stat::parse(&stat);
    let cmdline = capped(&dir.join("cmdline"), CMDLINE_CAP).unwrap_or_default();
    let environ = match capped(&dir.join("environ"), ENVIRON_CAP) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return Outcome::Unreadable,
        // A kernel thread has no memory map: its environ answers ESRCH while it runs.
        Err(_) if cmdline.is_empty() && stat.is_some() && dir.exists() => return Outcome::Kernel,
        Err(_) => return Outcome::Exited,
    };
    if cmdline.is_empty() && environ.is_empty() {
        return if stat.is_some() {
            Outcome::Kernel
        } else {
            Outcome::Exited
        };
    }
    let Some(stat) = stat else {
        return Outcome::Exited;
    };
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .take(64)
        .map(|w| String::from_utf8_lossy(&w[..w.len().min(4096)]).into_owned())
        .collect();
    let comm = capped(&dir.join("comm"), SMALL_CAP)
        .map(|c| String::from_utf8_lossy(&c).trim_end().to_string())
        .unwrap_or_else(|_| stat.comm.clone());
    Outcome::Got(Box::new(Proc {
        pid,
        dir: dir.clone(),
        ppid: Some(stat.ppid),
        comm: printable(&comm, 32),
        // Foreign text: a command line may carry a password or a key nothing registered.
        command: sanitize_foreign(&argv.join(" "), 160),
        argv,
        uid: uid(&dir),
        started: boot.map(|b| b + stat.since_boot()),
        env: Env::from_environ(&kept(&environ), dir.join("root")),
        mount_ns: std::fs::read_link(dir.join("ns/mnt"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }))
}

/// A `/proc` file, at most `cap` bytes (it reports size 0, so only the read can tell).
fn capped(path: &std::path::Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?.take(cap).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Only the `KEY=VALUE` entries the chain, the flags and detection read.
fn kept(environ: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in environ.split(|b| *b == 0) {
        let name = entry.split(|b| *b == b'=').next().unwrap_or_default();
        let name = String::from_utf8_lossy(name);
        if is_chain_variable(&name) || DETECTION_VARS.contains(&name.as_ref()) {
            out.extend_from_slice(entry);
            out.push(0);
        }
    }
    out
}

fn uid(dir: &std::path::Path) -> Option<u32> {
    let status = capped(&dir.join("status"), SMALL_CAP).ok()?;
    String::from_utf8_lossy(&status)
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The fields of `/proc/PID/stat` used here (proc(5)): comm (2), ppid (4), starttime (22,
/// clock ticks since boot).
struct Stat {
    comm: String,
    ppid: u32,
    start_ticks: u64,
}

impl Stat {
    /// The command name is in parentheses and may hold spaces and `)`: the fields after it
    /// start after the last `)`.
    fn parse(bytes: &[u8]) -> Option<Stat> {
        let text = String::from_utf8_lossy(bytes);
        let open = text.find('(')?;
        let close = text.rfind(')')?;
        let comm = text.get(open + 1..close)?.to_string();
        let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
        // rest[0] is field 3 (state).
        Some(Stat {
            comm,
            ppid: rest.get(1)?.parse().ok()?,
            start_ticks: rest.get(19)?.parse().ok()?,
        })
    }

    fn since_boot(&self) -> Duration {
        let hz = rustix::param::clock_ticks_per_second().max(1);
        Duration::from_millis(self.start_ticks.saturating_mul(1000) / hz)
    }
}

/// `btime` of `/proc/stat`: when the system booted.
fn boot_time() -> Option<SystemTime> {
    let stat = capped(std::path::Path::new("/proc/stat"), 1024 * 1024).ok()?;
    let secs: u64 = String::from_utf8_lossy(&stat)
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_command_name() {
        let stat = b"42 (a) b (c)) S 7 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12345 0 0";
        let s = Stat::parse(stat).expect("parsed");
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(s.ppid, 7);
        assert_eq!(s.start_ticks, 12345);
        assert!(Stat::parse(b"garbage").is_none());
        assert!(Stat::parse(b"1 (x) S").is_none());
    }

    #[test]
    fn a_command_line_is_foreign_text() {
        let argv = "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY --token=abcdefghijklmnopqrstuvwxyz0123456789 worker";
        let shown = sanitize_foreign(argv, 160);
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
        assert!(
            shown.starts_with("aws configure set") && shown.ends_with("worker"),
            "{shown}"
        );
    }

    #[test]
    fn only_the_chains_variables_are_kept() {
        let environ =
            b"PATH=/bin\0AWS_REGION=eu-west-1\0DB_PASSWORD=x\0PYTHONPATH=/opt\0HOME=/root\0";
        let kept = kept(environ);
        assert_eq!(kept, b"AWS_REGION=eu-west-1\0PYTHONPATH=/opt\0HOME=/root\0");
    }

    #[test]
    fn lists_this_test_process_s_children_in_its_namespace() {
        let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
        let listing = list(
            ns.to_string_lossy().into_owned(),
            Instant::now() + Duration::from_secs(30),
        )
        .unwrap();
        assert!(!listing.procs.is_empty());
        assert!(listing.procs.iter().all(|p| p.pid != std::process::id()));
    }
}
