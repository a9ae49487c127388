"""creditflow's black-box regression against all six of shapiq's regression-type
approximators, side by side (issue "time to accuracy", item 5).

Usage (through run.sh, which pins the environment):

    bash bench/shapiq/run.sh --blackbox [--seeds S] [--ns 32 64 128]

The grid: SOUM games (``shapiq_games.synthetic.SOUM``) with n ∈ {32, 64, 128} players,
interaction order ≤ 2, ≤ 3, ≤ 5 and unbounded, 100–400 basis games (drawn per game from
its seed), budgets B ∈ {10n, 20n, 50n, 100n} value evaluations (shapiq's count: ∅ and N
included). Estimators at equal budget: ``creditflow score --method regression --budget
B`` and shapiq 1.8.0's LeverageSHAP, OddSHAP, PolySHAP, ProxySHAP, KernelSHAP and
kADDSHAP, each with its defaults (KernelSHAP with pairing, ProxySHAP with its LightGBM
proxy). Each cell is the MSE against the exact values (creditflow's closed form, checked
against shapiq's Möbius converter), mean ± SE over the seeds' games; the verdict column
is the best shapiq MSE over creditflow's (> 1: creditflow wins). Writes
``docs/shapiq-blackbox.md`` and ``bench/shapiq/out/blackbox.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from lightgbm import LGBMRegressor

warnings.filterwarnings("ignore")

from compare import (  # noqa: E402
    Creditflow,
    Game,
    compare,
    fmt_e,
    fmt_t,
    machine,
    mean_se,
    mse,
    order_name,
    run_shapiq,
    sh,
)
from shapiq import (  # noqa: E402
    KernelSHAP,
    LeverageSHAP,
    OddSHAP,
    PolySHAP,
    ProxySHAP,
    kADDSHAP,
)

NS = (32, 64, 128)
ORDERS = (2, 3, 5, None)
MULTS = (10, 20, 50, 100)
BASIS = (100, 400)

SHAPIQ = {
    "LeverageSHAP": lambda n, s: LeverageSHAP(n=n, random_state=s),
    "OddSHAP": lambda n, s: OddSHAP(n=n, random_state=s),
    "PolySHAP": lambda n, s: PolySHAP(n=n, random_state=s),
    # The proxy "lightgbm" names, made here only to silence LightGBM's log.
    "ProxySHAP": lambda n, s: ProxySHAP(
        n=n,
        max_order=1,
        index="SV",
        proxy_model=LGBMRegressor(random_state=s, verbose=-1),
        random_state=s,
    ),
    "KernelSHAP": lambda n, s: KernelSHAP(n=n, pairing_trick=True, random_state=s),
    "kADDSHAP": lambda n, s: kADDSHAP(n=n, random_state=s),
}
# kADDSHAP (order 2) regresses on all 1 + n + n(n − 1)/2 interactions: at n = 128 that is
# 8,257 columns, and past B = 20n its normal equations (then its SVD fallback, the system
# being singular below 8,257 rows) take minutes per game on one thread; there it runs at
# B ≤ 20n only. `--skip NAME@NxMULT` leaves out more cells (PolySHAP takes 170–400 s per
# game at n = 128 past B = 20n).
SKIP = {("kADDSHAP", 128, 50), ("kADDSHAP", 128, 100)}
CFR = "creditflow regression"
# An MSE below this is exact to rounding (the regression recovers every Möbius term).
EXACT = 1e-25


def basis_count(n: int, order: int | None, seed: int) -> int:
    """The game's number of basis games, uniform in BASIS, fixed by the game."""
    rng = np.random.default_rng([n, order or 0, seed, 7])
    return int(rng.integers(BASIS[0], BASIS[1] + 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", type=Path, default=Path("target/release/creditflow"))
    ap.add_argument("--out", type=Path, default=Path("bench/shapiq/out"))
    ap.add_argument("--doc", type=Path, default=Path("docs/shapiq-blackbox.md"))
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--ns", type=int, nargs="+", default=list(NS))
    ap.add_argument(
        "--orders",
        nargs="+",
        default=[str(o or "all") for o in ORDERS],
        help="interaction orders to run (2, 3, 5, all)",
    )
    ap.add_argument(
        "--skip",
        nargs="*",
        default=[],
        help="cells left out as NAME@NxMULT (e.g. PolySHAP@128x50), besides SKIP",
    )
    ap.add_argument("--render", type=Path, help="rewrite the doc from an earlier blackbox.json")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of other player counts from an earlier blackbox.json",
    )
    args = ap.parse_args()
    if args.render:
        raw = json.loads(args.render.read_text())
        args.doc.write_text(render(raw["machine"], raw["results"], raw["seeds_by_n"]))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    cf = Creditflow(args.bin.resolve(), args.out)
    seeds = list(range(args.seeds))
    start = time.time()
    info = machine()
    info["creditflow"] = sh(str(args.bin), "--version")
    info["load_start"] = list(os.getloadavg())
    skip = set(SKIP)
    for cell in args.skip:
        name, rest = cell.split("@")
        n, mult = rest.split("x")
        skip.add((name, int(n), int(mult)))
    orders = [None if o == "all" else int(o) for o in args.orders]
    results = []
    for n in args.ns:
        for order in orders:
            t0 = time.time()
            games = []
            for s in seeds:
                basis = basis_count(n, order, s)
                g = Game(n, order, 1000 * basis + s, n_basis=basis, tag=f"o{order or 'all'}")
                g.basis = basis
                games.append(g)
            path = args.out / f"bb_games_n{n}-o{order or 'all'}.jsonl"
            path.write_text("".join(g.record() + "\n" for g in games))
            _, closed = cf.timed(path, ["--method", "closed-form"], args.out / "bb_closed.jsonl")
            err = max(float(np.max(np.abs(closed[g.id] - g.exact))) for g in games)
            assert err < 1e-9, f"n={n} order {order}: closed form differs by {err}"
            row = {
                "n": n,
                "order": order,
                "basis": [g.basis for g in games],
                "terms": [len(g.terms) for g in games],
                "cells": {},
            }
            for mult in MULTS:
                budget = mult * n
                t, est = cf.timed(
                    path,
                    ["--method", "regression", "--budget", str(budget), "--seed", "0"],
                    args.out / "bb_regression.jsonl",
                    reps=1,
                    full=True,
                )
                cell = {
                    CFR: {
                        "mse": [mse(np.array(est[g.id]["shapley"]), g.exact) for g in games],
                        "wall": t / len(games),
                        "evals": max(est[g.id]["samples"] for g in games),
                    }
                }
                assert cell[CFR]["evals"] <= budget
                for name in SHAPIQ:
                    if (name, n, mult) in skip:
                        cell[name] = {"error": "not run: minutes per game (see SKIP)"}
                        continue
                    try:
                        runs = [
                            run_shapiq(name, g, budget, s, SHAPIQ)
                            for g, s in zip(games, seeds, strict=True)
                        ]
                    except (ValueError, AssertionError) as e:  # e.g. OddSHAP below its floor
                        cell[name] = {"error": str(e)[:200]}
                        continue
                    cell[name] = {
                        "mse": [r["mse"] for r in runs],
                        "wall": statistics.median(r["wall"] for r in runs),
                        "evals": max(r["evals"] for r in runs),
                    }
                row["cells"][str(mult)] = cell
                print(
                    f"n={n} order {order_name(order)} B={mult}n: {time.time() - t0:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
            results.append(row)
            # Saved after every configuration (a long run stopped early keeps its rows).
            save(args, info, results, len(seeds), start)
    save(args, info, results, len(seeds), start)
    print(f"wrote {args.doc} in {info['runtime']:.0f} s", file=sys.stderr)


def save(args, info: dict, results: list, n_seeds: int, start: float) -> None:
    """Writes blackbox.json (rows of earlier runs with other player counts kept, with
    `--merge`) and the doc."""
    info["load_end"] = list(os.getloadavg())
    info["runtime"] = time.time() - start
    rows = list(results)
    seeds = {f"{r['n']}": n_seeds for r in rows}
    path = args.out / "blackbox.json"
    if args.merge and path.exists():
        old = json.loads(path.read_text())
        mine = {(r["n"], r["order"]) for r in rows}
        kept = [r for r in old["results"] if (r["n"], r["order"]) not in mine]
        rows = sorted(kept + rows, key=lambda r: (r["n"], r["order"] or 10**9))
        seeds = {**old.get("seeds_by_n", {}), **seeds}
    path.write_text(json.dumps({"machine": info, "results": rows, "seeds_by_n": seeds}, indent=1))
    args.doc.write_text(render(info, rows, seeds))


def verdict(cell: dict) -> tuple[str, float | None, bool]:
    """The best shapiq estimator of a cell, MSE(best) / MSE(creditflow), and whether the
    paired difference is resolved (> 2 SE)."""
    ok = {k: v for k, v in cell.items() if k != CFR and "mse" in v}
    if not ok:
        return "–", None, False
    best = min(ok, key=lambda k: statistics.fmean(ok[k]["mse"]))
    if statistics.fmean(cell[CFR]["mse"]) < EXACT:
        # Exact to rounding: a tie with another exact estimate, else a win by any margin.
        tie = statistics.fmean(ok[best]["mse"]) < EXACT
        return best, (1.0 if tie else float("inf")), True
    ratio, sig = compare(ok[best]["mse"], cell[CFR]["mse"])
    return best, ratio, sig


def render(info: dict, results: list, seeds: dict) -> str:
    L: list[str] = []
    w = L.append
    w("# creditflow's black-box regression against shapiq's six approximators\n")
    w(
        "Generated by `bash bench/shapiq/run.sh --blackbox` (do not edit by hand; raw numbers "
        "in `bench/shapiq/out/blackbox.json`). creditflow's paired regression "
        "(`score --method regression --budget B`, docs/semantics.md) against shapiq "
        f"{info['shapiq']}'s LeverageSHAP, OddSHAP, PolySHAP, ProxySHAP, KernelSHAP and "
        "kADDSHAP, at equal budgets of value evaluations (shapiq's count: ∅ and N included; "
        "every run's evaluations are counted and asserted ≤ B), on SOUM games "
        "(`shapiq_games.synthetic.SOUM(n, n_basis_games=K, max_interaction_size=k)`, K drawn "
        f"uniformly in {BASIS[0]}–{BASIS[1]} per game). Each shapiq approximator runs with "
        "its defaults, asked for Shapley values: `KernelSHAP(pairing_trick=True)`, "
        '`ProxySHAP(max_order=1, index="SV", proxy_model="lightgbm")` (its default index '
        "is k-SII of order 2, whose order-1 entries are not Shapley values; its default XGBoost "
        "proxy falls back to LightGBM when XGBoost is absent, and LightGBM is pinned), "
        "`kADDSHAP(max_order=2)`, `PolySHAP()` and `OddSHAP()` (LightGBM surrogate).\n"
    )
    la, lb = info["load_start"], info["load_end"]
    w(
        f"- Machine: {info['cpu']}, {info['nproc']} cores, {info['memory']}; load average "
        f"{la[0]:.2f} at the start, {lb[0]:.2f} at the end; {info['runtime'] / 60:.0f} min for the "
        f"last run. Python {info['python']}, shapiq {info['shapiq']}, numpy {info['numpy']}, "
        f"scikit-learn {info['scikit-learn']}, lightgbm {info['lightgbm']}; {info['rustc']}, "
        f"{info['creditflow']}."
    )
    per_n = ", ".join(f"{s} at n = {n}" for n, s in seeds.items())
    w(
        f"- Seeds per configuration: {per_n} (one game per seed; the estimators' "
        "`random_state` = seed; creditflow `--seed 0` on the file of all seeds' games). "
        "Cells: MSE over the n players, mean ± SE over the games, then the median wall time "
        "per game (creditflow: the whole process over the batch, divided by the games).\n"
    )
    w("## Verdict: the best of the six against creditflow\n")
    w(
        "MSE(best shapiq approximator of the cell) / MSE(creditflow regression): > 1 means "
        "creditflow is more accurate. **Bold** where creditflow loses; † where the paired "
        "difference is within 2 SE (not resolved by these seeds). The target is > 1 in every "
        "cell and ≥ 1.5 where the order is ≤ 5.\n"
    )
    w("| n | order | " + " | ".join(f"B = {m}n" for m in MULTS) + " |")
    w("| --- | --- | " + " | ".join("---" for _ in MULTS) + " |")
    won = lost = margin_missed = total = 0
    for r in results:
        row = []
        for m in MULTS:
            best, ratio, sig = verdict(r["cells"][str(m)])
            if ratio is None:
                row.append("–")
                continue
            total += 1
            tag = "" if sig else "†"
            shown = f"{ratio:.3g}" if ratio < 1e6 else "exact"
            if ratio == 1.0 and sig:
                total -= 1
                row.append(f"both exact ({best})")
                continue
            if ratio > 1:
                won += 1
                row.append(f"{shown}{tag} ({best})")
            else:
                lost += 1
                row.append(f"**{shown}**{tag} ({best})")
            if r["order"] is not None and ratio < 1.5:
                margin_missed += 1
        w(f"| {r['n']} | {order_name(r['order'])} | " + " | ".join(row) + " |")
    w("")
    w(
        f"creditflow has the lower MSE in {won} of {total} cells and loses {lost}; in "
        f'{margin_missed} cells of bounded order its margin is below 1.5×. "exact": '
        f"creditflow's MSE is below {EXACT:g} (the paired regression with its selected "
        "characters recovers the game), the best shapiq estimate's is not; cells where both "
        "are exact are left out of the counts.\n"
    )
    left_out = {}
    for r in results:
        for m in MULTS:
            for name, c in r["cells"][str(m)].items():
                if "error" in c:
                    key = (name, r["n"])
                    left_out.setdefault(key, []).append(f"{order_name(r['order'])} at {m}n")
    if left_out:
        w(
            "Not run, for time (minutes per game on one thread: kADDSHAP regresses on all "
            "8,257 interactions of order ≤ 2 at n = 128, PolySHAP took 170–400 s per game "
            "at n = 128 past B = 20n); those cells compare creditflow with the best of the "
            "others: "
            + "; ".join(
                f"{name} at n = {n}: {', '.join(cells)}" for (name, n), cells in left_out.items()
            )
            + ".\n"
        )
    w("## Every estimator\n")
    names = [CFR, *SHAPIQ]
    for r in results:
        w(f"### n = {r['n']}, order {order_name(r['order'])}\n")
        w(
            f"Basis games per game: {min(r['basis'])}–{max(r['basis'])}; Möbius terms: "
            f"{min(r['terms'])}–{max(r['terms'])}.\n"
        )
        w("| estimator | " + " | ".join(f"B = {m}n" for m in MULTS) + " |")
        w("| --- | " + " | ".join("---" for _ in MULTS) + " |")
        best = {}
        for m in MULTS:
            c = r["cells"][str(m)]
            best[m] = min(statistics.fmean(v["mse"]) for v in c.values() if "mse" in v)
        for e in names:
            row = []
            for m in MULTS:
                c = r["cells"][str(m)].get(e)
                if c is None or "mse" not in c:
                    row.append("– (" + (c or {}).get("error", "not run")[:60] + ")")
                    continue
                mu, se = mean_se(c["mse"])
                s = f"{fmt_e(mu)} ± {fmt_e(se)}"
                if mu == best[m]:
                    s = f"**{s}**"
                row.append(f"{s} · {fmt_t(c['wall'])}")
            w(f"| {e} | " + " | ".join(row) + " |")
        w("")
    return "\n".join(L)


if __name__ == "__main__":
    main()
