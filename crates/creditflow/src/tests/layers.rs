//! The module graph has no cycles: every `crate::x` a module of `src/` names points to a
//! stage below it (the domain types, options and errors at the bottom, the pipeline and
//! the command line at the top). Read from the source text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn top_module(path: &Path, src: &Path) -> Option<String> {
    let rel = path.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "main" && name != "lib" && name != "tests").then_some(name)
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn top_level_modules_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let tops: BTreeSet<String> = all.iter().filter_map(|p| top_module(p, &src)).collect();
    for p in &all {
        let Some(me) = top_module(p, &src) else {
            continue;
        };
        let text = std::fs::read_to_string(p).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for part in line.split("crate::").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name != me && tops.contains(&name) {
                    graph.entry(me.clone()).or_default().insert(name);
                }
            }
        }
    }
    assert!(graph.len() > 10, "the scan found the modules: {graph:?}");
    // Depth-first search with colours: grey = on the stack.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        colour: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        colour.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            match colour.get(d.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == d).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(d, g, colour, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        colour.insert(n.to_string(), 2);
        None
    }
    let mut colour = BTreeMap::new();
    for n in graph.keys() {
        if colour.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let cycle = visit(n, &graph, &mut colour, &mut Vec::new());
            assert!(
                cycle.is_none(),
                "import cycle: {}",
                cycle.unwrap().join(" → ")
            );
        }
    }
    // The bottom stays at the bottom.
    for bottom in ["model", "schema", "options"] {
        let deps = graph.get(bottom).cloned().unwrap_or_default();
        let allowed: BTreeSet<String> = ["model", "schema", "options"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(deps.is_subset(&allowed), "{bottom} depends on {deps:?}");
    }
}

// ---------------------------------------------------------------- file-level cycles

/// A module's path from its file: `io/scored/mod.rs` → `io::scored`,
/// `io/scored/parquet.rs` → `io::scored::parquet`, `lib.rs` → the root (empty).
fn module_of(path: &Path, src: &Path) -> Vec<String> {
    let rel = path.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The modules a file's text names (`crate::a::b::Item`, `super::x`), resolved to the
/// longest known module path; references to the file's own ancestors or descendants
/// are left out (a module and its submodules are one unit).
fn references(me: &[String], text: &str, known: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (prefix, base) in [
            ("crate::", Vec::new()),
            ("super::", me[..me.len().saturating_sub(1)].to_vec()),
        ] {
            for part in line.split(prefix).skip(1) {
                let mut path = base.clone();
                for seg in part.split("::") {
                    let name: String = seg
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name.is_empty() {
                        break;
                    }
                    let whole = name.len() == seg.len();
                    path.push(name);
                    if !whole {
                        break;
                    }
                }
                while !path.is_empty() && !known.contains(&path) {
                    path.pop();
                }
                let related = path.starts_with(me) || me.starts_with(&path);
                if !path.is_empty() && !related {
                    out.insert(path);
                }
            }
        }
    }
    out
}

/// A cycle of the graph, if any (depth-first search with colours).
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        n: &Vec<String>,
        g: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        colour: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        colour.insert(n.clone(), 1);
        stack.push(n.clone());
        for d in g.get(n).into_iter().flatten() {
            match colour.get(d).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == d).unwrap();
                    let mut cycle: Vec<String> = stack[at..].iter().map(|m| m.join("::")).collect();
                    cycle.push(d.join("::"));
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(d, g, colour, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        colour.insert(n.clone(), 2);
        None
    }
    let mut colour = BTreeMap::new();
    for n in graph.keys() {
        if colour.get(n).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, graph, &mut colour, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

/// The file-level module graph of `files` (module path, text).
fn file_graph(files: &[(Vec<String>, String)]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let known: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    files
        .iter()
        .map(|(m, text)| (m.clone(), references(m, text, &known)))
        .collect()
}

/// Every module file of both crates (the tests excluded), with its text.
fn crate_files(src: &Path) -> Vec<(Vec<String>, String)> {
    let mut all = Vec::new();
    files(src, &mut all);
    all.iter()
        .filter(|p| !p.strip_prefix(src).unwrap().starts_with("tests"))
        .map(|p| (module_of(p, src), std::fs::read_to_string(p).unwrap()))
        .collect()
}

#[test]
fn files_form_no_cycle_of_any_length_in_either_crate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for src in [root.join("src"), root.join("../creditflow-cli/src")] {
        let files = crate_files(&src);
        let graph = file_graph(&files);
        let edges: usize = graph.values().map(BTreeSet::len).sum();
        assert!(
            edges > 10,
            "{}: the scan found the references: {graph:?}",
            src.display()
        );
        if let Some(cycle) = find_cycle(&graph) {
            panic!("{}: import cycle: {}", src.display(), cycle.join(" → "));
        }
    }
}

#[test]
fn a_two_file_cycle_is_found() {
    let m = |p: &str| p.split("::").map(str::to_string).collect::<Vec<_>>();
    // Two sibling files naming each other (the shape of `report/parquet.rs` ↔
    // `report/scored.rs` that a top-level scan misses), beside an innocent third.
    let files = vec![
        (
            m("report"),
            "pub mod parquet;\npub mod scored;\n".to_string(),
        ),
        (
            m("report::parquet"),
            "use super::scored::Scored;\n".to_string(),
        ),
        (
            m("report::scored"),
            "use crate::report::parquet::ParquetScored;\n".to_string(),
        ),
        (
            m("other"),
            "use crate::report::scored::Scored;\n".to_string(),
        ),
    ];
    let cycle = find_cycle(&file_graph(&files)).expect("the cycle is found");
    assert!(cycle.contains(&"report::parquet".to_string()), "{cycle:?}");
    assert!(cycle.contains(&"report::scored".to_string()), "{cycle:?}");
    // A module and its own submodules naming each other are one unit, not a cycle.
    let nested = vec![
        (
            m("io::scored"),
            "mod parquet;\nuse parquet::ParquetScored;\n".to_string(),
        ),
        (
            m("io::scored::parquet"),
            "use super::Scored;\nuse crate::io::scored::Id;\n".to_string(),
        ),
    ];
    assert_eq!(find_cycle(&file_graph(&nested)), None);
}
