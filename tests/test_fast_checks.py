"""The maximin path's fast checks (issue 14) against the full-pass computations they replace.

For independent types the audit and the IC/IR ratios use interim sums (audit.Interim), g's
value rows use interim sums (checks.gains), the posted price the marginal CDFs, and the
whole-grid arrays (ω·φ̄, the extremes of φ̄, the transfer m) nested outer operations. Each is
compared here with a second formulation on hypothesis-generated instances: the same instance
given by its joint pmf (the correlated path: (K_i, R) belief rows, the K^N joint pmf), the
whole-grid loops, and a brute force over profiles written in the test. Perturbed x and m must
fail the fast checks: a check that cannot fail is not a check.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import examples, random_instance
from hypothesis import given, settings
from hypothesis import strategies as st

import lpmech
from lpmech.checks import gains, incentive_ratios
from lpmech.errors import CheckError
from lpmech.instance import EngineProblem
from lpmech.posted import _acceptance
from lpmech.profiles import along, interim, outer_accumulate, outer_pmf, weighted_sum
from lpmech.tolerances import CHECK_RTOL

SIZES = st.tuples(st.integers(1, 3), st.integers(1, 4))


def correlated_twin(inst: lpmech.Instance) -> lpmech.Instance:
    """The same instance with its product pmf given as a joint pmf (the correlated code path)."""
    agents = [lpmech.Agent(a.name, inst.grids[i], None, float(inst.shares[i])) for i, a in enumerate(inst.agents)]
    value = {"buyer_value": inst.buyer_value} if inst.side == "buy" else {"seller_cost": inst.seller_cost}
    return lpmech.Instance(inst.side, agents, joint=outer_pmf(inst.probs), **value)


def mechanism(rng, shape, scale):
    x = rng.uniform(-0.05, 1.05, size=shape)
    m = rng.normal(size=shape) * scale
    return x, m


def brute_force_bic(inst, x, m):
    """Largest Bayesian IC gain and interim IR shortfall (payoff units), by loops over profiles."""
    probs, grids, n = inst.probs, inst.grids, inst.n
    sign = inst.money_sign
    ic = ir = 0.0
    for i in range(n):
        k = grids[i].size
        others = [range(grids[j].size) for j in range(n) if j != i]
        ex, em = np.zeros(k), np.zeros(k)
        for s in range(k):
            for rest in itertools.product(*others):
                prof = list(rest)
                prof.insert(i, s)
                w = np.prod([probs[j][prof[j]] for j in range(n) if j != i])
                ex[s] += w * x[tuple(prof)]
                em[s] += w * m[tuple(prof)]
        share = inst.shares[i]
        for t in range(k):
            truth = share * sign * (em[t] - grids[i][t] * ex[t])
            ir = max(ir, -truth)
            for s in range(k):
                ic = max(ic, share * sign * (em[s] - grids[i][t] * ex[s]) - truth)
    return ic, ir


@settings(max_examples=examples(200, 25))
@given(seed=st.integers(0, 2**32 - 1), size=SIZES, side=st.sampled_from(["buy", "sell"]))
def test_audit_interim_sums_agree_with_beliefs(seed, size, side):
    rng = np.random.default_rng(seed)
    inst = random_instance(rng, *size, side=side)
    x, m = mechanism(rng, inst.shape, float(np.mean(inst.grids[0])))
    fast, full = lpmech.verify(inst, x, m), lpmech.verify(correlated_twin(inst), x, m)
    for key in ("max_ic_violation", "max_ir_violation", "profit", "max_bound_violation", "ic_relative", "ir_relative"):
        a, b = getattr(fast, key), getattr(full, key)
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), key
    for pa, pb in zip(fast.per_agent, full.per_agent):
        np.testing.assert_allclose(pa["interim_utility"], pb["interim_utility"], rtol=1e-9, atol=1e-12)
    ic, ir = brute_force_bic(inst, x, m)
    assert fast.max_ic_violation == pytest.approx(max(ic, 0.0), rel=1e-9, abs=1e-12)
    assert fast.max_ir_violation == pytest.approx(max(ir, 0.0), rel=1e-9, abs=1e-12)
    r_fast, r_full = incentive_ratios(inst, x, m), incentive_ratios(correlated_twin(inst), x, m)
    assert r_fast.ic == pytest.approx(r_full.ic, rel=1e-9, abs=1e-15)
    assert r_fast.ir == pytest.approx(r_full.ir, rel=1e-9, abs=1e-15)


@settings(max_examples=examples(50, 8))
@given(seed=st.integers(0, 2**32 - 1), size=st.tuples(st.integers(2, 3), st.integers(2, 4)))
def test_fast_audit_fails_a_perturbed_transfer(seed, size):
    """The optimal mechanism passes; paying one report more than any type's slack fails IC, paying less fails IR."""
    rng = np.random.default_rng(seed)
    inst = random_instance(rng, *size)
    res = lpmech.solve(inst, method="structured")
    assert lpmech.verify(inst, res.allocation, res.transfer).ok()
    i = int(rng.integers(inst.n))
    k = inst.shape[i]
    s = int(rng.integers(k))
    m = np.array(res.transfer, dtype=float)
    # U(t|t) − U(s|t) <= 2 max|m| + |t| (payoffs per share): this bump beats every type's slack
    bump = 3.0 * (np.abs(m).max() + np.abs(inst.grids[i]).max())
    idx = [slice(None)] * inst.n
    idx[i] = s
    # buy side: a higher payment to report s draws the other types (k > 1) to it
    m[tuple(idx)] += bump
    audit = lpmech.verify(inst, res.allocation, m)
    assert audit.ic_relative > CHECK_RTOL
    assert incentive_ratios(inst, res.allocation, m).ic > CHECK_RTOL
    # a cut in every transfer makes some type's interim payoff negative: IR fails
    low = np.array(res.transfer, dtype=float) - bump
    assert lpmech.verify(inst, res.allocation, low).ir_relative > CHECK_RTOL
    assert incentive_ratios(inst, res.allocation, low).ir > CHECK_RTOL


