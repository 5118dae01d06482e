"""Participation variants (docs/model.md, section 11): ex-ante participation, outside options,
consent of any k agents; each against an LP written here from the definitions with
scipy.optimize.linprog over (x, m) (shared transfer) or (x, m_1, ..., m_N) (individual)."""

import itertools
import json

import numpy as np
import pytest
from helpers import run_cli
from scipy.optimize import linprog

from lpmech.checks import own_payoff_audit
from lpmech.errors import InstanceError
from lpmech.general import solve_general
from lpmech.instance import Agent, Instance, Mechanism


def reference_lp(inst, *, ic="bayesian", participation="interim", vetoes=None, outside=None, individual=False,
                 no_subsidy=False, max_transfer=None, budget=None, min_trade=None):
    """Agent i's payoff sign·(M_i − σ_i θ_i x), M_i = σ_i m (shared) or m_i (individual); participation:
    payoff >= r_i(t) at every type (interim) / profile (ex post) / on average over types (ex ante)."""
    side, d = inst.side, inst.designer_value
    grids, shares, joint = [np.asarray(g) for g in inst.grids], np.asarray(inst.shares), inst.joint_pmf()
    sign = 1.0 if side == "buy" else -1.0
    shape = joint.shape
    profiles = list(itertools.product(*[range(k) for k in shape]))
    n, N = len(profiles), len(grids)
    pos = {p: j for j, p in enumerate(profiles)}
    nv = n * (N + 1 if individual else 2)
    vetoes = list(range(N)) if vetoes is None else vetoes
    outside = outside or {}

    def payoff(i, t, prof):
        row = np.zeros(nv)
        j = pos[prof]
        row[j] = -sign * shares[i] * grids[i][t]
        if individual:
            row[n * (i + 1) + j] = sign
        else:
            row[n + j] = sign * shares[i]
        return row

    rows, rhs = [], []
    for i in range(N):
        r = np.broadcast_to(np.asarray(outside.get(i, 0.0), dtype=float), grids[i].shape)
        ex_ante, ex_ante_rhs = np.zeros(nv), 0.0
        for t in range(shape[i]):
            others = [p for p in profiles if p[i] == t]
            mass = sum(joint[p] for p in others)

            def at(s, p, i=i):
                q = list(p); q[i] = s
                return tuple(q)
            truth = sum(joint[p] / mass * payoff(i, t, p) for p in others)
            if i in vetoes:
                if participation == "interim":
                    rows.append(truth); rhs.append(r[t])
                elif participation == "ex-post":
                    rows += [payoff(i, t, p) for p in others]; rhs += [r[t]] * len(others)
                else:
                    ex_ante += mass * truth; ex_ante_rhs += mass * r[t]
            for s in range(shape[i]):
                if s != t:
                    if ic == "bayesian":
                        rows.append(truth - sum(joint[p] / mass * payoff(i, t, at(s, p)) for p in others))
                        rhs.append(0.0)
                    else:
                        rows += [payoff(i, t, p) - payoff(i, t, at(s, p)) for p in others]
                        rhs += [0.0] * len(others)
        if i in vetoes and participation == "ex-ante":
            rows.append(ex_ante); rhs.append(ex_ante_rhs)
    c = np.zeros(nv)
    total = np.zeros((n, nv))                      # the total transfer at each profile
    for p, j in pos.items():
        c[j] = sign * d * joint[p]
        for blk in range(1, nv // n):
            c[n * blk + j] = -sign * joint[p]
            total[j, n * blk + j] = 1.0
    expected_m = sum(joint[p] * total[j] for p, j in pos.items())
    if no_subsidy:
        rows += list(total); rhs += [0.0] * n
    if max_transfer is not None:
        rows += list(-total); rhs += [-max_transfer] * n
    if budget is not None:
        rows.append(-expected_m); rhs.append(-budget)
    if min_trade is not None:
        row = np.zeros(nv)
        for p, j in pos.items():
            row[j] = joint[p]
        rows.append(row); rhs.append(min_trade)
    res = linprog(-c, A_ub=-np.array(rows), b_ub=-np.array(rhs),
                  bounds=[(0, 1)] * n + [(None, None)] * (nv - n), method="highs")
    if res.status == 2:
        return None                                # infeasible
    assert res.status == 0, res.message
    return -res.fun


def _three(side="buy"):
    agents = [Agent("a", [0.25, 0.75], [0.5, 0.5], share=0.5), Agent("b", [0.1, 0.5, 0.8], [0.3, 0.4, 0.3], share=0.3),
              Agent("c", [0.3, 0.6], [0.3, 0.7], share=0.2)]
    kw = {"buyer_value": 1.2} if side == "buy" else {"seller_cost": 0.2}
    return Instance(side, agents, **kw)


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("participation", ["interim", "ex-post", "ex-ante"])
@pytest.mark.parametrize("ic", ["bayesian", "dominant"])
def test_participation_and_outside_options_against_reference(side, participation, ic):
    inst = _three(side)
    outside = {"a": 0.02, "b": [0.05, 0.0, -0.01]}
    for opts, ref in (({}, {}), ({"outside_option": outside}, {0: 0.02, 1: [0.05, 0.0, -0.01]})):
        res = solve_general(inst, mechanism={"ic": ic, "participation": participation, **opts})
        assert res.value == pytest.approx(reference_lp(inst, ic=ic, participation=participation, outside=ref),
                                          rel=1e-8, abs=1e-11)
        ind = solve_general(inst, mechanism={"ic": ic, "participation": participation, "transfers": "individual",
                                             **opts})
        assert ind.value == pytest.approx(reference_lp(inst, ic=ic, participation=participation, outside=ref,
                                                       individual=True), rel=1e-8, abs=1e-11)


def test_correlated_ex_ante_against_reference():
    joint = np.array([[0.3, 0.1, 0.05], [0.1, 0.2, 0.05], [0.05, 0.05, 0.1]])
    inst = Instance("buy", [Agent("a", [0.1, 0.4, 0.8]), Agent("b", [0.2, 0.3, 0.7])], buyer_value=1.0, joint=joint)
    res = solve_general(inst, mechanism={"participation": "ex-ante", "outside_option": {"b": 0.03}})
    assert res.value == pytest.approx(reference_lp(inst, participation="ex-ante", outside={1: 0.03}), rel=1e-8)


def test_consent_picks_the_best_coalition():
    inst = _three()
    for k in (1, 2, 3):
        res = solve_general(inst, mechanism={"consent": k})
        expected = {c: reference_lp(inst, vetoes=[inst.names.index(a) for a in c])
                    for c in itertools.combinations(inst.names, k)}
        assert len(res.coalitions) == len(expected)
        for row in res.coalitions:
            assert row["value"] == pytest.approx(expected[tuple(row["veto"])], rel=1e-8)
        assert res.value == pytest.approx(max(expected.values()), rel=1e-8)
        assert expected[res.vetoes] == pytest.approx(max(expected.values()), rel=1e-8)
    assert solve_general(inst, mechanism={"consent": 3}).value == pytest.approx(solve_general(inst).value, rel=1e-10)


def test_ex_ante_audit_catches_a_violation():
    inst = _three()
    res = solve_general(inst, mechanism={"participation": "ex-ante"})
    shares = inst.shares.reshape(-1, 1, 1, 1)
    inst2 = Instance("buy", list(inst.agents), buyer_value=1.2,
                     mechanism=Mechanism(participation="ex-ante", outside_option={"a": 0.01}))
    worst = own_payoff_audit(inst2, res.allocation, shares * res.transfer[None], ic="bayesian",
                             participation="ex-ante", vetoes=inst.names)
    assert worst["ir_relative"] > 1e-4      # the ex-ante solution without options leaves no room


@pytest.mark.parametrize("mech,field", [({"consent": 0}, "mechanism.consent"), ({"consent": 4}, "mechanism.consent"),
                                        ({"consent": 2, "veto": ["a"]}, "mechanism.consent"),
                                        ({"outside_option": {"b": [0.1, 0.2]}}, "outside_option"),
                                        ({"outside_option": {"z": 0.1}}, "outside_option"),
                                        ({"consent": 2, "transfers": "individual"}, "mechanism.consent")])
def test_bad_options(mech, field):
    with pytest.raises(InstanceError) as err:
        solve_general(_three(), mechanism=mech)
    assert err.value.field == field


_FILE = """side = "buy"
buyer_value = 1.2
[mechanism]
{mech}
[[agents]]
name = "a"
grid = [0.25, 0.75]
probs = [0.5, 0.5]
share = 0.5
{extra}
[[agents]]
name = "b"
grid = [0.1, 0.5, 0.8]
probs = [0.3, 0.4, 0.3]
share = 0.5
"""


_run = run_cli


@pytest.mark.integration
def test_files_and_command_line(tmp_path):
    from lpmech.loader import load

    good = tmp_path / "g.toml"
    good.write_text(_FILE.format(mech='participation = "ex-ante"\nconsent = 1', extra="outside_option = [0.01, 0.0]"))
    inst = load(str(good))
    assert inst.mechanism.consent == 1 and inst.mechanism.outside_options() == {"a": (0.01, 0.0)}
    out = tmp_path / "o.json"
    proc = _run("solve", str(good), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    best = max(reference_lp(inst, participation="ex-ante", vetoes=[v], outside={0: [0.01, 0.0]}) for v in (0, 1))
    assert json.loads(out.read_text())["value"] == pytest.approx(best, rel=1e-8)
    assert "consent of any 1 agent" in proc.stdout
    proc = _run("solve", str(good), "--consent", "2", "--participation", "interim", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["value"] == pytest.approx(
        reference_lp(inst, outside={0: [0.01, 0.0]}), rel=1e-8)
    for j, (mech, extra, field) in enumerate((("consent = 3", "", "mechanism.consent"),
                                              ("", "outside_option = [0.1, 0.2, 0.3]", "outside_option"),
                                              ('participation = "ex-ante"', "outside_option = \"high\"",
                                               "outside_option"))):
        bad = tmp_path / f"bad{j}.toml"
        bad.write_text(_FILE.format(mech=mech, extra=extra))
        with pytest.raises(InstanceError) as err:
            load(str(bad))
        assert err.value.field == field and str(bad) in str(err.value)
    proc = _run("solve", str(bad))                # what the shell sees: one line, exit 2
    assert proc.returncode == 2 and "outside_option" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    from fractions import Fraction

    from lpmech.exact import certify_general

    cert = certify_general(inst)                   # ex-ante IR, consent of 1, an outside option: proven exactly
    assert cert.proven and cert.lower == cert.upper == cert.value
    assert isinstance(cert.value, Fraction)        # an exact rational, not a float
    assert float(cert.value) == pytest.approx(best, rel=1e-9)   # the float LP's value and the reference LP's
    assert cert.checks["best_coalition"] in (["a"], ["b"]) and "ex-ante participation" in cert.checks["covers"]
    assert cert.checks["exact_numbers"] == {"outside_option.a": "file"}   # 0.01 read as 1/100



# --------------------------------------------------------------------------- transfer and trade constraints
_LIMITS = [{"no_subsidy": True}, {"max_transfer": 0.3}, {"budget": 0.15}, {"min_trade_probability": 0.8},
           {"no_subsidy": True, "budget": 0.25, "min_trade_probability": 0.6}]


def _ref_kw(opts):
    return {"no_subsidy": opts.get("no_subsidy", False), "max_transfer": opts.get("max_transfer"),
            "budget": opts.get("budget"), "min_trade": opts.get("min_trade_probability")}


@pytest.mark.parametrize("opts", _LIMITS)
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_limits_against_reference(opts, side):
    inst = _three(side)
    if side == "sell" and "budget" in opts:       # on the sell side m flows to the designer: cap it low
        opts = {**opts, "budget": 0.1}
    ref = reference_lp(inst, **_ref_kw(opts))
    if ref is None:                               # infeasible in the reference: HiGHS must say so too
        from lpmech.errors import SolverError

        with pytest.raises(SolverError, match="Infeasible"):
            solve_general(inst, mechanism=opts)
        with pytest.raises(SolverError, match="Infeasible"):
            solve_general(inst, mechanism={**opts, "transfers": "individual"})
        return
    res = solve_general(inst, mechanism=opts)
    assert res.value == pytest.approx(ref, rel=1e-8, abs=1e-11)
    ind = solve_general(inst, mechanism={**opts, "transfers": "individual"})
    assert ind.value == pytest.approx(reference_lp(inst, individual=True, **_ref_kw(opts)), rel=1e-8, abs=1e-11)
    from lpmech.model import model

    gm = model(inst, mechanism=opts)
    assert gm.solve() == pytest.approx(ref, rel=1e-7, abs=1e-10)
    assert set(opts) & set(gm.constraints) == set(opts) - {"transfers"}


def test_limits_bind_and_are_audited():
    from lpmech.checks import limits_audit

    inst = _three()
    free = solve_general(inst)
    capped = solve_general(inst, mechanism={"budget": 0.1})
    assert capped.value < free.value - 1e-3                 # the budget binds
    assert float(np.sum(inst.joint_pmf() * capped.transfer)) <= 0.1 + 1e-9
    inst_b = Instance("buy", list(inst.agents), buyer_value=1.2, mechanism=Mechanism(budget=0.1, no_subsidy=True))
    measured, limits = limits_audit(inst_b, free.allocation, free.transfer + 1.0, 1.0)
    assert measured["budget_violation"] > limits["budget_violation"]
    measured, limits = limits_audit(inst_b, free.allocation, free.transfer - 1.0, 1.0)
    assert measured["no_subsidy_violation"] > limits["no_subsidy_violation"]


@pytest.mark.integration
def test_infeasible_limits_exit_1_with_highs_status(tmp_path):
    from lpmech.errors import SolverError

    with pytest.raises(SolverError, match="Infeasible"):
        solve_general(_three(), mechanism={"budget": -1.0, "no_subsidy": True})
    f = tmp_path / "l.toml"
    f.write_text(_FILE.format(mech="no_subsidy = true\nbudget = -0.5", extra=""))
    proc = _run("solve", str(f))
    assert proc.returncode == 1 and "Infeasible" in proc.stderr and "Traceback" not in proc.stderr
    f.write_text(_FILE.format(mech="", extra=""))
    out = tmp_path / "o.json"
    from lpmech.loader import load

    ref = reference_lp(load(str(f)), no_subsidy=True, max_transfer=0.6, budget=0.3, min_trade=0.5)
    assert ref is not None
    proc = _run("solve", str(f), "--no-subsidy", "--max-transfer", "0.6", "--budget", "0.3",
                "--min-trade-probability", "0.5", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["value"] == pytest.approx(ref, rel=1e-8)
    f.write_text(_FILE.format(mech="min_trade_probability = 1.5", extra=""))
    proc = _run("solve", str(f))
    assert proc.returncode == 2 and "mechanism.min_trade_probability" in proc.stderr
