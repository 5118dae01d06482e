"""Sifting (working set + pricing of every column) against one HiGHS call on the whole maximin LP."""

from __future__ import annotations

import numpy as np
import pytest

import lpmech
from lpmech.maximin import MaximinLP
from lpmech.virtual import iron, ironing_intervals, virtual_costs

from helpers import random_instance


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