@given(seed=st.integers(0, 2**32 - 1), size=SIZES)
def test_gains_by_interim_sums(seed, size):
    rng = np.random.default_rng(seed)
    inst = random_instance(rng, *size)
    prob = inst.engine()
    phi = [rng.normal(size=k) for k in prob.shape]
    x = rng.uniform(0, 1, size=prob.shape)
    pmf = prob.joint_pmf()
    full = EngineProblem(prob.grids, None, pmf, prob.b, prob.flip)
    (v, s), (v_ref, s_ref) = gains(prob, None, x, phi), gains(full, pmf, x, phi)
    np.testing.assert_allclose(v, v_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s, s_ref, rtol=1e-12, atol=1e-14)
    # brute force: E[x (b - φ_i)] over every profile
    for i in range(prob.n):
        ref = sum(pmf[p] * x[p] * (prob.b - phi[i][p[i]]) for p in np.ndindex(*prob.shape))
        assert v[i] == pytest.approx(ref, rel=1e-10, abs=1e-13)
    # a perturbed x moves the gain it should
    y = x.copy()
    y.flat[0] += 0.5
    assert not np.allclose(gains(prob, None, y, phi)[0], v, rtol=0, atol=1e-3 * float(pmf.flat[0]))


@given(seed=st.integers(0, 2**32 - 1), size=SIZES, side=st.sampled_from(["buy", "sell"]))
def test_posted_acceptance_from_marginal_cdfs(seed, size, side):
    rng = np.random.default_rng(seed)
    prob = random_instance(rng, *size, side=side).engine()
    prices = np.unique(np.concatenate(prob.grids))
    prices = np.concatenate([prices, [prices.min() - 1.0], 0.5 * (prices[:-1] + prices[1:])])
    fast = _acceptance(prob, prices)
    full = _acceptance(EngineProblem(prob.grids, None, prob.joint_pmf(), prob.b, prob.flip), prices)
    np.testing.assert_allclose(fast, full, rtol=1e-12, atol=1e-15)
    pmf = prob.joint_pmf()
    for p, a in zip(prices, fast):      # brute force: P(θ_i <= p for all i)
        ref = sum(pmf[q] for q in np.ndindex(*prob.shape) if all(g[j] <= p for g, j in zip(prob.grids, q)))
        assert a == pytest.approx(ref, rel=1e-12, abs=1e-15)


