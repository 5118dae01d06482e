"""Exact certificates of the general LP's families (issue 13 item 5; docs/model.md, sections 9-12).

Individual transfers, ex-ante participation, outside options, consent of k agents, no subsidy,
a transfer cap, a budget, a minimum trade probability and interdependent values (BIC and ex-post
IC with the true cost) are proved by ``lpmech.exact.certify_general``. Each proven value is
compared with an independent LP written here from the definitions (every pair of types and every
profile of the others written out, transfers in the agents' payoff units, no interim columns),
solved by scipy's linprog and then proved in rational arithmetic here: its primal and dual,
rounded to nearby rationals, must be exactly feasible with equal objectives. Perturbing the
basis, the claimed mechanism or the claimed value makes the certificate fail.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from fractions import Fraction as F

import numpy as np
import pytest
from helpers import cli_calls
from scipy.optimize import linprog

import lpmech
from lpmech.errors import CertificateError, CheckError
from lpmech.exact import certify_general
from lpmech.exact import general as exact_general
from lpmech.exact.data import exact_data, frac, q
from lpmech.exact.families import audit_mechanism, exact_numbers
from lpmech.exact.lp import float_basis, prove_from_basis

# --------------------------------------------------------------------------- the independent reference


def _spec(side="buy", d=F(1), grids=None, probs=None, joint=None, shares=(F(3, 4), F(1, 4)), gamma=None):
    grids = grids or [[F(1, 4), F(1, 2), F(3, 4)], [F(1, 8), F(3, 8), F(5, 8), F(7, 8)]]
    if joint is None:
        probs = probs or [[F(1, 4), F(1, 2), F(1, 4)], [F(1, 4)] * 4]
    return {"side": side, "d": d, "grids": grids, "probs": probs, "joint": joint, "shares": list(shares),
            "gamma": gamma}


def _pmf(spec):
    shape = tuple(len(g) for g in spec["grids"])
    if spec["joint"] is not None:
        return {p: spec["joint"][p[0]][p[1]] for p in itertools.product(*map(range, shape))}
    out = {}
    for p in itertools.product(*map(range, shape)):
        w = F(1)
        for i, k in enumerate(p):
            w *= spec["probs"][i][k]
        out[p] = w
    return out


def _instance(spec):
    """The spec as an lpmech.Instance; every number dyadic, so its float is exactly the Fraction."""
    def fl(v):
        assert F(float(v)) == v, f"{v} is not a dyadic rational"
        return float(v)

    agents = [lpmech.Agent(name, [fl(v) for v in g], None if spec["joint"] is not None
                           else [fl(v) for v in spec["probs"][i]], share=fl(spec["shares"][i]))
              for i, (name, g) in enumerate(zip("ab", spec["grids"]))]
    kw = {"buyer_value": fl(spec["d"])} if spec["side"] == "buy" else {"seller_cost": fl(spec["d"])}
    joint = None if spec["joint"] is None else np.array([[fl(v) for v in row] for row in spec["joint"]])
    gamma = None if spec["gamma"] is None else [[fl(v) for v in row] for row in spec["gamma"]]
    return lpmech.Instance(spec["side"], agents, joint=joint, interdependence=gamma, **kw)


def _outside(mech, name, k):
    table = dict(mech.get("outside_option") or {})
    if name not in table:
        return [F(0)] * k
    v = table[name]
    return [F(x) for x in v] if isinstance(v, (list, tuple)) else [F(v)] * k


def reference_rows(spec, mech, vetoes):
    """(rows, c, n) of the LP from the definitions: rows (coefficients, lo) mean coefficients·v >= lo.

    Variables: x on every profile, then the transfers in money: one total m (shared in the shares:
    agent i gets σ_i·m) or one m_i per agent (agent i gets m_i). Agent i's payoff at profile q with
    true type t is sign·(its money − σ_i·c_i·x(q)), c_i = θ_i(t) + Σ_j γ_ij θ_j(q_j).
    """
    grids, shares, sign = spec["grids"], spec["shares"], 1 if spec["side"] == "buy" else -1
    shape = tuple(len(g) for g in grids)
    profiles = list(itertools.product(*map(range, shape)))
    idx = {p: k for k, p in enumerate(profiles)}
    n, N = len(profiles), len(grids)
    pmf = _pmf(spec)
    individual = mech.get("transfers") == "individual"
    gamma = spec["gamma"]
    ic, part = mech.get("ic", "bayesian"), mech.get("participation", "interim")

    def money(i, p):  # {column: coefficient} of agent i's money at profile p
        return {n + i * n + idx[p]: F(1)} if individual else {n + idx[p]: shares[i]}

    def payoff(i, t, p):  # true type t, outcome at profile p (own report p[i], others' true types)
        cost = grids[i][t] + sum((gamma[i][j] * grids[j][p[j]] for j in range(N) if j != i and gamma), F(0))
        out = {c: sign * v for c, v in money(i, p).items()}
        out[idx[p]] = out.get(idx[p], F(0)) - sign * shares[i] * cost
        return out

    def comb(*terms):
        out = {}
        for w, dct in terms:
            for c, v in dct.items():
                out[c] = out.get(c, F(0)) + w * v
        return out

    def at(i, s, r):  # the profile with agent i at s and the others at r
        p = list(r)
        p.insert(i, s)
        return tuple(p)

    rows = []
    for i, name in enumerate("ab"[:N]):
        others = list(itertools.product(*[range(shape[j]) for j in range(N) if j != i]))
        marg = [sum(pmf[at(i, t, r)] for r in others) for t in range(shape[i])]

        def interim(t, s, i=i, others=others, marg=marg):
            return comb(*[(pmf[at(i, t, r)] / marg[t], payoff(i, t, at(i, s, r))) for r in others])

        for t, s in itertools.permutations(range(shape[i]), 2):
            if ic == "bayesian":
                rows.append((comb((1, interim(t, t)), (-1, interim(t, s))), F(0)))
            else:
                for r in others:
                    rows.append((comb((1, payoff(i, t, at(i, t, r))), (-1, payoff(i, t, at(i, s, r)))), F(0)))
        if name in vetoes:
            o = _outside(mech, name, shape[i])
            if part == "interim":
                rows += [(interim(t, t), o[t]) for t in range(shape[i])]
            elif part == "ex-post":
                rows += [(payoff(i, t, at(i, t, r)), o[t]) for t in range(shape[i]) for r in others]
            else:
                rows.append((comb(*[(marg[t], interim(t, t)) for t in range(shape[i])]),
                             sum((marg[t] * o[t] for t in range(shape[i])), F(0))))

    def total(p):
        return comb(*[(1, {c: v / shares[i] if not individual else v for c, v in money(i, p).items()})
                      for i in range(N if individual else 1)])

    if mech.get("no_subsidy"):
        rows += [(total(p), F(0)) for p in profiles]
    if mech.get("max_transfer") is not None:
        rows += [(comb((-1, total(p))), -F(mech["max_transfer"])) for p in profiles]
    if mech.get("budget") is not None:
        rows.append((comb(*[(-pmf[p], total(p)) for p in profiles]), -F(mech["budget"])))
    if mech.get("min_trade_probability") is not None:
        rows.append(({idx[p]: pmf[p] for p in profiles}, F(mech["min_trade_probability"])))
    nv = n + (N if individual else 1) * n
    c = [F(0)] * nv
    for p in profiles:
        c[idx[p]] += sign * pmf[p] * spec["d"]
        for col, v in total(p).items():
            c[col] -= sign * pmf[p] * v
    return rows, c, n


def _rational_solve(eqs, nv, guess):
    """A solution of the equations {column: coefficient}·v = b in Fractions, or None if inconsistent.

    Unknowns the equations leave free take the rationals nearest the float ``guess``.

    Plain Gauss-Jordan elimination on a dict per row: the test's own, independent of python-flint.
    """
    pivots = []  # (column, row dict, rhs)
    for coef, b in eqs:
        row, rhs = dict(coef), b
        for col, prow, prhs in pivots:
            f = row.get(col, F(0))
            if f:
                for c2, w in prow.items():
                    row[c2] = row.get(c2, F(0)) - f * w
                rhs -= f * prhs
        row = {c2: w for c2, w in row.items() if w}
        if not row:
            if rhs != 0:
                return None
            continue
        col = min(row)
        piv = row[col]
        row = {c2: w / piv for c2, w in row.items()}
        rhs /= piv
        for k, (c0, prow, prhs) in enumerate(pivots):  # keep the earlier rows reduced
            f = prow.get(col, F(0))
            if f:
                for c2, w in row.items():
                    prow[c2] = prow.get(c2, F(0)) - f * w
                pivots[k] = (c0, {c2: w for c2, w in prow.items() if w}, prhs - f * rhs)
        pivots.append((col, row, rhs))
    v = [F(float(g)).limit_denominator(10**6) for g in guess]
    for col, row, rhs in pivots:  # reduced rows: besides its pivot a row holds free unknowns only
        v[col] = rhs - sum((w * v[c2] for c2, w in row.items() if c2 != col), F(0))
    return v


def exact_lp_optimum(rows, c, n):
    """Solve max c·v s.t. rows, 0 <= x <= 1, transfers free with linprog, then PROVE it in Fractions.

    The float solution's active set (tight rows, x at a bound, columns at 0) is solved exactly for
    the primal, and the duals of the active rows from the columns that must price to 0 (free ones,
    x strictly inside [0, 1]); the primal must satisfy every row exactly, the duals (y <= 0 on these
    >= rows) must price every free column to exactly 0, and the weak-duality bound
    Σ y_r lo_r + Σ_x max(d_j, 0) must equal c·v: then both are optimal.
    """
    nv = len(c)
    G = np.zeros((len(rows), nv))
    for r, (coef, _) in enumerate(rows):
        for col, v in coef.items():
            G[r, col] = float(v)
    lo = np.array([float(b) for _, b in rows])
    res = linprog(-np.array([float(v) for v in c]), A_ub=-G, b_ub=-lo,
                  bounds=[(0, 1)] * n + [(None, None)] * (nv - n), method="highs")
    assert res.status == 0, res.message
    tol = 1e-9
    slack = G @ res.x - lo
    yf = res.ineqlin.marginals
    eqs = [(coef, b) for (coef, b), s in zip(rows, slack) if abs(s) <= tol]
    eqs += [({j: F(1)}, F(round(res.x[j]))) for j in range(n) if min(abs(res.x[j]), abs(res.x[j] - 1)) <= tol]
    eqs += [({j: F(1)}, F(0)) for j in range(n, nv) if abs(res.x[j]) <= 1e-12]
    v = _rational_solve(eqs, nv, res.x)
    live = [r for r in range(len(rows)) if abs(slack[r]) <= tol and abs(yf[r]) > tol]
    pos = {r: k for k, r in enumerate(live)}
    price = [j for j in range(nv) if j >= n or tol < res.x[j] < 1 - tol]
    dual_eqs = []
    for j in price:
        dual_eqs.append(({pos[r]: rows[r][0][j] for r in live if rows[r][0].get(j)}, c[j]))
    yl = _rational_solve(dual_eqs, len(live), yf[live])
    assert v is not None and yl is not None, "the active set is inconsistent in exact arithmetic"
    y = [F(0)] * len(rows)
    for r, k in pos.items():
        y[r] = yl[k]
    act = [sum((w * v[col] for col, w in coef.items()), F(0)) for coef, _ in rows]
    assert all(a >= b for a, (_, b) in zip(act, rows)) and all(0 <= v[j] <= 1 for j in range(n))
    assert all(yr <= 0 for yr in y)
    d = list(c)
    for yr, (coef, _) in zip(y, rows):
        for col, w in coef.items():
            d[col] -= yr * w
    assert all(d[j] == 0 for j in range(n, nv))
    value = sum((a * b for a, b in zip(c, v)), F(0))
    bound = sum((yr * b for yr, (_, b) in zip(y, rows)), F(0)) + sum((max(d[j], F(0)) for j in range(n)), F(0))
    assert bound == value, f"the reference LP's optimum {-res.fun} could not be proved in rationals"
    return value, v


def reference_value(spec, mech):
    """The exact optimum from the definitions; consent = k is the best over coalitions of k."""
    names = list("ab"[: len(spec["grids"])])
    k = mech.get("consent")
    coalitions = [tuple(mech.get("veto") or names)] if k is None else list(itertools.combinations(names, k))
    out = {}
    for co in coalitions:
        rows, c, n = reference_rows(spec, mech, co)
        out[co] = exact_lp_optimum(rows, c, n)[0]
    return max(out.values()), out


def _feasible_in_reference(spec, mech, vetoes, x, m):
    """The certificate's shared-transfer mechanism satisfies every reference row exactly; its value."""
    rows, c, n = reference_rows(spec, mech, vetoes)
    v = [F(a) for a in np.ravel(x)] + [F(a) for a in np.ravel(m)]
    for coef, b in rows:
        assert sum((w * v[col] for col, w in coef.items()), F(0)) >= b
    assert all(0 <= a <= 1 for a in v[:n])
    return sum((a * b for a, b in zip(c, v)), F(0))


