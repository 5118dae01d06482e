"""The general LP (lpmech.general), its cvxpy model, the compare table and the Pareto frontier.

Agreement: with independent types and the default options the general LP must reproduce the
maximin LP's value. Orderings that follow from nesting of the feasible sets are asserted
(DSIC <= BIC, ex post IR <= interim IR, fewer vetoes >= more vetoes, posted price <= every
variant, profit <= first best); whether DSIC or ex post IR cost anything is not asserted.
"""

import csv
import json
import os
from dataclasses import replace

import cvxpy as cp
import numpy as np
import pytest
from helpers import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lpmech.checks
from lpmech.audit import Audit, verify
from lpmech.checks import CheckError
from lpmech.compare import compare, frontier
from lpmech.general import first_best, solve_general
from lpmech.highs import SolverError
from lpmech.instance import Agent, Instance, InstanceError, Mechanism
from lpmech.loader import load
from lpmech.maximin import MaximinLP
from lpmech.model import model
from lpmech.posted import best_posted_price
from lpmech.virtual import virtual_costs

GRIDS = os.path.join(os.path.dirname(__file__), os.pardir, "grids")
VARIANTS = [(ic, p) for ic in ("bayesian", "dominant") for p in ("interim", "ex-post")]
SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------- instances
def make_instance(seed, n, side, correlated=False, zeros=False, kmax=5, total=False):
    """A random instance: K_i in 2..kmax, random grids, pmfs, shares and designer value."""
    rng = np.random.default_rng(seed)
    ks = tuple(int(k) for k in rng.integers(2, kmax + 1, size=n))
    grids = [np.sort(rng.choice(np.arange(1, 40), k, replace=False)) / 20.0 for k in ks]
    shares = rng.dirichlet(np.ones(n)) * 0.8 + 0.2 / n
    shares = shares / shares.sum()
    joint = None
    if correlated:
        joint = rng.random(ks) ** 2 + 0.01
        if zeros:
            joint[rng.random(ks) < 0.35] = 0.0
            for i, k in enumerate(ks):           # every own type keeps positive mass
                for t in range(k):
                    sub = np.moveaxis(joint, i, 0)[t]
                    if sub.sum() == 0:
                        sub.flat[rng.integers(sub.size)] = 0.5
        joint = joint / joint.sum()
    agents = []
    for i, (g, k) in enumerate(zip(grids, ks)):
        probs = None
        if not correlated:
            probs = rng.dirichlet(np.ones(k)) + 0.05
            probs = probs / probs.sum()
        agents.append(Agent(f"a{i}", g * shares[i] if total else g, probs, float(shares[i])))
    kw = {"buyer_value": round(float(rng.uniform(0.3, 2.0)), 4)} if side == "buy" else \
         {"seller_cost": round(float(rng.uniform(0.0, 1.0)), 4)}
    return Instance(side, agents, joint=joint, types="total" if total else "per-share", **kw)


def two_by_two():
    return Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)


def maximin_value(inst):
    eng = inst.engine()
    return MaximinLP(eng, [virtual_costs(g, p) for g, p in zip(eng.grids, eng.probs)]).solve().value


def scale_of(inst):
    return max([abs(inst.designer_value)] + [float(np.max(np.abs(g))) for g in inst.grids])


def audited(inst, res):
    """verify() with the result's own variant; return the worst violation."""
    m = res.mechanism
    a = verify(inst, res.allocation, res.transfer, ic=m.ic, participation=m.participation, veto=res.vetoes)
    return max(a.max_ic_violation, a.max_ir_violation, a.max_bound_violation), a


def solve_checked(inst, **mech):
    res = solve_general(inst, mechanism=replace(inst.mechanism, **mech) if mech else None)
    worst, a = audited(inst, res)
    assert a.ok()                                   # every check relative to its own comparison
    assert worst <= 1e-7 * max(scale_of(inst), np.abs(res.transfer).max())
    assert res.status == "optimal" and res.highs_status == "Optimal"
    return res


