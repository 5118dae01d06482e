"""Core solver benchmark: ``lpmech.solve`` (maximin LP with every cross-check) on uniform grids.

Target (issue: core solver): N = 2, K = 200 (40,000 profiles) in under 2 s including checks.
"""

from __future__ import annotations

import lpmech


def uniform(n: int, k: int, b: float | None = None) -> lpmech.Instance:
    b = min(1.0, 2.0 / n) if b is None else b
    return lpmech.Instance(
        "buy", [lpmech.Agent.from_distribution(f"s{i}", "uniform", {}, k) for i in range(n)], buyer_value=b
    )


def solve_uniform(n: int, k: int) -> dict:
    res = lpmech.solve(uniform(n, k))
    return {"value": res.value, "lp_seconds": res.solve_seconds, "checks_passed": res.checks["passed"]}


CASES = [
    {"instance": "uniform N=2 K=50", "n": 2, "k": 50, "target": None},
    {"instance": "uniform N=2 K=200", "n": 2, "k": 200, "target": 2.0},
    {"instance": "uniform N=3 K=30", "n": 3, "k": 30, "target": None},
]


def run(repeats: int = 3) -> list[dict]:
    from .harness import measure

    rows = []
    for case in CASES:
        m = measure(__name__, "solve_uniform", {"n": case["n"], "k": case["k"]}, repeats=repeats)
        row = {
            "suite": "core",
            "instance": case["instance"],
            "profiles": case["k"] ** case["n"],
            "method": "lpmech.solve (lp + checks)",
            "seconds": m["seconds"],
            "peak_mb": m["peak_mb"],
            "target_seconds": case["target"],
            "error": m["error"],
            **m["info"],
        }
        if case["target"] and m["seconds"]:
            row["target_ratio"] = m["seconds"] / case["target"]
        rows.append(row)
    return rows
