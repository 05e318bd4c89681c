//! Loopback HTTP/1.1 fake of every endpoint credcheck talks to: ECS/EKS container
//! credentials, ECS task metadata v4, IMDSv2 and STS (Query API, XML).
//!
//! Owner: test infrastructure (`tests/support/`). Std + serde_json only, because it is
//! compiled into the integration tests (`tests/support/mod.rs` has `pub mod peer;`) and
//! into examples (`fake_peer`, `demo`) via `#[path]`.
//!
//! Model: one accept thread, one thread per connection, one request per connection
//! (every reply says `Connection: close`). Every request is recorded before it is
//! answered, so even hung requests show up in [`Peer::requests`]. Dropping a [`Peer`]
//! stops the accept loop (flag + self-connect) and shuts down hung connections; it
//! never panics and never blocks for long.
//!
//! Response shapes follow the real services, read from their sources:
//! - ECS agent v1.105 (aws/amazon-ecs-agent ecs-agent/tmds/): `{"code","message",
//!   "HTTPErrorCode"}` errors with its message texts, Go's text/plain 404 off its routes, a
//!   301 with a relative Location for a path that is not clean (gorilla/mux), tollbooth's
//!   `X-Rate-Limit-*` headers and its text/plain 429, and never a 401 (it ignores
//!   `Authorization`);
//! - EKS Pod Identity agent (aws/eks-pod-identity-agent): no RoleArn, AccountId, `Expiration`
//!   with nanoseconds, and plain-text `http.Error` lines: the Host check (403), the token
//!   checks (400), and EKS Auth's errors relayed with EKS Auth's status;
//! - IMDSv2 (token PUT, text/plain, 401 without token) and STS (`text/xml`, `ErrorResponse`
//!   documents, a `Date` header that can be skewed on purpose).
//!
//! No inner `#![allow(dead_code)]` here (clippy flags it as a duplicate of the includer's):
//! include it as `#[allow(dead_code)] #[path = "../tests/support/peer.rs"] mod peer;`;
//! `tests/support/mod.rs` covers it with its own `#![allow(dead_code)]`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------
// Canaries: values that must never appear in credcheck's output.
// ---------------------------------------------------------------------------

/// Temporary key id served by the ECS/EKS container endpoint (ASIA + 16, last 4 `XYZ1`).
pub const CANARY_AKID: &str = "ASIACANARY00000WXYZ1";
/// Temporary key id served by IMDS (last 4 `MDS1`).
pub const CANARY_AKID_IMDS: &str = "ASIACANARY00000IMDS1";
/// Temporary key id returned by the fake STS AssumeRole* calls (last 4 `STS1`).
pub const CANARY_AKID_STS: &str = "ASIACANARY000000STS1";
/// Long-term key id for env/profile tests (AKIA + 16, last 4 `ENV1`).
pub const CANARY_AKID_ENV: &str = "AKIACANARY000000ENV1";
/// Every canary key id; none may appear unmasked in output.
pub const CANARY_AKIDS: [&str; 4] = [
    CANARY_AKID,
    CANARY_AKID_IMDS,
    CANARY_AKID_STS,
    CANARY_AKID_ENV,
];
/// Secret access key (40 chars like the real ones) served by every fake.
pub const CANARY_SECRET: &str = "CANARYSECRET/wJalrXUtnFEMIK7MDENGbPxRfiC";
/// Session token served by every fake.
pub const CANARY_TOKEN: &str =
    "IQoJb3JpZ2luX2VjECANARYSESSIONTOKEN/aCXVzLWVhc3QtMSJHMEUCIQDx0canary0session0token0do0not0print==";
/// Container authorization token (`AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]`).
pub const CANARY_AUTH_TOKEN: &str = "CANARYAUTHTOKEN-0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";

/// Account of every fake identity (moto uses the same one).
pub const ACCOUNT_ID: &str = "123456789012";
/// Role name of the default ECS task role.
pub const ROLE_NAME: &str = "credcheck-task-role";
/// IAM ARN of the default ECS task role.
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/credcheck-task-role";
/// Session name ECS uses for the default task (the task id).
pub const SESSION_NAME: &str = "0f4b2f539a1e4c368d7b2f6c1e0b7a55";
/// `GetCallerIdentity` ARN matching [`ROLE_ARN`] + [`SESSION_NAME`].
pub const CALLER_ARN: &str =
    "arn:aws:sts::123456789012:assumed-role/credcheck-task-role/0f4b2f539a1e4c368d7b2f6c1e0b7a55";
/// Default RELATIVE_URI path of the ECS task role credentials.
pub const ECS_PATH: &str = "/v2/credentials/0f4b2f53-9a1e-4c36-8d7b-2f6c1e0b7a55";
/// Path of the EKS Pod Identity agent.
pub const POD_IDENTITY_PATH: &str = "/v1/credentials";
/// The Pod Identity agent's addresses (configuration/config.go `DefaultIpv4TargetHost`, `…Ipv6…`).
pub const POD_IDENTITY_HOSTS: [&str; 2] = ["169.254.170.23", "fd00:ec2::23"];
/// The ECS agent's default steady rate (`ECS_TASK_METADATA_RPS_LIMIT`, 40 per second).
pub const ECS_RPS_LIMIT: f64 = 40.0;
/// Default ECS task metadata v4 prefix (`ECS_CONTAINER_METADATA_URI_V4` = url + this).
pub const TASK_METADATA_PREFIX: &str = "/v4/0f4b2f539a1e4c368d7b2f6c1e0b7a55-1234567890";
/// Default IMDS instance-profile role name.
pub const IMDS_ROLE: &str = "credcheck-instance-role";
/// The one IMDSv2 session token the fake hands out. A registered secret: it shares no
/// 8-character run with a name the report prints (the role names, "credcheck").
pub const IMDS_TOKEN: &str = "AQAEAFakeImdsV2SessionToken0canary0imds0==";

const STS_NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

// ---------------------------------------------------------------------------
// Plan: what the peer serves.
// ---------------------------------------------------------------------------

/// Everything one [`Peer`] serves; every part is optional and all share one port.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// ECS / EKS Pod Identity container credentials (GET).
    pub ecs: Option<Ecs>,
    /// ECS task metadata v4 JSON, served at `GET {task_metadata_prefix}/task`.
    pub task_metadata: Option<String>,
    /// Prefix of the task metadata routes (the `ECS_CONTAINER_METADATA_URI_V4` path).
    pub task_metadata_prefix: String,
    /// IMDSv2 (anything under `/latest/`).
    pub imds: Option<Imds>,
    /// STS Query API (any POST).
    pub sts: Option<Sts>,
}

impl Plan {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn with_ecs(mut self, ecs: Ecs) -> Self {
        self.ecs = Some(ecs);
        self
    }
    pub fn with_imds(mut self, imds: Imds) -> Self {
        self.imds = Some(imds);
        self
    }
    pub fn with_sts(mut self, sts: Sts) -> Self {
        self.sts = Some(sts);
        self
    }
    /// Serve `json` at `GET {prefix}/task` (and `Containers[0]` at `GET {prefix}`).
    pub fn with_task_metadata(mut self, prefix: &str, json: String) -> Self {
        self.task_metadata_prefix = prefix.trim_end_matches('/').to_string();
        self.task_metadata = Some(json);
        self
    }
}

