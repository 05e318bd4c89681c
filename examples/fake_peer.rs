//! `fake_peer`: the in-process test fakes (`tests/support/peer.rs`) as a standalone
//! static binary, for network namespaces and `FROM scratch` containers (no shell, no
//! curl). Owner: test infrastructure.
//!
//! Serve mode prints exactly one line, `listening on ADDR[ ADDR…]`, once every `--bind`
//! is bound, then serves until killed. Probe mode (`--probe URL`) is a tiny HTTP client
//! for the same places: it prints `HTTP <status>` and the body, exit 0 on 2xx, 1 on other
//! statuses, 2 on connection errors. Run `fake_peer --help` for the options.

#[allow(dead_code)]
#[path = "../tests/support/peer.rs"]
mod peer;

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use peer::{Ecs, EcsFault, Imds, ImdsFault, Peer, Plan, Sts, StsFault};

const USAGE: &str = "\
usage: fake_peer [--bind ADDR]... [OPTIONS]
       fake_peer --probe URL [--method M] [--header 'Name: value']... [--timeout-ms N]

Serve (default --bind 127.0.0.1:0; repeat --bind to listen on several addresses):
  container credentials (enabled by any of these options):
    --ecs-path PATH        credentials path [/v2/credentials/<id>; /v1/credentials with --pod-identity]
    --role-arn ARN         RoleArn of the ECS-shaped response
    --pod-identity         EKS Pod Identity shape (AccountId, no RoleArn; requires the canary token)
    --pod-identity-host-check  the Pod Identity agent's Host check (169.254.170.23, fd00:ec2::23)
    --account-id ID        AccountId of the Pod Identity shape
    --token-file PATH      Pod Identity: require Authorization == the file's contents, trimmed
    --token VALUE          Pod Identity: require Authorization == VALUE (the ECS agent ignores it)
    --akid ID  --secret S  --session-token T  --expiration RFC3339
    --fault SPEC           hang | close | reset | slow:MS | huge:BYTES | redirect:URL | invalid-id |
                           uninitialized | no-credentials | agent-error:STATUS:CODE:MESSAGE |
                           raw:STATUS:CONTENT_TYPE:BODY | throttled | eks-auth:STATUS:CODE:MESSAGE
    --fault-times N        the fault hits only the first N requests
  STS (enabled by any of these options):
    --sts  --sts-arn ARN  --sts-account ID  --sts-user-id ID  --sts-date-offset SECS
    --sts-fault NAME       invalid-client-token-id | expired-token | signature-does-not-match |
                           signature-expired | access-denied | throttling | internal-failure |
                           invalid-identity-token | hang | not-xml
  IMDSv2 (enabled by any of these options):
    --imds-role NAME  --imds-no-role  --imds-region REGION  --imds-fault hop-limit|token-forbidden|throttled
  ECS task metadata v4:
    --task-metadata-prefix PREFIX   serve PREFIX/task (a Fargate task unless --task-metadata-file)
    --task-metadata-file PATH
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.iter().any(|a| a == "--probe") {
        probe(&args)
    } else {
        serve(&args)
    };
    if let Err(err) = result {
        eprintln!("fake_peer: {err}");
        std::process::exit(2);
    }
}

// ---- serve -------------------------------------------------------------------

/// Parsed serve options; each `Option` part switches a route on.
#[derive(Default)]
struct Opts {
    binds: Vec<SocketAddr>,
    ecs: Option<Ecs>,
    sts: Option<Sts>,
    imds: Option<Imds>,
    task_prefix: Option<String>,
    task_json: Option<String>,
}

impl Opts {
    fn ecs(&mut self) -> &mut Ecs {
        self.ecs.get_or_insert_with(Ecs::default)
    }
    fn sts(&mut self) -> &mut Sts {
        self.sts.get_or_insert_with(Sts::default)
    }
    fn imds(&mut self) -> &mut Imds {
        self.imds.get_or_insert_with(Imds::default)
    }

    fn plan(self) -> Plan {
        let mut plan = Plan {
            ecs: self.ecs,
            sts: self.sts,
            imds: self.imds,
            ..Plan::default()
        };
        if let Some(prefix) = self.task_prefix {
            plan = plan.with_task_metadata(
                &prefix,
                self.task_json.unwrap_or_else(peer::default_task_metadata),
            );
        }
        plan
    }
}

fn serve(args: &[String]) -> Result<(), String> {
    let mut opts = parse_serve(args)?;
    if opts.binds.is_empty() {
        opts.binds.push(SocketAddr::from(([127, 0, 0, 1], 0)));
    }
    let binds = std::mem::take(&mut opts.binds);
    let plan = opts.plan();
    let mut peers = Vec::new();
    for addr in binds {
        peers.push(
            Peer::try_start_on(addr, plan.clone())
                .map_err(|e| format!("cannot bind {addr}: {e}"))?,
        );
    }
    let addrs: Vec<String> = peers.iter().map(|p| p.addr().to_string()).collect();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", addrs.join(" ")).map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    drop(stdout);
    loop {
        std::thread::park();
    }
}

