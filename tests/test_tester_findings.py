"""Regression tests for an outside tester's findings on the model-coverage features (issue 13).

1. A transfer cap, budget, outside option or interdependence far outside the instance's money
   scale gave a wrong answer at exit 0 (a capped value above the uncapped optimum), HiGHS
   'Unknown' or "model rejected". Now: a cap or budget that does not bind is dropped exactly
   (the optimum without it satisfies it, so it is optimal with it), anything else above
   MAX_SPREAD money units is refused (InstanceError, exit 2). Swept over 1e0..1e15 against an
   LP written here from the definitions (scipy's linprog).
2. One agent with ``interdependence = [[0.0]]`` crashed ``solve`` and ``compare``.
3. compare's rows that replace the file's individual transfers by one shared transfer say so;
   the file row carries its twin row's certificate; a row above 100% of first best is explained.
4. ``--full`` without ``--json`` names the option; ``--budget -1e-3`` parses.
"""

import itertools
import json

import numpy as np
import pytest
from helpers import cli_calls
from scipy.optimize import linprog

from lpmech.errors import InstanceError, SolverError
from lpmech.general import solve_general
from lpmech.instance import Agent, Instance, Mechanism
from lpmech.tolerances import MAX_SPREAD

TINY_TOML = """
name = "tiny"
side = "{side}"
{value} = 1.0
{extra}
[[agents]]
name = "a"
share = 0.4
grid = [0.1, 0.5, 0.9]
probs = [0.3, 0.4, 0.3]

[[agents]]
name = "b"
share = 0.6
grid = [0.2, 0.6]
probs = [0.5, 0.5]

[mechanism]
{mech}
"""


def tiny_file(tmp_path, name="t.toml", side="buy", extra="", mech=""):
    path = tmp_path / name
    value = "buyer_value" if side == "buy" else "seller_cost"
    path.write_text(TINY_TOML.format(side=side, value=value, extra=extra, mech=mech))
    return path


def agents():
    return [Agent("a", [0.1, 0.5, 0.9], [0.3, 0.4, 0.3], share=0.4), Agent("b", [0.2, 0.6], [0.5, 0.5], share=0.6)]


def reference(side, *, cap=None, budget=None, option=0.0, gamma=None):
    """The shared-transfer LP (Bayesian IC, interim IR, both vetoes) from the definitions, with
    agent a's outside option ``option`` (every type), m <= cap, E[m] <= budget and γ; linprog.

    Returns (optimal value, the optimal transfers m)."""
    grids = [np.array([0.1, 0.5, 0.9]), np.array([0.2, 0.6])]
    probs = [np.array([0.3, 0.4, 0.3]), np.array([0.5, 0.5])]
    shares = [0.4, 0.6]
    gamma = np.zeros((2, 2)) if gamma is None else np.asarray(gamma, dtype=float)
    sign = 1.0 if side == "buy" else -1.0
    profiles = list(itertools.product(range(3), range(2)))
    n = len(profiles)
    pos = {p: j for j, p in enumerate(profiles)}
    joint = {p: probs[0][p[0]] * probs[1][p[1]] for p in profiles}

    def payoff(i, p_true, p_report):
        cost = grids[i][p_true[i]] + sum(gamma[i, j] * grids[j][p_true[j]] for j in range(2) if j != i)
        row = np.zeros(2 * n)
        row[pos[p_report]] = -sign * shares[i] * cost
        row[n + pos[p_report]] = sign * shares[i]
        return row

    A, b = [], []
    for i in range(2):
        for t in range(len(grids[i])):
            others = [p for p in profiles if p[i] == t]
            mass = sum(joint[p] for p in others)

            def moved(p, s, i=i):
                q = list(p)
                q[i] = s
                return tuple(q)

            truth = sum(joint[p] / mass * payoff(i, p, p) for p in others)
            A.append(-truth)
            b.append(-(option if i == 0 else 0.0))
            for s in range(len(grids[i])):
                if s != t:
                    A.append(-(truth - sum(joint[p] / mass * payoff(i, p, moved(p, s)) for p in others)))
                    b.append(0.0)
    if budget is not None:
        A.append(np.concatenate([np.zeros(n), [joint[p] for p in profiles]]))
        b.append(budget)
    c = np.array([sign * joint[p] for p in profiles] + [-sign * joint[p] for p in profiles])
    res = linprog(-c, A_ub=np.array(A), b_ub=np.array(b), bounds=[(0, 1)] * n + [(None, cap)] * n, method="highs")
    assert res.status == 0, res.message
    return -res.fun, res.x[n:]