/// Container credentials endpoint (ECS agent or EKS Pod Identity agent).
#[derive(Clone, Debug)]
pub struct Ecs {
    /// Exact request path (incl. query) that gets credentials.
    pub path: String,
    /// Pod Identity shape only: the raw `Authorization` value that must be sent (no
    /// "Bearer "); None = not checked. The ECS agent never reads the header.
    pub required_token: Option<String>,
    /// Pod Identity shape only: the addresses the `Host` header must name (the agent's
    /// `TargetHosts`, [`POD_IDENTITY_HOSTS`] by default); None = not checked, as the agent's
    /// own tests run it on loopback.
    pub target_hosts: Option<Vec<String>>,
    /// Some = ECS shape (`RoleArn` first); None = EKS Pod Identity shape (`AccountId`).
    pub role_arn: Option<String>,
    /// `AccountId` of the Pod Identity shape.
    pub account_id: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: String,
    /// Sent verbatim (so malformed values can be tested).
    pub expiration: String,
    pub fault: EcsFault,
    /// Some(n): the fault hits only the first n requests, later ones succeed (retries).
    pub fault_times: Option<u32>,
}

impl Default for Ecs {
    /// ECS task role shape with the canary credentials, expiring in 3 h.
    fn default() -> Self {
        Ecs {
            path: ECS_PATH.to_string(),
            required_token: None,
            target_hosts: None,
            role_arn: Some(ROLE_ARN.to_string()),
            account_id: ACCOUNT_ID.to_string(),
            access_key_id: CANARY_AKID.to_string(),
            secret_access_key: CANARY_SECRET.to_string(),
            token: CANARY_TOKEN.to_string(),
            expiration: rfc3339_in(3 * 3600),
            fault: EcsFault::None,
            fault_times: None,
        }
    }
}

impl Ecs {
    /// ECS task role at [`ECS_PATH`] (same as `default()`).
    pub fn task_role() -> Self {
        Self::default()
    }
    /// EKS Pod Identity: [`POD_IDENTITY_PATH`], no RoleArn, requires [`CANARY_AUTH_TOKEN`],
    /// `Expiration` as Go's `time.RFC3339Nano` (pkg/credentials/model.go).
    pub fn pod_identity() -> Self {
        Ecs {
            path: POD_IDENTITY_PATH.to_string(),
            required_token: Some(CANARY_AUTH_TOKEN.to_string()),
            role_arn: None,
            expiration: rfc3339_nano_in(3 * 3600),
            ..Self::default()
        }
    }
    /// Pod Identity shape: check the `Host` header as the agent does, against `hosts`.
    pub fn with_target_hosts(mut self, hosts: &[&str]) -> Self {
        self.target_hosts = Some(hosts.iter().map(|h| h.to_string()).collect());
        self
    }
    pub fn with_fault(mut self, fault: EcsFault) -> Self {
        self.fault = fault;
        self
    }
    pub fn with_path(mut self, path: &str) -> Self {
        self.path = path.to_string();
        self
    }
    pub fn with_required_token(mut self, token: &str) -> Self {
        self.required_token = Some(token.to_string());
        self
    }
    pub fn with_expiration(mut self, expiration: &str) -> Self {
        self.expiration = expiration.to_string();
        self
    }
    /// The exact success body this endpoint sends.
    pub fn body(&self) -> String {
        ecs_success_body(self)
    }
}

/// What goes wrong at the container endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum EcsFault {
    #[default]
    None,
    /// Read the request, never answer; the socket stays open until the peer is dropped.
    Hang,
    /// Wait, then answer normally.
    Slow(Duration),
    /// ECS agent error document `{"code":…,"message":…}` with this status.
    AgentError {
        status: u16,
        code: String,
        message: String,
    },
    /// Anything else: 500 echoing the secret, invalid JSON, missing fields, …
    Raw {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// 200 `application/json` with a body of this many bytes, streamed.
    Huge(usize),
    /// 302 with this `Location`. Point it at loopback only: the client under test may follow it.
    Redirect(String),
    /// Headers say Content-Length 500, half the body is sent, then the write side closes.
    ResetMidBody,
    /// Read the request, close the connection without a byte of response.
    Close,
    /// Over the rate limit: the ECS agent's tollbooth 429 (any path; the limiter is first),
    /// or the Pod Identity agent's `Too Many Requests` (its one route).
    Throttled,
    /// Pod Identity agent relaying an EKS Auth error: `[request-id]: (code): message, fault:
    /// client` as text/plain with EKS Auth's status (pkg/errors/errors.go).
    EksAuth {
        status: u16,
        code: String,
        message: String,
    },
}

