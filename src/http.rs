//! The one HTTP client for credcheck's own endpoint requests (container endpoint, IMDS, ECS
//! task metadata), the run's time budget, and the HTTP client handed to the AWS SDK.
//!
//! Rules: explicit connect and total timeouts clipped to the run deadline, never a proxy
//! (the endpoints are link-local or loopback), never a redirect, bodies capped at 64 KiB,
//! a fixed user agent, TLS roots only when an https URL is actually requested.
//! Reads no env vars (AWS_CA_BUNDLE arrives through `tls::Roots`).

use crate::error::Error;
use crate::secret::Secret;
use crate::tls::{self, Roots};
use ::http::header;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

pub use ::http::Method;
pub use url::Url;

pub const BODY_CAP: usize = 64 * 1024;
pub const USER_AGENT: &str = concat!("credcheck/", env!("CARGO_PKG_VERSION"));

/// The run's clock: every network step takes `min(per-request timeout, time left)`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    start: Instant,
    deadline: Duration,
    per_request: Duration,
}

impl Budget {
    pub fn new(deadline: Duration, per_request: Duration) -> Self {
        Self::since(Instant::now(), deadline, per_request)
    }

    /// A budget whose clock started at `start` (the process's start, for the watchdog).
    pub fn since(start: Instant, deadline: Duration, per_request: Duration) -> Self {
        Budget {
            start,
            deadline,
            per_request,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_sub(self.start.elapsed())
    }

    /// The timeout for the next request.
    pub fn request_timeout(&self) -> Duration {
        self.per_request.min(self.remaining())
    }

    /// The same, but never more than `cap` (IMDS probes are short on purpose).
    pub fn request_timeout_capped(&self, cap: Duration) -> Duration {
        self.request_timeout().min(cap)
    }

    pub fn is_spent(&self) -> bool {
        self.remaining().is_zero()
    }
}

/// What came back: enough to explain any answer without keeping secrets around longer.
#[derive(Debug)]
pub struct Fetched {
    pub status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// Why a request produced no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    ConnectTimeout,
    /// Connected, but no complete answer in time.
    ReadTimeout,
    Refused,
    /// The name did not resolve.
    Dns(String),
    /// The connection broke (reset, closed mid-body).
    Broken(String),
    TooLarge,
    Other(String),
}

impl FetchError {
    pub fn describe(&self, timeout: Duration) -> String {
        let t = crate::duration::human(timeout);
        match self {
            FetchError::ConnectTimeout => format!("connection not established within {t}"),
            FetchError::ReadTimeout => format!("no complete answer within {t}"),
            FetchError::Refused => "connection refused".to_string(),
            FetchError::Dns(host) => format!("the name {host:?} did not resolve"),
            FetchError::Broken(why) => format!("the connection broke: {why}"),
            FetchError::TooLarge => format!("the answer is larger than {} KiB", BODY_CAP / 1024),
            FetchError::Other(why) => why.clone(),
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, FetchError::ConnectTimeout | FetchError::ReadTimeout)
    }
}

/// A request: method, URL and headers whose values may be secrets.
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a Url,
    pub headers: Vec<(&'static str, HeaderValue<'a>)>,
    pub timeout: Duration,
}

