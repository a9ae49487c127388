"""Every code block of the README runs, in order, in one scratch directory that sees the
repository's files: shell blocks with the freshly built command line on PATH, Python
blocks with the freshly built package (each after the Python blocks before it, as a
reader would have typed them), JSON blocks parsed (and scored, when they are a record).
A block that cannot run here says why in an HTML comment on the line before it
(`<!-- not run by the README test: ... -->`); any other block that fails, hangs past its
timeout or prints a line starting with `error` on success fails this test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import REPO, cli_path, missing

README = REPO / "README.md"
SKIP = re.compile(r"<!--\s*not run by the README test:\s*(.+?)\s*-->")
TIMEOUT = 600


@dataclass
class Block:
    line: int
    lang: str
    code: str
    skip: str | None


def blocks() -> list[Block]:
    lines = README.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    k = 0
    while k < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[k])
        if not m:
            k += 1
            continue
        start = k
        k += 1
        body = []
        while k < len(lines) and not lines[k].startswith("```"):
            body.append(lines[k])
            k += 1
        prev = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        reason = SKIP.search(prev)
        out.append(Block(start + 1, m.group(1), "\n".join(body) + "\n", reason and reason.group(1)))
        k += 1
    return out


BLOCKS = blocks()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch directory that sees the repository's data (examples, tests, docs, ...)
    but keeps what the blocks write."""
    d = tmp_path_factory.mktemp("readme")
    for name in ("examples", "tests", "docs", "bench", "crates", "python"):
        (d / name).symlink_to(REPO / name)
    return d


def env() -> dict[str, str]:
    binary = cli_path()
    if binary is None:
        missing("the creditflow command line (set CREDITFLOW_BIN or put it on PATH)")
    e = dict(os.environ)
    e["PATH"] = os.pathsep.join([str(Path(binary).resolve().parent), e.get("PATH", "")])
    return e


def check(run: subprocess.CompletedProcess[str], block: Block) -> None:
    where = f"README.md line {block.line}"
    assert run.returncode == 0, (
        f"{where} failed:\n{block.code}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    )
    noisy = [line for line in run.stderr.splitlines() if line.lower().startswith("error")]
    assert not noisy, f"{where} succeeded but printed errors:\n" + "\n".join(noisy)


def test_every_block_is_run_or_says_why_not() -> None:
    assert BLOCKS, "no code blocks found in the README"
    for b in BLOCKS:
        assert b.lang in {"sh", "python", "json"}, (
            f"README.md line {b.line}: unknown block language {b.lang!r}"
        )


@pytest.mark.parametrize("block", BLOCKS, ids=[f"line{b.line}-{b.lang}" for b in BLOCKS])
def test_readme_block(block: Block, workdir: Path) -> None:
    if block.skip:
        pytest.skip(f"README.md line {block.line}: {block.skip}")
    e = env()
    if block.lang == "sh":
        run = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block.code],
            cwd=workdir,
            env=e,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        check(run, block)
    elif block.lang == "python":
        # The Python blocks before this one, then this one: the state a reader has.
        earlier = [
            b.code for b in BLOCKS if b.lang == "python" and b.line < block.line and not b.skip
        ]
        script = workdir / f"block_{block.line}.py"
        script.write_text("\n".join([*earlier, block.code]), encoding="utf-8")
        run = subprocess.run(
            [sys.executable, str(script)],
            cwd=workdir,
            env=e,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        check(run, block)
    else:
        value = json.loads(block.code)
        if isinstance(value, dict) and "id" in value and ("messages" in value or "game" in value):
            record = workdir / f"block_{block.line}.jsonl"
            record.write_text(json.dumps(value) + "\n", encoding="utf-8")
            run = subprocess.run(
                ["creditflow", "score", str(record)],
                cwd=workdir,
                env=e,
                capture_output=True,
                text=True,
            )
            check(run, block)
            out = json.loads(run.stdout)
            assert "error" not in out, f"README.md line {block.line}: {out}"
