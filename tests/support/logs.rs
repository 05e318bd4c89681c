//! Loopback fake of CloudWatch Logs (JSON 1.1) and IAM's policy simulator (Query, XML), for
//! the permission probe (issue 14). Std + serde_json only.
//!
//! It covers what moto does not: it evaluates each call's *Resource* (moto evaluates actions
//! only), with a test-only Allow/Deny evaluator over Action × Resource globs on the two ARN
//! shapes CloudWatch Logs authorises against (`…:log-group:G:log-stream:` for group-level
//! calls, `…:log-group:G:log-stream:S` for stream-level calls); it answers in AWS's dialect,
//! and it records every request so tests can assert what was (never) sent.
//!
//! It is also the account the real Fluent Bit writes to (`tests/fbdiff.rs`): Create* change
//! its state (a created group or stream exists from then on), events younger than 14 days
//! are stored, PutRetentionPolicy is authorised and recorded, every answer's status and error
//! code is kept with its request, and a test can block until an answer matches
//! ([`Fake::wait_for`]). [`Fake::start_tls`] serves HTTPS (blocking rustls on the same
//! std threads) for a client that only speaks TLS, as Fluent Bit's `cloudwatch_logs` does.
//!
//! The dialect, from the CloudWatch Logs API reference and the service model in
//! awslabs/aws-sdk-rust (sdk/cloudwatchlogs: error shapes AccessDeniedException,
//! ResourceNotFoundException, ResourceAlreadyExistsException, ThrottlingException,
//! ServiceUnavailableException; PutLogEvents' `rejectedLogEventsInfo.tooOldLogEventEndIndex`)
//! and the IAM User Guide ("Access denied error messages": the `because …` / `with an explicit
//! deny in …` tails):
//! - errors are HTTP 400 (503 for ServiceUnavailable) with `x-amzn-ErrorType: CODE` and
//!   `{"__type": "CODE", "message": …}`, content type `application/x-amz-json-1.1`;
//! - a missing group: "The specified log group does not exist."; an existing one on create:
//!   "The specified log group already exists" (streams likewise);
//! - events older than 14 days are not stored: `{"rejectedLogEventsInfo":
//!   {"tooOldLogEventEndIndex": N}}` with HTTP 200;
//! - IAM's SimulatePrincipalPolicy answers `EvaluationResults` XML (`text/xml`), one member per
//!   action, or `ResourceSpecificResults` per resource; a caller without permission gets 403
//!   `ErrorResponse` Code `AccessDenied`, an unknown role 404 Code `NoSuchEntity`.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const REGION: &str = "ap-northeast-1";
pub const ACCOUNT: &str = "123456789012";
pub const CALLER: &str =
    "arn:aws:sts::123456789012:assumed-role/credcheck-task-role/0f4b2f539a1e4c368d7b2f6c1e0b7a55";
const FOURTEEN_DAYS_MS: u64 = 14 * 24 * 3600 * 1000;

/// One policy statement: Allow or Deny, action and resource globs (`*`, `?`).
#[derive(Clone, Debug)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// Where a Deny comes from, for the message's tail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenySource {
    Identity,
    Scp,
    Boundary,
}

/// A fault injected for one action (or every action: `None`).
#[derive(Clone, Debug)]
pub enum Fault {
    Throttle,
    ServerError,
    Hang,
    /// A body that is not CloudWatch Logs' (a proxy's HTML page).
    Html(u16, String),
    /// Any status, content type and body (the sweep's injections).
    Raw(u16, String, Vec<u8>),
}

