"""Shared helpers of the Python benchmarks: the release binary and generated batches."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parents[2]


def binary() -> str:
    """The release command line (built when missing)."""
    path = os.environ.get("CREDITFLOW_BIN") or str(ROOT / "target/release/creditflow")
    if not pathlib.Path(path).exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "creditflow"], cwd=ROOT, check=True)
    return path


def generate(path: pathlib.Path, episodes: int, agents: int, messages: int, topology: str) -> None:
    """Writes a synthetic batch as §2.4 Parquet rows."""
    if path.exists():
        return
    subprocess.run(
        [
            binary(),
            "gen",
            "--episodes",
            str(episodes),
            "--agents",
            str(agents),
            "--messages",
            str(messages),
            "--topology",
            topology,
            "--seed",
            "7",
            "-o",
            str(path),
        ],
        check=True,
    )


def split_by_episode(table: pa.Table, parts: int) -> list[pa.Table]:
    """Cuts a table into `parts` slices at episode boundaries."""
    ids = table["episode_id"].to_pylist()
    starts = [0] + [k for k in range(1, len(ids)) if ids[k] != ids[k - 1]]
    cuts = [starts[len(starts) * p // parts] for p in range(parts)] + [len(ids)]
    return [table.slice(a, b - a) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def write_parts(table: pa.Table, directory: pathlib.Path, parts: int) -> None:
    """Writes `parts` Parquet files of whole episodes into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for k, part in enumerate(split_by_episode(table, parts)):
        pq.write_table(part, directory / f"part-{k:03}.parquet")
