//! `creditflow bench`: the estimators' marginals per second on the standard workloads,
//! CPU rows and (when an adapter exists) GPU rows with where their time went; with
//! `--end-to-end N`, `score` timed file to file ([`super::bench_e2e`]).

use anyhow::{Result, bail};
use creditflow::options::BackendChoice;
use creditflow::workloads::{BenchRow, Workload, cpu_rows, standard_workloads};

use crate::args::BenchArgs;

/// Runs `creditflow bench`.
pub fn run(b: &BenchArgs) -> Result<()> {
    if let Some(n) = b.end_to_end {
        return super::bench_e2e::run(n, b.backend, b.dir.as_deref());
    }
    if !(b.scale.is_finite() && b.scale > 0.0 && b.scale <= 1000.0) {
        bail!("--scale must be a number in (0, 1000], got {}", b.scale);
    }
    println!(
        "backend  {:<62} {:>14} {:>9} {:>16}",
        "workload", "marginals", "seconds", "marginals/s"
    );
    let mut workloads = standard_workloads(b.scale);
    if let Some(bad) = b
        .only
        .iter()
        .find(|o| !workloads.iter().any(|w| w.name == *o))
    {
        bail!("--only {bad}: no such workload (mobius-64, chat-20, chat-130, dag-32)");
    }
    if !b.only.is_empty() {
        workloads.retain(|w| b.only.iter().any(|o| o == w.name));
    }
    // (workload, row) for every CPU row, incremental first within a workload.
    let mut rows = Vec::new();
    for w in workloads.iter().filter(|_| b.backend != BackendChoice::Gpu) {
        let cpu = cpu_rows(w);
        for r in &cpu {
            print_row("cpu", r);
        }
        if let [inc, naive] = &cpu[..] {
            println!(
                "incremental / from-scratch speed-up: {:.1}x  ({})",
                inc.rate() / naive.rate(),
                w.name
            );
        }
        rows.extend(cpu.into_iter().map(|r| (w.name, r)));
    }
    if b.backend != BackendChoice::Cpu {
        gpu_rows(&rows, &workloads);
    }
    Ok(())
}

/// The GPU rows of `creditflow bench` and their ratios to the CPU rows.
#[cfg(feature = "gpu")]
fn gpu_rows(rows: &[(&str, BenchRow)], workloads: &[Workload]) {
    match creditflow::workloads::gpu_bench(workloads) {
        Err(e) => println!("gpu      (none: {e})"),
        Ok(bench) => {
            print_row("gpu", &bench.compile);
            for (name, r) in &bench.rows {
                match r {
                    Ok((r, _)) => print_row("gpu", r),
                    Err(e) => println!("gpu      {name:<62} not run: {e}"),
                }
            }
            // Where each GPU row's time went.
            for (name, r) in &bench.rows {
                let Ok((row, t)) = r else { continue };
                let kernels = match t.kernels {
                    Some([d, s, r]) => format!(
                        "kernels {:.4} s (draw {d:.4}, sample {s:.4}, reduce {r:.4}; {:.2e} marginals/s in kernels)",
                        d + s + r,
                        row.marginals as f64 / (d + s + r)
                    ),
                    None => "kernels not timed (no timestamp queries)".to_string(),
                };
                println!(
                    "gpu time {name:<10} {} chunks: encode {:.4} s, upload+submit {:.4} s, wait+readback {:.4} s; {kernels}",
                    t.chunks, t.encode, t.upload, t.wait
                );
            }
            // Each GPU row beside its workload's incremental CPU row (the first of its name).
            for (name, g) in &bench.rows {
                let (Ok((g, _)), Some((_, c))) = (g, rows.iter().find(|(w, _)| w == name)) else {
                    continue;
                };
                println!("gpu / cpu: {:.2}x  ({name})", g.rate() / c.rate());
            }
        }
    }
}

#[cfg(not(feature = "gpu"))]
fn gpu_rows(_rows: &[(&str, BenchRow)], _workloads: &[Workload]) {
    println!("gpu      (none: built without the `gpu` feature)");
}

/// One row of `creditflow bench`'s table.
fn print_row(backend: &str, r: &BenchRow) {
    println!(
        "{backend:<8} {:<62} {:>14} {:>9.3} {:>16.0}",
        r.name,
        r.marginals,
        r.seconds,
        r.rate()
    );
}
