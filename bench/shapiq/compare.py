"""creditflow vs shapiq on shapiq's sum-of-unanimity (SOUM) games.

Run through ``bench/shapiq/run.sh`` (which pins the Python environment and builds the
release binary); this script does the whole comparison and writes ``docs/shapiq.md``:

1. draws shapiq's SOUM games (``shapiq_games.synthetic.SOUM``) and exports their Möbius
   coefficients as creditflow game records (DESIGN §2.2); the games are never regenerated
   on the Rust side. The export is checked against the game's own value function, and
   creditflow's closed form against shapiq's exact Shapley values (asserted to 1e-9);
2. runs shapiq's PermutationSamplingSV, KernelSHAP (pairing on), LeverageSHAP and SVARM
   and creditflow's permutation estimator at equal budgets B ∈ {5n, 20n, 100n, 500n}
   value evaluations (shapiq's way of counting: ∅ and N included);
3. reports MSE against the exact values (mean ± SE over seeds) and wall time, the error at
   equal wall time (creditflow given the time LeverageSHAP takes at B = 100n), and value
   evaluations per second at n = 64.

Every timing is single-threaded: BLAS is pinned to one thread by run.sh and creditflow runs
with ``-j 1``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")

import shapiq  # noqa: E402
from shapiq import SVARM, KernelSHAP, LeverageSHAP, OddSHAP, PermutationSamplingSV  # noqa: E402
from shapiq.game_theory.exact import ExactComputer  # noqa: E402
from shapiq.game_theory.moebius_converter import MoebiusConverter  # noqa: E402
from shapiq_games.synthetic import SOUM  # noqa: E402

NS = (16, 32, 64, 128)
ORDERS = (3, None)  # interaction order ≤ 3, and unbounded (sizes drawn from 0..n)
MULTS = (5, 20, 100, 500)  # B = mult · n
N_BASIS = 150  # unanimity games drawn per SOUM (duplicates merge into one Möbius term)
THROUGHPUT_N = 64

SHAPIQ = {
    "PermutationSamplingSV": lambda n, s: PermutationSamplingSV(n=n, random_state=s),
    "KernelSHAP": lambda n, s: KernelSHAP(n=n, pairing_trick=True, random_state=s),
    "LeverageSHAP": lambda n, s: LeverageSHAP(n=n, random_state=s),
    "SVARM": lambda n, s: SVARM(n=n, random_state=s),
    "OddSHAP": lambda n, s: OddSHAP(n=n, random_state=s),
}
CF = "creditflow permutation"
CFR = "creditflow regression"
ESTIMATORS = (CF, CFR, *SHAPIQ)
# OddSHAP refuses budgets below n · interaction_factor (10n by default), and its LightGBM
# surrogate costs about 7 s per game at n = 32, B = 500n, 53 s at n = 64, B = 500n and 330
# s at n = 128, B = 500n (one thread), so it runs where ten seeds stay affordable.
ODDSHAP_MULTS = {16: (20, 100, 500), 32: (20, 100, 500), 64: (20, 100), 128: (20,)}

# shapiq 1.8.0's SVARM spends time quadratic in the budget in pure Python (about 1 ms per
# evaluation at n = 64, 8 ms at n = 128), so it runs where ten seeds stay affordable.
SVARM_MULTS = {16: (5, 20, 100, 500), 32: (5, 20, 100), 64: (5, 20), 128: ()}


def order_name(order: int | None) -> str:
    return f"≤{order}" if order else "unbounded"


def order_tag(order: int | None) -> str:
    return "o3" if order == 3 else "oall"


def game_seed(n: int, order: int | None, seed: int) -> int:
    return 100_000 + 1000 * n + (0 if order == 3 else 500) + seed


# --------------------------------------------------------------------------- helpers


def sh(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    os_name = platform.platform()
    if Path("/etc/os-release").exists():
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    import lightgbm
    import scipy
    import sklearn

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "os": f"{os_name}, Linux {platform.release()}",
        "python": platform.python_version(),
        "shapiq": shapiq.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "lightgbm": lightgbm.__version__,
        "rustc": sh("rustc", "--version"),
    }


def mse(est: np.ndarray, exact: np.ndarray) -> float:
    return float(np.mean((est - exact) ** 2))


def mean_se(xs: list[float]) -> tuple[float, float]:
    m = statistics.fmean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0
    return m, se


def fmt_e(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:.2e}".replace("e-0", "e-").replace("e+0", "e")


def fmt_t(sec: float) -> str:
    if sec >= 1:
        return f"{sec:.2f} s"
    if sec >= 1e-3:
        return f"{sec * 1e3:.3g} ms"
    return f"{sec * 1e6:.3g} µs"


def fmt_rate(x: float) -> str:
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= f:
            return f"{x / f:.3g} {unit}"
    return f"{x:.3g}"


def cf_samples(budget: int, n: int) -> int:
    """Permutations creditflow may draw at a budget of `budget` value evaluations.

    A permutation walk evaluates v at its n − 1 proper non-empty prefixes; ∅ and N are
    shared by all permutations, so P permutations cost P·(n − 1) + 2 evaluations. P is
    rounded down to an even number (antithetic pairs), at least 2.
    """
    p = (budget - 2) // (n - 1)
    return max(2, p - p % 2)


def cf_evals(p: int, n: int) -> int:
    return p * (n - 1) + 2


# --------------------------------------------------------------------------- games


class Game:
    """One SOUM with its export and its exact Shapley values."""

    def __init__(self, n: int, order: int | None, seed: int, n_basis: int = N_BASIS, tag: str = ""):
        self.n, self.order, self.seed = n, order, seed
        self.id = f"n{n}-{tag or order_tag(order)}-s{seed}"
        self.soum = SOUM(
            n=n,
            n_basis_games=n_basis,
            max_interaction_size=order,
            random_state=game_seed(n, order, seed),
        )
        mob = self.soum.moebius_coefficients
        self.terms = [
            (float(mob.values[i]), sorted(int(p) for p in t))
            for t, i in mob.interaction_lookup.items()
        ]
        conv = MoebiusConverter(mob)("SV", order=1)
        self.exact = np.array([conv[(i,)] for i in range(n)])
        # Independent check of the converter: φ_j = Σ_{T ∋ j} c_T / |T|.
        direct = np.zeros(n)
        for c, t in self.terms:
            for p in t:
                direct[p] += c / len(t)
        assert np.max(np.abs(direct - self.exact)) < 1e-9, self.id
        # The export reproduces the game's value function.
        rng = np.random.default_rng(seed)
        coal = rng.random((64, n)) < rng.random((64, 1))
        coal[0] = False
        coal[1] = True
        mine = np.array([sum(c for c, t in self.terms if all(row[p] for p in t)) for row in coal])
        assert np.max(np.abs(mine - self.soum.value_function(coal))) < 1e-9, self.id

    def record(self) -> str:
        return json.dumps(
            {"id": self.id, "game": {"players": self.n, "terms": [[c, t] for c, t in self.terms]}}
        )


# --------------------------------------------------------------------------- creditflow


class Creditflow:
    def __init__(self, binary: Path, out: Path):
        self.bin, self.out = binary, out
        # Pin the CPU path where the binary has a backend choice (no GPU probing either).
        help_text = subprocess.run(
            [str(binary), "score", "--help"], capture_output=True, text=True
        ).stdout
        self.backend = ["--backend", "cpu"] if "--backend" in help_text else []

    def run(self, games: Path, args: list[str], out: Path, threads: int | None = 1) -> float:
        jobs = ["-j", str(threads)] if threads else []
        cmd = [str(self.bin), "score", str(games), *self.backend, *jobs, "-o", str(out), *args]
        t = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit(f"creditflow failed: {' '.join(cmd)}\n{r.stderr}")
        return dt

    @staticmethod
    def read(out: Path) -> dict[str, np.ndarray]:
        return {i: np.array(rec["shapley"]) for i, rec in Creditflow.read_full(out).items()}

    def timed(
        self,
        games: Path,
        args: list[str],
        out: Path,
        reps: int = 3,
        threads: int | None = 1,
        full: bool = False,
    ) -> tuple[float, dict]:
        """Median wall time of `reps` runs, and the (identical) output: Shapley values by
        id, or whole output records with `full`."""
        ts = [self.run(games, args, out, threads) for _ in range(reps)]
        return statistics.median(ts), (self.read_full(out) if full else self.read(out))

    @staticmethod
    def read_full(out: Path) -> dict[str, dict]:
        res = {}
        for line in out.read_text().splitlines():
            rec = json.loads(line)
            if "error" in rec:
                sys.exit(f"creditflow error record: {rec}")
            res[rec["id"]] = rec
        return res

    def perm(self, p: int) -> list[str]:
        return ["--method", "permutation", "--samples", str(p), "--seed", "0"]


# --------------------------------------------------------------------------- shapiq


def run_shapiq(
    name: str, game: Game, budget: int, seed: int, approximators: dict | None = None
) -> dict:
    """One shapiq approximator (`approximators[name]`, SHAPIQ by default) on `game` at
    `budget`: its MSE, wall time, counted evaluations (asserted ≤ budget), its own
    reported budget and the time spent in the game."""
    n = game.n
    counted = {"evals": 0, "time": 0.0}

    def f(coalitions: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        v = game.soum(coalitions)
        counted["time"] += time.perf_counter() - t
        counted["evals"] += np.atleast_2d(coalitions).shape[0]
        return v

    t = time.perf_counter()
    approx = (approximators or SHAPIQ)[name](n, seed)
    iv = approx.approximate(budget, f)
    wall = time.perf_counter() - t
    est = np.array([iv[(i,)] for i in range(n)])
    assert counted["evals"] <= budget, (name, n, budget, counted)
    return {
        "mse": mse(est, game.exact),
        "wall": wall,
        "evals": counted["evals"],
        "reported": iv.estimation_budget,
        "game_time": counted["time"],
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", type=Path, default=Path("target/release/creditflow"))
    ap.add_argument("--out", type=Path, default=Path("bench/shapiq/out"))
    ap.add_argument("--doc", type=Path, default=Path("docs/shapiq.md"))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument(
        "--ns",
        type=int,
        nargs="+",
        default=list(NS),
        help="player counts (a quick check; the report needs n = 64)",
    )
    ap.add_argument(
        "--render",
        type=Path,
        help="rewrite the doc from a results.json of an earlier run (no measurement)",
    )
    args = ap.parse_args()
    if args.render:
        raw = json.loads(args.render.read_text())
        res = {
            k: {**r, "cells": {int(m): c for m, c in r["cells"].items()}}
            for k, r in raw["results"].items()
        }
        bench = (args.render.parent / "bench.txt").read_text().strip()
        n_seeds = len(next(iter(res.values()))["terms"])
        args.doc.write_text(render(raw["machine"], res, raw["svarm_probe"], bench, n_seeds))
        print(f"rendered {args.doc} from {args.render}", file=sys.stderr)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    cf = Creditflow(args.bin.resolve(), args.out)
    seeds = list(range(args.seeds))
    start = time.time()
    load_start = os.getloadavg()
    info = machine()
    info["creditflow"] = sh(str(args.bin), "--version")
    info["backend_args"] = cf.backend

    results: dict = {}  # (n, order) -> {...}
    for n in args.ns:
        for order in ORDERS:
            key = f"n{n}-{order_tag(order)}"
            t0 = time.time()
            games = [Game(n, order, s) for s in seeds]
            path = args.out / f"games_{key}.jsonl"
            path.write_text("".join(g.record() + "\n" for g in games))
            exact = {g.id: g.exact for g in games}

            # creditflow's closed form equals shapiq's exact values.
            t_closed, closed = cf.timed(
                path, ["--method", "closed-form"], args.out / f"closed_{key}.jsonl"
            )
            err = max(float(np.max(np.abs(closed[i] - exact[i]))) for i in exact)
            assert err < 1e-9, f"{key}: closed form differs from shapiq by {err}"
            brute = None
            if n == 16:  # brute force over all 2^16 coalitions, first game
                ec = ExactComputer(games[0].soum, n_players=n)("SV", order=1)
                bf = np.array([ec[(i,)] for i in range(n)])
                brute = float(np.max(np.abs(bf - closed[games[0].id])))
                assert brute < 1e-9, f"{key}: brute force differs by {brute}"

            rec = {
                "n": n,
                "order": order,
                "terms": [len(g.terms) for g in games],
                "max_size": max(len(t) for g in games for _, t in g.terms),
                "closed_err": err,
                "brute_err": brute,
                "t_closed": t_closed,
                "cells": {},
            }

            # creditflow's cost per permutation: a long run minus the closed-form run on the
            # same file (same process start, parse and output), over games × permutations.
            p_cal = 2000
            while True:
                t_cal = cf.run(path, cf.perm(p_cal), args.out / "cal.jsonl")
                if t_cal - t_closed > 0.1 or p_cal >= 2**28:
                    break
                p_cal *= 4
            p_big = int(min(2**30, p_cal * 0.5 / (t_cal - t_closed)))
            p_big -= p_big % 2
            t_big, _ = cf.timed(path, cf.perm(p_big), args.out / "big.jsonl")
            t_perm = max(t_big - t_closed, 1e-9) / (len(games) * p_big)
            rec["t_perm"], rec["p_big"], rec["t_big"] = t_perm, p_big, t_big
            if n == THROUGHPUT_N:  # the same batch with creditflow's default: all cores
                rec["t_big_all"], _ = cf.timed(
                    path, cf.perm(p_big), args.out / "big.jsonl", threads=None
                )

            for mult in MULTS:
                budget = mult * n
                p = cf_samples(budget, n)
                t, est = cf.timed(path, cf.perm(p), args.out / f"perm_{key}_B{mult}n.jsonl")
                cell = {
                    CF: {
                        "mse": [mse(est[g.id], g.exact) for g in games],
                        "wall": t / len(games),
                        "evals": cf_evals(p, n),
                        "samples": p,
                        "pure": p * t_perm,
                    }
                }
                t, est = cf.timed(
                    path,
                    ["--method", "regression", "--budget", str(budget), "--seed", "0"],
                    args.out / f"regression_{key}_B{mult}n.jsonl",
                    reps=1,
                    full=True,
                )
                cell[CFR] = {
                    "mse": [mse(est[g.id]["shapley"], g.exact) for g in games],
                    "wall": t / len(games),
                    "evals": max(est[g.id]["samples"] for g in games),
                    "z2": [
                        float(
                            np.mean(
                                (
                                    (np.array(est[g.id]["shapley"]) - g.exact)
                                    / np.maximum(np.array(est[g.id]["se"]), 1e-300)
                                )
                                ** 2
                            )
                        )
                        for g in games
                    ],
                    "rel_se": [
                        float(np.mean(est[g.id]["se"]) / max(np.mean(np.abs(g.exact)), 1e-300))
                        for g in games
                    ],
                }
                assert cell[CFR]["evals"] <= budget, (key, mult, cell[CFR]["evals"])
                for name in SHAPIQ:
                    if name == "SVARM" and mult not in SVARM_MULTS[n]:
                        continue
                    if name == "OddSHAP" and mult not in ODDSHAP_MULTS[n]:
                        continue
                    runs = [
                        run_shapiq(name, g, budget, s) for g, s in zip(games, seeds, strict=True)
                    ]  # noqa: E501
                    cell[name] = {
                        "mse": [r["mse"] for r in runs],
                        "wall": statistics.median(r["wall"] for r in runs),
                        "evals": max(r["evals"] for r in runs),
                        "reported_match": all(r["reported"] == r["evals"] for r in runs),
                        "game_time": statistics.median(r["game_time"] for r in runs),
                    }
                rec["cells"][mult] = cell

            # Equal wall time: creditflow gets LeverageSHAP's time at B = 100n, per game,
            # everything included (process start and parse amortised over the batch).
            # The same for the other shapiq estimators at B = 100n (one timed run each).
            overhead = t_closed / len(games)
            rec["eqtime"] = {}
            for name in SHAPIQ:
                c = rec["cells"][100].get(name)
                if c is None:
                    continue
                p_eq = int(min(2**31, max(2, (c["wall"] - overhead) / t_perm)))
                p_eq -= p_eq % 2
                reps = 3 if name == "LeverageSHAP" else 1
                out_eq = args.out / f"eqtime_{key}_{name}.jsonl"
                t, est = cf.timed(path, cf.perm(p_eq), out_eq, reps=reps)
                for _ in range(2):  # correct the permutation count if the time missed by >10 %
                    per_game = t / len(games)
                    if abs(per_game / c["wall"] - 1) <= 0.1 or per_game <= overhead:
                        break
                    p_eq = int(max(2, p_eq * (c["wall"] - overhead) / (per_game - overhead)))
                    p_eq -= p_eq % 2
                    t, est = cf.timed(path, cf.perm(p_eq), out_eq, reps=reps)
                rec["eqtime"][name] = {
                    "t_shapiq": c["wall"],
                    "samples": p_eq,
                    "wall": t / len(games),
                    "mse": [mse(est[g.id], g.exact) for g in games],
                }
            results[key] = rec
            print(f"{key}: done in {time.time() - t0:.1f} s", file=sys.stderr, flush=True)

    # SVARM at n = 128 is left out of the tables; one timed run says why.
    g = Game(128, 3, 0)
    svarm_probe = run_shapiq("SVARM", g, 5 * 128, 0)

    bench_help = subprocess.run(
        [str(args.bin), "bench", "--help"], capture_output=True, text=True
    ).stdout
    bench_cmd = ["bench", "--scale", "0.5"]
    if "--backend" in bench_help:
        bench_cmd += ["--backend", "cpu"]
    info["bench_cmd"] = "creditflow " + " ".join(bench_cmd)
    bench = subprocess.run(
        [str(args.bin), *bench_cmd], capture_output=True, text=True
    ).stdout.strip()
    (args.out / "bench.txt").write_text(bench + "\n")
    info["load_start"] = load_start
    info["load_end"] = os.getloadavg()
    info["runtime"] = time.time() - start
    (args.out / "results.json").write_text(
        json.dumps(
            {"machine": info, "results": results, "svarm_probe": svarm_probe}, indent=1, default=str
        )
    )
    args.doc.write_text(render(info, results, svarm_probe, bench, len(seeds)))
    print(f"wrote {args.doc} in {info['runtime']:.0f} s", file=sys.stderr)


# --------------------------------------------------------------------------- report


def render(info: dict, results: dict, svarm_probe: dict, bench: str, n_seeds: int) -> str:
    L: list[str] = []
    w = L.append
    keys = list(results)
    w("# creditflow vs shapiq on shapiq's SOUM games\n")
    w(
        "Generated by `bash bench/shapiq/run.sh` (do not edit by hand; raw numbers in `bench/shapiq/out/results.json`). It compares creditflow's "  # noqa: E501
        "Monte Carlo permutation estimator and its paired regression for black-box games "
        "(`--method regression --budget B`, docs/semantics.md) with the Shapley value "
        f"approximators of [shapiq](https://github.com/mmschlk/shapiq) {info['shapiq']} on "
        "shapiq's sum-of-unanimity games (SOUM), at equal budgets of value evaluations and "
        "(for the permutation estimator) at equal wall time.\n"
    )

    w("## Machine and commands\n")
    la, lb = info["load_start"], info["load_end"]
    w(
        f"- CPU: {info['cpu']}, {info['nproc']} cores (shared with other work; every timing "
        f"is single-threaded unless marked); memory {info['memory']}; {info['os']}."
    )
    w(
        f"- Load average (1/5/15 min): {la[0]:.2f} / {la[1]:.2f} / {la[2]:.2f} at the start, "
        f"{lb[0]:.2f} / {lb[1]:.2f} / {lb[2]:.2f} at the end; the whole run took "
        f"{info['runtime'] / 60:.1f} min."
    )
    w(
        f"- Python {info['python']}, shapiq {info['shapiq']}, numpy {info['numpy']}, scipy "
        f"{info['scipy']}, scikit-learn {info['scikit-learn']}, lightgbm {info['lightgbm']} "
        "(OddSHAP's surrogate; all pinned in "
        "`bench/shapiq/requirements.txt`); {} ({}), release build.\n".format(
            info["rustc"], info["creditflow"]
        )
    )
    w(
        "```sh\nbash bench/shapiq/run.sh   # venv + pinned requirements, cargo build --release, "
        "compare.py, rewrites this file\n```\n"
    )
    w(
        "After `cargo build --release`, `run.sh` runs `OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "
        "MKL_NUM_THREADS=1 nice -n 10 bench/shapiq/.venv/bin/python bench/shapiq/compare.py "
        "--bin target/release/creditflow --out bench/shapiq/out --doc docs/shapiq.md`. The games and outputs land in `bench/shapiq/out/` "  # noqa: E501
        "(not in git). Per configuration and budget, creditflow is run as\n"
    )
    b = " ".join(info["backend_args"])
    b = f" {b}" if b else ""
    w(
        f"```sh\ncreditflow score bench/shapiq/out/games_n64-o3.jsonl{b} -j 1 --method "
        f"closed-form -o closed.jsonl\ncreditflow score bench/shapiq/out/games_n64-o3.jsonl{b} "
        "-j 1 --method permutation --samples P --seed 0 -o perm.jsonl\n"
        f"creditflow score bench/shapiq/out/games_n64-o3.jsonl{b} -j 1 --method regression "
        "--budget B --seed 0 -o regression.jsonl\n```\n"
    )
    w(
        "and shapiq as `Estimator(n=n, random_state=seed, ...).approximate(B, game)` with "
        "`PermutationSamplingSV(n)`, `KernelSHAP(n, pairing_trick=True)`, `LeverageSHAP(n)` "
        "(its defaults: pairing on, deterministic per-size counts), `SVARM(n)` and "
        "`OddSHAP(n)` (its defaults: LightGBM surrogate, `interaction_factor=10`, so it "
        "refuses budgets below 10n and has no B = 5n cells; its surrogate's time limits it to "
        + "; ".join(f"n = {n}: {', '.join(f'{m}n' for m in ms)}" for n, ms in ODDSHAP_MULTS.items())
        + ").\n"
    )

    w("## Games\n")
    w(
        f"`shapiq_games.synthetic.SOUM(n, n_basis_games={N_BASIS}, max_interaction_size=k)` "
        'with k = 3 ("≤3") or k = n ("unbounded"; interaction sizes uniform in 0..n), for '
        f"n ∈ {{{', '.join(map(str, NS))}}} and {n_seeds} seeds each (a new game per seed, "
        "and the estimators' `random_state` = seed). Coefficients are uniform in [−1, 1]. The "
        "Python side exports each game's Möbius coefficients (`soum.moebius_coefficients`, "
        "where duplicate draws are merged, so a game has at most "
        f"{N_BASIS} terms; the empty set is the term `[c, []]`) as a creditflow game record "
        '`{"id", "game": {"players": n, "terms": [[c, [players]], ...]}}`; creditflow '
        "never regenerates them. Checks, asserted by the script:\n"
    )
    w(
        "- the exported terms reproduce `soum.value_function` on 64 random coalitions per "
        "game (to 1e-9);"
    )
    w(
        "- creditflow's `--method closed-form` equals shapiq's exact Shapley values "
        '(`MoebiusConverter(soum.moebius_coefficients)("SV", order=1)`) on every game, and '
        "at n = 16 also shapiq's brute-force `ExactComputer` over all 2^16 coalitions.\n"
    )
    w(
        "| config | terms per game (min–max) | largest term | max abs difference, closed form vs "
        "shapiq | vs brute force |"
    )
    w("| --- | --- | --- | --- | --- |")
    for k in keys:
        r = results[k]
        bf = fmt_e(r["brute_err"]) if r["brute_err"] is not None else "–"
        w(
            f"| n={r['n']}, order {order_name(r['order'])} | {min(r['terms'])}–{max(r['terms'])} "
            f"| {r['max_size']} | {fmt_e(r['closed_err'])} | {bf} |"
        )
    w("")

    mismatches = [
        f"{name} at n={r['n']} {order_name(r['order'])} B={m}n"
        for r in results.values()
        for m in MULTS
        for name, c in r["cells"][m].items()
        if name not in (CF, CFR) and not c["reported_match"]
    ]
    w("## Budget accounting\n")
    w(
        "shapiq counts a budget as the number of coalitions whose value is requested, ∅ and N "
        "included; the script wraps the game and counts the rows it is asked for (and asserts "
        "they never exceed B). PermutationSamplingSV evaluates ∅ and N once and n − 1 prefixes "
        "per permutation, so it draws ⌊(B − 2)/(n − 1)⌋ permutations and leaves the remainder "
        "unspent (its `estimation_budget` reports exactly the evaluations made); KernelSHAP and "
        "SVARM spend B exactly, LeverageSHAP 2 + 2⌊(B − 2)/2⌋. "
        + (
            "In every shapiq run the approximator's own `estimation_budget` equals the counted "
            "evaluations.\n"
            if not mismatches
            else "The approximator's own `estimation_budget` differs from the counted evaluations "
            "for: " + ", ".join(mismatches) + ".\n"
        )
    )
    w(
        "creditflow's permutation walk shares the same structure: ∅ and N are common to every "
        "permutation, and each permutation evaluates its n − 1 proper non-empty prefixes "
        "(incrementally: adding a player touches only the terms that contain it). So P "
        "permutations cost P·(n − 1) + 2 evaluations, and at budget B creditflow gets "
        "P = ⌊(B − 2)/(n − 1)⌋ rounded down to an even number (`--samples` counts "
        "permutations and draws them as antithetic pairs), never more than shapiq's "
        "permutation sampler. Evaluations actually used:\n"
    )
    w(
        "creditflow's regression spends ∅ and N and then complementary pairs, 2 + 2⌊(B − 2)/2⌋ "
        "evaluations like LeverageSHAP (fewer only where every coalition fits in B).\n"
    )
    w("| n | B | creditflow P | " + " | ".join(ESTIMATORS) + " |")
    w("| --- | --- | --- | " + " | ".join("---" for _ in ESTIMATORS) + " |")
    for n in NS:
        if f"n{n}-o3" not in results:
            continue
        r = results[f"n{n}-o3"]
        for mult in MULTS:
            c = r["cells"][mult]
            ev = [str(c[e]["evals"]) if e in c else "–" for e in ESTIMATORS]
            w(f"| {n} | {mult}n = {mult * n} | {c[CF]['samples']} | {' | '.join(ev)} |")
    w("")

    w("## Accuracy and time at equal budget\n")
    w(
        f"Each cell: MSE over the n players against the exact values, mean ± standard error "
        f"over {n_seeds} seeds (one game per seed), then the wall time per game (median over "
        "seeds). shapiq's time covers constructing the approximator and `approximate()`, "
        "including the time spent evaluating its SOUM (the share in the game is listed "
        "below). creditflow's time is the whole `score` process on the file of all seeds' "
        "games divided by the number of games (median of 3 runs), so it includes process "
        "start, JSON parsing and writing the output; the pure estimator time (permutations × "
        "measured cost per permutation) is in brackets; the regression's time is one run. "
        "**Bold**: lowest MSE in the column. "
        "SVARM is left out where it is too slow to run ten seeds (see below). An MSE below "
        "1e-25 means the estimate is exact to rounding.\n"
    )
    for k in keys:
        r = results[k]
        w(f"### n = {r['n']}, interaction order {order_name(r['order'])}\n")
        w("| estimator | " + " | ".join(f"B = {m}n" for m in MULTS) + " |")
        w("| --- | " + " | ".join("---" for _ in MULTS) + " |")
        best = {m: min(statistics.fmean(c["mse"]) for c in r["cells"][m].values()) for m in MULTS}
        for e in ESTIMATORS:
            row = []
            for m in MULTS:
                c = r["cells"][m].get(e)
                if c is None:
                    row.append("–")
                    continue
                mu, se = mean_se(c["mse"])
                s = f"{fmt_e(mu)} ± {fmt_e(se)}"
                if mu == best[m]:
                    s = f"**{s}**"
                t = fmt_t(c["wall"])
                if e == CF:
                    t += f" [{fmt_t(c['pure'])}]"
                row.append(f"{s} · {t}")
            w(f"| {e} | " + " | ".join(row) + " |")
        shares = []
        for e in SHAPIQ:
            c = r["cells"][100].get(e)
            if c:
                shares.append(f"{e} {100 * c['game_time'] / c['wall']:.0f} %")
        w(
            f"\nShare of shapiq's time spent in the SOUM's value function at B = 100n: "
            f"{', '.join(shares)}.\n"
        )

    # ----------------------------------------------------------------- who wins
    w("### Who wins at equal budget\n")
    w(
        "Ratio of mean MSEs per configuration. Left: MSE(shapiq PermutationSamplingSV) / "
        "MSE(creditflow permutation) (> 1: creditflow is more accurate; **bold** where it is "
        "not). Right: MSE(LeverageSHAP) / MSE(creditflow regression) (> 1: creditflow is more "
        "accurate; **bold** where it is not; ≫ 1 where the regression is exact to rounding). "
        "A † marks a difference smaller than twice its standard error (paired over the seeds' "
        "games), i.e. not resolved by this many seeds.\n"
    )
    w(
        "| config | "
        + " | ".join(f"vs perm, {m}n" for m in MULTS)
        + " | "
        + " | ".join(f"vs Leverage, {m}n" for m in MULTS)
        + " |"
    )
    w("| --- | " + " | ".join("---" for _ in range(2 * len(MULTS))) + " |")
    perm_losses, perm_total, lev_wins = [], 0, []
    for k in keys:
        r = results[k]
        a, b = [], []
        for m in MULTS:
            c = r["cells"][m]
            ratio, sig = compare(c["PermutationSamplingSV"]["mse"], c[CF]["mse"])
            perm_total += 1
            tag = "" if sig else "†"
            if ratio > 1:
                a.append(f"{ratio:.2f}{tag}")
            else:
                a.append(f"**{ratio:.2f}**{tag}")
                perm_losses.append((r, m, ratio, sig))
            lr, lsig = compare(c["LeverageSHAP"]["mse"], c[CFR]["mse"])
            tag = "" if lsig else "†"
            shown = f"{lr:.3g}" if lr < 1e6 else "exact"
            if lr < 1:
                lev_wins.append((r, m, 1 / lr, lsig))
                b.append(f"**{shown}**{tag}")
            else:
                b.append(f"{shown}{tag}")
        w(f"| n={r['n']}, {order_name(r['order'])} | " + " | ".join(a + b) + " |")
    w("")

    w("### The regression's standard errors\n")
    w(
        "Median over the seeds' games of the mean over players of ((estimate − exact) / SE)²: "
        "1 for honest SEs, below 1 for conservative ones, above 1 where the SE understates the "
        "error. Left out (–) where the estimate is exact to rounding (MSE < 1e-25), where the "
        "ratio only compares rounding errors.\n"
    )
    w("| config | " + " | ".join(f"{m}n" for m in MULTS) + " |")
    w("| --- | " + " | ".join("---" for _ in MULTS) + " |")
    for k in keys:
        r = results[k]
        row = []
        for m in MULTS:
            c = r["cells"][m][CFR]
            exact = statistics.fmean(c["mse"]) < 1e-25
            row.append("–" if exact else f"{statistics.median(c['z2']):.2f}")
        w(f"| n={r['n']}, {order_name(r['order'])} | " + " | ".join(row) + " |")
    w("")

    # ----------------------------------------------------------------- equal time
    w("## Equal wall time\n")
    w(
        "creditflow gets the wall time per game that each shapiq estimator takes at B = 100n "
        "(median over seeds). Its permutation count is set from the measured cost per "
        "permutation and the per-game process overhead (the closed-form run on the same file "
        "divided by the number of games), and corrected (at most twice) when the run missed "
        "the time by more than 10 %; the table shows the time it then actually took per game, "
        "everything included (median of 3 runs against LeverageSHAP, the target's reference; "
        "one run otherwise), and both errors (mean ± SE over the seeds).\n"
    )
    w(
        "| config | shapiq estimator at B = 100n: time · MSE | creditflow at that time: "
        "permutations · time per game · MSE | MSE ratio shapiq / creditflow |"
    )
    w("| --- | --- | --- | --- |")
    eq_ratios = []
    for k in keys:
        r = results[k]
        for name, e in r["eqtime"].items():
            sm, ss = mean_se(r["cells"][100][name]["mse"])
            cm, cs = mean_se(e["mse"])
            ratio = sm / cm if cm > 0 else math.inf
            if name == "LeverageSHAP":
                eq_ratios.append((r, ratio))
            label = f"**{name}**" if name == "LeverageSHAP" else name
            w(
                f"| n={r['n']}, {order_name(r['order'])} | {label}: {fmt_t(e['t_shapiq'])} · "
                f"{fmt_e(sm)} ± {fmt_e(ss)} | {e['samples']} · {fmt_t(e['wall'])} · "
                f"{fmt_e(cm)} ± {fmt_e(cs)} | {ratio:.3g}× |"
            )
    w("")

    # ----------------------------------------------------------------- throughput
    tn = THROUGHPUT_N
    w(f"## Value evaluations per second at n = {tn}\n")
    w(
        "Evaluations as counted above divided by wall time, one thread. shapiq, per "
        "estimator: end to end (`approximate()` including the SOUM's evaluation), and the "
        "SOUM's value function alone (evaluations / time inside the game calls; it evaluates a "
        "batch of coalitions per call with a Python loop over the unanimity games, so large "
        "batches are cheaper per row). creditflow: per game at B = 500n (one short process for "
        f"the {n_seeds} games: start, parse and output amortised over them), on a long batch "
        "(one process, all seeds' games, enough permutations for about half a second), and the "
        "pure permutation walk ((n − 1) evaluations per permutation / time per permutation, "
        "the long batch minus the closed-form run on the same file).\n"
    )
    w(
        "| config | estimator | end to end, B = 100n | end to end, B = 500n | value function "
        "alone / pure walk |"
    )
    w("| --- | --- | --- | --- | --- |")
    tput = {}
    for order in ORDERS:
        k = f"n{tn}-{order_tag(order)}"
        if k not in results:
            continue
        r = results[k]
        best_e2e, best_game = (0.0, ""), (0.0, "")
        for e in ESTIMATORS:
            cells = []
            for m in (100, 500):
                c = r["cells"][m].get(e)
                cells.append(fmt_rate(c["evals"] / c["wall"]) + "/s" if c else "–")
                if c and e not in (CF, CFR) and c["evals"] / c["wall"] > best_e2e[0]:
                    best_e2e = (c["evals"] / c["wall"], f"{e}, B = {m}n")
                if c and e not in (CF, CFR) and c["evals"] / c["game_time"] > best_game[0]:
                    best_game = (c["evals"] / c["game_time"], f"{e}'s calls, B = {m}n")
            c = r["cells"][500].get(e)
            if e == CF:
                alone = f"{fmt_rate((tn - 1) / r['t_perm'])}/s (pure walk)"
            elif e == CFR:
                alone = "–"
            else:
                alone = (fmt_rate(c["evals"] / c["game_time"]) + "/s") if c else "–"
            w(f"| n={tn}, {order_name(order)} | {e} | {cells[0]} | {cells[1]} | {alone} |")
        games_n = len(r["terms"])
        batch_evals = games_n * cf_evals(r["p_big"], tn)
        t = {
            "best_e2e": best_e2e,
            "best_game": best_game,
            "cf_500": r["cells"][500][CF]["evals"] / r["cells"][500][CF]["wall"],
            "cf_batch": batch_evals / r["t_big"],
            "cf_batch_all": batch_evals / r["t_big_all"],
            "cf_pure": (tn - 1) / r["t_perm"],
        }
        w(
            f"| n={tn}, {order_name(order)} | {CF}, long batch ({games_n} games × "
            f"{r['p_big']} permutations) | | {fmt_rate(t['cf_batch'])}/s (one thread), "
            f"{fmt_rate(t['cf_batch_all'])}/s (all {info['nproc']} cores) | |"
        )
        tput[order] = t
    w("")
    w(
        "| config | creditflow long batch / fastest shapiq estimator end to end | creditflow "
        "per game at 500n / same | creditflow pure walk / shapiq's value function at its "
        "fastest |"
    )
    w("| --- | --- | --- | --- |")
    for order, t in tput.items():
        w(
            f"| n={tn}, {order_name(order)} | {t['cf_batch'] / t['best_e2e'][0]:.0f}× "
            f"({fmt_rate(t['cf_batch'])}/s vs {fmt_rate(t['best_e2e'][0])}/s, "
            f"{t['best_e2e'][1]}) | {t['cf_500'] / t['best_e2e'][0]:.0f}× | "
            f"{t['cf_pure'] / t['best_game'][0]:.0f}× ({fmt_rate(t['best_game'][0])}/s in "
            f"{t['best_game'][1]}) |"
        )
    w("")
    w(
        f"`{info['bench_cmd']}` on the same machine (CPU, all cores; marginals/s, where a "
        "permutation of n players yields n marginals):\n"
    )
    w("```\n" + bench + "\n```\n")

    # ----------------------------------------------------------------- SVARM
    w("## SVARM\n")
    w(
        "shapiq 1.8.0's SVARM spends almost all of its time in its stratified update, not in "
        "the game: for every player, both intersection strata and every coalition size it "
        "recomputes the sizes of all B sampled coalitions (a sum over the B × n coalition "
        "matrix), so its work grows as about n³·B. To keep ten seeds affordable it runs for budgets "  # noqa: E501
        + "; ".join(
            f"n = {n}: {', '.join(f'{m}n' for m in ms) or 'none'}" for n, ms in SVARM_MULTS.items()
        )
        + f". One run at n = 128, B = 5n = 640 (order ≤3, seed 0) took "
        f"{fmt_t(svarm_probe['wall'])} ({1e3 * svarm_probe['wall'] / svarm_probe['evals']:.1f} "
        "ms per evaluation).\n"
    )

    # ----------------------------------------------------------------- targets
    w("## Targets\n")
    w(
        "1. **Equal budget: creditflow's permutation estimator has lower MSE than shapiq's "
        "PermutationSamplingSV on every configuration** — "
        + ("**met**" if not perm_losses else "**not met**")
        + f": lower on {perm_total - len(perm_losses)} of {perm_total} (n, order, B) "
        "configurations"
        + (
            "."
            if not perm_losses
            else "; not lower on "
            + "; ".join(
                f"n={r['n']} order {order_name(r['order'])} B={m}n (ratio {x:.2f}"
                + (", resolved" if sig else ", within noise")
                + ")"
                for r, m, x, sig in perm_losses
            )
            + "."
        )
    )
    big = [(r, m, x, sig) for r, m, x, sig in lev_wins if m >= 20]
    small = [(r, m, x, sig) for r, m, x, sig in lev_wins if m < 20]
    ratios = [
        statistics.fmean(r["cells"][m]["LeverageSHAP"]["mse"])
        / max(statistics.fmean(r["cells"][m][CFR]["mse"]), 1e-300)
        for r in results.values()
        for m in MULTS
        if m >= 20
    ]
    finite = [x for x in ratios if x < 1e6]
    w(
        "2. **Equal budget: creditflow's regression (`--method regression --budget B`) has "
        "lower MSE than LeverageSHAP on every configuration at B ≥ 20n** — "
        + ("**met**" if not big else "**not met**")
        + f": lower on {len(ratios) - len(big)} of {len(ratios)} configurations"
        + (
            f", by {min(finite):.2g}× to {max(finite):.2g}× where both have an error, and "
            f"exact to rounding in {len(ratios) - len(finite)} of them"
            if finite
            else ""
        )
        + (
            "."
            if not big
            else "; not lower on "
            + "; ".join(
                f"n={r['n']} order {order_name(r['order'])} B={m}n ({x:.2f}×"
                + ("" if sig else ", within noise")
                + ")"
                for r, m, x, sig in big
            )
            + "."
        )
        + " At B = 5n: "
        + (
            "lower everywhere."
            if not small
            else "LeverageSHAP is lower on "
            + "; ".join(
                f"n={r['n']} order {order_name(r['order'])} ({x:.2f}×"
                + ("" if sig else ", within noise")
                + ")"
                for r, m, x, sig in small
            )
            + ", lower elsewhere."
        )
    )
    lo = min(x for _, x in eq_ratios)
    short = [
        f"n={r['n']} order {order_name(r['order'])}: {x:.3g}×" for r, x in eq_ratios if x < 100
    ]
    w(
        "3. **Equal wall time: at LeverageSHAP's time for B = 100n, creditflow's permutation "
        "estimator's error is at least 100× lower** — "
        + ("**met**" if not short else "**not met**")
        + f": the ratio ranges from {lo:.3g}× to {max(x for _, x in eq_ratios):.3g}×"
        + ("." if not short else "; below 100× at " + "; ".join(short) + ".")
    )
    parts, ok3 = [], True
    for order, t in tput.items():
        x = t["cf_batch"] / t["best_e2e"][0]
        ok3 &= x >= 300
        parts.append(
            f"order {order_name(order)}: {x:.0f}× ({fmt_rate(t['cf_batch'])}/s vs "
            f"{fmt_rate(t['best_e2e'][0])}/s)"
        )
    verdict = (
        f"not measured (no n = {tn} in this run)"
        if not parts
        else ("**met**" if ok3 else "**not met**") + ": " + "; ".join(parts) + "."
    )
    w(
        f"4. **Throughput: at least 300× shapiq's value evaluations per second at n = {tn}** "
        "(one thread each, creditflow's long batch against the fastest shapiq estimator end to "
        "end) — " + verdict
    )
    w("")
    w(discussion(results, perm_losses, lev_wins, eq_ratios, tput))
    return "\n".join(L)


def compare(a: list[float], b: list[float]) -> tuple[float, bool]:
    """Ratio of mean MSEs a/b, and whether the paired difference exceeds 2 SE."""
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    ratio = ma / mb if mb > 0 else math.inf
    d = [x - y for x, y in zip(a, b, strict=True)]
    md, sd = mean_se(d)
    return ratio, abs(md) > 2 * sd


def discussion(
    results: dict, perm_losses: list, lev_wins: list, eq_ratios: list, tput: dict
) -> str:
    L: list[str] = []
    w = L.append
    w("## Discussion\n")
    w(
        "**Accounting.** Both permutation estimators pay n − 1 evaluations per permutation "
        "plus ∅ and N once. creditflow draws antithetic pairs, so at an odd ⌊(B − 2)/(n − 1)⌋ "
        "it uses one permutation fewer than shapiq's PermutationSamplingSV; at B = 5n that is "
        "4 permutations against 5, a fifth less budget. Neither side counts the cost of its "
        "bookkeeping, only value evaluations; creditflow's walk is incremental (adding a "
        "player updates only the terms that contain it), which is why it is cheap per "
        "evaluation, but it still counts as one evaluation per prefix.\n"
    )
    w(
        "**Permutation vs permutation.** An antithetic pair (a permutation and its reverse) "
        "makes every unanimity term of size ≤ 2 exact and halves the variance of size-3 terms, "
        "so on the order-≤3 games creditflow is several times more accurate than "
        "PermutationSamplingSV. For a term of size k in general, the pair's variance is "
        "(1 − 2/k)/(1 − 1/k) times that of two independent permutations: close to 1 for the "
        "large terms of the unbounded games (k ≈ n/2). There the two estimators are "
        "statistically alike, and at B = 5n the one permutation that creditflow gives up to "
        "pairing tips the balance."
        + (
            " The configurations where creditflow is not lower are listed under "
            "Targets; all of them are unbounded-order games"
            + (
                ", and none of the differences is resolved by this many seeds (†)."
                if not any(sig for *_, sig in perm_losses)
                else "."
            )
            if perm_losses and all(r["order"] is None for r, *_ in perm_losses)
            else ""
        )
        + "\n"
    )
    odd_vs = []  # (ratio OddSHAP / regression, n, order, m)
    for r in results.values():
        for m in MULTS:
            c = r["cells"][m]
            if "OddSHAP" in c:
                odd_vs.append(
                    (
                        statistics.fmean(c["OddSHAP"]["mse"])
                        / max(statistics.fmean(c[CFR]["mse"]), 1e-300),
                        r["n"],
                        r["order"],
                        m,
                    )
                )
    odd_better = [(x, n, o, m) for x, n, o, m in odd_vs if x < 1]
    w(
        "**Regression estimators.** KernelSHAP (paired) and LeverageSHAP fit an additive "
        "model to the sampled coalitions by weighted least squares. With pairs (S, N∖S), only "
        "the odd part d(S) = v(S) − v(N∖S) matters, and the Shapley value depends on nothing "
        "else; every pairwise interaction is even and costs nothing. What the additive fit "
        "leaves is (a) whatever v does with the size of a coalition (the large high-order "
        "terms of the unbounded games are almost functions of size) and (b) odd three-way "
        "interactions (the size-3 terms of the order-≤3 games). creditflow's regression draws "
        "the same design as LeverageSHAP (complementary pairs, equal sets per size, small "
        "sizes enumerated) and removes both: one intercept per size stratum (kept when BIC "
        "says they pay) absorbs (a) exactly, and a greedy search over all three-way odd "
        "characters yᵢyⱼyₖ (added while their t² clears a Bonferroni threshold, "
        "2 ln C(n, 3) + 2) fits (b), so an order-≤3 game is recovered exactly once the budget "
        "identifies its size-3 terms — the search does not know the order; it finds nothing "
        "to add on the unbounded games beyond the budget's noise. At B = 5n there are about "
        "five pairs per stratum, too few for either, and the two estimators are level.\n"
    )
    if odd_vs:
        w(
            "**OddSHAP** (shapiq's implementation of the odd-component estimator, LightGBM "
            "surrogate) fits the same odd part with interactions chosen by a tree model; it "
            "ran at "
            + ", ".join(
                f"n = {n}: {', '.join(f'{m}n' for m in ms)}" for n, ms in ODDSHAP_MULTS.items()
            )
            + ". "
            + (
                "creditflow's regression has the lower MSE in every one of those cells."
                if not odd_better
                else "It has a lower MSE than creditflow's regression at "
                + ", ".join(
                    f"n = {n} {order_name(o)} B = {m}n ({1 / x:.2g}×)" for x, n, o, m in odd_better
                )
                + ", creditflow's regression elsewhere."
            )
            + "\n"
        )
    short = [(r, x) for r, x in eq_ratios if x < 100]
    if short:
        w(
            "**Equal wall time.** The 100× target is missed where LeverageSHAP is both fast and "
            "accurate: "
            + ", ".join(
                f"n = {r['n']} ({order_name(r['order'])}, "
                f"{fmt_t(r['eqtime']['LeverageSHAP']['t_shapiq'])} per game)"
                for r, _ in short
            )
            + ". Monte Carlo error falls as 1/P, so creditflow would need about "
            + ", ".join(f"{100 / x:.1f}×" for _, x in short)
            + " more permutations in the same time there."
            + (
                " Where LeverageSHAP's run time is longer ("
                + ", ".join(
                    f"n = {r['n']} {order_name(r['order'])}: "
                    f"{fmt_t(r['eqtime']['LeverageSHAP']['t_shapiq'])}, {x:.3g}×"
                    for r, x in eq_ratios
                    if x >= 100
                )
                + ") the ratio clears 100×."
                if any(x >= 100 for _, x in eq_ratios)
                else ""
            )
            + "\n"
        )
    w(
        "**Throughput.** creditflow's rate is bounded by the walk: per permutation a Philox "
        "shuffle, two walks (forward and reverse) whose cost is the total size of the terms, "
        "and a Welford update of n running means. For the unbounded games a term has about n/2 "
        "players, so one permutation of 64 players touches some 10⁴ term counters, and the "
        "rate per evaluation falls accordingly; shapiq's rates fall less between the two games, "
        "since much of their time is per-coalition Python work that does not depend on the "
        "terms. Against shapiq's SOUM value "
        "function alone, called in its largest batches, creditflow's advantage is smaller "
        "still (last column above): numpy evaluates a batch of coalitions at C speed, and "
        "only the estimators' per-sample Python work makes shapiq slow end to end. "
        "creditflow's default uses all cores, which on this 2-core machine roughly doubles "
        "its rate (table above); the targets are judged on one thread each.\n"
    )
    w(
        "**Reproducibility.** Games and estimator seeds are fixed, so every MSE above "
        "reproduces exactly on a rerun; the timings do not. On a shared 2-core machine they "
        "move by roughly 10–20 % between runs (the load averages are recorded at the top), "
        "which matters for the ratios close to a threshold, such as the throughput ratio for "
        "the order-≤3 games.\n"
    )
    return "\n".join(L)


if __name__ == "__main__":
    main()