SWEEP = [10.0**k for k in range(16)]


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("key", ["max_transfer", "budget"])
def test_far_cap_or_budget_is_exact_or_refused(side, key):
    """Never a capped value above the uncapped optimum: each answer equals the reference LP's
    optimum with the limit (where the limit is within the LP's resolution) or, when the
    reference's uncapped optimum satisfies the limit (so it cannot bind), the uncapped one."""
    free, m_free = reference(side)
    refused = []
    mean = np.array([0.3, 0.4, 0.3])[:, None] * np.array([0.5, 0.5])[None, :]
    for X in SWEEP:
        inst = Instance(side, agents(), buyer_value=1.0, mechanism=Mechanism(**{key: X})) if side == "buy" else \
            Instance(side, agents(), seller_cost=1.0, mechanism=Mechanism(**{key: X}))
        try:
            res = solve_general(inst)
        except InstanceError as err:  # only a limit far out (1e6 times the largest type) that binds
            assert X > 1e6 and err.field == f"mechanism.{key}"
            refused.append(X)
            continue
        held = np.max(m_free) <= X if key == "max_transfer" else float(mean.ravel() @ m_free) <= X
        if X > 1e6:  # far out: the limit cannot bind (the reference's uncapped optimum satisfies it)
            assert held
            expected = free
        else:
            expected = reference(side, **({"cap": X} if key == "max_transfer" else {"budget": X}))[0]
        assert res.value == pytest.approx(expected, rel=1e-7, abs=1e-9), (key, X)
        assert res.value <= free + 1e-9 * max(1.0, abs(free)), (key, X)
        assert getattr(res.mechanism, key) == X
    assert not refused  # none binds on this instance: each far one is dropped exactly


@pytest.mark.parametrize("key", ["outside_option", "interdependence"])
def test_far_outside_option_or_gamma_is_right_or_refused(key):
    refused = []
    for X in SWEEP:
        if key == "outside_option":
            inst = Instance("buy", agents(), buyer_value=1.0, mechanism=Mechanism(outside_option={"a": X}))
            kwargs = {"option": X}
        else:
            gamma = [[0.0, X], [0.2, 0.0]]
            inst = Instance("buy", agents(), buyer_value=1.0, interdependence=gamma)
            kwargs = {"gamma": gamma}
        try:
            res = solve_general(inst)
        except InstanceError as err:
            # refused only above MAX_SPREAD money units (the unit is 1 or 2 here): r_a / σ_a or γ_ab·max θ_b
            assert X * (1 / 0.4 if key == "outside_option" else 0.6) > MAX_SPREAD, (X, err)
            assert err.field == key and err.agent == "a", (X, err)
            refused.append(X)
            continue
        except SolverError:
            pytest.fail(f"{key} = {X:g}: a solver failure instead of an answer or exit 2")
        expected = reference("buy", **kwargs)[0]
        size = 1.0 + (X if key == "outside_option" else 0.0)
        assert res.value == pytest.approx(expected, rel=1e-7, abs=1e-7 * size), (key, X)
    assert refused == SWEEP[-len(refused):] and 1e12 in refused  # the far ones, and only those


def test_tester_commands_exit_right(tmp_path):
    """The tester's command lines, as a user's shell sees them (exit status, one-line error)."""
    t = tiny_file(tmp_path)
    ts = tiny_file(tmp_path, "ts.toml", side="sell")
    oo = tiny_file(tmp_path, "oo.toml")
    oo.write_text(oo.read_text().replace("probs = [0.3, 0.4, 0.3]", "probs = [0.3, 0.4, 0.3]\noutside_option = 1e50"))
    g = tiny_file(tmp_path, "g.toml", extra="interdependence = [[0.0, 1e99], [0.2, 0.0]]")
    cap = tmp_path / "cap.json"
    calls = [
        ["solve", t, "--max-transfer", "1e12", "--json", cap],
        ["solve", t, "--json", tmp_path / "free.json"],
        ["solve", ts, "--max-transfer", "1e12"],
        ["solve", ts, "--max-transfer", "1e19"],
        ["solve", t, "--budget=-1e12"],
        ["solve", oo],
        ["solve", g],
        ["compare", g],
    ]
    out = cli_calls(calls, cwd=tmp_path)
    codes = [c for c, _, _ in out]
    assert codes == [0, 0, 0, 0, 2, 2, 2, 2], [(c, e[-300:]) for c, _, e in out]
    capped = json.loads(cap.read_text())["value"]
    free = json.loads((tmp_path / "free.json").read_text())["value"]
    assert capped == pytest.approx(free, rel=1e-9) and capped <= free + 1e-12
    assert capped == pytest.approx(reference("buy")[0], rel=1e-9)
    for (_code, _, err), field in zip(out[4:], ["mechanism.budget", "outside_option", "interdependence",
                                               "interdependence"]):
        assert len(err.strip().splitlines()) == 1 and f"field '{field}'" in err and "Traceback" not in err


