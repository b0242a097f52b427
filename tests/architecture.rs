//! The map in docs/architecture.md, checked: which rooms may name which crates, and that the
//! modules under `src/` import each other without a circle. Reads the source as text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are the module `a::b`; `lib.rs` is the root, `""`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without its unit tests (always last in a file here) and comment lines.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap();
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a `use` names, braces expanded: `a::{b, c::{d}}` → `a::b`, `a::c::d`.
fn expand(tree: &str, prefix: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = format!("{prefix}{}", &tree[..open]);
        let inner = &tree[open + 1..tree.rfind('}').unwrap()];
        let (mut depth, mut start) = (0, 0);
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&inner[start..i], &head, out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&inner[start..], &head, out);
    } else if !tree.is_empty() {
        out.push(format!("{prefix}{tree}"));
    }
}

/// The modules of this crate that `module`'s code refers to.
fn references(module: &str, code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let uses = Regex::new(r"(?m)^\s*(?:pub(?:\([a-z]+\))?\s+)?use\s+([^;]+);").unwrap();
    let inline = Regex::new(r"\b(?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+").unwrap();
    let mut paths = Vec::new();
    for m in uses.captures_iter(code) {
        expand(&m[1].replace(char::is_whitespace, ""), "", &mut paths);
    }
    paths.extend(inline.find_iter(code).map(|m| m.as_str().to_owned()));
    let own: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    let mut found = BTreeSet::new();
    for path in paths {
        let segments: Vec<&str> = path.split("::").collect();
        let mut absolute: Vec<&str> = match segments[0] {
            "crate" => Vec::new(),
            "super" => own.clone(),
            "self" => own.clone(),
            // A child module named without a prefix, or an external crate.
            first if modules.contains(&child(module, first)) => own.clone(),
            _ => continue,
        };
        let mut rest = &segments[usize::from(matches!(segments[0], "crate" | "self"))..];
        while rest.first() == Some(&"super") {
            absolute.pop();
            rest = &rest[1..];
        }
        absolute.extend(rest.iter().copied());
        // The longest prefix that is a module of this crate.
        while !absolute.is_empty() && !modules.contains(&absolute.join("::")) {
            absolute.pop();
        }
        found.insert(absolute.join("::"));
    }
    found
}

fn child(module: &str, name: &str) -> String {
    if module.is_empty() {
        name.to_owned()
    } else {
        format!("{module}::{name}")
    }
}

fn related(a: &str, b: &str) -> bool {
    let below = |x: &str, y: &str| y.is_empty() || x == y || x.starts_with(&format!("{y}::"));
    below(a, b) || below(b, a)
}

fn graph() -> BTreeMap<String, (BTreeSet<String>, String)> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.retain(|f| !f.ends_with("main.rs") && !f.ends_with("tests.rs"));
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    files
        .iter()
        .map(|f| {
            let module = module_of(&src, f);
            let code = code(f);
            // A module may use its own parent (its facade) and its own children: those are
            // one room. Arrows between rooms are what may not go round.
            let refs = references(&module, &code, &modules)
                .into_iter()
                .filter(|to| !related(&module, to))
                .collect();
            (module, (refs, code))
        })
        .collect()
}

