"""Bad input: bad records become rows of ``.errors`` (episode id, line or row, field,
kind) without taking their neighbours down; a column of the wrong type fails the call
naming the column; creditflow.ray.Scorer's error handling (no Ray needed)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import EXAMPLES, assert_tables_equal, episode_starts, read_jsonl

import creditflow
from creditflow.ray import Scorer

ERROR_COLUMNS = ["episode_id", "line", "field", "kind", "error"]


def with_value(table: pa.Table, column: str, row: int, value) -> pa.Table:
    """``table`` with one cell replaced."""
    values = table[column].to_pylist()
    values[row] = value
    field = table.schema.field(column).with_nullable(True)
    schema = table.schema.set(table.schema.get_field_index(column), field)
    return pa.Table.from_arrays(
        [pa.array(values, field.type) if n == column else table[n] for n in table.column_names],
        schema=schema,
    )


def without_episode(result: creditflow.Result, episode: str) -> list[dict]:
    return [r for r in result.to_records() if r["id"] != episode]


@pytest.fixture(scope="module")
def table(gen) -> pa.Table:
    return pq.read_table(gen("parquet", topology="dag"))


def test_jsonl_error_record(cli, tmp_path):
    r = creditflow.score(EXAMPLES)
    assert r.errors.column_names == ERROR_COLUMNS
    (row,) = r.errors.to_pylist()
    assert row["episode_id"] == "bad-parent"
    assert row["line"] == 8
    assert row["field"] == "messages[0].parents[0]"
    assert row["kind"] == "unknown_parent"
    assert "m9" in row["error"] and "line 8" in row["error"]
    out = tmp_path / "out.jsonl"
    cli("score", EXAMPLES, "-o", out)
    (want,) = [rec for rec in read_jsonl(out) if "error" in rec]
    assert want == {
        "id": row["episode_id"],
        "line": row["line"],
        "error": row["error"],
        "field": row["field"],
        "kind": row["kind"],
    }
    # The CLI's Parquet errors table is the same row.
    cli("score", EXAMPLES, "-o", tmp_path / "out.parquet")
    assert_tables_equal(pq.read_table(tmp_path / "out.errors.parquet"), r.errors, "errors")


def test_malformed_jsonl_line():
    data = EXAMPLES.read_bytes().splitlines()
    data.insert(2, b'{"id": "broken", "messages": [')
    r = creditflow.score(b"\n".join(data) + b"\n")
    (row,) = [e for e in r.errors.to_pylist() if e["line"] == 3]
    assert row["kind"] and "line 3" in row["error"]
    assert r.summary["episodes"] == 5 and r.summary["errors"] == 2


@pytest.mark.parametrize(
    "column,offset,value,field,kind",
    [
        ("score", 2, 2.0, "score", "out_of_range"),
        ("score", 1, -1.5, "score", "out_of_range"),
        ("score", 3, float("nan"), "score", "non_finite"),
        ("parents", 2, ["nope"], "parents[0]", "unknown_parent"),
        ("agent", 2, "stranger", "agent", "unknown_agent"),
        ("message_id", 2, "m1", "message_id", "duplicate_id"),
        ("reward", 3, 0.123, "reward", "schema"),
    ],
)
def test_arrow_row_error(table, column, offset, value, field, kind):
    """A bad cell makes its episode one row of ``.errors``: the episode id, the row
    (numbered from 1), the column and the kind; the other episodes keep their numbers."""
    starts = episode_starts(table)
    row = starts[3] + offset
    episode = table["episode_id"][row].as_py()
    clean = creditflow.score(table)
    r = creditflow.score(with_value(table, column, row, value))
    assert r.errors.to_pylist() == [
        {
            "episode_id": episode,
            "line": row + 1,
            "field": field,
            "kind": kind,
            "error": r.errors["error"][0].as_py(),
        }
    ]
    assert f"row {row + 1}" in r.errors["error"][0].as_py()
    assert r.summary["episodes"] == 23 and r.summary["errors"] == 1
    assert without_episode(r, episode) == without_episode(clean, episode)
    error_record = [rec for rec in r.to_records() if rec["id"] == episode]
    assert error_record[0]["line"] == row + 1 and error_record[0]["kind"] == kind


def test_arrow_row_without_episode_id(table):
    starts = episode_starts(table)
    row = starts[4]  # the first row of an episode: it may end the one before
    before = table["episode_id"][row - 1].as_py()
    after = table["episode_id"][row + 1].as_py()
    r = creditflow.score(with_value(table, "episode_id", row, None))
    errors = r.errors.to_pylist()
    # Both neighbours are bad, each error naming the row without an id.
    assert [e["episode_id"] for e in errors] == [before, after]
    for e in errors:
        assert e["line"] == row + 1
        assert (e["field"], e["kind"]) == ("episode_id", "schema")
    scored = set(r.episodes["episode_id"].to_pylist())
    assert before not in scored and after not in scored
    assert len(scored) == len(starts) - 2


def test_row_without_episode_id_inside_an_episode_fails_the_episode(table):
    starts = episode_starts(table)
    row = starts[9] + 4
    episode = table["episode_id"][row].as_py()
    r = creditflow.score(with_value(table, "episode_id", row, None))
    scored = [rec for rec in r.to_records() if rec["id"] == episode and "agents" in rec]
    assert scored == []


def test_strict_on_arrow_input(table):
    bad = with_value(table, "score", episode_starts(table)[2] + 1, 2.0)
    with pytest.raises(ValueError, match="out|outside"):
        creditflow.score(bad, strict=True)


@pytest.mark.parametrize(
    "column,array",
    [
        ("score", lambda n: pa.array(["0.5"] * n)),
        ("parents", lambda n: pa.array(["m0"] * n)),
        ("reward", lambda n: pa.array(["1"] * n)),
        ("final", lambda n: pa.array([1] * n)),
        ("episode_id", lambda n: pa.array([1.5] * n)),
        ("agents", lambda n: pa.array([1.0] * n)),
    ],
)
def test_wrong_column_type_is_value_error_naming_it(table, column, array):
    bad = table.set_column(table.column_names.index(column), column, array(table.num_rows))
    with pytest.raises(ValueError, match=f"`{column}`"):
        creditflow.score(bad)


def test_missing_optional_columns_read_as_null(table):
    """Absent optional columns are all-null: a table with only the needed columns gives
    the same numbers (final is false, text and alternatives unused here)."""
    narrow = table.select(
        ["episode_id", "message_id", "agent", "parents", "score", "group", "reward", "agents"]
    )
    assert creditflow.score(narrow).to_records() == creditflow.score(table).to_records()


def test_integer_ids_read_as_text():
    rows = pa.table(
        {
            "episode_id": pa.array([7, 7], pa.int64()),
            "message_id": pa.array([1, 2], pa.int32()),
            "agent": ["a", "b"],
            "score": [0.5, 0.25],
            "reward": [1.0, 1.0],
        }
    )
    (rec,) = creditflow.score(rows).to_records()
    assert rec["id"] == "7"
    assert [m["id"] for m in rec["messages"]] == ["1", "2"]
    assert sum(a["credit"] for a in rec["agents"]) == pytest.approx(1.0, abs=1e-12)


# --- creditflow.ray.Scorer without Ray ------------------------------------------------


def test_scorer_outputs_and_errors(table):
    bad_row = episode_starts(table)[6] + 2
    bad = with_value(table, "score", bad_row, 2.0)
    whole = creditflow.score(bad, samples=64, method="permutation")
    for output in ("messages", "agents", "episodes", "errors", "games"):
        on_error = "raise" if output == "errors" else "skip"
        got = Scorer(output=output, on_error=on_error, samples=64, method="permutation")(bad)
        assert got.equals(getattr(whole, output)), output
    with pytest.raises(ValueError, match=r"1 bad records.*row \d+.*on_error='skip'"):
        Scorer()(bad)
    assert Scorer(output="errors")(bad)["line"].to_pylist() == [bad_row + 1]
    # Good batches pass with on_error="raise".
    assert Scorer(samples=64, method="permutation")(table).equals(
        creditflow.score(table, samples=64, method="permutation").messages
    )


def test_scorer_bad_arguments():
    with pytest.raises(ValueError, match="output"):
        Scorer(output="everything")
    with pytest.raises(ValueError, match="on_error"):
        Scorer(on_error="ignore")
    with pytest.raises(TypeError, match="bogus"):
        Scorer(bogus=1)
    with pytest.raises(ValueError, match="^alpha"):
        Scorer(alpha=2)(pa.Table.from_pylist([], schema=creditflow.input_schema()))


def test_dictionary_encoded_columns_read_as_their_values(table, tmp_path):
    """Categorical columns (pandas, many writers) score like plain strings, from an Arrow
    table and from a Parquet file alike."""
    plain = creditflow.score(table, backend="cpu")
    dict_table = table
    for name in ("episode_id", "agent", "message_id"):
        i = dict_table.schema.get_field_index(name)
        dict_table = dict_table.set_column(i, name, pc.dictionary_encode(dict_table[name]))
    assert pa.types.is_dictionary(dict_table.schema.field("agent").type)
    assert_tables_equal(creditflow.score(dict_table, backend="cpu").messages, plain.messages)
    path = tmp_path / "dict.parquet"
    pq.write_table(dict_table, path)
    assert_tables_equal(creditflow.score(path, backend="cpu").messages, plain.messages)


def test_an_episode_whose_rows_are_not_contiguous_is_an_error_for_every_fragment(table):
    starts = episode_starts(table)
    a, b = starts[0], starts[1]
    # Rows: episode 0 split around episode 1 (e0 e0 e1 ... e0 ...).
    first = table.slice(a, 1)
    rest0 = table.slice(a + 1, b - a - 1)
    ep1 = table.slice(b, starts[2] - b)
    shuffled = pa.concat_tables([first, ep1, rest0, table.slice(starts[2])])
    r = creditflow.score(shuffled, backend="cpu")
    e0 = table["episode_id"][a].as_py()
    errors = [row for row in r.errors.to_pylist() if row["episode_id"] == e0]
    assert len(errors) == 2 and all(row["kind"] == "not_contiguous" for row in errors), errors
    assert e0 not in r.episodes["episode_id"].to_pylist()
    assert table["episode_id"][b].as_py() in r.episodes["episode_id"].to_pylist()


def test_numpy_scalars_are_numbers_and_switches():
    import numpy as np

    r = creditflow.score(
        read_jsonl(EXAMPLES),
        samples=np.int64(64),
        seed=np.uint32(3),
        alpha=np.float32(0.25),
        strict=np.bool_(False),
        backend="cpu",
    )
    same = creditflow.score(read_jsonl(EXAMPLES), samples=64, seed=3, alpha=0.25, backend="cpu")
    assert r.to_records() == same.to_records()
    with pytest.raises(ValueError, match="samples"):
        creditflow.score(read_jsonl(EXAMPLES), samples=np.float64(2.5))


def test_thread_counts_are_capped():
    with pytest.raises(ValueError, match="threads.*cores"):
        creditflow.score(read_jsonl(EXAMPLES), threads=10**6)


def test_json_arrays_are_not_json_lines_and_all_bad_warns(tmp_path):
    array = tmp_path / "array.json"
    array.write_text("[" + ",\n".join(EXAMPLES.read_text().split("\n")[:2]) + "]\n")
    with pytest.raises(ValueError, match="JSON array"):
        creditflow.score(array)
    bad = [{"id": "x", "messages": "nope"}, {"id": "y"}]
    with pytest.warns(UserWarning, match="every one of the 2 records was bad"):
        r = creditflow.score(bad)
    assert r.errors.num_rows == 2
