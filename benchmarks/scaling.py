"""Scaling benchmark: lpmech's solvers against the baselines as the profile grid grows.

Methods (each timed from an :class:`lpmech.Instance` to the optimal value, in a fresh process
through :func:`benchmarks.harness.measure`, so that peak memory is per method):

* ``maximin LP``: :class:`lpmech.maximin.MaximinLP` alone (build + HiGHS), docs/model.md, section 5;
  one HiGHS call up to 100,000 columns, sifting with every column priced above (lpmech.maximin).
* ``structured``: :func:`lpmech.structured.solve_structured` alone (cutting planes on g(ω),
  tie LP, certificate).
* ``lpmech.solve auto (with checks)``: :func:`lpmech.solve` with ``method="auto"``, i.e. the
  core solver plus every cross-check, transfers, weights and the posted-price comparison
  (the maximin LP up to 50,000 profiles, the structured solver above).
* ``lpmech.solve structured (with checks)``: :func:`lpmech.solve` with
  ``method="structured"``: the structured path's certified solve at every size, whose growth
  is compared with the floor's.
* ``linprog maximin``: :func:`benchmarks.baselines.linprog_maximin` (scipy linprog / HiGHS on
  the same LP).
* ``hand-written cvxpy``: :func:`benchmarks.baselines.handwritten_cvxpy` (full BIC LP, one
  constraint per pair of types, cvxpy's default solver).
* ``mechaudit``: :func:`benchmarks.baselines.mechaudit_fixed_shares`, the peer library
  mechaudit (general finite mechanism design on HiGHS; the ``bench`` extra) given the same
  fixed-share problem. Skipped, with a note, when mechaudit is not installed.
* ``floor``: :func:`benchmarks.baselines.floor` (one numpy pass computing ω·φ̄ on every profile).

Every peer (linprog, cvxpy, mechaudit) is checked against ``lpmech.solve`` on the same instance
before it is timed: a peer whose optimal value differs from lpmech's by more than
``CHECK_RTOL`` times the instance's magnitudes (b and the types) is reported as an error, not
timed (a peer that solves a different problem is no peer).

Instances: N iid U[0, 1] sellers on K-point midpoint grids, b = min(1, 2/N)
(:func:`benchmarks.core.uniform`): N = 2 with K = 16 ... 1000, N = 3 with K = 4 ... 48, and
N = 7 with K = 10 (10^7 profiles; only the structured solver, auto and the floor). The peer
sizes (:data:`PEER_SIZES`: N = 2, K = 16, 24, 32, 48, 64; N = 3, K = 4, 6, 8, 10) also get the
peer table (:func:`peer_table`): each method's median, value, agreement, and its time as a
multiple of lpmech's (auto, structured, maximin LP) and of the floor, with the targets beside.

Timing. Each measurement builds the instance and imports the method's modules first (not
timed), then runs the method ``repeats`` times (fewer if another run would take the total
past ``budget`` seconds; more, up to 25, for methods under 0.1 s so that the floor is
resolved) and reports the median wall time (``seconds``) and the median process CPU time
(``cpu_seconds``: above the wall time when a solver uses threads, well below it when other
load on the machine takes the CPU).
Before each slow method (the baselines and the maximin LP) the time at the next size is
extrapolated from the sizes already measured (power law in the number of profiles through the
last two points); beyond the method's limit the size is reported as ``> budget (...)`` and not
run; a run that exceeds twice the limit (a peer, with its verification run: three times) is
killed and reported as ``> budget (killed ...)``.

Targets (measured and reported, never asserted): lpmech at least 100x faster than the
hand-written cvxpy LP on N = 2, K = 32, and the speed-up growing with K; lpmech (auto, every
check included) at least 100x faster than mechaudit at N = 2, K = 32 and 1000x at K = 64,
growing with K; N = 2, K = 1000 in under 30 s for the maximin LP and under 2 s for the
structured solver; N = 7, K = 10 under 30 s through ``lpmech.solve`` auto; peak memory under
4 GB everywhere; the structured path's certified solve (``lpmech.solve structured (with
checks)``; auto switches from the LP to it at 50,000 profiles, inside the fitted range) grows
no faster than the floor: its fitted exponent of time against profiles over the three largest
sizes at most the floor's over the same sizes (:func:`growth_table`).

The figure (``scaling.png`` in the benchmarks folder, or ``--out-dir``) plots every method,
the peers and the floor, log-log, median seconds against profiles.

Run ``python -m benchmarks.scaling [--quick] [--repeats R] [--out-dir DIR] [--json PATH]``;
``--from-json PATH`` reprints the peer and growth tables and redraws the figure from saved rows.
"""