# --------------------------------------------------------------------------- the families
GAMMA = [[F(0), F(1, 4)], [F(1, 2), F(0)]]
JOINT = [[F(1, 8), F(1, 16), F(1, 16), F(0)], [F(1, 16), F(1, 8), F(1, 8), F(1, 16)],
         [F(0), F(1, 16), F(1, 16), F(1, 4)]]
CASES = {
    "individual": (_spec(), {"transfers": "individual"}),
    "ex-ante": (_spec(), {"participation": "ex-ante"}),
    "outside-options": (_spec(), {"outside_option": {"a": [0.0, 0.0625, 0.125], "b": 0.03125}}),
    "consent-1": (_spec(), {"consent": 1}),
    "no-subsidy-cap": (_spec(side="sell", d=F(1, 8)), {"no_subsidy": True, "max_transfer": 0.5}),
    "budget": (_spec(), {"budget": 0.125}),
    "min-trade": (_spec(), {"min_trade_probability": 0.75}),
    "interdependent-bic": (_spec(gamma=GAMMA), {}),
    "interdependent-ex-post": (_spec(gamma=GAMMA), {"ic": "ex-post", "participation": "ex-post"}),
    "sell-interdependent-ante-individual": (_spec(side="sell", d=F(1, 4), gamma=GAMMA),
                                            {"transfers": "individual", "participation": "ex-ante",
                                             "outside_option": {"b": 0.015625}}),
    "correlated-budget-consent": (_spec(joint=JOINT), {"budget": 0.25, "consent": 1, "ic": "dominant"}),
}


