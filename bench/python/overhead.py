#!/usr/bin/env python3
"""Python overhead over the library (issue: Python and Ray, target <= 10%).

Scores one batch of chats, held in memory as an Arrow table, two ways, alternately, in
one run: the Rust library (`cargo bench --bench arrow_library`: Arrow batches ->
`columnar::score_batches` -> the §6 tables) and the Python package
(`creditflow.score(table)` and the four tables). Prints each round and the medians.

Needs the package built in release mode (`pip install ./python`).

    python3 bench/python/overhead.py [--episodes 100000] [--agents 3] [--messages 20]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import tempfile
import time

import pyarrow.parquet as pq

import creditflow
from common import ROOT, generate

# The library with the features of the Python package (no GPU), so both sides run the
# same code.
FEATURES = ["--no-default-features", "--features", "parquet"]


def library(path: pathlib.Path) -> float:
    out = subprocess.run(
        ["cargo", "bench", "-q", *FEATURES, "--bench", "arrow_library", "--", str(path), "1"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["median_s"]


def python(path: pathlib.Path) -> float:
    table = pq.read_table(path)
    t = time.perf_counter()
    result = creditflow.score(table)
    for name in ("messages", "agents", "episodes", "errors"):
        getattr(result, name)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=100_000)
    ap.add_argument("--agents", type=int, default=3)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--topology", default="prefix")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "batch.parquet"
        generate(path, args.episodes, args.agents, args.messages, args.topology)
        subprocess.run(
            ["cargo", "build", "-q", "--release", *FEATURES, "--bench", "arrow_library"],
            cwd=ROOT,
            check=True,
        )
        lib, py = [], []
        for r in range(args.rounds):
            lib.append(library(path))
            py.append(python(path))
            print(f"round {r}: library {lib[-1]:.3f} s, python {py[-1]:.3f} s")
        ml, mp = statistics.median(lib), statistics.median(py)
        print(
            f"| {args.episodes} episodes, {args.agents} agents x {args.messages} messages "
            f"({args.topology}) | {ml:.3f} s | {mp:.3f} s | {100 * (mp / ml - 1):+.1f}% |"
        )


if __name__ == "__main__":
    main()