ONE_G = """
side = "buy"
buyer_value = 1.0
interdependence = [[0.0]]
[[agents]]
name = "a"
grid = [0.1, 0.5]
probs = [0.5, 0.5]
"""


def test_one_agent_with_gamma(tmp_path):
    """N = 1 with γ = [[0]]: no other agents' cost terms. One seller of types 0.1 / 0.5 (1/2 each)
    and b = 1: the designer posts 0.5 (profit 0.5) or 0.1 (profit 0.45), so the optimum is 0.5."""
    path = tmp_path / "one_g.toml"
    path.write_text(ONE_G)
    out = cli_calls([["solve", path, "--json", tmp_path / "s.json"], ["compare", path, "--json", tmp_path / "c.json"],
                     ["compare", path, "--certify", "exact", "--json", tmp_path / "e.json"]], cwd=tmp_path)
    assert [c for c, _, _ in out] == [0, 0, 0], [e[-400:] for _, _, e in out]
    assert all("Traceback" not in e for _, _, e in out)
    assert json.loads((tmp_path / "s.json").read_text())["value"] == pytest.approx(0.5, rel=1e-9)
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["file"]["value"] == pytest.approx(0.5, rel=1e-9)
    assert all((r.get("certificate") or {}).get("proven", True) for r in doc["rows"])


def test_compare_says_shared_transfer_and_explains_rows(tmp_path):
    c3 = tiny_file(tmp_path, "c3.toml", mech='transfers = "individual"\nparticipation = "ex-ante"\nbudget = 0.25')
    t = tiny_file(tmp_path)
    pv = tmp_path / "pv.toml"
    pv.write_text("""
side = "sell"
seller_cost = 0.2
[[agents]]
name = "ann"
share = 0.5
grid = [0.2, 0.5, 0.8, 1.1]
probs = [0.25, 0.25, 0.25, 0.25]
[[agents]]
name = "ben"
share = 0.3
grid = [0.1, 0.4, 0.9]
probs = [0.3, 0.4, 0.3]
outside_option = [0.0, 0.02, 0.05]
[[agents]]
name = "cal"
share = 0.2
grid = [0.3, 0.6, 1.0, 1.4]
probs = [0.4, 0.3, 0.2, 0.1]
[mechanism]
consent = 2
""")
    out = cli_calls([["compare", c3, "--json", tmp_path / "c3.json"], ["compare", t, "--certify", "exact", "--json", "-"],
                     ["compare", pv, "--json", tmp_path / "pv.json"]], cwd=tmp_path)
    assert [c for c, _, _ in out] == [0, 0, 0], [e[-400:] for _, _, e in out]
    text = out[0][1]
    doc = json.loads((tmp_path / "c3.json").read_text())
    lines = {r["label"]: next(x for x in text.splitlines() if x.startswith(r["label"] + " "))
             for r in doc["rows"] + doc["extra_rows"]}
    shared = [r for r in doc["rows"] + doc["extra_rows"] if r.get("transfers") == "shares"]
    assert len(shared) == 5  # the four IC/IR variants and BIC, ex-ante IR
    for r in doc["rows"] + doc["extra_rows"]:  # the printed row says which transfer it has
        assert ("shared transfer" in lines[r["label"]]) == (r.get("transfers") == "shares"), r["label"]
        assert ("shared transfer" in r["in_force"]) == (r.get("transfers") == "shares")
    assert "shared transfer (in force): one transfer" in text
    proven = json.loads(out[1][1])
    twin = {r["key"]: r for r in proven["rows"]}[proven["file"]["same_as"]]
    assert twin["certificate"]["proven"] and proven["file"]["certificate"] == twin["certificate"]
    pvdoc = json.loads((tmp_path / "pv.json").read_text())
    above = [r for r in pvdoc["rows"] + pvdoc["extra_rows"] if (r.get("share_of_first_best") or 0) > 1]
    assert above and "above 100% of first best" in out[2][1]


def test_cli_option_messages(tmp_path):
    t = tiny_file(tmp_path)
    out = cli_calls([["solve", t, "--full"], ["solve", t, "--budget", "-1e-3"], ["solve", t, "--max-transfer", "-1e-3"],
                     ["solve", t, "--max-transfer", "1e-3"]], cwd=tmp_path)
    code, _, err = out[0]
    assert code == 2 and "--full" in err and "field" not in err and "t.toml" not in err
    for code, _, err in out[1:3]:  # parsed as numbers: no trade can pay nothing, the LP is infeasible
        assert "expected one argument" not in err and code == 1 and "Infeasible" in err, err
    assert out[3][0] == 0
