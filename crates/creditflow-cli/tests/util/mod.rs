//! What every test of the command line shares: the binary, one temporary-directory type,
//! paths into the repository, and runners whose failures print the command, its standard
//! output and its standard error.

#![allow(dead_code, reason = "each test module uses part of the helpers")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The `creditflow` binary under test.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_creditflow"))
}

/// The repository's root (data files, examples, the Python package).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the repository's test data (`tests/data/…`).
pub fn data(rel: &str) -> PathBuf {
    repo().join("tests/data").join(rel)
}

/// The bundled example batch.
pub fn example() -> PathBuf {
    repo().join("examples/episodes.jsonl")
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory named after `name`, unique to this process and call.
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let d = std::env::temp_dir().join(format!(
            "creditflow-test-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside it.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `text` to `name` inside it.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command as a shell would show it.
fn shown(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` and returns what it did, whatever its exit.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run `{}`: {e}", shown(cmd)))
}

/// Runs `cmd`, which must succeed; a failure prints the command, its stdout and stderr.
pub fn run_ok(cmd: &mut Command) -> Output {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "`{}` failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        shown(cmd),
        o.status,
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Runs `cmd`, which must fail; a success prints the command, its stdout and stderr.
pub fn run_err(cmd: &mut Command) -> Output {
    let o = run(cmd);
    assert!(
        !o.status.success(),
        "`{}` succeeded but should have failed:\n--- stdout\n{}\n--- stderr\n{}",
        shown(cmd),
        stdout(&o),
        stderr(&o)
    );
    o
}

/// Runs the binary with `args` and `input` on its standard input.
pub fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A child that fails before reading (a bad option) closes its end early.
    let written = child.stdin.take().unwrap().write_all(input.as_bytes());
    if let Err(e) = written {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// The JSON records of JSON Lines text.
pub fn records(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Records a skipped suite: a loud line on stderr (which the harness may swallow) and a
/// line `suite: why` appended to `$CREDITFLOW_SKIP_LOG`, which `./run-tests` prints in
/// its closing summary.
pub fn skipped(suite: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED {suite}: {why} ***\n");
    if let Some(log) = std::env::var_os("CREDITFLOW_SKIP_LOG")
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log)
    {
        let _ = writeln!(f, "{suite}: {why}");
    }
}
