import math

import numpy as np
import pytest
from helpers import examples, plain_bic_lp, random_instance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpmech
from lpmech.virtual import iron, virtual_costs
from lpmech.weights import GFunction, weight_ranges


def assert_audited(inst, res, ref):
    """The returned mechanism, audited here by brute force: it earns the reference value and no
    agent gains from a false report or loses from taking part (beyond 1e-9 of the payoffs)."""
    audit = lpmech.verify(inst, res.allocation, res.transfer)
    assert audit.profit == pytest.approx(ref, rel=1e-7, abs=1e-8)
    payoff = max(float(np.max(np.abs(res.transfer))), float(np.max(np.abs(np.concatenate(inst.grids)))))
    assert audit.max_ic_violation <= 1e-9 * payoff
    assert audit.max_ir_violation <= 1e-9 * payoff
    assert audit.max_bound_violation == 0.0


def uniform_pair(k, b=1.0, n=2):
    return lpmech.Instance("buy", [lpmech.Agent.from_distribution(f"s{i}", "uniform", {}, k) for i in range(n)],
                           buyer_value=b)


@settings(max_examples=examples(25, 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n=st.integers(1, 3), k=st.integers(2, 4),
       side=st.sampled_from(["buy", "sell"]), total=st.booleans())
def test_maximin_equals_plain_bic_lp(seed, n, k, side, total):
    inst = random_instance(np.random.default_rng(seed), n, k, side, total)
    res = lpmech.solve(inst)
    ref = plain_bic_lp(inst)
    assert res.value == pytest.approx(ref, rel=1e-7, abs=1e-8)
    assert_audited(inst, res, ref)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n=st.integers(1, 3), k=st.integers(2, 4),
       side=st.sampled_from(["buy", "sell"]), total=st.booleans())
def test_maximin_equals_plain_bic_lp_many(seed, n, k, side, total):
    """test_maximin_equals_plain_bic_lp with 25 examples (the default run draws a few:
    conftest.py, helpers.examples)."""
    test_maximin_equals_plain_bic_lp.hypothesis.inner_test(
        seed=seed, n=n, k=k, side=side, total=total)


def test_theory_tie_example_weight_set():
    # theory.md, "Ties": two iid uniform sellers on an 8-point midpoint grid, b = 0.5.
    res = lpmech.solve(uniform_pair(8, b=0.5))
    assert res.omega_range == pytest.approx(np.array([[0.4375, 0.5625], [0.4375, 0.5625]]), abs=1e-7)
    assert res.omega_canonical == pytest.approx([0.5, 0.5], abs=1e-7)
    # ties at a vertex of the weight set (the LP's ω; auto's structured solver ends inside it,
    # at (1/2, 1/2), where no profile ties)
    assert lpmech.solve(uniform_pair(8, b=0.5), method="lp").checks["tie_probability"] > 0


@pytest.mark.parametrize("seed", range(6))
def test_face_ranges_match_level_set_of_g(seed):
    # Two descriptions of the optimal weights: the face from the LP's x (used by solve) and the
    # level set {g <= g*} of g evaluated directly. The level set is fattened by tol/slope.
    rng = np.random.default_rng(seed)
    inst = random_instance(rng, 3, 3, "buy")
    res = lpmech.solve(inst)
    e = inst.engine()
    phi_bar = [iron(virtual_costs(t, p), p) for t, p in zip(e.grids, e.probs)]
    gf = GFunction.build(phi_bar, e.probs, e.b)
    ref = weight_ranges(gf, gf(res.omega), 1e-12)
    assert res.omega_range == pytest.approx(ref, abs=1e-6)
    # the canonical ω minimizes g
    assert gf(res.omega_canonical) == pytest.approx(res.value, abs=1e-9)


def test_uniform_pair_converges_to_continuous_value():
    n, b = 2, 1.0
    exact = (n * b / 2) ** n * b / (math.factorial(n) * (n + 1))
    errors, values = [], []
    for k in (10, 20, 40, 80):
        res = lpmech.solve(uniform_pair(k, b))
        values.append(res.value)
        errors.append(abs(res.value - exact))
        assert res.omega_canonical == pytest.approx([0.5, 0.5], abs=1e-7)
        assert res.omega_range[0, 0] <= 0.5 <= res.omega_range[0, 1]
    assert all(e2 < e1 for e1, e2 in zip(errors, errors[1:]))
    rate = np.polyfit(np.log([10, 20, 40, 80]), np.log(errors), 1)[0]
    assert -1.3 < rate < -0.7       # error O(1/K)
    assert errors[-1] < 0.02 * exact
    # Richardson extrapolation of an O(1/K) error removes most of it
    assert abs(2 * values[-1] - values[-2] - exact) < 0.1 * errors[-1]


def test_uniform_triple_symmetric_canonical_weights():
    b = 0.6   # the closed form needs b <= 2/N
    coarse, fine = (lpmech.solve(uniform_pair(k, b=b, n=3)) for k in (12, 24))
    for res in (coarse, fine):
        assert res.omega_canonical == pytest.approx([1 / 3] * 3, abs=1e-7)
    exact = (3 * b / 2) ** 3 * b / (math.factorial(3) * 4)
    assert fine.value == pytest.approx(exact, rel=0.2)
    assert 2 * fine.value - coarse.value == pytest.approx(exact, rel=0.01)   # Richardson, O(1/K)


