//! Property tests for everything that stands between a peer's bytes and credcheck's output
//! (issue 4, "Hardening"): no input panics the parsers, and no secret they are handed comes
//! back out of an error, a `Debug` or a `Display`.
//!
//! Rules these tests keep: every host they generate is an IP literal or a name under
//! `.invalid` (RFC 2606), and every other string that would name a host over http is
//! skipped, so `plan()` never looks up a public name; `plan()` itself never fetches.
//! Canaries are random, at least 8 characters, drawn from printable ASCII that `Debug`
//! does not escape, so a leak shows as a plain substring.
//!
//! Note: `Secret::new` and `KeyId::new` register their values with the process-wide scrub
//! registry; the values generated here are random enough not to touch other tests' text.

use credcheck::chain::container::{
    self, Plan, AUTH_TOKEN, AUTH_TOKEN_FILE, FULL_URI, RELATIVE_URI,
};
use credcheck::chain::json_creds;
use credcheck::env::Env;
use credcheck::http::Budget;
use credcheck::jwt;
use credcheck::secret::{mask_key_id, sanitize_foreign, KeyId, Secret};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Number, Value};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, SystemTime};
use url::Url;

const CASES: u32 = 256;
/// `plan()` must settle well inside this, DNS of `.invalid` names included.
const PLAN_LIMIT: Duration = Duration::from_secs(10);
const REDACTED: &str = "** redacted **";

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Shared generators and checks
// ---------------------------------------------------------------------------------------

/// A secret value that must never come back out.
fn canary() -> impl Strategy<Value = String> {
    "[A-Za-z0-9+/=_~-]{8,48}".prop_filter("must not hide inside fixed text", |c| {
        !REDACTED.contains(c.as_str()) && !c.contains("redacted")
    })
}

fn assert_hidden(canaries: &[String], what: &str, text: &str) -> Result<(), TestCaseError> {
    for c in canaries {
        prop_assert!(
            !text.contains(c.as_str()),
            "{what} leaks the canary {c:?}: {text}"
        );
    }
    Ok(())
}

fn is_base64ish(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-')
}

/// Key material as AWS issues it: secret keys are 40 base64 characters that (almost always)
/// mix upper case, lower case and digits; session tokens are hundreds of characters. The
/// thresholds leave a margin below sanitize_foreign's own (24 mixed, 64 any), so these
/// properties pin the promise, real keys hidden, and not the tuning that keeps ARNs readable.
fn is_key_material(run: &str) -> bool {
    let has = |f: fn(&char) -> bool| run.chars().any(|c| f(&c));
    let mixed =
        has(char::is_ascii_digit) && has(char::is_ascii_uppercase) && has(char::is_ascii_lowercase);
    (run.len() >= 40 && mixed) || run.len() >= 100
}

/// The maximal runs of characters that satisfy `pred`.
fn runs(text: &str, pred: fn(char) -> bool) -> Vec<String> {
    text.split(|c: char| !pred(c))
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}

/// Flips the case of the characters `flips` selects: keys match case-insensitively.
fn case_variant(name: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), name.len()).prop_map(move |flips| {
        name.chars()
            .zip(flips)
            .map(|(c, f)| {
                if f {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------
// json_creds::parse and parse_agent_error
// ---------------------------------------------------------------------------------------

const KNOWN_KEYS: &[&str] = &[
    "AccessKeyId",
    "SecretAccessKey",
    "Token",
    "SessionToken",
    "Expiration",
    "RoleArn",
    "AccountId",
    "Code",
    "code",
    "message",
    "Message",
    "LastUpdated",
    "Type",
];

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(KNOWN_KEYS).prop_flat_map(case_variant),
        1 => ".{0,16}",
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        ".{0,40}".prop_map(Value::String),
        timestamp().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((json_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((json_key(), json_value()), 0..10).prop_map(|kv| kv.into_iter().collect())
}

/// RFC 3339 in the shapes the agents send, plus near misses.
fn timestamp() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            1970u32..2300,
            1u32..13,
            1u32..29,
            0u32..24,
            0u32..60,
            0u32..60
        )
            .prop_map(|(y, mo, d, h, mi, s)| format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"
            )),
        (
            0u32..10000,
            0u32..20,
            0u32..40,
            0u32..30,
            0u32..70,
            0u32..70,
            "[Z+-]|\\+05:30|\\.123Z|"
        )
            .prop_map(|(y, mo, d, h, mi, s, tz)| format!(
                "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{tz}"
            )),
        "[0-9TZ:.+ -]{0,30}",
    ]
}

/// A value that holds `secret` as a string, or buries it where no string is expected.
fn secret_holder(secret: String) -> impl Strategy<Value = Value> {
    let s = secret.clone();
    prop_oneof![
        6 => Just(Value::String(secret.clone())),
        1 => Just(Value::String(format!(" {s}\n"))),
        1 => Just(Value::Array(vec![Value::String(secret.clone())])),
        1 => Just(serde_json::json!({ "value": secret.clone() })),
    ]
}

fn access_key_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => "(ASIA|AKIA)[A-Z2-7]{16}".prop_map(Value::String),
        1 => ".{0,24}".prop_map(Value::String),
        1 => json_leaf(),
    ]
}

