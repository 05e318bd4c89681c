//! The layers of `src/`, kept (issue 24; the map is docs/architecture.md). Reads every
//! `use crate::…`, `crate::…`, `super::…` and (in main.rs) `credcheck::…` path outside the
//! `#[cfg(test)]` modules, maps each to the top-level module it names, and fails
//! - on a module that no layer holds (a new module is placed on purpose),
//! - on an import that runs up a layer (the same layer is fine),
//! - on any cycle between modules, naming it (`a → b → a`).
//!
//! `CREDCHECK_LAYERS_SRC=DIR` checks another tree (how the closing note of issue 24 shows this
//! test failing on the tree before it). No binary, no network.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top to bottom; a module may import only from its own layer or the ones below.
const LAYERS: [(&str, &[&str]); 5] = [
    ("main/lib", &["main", "lib", "cli", "watchdog", "finish"]),
    ("modes", &["render", "health", "wrap"]),
    ("gathering", &["run", "report"]),
    (
        "domains",
        &[
            "chain",
            "probe",
            "sts",
            "ecs_metadata",
            "process",
            "processes",
            "sdk",
            "notes",
            "warning",
        ],
    ),
    (
        "ground",
        &[
            "settings", "creds", "env", "http", "tls", "file", "secret", "output", "error",
            "duration", "region", "jwt", "log",
        ],
    ),
];

type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn modules_import_only_down_the_layers_and_never_in_a_cycle() {
    let root = std::env::var_os("CREDCHECK_LAYERS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let graph = graph(&root);
    let mut problems = unplaced(&graph);
    problems.extend(upward(&graph));
    problems.extend(
        cycles(&graph)
            .into_iter()
            .map(|c| match c[0].ends_with(':') {
                true => format!("cycle: {} {}", c[0], c[1..].join(", ")),
                false => format!("cycle: {}", c.join(" → ")),
            }),
    );
    assert!(
        problems.is_empty(),
        "{} layer problem(s) in {}:\n{}",
        problems.len(),
        root.display(),
        problems.join("\n")
    );
    let edges: usize = graph.values().map(BTreeMap::len).sum();
    eprintln!(
        "layers: {} modules, {edges} imports between them, all downward, no cycle",
        graph.len()
    );
}

#[test]
fn the_checker_finds_a_cycle_and_an_upward_import() {
    let mut g = Graph::new();
    let mut edge = |a: &str, b: &str| {
        g.entry(a.into())
            .or_default()
            .insert(b.into(), format!("src/{a}.rs"));
        g.entry(b.into()).or_default();
    };
    edge("cli", "probe");
    edge("probe", "settings");
    edge("settings", "cli");
    edge("env", "run");
    assert_eq!(cycles(&g), [vec!["cli", "probe", "settings", "cli"]]);
    let up = upward(&g);
    assert!(
        up.iter()
            .any(|p| p.contains("settings (ground) imports cli (main/lib)")),
        "{up:?}"
    );
    assert!(
        up.iter()
            .any(|p| p.contains("env (ground) imports run (gathering)")),
        "{up:?}"
    );
}

#[test]
fn paths_are_read_from_every_form_of_use() {
    let text = "use crate::a::{b, c::{d, e}};\npub use crate::f;\nuse super::g::h;\nfn x() { crate::i::j(); }\n// use crate::comment;\n#[cfg(test)]\nmod tests { use crate::k; }\n";
    let found: Vec<String> = referenced(text, &["run".into(), "inner".into()])
        .into_iter()
        .collect();
    assert_eq!(found, ["a", "f", "i", "run"]);
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&module))
}

