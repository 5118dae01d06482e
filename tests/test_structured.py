"""The structured solver (lpmech.structured) against the K^N-column maximin LP.

Every answer of :func:`solve_structured` carries its own certificate V(x) = g(ω); these tests
check it against the LP independently: same value, x equal to the LP's x off the tie set, X_i
monotone, and x pooled on ironing intervals.
"""

from __future__ import annotations

import resource
import time

import numpy as np
import pytest
from helpers import examples, random_instance
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpmech
from lpmech import structured
from lpmech.instance import EngineProblem
from lpmech.maximin import MaximinLP
from lpmech.profiles import interim, outer_pmf, weighted_sum
from lpmech.structured import CertificateError, solve_structured
from lpmech.virtual import iron, ironing_intervals, virtual_costs


# --------------------------------------------------------------------------- helpers
def g_value(omega, phi_bar, probs, b):
    """INDEPENDENT REFERENCE for g(ω) = E[(b - ω·φ̄)_+]: one dense pass over every profile.

    Deliberately not lpmech's g (:class:`lpmech.structured.oracle.GOracle`, sorted halves and
    prefix sums), so that the two can disagree."""
    return float(np.sum(outer_pmf(probs) * np.maximum(b - weighted_sum(omega, phi_bar), 0.0)))


def engine_parts(instance):
    e = instance.engine()
    phi = [virtual_costs(t, p) for t, p in zip(e.grids, e.probs)]
    return e, phi, [iron(f, p) for f, p in zip(phi, e.probs)]


def scale_of(e, phi, phi_bar):
    return max(abs(e.b), max(float(np.max(np.abs(f))) for f in phi + phi_bar))


def make_instance(rng, n, sizes, *, uniform_grid=False, spiky=False, side="buy"):
    """Random grids and pmfs; ``spiky`` pmfs are far from regular (need ironing), ``uniform_grid``
    uses midpoint grids of U[0, s] with uniform pmfs and a dyadic b (exact ties)."""
    agents = []
    for i, k in enumerate(sizes):
        if uniform_grid:
            span = float(rng.choice([1.0, 2.0]))
            agents.append(lpmech.Agent.from_distribution(f"a{i}", "uniform", {"loc": 0.0, "scale": span}, int(k)))
            continue
        grid = np.cumsum(rng.uniform(0.05, 1.0, size=k)).round(6)
        alpha = 0.3 if spiky else 2.0
        probs = 0.7 * rng.dirichlet(np.full(k, alpha)) + 0.3 / k
        agents.append(lpmech.Agent(f"a{i}", grid, probs / probs.sum()))
    if uniform_grid:
        b = float(rng.choice([0.25, 0.5, 0.75, 1.0, 1.5]))
    else:
        b = round(float(rng.uniform(0.4, 1.6) * np.mean([a.grid.mean() for a in agents])), 6)
    if side == "buy":
        return lpmech.Instance("buy", agents, buyer_value=b)
    return lpmech.Instance("sell", agents, seller_cost=round(0.3 * b, 6))


def tie_mask(sol, e, phi, phi_bar):
    # the tie tolerance is relative: to |b| + ω·|φ̄(θ)|, the terms of each profile's own index
    size = abs(e.b) + weighted_sum(sol.omega, [np.abs(f) for f in phi_bar])
    return np.abs(weighted_sum(sol.omega, phi_bar) - e.b) <= sol.tie_tolerance * size


def reference_lp(e, phi):
    """MaximinLP(e, phi).solve(), on units scaled so that HiGHS keeps every matrix entry.

    HiGHS silently drops entries below 1e-9 (``small_matrix_value``); the maximin rows have
    entries P(θ)(b - φ_i), which on larger grids fall below that, and the LP's value is then
    off by about 1e-9. Types, b and φ scale linearly (φ is linear in the grid), so the LP is
    solved with all of them multiplied by c and its value divided by c; the test insists that
    HiGHS kept every entry, so the reference is the exact LP.
    """
    pmf = outer_pmf(e.probs)
    smallest = min(float(np.min(np.abs(v[v != 0]), initial=np.inf))
                   for v in (pmf * (e.b - np.asarray(f).reshape([-1 if j == i else 1 for j in range(e.n)]))
                             for i, f in enumerate(phi)))
    c = max(1.0, 1e-7 / smallest) if np.isfinite(smallest) else 1.0
    scaled = EngineProblem(tuple(g * c for g in e.grids), e.probs, None, e.b * c, e.flip)
    model = MaximinLP(scaled, [f * c for f in phi])
    assert len(model.highs.getLp().a_matrix_.value_) == model.nnz, "HiGHS dropped entries of the reference LP"
    sol = model.solve()
    sol.value /= c
    return sol


