//! The checks behind credcheck's fuzz targets, one function per target, so that the
//! libFuzzer binaries (`fuzz_targets/`) and the stable replay (`tests/replay.rs`) run the
//! very same assertions. Each panics on a finding: a panic inside credcheck, a canary that
//! reached an error, a `Debug` or a `Display`, or a broken masking rule.
//!
//! Canaries are fixed values that do NOT look like key material (short, with dots), so only
//! the redaction design can hide them, not sanitize_foreign's key-material heuristic. Being
//! fixed, they register once with the process-wide scrub registry instead of once per input.
//!
//! Hosts: `full_uri` only lets through an http FULL_URI whose host is an IP literal (or any
//! https URL, which plan() never resolves), so fuzzing makes no DNS query at all.

use base64::Engine;
use credcheck::chain::container::{self, Plan, AUTH_TOKEN, FULL_URI, RELATIVE_URI};
use credcheck::chain::json_creds;
use credcheck::env::Env;
use credcheck::http::Budget;
use credcheck::jwt;
use credcheck::secret::{mask_key_id, sanitize_foreign};
use credcheck::http::Url;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};

pub const SECRET_CANARY: &str = "canary.secret-9f3e";
pub const TOKEN_CANARY: &str = "canary.token~5b21";
pub const BEARER_CANARY: &str = "canary.bearer~77ad";
pub const SIGNATURE_CANARY: &str = "canarySig_q7w9x2";

fn assert_hidden(canaries: &[&str], what: &str, text: &str) {
    for c in canaries {
        assert!(!text.contains(c), "{what} leaks the canary {c:?}: {text}");
    }
}

fn assert_printable(what: &str, text: &str, max_chars: usize) {
    assert!(
        !text.chars().any(char::is_control),
        "{what} has a control character: {text:?}"
    );
    assert!(
        text.chars().count() <= max_chars + 1,
        "{what} is longer than {max_chars}: {text:?}"
    );
}

// ---------------------------------------------------------------------------------------
// json_creds
// ---------------------------------------------------------------------------------------

/// Everything `parse` and `parse_agent_error` let out of `body`, after checking its shape.
fn parser_output(body: &[u8]) -> String {
    let mut out = match json_creds::parse(body) {
        Ok(p) => {
            for text in p.role_arn.iter() {
                assert_printable("RoleArn", text, 256);
            }
            for text in p.account_id.iter() {
                assert_printable("AccountId", text, 32);
            }
            let token = p
                .creds
                .session_token
                .as_ref()
                .map(|t| format!("{t} {t:?}"))
                .unwrap_or_default();
            format!(
                "{p:?}\n{} {token}\n{}\n",
                p.creds.secret_access_key, p.creds.access_key_id
            )
        }
        Err(e) => format!("{e}\n"),
    };
    let agent = json_creds::parse_agent_error(body);
    for text in agent.code.iter().chain(agent.message.iter()) {
        assert_printable("the agent error", text, 200);
    }
    out.push_str(&format!("{agent:?}"));
    out
}

fn is_secret_key(key: &str) -> bool {
    ["SecretAccessKey", "Token", "SessionToken"]
        .iter()
        .any(|k| key.eq_ignore_ascii_case(k))
}

/// The bytes as they come; then, when they are a JSON object, the same object with canaries
/// as its secret fields.
pub fn json_creds(data: &[u8]) {
    let _ = parser_output(data);
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    object.retain(|k, _| !is_secret_key(k));
    object.insert("SecretAccessKey".into(), SECRET_CANARY.into());
    if data.len().is_multiple_of(2) {
        object.insert("Token".into(), TOKEN_CANARY.into());
    }
    let body = serde_json::to_vec(&Value::Object(object)).expect("a Value serialises");
    assert_hidden(
        &[SECRET_CANARY, TOKEN_CANARY],
        "parse",
        &parser_output(&body),
    );
}

// ---------------------------------------------------------------------------------------
// full_uri: container::plan
// ---------------------------------------------------------------------------------------

/// The SDKs' http allow-list, written out from the spec.
pub fn reference_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.octets()[0] == 127
                || v4 == Ipv4Addr::new(169, 254, 170, 2)
                || v4 == Ipv4Addr::new(169, 254, 170, 23)
        }
        IpAddr::V6(v6) => {
            v6 == Ipv6Addr::LOCALHOST || v6 == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23)
        }
    }
}

