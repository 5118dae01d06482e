"""The continuous-type solver against closed forms and independent numerical computations.

Closed forms (docs/model.md, section 7): θ_i iid U[0, 1] costs and b <= 2/N give ω uniform,
trade iff Σθ_i <= Nb/2, value (Nb/2)^N b / (N!(N+1)) and optimal/posted = (N+1)^N / (N! 2^N).
Everything else is recomputed here with scipy.integrate or Monte Carlo, not with lpmech code.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.stats
from scipy import integrate, optimize

from lpmech.continuous import ContinuousResult, continuous_posted_price, dual_objective, solve_continuous, virtual_costs
from lpmech.instance import Agent, Instance, InstanceError

UNIFORM = {"loc": 0, "scale": 1}


def agents(specs, shares=None):
    """Agents a0, a1, ... from (scipy name, params) pairs; 10 grid points, ignored here."""
    shares = shares or [None] * len(specs)
    return [Agent.from_distribution(f"a{i}", name, params, points=10, share=s)
            for i, ((name, params), s) in enumerate(zip(specs, shares))]


def iid_uniform(n, b, side="buy"):
    return Instance(side, agents([("uniform", UNIFORM)] * n), buyer_value=b)


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("n, b", [(2, 1.0), (2, 0.6), (5, 0.4), (10, 0.2), (25, 0.08), (25, 0.04)])
def test_iid_uniform_closed_form(n, b):
    res = solve_continuous(iid_uniform(n, b))
    value = (n * b / 2) ** n * b / (math.factorial(n) * (n + 1))
    ratio = (n + 1) ** n / (math.factorial(n) * 2 ** n)
    posted_price = n * b / (n + 1)
    posted_value = b ** (n + 1) * n ** n / (n + 1) ** (n + 1)
    trade = (n * b / 2) ** n / math.factorial(n)              # volume of {Σθ <= Nb/2}
    assert res.status == "optimal"
    assert res.value == pytest.approx(value, rel=1e-6)
    assert res.omega == pytest.approx(np.full(n, 1 / n), abs=1e-9)
    assert res.ratio == pytest.approx(ratio, rel=1e-6)
    assert res.posted_price == pytest.approx(posted_price, rel=1e-9)
    assert res.posted_value == pytest.approx(posted_value, rel=1e-9)
    assert res.trade_probability == pytest.approx(trade, rel=1e-6)
    assert 0 <= res.value_error <= 1e-6 * res.value


def test_ratio_table_of_the_talks():
    # 1.125 (N = 2), 2.025 (N = 5), ~6.98 (N = 10), ~455 (N = 25)
    got = [solve_continuous(iid_uniform(n, 1.0 / n)).ratio for n in (2, 5, 10, 25)]
    assert got == pytest.approx([1.125, 2.025, 6.98, 455.0], rel=1e-3)


def test_astronomically_rare_trade_keeps_relative_accuracy():
    # 25 sellers, b = 1/25: trade iff Σθ <= 1/2, probability (1/2)^25 / 25! ≈ 1.9e-33
    res = solve_continuous(iid_uniform(25, 1 / 25))
    assert res.trade_probability == pytest.approx(0.5 ** 25 / math.factorial(25), rel=1e-6)
    assert 1e-34 < res.trade_probability < 1e-32


@pytest.mark.parametrize("dist, params", [("uniform", UNIFORM), ("beta", {"a": 2, "b": 3}),
                                          ("expon", {"scale": 0.5}), ("lognorm", {"s": 0.6, "scale": 0.4})])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_one_agent_posted_price_is_optimal(dist, params, side):
    # Myerson; Riley and Zeckhauser: with one agent the best posted price is optimal
    kw = {"buyer_value": 0.7} if side == "buy" else {"seller_cost": 0.1}
    res = solve_continuous(Instance(side, agents([(dist, params)]), **kw))
    assert res.value > 0
    assert res.value == pytest.approx(res.posted_value, rel=1e-9)
    assert res.ratio == pytest.approx(1.0, rel=1e-9)
    assert res.omega.tolist() == [1.0]


def test_one_uniform_agent_by_hand():
    res = solve_continuous(iid_uniform(1, 0.7))            # max_p p(0.7 - p): p = 0.35
    assert res.value == pytest.approx(0.35 ** 2, rel=1e-12)
    assert res.posted_price == pytest.approx(0.35, rel=1e-12)


def test_sell_side_two_uniform_buyers_by_hand():
    # values U[0,1], φ = 2θ - 1, ω = (1/2, 1/2): trade iff θ1 + θ2 >= 1 + c
    c = 0.2
    res = solve_continuous(Instance("sell", agents([("uniform", UNIFORM)] * 2), seller_cost=c))
    assert res.value == pytest.approx((1 - c) ** 3 / 6, rel=1e-10)
    assert res.omega == pytest.approx([0.5, 0.5], abs=1e-12)
    p = (1 + 2 * c) / 3                                         # argmax (p - c)(1 - p)^2
    assert res.posted_price == pytest.approx(p, rel=1e-10)
    assert res.posted_value == pytest.approx((p - c) * (1 - p) ** 2, rel=1e-10)


# ----------------------------------------------------------------------------- symmetries
def mirrored(specs):
    """Laws of -X for the sell-side laws used here (uniform and beta on [loc, loc + scale])."""
    out = []
    for name, p in specs:
        loc, scale = p.get("loc", 0.0), p.get("scale", 1.0)
        if name == "uniform":
            out.append(("uniform", {"loc": -loc - scale, "scale": scale}))
        else:                                                   # -X = (1 - X) - 1 for beta
            out.append(("beta", {"a": p["b"], "b": p["a"], "loc": -loc - scale, "scale": scale}))
    return out


def check_mirror(specs, c):
    sell = solve_continuous(Instance("sell", agents(specs), seller_cost=c))
    buy = solve_continuous(Instance("buy", agents(mirrored(specs)), buyer_value=-c))
    assert sell.value == pytest.approx(buy.value, rel=1e-8)
    assert sell.omega == pytest.approx(buy.omega, abs=1e-7)
    assert sell.posted_price == pytest.approx(-buy.posted_price, rel=1e-8)
    assert sell.posted_value == pytest.approx(buy.posted_value, rel=1e-8)
    assert sell.trade_probability == pytest.approx(buy.trade_probability, rel=1e-6)


def test_sell_side_equals_mirrored_buy_side():
    check_mirror([("uniform", UNIFORM), ("beta", {"a": 2, "b": 3, "scale": 2})], c=0.3)


@pytest.mark.slow
def test_sell_side_equals_mirrored_buy_side_three_agents():
    check_mirror([("uniform", UNIFORM), ("uniform", {"loc": 0, "scale": 2}), ("beta", {"a": 2, "b": 3})], c=0.3)


def test_identical_per_share_types_with_unequal_shares_get_equal_weights():
    shares = [0.2, 0.3, 0.5]
    per_share = solve_continuous(Instance("buy", agents([("uniform", UNIFORM)] * 3, shares), buyer_value=0.5))
    assert per_share.omega == pytest.approx([1 / 3] * 3, abs=1e-9)
    assert per_share.value == pytest.approx(0.75 ** 3 * 0.5 / (6 * 4), rel=1e-8)
    # the same per-share laws stated as totals v_i = σ_i θ_i
    total = solve_continuous(Instance("buy", agents([("uniform", {"loc": 0, "scale": s}) for s in shares], shares),
                                      buyer_value=0.5, types="total"))
    assert total.omega == pytest.approx([1 / 3] * 3, abs=1e-9)
    assert total.value == pytest.approx(per_share.value, rel=1e-8)
    expo = solve_continuous(Instance("buy", agents([("expon", {"scale": s}) for s in shares], shares),
                                     buyer_value=0.8, types="total"))
    assert expo.omega == pytest.approx([1 / 3] * 3, abs=1e-8)


def test_grid_points_are_ignored():
    def inst(points):
        return Instance("buy", [Agent.from_distribution(n, "beta", {"a": 2, "b": 2}, points=points) for n in "ab"],
                        buyer_value=0.9)
    a, b = solve_continuous(inst(3)), solve_continuous(inst(60))
    assert a.value == b.value and a.omega.tolist() == b.omega.tolist()


# ----------------------------------------------------------------------------- optimality of ω*
def test_heterogeneous_pair_first_order_condition_by_dblquad():
    # F_i(θ) = θ^a_i on [0, 1]: φ_i = θ(1 + 1/a_i). At ω* every agent has the same E[φ_i 1{ω·φ <= b}].
    a1, a2, b = 2.0, 0.7, 1.0
    inst = Instance("buy", agents([("powerlaw", {"a": a1}), ("powerlaw", {"a": a2})]), buyer_value=b)
    res = solve_continuous(inst)
    w1, w2 = res.omega
    k1, k2 = 1 + 1 / a1, 1 + 1 / a2

    def region(fun):
        """E[fun(θ1, θ2) 1{ω·φ <= b}] in quantile space (θ_i = q_i^(1/a_i), q uniform)."""
        def top(q1):
            room = (b - w1 * k1 * q1 ** (1 / a1)) / (w2 * k2)
            return float(np.clip(room, 0.0, 1.0) ** a2)
        kink = ((b - w2 * k2) / (w1 * k1)) ** a1                            # where top reaches 1
        assert 0 < kink < 1
        return sum(integrate.dblquad(lambda q2, q1: fun(q1 ** (1 / a1), q2 ** (1 / a2)), lo, hi, 0, top,
                                     epsabs=1e-14, epsrel=1e-12)[0] for lo, hi in [(0, kink), (kink, 1)])

    d1 = region(lambda t1, t2: k1 * t1)
    d2 = region(lambda t1, t2: k2 * t2)
    g = region(lambda t1, t2: b - w1 * k1 * t1 - w2 * k2 * t2)
    assert 0.05 < w1 < 0.95
    assert d1 == pytest.approx(d2, rel=1e-7)
    assert res.value == pytest.approx(g, rel=1e-7)
    # and g is larger on either side of ω*
    for dw in (-1e-3, 1e-3):
        assert dual_objective(inst, [w1 + dw, w2 - dw])[0] > res.value


@pytest.mark.slow          # 2e6 samples; the default run has the pair by dblquad and the gradient by differences
def test_heterogeneous_triple_against_monte_carlo():
    specs = [("uniform", UNIFORM), ("uniform", {"loc": 0, "scale": 2}), ("beta", {"a": 2, "b": 3})]
    inst = Instance("buy", agents(specs), buyer_value=0.8)
    res = solve_continuous(inst)
    assert res.status == "optimal"
    rng = np.random.default_rng(20240607)
    n = 2_000_000
    theta = [scipy.stats.uniform(0, 1).rvs(n, random_state=rng), scipy.stats.uniform(0, 2).rvs(n, random_state=rng),
             scipy.stats.beta(2, 3).rvs(n, random_state=rng)]
    laws = [scipy.stats.uniform(0, 1), scipy.stats.uniform(0, 2), scipy.stats.beta(2, 3)]
    phi = [t + law.cdf(t) / law.pdf(t) for t, law in zip(theta, laws)]     # all three are regular
    s = sum(w * p for w, p in zip(res.omega, phi))
    trade = s <= 0.8
    g = np.maximum(0.8 - s, 0)
    assert res.value == pytest.approx(g.mean(), abs=4 * g.std() / math.sqrt(n))
    assert res.trade_probability == pytest.approx(trade.mean(), abs=4 * trade.std() / math.sqrt(n))
    # first-order condition: E[φ_i 1{trade}] equal for every agent with ω_i > 0
    d = np.array([np.mean(p * trade) for p in phi])
    se = np.array([np.std(p * trade) / math.sqrt(n) for p in phi])
    assert np.all(res.omega > 0.01)
    assert np.ptp(d) <= 4 * np.sqrt(2) * se.max()
    # the MC objective is larger at nearby weights (same samples)
    for k in range(3):
        w = res.omega.copy()
        w[k] += 0.05
        w /= w.sum()
        assert np.maximum(0.8 - sum(wi * p for wi, p in zip(w, phi)), 0).mean() > g.mean()


def test_gradient_matches_finite_differences():
    inst = Instance("buy", agents([("beta", {"a": 2, "b": 2}), ("beta", {"a": 2, "b": 3}), ("expon", {"scale": 0.5})]),
                    buyer_value=0.9)
    w = np.array([0.3, 0.3, 0.4])
    g, grad = dual_objective(inst, w)
    h = 1e-5
    for i, j in [(0, 1), (1, 2)]:
        e = np.zeros(3)
        e[i], e[j] = h, -h
        fd = (dual_objective(inst, w + e)[0] - dual_objective(inst, w - e)[0]) / (2 * h)
        assert grad[i] - grad[j] == pytest.approx(fd, rel=1e-5, abs=1e-9)


# ----------------------------------------------------------------------------- ironing
BETA_U = ("beta", {"a": 0.5, "b": 0.5})    # U-shaped density: θ + F/f rises, then falls to 1 at the top


def test_ironed_virtual_cost_is_monotone_and_preserves_the_mean():
    law = scipy.stats.beta(0.5, 0.5)
    vc = virtual_costs(Instance("buy", agents([BETA_U]), buyer_value=1.0))[0]
    theta = np.linspace(1e-4, 1 - 1e-4, 4001)
    raw = theta + law.cdf(theta) / law.pdf(theta)
    assert np.min(np.diff(raw)) < -1e-3, "the law must need ironing"
    assert vc.raw(theta) == pytest.approx(raw, rel=1e-10)
    bar = vc.ironed(theta)
    assert np.all(np.diff(bar) >= -1e-12)
    [(lo, hi, level)] = vc.intervals
    assert hi == 1.0
    # on the ironing interval the level is the F-average of φ; ironing keeps E[φ̄] = E[φ]
    pooled, _ = integrate.quad(lambda t: (t + law.cdf(t) / law.pdf(t)) * law.pdf(t), lo, hi, limit=200)
    assert level == pytest.approx(pooled / law.sf(lo), rel=1e-8)
    mean_bar = integrate.quad(lambda t: vc.ironed(t)[()] * law.pdf(t), 0, 1, points=[lo], limit=200)[0]
    assert mean_bar == pytest.approx(1.0, rel=1e-7)                      # E[φ] = θ_max = 1


def test_ironed_pair_value_is_attained_and_beats_monotone_alternatives():
    # beta(1/2, 1/2) is the arcsine law: in quantile space q = F(θ), θ = sin²(πq/2), types are uniform
    b = 1.5
    inst = Instance("buy", agents([BETA_U] * 2), buyer_value=b)
    res = solve_continuous(inst)
    assert res.omega == pytest.approx([0.5, 0.5], abs=1e-9)
    [(lo, _, level)] = virtual_costs(inst)[0].intervals
    theta = lambda q: np.sin(np.pi * q / 2) ** 2                          # noqa: E731
    raw = lambda q: theta(q) + q * np.pi * np.sqrt(theta(q) * (1 - theta(q)))   # θ + F/f   # noqa: E731
    qa = scipy.stats.beta(0.5, 0.5).cdf(lo)
    assert raw(qa) == pytest.approx(level, rel=1e-8)                       # the pool starts where φ = level
    assert 0.5 * (level + raw(0.0)) < b < level, "the ironing interval must matter for trade"

    def inverse_raw(value):                                                # raw is increasing on [0, qa]
        if value <= 0:
            return 0.0
        return qa if raw(qa) <= value else optimize.brentq(lambda q: raw(q) - value, 0, qa, xtol=1e-15)

    def over(fun, q1_lo, q1_hi, q2_lo, q2_hi):
        return integrate.dblquad(lambda q2, q1: fun(q1, q2), q1_lo, q1_hi, q2_lo, q2_hi,
                                 epsabs=1e-13, epsrel=1e-11)[0]

    # x_ω = 1{φ̄1 + φ̄2 <= 2b} with φ̄ = φ below qa and = level above (the level is > b)
    q_star = inverse_raw(2 * b - level)

    def under_x_opt(fun):
        return (over(fun, 0, qa, 0, lambda q1: min(qa, inverse_raw(2 * b - raw(q1))))
                + over(fun, 0, q_star, qa, 1) + over(fun, qa, 1, 0, q_star))

    # V(x) = min_i E[x (b - φ_i)] with RAW φ_i, valid for every monotone x
    v_opt = min(under_x_opt(lambda q1, q2: b - raw(q1)), under_x_opt(lambda q1, q2: b - raw(q2)))
    assert res.value == pytest.approx(v_opt, rel=1e-7)
    # other monotone rules do no better: the posted price, and "trade iff θ1 + θ2 <= t"
    assert res.posted_value < res.value
    law = scipy.stats.beta(0.5, 0.5)
    for t in (0.6, 0.9, 1.2):
        top = lambda q1, t=t: float(law.cdf(max(t - theta(q1), 0.0)))        # noqa: E731
        v = min(over(lambda q1, q2: b - raw(q1), 0, 1, 0, top), over(lambda q1, q2: b - raw(q2), 0, 1, 0, top))
        assert v < res.value
    # the non-ironed dual objective overstates the value (it ignores monotonicity)
    q = (np.arange(2000) + 0.5) / 2000
    r = raw(q)
    g_raw = np.mean(np.maximum(b - 0.5 * (r[:, None] + r[None, :]), 0.0))
    assert g_raw > res.value * 1.001


@pytest.mark.slow          # 2e6 samples; the default run has the ironed pair (attained, beats alternatives)
def test_ironed_triple_against_monte_carlo():
    b = 1.3
    inst = Instance("buy", agents([BETA_U] * 3), buyer_value=b)
    res = solve_continuous(inst)
    assert res.omega == pytest.approx([1 / 3] * 3, abs=1e-9)
    assert res.value_error <= 1e-6 * res.value
    vc = virtual_costs(inst)[0]
    rng = np.random.default_rng(7)
    n = 2_000_000
    s = sum(vc.ironed(scipy.stats.beta(0.5, 0.5).rvs(n, random_state=rng)) for _ in range(3)) / 3
    g = np.maximum(b - s, 0)
    assert res.value == pytest.approx(g.mean(), abs=4 * g.std() / math.sqrt(n))
    assert res.trade_probability == pytest.approx(np.mean(s <= b), abs=4 * np.std(s <= b) / math.sqrt(n))


# ----------------------------------------------------------------------------- result object and errors
def test_result_dict_and_summary():
    res = solve_continuous(iid_uniform(2, 1.0))
    assert isinstance(res, ContinuousResult)
    d = res.to_dict()
    assert set(d) == {"status", "side", "value", "omega", "posted_price", "ratio", "value_error",
                      "trade_probability", "solve_seconds", "method", "formulation"}
    assert d["method"] == "continuous" and d["formulation"] == "continuous" and d["side"] == "buy" and d["status"] == "optimal"
    assert d["posted_price"]["price"] == pytest.approx(2 / 3) and d["posted_price"]["value"] == pytest.approx(4 / 27)
    json.dumps(d)
    text = res.summary()
    assert "0.1666666667" in text and "1.125" in text and "a0" in text and "a1" in text


def test_no_profitable_trade():
    res = solve_continuous(Instance("buy", agents([("uniform", {"loc": 1, "scale": 1})] * 2), buyer_value=0.9))
    assert res.value == 0 and res.posted_value == 0
    assert math.isnan(res.ratio) and res.to_dict()["ratio"] is None
    assert res.to_dict()["posted_price"]["price"] is None


def test_posted_price_helper_matches_the_result():
    inst = Instance("sell", agents([("uniform", UNIFORM), ("beta", {"a": 2, "b": 2})]), seller_cost=0.1)
    p, v = continuous_posted_price(inst)
    res = solve_continuous(inst)
    assert (p, v) == (res.posted_price, res.posted_value)
    # (p - c) P(θ1 >= p) P(θ2 >= p), checked on a grid
    grid = np.linspace(0.1, 1, 20001)
    prof = (grid - 0.1) * scipy.stats.uniform.sf(grid) * scipy.stats.beta(2, 2).sf(grid)
    assert v == pytest.approx(prof.max(), rel=1e-7)
    assert p == pytest.approx(grid[np.argmax(prof)], abs=1e-4)


def test_agent_without_distribution_is_rejected():
    inst = Instance("buy", [Agent("ann", [0.25, 0.75], [0.5, 0.5]),
                            Agent.from_distribution("bob", "uniform", UNIFORM, points=4)], buyer_value=1.0)
    with pytest.raises(InstanceError) as err:
        solve_continuous(inst)
    assert err.value.field == "distribution" and err.value.agent == "ann"


def test_bad_weights_are_rejected():
    with pytest.raises(InstanceError):
        dual_objective(iid_uniform(2, 1.0), [0.7, 0.7])


def test_posted_price_of_a_beta_whose_tiny_quantiles_fail():
    # scipy's beta ppf returns NaN at 1e-300 for these parameters; the posted price must not vanish.
    from lpmech.continuous import solve_continuous

    inst = Instance("buy", [Agent.from_distribution("a", "beta", {"a": 3.986084978286991, "b": 3.666097920124998}, 4)],
                    buyer_value=0.7924337893021746)
    res = solve_continuous(inst)
    assert res.posted_value > 0
    assert res.ratio == pytest.approx(1.0, rel=1e-6)    # one agent: the posted price is optimal