#[test]
fn modules_import_each_other_without_a_circle() {
    let graph = graph();
    assert!(
        graph.contains_key("http::manage::providers"),
        "{:?}",
        graph.keys()
    );
    // Depth-first search; a module met again while still on the path closes a circle.
    fn visit<'a>(
        at: &'a str,
        graph: &'a BTreeMap<String, (BTreeSet<String>, String)>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        circles: &mut Vec<String>,
    ) {
        if let Some(i) = path.iter().position(|m| *m == at) {
            circles.push(format!("{} → {at}", path[i..].join(" → ")));
            return;
        }
        if !done.insert(at) {
            return;
        }
        path.push(at);
        // An arrow into a room is an arrow into whichever of its files the code names; the
        // room's own files are checked as nodes of their own.
        for to in graph.get(at).map(|(refs, _)| refs).into_iter().flatten() {
            visit(to, graph, path, done, circles);
        }
        path.pop();
    }
    let mut circles = Vec::new();
    for module in graph.keys() {
        visit(
            module,
            &graph,
            &mut Vec::new(),
            &mut BTreeSet::new(),
            &mut circles,
        );
    }
    circles.sort();
    circles.dedup();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn each_room_names_only_what_the_map_allows() {
    let graph = graph();
    let rules: &[(&str, &[&str])] = &[
        // The domain is plain Rust: no web framework, no storage engine, no HTTP client.
        (
            "domain",
            &[
                "actix_web",
                "sled",
                "reqwest",
                "hyper",
                "crate::store",
                "crate::http",
            ],
        ),
        // HTTP renders and routes; it never names the engine behind the store.
        ("http", &["sled", "postcard", "SledStore"]),
        // The registry is below HTTP and above the store traits.
        ("registry", &["actix_web", "sled", "reqwest", "crate::http"]),
        // The store builds no HTTP.
        (
            "store",
            &[
                "actix_web",
                "crate::http",
                "crate::registry",
                "crate::gateway",
            ],
        ),
        // The gateway core returns a byte stream and knows nothing of actix or the engine.
        (
            "gateway",
            &["actix_web", "sled", "crate::http", "crate::registry"],
        ),
        // The metrics count what others tell them: no web framework, no engine, no HTTP
        // client, and none of the rooms that feed them but through their traits.
        (
            "metrics",
            &[
                "actix_web",
                "sled",
                "reqwest",
                "crate::http",
                "crate::registry",
            ],
        ),
        // Inside the gateway, the stages that decide never call out: the plan, the failure
        // policy and the error shapes name no HTTP client and no stage that does.
        (
            "gateway::plan",
            &[
                "reqwest",
                "hyper",
                "crate::gateway::attempt",
                "crate::gateway::client",
            ],
        ),
        (
            "gateway::policy",
            &[
                "reqwest",
                "hyper",
                "crate::gateway::attempt",
                "crate::gateway::client",
                "crate::gateway::call",
                "crate::gateway::table",
            ],
        ),
        (
            "gateway::error",
            &["reqwest", "hyper", "crate::gateway::table"],
        ),
        // Translation between the formats is pure: bytes in, bytes out.
        (
            "gateway::translate",
            &[
                "reqwest",
                "hyper",
                "crate::gateway::attempt",
                "crate::gateway::client",
                "crate::gateway::table",
                "crate::gateway::plan",
            ],
        ),
    ];
    let mut broken = Vec::new();
    for (module, (_, code)) in &graph {
        for (room, banned) in rules {
            if module == room || module.starts_with(&format!("{room}::")) {
                for word in *banned {
                    if Regex::new(&format!(r"\b{}\b", regex::escape(word)))
                        .unwrap()
                        .is_match(code)
                    {
                        broken.push(format!("{module} names {word}"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

/// The data plane's stages, as docs/architecture.md names them: each is a folder (or file) a
/// newcomer finds under `src/gateway/`.
#[test]
fn the_gateway_has_a_room_per_stage_of_a_call() {
    let graph = graph();
    for stage in [
        "gateway::plan",
        "gateway::plan::body",
        "gateway::plan::resolve",
        "gateway::call",
        "gateway::attempt",
        "gateway::attempt::request",
        "gateway::attempt::limiter",
        "gateway::attempt::commit",
        "gateway::attempt::stream",
        "gateway::client",
        "gateway::client::profile",
        "gateway::client::outbound",
        "gateway::policy",
        "gateway::policy::breaker",
        "gateway::policy::cooldown",
        "gateway::policy::clock",
        "gateway::state",
        "gateway::table",
        "gateway::table::route",
        "gateway::table::calling",
        "gateway::error",
        "gateway::error::wire",
        "gateway::translate",
    ] {
        assert!(graph.contains_key(stage), "no module {stage}");
    }
    let map = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/architecture.md"))
        .unwrap();
    for room in [
        "plan/",
        "call.rs",
        "attempt/",
        "client/",
        "policy/",
        "state.rs",
        "table/",
        "error/",
        "translate/",
    ] {
        assert!(
            map.contains(room),
            "docs/architecture.md does not name gateway/{room}"
        );
    }
}

/// Which gateway stages a stage may not reach, however it names them (`super::`, `crate::`):
/// deciding stages never reach the ones that call out, and nothing below the loop reaches it.
#[test]
fn gateway_stages_point_one_way() {
    let graph = graph();
    let rules: &[(&str, &[&str])] = &[
        (
            "gateway::plan",
            &["gateway::attempt", "gateway::client", "gateway::call"],
        ),
        (
            "gateway::policy",
            &[
                "gateway::attempt",
                "gateway::client",
                "gateway::call",
                "gateway::table",
                "gateway::plan",
            ],
        ),
        (
            "gateway::error",
            &[
                "gateway::attempt",
                "gateway::client",
                "gateway::call",
                "gateway::table",
                "gateway::plan",
                "gateway::policy",
            ],
        ),
        (
            "gateway::table",
            &["gateway::call", "gateway::plan", "gateway::client"],
        ),
        (
            "gateway::client",
            &["gateway::call", "gateway::plan", "gateway::attempt"],
        ),
        ("gateway::attempt", &["gateway::call"]),
    ];
    let within = |m: &str, room: &str| m == room || m.starts_with(&format!("{room}::"));
    let mut broken = Vec::new();
    for (module, (refs, _)) in &graph {
        for (room, banned) in rules {
            if within(module, room) {
                for to in refs {
                    if banned.iter().any(|b| within(to, b)) {
                        broken.push(format!("{module} → {to}"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn the_checker_sees_a_circle_between_two_rooms() {
    let modules: BTreeSet<String> = ["a", "a::x", "b"].iter().map(|s| s.to_string()).collect();
    let refs = references(
        "a::x",
        "use crate::b::{Thing, other};\nsuper::y();",
        &modules,
    );
    assert_eq!(refs, BTreeSet::from(["b".to_owned(), "a".to_owned()]));
    assert!(related("a::x", "a") && !related("a::x", "b"));
}
