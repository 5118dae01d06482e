"""Scaling benchmark: lpmech's solvers against the baselines as the profile grid grows.

Methods (each timed from an :class:`lpmech.Instance` to the optimal value, in a fresh process
through :func:`benchmarks.harness.measure`, so that peak memory is per method):

* ``maximin LP``: :class:`lpmech.maximin.MaximinLP` alone (build + HiGHS), docs/model.md, section 5;
  one HiGHS call up to 100,000 columns, sifting with every column priced above (lpmech.maximin).
* ``structured``: :func:`lpmech.structured.solve_structured` alone (cutting planes on g(ω),
  tie LP, certificate).
* ``lpmech.solve auto (with checks)``: :func:`lpmech.solve` with ``method="auto"``, i.e. the
  core solver plus every cross-check, transfers, weights and the posted-price comparison.
* ``linprog maximin``: :func:`benchmarks.baselines.linprog_maximin` (scipy linprog / HiGHS on
  the same LP).
* ``hand-written cvxpy``: :func:`benchmarks.baselines.handwritten_cvxpy` (full BIC LP, one
  constraint per pair of types, cvxpy's default solver).
* ``floor``: :func:`benchmarks.baselines.floor` (one numpy pass computing ω·φ̄ on every profile).

Instances: N iid U[0, 1] sellers on K-point midpoint grids, b = min(1, 2/N)
(:func:`benchmarks.core.uniform`): N = 2 with K = 16 ... 1000, N = 3 with K = 12, 24, 48, and
N = 7 with K = 10 (10^7 profiles; only the structured solver, auto and the floor).

Timing. Each measurement builds the instance and imports the method's modules first (not
timed), then runs the method ``repeats`` times (fewer if another run would take the total
past ``budget`` seconds; more, up to 25, for methods under 0.1 s so that the floor is
resolved) and reports the median wall time (``seconds``) and the median process CPU time
(``cpu_seconds``: above the wall time when a solver uses threads, well below it when other
load on the machine takes the CPU).
Before each slow method (the baselines and the maximin LP) the time at the next size is
extrapolated from the sizes already measured (power law in the number of profiles through the
last two points); beyond the method's limit the size is reported as ``skipped (est. > ...)``
and not run; a run that exceeds twice the limit is killed and reported as a timeout.

Targets (measured and reported, never asserted): lpmech at least 100x faster than the
hand-written cvxpy LP on N = 2, K = 32, and the speed-up growing with K; N = 2, K = 1000 in
under 30 s for the maximin LP and under 2 s for the structured solver; N = 7, K = 10 under
30 s through ``lpmech.solve`` auto; peak memory under 4 GB everywhere.

Run ``python -m benchmarks.scaling [--quick] [--repeats R] [--out-dir DIR] [--json PATH]``.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["run", "timed", "CASES", "METHODS", "growth_rates", "plot"]

MAXIMIN, STRUCTURED, AUTO = "maximin LP", "structured", "lpmech.solve auto (with checks)"
LINPROG, CVXPY, FLOOR = "linprog maximin (scipy HiGHS)", "hand-written cvxpy LP", "floor (numpy pass)"
#: Method name -> time limit in seconds for one run (None: always run). Sizes whose extrapolated
#: time exceeds the limit are skipped; a run past twice the limit is killed.
METHODS = {
    FLOOR: None,
    STRUCTURED: None,
    AUTO: None,
    MAXIMIN: 300.0,
    LINPROG: 300.0,
    CVXPY: 300.0,
}
LPMECH_METHODS = (MAXIMIN, STRUCTURED, AUTO)

#: (N, K, methods); None means every method.
CASES = [
    (2, 16, None),
    (2, 32, None),
    (2, 64, None),
    (2, 128, None),
    (2, 256, None),
    (2, 1000, None),
    (3, 12, None),
    (3, 24, None),
    (3, 48, None),
    (7, 10, (FLOOR, STRUCTURED, AUTO)),
]

#: Targets: {(N, K): {method: seconds}}; the speed-up target over cvxpy; the memory target.
TIME_TARGETS = {(2, 1000): {MAXIMIN: 30.0, STRUCTURED: 2.0}, (7, 10): {AUTO: 30.0}}
SPEEDUP_TARGET = {(2, 32): 100.0}
MEMORY_TARGET_MB = 4096.0

FAST = 0.1  # methods faster than this get extra runs (up to MAX_RUNS) ...
FAST_TOTAL = 0.5  # ... until this many seconds have been spent
MAX_RUNS = 25


# ---------------------------------------------------------------- the measured child function


def _prepare(method: str, instance):
    """Import what ``method`` needs and return a zero-argument callable giving its value."""
    from . import baselines

    if method == FLOOR:
        return lambda: baselines.floor(instance)
    if method == LINPROG:
        import scipy.optimize  # noqa: F401  (imported before timing)

        return lambda: baselines.linprog_maximin(instance)
    if method == CVXPY:
        import cvxpy  # noqa: F401

        return lambda: baselines.handwritten_cvxpy(instance)
    if method == AUTO:
        import lpmech

        return lambda: lpmech.solve(instance, method="auto")
    from lpmech.virtual import iron, virtual_costs

    if method == MAXIMIN:
        from lpmech.maximin import MaximinLP

        def maximin():
            problem = instance.engine()
            phi = [virtual_costs(g, p) for g, p in zip(problem.grids, problem.probs)]
            return MaximinLP(problem, phi).solve()

        return maximin
    if method == STRUCTURED:
        from lpmech.structured import solve_structured

        def structured():
            problem = instance.engine()
            phi = [virtual_costs(g, p) for g, p in zip(problem.grids, problem.probs)]
            return solve_structured(problem, phi, [iron(f, p) for f, p in zip(phi, problem.probs)])

        return structured
    raise ValueError(f"unknown method {method!r}")


def timed(method: str, n: int, k: int, repeats: int = 3, budget: float = 60.0) -> dict:
    """Run ``method`` on ``uniform(n, k)``: median wall and CPU seconds of the runs, and the value.

    Setup (instance, imports) is not timed. Runs stop after ``repeats``, or earlier when one
    more run (as long as the last) would take the total past ``budget`` seconds (at least one
    run); methods under 0.1 s get extra runs.
    """
    from .core import uniform

    instance = uniform(n, k)
    fn = _prepare(method, instance)
    walls, cpus, out, caught = [], [], None, []
    while True:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            c0, t0 = time.process_time(), time.perf_counter()
            out = fn()
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        caught += [f"{x.category.__name__}: {str(x.message).splitlines()[0][:100]}" for x in w]
        total = sum(walls)
        if len(walls) >= MAX_RUNS or total + walls[-1] > budget:  # the next run would not fit
            break
        if len(walls) >= repeats and not (statistics.median(walls) < FAST and total < FAST_TOTAL):
            break
    info = {
        "seconds": statistics.median(walls),
        "cpu_seconds": statistics.median(cpus),
        "runs": len(walls),
        "all_seconds": [round(s, 6) for s in walls],
        "warnings": sorted(set(caught)),
    }
    if method == AUTO:
        info.update(
            value=float(out.value),
            core=out.method,
            core_seconds=float(out.solve_seconds),
            checks_passed=bool(out.checks["passed"]),
        )
    elif method in (MAXIMIN, STRUCTURED):
        info.update(value=float(out.value), status=str(out.status), iterations=int(out.iterations))
    elif method == CVXPY:
        from .baselines import LAST_CVXPY

        info.update(
            value=float(out), **{key: (round(v, 3) if isinstance(v, float) else v) for key, v in LAST_CVXPY.items()}
        )
    else:
        info["value"] = float(out)
    return info


# ---------------------------------------------------------------- estimates, rates, figure


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of log(seconds) against log(profiles)."""
    pts = [(p, s) for p, s in points if p and s and s > 0]
    if len(pts) < 2 or len({p for p, _ in pts}) < 2:
        return None
    x = np.log([p for p, _ in pts])
    y = np.log([s for _, s in pts])
    return float(np.polyfit(x, y, 1)[0])


