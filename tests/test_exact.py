"""Exact certificates (lpmech.exact): optimality proved in rational arithmetic.

References the tests compare against are independent: the closed form of docs/model.md section 12
(15/512 for the uniform pair), g(ω) by brute force over the profiles in Fractions with the
ironed virtual costs from the max-min formula of the convex minorant (helpers.gcm_slopes), the
exact general LP (a second formulation: x and m over profiles, IC and IR rows) against the
exact maximin path, the float solvers within their tolerance, and hand-computed violations.
"""

import glob
import itertools
import os
from fractions import Fraction

import highspy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import lpmech
from lpmech.errors import CheckError, InstanceError
from lpmech.exact import (EXACT_MAX_PROFILES, GENERAL_EXACT_MAX_PROFILES, certify, certify_general, certify_maximin,
                          check, exact_data, maximin_bounds, prove, verify_exact)
from lpmech.exact.data import frac, q
from lpmech.exact.lp import ExactLP, prove_from_basis
from lpmech.exact.maximin import MaximinExact, descend_omega, simplex_point
from lpmech.general import solve_general
from lpmech.tolerances import CHECK_RTOL, limit


GRIDS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), os.pardir, "grids", "*.toml")))


def uniform_pair(k=8, b=0.5):
    """Two sellers, costs (2j − 1)/(2k), mass 1/k each (exact in binary for k = 8), buyer value b."""
    grid = [(2 * j - 1) / (2 * k) for j in range(1, k + 1)]
    return lpmech.Instance("buy", [lpmech.Agent(n, grid, [1 / k] * k) for n in ("s1", "s2")], buyer_value=b)


def gcm_slopes(phi, probs):
    """Ironed φ̄ in Fractions by the max-min formula for the slopes of the greatest convex minorant
    of H against F (the formula of helpers.gcm_slopes, kept exact)."""
    F = [sum(probs[:j], Fraction(0)) for j in range(len(probs) + 1)]
    H = [sum((p * f for p, f in zip(probs[:j], phi[:j])), Fraction(0)) for j in range(len(probs) + 1)]
    k = len(phi)
    return [max(min((H[hi] - H[lo]) / (F[hi] - F[lo]) for hi in range(j + 1, k + 1)) for lo in range(j + 1))
            for j in range(k)]


def brute_g(instance, omega):
    """g(ω) = E[(b − ω·φ̄)_+] over every profile, in Fractions (buy side only), written from docs/model.md."""
    grids = [[Fraction(v) for v in g] for g in instance.grids]
    probs = [[Fraction(v) for v in p] for p in instance.probs]
    return brute_g_of(grids, probs, Fraction(instance.buyer_value), omega)


def brute_g_of(grids, probs, b, omega):
    """g(ω) by brute force from buy-side grids, pmfs and b given as Fractions."""
    bars = []
    for t, p in zip(grids, probs):
        cdf = [sum(p[:k], Fraction(0)) for k in range(len(p))]
        phi = [t[0]] + [t[k] + (t[k] - t[k - 1]) * cdf[k] / p[k] for k in range(1, len(t))]
        bars.append(gcm_slopes(phi, p))
    total = Fraction(0)
    for prof in itertools.product(*[range(len(g)) for g in grids]):
        mass = np.prod([probs[i][k] for i, k in enumerate(prof)])
        gap = b - sum(Fraction(w) * bars[i][k] for i, (w, k) in enumerate(zip(omega, prof)))
        total += mass * max(gap, Fraction(0))
    return total


# --------------------------------------------------------------------------- the uniform pair
def test_uniform_pair_value_is_exactly_15_512():
    inst = uniform_pair()
    res = lpmech.solve(inst)
    cert = certify(inst, res)
    assert cert.proven and cert.method == "exact" and cert.formulation == "maximin"
    assert cert.value == cert.lower == cert.upper == Fraction(15, 512)
    assert cert.gap == 0
    # the audit of (x, m): no violation at all, profit exactly the value
    assert cert.checks["max_ic_violation"] == 0 and cert.checks["max_ir_violation"] == 0
    assert cert.checks["audit_profit"] == Fraction(15, 512)
    d = cert.to_dict()
    assert d["value"] == "15/512" and d["value_float"] == 15 / 512 and d["proven"] is True
    assert d["gap"] == "0" and isinstance(d["seconds"], float)
    # the second formulation (x and m over profiles, every BIC and IR row) proves the same number
    gen = certify_general(inst)
    assert gen.proven and gen.value == Fraction(15, 512)


