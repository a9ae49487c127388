"""Shared fixtures of the Python test suite.

The command line is found through the ``CREDITFLOW_BIN`` environment variable (set by
``./run-tests``) or ``creditflow`` on ``PATH``. Without it the tests that
compare against it are skipped, loudly, unless ``CREDITFLOW_REQUIRE_PYTHON=1``, where
they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import creditflow

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "episodes.jsonl"


def required() -> bool:
    """Whether missing optional pieces (the CLI, Ray) are failures rather than skips."""
    return os.environ.get("CREDITFLOW_REQUIRE_PYTHON") == "1"


def missing(what: str) -> None:
    """Skips the test loudly, or fails it under CREDITFLOW_REQUIRE_PYTHON=1."""
    message = f"!!!!!! SKIPPED: {what}"
    if required():
        pytest.fail(f"{what} (CREDITFLOW_REQUIRE_PYTHON=1)")
    pytest.skip(message)


def cli_path() -> str | None:
    """The creditflow binary to compare against, if there is one."""
    return os.environ.get("CREDITFLOW_BIN") or shutil.which("creditflow")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON Lines file."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def is_episode(record: Mapping[str, Any]) -> bool:
    """Whether a JSONL record is an episode (not a game)."""
    return "game" not in record


def episodes_to_table(records: Iterable[Mapping[str, Any]]) -> pa.Table:
    """The §2.4 rows of episode records (DESIGN §2.1): one row per message, the
    outcome repeated on every row, ``agents`` and ``coalition_values`` on the first row;
    a message without ``parents`` gets a null list (filled by provenance)."""
    rows: list[dict[str, Any]] = []
    for record in records:
        outcome = record.get("outcome") or {}
        for k, m in enumerate(record["messages"]):
            first = k == 0
            rows.append(
                {
                    "episode_id": record["id"],
                    "message_id": m.get("id"),
                    "agent": m.get("agent"),
                    "parents": m.get("parents"),
                    "score": m.get("score"),
                    "group": m.get("group"),
                    "final": m.get("final"),
                    "text": m.get("text"),
                    "reward": outcome.get("reward"),
                    "baseline": outcome.get("baseline"),
                    "success": outcome.get("success"),
                    "alternatives": m.get("alternatives"),
                    "coalition_values": record.get("coalition_values") if first else None,
                    "agents": record.get("agents") if first else None,
                }
            )
    return pa.Table.from_pylist(rows, schema=creditflow.input_schema())


def episode_starts(table: pa.Table) -> list[int]:
    """The row where each episode of a §2.4 table starts."""
    ids = table["episode_id"].to_pylist()
    return [k for k in range(len(ids)) if k == 0 or ids[k] != ids[k - 1]]


def split_episodes(table: pa.Table, cuts: Sequence[int]) -> list[pa.Table]:
    """Slices of a §2.4 table, cut before the episodes numbered ``cuts``."""
    starts = episode_starts(table) + [table.num_rows]
    bounds = [0] + [starts[c] for c in cuts] + [table.num_rows]
    return [table.slice(a, b - a) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def table_rows(table: pa.Table) -> list[dict[str, Any]]:
    """A table's rows, for comparisons that name the first difference."""
    return table.to_pylist()


def assert_tables_equal(got: pa.Table, want: pa.Table, what: str = "") -> None:
    """Equal column names, types and values (exact floats); nullability aside."""
    assert got.column_names == want.column_names, what
    for name in want.column_names:
        assert got.schema.field(name).type == want.schema.field(name).type, (what, name)
    assert got.num_rows == want.num_rows, what
    if not got.equals(want.cast(got.schema)):
        for k, (a, b) in enumerate(zip(table_rows(got), table_rows(want), strict=True)):
            assert a == b, f"{what}: row {k} differs"
        raise AssertionError(f"{what}: tables differ")


RESULT_TABLES = ("messages", "agents", "episodes", "errors", "games")


def assert_results_equal(got: creditflow.Result, want: creditflow.Result, what: str) -> None:
    """Every table of two results equal."""
    for name in RESULT_TABLES:
        assert_tables_equal(getattr(got, name), getattr(want, name), f"{what}: {name}")


@pytest.fixture(scope="session")
def cli() -> Callable[..., str]:
    """Runs the creditflow command line; returns its standard output."""
    path = cli_path()
    if path is None:
        missing("the creditflow binary is needed: set CREDITFLOW_BIN or put it on PATH")

    def run(*args: Any) -> str:
        proc = subprocess.run(
            [path, *(str(a) for a in args)], capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, f"creditflow {' '.join(map(str, args))}:\n{proc.stderr}"
        return proc.stdout

    return run


@pytest.fixture(scope="session")
def gen(cli, tmp_path_factory) -> Callable[..., Path]:
    """Writes (once per session and argument set) a synthetic batch with
    ``creditflow gen``: ``gen("parquet", episodes=30, topology="dag", seed=1)``."""
    made: dict[tuple[Any, ...], Path] = {}

    def make(
        fmt: str = "parquet",
        *,
        episodes: int = 24,
        agents: int = 4,
        messages: int = 8,
        topology: str = "dag",
        seed: int = 0,
    ) -> Path:
        key = (fmt, episodes, agents, messages, topology, seed)
        if key not in made:
            name = f"gen-{topology}-{episodes}x{agents}x{messages}-s{seed}.{fmt}"
            path = tmp_path_factory.mktemp("gen") / name
            cli(
                "gen",
                "--episodes",
                episodes,
                "--agents",
                agents,
                "--messages",
                messages,
                "--topology",
                topology,
                "--seed",
                seed,
                "-o",
                path,
            )
            made[key] = path
        return made[key]

    return make


@pytest.fixture(scope="session")
def examples() -> list[dict[str, Any]]:
    """The records of examples/episodes.jsonl (5 episodes, 2 games, 1 bad record)."""
    return read_jsonl(EXAMPLES)
