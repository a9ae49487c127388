"""creditflow.score: every input kind gives the command line's numbers; options,
partitioning, numpy arrays, group statistics and the GIL."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import (
    EXAMPLES,
    RESULT_TABLES,
    assert_results_equal,
    assert_tables_equal,
    episodes_to_table,
    is_episode,
    read_jsonl,
    split_episodes,
)

import creditflow

TOPOLOGIES = ["prefix", "dag", "chain", "star"]

#: Option sets compared with the command line: the defaults (exact for 4 agents) and
#: Monte Carlo with a seed, where every record's random stream has to match.
OPTIONS = {
    "defaults": ({}, []),
    "permutation": (
        {"method": "permutation", "samples": 64, "seed": 7},
        ["--method", "permutation", "--samples", "64", "--seed", "7"],
    ),
}


def cli_records(cli, path: Path, tmp_path: Path, flags: list[str]) -> list[dict]:
    out = tmp_path / "cli-out.jsonl"
    cli("score", path, "-o", out, "--backend", "cpu", *flags)
    return read_jsonl(out)


# --- every input kind equals the command line -----------------------------------------


def test_examples_every_input_kind_matches_cli(cli, examples, tmp_path):
    want = cli_records(cli, EXAMPLES, tmp_path, [])
    assert len(want) == 8
    assert want[-1]["id"] == "bad-parent" and want[-1]["line"] == 8
    by_dicts = creditflow.score(examples, backend="cpu")
    assert by_dicts.to_records() == want
    by_path = creditflow.score(EXAMPLES, backend="cpu")
    by_str = creditflow.score(str(EXAMPLES), backend="cpu")
    by_bytes = creditflow.score(EXAMPLES.read_bytes(), backend="cpu")
    for name, r in [("path", by_path), ("str", by_str), ("bytes", by_bytes)]:
        assert r.to_records() == want, name
        assert_results_equal(r, by_dicts, name)
    assert len(by_dicts) == 8
    s = by_dicts.summary
    assert (s["records"], s["episodes"], s["games"], s["errors"]) == (8, 5, 2, 1)
    assert s["successes"] == 4
    assert repr(by_dicts) == "<creditflow.Result: 5 episodes, 2 games, 1 errors>"
    # The command line's Parquet output of the same records: the five tables.
    cli("score", EXAMPLES, "-o", tmp_path / "ex.parquet", "--backend", "cpu")
    for name in RESULT_TABLES:
        path = tmp_path / ("ex.parquet" if name == "messages" else f"ex.{name}.parquet")
        assert_tables_equal(pq.read_table(path), getattr(by_dicts, name), f"cli parquet {name}")


def test_examples_hand_checked_numbers(examples):
    """A few numbers of examples/episodes.jsonl worked out by hand."""
    r = creditflow.score(examples, backend="cpu")
    out = {rec["id"]: rec for rec in r.to_records()}
    # ep-21: measured coalition values v = [0, .3, .2, 1]: φ_p = (.3 + (1 - .2)) / 2.
    agents = {a["agent"]: a["credit"] for a in out["ep-21"]["agents"]}
    assert agents["p"] == pytest.approx(0.55, abs=1e-12)
    assert agents["q"] == pytest.approx(0.45, abs=1e-12)
    # glove game: v = 1 for {0,1}, {0,2}, {0,1,2}: φ = (2/3, 1/6, 1/6).
    assert out["glove"]["shapley"] == pytest.approx([2 / 3, 1 / 6, 1 / 6], abs=1e-12)
    # Möbius game: φ_j = Σ_{T ∋ j} c_T / |T|.
    want = [0.5 / 2, 0.5 / 2 + 0.9 / 3, -0.2 + 0.9 / 3, 0.9 / 3]
    assert out["mobius-1"]["shapley"] == pytest.approx(want, abs=1e-12)
    # ep-19 fails: the first error is the earliest harmful message, y (index 2, agent b).
    assert out["ep-19"]["first_error"] == {
        "index": 2,
        "message": "y",
        "agent": "b",
        "method": "label",
    }
    # R = R0 = 0, so every credit is 0 and the default failure reward
    # (credit-plus-schedule) is the repair schedule divided by the M = 4 agent messages.
    rewards = {m["id"]: m["reward"] for m in out["ep-19"]["messages"]}
    assert rewards == {"x": 0.0, "y": -0.25, "z": -0.125, "w": 0.125}
    # The paper's schedule by name: 0 before t*, -1 at it, +eta after, -gamma built on it.
    paper = creditflow.score(examples, backend="cpu", failure_reward="repair-schedule")
    paper = {rec["id"]: rec for rec in paper.to_records()}
    rewards = {m["id"]: m["reward"] for m in paper["ep-19"]["messages"]}
    assert rewards == {"x": 0.0, "y": -1.0, "z": -0.5, "w": 0.5}
    games = r.games
    assert games["game_id"].to_pylist() == ["glove"] * 3 + ["mobius-1"] * 4
    assert games["player"].to_pylist() == [0, 1, 2, 0, 1, 2, 3]
    assert games["shapley"].to_pylist() == out["glove"]["shapley"] + out["mobius-1"]["shapley"]


def test_regression_on_game_records(examples):
    """`method="regression"` with a budget covering every coalition is exact on games;
    episodes are not black-box games and come back as error records."""
    r = creditflow.score(examples, method="regression", budget=16, backend="cpu")
    out = {rec["id"]: rec for rec in r.to_records()}
    assert out["glove"]["method"] == "regression"
    assert out["glove"]["shapley"] == pytest.approx([2 / 3, 1 / 6, 1 / 6], abs=1e-9)
    want = [0.5 / 2, 0.5 / 2 + 0.9 / 3, -0.2 + 0.9 / 3, 0.9 / 3]
    assert out["mobius-1"]["shapley"] == pytest.approx(want, abs=1e-9)
    assert out["mobius-1"]["samples"] <= 16
    assert out["ep-17"]["kind"] == "method_not_applicable"
    # The budget sizes every method: 16 evaluations buy 7 permutations of 3 players
    # (2·7 + 2 = 16), in whole pairs: 6.
    r = creditflow.score(examples, method="permutation", budget=16, backend="cpu")
    out = {rec["id"]: rec for rec in r.to_records()}
    assert out["glove"]["samples"] == 6
    with pytest.raises(ValueError, match="budget"):
        creditflow.score(examples, budget=16, target_se=0.1)


@pytest.mark.parametrize("option_set", list(OPTIONS))
@pytest.mark.parametrize("topology", TOPOLOGIES)
def test_generated_every_input_kind_matches_cli(cli, gen, tmp_path, topology, option_set):
    options, flags = OPTIONS[option_set]
    options = {**options, "backend": "cpu"}
    jsonl = gen("jsonl", topology=topology)
    parquet = gen("parquet", topology=topology)
    want = cli_records(cli, jsonl, tmp_path, flags)
    assert len(want) == 24 and all("agents" in rec for rec in want)
    if option_set == "permutation":
        # Sampled (with the control variate where groups make the model nonlinear and the
        # pilot says it pays).
        assert {rec["method"] for rec in want} <= {"permutation", "permutation+cv"}
        assert all(rec["samples"] == 64 for rec in want)
        # Monte Carlo: a standard error somewhere, so the random stream matters.
        assert any(a["se"] > 0 for rec in want for a in rec["agents"])

    table = pq.read_table(parquet)
    results = {
        "jsonl path": creditflow.score(jsonl, **options),
        "parquet path": creditflow.score(parquet, **options),
        "arrow table": creditflow.score(table, **options),
        "record batch": creditflow.score(table.combine_chunks().to_batches()[0], **options),
        "reader": creditflow.score(
            pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=5)),
            **options,
        ),
        "dicts": creditflow.score(read_jsonl(jsonl), **options),
        "dict rows": creditflow.score(episodes_to_table(read_jsonl(jsonl)), **options),
        "bytes": creditflow.score(jsonl.read_bytes(), **options),
    }
    first = results["jsonl path"]
    for name, r in results.items():
        assert r.to_records() == want, name
        assert_results_equal(r, first, name)

    # The command line's Parquet output: the same four tables.
    out = tmp_path / "scored.parquet"
    cli("score", parquet, "-o", out, "--backend", "cpu", *flags)
    for name in ("messages", "agents", "episodes", "errors"):
        path = out if name == "messages" else tmp_path / f"scored.{name}.parquet"
        assert_tables_equal(pq.read_table(path), getattr(first, name), f"cli parquet {name}")


def test_dict_rows_with_null_parents_match_cli(cli, examples, tmp_path):
    """Arrow rows built from the example episodes (null parents filled by provenance,
    alternatives, coalition values, final flags) score like the JSONL records."""
    episodes = [r for r in examples if is_episode(r) and r["id"] != "bad-parent"]
    table = episodes_to_table(episodes)
    assert table["parents"].null_count > 0
    want = [
        rec
        for rec in cli_records(cli, EXAMPLES, tmp_path, ["--provenance", "chain"])
        if "agents" in rec
    ]
    got = creditflow.score(table, backend="cpu", provenance="chain")
    assert got.to_records() == want


def test_tables_follow_records(examples):
    r = creditflow.score(examples, backend="cpu")
    records = [rec for rec in r.to_records() if "agents" in rec]
    msgs = r.messages
    assert msgs.column_names == [
        "episode_id",
        "message_id",
        "agent",
        "index",
        "credit",
        "se",
        "reward",
    ]
    want = [
        (rec["id"], m["id"], m["agent"], m["index"], m["credit"], m["se"], m["reward"])
        for rec in records
        for m in rec["messages"]
    ]
    got = list(zip(*(msgs[c].to_pylist() for c in msgs.column_names), strict=True))
    assert got == want
    agents = [
        (rec["id"], a["agent"], a["credit"], a["se"]) for rec in records for a in rec["agents"]
    ]
    assert (
        list(zip(*(r.agents[c].to_pylist() for c in r.agents.column_names), strict=True)) == agents
    )
    eps = r.episodes.to_pylist()
    assert [e["episode_id"] for e in eps] == [rec["id"] for rec in records]
    for e, rec in zip(eps, records, strict=True):
        assert (e["branch"], e["reward"], e["baseline"], e["method"], e["samples"]) == (
            rec["branch"],
            rec["reward"],
            rec["baseline"],
            rec["method"],
            rec["samples"],
        )
        assert e["flags"] == rec["flags"]
        fe = rec["first_error"]
        assert e["first_error_index"] == (fe["index"] if fe else None)
        assert e["first_error_message"] == (fe["message"] if fe else None)
        assert e["first_error_agent"] == (fe["agent"] if fe else None)
        assert e["first_error_method"] == (fe["method"] if fe else None)
    assert set(RESULT_TABLES) == {"messages", "agents", "episodes", "errors", "games"}


def test_pairs_match_cli(cli, tmp_path):
    pairs_file = tmp_path / "pairs.jsonl"
    cli("score", EXAMPLES, "-o", tmp_path / "o.jsonl", "--pairs", pairs_file, "--backend", "cpu")
    want = read_jsonl(pairs_file)
    assert len(want) == 2
    r = creditflow.score(EXAMPLES, pairs=True, backend="cpu")
    assert r.pairs() == want
    assert r.summary["pairs"] == 2
    assert [p["step"] for p in want] == ["first_error", "repair"]
    assert want[0]["chosen"][0]["content"] == "Confirmed: 2+2 = 4"
    assert creditflow.score(EXAMPLES, backend="cpu").pairs() == []


# --- partitioning ---------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["dag", "prefix"])
def test_partitioning_invariance(gen, topology):
    """Scoring in three slices split at episode boundaries equals scoring whole, also
    for Monte Carlo numbers (the random stream is keyed by record id)."""
    table = pq.read_table(gen("parquet", topology=topology))
    options = {"method": "permutation", "samples": 64, "seed": 3, "backend": "cpu"}
    whole = creditflow.score(table, **options)
    parts = [creditflow.score(t, **options) for t in split_episodes(table, [5, 17])]
    assert [p.summary["episodes"] for p in parts] == [5, 12, 7]
    for name in ("messages", "agents", "episodes"):
        joined = pa.concat_tables([getattr(p, name) for p in parts])
        assert_tables_equal(joined, getattr(whole, name), name)
    assert sum((p.to_records() for p in parts), []) == whole.to_records()
    # Reversed episode order: the same numbers per episode.
    backwards = creditflow.score(pa.concat_tables(split_episodes(table, [5, 17])[::-1]), **options)
    key = {rec["id"]: rec for rec in whole.to_records()}
    for rec in backwards.to_records():
        assert rec == key[rec["id"]]


def test_chunks_that_split_episodes(gen):
    """An Arrow stream whose batches cut episodes in the middle reads like one batch."""
    table = pq.read_table(gen("parquet", topology="chain"))
    whole = creditflow.score(table, backend="cpu", method="permutation", samples=64)
    for size in (1, 4, 7, 50):
        rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=size))
        assert rechunked.num_columns == table.num_columns
        r = creditflow.score(rechunked, backend="cpu", method="permutation", samples=64)
        assert_results_equal(r, whole, f"chunks of {size}")


# --- options --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option,value",
    [
        ("alpha", 2),
        ("alpha", -0.5),
        ("samples", 0),
        ("samples", True),
        ("method", "bogus"),
        ("target_se", -1),
        ("players", 3),
        ("players", "everyone"),
        ("seed", -1),
        ("threshold", float("nan")),
        ("pairs", "yes"),
        ("aggregate", "median"),
        ("control_variate", "sometimes"),
    ],
)
def test_bad_option_is_value_error_naming_it(examples, option, value):
    with pytest.raises(ValueError, match=rf"^{option}\b"):
        creditflow.score(examples, **{option: value})


def test_bad_option_on_every_input_kind(gen):
    parquet = gen("parquet")
    table = pq.read_table(parquet)
    for records in (table, parquet, b"", [{"id": "x"}]):
        with pytest.raises(ValueError, match=r"^alpha\b"):
            creditflow.score(records, alpha=2)


def test_unknown_option_is_type_error(examples):
    with pytest.raises(TypeError, match="bogus"):
        creditflow.score(examples, bogus=1)
    with pytest.raises(TypeError, match="list"):
        creditflow.score(examples[0])
    with pytest.raises(TypeError, match="record 1"):
        creditflow.score([examples[0], "not a dict"])
    with pytest.raises(TypeError):
        creditflow.score(42)


def test_defaults_are_the_command_lines(examples):
    d = creditflow.DEFAULTS
    assert d["samples"] == 1024 and d["seed"] == 0 and d["alpha"] == 0.5
    assert d["method"] == "auto" and d["players"] == "both" and d["target_se"] is None
    assert d["control_variate"] == "auto"
    explicit = creditflow.score(examples, **d)
    assert explicit.to_records() == creditflow.score(examples).to_records()
    assert isinstance(creditflow.GPU, bool)
    assert creditflow.__version__ == "0.1.0"


def test_score_accepts_exactly_the_option_table(examples):
    """The keyword arguments of score() are the rows of the library's option table taken
    by `score`: each accepts its default, and a name outside the table is a TypeError."""
    rows = [o for o in creditflow.OPTIONS if "score" in o["functions"]]
    assert {o["name"] for o in rows} == set(creditflow.DEFAULTS)
    for o in rows:
        creditflow.score(examples[:1], **{o["name"]: o["default"]})
    imports = {o["name"] for o in creditflow.OPTIONS if "import_traces" in o["functions"]}
    for name in imports - set(creditflow.DEFAULTS):
        with pytest.raises(TypeError, match=name):
            creditflow.score(examples[:1], **{name: None})


def test_strict_raises_on_bad_record(examples):
    with pytest.raises(ValueError, match="bad-parent"):
        creditflow.score(examples, strict=True)
    with pytest.raises(ValueError, match="bad-parent"):
        creditflow.score(EXAMPLES, strict=True)
    good = [r for r in examples if r["id"] != "bad-parent"]
    assert creditflow.score(good, strict=True).summary["errors"] == 0


def test_threads(gen):
    table = pq.read_table(gen("parquet"))
    options = {"method": "permutation", "samples": 64, "backend": "cpu"}
    default = creditflow.score(table, **options)
    one = creditflow.score(table, threads=1, **options)
    two = creditflow.score(table, threads=2, **options)
    assert_results_equal(one, default, "threads=1")
    assert_results_equal(two, default, "threads=2")
    with pytest.raises(ValueError, match="threads"):
        creditflow.score(table, threads=0)


def test_format_option(tmp_path):
    plain = tmp_path / "episodes"  # no extension: auto cannot tell
    plain.write_bytes(EXAMPLES.read_bytes())
    want = creditflow.score(EXAMPLES).to_records()
    assert creditflow.score(plain, format="jsonl").to_records() == want
    assert creditflow.score(plain).to_records() == want  # auto: JSONL when unsure
    with pytest.raises(ValueError, match="^format"):
        creditflow.score(plain, format="bogus")
    with pytest.raises(OSError):
        creditflow.score(tmp_path / "missing.jsonl")


def test_empty_input():
    for records in ([], b"", pa.Table.from_pylist([], schema=creditflow.input_schema())):
        r = creditflow.score(records)
        assert len(r) == 0 and r.to_records() == []
        assert all(getattr(r, t).num_rows == 0 for t in RESULT_TABLES)
        names, m = r.agent_matrix()
        assert names == [] and m.shape == (0, 0)


# --- numpy ----------------------------------------------------------------------------


@pytest.mark.parametrize("topology", ["dag", "star"])
def test_arrays_are_consistent_with_tables(gen, examples, topology):
    for r in (
        creditflow.score(gen("parquet", topology=topology), method="permutation", samples=64),
        creditflow.score(examples),
    ):
        a = r.arrays()
        eps, agents, msgs = r.episodes, r.agents, r.messages
        n = eps.num_rows
        counts = [len(x["agents"]) for x in r.to_records() if "agents" in x]
        # agent_matrix: episodes x the most agents, NaN past an episode's agents.
        m = a["agent_matrix"]
        assert m.dtype == np.float64 and m.shape == (n, max(counts))
        names, by_name = r.agent_matrix()
        assert len(names) == len(set(names)) and by_name.shape == (n, len(names))
        assert np.allclose(np.nansum(by_name, axis=1), np.nansum(m, axis=1), rtol=0, atol=1e-12)
        assert a["agent_se_matrix"].shape == m.shape
        # Calibration: each episode's agent credits sum to R - R0.
        total = np.nansum(m, axis=1)
        assert np.allclose(total, a["reward"] - a["baseline"], rtol=0, atol=1e-9)
        assert np.abs(total - (eps["reward"].to_numpy() - eps["baseline"].to_numpy())).max() < 1e-9
        # CSR offsets.
        off = a["agent_offsets"]
        assert off[0] == 0 and off[-1] == agents.num_rows and len(off) == n + 1
        assert np.diff(off).tolist() == counts
        assert np.array_equal(a["agent_credit"], agents["credit"].to_numpy())
        assert np.array_equal(a["agent_se"], agents["se"].to_numpy())
        for e in range(n):
            k = off[e + 1] - off[e]
            assert np.array_equal(m[e, :k], a["agent_credit"][off[e] : off[e + 1]])
            assert np.isnan(m[e, k:]).all()
        moff = a["message_offsets"]
        assert moff[0] == 0 and moff[-1] == msgs.num_rows and len(moff) == n + 1
        ids = msgs["episode_id"].to_pylist()
        for e, eid in enumerate(a["episodes"]):
            assert set(ids[moff[e] : moff[e + 1]]) <= {eid}
        assert a["episodes"] == eps["episode_id"].to_pylist()
        assert np.array_equal(a["message_index"], msgs["index"].to_numpy())
        assert np.array_equal(a["message_credit"], msgs["credit"].to_numpy())
        assert np.array_equal(a["message_se"], msgs["se"].to_numpy())
        assert np.array_equal(a["message_reward"], msgs["reward"].to_numpy())
        assert np.array_equal(a["reward"], eps["reward"].to_numpy())
        assert np.array_equal(a["baseline"], eps["baseline"].to_numpy())
        fe = [-1 if x is None else x for x in eps["first_error_index"].to_pylist()]
        assert a["first_error"].tolist() == fe
        # Owen message credit refines agent credit: an agent's messages sum to its credit.
        per_agent: dict[tuple[str, str], float] = defaultdict(float)
        for e, ag, c in zip(ids, msgs["agent"].to_pylist(), a["message_credit"], strict=True):
            per_agent[(e, ag)] += c
        for e, ag, c in zip(
            agents["episode_id"].to_pylist(),
            agents["agent"].to_pylist(),
            a["agent_credit"],
            strict=True,
        ):
            assert per_agent.get((e, ag), 0.0) == pytest.approx(c, abs=1e-9)
        # Games.
        g = r.games
        goff = a["game_offsets"]
        assert goff[-1] == g.num_rows and len(goff) == len(a["games"]) + 1
        assert np.array_equal(a["game_shapley"], g["shapley"].to_numpy())
        assert np.array_equal(a["game_se"], g["se"].to_numpy())


def test_examples_agent_matrix():
    r = creditflow.score(EXAMPLES)
    names, m = r.agent_matrix()
    # One column per distinct agent name, in order of first appearance.
    assert names[:3] == ["planner", "coder", "critic"] and "solver" in names
    assert len(names) == len(set(names)) and m.shape == (5, len(names))
    cell = {
        (e, a): c
        for e, a, c in zip(
            r.agents["episode_id"].to_pylist(),
            r.agents["agent"].to_pylist(),
            r.agents["credit"].to_pylist(),
            strict=True,
        )
    }
    for i, e in enumerate(r.episodes["episode_id"].to_pylist()):
        for j, a in enumerate(names):
            if (e, a) in cell:
                assert m[i, j] == cell[(e, a)]
            else:
                assert np.isnan(m[i, j]), (e, a)
    assert np.nansum(m, axis=1) == pytest.approx([1.0, 0.8, 0.0, 0.9, 1.0], abs=1e-9)


# --- group statistics -----------------------------------------------------------------


def grouped_table(gen) -> pa.Table:
    table = pq.read_table(gen("parquet", episodes=30, agents=3, messages=6, seed=11))
    starts = {e: k for k, e in enumerate(dict.fromkeys(table["episode_id"].to_pylist()))}
    groups = [f"q{starts[e] % 4}" for e in table["episode_id"].to_pylist()]
    return table.append_column("group_id", pa.array(groups))


def test_unknown_columns_are_ignored(gen):
    table = grouped_table(gen)
    plain = creditflow.score(table.drop_columns(["group_id"]))
    with_extra = creditflow.score(table.append_column("step", pa.array(range(table.num_rows))))
    assert_results_equal(with_extra, plain, "extra columns")


def test_group_stats_and_advantages(gen):
    table = grouped_table(gen)
    r = creditflow.score(table, method="permutation", samples=64)
    agents = r.agents
    group_of = dict(
        zip(table["episode_id"].to_pylist(), table["group_id"].to_pylist(), strict=True)
    )
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e, ag, c in zip(
        agents["episode_id"].to_pylist(),
        agents["agent"].to_pylist(),
        agents["credit"].to_pylist(),
        strict=True,
    ):
        cells[(group_of[e], ag)].append(c)

    stats = r.group_stats()
    assert stats.column_names == ["group_id", "agent", "mean", "std", "count"]
    assert stats.num_rows == len(cells) == 4 * 3
    for row in stats.to_pylist():
        xs = np.array(cells[(row["group_id"], row["agent"])])
        assert row["count"] == len(xs)
        assert row["mean"] == pytest.approx(xs.mean(), abs=1e-12)
        assert row["std"] == pytest.approx(xs.std(ddof=0), abs=1e-12)

    adv = r.advantages(eps=1e-6)
    assert adv.column_names == ["episode_id", "agent", "credit", "se", "group_id", "advantage"]
    assert adv.select(["episode_id", "agent", "credit", "se"]).equals(agents)
    for row in adv.to_pylist():
        xs = np.array(cells[(row["group_id"], row["agent"])])
        want = (row["credit"] - xs.mean()) / (xs.std(ddof=0) + 1e-6)
        assert row["advantage"] == pytest.approx(want, rel=1e-9, abs=1e-9)
        assert row["group_id"] == group_of[row["episode_id"]]

    # The same with the groups given explicitly, for a result without a group_id column.
    groups = table.select(["episode_id", "group_id"])
    plain = creditflow.score(table.drop_columns(["group_id"]), method="permutation", samples=64)
    assert plain.group_stats(groups).equals(stats)
    assert plain.advantages(groups).equals(adv)
    with pytest.raises(ValueError, match="group"):
        plain.group_stats()


# --- the GIL --------------------------------------------------------------------------


def test_scoring_releases_the_gil(gen):
    """Two threads scoring at once overlap in time (each call starts before the other
    ends), and while both are inside their calls the main thread keeps running Python
    code. With the GIL held through a call, the overlap of the two intervals alone
    proves little (a thread can take its start time and then wait for the GIL), but
    the main thread could not run at all in the middle of the overlap."""
    table = pq.read_table(gen("parquet", episodes=40, agents=4, messages=20, seed=5))
    options = {"method": "permutation", "samples": 256, "threads": 1, "backend": "cpu"}
    # Size the calls to last about a second whatever the build's speed (no timing is
    # asserted; a call of a few milliseconds would leave too little time to overlap).
    probe = time.perf_counter()
    creditflow.score(table, **options)
    took = time.perf_counter() - probe
    samples = int(min(1 << 16, max(256, 256 / max(took, 1e-3))))
    options["samples"] = samples + samples % 2
    barrier = threading.Barrier(2)
    spans: dict[str, tuple[float, float]] = {}
    results: dict[str, creditflow.Result] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            barrier.wait()
            start = time.perf_counter()
            results[name] = creditflow.score(table, **options)
            spans[name] = (start, time.perf_counter())
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    ticks: list[float] = []
    while any(t.is_alive() for t in threads):
        ticks.append(time.perf_counter())
        time.sleep(0.002)
    for t in threads:
        t.join()
    assert not errors, errors
    (a0, a1), (b0, b1) = spans["a"], spans["b"]
    assert b0 < a1 and a0 < b1, f"the calls did not overlap: a={spans['a']} b={spans['b']}"
    # The main thread ran in the middle half of the time both calls were in progress.
    lo, hi = max(a0, b0), min(a1, b1)
    quarter = (hi - lo) / 4
    middle = [t for t in ticks if lo + quarter < t < hi - quarter]
    assert middle, f"the main thread did not run during the calls: a={spans['a']} b={spans['b']}"
    assert_results_equal(results["a"], results["b"], "two threads")
    assert results["a"].summary["samples"] == 40 * options["samples"]


def test_summary_fields(gen):
    r = creditflow.score(gen("parquet"), method="permutation", samples=64, backend="cpu")
    s = r.summary
    assert s["records"] == s["episodes"] == 24
    assert s["games"] == 0 and s["errors"] == 0
    assert set(s["methods"]) <= {"permutation", "permutation+cv"}
    assert sum(s["methods"].values()) == 24
    assert s["samples"] == 24 * 64
    assert s["backend"] == "cpu"
    assert s["seconds"] >= 0
    assert sum(s["flags"].values()) == sum(len(f) for f in r.episodes["flags"].to_pylist())
    assert json.loads(json.dumps(s)) == s


def test_control_variate_option_matches_the_cli(cli, gen, tmp_path):
    """`control_variate` reaches the engine as the command line's flag does: a nonlinear
    model sampled with it on says `permutation+cv`, with it off `permutation`."""
    jsonl = gen("jsonl", topology="dag")
    flags = ["--method", "permutation", "--samples", "32", "--aggregate", "min"]
    options = {"method": "permutation", "samples": 32, "aggregate": "min", "backend": "cpu"}
    for cv, method in (("on", "permutation+cv"), ("off", "permutation")):
        want = cli_records(cli, jsonl, tmp_path, [*flags, "--control-variate", cv])
        got = creditflow.score(jsonl, control_variate=cv, **options).to_records()
        assert got == want
        assert {rec["method"] for rec in got if "agents" in rec} == {method}


def test_read_scored_reads_back_what_score_wrote(cli, tmp_path):
    """The library's one reader of score's output gives back the command line's records,
    from JSON Lines and from the Parquet tables alike, and names the line of a bad one."""
    out = tmp_path / "scored.jsonl"
    cli("score", EXAMPLES, "-o", out, "--backend", "cpu")
    want = read_jsonl(out)
    assert creditflow.read_scored(out) == want
    pq_out = tmp_path / "scored.parquet"
    cli("score", EXAMPLES, "-o", pq_out, "--backend", "cpu")
    got = creditflow.read_scored(pq_out)
    # The Parquet tables hold episodes, then error rows, then games.
    assert sorted(r.get("id") or "" for r in got) == sorted(r.get("id") or "" for r in want)
    episodes = [r for r in want if "branch" in r]
    assert [r for r in got if "branch" in r] == episodes
    bad = tmp_path / "bad.jsonl"
    bad.write_text(out.read_text().replace('"branch":"success"', '"branch":"maybe"', 1))
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 1, field `branch`"):
        creditflow.read_scored(bad)