impl EcsFault {
    /// 400 `InvalidIdInRequest` (what a stale/wrong RELATIVE_URI gets; older agents also
    /// while the task's credentials are not delivered yet).
    pub fn invalid_id() -> Self {
        Self::agent_error(
            400,
            "InvalidIdInRequest",
            "CredentialsV2Request: Credentials not found",
        )
    }
    /// 503 `CredentialsUninitialized` (agent has not received the task role yet).
    pub fn uninitialized() -> Self {
        Self::agent_error(
            503,
            "CredentialsUninitialized",
            "CredentialsV2Request: Credentials uninitialized for ID",
        )
    }
    /// 400 `NoCredentialsAssociated`: declared in the agent's code but never sent by it.
    pub fn no_credentials_associated() -> Self {
        Self::agent_error(
            400,
            "NoCredentialsAssociated",
            "CredentialsV2Request: Credentials not found",
        )
    }
    pub fn agent_error(status: u16, code: &str, message: &str) -> Self {
        EcsFault::AgentError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    pub fn raw(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        EcsFault::Raw {
            status,
            content_type: content_type.into(),
            body: body.into(),
        }
    }
}

/// IMDSv2 on the same peer (anything under `/latest/`).
#[derive(Clone, Debug)]
pub struct Imds {
    /// None = no instance profile: the role listing answers 404.
    pub role_name: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: String,
    pub expiration: String,
    pub last_updated: String,
    /// `/latest/meta-data/placement/region`.
    pub region: String,
    pub fault: ImdsFault,
}

impl Default for Imds {
    /// Instance profile [`IMDS_ROLE`] with the IMDS canary key, expiring in 6 h.
    fn default() -> Self {
        Imds {
            role_name: Some(IMDS_ROLE.to_string()),
            access_key_id: CANARY_AKID_IMDS.to_string(),
            secret_access_key: CANARY_SECRET.to_string(),
            token: CANARY_TOKEN.to_string(),
            expiration: rfc3339_in(6 * 3600),
            last_updated: rfc3339_in(-300),
            region: "us-east-1".to_string(),
            fault: ImdsFault::None,
        }
    }
}

impl Imds {
    /// An instance without an instance profile.
    pub fn no_role() -> Self {
        Imds {
            role_name: None,
            ..Self::default()
        }
    }
    pub fn with_fault(mut self, fault: ImdsFault) -> Self {
        self.fault = fault;
        self
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ImdsFault {
    #[default]
    None,
    /// Hop limit 1 seen from a container: the token PUT hangs forever, any GET → 401 at once.
    HopLimit,
    /// IMDSv2 token PUT → 403 (IMDS disabled for the instance / forbidden).
    TokenForbidden,
    /// The credentials GET → 429 (IMDS throttles per instance; EC2 user guide, "Query
    /// throttling"), in IMDS's usual XHTML error page.
    Throttled,
}

/// Who `GetCallerIdentity` says the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub arn: String,
    pub user_id: String,
    pub account: String,
}

/// Fake STS Query API: `POST` (any path) with a form body.
#[derive(Clone, Debug)]
pub struct Sts {
    /// Default caller identity.
    pub arn: String,
    pub user_id: String,
    pub account: String,
    /// Per access key id identities (key id taken from `Authorization: … Credential=AKID/…`).
    pub by_key: Vec<(String, Identity)>,
    pub fault: StsFault,
    /// Some(action): the fault only applies to that Action (e.g. "GetCallerIdentity").
    pub fault_action: Option<String>,
    /// Added to the `Date` header of every STS reply (clock-skew tests).
    pub date_offset_secs: i64,
    /// Credentials returned by AssumeRole / AssumeRoleWithWebIdentity.
    pub assumed_access_key_id: String,
    pub assumed_secret_access_key: String,
    pub assumed_session_token: String,
    pub assumed_expiration: String,
    /// `SubjectFromWebIdentityToken` / `Audience` / `Provider` of AssumeRoleWithWebIdentity.
    pub web_identity_subject: String,
    pub web_identity_audience: String,
    pub web_identity_provider: String,
}

impl Default for Sts {
    /// Caller = the default ECS task role session; assumed creds = [`CANARY_AKID_STS`].
    fn default() -> Self {
        Sts {
            arn: CALLER_ARN.to_string(),
            user_id: format!("AROACANARYROLEID0001:{SESSION_NAME}"),
            account: ACCOUNT_ID.to_string(),
            by_key: Vec::new(),
            fault: StsFault::None,
            fault_action: None,
            date_offset_secs: 0,
            assumed_access_key_id: CANARY_AKID_STS.to_string(),
            assumed_secret_access_key: CANARY_SECRET.to_string(),
            assumed_session_token: CANARY_TOKEN.to_string(),
            assumed_expiration: rfc3339_in(3600),
            web_identity_subject: "system:serviceaccount:default:credcheck".to_string(),
            web_identity_audience: "sts.amazonaws.com".to_string(),
            web_identity_provider: "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/CANARYCLUSTER0000".to_string(),
        }
    }
}

impl Sts {
    /// Caller identity of an IAM user (long-term keys).
    pub fn user(name: &str) -> Self {
        Sts {
            arn: format!("arn:aws:iam::{ACCOUNT_ID}:user/{name}"),
            user_id: "AIDACANARYUSERID0001".to_string(),
            ..Self::default()
        }
    }
    pub fn with_fault(mut self, fault: StsFault) -> Self {
        self.fault = fault;
        self
    }
    /// Apply `fault` only to this Action.
    pub fn with_fault_on(mut self, action: &str, fault: StsFault) -> Self {
        self.fault = fault;
        self.fault_action = Some(action.to_string());
        self
    }
    pub fn with_date_offset(mut self, secs: i64) -> Self {
        self.date_offset_secs = secs;
        self
    }
    /// Requests signed with `akid` get `identity` from GetCallerIdentity.
    pub fn with_identity_for(mut self, akid: &str, arn: &str, user_id: &str) -> Self {
        let account = arn.split(':').nth(4).unwrap_or(ACCOUNT_ID).to_string();
        let identity = Identity {
            arn: arn.into(),
            user_id: user_id.into(),
            account,
        };
        self.by_key.push((akid.to_string(), identity));
        self
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StsFault {
    #[default]
    None,
    /// Real STS `ErrorResponse` XML with this status/code/message.
    Error {
        status: u16,
        code: String,
        message: String,
    },
    /// Read the request, never answer (until the peer is dropped).
    Hang,
    /// 200 `text/html` garbage (a captive portal / proxy page).
    NotXml,
}

impl StsFault {
    pub fn error(status: u16, code: &str, message: &str) -> Self {
        StsFault::Error {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
    pub fn invalid_client_token_id() -> Self {
        Self::error(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        )
    }
    pub fn expired_token() -> Self {
        Self::error(
            400,
            "ExpiredToken",
            "The security token included in the request is expired",
        )
    }
    pub fn signature_does_not_match() -> Self {
        Self::error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        )
    }
    /// What SigV4 says when the client clock is more than 15 minutes off.
    pub fn signature_expired() -> Self {
        Self::error(
            403,
            "SignatureDoesNotMatch",
            "Signature expired: 20261123T100000Z is now earlier than 20261123T103000Z (20261123T104500Z - 15 min.)",
        )
    }
    pub fn access_denied() -> Self {
        Self::error(
            403,
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/credcheck-task-role/x is not authorized to perform: sts:AssumeRole",
        )
    }
    pub fn throttling() -> Self {
        Self::error(400, "Throttling", "Rate exceeded")
    }
    pub fn internal_failure() -> Self {
        Self::error(500, "InternalFailure", "An internal error occurred.")
    }
    pub fn invalid_identity_token() -> Self {
        Self::error(
            400,
            "InvalidIdentityToken",
            "No OpenIDConnect provider found in your account for https://oidc.eks.us-east-1.amazonaws.com/id/CANARYCLUSTER0000",
        )
    }
}

// ---------------------------------------------------------------------------
// Recorded requests.
// ---------------------------------------------------------------------------

/// One request as the peer saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// Request target as sent, query included.
    pub path: String,
    /// Lower-cased names; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// The client's address (`ip:port`), as Go's `r.RemoteAddr`.
    pub remote: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    /// Path without the query string.
    pub fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// `application/x-www-form-urlencoded` body, decoded.
    pub fn form(&self) -> BTreeMap<String, String> {
        parse_form(&self.body_str())
    }
    /// Access key id named in a SigV4 `Authorization` header.
    pub fn sigv4_access_key(&self) -> Option<String> {
        let auth = self.header("authorization")?;
        let rest = auth.split("Credential=").nth(1)?;
        Some(rest.split('/').next()?.to_string())
    }
}

// ---------------------------------------------------------------------------
// The peer.
// ---------------------------------------------------------------------------

/// A running fake; dropping it stops it.
pub struct Peer {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    plan: Mutex<Plan>,
    requests: Mutex<Vec<Recorded>>,
    stopped: Mutex<bool>,
    wake: Condvar,
    open: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
    ecs_requests: AtomicU64,
    assumed: Mutex<HashMap<String, Identity>>,
}

/// Lock that shrugs off poisoning (a panicking test thread must not break Drop).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Peer {
    /// Start on `127.0.0.1:0`. Panics if it cannot bind.
    pub fn start(plan: Plan) -> Peer {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), plan)
    }

    /// Start on `addr` (e.g. `169.254.170.2:80` inside a test network namespace).
    pub fn start_on(addr: SocketAddr, plan: Plan) -> Peer {
        Self::try_start_on(addr, plan)
            .unwrap_or_else(|e| panic!("fake peer cannot bind {addr}: {e}"))
    }

