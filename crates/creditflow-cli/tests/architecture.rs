//! ARCHITECTURE.md stays true: every source file of the three crates, every shader and
//! every test module has its line, and every path it names exists.

use std::path::Path;

fn walk(dir: &Path, out: &mut Vec<String>, root: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out, root);
        } else if p
            .extension()
            .is_some_and(|x| x == "rs" || x == "wgsl" || x == "py" || x == "pyi")
        {
            out.push(
                p.strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
}

#[test]
fn architecture_names_every_file_and_only_files_that_exist() {
    let root = crate::util::repo().canonicalize().unwrap();
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut files = Vec::new();
    for dir in [
        "crates/creditflow/src",
        "crates/creditflow/shaders",
        "crates/creditflow/tests",
        "crates/creditflow/benches",
        "crates/creditflow/examples",
        "crates/creditflow-cli/src",
        "crates/creditflow-cli/tests",
        "python/src",
        "python/creditflow",
    ] {
        walk(&root.join(dir), &mut files, &root);
    }
    assert!(files.len() > 100, "{files:?}");
    let missing: Vec<&String> = files
        .iter()
        .filter(|f| !text.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md has no line for {missing:?}"
    );
    // Every backquoted path with a slash and an extension names a file that exists.
    let named: Vec<&str> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.contains('/')
                && !s.contains(' ')
                && !s.contains('<')
                && !s.contains('*')
                && Path::new(s).extension().is_some()
        })
        .collect();
    let gone: Vec<&&str> = named.iter().filter(|p| !root.join(p).exists()).collect();
    assert!(
        gone.is_empty(),
        "ARCHITECTURE.md names files that do not exist: {gone:?}"
    );
}