def _estimate(points: list[tuple[int, float]], profiles: int, default_slope: float = 2.0) -> float | None:
    """Seconds at ``profiles``, extrapolated through the last two measured points (power law)."""
    if not points:
        return None
    if len(points) == 1:
        p0, s0 = points[0]
        return s0 * (profiles / p0) ** default_slope
    (p0, s0), (p1, s1) = points[-2], points[-1]
    slope = max(math.log(s1 / s0) / math.log(p1 / p0), 1.0) if p1 != p0 and s0 > 0 and s1 > 0 else default_slope
    return s1 * (profiles / p1) ** slope


def growth_rates(rows: list[dict]) -> dict:
    """{(method, N): {"all": slope over every size, "tail": slope over the three largest}}."""
    out = {}
    series = {}
    for r in rows:
        if r.get("seconds"):
            series.setdefault((r["method"], r["n"]), []).append((r["profiles"], r["seconds"]))
    for key, pts in series.items():
        pts.sort()
        out[key] = {"all": _slope(pts), "tail": _slope(pts[-3:]), "sizes": len(pts)}
    return out


def plot(rows: list[dict], path: Path) -> Path:
    """Log-log plot of seconds against profiles: a line per method (solid N = 2, dashed N = 3, N = 7 a marker)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 6))
    styles = {2: ("-", "o"), 3: ("--", "s"), 7: ("", "*")}
    for j, method in enumerate(METHODS):
        color = f"C{j}"
        for n, (ls, marker) in styles.items():
            pts = sorted(
                (r["profiles"], r["seconds"])
                for r in rows
                if r["method"] == method and r["n"] == n and r.get("seconds")
            )
            if not pts:
                continue
            ax.plot(
                *zip(*pts),
                linestyle=ls or "none",
                marker=marker,
                color=color,
                markersize=5 if n != 7 else 11,
                label=f"{method} (N={n})",
            )
    floor_pts = sorted((r["profiles"], r["seconds"]) for r in rows if r["method"] == FLOOR and r.get("seconds"))
    if floor_pts:  # a line of slope 1 (time proportional to profiles) through the floor's largest grid
        p1, s1 = floor_pts[-1]
        xs = np.array([max(min(r["profiles"] for r in rows), p1 / 1e3), p1])
        ax.plot(xs, s1 * xs / p1, ":", color="gray", label="slope 1 (time ∝ profiles)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("profiles K^N")
    ax.set_ylabel("median wall seconds")
    ax.set_title("lpmech scaling: N iid uniform sellers; N = 2 solid, N = 3 dashed, N = 7 star")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


# ---------------------------------------------------------------- the suite


def run(
    repeats: int = 3,
    quick: bool = False,
    out_dir: str | Path | None = None,
    cases=None,
    budget: float = 60.0,
    verbose: bool = True,
) -> list[dict]:
    """Measure every (instance, method); return the rows, print the table, write ``scaling.png``.

    Parameters
    ----------
    repeats : int
        Runs per measurement (median reported); slow runs stop at ``budget`` seconds.
    quick : bool
        Smoke run (about 2 minutes): one run each, the hand-written cvxpy LP only up to 1,100
        profiles, linprog up to 70,000 and the maximin LP up to 200,000 (so not N = 2, K = 1000).
    out_dir : path, optional
        Where ``scaling.png`` goes (default: the benchmarks folder).
    cases : list of (N, K, methods or None), optional
        Instead of :data:`CASES`.
    """
    from .harness import measure, table

    if quick:
        repeats = 1
    cases = CASES if cases is None else cases
    limits = dict(METHODS)
    quick_caps = {CVXPY: 1_100, LINPROG: 70_000, MAXIMIN: 200_000} if quick else {}
    history: dict[tuple[str, int], list[tuple[int, float]]] = {}
    rows: list[dict] = []
    start = time.perf_counter()
    for n, k, methods in cases:
        profiles = k**n
        name = f"uniform N={n} K={k}"
        for method in methods or tuple(METHODS):
            row = {
                "suite": "scaling",
                "instance": name,
                "n": n,
                "k": k,
                "profiles": profiles,
                "method": method,
                "seconds": None,
                "peak_mb": None,
                "error": None,
            }
            rows.append(row)
            est = _estimate(history.get((method, n), []), profiles)
            limit = limits.get(method)
            if method in quick_caps and profiles > quick_caps[method]:
                row["error"] = f"skipped (quick run, > {quick_caps[method]:,} profiles)"
                row["est_seconds"] = est
            elif limit is not None and est is not None and est > limit:
                row["error"] = f"skipped (est. > {limit:.0f} s: ~{est:.0f} s)"
                row["est_seconds"] = est
            else:
                timeout = 2 * limit if limit else 900.0
                m = measure(
                    __name__,
                    "timed",
                    {"method": method, "n": n, "k": k, "repeats": repeats, "budget": budget},
                    repeats=1,
                    timeout=timeout,
                )
                info = dict(m["info"])
                row.update(info)
                row["seconds"] = info.get("seconds")
                row["peak_mb"] = m["peak_mb"]
                row["wall_with_setup"] = m["seconds"]
                row["error"] = m["error"]
                if row["seconds"]:
                    history.setdefault((method, n), []).append((profiles, row["seconds"]))
                elif str(m["error"]).startswith("timeout"):  # a lower bound for later estimates
                    history.setdefault((method, n), []).append((profiles, timeout))
            if verbose:
                s = "-" if row["seconds"] is None else f"{row['seconds']:.4g} s"
                mb = "-" if row["peak_mb"] is None else f"{row['peak_mb']:.0f} MB"
                print(
                    f"[{time.perf_counter() - start:7.1f} s] {name:<20} {method:<34} {s:>12} {mb:>8}"
                    f"  {row['error'] or ''}",
                    file=sys.stderr,
                    flush=True,
                )
    _derive(rows)
    rates = growth_rates(rows)
    for r in rows:
        g = rates.get((r["method"], r["n"]))
        r["growth_rate"] = g["all"] if g else None
        r["growth_rate_tail"] = g["tail"] if g else None
        # the exponent over the three largest sizes, shown once per series (on its largest size)
        largest = max(
            (q["profiles"] for q in rows if q["method"] == r["method"] and q["n"] == r["n"] and q.get("seconds")),
            default=None,
        )
        r["exponent"] = r["growth_rate_tail"] if r["profiles"] == largest else None
    out_dir = Path(__file__).resolve().parent if out_dir is None else Path(out_dir)
    figure = plot(rows, out_dir / "scaling.png")
    if verbose:
        print(
            table(
                rows,
                [
                    ("instance", "instance", ""),
                    ("profiles", "profiles", ","),
                    ("method", "method", ""),
                    ("seconds", "median s", ".4g"),
                    ("cpu_seconds", "cpu s", ".4g"),
                    ("runs", "runs", "d"),
                    ("peak_mb", "peak MB", ".0f"),
                    ("ratio_vs_cvxpy", "cvxpy/x", ".4g"),
                    ("ratio_vs_linprog", "linprog/x", ".3g"),
                    ("floor_multiple", "x/floor", ".4g"),
                    ("target_seconds", "target s", "g"),
                    ("target_ratio", "time/target", ".3g"),
                    ("target_met", "met", ""),
                    ("value_gap", "|value-ref|", ".1e"),
                    ("error", "error", ""),
                ],
            )
        )
        print()
        print("Growth rate: slope of log(median s) against log(profiles), per method and N")
        print(
            table(
                [{"method": m, "n": n, **g} for (m, n), g in sorted(rates.items(), key=lambda t: (t[0][1], t[0][0]))],
                [
                    ("method", "method", ""),
                    ("n", "N", "d"),
                    ("sizes", "sizes", "d"),
                    ("all", "slope (all sizes)", ".2f"),
                    ("tail", "slope (3 largest)", ".2f"),
                ],
            )
        )
        print()
        for r in rows:
            if r.get("warnings"):
                print(f"warnings, {r['instance']}, {r['method']}: {'; '.join(r['warnings'])}")
        print(f"figure: {figure}")
        print(f"total {time.perf_counter() - start:.0f} s")
    return rows


def _derive(rows: list[dict]) -> None:
    """Ratios against the baselines and the floor, targets, and value gaps (in place)."""
    by = {(r["n"], r["k"], r["method"]): r for r in rows}
    for r in rows:
        key = (r["n"], r["k"])
        s = r.get("seconds")
        cv, lp, fl = (by.get((*key, m)) for m in (CVXPY, LINPROG, FLOOR))
        r["ratio_vs_cvxpy"] = cv["seconds"] / s if s and cv and cv.get("seconds") else None
        if s and cv and not cv.get("seconds") and cv.get("est_seconds"):
            r["ratio_vs_cvxpy_est"] = cv["est_seconds"] / s  # against an extrapolated cvxpy time
        r["ratio_vs_linprog"] = lp["seconds"] / s if s and lp and lp.get("seconds") else None
        r["floor_multiple"] = s / fl["seconds"] if s and fl and fl.get("seconds") else None
        target = TIME_TARGETS.get(key, {}).get(r["method"])
        r["target_seconds"] = target
        r["target_ratio"] = s / target if s and target else None
        met = []
        if target:
            met.append(bool(s) and s < target)
        if key in SPEEDUP_TARGET and r["method"] in LPMECH_METHODS:
            r["target_speedup"] = SPEEDUP_TARGET[key]
            met.append(r["ratio_vs_cvxpy"] is not None and r["ratio_vs_cvxpy"] >= SPEEDUP_TARGET[key])
        if r.get("peak_mb") is not None:
            r["memory_ok"] = r["peak_mb"] < MEMORY_TARGET_MB
        r["target_met"] = all(met) if met else None
        # Every method but the floor returns the optimal profit: compare with lpmech.solve's.
        ref = by.get((*key, AUTO)) or by.get((*key, STRUCTURED))
        if r["method"] != FLOOR and r.get("value") is not None and ref and ref.get("value") is not None:
            r["value_gap"] = abs(r["value"] - ref["value"])


def main(argv=None) -> int:
    import argparse

    from .harness import write_json

    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one run each, no slow baselines")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out-dir", default=None, help="folder for scaling.png (default: benchmarks/)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    rows = run(repeats=args.repeats, quick=args.quick, out_dir=args.out_dir)
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