    pub fn try_start_on(addr: SocketAddr, plan: Plan) -> io::Result<Peer> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            plan: Mutex::new(plan),
            requests: Mutex::new(Vec::new()),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
            open: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
            ecs_requests: AtomicU64::new(0),
            assumed: Mutex::new(HashMap::new()),
        });
        let accept_shared = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("peer-accept-{addr}"))
            .spawn(move || accept_loop(listener, accept_shared))?;
        Ok(Peer { addr, shared })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:PORT` (IPv6 addresses in brackets).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// URL of the container credentials route (`url()` + ECS path).
    pub fn ecs_url(&self) -> String {
        let path = lock(&self.shared.plan).ecs.as_ref().map(|e| e.path.clone());
        format!("{}{}", self.url(), path.unwrap_or_default())
    }
    /// `ECS_CONTAINER_METADATA_URI_V4` value for this peer.
    pub fn task_metadata_uri(&self) -> String {
        format!(
            "{}{}",
            self.url(),
            lock(&self.shared.plan).task_metadata_prefix
        )
    }
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }
    /// Requests whose path (without query) equals `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path_only() == path)
            .collect()
    }
    pub fn hits(&self) -> usize {
        lock(&self.shared.requests).len()
    }
    /// Forget the recorded requests.
    pub fn clear(&self) {
        lock(&self.shared.requests).clear();
    }
    /// Panics unless at least one request arrived.
    pub fn assert_hit(&self) {
        assert!(
            self.hits() > 0,
            "fake peer at {} was never contacted",
            self.addr
        );
    }
    /// Panics unless exactly `n` requests arrived.
    pub fn assert_hits(&self, n: usize) {
        let got = self.requests();
        assert_eq!(
            got.len(),
            n,
            "fake peer at {}: expected {n} requests, got {got:#?}",
            self.addr
        );
    }
    /// Panics if any request arrived.
    pub fn assert_not_hit(&self) {
        let got = self.requests();
        assert!(
            got.is_empty(),
            "fake peer at {} should not be contacted, got {got:#?}",
            self.addr
        );
    }
    /// Change what the peer serves from now on.
    pub fn update_plan(&self, f: impl FnOnce(&mut Plan)) {
        f(&mut lock(&self.shared.plan));
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.shared.stop();
        let _ = TcpStream::connect_timeout(&wake_addr(self.addr), Duration::from_millis(500));
        for (_, stream) in lock(&self.shared.open).drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Where to self-connect to wake a blocking `accept` (unspecified → loopback).
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

impl Shared {
    fn stop(&self) {
        *lock(&self.stopped) = true;
        self.wake.notify_all();
    }
    fn is_stopped(&self) -> bool {
        *lock(&self.stopped)
    }
    /// Block until the peer is dropped.
    fn hang(&self) {
        let mut stopped = lock(&self.stopped);
        while !*stopped {
            stopped = self.wake.wait(stopped).unwrap_or_else(|e| e.into_inner());
        }
    }
    fn plan(&self) -> Plan {
        lock(&self.plan).clone()
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.is_stopped() {
            break;
        }
        let Ok(stream) = conn else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.open).insert(id, clone);
        }
        let conn_shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("peer-conn-{id}"))
            .spawn(move || serve_connection(&conn_shared, id, stream));
        if spawned.is_err() {
            lock(&shared.open).remove(&id);
        }
    }
}

fn serve_connection(shared: &Shared, id: u64, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    if let Ok(mut req) = read_request(&mut BufReader::new(&stream)) {
        req.remote = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        lock(&shared.requests).push(req.clone());
        let action = route(shared, &req);
        perform(shared, &stream, action);
    }
    lock(&shared.open).remove(&id);
}

// ---------------------------------------------------------------------------
// HTTP parsing and writing.
// ---------------------------------------------------------------------------

const MAX_LINE: u64 = 16 * 1024;
const MAX_BODY: usize = 16 * 1024 * 1024;

fn bad_data(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut buf = Vec::new();
    reader.take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if buf.last() != Some(&b'\n') {
        return Err(bad_data("unterminated line"));
    }
    while matches!(buf.last(), Some(b'\n' | b'\r')) {
        buf.pop();
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Header block after a start line: lower-cased names, repeats joined with ", ".
fn read_headers(reader: &mut impl BufRead) -> io::Result<BTreeMap<String, String>> {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for _ in 0..256 {
        let line = read_line(reader)?;
        if line.is_empty() {
            return Ok(headers);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad_data("bad header line"))?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
        headers
            .entry(name)
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value)
            })
            .or_insert(value);
    }
    Err(bad_data("too many headers"))
}

fn read_request(reader: &mut impl BufRead) -> io::Result<Recorded> {
    let start = read_line(reader)?;
    let mut parts = start.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(bad_data("bad request line"));
    };
    let (method, path) = (method.to_string(), path.to_string());
    let headers = read_headers(reader)?;
    let body = read_body(reader, &headers)?;
    Ok(Recorded {
        method,
        path,
        headers,
        body,
        remote: String::new(),
    })
}

/// Body by Content-Length, or chunked; nothing otherwise (requests) .
fn read_body(reader: &mut impl BufRead, headers: &BTreeMap<String, String>) -> io::Result<Vec<u8>> {
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(reader);
    }
    let len: usize = match headers.get("content-length") {
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| bad_data("bad content-length"))?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err(bad_data("body too large"));
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| bad_data("bad chunk size"))?;
        if size == 0 {
            while !read_line(reader)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(bad_data("body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        read_line(reader)?;
    }
}

/// A complete response.
#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Seconds added to the `Date` header.
    date_offset: i64,
}

impl Reply {
    fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        let headers = vec![("Content-Type".to_string(), content_type.to_string())];
        Reply {
            status,
            headers,
            body: body.into(),
            date_offset: 0,
        }
    }
    fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Self::new(status, "application/json", body)
    }
    fn text(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Self::new(status, "text/plain; charset=utf-8", body)
    }
    fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// What a connection thread does with a request.
enum Action {
    Reply(Reply),
    Hang,
    Close,
    Huge(usize),
    ResetMidBody,
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

fn head_bytes(
    status: u16,
    headers: &[(String, String)],
    content_length: usize,
    date_offset: i64,
) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    let _ = write!(head, "Date: {}\r\n", imf_fixdate(unix_now() + date_offset));
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(
        head,
        "Content-Length: {content_length}\r\nConnection: close\r\n\r\n"
    );
    head.into_bytes()
}

