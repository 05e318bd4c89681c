//! The egress trap (issue 21: no run of the sweep may attempt a host that did not come from a
//! validated Region or an explicit endpoint). A sweep test runs itself again inside a network
//! and mount namespace of its own (`unshare --net --mount`), where loopback works as usual
//! (every fake of the sweep listens there) and the only way out is a veth, [`IFACE`], that
//! holds the IPv4 and IPv6 default routes, with `/etc/resolv.conf` bound to a nameserver
//! on loopback. An nftables rule on the output hook drops every TCP and UDP packet to any
//! interface but `lo` and counts it, so a connection attempt to any host at all (a hostile
//! Region's, an AWS endpoint's, a link-local metadata address) is counted and goes nowhere.
//! The nameserver is a fake in this process ([`NAMESERVER`] on `lo`) that records every name
//! asked and answers NXDOMAIN, so no lookup leads anywhere either. After every run the sweep
//! asserts that nothing was dropped and that every name asked is one an explicit endpoint of
//! the sweep names (a user's `AWS_ENDPOINT_URL_STS=http://user:…` names the host `user`, and
//! the SDKs look it up too); it fails on the first packet or name, naming the run (or one beside
//! it: four run at once).
//!
//! Owner: test infrastructure. Needs root, util-linux's `unshare`, iproute2's `ip` and `nft`;
//! without them the sweep runs without the trap and prints a SKIP line, except with `CI=true`,
//! where it fails.

use std::path::Path;
use std::process::{Command, Stdio};

/// The veth that holds the default routes.
pub const IFACE: &str = "egress0";
/// Set in the re-run: the test is inside the trap.
const INSIDE: &str = "CREDCHECK_EGRESS_TRAP";
/// Documentation ranges (RFC 5737, RFC 3849): routed to [`IFACE`], never answered.
const V4: &str = "192.0.2.1/24";
const V6: &str = "2001:db8::1/64";
const NAMESERVER: &str = "192.0.2.53";
const UNSHARE: &str = "/usr/bin/unshare";
const NFT: &str = "/usr/sbin/nft";

/// What a sweep test does about the trap.
pub enum Trap {
    /// This process is inside it: check [`Inside::sent`] after every run.
    Inside(Inside),
    /// The re-run inside the trap has passed; nothing is left to do here.
    RanInside,
    /// No trap here (not root, no `unshare`): run without it (a SKIP line said so).
    Unavailable,
}

