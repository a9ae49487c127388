"""Type stubs of ``creditflow._creditflow``, the Rust extension (python/src/lib.rs)."""

import os
from typing import Any, final

import pyarrow as pa

__version__: str
"""The package version."""

GPU: bool
"""Whether this build has the GPU path (the ``gpu`` feature)."""

@final
class Scored:
    """The results of one scoring call, held on the Rust side."""

    def tables(self) -> dict[str, pa.Table]:
        """The §6 tables: messages, agents, episodes, errors, games."""

    def records_json(self) -> list[str]:
        """One JSON text per record, as ``creditflow score`` writes them, in input order."""

    def pairs_json(self) -> list[str]:
        """The preference pairs (TRL conversational format) as JSON texts."""

    def arrays(self) -> dict[str, Any]:
        """The numbers as numpy arrays with CSR offsets, and the agent credit matrix."""

    def summary(self) -> dict[str, Any]:
        """Counts, methods, flags, Monte Carlo samples, backend and elapsed seconds."""

    def summary_text(self) -> str:
        """The summary as the command line prints it."""

    def __len__(self) -> int:
        """The number of records scored (episodes, games and bad records)."""

def score_arrow(data: Any, options: dict[str, Any] | None = None) -> Scored:
    """Scores §2.4 rows from a pyarrow Table, RecordBatch or RecordBatchReader."""

def score_jsonl(data: bytes, options: dict[str, Any] | None = None) -> Scored:
    """Scores JSON Lines text (records of DESIGN §2.1–2.2)."""

def score_file(
    path: str | os.PathLike[str],
    format: str = "auto",
    options: dict[str, Any] | None = None,
) -> Scored:
    """Scores a JSONL or Parquet file (``format``: auto, jsonl or parquet)."""

def import_traces(
    paths: list[str], options: dict[str, Any] | None = None
) -> tuple[list[str], list[str]]:
    """OTLP/JSON traces → episode records as JSON texts, and the skipped parts."""

def options() -> list[dict[str, Any]]:
    """The option table's rows taken by Python: name, kind, values, default, doc,
    functions."""

def read_scored(path: str | os.PathLike[str]) -> list[str]:
    """The records ``creditflow score`` wrote (JSON Lines or Parquet), checked, as JSON
    texts."""

def input_schema() -> pa.Schema:
    """The Arrow schema of the §2.4 input rows."""
