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