def test_uniform_pair_tie_face():
    inst = uniform_pair()
    mx = MaximinExact(exact_data(inst))
    for w1 in (Fraction(7, 16), Fraction(1, 2), Fraction(9, 16)):
        omega = (w1, 1 - w1)
        assert frac(mx.g([q(w) for w in omega])) == Fraction(15, 512) == brute_g(inst, omega)
    for w1 in (Fraction(7, 16) - Fraction(1, 64), Fraction(9, 16) + Fraction(1, 64), Fraction(0), Fraction(1)):
        omega = (w1, 1 - w1)
        g = brute_g(inst, omega)
        assert frac(mx.g([q(w) for w in omega])) == g > Fraction(15, 512)


@pytest.mark.parametrize("omega", [(0.5625, 0.4375), (0.5, 0.5), (0.4375, 0.5625), (0.47, 0.53)])
def test_tie_face_points_are_proven(omega):
    """Every ω on the optimal face proves the optimum (whole rows of ties completed exactly)."""
    cert = certify_maximin(uniform_pair(), omega)
    assert cert.proven and cert.value == Fraction(15, 512)
    assert Fraction(7, 16) <= cert.omega[0] <= Fraction(9, 16)


# --------------------------------------------------------------------------- failures are caught
def test_perturbed_omega_fails():
    inst = uniform_pair()
    cert = certify_maximin(inst, (0.7, 0.3))
    assert not cert.proven
    assert cert.upper == brute_g(inst, (Fraction(7, 10), Fraction(3, 10))) > Fraction(15, 512)
    assert cert.gap == cert.upper - cert.lower > 0
    assert "float ω is not optimal" in cert.reason               # the exact descent is not used
    with pytest.raises(CheckError) as err:
        check(cert)
    assert str(cert.gap) in str(err.value)


def test_perturbed_x_fails_by_the_exact_amount():
    inst = uniform_pair()
    cert = certify(inst)
    x = cert.allocation.copy()
    eps = Fraction(1, 10 ** 30)             # invisible to floats
    x[0, 0] = 1 - eps                       # lowest costs, x = 1 there
    bad = maximin_bounds(inst, cert.omega, x)
    assert not bad.proven
    # each agent's gain E[x(b − φ_i)] drops by eps·P(θ)(b − φ_i(θ_i)); at θ = (1/16, 1/16) φ_i = 1/16
    assert bad.lower == Fraction(15, 512) - eps * Fraction(1, 64) * (Fraction(1, 2) - Fraction(1, 16))
    assert bad.gap == bad.upper - bad.lower > 0
    with pytest.raises(CheckError):
        check(bad)
    # a non-monotone x: trade at the highest costs, where the next-lowest cost never trades
    x = cert.allocation.copy()
    assert not x[-2].any()
    x[-1, -1] = Fraction(1)
    bad = maximin_bounds(inst, cert.omega, x)
    assert not bad.proven and bad.lower is None and bad.checks["monotonicity_violation"] > 0


def test_prove_raises_and_certify_returns():
    inst = uniform_pair()
    res = lpmech.solve(inst)
    assert prove(inst, res).proven
    res.omega = np.array([0.8, 0.2])
    assert not certify(inst, res).proven
    with pytest.raises(CheckError, match="exact gap"):
        prove(inst, res)


# --------------------------------------------------------------------------- every grids/ file
@pytest.mark.parametrize("path", GRIDS, ids=[os.path.basename(p) for p in GRIDS])
def test_grids_files_are_proven(path):
    inst = lpmech.load(path)
    res = lpmech.solve(inst)
    cert = prove(inst, res)
    assert cert.proven and cert.method == "exact"
    assert cert.formulation == ("maximin" if inst.independent and inst.mechanism.is_default else "general")
    assert abs(float(cert.value) - res.value) <= limit(res.value, 1.0, rtol=CHECK_RTOL)


def test_decimal_text_is_read_exactly(tmp_path):
    """One seller, costs 0.1 / 0.3 with mass 0.3 / 0.7, b = 0.5: both types trade (φ = 0.1, 27/70)
    and the value is b − E[φ] = 1/5 exactly, which needs the file's decimals as exact rationals."""
    path = tmp_path / "one.toml"
    path.write_text('side = "buy"\nbuyer_value = 0.5\n\n[[agents]]\nname = "s"\ngrid = [0.1, 0.3]\n'
                    'probs = [0.3, 0.7]\n')
    inst = lpmech.load(str(path))
    cert = prove(inst)
    assert cert.value == Fraction(1, 5)