from __future__ import annotations

import itertools
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = [
    "run",
    "timed",
    "CASES",
    "METHODS",
    "PEERS",
    "PEER_SIZES",
    "growth_rates",
    "growth_table",
    "peer_table",
    "plot",
]

MAXIMIN, STRUCTURED, AUTO = "maximin LP", "structured", "lpmech.solve auto (with checks)"
LINPROG, CVXPY, FLOOR = "linprog maximin (scipy HiGHS)", "hand-written cvxpy LP", "floor (numpy pass)"
MECHAUDIT = "mechaudit (peer library)"
CERTIFIED = "lpmech.solve structured (with checks)"
#: Time budget of one run of a peer, in seconds: a size whose extrapolated time exceeds it is
#: reported as "> budget" and not run; a measurement past three budgets (the verification run and
#: one timed run, with a margin) is killed and reported as "> budget" too.
PEER_BUDGET = 120.0
#: Method name -> time limit in seconds for one run (None: always run). Sizes whose extrapolated
#: time exceeds the limit are skipped; a run past twice the limit (a peer: three) is killed.
METHODS = {
    FLOOR: None,
    STRUCTURED: None,
    AUTO: None,
    CERTIFIED: None,
    MAXIMIN: 300.0,
    LINPROG: PEER_BUDGET,
    CVXPY: PEER_BUDGET,
    MECHAUDIT: PEER_BUDGET,
}
LPMECH_METHODS = (MAXIMIN, STRUCTURED, AUTO, CERTIFIED)
#: The methods lpmech is measured against (each verified against lpmech's value before timing).
PEERS = (LINPROG, CVXPY, MECHAUDIT)

#: The peer table's instances (issue 14): N = 2, K = 16 ... 64 and N = 3, K = 4 ... 10.
PEER_SIZES = ((2, 16), (2, 24), (2, 32), (2, 48), (2, 64), (3, 4), (3, 6), (3, 8), (3, 10))

#: (N, K, methods); None means every method.
CASES = [
    (2, 16, None),
    (2, 24, None),
    (2, 32, None),
    (2, 48, None),
    (2, 64, None),
    (2, 128, None),
    (2, 256, None),
    (2, 1000, None),
    (3, 4, None),
    (3, 6, None),
    (3, 8, None),
    (3, 10, None),
    (3, 12, None),
    (3, 24, None),
    (3, 48, None),
    (7, 10, (FLOOR, STRUCTURED, AUTO, CERTIFIED)),
]

#: Targets: {(N, K): {method: seconds}}; the speed-up targets over the peers (peer time over
#: lpmech.solve auto's); the memory target.
TIME_TARGETS = {(2, 1000): {MAXIMIN: 30.0, STRUCTURED: 2.0}, (7, 10): {AUTO: 30.0}}
SPEEDUP_TARGET = {(2, 32): 100.0}
PEER_SPEEDUP_TARGETS = {MECHAUDIT: {(2, 32): 100.0, (2, 64): 1000.0}}
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
    if method == MECHAUDIT:
        import mechaudit  # noqa: F401  (ImportError: reported as "not installed")

        _quiet_highs_banner()
        return lambda: baselines.mechaudit_fixed_shares(instance)
    if method == AUTO:
        import lpmech

        return lambda: lpmech.solve(instance, method="auto")
    if method == CERTIFIED:
        import lpmech

        return lambda: lpmech.solve(instance, method="structured")
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


