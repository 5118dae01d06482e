"""The instances that stalled (issue 14, item 3): the general LP's slow families and the maximin LP's hard cases.

General LP (:func:`lpmech.general.solve_general`, every check included): correlated pair
K = 40 with Bayesian IC and interim IR (target 2 s), uniform pair K = 64 with DSIC and ex post
IR (target 5 s). Maximin LP (``lpmech.solve(method="lp")``, every check included): a bimodal
seller ironed on most of a 1000-point grid against a uniform one (:func:`bimodal`, N = 2,
K = 1000) and random Dirichlet pmfs at N = 3, K = 100 (:func:`benchmarks.certified.dirichlet`),
target 10 s each; and what ``method="auto"`` does with them (the method it picks and why, from
``info["method_reason"]``).

The machine is shared, so every row also gives its time as a multiple of a reference timed in
the same child process right before it (:func:`reference`: one fixed dense LU solve, which
only the machine's speed changes): ``x/ref``. Each case runs in a fresh process
(:func:`benchmarks.harness.measure`), median of ``repeats`` runs.

Run ``python -m benchmarks --only stalls [--repeats R]`` or ``python -m benchmarks.stalls``.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

__all__ = ["CASES", "TIMEOUT", "bimodal", "reference", "run", "timed"]


def bimodal(k: int = 1000):
    """A uniform seller and a bimodal one (two bumps and a floor) on K points, b = 1.5.

    The bimodal seller's virtual cost is ironed on most of its grid (tests/test_maximin.py has
    the same construction at K = 60).
    """
    import lpmech

    g = np.linspace(0.1, 1.2, k)
    d = np.exp(-(((g - 0.2) / 0.1) ** 2)) + np.exp(-(((g - 1.1) / 0.1) ** 2)) + 0.05
    farm = lpmech.Agent("farm", g, d / d.sum())
    uni = lpmech.Agent.from_distribution("a", "uniform", {"loc": 0.2, "scale": 0.8}, k)
    return lpmech.Instance("buy", [uni, farm], buyer_value=1.5)


def _instance(kind: str, n: int, k: int):
    if kind == "bimodal":
        return bimodal(k)
    if kind == "dirichlet":
        from .certified import dirichlet

        return dirichlet(n, k)
    from .general import uniform

    return uniform(n, k, correlated=kind == "correlated")


def reference(size: int = 600) -> float:
    """Seconds of one dense LU solve of a fixed size-x-size system (the machine's current speed)."""
    import scipy.linalg

    a = np.random.default_rng(0).standard_normal((size, size)) + size * np.eye(size)
    t0 = time.perf_counter()
    for _ in range(5):
        scipy.linalg.lu_solve(scipy.linalg.lu_factor(a), np.ones(size))
    return time.perf_counter() - t0


def timed(kind: str, n: int, k: int, method: str, mechanism: dict | None = None, repeats: int = 1) -> dict:
    """Median wall seconds of one solve (instance built first, not timed), with the reference's."""
    inst = _instance(kind, n, k)
    if method == "general":
        from lpmech.general import solve_general

        def fn():
            return solve_general(inst, mechanism=mechanism or {})
    else:
        import lpmech

        def fn():
            return lpmech.solve(inst, method=method)

    walls, refs, out = [], [], None
    for _ in range(max(1, repeats)):
        refs.append(reference())
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
    info = {
        "seconds": statistics.median(walls),
        "runs": len(walls),
        "all_seconds": [round(s, 4) for s in walls],
        "reference_seconds": statistics.median(refs),
        "value": float(out.value),
    }
    info["ref_multiple"] = info["seconds"] / info["reference_seconds"]
    if method != "general":
        info["method_used"] = out.method
        info["method_reason"] = out.info.get("method_reason", "")
        size = out.info.get("lp_size") or {}
        for key in ("strategy", "sifting_rounds", "working_columns"):
            if key in size:
                info[key] = size[key]
    return info


#: A case with a target is stopped after this many seconds per run and reported as a timeout
#: (the maximin LP on the 10^6-profile cases ran for over 300 s when this suite was written).
TIMEOUT = 60.0
#: (label, kind, N, K, method, mechanism, target seconds)
CASES = [
    ("correlated N=2 K=40", "correlated", 2, 40, "general", {}, 2.0),
    (
        "uniform N=2 K=64 DSIC, ex post IR",
        "uniform",
        2,
        64,
        "general",
        {"ic": "dominant", "participation": "ex-post"},
        5.0,
    ),
    ("bimodal N=2 K=1000", "bimodal", 2, 1000, "lp", None, 10.0),
    ("dirichlet N=3 K=100", "dirichlet", 3, 100, "lp", None, 10.0),
    ("bimodal N=2 K=1000", "bimodal", 2, 1000, "auto", None, None),
    ("dirichlet N=3 K=100", "dirichlet", 3, 100, "auto", None, None),
]


def run(repeats: int = 3) -> list[dict]:
    """Time every case in a fresh process; one row per case (``x/ref`` in ``ref_multiple``)."""
    from .harness import measure

    rows = []
    for label, kind, n, k, method, mech, target in CASES:
        kwargs = {"kind": kind, "n": n, "k": k, "method": method, "mechanism": mech, "repeats": repeats}
        m = measure(__name__, "timed", kwargs, repeats=1, timeout=TIMEOUT * max(1, repeats) if target else 1800)
        info = m["info"]
        row = {
            "suite": "stalls",
            "instance": label,
            "profiles": k**n,
            "method": method if method == "general" else f"lpmech.solve {method}",
            "seconds": info.get("seconds"),
            "runs": info.get("runs"),
            "peak_mb": m["peak_mb"],
            "target_seconds": target,
            "error": m["error"],
            **{key: v for key, v in info.items() if key not in ("seconds", "runs")},
        }
        if target and row["seconds"]:
            row["target_ratio"] = row["seconds"] / target
        rows.append(row)
    return rows


if __name__ == "__main__":
    from .harness import table

    print(
        table(
            run(),
            [
                ("instance", "instance", ""),
                ("profiles", "profiles", ","),
                ("method", "method", ""),
                ("seconds", "median s", ".3f"),
                ("reference_seconds", "ref s", ".3f"),
                ("ref_multiple", "x/ref", ".1f"),
                ("target_seconds", "target s", ".1f"),
                ("target_ratio", "time/target", ".2f"),
                ("method_used", "used", ""),
                ("value", "value", ".10g"),
                ("error", "error", ""),
            ],
        )
    )