fn write_reply(mut stream: &TcpStream, reply: &Reply) -> io::Result<()> {
    let head = head_bytes(
        reply.status,
        &reply.headers,
        reply.body.len(),
        reply.date_offset,
    );
    stream.write_all(&head)?;
    stream.write_all(&reply.body)?;
    stream.flush()?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

fn perform(shared: &Shared, stream: &TcpStream, action: Action) {
    let _ = match action {
        Action::Reply(reply) => write_reply(stream, &reply),
        Action::Hang => {
            shared.hang();
            Ok(())
        }
        Action::Close => stream.shutdown(Shutdown::Both),
        Action::Huge(n) => write_huge(stream, n),
        Action::ResetMidBody => write_half(stream),
    };
}

fn write_huge(mut stream: &TcpStream, n: usize) -> io::Result<()> {
    let headers = [("Content-Type".to_string(), "application/json".to_string())];
    stream.write_all(&head_bytes(200, &headers, n, 0))?;
    let mut chunk = vec![b'A'; 64 * 1024];
    let prefix = b"{\"RoleArn\":\"";
    chunk[..prefix.len()].copy_from_slice(prefix);
    let mut left = n;
    let mut first = true;
    while left > 0 {
        let take = left.min(chunk.len());
        let start = if first { 0 } else { prefix.len() };
        let end = (start + take).min(chunk.len());
        stream.write_all(&chunk[start..end])?;
        left -= end - start;
        first = false;
    }
    stream.flush()
}

fn write_half(mut stream: &TcpStream) -> io::Result<()> {
    let headers = [("Content-Type".to_string(), "application/json".to_string())];
    stream.write_all(&head_bytes(200, &headers, 500, 0))?;
    let mut body =
        format!("{{\"RoleArn\":\"{ROLE_ARN}\",\"AccessKeyId\":\"{CANARY_AKID}\",\"SecretAcc");
    body.truncate(250);
    while body.len() < 250 {
        body.push(' ');
    }
    stream.write_all(body.as_bytes())?;
    stream.flush()?;
    stream.shutdown(Shutdown::Write)
}

// ---------------------------------------------------------------------------
// Routing.
// ---------------------------------------------------------------------------

fn route(shared: &Shared, req: &Recorded) -> Action {
    let plan = shared.plan();
    if let Some(imds) = plan
        .imds
        .as_ref()
        .filter(|_| req.path.starts_with("/latest/"))
    {
        return imds_route(imds, req);
    }
    if let Some(json) = plan.task_metadata.as_ref() {
        if let Some(action) = task_metadata_route(&plan.task_metadata_prefix, json, req) {
            return action;
        }
    }
    if let Some(sts) = plan.sts.as_ref().filter(|_| req.method == "POST") {
        return sts_route(shared, sts, req);
    }
    if let Some(ecs) = plan.ecs.as_ref().filter(|_| req.method == "GET") {
        return ecs_route(shared, ecs, req);
    }
    Action::Reply(not_found())
}

/// Go's `http.NotFound` (what both agents answer off their routes).
fn not_found() -> Reply {
    go_http_error(404, "404 page not found")
}

// ---- ECS / EKS Pod Identity ------------------------------------------------

fn ecs_route(shared: &Shared, ecs: &Ecs, req: &Recorded) -> Action {
    let nth = shared.ecs_requests.fetch_add(1, Ordering::Relaxed) + 1;
    let active = ecs.fault_times.is_none_or(|n| nth <= u64::from(n));
    let fault = if active {
        ecs.fault.clone()
    } else {
        EcsFault::None
    };
    match &fault {
        EcsFault::Hang => return Action::Hang,
        EcsFault::Slow(d) => thread::sleep(*d),
        _ => {}
    }
    // Both routers clean the path first and answer 301 with a relative Location: gorilla/mux
    // (`SkipClean(false)`, ECS tmds/server.go) before the rate limiter, Go's ServeMux (Pod
    // Identity pkg/server/server.go) before the handler.
    if let Some(clean) = uncleaned(req) {
        return Action::Reply(moved_permanently(ecs, &clean));
    }
    match ecs.role_arn {
        Some(_) => ecs_agent_route(ecs, req, fault),
        None => pod_identity_route(ecs, req, fault),
    }
}

/// The ECS agent (aws/amazon-ecs-agent v1.105, ecs-agent/tmds/): every answer past the
/// router carries tollbooth's `X-Rate-Limit-*` headers; it never reads `Authorization`.
fn ecs_agent_route(ecs: &Ecs, req: &Recorded, fault: EcsFault) -> Action {
    let action = match ecs_credentials_id(req) {
        // The limiter sits before the routes: a throttled request never reaches them.
        _ if fault == EcsFault::Throttled => ecs_fault_action(ecs, fault),
        None => Action::Reply(not_found()),
        Some((_, id)) if id == ecs_credentials_id_of(&ecs.path) => ecs_fault_action(ecs, fault),
        Some((version, id)) if id.is_empty() => Action::Reply(ecs_agent_error(
            400,
            "NoIdInRequest",
            &format!("Credentials{version}Request: No Credential ID in the request"),
        )),
        Some((version, _)) => Action::Reply(ecs_agent_error(
            400,
            "InvalidIdInRequest",
            &format!("Credentials{version}Request: Credentials not found"),
        )),
    };
    with_rate_limit_headers(action, req)
}

/// The ECS agent's two credentials routes: `/v1/credentials?id=<id>` and
/// `/v2/credentials/{id:.*}` (tmds/handlers/v1|v2/credentials_handler.go); `None` is a 404.
fn ecs_credentials_id(req: &Recorded) -> Option<(&'static str, String)> {
    let path = req.path_only();
    if let Some(id) = path.strip_prefix("/v2/credentials/") {
        return Some(("V2", url_decode(id)));
    }
    if path != "/v1/credentials" {
        return None;
    }
    let query = req.path.split_once('?').map_or("", |(_, q)| q);
    let id = parse_form(query).remove("id").unwrap_or_default();
    Some(("V1", id))
}

/// The id that `Ecs::path` serves (either route), or the path itself for a custom one.
fn ecs_credentials_id_of(path: &str) -> String {
    let (path_only, query) = path.split_once('?').unwrap_or((path, ""));
    match path_only.strip_prefix("/v2/credentials/") {
        Some(id) => url_decode(id),
        None => parse_form(query)
            .remove("id")
            .unwrap_or_else(|| path.to_string()),
    }
}

/// tollbooth (`setResponseHeaders`): limit `%.2f` of the steady rate, duration 1 s, and the
/// caller's address.
fn with_rate_limit_headers(action: Action, req: &Recorded) -> Action {
    match action {
        Action::Reply(reply) => Action::Reply(
            reply
                .header("X-Rate-Limit-Duration", "1")
                .header("X-Rate-Limit-Limit", &format!("{ECS_RPS_LIMIT:.2}"))
                .header("X-Rate-Limit-Request-Remote-Addr", &req.remote),
        ),
        other => other,
    }
}

/// The EKS Pod Identity agent (aws/eks-pod-identity-agent): one route, `/v1/credentials`;
/// validation in internal/validation/request.go order (Host first, then the token); every
/// error through Go's `http.Error` (text/plain, a trailing newline).
fn pod_identity_route(ecs: &Ecs, req: &Recorded, fault: EcsFault) -> Action {
    if req.path_only() != POD_IDENTITY_PATH {
        return Action::Reply(not_found());
    }
    // internal/middleware/rate_limiter: 1000/s per agent, before any validation.
    if fault == EcsFault::Throttled {
        return Action::Reply(go_http_error(429, "Too Many Requests"));
    }
    if let Some(reply) = check_target_host(ecs, req) {
        return Action::Reply(reply);
    }
    if let Some(reply) = check_auth_token(ecs, req) {
        return Action::Reply(reply);
    }
    ecs_fault_action(ecs, fault)
}

/// `validateRequestTargetHost`: the Host header, port and brackets stripped, must be one of
/// the agent's addresses (`TargetHosts`; the agent's own tests set loopback, as `None` does).
fn check_target_host(ecs: &Ecs, req: &Recorded) -> Option<Reply> {
    let hosts = ecs.target_hosts.as_ref()?;
    let host = request_host(req.header("host").unwrap_or(""));
    if hosts.contains(&host) {
        return None;
    }
    Some(go_http_error(
        403,
        &format!(
            "Access Denied. Called agent through invalid address, please use either [{}] address not {host}",
            hosts.join(" ")
        ),
    ))
}

/// `net.SplitHostPort`, then `[…]` stripped, as the agent does.
fn request_host(host: &str) -> String {
    let without_port = match host.rsplit_once(':') {
        Some((h, port))
            if port.bytes().all(|b| b.is_ascii_digit())
                && (h.starts_with('[') || !h.contains(':')) =>
        {
            h
        }
        _ => host,
    };
    without_port
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(without_port)
        .to_string()
}

/// `validateToken`: empty, then unparseable (golang-jwt v5's message for a non-JWT).
fn check_auth_token(ecs: &Ecs, req: &Recorded) -> Option<Reply> {
    let want = ecs.required_token.as_ref()?;
    match req.header("authorization") {
        None | Some("") => Some(go_http_error(400, "Service account token cannot be empty")),
        Some(got) if got != want => Some(go_http_error(
            400,
            "Service account token cannot be parsed: token is malformed: token contained an invalid number of segments",
        )),
        Some(_) => None,
    }
}

/// Go's `http.Error`: text/plain; charset=utf-8, nosniff, the message and a newline.
fn go_http_error(status: u16, message: &str) -> Reply {
    Reply::text(status, format!("{message}\n")).header("X-Content-Type-Options", "nosniff")
}

/// The cleaned path if the request's is not clean (`//`, `/./`, `/../`), as Go's
/// `path.Clean` (gorilla/mux `cleanPath`, ServeMux `cleanPath`) makes it.
fn uncleaned(req: &Recorded) -> Option<String> {
    let path = req.path_only();
    let clean = clean_path(path);
    (clean != path).then(|| match req.path.split_once('?') {
        Some((_, query)) => format!("{clean}?{query}"),
        None => clean,
    })
}

fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut clean = format!("/{}", parts.join("/"));
    if path.ends_with('/') && clean != "/" {
        clean.push('/');
    }
    clean
}