/// A credentials document (ECS, EKS Pod Identity or IMDS shape) whose SecretAccessKey and
/// Token are canaries; fields are dropped, duplicated in another case and shuffled.
#[derive(Debug, Clone)]
struct CredsDoc {
    text: String,
    canaries: Vec<String>,
}

fn creds_doc() -> impl Strategy<Value = CredsDoc> {
    (canary(), canary())
        .prop_flat_map(|(secret, token)| {
            let fields = (
                (case_variant("AccessKeyId"), access_key_id()),
                (
                    case_variant("SecretAccessKey"),
                    secret_holder(secret.clone()),
                ),
                prop::option::of((
                    select(&["Token", "SessionToken"][..]).prop_flat_map(case_variant),
                    secret_holder(token.clone()),
                )),
                prop::option::of((
                    case_variant("Expiration"),
                    prop_oneof![timestamp().prop_map(Value::String), json_leaf()],
                )),
                prop::option::of((
                    case_variant("RoleArn"),
                    "arn:aws:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_-]{1,64}".prop_map(Value::String),
                )),
                prop::option::of((
                    case_variant("AccountId"),
                    "[0-9]{12}|.{0,20}".prop_map(Value::String),
                )),
                prop::option::of((
                    case_variant("Code"),
                    prop_oneof![
                        Just("Success".to_string()),
                        Just("success".into()),
                        ".{0,20}".prop_map(String::from)
                    ]
                    .prop_map(Value::String),
                )),
                prop::collection::vec((json_key(), json_leaf()), 0..3),
                any::<bool>(),
                Just((secret, token)),
            );
            (fields, any::<prop::sample::Index>())
        })
        .prop_map(
            |(
                (
                    id,
                    secret_field,
                    token_field,
                    exp,
                    arn,
                    account,
                    code,
                    extra,
                    duplicate,
                    (secret, token),
                ),
                shuffle,
            )| {
                let mut pairs: Vec<(String, Value)> = vec![id, secret_field.clone()];
                pairs.extend([token_field, exp, arn, account, code].into_iter().flatten());
                pairs.extend(extra);
                if duplicate {
                    pairs.push((secret_field.0.to_ascii_lowercase(), secret_field.1));
                }
                let rotate = shuffle.index(pairs.len());
                pairs.rotate_left(rotate);
                let body: Vec<String> = pairs
                    .iter()
                    .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), v))
                    .collect();
                CredsDoc {
                    text: format!("{{{}}}", body.join(",")),
                    canaries: vec![secret, token],
                }
            },
        )
}

/// Up to three byte edits: replace, insert or delete.
fn mutate(mut bytes: Vec<u8>, edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    for (at, op, byte) in edits {
        if bytes.is_empty() {
            bytes.push(*byte);
            continue;
        }
        let i = at.index(bytes.len());
        match op % 3 {
            0 => bytes[i] = *byte,
            1 => bytes.insert(i, *byte),
            _ => {
                bytes.remove(i);
            }
        }
    }
    bytes
}