def _quiet_highs_banner() -> None:
    """Create one ``highspy.Highs`` with file descriptor 1 sent to /dev/null (benchmark child only).

    highspy prints its banner on the first ``Highs()`` of a process, from C, before any option
    can turn it off; mechaudit creates its own, so the banner would land in the benchmark's
    table. This runs in the measuring child process, untimed, before the first run.
    """
    import os
    import sys

    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _peer_rtol(method: str) -> float:
    """The relative tolerance a peer's value is compared with lpmech's within, after its last solve.

    ``CHECK_RTOL`` (lpmech's cross-checks), or the accuracy the peer's own solver promises for
    the status it returned when that is looser: cvxpy's default solver (Clarabel) often stops
    at "optimal_inaccurate", within its reduced tolerances (1e-4; baselines.LAST_CVXPY["rtol"]).
    """
    from lpmech.tolerances import CHECK_RTOL

    if method == CVXPY:
        from .baselines import LAST_CVXPY

        return max(CHECK_RTOL, LAST_CVXPY.get("rtol") or 0.0)
    return CHECK_RTOL


def _reference(instance, method: str, value: float) -> tuple[float, float]:
    """lpmech's optimal value on ``instance`` and the bound the peer's ``value`` is held to.

    The bound is :func:`_peer_rtol` times the magnitudes the value is computed from (b and the
    types; lpmech.tolerances.limit). Raises ``RuntimeError`` when the gap exceeds it.
    """
    import lpmech
    from lpmech.tolerances import limit

    reference = float(lpmech.solve(instance, method="auto").value)
    bound = limit(instance.buyer_value, *instance.grids, rtol=_peer_rtol(method))
    gap = abs(value - reference)
    if not gap <= bound:
        raise RuntimeError(
            f"{method} found {value!r}, lpmech {reference!r}: |gap| {gap:.2e} > {bound:.2e}"
            " (not the same problem; not timed)"
        )
    return reference, bound


