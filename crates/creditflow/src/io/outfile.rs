//! Files written as a careful Unix tool writes them (DESIGN §2.7):
//!
//! - An output goes to a temporary file beside its target, created exclusively
//!   (`O_CREAT | O_EXCL`) under an unpredictable name, so that nothing planted in the
//!   directory (a symbolic link at a guessable name) can redirect it; it is renamed over
//!   the target only when the run commits, so an existing file is never truncated by a
//!   run that fails, and a reader never sees half a file. A replaced target keeps its
//!   permissions; a new one gets the umask's (or owner-only for [`OutFile::private`],
//!   for outputs that hold prompts).
//! - Several outputs of one run commit together ([`commit_all`]): every writer is
//!   finished and every target checked before the first rename.
//! - Scratch files and spill directories ([`Scratch`], [`PrivateDir`]) are created the
//!   same way in the system's temporary directory, owner-only.
//! - Every temporary file and directory alive is registered, so that a signal handler
//!   ([`remove_temporaries`]) leaves nothing behind but the old outputs.
//!
//! [`check_distinct`] refuses an output that is one of the inputs or another output
//! under any spelling (`./x`, `../dir/x`, symbolic or hard links), before anything is
//! opened for writing.

use std::collections::hash_map::RandomState;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The temporary files and directories alive in this process.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Set by [`remove_temporaries`]: the process is going away, and a temporary created
/// after it (by a thread still running) is removed at once.
static CLOSING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn register(path: &Path) {
    let mut t = TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner());
    if CLOSING.load(Ordering::SeqCst) {
        drop(t);
        let _ = std::fs::remove_file(path).or_else(|_| std::fs::remove_dir_all(path));
        return;
    }
    t.push(path.to_path_buf());
}

fn unregister(path: &Path) {
    let mut t = TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = t.iter().position(|p| p == path) {
        t.swap_remove(k);
    }
}

/// Removes every temporary file and directory this process has alive (for a signal
/// handler: the outputs keep their old contents). Safe to call from any thread.
pub fn remove_temporaries() {
    let mut t = TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner());
    CLOSING.store(true, Ordering::SeqCst);
    let paths = std::mem::take(&mut *t);
    drop(t);
    for p in paths {
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(&p);
        } else {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// 64 unpredictable bits for a temporary name: the standard library's randomly keyed
/// hasher over the time, the process and a counter.
fn random_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", h.finish())
}

/// Creates a new file exclusively in `dir` as `{prefix}{random}{suffix}` with `mode`
/// (before the umask; Unix), retrying on a name clash.
fn create_new(dir: &Path, prefix: &str, suffix: &str, mode: u32) -> io::Result<(File, PathBuf)> {
    let mut last = None;
    for _ in 0..16 {
        let path = dir.join(format!("{prefix}{}{suffix}", random_name()));
        let mut o = OpenOptions::new();
        o.write(true).read(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(mode);
        }
        #[cfg(not(unix))]
        let _ = mode;
        match o.open(&path) {
            Ok(f) => {
                register(&path);
                return Ok((f, path));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
}

/// The system's temporary directory, which must exist (it is never created: a missing
/// `$TMPDIR` is a configuration error, not something to paper over).
pub fn temp_root() -> io::Result<PathBuf> {
    let d = std::env::temp_dir();
    match std::fs::metadata(&d) {
        Ok(m) if m.is_dir() => Ok(d),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("the temporary directory {} is not a directory", d.display()),
        )),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!(
                "the temporary directory {} does not exist (set TMPDIR to an existing directory): {e}",
                d.display()
            ),
        )),
    }
}

/// A scratch file in the system's temporary directory: created exclusively, owner-only,
/// removed when dropped.
pub struct Scratch {
    file: File,
    path: PathBuf,
}

impl Scratch {
    /// A new scratch file whose name starts with `prefix`.
    pub fn new(prefix: &str) -> io::Result<Scratch> {
        let (file, path) = create_new(&temp_root()?, prefix, ".tmp", 0o600)?;
        Ok(Scratch { file, path })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file (for writing, then reading back from the start).
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        unregister(&self.path);
    }
}