/// Would plan() resolve a name for this FULL_URI? Only IP literals pass over http.
pub fn needs_dns(full_uri: &str) -> bool {
    let Ok(url) = Url::parse(full_uri.trim()) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    url.scheme() == "http" && host.parse::<IpAddr>().is_err()
}

/// Every part `mask_uri` promises to mask (as tests/props/mod.rs): each path segment (with its
/// `;` parameters), each query key and value, and the fragment. The authority is skipped; a
/// `://` that does not follow a scheme is part of the path.
pub fn masked_parts(shown: &str) -> Vec<String> {
    let scheme_end = shown.find("://").filter(|i| {
        let scheme = shown[..*i].trim_start();
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    let rest = match scheme_end {
        Some(i) => shown[i + 3..]
            .find(['/', '?', '#'])
            .map_or("", |j| &shown[i + 3 + j..]),
        None => shown,
    };
    let (rest, fragment) = rest
        .split_once('#')
        .map_or((rest, None), |(r, f)| (r, Some(f)));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut parts: Vec<String> = path.split('/').map(str::to_string).collect();
    for kv in query.split('&') {
        match kv.split_once('=') {
            Some((k, v)) => parts.extend([k.to_string(), v.to_string()]),
            None => parts.push(kv.to_string()),
        }
    }
    parts.extend(fragment.map(str::to_string));
    parts
}

pub fn assert_masked(shown: &str) {
    for part in masked_parts(shown) {
        let n = part.chars().count();
        assert!(
            n <= 12 || (n == 5 && part.ends_with('…')),
            "{shown:?} shows {part:?}"
        );
    }
}

fn token_variant(selector: u8) -> Option<String> {
    match selector % 8 {
        0 => None,
        1 | 7 => Some(BEARER_CANARY.to_string()),
        2 => Some(format!("{BEARER_CANARY}\n")),
        3 => Some(format!(" {BEARER_CANARY}")),
        4 => Some(BEARER_CANARY.replace('.', "\r\n.")),
        5 => Some(String::new()),
        _ => Some(format!("{BEARER_CANARY}\t")),
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
}

/// Byte 0 chooses which variables are set and how the token looks; the rest, split at the
/// first NUL, is RELATIVE_URI and FULL_URI.
pub fn full_uri(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (a, b) = text.split_once('\0').unwrap_or((&text, &text));
    let relative = (flags & 1 == 1).then_some(a);
    let full = (flags & 2 == 2).then_some(b);
    if relative.is_none() && full.is_some_and(needs_dns) {
        return;
    }
    let token = token_variant(flags >> 2);
    let mut pairs = Vec::new();
    pairs.extend(relative.map(|v| (RELATIVE_URI, v)));
    pairs.extend(full.map(|v| (FULL_URI, v)));
    pairs.extend(token.as_deref().map(|v| (AUTH_TOKEN, v)));
    let env = Env::from_pairs(pairs, SystemTime::now());
    let budget = Budget::new(Duration::from_secs(2), Duration::from_secs(1));
    let plan = RUNTIME.with(|rt| rt.block_on(container::plan(&env, &budget)));
    check_plan(&plan, relative.is_some());
}

/// The password of a URL's userinfo is a credential: it must not be shown, unless the same
/// text is also in the rest of the URL (then finding it proves nothing).
fn check_userinfo_hidden(url: &Url, shown: &str) {
    let Some(password) = url.password().filter(|p| p.len() >= 4) else {
        return;
    };
    let mut bare = url.clone();
    let _ = bare.set_password(None);
    let _ = bare.set_username("");
    if !bare.as_str().contains(password) {
        assert!(
            !shown.contains(password),
            "{shown:?} shows the password of {url}"
        );
    }
}

fn check_plan(plan: &Plan, via_relative: bool) {
    assert_hidden(
        &[BEARER_CANARY],
        "the plan",
        &format!("{plan:?} {:?}", plan.inspection()),
    );
    match plan {
        Plan::NotConfigured => {}
        Plan::Invalid { location, error } => {
            assert_hidden(
                &[BEARER_CANARY],
                "the error",
                &format!("{error}\n{}\n{location}", error.hint),
            );
        }
        Plan::Ready(target) => {
            assert_masked(&target.shown);
            check_userinfo_hidden(&target.url, &target.shown);
            if via_relative {
                assert_eq!(
                    target.url.host_str(),
                    Some("169.254.170.2"),
                    "RELATIVE_URI moved the host: {}",
                    target.url
                );
            }
            if target.url.scheme() == "http" {
                let host = target
                    .url
                    .host_str()
                    .unwrap_or_default()
                    .trim_matches(['[', ']']);
                let ip: IpAddr = host
                    .parse()
                    .unwrap_or_else(|_| panic!("http host {host:?} is no IP"));
                assert!(
                    reference_allowed(ip),
                    "http to {ip} was accepted: {}",
                    target.url
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// jwt_claims
// ---------------------------------------------------------------------------------------

fn check_claims(token: &str) {
    let Some(claims) = jwt::claims(token) else {
        return;
    };
    assert_hidden(&[SIGNATURE_CANARY], "the claims", &format!("{claims:?}"));
    for text in claims
        .iss
        .iter()
        .chain(claims.sub.iter())
        .chain(claims.aud.iter())
    {
        assert_printable("a claim", text, 200);
    }
}

/// The bytes as a token, as a token with the canary signature, and as the JSON payload of
/// one (so the fuzzer reaches the claims without having to learn base64).
pub fn jwt_claims(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = jwt::claims(&text);
    check_claims(&format!("{text}.{SIGNATURE_CANARY}"));
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    check_claims(&format!(
        "eyJhbGciOiJSUzI1NiJ9.{payload}.{SIGNATURE_CANARY}"
    ));
}

// ---------------------------------------------------------------------------------------
// masking: mask_key_id and sanitize_foreign
// ---------------------------------------------------------------------------------------

pub fn is_base64ish(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-')
}

/// Key material as AWS issues it: 40-character secret keys that mix upper case, lower case
/// and digits, and session tokens of hundreds of characters. The thresholds leave a margin
/// below sanitize_foreign's own (24 mixed, 64 any): the check pins the promise, not the tuning.
pub fn is_key_material(run: &str) -> bool {
    let has = |f: fn(&char) -> bool| run.chars().any(|c| f(&c));
    let mixed =
        has(char::is_ascii_digit) && has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase);
    (run.len() >= 40 && mixed) || run.len() >= 100
}

pub fn runs(text: &str, pred: fn(char) -> bool) -> impl Iterator<Item = &str> {
    text.split(move |c: char| !pred(c))
        .filter(|r| !r.is_empty())
}

fn windows(run: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = run.chars().collect();
    chars.windows(n).map(|w| w.iter().collect()).collect()
}

pub fn check_mask_key_id(id: &str) {
    let masked = mask_key_id(id);
    assert!(
        runs(&masked, |c| c.is_alphanumeric()).all(|r| r.chars().count() <= 8),
        "{id:?} → {masked:?}"
    );
    for run in runs(id, |c| c.is_alphanumeric()) {
        for w in windows(run, 9) {
            assert!(!masked.contains(&w), "{id:?} → {masked:?} shows {w:?}");
        }
    }
}

pub fn check_sanitize_foreign(text: &str, max_chars: usize) {
    let out = sanitize_foreign(text, max_chars);
    assert_printable("sanitize_foreign", &out, max_chars);
    // A window that also occurs in a run which is legitimately shown proves nothing.
    let (keys, shown): (Vec<&str>, Vec<&str>) =
        runs(text, is_base64ish).partition(|r| is_key_material(r));
    for run in keys {
        for w in windows(run, 20) {
            if shown.iter().any(|r| r.contains(&w)) {
                continue;
            }
            assert!(!out.contains(&w), "{text:?} → {out:?} shows {w:?}");
        }
    }
    for run in runs(&out, is_base64ish) {
        assert!(!is_key_material(run), "{text:?} → {out:?} shows {run:?}");
    }
}

/// Byte 0 (doubled) is the length bound; the whole input is the text.
pub fn masking(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    check_mask_key_id(&text);
    check_mask_key_id(text.trim());
    let max_chars = usize::from(data.first().copied().unwrap_or(0)) * 2;
    check_sanitize_foreign(&text, max_chars);
}