/// Everything `parse` and `parse_agent_error` let out of `body`.
fn parser_output(body: &[u8]) -> String {
    let mut out = match json_creds::parse(body) {
        Ok(p) => {
            let mut s = format!("{p:?}\n{}\n", p.creds.secret_access_key);
            if let Some(t) = &p.creds.session_token {
                s.push_str(&format!("{t} {t:?}\n"));
            }
            s.push_str(&format!(
                "{} {:?}\n",
                p.creds.access_key_id, p.creds.access_key_id
            ));
            s.push_str(&format!("{:?} {:?}\n", p.role_arn, p.account_id));
            s
        }
        Err(e) => format!("{e}\n"),
    };
    out.push_str(&format!("{:?}", json_creds::parse_agent_error(body)));
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn json_creds_arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = json_creds::parse(&body);
        let _ = json_creds::parse_agent_error(&body);
    }

    #[test]
    fn json_creds_arbitrary_objects_never_panic(object in json_object()) {
        let body = serde_json::to_vec(&Value::Object(object)).unwrap();
        if let Ok(p) = json_creds::parse(&body) {
            for text in p.role_arn.iter().chain(p.account_id.iter()) {
                prop_assert!(!text.chars().any(char::is_control), "{text:?}");
            }
        }
        let agent = json_creds::parse_agent_error(&body);
        for text in agent.code.iter().chain(agent.message.iter()) {
            prop_assert!(!text.chars().any(char::is_control), "{text:?}");
            prop_assert!(text.chars().count() <= 201, "{text:?}");
        }
    }

    #[test]
    fn json_creds_never_print_secret_values(doc in creds_doc()) {
        let out = parser_output(doc.text.as_bytes());
        assert_hidden(&doc.canaries, "parse/parse_agent_error", &out)?;
    }

    #[test]
    fn json_creds_corrupted_documents_never_print_secret_values(
        doc in creds_doc(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let body = mutate(doc.text.clone().into_bytes(), &edits);
        let out = parser_output(&body);
        assert_hidden(&doc.canaries, "parse of a corrupted document", &out)?;
    }

    #[test]
    fn json_creds_accepts_every_well_formed_document(
        id in "(ASIA|AKIA)[A-Z2-7]{16}",
        secret in canary(),
        token in canary(),
        exp in (1_000_000_000u64..4_000_000_000).prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
        keys in (case_variant("AccessKeyId"), case_variant("SecretAccessKey"), case_variant("Token"), case_variant("Expiration")),
    ) {
        let stamp = humantime::format_rfc3339_seconds(exp).to_string();
        let body: Map<String, Value> = [(keys.0, id), (keys.1, secret.clone()), (keys.2, token.clone()), (keys.3, stamp)]
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let body = Value::Object(body);
        let parsed = json_creds::parse(body.to_string().as_bytes());
        let p = parsed.map_err(|e| TestCaseError::fail(format!("{body}: {e}")))?;
        prop_assert_eq!(p.creds.secret_access_key.expose(), secret.as_str());
        prop_assert_eq!(p.creds.session_token.as_ref().map(|t| t.expose()), Some(token.as_str()));
        prop_assert_eq!(p.creds.expiration, Some(exp));
        assert_hidden(&[secret, token], "a parsed document", &format!("{p:?}"))?;
    }
}

// ---------------------------------------------------------------------------------------
// container::plan, is_allowed_ip, mask_uri
// ---------------------------------------------------------------------------------------

/// The SDKs' allow-list for http, written out from the spec.
fn reference_allowed(ip: IpAddr) -> bool {
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

fn interesting_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        2 => any::<IpAddr>(),
        2 => any::<[u8; 3]>().prop_map(|[a, b, c]| IpAddr::V4(Ipv4Addr::new(127, a, b, c))),
        2 => any::<u8>().prop_map(|d| IpAddr::V4(Ipv4Addr::new(169, 254, 170, d))),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(c, d)| IpAddr::V4(Ipv4Addr::new(169, 254, c, d))),
        2 => any::<u16>().prop_map(|s| IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, s))),
        1 => any::<[u16; 2]>().prop_map(|[a, s]| IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, a, 0, 0, 0, 0, s))),
        1 => any::<u16>().prop_map(|s| IpAddr::V6(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, s))),
        1 => any::<Ipv4Addr>().prop_map(|v4| IpAddr::V6(v4.to_ipv6_mapped())),
        1 => prop::sample::select(vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
            IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254)),
            IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()),
        ]),
    ]
}

/// How an IP literal may be spelled in a URL: dotted, or as WHATWG's decimal/hex forms.
fn ip_host(ip: IpAddr) -> impl Strategy<Value = String> {
    let forms: Vec<String> = match ip {
        IpAddr::V4(v4) => vec![
            v4.to_string(),
            u32::from(v4).to_string(),
            format!("{:#x}", u32::from(v4)),
        ],
        IpAddr::V6(v6) => vec![format!("[{v6}]"), format!("[{}]", full_v6(v6))],
    };
    select(forms)
}