/// Serve options that take a value.
const VALUED: &[&str] = &[
    "--bind",
    "--ecs-path",
    "--role-arn",
    "--account-id",
    "--token",
    "--token-file",
    "--akid",
    "--secret",
    "--session-token",
    "--expiration",
    "--fault",
    "--fault-times",
    "--sts-arn",
    "--sts-account",
    "--sts-user-id",
    "--sts-date-offset",
    "--sts-fault",
    "--imds-role",
    "--imds-region",
    "--imds-fault",
    "--task-metadata-prefix",
    "--task-metadata-file",
];

fn parse_serve(args: &[String]) -> Result<Opts, String> {
    let mut opts = Opts::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if matches!(flag.as_str(), "-h" | "--help") {
            print!("{USAGE}");
            std::process::exit(0);
        }
        if parse_switch(&mut opts, flag) {
            continue;
        }
        if !VALUED.contains(&flag.as_str()) {
            return Err(format!("unknown option {flag}\n{USAGE}"));
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        parse_valued(&mut opts, flag, value)?;
    }
    Ok(opts)
}

/// Flags without a value; false if `flag` is not one.
fn parse_switch(opts: &mut Opts, flag: &str) -> bool {
    match flag {
        "--pod-identity" => {
            let ecs = opts.ecs();
            let pod = Ecs::pod_identity();
            ecs.role_arn = None;
            ecs.required_token = ecs.required_token.take().or(pod.required_token);
            if ecs.path == peer::ECS_PATH {
                ecs.path = pod.path;
            }
        }
        "--pod-identity-host-check" => {
            opts.ecs().target_hosts = Some(peer::POD_IDENTITY_HOSTS.map(str::to_string).to_vec());
        }
        "--sts" => {
            opts.sts();
        }
        "--imds-no-role" => opts.imds().role_name = None,
        _ => return false,
    }
    true
}

fn parse_valued(opts: &mut Opts, flag: &str, value: &str) -> Result<(), String> {
    let v = value.to_string();
    match flag {
        "--bind" => opts.binds.push(parse_addr(value)?),
        "--ecs-path" => opts.ecs().path = v,
        "--role-arn" => opts.ecs().role_arn = Some(v),
        "--account-id" => opts.ecs().account_id = v,
        "--token" => opts.ecs().required_token = Some(v),
        "--token-file" => opts.ecs().required_token = Some(read_trimmed(value)?),
        "--akid" => opts.ecs().access_key_id = v,
        "--secret" => opts.ecs().secret_access_key = v,
        "--session-token" => opts.ecs().token = v,
        "--expiration" => opts.ecs().expiration = v,
        "--fault" => opts.ecs().fault = parse_ecs_fault(value)?,
        "--fault-times" => opts.ecs().fault_times = Some(parse_num(flag, value)?),
        _ => return parse_other(opts, flag, value),
    }
    Ok(())
}

fn parse_other(opts: &mut Opts, flag: &str, value: &str) -> Result<(), String> {
    let v = value.to_string();
    match flag {
        "--sts-arn" => {
            let sts = opts.sts();
            sts.account = value.split(':').nth(4).unwrap_or(&sts.account).to_string();
            sts.arn = v;
        }
        "--sts-account" => opts.sts().account = v,
        "--sts-user-id" => opts.sts().user_id = v,
        "--sts-date-offset" => opts.sts().date_offset_secs = parse_num(flag, value)?,
        "--sts-fault" => opts.sts().fault = parse_sts_fault(value)?,
        "--imds-role" => opts.imds().role_name = Some(v),
        "--imds-region" => opts.imds().region = v,
        "--imds-fault" => opts.imds().fault = parse_imds_fault(value)?,
        "--task-metadata-prefix" => opts.task_prefix = Some(v),
        "--task-metadata-file" => opts.task_json = Some(read_file(value)?),
        _ => return Err(format!("unknown option {flag}\n{USAGE}")),
    }
    Ok(())
}

fn parse_num<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: not a number: {value}"))
}

fn parse_addr(value: &str) -> Result<SocketAddr, String> {
    value
        .parse()
        .map_err(|_| format!("--bind: not an IP:PORT address: {value}"))
}

fn read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn read_trimmed(path: &str) -> Result<String, String> {
    Ok(read_file(path)?.trim().to_string())
}