def _mechanism(mech):
    return lpmech.Mechanism(**mech)


@pytest.mark.parametrize("case", sorted(CASES))
def test_family_is_proven_and_equals_the_independent_exact_lp(case):
    spec, mech = CASES[case]
    inst = _instance(spec)
    cert = certify_general(inst, mechanism=_mechanism(mech))
    assert cert.proven, cert.reason
    assert cert.method == "exact" and cert.lower == cert.upper == cert.value and cert.gap == 0
    ref, per_coalition = reference_value(spec, mech)
    assert cert.value == ref
    # the family binds: the plain LP (private values, the default mechanism) has another value
    plain, _ = reference_value({**spec, "gamma": None}, {})
    assert ref != plain
    # the float LP agrees to its tolerance
    res = lpmech.general.solve_general(inst, mechanism=_mechanism(mech))
    assert res.value == pytest.approx(float(ref), rel=1e-7, abs=1e-9)
    if mech.get("transfers") != "individual":  # the exact mechanism is feasible in the reference, same value
        vetoes = tuple(cert.checks.get("best_coalition") or cert.checks["veto"])
        assert _feasible_in_reference(spec, mech, vetoes, cert.allocation, cert.transfer) == cert.value
    if "consent" in mech:
        table = {tuple(c["veto"]): F(c["value"]) for c in cert.checks["coalitions"]}
        assert table == per_coalition and all(c["proven"] for c in cert.checks["coalitions"])
        assert table[tuple(cert.checks["best_coalition"])] == cert.value
        assert "every coalition" in cert.checks["certifies"]


