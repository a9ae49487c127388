#!/usr/bin/env python3
"""Print the criterion results of the stage benchmarks as markdown tables
(`cargo bench -p creditflow --features internals --bench stages`).

Reads target/criterion/<group>/<function>/<value>/new/estimates.json (criterion's own
output) and prints, per group, the mean time per iteration and the throughput. Run from
the repository root after `cargo bench -p creditflow --features internals --bench stages`.
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main():
    groups = sorted(p for p in ROOT.iterdir() if p.is_dir() and p.name != "report")
    for group in groups:
        rows = []
        for est in sorted(group.glob("**/new/estimates.json")):
            bench = json.loads((est.parent / "benchmark.json").read_text())
            mean = json.loads(est.read_text())["mean"]["point_estimate"]
            thr = bench.get("throughput") or {}
            per = ""
            if "Elements" in thr:
                per = f"{thr['Elements'] / (mean / 1e9):,.0f} elements/s"
            elif "Bytes" in thr:
                per = f"{thr['Bytes'] / (mean / 1e9) / 1e6:,.1f} MB/s"
            value = bench.get("value_str") or ""
            function = bench.get("function_id") or ""
            rows.append((function, value, mean, per))
        if not rows:
            continue

        def key(r):
            try:
                return (r[0], float(r[1]))
            except ValueError:
                return (r[0], 0.0)

        rows.sort(key=key)
        print(f"\n### {group.name}\n")
        print("| benchmark | parameter | mean time | throughput |")
        print("| --- | ---: | ---: | ---: |")
        for function, value, mean, per in rows:
            print(f"| {function} | {value} | {fmt_time(mean)} | {per} |")


if __name__ == "__main__":
    main()
