//! `creditflow bench --end-to-end N`: what a user scoring a file gets. N chat-20 episodes
//! (3 agents × 20 messages, prefix provenance) are generated as JSON Lines and as Parquet
//! rows, then `creditflow score FILE -o OUT` runs file to file with default options, as a
//! child process of this binary (process start, reading, writing and the summary
//! included), on the GPU, on the CPU with every core and on the CPU with 2 threads. Each
//! row gives the wall time, episodes/s, marginals/s and the elapsed time of each stage
//! from the run's summary (`stages:`), and the overlap: their sum over wall time; a GPU
//! row adds the device's split of the estimate stage (`device:` encode, upload, waiting
//! and readback, kernels). Last, the
//! host's share: `score --samples 2 --backend cpu -j 1` (everything but estimation, near
//! enough), as CPU microseconds per episode.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use creditflow::options::BackendChoice;

/// Message players per chat-20 episode: one marginal each per permutation.
const PLAYERS: u64 = 20;

/// Runs the end-to-end benchmark on `n` episodes.
pub fn run(n: u64, backend: BackendChoice, dir: Option<&Path>) -> Result<()> {
    if n == 0 {
        bail!("--end-to-end needs at least one episode");
    }
    let exe = std::env::current_exe().context("locating the creditflow binary")?;
    let (dir, remove) = match dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            (d.to_path_buf(), false)
        }
        None => (fresh_dir()?, true),
    };
    let result = run_in(&exe, n, backend, &dir);
    if remove {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// A new private directory under the temporary directory, named unpredictably.
fn fresh_dir() -> Result<PathBuf> {
    use std::hash::{BuildHasher, RandomState};
    for _ in 0..16 {
        let tag = RandomState::new().hash_one((std::process::id(), Instant::now()));
        let d = std::env::temp_dir().join(format!("creditflow-e2e-{tag:016x}"));
        match std::fs::create_dir(&d) {
            Ok(()) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))?;
                }
                return Ok(d);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).context("creating a directory for the benchmark's files"),
        }
    }
    bail!("could not create a fresh directory in the temporary directory")
}

/// One configuration of `score`.
struct Config {
    name: String,
    args: Vec<String>,
}

