"""The benchmark's peers solve lpmech's problem, and its derived columns say what was measured.

Quick (a few seconds): the peers on N = 2, K = 4; the peer table's ratios, budgets and targets
and the growth table's exponents on synthetic timings (no timing is asserted anywhere).
"""

from __future__ import annotations

import importlib.util
import itertools
import math

import numpy as np
import pytest

import lpmech
from benchmarks import baselines, scaling
from benchmarks.core import uniform
from lpmech.tolerances import limit

HAS_MECHAUDIT = importlib.util.find_spec("mechaudit") is not None
needs_mechaudit = pytest.mark.skipif(not HAS_MECHAUDIT, reason="mechaudit not installed (the bench extra)")


def _asymmetric() -> lpmech.Instance:
    """Two sellers whose shares (0.3, 0.7) are not an optimal ω: fixed shares cost the buyer."""
    agents = [
        lpmech.Agent("s0", grid=np.array([0.1, 0.3, 0.5, 0.9]), probs=np.array([0.4, 0.3, 0.2, 0.1]), share=0.3),
        lpmech.Agent("s1", grid=np.array([0.2, 0.4, 0.6, 0.8]), probs=np.array([0.1, 0.2, 0.3, 0.4]), share=0.7),
    ]
    return lpmech.Instance("buy", agents, buyer_value=1.0)


def _bound(instance) -> float:
    return limit(instance.buyer_value, *instance.grids)


@pytest.mark.parametrize(
    "peer",
    [
        baselines.linprog_maximin,
        baselines.handwritten_cvxpy,
        pytest.param(baselines.mechaudit_fixed_shares, marks=needs_mechaudit),
    ],
)
@pytest.mark.parametrize("make", [lambda: uniform(2, 4), _asymmetric], ids=["uniform N=2 K=4", "asymmetric"])
def test_peer_finds_lpmech_value(peer, make):
    instance = make()
    reference = lpmech.solve(instance).value
    assert abs(peer(instance) - reference) <= _bound(instance)


@needs_mechaudit
def test_mechaudit_fixed_share_rows_are_what_makes_it_the_same_problem():
    # Without the rows σ_1 p_i = σ_i p_1 mechaudit solves individual transfers: value g(σ)
    # (theory section 10), which lpmech's general LP with transfers = "individual" computes too,
    # and which is strictly above the fixed-share value on this instance.
    instance = _asymmetric()
    fixed = lpmech.solve(instance).value
    individual = lpmech.solve(instance.with_mechanism(transfers="individual")).value
    assert individual > fixed + 100 * _bound(instance)
    assert abs(baselines.mechaudit_fixed_shares(instance) - fixed) <= _bound(instance)
    assert abs(baselines.mechaudit_fixed_shares(instance, fixed_shares=False) - individual) <= _bound(instance)
    assert baselines.LAST_MECHAUDIT["audit_passed"]


def test_floor_counts_profiles_below_b_by_brute_force():
    n, k = 2, 6
    instance = uniform(n, k)
    # Midpoint grid t_j = (2j − 1)/(2K), p = 1/K: φ(t_j) = t_j + (j − 1)/K, increasing (no ironing).
    phi = [(2 * j - 1) / (2 * k) + (j - 1) / k for j in range(1, k + 1)]
    below = sum(1 for a, b in itertools.product(phi, repeat=n) if (a + b) / n <= instance.buyer_value + 1e-12)
    assert baselines.floor(instance) == pytest.approx(below / k**n, abs=0)


def test_timed_refuses_a_peer_that_solves_another_problem(monkeypatch):
    info = scaling.timed(scaling.LINPROG, 2, 4, repeats=1, budget=5.0)
    assert info["agrees"] and abs(info["value"] - info["lpmech_value"]) <= info["agreement_bound"]
    monkeypatch.setattr(baselines, "linprog_maximin", lambda instance: 0.25)  # lpmech: 0.234375
    with pytest.raises(RuntimeError, match="not the same problem"):
        scaling.timed(scaling.LINPROG, 2, 4, repeats=1, budget=5.0)


def _rows(times: dict, over: dict | None = None) -> list[dict]:
    """Synthetic scaling rows: ``times[(method, n, k)] = seconds``; ``over``: skipped with a budget."""
    rows = []
    for (method, n, k), s in times.items():
        rows.append(
            {"method": method, "n": n, "k": k, "profiles": k**n, "seconds": s, "value": 0.2, "instance": f"{n},{k}"}
        )
    for (method, n, k), budget in (over or {}).items():
        rows.append(
            {"method": method, "n": n, "k": k, "profiles": k**n, "seconds": None, "over_budget": budget, "instance": ""}
        )
    return rows


def test_peer_ratios_budgets_and_targets():
    m, a = scaling.MECHAUDIT, scaling.AUTO
    times = {(a, 2, 16): 0.01, (a, 2, 32): 0.01, (a, 2, 64): 0.02, (m, 2, 16): 0.5, (m, 2, 32): 1.5}
    rows = _rows(times, over={(m, 2, 64): 120.0})
    scaling._derive(rows)
    by = {(r["method"], r["k"]): r for r in rows}
    assert by[(m, 32)]["ratio_vs_auto"] == pytest.approx(150.0)
    assert by[(m, 32)]["peer_target"] == 100.0 and by[(m, 32)]["peer_target_met"]
    assert by[(m, 64)]["ratio_vs_auto"] is None and by[(m, 64)]["ratio_vs_auto_lower"] == pytest.approx(6000.0)
    assert by[(m, 64)]["peer_target_met"]  # over budget: at least 6000x against a 1000x target
    text = scaling.peer_table(rows, sizes=((2, 16), (2, 32), (2, 64)))
    assert "> 120" in text and "> 6000" in text
    assert "K=16: 50x, K=32: 150x, K=64: >6e+03x; growing with K: yes" in text
    times[(m, 2, 32)] = 0.4  # 40x at K = 32: below the target, and the ratio falls with K
    rows = _rows(times)
    scaling._derive(rows)
    by = {(r["method"], r["k"]): r for r in rows}
    assert not by[(m, 32)]["peer_target_met"]
    assert "growing with K: no" in scaling.peer_table(rows, sizes=((2, 16), (2, 32)))


@pytest.mark.parametrize("power, holds", [(0.8, "yes"), (1.2, "no")])
def test_growth_table_compares_the_exponent_with_the_floor(power, holds):
    sizes = [16, 32, 64, 128]
    times = {(scaling.FLOOR, 2, k): 1e-8 * k**2 for k in sizes}
    times |= {(scaling.AUTO, 2, k): 1e-6 * (k**2) ** power for k in sizes}
    text = scaling.growth_table(_rows(times))
    line = next(x for x in text.splitlines() if x.startswith(scaling.AUTO))
    cells = line[len(scaling.AUTO) :].split()
    # N, sizes, range, exponent (3 largest), floor exponent, <= floor, exponent (all sizes)
    assert cells[0] == "2" and cells[1] == "4" and cells[2] == "1,024-16,384"
    assert math.isclose(float(cells[3]), power, abs_tol=0.005) and math.isclose(float(cells[4]), 1.0, abs_tol=0.005)
    assert cells[5] == holds