/// gorilla/mux: 301, the relative Location, no body. ServeMux: `http.Redirect`'s HTML line.
fn moved_permanently(ecs: &Ecs, location: &str) -> Reply {
    let reply = match ecs.role_arn {
        Some(_) => Reply::new(301, "", ""),
        None => Reply::new(
            301,
            "text/html; charset=utf-8",
            format!("<a href=\"{location}\">Moved Permanently</a>.\n\n"),
        ),
    };
    let mut reply = reply.header("Location", location);
    reply
        .headers
        .retain(|(name, value)| name != "Content-Type" || !value.is_empty());
    reply
}

fn ecs_fault_action(ecs: &Ecs, fault: EcsFault) -> Action {
    match fault {
        EcsFault::None | EcsFault::Slow(_) | EcsFault::Hang => {
            Action::Reply(Reply::json(200, ecs_success_body(ecs)))
        }
        EcsFault::AgentError {
            status,
            code,
            message,
        } => Action::Reply(ecs_agent_error(status, &code, &message)),
        EcsFault::Raw {
            status,
            content_type,
            body,
        } => Action::Reply(Reply::new(status, &content_type, body)),
        EcsFault::Huge(n) => Action::Huge(n),
        EcsFault::Redirect(location) => {
            Action::Reply(Reply::text(302, "").header("Location", &location))
        }
        EcsFault::ResetMidBody => Action::ResetMidBody,
        EcsFault::Close => Action::Close,
        // tollbooth's default answer (`limiter.New`: message, text/plain; charset=utf-8, 429).
        EcsFault::Throttled => {
            Action::Reply(Reply::text(429, "You have reached maximum request limit."))
        }
        EcsFault::EksAuth {
            status,
            code,
            message,
        } => Action::Reply(go_http_error(
            status,
            &format!("[{}]: ({code}): {message}, fault: client", request_id()),
        )),
    }
}

/// The ECS agent's `ErrorMessage` marshalled: `HTTPErrorCode` has no JSON tag.
fn ecs_agent_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        format!(
            "{{\"code\":{},\"message\":{},\"HTTPErrorCode\":{status}}}",
            js(code),
            js(message)
        ),
    )
}

fn ecs_success_body(ecs: &Ecs) -> String {
    let creds = format!(
        "\"AccessKeyId\":{},\"SecretAccessKey\":{},\"Token\":{}",
        js(&ecs.access_key_id),
        js(&ecs.secret_access_key),
        js(&ecs.token)
    );
    match &ecs.role_arn {
        Some(arn) => format!(
            "{{\"RoleArn\":{},{creds},\"Expiration\":{}}}",
            js(arn),
            js(&ecs.expiration)
        ),
        None => format!(
            "{{{creds},\"AccountId\":{},\"Expiration\":{}}}",
            js(&ecs.account_id),
            js(&ecs.expiration)
        ),
    }
}