#[derive(Clone, Debug)]
pub enum Simulator {
    /// Evaluates the policy; `per_resource` answers in `ResourceSpecificResults`.
    Evaluate {
        per_resource: bool,
        role_arn: String,
    },
    Forbidden,
    NoSuchEntity,
    /// moto's behaviour: HTTP 500.
    Broken,
    /// Any status and body (the sweep's injections).
    Raw(u16, Vec<u8>),
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub statements: Vec<Statement>,
    pub deny_source: DenySource,
    /// group → streams that exist.
    pub groups: BTreeMap<String, Vec<String>>,
    pub faults: Vec<(Option<String>, Fault)>,
    pub simulator: Simulator,
    pub caller: String,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            statements: Vec::new(),
            deny_source: DenySource::Identity,
            groups: BTreeMap::new(),
            faults: Vec::new(),
            simulator: Simulator::Forbidden,
            caller: CALLER.to_string(),
        }
    }
}

impl Plan {
    pub fn allow(mut self, actions: &[&str], resources: &[&str]) -> Self {
        self.statements.push(statement(true, actions, resources));
        self
    }
    pub fn deny(mut self, actions: &[&str], resources: &[&str]) -> Self {
        self.statements.push(statement(false, actions, resources));
        self
    }
    pub fn group(mut self, group: &str, streams: &[&str]) -> Self {
        self.groups.insert(
            group.to_string(),
            streams.iter().map(|s| s.to_string()).collect(),
        );
        self
    }
    pub fn fault(mut self, action: Option<&str>, fault: Fault) -> Self {
        self.faults.push((action.map(str::to_string), fault));
        self
    }
    pub fn simulator(mut self, s: Simulator) -> Self {
        self.simulator = s;
        self
    }
    pub fn deny_source(mut self, s: DenySource) -> Self {
        self.deny_source = s;
        self
    }
}

fn statement(allow: bool, actions: &[&str], resources: &[&str]) -> Statement {
    Statement {
        allow,
        actions: actions.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
    }
}

/// IAM-style glob: `*` any run, `?` one character; actions compare case-insensitively.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `Some(true)` allowed, `Some(false)` explicitly denied, `None` implicitly denied.
pub fn evaluate(statements: &[Statement], action: &str, resource: &str) -> Option<bool> {
    let matches = |s: &Statement| {
        s.actions
            .iter()
            .any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && s.resources.iter().any(|r| glob(r, resource))
    };
    if statements.iter().any(|s| !s.allow && matches(s)) {
        return Some(false);
    }
    statements
        .iter()
        .any(|s| s.allow && matches(s))
        .then_some(true)
}

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// `CreateLogStream`, …, or `SimulatePrincipalPolicy`.
    pub operation: String,
    pub authorization: String,
    pub security_token: Option<String>,
    pub user_agent: String,
    pub body: String,
    /// The answer's HTTP status (0 until answered, and for a hung request).
    pub status: u16,
    /// The answer's error code (`AccessDeniedException`, …), None on success.
    pub error: Option<String>,
    /// Events this request stored (PutLogEvents with events younger than 14 days).
    pub stored: usize,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

struct Shared {
    plan: Mutex<Plan>,
    seen: Mutex<Vec<Seen>>,
    /// Events stored (must stay 0: the probe's event is always too old).
    stored: Mutex<usize>,
    /// Groups and streams created (must stay empty: no Create* on a missing name).
    created: Mutex<Vec<String>>,
    stopped: AtomicBool,
    /// Notified (with `seen`) whenever a request is answered.
    answered: Condvar,
}