def timed(method: str, n: int, k: int, repeats: int = 3, budget: float = 60.0) -> dict:
    """Run ``method`` on ``uniform(n, k)``: median wall and CPU seconds of the runs, and the value.

    Setup (instance, imports) is not timed. Runs stop after ``repeats``, or earlier when one
    more run (as long as the last) would take the total past ``budget`` seconds (at least one
    run); methods under 0.1 s get extra runs. A peer (:data:`PEERS`) is first checked against
    lpmech's value on the same instance (untimed): a disagreement raises ``RuntimeError``.
    """
    from .core import uniform

    instance = uniform(n, k)
    fn = _prepare(method, instance)
    walls, cpus, out, caught = [], [], None, []
    reference = None
    if method in PEERS:  # the verification run (untimed; it also warms the peer's lazy imports)
        reference = _reference(instance, method, float(fn()))
    else:  # warm lpmech's lazy imports and caches on a 4-point grid (untimed)
        _prepare(method, uniform(n, 4))()
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
    if method in (AUTO, CERTIFIED):
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
    elif method == MECHAUDIT:
        from .baselines import LAST_MECHAUDIT

        info.update(value=float(out), **LAST_MECHAUDIT)
    else:
        info["value"] = float(out)
    if reference is not None:
        info.update(lpmech_value=reference[0], agreement_bound=reference[1])
        info["agrees"] = abs(info["value"] - reference[0]) <= reference[1]
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
    palette = iter(["C1", "C2", "C3", "C4", "C5", "C6", "C9", "C8", "C0"])  # no gray (C7): the slope-1 line
    for method in METHODS:
        color = "black" if method == FLOOR else next(palette)
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
            over = [
                (r["profiles"], r["over_budget"])
                for r in rows
                if r["method"] == method and r["n"] == n and r.get("over_budget")
            ]
            if over:  # over the time budget: a lower bound, an open triangle at the budget
                ax.plot(*zip(*over), linestyle="none", marker="^", markerfacecolor="none", color=color, markersize=7)
    floor_pts = sorted((r["profiles"], r["seconds"]) for r in rows if r["method"] == FLOOR and r.get("seconds"))
    if floor_pts:  # a line of slope 1 (time proportional to profiles) through the floor's largest grid
        p1, s1 = floor_pts[-1]
        xs = np.array([max(min(r["profiles"] for r in rows), p1 / 1e3), p1])
        ax.plot(xs, s1 * xs / p1, ":", color="gray", label="slope 1 (time ∝ profiles)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("profiles K^N")
    ax.set_ylabel("median wall seconds")
    ax.set_title(
        "lpmech, its peers and the floor: N iid uniform sellers; N = 2 solid, N = 3 dashed, N = 7 star\n"
        "open triangle: over the time budget (not run); dotted: time proportional to profiles",
        fontsize=10,
    )
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
    figure: bool = True,
) -> list[dict]:
    """Measure every (instance, method); return the rows, print the tables, write ``scaling.png``.

    Parameters
    ----------
    repeats : int
        Runs per measurement (median reported); slow runs stop at ``budget`` seconds.
    quick : bool
        Smoke run (a few minutes): one run each, the hand-written cvxpy LP and mechaudit only up
        to 1,100 profiles, linprog up to 70,000 and the maximin LP up to 200,000 (so not N = 2,
        K = 1000).
    out_dir : path, optional
        Where ``scaling.png`` goes (default: the benchmarks folder).
    cases : list of (N, K, methods or None), optional
        Instead of :data:`CASES`.
    budget : float
        Seconds of repeated runs per measurement (at least one run).
    verbose : bool
        Print progress (stderr), the scaling table, the peer table and the growth table.
    figure : bool
        Write ``scaling.png`` (log-log seconds against profiles, every method and the floor).

    Returns
    -------
    list of dict
        One row per (instance, method): ``seconds`` (median wall), ``cpu_seconds``, ``runs``,
        ``peak_mb``, ``value``, the ratios (``ratio_vs_auto``: this method's time over lpmech
        auto's, ...), ``floor_multiple``, ``exponent`` and ``error`` (a skipped size says why).
    """
    import importlib.util

    from .harness import measure, table

    if quick:
        repeats = 1
    cases = CASES if cases is None else cases
    limits = dict(METHODS)
    quick_caps = {CVXPY: 1_100, MECHAUDIT: 1_100, LINPROG: 70_000, MAXIMIN: 200_000} if quick else {}
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
            if method == MECHAUDIT and importlib.util.find_spec("mechaudit") is None:
                row["error"] = "not installed (pip install mechaudit: the bench extra)"
            elif method in quick_caps and profiles > quick_caps[method]:
                row["error"] = f"skipped (quick run, > {quick_caps[method]:,} profiles)"
                row["est_seconds"] = est
            elif limit is not None and est is not None and est > limit:
                row["error"] = f"> budget ({limit:.0f} s; est. ~{est:.0f} s, not run)"
                row["est_seconds"] = est
                row["over_budget"] = limit
            else:
                # a peer's child also makes the untimed verification run: one more run's time
                timeout = (3 if method in PEERS else 2) * limit if limit else 900.0
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
                    row["error"] = f"> budget (killed after {timeout:.0f} s)"
                    row["over_budget"] = timeout
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
    figure_path = plot(rows, out_dir / "scaling.png") if figure else None
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
                    ("ratio_vs_auto", "x/auto", ".4g"),
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
        peers = peer_table(rows)
        if peers:
            print(peers)
            print()
        print(growth_table(rows))
        print()
        for r in rows:
            if r.get("warnings"):
                print(f"warnings, {r['instance']}, {r['method']}: {'; '.join(r['warnings'])}")
        if figure_path:
            print(f"figure: {figure_path}")
        print(f"total {time.perf_counter() - start:.0f} s")
    return rows


def _seconds_cell(r: dict) -> str:
    if r.get("seconds"):
        return f"{r['seconds']:.4g}"
    if r.get("over_budget"):
        return f"> {r['over_budget']:.0f}"
    return "-"