fn full_v6(v6: Ipv6Addr) -> String {
    v6.segments()
        .iter()
        .map(|s| format!("{s:x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Names that can only fail to resolve: under `.invalid`, never a public name.
fn invalid_host() -> impl Strategy<Value = String> {
    ("[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,10}){0,2}", any::<bool>())
        .prop_map(|(name, dot)| format!("{name}.invalid{}", if dot { "." } else { "" }))
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![4 => interesting_ip().prop_flat_map(ip_host), 1 => invalid_host()]
}

fn uri_path() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/v1/credentials".to_string()),
        "[0-9a-f-]{8,40}".prop_map(|id| format!("/v2/credentials/{id}")),
        "(/[A-Za-z0-9._~%!$&'()*+,;=:@-]{0,20}){0,4}/?",
        "/.{0,40}",
        "[?#].{0,40}",
    ]
}

/// A FULL_URI that can only name an IP literal or an `.invalid` host.
fn structured_full_uri() -> impl Strategy<Value = String> {
    (
        prop_oneof![6 => Just("http"), 2 => Just("https"), 1 => Just("HTTP"), 1 => select(&["ftp", "file", "ws", "unix", "h"][..])],
        prop::option::of("[a-z0-9]{0,8}(:[a-z0-9]{0,8})?@"),
        host(),
        prop::option::of(0u32..70000),
        uri_path(),
        prop::option::of("[?][a-z]{1,5}=[A-Za-z0-9-]{0,30}(&[a-z]{1,5}=[A-Za-z0-9-]{0,30})?"),
        "[ \t\n]{0,2}",
    )
        .prop_map(|(scheme, user, host, port, path, query, pad)| {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{pad}{scheme}://{}{host}{port}{path}{}{pad}", user.unwrap_or_default(), query.unwrap_or_default())
        })
}

/// Would `plan()` look this host up? Only IP literals and `.invalid` names are let through.
fn is_offline_safe(full_uri: &str) -> bool {
    let Ok(url) = Url::parse(full_uri.trim()) else {
        return true;
    };
    if url.scheme() != "http" {
        return true;
    }
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    host.parse::<IpAddr>().is_ok() || host.trim_end_matches('.').ends_with(".invalid")
}

fn full_uri() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => structured_full_uri(),
        1 => ".{0,60}",
        1 => "(http|https)://.{0,40}",
    ]
    .prop_filter("must not name a resolvable host", |u| is_offline_safe(u))
}

fn relative_uri() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[0-9a-f-]{8,40}".prop_map(|id| format!("/v2/credentials/{id}")),
        2 => "/.{0,60}",
        1 => ".{0,60}",
        1 => select(&["", " ", "v2/credentials/x", "//evil.invalid/x", "/@evil.invalid", "/\\evil.invalid", "/%2e%2e/x"][..]).prop_map(String::from),
    ]
}

/// The token as the variable or the file holds it, often with a stray byte.
fn token_text(canary: String) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(canary.clone()),
        1 => Just(format!("{canary}\n")),
        1 => Just(format!(" {canary}")),
        1 => Just(format!("{canary}\t")),
        1 => (0..canary.len()).prop_map(move |i| format!("{}\r\n{}", &canary[..i], &canary[i..])),
        1 => Just(String::new()),
        1 => Just(" \n".to_string()),
    ]
}

#[derive(Debug, Clone)]
enum TokenFile {
    Holding(String),
    Missing,
    Directory,
    NotUtf8,
}

#[derive(Debug, Clone)]
struct ContainerEnv {
    relative: Option<String>,
    full: Option<String>,
    token: Option<String>,
    token_file: Option<TokenFile>,
    canaries: Vec<String>,
}

fn container_env() -> impl Strategy<Value = ContainerEnv> {
    (canary(), canary()).prop_flat_map(|(var_canary, file_canary)| {
        (
            prop::option::weighted(0.3, relative_uri()),
            prop::option::weighted(0.8, full_uri()),
            prop::option::of(token_text(var_canary.clone())),
            prop::option::weighted(
                0.3,
                prop_oneof![
                    4 => token_text(file_canary.clone()).prop_map(TokenFile::Holding),
                    1 => Just(TokenFile::Missing),
                    1 => Just(TokenFile::Directory),
                    1 => Just(TokenFile::NotUtf8),
                ],
            ),
            Just(vec![var_canary, file_canary]),
        )
            .prop_map(
                |(relative, full, token, token_file, canaries)| ContainerEnv {
                    relative,
                    full,
                    token,
                    token_file,
                    canaries,
                },
            )
    })
}