# --------------------------------------------------------------------------- agreement with maximin

@settings(SLOW, max_examples=examples(300, 10))
@given(seed=st.integers(0, 10**6), n=st.integers(1, 3), side=st.sampled_from(["buy", "sell"]),
       total=st.booleans())
def test_general_equals_maximin_on_independent_instances(seed, n, side, total):
    inst = make_instance(seed, n, side, total=total)
    res = solve_checked(inst)
    ref = maximin_value(inst)
    assert res.value == pytest.approx(ref, rel=1e-7, abs=1e-7 * scale_of(inst))
    assert res.checks["analytic_gap"] <= 1e-7
    assert res.value <= res.checks["first_best"] + 1e-9 * scale_of(inst)


@pytest.mark.slow
@settings(SLOW, max_examples=300)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 3), side=st.sampled_from(["buy", "sell"]),
       total=st.booleans())
def test_general_equals_maximin_on_independent_instances_many(seed, n, side, total):
    """test_general_equals_maximin_on_independent_instances with 300 examples (the default run draws a few:
    conftest.py, helpers.examples)."""
    test_general_equals_maximin_on_independent_instances.hypothesis.inner_test(
        seed=seed, n=n, side=side, total=total)


@settings(SLOW, max_examples=examples(40, 5))
@given(seed=st.integers(0, 10**6), side=st.sampled_from(["buy", "sell"]))
def test_one_agent_every_variant_is_the_posted_price(seed, side):
    # With one agent interim = ex post and BIC = DSIC, and a posted price is optimal
    # (Myerson 1981; Riley and Zeckhauser 1983).
    inst = make_instance(seed, 1, side)
    posted = best_posted_price(inst).value
    for ic, p in VARIANTS:
        assert solve_checked(inst, ic=ic, participation=p).value == pytest.approx(posted, rel=1e-7, abs=1e-8)


@pytest.mark.slow
@settings(SLOW, max_examples=40)
@given(seed=st.integers(0, 10**6), side=st.sampled_from(["buy", "sell"]))
def test_one_agent_every_variant_is_the_posted_price_many(seed, side):
    """test_one_agent_every_variant_is_the_posted_price with 40 examples (the default run draws a few:
    conftest.py, helpers.examples)."""
    test_one_agent_every_variant_is_the_posted_price.hypothesis.inner_test(
        seed=seed, side=side)


# --------------------------------------------------------------------------- orderings
def check_orderings(inst):
    tol = 1e-7 * scale_of(inst)
    vals = {v: solve_checked(inst, ic=v[0], participation=v[1]).value for v in VARIANTS}
    for p in ("interim", "ex-post"):
        assert vals[("dominant", p)] <= vals[("bayesian", p)] + tol
    for ic in ("bayesian", "dominant"):
        assert vals[(ic, "ex-post")] <= vals[(ic, "interim")] + tol
    fb = first_best(inst)
    assert max(vals.values()) <= fb + tol
    assert best_posted_price(inst).value <= min(vals.values()) + tol
    # Pareto λ = 0 is profit.
    assert solve_checked(inst, pareto=0.0).value == pytest.approx(vals[("bayesian", "interim")], abs=tol)
    # Dropping a veto can only help the designer.
    if inst.n > 1:
        fewer = solve_checked(inst, veto=tuple(inst.names[1:])).value
        assert fewer >= vals[("bayesian", "interim")] - tol
        fewest = solve_checked(inst, veto=(inst.names[-1],)).value
        assert fewest >= fewer - tol
    return vals


@settings(SLOW, max_examples=examples(80, 5))
@given(seed=st.integers(0, 10**6), n=st.integers(1, 3), side=st.sampled_from(["buy", "sell"]))
def test_orderings_independent(seed, n, side):
    check_orderings(make_instance(seed, n, side, kmax=4))


