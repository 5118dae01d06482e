"""Certified-solve benchmark (issue 14): ``lpmech.solve(method="auto")`` with every check, against the floor.

Instances (N sellers, K-point grids, b = min(1, 2/N) unless the label says b=1): uniform N = 2
K = 1000, random Dirichlet pmfs N = 3 K = 100 (:func:`dirichlet`, seed 0), uniform N = 4 K = 32
(10^6 profiles each) and uniform N = 7 K = 10 (10^7), uniform N = 8 K = 10 and N = 4 K = 100 (10^8,
timed once); the same three large grids with b = 1 (for N = 7 and 8, b = 2/N leaves almost no
trade, value ~1e-5, a degenerate case; with b = 1 the optimal ω form a whole face, whose rows
and ranges are the work measured); and the series uniform N = 2, K = 250, 500, 1000 for the
growth exponent. Each (instance, method) runs in a fresh process (:func:`benchmarks.harness.measure`):
median wall seconds over ``repeats`` runs (instance built and modules imported first, not
timed) and the process's peak resident memory. The floor is one vectorized pass of ω·φ̄ over all
profiles (:func:`benchmarks.baselines.floor`); ``x/floor`` is the certified solve's median as a
multiple of the floor's on the same instance. ``exponent``: the least-squares slope of
log(seconds) against log(profiles) over the three largest sizes of the N = 2 series, for the
certified solve and for the floor.

Targets (issue 14, measured and reported, never asserted): 10^6 profiles under 0.5 s, 10^7 under
3 s, 10^8 under 60 s, all checks included, peak memory under 4 GB.

Run ``python -m benchmarks --only certified [--repeats R]``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from .scaling import _slope

__all__ = ["CASES", "SERIES", "dirichlet", "run", "timed"]

AUTO, FLOOR = "lpmech.solve auto (with checks)", "floor (numpy pass)"
#: (label, kind, N, K, target seconds, b); b None: min(1, 2/N)
CASES = [
    ("uniform N=2 K=1000 b=1", "uniform", 2, 1000, 0.5, None),
    ("dirichlet N=3 K=100 b=2/3", "dirichlet", 3, 100, 0.5, None),
    ("uniform N=4 K=32 b=1/2", "uniform", 4, 32, 0.5, None),
    ("uniform N=7 K=10 b=2/7", "uniform", 7, 10, 3.0, None),
    ("uniform N=8 K=10 b=1/4", "uniform", 8, 10, 60.0, None),
    ("uniform N=4 K=100 b=1/2", "uniform", 4, 100, 60.0, None),
    ("uniform N=7 K=10 b=1", "uniform", 7, 10, 3.0, 1.0),
    ("uniform N=8 K=10 b=1", "uniform", 8, 10, 60.0, 1.0),
    ("uniform N=4 K=100 b=1", "uniform", 4, 100, 60.0, 1.0),
]
#: Cases above this many profiles are timed once (a run takes tens of seconds).
ONCE_ABOVE = 20_000_000
#: The N = 2 series the growth exponent is fitted on (the last is CASES[0], measured once).
SERIES = [
    ("uniform N=2 K=250 b=1", "uniform", 2, 250, None, None),
    ("uniform N=2 K=500 b=1", "uniform", 2, 500, None, None),
]
MEMORY_TARGET_MB = 4096.0


def dirichlet(n: int, k: int, seed: int = 0):
    """N sellers on the midpoint grid of [0, 1] with K points, pmfs drawn from Dirichlet(1, ..., 1); b = min(1, 2/N)."""
    import lpmech

    rng = np.random.default_rng(seed)
    grid = ((np.arange(k) + 0.5) / k).tolist()
    agents = [lpmech.Agent(f"s{i}", grid, rng.dirichlet(np.ones(k)).tolist()) for i in range(n)]
    return lpmech.Instance("buy", agents, buyer_value=min(1.0, 2.0 / n))


def _instance(kind: str, n: int, k: int, b: float | None = None):
    from .core import uniform

    return dirichlet(n, k) if kind == "dirichlet" else uniform(n, k, b=b)


def timed(method: str, kind: str, n: int, k: int, repeats: int = 3, b: float | None = None) -> dict:
    """Median wall seconds of ``method`` on the instance (built and imported first, not timed).

    ``b``: the buyer's value of the uniform instances (None: min(1, 2/N)).
    """
    instance = _instance(kind, n, k, b)
    if method == AUTO:
        import lpmech

        # the modules the solve imports on first use (cvxpy for the canonical ω, ...) are loaded first
        lpmech.solve(_instance(kind, n, 2, b), method="structured")

        def fn():
            return lpmech.solve(instance, method="auto", max_profiles=None)
    else:
        from .baselines import floor

        def fn():
            return floor(instance)

    walls, out = [], None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
    info = {"seconds": statistics.median(walls), "runs": len(walls), "all_seconds": [round(s, 4) for s in walls]}
    if method == AUTO:
        info.update(
            value=float(out.value),
            core=out.method,
            core_seconds=float(out.solve_seconds),
            checks_passed=bool(out.checks["passed"]),
        )
    return info


def run(repeats: int = 3) -> list[dict]:
    """Measure every case and method; return the rows (printed by ``python -m benchmarks``)."""
    from .harness import measure

    rows = []
    for label, kind, n, k, target, b in SERIES + CASES:
        for method in (FLOOR, AUTO):
            m = measure(
                __name__,
                "timed",
                {
                    "method": method,
                    "kind": kind,
                    "n": n,
                    "k": k,
                    "repeats": 1 if k**n > ONCE_ABOVE else repeats,
                    "b": b,
                },
                repeats=1,
                timeout=900,
            )
            info = dict(m["info"])
            row = {
                "suite": "certified",
                "instance": label,
                "n": n,
                "k": k,
                "b": _instance(kind, n, 2, b).buyer_value,
                "profiles": k**n,
                "method": method,
                **info,
                "seconds": info.get("seconds"),
                "peak_mb": m["peak_mb"],
                "error": m["error"],
            }
            if method == AUTO and target:
                row["target_seconds"] = target
                if row["seconds"]:
                    row["target_ratio"] = row["seconds"] / target
            rows.append(row)
    floors = {r["instance"]: r["seconds"] for r in rows if r["method"] == FLOOR}
    for r in rows:
        fl = floors.get(r["instance"])
        r["floor_multiple"] = r["seconds"] / fl if r["seconds"] and fl else None
    for method in (FLOOR, AUTO):
        pts = [
            (r["profiles"], r["seconds"])
            for r in rows
            if r["method"] == method and r["n"] == 2 and r["instance"].startswith("uniform")
        ]
        slope = _slope(sorted((p, t) for p, t in pts if t)[-3:])  # over the three largest sizes
        for r in rows:
            if r["method"] == method and r["n"] == 2 and r["k"] == 1000:
                r["exponent"] = slope
    for r in rows:
        r["memory_ok"] = None if r["peak_mb"] is None else r["peak_mb"] <= MEMORY_TARGET_MB
    return rows
