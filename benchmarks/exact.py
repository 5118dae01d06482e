"""Exact certificates benchmark: seconds of the float solve and of the exact certificate.

Targets (issue 11, item 7): the maximin certificate for N = 2, K = 316 (about 10^5 profiles)
and N = 3, K = 40 under 30 s each, the general LP certificate for N = 2, K = 16 under 30 s, on
this 2-core machine. Instances: N sellers, midpoint grid of K costs on [0, 1], uniform masses,
b = 1 (:func:`benchmarks.general.uniform`); one extra row has a whole tie set (K = 256 is exact
in binary, and b = 514/1024 puts ω·φ̄ = b on 129 profiles at ω = (1/2, 1/2)).

Each case runs in a fresh process (:func:`benchmarks.harness.measure`); "seconds" is the whole
case, "float s" the float solve (``lpmech.solve`` or ``solve_general``), "certificate s" the
exact certificate (:func:`lpmech.exact.prove` or :func:`lpmech.exact.certify_general`).

Run ``python -m benchmarks.exact``.
"""

from __future__ import annotations

import time

import numpy as np


def _instance(n: int, k: int, b: float):
    from lpmech.instance import Agent, Instance

    grid = (np.arange(k) + 0.5) / k
    return Instance("buy", [Agent(f"s{i}", grid, np.full(k, 1.0 / k)) for i in range(n)], buyer_value=b)


def exact_case(n: int, k: int, formulation: str = "maximin", b: float = 1.0) -> dict:
    """Float solve, then the exact certificate; their seconds, proven, and the exact value."""
    import lpmech
    from lpmech.exact import certify, certify_general
    from lpmech.general import solve_general

    inst = _instance(n, k, b)
    t0 = time.perf_counter()
    res = lpmech.solve(inst) if formulation == "maximin" else solve_general(inst)
    t1 = time.perf_counter()
    cert = certify(inst, res) if formulation == "maximin" else certify_general(inst)
    t2 = time.perf_counter()
    return {
        "float_seconds": t1 - t0,
        "certificate_seconds": t2 - t1,
        "proven": "yes" if cert.proven else "no",
        "value": None if cert.value is None else float(cert.value),
        "float_value": float(res.value),
        "denominator_digits": None if cert.value is None else len(str(cert.value.denominator)),
        "tie_profiles": cert.checks.get("tie_profiles"),
        "tie_completion": cert.checks.get("tie_completion"),
        "reason": cert.reason or None,
    }


CASES = [
    {"instance": "uniform N=2 K=316", "n": 2, "k": 316, "method": "maximin certificate", "target": 30.0},
    {"instance": "uniform N=3 K=40", "n": 3, "k": 40, "method": "maximin certificate", "target": 30.0},
    {
        "instance": "uniform N=2 K=16",
        "n": 2,
        "k": 16,
        "method": "general LP certificate",
        "target": 30.0,
        "kwargs": {"formulation": "general"},
    },
    {
        "instance": "uniform N=2 K=256, ties",
        "n": 2,
        "k": 256,
        "method": "maximin certificate",
        "kwargs": {"b": 514 / 1024},
    },
]

COLUMNS = [
    ("instance", "instance", ""),
    ("profiles", "profiles", ","),
    ("method", "method", ""),
    ("float_seconds", "float s", ".3f"),
    ("certificate_seconds", "certificate s", ".3f"),
    ("proven", "proven", ""),
    ("target_seconds", "target s", ".0f"),
    ("value", "value", ".12g"),
    ("tie_profiles", "ties", ""),
    ("error", "error", ""),
]


def run(repeats: int = 1) -> list[dict]:
    """One row per case (median of ``repeats`` runs, each case in a fresh process)."""
    from .harness import measure

    rows = []
    for case in CASES:
        kwargs = {"n": case["n"], "k": case["k"], **case.get("kwargs", {})}
        m = measure(__name__, "exact_case", kwargs, repeats=repeats)
        row = {
            "suite": "exact",
            "instance": case["instance"],
            "profiles": case["k"] ** case["n"],
            "method": case["method"],
            "seconds": m["seconds"],
            "peak_mb": m["peak_mb"],
            "target_seconds": case.get("target"),
            "error": m["error"],
            **m["info"],
        }
        if case.get("target") and m["info"].get("certificate_seconds") is not None:
            row["target_ratio"] = m["info"]["certificate_seconds"] / case["target"]
        rows.append(row)
    return rows


if __name__ == "__main__":
    from .harness import table

    print(table(run(), COLUMNS))