/// The trap, seen from inside.
pub struct Inside {
    base: u64,
    asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Inside {
    /// Packets sent to [`IFACE`] since the sweep began.
    pub fn sent(&self) -> u64 {
        escapes() - self.base
    }

    /// Every name the nameserver was asked, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }

    /// Fails `what` if any packet has left loopback, or a name outside `explicit` was looked up.
    pub fn assert_none(&self, what: &str, explicit: &[&str]) {
        let sent = self.sent();
        assert_eq!(
            sent, 0,
            "{what} (or a run beside it): {sent} packet(s) tried to leave loopback, to a host no \
             validated Region or explicit endpoint names"
        );
        let asked = self.asked();
        let stray: Vec<&String> = asked
            .iter()
            .filter(|name| !explicit.contains(&name.trim_end_matches('.')))
            .collect();
        assert!(
            stray.is_empty(),
            "{what} (or a run beside it): looked up {stray:?}, which no explicit endpoint names"
        );
    }
}

/// Enters the trap for the test `test` (its full libtest name): inside the re-run, returns
/// [`Trap::Inside`] after proving that the trap counts; outside, re-runs this test binary
/// with only that test, inside a fresh namespace, and asserts that it passed.
pub fn enter(test: &str) -> Trap {
    if std::env::var_os(INSIDE).is_some() {
        return Trap::Inside(prove());
    }
    let ip = match super::netns::preflight() {
        Ok(ip) if Path::new(UNSHARE).exists() && Path::new(NFT).exists() => {
            ip.display().to_string()
        }
        Ok(_) | Err(_) => {
            assert!(
                !super::in_ci(),
                "the egress trap needs root, unshare, ip and nft in CI"
            );
            super::skip(
                test,
                "no egress trap (needs root, unshare, ip and nft): the sweep runs without it",
            );
            return Trap::Unavailable;
        }
    };
    let script = format!(
        "set -e
ip() {{ \"{ip}\" \"$@\"; }}
ip link set lo up
ip link add {IFACE} type veth peer name {IFACE}-peer
ip link set {IFACE}-peer up
ip link set {IFACE} up
ip addr add {V4} dev {IFACE}
ip route add default dev {IFACE}
ip -6 addr add {V6} dev {IFACE} nodad
ip -6 route add default dev {IFACE}
ip addr add {NAMESERVER}/32 dev lo
{NFT} add table inet trap
{NFT} add counter inet trap escapes
{NFT} add chain inet trap out '{{ type filter hook output priority 0; policy accept; }}'
{NFT} add rule inet trap out oifname != lo meta l4proto '{{ tcp, udp }}' counter name escapes drop
resolv=$(mktemp)
echo 'nameserver {NAMESERVER}' > \"$resolv\"
mount --bind \"$resolv\" /etc/resolv.conf
exec \"$0\" \"$@\""
    );
    let exe = std::env::current_exe().expect("current_exe");
    let status = Command::new(UNSHARE)
        .args([
            "--net",
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
        ])
        .arg(&script)
        .arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(INSIDE, "1")
        .stdin(Stdio::null())
        .status()
        .expect("unshare the egress trap");
    assert!(status.success(), "{test} inside the egress trap: {status}");
    Trap::RanInside
}

/// The packets the output rule has dropped (`nft list counter`).
fn escapes() -> u64 {
    let out = Command::new(NFT)
        .args(["list", "counter", "inet", "trap", "escapes"])
        .output()
        .expect("nft list counter");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no escapes counter: not inside the trap? {text:?}"))
}

/// The fake nameserver on [`NAMESERVER`]:53 (UDP): records each query's name and answers
/// NXDOMAIN (RFC 1035 §4.1: the header with QR set and RCODE 3, the question echoed).
fn nameserver() -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let socket = std::net::UdpSocket::bind((NAMESERVER, 53)).expect("bind the trap's nameserver");
    let log = asked.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let query = &buf[..n];
            if n < 12 {
                continue;
            }
            let (name, end) = qname(&query[12..]);
            log.lock().unwrap().push(name);
            let question_end = (12 + end + 4).min(n);
            let mut answer = query[..question_end].to_vec();
            answer[2] = 0x80 | (query[2] & 0x01); // QR, RD echoed
            answer[3] = 0x80 | 0x03; // RA, NXDOMAIN
            answer[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
            let _ = socket.send_to(&answer, from);
        }
    });
    asked
}

/// The dotted name at the start of a question, and the bytes it took.
fn qname(mut q: &[u8]) -> (String, usize) {
    let mut labels = Vec::new();
    let mut used = 0;
    while let Some((&len, rest)) = q.split_first() {
        used += 1;
        let len = len as usize;
        if len == 0 || len > 63 || rest.len() < len {
            break;
        }
        labels.push(String::from_utf8_lossy(&rest[..len]).into_owned());
        used += len;
        q = &rest[len..];
    }
    (labels.join("."), used)
}

/// Proves that the trap counts (one UDP datagram to each default route, and resolv.conf is
/// the trap's), then starts the count at zero.
fn prove() -> Inside {
    let before = escapes();
    for (bind, to) in [("0.0.0.0:0", "192.0.2.9:9"), ("[::]:0", "[2001:db8::9]:9")] {
        let socket = std::net::UdpSocket::bind(bind).expect("bind a UDP socket");
        // The rule drops it: the kernel answers EPERM.
        let _ = socket.send_to(b"trap", to);
    }
    let after = escapes();
    assert_eq!(
        after - before,
        2,
        "the egress trap did not count its own probes"
    );
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    assert!(
        resolv.contains(NAMESERVER),
        "/etc/resolv.conf is not the trap's: {resolv:?}"
    );
    let asked = nameserver();
    super::say!(
        "egress trap: {IFACE} holds the IPv4 and IPv6 default routes; nftables counted its 2 probe packets; the nameserver is the trap's"
    );
    Inside { base: after, asked }
}