@given(seed=st.integers(0, 2**32 - 1), shape=st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_outer_operations_are_the_whole_grid_loops_bitwise(seed, shape):
    rng = np.random.default_rng(seed)
    n = len(shape)
    vecs = [rng.normal(size=k) * 10.0 ** rng.integers(-3, 4) for k in shape]
    w = rng.random(n)
    ref = np.zeros(shape)
    lo = np.full(shape, np.inf)
    for i, (a, v) in enumerate(zip(w, vecs)):
        ref = ref + a * along(v, i, n)
        lo = np.minimum(lo, along(v, i, n))
    assert np.array_equal(weighted_sum(w, vecs), ref)
    assert np.array_equal(outer_accumulate(np.minimum, np.inf, vecs), lo)
    probs = [rng.dirichlet(np.ones(k)) for k in shape]
    arr = rng.normal(size=shape)
    for i in range(n):
        axes = tuple(j for j in range(n) if j != i)
        np.testing.assert_allclose(interim(arr, probs, i), (arr * outer_pmf(probs)).sum(axis=axes) / probs[i],
                                   rtol=1e-12, atol=1e-14)


def test_solve_fails_on_a_perturbed_transfer(monkeypatch):
    """The certified solve raises CheckError when the transfers it audits are wrong."""
    from lpmech import solver

    inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(f"s{i}", "uniform", {}, 6) for i in range(3)],
                           buyer_value=0.7)
    lpmech.solve(inst)                     # passes as given
    real = solver.transfers

    def wrong(problem, x):
        tr = real(problem, x)
        tr.m = tr.m.copy()
        tr.m[0] += 0.05                      # agent 1's lowest cost is paid more: IC of the others fails
        return tr

    monkeypatch.setattr(solver, "transfers", wrong)
    with pytest.raises(CheckError) as err:
        lpmech.solve(inst)
    assert "ic_violation_relative" in err.value.failed


@pytest.mark.parametrize("method", ["structured", "lp"])
def test_certified_solve_matches_brute_force(method):
    """Value and checks of a small Dirichlet instance against the BIC LP written in the tests."""
    from helpers import plain_bic_lp

    inst = random_instance(np.random.default_rng(7), 2, 4)
    res = lpmech.solve(inst, method=method)
    assert res.checks["passed"]
    assert res.value == pytest.approx(plain_bic_lp(inst), rel=1e-6, abs=1e-9)


def whole_grid_face_rows(x, phi_bar, b, index_rtol, x_tol):
    """The trade and refusal rows of optimal_face computed on whole-grid arrays (the former code)."""
    from lpmech.weights import _any_neighbour

    n = len(phi_bar)
    absb = [np.abs(v) for v in phi_bar]
    lo = np.full(x.shape, np.inf)
    hi = np.full(x.shape, -np.inf)
    for i, v in enumerate(absb):
        lo, hi = np.minimum(lo, along(v, i, n)), np.maximum(hi, along(v, i, n))
    threshold = x_tol * (abs(b) + lo) / np.maximum(abs(b) + hi, 1e-300)
    trades, refuses = x > threshold, x < 1.0 - threshold
    refuses = refuses & ~_any_neighbour(refuses, -1)
    trades = trades & ~_any_neighbour(trades, +1)
    r = index_rtol
    low_rows = [v + r * np.abs(v) for v in phi_bar]
    up_rows = [v - r * np.abs(v) for v in phi_bar]
    lmin = np.full(x.shape, np.inf)
    umax = np.full(x.shape, -np.inf)
    for i in range(n):
        lmin, umax = np.minimum(lmin, along(low_rows[i], i, n)), np.maximum(umax, along(up_rows[i], i, n))
    return trades & (umax > b + r * abs(b)), refuses & (lmin < b - r * abs(b))


