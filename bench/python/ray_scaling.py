#!/usr/bin/env python3
"""Ray Data scaling: one worker vs two on a local Ray cluster (target: >= 1.6x).

Writes a generated batch as Parquet files of whole episodes, then scores it with
`creditflow.ray.Scorer` through `map_batches` (whole blocks, one scoring thread per
worker) with concurrency 1 and 2, alternately, in one run; prints each round and the
median ratio. Needs the package built in release mode (`pip install ./python`) and
`ray[data]`.

    python3 bench/python/ray_scaling.py [--episodes 20000] [--files 8]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time

import pyarrow.parquet as pq
import ray

from common import generate, write_parts
from creditflow.ray import Scorer

# Ray 2.60 packs small Parquet files into one block; one block per file, as big files
# would give, lets the workers share the batch.
os.environ.setdefault("RAY_DATA_PARQUET_BIN_PACKING_BYTES", "1")


def run(directory: pathlib.Path, workers: int, options: dict, files: int) -> float:
    t = time.perf_counter()
    ds = ray.data.read_parquet(str(directory), override_num_blocks=files)
    out = ds.map_batches(
        Scorer,
        fn_constructor_kwargs={"threads": 1, **options},
        batch_format="pyarrow",
        batch_size=None,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=0.5,
    ).materialize()
    assert out.count() > 0
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=20_000)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    options = {"method": "permutation", "samples": args.samples}
    with tempfile.TemporaryDirectory() as d:
        whole = pathlib.Path(d) / "batch.parquet"
        generate(whole, args.episodes, args.agents, args.messages, "prefix")
        parts = pathlib.Path(d) / "parts"
        write_parts(pq.read_table(whole), parts, args.files)
        # Two scoring actors of half a nominal CPU each leave the reading tasks room (a
        # pool that takes every CPU can wait forever for the Parquet listing); each
        # actor scores with one thread, so two actors use the two cores.
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        run(parts, 2, options, args.files)  # warm-up: worker start, imports
        one, two = [], []
        for r in range(args.rounds):
            one.append(run(parts, 1, options, args.files))
            two.append(run(parts, 2, options, args.files))
            print(f"round {r}: 1 worker {one[-1]:.2f} s, 2 workers {two[-1]:.2f} s")
        ray.shutdown()
        m1, m2 = statistics.median(one), statistics.median(two)
        print(
            f"| {args.episodes} episodes, {args.agents} agents x {args.messages} messages, "
            f"{args.samples} permutations, {args.files} files | {m1:.2f} s | {m2:.2f} s | "
            f"{m1 / m2:.2f}x |"
        )


if __name__ == "__main__":
    main()
