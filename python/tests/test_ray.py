"""creditflow.ray on a local Ray: Parquet files of whole episodes, read with Ray Data
and scored block by block on two actors, give exactly the numbers of one process.

Without Ray the tests are skipped loudly; with CREDITFLOW_REQUIRE_PYTHON=1 they fail.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO, assert_tables_equal, cli_path, missing, split_episodes

import creditflow
from creditflow.ray import Scorer

try:
    import ray
    import ray.data

    RAY_MISSING = None
except ImportError as e:  # pragma: no cover - depends on the environment
    ray = None
    RAY_MISSING = f"the Ray tests need ray[data] (pip install 'ray[data]'): {e}"

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning:ray",
    "ignore:The minimum number of concurrent actors:UserWarning",
)

OPTIONS = {"method": "permutation", "samples": 64, "seed": 5, "backend": "cpu"}
ORDER = [("episode_id", "ascending"), ("index", "ascending")]


@pytest.fixture(scope="module", autouse=True)
def ray_installed():
    if RAY_MISSING:
        warnings.warn(RAY_MISSING, stacklevel=1)
        missing(RAY_MISSING)


@pytest.fixture(scope="module")
def ray_session(ray_installed):
    """A local Ray of two CPUs for this module, shut down at its end."""
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
    )
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    # Start every actor of a pool before handing out blocks, so that both get some.
    ctx.wait_for_min_actors_s = 120
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def episodes(gen, tmp_path_factory) -> tuple[pa.Table, Path]:
    """60 generated episodes and a directory of 4 Parquet files of whole episodes."""
    table = pq.read_table(gen("parquet", episodes=60, agents=3, messages=6, seed=21))
    directory = tmp_path_factory.mktemp("episodes")
    parts = split_episodes(table, [13, 29, 44])
    for k, part in enumerate(parts):
        pq.write_table(part, directory / f"part-{k}.parquet")
    return table, directory


def reference(table: pa.Table, **options) -> pa.Table:
    return creditflow.score(table, **options).messages.sort_by(ORDER)


def collect(ds) -> pa.Table:
    return pa.concat_tables(ray.get(ds.to_arrow_refs()))


def pid_scorer():
    """A Scorer that adds the worker's process id to its rows (defined in a function so
    that Ray ships the class by value, not by a module name the workers lack)."""

    class PidScorer(Scorer):
        def __call__(self, batch: pa.Table) -> pa.Table:
            out = super().__call__(batch)
            return out.append_column("pid", pa.array([os.getpid()] * out.num_rows, pa.int64()))

    return PidScorer


def test_map_batches_equals_one_process(ray_session, episodes, monkeypatch):
    table, directory = episodes
    # Ray 2.60 packs small Parquet files into one block; a tiny bin size gives one block
    # per file, as big files would. (override_num_blocks does the same on older Rays.)
    monkeypatch.setenv("RAY_DATA_PARQUET_BIN_PACKING_BYTES", "1")
    ds = ray.data.read_parquet(str(directory), override_num_blocks=4).materialize()
    assert ds.num_blocks() >= 3
    assert ds.count() == table.num_rows
    # Every block holds whole episodes.
    seen: set[str] = set()
    for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        ids = set(block["episode_id"].to_pylist())
        assert not ids & seen
        seen |= ids
    assert len(seen) == 60

    out = ds.map_batches(
        pid_scorer(),
        fn_constructor_kwargs={"threads": 1, **OPTIONS},
        batch_format="pyarrow",
        batch_size=None,
        compute=ray.data.ActorPoolStrategy(size=2, max_tasks_in_flight_per_actor=1),
        num_cpus=0.5,
    )
    got = collect(out)
    assert len(set(got["pid"].to_pylist())) >= 2, "one worker did all the work"
    assert os.getpid() not in set(got["pid"].to_pylist())
    want = reference(table, **OPTIONS)
    assert_tables_equal(got.drop_columns(["pid"]).sort_by(ORDER), want, "ray messages")
    # Monte Carlo numbers: a different seed would not match.
    assert not reference(table, **{**OPTIONS, "seed": 6}).equals(want)


def load_example():
    path = REPO / "examples" / "ray_score.py"
    spec = importlib.util.spec_from_file_location("creditflow_example_ray_score", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_script(ray_session, episodes, tmp_path, capsys):
    table, directory = episodes
    example = load_example()
    out_dir = tmp_path / "credits"
    args = [str(directory), str(out_dir), "--workers", "2", "--samples", "64"]
    summary = example.main([*args, "--method", "permutation"])
    printed = capsys.readouterr().out
    assert "scored 60 episodes (" in printed
    assert summary["episodes"] == 60 and summary["messages"] == reference(table).num_rows
    got = pq.read_table(sorted(out_dir.glob("*.parquet"))).sort_by(ORDER)
    want = reference(table, method="permutation", samples=64)
    assert_tables_equal(got, want, "example output")
    with pytest.raises(FileExistsError):
        example.score_parquet(directory, out_dir)


def test_example_demo_input(tmp_path):
    """The example's --demo input: files of whole episodes, together the generated
    batch (no Ray needed)."""
    if cli_path() is None:
        missing("the creditflow binary is needed: set CREDITFLOW_BIN or put it on PATH")
    example = load_example()
    paths = example.make_demo_input(tmp_path / "in", episodes=12, files=3, cli=cli_path())
    assert [p.name for p in paths] == ["part-000.parquet", "part-001.parquet", "part-002.parquet"]
    parts = [pq.read_table(p) for p in paths]
    ids = [set(t["episode_id"].to_pylist()) for t in parts]
    assert [len(s) for s in ids] == [4, 4, 4]
    assert not (ids[0] & ids[1] or ids[1] & ids[2] or ids[0] & ids[2])
    assert all(pq.ParquetFile(p).metadata.num_row_groups == 1 for p in paths)
    whole = creditflow.score(pa.concat_tables(parts))
    assert whole.summary["episodes"] == 12 and whole.summary["errors"] == 0