/// A running fake; dropping it stops it.
pub struct Fake {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tls: bool,
    /// The same port on ::1 when it was free (a `localhost` that resolves to ::1 first).
    v6: Option<SocketAddr>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Fake {
    pub fn start(plan: Plan) -> Fake {
        Fake::start_on(plan, Ipv4Addr::LOCALHOST)
    }

    /// The same on `ip` (a test's own Docker network address), on a free port.
    pub fn start_on(plan: Plan, ip: Ipv4Addr) -> Fake {
        let listener = TcpListener::bind((ip, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = shared(plan);
        accept(listener, &shared, None);
        Fake {
            addr,
            shared,
            tls: false,
            v6: None,
        }
    }

    /// HTTPS on 127.0.0.1 (and the same port on ::1 when free) with `tls`'s certificate, which
    /// must name `localhost` (see `support::testca`).
    pub fn start_tls(plan: Plan, tls: Arc<rustls::ServerConfig>) -> Fake {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = shared(plan);
        accept(listener, &shared, Some(Arc::clone(&tls)));
        let v6 = TcpListener::bind((Ipv6Addr::LOCALHOST, addr.port()))
            .ok()
            .map(|l| {
                let a = l.local_addr().expect("addr");
                accept(l, &shared, Some(tls));
                a
            });
        Fake {
            addr,
            shared,
            tls: true,
            v6,
        }
    }
    /// `http://127.0.0.1:PORT`, or with TLS `https://localhost:PORT` (the certificate's name).
    pub fn url(&self) -> String {
        match self.tls {
            true => format!("https://localhost:{}", self.addr.port()),
            false => format!("http://{}", self.addr),
        }
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    /// Blocks until `done` holds for the requests seen so far (checked at once, then after
    /// each answer), or `timeout` passes; returns whether it held.
    pub fn wait_for(&self, timeout: Duration, mut done: impl FnMut(&[Seen]) -> bool) -> bool {
        let end = Instant::now() + timeout;
        let mut seen = lock(&self.shared.seen);
        loop {
            if done(&seen) {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            seen = self
                .shared
                .answered
                .wait_timeout(seen, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
    /// The policy from now on (a role's policy edited while the router runs).
    pub fn set_statements(&self, statements: Vec<Statement>) {
        lock(&self.shared.plan).statements = statements;
    }
    /// Which groups exist now, with their streams (Create* add to them).
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        lock(&self.shared.plan).groups.clone()
    }
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }
    pub fn operations(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.operation).collect()
    }
    pub fn stored_events(&self) -> usize {
        *lock(&self.shared.stored)
    }
    pub fn created(&self) -> Vec<String> {
        lock(&self.shared.created).clone()
    }
    pub fn clear(&self) {
        lock(&self.shared.seen).clear();
    }
    /// The promise, checked on what arrived: no Create* on a missing name (nothing was
    /// created), no retention or tagging call, no event stored.
    pub fn assert_changed_nothing(&self) {
        assert_eq!(
            self.created(),
            Vec::<String>::new(),
            "something was created"
        );
        assert_eq!(self.stored_events(), 0, "an event was stored");
        for op in self.operations() {
            assert!(
                !op.contains("Retention") && !op.contains("Tag"),
                "a forbidden call: {op}"
            );
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        for addr in std::iter::once(self.addr).chain(self.v6) {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
        }
        self.shared.answered.notify_all();
    }
}

fn shared(plan: Plan) -> Arc<Shared> {
    Arc::new(Shared {
        plan: Mutex::new(plan),
        seen: Mutex::new(Vec::new()),
        stored: Mutex::new(0),
        created: Mutex::new(Vec::new()),
        stopped: AtomicBool::new(false),
        answered: Condvar::new(),
    })
}

/// One thread accepts; one thread per connection serves one request (plain or TLS).
fn accept(listener: TcpListener, shared: &Arc<Shared>, tls: Option<Arc<rustls::ServerConfig>>) {
    let s = Arc::clone(shared);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if s.stopped.load(Ordering::SeqCst) {
                return;
            }
            let s = Arc::clone(&s);
            let tls = tls.clone();
            thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
                match tls.and_then(|c| rustls::ServerConnection::new(c).ok()) {
                    Some(conn) => {
                        let mut tls = rustls::StreamOwned::new(conn, stream);
                        serve(&s, &mut tls);
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    }
                    None => serve(&s, &mut &stream),
                }
            });
        }
    });
}

fn serve<S: Read + Write>(shared: &Shared, stream: &mut S) {
    let Some((headers, body)) = read(&mut BufReader::new(&mut *stream)) else {
        return;
    };
    let target = headers.get("x-amz-target").cloned();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let operation = match &target {
        Some(t) => t.rsplit('.').next().unwrap_or("").to_string(),
        None => form(&body_text).get("Action").cloned().unwrap_or_default(),
    };
    let index = {
        let mut seen = lock(&shared.seen);
        seen.push(Seen {
            operation: operation.clone(),
            authorization: headers.get("authorization").cloned().unwrap_or_default(),
            security_token: headers.get("x-amz-security-token").cloned(),
            user_agent: headers.get("user-agent").cloned().unwrap_or_default(),
            body: body_text.clone(),
            status: 0,
            error: None,
            stored: 0,
        });
        seen.len() - 1
    };
    let plan = lock(&shared.plan).clone();
    let fault = plan
        .faults
        .iter()
        .find(|(a, _)| a.as_deref().is_none_or(|a| a == operation))
        .map(|(_, f)| f.clone());
    let reply = match fault {
        Some(Fault::Hang) => {
            while !shared.stopped.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        Some(Fault::Throttle) => error(400, "ThrottlingException", "Rate exceeded"),
        Some(Fault::ServerError) => error(
            503,
            "ServiceUnavailableException",
            "The server failed to fulfill the request. Please try again.",
        ),
        Some(Fault::Html(status, text)) => (status, "text/html".into(), text.into_bytes()),
        Some(Fault::Raw(status, content_type, body)) => {
            (status, content_type.replace('|', " "), body)
        }
        None if target.is_none() => simulate(&plan, &body_text),
        None => logs(shared, &plan, &operation, &body_text, index),
    };
    let (status, content_type) = (reply.0, reply.1.clone());
    write(stream, reply);
    let mut seen = lock(&shared.seen);
    if let Some(s) = seen.get_mut(index) {
        s.status = status;
        s.error = content_type.split_once('|').map(|(_, e)| e.to_string());
    }
    drop(seen);
    shared.answered.notify_all();
}

type Reply = (u16, String, Vec<u8>);

fn error(status: u16, code: &str, message: &str) -> Reply {
    let body = json!({"__type": code, "message": message}).to_string();
    (
        status,
        format!("application/x-amz-json-1.1|{code}"),
        body.into_bytes(),
    )
}

fn ok(body: Value) -> Reply {
    (
        200,
        "application/x-amz-json-1.1".into(),
        body.to_string().into_bytes(),
    )
}

fn arn(group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{stream}")
}

fn denied(plan: &Plan, action: &str, resource: &str, explicit: bool) -> Reply {
    let tail = match (plan.deny_source, explicit) {
        (DenySource::Scp, _) => "with an explicit deny in a service control policy".to_string(),
        (DenySource::Boundary, _) => {
            format!("because no permissions boundary allows the {action} action")
        }
        (DenySource::Identity, true) => "with an explicit deny in an identity-based policy".into(),
        (DenySource::Identity, false) => {
            format!("because no identity-based policy allows the {action} action")
        }
    };
    let message = format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} {tail}",
        plan.caller
    );
    error(400, "AccessDeniedException", &message)
}

