//! The one HTTP client for every request credcheck makes itself (container endpoint, IMDS, ECS
//! task metadata, the probe's signed calls), reqwest as the design names it, and the run's
//! time budget. The AWS SDK keeps its own client (`sdk`).
//!
//! Rules: explicit connect and total timeouts clipped to the run deadline, never a proxy
//! (the endpoints are link-local or loopback), never a redirect, no pooled connection, bodies
//! capped at 64 KiB while they stream, a fixed user agent, rustls with ring only (no second
//! TLS stack), TLS roots only when an https URL is actually requested.
//! Reads no env vars (AWS_CA_BUNDLE arrives through `tls::Roots`).

use crate::error::Error;
use crate::secret::Secret;
use crate::tls::{self, Roots};
use reqwest::header;
use std::time::{Duration, Instant};

pub use reqwest::{Method, Url};

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

/// The endpoint client: reqwest (the design's HTTP client) over the rustls configuration of
/// `tls` (ring; bundled roots plus `AWS_CA_BUNDLE`), HTTP/1.1 only, no proxy (the endpoints are
/// link-local or loopback, and `warning` diagnoses a proxy that would capture the SDK's
/// requests), no redirect, no pooled connection (`pool_max_idle_per_host(0)`).
#[derive(Clone)]
pub struct Client {
    inner: reqwest::Client,
    tls: rustls::ClientConfig,
    connect_timeout: Duration,
}

/// Builds the endpoint client. `roots` is `Some` only when an https URL will be requested.
pub fn endpoint_client(roots: Option<&Roots>, connect_timeout: Duration) -> Result<Client, Error> {
    let tls = match roots {
        Some(roots) => roots.rustls_config()?,
        None => tls::plain_http_config()?,
    };
    let inner = reqwest_client(&tls, connect_timeout).map_err(|e| {
        Error::config(
            "http-setup",
            format!("HTTP client set-up failed: {}", last_cause(&e)),
            "report this as a credcheck bug",
        )
    })?;
    Ok(Client {
        inner,
        tls,
        connect_timeout,
    })
}

fn reqwest_client(
    tls: &rustls::ClientConfig,
    connect_timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls.clone())
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .user_agent(USER_AGENT)
        .http1_only()
        .pool_max_idle_per_host(0)
        .build()
}

impl Client {
    /// The client for one request: the shared one, or, when the request's own timeout is the
    /// shorter (the run's budget is nearly spent), one whose connect timeout is that, so that a
    /// stalled connect is still reported as a connect timeout.
    fn for_timeout(&self, timeout: Duration) -> Result<reqwest::Client, FetchError> {
        if timeout >= self.connect_timeout {
            return Ok(self.inner.clone());
        }
        reqwest_client(&self.tls, timeout).map_err(|e| {
            FetchError::Other(format!("HTTP client set-up failed: {}", last_cause(&e)))
        })
    }
}

/// Sends one request and reads at most [`BODY_CAP`] bytes of the answer.
/// A plain GET of `url` within the budget's per-request timeout; `Err` is one clause saying
/// why (task metadata, the router's metrics).
pub async fn get(client: &Client, url: &Url, budget: &Budget) -> Result<Fetched, String> {
    let timeout = budget.request_timeout();
    let request = Request {
        method: Method::GET,
        url,
        headers: Vec::new(),
        timeout,
    };
    fetch(client, request)
        .await
        .map_err(|e| e.describe(timeout))
}

pub async fn fetch(client: &Client, req: Request<'_>) -> Result<Fetched, FetchError> {
    fetch_with_body(client, req, None).await
}

/// The same, with a request body (the signed AWS API calls of `probe`).
pub async fn fetch_with_body(
    client: &Client,
    req: Request<'_>,
    body: Option<Vec<u8>>,
) -> Result<Fetched, FetchError> {
    // reqwest's own timeouts (connect, then total) fire first and say which phase stalled;
    // this is the backstop.
    let backstop = req.timeout + Duration::from_millis(50);
    match tokio::time::timeout(backstop, send(client, req, body)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::ReadTimeout),
    }
}