@pytest.mark.parametrize("k", [5, 17, 40])
def test_single_agent_equals_best_posted_price(k):
    inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution("o", "beta", {"a": 2, "b": 5}, k)],
                           buyer_value=0.7)
    res = lpmech.solve(inst)
    # brute force over every price p in the grid: (b - p) P(θ <= p)
    g, p = inst.grids[0], inst.probs[0]
    best = max(max((0.7 - q) * p[g <= q].sum() for q in g), 0.0)
    assert res.value == pytest.approx(best, rel=1e-9)
    assert res.posted.value == pytest.approx(best, rel=1e-12)
    assert res.ratio == pytest.approx(1.0, rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_sell_side_equals_mirrored_buy_side(seed):
    rng = np.random.default_rng(100 + seed)
    sell = random_instance(rng, 2, 4, "sell")
    buy = lpmech.Instance("buy", [lpmech.Agent(a.name, -a.grid[::-1], a.probs[::-1], a.share) for a in sell.agents],
                          buyer_value=-sell.seller_cost)
    rs, rb = lpmech.solve(sell), lpmech.solve(buy)
    assert rs.value == pytest.approx(rb.value, rel=1e-9, abs=1e-12)
    assert rs.omega_range == pytest.approx(rb.omega_range, abs=1e-7)
    assert rs.allocation == pytest.approx(rb.allocation[::-1, ::-1], abs=1e-7)
    # transfers: group -> seller on the sell side equals minus buyer -> group, mirrored
    assert rs.transfer == pytest.approx(-rb.transfer[::-1, ::-1], abs=1e-9)


def test_identical_types_with_unequal_shares_get_equal_weights():
    agents = [lpmech.Agent.from_distribution(n, "beta", {"a": 2, "b": 2}, 12, share=s)
              for n, s in (("a", 0.7), ("b", 0.2), ("c", 0.1))]
    res = lpmech.solve(lpmech.Instance("buy", agents, buyer_value=1.2))
    assert res.omega_canonical == pytest.approx([1 / 3] * 3, abs=1e-6)


def test_total_types_divide_by_share():
    a = lpmech.Agent("a", [0.5, 1.0], [0.5, 0.5], share=0.5)
    b = lpmech.Agent("b", [1.0, 2.0], [0.5, 0.5], share=0.5)
    inst = lpmech.Instance("buy", [a, b], buyer_value=3.0, types="total")
    assert inst.grids[0] == pytest.approx([1.0, 2.0])
    assert inst.grids[1] == pytest.approx([2.0, 4.0])


def test_transfers_reproduce_interim_and_value():
    inst = random_instance(np.random.default_rng(7), 3, 4, "buy")
    res = lpmech.solve(inst)
    pmf = inst.joint_pmf()
    for i, row in enumerate(res.interim):
        axes = tuple(j for j in range(inst.n) if j != i)
        cond = (pmf * res.transfer).sum(axis=axes) / inst.probs[i]
        assert cond == pytest.approx(row["expected_transfer"], abs=1e-9)
    profit = float(np.sum(pmf * (inst.buyer_value * res.allocation - res.transfer)))
    assert profit == pytest.approx(res.value, abs=1e-9)
    # IR binds for someone: the lowest interim utility over agents and types is 0
    assert min(min(r["utility"]) for r in res.interim) == pytest.approx(0.0, abs=1e-9)


def test_ironed_instance_pools_allocation():
    inst = lpmech.load(__import__("pathlib").Path(__file__).parent.parent / "grids" / "land_assembly.toml")
    res = lpmech.solve(inst)
    farm = res.interim[2]
    assert farm["ironing_intervals"]
    lo, hi = farm["ironing_intervals"][0]
    g = np.array(farm["grid"])
    X = np.array(farm["trade_probability"])[(g >= lo) & (g <= hi)]
    assert np.ptp(X) < 1e-9


def test_profile_limit():
    with pytest.raises(lpmech.InstanceError, match="profiles"):
        lpmech.solve(uniform_pair(30), max_profiles=500)


def test_canonical_weights_exact_on_a_point_face():
    # A coarse random grid whose optimal face is a single point: the interior-point QP lands
    # ~1e-8 off it, which moved tied profiles past the tie tolerance before the active-set polish.
    a = lpmech.Agent("a1", [0.1, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1, 1.4, 1.5, 1.7, 1.9],
                     [0.057, 0.0263, 0.0964, 0.0515, 0.0731, 0.0692, 0.2271, 0.0021, 0.0333, 0.0320, 0.1971, 0.1349])
    b = lpmech.Agent("a2", [0.1, 0.3, 0.5, 0.6, 0.8, 1.0, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7],
                     [0.0362, 0.1140, 0.1125, 0.0474, 0.0245, 0.0859, 0.0596, 0.2349, 0.0477, 0.1588, 0.0276, 0.0509])
    res = lpmech.solve(lpmech.Instance("buy", [a, b], buyer_value=2.79))
    assert res.checks["offtie_mismatch_canonical"] == 0.0
    assert res.omega_canonical == pytest.approx(res.omega, abs=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_random_coarse_grids_pass_every_check(seed):
    rng = np.random.default_rng(1000 + seed)
    k = int(rng.integers(2, 13))
    agents = []
    for i in range(2):
        grid = np.round(np.sort(rng.choice(np.arange(1, 20), size=k, replace=False)) / 10, 2)
        probs = rng.dirichlet(np.ones(k))
        agents.append(lpmech.Agent(f"a{i}", grid, probs / probs.sum()))
    inst = lpmech.Instance("buy", agents, buyer_value=float(np.round(rng.uniform(0.8, 3.0), 2)))
    res = lpmech.solve(inst)
    # (solve raises when a check fails, so res.checks["passed"] could not fail here): the
    # mechanism is audited by brute force and its value compared with the plain BIC LP
    assert_audited(inst, res, plain_bic_lp(inst))