def test_individual_transfers_equal_g_at_the_shares_exactly():
    """With independent per-share types and no ironing, the value is g(σ) = E[(b − σ·φ)_+] (section 10)."""
    spec, mech = CASES["individual"]
    phis = []
    for g, p in zip(spec["grids"], spec["probs"]):
        cum, phi = F(0), []
        for k, (t, w) in enumerate(zip(g, p)):
            phi.append(t if k == 0 else t + (t - g[k - 1]) * cum / w)
            cum += w
        assert phi == sorted(phi)  # regular: no ironing
        phis.append(phi)
    s = spec["shares"]
    g_sigma = sum((pa * pb * max(spec["d"] - s[0] * fa - s[1] * fb, F(0))
                   for fa, pa in zip(phis[0], spec["probs"][0]) for fb, pb in zip(phis[1], spec["probs"][1])), F(0))
    cert = certify_general(_instance(spec), mechanism=_mechanism(mech))
    assert cert.proven and cert.value == g_sigma
    shared = certify_general(_instance(spec))
    assert shared.proven and shared.value < g_sigma  # fixed shares cost the designer (σ is not an optimal ω)


def test_zero_interdependence_is_the_private_values_lp():
    spec = _spec(gamma=[[F(0), F(0)], [F(0), F(0)]])
    with_gamma = certify_general(_instance(spec), mechanism=_mechanism({"participation": "ex-post"}))
    plain = certify_general(_instance(_spec()), mechanism=_mechanism({"participation": "ex-post"}))
    assert with_gamma.proven and plain.proven and with_gamma.value == plain.value
    assert "interdependent values" in with_gamma.checks["covers"]