def assert_matches_lp(instance, chunk=2_000_000):
    """The cross-checks of the brief; returns the solution for further checks."""
    e, phi, phi_bar = engine_parts(instance)
    sol = solve_structured(e, phi, phi_bar, chunk=chunk)
    lp = reference_lp(e, phi)
    scale = scale_of(e, phi, phi_bar)
    # value: equal to the LP's, and certified by g(ω)
    assert sol.value == pytest.approx(lp.value, rel=1e-9, abs=1e-12 * scale)
    assert sol.g_value == pytest.approx(sol.value, rel=1e-9, abs=1e-12 * scale)
    assert sol.certificate_gap <= 1e-9
    assert g_value(sol.omega, phi_bar, e.probs, e.b) == pytest.approx(sol.value, rel=1e-9, abs=1e-12 * scale)
    assert sol.status == "optimal"
    # ω in the simplex
    assert sol.omega.min() >= 0.0 and sol.omega.sum() == pytest.approx(1.0, abs=1e-12)
    # x in [0, 1], interim monotone, its maximin value recomputed here from scratch
    x = sol.x
    assert x.shape == e.shape and x.min() >= 0.0 and x.max() <= 1.0
    for i, p in enumerate(e.probs):
        X = interim(x, e.probs, i)
        assert np.all(np.diff(X) <= 1e-9), f"agent {i}: X not decreasing: {X}"
    pmf = outer_pmf(e.probs)
    gains = [float(np.sum(pmf * x * (e.b - np.asarray(f).reshape([-1 if j == i else 1 for j in range(e.n)]))))
             for i, f in enumerate(phi)]
    assert min(gains) == pytest.approx(sol.value, rel=1e-9, abs=1e-12 * scale)
    # x = the LP's x off the tie set (any optimal x is a best response to any optimal ω)
    off = ~tie_mask(sol, e, phi, phi_bar)
    assert np.max(np.abs(x - lp.x) * off, initial=0.0) <= 1e-6
    assert sol.tie_probability == pytest.approx(float(np.sum(pmf * ~off)), abs=1e-12)
    # pooling: x constant in θ_i over each ironing interval of agent i, at every profile
    for i, (f, fb) in enumerate(zip(phi, phi_bar)):
        for lo, hi in ironing_intervals(f, fb):
            block = np.take(x, np.arange(lo, hi + 1), axis=i)
            first = np.take(x, [lo], axis=i)
            assert np.max(np.abs(block - first)) <= 1e-12
    return sol, lp


# --------------------------------------------------------------------------- random families
@settings(max_examples=examples(150, 15), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n=st.integers(1, 4), data=st.data(),
       kind=st.sampled_from(["random", "spiky", "uniform"]), side=st.sampled_from(["buy", "sell"]))
def test_structured_matches_maximin_lp(seed, n, data, kind, side):
    kmax = {1: 8, 2: 8, 3: 7, 4: 5}[n]
    sizes = data.draw(st.lists(st.integers(2, kmax), min_size=n, max_size=n))
    rng = np.random.default_rng(seed)
    inst = make_instance(rng, n, sizes, uniform_grid=kind == "uniform", spiky=kind == "spiky", side=side)
    assert_matches_lp(inst)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n=st.integers(1, 4), data=st.data(),
       kind=st.sampled_from(["random", "spiky", "uniform"]), side=st.sampled_from(["buy", "sell"]))
def test_structured_matches_maximin_lp_many(seed, n, data, kind, side):
    """test_structured_matches_maximin_lp with 150 examples (the default run draws a few:
    conftest.py, helpers.examples)."""
    test_structured_matches_maximin_lp.hypothesis.inner_test(
        seed=seed, n=n, data=data, kind=kind, side=side)


@pytest.mark.parametrize("seed", range(8))
def test_fixed_seeds_helpers_family(seed):
    n, k = 1 + seed % 4, (8, 7, 6, 5)[seed % 4]
    assert_matches_lp(random_instance(np.random.default_rng(seed), n, k, "buy" if seed % 3 else "sell"))


@pytest.mark.parametrize("seed", [3, 11, 29, 47])
def test_fixed_seeds_four_agents_eight_points(seed):
    inst = make_instance(np.random.default_rng(seed), 4, [8, 8, 8, 8], spiky=seed % 2 == 1)
    assert_matches_lp(inst)


@pytest.mark.parametrize("sizes,b", [((8, 8), 0.5), ((8, 4), 1.0), ((6, 6, 6), 1.0), ((4, 4, 4, 4), 1.0),
                                     ((8, 8, 4), 0.75)])