/// JSON string literal.
fn js(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

// ---- ECS task metadata v4 ---------------------------------------------------

fn task_metadata_route(prefix: &str, json: &str, req: &Recorded) -> Option<Action> {
    let rest = req.path_only().strip_prefix(prefix)?;
    if req.method != "GET" || prefix.is_empty() || !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let reply = match rest {
        "/task" => Reply::json(200, json.to_string()),
        "" | "/" => Reply::json(200, first_container(json)),
        _ => not_found(),
    };
    Some(Action::Reply(reply))
}

fn first_container(task_json: &str) -> String {
    let task: serde_json::Value = serde_json::from_str(task_json).unwrap_or_default();
    task["Containers"][0].to_string()
}

/// Task metadata v4 `/task` document in the real shape (one container, "app").
pub fn task_metadata_json(
    cluster: &str,
    task_arn: &str,
    family: &str,
    revision: &str,
    service: &str,
    launch_type: &str,
    az: &str,
) -> String {
    let region = az.trim_end_matches(|c: char| c.is_ascii_lowercase());
    let container = task_container_json(cluster, task_arn, family, revision, region);
    let mut task = serde_json::json!({
        "Cluster": cluster,
        "TaskARN": task_arn,
        "Family": family,
        "Revision": revision,
        "ServiceName": service,
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "PullStartedAt": "2026-11-23T09:58:01.123456789Z",
        "PullStoppedAt": "2026-11-23T09:58:09.987654321Z",
        "AvailabilityZone": az,
        "LaunchType": launch_type,
        "Containers": [container],
        "ClockDrift": {"ClockErrorBound": 0.5, "ReferenceTimestamp": "2026-11-23T09:58:00Z", "ClockSynchronizationStatus": "SYNCHRONIZED"},
        "EphemeralStorageMetrics": {"Utilized": 240, "Reserved": 20496},
    });
    if launch_type == "FARGATE" {
        task["Limits"] = serde_json::json!({"CPU": 0.25, "Memory": 512});
        task["TaskTags"] = serde_json::json!({});
        task["VPCID"] = "vpc-0123456789abcdef0".into();
    }
    task.to_string()
}

fn task_container_json(
    cluster: &str,
    task_arn: &str,
    family: &str,
    revision: &str,
    region: &str,
) -> serde_json::Value {
    let docker_id = "0f4b2f539a1e4c368d7b2f6c1e0b7a55-1234567890";
    serde_json::json!({
        "DockerId": docker_id,
        "Name": "app",
        "DockerName": "app",
        "Image": format!("{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/credcheck:latest"),
        "ImageID": "sha256:3f8a4339aadda5897b744682f5f774dc69991a81af8d715d37a616bb4c99edf5",
        "Labels": {
            "com.amazonaws.ecs.cluster": cluster,
            "com.amazonaws.ecs.container-name": "app",
            "com.amazonaws.ecs.task-arn": task_arn,
            "com.amazonaws.ecs.task-definition-family": family,
            "com.amazonaws.ecs.task-definition-version": revision,
        },
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": {"CPU": 2},
        "CreatedAt": "2026-11-23T09:58:10.123456789Z",
        "StartedAt": "2026-11-23T09:58:11.123456789Z",
        "Type": "NORMAL",
        "LogDriver": "awslogs",
        "LogOptions": {"awslogs-group": format!("/ecs/{family}"), "awslogs-region": region, "awslogs-stream": format!("ecs/app/{docker_id}")},
        "ContainerARN": format!("arn:aws:ecs:{region}:{ACCOUNT_ID}:container/{docker_id}"),
        "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.106"]}],
    })
}

/// A Fargate task of service "web" in us-east-1a (handy default).
pub fn default_task_metadata() -> String {
    task_metadata_json(
        "arn:aws:ecs:us-east-1:123456789012:cluster/credcheck",
        "arn:aws:ecs:us-east-1:123456789012:task/credcheck/0f4b2f539a1e4c368d7b2f6c1e0b7a55",
        "credcheck-app",
        "7",
        "web",
        "FARGATE",
        "us-east-1a",
    )
}

// ---- IMDSv2 ---------------------------------------------------------------

const CREDS_PREFIX: &str = "/latest/meta-data/iam/security-credentials";

fn imds_route(imds: &Imds, req: &Recorded) -> Action {
    let path = req.path_only();
    if req.method == "PUT" && path == "/latest/api/token" {
        return imds_token(imds, req);
    }
    if req.method != "GET" {
        return Action::Reply(imds_html(405, "Method Not Allowed"));
    }
    let token_ok = matches!(imds.fault, ImdsFault::None | ImdsFault::Throttled)
        && req.header("x-aws-ec2-metadata-token") == Some(IMDS_TOKEN);
    if !token_ok {
        return Action::Reply(imds_html(401, "Unauthorized"));
    }
    let asks_credentials = path
        .strip_prefix(CREDS_PREFIX)
        .is_some_and(|rest| !rest.trim_matches('/').is_empty());
    if imds.fault == ImdsFault::Throttled && asks_credentials {
        return Action::Reply(imds_html(429, "Too Many Requests"));
    }
    Action::Reply(imds_get(imds, path).unwrap_or_else(|| imds_html(404, "Not Found")))
}

fn imds_token(imds: &Imds, req: &Recorded) -> Action {
    match imds.fault {
        ImdsFault::HopLimit => return Action::Hang,
        ImdsFault::TokenForbidden => return Action::Reply(imds_html(403, "Forbidden")),
        ImdsFault::None | ImdsFault::Throttled => {}
    }
    let ttl = req
        .header("x-aws-ec2-metadata-token-ttl-seconds")
        .and_then(|v| v.parse::<u32>().ok());
    match ttl {
        Some(ttl @ 1..=21600) => Action::Reply(
            Reply::text(200, IMDS_TOKEN)
                .header("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", &ttl.to_string()),
        ),
        _ => Action::Reply(imds_html(400, "Bad Request")),
    }
}

fn imds_get(imds: &Imds, path: &str) -> Option<Reply> {
    let role = imds.role_name.as_deref();
    let body = match path {
        "/latest/meta-data/iam/security-credentials"
        | "/latest/meta-data/iam/security-credentials/" => role?.to_string(),
        "/latest/meta-data/iam/info" => imds_info(role?),
        "/latest/meta-data/placement/region" => imds.region.clone(),
        "/latest/meta-data/placement/availability-zone" => format!("{}a", imds.region),
        "/latest/meta-data/instance-id" => "i-0123456789abcdef0".to_string(),
        _ => {
            let asked = path.strip_prefix(CREDS_PREFIX)?.strip_prefix('/')?;
            if Some(asked) != role {
                return None;
            }
            imds_credentials(imds)
        }
    };
    Some(Reply::new(200, "text/plain", body))
}

fn imds_credentials(imds: &Imds) -> String {
    format!(
        "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : {},\n  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : {},\n  \"SecretAccessKey\" : {},\n  \"Token\" : {},\n  \"Expiration\" : {}\n}}",
        js(&imds.last_updated),
        js(&imds.access_key_id),
        js(&imds.secret_access_key),
        js(&imds.token),
        js(&imds.expiration)
    )
}

fn imds_info(role: &str) -> String {
    format!(
        "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : {},\n  \"InstanceProfileArn\" : \"arn:aws:iam::{ACCOUNT_ID}:instance-profile/{role}\",\n  \"InstanceProfileId\" : \"AIPACANARYPROFILE0001\"\n}}",
        js(&rfc3339_in(-300))
    )
}

/// IMDS error pages are small XHTML documents.
fn imds_html(status: u16, text: &str) -> Reply {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>{status} - {text}</title>\n </head>\n <body>\n  <h1>{status} - {text}</h1>\n </body>\n</html>\n"
    );
    Reply::new(status, "text/html", body)
}

// ---- STS ------------------------------------------------------------------

fn sts_route(shared: &Shared, sts: &Sts, req: &Recorded) -> Action {
    let form = req.form();
    let action = form.get("Action").map(String::as_str).unwrap_or("");
    let fault_applies = sts.fault_action.as_deref().is_none_or(|a| a == action);
    let reply = match (&sts.fault, fault_applies) {
        (StsFault::Hang, true) => return Action::Hang,
        (StsFault::NotXml, true) => Reply::new(200, "text/html", NOT_XML),
        (
            StsFault::Error {
                status,
                code,
                message,
            },
            true,
        ) => sts_error(*status, code, message),
        _ => sts_action(shared, sts, req, &form, action),
    };
    let reply = reply.header("x-amzn-RequestId", &request_id());
    Action::Reply(Reply {
        date_offset: sts.date_offset_secs,
        ..reply
    })
}

const NOT_XML: &str = "<!DOCTYPE html>\n<html><head><title>Login required</title></head><body><h1>Network login required</h1><p>Please sign in to continue.</p></body></html>\n";

