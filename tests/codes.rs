//! docs/codes.md against the source: every warning, error and note code that `src/` can
//! report has a row in docs/codes.md with a hint, and every code that docs/codes.md names is
//! still in the source. Reads the files only: no binary, no network, std only.
//!
//! A code, in `src/**/*.rs` (every file, found by walking the tree; comments and
//! `#[cfg(test)]` items skipped), is a string literal shaped like one (`env-shadows-container`:
//! lower-case words joined by `-`), or a `const NAME: &str` holding one, that
//! 1. is passed where a parameter named `code` (or `…_code`) stands: `Warning::new`,
//!    `Error::usage` and the other `Error` constructors, and every helper function or closure in
//!    `src/` that takes a `code` (`usage`, `refused`, `denied_error`, `failed`, `add`, …), found by
//!    reading their signatures, so a new helper needs no change here;
//! 2. initialises a field named `code` (`Note { code: CACHED, .. }`, `"code": "…"` in `json!`);
//! 3. is bound by a `let` whose pattern names a `code` (`let code = if … { "a" } else { "b" }`,
//!    `let (code, hint) = match … { … }`).
//!
//! In each place every code-shaped literal of the expression counts, so a code chosen by
//! `if`/`match` is found whichever branch holds it.
//!
//! docs/codes.md: every table whose header starts with `code` and has a `hint` column; the
//! first cell names one or more codes in backticks, and the hint cell must not be empty.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn every_code_in_the_source_is_documented_with_a_hint_and_no_other() {
    let found = codes_in_tree(&Path::new(MANIFEST_DIR).join("src"));
    let doc_path = Path::new(MANIFEST_DIR).join("docs/codes.md");
    let doc = std::fs::read_to_string(&doc_path)
        .unwrap_or_else(|e| panic!("{}: {e}", doc_path.display()));
    let documented = documented_codes(&doc);
    let mut problems = Vec::new();
    for (code, file) in &found {
        match documented.get(code) {
            None => problems.push(format!(
                "`{code}` ({file}) is not in docs/codes.md: add a row with its cause and hint"
            )),
            Some(hint) if hint.is_empty() => problems.push(format!(
                "`{code}` ({file}) has no hint in docs/codes.md: fill its hint cell"
            )),
            Some(_) => {}
        }
    }
    for code in documented.keys() {
        if !found.contains_key(code) {
            problems.push(format!(
                "docs/codes.md names `{code}`, which src/ no longer reports: remove it"
            ));
        }
    }
    println!(
        "codes: {} in src/, {} in docs/codes.md",
        found.len(),
        documented.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The extractor on the real tree: one code for each way a code is written.
#[test]
fn the_extractor_finds_each_kind_of_code_in_src() {
    let found = codes_in_tree(&Path::new(MANIFEST_DIR).join("src"));
    for code in [
        "env-shadows-container",         // Warning::new("…")
        "no-command",                    // Error::usage("…")
        "container-rejected",            // a closure: refused("…", hint)
        "invalid-can",                   // a helper fn: usage("…", message, hint)
        "action-denied",                 // denied_error("…", p, tail)
        "sts-unreachable",               // Error::unreachable(if … { "…" } else { "…" }, …)
        "logs-unreachable",              // let code = if … { "…" } else { "…" }
        "pid-root-denied",               // let code = match leaf { "root" => "…", … }
        "static-temporary-keys-expired", // a const, through a let
        "sdk-rejects-endpoint",          // a const, as the argument
        "logs-state-read-only",          // a const, in a let tuple
        "logs-verdict-cached",           // a const, in a field: Note { code: CACHED, .. }
        "botocore-keys-before-process",  // a literal field: Note { code: "…", .. }
        "go-full-uri-first",             // a closure: add("…", message)
        "render-failed",                 // json!({"code": "…"})
    ] {
        assert!(found.contains_key(code), "the extractor misses `{code}`");
    }
    for not_a_code in [
        "us-east-1",
        "container-role",
        "not-needed",
        "credcheck-probe",
    ] {
        assert!(
            !found.contains_key(not_a_code),
            "the extractor takes `{not_a_code}` for a code"
        );
    }
}

#[test]
fn the_extractor_follows_each_rule() {
    let src = r##"
        const UNUSED: &str = "not-used-as-code";
        const CHOSEN: &str = "g-const-in-let";
        pub const THROTTLED: &'static str = "c-const";
        // Warning::new("in-a-comment", "m", "h")
        /* Error::usage("in-a-block-comment", "m", "h") */
        impl Warning { pub fn new(code: &'static str, m: impl Into<String>) -> Self { todo!() } }
        impl Error { pub fn config(code: &'static str, m: &str) -> Self { Self::new(code) } }
        fn helper<T: Into<Vec<u8>>>(x: HashMap<T, u8>, err_code: &'static str) {}
        fn other(code: &str) {}
        fn f() {
            Warning::new("a-literal", "a message with-dashes");
            crate::error::Error::config("b-path", "m");
            Note { code: THROTTLED, message: "not-this".into() };
            helper(1, if x { "d-if" } else { "e-else" });
            let refused = |code, hint: String| Error::problem(code, "m", hint);
            refused("f-closure", "not-the-hint".into());
            let (code, hint) = match x { 'x' => (CHOSEN, "a hint"), _ => ("h-tuple", "h") };
            let region = "us-east-1";
            if let Some(code) = x.get("code") { other("j-param"); let y = "not-if-let"; }
            Error::config(r#"k-raw"#, "m");
            json!({"code": "l-json", "kind": "m-kind"});
            Foo::new("not-a-code");
            let r#type = 'a';
        }
        #[cfg(test)]
        mod tests { fn t() { Warning::new("in-a-test", "m"); } }
    "##;
    let found: BTreeSet<String> = codes_in_files(&[("x.rs".into(), src.into())])
        .into_keys()
        .collect();
    let want = [
        "a-literal",
        "b-path",
        "c-const",
        "d-if",
        "e-else",
        "f-closure",
        "g-const-in-let",
        "h-tuple",
        "j-param",
        "k-raw",
        "l-json",
    ];
    assert_eq!(found, want.iter().map(|s| s.to_string()).collect());
}

#[test]
fn the_doc_tables_are_read() {
    let md = "# Codes\n\n| code | exit | cause | hint |\n|---|---|---|---|\n\
              | `a-one`, `a-two` (`processes`) | 1 | why | do this |\n\
              | `b-empty` | 2 | why |  |\n\n\
              | flag | meaning |\n|---|---|\n| `--not-a-code` | x |\n";
    let docs = documented_codes(md);
    assert_eq!(docs["a-one"], "do this");
    assert_eq!(docs["a-two"], "do this");
    assert_eq!(docs["b-empty"], "");
    assert_eq!(docs.len(), 3);
}

/// Every code in the `.rs` files under `dir`, with the first file that reports it.
fn codes_in_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = Vec::new();
    collect_rs(dir, &mut files);
    assert!(!files.is_empty(), "no .rs file under {}", dir.display());
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            let name = p.strip_prefix(MANIFEST_DIR).unwrap_or(p);
            (name.display().to_string(), text)
        })
        .collect();
    codes_in_files(&sources)
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries.map(|e| e.expect("dir entry").path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(file name, text)` → code → the first file naming it. Two passes over all files: the
/// consts and the signatures with a `code` parameter first, since a call may precede (or sit
/// in another file than) the definition it calls.
fn codes_in_files(sources: &[(String, String)]) -> BTreeMap<String, String> {
    let files: Vec<(&str, Vec<Tok>)> = sources
        .iter()
        .map(|(name, text)| (name.as_str(), without_test_items(tokens(text))))
        .collect();
    let mut consts = BTreeMap::new();
    let mut takes_code: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (_, toks) in &files {
        definitions(toks, &mut consts, &mut takes_code);
    }
    let mut found = BTreeMap::new();
    for (name, toks) in &files {
        for code in uses(toks, &consts, &takes_code) {
            found.entry(code).or_insert_with(|| name.to_string());
        }
    }
    found
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(&'static str),
}

use Tok::{Ident, Punct, Str};

const PUNCT2: [&str; 7] = ["::", "=>", "==", "!=", "<=", ">=", "->"];
const PUNCT1: &str = "{}()[]<>,;:=|.#!&*+-/%^?@$~";

/// Rust source as identifiers, string literals (their contents) and punctuation; comments,
/// numbers, lifetimes and char literals are dropped.
fn tokens(src: &str) -> Vec<Tok> {
    let s: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied().unwrap_or(' ');
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == '/' {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == '*' {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            let start = i + 1;
            i += 1;
            while i < s.len() && s[i] != '"' {
                i += if s[i] == '\\' { 2 } else { 1 };
            }
            out.push(Str(s[start..i.min(s.len())].iter().collect()));
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F}') or a lifetime ('a, 'static).
            if next == '\\' {
                i += 2;
                while i < s.len() && s[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if s.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            // Raw strings: r"…", r#"…"#, br"…".
            let hashes = s[i..].iter().take_while(|c| **c == '#').count();
            if (word == "r" || word == "br") && s.get(i + hashes) == Some(&'"') {
                let body = i + hashes + 1;
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let rest: String = s[body..].iter().collect();
                let len = rest.find(&close).unwrap_or(rest.len());
                out.push(Str(rest[..len].to_string()));
                i = body + rest[..len].chars().count() + close.chars().count();
            } else {
                out.push(Ident(word));
            }
        } else if c.is_ascii_digit() {
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_' || s[i] == '.') {
                // `0..=5`: a range, not a decimal point.
                if s[i] == '.' && s.get(i + 1) == Some(&'.') {
                    break;
                }
                i += 1;
            }
        } else if let Some(p) = PUNCT2.iter().find(|p| s[i..].starts_with(&chars(p))) {
            out.push(Punct(p));
            i += 2;
        } else {
            let at = PUNCT1.find(c);
            // Every char of PUNCT1 is one byte, so `at` indexes a one-char &'static str.
            out.push(Punct(at.map_or("?", |at| &PUNCT1[at..at + 1])));
            i += 1;
        }
    }
    out
}

fn chars(s: &str) -> Vec<char> {
    s.chars().collect()
}

/// The tokens without `#[cfg(test)]` items (unit-test modules and helpers), whose literals
/// are the tests' own.
fn without_test_items(toks: Vec<Tok>) -> Vec<Tok> {
    let attr = [
        Punct("#"),
        Punct("["),
        Ident("cfg".into()),
        Punct("("),
        Ident("test".into()),
        Punct(")"),
        Punct("]"),
    ];
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i..].starts_with(&attr) {
            i += attr.len();
            while i < toks.len() && toks[i] != Punct("{") && toks[i] != Punct(";") {
                i += 1;
            }
            if toks.get(i) == Some(&Punct("{")) {
                i = matching(&toks, i);
            }
            i += 1;
        } else {
            out.push(toks[i].clone());
            i += 1;
        }
    }
    out
}

/// The index of the bracket closing the one at `open`.
fn matching(toks: &[Tok], open: usize) -> usize {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t {
            Punct("(" | "[" | "{") => depth += 1,
            Punct(")" | "]" | "}") => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    toks.len() - 1
}

/// The tokens from `start` up to (not including) the first `stops` at depth 0, or the bracket
/// that closes an enclosing one.
fn expression<'a>(toks: &'a [Tok], start: usize, stops: &[&str]) -> &'a [Tok] {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate().skip(start) {
        match t {
            Punct("(" | "[" | "{") => depth += 1,
            Punct(")" | "]" | "}") if depth == 0 => return &toks[start..i],
            Punct(")" | "]" | "}") => depth -= 1,
            Punct(p) if depth == 0 && stops.contains(p) => return &toks[start..i],
            _ => {}
        }
    }
    &toks[start..]
}

/// The comma-separated items between the bracket at `open` and its match.
fn items(toks: &[Tok], open: usize) -> Vec<&[Tok]> {
    let close = matching(toks, open);
    let mut out = Vec::new();
    let mut i = open + 1;
    while i < close {
        let item = expression(&toks[..close], i, &[","]);
        out.push(item);
        i += item.len() + 1;
    }
    out
}

/// Words that may stand before `(` without calling anything.
const KEYWORDS: [&str; 8] = ["let", "if", "match", "while", "for", "in", "return", "fn"];

fn is_code_shaped(s: &str) -> bool {
    let mut words = s.split('-');
    let first_is_word = words
        .next()
        .is_some_and(|w| w.starts_with(|c: char| c.is_ascii_lowercase()));
    s.contains('-')
        && first_is_word
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn is_code_name(name: &str) -> bool {
    name == "code" || name.ends_with("_code")
}

/// A signature's parameters: its items split at commas outside any bracket, `<>` included.
fn params(toks: &[Tok], open: usize) -> Vec<&[Tok]> {
    let close = matching(toks, open);
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, open + 1);
    for (i, t) in toks.iter().enumerate().take(close).skip(open + 1) {
        match t {
            Punct("(" | "[" | "{" | "<") => depth += 1,
            Punct(")" | "]" | "}" | ">") => depth -= 1,
            Punct(",") if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < close {
        out.push(&toks[start..close]);
    }
    out
}

/// The parameter names of a signature's items, `self` left out (it is not an argument).
fn param_names(params: &[&[Tok]]) -> Vec<String> {
    params
        .iter()
        .filter_map(|p| {
            let head = expression(p, 0, &[":"]);
            match head.iter().rev().find_map(|t| match t {
                Ident(n) if n != "mut" => Some(n.clone()),
                _ => None,
            }) {
                Some(n) if n == "self" => None,
                Some(n) => Some(n),
                None => Some(String::new()),
            }
        })
        .collect()
}

/// Consts holding a code-shaped string, and what takes a `code`: `Type::name` for an
/// associated function, `.name` for a method, `name` for a free function or a closure bound
/// by `let`; each with the argument positions that are codes.
fn definitions(
    toks: &[Tok],
    consts: &mut BTreeMap<String, String>,
    takes_code: &mut BTreeMap<String, BTreeSet<usize>>,
) {
    let impls = impl_blocks(toks);
    for i in 0..toks.len() {
        match (&toks[i], toks.get(i + 1)) {
            (Ident(kw), Some(Ident(name))) if kw == "const" => {
                let init = expression(toks, i, &[";"]);
                if let Some(eq) = init.iter().position(|t| *t == Punct("=")) {
                    if let [Str(value)] = &init[eq + 1..] {
                        if is_code_shaped(value) {
                            consts.insert(name.clone(), value.clone());
                        }
                    }
                }
            }
            (Ident(kw), Some(Ident(name))) if kw == "fn" => {
                let Some(open) = (i + 2..toks.len()).find(|&j| toks[j] == Punct("(")) else {
                    continue;
                };
                let params = params(toks, open);
                let has_self = params
                    .first()
                    .is_some_and(|p| p.contains(&Ident("self".into())));
                let names = param_names(&params);
                let at: BTreeSet<usize> = (0..names.len())
                    .filter(|&k| is_code_name(&names[k]))
                    .collect();
                if at.is_empty() {
                    continue;
                }
                let owner = impls.iter().find(|(s, e, _)| (*s..*e).contains(&i));
                let keys = match (owner, has_self) {
                    (Some((_, _, ty)), true) => vec![format!("{ty}::{name}"), format!(".{name}")],
                    (Some((_, _, ty)), false) => vec![format!("{ty}::{name}")],
                    (None, _) => vec![name.clone()],
                };
                for key in keys {
                    takes_code.entry(key).or_default().extend(&at);
                }
            }
            (Ident(kw), _) if kw == "let" => {
                // let [mut] name = [move] |params| …
                let mut j = i + 1;
                if toks.get(j) == Some(&Ident("mut".into())) {
                    j += 1;
                }
                let (Some(Ident(name)), Some(Punct("="))) = (toks.get(j), toks.get(j + 1)) else {
                    continue;
                };
                let mut bar = j + 2;
                if toks.get(bar) == Some(&Ident("move".into())) {
                    bar += 1;
                }
                if toks.get(bar) != Some(&Punct("|")) {
                    continue;
                }
                let Some(end) = (bar + 1..toks.len()).find(|&k| toks[k] == Punct("|")) else {
                    continue;
                };
                let params: Vec<&[Tok]> = toks[bar + 1..end]
                    .split(|t| *t == Punct(","))
                    .filter(|p| !p.is_empty())
                    .collect();
                let names = param_names(&params);
                let at: BTreeSet<usize> = (0..names.len())
                    .filter(|&k| is_code_name(&names[k]))
                    .collect();
                if !at.is_empty() {
                    takes_code.entry(name.clone()).or_default().extend(at);
                }
            }
            _ => {}
        }
    }
}

/// `(start, end, type)` for each `impl … Type { … }` block.
fn impl_blocks(toks: &[Tok]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    for i in 0..toks.len() {
        // `impl Trait` in a type (`message: impl Into<String>`, `-> impl Iterator`) is no block.
        let in_type = i > 0 && matches!(toks[i - 1], Punct(":" | "->" | "&" | "(" | "," | "<"));
        if toks[i] != Ident("impl".into()) || in_type {
            continue;
        }
        let Some(open) = (i..toks.len()).find(|&j| toks[j] == Punct("{")) else {
            continue;
        };
        let head = &toks[i + 1..open];
        // `impl<T> Trait for Type`: the type follows `for`; else it is the first name after
        // the generics.
        let after = match head.iter().position(|t| *t == Ident("for".into())) {
            Some(f) => &head[f + 1..],
            None => {
                let generics_end = match head.first() {
                    Some(Punct("<")) => head.iter().position(|t| *t == Punct(">")).unwrap_or(0),
                    _ => 0,
                };
                &head[generics_end..]
            }
        };
        if let Some(Ident(ty)) = after.iter().find(|t| matches!(t, Ident(_))) {
            out.push((open, matching(toks, open), ty.clone()));
        }
    }
    out
}

/// Every code of one file, by the three rules of the module doc.
fn uses(
    toks: &[Tok],
    consts: &BTreeMap<String, String>,
    takes_code: &BTreeMap<String, BTreeSet<usize>>,
) -> BTreeSet<String> {
    let impls = impl_blocks(toks);
    let mut found = BTreeSet::new();
    let mut harvest = |expr: &[Tok]| {
        for t in expr {
            match t {
                Str(s) if is_code_shaped(s) => {
                    found.insert(s.clone());
                }
                Ident(name) => {
                    if let Some(value) = consts.get(name) {
                        found.insert(value.clone());
                    }
                }
                _ => {}
            }
        }
    };
    for i in 0..toks.len() {
        let prev = i.checked_sub(1).map(|p| &toks[p]);
        match (&toks[i], toks.get(i + 1)) {
            // 1. A call: the arguments where a `code` parameter stands.
            (Ident(name), Some(Punct("(")))
                if prev != Some(&Ident("fn".into())) && !KEYWORDS.contains(&name.as_str()) =>
            {
                let key = match prev {
                    Some(Punct(".")) => format!(".{name}"),
                    Some(Punct("::")) => match &toks[i - 2] {
                        Ident(q) if q == "Self" => {
                            match impls.iter().find(|(s, e, _)| (*s..*e).contains(&i)) {
                                Some((_, _, ty)) => format!("{ty}::{name}"),
                                None => continue,
                            }
                        }
                        Ident(q) if q.starts_with(|c: char| c.is_ascii_uppercase()) => {
                            format!("{q}::{name}")
                        }
                        _ => name.clone(),
                    },
                    _ => name.clone(),
                };
                let Some(at) = takes_code.get(&key) else {
                    continue;
                };
                let args = items(toks, i + 1);
                for &k in at {
                    if let Some(arg) = args.get(k) {
                        harvest(arg);
                    }
                }
            }
            // 2. A field: `code: …` (not `code::…`), `"code": …`.
            (Ident(field) | Str(field), Some(Punct(":"))) if field == "code" => {
                harvest(expression(toks, i + 2, &[",", ";"]));
            }
            // 3. `let PATTERN = …;` where PATTERN binds a code (not `if let`: its block follows).
            (Ident(kw), _)
                if kw == "let" && !matches!(prev, Some(Ident(w)) if w == "if" || w == "while") =>
            {
                let pattern = expression(toks, i + 1, &["=", ";"]);
                let names_code = pattern
                    .iter()
                    .any(|t| matches!(t, Ident(n) if is_code_name(n)));
                let eq = i + 1 + pattern.len();
                if names_code && toks.get(eq) == Some(&Punct("=")) {
                    harvest(expression(toks, eq + 1, &[";"]));
                }
            }
            _ => {}
        }
    }
    found
}

/// docs/codes.md's tables: code → its hint (trimmed; empty when the cell is).
fn documented_codes(md: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut hint_col: Option<usize> = None;
    let mut in_table = false;
    for line in md.lines() {
        let line = line.trim();
        if !line.starts_with('|') {
            in_table = false;
            hint_col = None;
            continue;
        }
        let row = line.replace("\\|", "/"); // an escaped `\|` inside a cell
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        if !in_table {
            in_table = true;
            hint_col = match cells.first() {
                Some(&"code") => cells.iter().position(|c| *c == "hint"),
                _ => None,
            };
            continue;
        }
        let Some(col) = hint_col else { continue };
        if cells.iter().all(|c| c.chars().all(|ch| "-: ".contains(ch))) {
            continue; // the |---|---| line
        }
        let hint = cells.get(col).copied().unwrap_or("");
        for (k, quoted) in cells[0].split('`').enumerate() {
            if k % 2 == 1 && is_code_shaped(quoted) {
                out.insert(quoted.to_string(), hint.to_string());
            }
        }
    }
    out
}
