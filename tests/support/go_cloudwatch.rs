//! An emulator of the Go `cloudwatch` output's calls (aws/amazon-cloudwatch-logs-for-fluent-bit
//! v1.9.4, commit 7b8dae0d6dedf942bc1e9feded197b8d1a9d261a), which the real Fluent Bit here is
//! built without: for one record, the calls `AddEvent` and `Flush` make, in their order, signed
//! with the container endpoint's credentials and sent over TLS to the fake CloudWatch Logs.
//! It reads the same `[OUTPUT]` keys from the same config file Fluent Bit would.
//!
//! Owns: the Go plugin's call sequence and caches for one flush and its one retry (Fluent
//! Bit's default `Retry_Limit` 1, fluent-bit v5.1.1 `src/flb_output.c` 819). Reads no
//! environment variable: the caller passes the container credentials URL (what
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` gives the SDK) and the TLS roots (what
//! `SSL_CERT_FILE` gives Go).
//!
//! Not emulated: templates (`$(…)`), ECS task metadata v3 (`ECS_CONTAINER_METADATA_URI`, not
//! set in these tests), `role_arn`, `new_log_group_tags`, batching limits.

use super::peer;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One call's answer.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    code: Option<String>,
    message: String,
}

impl Answer {
    fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
    fn err(&self, op: &str) -> String {
        format!(
            "{op}: HTTP {} {} {}",
            self.status,
            self.code.as_deref().unwrap_or("-"),
            self.message
        )
    }
}

/// The plugin instance: its settings and the caches that outlive one flush.
pub struct GoPlugin {
    group: String,
    stream: String,
    auto_create_group: bool,
    retention_days: i64,
    host: String,
    addr: SocketAddr,
    region: String,
    tls: Arc<rustls::ClientConfig>,
    creds: (String, String, String),
    /// `output.groups` (cloudwatch.go 385-394): for the life of the process.
    groups: BTreeSet<String>,
    /// `output.streams` (cloudwatch.go 456-470).
    streams: BTreeSet<String>,
    /// What it did, one line per call (for the test's failure messages).
    pub log: Vec<String>,
}

/// The `[OUTPUT]` keys (lower-cased) of the first `Name cloudwatch` section of a classic file.
pub fn output_keys(file: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).expect("output file");
    let mut sections: Vec<BTreeMap<String, String>> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.eq_ignore_ascii_case("[OUTPUT]") {
            sections.push(BTreeMap::new());
        } else if let (Some(s), Some((k, v))) = (sections.last_mut(), line.split_once(' ')) {
            s.insert(k.to_ascii_lowercase(), v.trim().to_string());
        }
    }
    sections
        .into_iter()
        .find(|s| s.get("name").map(String::as_str) == Some("cloudwatch"))
        .expect("a [OUTPUT] with Name cloudwatch")
}

impl GoPlugin {
    /// `FLBPluginInit`'s checks (cloudwatch.go 175-192: `region` and `log_group_name`
    /// required, exactly one of `log_stream_name` / `log_stream_prefix`), then the default
    /// credential chain's container provider. Err: the plugin would not start.
    pub fn init(
        keys: &BTreeMap<String, String>,
        tag: &str,
        creds_url: &str,
        tls: Arc<rustls::ClientConfig>,
    ) -> Result<GoPlugin, String> {
        let key = |k: &str| keys.get(k).filter(|v| !v.is_empty()).cloned();
        let region = key("region").ok_or("region is a required parameter")?;
        let group = key("log_group_name").ok_or("log_group_name is a required parameter")?;
        // cloudwatch.go 547-552: the prefix and the tag, as they are.
        let stream = match (key("log_stream_name"), key("log_stream_prefix")) {
            (Some(s), None) => s,
            (None, Some(p)) => format!("{p}{tag}"),
            (None, None) => return Err("log_stream_name or log_stream_prefix is required".into()),
            _ => return Err("either log_stream_name or log_stream_prefix can be configured. They cannot be provided together".into()),
        };
        assert!(
            !group.contains("$(") && !stream.contains("$("),
            "the emulator does not expand Go templates"
        );
        // `endpoint` goes verbatim into the SDK's EndpointResolver (cloudwatch.go 251-263).
        let endpoint = key("endpoint").ok_or("the emulator needs `endpoint https://HOST:PORT`")?;
        let authority = endpoint
            .strip_prefix("https://")
            .ok_or("the emulator speaks https only")?
            .trim_end_matches('/');
        let (host, port) = authority.rsplit_once(':').ok_or("endpoint needs a port")?;
        let addr = (host, port.parse::<u16>().map_err(|e| e.to_string())?)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .find(SocketAddr::is_ipv4)
            .ok_or("endpoint does not resolve")?;
        Ok(GoPlugin {
            auto_create_group: is_on(keys.get("auto_create_group")),
            retention_days: key("log_retention_days")
                .and_then(|d| d.parse().ok())
                .unwrap_or(0),
            group,
            stream,
            host: host.to_string(),
            addr,
            region,
            tls,
            creds: container_credentials(creds_url)?,
            groups: BTreeSet::new(),
            streams: BTreeSet::new(),
            log: Vec::new(),
        })
    }

    /// One chunk of one record: the first flush, then Fluent Bit's one retry. Ok: a
    /// PutLogEvents was answered 200.
    pub fn deliver(&mut self) -> Result<String, String> {
        let first = self.flush();
        if first.is_ok() {
            return first;
        }
        self.log.push(format!("FLB_RETRY: {}", first.unwrap_err()));
        self.flush()
    }

    /// `FLBPluginFlushCtx` (fluent-bit-cloudwatch.go 165-217): `AddEvent` for the record, then
    /// `Flush()`; any error is FLB_RETRY.
    fn flush(&mut self) -> Result<String, String> {
        let (group, stream) = (self.group.clone(), self.stream.clone());
        // AddEvent step 5 (cloudwatch.go 385-394).
        if !self.groups.contains(&group) {
            self.create_log_group(&group)?;
            self.groups.insert(group.clone());
        }
        // AddEvent step 6: getLogStream (cloudwatch.go 456-470).
        if !self.streams.contains(&format!("{group}{stream}")) {
            if !self.existing_log_stream(&group, &stream)? {
                self.create_stream(&group, &stream)?;
            }
            self.streams.insert(format!("{group}{stream}"));
        }
        // Flush → putLogEvents (cloudwatch.go 734-829).
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let body = json!({"logGroupName": group, "logStreamName": stream,
            "logEvents": [{"message": "{\"log\":\"fbdiff record\",\"source\":\"stdout\"}", "timestamp": now}]});
        let a = self.call("PutLogEvents", body);
        if a.status == 200 {
            return Ok("PutLogEvents answered 200".into());
        }
        if a.is("ResourceNotFoundException") {
            // cloudwatch.go 793-808: re-create, then retry on the next flush.
            if a.message.contains("group") {
                self.create_log_group(&group)?;
            } else if a.message.contains("stream") {
                self.create_stream(&group, &stream)?;
            }
            return Err("A Log group/stream did not exist, re-created it. Will retry PutLogEvents on next flush".into());
        }
        Err(a.err("PutLogEvents"))
    }

    /// cloudwatch.go 599-638: nothing unless `auto_create_group`; AlreadyExists is success;
    /// either way PutRetentionPolicy when `log_retention_days` ≥ 1.
    fn create_log_group(&mut self, group: &str) -> Result<(), String> {
        if !self.auto_create_group {
            return Ok(());
        }
        let a = self.call("CreateLogGroup", json!({"logGroupName": group}));
        if a.status != 200 && !a.is("ResourceAlreadyExistsException") {
            return Err(a.err("CreateLogGroup"));
        }
        if self.retention_days >= 1 {
            let a = self.call(
                "PutRetentionPolicy",
                json!({"logGroupName": group, "retentionInDays": self.retention_days}),
            );
            if a.status != 200 {
                return Err(a.err("PutRetentionPolicy"));
            }
        }
        Ok(())
    }

    /// cloudwatch.go 472-527: DescribeLogStreams with the whole stream name as the prefix;
    /// Ok(false) when no exact match (streamDoesntExistError); any error is returned as is.
    fn existing_log_stream(&mut self, group: &str, stream: &str) -> Result<bool, String> {
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"logGroupName": group, "logStreamNamePrefix": stream});
            if let Some(t) = &token {
                body["nextToken"] = json!(t);
            }
            let a = self.call("DescribeLogStreams", body);
            if a.status != 200 {
                return Err(a.err("DescribeLogStreams"));
            }
            let v: Value = serde_json::from_str(&a.message).unwrap_or(Value::Null);
            let listed = v["logStreams"]
                .as_array()
                .is_some_and(|l| l.iter().any(|s| s["logStreamName"] == stream));
            if listed {
                return Ok(true);
            }
            match v["nextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => return Ok(false),
            }
        }
    }

    /// cloudwatch.go 570-597 (`auto_create_stream` defaults to true): every error, even
    /// AlreadyExists, is returned.
    fn create_stream(&mut self, group: &str, stream: &str) -> Result<(), String> {
        let a = self.call(
            "CreateLogStream",
            json!({"logGroupName": group, "logStreamName": stream}),
        );
        match a.status {
            200 => Ok(()),
            _ => Err(a.err("CreateLogStream")),
        }
    }

    /// One signed JSON 1.1 POST over TLS; the answer's body is kept as `message` on 200.
    fn call(&mut self, op: &str, body: Value) -> Answer {
        let body = body.to_string().into_bytes();
        let answer = self.post(op, &body).unwrap_or_else(|e| Answer {
            status: 0,
            code: Some("RequestError".into()),
            message: e,
        });
        self.log.push(format!(
            "{op} → {} {}",
            answer.status,
            answer.code.as_deref().unwrap_or("")
        ));
        answer
    }

    fn post(&self, op: &str, body: &[u8]) -> Result<Answer, String> {
        let url = format!("https://{}:{}/", self.host, self.addr.port());
        let target = format!("Logs_20140328.{op}");
        let host = format!("{}:{}", self.host, self.addr.port());
        let unsigned = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
            ("host", host.as_str()),
        ];
        let signed = self.sign(&url, &unsigned, body)?;
        let mut head = format!("POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\nUser-Agent: aws-fluent-bit-plugin (linux) emulated\r\n", body.len());
        for (k, v) in unsigned
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(signed)
        {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let tcp = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
        let name = super::testca::TestCa::server_name(&self.host);
        let conn = rustls::ClientConnection::new(Arc::clone(&self.tls), name)
            .map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
        tls.write_all(body).map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())?;
        let resp = peer::read_response(&mut BufReader::new(&mut tls)).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&resp.body).into_owned();
        let code = resp
            .headers
            .get("x-amzn-errortype")
            .map(|t| t.split(':').next().unwrap_or("").to_string());
        let message = match code {
            Some(_) => serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_default(),
            None => text,
        };
        Ok(Answer {
            status: resp.status,
            code,
            message,
        })
    }

    /// SigV4 headers (aws-sigv4), as aws-sdk-go v1 would sign (service `logs`, the output's
    /// region). The fake does not verify them.
    fn sign(
        &self,
        url: &str,
        unsigned: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        let (akid, secret, token) = &self.creds;
        let identity: Identity =
            Credentials::new(akid, secret, Some(token.clone()), None, "go-emulator").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("logs")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable = SignableRequest::new(
            "POST",
            url,
            unsigned.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let (headers, _) = instructions.into_parts();
        Ok(headers
            .into_iter()
            .map(|h| (h.name().to_string(), h.value().to_string()))
            .collect())
    }
}

fn is_on(v: Option<&String>) -> bool {
    v.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "on" | "yes" | "1"))
}

/// The container endpoint's credentials (`http://127.0.0.1:PORT/path`, as the SDK's
/// endpointcreds provider fetches them).
fn container_credentials(url: &str) -> Result<(String, String, String), String> {
    let rest = url.strip_prefix("http://").ok_or("an http:// FULL_URI")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr: SocketAddr = authority.parse().map_err(|_| "an IP:PORT FULL_URI")?;
    let resp = peer::http_request_timeout(addr, "GET", path, &[], b"", Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_slice(&resp.body).map_err(|e| e.to_string())?;
    let field = |k: &str| v[k].as_str().map(str::to_string).ok_or(format!("no {k}"));
    Ok((
        field("AccessKeyId")?,
        field("SecretAccessKey")?,
        field("Token")?,
    ))
}
