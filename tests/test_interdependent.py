"""Interdependent values (docs/model.md, section 11): agent i's cost per share (value on the sell
side) at θ is θ_i + Σ_j γ_ij θ_j. Checked against an LP written here from the definitions
(scipy.optimize.linprog over (x, m) or (x, m_1..m_N)), against the private-values LP at γ = 0,
and the first best against a direct sum."""

import itertools
import json

import numpy as np
import pytest
from helpers import run_cli
from scipy.optimize import linprog

from lpmech.errors import InstanceError
from lpmech.general import first_best, solve_general
from lpmech.instance import Agent, Instance


def reference(inst, gamma, *, ic="bayesian", participation="interim", individual=False):
    sign = 1.0 if inst.side == "buy" else -1.0
    grids, shares, joint = [np.asarray(g) for g in inst.grids], np.asarray(inst.shares), inst.joint_pmf()
    shape = joint.shape
    profiles = list(itertools.product(*[range(k) for k in shape]))
    n, N = len(profiles), len(grids)
    pos = {p: j for j, p in enumerate(profiles)}
    nv = n * (N + 1 if individual else 2)

    def cost(i, t, p):                   # agent i of true type t, the others' true types from p
        return grids[i][t] + sum(gamma[i][j] * grids[j][p[j]] for j in range(N) if j != i)

    def payoff(i, t, report, p):         # report: the profile reached; costs from the true types
        row = np.zeros(nv)
        j = pos[report]
        row[j] = -sign * shares[i] * cost(i, t, p)
        if individual:
            row[n * (i + 1) + j] = sign
        else:
            row[n + j] = sign * shares[i]
        return row

    rows = []
    for i in range(N):
        for t in range(shape[i]):
            others = [p for p in profiles if p[i] == t]
            mass = sum(joint[p] for p in others)

            def at(s, p, i=i):
                q = list(p); q[i] = s
                return tuple(q)
            truth = sum(joint[p] / mass * payoff(i, t, p, p) for p in others)
            if participation == "interim":
                rows.append(truth)
            else:
                rows += [payoff(i, t, p, p) for p in others]
            for s in range(shape[i]):
                if s != t:
                    if ic == "bayesian":
                        rows.append(truth - sum(joint[p] / mass * payoff(i, t, at(s, p), p) for p in others))
                    else:                # ex-post IC: every profile of truthful others
                        rows += [payoff(i, t, p, p) - payoff(i, t, at(s, p), p) for p in others]
    c = np.zeros(nv)
    for p, j in pos.items():
        c[j] = sign * inst.designer_value * joint[p]
        for blk in range(1, nv // n):
            c[n * blk + j] = -sign * joint[p]
    res = linprog(-c, A_ub=-np.array(rows), b_ub=np.zeros(len(rows)),
                  bounds=[(0, 1)] * n + [(None, None)] * (nv - n), method="highs")
    assert res.status == 0, res.message
    return -res.fun


AGENTS = [Agent("a", [0.25, 0.75], [0.5, 0.5], share=0.6), Agent("b", [0.1, 0.5, 0.8], [0.3, 0.4, 0.3], share=0.4)]
GAMMA = [[0.0, 0.3], [0.2, 0.0]]


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("ic,participation", [("bayesian", "interim"), ("ex-post", "ex-post"),
                                              ("bayesian", "ex-post"), ("ex-post", "interim")])
def test_against_reference(side, ic, participation):
    kw = {"buyer_value": 1.2} if side == "buy" else {"seller_cost": 0.2}
    inst = Instance(side, AGENTS, interdependence=GAMMA, **kw)
    res = solve_general(inst, mechanism={"ic": ic, "participation": participation})
    assert res.value == pytest.approx(reference(inst, GAMMA, ic=ic, participation=participation), rel=1e-8, abs=1e-11)
    ind = solve_general(inst, mechanism={"ic": ic, "participation": participation, "transfers": "individual"})
    assert ind.value == pytest.approx(reference(inst, GAMMA, ic=ic, participation=participation, individual=True),
                                      rel=1e-8, abs=1e-11)


def test_correlated_against_reference():
    joint = np.array([[0.3, 0.1, 0.05], [0.1, 0.2, 0.05], [0.05, 0.05, 0.1]])
    agents = [Agent("a", [0.1, 0.4, 0.8]), Agent("b", [0.2, 0.3, 0.7])]
    gamma = [[0.0, -0.2], [0.4, 0.0]]
    inst = Instance("buy", agents, buyer_value=1.0, joint=joint, interdependence=gamma)
    assert solve_general(inst).value == pytest.approx(reference(inst, gamma), rel=1e-8)


@pytest.mark.parametrize("ic,participation", [("bayesian", "interim"), ("dominant", "ex-post"), ("ex-post", "interim")])
def test_zero_gamma_is_private_values(ic, participation):
    base = Instance("buy", AGENTS, buyer_value=1.2)
    zero = Instance("buy", AGENTS, buyer_value=1.2, interdependence=[[0.0, 0.0], [0.0, 0.0]])
    a = solve_general(base, mechanism={"ic": ic, "participation": participation}).value
    b = solve_general(zero, mechanism={"ic": ic, "participation": participation}).value
    assert b == pytest.approx(a, rel=1e-10)
    if ic != "dominant":                  # with private values ex-post IC is DSIC
        assert solve_general(base, mechanism={"ic": "ex-post", "participation": participation}).value == \
            pytest.approx(solve_general(base, mechanism={"ic": "dominant", "participation": participation}).value)


def test_first_best_uses_interdependent_costs():
    inst = Instance("buy", AGENTS, buyer_value=1.2, interdependence=GAMMA)
    direct = 0.0
    for ta, tb in itertools.product(range(2), range(3)):
        ca = AGENTS[0].grid[ta] + 0.3 * AGENTS[1].grid[tb]
        cb = AGENTS[1].grid[tb] + 0.2 * AGENTS[0].grid[ta]
        direct += AGENTS[0].probs[ta] * AGENTS[1].probs[tb] * max(1.2 - 0.6 * ca - 0.4 * cb, 0.0)
    assert first_best(inst) == pytest.approx(direct, rel=1e-12)
    assert solve_general(inst).value <= direct


def test_bad_gamma():
    for gamma, msg in (([[0.0, 0.3]], "N x N"), ([[0.1, 0.3], [0.2, 0.0]], "zero diagonal"),
                       ([[0.0, "x"], [0.2, 0.0]], "number")):
        with pytest.raises(InstanceError, match=msg) as err:
            Instance("buy", AGENTS, buyer_value=1.2, interdependence=gamma)
        assert err.value.field == "interdependence"
    inst = Instance("buy", AGENTS, buyer_value=1.2, interdependence=GAMMA)
    with pytest.raises(InstanceError, match="ex-post"):
        solve_general(inst, mechanism={"ic": "dominant"})


_FILE = """side = "buy"
buyer_value = 1.2
interdependence = {gamma}
[[agents]]
name = "a"
grid = [0.25, 0.75]
probs = [0.5, 0.5]
share = 0.6
[[agents]]
name = "b"
grid = [0.1, 0.5, 0.8]
probs = [0.3, 0.4, 0.3]
share = 0.4
"""


_run = run_cli


@pytest.mark.integration
def test_file_and_command_line(tmp_path):
    f = tmp_path / "i.toml"
    f.write_text(_FILE.format(gamma="[[0.0, 0.3], [0.2, 0.0]]"))
    out = tmp_path / "o.json"
    proc = _run("solve", str(f), "--ic", "ex-post", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    inst = Instance("buy", AGENTS, buyer_value=1.2, interdependence=GAMMA)
    assert json.loads(out.read_text())["value"] == pytest.approx(reference(inst, GAMMA, ic="ex-post"), rel=1e-8)
    proc = _run("compare", str(f))
    assert proc.returncode == 0, proc.stderr
    assert "ex-post IC, ex post IR" in proc.stdout and "DSIC, " not in proc.stdout
    f.write_text(_FILE.format(gamma="[[0.5, 0.3], [0.2, 0.0]]"))
    proc = _run("solve", str(f))
    assert proc.returncode == 2 and "interdependence" in proc.stderr and str(f) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