def test_sell_side_is_the_mirrored_buy_side_exactly():
    """A sell instance with values −θ (reversed) and c = −b is the buy instance: the same exact value."""
    grid = [0.1, 0.35, 0.4, 0.9]
    probs = [[0.1, 0.5, 0.1, 0.3], [0.25, 0.25, 0.25, 0.25]]
    buy = lpmech.Instance("buy", [lpmech.Agent(f"a{i}", grid, p) for i, p in enumerate(probs)], buyer_value=0.8)
    sell = lpmech.Instance("sell", [lpmech.Agent(f"a{i}", [-v for v in grid[::-1]], p[::-1])
                                    for i, p in enumerate(probs)], seller_cost=-0.8)
    cb, cs = certify(buy), certify(sell)
    assert cb.proven and cs.proven and cb.value == cs.value
    assert np.array_equal(cs.allocation, cb.allocation[::-1, ::-1])
    assert np.array_equal(cs.transfer, -cb.transfer[::-1, ::-1])


# --------------------------------------------------------------------------- random instances
def _random(seed, n, k, side, total, iron):
    rng = np.random.default_rng(seed)
    agents = []
    shares = rng.integers(1, 5, size=n)
    shares = (shares / shares.sum()).tolist()
    for i in range(n):
        grid = np.cumsum(rng.integers(1, 20, size=k)) / 20
        if iron:      # alternating heavy and light masses: φ is far from monotone
            weights = np.where(np.arange(k) % 2 == 0, 10.0, 1.0) * rng.integers(1, 4, size=k)
        else:
            weights = rng.integers(1, 10, size=k).astype(float)
        agents.append(lpmech.Agent(f"a{i}", grid.tolist(), (weights / weights.sum()).tolist(), shares[i]))
    top = float(np.mean([a.grid.mean() for a in agents]))
    kind = "total" if total else "per-share"
    if side == "buy":
        return lpmech.Instance("buy", agents, buyer_value=round(float(rng.uniform(0.6, 1.6) * top), 2), types=kind)
    return lpmech.Instance("sell", agents, seller_cost=round(float(rng.uniform(0.0, 0.8) * top), 2), types=kind)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10 ** 6), n=st.integers(1, 3), side=st.sampled_from(["buy", "sell"]),
       total=st.booleans(), iron=st.booleans())
def test_exact_value_matches_float_value(seed, n, side, total, iron):
    inst = _random(seed, n, 4 if n < 3 else 3, side, total, iron)
    res = lpmech.solve(inst)
    cert = prove(inst, res)
    assert abs(float(cert.value) - res.value) <= limit(res.value, inst.designer_value, *inst.grids, rtol=CHECK_RTOL)
    assert cert.checks["max_ic_violation"] == 0 and cert.checks["max_ir_violation"] == 0


def test_float_omega_inside_a_sloped_piece_of_g_is_descended():
    """Regression (hypothesis: seed=177, n=3, sell, total types, heavy ironing). The float ω is about
    (0.832, 0.168, 0) and ties no profile: it sits inside a piece of g whose exact slope is about
    1e-17 (the gains of agents 1 and 2 differ by 205/7530018576963469312), which the float LP cannot
    see. The exact optimum is elsewhere on the simplex; the exact descent finds it and proves."""
    inst = _random(177, 3, 3, "sell", True, True)
    res = lpmech.solve(inst, method="lp")  # the LP's float ω (auto takes the structured solver)
    assert res.omega[2] == 0 and 0.8 < res.omega[0] < 0.9
    cert = prove(inst, res)
    assert cert.proven and cert.lower == cert.upper == cert.value
    # independent: g at the exact ω by brute force in Fractions, from the exact data in buy-side form
    e = exact_data(inst).engine()
    grids = [[frac(v) for v in t] for t in e.grids]
    probs = [[frac(v) for v in p] for p in e.probs]
    assert brute_g_of(grids, probs, frac(e.b), cert.omega) == cert.value
    assert abs(float(cert.value) - res.value) <= limit(res.value, inst.designer_value, *inst.grids, rtol=CHECK_RTOL)
    assert cert.checks["max_ic_violation"] == 0 and cert.checks["max_ir_violation"] == 0


