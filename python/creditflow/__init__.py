"""creditflow: who gets the reward and who gets the blame in a multi-agent LLM episode.

Score a batch of episodes and get Shapley credit per agent, Owen credit per message, the
first error of failed episodes and per-message training rewards, as Arrow tables or
numpy arrays::

    import creditflow
    result = creditflow.score(table)          # a pyarrow Table in the schema of §2.4
    result.messages                           # episode_id, message_id, agent, index,
                                              # credit, se, reward
    rewards = creditflow.token_rewards(result, ends, length=512)

The numbers are those of the ``creditflow score`` command line for the same records and
options, whatever the batching: the random stream of every record is keyed by its id.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Mesa's Vulkan device-select layer connects to a Wayland display when one is
# configured and prints `error: XDG_RUNTIME_DIR is invalid or not set` on headless
# machines; it chooses nothing for compute work, so it is left out there (before the
# extension could load a Vulkan driver). A user's own setting wins.
if not any(
    os.environ.get(k)
    for k in ("XDG_RUNTIME_DIR", "WAYLAND_DISPLAY", "MESA_VK_DEVICE_SELECT", "NODEVICE_SELECT")
):
    os.environ["NODEVICE_SELECT"] = "1"

from . import _creditflow  # noqa: E402 (after the environment above)
from ._creditflow import __version__  # noqa: E402

__all__ = [
    "DEFAULTS",
    "GPU",
    "OPTIONS",
    "Result",
    "import_traces",
    "input_schema",
    "read_scored",
    "score",
    "token_rewards",
    "__version__",
]

#: The option table (generated from the library's, one dict per option): name, kind,
#: values, default, doc and the functions that take it.
OPTIONS: list[dict[str, Any]] = _creditflow.options()

#: Every option of :func:`score` with its default (the command line's).
DEFAULTS: dict[str, Any] = {o["name"]: o["default"] for o in OPTIONS if "score" in o["functions"]}

#: Whether this build has the GPU path (the ``gpu`` feature).
GPU: bool = _creditflow.GPU


def input_schema() -> pa.Schema:
    """The Arrow schema of the input rows (DESIGN §2.4): one row per message."""
    return _creditflow.input_schema()


def _is_arrow(x: Any) -> bool:
    return isinstance(x, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)) or hasattr(
        x, "__arrow_c_stream__"
    )


def import_traces(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    strict: bool = False,
    **options: Any,
) -> list[dict[str, Any]]:
    """Reads OpenTelemetry traces (OTLP/JSON; GenAI conventions or OpenInference) into
    episode records, one per trace, ready for :func:`score` (DESIGN §2.5, the mapping in
    docs/traces.md); the same as ``creditflow import``.

    ``paths``: files (a document, concatenated documents or JSON Lines of them) and
    directories, spans and evaluation log records grouped by trace id across all of them.
    The options are those of the option table taken by ``import_traces`` (see
    :data:`OPTIONS`): ``evaluation`` picks the ``gen_ai.evaluation.result`` that becomes
    message scores, ``label_score`` maps labels to numbers (a dict), ``score_range``
    rescales values onto [-1, 1] (a pair), ``outcome_evaluation`` / ``outcomes`` (a JSON
    Lines file keyed by trace id) / ``reward`` give R. A broken document, span or trace is
    skipped with a ``UserWarning`` naming file, trace, span and field; ``strict=True``
    raises ``ValueError`` instead.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    for key in ("outcomes",):
        if isinstance(options.get(key), os.PathLike):
            options[key] = os.fspath(options[key])
    episodes, errors = _creditflow.import_traces([os.fspath(p) for p in paths], options)
    skipped = [e for e in errors if e.startswith("skipped: ")]
    if skipped and strict:
        raise ValueError(f"{len(skipped)} parts could not be imported: " + "; ".join(skipped))
    for e in errors:
        warnings.warn(f"import_traces: {e}", stacklevel=2)
    return [json.loads(e) for e in episodes]