@pytest.mark.slow
@settings(SLOW, max_examples=80)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 3), side=st.sampled_from(["buy", "sell"]))
def test_orderings_independent_many(seed, n, side):
    """test_orderings_independent with 80 examples (the default run draws a few:
    conftest.py, helpers.examples)."""
    test_orderings_independent.hypothesis.inner_test(
        seed=seed, n=n, side=side)


@settings(SLOW, max_examples=examples(80, 5))
@given(seed=st.integers(0, 10**6), n=st.integers(2, 3), side=st.sampled_from(["buy", "sell"]),
       zeros=st.booleans())
def test_orderings_correlated(seed, n, side, zeros):
    check_orderings(make_instance(seed, n, side, correlated=True, zeros=zeros, kmax=4))


@pytest.mark.slow
@settings(SLOW, max_examples=80)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 3), side=st.sampled_from(["buy", "sell"]),
       zeros=st.booleans())
def test_orderings_correlated_many(seed, n, side, zeros):
    """test_orderings_correlated with 80 examples (the default run draws a few:
    conftest.py, helpers.examples)."""
    test_orderings_correlated.hypothesis.inner_test(
        seed=seed, n=n, side=side, zeros=zeros)


@pytest.mark.parametrize("correlated, zeros", [(False, False), (True, False), (True, True)])
def test_pareto_weights(correlated, zeros):
    inst = make_instance(7, 2, "buy", correlated=correlated, zeros=zeros)
    fb = first_best(inst)
    for lam in (0.0, 0.3, 1.0):
        res = solve_checked(inst, pareto=lam)
        assert res.profit + res.surplus <= fb + 1e-8
        assert res.value == pytest.approx(res.profit + lam * res.surplus, abs=1e-8)
    if not correlated:
        # λ = 1 maximizes welfare: the efficient x has monotone interim X_i, so it is BIC with
        # the transfers of theory.md section 6, and a subsidy makes it IR.
        assert solve_checked(inst, pareto=1.0).value == pytest.approx(fb, abs=1e-8)


# --------------------------------------------------------------------------- errors and results
def test_pareto_above_one_and_empty_veto_are_rejected():
    inst = two_by_two()
    with pytest.raises(InstanceError, match="mechanism.pareto"):
        solve_general(inst, mechanism=Mechanism(pareto=1.5))
    with pytest.raises(InstanceError, match="mechanism.veto"):
        solve_general(inst, mechanism=Mechanism(veto=()))
    with pytest.raises(InstanceError, match="mechanism.veto"):
        solve_general(inst, mechanism={"veto": ["nobody"]})


def test_failed_audit_raises(monkeypatch):
    def broken(*args, **kwargs):
        return Audit(max_ic_violation=1.0, max_ir_violation=0.0, profit=0.3125, max_bound_violation=0.0,
                     ic_relative=0.5)

    monkeypatch.setattr(lpmech.checks, "verify", broken)      # the general LP's audit lives in checks.py
    with pytest.raises(CheckError, match="ic_relative") as err:
        solve_general(two_by_two())
    assert err.value.failed == ["ic_relative"] and err.value.limits["ic_relative"] == 1e-7


def test_result_to_dict_and_summary():
    inst = make_instance(3, 2, "sell")
    res = solve_checked(inst, ic="dominant")
    d = json.loads(json.dumps(res.to_dict()))
    assert set(d) == {"status", "highs_status", "side", "formulation", "mechanism", "value", "allocation",
                      "transfer", "interim", "checks", "solve_seconds", "participation_weights"}
    w = np.array(d["participation_weights"])
    assert w.shape == (inst.n,) and np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
    assert d["status"] == "optimal" and d["highs_status"] == "Optimal"
    assert d["formulation"] == "general" and d["side"] == "sell"
    assert np.array(d["allocation"]).shape == inst.shape
    assert d["mechanism"]["ic"] == "dominant" and d["mechanism"]["veto"] == inst.names
    for key in ("max_ic_violation", "max_ir_violation", "analytic_gap", "first_best"):
        assert key in d["checks"]
    for a, row in zip(inst.agents, d["interim"]):
        assert row["agent"] == a.name and len(row["trade_probability"]) == a.size
        assert row["expected_transfer"] == row["transfer"]              # one vocabulary with SolveResult
    # Sell side: the group pays, so the interim utility is share·(θ X − E[m]).
    row, share = d["interim"][0], inst.shares[0]
    expect = share * (np.array(row["grid"]) * row["trade_probability"] - np.array(row["transfer"]))
    assert np.allclose(row["utility"], expect)
    text = res.summary()
    assert "status optimal" in text and "dominant-strategy IC" in text