fn run_in(exe: &Path, n: u64, backend: BackendChoice, dir: &Path) -> Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let mut configs = Vec::new();
    if backend != BackendChoice::Cpu {
        match gpu_name(backend) {
            Ok(name) => configs.push(Config {
                name: format!("gpu ({name})"),
                args: vec!["--backend".into(), "gpu".into()],
            }),
            Err(why) => println!("gpu: not run ({why})"),
        }
    }
    if backend != BackendChoice::Gpu {
        configs.push(Config {
            name: format!("cpu, all {cores} cores"),
            args: vec![
                "--backend".into(),
                "cpu".into(),
                "-j".into(),
                cores.to_string(),
            ],
        });
        configs.push(Config {
            name: "cpu, 2 threads".into(),
            args: vec!["--backend".into(), "cpu".into(), "-j".into(), "2".into()],
        });
    }
    println!(
        "end to end: {n} chat-20 episodes (3 agents x 20 messages, prefix), default options, file to file"
    );
    let mut inputs = Vec::new();
    let formats: &[&str] = if cfg!(feature = "parquet") {
        &["jsonl", "parquet"]
    } else {
        println!("input parquet: not run (built without the `parquet` feature)");
        &["jsonl"]
    };
    for &ext in formats {
        let path = dir.join(format!("chat20-{n}.{ext}"));
        let t = Instant::now();
        let out = Command::new(exe)
            .arg("gen")
            .args(["--episodes", &n.to_string(), "--agents", "3"])
            .args(["--messages", "20", "-o"])
            .arg(&path)
            .output()?;
        if !out.status.success() {
            bail!("gen failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let size = std::fs::metadata(&path)?.len();
        println!(
            "input {ext:<8} {:>9.1} MiB, generated in {:.1} s",
            size as f64 / f64::from(1 << 20),
            t.elapsed().as_secs_f64()
        );
        inputs.push((ext, path));
    }
    println!(
        "{:<8} {:<34} {:>8} {:>11} {:>12} {:>6} {:>8} {:>6} {:>8} {:>6} {:>6} {:>7}",
        "input",
        "run",
        "wall s",
        "episodes/s",
        "marginals/s",
        "read",
        "validate",
        "plan",
        "estimate",
        "finish",
        "write",
        "overlap"
    );
    let mut walls: Vec<(String, &str, f64)> = Vec::new();
    for (ext, input) in &inputs {
        for c in &configs {
            let output = dir.join(format!("out.{ext}"));
            let t = Instant::now();
            let out = Command::new(exe)
                .arg("score")
                .arg(input)
                .arg("-o")
                .arg(&output)
                .args(&c.args)
                .output()?;
            let wall = t.elapsed().as_secs_f64();
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !out.status.success() {
                println!("{ext:<8} {:<34} failed: {}", c.name, stderr.trim());
                continue;
            }
            let permutations = field(&stderr, "Monte Carlo permutations: ")
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .unwrap_or(0);
            let st = stages(&stderr);
            let busy: f64 = st.iter().sum();
            println!(
                "{ext:<8} {:<34} {wall:>8.2} {:>11.0} {:>12.3e} {:>6.2} {:>8.2} {:>6.2} {:>8.2} {:>6.2} {:>6.2} {:>7.2}",
                c.name,
                n as f64 / wall,
                (permutations * PLAYERS) as f64 / wall,
                st[0],
                st[1],
                st[2],
                st[3],
                st[4],
                st[5],
                busy / wall
            );
            // A GPU run: where its estimate stage went on the device.
            if let Some(device) = field(&stderr, "device: ") {
                println!("{:<8} {:<34} device: {device}", "", "");
            }
            walls.push((c.name.clone(), ext, wall));
            for (_, p) in creditflow_outputs(&output) {
                let _ = std::fs::remove_file(p);
            }
        }
    }
    // Ratios side by side, per input format.
    for (ext, _) in &inputs {
        let of = |prefix: &str| {
            walls
                .iter()
                .find(|(name, e, _)| e == ext && name.starts_with(prefix))
                .map(|w| w.2)
        };
        if let (Some(g), Some(c)) = (of("gpu"), of("cpu, all")) {
            println!("{ext}: gpu / all-core cpu: {:.2}x faster", c / g);
        }
        if let (Some(a), Some(two)) = (of("cpu, all"), of("cpu, 2")) {
            println!("{ext}: all-core cpu / 2-thread cpu: {:.2}x faster", two / a);
        }
    }
    println!(
        "(stage columns: elapsed seconds per stage from the run's summary; the stages run at once on threads sharing the pool, so overlap = sum / wall exceeds 1 when they overlap or wait for each other; marginals = permutations x {PLAYERS} message players)"
    );
    // The host's share: everything but estimation, as CPU time of one thread.
    for (ext, input) in &inputs {
        let output = dir.join(format!("host.{ext}"));
        let before = children_cpu_seconds();
        let out = Command::new(exe)
            .arg("score")
            .arg(input)
            .arg("-o")
            .arg(&output)
            .args(["--samples", "2", "--backend", "cpu", "-j", "1"])
            .output()?;
        let after = children_cpu_seconds();
        for (_, p) in creditflow_outputs(&output) {
            let _ = std::fs::remove_file(p);
        }
        if !out.status.success() {
            println!(
                "{ext}: host-only run failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            continue;
        }
        match before.zip(after) {
            Some((b, a)) => println!(
                "{ext}: host work (score --samples 2 --backend cpu -j 1): {:.2} s CPU, {:.1} us.core per episode (target <= 20)",
                a - b,
                (a - b) / n as f64 * 1e6
            ),
            None => println!(
                "{ext}: host work: CPU time not measured on this system (Linux /proc only)"
            ),
        }
    }
    Ok(())
}

/// CPU seconds (user + system) of this process's waited-for children, from
/// `/proc/self/stat` (Linux; clock ticks of 1/100 s, the USER_HZ of every Linux ABI).
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces): the 3rd field on.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // cutime and cstime are the 16th and 17th fields.
    let ticks = |i: usize| fields.get(i - 3)?.parse::<u64>().ok();
    Some((ticks(16)? + ticks(17)?) as f64 / 100.0)
}

/// The files a `score -o OUT` run wrote (the §6 tables beside a Parquet output).
fn creditflow_outputs(output: &Path) -> Vec<(String, PathBuf)> {
    #[cfg(feature = "parquet")]
    if output.extension().is_some_and(|e| e == "parquet") {
        return creditflow::io::parquet::table_paths(output)
            .into_iter()
            .map(|(t, p)| (t.to_string(), p))
            .collect();
    }
    vec![("output".into(), output.to_path_buf())]
}

/// The text after `key` on the summary line that holds it.
fn field<'a>(stderr: &'a str, key: &str) -> Option<&'a str> {
    stderr
        .lines()
        .find_map(|l| l.split_once(key).map(|(_, rest)| rest))
}

/// The six stage times of the summary's `stages:` line (read, validate, plan, estimate,
/// finish, write), zero where absent.
fn stages(stderr: &str) -> [f64; 6] {
    let mut out = [0.0; 6];
    if let Some(line) = field(stderr, "stages: ") {
        let names = ["read", "validate", "plan", "estimate", "finish", "write"];
        for part in line.split(',') {
            let mut words = part.split_whitespace();
            if let (Some(name), Some(secs)) = (words.next(), words.next())
                && let Some(k) = names.iter().position(|n| *n == name)
            {
                out[k] = secs.trim_end_matches('s').parse().unwrap_or(0.0);
            }
        }
    }
    out
}

/// The GPU adapter `score --backend gpu` would use, when this benchmark should run it:
/// a hardware adapter under `auto`, any adapter under `gpu`.
#[cfg(feature = "gpu")]
fn gpu_name(backend: BackendChoice) -> std::result::Result<String, String> {
    match creditflow::gpu_adapter() {
        Ok(a) if a.hardware || backend == BackendChoice::Gpu => Ok(a.description),
        Ok(a) => Err(format!(
            "only a software adapter, {}; --backend gpu runs it",
            a.description
        )),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(not(feature = "gpu"))]
fn gpu_name(_backend: BackendChoice) -> std::result::Result<String, String> {
    Err("built without the `gpu` feature".into())
}
