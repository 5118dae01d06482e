"""Sifting (working set + pricing of every column) against one HiGHS call on the whole maximin LP."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import random_instance

import lpmech
from lpmech.maximin import MaximinLP
from lpmech.virtual import iron, ironing_intervals, virtual_costs


def _lp(inst):
    p = inst.engine()
    return MaximinLP(p, [virtual_costs(g, q) for g, q in zip(p.grids, p.probs)])


@pytest.mark.parametrize("seed", range(12))
def test_sifting_equals_direct_on_random_instances(seed):
    rng = np.random.default_rng(seed)
    n, k = (2, 40) if seed % 2 else (3, 9)
    inst = random_instance(rng, n, k, side="buy" if seed % 3 else "sell")
    lp = _lp(inst)
    direct = lp.solve(strategy="direct")
    # a tiny first working set and a rough first guess (a 2^N coarse grid) force pricing rounds
    sifted = lp.solve(strategy="sifting", start_fraction=1e-4, coarse_profiles=2 ** n)
    assert sifted.strategy == "sifting" and sifted.rounds >= 1
    assert sifted.value == pytest.approx(direct.value, rel=1e-9, abs=1e-12)
    assert sifted.dual_infeasibility <= 1e-8
    # x feasible: value of the worst maximin row equals z; interim monotone
    p = lp.problem
    pmf = p.joint_pmf()
    phi = [virtual_costs(g, q) for g, q in zip(p.grids, p.probs)]
    rows = [float(np.sum(pmf * sifted.x * (p.b - lpmech.profiles.along(f, i, n)))) for i, f in enumerate(phi)]
    assert min(rows) == pytest.approx(sifted.value, rel=1e-7, abs=1e-10)
    for i in range(n):
        X = lpmech.profiles.interim(sifted.x, p.probs, i)
        assert np.all(np.diff(X) <= 1e-8)
    # ω is a dual optimum: g(ω) with the ironed costs equals the value
    phi_bar = [iron(f, q) for f, q in zip(phi, p.probs)]
    from lpmech.weights import g_value
    w = np.clip(sifted.omega, 0, None)
    assert g_value(w / w.sum(), phi_bar, p.probs, p.b) == pytest.approx(direct.value, rel=1e-7, abs=1e-10)


def test_sifting_took_several_rounds():
    # the comparison above is not vacuous: on its seed 0 (N = 3, K = 9) pricing finds violated
    # columns and adds them over several rounds. Solved here, so no other test's state is read.
    inst = random_instance(np.random.default_rng(0), 3, 9, side="sell")
    lp = _lp(inst)
    sifted = lp.solve(strategy="sifting", start_fraction=1e-4, coarse_profiles=2 ** 3)
    assert sifted.rounds >= 3
    assert sifted.working_columns < lp.n_cols
    assert sifted.value == pytest.approx(lp.solve(strategy="direct").value, rel=1e-9, abs=1e-12)


def test_sifting_frees_ironing_intervals_together():
    # a bimodal agent ironed on most of its grid: without freeing the interval's columns
    # together, sifting would advance one type per round
    k = 60
    g = np.linspace(0.1, 1.2, k)
    d = np.exp(-((g - 0.2) / 0.1) ** 2) + np.exp(-((g - 1.1) / 0.1) ** 2) + 0.05
    farm = lpmech.Agent("farm", g, d / d.sum())
    inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution("a", "uniform", {"loc": 0.2, "scale": 0.8}, k), farm],
                           buyer_value=1.5)
    lp = _lp(inst)
    p = lp.problem
    assert ironing_intervals(virtual_costs(p.grids[1], p.probs[1]), iron(virtual_costs(p.grids[1], p.probs[1]), p.probs[1]))
    direct = lp.solve(strategy="direct")
    sifted = lp.solve(strategy="sifting", start_fraction=1e-3, coarse_profiles=100)
    assert sifted.value == pytest.approx(direct.value, rel=1e-9)
    assert sifted.rounds <= 10


def test_unknown_strategy():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="strategy"):
        _lp(random_instance(rng, 2, 4)).solve(strategy="simplex")


def test_dropped_entries_follows_highs():
    # the count lpmech reports is what HiGHS actually keeps out of the model
    import scipy.sparse as sp

    from lpmech.highs import dropped_entries, make_highs

    A = sp.csc_matrix(np.array([[1.0, 1e-12, 0.9e-12, 1.1e-12, -1e-12, 2e-13]]))
    h = make_highs(np.zeros(6), A, np.array([-1.0]), np.array([1.0]), np.zeros(6), np.ones(6))
    assert dropped_entries(A) == A.nnz - len(h.getLp().a_matrix_.value_) == 4


def _reference_pinned_lp(p, phi, fixed):
    """INDEPENDENT REFERENCE: the maximin LP written densely for scipy's linprog, every pinned
    column held by its bounds (lo = hi = pin) instead of moved to the right-hand side."""
    from scipy.optimize import linprog

    n, shape = p.n, p.shape
    pmf = p.joint_pmf().ravel()
    m = pmf.size
    A, ub = [], []
    for i, f in enumerate(phi):           # z - Σ P x (b - φ_i) <= 0
        A.append(np.append(-pmf * np.broadcast_to(p.b - lpmech.profiles.along(f, i, n), shape).ravel(), 1.0))
        ub.append(0.0)
    for i, q in enumerate(p.probs):       # X_i(t_{k+1}) - X_i(t_k) <= 0
        op = lpmech.profiles.interim_operator(p.probs, i).toarray()
        for k in range(q.size - 1):
            A.append(np.append(op[k + 1] - op[k], 0.0))
            ub.append(0.0)
    f = np.asarray(fixed, dtype=float).ravel()
    bounds = [(0.0, 1.0) if np.isnan(v) else (v, v) for v in f] + [(None, None)]
    c = np.zeros(m + 1)
    c[-1] = -1.0
    res = linprog(c, A_ub=np.array(A), b_ub=np.array(ub), bounds=bounds, method="highs-ds")
    assert res.status == 0
    return -res.fun


@pytest.mark.parametrize("seed", range(6))
def test_completion_on_pinned_profiles_matches_reference(seed):
    # MaximinLP.solve_completion is the structured solver's tie LP (lpmech.structured.ties.tie_lp,
    # unpooled); its value must be the pinned maximin LP's, written independently above.
    rng = np.random.default_rng(100 + seed)
    n, k = (2, 7) if seed % 2 else (3, 4)
    inst = random_instance(rng, n, k, side="buy" if seed % 3 else "sell")
    lp = _lp(inst)
    p = lp.problem
    phi = [virtual_costs(g, q) for g, q in zip(p.grids, p.probs)]
    phi_bar = [iron(f, q) for f, q in zip(phi, p.probs)]
    w = np.clip(lp.solve(strategy="direct").omega, 0, None)
    index = lpmech.profiles.weighted_sum(w / w.sum(), phi_bar)
    x_omega = (index <= p.b).astype(float)
    # free a band of profiles around the boundary (more than the ties, so the LP has work)
    band = np.abs(index - p.b) <= np.quantile(np.abs(index - p.b), 0.3)
    fixed = np.where(band, np.nan, x_omega)
    sol = lp.solve_completion(fixed)
    ref = _reference_pinned_lp(p, phi, fixed)
    assert sol.value == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert np.all(sol.x[~band] == x_omega[~band])
    pmf = p.joint_pmf()
    rows = [float(np.sum(pmf * sol.x * (p.b - lpmech.profiles.along(f, i, n)))) for i, f in enumerate(phi)]
    assert min(rows) == pytest.approx(ref, rel=1e-7, abs=1e-10)
    for i in range(n):
        assert np.all(np.diff(lpmech.profiles.interim(sol.x, p.probs, i)) <= 1e-9)