fn parse_ecs_fault(spec: &str) -> Result<EcsFault, String> {
    let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
    let fault = match name {
        "none" => EcsFault::None,
        "hang" => EcsFault::Hang,
        "close" => EcsFault::Close,
        "reset" => EcsFault::ResetMidBody,
        "slow" => EcsFault::Slow(Duration::from_millis(parse_num("slow", rest)?)),
        "huge" => EcsFault::Huge(parse_num("huge", rest)?),
        "redirect" => EcsFault::Redirect(rest.to_string()),
        "invalid-id" => EcsFault::invalid_id(),
        "uninitialized" => EcsFault::uninitialized(),
        "no-credentials" => EcsFault::no_credentials_associated(),
        "agent-error" => parse_agent_error(rest)?,
        "raw" => parse_raw(rest)?,
        "throttled" => EcsFault::Throttled,
        "eks-auth" => parse_eks_auth(rest)?,
        _ => return Err(format!("unknown --fault {spec}\n{USAGE}")),
    };
    Ok(fault)
}

fn parse_agent_error(rest: &str) -> Result<EcsFault, String> {
    let mut parts = rest.splitn(3, ':');
    let (Some(status), Some(code), Some(message)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("agent-error:STATUS:CODE:MESSAGE".into());
    };
    Ok(EcsFault::agent_error(
        parse_num("agent-error", status)?,
        code,
        message,
    ))
}

fn parse_eks_auth(rest: &str) -> Result<EcsFault, String> {
    let mut parts = rest.splitn(3, ':');
    let (Some(status), Some(code), Some(message)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("eks-auth:STATUS:CODE:MESSAGE".into());
    };
    Ok(EcsFault::EksAuth {
        status: parse_num("eks-auth", status)?,
        code: code.to_string(),
        message: message.to_string(),
    })
}

fn parse_raw(rest: &str) -> Result<EcsFault, String> {
    let mut parts = rest.splitn(3, ':');
    let (Some(status), Some(content_type), Some(body)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("raw:STATUS:CONTENT_TYPE:BODY".into());
    };
    Ok(EcsFault::raw(parse_num("raw", status)?, content_type, body))
}

fn parse_sts_fault(name: &str) -> Result<StsFault, String> {
    Ok(match name {
        "none" => StsFault::None,
        "invalid-client-token-id" => StsFault::invalid_client_token_id(),
        "expired-token" => StsFault::expired_token(),
        "signature-does-not-match" => StsFault::signature_does_not_match(),
        "signature-expired" => StsFault::signature_expired(),
        "access-denied" => StsFault::access_denied(),
        "throttling" => StsFault::throttling(),
        "internal-failure" => StsFault::internal_failure(),
        "invalid-identity-token" => StsFault::invalid_identity_token(),
        "hang" => StsFault::Hang,
        "not-xml" => StsFault::NotXml,
        _ => return Err(format!("unknown --sts-fault {name}\n{USAGE}")),
    })
}

fn parse_imds_fault(name: &str) -> Result<ImdsFault, String> {
    match name {
        "none" => Ok(ImdsFault::None),
        "hop-limit" => Ok(ImdsFault::HopLimit),
        "token-forbidden" => Ok(ImdsFault::TokenForbidden),
        "throttled" => Ok(ImdsFault::Throttled),
        _ => Err(format!("unknown --imds-fault {name}\n{USAGE}")),
    }
}

// ---- probe -------------------------------------------------------------------

fn probe(args: &[String]) -> Result<(), String> {
    let (mut url, mut method, mut headers, mut timeout_ms) =
        (None, "GET".to_string(), Vec::new(), 5000u64);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--probe" => url = Some(value.clone()),
            "--method" => method = value.clone(),
            "--header" => headers.push(split_header(value)?),
            "--timeout-ms" => timeout_ms = parse_num(flag, value)?,
            _ => return Err(format!("unknown probe option {flag}\n{USAGE}")),
        }
    }
    let url = url.ok_or("--probe needs a URL")?;
    let (addr, path) = parse_url(&url)?;
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let timeout = Duration::from_millis(timeout_ms);
    let resp = peer::http_request_timeout(addr, &method, &path, &headers, b"", timeout)
        .map_err(|e| format!("{method} {url}: {e}"))?;
    print_response(&resp);
    if !(200..300).contains(&resp.status) {
        std::process::exit(1);
    }
    Ok(())
}

fn split_header(value: &str) -> Result<(String, String), String> {
    let (name, v) = value
        .split_once(':')
        .ok_or_else(|| format!("--header needs 'Name: value', got {value}"))?;
    Ok((name.trim().to_string(), v.trim().to_string()))
}

/// `http://HOST[:PORT][/path]` with an IP literal (or a resolvable name) as HOST.
fn parse_url(url: &str) -> Result<(SocketAddr, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("only http:// URLs: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let with_port = if authority.ends_with(']') || !authority.contains(':') {
        format!("{authority}:80")
    } else {
        authority.to_string()
    };
    let addr = with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve {authority}"))?;
    Ok((addr, path.to_string()))
}

fn print_response(resp: &peer::HttpResponse) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "HTTP {}", resp.status);
    let _ = out.write_all(&resp.body);
    if !resp.body.ends_with(b"\n") {
        let _ = writeln!(out);
    }
    let _ = out.flush();
}