def test_descent_reaches_the_exact_optimum_from_a_bad_omega():
    """descend_omega from ω = (0.9, 0.1) (far off the optimal face [7/16, 9/16] of the uniform pair)
    ends on the face with g(ω) = 15/512 (brute force), and the cuts' convex combination with the
    master's dual weights is an exactly optimal x (checked by maximin_bounds, with the audit)."""
    inst = uniform_pair()
    mx = MaximinExact(exact_data(inst))
    omega, mu, xs = descend_omega(mx, [simplex_point([0.9, 0.1])])
    omega = [frac(w) for w in omega]
    assert Fraction(7, 16) <= omega[0] <= Fraction(9, 16) and sum(omega) == 1
    assert brute_g(inst, omega) == Fraction(15, 512)
    x = sum((m * x for m, x in zip(mu, xs)), np.zeros(inst.shape, dtype=object))
    cert = maximin_bounds(inst, omega, mx.engine.to_user(x))
    assert cert.proven and cert.value == Fraction(15, 512)


def test_heavy_ironing_is_exact():
    """An instance whose φ is not monotone: φ̄ pools, and the certificate still proves."""
    inst = _random(3, 2, 6, "buy", False, True)
    mx = MaximinExact(exact_data(inst))
    assert any(list(f) != list(fb) for f, fb in zip(mx.phi, mx.phi_bar))
    for f, fb, p in zip(mx.phi, mx.phi_bar, exact_data(inst).probs):
        assert [frac(v) for v in fb] == gcm_slopes([frac(v) for v in f], list(p))
    assert prove(inst).proven


# --------------------------------------------------------------------------- the general LP
GENERAL_CASES = [
    ({}, False), ({"ic": "dominant"}, False), ({"participation": "ex-post"}, False),
    ({"ic": "dominant", "participation": "ex-post"}, True), ({}, True), ({"veto": ("a0",)}, False),
    ({"pareto": 0.5}, False), ({"pareto": 1.0}, True),
]


def _small(correlated, side="buy", seed=0):
    rng = np.random.default_rng(seed)
    grids = [[0.1, 0.4, 0.5], [0.2, 0.3, 0.7]]
    if not correlated:
        agents = [lpmech.Agent(f"a{i}", g, [0.25, 0.5, 0.25]) for i, g in enumerate(grids)]
        joint = None
    else:
        agents = [lpmech.Agent(f"a{i}", g) for i, g in enumerate(grids)]
        joint = rng.integers(1, 6, size=(3, 3)) / 1.0
        joint[0, 2] = 0.0                     # an impossible profile
        joint = joint / joint.sum()
    kw = {"buyer_value": 0.9} if side == "buy" else {"seller_cost": 0.1}
    return lpmech.Instance(side, agents, joint=joint, **kw)


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("mech,correlated", GENERAL_CASES)
def test_general_certificate_agrees_with_solve_general(mech, correlated, side):
    inst = _small(correlated, side)
    res = solve_general(inst, mechanism=mech)
    cert = certify_general(inst, mechanism=mech)
    assert cert.proven and cert.formulation == "general"
    assert abs(float(cert.value) - res.value) <= limit(res.value, 1.0, rtol=CHECK_RTOL)
    assert cert.checks["max_ic_violation"] == 0 and cert.checks["max_ir_violation"] == 0


def test_general_basis_repaired_by_exact_pivots():
    """N = 3, K = 6 midpoints (not exact in binary): HiGHS's optimal basis was found dual infeasible
    by about 1e-19 in exact arithmetic (HiGHS 1.x here); exact pivots repair it, and the value
    agrees exactly with the maximin certificate."""
    grid = ((np.arange(6) + 0.5) / 6).tolist()
    inst = lpmech.Instance("buy", [lpmech.Agent(f"s{i}", grid, [1 / 6] * 6) for i in range(3)], buyer_value=1.0)
    cert = certify_general(inst)
    assert cert.proven
    assert cert.value == certify(inst).value


def _tiny_lp():
    """max x1 + x2  s.t.  x1 + 2 x2 <= 4,  3 x1 + x2 <= 6,  0 <= x <= 10: optimum (8/5, 6/5), value 14/5."""
    vals = np.array([q(v) for v in (1, 2, 3, 1)], dtype=object)
    return ExactLP(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), vals, 2, 2, [None, None], [q(4), q(6)],
                   [q(0), q(0)], [q(10), q(10)], np.array([q(1), q(1)], dtype=object))