fn logs(shared: &Shared, plan: &Plan, op: &str, body: &str, index: usize) -> Reply {
    let req: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let group = req["logGroupName"].as_str().unwrap_or("").to_string();
    let stream = req["logStreamName"].as_str().unwrap_or("").to_string();
    let stream_level = matches!(op, "CreateLogStream" | "PutLogEvents");
    let resource = arn(&group, if stream_level { &stream } else { "" });
    let action = format!("logs:{op}");
    match evaluate(&plan.statements, &action, &resource) {
        Some(true) => {}
        Some(false) => return denied(plan, &action, &resource, true),
        None => return denied(plan, &action, &resource, false),
    }
    if plan.deny_source != DenySource::Identity {
        // A boundary or SCP that denies everything not listed: this fake's SCP denies Create*.
        if op.starts_with("Create") {
            return denied(plan, &action, &resource, false);
        }
    }
    let streams = plan.groups.get(&group);
    let no_group = || {
        error(
            400,
            "ResourceNotFoundException",
            "The specified log group does not exist.",
        )
    };
    match op {
        "DescribeLogStreams" => {
            let Some(streams) = streams else {
                return no_group();
            };
            let prefix = req["logStreamNamePrefix"].as_str().unwrap_or("");
            let list: Vec<Value> = streams
                .iter()
                .filter(|s| s.starts_with(prefix))
                .map(|s| json!({"logStreamName": s, "arn": arn(&group, s), "creationTime": 1700000000000u64, "storedBytes": 0}))
                .collect();
            ok(json!({"logStreams": list}))
        }
        "PutLogEvents" => {
            let Some(streams) = streams else {
                return no_group();
            };
            if !streams.contains(&stream) {
                return error(
                    400,
                    "ResourceNotFoundException",
                    "The specified log stream does not exist.",
                );
            }
            put(shared, &req, index)
        }
        "CreateLogStream" => {
            let Some(streams) = streams else {
                return no_group();
            };
            if streams.contains(&stream) {
                return error(
                    400,
                    "ResourceAlreadyExistsException",
                    "The specified log stream already exists",
                );
            }
            lock(&shared.created).push(format!("stream {group}:{stream}"));
            create(shared, &group, Some(&stream));
            ok(json!({}))
        }
        "CreateLogGroup" => {
            if streams.is_some() {
                return error(
                    400,
                    "ResourceAlreadyExistsException",
                    "The specified log group already exists",
                );
            }
            lock(&shared.created).push(format!("group {group}"));
            create(shared, &group, None);
            ok(json!({}))
        }
        "PutRetentionPolicy" => match streams {
            Some(_) => ok(json!({})),
            None => no_group(),
        },
        _ => error(400, "UnknownOperationException", ""),
    }
}