# --------------------------------------------------------------------------- the certificate can fail
def _family_lp(case):
    spec, mech = CASES[case]
    m = _mechanism(mech)
    inst = replace(_instance(spec), mechanism=m)
    data = exact_data(inst)
    nums = exact_numbers(inst)
    lp, layout = exact_general.build_exact_lp(data, m, tuple(inst.names), nums)
    return inst, data, nums, m, lp, layout


def test_a_perturbed_basis_is_not_proven():
    import highspy

    inst, _, _, _, lp, _ = _family_lp("interdependent-bic")
    cs, rs, _ = float_basis(lp, "test")
    lower, upper, *_ = prove_from_basis(lp, cs, rs, max_pivots=0)
    assert lower is not None and lower == upper  # HiGHS's basis proves
    basic = [j for j, s in enumerate(cs) if s == highspy.HighsBasisStatus.kBasic]
    nonbasic_rows = [r for r, s in enumerate(rs) if s != highspy.HighsBasisStatus.kBasic]
    failed = 0
    for j, r in itertools.islice(itertools.product(basic, nonbasic_rows), 40):
        cs2, rs2 = list(cs), list(rs)
        cs2[j] = highspy.HighsBasisStatus.kLower if lp.col_lo[j] is not None else highspy.HighsBasisStatus.kZero
        rs2[r] = highspy.HighsBasisStatus.kBasic
        lo2, up2, *_ = prove_from_basis(lp, cs2, rs2, max_pivots=0)
        if not (lo2 is not None and lo2 == up2):
            failed += 1
    assert failed > 0

    # through the library: a wrong basis gives an unproven certificate, and solve raises CheckError
    def wrong_basis(lp, what, **kw):
        cs, rs, _ = float_basis(lp, what)
        j = next(j for j, s in enumerate(cs) if s == highspy.HighsBasisStatus.kBasic and lp.col_lo[j] is not None)
        r = next(r for r, s in enumerate(rs) if s != highspy.HighsBasisStatus.kBasic)
        cs[j], rs[r] = highspy.HighsBasisStatus.kLower, highspy.HighsBasisStatus.kBasic
        return prove_from_basis(lp, cs, rs, max_pivots=0)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(exact_general, "certify_lp", wrong_basis)
        cert = certify_general(inst)
        assert not cert.proven and cert.reason
        with pytest.raises(CertificateError, match="exact") as err:   # a CheckError: exit 1
            lpmech.solve(inst, method="general", certify="exact")
        assert isinstance(err.value, CheckError) and err.value.failed == ["exact_certificate"]
        assert err.value.checks["reason"] == cert.reason


@pytest.mark.parametrize("what", ["value", "mechanism"])
def test_a_perturbed_claim_is_not_proven(what):
    """A claimed value off by 1/10^6, or the claimed x moved by 1/64 at one profile: not proven."""
    spec, mech = CASES["budget"]
    inst = _instance(spec)
    real = exact_general.certify_lp

    def claim(lp, name, **kw):
        lower, upper, v, y, reason, pivots = real(lp, name, **kw)
        if what == "value":
            return lower + q(F(1, 10**6)), upper, v, y, reason, pivots
        v = v.copy()
        v[0] = v[0] - q(F(1, 64)) if v[0] > 0 else v[0] + q(F(1, 64))
        return lower, upper, v, y, reason, pivots

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(exact_general, "certify_lp", claim)
        cert = certify_general(inst, mechanism=_mechanism(mech))
    assert not cert.proven and cert.reason