# --------------------------------------------------------------------------- cvxpy model
MODEL_CASES = [(1, "buy", False, {}), (2, "sell", False, {}), (3, "buy", False, {"ic": "dominant"}),
               (4, "sell", True, {"participation": "ex-post"}), (5, "buy", True, {"pareto": 0.5}),
               (6, "buy", False, {"veto": ("a0",)})]


@pytest.mark.parametrize("seed, side, correlated, mech", MODEL_CASES)
def test_model_matches_general(seed, side, correlated, mech):
    inst = make_instance(seed, 2, side, correlated=correlated, zeros=correlated, kmax=4)
    inst = replace(inst, mechanism=replace(inst.mechanism, **mech), agents=inst.agents)
    gm = model(inst)
    assert set(gm.constraints) == {"bounds", "ic", "participation"}
    assert gm.solve() == pytest.approx(solve_general(inst).value, abs=1e-6)
    assert gm.allocation().shape == inst.shape


def test_model_extra_constraints_move_the_value_the_expected_way():
    inst = make_instance(11, 2, "buy", kmax=4)
    gm = model(inst)
    base = gm.solve()
    traded = float(gm.expect(gm.x).value)
    # The largest trade probability among optimal mechanisms; asking for more must cost profit.
    most = cp.Problem(cp.Maximize(gm.expect(gm.x)), gm.all_constraints() + [gm.objective.args[0] >= base - 1e-9])
    most.solve(solver="HIGHS")
    assert most.value < 0.95
    assert gm.solve(extra_constraints=[gm.expect(gm.x) >= most.value + 0.05]) < base - 1e-7
    assert gm.solve(extra_constraints=[gm.expect(gm.x) >= traded / 2]) == pytest.approx(base, abs=1e-7)
    # A budget cap never helps.
    cap = float(np.max(inst.grids[0])) * 0.5
    assert gm.solve(extra_constraints=[gm.m <= cap]) <= base + 1e-9
    with pytest.raises(SolverError):
        gm.solve(extra_constraints=[gm.x >= 1, gm.m <= -1])


# --------------------------------------------------------------------------- compare and frontier
def test_compare_table():
    table = compare(two_by_two())
    assert [r["value"] for r in table.rows] == pytest.approx([0.3125, 0.3125, 0.3125, 0.25])
    assert table.posted["price"] == 0.75 and table.first_best == 0.5
    d = json.loads(json.dumps(table.to_dict()))
    assert d["rows"][3]["share_of_first_best"] == pytest.approx(0.5)
    lines = table.summary().splitlines()
    body = lines[lines.index(next(l for l in lines if l.startswith("---"))) + 1:][:6]
    assert len({len(l) for l in body}) == 1                         # aligned columns
    assert lines[-3].startswith("value: the designer's expected profit")   # the notions are defined


def test_compare_works_with_a_joint_pmf():
    table = compare(load(os.path.join(GRIDS, "correlated_sellers.toml")))
    assert table.posted["value"] <= min(r["value"] for r in table.rows) + 1e-9