def test_uniform_grids_with_fractional_ties(sizes, b):
    # Midpoint grids of U[0,1] and U[0,2] alternately: exact ties, x fractional on them.
    agents = [lpmech.Agent.from_distribution(f"a{i}", "uniform", {"loc": 0, "scale": 1 + i % 2}, k)
              for i, k in enumerate(sizes)]
    sol, lp = assert_matches_lp(lpmech.Instance("buy", agents, buyer_value=b))
    assert sol.tie_probability > 0
    assert sol.tie_profiles > 0
    assert np.any((sol.x > 1e-9) & (sol.x < 1 - 1e-9))


def test_theory_tie_example_segment_of_weights():
    # theory.md "Ties": two iid U[0,1] sellers, K = 8, b = 0.5; the optimal ω form the segment
    # [0.4375, 0.5625] for agent 1. g is flat there and the structured ω lies on it.
    inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(s, "uniform", {}, 8) for s in "ab"],
                           buyer_value=0.5)
    sol, lp = assert_matches_lp(inst)
    e, phi, phi_bar = engine_parts(inst)
    assert sol.value == pytest.approx(0.029296875, rel=1e-12)
    for w in (0.4375, 0.5, 0.5625):
        assert g_value([w, 1 - w], phi_bar, e.probs, e.b) == pytest.approx(sol.value, rel=1e-12)
    for w in (0.43, 0.57):
        assert g_value([w, 1 - w], phi_bar, e.probs, e.b) > sol.value + 1e-6
    assert 0.4375 - 1e-12 <= sol.omega[0] <= 0.5625 + 1e-12


def test_ironed_instance_needs_pooling():
    # A pmf with a light middle point: φ is not monotone and is ironed for both agents.
    probs = np.array([0.3, 0.05, 0.3, 0.05, 0.3])
    grid = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    phi = virtual_costs(grid, probs)
    assert np.any(np.diff(phi) < 0)
    inst = lpmech.Instance("buy", [lpmech.Agent("a", grid, probs), lpmech.Agent("b", grid * 1.5, probs)],
                           buyer_value=6.0)
    assert_matches_lp(inst)


def test_one_agent_is_the_best_posted_price():
    rng = np.random.default_rng(5)
    grid = np.cumsum(rng.uniform(0.1, 1.0, 7))
    probs = rng.dirichlet(np.ones(7)) * 0.8 + 0.2 / 7
    probs /= probs.sum()
    b = float(grid[4])
    sol, _ = assert_matches_lp(lpmech.Instance("buy", [lpmech.Agent("a", grid, probs)], buyer_value=b))
    posted = max((b - t) * F for t, F in zip(grid, np.cumsum(probs)))
    assert sol.value == pytest.approx(posted, rel=1e-12)
    assert sol.omega.tolist() == [1.0]


@pytest.mark.parametrize("b,expected", [(0.01, "none"), (50.0, "all")])
def test_extreme_buyer_values(b, expected):
    inst = random_instance(np.random.default_rng(1), 3, 4, "buy")
    inst = lpmech.Instance("buy", inst.agents, buyer_value=b)
    sol, _ = assert_matches_lp(inst)
    assert np.all(sol.x == (0.0 if expected == "none" else 1.0))


# --------------------------------------------------------------------------- internals
def test_small_chunks_give_the_same_answer():
    # chunk = 5 forces blocks over the leading axes (bincount path) in every grid pass.
    inst = make_instance(np.random.default_rng(7), 4, [5, 4, 6, 3], spiky=True)
    e, phi, phi_bar = engine_parts(inst)
    big = solve_structured(e, phi, phi_bar)
    small = solve_structured(e, phi, phi_bar, chunk=5)
    assert small.value == pytest.approx(big.value, rel=1e-12)
    assert small.omega == pytest.approx(big.omega, abs=1e-12)
    assert np.max(np.abs(small.x - big.x)) <= 1e-9
    assert_matches_lp(inst, chunk=5)


@pytest.mark.parametrize("seed", range(4))
def test_oracle_matches_direct_g_and_cut_is_below_g(seed):
    rng = np.random.default_rng(seed)
    inst = make_instance(rng, 3, [5, 6, 4], spiky=True)
    e, phi, phi_bar = engine_parts(inst)
    oracle = structured.GOracle(phi_bar, e.probs, e.b, chunk=7)
    for _ in range(5):
        w = rng.dirichlet(np.ones(3))
        cut = oracle(w, magnitude=True)
        assert cut.g == pytest.approx(g_value(w, phi_bar, e.probs, e.b), rel=1e-12, abs=1e-15)
        # the magnitude the certificate's tolerance uses, against the dense reference
        index = weighted_sum(w, phi_bar)
        size = np.abs(e.b) + weighted_sum(w, [np.abs(f) for f in phi_bar])
        assert cut.magnitude == pytest.approx(float(np.sum(outer_pmf(e.probs) * size * (index < e.b))), rel=1e-12)
        assert cut.intercept + cut.slope @ w == pytest.approx(cut.g, rel=1e-10, abs=1e-14)
        for _ in range(5):   # a cut is a minorant of g everywhere on the simplex
            v = rng.dirichlet(np.ones(3))
            assert cut.intercept + cut.slope @ v <= g_value(v, phi_bar, e.probs, e.b) + 1e-12