/// module → (module it imports → the first file that does). A name at the crate root that is
/// no module (`crate::main_entry`) is `lib`'s; the root files name modules bare too
/// (`run::run` in lib.rs).
fn graph(root: &Path) -> Graph {
    let files = rust_files(root);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| f.strip_prefix(root).unwrap().iter().next().unwrap())
        .map(|c| {
            Path::new(c)
                .with_extension("")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let mut graph = Graph::new();
    for file in files {
        let rel = file.strip_prefix(root).unwrap().with_extension("");
        let mut path: Vec<String> = rel
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect();
        if path.last().is_some_and(|l| l == "mod") {
            path.pop();
        }
        if path.last().is_some_and(|l| l == "tests") {
            continue; // a `tests.rs` holds a `#[cfg(test)]` module's body
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let mut names = referenced(&text, &path);
        if path.len() == 1 && (path[0] == "lib" || path[0] == "main") {
            names.extend(bare(&text, &modules));
        }
        let from = path[0].clone();
        let entry = graph.entry(from.clone()).or_default();
        for name in names {
            let to = match modules.contains(&name) {
                true => name,
                false => "lib".to_string(),
            };
            if to != from {
                entry
                    .entry(to)
                    .or_insert_with(|| format!("src/{}.rs", rel.display()));
            }
        }
    }
    graph
}

/// `module::` written without `crate::`, as the crate root writes its own modules.
fn bare(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let words = code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'));
    words
        .filter_map(|w| w.split_once("::").map(|(m, _)| m.to_string()))
        .filter(|m| modules.contains(m))
        .collect()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

/// The top-level modules a file's code names; `module` is the file's module path.
fn referenced(text: &str, module: &[String]) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String = code
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `credcheck::` below, or part of another name
        }
        out.extend(first_segment(&code[i + "crate::".len()..]));
    }
    for (i, _) in code.match_indices("credcheck::") {
        out.extend(first_segment(&code[i + "credcheck::".len()..]));
    }
    for (i, _) in code.match_indices("super::") {
        // `super::` from a file `a/b.rs` (module a::b) names module `a`'s items.
        let mut rest = &code[i..];
        let mut up = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            up += 1;
            rest = r;
        }
        let base = module.len().saturating_sub(up);
        match base {
            0 => out.extend(first_segment(rest)),
            _ => {
                out.insert(module[0].clone());
            }
        }
    }
    out
}

/// `a::{b, c}` → `a`; `{a, b::c}` (a grouped `use crate::{…}`) → `a`, `b`.
fn first_segment(rest: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut names = Vec::new();
        let mut start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => start = true,
                _ if start && !c.is_whitespace() => {
                    names.push(ident(&group[i..]));
                    start = false;
                }
                _ => {}
            }
        }
        return names.into_iter().filter(|n| !n.is_empty()).collect();
    }
    let name = ident(rest);
    match name.is_empty() {
        true => Vec::new(),
        false => vec![name],
    }
}

fn unplaced(graph: &Graph) -> Vec<String> {
    let mut all: BTreeSet<&String> = graph.keys().collect();
    all.extend(graph.values().flat_map(|e| e.keys()));
    all.into_iter()
        .filter(|m| layer_of(m).is_none())
        .map(|m| {
            format!("module {m} is in no layer: add it to LAYERS (and to docs/architecture.md)")
        })
        .collect()
}

fn upward(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for (from, edges) in graph {
        for (to, file) in edges {
            if let (Some(a), Some(b)) = (layer_of(from), layer_of(to)) {
                if b < a {
                    out.push(format!(
                        "up a layer: {from} ({}) imports {to} ({}), in {file}",
                        LAYERS[a].0, LAYERS[b].0
                    ));
                }
            }
        }
    }
    out
}

/// The cycles of each strongly connected component of two or more modules: the shortest one
/// back to each member (found breadth-first), each named once, then the component itself.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut seen = BTreeSet::new();
    for start in graph.keys() {
        if seen.contains(start) {
            continue;
        }
        let component: Vec<String> = graph
            .keys()
            .filter(|m| reaches(graph, start, m) && reaches(graph, m, start))
            .cloned()
            .collect();
        seen.extend(component.iter().cloned());
        if component.len() < 2 {
            continue;
        }
        let mut named: Vec<BTreeSet<String>> = Vec::new();
        for member in &component {
            let cycle = shortest_cycle(graph, member);
            let key: BTreeSet<String> = cycle.iter().cloned().collect();
            if !named.contains(&key) {
                named.push(key);
                out.push(cycle);
            }
        }
        if named.len() > 1 {
            let mut all = component.clone();
            all.insert(0, format!("{} modules reach each other:", component.len()));
            out.push(all);
        }
    }
    out
}

fn reaches(graph: &Graph, from: &str, to: &str) -> bool {
    let mut stack = vec![from.to_string()];
    let mut visited = BTreeSet::new();
    while let Some(m) = stack.pop() {
        if m == to {
            return true;
        }
        if visited.insert(m.clone()) {
            stack.extend(graph.get(&m).into_iter().flat_map(|e| e.keys().cloned()));
        }
    }
    false
}

fn shortest_cycle(graph: &Graph, start: &str) -> Vec<String> {
    let mut parent: BTreeMap<String, String> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_string()]);
    while let Some(m) = queue.pop_front() {
        for next in graph.get(&m).into_iter().flat_map(|e| e.keys()) {
            if next == start {
                let mut path = vec![m.clone()];
                while let Some(p) = parent.get(path.last().unwrap()) {
                    path.push(p.clone());
                }
                path.reverse();
                path.push(start.to_string());
                return path;
            }
            if !parent.contains_key(next) && next != start {
                parent.insert(next.clone(), m.clone());
                queue.push_back(next.clone());
            }
        }
    }
    vec![start.to_string()]
}
