"""Trace import at scale: wall time and peak memory of `creditflow import` over a
directory of synthetic OTLP/JSON trace exports, in memory and through bucket files.

    python3 bench/otlp_scale.py [--traces 100000] [--files 100] [--bin target/release/creditflow]

Writes the traces (ADK-shaped: workflow → agent → call_llm → generate_content, a tool,
a second call; spans of each trace spread over two files, in reverse order) under a
temporary directory, then runs the import twice: with the default `--memory` and with
`--memory 16` (spilling). Prints one line per run: traces, episodes, seconds, peak RSS.
With `--export`, the imported episodes are then scored (`--samples 2`) and the scores
exported back onto the traces (`export otel`), and the export's time and peak RSS are
printed (each step a child process measured alone, by `/usr/bin/time`-style rusage).
The export runs twice, held in memory and spilled to bucket files (`--memory 16`);
`--baseline OTHER_BIN` exports a third time with another build on the same files and
says whether the outputs are identical (a side-by-side comparison in one run).
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time


def attr(key, value):
    return {"key": key, "value": {"stringValue": value}}


def trace_spans(rng, t):
    trace = f"{t:032x}"
    ids = [f"{(t << 8) | k:016x}" for k in range(1, 8)]
    base = 1_790_000_000_000_000_000 + t * 1_000_000
    agent = f"agent_{t % 5}"

    def span(k, parent, name, start, end, attrs, error=False):
        s = {
            "traceId": trace,
            "spanId": ids[k],
            "name": name,
            "startTimeUnixNano": str(base + start),
            "endTimeUnixNano": str(base + end),
            "attributes": attrs,
        }
        if parent is not None:
            s["parentSpanId"] = ids[parent]
        if error:
            s["status"] = {"code": 2}
        return s

    model = [attr("gen_ai.operation.name", "generate_content"), attr("gen_ai.agent.name", agent)]
    failed = rng.random() < 0.3
    return [
        span(
            0,
            None,
            "invoke_workflow main",
            0,
            100,
            [attr("gen_ai.operation.name", "invoke_workflow")],
            failed,
        ),
        span(
            1,
            0,
            f"invoke_agent {agent}",
            1,
            99,
            [attr("gen_ai.operation.name", "invoke_agent"), attr("gen_ai.agent.name", agent)],
        ),
        span(2, 1, "call_llm", 2, 30, [attr("gen_ai.request.model", "m")]),
        span(3, 2, "generate_content m", 3, 29, model),
        span(
            4,
            1,
            "execute_tool lookup",
            31,
            40,
            [attr("gen_ai.operation.name", "execute_tool"), attr("gen_ai.tool.name", "lookup")],
        ),
        span(5, 1, "call_llm", 41, 90, [attr("gen_ai.request.model", "m")]),
        span(6, 5, "generate_content m", 42, 89, model),
    ]


def write(dir_, traces, files, seed=7):
    rng = random.Random(seed)
    handles = [open(os.path.join(dir_, f"part-{i:04d}.jsonl"), "w") for i in range(files)]
    for t in range(1, traces + 1):
        spans = trace_spans(rng, t)[::-1]
        for half, f in ((spans[:4], handles[t % files]), (spans[4:], handles[(t * 7 + 3) % files])):
            doc = {
                "resourceSpans": [
                    {
                        "resource": {"attributes": [attr("service.name", "bench")]},
                        "scopeSpans": [{"scope": {"name": "bench"}, "spans": half}],
                    }
                ]
            }
            f.write(json.dumps(doc) + "\n")
    for h in handles:
        h.close()


def run(binary, dir_, extra):
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [binary, "import", dir_, "-o", os.devnull, *extra], capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    summary = proc.stderr.strip().splitlines()[-1]
    return seconds, max(peak, before), summary


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--traces", type=int, default=100_000)
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--bin", default="target/release/creditflow")
    ap.add_argument("--export", action="store_true", help="also score and export otel")
    ap.add_argument(
        "--baseline",
        metavar="BIN",
        help="with --export: also export with this binary, on the same files, side by side",
    )
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        write(d, a.traces, a.files)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print(f"{a.traces} traces, {7 * a.traces} spans, {a.files} files, {size / 2**20:.0f} MiB")
        # Peak RSS of children is a running maximum: run the small-memory import first.
        for label, extra in (
            ("--memory 16 (spills)", ["--memory", "16"]),
            ("default --memory", []),
        ):
            seconds, peak_kib, summary = run(a.bin, d, extra)
            print(f"{label:<22} {seconds:7.2f} s  peak RSS {peak_kib / 1024:7.1f} MiB  | {summary}")
        if a.export:
            export(a.bin, d, a.baseline)


def measured(cmd):
    """Runs `cmd` alone in a child that reports its own peak RSS (KiB) and wall time."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(p.returncode, time.perf_counter() - t,"
        " resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.stderr.write(p.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True)
    rc, seconds, peak = proc.stdout.split()
    if rc != "0":
        sys.exit(proc.stderr)
    return float(seconds), int(peak)


def export(binary, traces, baseline=None):
    with tempfile.TemporaryDirectory() as w:
        episodes, scored, out = (os.path.join(w, f) for f in ("e.jsonl", "s.jsonl", "o.jsonl"))
        measured([binary, "import", traces, "-o", episodes])
        measured([binary, "score", episodes, "--samples", "2", "-o", scored])
        size = os.path.getsize(scored)
        runs = [
            ("export otel", binary, []),
            ("export otel --memory 16", binary, ["--memory", "16"]),
        ]
        if baseline:
            runs.append(("export otel, baseline", baseline, []))
        outputs = []
        for label, b, extra in runs:
            cmd = [b, "export", "otel", scored, "--traces", traces, "-o", out, *extra]
            seconds, peak = measured(cmd)
            print(
                f"{label:<24} {seconds:7.2f} s  peak RSS {peak / 1024:7.1f} MiB  | "
                f"scored file {size / 2**20:.0f} MiB, output {os.path.getsize(out) / 2**20:.0f} MiB"
            )
            with open(out, "rb") as f:
                outputs.append(f.read())
        # Spilled, the documents come bucket by bucket: the same lines in another order.
        print(
            "spilled output has the same documents:",
            sorted(outputs[0].splitlines()) == sorted(outputs[1].splitlines()),
        )
        if baseline:
            print("outputs identical to the baseline's:", outputs[0] == outputs[2])


if __name__ == "__main__":
    main()