/// A private directory (owner-only, a random name) in the system's temporary directory,
/// removed with its contents when dropped.
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// A new directory whose name starts with `prefix`.
    pub fn new(prefix: &str) -> io::Result<PrivateDir> {
        let root = temp_root()?;
        let mut last = None;
        for _ in 0..16 {
            let path = root.join(format!("{prefix}{}", random_name()));
            let mut b = std::fs::DirBuilder::new();
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            match b.create(&path) {
                Ok(()) => {
                    register(&path);
                    return Ok(PrivateDir { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates a new owner-only file in it, exclusively.
    pub fn create(&self, name: &str) -> io::Result<File> {
        let path = self.path.join(name);
        let mut o = OpenOptions::new();
        o.write(true).read(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        o.open(path)
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        unregister(&self.path);
    }
}

/// An output: standard output, or a file written through a temporary file.
pub struct OutFile {
    /// The target and its temporary file (`None`: standard output or a device).
    target: Option<(PathBuf, PathBuf)>,
    w: BufWriter<Box<dyn Write + Send>>,
}

/// True for the paths that mean standard input or output.
pub fn is_std(path: &Path) -> bool {
    path.as_os_str() == "-"
}

impl OutFile {
    /// Standard output when `path` is `None` or `-`; the target itself when it exists and
    /// is not a regular file (a device such as `/dev/null`, a FIFO); else a temporary file
    /// in the target's directory (the target is untouched until [`OutFile::commit`]). A
    /// new target gets the umask's permissions; a replaced one keeps its own.
    pub fn create(path: Option<&Path>) -> io::Result<OutFile> {
        Self::open(path, 0o666)
    }

    /// [`OutFile::create`] for an output that holds prompts or model text (preference
    /// pairs): a new target is owner-only (0600); a replaced one keeps its permissions.
    pub fn private(path: Option<&Path>) -> io::Result<OutFile> {
        Self::open(path, 0o600)
    }

    fn open(path: Option<&Path>, mode: u32) -> io::Result<OutFile> {
        let Some(path) = path.filter(|p| !is_std(p)) else {
            return Ok(OutFile {
                target: None,
                w: BufWriter::with_capacity(1 << 20, Box::new(io::stdout())),
            });
        };
        // A device, FIFO or socket (`-o /dev/null`, a named pipe) is written in place:
        // renaming a file over it would replace the device with a regular file.
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
            && !meta.is_dir()
        {
            let file = OpenOptions::new().write(true).open(path).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display()))
            })?;
            return Ok(OutFile {
                target: None,
                w: BufWriter::with_capacity(1 << 20, Box::new(file)),
            });
        }
        let name = path.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} names no file", path.display()),
            )
        })?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let prefix = format!(".{}.creditflow-", name.to_string_lossy());
        let (file, tmp) = create_new(&dir, &prefix, ".tmp", mode).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
        })?;
        Ok(OutFile {
            target: Some((path.to_path_buf(), tmp)),
            w: BufWriter::with_capacity(1 << 20, Box::new(file)),
        })
    }

    /// Flushes the temporary file and checks that the target can be replaced (not a
    /// directory), without replacing it: the first half of a commit.
    pub fn prepare(&mut self) -> io::Result<()> {
        self.w.flush()?;
        if let Some((path, tmp)) = &self.target {
            if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
                return Err(io::Error::new(
                    io::ErrorKind::IsADirectory,
                    format!("cannot write {}: it is a directory", path.display()),
                ));
            }
            // A replaced file keeps its permissions.
            if let Ok(m) = std::fs::metadata(path)
                && m.is_file()
            {
                std::fs::set_permissions(tmp, m.permissions()).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
                })?;
            }
        }
        Ok(())
    }

    /// Moves the prepared temporary file over the target: the second half of a commit.
    fn replace(mut self) -> io::Result<()> {
        if let Some((path, tmp)) = self.target.take() {
            let done = std::fs::rename(&tmp, &path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
            });
            unregister(&tmp);
            done?;
        }
        Ok(())
    }

    /// Flushes and moves the temporary file over the target.
    pub fn commit(mut self) -> io::Result<()> {
        self.prepare()?;
        self.replace()
    }
}

/// Commits several outputs of one run all or nothing, as far as the file system allows:
/// every one is flushed and its target checked before the first is renamed.
pub fn commit_all(outputs: Vec<OutFile>) -> io::Result<()> {
    let mut outputs = outputs;
    for o in &mut outputs {
        o.prepare()?;
    }
    for o in outputs {
        o.replace()?;
    }
    Ok(())
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.w.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.w.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

impl Drop for OutFile {
    /// An output never committed leaves no trace: its temporary file is removed.
    fn drop(&mut self) {
        if let Some((_, tmp)) = self.target.take() {
            let _ = std::fs::remove_file(&tmp);
            unregister(&tmp);
        }
    }
}

/// What identifies a file whatever its spelling: (device, inode) where the platform has
/// them, else the canonical path; for a file that does not exist yet, its canonical
/// directory and name.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    #[cfg(unix)]
    Inode(u64, u64),
    Path(PathBuf),
}