def test_the_audit_finds_a_violation_of_each_family():
    inst, data, nums, m, lp, layout = _family_lp("interdependent-ex-post")
    lower, _upper, v, *_ = prove_from_basis(lp, *float_basis(lp, "test")[:2], max_pivots=0)
    n = layout.n
    x = v[:n].reshape(data.shape)
    t = [v[s: s + n].reshape(data.shape) for s in layout.transfer_start]
    audit = audit_mechanism(data, nums, m, tuple(inst.names), x, t)
    assert audit.ok() and audit.profit == frac(lower)
    # with the private cost θ_i instead of the true one the audit of the same mechanism fails
    private = exact_numbers(_instance(_spec()))
    assert not audit_mechanism(data, private, m, tuple(inst.names), x, t).ok()
    # a budget below the mechanism's expected transfer, and a minimum trade probability above its own
    spend = sum((frac(a) * frac(b) for a, b in zip(data.joint_pmf().ravel(), t[0].ravel())), F(0))
    tight = type(nums)(nums.gamma, nums.outside, budget=spend - F(1, 1000))
    assert audit_mechanism(data, tight, lpmech.Mechanism(budget=0.0, ic="ex-post", participation="ex-post"),
                           tuple(inst.names), x, t).max_limit_violation == F(1, 1000)


# --------------------------------------------------------------------------- files and the command line
_FILE = """
name = "two sellers, interdependent, with a budget"
side = "buy"
buyer_value = 1.1
interdependence = [[0, 0.3], [0.2, 0]]

[mechanism]
{mech}

[[agents]]
name = "a"
grid = [0.1, 0.3, 0.6]
probs = [0.3, 0.4, 0.3]
outside_option = 0.01

[[agents]]
name = "b"
grid = [0.2, 0.4, 0.5, 0.7]
probs = [0.25, 0.25, 0.25, 0.25]
"""


def _file_spec():
    D = F
    return _spec(d=D("1.1"), grids=[[D("0.1"), D("0.3"), D("0.6")], [D("0.2"), D("0.4"), D("0.5"), D("0.7")]],
                 probs=[[D("0.3"), D("0.4"), D("0.3")], [D("0.25")] * 4], shares=(F(1, 2), F(1, 2)),
                 gamma=[[F(0), D("0.3")], [D("0.2"), F(0)]])


_WRONG_DUAL = """
import lpmech.exact.general as g
real = g.certify_lp
def off_by_one(lp, what, **kw):
    lower, upper, v, y, reason, pivots = real(lp, what, **kw)
    return lower, upper + 1, v, y, reason, pivots
g.certify_lp = off_by_one
"""