def test_frontier_writes_atomically(tmp_path, monkeypatch):
    inst = make_instance(5, 2, "buy", kmax=4)
    f = frontier(inst, progress=False)
    lams = [r["lambda"] for r in f.rows]
    assert lams == sorted(lams) and lams[0] == 0.0 and lams[-1] == 1.0
    surplus = [r["surplus"] for r in f.rows]
    assert all(b >= a - 1e-8 for a, b in zip(surplus, surplus[1:]))     # surplus rises with λ
    assert f.rows[-1]["welfare"] == pytest.approx(first_best(inst), abs=1e-8)
    paths = f.write(tmp_path)
    with open(paths["csv"]) as fh:
        assert len(list(csv.DictReader(fh))) == len(f.rows)
    assert open(paths["png"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    before = open(paths["png"], "rb").read()

    def boom(self, fh):
        fh.write(b"half a picture")
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(f), "_png", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        f.write(tmp_path)
    assert open(paths["png"], "rb").read() == before                    # the old file is intact
    assert sorted(os.listdir(tmp_path)) == ["frontier.csv", "frontier.png"]   # no temp files left
    with pytest.raises(ValueError, match="unbounded"):
        frontier(inst, lambdas=[0.5, 2.0], progress=False)


# --------------------------------------------------------------------------- grids and bad input
def test_shipped_grids_load_and_solve():
    corr = load(os.path.join(GRIDS, "correlated_sellers.toml"))
    assert corr.side == "buy" and corr.n == 2 and not corr.independent
    assert 4 <= min(corr.shape) and max(corr.shape) <= 6
    joint = corr.joint_pmf()
    g0, g1 = np.meshgrid(corr.grids[0], corr.grids[1], indexing="ij")
    cov = np.sum(joint * g0 * g1) - np.sum(joint * g0) * np.sum(joint * g1)
    assert cov > 0                                                      # positive correlation
    veto = load(os.path.join(GRIDS, "partial_veto.toml"))
    assert veto.n == 3 and 1 <= len(veto.mechanism.veto) <= 2
    partial = solve_checked(veto).value
    everyone = solve_checked(veto, veto=None).value
    assert partial >= everyone - 1e-9


BAD = {
    "joint shape": ('[joint]\nprobs = [[0.5, 0.5]]\n', "joint.probs", ""),
    "joint negative": ('[joint]\nprobs = [[0.6, -0.1], [0.25, 0.25]]\n', "joint.probs", ""),
    "joint sum": ('[joint]\nprobs = [[0.3, 0.3], [0.3, 0.3]]\n', "joint.probs", ""),
    "joint zero own type": ('[joint]\nprobs = [[0.5, 0.5], [0.0, 0.0]]\n', "joint.probs", ""),
    "joint with probs": ('[joint]\nprobs = [[0.25, 0.25], [0.25, 0.25]]\n', "probs", "probs = [0.5, 0.5]\n"),
    "unknown veto": ('[mechanism]\nveto = ["zed"]\n', "mechanism.veto", ""),
    "unknown ic": ('[mechanism]\nic = "ex-interim"\n', "mechanism.ic", ""),
    "unknown participation": ('[mechanism]\nparticipation = "ex-interim"\n', "mechanism.participation", ""),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_the_field(tmp_path, case):
    tail, field, probs_line = BAD[case]
    text = 'side = "buy"\nbuyer_value = 1.0\n'
    for name in ("a", "b"):
        text += f'\n[[agents]]\nname = "{name}"\ngrid = [0.2, 0.6]\n{probs_line}'
    if "joint" not in tail:
        text = text.replace("grid = [0.2, 0.6]\n", "grid = [0.2, 0.6]\nprobs = [0.5, 0.5]\n")
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n" + tail)
    with pytest.raises(InstanceError) as err:
        load(path)
    assert f"field {field!r}" in str(err.value)
    assert str(path) in str(err.value)


# --------------------------------------------------------------------------- larger instances
@pytest.mark.slow
@pytest.mark.parametrize("n, k", [(2, 30), (3, 10)])
def test_agreement_on_larger_uniform_grids(n, k):
    g = (np.arange(k) + 0.5) / k
    inst = Instance("buy", [Agent(f"s{i}", g, np.full(k, 1 / k)) for i in range(n)], buyer_value=1.0)
    assert solve_checked(inst).value == pytest.approx(maximin_value(inst), rel=1e-7)
    check_orderings(inst)