def test_uncertified_answer_is_refused(monkeypatch):
    # A wrong ω (a vertex of the simplex where the optimum is interior) cannot be certified.
    inst = make_instance(np.random.default_rng(2), 2, [6, 6])
    e, phi, phi_bar = engine_parts(inst)
    true = solve_structured(e, phi, phi_bar)
    assert 0.01 < true.omega[0] < 0.99
    wrong = structured.Minimum(np.array([1.0, 0.0]), 0.0, 0.0, 0, "test")
    monkeypatch.setattr(structured, "minimize_g", lambda *a, **k: wrong)
    with pytest.raises(CertificateError) as err:
        solve_structured(e, phi, phi_bar)
    assert err.value.g_value > err.value.value
    assert "primal value" in str(err.value) and "dual bound" in str(err.value)


def test_correlated_types_rejected():
    joint = np.array([[0.4, 0.1], [0.1, 0.4]])
    inst = lpmech.Instance("buy", [lpmech.Agent("a", [1.0, 2.0]), lpmech.Agent("b", [1.0, 2.0])],
                           buyer_value=3.0, joint=joint)
    e = inst.engine()
    with pytest.raises(ValueError, match="independent"):
        solve_structured(e, [np.array([1.0, 3.0])] * 2, [np.array([1.0, 3.0])] * 2)


def test_unironed_phi_bar_rejected():
    inst = random_instance(np.random.default_rng(0), 2, 3, "buy")
    e = inst.engine()
    bad = [np.array([1.0, 3.0, 2.0]), np.array([1.0, 2.0, 3.0])]
    with pytest.raises(ValueError, match="nondecreasing"):
        solve_structured(e, bad, bad)


# --------------------------------------------------------------------------- large cases
def _large(instance, label):
    e, phi, phi_bar = engine_parts(instance)
    start = time.perf_counter()
    sol = solve_structured(e, phi, phi_bar)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{label}: {e.shape} = {int(np.prod(e.shape)):,} profiles, {wall:.2f} s, "
          f"{sol.iterations} cutting-plane iterations ({sol.stopped}), value {sol.value:.12g}, "
          f"g(omega) {sol.g_value:.12g}, certificate gap {sol.certificate_gap:.2e}, "
          f"ties {sol.tie_profiles} ({sol.tie_columns} LP columns), process peak RSS {peak:.0f} MB")
    assert sol.certificate_gap <= 1e-9
    assert sol.monotonicity_violation <= 1e-9
    assert sol.g_value == pytest.approx(sol.value, rel=1e-9)
    return e, phi, phi_bar, sol


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uniform", "random"])
def test_large_two_agents_thousand_points(kind):
    if kind == "uniform":
        inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(s, "uniform", {"scale": 1 + i}, 1000)
                                       for i, s in enumerate("ab")], buyer_value=1.0)
    else:
        inst = make_instance(np.random.default_rng(5), 2, [1000, 1000], spiky=True)
    _large(inst, f"N=2 K=1000 {kind}")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["uniform", "random"])
def test_large_seven_agents_ten_points(kind):
    if kind == "uniform":   # b = 0.25: the symmetric ω has 1716 exact ties
        inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(f"a{i}", "uniform", {}, 10)
                                       for i in range(7)], buyer_value=0.25)
    else:
        inst = make_instance(np.random.default_rng(1), 7, [10] * 7, spiky=True)
    _large(inst, f"N=7 K=10 {kind}")


@pytest.mark.slow
def test_large_seven_agents_many_ties():
    # Seven iid uniform agents, b = 6.55/7: the symmetric ω ties 5% of the 10^7 profiles
    # (512,365 tie columns), the heaviest tie LP a 10-point grid gives; about 1.2 GB peak.
    inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(f"a{i}", "uniform", {}, 10)
                                   for i in range(7)], buyer_value=6.55 / 7)
    *_, sol = _large(inst, "N=7 K=10 uniform, 5% ties")
    assert sol.tie_probability > 0.05
    assert sol.omega == pytest.approx(np.full(7, 1 / 7), abs=1e-12)


@pytest.mark.slow
def test_two_agents_two_hundred_points_against_lp():
    inst = make_instance(np.random.default_rng(9), 2, [200, 200], spiky=True)
    start = time.perf_counter()
    sol, lp = assert_matches_lp(inst)
    print(f"\nN=2 K=200 with the LP cross-check: {time.perf_counter() - start:.2f} s "
          f"(structured alone {sol.seconds:.3f} s), certificate gap {sol.certificate_gap:.2e}")