def test_files_are_read_exactly_and_proven_from_the_command_line(tmp_path):
    """Decimal text is exact (0.1 is 1/10): the certificate equals the reference built from the text;
    ``lpmech solve/compare FILE --certify exact`` exit 0 and say the rows are proven."""
    mech_text = 'ic = "ex-post"\nbudget = 0.3\nmin_trade_probability = 0.3\nconsent = 1'
    path = tmp_path / "fam.toml"
    path.write_text(_FILE.format(mech=mech_text))
    inst = lpmech.load(str(path))
    cert = certify_general(inst)
    mech = {"ic": "ex-post", "budget": F("0.3"), "min_trade_probability": F("0.3"), "consent": 1,
            "outside_option": {"a": F("0.01")}}
    ref, _ = reference_value(_file_spec(), mech)
    assert cert.proven and cert.value == ref
    assert set(cert.checks["exact_numbers"].values()) == {"file"}
    assert set(cert.checks["covers"]) >= {"consent of 1", "budget", "min_trade_probability", "ex-post IC",
                                          "interdependent values", "outside options"}
    ante = tmp_path / "ante.toml"
    ante.write_text(_FILE.format(mech='participation = "ex-ante"\nno_subsidy = true\nmax_transfer = 0.9'))
    indiv = tmp_path / "indiv.toml"
    indiv.write_text(_FILE.format(mech='transfers = "individual"'))
    calls = [["solve", path, "--certify", "exact", "--json", tmp_path / "s.json"],
             ["solve", ante, "--certify", "exact"],
             ["solve", indiv, "--certify", "exact"],
             ["compare", path, "--certify", "exact", "--json", tmp_path / "c.json"],
             (["solve", path, "--certify", "exact", "--json", tmp_path / "bad.json"], _WRONG_DUAL)]
    (c1, out1, err1), (c2, out2, err2), (c3, out3, err3), (c4, out4, err4), (c5, out5, err5) = cli_calls(calls)
    # a claimed dual bound that does not meet the primal: exit 1, one line with the exact gap, nothing written
    assert c5 == 1 and out5 == "" and len(err5.strip().splitlines()) == 1 and "exact gap 1 " in err5, err5
    assert err5.startswith("lpmech: certificate failed: the exact certificate (general) is not proven"), err5
    assert not (tmp_path / "bad.json").exists()
    assert (c1, err1) == (0, "") and (c2, err2) == (0, "") and (c3, err3) == (0, ""), (err1, err2, err3)
    assert f"proven optimal in exact arithmetic (general): value {ref}" in out1
    assert "    certifies: consent of any 1: the LP of every coalition of 1 proven exactly" in out1, out1
    doc = json.loads((tmp_path / "s.json").read_text())["certificate"]
    assert doc["proven"] and F(doc["value"]) == ref and doc["checks"]["best_coalition"] in (["a"], ["b"])
    for out, m in ((out2, {"participation": "ex-ante", "no_subsidy": True, "max_transfer": F("0.9")}),
                   (out3, {"transfers": "individual"})):
        value, _ = reference_value(_file_spec(), {**m, "outside_option": {"a": F("0.01")}})
        assert f"proven optimal in exact arithmetic (general): value {value}" in out
    assert (c4, err4) == (0, ""), err4
    table = json.loads((tmp_path / "c.json").read_text())
    main_rows = [r for r in table["rows"] if r.get("ic") in ("bayesian", "ex-post")]  # BIC / ex-post IC x IR
    assert len(main_rows) >= 4 and all(r["certificate"]["proven"] for r in main_rows)
    for r in main_rows:
        assert f"{r['label']}: proven optimal in exact arithmetic" in out4
    ex_post_interim = next(r for r in main_rows if r["ic"] == "ex-post" and r["participation"] == "interim")
    assert F(ex_post_interim["certificate"]["value"]) == ref
    # the rows compare adds (individual transfers, ex-ante IR) are proven by the same path
    base = inst.mechanism
    for variant in (lpmech.Mechanism(ic="bayesian", transfers="individual"),
                    lpmech.Mechanism(ic="bayesian", participation="ex-ante", consent=base.consent,
                                     budget=base.budget, min_trade_probability=base.min_trade_probability,
                                     outside_option=base.outside_option)):
        assert certify_general(inst, mechanism=variant).proven
    # ... and `compare --certify exact` proves every LP row of the table, those two included, at the
    # reference's exact values (the file's row shares the certificate of the variant it equals)
    rows = {r["key"]: r for r in table["table"]}
    for r in rows.values():
        if r["key"] in ("posted_price", "first_best"):
            assert "certificate" not in r
            continue
        cert = r.get("certificate") or rows[r["same_as"]]["certificate"]
        assert cert["proven"], (r["label"], cert.get("reason"))
        assert f"{r['label']}: proven optimal in exact arithmetic" in out4 or r.get("same_as")
    assert "not certified" not in out4
    limits = {"budget": F("0.3"), "min_trade_probability": F("0.3"), "outside_option": {"a": F("0.01")}}
    for key, mech in (("individual_transfers", {"transfers": "individual"}),
                      ("expost_ex_ante", {"ic": "ex-post", "participation": "ex-ante", "consent": 1}),
                      ("without_limits", {"ic": "ex-post", "consent": 1, "budget": None,
                                          "min_trade_probability": None}),
                      ("consent_2", {"ic": "ex-post", "consent": 2})):
        value, _ = reference_value(_file_spec(), {**limits, **mech})
        assert F(rows[key]["certificate"]["value"]) == value, key