def peer_table(rows: list[dict], sizes=PEER_SIZES) -> str:
    """The peer table: on each peer size, every method's median, value, agreement and ratios.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`run` (after its ratios are derived).
    sizes : sequence of (N, K)
        The instances to show (default :data:`PEER_SIZES`).

    Returns
    -------
    str
        The table (empty when no row is on ``sizes``), then, per peer and N, its time over
        lpmech auto's against K, whether that ratio grows with K, and the targets beside. A
        peer over its time budget shows "> budget" (seconds "> 120"; ratios "> r" from the
        budget).
    """
    from .harness import table

    wanted = set(sizes)
    shown = [r for r in rows if (r.get("n"), r.get("k")) in wanted]
    if not shown:
        return ""
    cells = []
    for r in shown:
        c = dict(r)
        c["median"] = _seconds_cell(r)
        if r["method"] == FLOOR:
            c["value"] = None  # the floor's number is a share of profiles, not a profit
        for key in ("ratio_vs_auto", "ratio_vs_certified", "ratio_vs_structured", "ratio_vs_maximin"):
            bound = r.get(key + "_lower")
            if r.get(key) is None and bound is not None:
                c[key] = f"> {bound:.4g}"
            elif r.get(key) is not None:
                c[key] = f"{r[key]:.4g}"
        if r.get("agrees") is not None:
            c["agree"] = "yes" if r["agrees"] else "NO"
            if r["method"] == CVXPY and r.get("status") not in (None, "optimal"):
                c["agree"] += f" ({r['status']}: to {r.get('agreement_bound', 0):.0e})"
        elif r["method"] in LPMECH_METHODS and r.get("value_gap") is not None:
            c["agree"] = (
                "ref" if r["method"] == AUTO else ("yes" if r["value_gap"] <= r.get("value_bound", 0) else "NO")
            )
        if r.get("peer_target") is not None:
            c["target"] = f">= {r['peer_target']:.0f}x"
            met = r.get("peer_target_met")
            c["met"] = "-" if met is None else ("yes" if met else "no")
        cells.append(c)
    out = [
        "Peer table (same run, same instances): median seconds, value, agreement with lpmech.solve auto,"
        " time as a multiple of lpmech's (auto: lpmech.solve with every check; certified: lpmech.solve"
        " structured with every check; structured: the structured solver alone; lp: the maximin LP alone)"
        " and of the floor",
        table(
            cells,
            [
                ("instance", "instance", ""),
                ("method", "method", ""),
                ("median", "median s", ""),
                ("runs", "runs", "d"),
                ("peak_mb", "peak MB", ".0f"),
                ("value", "value", ".10g"),
                ("value_gap", "|value-auto|", ".1e"),
                ("agree", "agrees", ""),
                ("ratio_vs_auto", "x/auto", ""),
                ("ratio_vs_certified", "x/certified", ""),
                ("ratio_vs_structured", "x/structured", ""),
                ("ratio_vs_maximin", "x/lp", ""),
                ("floor_multiple", "x/floor", ".4g"),
                ("target", "target x/auto", ""),
                ("met", "met", ""),
                ("error", "error", ""),
            ],
        ),
    ]
    for peer in PEERS:
        for n in sorted({n for n, _ in sizes}):
            for ref, ref_name in (("auto", "lpmech auto"), ("certified", "lpmech structured (with checks)")):
                series = sorted(
                    (r["k"], r.get(f"ratio_vs_{ref}"), r.get(f"ratio_vs_{ref}_lower"))
                    for r in shown
                    if r["method"] == peer and r["n"] == n
                )
                if not series or all(q is None and lo is None for _, q, lo in series):
                    continue
                measured = [q for _, q, _ in series if q is not None]
                grows = all(b > a for a, b in itertools.pairwise(measured)) if len(measured) > 1 else None
                text = ", ".join(
                    f"K={k}: {q:.3g}x" if q is not None else (f"K={k}: >{lo:.3g}x" if lo else f"K={k}: -")
                    for k, q, lo in series
                )
                targets = PEER_SPEEDUP_TARGETS.get(peer, {}) if ref == "auto" else {}
                aim = ", ".join(f"K={k}: >= {t:.0f}x" for (tn, k), t in sorted(targets.items()) if tn == n)
                out.append(
                    f"{peer} / {ref_name}, N={n}: {text}; growing with K: "
                    f"{'-' if grows is None else ('yes' if grows else 'no')}" + (f"; target {aim}" if aim else "")
                )
    return "\n".join(out)