fn identity(path: &Path) -> Option<Identity> {
    if is_std(path) {
        return None;
    }
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Some(Identity::Inode(m.dev(), m.ino()));
    }
    if let Ok(p) = path.canonicalize() {
        return Some(Identity::Path(p));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    Some(Identity::Path(dir.join(path.file_name()?)))
}

/// Refuses any output that is the same file as an input or as another output (each a
/// `(flag, path)` pair for the message). Standard input and output (`-`) never clash.
pub fn check_distinct(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<(), String> {
    let ids: Vec<(&str, &Path, bool, Option<Identity>)> = inputs
        .iter()
        .map(|&(f, p)| (f, p, true, identity(p)))
        .chain(outputs.iter().map(|&(f, p)| (f, p, false, identity(p))))
        .collect();
    for (i, (fa, pa, ina, ida)) in ids.iter().enumerate() {
        for (fb, pb, inb, idb) in &ids[i + 1..] {
            if *ina && *inb {
                continue;
            }
            if let (Some(a), Some(b)) = (ida, idb)
                && a == b
            {
                return Err(format!(
                    "{fa} {} and {fb} {} are the same file; refusing to overwrite it",
                    pa.display(),
                    pb.display()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("creditflow-outfile-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_uncommitted_output_leaves_the_target_untouched() {
        let d = temp_dir("uncommitted");
        let target = d.join("out.jsonl");
        std::fs::write(&target, "precious\n").unwrap();
        {
            let mut f = OutFile::create(Some(&target)).unwrap();
            f.write_all(b"new\n").unwrap();
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file left"
        );
        let mut f = OutFile::create(Some(&target)).unwrap();
        f.write_all(b"new\n").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn scratch_files_and_private_directories_are_owner_only_and_unpredictable() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let (a, b) = (
            Scratch::new("cf-test-").unwrap(),
            Scratch::new("cf-test-").unwrap(),
        );
        assert_ne!(a.path(), b.path(), "random names");
        assert_eq!(mode(a.path()), 0o600);
        let dir = PrivateDir::new("cf-test-").unwrap();
        assert_eq!(mode(dir.path()), 0o700);
        let _f = dir.create("0.jsonl").unwrap();
        assert_eq!(mode(&dir.path().join("0.jsonl")), 0o600);
        assert!(dir.create("0.jsonl").is_err(), "created exclusively");
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists(), "removed with its contents");
        // A planted link at a would-be name is never followed: names are new files only.
        let d = temp_dir("planted");
        let target = d.join("victim");
        std::fs::write(&target, "keep").unwrap();
        for _ in 0..4 {
            let out = OutFile::create(Some(&d.join("out"))).unwrap();
            drop(out);
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn the_registry_removes_what_is_alive() {
        let d = temp_dir("registry");
        let mut out = OutFile::create(Some(&d.join("o.jsonl"))).unwrap();
        out.write_all(b"x").unwrap();
        let alive = TEMPORARIES.lock().unwrap().clone();
        let mine: Vec<&PathBuf> = alive.iter().filter(|p| p.starts_with(&d)).collect();
        assert_eq!(mine.len(), 1, "the temporary output is registered");
        let tmp = mine[0].clone();
        out.commit().unwrap();
        assert!(
            !TEMPORARIES.lock().unwrap().contains(&tmp),
            "a commit unregisters it"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn the_same_file_under_other_spellings_is_refused() {
        let d = temp_dir("spellings");
        let input = d.join("in.jsonl");
        std::fs::write(&input, "x\n").unwrap();
        let dotted = d.join(".").join("in.jsonl");
        let up = d.join("..").join(d.file_name().unwrap()).join("in.jsonl");
        for out in [&input, &dotted, &up] {
            assert!(check_distinct(&[("input", &input)], &[("-o", out)]).is_err());
        }
        #[cfg(unix)]
        {
            let link = d.join("link.jsonl");
            std::os::unix::fs::symlink(&input, &link).unwrap();
            assert!(check_distinct(&[("input", &input)], &[("-o", &link)]).is_err());
            let hard = d.join("hard.jsonl");
            std::fs::hard_link(&input, &hard).unwrap();
            assert!(check_distinct(&[("input", &input)], &[("-o", &hard)]).is_err());
        }
        let a = d.join("a.jsonl");
        let b = d.join(".").join("a.jsonl");
        let err = check_distinct(&[("input", &input)], &[("-o", &a), ("--rewards", &b)]);
        assert!(err.unwrap_err().contains("--rewards"));
        let other = d.join("other.jsonl");
        assert!(check_distinct(&[("input", &input)], &[("-o", &a), ("--pairs", &other)]).is_ok());
        let dash = Path::new("-");
        assert!(check_distinct(&[("input", dash)], &[("-o", dash)]).is_ok());
        std::fs::remove_dir_all(d).unwrap();
    }
}