#[derive(Clone, Copy)]
pub enum HeaderValue<'a> {
    Plain(&'a str),
    Secret(&'a Secret),
}

/// The endpoint client: HTTP/1.1 over one fresh connection per request, straight on hyper's
/// connection API (hyper and tokio-rustls are in the tree for the SDK's own client, so this
/// costs no second HTTP stack). No pool, no proxy, no redirect.
#[derive(Clone)]
pub struct Client {
    tls: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
}

/// Builds the endpoint client. `roots` is `Some` only when an https URL will be requested.
pub fn endpoint_client(roots: Option<&Roots>, connect_timeout: Duration) -> Result<Client, Error> {
    let tls = match roots {
        Some(roots) => roots.rustls_config()?,
        None => tls::plain_http_config()?,
    };
    Ok(Client {
        tls: Arc::new(tls),
        connect_timeout,
    })
}

/// Sends one request and reads at most [`BODY_CAP`] bytes of the answer.
pub async fn fetch(client: &Client, req: Request<'_>) -> Result<Fetched, FetchError> {
    fetch_with_body(client, req, None).await
}

/// The same, with a request body (the signed AWS API calls of `probe`).
pub async fn fetch_with_body(
    client: &Client,
    req: Request<'_>,
    body: Option<Vec<u8>>,
) -> Result<Fetched, FetchError> {
    let started = Instant::now();
    let request = build(&req, body)?;
    let connecting = tokio::time::timeout(
        client.connect_timeout.min(req.timeout),
        connect(client, req.url),
    );
    let io = connecting.await.map_err(|_| FetchError::ConnectTimeout)??;
    let left = req.timeout.saturating_sub(started.elapsed());
    tokio::time::timeout(left, exchange(io, request))
        .await
        .map_err(|_| FetchError::ReadTimeout)?
}

/// The request as hyper sends it: origin-form target, Host, User-Agent, then the caller's
/// headers (secret ones marked sensitive).
fn build(
    req: &Request<'_>,
    body: Option<Vec<u8>>,
) -> Result<::http::Request<Full<Bytes>>, FetchError> {
    let target = &req.url[url::Position::BeforePath..url::Position::AfterQuery];
    let mut builder = ::http::Request::builder()
        .method(req.method.clone())
        .uri(target)
        .header(header::HOST, host_header(req.url))
        .header(header::USER_AGENT, USER_AGENT);
    for (name, value) in &req.headers {
        builder = match value {
            HeaderValue::Plain(v) => builder.header(*name, *v),
            HeaderValue::Secret(s) => builder.header(*name, sensitive_header(s)?),
        };
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        builder = builder.header(header::CONTENT_LENGTH, body.len());
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|_| FetchError::Other("the request cannot be sent as HTTP/1.1".to_string()))
}

fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn sensitive_header(secret: &Secret) -> Result<::http::HeaderValue, FetchError> {
    let mut value = ::http::HeaderValue::from_str(secret.expose()).map_err(|_| {
        FetchError::Other("the header value holds bytes that HTTP headers cannot carry".to_string())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Resolves, connects (TCP, then TLS for https): the phase `connect_timeout` bounds.
async fn connect(client: &Client, url: &Url) -> Result<Box<dyn Stream>, FetchError> {
    let host = url
        .host()
        .ok_or_else(|| FetchError::Other("the URL has no host".to_string()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| FetchError::Other("the URL has no port".to_string()))?;
    let addrs: Vec<SocketAddr> = match host {
        url::Host::Ipv4(ip) => vec![SocketAddr::new(ip.into(), port)],
        url::Host::Ipv6(ip) => vec![SocketAddr::new(ip.into(), port)],
        url::Host::Domain(name) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|_| FetchError::Dns(name.to_string()))?
            .collect(),
    };
    let tcp = connect_any(&addrs, url).await?;
    let _ = tcp.set_nodelay(true);
    match url.scheme() {
        "http" => Ok(Box::new(tcp)),
        "https" => Ok(Box::new(handshake(client, host, tcp).await?)),
        other => Err(FetchError::Other(format!(
            "the scheme {other:?} is neither http nor https"
        ))),
    }
}

async fn connect_any(addrs: &[SocketAddr], url: &Url) -> Result<TcpStream, FetchError> {
    let mut last = FetchError::Dns(url.host_str().unwrap_or_default().to_string());
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(tcp) => return Ok(tcp),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = FetchError::Refused
            }
            Err(e) => last = FetchError::Other(format!("could not connect: {}", last_cause(&e))),
        }
    }
    Err(last)
}

async fn handshake(
    client: &Client,
    host: url::Host<&str>,
    tcp: TcpStream,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, FetchError> {
    let name = match host {
        url::Host::Domain(d) => ServerName::try_from(d.to_string())
            .map_err(|_| FetchError::Other(format!("{d:?} is not a valid TLS server name")))?,
        url::Host::Ipv4(ip) => ServerName::from(std::net::IpAddr::from(ip)),
        url::Host::Ipv6(ip) => ServerName::from(std::net::IpAddr::from(ip)),
    };
    tokio_rustls::TlsConnector::from(client.tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| FetchError::Other(format!("could not connect: {}", last_cause(&e))))
}

/// Sends the request on the connection and reads the answer, body capped.
async fn exchange(
    io: Box<dyn Stream>,
    request: ::http::Request<Full<Bytes>>,
) -> Result<Fetched, FetchError> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| classify(&e))?;
    // The connection is driven beside the request and dropped with this future.
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| classify(&e))?;
    let fetched = read(response).await;
    drop(driver);
    fetched
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn read(response: ::http::Response<Incoming>) -> Result<Fetched, FetchError> {
    let text = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &::http::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let status = response.status().as_u16();
    let content_type = text(header::CONTENT_TYPE);
    let location = text(header::LOCATION);
    let declared = text(header::CONTENT_LENGTH).and_then(|n| n.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > BODY_CAP as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut incoming = response.into_body();
    let mut body = Vec::new();
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| FetchError::Broken(last_cause(&e)))?;
        if let Ok(chunk) = frame.into_data() {
            if body.len() + chunk.len() > BODY_CAP {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
    }
    Ok(Fetched {
        status,
        content_type,
        location,
        body,
    })
}

/// Maps hyper's error to what a user needs to know (the URL never appears in it).
fn classify(err: &hyper::Error) -> FetchError {
    let chain = error_chain(err);
    if err.is_incomplete_message() || chain.contains("reset") || chain.contains("closed") {
        return FetchError::Broken(last_cause(err));
    }
    FetchError::Other(last_cause(err))
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

/// The innermost cause of an error chain, made printable.
pub fn last_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &dyn std::error::Error = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    crate::secret::sanitize_foreign(&cur.to_string(), 160)
}
