//! A loopback HTTP/1.1 server that replays recorded answers: aws-config's `http-traffic.json`
//! for the conformance scenarios, and small synthetic answers (ECS, IMDS, SSO) for the
//! botocore differential.
//!
//! Model: one accept thread, one thread per connection, one request per connection (every
//! answer says `connection: close`). A request is matched by method and target (path plus
//! query, query pairs sorted) against the exchanges in recorded order: the first unused match
//! is served. Once every match has been used, the last one is served again: a real endpoint
//! answers the same question the same way, and credcheck asks some endpoints again after
//! aws-config has asked them (its own IMDS walk after the profile's IMDS base credentials).
//! Anything else gets a 404 and is logged as unmatched. Recorded hosts are ignored: the test
//! points every endpoint variable at this one server. Binds 127.0.0.1 only. Reads no env vars.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A stuck client must not keep a connection thread forever.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Request bodies are read (so the client sees no reset) but never kept.
const BODY_CAP: usize = 1 << 20;

/// One recorded (or synthetic) request and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// The recorded host, e.g. `169.254.169.254`; empty for synthetic answers.
    pub host: String,
    /// Path plus normalised query.
    pub target: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Exchange {
    /// A synthetic answer.
    pub fn new(method: &str, target: &str, status: u16, body: impl Into<Vec<u8>>) -> Exchange {
        Exchange {
            method: method.to_string(),
            host: String::new(),
            target: normalize(target),
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub matched: bool,
}

/// Reads an aws-config `http-traffic.json`: exchanges in the order of their requests.
pub fn load(path: &Path) -> Vec<Exchange> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut open: Vec<(u64, Exchange)> = Vec::new();
    for event in doc["events"].as_array().into_iter().flatten() {
        apply_event(&mut open, event);
    }
    open.into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.status != 0)
        .collect()
}

fn apply_event(open: &mut Vec<(u64, Exchange)>, event: &Value) {
    let id = event["connection_id"].as_u64().unwrap_or(u64::MAX);
    let action = &event["action"];
    if let Some(request) = action.get("Request") {
        open.push((id, from_request(&request["request"])));
        return;
    }
    let Some((_, exchange)) = open.iter_mut().rev().find(|(i, _)| *i == id) else {
        return;
    };
    if let Some(ok) = action.get("Response").and_then(|r| r["response"].get("Ok")) {
        exchange.status = ok["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(0);
        exchange.headers = recorded_headers(&ok["headers"]);
    } else if let Some(data) = action.get("Data").filter(|d| d["direction"] == "Response") {
        let chunk = data["data"]["Utf8"]
            .as_str()
            .expect("only Utf8 response data is recorded");
        exchange.body.extend_from_slice(chunk.as_bytes());
    }
}

fn from_request(request: &Value) -> Exchange {
    let uri = request["uri"].as_str().unwrap_or("/");
    let (host, target) = split_uri(uri);
    let method = request["method"].as_str().unwrap_or("GET").to_string();
    Exchange {
        method,
        host,
        target,
        status: 0,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn recorded_headers(headers: &Value) -> Vec<(String, String)> {
    let Some(map) = headers.as_object() else {
        return Vec::new();
    };
    let values = |(k, v): (&String, &Value)| {
        let list = v.as_array().cloned().unwrap_or_default();
        list.into_iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .map(move |s| (k.clone(), s))
            .collect::<Vec<_>>()
    };
    map.iter().flat_map(values).collect()
}

/// `http://host/path?q` → (`host`, normalised `/path?q`).
pub fn split_uri(uri: &str) -> (String, String) {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    match rest.find('/') {
        Some(i) => (rest[..i].to_string(), normalize(&rest[i..])),
        None => (rest.to_string(), "/".to_string()),
    }
}

/// Sorts the query pairs, so that `?b=2&a=1` matches `?a=1&b=2`.
pub fn normalize(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else {
        return target.to_string();
    };
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_unstable();
    match pairs.is_empty() {
        true => path.to_string(),
        false => format!("{path}?{}", pairs.join("&")),
    }
}

struct State {
    exchanges: Vec<Exchange>,
    used: Mutex<Vec<bool>>,
    seen: Mutex<Vec<Seen>>,
}

impl State {
    fn answer(&self, method: &str, target: &str) -> Vec<u8> {
        let pick = self.pick(method, target);
        let seen = Seen {
            method: method.to_string(),
            target: target.to_string(),
            matched: pick.is_some(),
        };
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(seen);
        match pick {
            Some(i) => render(&self.exchanges[i]),
            None => render(&Exchange::new(method, target, 404, "")),
        }
    }

    fn pick(&self, method: &str, target: &str) -> Option<usize> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        let is_match = |e: &Exchange| e.method.eq_ignore_ascii_case(method) && e.target == target;
        let matches: Vec<usize> = (0..self.exchanges.len())
            .filter(|i| is_match(&self.exchanges[*i]))
            .collect();
        let pick = matches
            .iter()
            .copied()
            .find(|i| !used[*i])
            .or_else(|| matches.last().copied())?;
        used[pick] = true;
        Some(pick)
    }
}

/// The running server; dropping it stops the accept loop.
pub struct Replay {
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Replay {
    pub fn start(exchanges: Vec<Exchange>) -> Replay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let used = Mutex::new(vec![false; exchanges.len()]);
        let state = Arc::new(State {
            exchanges,
            used,
            seen: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (s, f) = (Arc::clone(&state), Arc::clone(&stop));
        let accept = thread::spawn(move || accept_loop(&listener, &s, &f));
        Replay {
            addr,
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests that matched nothing, as `METHOD target`.
    pub fn unmatched(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|s| !s.matched)
            .map(|s| format!("{} {}", s.method, s.target))
            .collect()
    }

    /// Recorded exchanges that were never served, as `METHOD host target`.
    pub fn unused(&self) -> Vec<String> {
        let used = self.state.used.lock().unwrap_or_else(|e| e.into_inner());
        let exchanges = self.state.exchanges.iter().zip(used.iter());
        exchanges
            .filter(|(_, u)| !**u)
            .map(|(e, _)| format!("{} {}{}", e.method, e.host, e.target))
            .collect()
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>, stop: &AtomicBool) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else { continue };
        let state = Arc::clone(state);
        thread::spawn(move || serve(stream, &state));
    }
}

fn serve(mut stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Some((method, target)) = read_request(&stream) else {
        return;
    };
    let _ = stream.write_all(&state.answer(&method, &target));
    let _ = stream.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

/// Reads the request line, the headers and the body; returns the method and the target.
fn read_request(stream: &TcpStream) -> Option<(String, String)> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let raw_target = parts.next()?;
    let target = match raw_target.starts_with('/') {
        true => normalize(raw_target),
        false => split_uri(raw_target).1,
    };
    let length = read_headers(&mut reader)?;
    let mut body = vec![0; length.min(BODY_CAP)];
    reader.read_exact(&mut body).ok()?;
    Some((method, target))
}

/// Consumes the header block; returns the content length.
fn read_headers(reader: &mut impl BufRead) -> Option<usize> {
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return Some(length);
        }
        let header = header.trim_end();
        if header.is_empty() {
            return Some(length);
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
}

fn render(e: &Exchange) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", e.status, reason(e.status));
    for (name, value) in e.headers.iter().filter(|(n, _)| !is_framing(n)) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        e.body.len()
    ));
    let mut out = head.into_bytes();
    out.extend_from_slice(&e.body);
    out
}

/// Headers this server sets itself: the recorded ones may not fit the replayed body.
fn is_framing(name: &str) -> bool {
    ["content-length", "transfer-encoding", "connection"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