@settings(max_examples=examples(200, 25))
@given(seed=st.integers(0, 2**32 - 1), shape=st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_optimal_face_rows_match_whole_grid(seed, shape):
    from lpmech.weights import optimal_face

    rng = np.random.default_rng(seed)
    n = len(shape)
    phi_bar = [np.sort(rng.normal(size=k)) * 10.0 ** rng.integers(-2, 3) for k in shape]
    b = float(rng.normal())
    # 0/1 with values within x_tol of 0 and 1 and in between (the threshold matters there)
    x = rng.choice([0.0, 1.0, 1e-10, 1 - 1e-10, 5e-10, 1 - 5e-10, 0.3, 2e-9], size=shape)
    x_tol, rtol = 1e-9, 1e-9
    face = optimal_face(x, phi_bar, b, np.zeros(n), [np.zeros(k) for k in shape], [[] for _ in shape],
                        value_tol=0.0, index_rtol=rtol, x_tol=x_tol)
    trades, refuses = whole_grid_face_rows(x, phi_bar, b, rtol, x_tol)
    idx_t, idx_r = np.nonzero(trades), np.nonzero(refuses)
    exact = np.vstack([np.stack([phi_bar[i][idx_t[i]] for i in range(n)], axis=1).reshape(-1, n),
                       np.stack([phi_bar[i][idx_r[i]] for i in range(n)], axis=1).reshape(-1, n)])
    assert np.array_equal(face.exact, exact)
    assert face.Phi.shape == exact.shape


@settings(max_examples=examples(100, 15))
@given(seed=st.integers(0, 2**32 - 1), size=SIZES, side=st.sampled_from(["buy", "sell"]))
def test_posted_price_against_brute_force(seed, size, side):
    """Best price, value and allocation by trying every grid point on every profile (user units)."""
    from lpmech.posted import best_posted_price

    rng = np.random.default_rng(seed)
    inst = random_instance(rng, *size, side=side)
    pp = best_posted_price(inst)
    pmf = inst.joint_pmf()
    best, best_x = 0.0, np.zeros(inst.shape)
    for p in sorted(set(np.concatenate(inst.grids).tolist())):
        x = np.zeros(inst.shape)
        for q in np.ndindex(*inst.shape):
            types = [g[j] for g, j in zip(inst.grids, q)]
            x[q] = float(all(t <= p for t in types) if side == "buy" else all(t >= p for t in types))
        margin = inst.buyer_value - p if side == "buy" else p - inst.seller_cost
        value = margin * float(np.sum(pmf * x))
        if value > best * (1 + 1e-12) + 1e-15:
            best, best_x = value, x
    assert pp.value == pytest.approx(best, rel=1e-9, abs=1e-12)
    if best > 1e-12:
        assert np.array_equal(pp.allocation, best_x)


# --------------------------------------------------------------------------- the chunked passes (issue 14)
def random_rule(rng, shape, ties=True):
    """An index rule with random weights, sorted φ̄, b inside the index range and some listed profiles."""
    from lpmech.structured.passes import IndexRule

    n = len(shape)
    phi_bar = [np.sort(rng.normal(size=k)) * 10.0 ** rng.integers(-1, 2) for k in shape]
    omega = rng.dirichlet(np.ones(n))
    index = weighted_sum(omega, phi_bar)
    b = float(rng.choice(index.ravel())) if rng.random() < 0.5 else float(np.median(index))
    size = int(np.prod(shape))
    count = int(rng.integers(0, min(size, 6) + 1)) if ties else 0
    tie_index = np.sort(rng.choice(size, size=count, replace=False)).astype(np.int64)
    tie_x = rng.choice([0.0, 1.0, 0.5, 1e-10, 1 - 1e-10, rng.random()], size=count)
    rule = IndexRule(omega, phi_bar, b, tie_index, tie_x, tuple(shape))
    return rule, index


def whole_grid_x(rule, index):
    """The rule's x written out profile by profile (the reference the passes are held to)."""
    x = (index < rule.b).astype(float)
    x.ravel()[rule.tie_index] = rule.tie_x
    return x


@settings(max_examples=examples(200, 25))
@given(seed=st.integers(0, 2**32 - 1), shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       chunk=st.sampled_from([1, 3, 7, 2**16]))
def test_mechanism_pass_against_the_whole_grid(seed, shape, chunk):
    """Masses, bounds, off-tie mismatches and tie probability of one chunked pass vs whole-grid arrays."""
    from lpmech.profiles import Grid
    from lpmech.structured.passes import DenseSource, mechanism_pass
    from lpmech.tolerances import on_tie

    rng = np.random.default_rng(seed)
    rule, index = random_rule(rng, shape)
    n = len(shape)
    probs = [rng.dirichlet(np.ones(k)) for k in shape]
    pmf = outer_pmf(probs)
    x = whole_grid_x(rule, index)
    assert np.array_equal(rule.dense(), x)
    grid = Grid(probs, chunk)
    abs_bar = [np.abs(f) for f in rule.phi_bar]
    w_can = np.clip(rule.omega + rng.normal(scale=0.05, size=n), 0, None)
    ref = (rule.omega, 1e-9, 0.0)
    can = (w_can, 1e-8, 1e-12)
    for source in (rule, DenseSource(x)):
        got = mechanism_pass(grid, source, rule.phi_bar, rule.b, reference=ref, canonical=can)
        for i in range(n):
            axes = tuple(j for j in range(n) if j != i)
            np.testing.assert_allclose(got.mass[i], (pmf * x).sum(axis=axes), rtol=1e-12, atol=1e-15)
        assert got.x_min == x.min() and got.x_max == x.max()
        for (w, rtol, unc), value in ((ref, got.offtie), (can, got.offtie_canonical)):
            total = weighted_sum(np.ones(n), abs_bar)
            tie = on_tie(weighted_sum(w, rule.phi_bar), rule.b, weighted_sum(w, abs_bar), rtol, unc, total)
            want = float(np.max(np.abs(x - (weighted_sum(w, rule.phi_bar) <= rule.b)) * ~tie, initial=0.0))
            assert value == want
        tie = on_tie(index, rule.b, weighted_sum(rule.omega, abs_bar), 1e-9)
        if source is rule:   # the listed profiles in the band (the rule's own ties)
            listed = np.zeros(x.shape, bool)
            listed.ravel()[rule.tie_index] = True
            assert got.tie_probability == pytest.approx(float(pmf[tie & listed].sum()), rel=1e-12, abs=1e-15)
        else:
            assert got.tie_probability == pytest.approx(float(pmf[tie].sum()), rel=1e-12, abs=1e-15)
    # one profile off the band flipped: the reference check must see it
    off = np.flatnonzero(~tie.ravel())
    if off.size:
        wrong = 1.0 - float(index.ravel()[off[0]] <= rule.b)     # the other side of x_ω there
        y = x.copy()
        y.ravel()[off[0]] = wrong
        assert mechanism_pass(grid, DenseSource(y), rule.phi_bar, rule.b, reference=ref).offtie == 1.0
        listed_rule = random_rule(rng, shape)[0]
        listed_rule.omega, listed_rule.phi_bar, listed_rule.b = rule.omega, rule.phi_bar, rule.b
        listed_rule.tie_index = np.array([off[0]], dtype=np.int64)
        listed_rule.tie_x = np.array([wrong])
        assert mechanism_pass(grid, listed_rule, rule.phi_bar, rule.b, reference=ref).offtie == 1.0


@settings(max_examples=examples(200, 25))
@given(seed=st.integers(0, 2**32 - 1), shape=st.lists(st.integers(1, 5), min_size=1, max_size=4))
def test_face_of_an_index_rule_is_the_face_of_its_array(seed, shape):
    """optimal_face read window by window from an IndexRule equals the face of the whole array."""
    from lpmech.weights import optimal_face

    rng = np.random.default_rng(seed)
    rule, index = random_rule(rng, shape)
    x = whole_grid_x(rule, index)
    n = len(shape)
    args = (rule.phi_bar, rule.b, np.zeros(n), [np.zeros(k) for k in shape], [[] for _ in shape])
    kw = {"value_tol": 0.0, "index_rtol": 1e-9, "x_tol": 1e-9}
    a, b = optimal_face(rule, *args, **kw), optimal_face(x, *args, **kw)
    for key in ("Phi", "lower", "upper", "exact", "cap"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    trades, refuses = whole_grid_face_rows(x, rule.phi_bar, rule.b, 1e-9, 1e-9)
    assert a.exact.shape[0] == int(trades.sum() + refuses.sum())


@settings(max_examples=examples(100, 20))
@given(seed=st.integers(0, 2**32 - 1), size=SIZES, side=st.sampled_from(["buy", "sell"]))
def test_interim_transfers_are_the_interim_sums_of_m(seed, size, side):
    """E[m | θ_i] and E[size of m's terms | θ_i] from the vectors = interim sums of the K^N arrays."""
    from lpmech.transfers import interim_transfers, transfers

    rng = np.random.default_rng(seed)
    prob = random_instance(rng, *size, side=side).engine()
    x = rng.uniform(0, 1, size=prob.shape)
    tr = transfers(prob, x)
    assert not tr.explicit_m
    again = interim_transfers(prob, tr.X)
    for i in range(prob.n):
        np.testing.assert_array_equal(again.M[i], tr.M[i])
        np.testing.assert_allclose(tr.interim_m(prob.probs, i), interim(tr.m, prob.probs, i), rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(tr.interim_m(prob.probs, i, size=True), interim(tr.m_size(), prob.probs, i),
                                   rtol=1e-11, atol=1e-13)
    # brute force: m(θ) = Σ_i M_i(θ_i) − (N − 1)T profile by profile
    for p in np.ndindex(*prob.shape):
        ref = sum(tr.M[i][p[i]] for i in range(prob.n)) - (prob.n - 1) * tr.constant
        assert tr.m[p] == pytest.approx(ref, rel=1e-12, abs=1e-14)
    tr.m = tr.m + 1.0
    assert tr.explicit_m


@settings(max_examples=examples(100, 20))
@given(seed=st.integers(0, 2**32 - 1), size=SIZES, side=st.sampled_from(["buy", "sell"]))
def test_posted_vectors_are_the_interim_sums_of_the_posted_arrays(seed, size, side):
    from lpmech.checks import _posted_vectors
    from lpmech.posted import best_posted_price

    rng = np.random.default_rng(seed)
    inst = random_instance(rng, *size, side=side)
    pp = best_posted_price(inst)
    vectors, trade = _posted_vectors(inst, pp)
    assert trade == pytest.approx(float(np.sum(inst.joint_pmf() * pp.allocation)), rel=1e-12, abs=1e-15)
    for i, v in enumerate(vectors):
        np.testing.assert_allclose(v["x"], interim(pp.allocation, inst.probs, i), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(v["m"], interim(pp.transfer, inst.probs, i), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(v["size"], interim(np.abs(pp.transfer), inst.probs, i), rtol=1e-12, atol=1e-15)


def _compact_everywhere(monkeypatch):
    from lpmech import solver

    monkeypatch.setattr(solver, "COMPACT_MIN_PROFILES", 0)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_compact_result_checks_agree_with_the_full_arrays(monkeypatch, side):
    """The checks of the compact mechanism (chunked pass, interim vectors) = those of the full arrays."""
    inst = random_instance(np.random.default_rng(11), 3, 4, side=side)
    full = lpmech.solve(inst, method="structured")
    assert full.compact is None
    _compact_everywhere(monkeypatch)
    comp = lpmech.solve(inst, method="structured")
    assert comp.compact is not None
    np.testing.assert_array_equal(comp.allocation, full.allocation)
    np.testing.assert_allclose(comp.transfer, full.transfer, rtol=1e-12, atol=1e-14)
    for key, entry in full.checks["report"].items():
        # rounding-level gaps differ in their last digits (interim sums vs whole-grid sums)
        assert comp.checks["report"][key]["gap"] == pytest.approx(entry["gap"], rel=1e-6, abs=1e-3 * entry["limit"]), key
    # the audit of the reported arrays by the reference (whole-grid) verify
    audit = lpmech.verify(inst, comp.allocation, comp.transfer)
    assert audit.ok()
    assert comp.checks["max_ic_violation"] == pytest.approx(audit.max_ic_violation, abs=1e-12)


def test_compact_checks_fail_on_a_perturbed_mechanism(monkeypatch):
    """A flipped profile off the ties, an overpaid interim transfer or a wrong ω fail the fast checks."""
    from lpmech.compact import CompactMechanism

    inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(f"s{i}", "uniform", {}, 6) for i in range(3)],
                           buyer_value=0.7)
    _compact_everywhere(monkeypatch)
    assert lpmech.solve(inst, method="structured").checks["passed"]
    real_block = CompactMechanism.engine_block

    def flipped(self, start, stop):
        x, m = real_block(self, start, stop)
        if start == 0 and stop > 0:
            x = x.copy()
            x[0] = 1.0 - x[0]           # the lowest costs: far from any tie
        return x, m

    monkeypatch.setattr(CompactMechanism, "engine_block", flipped)
    with pytest.raises(CheckError) as err:
        lpmech.solve(inst, method="structured")
    assert "offtie_mismatch" in err.value.failed
    monkeypatch.setattr(CompactMechanism, "engine_block", real_block)

    real_init = CompactMechanism.__init__

    def overpaid(self, instance, unit, omega, phi_bar, b, tie_index, tie_x, M, T):
        M = [m.copy() for m in M]
        M[0][0] += 0.05                  # agent 1's lowest cost paid more: the others mimic it
        real_init(self, instance, unit, omega, phi_bar, b, tie_index, tie_x, M, T)

    monkeypatch.setattr(CompactMechanism, "__init__", overpaid)
    with pytest.raises(CheckError) as err:
        lpmech.solve(inst, method="structured")
    assert {"ic_violation_relative", "ir_violation_relative"} & set(err.value.failed)


def test_compact_checks_fail_on_a_perturbed_weight(monkeypatch):
    """The result's index rule with weights other than the solver's: x is no longer optimal, the checks say so."""
    from lpmech.compact import CompactMechanism

    inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(f"s{i}", "uniform", {}, 6) for i in range(3)],
                           buyer_value=0.7)
    _compact_everywhere(monkeypatch)
    real_init = CompactMechanism.__init__

    def skewed(self, instance, unit, omega, phi_bar, b, tie_index, tie_x, M, T):
        real_init(self, instance, unit, np.array([0.6, 0.3, 0.1]), phi_bar, b, tie_index, tie_x, M, T)

    monkeypatch.setattr(CompactMechanism, "__init__", skewed)
    with pytest.raises(CheckError) as err:
        lpmech.solve(inst, method="structured")
    assert {"offtie_mismatch", "analytic_gap_ratio"} <= set(err.value.failed)