def growth_table(rows: list[dict]) -> str:
    """Per method and N: the fitted exponent of time against profiles, beside the floor's.

    The exponent is the least-squares slope of log(median seconds) against log(profiles) over
    the method's three largest measured sizes (and over all of them); the floor's is fitted
    over the same three sizes, so the two are comparable. For lpmech's methods the target
    "grows no faster than the floor" holds when the method's exponent is at most the floor's.
    """
    from .harness import table

    series: dict = {}
    for r in rows:
        if r.get("seconds"):
            series.setdefault((r["method"], r["n"]), []).append((r["profiles"], r["seconds"]))
    out = []
    for (method, n), pts in sorted(series.items(), key=lambda t: (t[0][1], list(METHODS).index(t[0][0]))):
        if len(pts) < 2:  # one size: no exponent
            continue
        pts.sort()
        tail = pts[-3:]
        floor_pts = dict(series.get((FLOOR, n), []))
        floor_tail = [(p, floor_pts[p]) for p, _ in tail if p in floor_pts]
        mine, floor_exp = _slope(tail), _slope(floor_tail) if len(floor_tail) == len(tail) else None
        row = {
            "method": method,
            "n": n,
            "sizes": len(pts),
            "range": f"{tail[0][0]:,}-{tail[-1][0]:,}",
            "all": _slope(pts),
            "tail": mine,
            "floor": floor_exp,
        }
        if method in LPMECH_METHODS and mine is not None and floor_exp is not None:
            row["target"] = "yes" if mine <= floor_exp else "no"
        out.append(row)
    return "\n".join(
        [
            "Growth: exponent of median seconds against profiles (least squares on log-log), per method and N;"
            " the floor's over the same sizes; target for lpmech: exponent <= floor's",
            table(
                out,
                [
                    ("method", "method", ""),
                    ("n", "N", "d"),
                    ("sizes", "sizes", "d"),
                    ("range", "3 largest (profiles)", ""),
                    ("tail", "exponent (3 largest)", ".2f"),
                    ("floor", "floor exponent", ".2f"),
                    ("target", "<= floor", ""),
                    ("all", "exponent (all sizes)", ".2f"),
                ],
            ),
        ]
    )


def _value_bound(n: int, k: int) -> float:
    """The bound two values of ``uniform(n, k)`` are compared within (CHECK_RTOL x b and the types)."""
    from lpmech.tolerances import limit

    from .core import uniform

    instance = uniform(n, k)
    return limit(instance.buyer_value, *instance.grids)


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
        # This method's time as a multiple of lpmech's (a peer over budget: a lower bound).
        for name, ref_method in (
            ("auto", AUTO),
            ("certified", CERTIFIED),
            ("structured", STRUCTURED),
            ("maximin", MAXIMIN),
        ):
            ref_row = by.get((*key, ref_method))
            ref_s = ref_row.get("seconds") if ref_row else None
            r[f"ratio_vs_{name}"] = s / ref_s if s and ref_s else None
            if not s and r.get("over_budget") and ref_s:
                r[f"ratio_vs_{name}_lower"] = r["over_budget"] / ref_s
        peer_target = PEER_SPEEDUP_TARGETS.get(r["method"], {}).get(key)
        if peer_target is not None:
            r["peer_target"] = peer_target
            ratio = r["ratio_vs_auto"] or r.get("ratio_vs_auto_lower")
            r["peer_target_met"] = None if ratio is None else ratio >= peer_target
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
            r["value_bound"] = _value_bound(r["n"], r["k"])


def main(argv=None) -> int:
    import argparse

    from .harness import write_json

    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: one run each, no slow baselines")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out-dir", default=None, help="folder for scaling.png (default: benchmarks/)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument(
        "--from-json",
        metavar="PATH",
        help="measure nothing: print the peer and growth tables and redraw the figure from saved rows",
    )
    args = parser.parse_args(argv)
    if args.from_json:
        import json

        with open(args.from_json) as fh:
            rows = [r for r in json.load(fh) if r.get("suite") in (None, "scaling", "peers") and "n" in r]
        _derive(rows)
        print(peer_table(rows))
        print()
        print(growth_table(rows))
        out_dir = Path(__file__).resolve().parent if args.out_dir is None else Path(args.out_dir)
        print(f"figure: {plot(rows, out_dir / 'scaling.png')}")
        return 0
    rows = run(repeats=args.repeats, quick=args.quick, out_dir=args.out_dir)
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
