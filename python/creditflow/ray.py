"""Scoring on Ray Data (DESIGN §8).

``Scorer`` is a callable class for ``Dataset.map_batches``: it scores the §2.4 rows of
a batch and returns one of the §6 tables (``messages`` by default)::

    import ray
    from creditflow.ray import Scorer

    ds = ray.data.read_parquet("episodes/")          # files of whole episodes
    out = ds.map_batches(Scorer, fn_constructor_kwargs={"samples": 256},
                         batch_format="pyarrow", batch_size=None,
                         compute=ray.data.ActorPoolStrategy(size=4))
    out.write_parquet("credits/")

**Keep each episode whole.** An episode's rows must reach one call, contiguous and in
message order: a batch that holds part of an episode scores that part as if it were the
whole, and no worker sees another's ids. So: write the input as files whose row groups
hold whole episodes (``creditflow import`` and ``gen`` write them so; Ray splits big
files at row-group boundaries), and map whole blocks (``batch_size=None``). Ray's
``groupby`` is no way out: it does not keep the order of rows within a group, which is
the episode's message order. Because every record's random stream is keyed by its id,
the numbers do not depend on how the episodes are spread over blocks and workers: they
equal one-process scoring exactly.

Bad records: by default a batch with a bad record fails its task with a ``ValueError``
that names the record, row and column (nothing is dropped silently);
``on_error="skip"`` drops them from the output instead, and
``Scorer(output="errors")`` lists them. Bad options fail at once, when the actors are
constructed.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

import creditflow

__all__ = ["Scorer"]

_OUTPUTS = ("messages", "agents", "episodes", "errors", "games")


class Scorer:
    """Scores a batch of §2.4 rows into a §6 table (see the module docs).

    ``output``: which table to return; ``on_error``: ``"raise"`` (default) or
    ``"skip"``; ``threads``: workers per call (default: every core of the worker);
    the other keyword arguments are :func:`creditflow.score` options.
    """

    def __init__(
        self,
        output: str = "messages",
        on_error: str = "raise",
        threads: int | None = None,
        **options: Any,
    ) -> None:
        if output not in _OUTPUTS:
            raise ValueError(f"output: expected one of {', '.join(_OUTPUTS)}, got {output!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error: expected raise or skip, got {on_error!r}")
        unknown = set(options) - set(creditflow.DEFAULTS)
        if unknown:
            raise TypeError(f"Scorer() got unexpected options: {sorted(unknown)}")
        # Check the option values now (an empty batch), not on the first batch.
        creditflow.score([], threads=threads, **options)
        self.output = output
        self.on_error = on_error
        self.threads = threads
        self.options = options

    def __call__(self, batch: pa.Table) -> pa.Table:
        result = creditflow.score(batch, threads=self.threads, **self.options)
        if self.on_error == "raise" and self.output != "errors" and result.errors.num_rows:
            first = result.errors["error"][0].as_py()
            raise ValueError(
                f"{result.errors.num_rows} bad records in a batch; the first: {first} "
                "(on_error='skip' drops them)"
            )
        return getattr(result, self.output)