fn sts_action(
    shared: &Shared,
    sts: &Sts,
    req: &Recorded,
    form: &BTreeMap<String, String>,
    action: &str,
) -> Reply {
    match action {
        "GetCallerIdentity" => sts_caller_identity(&caller(shared, sts, req)),
        "AssumeRoleWithWebIdentity" | "AssumeRole" => sts_assume(shared, sts, form, action),
        _ => sts_error(
            400,
            "InvalidAction",
            &format!("Could not find operation {action} for version 2011-06-15"),
        ),
    }
}

fn caller(shared: &Shared, sts: &Sts, req: &Recorded) -> Identity {
    let akid = req.sigv4_access_key().unwrap_or_default();
    if let Some((_, id)) = sts.by_key.iter().find(|(k, _)| *k == akid) {
        return id.clone();
    }
    if let Some(id) = lock(&shared.assumed).get(&akid) {
        return id.clone();
    }
    Identity {
        arn: sts.arn.clone(),
        user_id: sts.user_id.clone(),
        account: sts.account.clone(),
    }
}

fn sts_caller_identity(id: &Identity) -> Reply {
    let body = format!(
        "<GetCallerIdentityResponse xmlns=\"{STS_NS}\">\n  <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{}</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        xml_escape(&id.arn),
        xml_escape(&id.user_id),
        xml_escape(&id.account),
        request_id()
    );
    Reply::new(200, "text/xml", body)
}

fn sts_assume(shared: &Shared, sts: &Sts, form: &BTreeMap<String, String>, action: &str) -> Reply {
    let role_arn = form.get("RoleArn").cloned().unwrap_or_default();
    let session = form
        .get("RoleSessionName")
        .cloned()
        .unwrap_or_else(|| "credcheck".into());
    let account = role_arn.split(':').nth(4).unwrap_or(ACCOUNT_ID).to_string();
    let role_name = role_arn.rsplit('/').next().unwrap_or("role").to_string();
    let arn = format!("arn:aws:sts::{account}:assumed-role/{role_name}/{session}");
    let user_id = format!("AROACANARYASSUMED0001:{session}");
    let identity = Identity {
        arn: arn.clone(),
        user_id: user_id.clone(),
        account,
    };
    lock(&shared.assumed).insert(sts.assumed_access_key_id.clone(), identity);
    let extra = if action == "AssumeRoleWithWebIdentity" {
        format!(
            "    <SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\n    <Audience>{}</Audience>\n    <Provider>{}</Provider>\n",
            xml_escape(&sts.web_identity_subject),
            xml_escape(&sts.web_identity_audience),
            xml_escape(&sts.web_identity_provider)
        )
    } else {
        String::new()
    };
    let body = format!(
        "<{action}Response xmlns=\"{STS_NS}\">\n  <{action}Result>\n{extra}    <AssumedRoleUser>\n      <Arn>{}</Arn>\n      <AssumedRoleId>{}</AssumedRoleId>\n    </AssumedRoleUser>\n    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n",
        xml_escape(&arn),
        xml_escape(&user_id),
        xml_escape(&sts.assumed_access_key_id),
        xml_escape(&sts.assumed_secret_access_key),
        xml_escape(&sts.assumed_session_token),
        xml_escape(&sts.assumed_expiration),
        request_id()
    );
    Reply::new(200, "text/xml", body)
}

/// Real STS error document; `Type` is Receiver for 5xx, Sender otherwise.
fn sts_error(status: u16, code: &str, message: &str) -> Reply {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    let body = format!(
        "<ErrorResponse xmlns=\"{STS_NS}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        xml_escape(code),
        xml_escape(message),
        request_id()
    );
    Reply::new(status, "text/xml", body)
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Text between the first `<tag>` and the following `</tag>` (no entity decoding).
pub fn xml_value<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// A UUID-shaped request id (unique within the process).
fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0) as u64;
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (t >> 32) as u32,
        (t >> 16) as u16,
        t & 0xfff,
        n & 0xfff,
        n ^ (t & 0xffff_ffff_ffff)
    )
}

// ---------------------------------------------------------------------------
// Forms and URL encoding.
// ---------------------------------------------------------------------------

pub fn parse_form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes[i] {
            b'%' if i + 2 < bytes.len() => hex_pair(bytes[i + 1], bytes[i + 2]),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(hi: u8, lo: u8) -> Option<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    Some((hex(hi)? * 16 + hex(lo)?) as u8)
}

/// `application/x-www-form-urlencoded` encoding (RFC 3986 unreserved kept).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

// ---------------------------------------------------------------------------
// A tiny blocking HTTP/1.1 client (tests, moto helpers, `fake_peer --probe`).
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Lower-cased names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One request on a fresh connection, `Connection: close`, 10 s timeouts.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<HttpResponse> {
    http_request_timeout(addr, method, path, headers, body, Duration::from_secs(10))
}

pub fn http_request_timeout(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(head, "Content-Length: {}\r\n\r\n", body.len());
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    read_response(&mut BufReader::new(&stream))
}

pub fn read_response(reader: &mut impl BufRead) -> io::Result<HttpResponse> {
    let status_line = read_line(reader)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_data("bad status line"))?;
    let headers = read_headers(reader)?;
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = match headers.get("content-length") {
        _ if chunked => read_chunked(reader)?,
        Some(len) => {
            let len: usize = len.parse().map_err(|_| bad_data("bad content-length"))?;
            let mut body = Vec::new();
            reader.take(len as u64).read_to_end(&mut body)?;
            if body.len() < len {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "body shorter than Content-Length",
                ));
            }
            body
        }
        None => {
            let mut body = Vec::new();
            reader.read_to_end(&mut body)?;
            body
        }
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------
// Time formatting, std only.
// ---------------------------------------------------------------------------

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Day count since 1970-01-01 of a civil date (inverse of [`civil_from_days`]).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// RFC 7231 IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn imf_fixdate(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(m - 1) as usize];
    format!(
        "{weekday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} GMT",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Parse an IMF-fixdate back to unix seconds.
pub fn parse_imf_fixdate(s: &str) -> Option<i64> {
    let mut it = s.split_whitespace().skip(1);
    let day: u32 = it.next()?.parse().ok()?;
    let month_name = it.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as u32 + 1;
    let year: i64 = it.next()?.parse().ok()?;
    let hms: Vec<i64> = it
        .next()?
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, mi, se] = hms[..] else { return None };
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + se)
}

/// RFC 3339 UTC, e.g. `2026-11-23T16:00:00Z`.
pub fn rfc3339(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// RFC 3339 of now + `delta_secs` (negative = in the past).
pub fn rfc3339_in(delta_secs: i64) -> String {
    rfc3339(unix_now() + delta_secs)
}

/// The same with nanoseconds, as Go's `time.RFC3339Nano` prints them (trailing zeros cut).
pub fn rfc3339_nano_in(delta_secs: i64) -> String {
    let whole = rfc3339_in(delta_secs);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        .max(1);
    let fraction = format!("{nanos:09}");
    format!(
        "{}.{}Z",
        whole.trim_end_matches('Z'),
        fraction.trim_end_matches('0')
    )
}