async fn send(
    client: &Client,
    req: Request<'_>,
    body: Option<Vec<u8>>,
) -> Result<Fetched, FetchError> {
    let mut builder = client
        .for_timeout(req.timeout)?
        .request(req.method, req.url.clone())
        .timeout(req.timeout);
    if let Some(body) = body {
        builder = builder.body(body);
    }
    for (name, value) in req.headers {
        builder = match value {
            HeaderValue::Plain(v) => builder.header(name, v),
            HeaderValue::Secret(s) => builder.header(name, sensitive_header(s)?),
        };
    }
    let mut response = builder.send().await.map_err(|e| classify(&e, req.url))?;
    let status = response.status().as_u16();
    let content_type = header_text(&response, header::CONTENT_TYPE);
    let location = header_text(&response, header::LOCATION);
    let body = read_capped(&mut response, req.url).await?;
    Ok(Fetched {
        status,
        content_type,
        location,
        body,
    })
}

fn sensitive_header(secret: &Secret) -> Result<header::HeaderValue, FetchError> {
    let mut value = header::HeaderValue::from_str(secret.expose()).map_err(|_| {
        FetchError::Other("the header value holds bytes that HTTP headers cannot carry".to_string())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn header_text(response: &reqwest::Response, name: header::HeaderName) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The body, refused as soon as it is known to pass [`BODY_CAP`]: by its Content-Length, else
/// chunk by chunk while it streams in (never buffered whole first).
async fn read_capped(response: &mut reqwest::Response, url: &Url) -> Result<Vec<u8>, FetchError> {
    if response
        .content_length()
        .is_some_and(|n| n > BODY_CAP as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, url))? {
        if body.len() + chunk.len() > BODY_CAP {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Maps reqwest's error to what a user needs to know. Never includes the URL (reqwest's own
/// message names it; only the innermost cause is shown).
fn classify(err: &reqwest::Error, url: &Url) -> FetchError {
    let chain = error_chain(err);
    if err.is_timeout() {
        return if err.is_connect() {
            FetchError::ConnectTimeout
        } else {
            FetchError::ReadTimeout
        };
    }
    if chain.contains("dns error") || chain.contains("failed to lookup address") {
        return FetchError::Dns(url.host_str().unwrap_or_default().to_string());
    }
    if chain.contains("Connection refused") {
        return FetchError::Refused;
    }
    if err.is_connect() {
        return FetchError::Other(format!("could not connect: {}", last_cause(err)));
    }
    if err.is_body() || err.is_decode() || chain.contains("reset") || chain.contains("closed") {
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

#[cfg(test)]
mod tests {
    //! The client's own rules against a one-shot loopback server (the scenarios cover the rest
    //! end to end: timeouts, proxy capture, redirects, a Content-Length over the cap).
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Serves `response` once on 127.0.0.1 and closes; returns the URL.
    fn serve_once(response: Vec<u8>) -> Url {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let url = Url::parse(&format!("http://{}/x", listener.local_addr().unwrap())).unwrap();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(&response);
            }
        });
        url
    }

    fn get(url: &Url) -> Result<Fetched, FetchError> {
        let client = endpoint_client(None, Duration::from_secs(5)).expect("client");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(fetch(
            &client,
            Request {
                method: Method::GET,
                url,
                headers: Vec::new(),
                timeout: Duration::from_secs(5),
            },
        ))
    }

    /// No Content-Length, the body until the connection closes: the cap holds while streaming.
    #[test]
    fn body_without_length_is_capped_while_streaming() {
        let mut response = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        response.extend(std::iter::repeat_n(b'A', BODY_CAP + 1));
        assert_eq!(
            get(&serve_once(response)).unwrap_err(),
            FetchError::TooLarge
        );
        let mut response = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec();
        response.extend(std::iter::repeat_n(b'A', BODY_CAP));
        assert_eq!(get(&serve_once(response)).unwrap().body.len(), BODY_CAP);
    }

    /// A redirect is an answer, not followed: its status and Location come back.
    #[test]
    fn redirect_is_returned_not_followed() {
        let response = b"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\n\r\n";
        let fetched = get(&serve_once(response.to_vec())).unwrap();
        assert_eq!(fetched.status, 301);
        assert_eq!(
            fetched.location.as_deref(),
            Some("http://127.0.0.1:9/elsewhere")
        );
    }
}