fn run_plan(env: &Env) -> Result<Plan, TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let budget = Budget::new(Duration::from_secs(5), Duration::from_millis(1500));
    let plan = rt
        .block_on(async { tokio::time::timeout(PLAN_LIMIT, container::plan(env, &budget)).await });
    // A stuck getaddrinfo must not hold the test up after the verdict.
    rt.shutdown_background();
    plan.map_err(|_| TestCaseError::fail("plan() did not finish"))
}

/// Every part `mask_uri` promises to mask: each path segment (with its `;` parameters), each
/// query key and value, and the fragment. The authority (`scheme://host:port`) is skipped; a
/// `://` that does not follow a scheme is part of the path.
fn masked_parts(shown: &str) -> Vec<String> {
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

/// A URI with an id (JWT and UUID characters) in one place the token or id can sit.
fn uri_with_id() -> impl Strategy<Value = (String, String)> {
    let id = "[A-Za-z0-9_-]{13,60}";
    let place = prop_oneof![
        Just("http://127.0.0.1/{id}/v2/credentials"),
        Just("http://127.0.0.1/v2/{id}/credentials"),
        Just("http://169.254.170.2/v2/credentials/{id}"),
        Just("http://169.254.170.2/v2/credentials/{id}/"),
        Just("http://169.254.170.23/v1/credentials;id={id}"),
        Just("http://169.254.170.23/v1/credentials;{id}"),
        Just("http://169.254.170.23/v1/{id};x=1/credentials"),
        Just("http://169.254.170.23/v1/credentials#{id}"),
        Just("http://169.254.170.23#{id}"),
        Just("http://169.254.170.2/v1/credentials?id={id}"),
        Just("http://169.254.170.2/v1/credentials?{id}"),
        Just("http://169.254.170.2/v1/credentials?{id}=1"),
        Just("http://169.254.170.2/v1/credentials?a=1&b={id}#f"),
        Just("/v2/credentials/{id}"),
        Just("//v2//credentials/{id}"),
        Just("/v2/credentials/{id}://x"),
        Just(" http://u:p@127.0.0.1:80/x/{id};y#z"),
    ];
    (place, id).prop_map(|(place, id)| (place.replace("{id}", &id), id))
}

fn is_masked(part: &str) -> bool {
    part.chars().count() <= 12 || (part.ends_with('…') && part.chars().count() == 5)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn is_allowed_ip_matches_the_reference_model(ip in interesting_ip()) {
        prop_assert_eq!(container::is_allowed_ip(&ip), reference_allowed(ip), "{}", ip);
    }

    #[test]
    fn mask_uri_hides_every_long_id(raw in prop_oneof![structured_full_uri(), ".{0,80}", "/v2/credentials/[0-9a-f-]{0,40}(\\?[a-z]{1,4}=.{0,30})?", "(/[A-Za-z0-9;=._-]{0,30}){0,4}(#.{0,30})?"]) {
        let shown = container::mask_uri(&raw);
        for part in masked_parts(&shown) {
            prop_assert!(is_masked(&part), "{raw:?} → {shown:?} shows {part:?}");
        }
    }

    #[test]
    fn mask_uri_hides_an_id_wherever_it_sits((raw, id) in uri_with_id()) {
        let shown = container::mask_uri(&raw);
        let chars: Vec<char> = id.chars().collect();
        for window in chars.windows(8) {
            let fragment: String = window.iter().collect();
            prop_assert!(!shown.contains(&fragment), "{raw:?} → {shown:?} shows {fragment:?}");
        }
    }

    #[test]
    fn plan_finishes_and_never_shows_the_token(case in container_env()) {
        let dir = tempfile::tempdir().unwrap();
        let file_path = dir.path().join("token");
        let path_text = match &case.token_file {
            None => None,
            Some(TokenFile::Holding(text)) => {
                std::fs::write(&file_path, text).unwrap();
                Some(file_path.display().to_string())
            }
            Some(TokenFile::NotUtf8) => {
                std::fs::write(&file_path, [0xff, 0xfe, b'a']).unwrap();
                Some(file_path.display().to_string())
            }
            Some(TokenFile::Missing) => Some(dir.path().join("missing").display().to_string()),
            Some(TokenFile::Directory) => Some(dir.path().display().to_string()),
        };
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        pairs.extend(case.relative.as_deref().map(|v| (RELATIVE_URI, v)));
        pairs.extend(case.full.as_deref().map(|v| (FULL_URI, v)));
        pairs.extend(case.token.as_deref().map(|v| (AUTH_TOKEN, v)));
        pairs.extend(path_text.as_deref().map(|v| (AUTH_TOKEN_FILE, v)));
        let env = Env::from_pairs(pairs, SystemTime::now());

        let plan = run_plan(&env)?;
        assert_hidden(&case.canaries, "the plan", &format!("{plan:?}"))?;
        assert_hidden(&case.canaries, "the inspection", &format!("{:?}", plan.inspection()))?;
        match &plan {
            Plan::NotConfigured => prop_assert!(case.relative.is_none() && case.full.is_none()),
            Plan::Invalid { location, error } => {
                assert_hidden(&case.canaries, "the error", &format!("{error}\n{}\n{}\n{location}", error.message, error.hint))?;
            }
            Plan::Ready(target) => {
                assert_hidden(&case.canaries, "the shown URL", &target.shown)?;
                for part in masked_parts(&target.shown) {
                    prop_assert!(is_masked(&part), "{:?} shows {part:?}", target.shown);
                }
                if case.relative.is_some() {
                    prop_assert_eq!(target.url.host_str(), Some("169.254.170.2"), "RELATIVE_URI moved the host");
                    prop_assert_eq!(target.url.port(), None);
                }
                // The point of the allow-list: a token never goes to another host over http.
                if target.url.scheme() == "http" {
                    let host = target.url.host_str().unwrap_or_default().trim_matches(['[', ']']);
                    let ip: IpAddr = host.parse().map_err(|_| TestCaseError::fail(format!("http host {host:?} is no IP")))?;
                    prop_assert!(reference_allowed(ip), "http to {ip} was accepted");
                }
            }
        }
    }

    #[test]
    fn plan_accepts_an_http_ip_exactly_when_the_sdk_would(ip in interesting_ip().prop_flat_map(|ip| (Just(ip), ip_host(ip))), token in canary()) {
        let (ip, host) = ip;
        let uri = format!("http://{host}/v1/credentials");
        let env = Env::from_pairs([(FULL_URI, uri.as_str()), (AUTH_TOKEN, token.as_str())], SystemTime::now());
        let plan = run_plan(&env)?;
        prop_assert_eq!(matches!(plan, Plan::Ready(_)), reference_allowed(ip), "{} → {:?}", uri, plan);
        assert_hidden(&[token], "the plan", &format!("{plan:?}"))?;
    }
}

// ---------------------------------------------------------------------------------------
// jwt::claims
// ---------------------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn claims_payload() -> impl Strategy<Value = Vec<u8>> {
    let claim = prop_oneof![
        (
            Just("iss"),
            prop_oneof![".{0,40}".prop_map(Value::String), json_leaf()]
        ),
        (
            Just("sub"),
            prop_oneof![
                Just(Value::String("system:serviceaccount:ns:sa".into())),
                json_leaf()
            ]
        ),
        (
            Just("aud"),
            prop_oneof![
                Just(Value::String("sts.amazonaws.com".into())),
                prop::collection::vec(json_leaf(), 0..4).prop_map(Value::Array),
                json_leaf(),
            ]
        ),
        (
            Just("exp"),
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
                Just(Value::from(99_999_999_999.9_f64)),
                json_leaf(),
            ]
        ),
        (Just("kubernetes.io"), json_value()),
    ];
    prop_oneof![
        6 => prop::collection::vec(claim, 0..6)
            .prop_map(|kv| serde_json::to_vec(&Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())).unwrap()),
        1 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// A JWT (or near miss) whose signature is the canary.