@pytest.mark.parametrize("start", ["primal", "dual"])
def test_exact_pivots_reach_the_optimum(start):
    """From a primal feasible basis (all slacks basic) primal simplex pivots, and from a dual
    feasible but primal infeasible one (x1 at its upper bound 10, x2 basic) dual simplex pivots,
    reach the optimum 14/5 exactly."""
    B, L, U = highspy.HighsBasisStatus.kBasic, highspy.HighsBasisStatus.kLower, highspy.HighsBasisStatus.kUpper
    cs, rs = ([L, L], [B, B]) if start == "primal" else ([U, B], [U, B])
    lower, upper, v, y, reason, pivots = prove_from_basis(_tiny_lp(), cs, rs)
    assert frac(lower) == frac(upper) == Fraction(14, 5) and pivots > 0 and not reason
    assert [frac(a) for a in v] == [Fraction(8, 5), Fraction(6, 5)]
    # without pivots the same bases prove nothing
    lower, upper, *_ = prove_from_basis(_tiny_lp(), cs, rs, max_pivots=0)
    assert lower is None or upper is None or lower < upper


def test_general_and_maximin_certificates_agree_exactly():
    for side in ("buy", "sell"):
        inst = _random(11, 2, 4, side, False, True)
        assert certify_general(inst).value == certify(inst).value


# --------------------------------------------------------------------------- verify_exact
def test_verify_exact_finds_a_known_violation():
    """x = 1 everywhere, m = θ_1 + θ_2 + ε·1[θ_1 = 3/4]: agent 1 of cost 1/4 gains
    σ_1·(1/2 + ε) by reporting 3/4 (σ_1 = 1/2), and the buyer's profit is −ε/2 (b = 1)."""
    inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    eps = Fraction(1, 10 ** 20)
    grid = [Fraction(1, 4), Fraction(3, 4)]
    x = [[1, 1], [1, 1]]
    m = [[grid[i] + grid[j] + (eps if i == 1 else 0) for j in range(2)] for i in range(2)]
    audit = verify_exact(inst, x, m)
    assert audit.max_ic_violation == Fraction(1, 4) + eps / 2
    assert audit.worst_ic == {"agent": "a", "type": 0.25, "report": 0.75}
    assert audit.max_ir_violation == 0
    assert audit.profit == -eps / 2
    assert audit.to_dict()["profit"] == str(-eps / 2)
    # an IR violation of a known size: pay 1 less at every profile; interim utilities (1/4, 1/4 + ε/2
    # for agent a, 1/4 + ε/4 for agent b, shares included) drop by σ_i·1 = 1/2: the worst is −1/4
    low = [[v - 1 for v in row] for row in m]
    assert verify_exact(inst, x, low).max_ir_violation == Fraction(1, 4)


@pytest.mark.parametrize("ic,participation", [("bayesian", "interim"), ("dominant", "ex-post")])
@pytest.mark.parametrize("correlated,side", [(False, "sell"), (True, "buy")])
def test_verify_exact_matches_float_verify(ic, participation, correlated, side):
    inst = _small(correlated, side)
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, size=inst.shape)
    m = rng.uniform(-0.5, 1.0, size=inst.shape)
    a = lpmech.verify(inst, x, m, ic=ic, participation=participation)
    e = verify_exact(inst, x, m, ic=ic, participation=participation)
    for key in ("max_ic_violation", "max_ir_violation", "profit"):
        assert abs(float(getattr(e, key)) - getattr(a, key)) <= 1e-12


# --------------------------------------------------------------------------- limits
def test_size_limits_raise_instance_errors():
    k = int(EXACT_MAX_PROFILES ** 0.5) + 1
    big = uniform_pair(k=k, b=1.0)
    with pytest.raises(InstanceError, match=f"{EXACT_MAX_PROFILES:,}"):
        certify_maximin(big, (0.5, 0.5))
    k = int(GENERAL_EXACT_MAX_PROFILES ** 0.5) + 1
    with pytest.raises(InstanceError, match=f"{GENERAL_EXACT_MAX_PROFILES:,}"):
        certify_general(uniform_pair(k=k, b=1.0))


@pytest.mark.slow
def test_benchmark_sizes_are_proven():
    for n, k in ((2, 316), (3, 40)):
        grid = ((np.arange(k) + 0.5) / k).tolist()
        inst = lpmech.Instance("buy", [lpmech.Agent(f"s{i}", grid, [1 / k] * k) for i in range(n)], buyer_value=1.0)
        cert = prove(inst)
        assert cert.proven and cert.seconds < 30
