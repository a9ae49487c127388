//! Output files written safely. An output goes to a temporary file beside its target and
//! is renamed over it only when the run commits it, so an existing file is never
//! truncated by a run that then fails to start (an unwritable `--pairs` path, say), and a
//! reader never sees half a file. [`check_distinct`] refuses an output that is one of the
//! inputs or another output under any spelling (`./x`, `../dir/x`, symbolic or hard
//! links), before anything is opened for writing.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// An output: standard output, or a file written through a temporary file.
pub struct OutFile {
    /// The target and its temporary file (`None`: standard output).
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
    /// in the target's directory (the target is untouched until [`OutFile::commit`]).
    pub fn create(path: Option<&Path>) -> io::Result<OutFile> {
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
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| {
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
        let tmp = dir.join(format!(
            ".{}.creditflow-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = File::create(&tmp).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
        })?;
        Ok(OutFile {
            target: Some((path.to_path_buf(), tmp)),
            w: BufWriter::with_capacity(1 << 20, Box::new(file)),
        })
    }

    /// Flushes and moves the temporary file over the target.
    pub fn commit(mut self) -> io::Result<()> {
        self.w.flush()?;
        if let Some((path, tmp)) = self.target.take() {
            std::fs::rename(&tmp, &path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
            })?;
        }
        Ok(())
    }
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
            let _ = std::fs::remove_file(tmp);
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