def read_scored(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records that ``creditflow score`` wrote to ``path`` (JSON Lines, or the §6
    Parquet tables of ``out.parquet``), read and checked by the library's one reader of
    its own output: episodes, games and error records, as the dicts of
    :meth:`Result.to_records`. A record that is not what ``score`` writes is a
    ``ValueError`` naming the file, the line (or row) and the field."""
    return [json.loads(r) for r in _creditflow.read_scored(os.fspath(path))]


def score(
    records: Any,
    *,
    format: str = "auto",
    **options: Any,
) -> Result:
    """Scores a batch of episodes (and game records).

    ``records`` is one of:

    - a list (or any iterable) of dicts, the JSONL records of DESIGN §2.1–2.2;
    - a ``pyarrow.Table``, ``RecordBatch`` or ``RecordBatchReader`` in the row schema of
      §2.4 (one row per message; read without copying through the Arrow C interface);
    - a path (``str`` or ``os.PathLike``) to a JSONL or Parquet file (``format``: auto,
      jsonl or parquet; auto decides by extension);
    - ``bytes``: JSON Lines text.

    Options are the rows of the option table taken by ``score`` (see :data:`OPTIONS`
    and :data:`DEFAULTS`): the command-line flags with underscores (``samples=``,
    ``message_credit=``, ``target_se=``, ...), with the same defaults and checks: a bad
    value is a ``ValueError`` naming the option, an unknown one a ``TypeError``. A bad
    record is a row of ``result.errors`` (as in the command line's output), or with
    ``strict=True`` a ``ValueError``. Scoring releases the GIL and runs on ``threads``
    workers (default: every core).
    """
    group_ids = None
    if _is_arrow(records):
        if isinstance(records, pa.Table) and "group_id" in records.column_names:
            group_ids = records.select(["episode_id", "group_id"])
        scored = _creditflow.score_arrow(records, options)
    elif isinstance(records, (str, os.PathLike)):
        scored = _creditflow.score_file(os.fspath(records), format, options)
    elif isinstance(records, (bytes, bytearray, memoryview)):
        scored = _creditflow.score_jsonl(bytes(records), options)
    elif isinstance(records, Mapping):
        raise TypeError("score() takes a list of records; wrap a single record in a list")
    elif isinstance(records, Iterable):
        lines = []
        for k, r in enumerate(records):
            if not isinstance(r, Mapping):
                raise TypeError(f"record {k}: expected a dict, got {type(r).__name__}")
            lines.append(json.dumps(r, separators=(",", ":")))
        data = ("\n".join(lines) + "\n").encode() if lines else b""
        scored = _creditflow.score_jsonl(data, options)
    else:
        raise TypeError(
            "score() takes a list of dicts, a pyarrow Table / RecordBatch / "
            f"RecordBatchReader, a path or bytes; got {type(records).__name__}"
        )
    result = Result(scored, group_ids)
    s = result.summary
    if s["records"] > 0 and s["errors"] == s["records"]:
        first = result.errors["error"][0].as_py()
        warnings.warn(
            f"every one of the {s['records']} records was bad (see result.errors); "
            f"the first: {first}",
            stacklevel=2,
        )
    return result


class Result:
    """The results of :func:`score`.

    ``messages``, ``agents``, ``episodes``, ``errors`` and ``games`` are pyarrow Tables
    (DESIGN §6); :meth:`to_records` gives the list of dicts the command line writes.
    """

    def __init__(self, scored: Any, group_ids: pa.Table | None = None) -> None:
        self._scored = scored
        self._tables: dict[str, pa.Table] | None = None
        self._group_ids = group_ids

    def _table(self, name: str) -> pa.Table:
        if self._tables is None:
            self._tables = self._scored.tables()
        return self._tables[name]

    @property
    def messages(self) -> pa.Table:
        """One row per message with an agent: episode_id, message_id, agent, index
        (0-based position in the episode), credit, se, reward (the training reward)."""
        return self._table("messages")

    @property
    def agents(self) -> pa.Table:
        """One row per agent: episode_id, agent, credit, se."""
        return self._table("agents")

    @property
    def episodes(self) -> pa.Table:
        """One row per episode: episode_id, branch, reward, baseline, method, samples,
        flags, first_error_index, first_error_message, first_error_agent,
        first_error_method."""
        return self._table("episodes")

    @property
    def errors(self) -> pa.Table:
        """One row per bad record: episode_id, line (the row for Arrow or Parquet
        input), field, kind, error."""
        return self._table("errors")

    @property
    def games(self) -> pa.Table:
        """One row per player of each game record: game_id, method, samples, player,
        shapley, se."""
        return self._table("games")

    @property
    def summary(self) -> dict[str, Any]:
        """Counts, methods, flags, Monte Carlo samples, backend and seconds."""
        return self._scored.summary()

    def to_records(self) -> list[dict[str, Any]]:
        """The output records as the command line writes them, in input order."""
        return [json.loads(line) for line in self._scored.records_json()]

    def pairs(self) -> list[dict[str, Any]]:
        """Preference pairs (TRL conversational format); needs ``pairs=True``."""
        return [json.loads(line) for line in self._scored.pairs_json()]

    def arrays(self) -> dict[str, Any]:
        """The numbers as numpy arrays: per-agent and per-message values with CSR
        offsets (``agent_offsets[e]:agent_offsets[e+1]`` are episode ``e``'s agents),
        per-episode reward, baseline and first error (-1 for none), and
        ``agent_matrix``, the dense episodes x agents credit (NaN past an episode's
        agents)."""
        return self._scored.arrays()

    def agent_matrix(self) -> tuple[list[str], np.ndarray]:
        """The agents' names and the episodes x agents credit matrix: one column per
        distinct agent name of the batch (in order of first appearance), one row per
        episode (the order of :attr:`episodes`), NaN where the agent is not in the
        episode — so batches with different rosters line up by name.

        ``names, m = result.agent_matrix()``; ``m[:, names.index("coder")]`` is the
        coder's credit in every episode. (``arrays()["agent_matrix"]`` is the positional
        form: each episode's agents in its own order.)"""
        a = self._scored.arrays()
        offsets = a["agent_offsets"].astype(np.int64)
        agents = self.agents["agent"].to_pylist()
        index: dict[str, int] = {}
        cols = np.fromiter((index.setdefault(n, len(index)) for n in agents), np.int64, len(agents))
        rows = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        m = np.full((len(offsets) - 1, len(index)), np.nan)
        m[rows, cols] = a["agent_credit"]
        return list(index), m

    def group_stats(self, groups: pa.Table | None = None) -> pa.Table:
        """Credit statistics per (group, agent) for per-agent advantage normalisation
        (GRPO groups): group_id, agent, mean, std (population), count.

        ``groups`` maps episodes to groups (columns ``episode_id``, ``group_id``); by
        default the ``group_id`` column of the scored Arrow table.
        """
        agents = self._with_groups(groups)
        return (
            agents.group_by(["group_id", "agent"])
            .aggregate(
                [
                    ("credit", "mean"),
                    ("credit", "stddev", pc.VarianceOptions(ddof=0)),
                    ("credit", "count"),
                ]
            )
            .rename_columns(["group_id", "agent", "mean", "std", "count"])
        )

    def advantages(self, groups: pa.Table | None = None, eps: float = 1e-6) -> pa.Table:
        """The agents table with ``group_id`` and ``advantage``: each agent's credit
        normalised within its (group, agent) cell, (credit - mean) / (std + eps)."""
        agents = self._with_groups(groups)
        stats = self.group_stats(groups)
        cell = {
            (g, a): (m, sd)
            for g, a, m, sd in zip(
                stats["group_id"].to_pylist(),
                stats["agent"].to_pylist(),
                stats["mean"].to_pylist(),
                stats["std"].to_pylist(),
                strict=True,
            )
        }
        adv = [
            (c - cell[(g, a)][0]) / (cell[(g, a)][1] + eps)
            for g, a, c in zip(
                agents["group_id"].to_pylist(),
                agents["agent"].to_pylist(),
                agents["credit"].to_pylist(),
                strict=True,
            )
        ]
        return agents.append_column("advantage", pa.array(adv, pa.float64()))

    def _with_groups(self, groups: pa.Table | None) -> pa.Table:
        groups = groups if groups is not None else self._group_ids
        if groups is None:
            raise ValueError(
                "no groups: score an Arrow table with a group_id column, or pass "
                "groups=pa.table({'episode_id': [...], 'group_id': [...]})"
            )
        g = groups.select(["episode_id", "group_id"])
        ids = g["episode_id"].cast(pa.string()).to_pylist()
        gid = g["group_id"].to_pylist()
        lookup: dict[str, Any] = {}
        for e, k in zip(ids, gid, strict=True):
            lookup.setdefault(e, k)
        agents = self.agents
        col = [lookup.get(e) for e in agents["episode_id"].to_pylist()]
        return agents.append_column("group_id", pa.array(col))

    def __len__(self) -> int:
        return len(self._scored)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"<creditflow.Result: {s['episodes']} episodes, {s['games']} games, "
            f"{s['errors']} errors>"
        )


def _position(e: Any, m: Any, pos: Any) -> int | None:
    """A token position: an integer (numpy's too), or None / negative for absent."""
    if pos is None:
        return None
    if isinstance(pos, (bool, np.bool_)) or not isinstance(pos, (int, np.integer)):
        raise TypeError(
            f"episode {e!r}, message {m!r}: a token position must be an integer or None, "
            f"got {pos!r} ({type(pos).__name__})"
        )
    pos = int(pos)
    return None if pos < 0 else pos


def token_rewards(
    messages: Result | pa.Table,
    ends: Sequence[Mapping[Any, int] | Sequence[int | None]],
    length: int,
    *,
    episodes: Sequence[str] | None = None,
    column: str = "reward",
) -> np.ndarray:
    """Scatters per-message rewards onto each turn's last token.

    Returns a ``(len(ends), length)`` float32 array, zero except at the last token of
    each scored message, which holds that message's ``column`` (``reward``: the
    training reward; or ``credit``) — the token-level reward tensor of a trainer
    (verl's ``rm_scores``, per-step rewards in OpenRLHF or SkyRL).

    - ``messages``: a :class:`Result` or its ``messages`` table.
    - ``ends[b]``: for batch row ``b``, where each message's turn ends in the token
      sequence: a list indexed by the message's position in the episode (``index``),
      with an entry for every message (``None`` or a negative position for messages
      that are not in the sequence, e.g. other agents' turns); or a dict from message id
      to position (messages it leaves out are not in the sequence).
    - ``episodes[b]``: the episode id of batch row ``b`` (default: the result's
      episodes in input order, or for a bare messages table the episodes in its order).

    Nothing is silently dropped: an episode id that is not in the result is a
    ``KeyError`` naming it, a list shorter than its episode's messages or a dict naming a
    message the episode does not have is a ``ValueError``, a position that is not an
    integer a ``TypeError``, and a position outside ``0..length`` a ``ValueError``. Two
    messages ending on one token add up.
    """
    table = messages.messages if isinstance(messages, Result) else messages
    ep = table["episode_id"].to_pylist()
    if isinstance(messages, Result):
        known = messages.episodes["episode_id"].to_pylist()
        bad = {
            e: err
            for e, err in zip(
                messages.errors["episode_id"].to_pylist(),
                messages.errors["error"].to_pylist(),
                strict=True,
            )
            if e is not None
        }
    else:
        known = list(dict.fromkeys(ep))
        bad = {}
    if episodes is None:
        episodes = known
    if len(episodes) != len(ends):
        raise ValueError(f"{len(ends)} rows of ends for {len(episodes)} episodes")
    known_set = set(known)
    for e in episodes:
        if e not in known_set:
            why = f": it was a bad record ({bad[e]})" if e in bad else ""
            raise KeyError(f"episode {e!r} is not among the scored episodes{why}")
    row_of = {e: b for b, e in enumerate(episodes)}
    mid = table["message_id"].to_pylist()
    idx = table["index"].to_pylist()
    val = table[column].to_numpy()
    # Each episode's messages: the positions a list must cover, the ids a dict may name.
    last_index: dict[Any, int] = {}
    ids_of: dict[Any, set[Any]] = {}
    for e, m, i in zip(ep, mid, idx, strict=True):
        last_index[e] = max(last_index.get(e, -1), i)
        ids_of.setdefault(e, set()).add(m)
    for e, b in row_of.items():
        where = ends[b]
        if isinstance(where, Mapping):
            unknown = set(where) - ids_of.get(e, set())
            if unknown:
                raise ValueError(
                    f"episode {e!r}: ends[{b}] names messages the episode does not have: "
                    f"{sorted(map(str, unknown))[:5]}"
                )
        elif len(where) <= last_index.get(e, -1):
            raise ValueError(
                f"episode {e!r}: ends[{b}] has {len(where)} positions but the episode's "
                f"messages reach index {last_index[e]}; mark messages that are not in the "
                "sequence with None"
            )
    rows, cols, vals = [], [], []
    for k, (e, m, i) in enumerate(zip(ep, mid, idx, strict=True)):
        b = row_of.get(e)
        if b is None:
            continue
        where = ends[b]
        raw = where.get(m) if isinstance(where, Mapping) else where[i]
        pos = _position(e, m, raw)
        if pos is None:
            continue
        if pos >= length:
            raise ValueError(
                f"episode {e!r}, message {m!r}: token position {pos} is past the length {length}"
            )
        rows.append(b)
        cols.append(pos)
        vals.append(val[k])
    out = np.zeros((len(ends), length), dtype=np.float32)
    np.add.at(
        out,
        (np.asarray(rows, dtype=np.intp), np.asarray(cols, dtype=np.intp)),
        np.asarray(vals, dtype=np.float32),
    )
    return out
