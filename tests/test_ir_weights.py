"""The general LP's participation weights (GeneralResult.participation_weights) against the maximin ω.

Each agent's weight is the total dual of its participation rows, normalised. With independent
private values (γ = 0), Bayesian IC and interim IR it must be an optimal ω of the maximin LP, an
independent computation (another LP, over x only, lpmech.solve): equal to it where the optimal ω
is unique (omega_range a point), inside omega_range where it is not. Unequal shares make the test
able to fail: the duals of rows stated in the agents' payoff units σ_i(m − c_i x) are the
per-share duals divided by σ_i, which normalise to another point (checked below).
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from helpers import random_instance

import lpmech
from lpmech import general
from lpmech.general import solve_general
from lpmech.instance import Agent, Instance

CASES = [(seed, n, side) for seed in range(6) for n, side in ((2, "buy"), (2, "sell"), (3, "buy"))]


def _instance(seed: int, n: int, side: str, gamma: bool) -> Instance:
    inst = random_instance(np.random.default_rng(seed), n, 3 if n == 3 else 4, side)
    if gamma:  # γ = 0 given explicitly: the interdependent rows (written out over profiles)
        inst = replace(inst, interdependence=np.zeros((n, n)), agents=inst.agents)
    return inst


def _unique(res) -> bool:
    rng = np.asarray(res.omega_range)
    return bool(np.all(rng[:, 1] - rng[:, 0] <= 1e-7))


def _in_range(w, res) -> bool:
    rng = np.asarray(res.omega_range)
    return bool(np.all(w >= rng[:, 0] - 1e-6) and np.all(w <= rng[:, 1] + 1e-6))


@pytest.mark.parametrize("seed, n, side", CASES)
@pytest.mark.parametrize("gamma", [False, True], ids=["private", "gamma0"])
@pytest.mark.parametrize("lazy", [True, False], ids=["lazy", "factored"])
def test_weights_at_gamma_zero_are_the_maximin_omega(monkeypatch, seed, n, side, gamma, lazy):
    inst = _instance(seed, n, side, gamma)
    ref = lpmech.solve(replace(inst, interdependence=None, agents=inst.agents))
    if not lazy:
        monkeypatch.setattr(general, "_lazy_family", lambda lp: False)
    res = solve_general(inst)
    w = res.participation_weights
    assert w is not None and w.shape == (n,)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0, abs=1e-12)
    assert res.value == pytest.approx(ref.value, rel=1e-7, abs=1e-9)
    if _unique(ref):
        np.testing.assert_allclose(w, ref.omega, atol=1e-6)
    else:
        assert _in_range(w, ref)


def test_the_cases_can_tell_the_share_scaling():
    # enough of the cases have a unique ω, and on them the duals in payoff units (divided by σ_i,
    # then normalised) are another point: a weight computed that way fails the test above
    unique = told = 0
    for seed, n, side in CASES:
        inst = _instance(seed, n, side, False)
        ref = lpmech.solve(inst)
        if not _unique(ref):
            continue
        unique += 1
        w = solve_general(inst).participation_weights
        wrong = (w / inst.shares) / (w / inst.shares).sum()
        told += bool(np.max(np.abs(wrong - ref.omega)) > 1e-3)
    assert unique >= 6 and told >= 6


def test_unequal_shares_closed_form():
    # two sellers, costs {1/4, 3/4} w.p. 1/2 each, b = 1, shares 0.7 / 0.3. Virtual costs of each
    # seller: φ(1/4) = 1/4, φ(3/4) = 3/4 + (1/2)/(1/2)·(1/2) = 5/4. With ω·φ ≤ 1 the designer trades
    # at (L, L) and at (L, H) or (H, L) when ω_other·5/4 + ω_self/4 ≤ 1, i.e. always for ω = (1/2, 1/2)
    # (5/8 + 1/8 = 3/4 ≤ 1) and never at (H, H) (5/4 > 1). By symmetry of the per-share types ω is
    # (1/2, 1/2) whatever the shares (docs/model.md, section 8, claim 5), and the maximin LP agrees.
    agents = [Agent(name, [0.25, 0.75], [0.5, 0.5], share) for name, share in (("a", 0.7), ("b", 0.3))]
    inst = Instance("buy", agents, buyer_value=1.0)
    w = solve_general(inst).participation_weights
    ref = lpmech.solve(inst)
    assert _in_range(w, ref) and _in_range(np.array([0.5, 0.5]), ref)


def test_tie_grid_weights_lie_in_the_optimal_set():
    # two iid uniform sellers on an 8-point midpoint grid, b = 1/2: every ω_1 in [7/16, 9/16] is optimal
    agents = [Agent.from_distribution(f"s{i}", "uniform", {"scale": 1.0}, 8) for i in (1, 2)]
    inst = Instance("buy", agents, buyer_value=0.5)
    ref = lpmech.solve(inst)
    np.testing.assert_allclose(np.asarray(ref.omega_range)[0], [7 / 16, 9 / 16], atol=1e-9)
    w = solve_general(inst).participation_weights
    assert _in_range(w, ref)


def test_an_agent_without_a_veto_has_weight_zero_and_individual_transfers_have_none():
    inst = _instance(0, 3, "buy", False)
    res = solve_general(inst, mechanism={"veto": [inst.names[0], inst.names[2]]})
    w = res.participation_weights
    assert w[1] == 0.0 and w.sum() == pytest.approx(1.0)
    assert solve_general(inst, mechanism={"transfers": "individual"}).participation_weights is None


def test_welfare_objective_has_no_weights():
    # at λ = 1 the transfer drops out of the objective: every participation dual is 0
    inst = _instance(1, 2, "buy", False)
    assert solve_general(inst, mechanism={"pareto": 1.0}).participation_weights is None


def test_weights_reach_the_result_json():
    inst = _instance(2, 2, "buy", False)
    res = lpmech.solve(inst, method="general")
    doc = json.loads(json.dumps(res.to_dict()))
    w = doc["info"]["participation_weights"]
    assert len(w) == 2 and sum(w) == pytest.approx(1.0)
    np.testing.assert_allclose(w, res.native.participation_weights, rtol=0, atol=0)


def _derivative_range(inst: Instance, i: int, eps: float = 1e-4) -> tuple[float, float]:
    """[V'(0+), V'(0−)] of the value as agent i's IR rows are relaxed by ε per unit of share
    (outside option −σ_i·ε): the range of agent i's total participation dual over the optimal duals."""
    name, share = inst.names[i], float(inst.shares[i])
    v0 = solve_general(inst).value
    up = solve_general(inst, mechanism={"outside_option": {name: -share * eps}}).value
    down = solve_general(inst, mechanism={"outside_option": {name: share * eps}}).value
    return (up - v0) / eps, (v0 - down) / eps


@pytest.mark.parametrize("gamma, shares", [(0.0, (0.5, 0.5)), (0.3, (0.5, 0.5)), (0.6, (0.7, 0.3)), (1.0, (0.2, 0.8))])
def test_weights_with_interdependence_are_the_value_derivatives(gamma, shares):
    # an independent computation at γ != 0: the participation duals sum to 1 at every dual optimum
    # (profit objective), so agent i's weight lies between the one-sided derivatives of the value
    # as its IR rows are relaxed, and equals them where they agree (ω unique)
    agents = [Agent.from_distribution(f"s{i + 1}", "uniform", {"scale": 1.0}, 6, share=s) for i, s in enumerate(shares)]
    inst = Instance("buy", agents, buyer_value=1.0, interdependence=[[0.0, gamma], [0.0, 0.0]])
    w = solve_general(inst).participation_weights
    for i in range(2):
        lo, hi = _derivative_range(inst, i)
        assert lo - 1e-6 <= w[i] <= hi + 1e-6
    if gamma > 0:  # seller 1's cost loads on seller 2's type: its weight is above 1/2 and unique
        lo, hi = _derivative_range(inst, 0)
        assert hi - lo < 1e-6 and w[0] > 0.5 + 1e-3
