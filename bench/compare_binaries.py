"""Two builds of creditflow side by side on the standard chat batches (one run).

Usage: python3 bench/compare_binaries.py OLD_BINARY NEW_BINARY [--rounds N]

Generates chat-20 (1,024 chats of 3 agents x 20 messages) and chat-130 (58 chats of
4 agents x 130 messages) with `gen --topology prefix`, then scores each file with both
binaries in alternation (`score --backend cpu`, default options: 1,024 permutations),
N rounds, and prints the median wall time of each and their ratio. Both runs must
agree on every record's method and samples; their numbers are compared to 1e-9.
"""

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

BATCHES = {
    "chat-20": ["--episodes", "1024", "--agents", "3", "--messages", "20"],
    "chat-130": ["--episodes", "58", "--agents", "4", "--messages", "130"],
}


def timed(binary: str, src: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [binary, "score", str(src), "--backend", "cpu", "-o", str(out)],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def numbers(x, out):
    if isinstance(x, bool) or x is None or isinstance(x, str):
        return
    if isinstance(x, (int, float)):
        out.append(float(x))
    elif isinstance(x, dict):
        for v in x.values():
            numbers(v, out)
    else:
        for v in x:
            numbers(v, out)


def agree(a: Path, b: Path) -> float:
    worst = 0.0
    for la, lb in zip(a.read_text().splitlines(), b.read_text().splitlines(), strict=True):
        ra, rb = json.loads(la), json.loads(lb)
        assert (ra["method"], ra["samples"]) == (rb["method"], rb["samples"]), (ra["id"],)
        na, nb = [], []
        numbers(ra, na)
        numbers(rb, nb)
        for x, y in zip(na, nb, strict=True):
            worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-3))
    assert worst < 1e-9, worst
    return worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        print(f"{'batch':<10} {'old s':>8} {'new s':>8} {'speed-up':>9}  worst rel. diff")
        for name, args in BATCHES.items():
            src = d / f"{name}.jsonl"
            subprocess.run(
                [a.new, "gen", "--topology", "prefix", *args, "-o", str(src)], check=True
            )
            old, new = [], []
            for _ in range(a.rounds):
                old.append(timed(a.old, src, d / "old.jsonl"))
                new.append(timed(a.new, src, d / "new.jsonl"))
            diff = agree(d / "old.jsonl", d / "new.jsonl")
            mo, mn = statistics.median(old), statistics.median(new)
            print(f"{name:<10} {mo:>8.3f} {mn:>8.3f} {mo / mn:>8.1f}x  {diff:.1e}")


if __name__ == "__main__":
    main()
