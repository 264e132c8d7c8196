//! The engine's module layout: dependencies between modules run one way (no import cycles,
//! at the top level and one level down), and the CPU kernels and the decoders import nothing
//! from Burn (nor does `recognize`, the recognizer interface). Read from the source (`use` paths and `crate::`/`super::` paths outside comments
//! and test modules), so a change that adds a cycle fails here with the cycle named.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn engine_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/src")
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    engine::shipped::files_with_extension_under(dir, "rs")
}

/// The module path of a file: `data/readers/mod.rs` -> `["data", "readers"]`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(engine_src()).expect("inside engine/src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The source without comments and without its test module.
fn code(file: &Path) -> String {
    let src = std::fs::read_to_string(file).expect("readable source");
    let src = match src.find("#[cfg(test)]\nmod tests").or_else(|| {
        src.find("#[cfg(test)]\n#[allow(clippy::unwrap_used")
            .filter(|&i| src[i..].contains("mod tests"))
    }) {
        Some(i) => &src[..i],
        None => &src[..],
    };
    src.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Identifier paths after `prefix` in `code`: `crate::data::synth::X` -> `["data", "synth",
/// "X"]`.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        if code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        let mut path = Vec::new();
        for seg in rest.split("::") {
            let ident: String = seg
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if ident.is_empty() {
                break;
            }
            let whole = ident.len() == seg.len();
            path.push(ident);
            if !whole {
                break;
            }
        }
        out.push(path);
    }
    out
}

/// Edges between modules cut to `depth` segments (`data::synth` at depth 2), from each
/// non-test file of the engine.
fn module_graph(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(&engine_src());
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if module.first().is_some_and(|m| m == "main" || m == "cli") || name == "tests.rs" {
            continue;
        }
        let code = code(&file);
        // `super` of `a::b` (a/b.rs or a/b/mod.rs) is `a`.
        let parent = module[..module.len().saturating_sub(1)].to_vec();
        let mut targets: Vec<Vec<String>> = paths_after(&code, "crate::");
        for p in paths_after(&code, "super::") {
            let mut full = parent.clone();
            full.extend(p);
            targets.push(full);
        }
        let from = module
            .iter()
            .take(depth)
            .cloned()
            .collect::<Vec<_>>()
            .join("::");
        for t in targets {
            if t.is_empty() {
                continue;
            }
            let to = t.iter().take(depth).cloned().collect::<Vec<_>>().join("::");
            if !to.is_empty() && to != from && !from.is_empty() {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// A cycle through `start`, if there is one (depth-first search).
fn cycle_through(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        node: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(node).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if visit(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_owned()];
    let mut seen = BTreeSet::new();
    visit(graph, start, start, &mut path, &mut seen).then(|| {
        path.push(start.to_owned());
        path
    })
}

#[test]
fn engine_modules_depend_on_each_other_one_way() {
    for depth in [1, 2] {
        let graph = module_graph(depth);
        assert!(graph.len() > 10, "the graph was read: {graph:?}");
        for module in graph.keys() {
            if let Some(cycle) = cycle_through(&graph, module) {
                panic!("import cycle (depth {depth}): {}", cycle.join(" -> "));
            }
        }
    }
}

#[test]
fn the_cycle_check_finds_a_planted_cycle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle_through(&graph, "a"), None);
    graph.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        cycle_through(&graph, "a"),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn kernels_and_decoders_import_nothing_from_burn() {
    let mut files = rust_files(&engine_src().join("kernels"));
    files.extend(rust_files(&engine_src().join("decode")));
    files.push(engine_src().join("lm.rs"));
    files.push(engine_src().join("recognize.rs"));
    assert!(files.len() > 8);
    for file in files {
        let code = code(&file);
        assert!(
            !code.contains("burn"),
            "{} uses Burn; the kernels and decoders stay Burn-free",
            file.display()
        );
    }
}

#[test]
fn only_the_binary_parses_arguments() {
    for file in rust_files(&engine_src()) {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if file.parent() == Some(engine_src().as_path()) && (name == "main.rs" || name == "cli.rs")
        {
            continue;
        }
        assert!(
            !code(&file).contains("clap"),
            "{} uses clap; argument parsing belongs to the binary (engine/src/cli.rs)",
            file.display()
        );
    }
}