# --------------------------------------------------------------------------- individual transfers above the LP's limit
def _ironing_pair(side):
    kw = {"buyer_value": 1.0} if side == "buy" else {"seller_cost": 0.125}
    return lpmech.Instance(side, [lpmech.Agent("a", [0.125, 0.25, 0.375, 0.5, 0.625],
                                               [0.375, 0.0625, 0.0625, 0.125, 0.375], share=0.625),
                                  lpmech.Agent("b", [0.0625, 0.5, 0.5625, 0.875], [0.5, 0.0625, 0.0625, 0.375],
                                               share=0.375)], **kw)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_individual_closed_form_equals_the_exact_lp_and_serves_above_its_limit(side, monkeypatch):
    """Heavy ironing (φ_a = 1/8, 1, 5/4, 1, 5/6): the section 10 proof (g(σ) against the audited
    profit of x_σ) and the LP-basis proof give the same exact value; above the general LP's limit
    the closed form proves it, and a variant it does not cover is still refused, naming the limit."""
    inst = _ironing_pair(side)
    mech = {"transfers": "individual"}
    by_lp = certify_general(inst, mechanism=mech)
    assert by_lp.proven and "method" not in by_lp.checks
    spec = _spec(side=side, d=F(1) if side == "buy" else F(1, 8),
                 grids=[[F(k, 8) for k in range(1, 6)], [F(1, 16), F(1, 2), F(9, 16), F(7, 8)]],
                 probs=[[F(3, 8), F(1, 16), F(1, 16), F(1, 8), F(3, 8)], [F(1, 2), F(1, 16), F(1, 16), F(3, 8)]],
                 shares=(F(5, 8), F(3, 8)))
    assert by_lp.value == reference_value(spec, mech)[0]
    monkeypatch.setattr(exact_general, "GENERAL_EXACT_MAX_PROFILES", 10)
    closed = certify_general(inst, mechanism=mech)
    assert closed.proven and closed.checks["method"].startswith("closed form") and closed.value == by_lp.value
    assert closed.checks["g_sigma"] == closed.value and closed.checks["max_ic_violation"] == 0
    # the solve report says how it was proved (the closed form), as it does for consent (which LP)
    res = lpmech.solve(replace(inst, mechanism=lpmech.Mechanism(transfers="individual")), certify="exact")
    lines = res.certificate_lines()
    assert f"value {closed.value} " in lines[1] and lines[2] == f"    method: {closed.checks['method']}"
    with pytest.raises(lpmech.InstanceError, match="at most 10 profiles"):
        certify_general(inst, mechanism={**mech, "participation": "ex-ante"})
    from lpmech.exact.maximin import MaximinExact

    real_g = MaximinExact.g
    monkeypatch.setattr(MaximinExact, "g", lambda self, w, index=None: real_g(self, w, index) + q(F(1, 10**6)))
    wrong = certify_general(inst, mechanism=mech)
    assert not wrong.proven and wrong.gap == F(1, 10**6)


# --------------------------------------------------------------------------- exact numbers given through the API
def test_api_fractions_are_kept_exactly_through_replace():
    """γ and the budget given as Fractions (not doubles) are certified exactly, also after
    dataclasses.replace (as compare builds its rows); the same numbers given as floats are
    certified at the floats' binary values, which is another optimum."""
    gamma, budget = [[F(0), F(1, 3)], [F(1, 5), F(0)]], F(1, 10)
    base = _instance(_spec())
    inst = replace(base, interdependence=gamma, mechanism=lpmech.Mechanism(budget=budget))
    inst = replace(inst, mechanism=replace(inst.mechanism, consent=2))  # carried through replace
    assert inst.exact_interdependence == tuple(map(tuple, gamma)) and inst.mechanism.exact_budget == budget
    cert = certify_general(inst)
    ref, _ = reference_value(_spec(gamma=gamma), {"budget": budget})
    assert cert.proven and cert.value == ref
    assert cert.checks["exact_numbers"] == {"budget": "exact", "interdependence": "exact"}
    floats = replace(base, interdependence=[[float(v) for v in row] for row in gamma],
                     mechanism=lpmech.Mechanism(budget=float(budget)))
    cert_f = certify_general(floats)
    binary = {"budget": F(float(budget))}
    ref_f, _ = reference_value(_spec(gamma=[[F(float(v)) for v in row] for row in gamma]), binary)
    assert cert_f.proven and cert_f.value == ref_f != ref
    assert cert_f.checks["exact_numbers"] == {"budget": "float", "interdependence": "float"}
    # a value changed by replace is taken anew
    assert replace(inst.mechanism, budget=0.25).exact_budget == F(1, 4)


def test_compare_refuses_an_exact_value_far_from_the_float_row(monkeypatch):
    """A proven exact value that disagrees with its row's float value is a failed check, not a row."""
    from lpmech.compare import compare
    from lpmech.exact.data import Certificate

    inst = _instance(_spec())
    real = lpmech.exact.prove

    def shifted(instance, result=None):
        c = real(instance, result)
        v = c.value + F(1, 1000)
        return Certificate.from_bounds(v, v, seconds=0.0, formulation=c.formulation)

    table = compare(inst, certify="exact")  # the real proofs: every LP row proven
    assert all(r["certificate"]["proven"] for r in [*table.rows, *table.extra_rows])
    monkeypatch.setattr(lpmech.exact, "prove", shifted)
    with pytest.raises(CheckError) as err:
        compare(inst, certify="exact")
    assert err.value.failed == ["exact_vs_float"] and "differs from the float value" in str(err.value)
