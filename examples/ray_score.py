"""Score Parquet episodes on Ray Data with ``creditflow.ray.Scorer``.

Usage::

    python examples/ray_score.py IN_DIR_OR_FILE.parquet OUT_DIR [--workers N] [--samples S]
    python examples/ray_score.py --demo OUT_DIR [--workers N] [--samples S]

``IN`` is a Parquet file, or a directory of them, of rows in the schema of DESIGN §2.4
(one row per message; ``creditflow gen -o x.parquet`` and ``creditflow import -o
x.parquet`` write it). The script reads it with ``ray.data.read_parquet``, scores every
block with a pool of ``--workers`` ``Scorer`` actors (``map_batches`` with
``batch_size=None``: one call per whole block), writes the messages table (episode_id,
message_id, agent, index, credit, se, reward) as Parquet files in ``OUT_DIR`` and prints
a one-line summary. The numbers equal one-process ``creditflow.score`` of the same rows
(every record's random stream is keyed by its id), however Ray spreads the blocks.

``--demo`` makes its own input: it runs ``creditflow gen`` (the binary named by the
``CREDITFLOW_BIN`` environment variable, else ``creditflow`` on ``PATH``) for
``--episodes`` synthetic episodes, splits them into ``--files`` Parquet files at episode
boundaries in a temporary directory, and scores those (files this small Ray reads as
one block, so one worker does the work).

Each episode's rows must reach one call whole, contiguous and in message order. Ray
never splits a block here, but it decides what a block is: Ray 2.60 packs small files
into one block and cuts a big file (over ``RAY_DATA_PARQUET_BIN_PACKING_BYTES``, 128 MiB
by default) at row-group boundaries. So write files of whole episodes whose row groups
also end at episode boundaries (a file of one row group is always safe).

Ray: a local one is started unless one is running (``RAY_ADDRESS`` joins a cluster).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import ray
import ray.data

from creditflow.ray import Scorer


def find_cli() -> str:
    """The creditflow command line: $CREDITFLOW_BIN, else creditflow on PATH."""
    path = os.environ.get("CREDITFLOW_BIN") or shutil.which("creditflow")
    if not path:
        raise SystemExit("--demo needs the creditflow binary: set CREDITFLOW_BIN or PATH")
    return path


def episode_starts(table: pa.Table) -> list[int]:
    """The row where each episode of a §2.4 table starts."""
    ids = table["episode_id"]
    if ids.null_count:
        raise ValueError("a row has no episode_id")
    ids = ids.to_pylist()
    return [k for k in range(len(ids)) if k == 0 or ids[k] != ids[k - 1]]


def write_episode_files(table: pa.Table, out_dir: Path, files: int) -> list[Path]:
    """Writes ``table`` as ``files`` Parquet files of whole episodes (one row group
    each) and returns their paths."""
    starts = episode_starts(table)
    files = max(1, min(files, len(starts)))
    bounds = [starts[len(starts) * k // files] for k in range(files)] + [table.num_rows]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(files):
        part = table.slice(bounds[k], bounds[k + 1] - bounds[k])
        path = out_dir / f"part-{k:03d}.parquet"
        pq.write_table(part, path, row_group_size=max(1, part.num_rows))
        paths.append(path)
    return paths


def make_demo_input(
    out_dir: Path, *, episodes: int = 60, files: int = 3, seed: int = 0, cli: str | None = None
) -> list[Path]:
    """Generates a synthetic batch with ``creditflow gen`` and writes it to ``out_dir``
    as ``files`` Parquet files of whole episodes."""
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "generated.parquet"
        command = [cli or find_cli(), "gen", "--episodes", str(episodes), "--agents", "4"]
        command += ["--messages", "12", "--topology", "dag", "--seed", str(seed)]
        subprocess.run([*command, "-o", str(generated)], check=True)
        return write_episode_files(pq.read_table(generated), out_dir, files)


def score_parquet(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    workers: int | None = None,
    threads: int | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Scores the §2.4 rows under ``source`` on Ray Data, writes the messages table to
    ``out_dir`` and returns a summary. ``options`` are ``creditflow.score`` options."""
    if any(Path(out_dir).glob("*.parquet")):
        raise FileExistsError(f"{os.fspath(out_dir)} already holds Parquet files")
    started = time.perf_counter()
    ds = ray.data.read_parquet(os.fspath(source))
    workers, per_worker = actor_pool(workers)
    scored = ds.map_batches(
        Scorer,
        fn_constructor_kwargs={"output": "messages", "threads": threads, **options},
        batch_format="pyarrow",
        batch_size=None,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=per_worker,
    )
    scored.write_parquet(os.fspath(out_dir))
    written = sorted(Path(out_dir).glob("*.parquet"))
    ids = pq.read_table(written, columns=["episode_id"])["episode_id"] if written else None
    return {
        "episodes": len(pc.unique(ids)) if ids is not None else 0,
        "messages": len(ids) if ids is not None else 0,
        "files": len(written),
        "workers": workers,
        "seconds": time.perf_counter() - started,
        "out": os.fspath(out_dir),
    }


def actor_pool(workers: int | None = None) -> tuple[int, float]:
    """Actors and CPUs per actor that leave a CPU for Ray's own read tasks: on Ray 2.60
    an actor pool that asks for every CPU waits forever for the Parquet listing (on 2
    CPUs: one actor of one CPU; never more than the cluster minus one)."""
    cpus = ray.cluster_resources().get("CPU", 1.0)
    if workers is None:
        workers = max(1, int(cpus) - 1)
    return workers, min(1.0, max(cpus - 1.0, 0.5) / workers)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description="Score Parquet episodes on Ray Data with creditflow.ray.Scorer."
    )
    parser.add_argument("paths", nargs="+", help="IN OUT_DIR, or OUT_DIR with --demo")
    parser.add_argument("--demo", action="store_true", help="generate the input")
    parser.add_argument(
        "--workers", type=int, help="Scorer actors (default: the CPUs less one, at least 1)"
    )
    parser.add_argument("--samples", type=int, help="Monte Carlo permutations per record")
    parser.add_argument("--method", help="estimator: auto, exact, permutation, closed-form")
    parser.add_argument("--threads", type=int, help="threads per actor (default: all cores)")
    parser.add_argument("--episodes", type=int, default=60, help="--demo: episodes")
    parser.add_argument("--files", type=int, default=3, help="--demo: input files")
    args = parser.parse_args(argv)
    if len(args.paths) != (1 if args.demo else 2):
        parser.error("expected IN OUT_DIR, or --demo OUT_DIR")
    options = {
        k: v for k, v in (("samples", args.samples), ("method", args.method)) if v is not None
    }

    if args.demo:
        find_cli()  # before starting a cluster: say what is missing first
    started_ray = not ray.is_initialized()
    if started_ray:
        ray.init()
    try:
        if args.demo:
            with tempfile.TemporaryDirectory() as tmp:
                make_demo_input(Path(tmp), episodes=args.episodes, files=args.files)
                summary = score_parquet(
                    tmp, args.paths[0], workers=args.workers, threads=args.threads, **options
                )
        else:
            summary = score_parquet(
                args.paths[0], args.paths[1], workers=args.workers, threads=args.threads, **options
            )
    finally:
        if started_ray:
            ray.shutdown()
    print(
        f"scored {summary['episodes']} episodes ({summary['messages']} messages) on "
        f"{summary['workers']} workers in {summary['seconds']:.1f} s: "
        f"{summary['files']} Parquet files in {summary['out']}"
    )
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