/// The account changes: a created group (or stream) exists from now on.
fn create(shared: &Shared, group: &str, stream: Option<&str>) {
    let mut plan = lock(&shared.plan);
    let streams = plan.groups.entry(group.to_string()).or_default();
    if let Some(s) = stream {
        streams.push(s.to_string());
    }
}

fn put(shared: &Shared, req: &Value, index: usize) -> Reply {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let events = req["logEvents"].as_array().cloned().unwrap_or_default();
    let old: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            e["timestamp"]
                .as_u64()
                .is_some_and(|t| t + FOURTEEN_DAYS_MS < now)
        })
        .map(|(i, _)| i)
        .collect();
    let stored = events.len() - old.len();
    *lock(&shared.stored) += stored;
    let mut body =
        json!({"nextSequenceToken": "49039859613988223640138291739842364817698543223847364"});
    if let Some(s) = lock(&shared.seen).get_mut(index) {
        s.stored = stored;
    }
    if let Some(last) = old.last() {
        body["rejectedLogEventsInfo"] = json!({"tooOldLogEventEndIndex": last + 1});
    }
    ok(body)
}

fn simulate(plan: &Plan, body: &str) -> Reply {
    let f = form(body);
    let xml_error = |status: u16, code: &str, message: &str| {
        let body = format!("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>4a2f1c9e-0000-4000-8000-000000000000</RequestId></ErrorResponse>");
        (status, "text/xml".to_string(), body.into_bytes())
    };
    let role = f.get("PolicySourceArn").cloned().unwrap_or_default();
    let (per_resource, want_role) = match &plan.simulator {
        Simulator::Forbidden => return xml_error(403, "AccessDenied", &format!("User: {} is not authorized to perform: iam:SimulatePrincipalPolicy on resource: {role}", plan.caller)),
        Simulator::NoSuchEntity => return xml_error(404, "NoSuchEntity", "The role with name credcheck-task-role cannot be found."),
        Simulator::Broken => return (500, "text/html".into(), b"<!doctype html><title>500 Internal Server Error</title>".to_vec()),
        Simulator::Raw(status, body) => return (*status, "text/xml".into(), body.clone()),
        Simulator::Evaluate { per_resource, role_arn } => (*per_resource, role_arn.clone()),
    };
    if role != want_role {
        return xml_error(
            404,
            "NoSuchEntity",
            "The role with name credcheck-task-role cannot be found.",
        );
    }
    let list = |prefix: &str| {
        (1..)
            .map_while(|i| f.get(&format!("{prefix}.member.{i}")).cloned())
            .collect::<Vec<_>>()
    };
    let (actions, resources) = (list("ActionNames"), list("ResourceArns"));
    let decision = |a: &str, r: &str| match evaluate(&plan.statements, a, r) {
        Some(true) => "allowed",
        Some(false) => "explicitDeny",
        None => "implicitDeny",
    };
    let mut members = String::new();
    for a in &actions {
        if per_resource {
            let specific: String = resources.iter().map(|r| format!("<member><EvalResourceName>{r}</EvalResourceName><EvalResourceDecision>{}</EvalResourceDecision><MatchedStatements/><MissingContextValues/></member>", decision(a, r))).collect();
            members.push_str(&format!("<member><EvalActionName>{a}</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>implicitDeny</EvalDecision><MatchedStatements/><MissingContextValues/><ResourceSpecificResults>{specific}</ResourceSpecificResults></member>"));
        } else {
            for r in &resources {
                members.push_str(&format!("<member><MatchedStatements/><MissingContextValues/><EvalResourceName>{r}</EvalResourceName><EvalDecision>{}</EvalDecision><EvalActionName>{a}</EvalActionName></member>", decision(a, r)));
            }
        }
    }
    let body = format!("<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>{members}</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>4a2f1c9e-0000-4000-8000-000000000001</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>");
    (200, "text/xml".into(), body.into_bytes())
}

