//! Throw-away network namespaces that hold the real link-local endpoint addresses
//! (169.254.170.2 ECS, 169.254.170.23 + fd00:ec2::23 EKS Pod Identity, 169.254.169.254 +
//! fd00:ec2::254 IMDS) on their own loopback, so credcheck can be run against its
//! default endpoints without any traffic leaving the namespace.
//!
//! Owner: test infrastructure. Needs root and iproute2's `ip`. [`Netns::create`]
//! returns None (the caller prints a SKIP line) when either is missing, except with
//! `CI=true`, where it panics. Dropping a [`Netns`] kills every process still inside it
//! (by pid, from `ip netns pids`) and deletes it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{example_bin, in_ci, spawn_listening, Listening};

/// Addresses [`Netns::create`] puts on the namespace's `lo`.
pub const ENDPOINT_ADDRS: [&str; 5] = [
    "169.254.170.2/32",
    "169.254.170.23/32",
    "169.254.169.254/32",
    "fd00:ec2::23/128",
    "fd00:ec2::254/128",
];

/// Every namespace this harness creates is named `credcheck-<prefix>-<pid>-<n>`.
const NAME_ROOT: &str = "credcheck-";

/// A network namespace owned by this test process.
pub struct Netns {
    name: String,
    ip: PathBuf,
}

impl Netns {
    /// New namespace with `lo` up and [`ENDPOINT_ADDRS`] on it.
    pub fn create(name_prefix: &str) -> Option<Netns> {
        Self::create_with(name_prefix, &ENDPOINT_ADDRS)
    }

    /// New namespace with `lo` up and `addrs` (CIDR notation) on it.
    pub fn create_with(name_prefix: &str, addrs: &[&str]) -> Option<Netns> {
        let ip = match preflight() {
            Ok(ip) => ip,
            Err(why) if in_ci() => {
                panic!("network namespace tests need root and `ip` in CI: {why}")
            }
            Err(why) => {
                super::skip(
                    &super::current_test(),
                    &format!("no network namespace: {why}"),
                );
                return None;
            }
        };
        remove_stale(&ip);
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{NAME_ROOT}{name_prefix}-{}-{n}", std::process::id());
        if let Err(why) = run_ip(&ip, &["netns", "add", &name]) {
            assert!(!in_ci(), "cannot create network namespace in CI: {why}");
            super::skip(
                &super::current_test(),
                &format!("`ip netns add` failed: {why}"),
            );
            return None;
        }
        let ns = Netns { name, ip };
        ns.ip_in(&["link", "set", "lo", "up"]);
        for addr in addrs {
            ns.add_addr(addr);
        }
        Some(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    /// Path of the `ip` binary used.
    pub fn ip_bin(&self) -> &Path {
        &self.ip
    }

    /// Add an address (CIDR) to the namespace's `lo`; IPv6 ones without DAD.
    pub fn add_addr(&self, cidr: &str) {
        if cidr.contains(':') {
            self.ip_in(&["-6", "addr", "add", cidr, "dev", "lo", "nodad"]);
        } else {
            self.ip_in(&["addr", "add", cidr, "dev", "lo"]);
        }
    }

    /// An interface with `cidr` whose other addresses never answer (a black hole inside this
    /// namespace, for a resolver that never answers).
    /// (A veth pair inside the namespace: the other end holds no address, so neighbour
    /// discovery never completes and every packet is dropped, silently.)
    pub fn add_black_hole(&self, cidr: &str) {
        self.ip_in(&[
            "link", "add", "cc-bh0", "type", "veth", "peer", "name", "cc-bh1",
        ]);
        self.ip_in(&["addr", "add", cidr, "dev", "cc-bh0"]);
        self.ip_in(&["link", "set", "cc-bh0", "up"]);
        self.ip_in(&["link", "set", "cc-bh1", "up"]);
    }

    /// `/etc/netns/NS/resolv.conf`, which `ip netns exec` mounts over `/etc/resolv.conf`;
    /// removed when the guard is dropped.
    pub fn resolv_conf(&self, text: &str) -> ResolvConf {
        let dir = PathBuf::from("/etc/netns").join(&self.name);
        std::fs::create_dir_all(&dir).expect("mkdir /etc/netns/NS");
        std::fs::write(dir.join("resolv.conf"), text).expect("write resolv.conf");
        ResolvConf(dir)
    }

    /// `ip -n NS <args>`; panics on failure.
    fn ip_in(&self, args: &[&str]) {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        if let Err(why) = run_ip(&self.ip, &full) {
            panic!("ip {}: {why}", full.join(" "));
        }
    }

    /// `ip netns exec NS program` as a Command to customise (env is inherited unless cleared).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(&self.ip);
        cmd.args(["netns", "exec", self.name.as_str()]).arg(program);
        cmd
    }

    /// Spawn `program args…` inside the namespace with an empty environment
    /// (plus `PATH=/usr/bin:/bin`). Killed when the namespace is dropped at the latest.
    pub fn spawn(&self, program: impl AsRef<OsStr>, args: &[&str]) -> Child {
        let mut cmd = self.command(program);
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null());
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {cmd:?}: {e}"))
    }

    /// Start `fake_peer args…` inside the namespace and wait (≤ 10 s) for its
    /// `listening on` line, e.g. `ns.spawn_peer(&["--bind", "169.254.170.2:80"])`.
    pub fn spawn_peer(&self, args: &[&str]) -> Listening {
        let mut cmd = self.command(example_bin("fake_peer"));
        cmd.args(args).env_clear();
        spawn_listening(cmd, Duration::from_secs(10))
    }

    /// Pids of the processes inside the namespace.
    pub fn pids(&self) -> Vec<u32> {
        let out = Command::new(&self.ip)
            .args(["netns", "pids", self.name.as_str()])
            .output();
        let stdout = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        stdout
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        kill_pids(&self.pids());
        let _ = run_ip(&self.ip, &["netns", "del", self.name.as_str()]);
    }
}

/// SIGKILL the given pids (all are processes this harness started in its namespace).
fn kill_pids(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let mut kill = Command::new("/bin/kill");
    kill.arg("-KILL").args(pids.iter().map(u32::to_string));
    let _ = kill.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Root and an `ip` binary, or why not.
/// Root and iproute2's `ip`: the path of `ip`, or why not.
pub fn preflight() -> Result<PathBuf, String> {
    if !is_root() {
        return Err("not running as root".into());
    }
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| "iproute2 `ip` not found".into())
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

fn run_ip(ip: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(ip)
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Delete namespaces left behind by killed test processes (ours, by name; owner pid gone).
fn remove_stale(ip: &Path) {
    let Ok(out) = Command::new(ip).args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(NAME_ROOT) else {
            continue;
        };
        let owner = rest.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let stale = Netns {
                name: name.to_string(),
                ip: ip.to_path_buf(),
            };
            drop(stale);
        }
    }
}

/// Removes `/etc/netns/NS` when dropped.
pub struct ResolvConf(PathBuf);

impl Drop for ResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