fn jwt_with_signature() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just(br#"{"alg":"RS256","kid":"k"}"#.to_vec()),
            prop::collection::vec(any::<u8>(), 0..24)
        ],
        claims_payload(),
        "[A-Za-z0-9_-]{8,342}",
        select(&["", "=", "==", "."][..]),
        "[ \t\n]{0,2}",
    )
        .prop_map(|(header, payload, sig, pad, space)| {
            (
                format!(
                    "{space}{}.{}{pad}.{sig}{space}",
                    b64(&header),
                    b64(&payload)
                ),
                sig,
            )
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn jwt_claims_arbitrary_strings_never_panic(token in prop_oneof![".{0,200}", "[A-Za-z0-9_=.-]{0,200}"]) {
        let _ = jwt::claims(&token);
    }

    #[test]
    fn jwt_claims_never_show_the_signature((token, sig) in jwt_with_signature()) {
        if let Some(claims) = jwt::claims(&token) {
            let shown = format!("{claims:?}");
            prop_assert!(!shown.contains(sig.as_str()), "{token} → {shown}");
            for text in claims.iss.iter().chain(claims.sub.iter()).chain(claims.aud.iter()) {
                prop_assert!(!text.chars().any(char::is_control), "{text:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// mask_key_id, KeyId, Secret, sanitize_foreign
// ---------------------------------------------------------------------------------------

fn key_id_input() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "(ASIA|AKIA|ABIA|ACCA)[A-Z0-9]{16}",
        2 => "[A-Za-z0-9]{0,64}",
        1 => ".{0,40}",
        1 => "[A-Za-z0-9]{4,30}[ \n\t.é-][A-Za-z0-9]{4,30}",
    ]
}

/// Would `out` show 9 or more of `input`'s alphanumerics in a row?
fn shows_nine_in_a_row(input: &str, out: &str) -> bool {
    runs(input, |c| c.is_alphanumeric()).iter().any(|run| {
        let chars: Vec<char> = run.chars().collect();
        chars
            .windows(9)
            .any(|w| out.contains(&w.iter().collect::<String>()))
    })
}

/// A secret access key (40 base64 characters, every class) or a session token.
fn key_material() -> impl Strategy<Value = String> {
    prop_oneof![
        ("[A-Za-z0-9+/]{37}", "[A-Z]", "[a-z]", "[0-9]")
            .prop_map(|(body, u, l, d)| format!("{body}{u}{l}{d}")),
        "[A-Za-z0-9+/]{100,400}",
    ]
}

fn foreign_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        2 => key_material(),
        2 => "[A-Za-z0-9+/=_-]{0,48}",
        2 => ".{0,8}",
        1 => "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}]{1,3}",
        1 => "[ .,:;\"{}]{1,3}",
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn mask_key_id_shows_at_most_eight_of_the_key(id in key_id_input()) {
        let masked = mask_key_id(&id);
        prop_assert!(!shows_nine_in_a_row(&id, &masked), "{id:?} → {masked:?}");
        let longest = runs(&masked, |c| c.is_alphanumeric()).iter().map(|r| r.chars().count()).max().unwrap_or(0);
        prop_assert!(longest <= 8, "{masked:?}");
        let key = KeyId::new(id.clone());
        prop_assert_eq!(format!("{key}"), masked.clone());
        prop_assert_eq!(format!("{key:?}"), masked.clone());
        prop_assert_eq!(serde_json::to_string(&key).unwrap(), Value::String(masked).to_string());
    }

    #[test]
    fn secret_never_formats_its_value(value in prop_oneof![canary(), ".{8,64}".prop_filter("not inside the marker", |v| !REDACTED.contains(v.as_str()))]) {
        let secret = Secret::new(value.clone());
        let json = serde_json::to_string(&secret).unwrap();
        let escaped = Value::String(value.clone()).to_string();
        for shown in [format!("{secret}"), format!("{secret:?}"), format!("{secret:#?}"), json] {
            prop_assert!(!shown.contains(value.as_str()) && !shown.contains(escaped.trim_matches('"')), "{shown}");
        }
        prop_assert_eq!(secret.expose(), value.as_str());
    }

    #[test]
    fn sanitize_foreign_is_one_bounded_line_without_key_material(text in foreign_text(), max in 0usize..300) {
        let out = sanitize_foreign(&text, max);
        prop_assert!(!out.chars().any(char::is_control), "{out:?}");
        prop_assert!(out.chars().count() <= max + 1, "{} chars for max {max}", out.chars().count());
        // A window that also occurs in a run which is legitimately shown proves nothing.
        let (keys, shown): (Vec<String>, Vec<String>) =
            runs(&text, is_base64ish).into_iter().partition(|r| is_key_material(r));
        for run in &keys {
            let chars: Vec<char> = run.chars().collect();
            for window in chars.windows(20) {
                let window: String = window.iter().collect();
                if shown.iter().any(|r| r.contains(&window)) {
                    continue;
                }
                prop_assert!(!out.contains(&window), "{text:?} → {out:?} shows {window:?}");
            }
        }
        for run in runs(&out, is_base64ish) {
            prop_assert!(!is_key_material(&run), "{text:?} → {out:?} shows {run:?}");
        }
    }

    #[test]
    fn sanitize_foreign_hides_registered_secrets(before in ".{0,20}", secret in canary(), after in ".{0,20}") {
        let _registered = Secret::new(secret.clone());
        let out = sanitize_foreign(&format!("{before}{secret}{after}"), 400);
        prop_assert!(!out.contains(secret.as_str()), "{out:?}");
    }
}

// Once known gaps in src/, now fixed; kept as regression tests.

#[test]
fn mask_uri_hides_the_id_before_a_trailing_slash() {
    let id = "52b19262-e7aa-4f56-b3a1-8e5a2f1c0d99";
    let shown = container::mask_uri(&format!("http://169.254.170.2/v2/credentials/{id}/"));
    assert!(!shown.contains(id), "{shown}");
}

#[test]
fn mask_uri_hides_userinfo() {
    let shown = container::mask_uri("http://user:hunter2-password@127.0.0.1/v1/credentials");
    assert!(!shown.contains("hunter2-password"), "{shown}");
}

// ---------------------------------------------------------------------------------------
// Fluent Bit YAML (`probe::fluentbit_yaml`): any text is read or refused in one pass, and the
// documented shape round-trips whatever quoting and indentation it is written with.
// ---------------------------------------------------------------------------------------

/// Fragments a hostile or careless YAML file is made of.
fn yaml_line() -> impl Strategy<Value = String> {
    let indent = select(vec!["", "  ", "    ", "      ", "\t", " "]);
    let head = select(vec![
        "- ",
        "-",
        "pipeline:",
        "outputs:",
        "env:",
        "includes:",
        "name: cloudwatch_logs",
        "key: value",
        "k: 'a''b'",
        "k: \"a\\\"b\"",
        "k: &x v",
        "k: *x",
        "k: [a, {b: c}]",
        "k: |",
        "k: >-",
        "'q: k': v",
        "\"open",
        "'open",
        "# c",
        "k: v # c",
        "---",
        "...",
        ": v",
        "k:v",
        "k: ${VAR}",
        "- - - x",
        "- k: v",
        "-k: v",
    ]);
    (indent, head, "[ -~]{0,12}").prop_map(|(i, h, tail)| format!("{i}{h}{tail}"))
}

fn yaml_value() -> impl Strategy<Value = (String, String)> {
    let plain = "[a-zA-Z0-9_/.-][a-zA-Z0-9_/.:*-]{0,19}";
    (plain, 0..3u8).prop_map(|(v, style)| {
        let written = match style {
            0 => v.clone(),
            1 => format!("'{}'", v.replace('\'', "''")),
            _ => format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")),
        };
        (v, written)
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fluent_bit_yaml_any_text_is_read_or_refused(
        lines in prop::collection::vec(yaml_line(), 0..40),
        noise in ".{0,200}",
    ) {
        let text = format!("{}\n{noise}", lines.join("\n"));
        if let Ok(doc) = credcheck::probe::fluentbit_yaml::parse(&text) {
            for (_, keys) in &doc.outputs {
                for (k, v) in keys {
                    prop_assert!(!k.is_empty() && !k.contains('\n') && !v.contains('\n'));
                }
            }
        }
    }

    #[test]
    fn fluent_bit_yaml_outputs_round_trip(
        outputs in prop::collection::vec(
            prop::collection::vec(("[a-z_]{1,12}", yaml_value()), 1..6), 0..4),
        compact in any::<bool>(),
    ) {
        let (item, key) = if compact { ("  - ", "    ") } else { ("    - ", "      ") };
        let mut text = String::from("service:\n  flush: 1\npipeline:\n  outputs:\n");
        for keys in &outputs {
            for (i, (k, (_, written))) in keys.iter().enumerate() {
                let lead = if i == 0 { item } else { key };
                text.push_str(&format!("{lead}{k}: {written}  # note\n"));
            }
        }
        let doc = credcheck::probe::fluentbit_yaml::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let read: Vec<Vec<(String, String)>> = doc.outputs.into_iter().map(|(_, k)| k).collect();
        let want: Vec<Vec<(String, String)>> = outputs
            .iter()
            .map(|keys| keys.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect())
            .collect();
        prop_assert_eq!(read, want, "{}", text);
    }
}
