//! The Python package's test suite (python/tests, pytest), run by `cargo test` so that
//! one command runs every test of the project.
//!
//! The extension is built with `cargo build --profile test -p creditflow-python` (the
//! test profile and target directory of `cargo test`, so the dependencies built for the
//! Rust tests are reused) and loaded from a scratch copy of the package (nothing is
//! installed). The suite needs Python with numpy, pyarrow and pytest (and ray for the
//! Ray test); when they are missing the test says so loudly and passes, unless
//! CREDITFLOW_REQUIRE_PYTHON=1 (set by CI), where it fails.

#![cfg(feature = "parquet")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> String {
    std::env::var("CREDITFLOW_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn required() -> bool {
    std::env::var("CREDITFLOW_REQUIRE_PYTHON").is_ok_and(|v| v == "1")
}

/// The built extension library of the workspace's Python crate.
fn build_extension(root: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args([
            "build",
            "--profile",
            "test",
            "-p",
            "creditflow-python",
            "--message-format=json-render-diagnostics",
        ])
        .output()
        .expect("running cargo build for the Python extension");
    assert!(
        out.status.success(),
        "building the Python extension failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut found = None;
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact" && msg["target"]["name"] == "_creditflow" {
            for f in msg["filenames"].as_array().into_iter().flatten() {
                let f = f.as_str().unwrap_or_default();
                if f.ends_with(".so") || f.ends_with(".dylib") || f.ends_with(".dll") {
                    found = Some(PathBuf::from(f));
                }
            }
        }
    }
    found.expect("cargo build named no extension library")
}

#[test]
fn python_suite() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let probe = Command::new(python())
        .args(["-c", "import numpy, pyarrow, pytest"])
        .output();
    let missing = match &probe {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(String::from_utf8_lossy(&o.stderr).into_owned()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(why) = missing {
        let msg = format!(
            "the Python tests need {} with numpy, pyarrow and pytest \
             (pip install -r python/requirements-test.txt): {why}",
            python()
        );
        if required() {
            panic!("{msg}");
        }
        eprintln!("\n!!!!!! SKIPPED: {msg}\n");
        return;
    }
    let lib = build_extension(&root);
    // A scratch copy of the package with the freshly built extension beside it.
    let scratch = std::env::temp_dir().join(format!("creditflow-python-{}", std::process::id()));
    let pkg = scratch.join("creditflow");
    std::fs::create_dir_all(&pkg).unwrap();
    for entry in std::fs::read_dir(root.join("python/creditflow")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension()
            .is_some_and(|e| e == "py" || e == "pyi" || e == "typed")
        {
            std::fs::copy(&p, pkg.join(p.file_name().unwrap())).unwrap();
        }
    }
    let ext = if cfg!(windows) {
        "_creditflow.pyd"
    } else {
        "_creditflow.abi3.so"
    };
    std::fs::copy(&lib, pkg.join(ext)).unwrap();
    // Run from the scratch directory, so that the package is the scratch copy and not
    // the sources in python/ (which have no extension beside them).
    let status = Command::new(python())
        .current_dir(&scratch)
        .env("PYTHONPATH", &scratch)
        .env("CREDITFLOW_BIN", env!("CARGO_BIN_EXE_creditflow"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root.join("python/tests"))
        .status()
        .expect("running pytest");
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(
        status.success(),
        "the Python test suite failed (output above)"
    );
}
