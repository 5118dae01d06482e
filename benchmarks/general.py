"""General LP benchmark: ``lpmech.general.solve_general`` (assembly, HiGHS, audit) on uniform grids.

Targets (issue 3): N = 2, K = 40 (1,600 profiles, all-pairs BIC, interim IR) in under 2 s and
N = 3, K = 12 (1,728 profiles) in under 10 s, median of a few runs, each in a fresh process.
Issue 14 adds the correlated pair with K = 40 (BIC, interim IR) under 2 s and DSIC with ex post
IR on the uniform pair with K = 64 under 5 s (the form HiGHS is given is chosen per family:
lpmech.general._lazy_family; benchmarks/stalls.py times them against a reference). The other
rows have no target and are there to show where the time goes.

Run ``python -m benchmarks.general`` (or ``python -m benchmarks --only general``).
"""

from __future__ import annotations

import numpy as np

from lpmech.instance import Agent, Instance


def uniform(n: int, k: int, correlated: bool = False) -> Instance:
    """N sellers, midpoint grid of K costs on [0, 1], b = 1; optionally correlated types.

    The correlated version puts mass proportional to exp(-(max_i k_i − min_i k_i)/5) on the
    profile of grid indices (k_1, ..., k_N): a common shock, full support.
    """
    grid = (np.arange(k) + 0.5) / k
    if not correlated:
        return Instance("buy", [Agent(f"s{i}", grid, np.full(k, 1.0 / k)) for i in range(n)], buyer_value=1.0)
    idx = np.indices((k,) * n)
    joint = np.exp(-(idx.max(axis=0) - idx.min(axis=0)) / 5.0)
    return Instance("buy", [Agent(f"s{i}", grid) for i in range(n)], buyer_value=1.0, joint=joint / joint.sum())


def solve_case(n: int, k: int, correlated: bool = False, ic: str = "bayesian", participation: str = "interim") -> dict:
    from lpmech.general import solve_general

    res = solve_general(uniform(n, k, correlated), mechanism={"ic": ic, "participation": participation})
    return {
        "value": res.value,
        "lp_seconds": res.solve_seconds,
        "max_violation": max(res.checks["max_ic_violation"], res.checks["max_ir_violation"]),
    }


def model_case(n: int, k: int) -> dict:
    from lpmech.model import model

    return {"value": model(uniform(n, k)).solve()}


CASES = [
    {"instance": "uniform N=2 K=40", "n": 2, "k": 40, "method": "general BIC, interim IR", "target": 2.0},
    {"instance": "uniform N=3 K=12", "n": 3, "k": 12, "method": "general BIC, interim IR", "target": 10.0},
    {
        "instance": "uniform N=2 K=40",
        "n": 2,
        "k": 40,
        "method": "general DSIC, ex post IR",
        "kwargs": {"ic": "dominant", "participation": "ex-post"},
    },
    {
        "instance": "uniform N=3 K=12",
        "n": 3,
        "k": 12,
        "method": "general DSIC, ex post IR",
        "kwargs": {"ic": "dominant", "participation": "ex-post"},
    },
    {
        "instance": "correlated N=2 K=20",
        "n": 2,
        "k": 20,
        "method": "general BIC, interim IR",
        "kwargs": {"correlated": True},
    },
    {
        "instance": "correlated N=2 K=40",
        "n": 2,
        "k": 40,
        "method": "general BIC, interim IR",
        "kwargs": {"correlated": True},
        "target": 2.0,
    },
    {
        "instance": "uniform N=2 K=64",
        "n": 2,
        "k": 64,
        "method": "general DSIC, ex post IR",
        "kwargs": {"ic": "dominant", "participation": "ex-post"},
        "target": 5.0,
    },
    {
        "instance": "correlated N=3 K=12",
        "n": 3,
        "k": 12,
        "method": "general BIC, interim IR",
        "kwargs": {"correlated": True},
    },
    {"instance": "uniform N=2 K=20", "n": 2, "k": 20, "method": "cvxpy model (HiGHS)", "func": "model_case"},
]


def run(repeats: int = 3) -> list[dict]:
    """Time every case (median of ``repeats`` runs in a fresh process); one row per case."""
    from .harness import measure

    rows = []
    for case in CASES:
        kwargs = {"n": case["n"], "k": case["k"], **case.get("kwargs", {})}
        m = measure(__name__, case.get("func", "solve_case"), kwargs, repeats=repeats)
        row = {
            "suite": "general",
            "instance": case["instance"],
            "profiles": case["k"] ** case["n"],
            "method": case["method"],
            "seconds": m["seconds"],
            "peak_mb": m["peak_mb"],
            "target_seconds": case.get("target"),
            "error": m["error"],
            **m["info"],
        }
        if case.get("target") and m["seconds"]:
            row["target_ratio"] = m["seconds"] / case["target"]
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
                ("lp_seconds", "lp s", ".3f"),
                ("peak_mb", "peak MB", ".0f"),
                ("target_seconds", "target s", ".1f"),
                ("target_ratio", "time/target", ".2f"),
                ("value", "value", ".8g"),
                ("error", "error", ""),
            ],
        )
    )