fn form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read<R: Read>(reader: &mut BufReader<R>) -> Option<(BTreeMap<String, String>, Vec<u8>)> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len.min(1 << 20)];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

fn write<S: Write>(stream: &mut S, (status, content_type, body): Reply) {
    let (content_type, error_type) = match content_type.split_once('|') {
        Some((c, e)) => (c.to_string(), Some(e.to_string())),
        None => (content_type, None),
    };
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: 7d1e0c52-0000-4000-8000-000000000000\r\nConnection: close\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    if let Some(e) = error_type {
        head.push_str(&format!(
            "x-amzn-ErrorType: {e}:http://internal.amazon.com/coral/com.amazonaws.logs/\r\n"
        ));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
    let _ = stream.flush();
}

#[cfg(test)]
mod selftest {
    use super::*;

    #[test]
    fn the_evaluator_matches_the_two_arn_shapes() {
        let seed = [statement(
            true,
            &["logs:PutLogEvents"],
            &["arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test:*"],
        )];
        assert_eq!(
            evaluate(
                &seed,
                "logs:PutLogEvents",
                &arn("/ecs/logs/sample-test", "webapp")
            ),
            Some(true)
        );
        assert_eq!(
            evaluate(
                &seed,
                "logs:PutLogEvents",
                &arn("/ecs/logs/sample-test", "")
            ),
            Some(true)
        );
        let bare = [statement(
            true,
            &["logs:*"],
            &["arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/logs/sample-test"],
        )];
        assert_eq!(
            evaluate(
                &bare,
                "logs:PutLogEvents",
                &arn("/ecs/logs/sample-test", "webapp")
            ),
            None
        );
        assert_eq!(
            evaluate(
                &bare,
                "logs:DescribeLogStreams",
                &arn("/ecs/logs/sample-test", "")
            ),
            None
        );
        let deny = [seed[0].clone(), statement(false, &["logs:Put*"], &["*"])];
        assert_eq!(
            evaluate(
                &deny,
                "logs:PutLogEvents",
                &arn("/ecs/logs/sample-test", "webapp")
            ),
            Some(false)
        );
        assert!(glob("a?c*", "abcdef") && !glob("a?c", "abcd"));
    }
}
