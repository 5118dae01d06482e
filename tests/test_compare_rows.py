"""The compare table row by row (issue 13): every LP row against an LP written here from the
definitions (scipy's linprog over (x, m) or (x, m_1, ..., m_N), built from the row's own
``assumes`` settings), the posted price against a brute force over prices, the first best with
interdependent costs against a sum over profiles, Result.agent_transfers, Instance.describe, and
the command line's bad-input errors (as a subprocess)."""

import itertools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import linprog

from lpmech.compare import compare
from lpmech.instance import Agent, Instance, Mechanism
from lpmech.posted import constrained_posted_price

GAMMA = [[0.0, 0.2, 0.0], [0.1, 0.0, 0.1], [0.0, 0.2, 0.0]]


def three(mechanism=None, gamma=GAMMA, side="buy"):
    agents = [
        Agent("a", [0.2, 0.6, 1.0], [0.3, 0.4, 0.3], share=0.5),
        Agent("b", [0.3, 0.9], [0.5, 0.5], share=0.25),
        Agent("c", [0.1, 0.5, 0.8], [0.2, 0.5, 0.3], share=0.25),
    ]
    value = {"buyer_value": 1.5} if side == "buy" else {"seller_cost": 0.2}
    return Instance(side, agents, mechanism=mechanism or Mechanism(), interdependence=gamma, **value)


EVERY = Mechanism(
    consent=2,
    no_subsidy=True,
    max_transfer=0.95,
    budget=0.45,
    min_trade_probability=0.4,
    outside_option={"c": [0.0, 0.02, 0.04]},
)


# --------------------------------------------------------------------------- the reference LP
def reference(inst, a):
    """max E[sign·(d·x − Σ M_i)] over x in [0, 1]^profiles and transfers, from the definitions.

    ``a`` is a row's ``assumes`` dict. Agent i of true type t reporting s at others' types r gets
    sign·(M_i(s, r) − σ_i c_i(t, r) x(s, r)), c_i(t, r) = t + Σ_j γ_ij r_j, M_i = σ_i m (one shared
    transfer) or m_i (individual). BIC: expectations under P(r | t); ex-post IC: at every r.
    Participation for the veto holders against the outside option r_i(t): interim, ex post (every
    r), ex ante (averaged over t). Limits on the total transfer. Consent k: best over coalitions.
    """
    names = list(inst.names)
    if a["consent"] is not None:
        return max(
            _reference(inst, a, [names.index(v) for v in c]) for c in itertools.combinations(names, a["consent"])
        )
    vetoes = range(len(names)) if a["veto"] is None else [names.index(v) for v in a["veto"]]
    return _reference(inst, a, list(vetoes))


def _reference(inst, a, vetoes):
    grids, shares, joint = [np.asarray(g) for g in inst.grids], np.asarray(inst.shares), inst.joint_pmf()
    N, shape = len(grids), joint.shape
    gamma = np.zeros((N, N)) if a["interdependence"] is None else np.asarray(a["interdependence"])
    sign = 1.0 if inst.side == "buy" else -1.0
    individual = a["transfers"] == "individual"
    profiles = list(itertools.product(*[range(k) for k in shape]))
    n = len(profiles)
    pos = {p: j for j, p in enumerate(profiles)}
    nv = n * (N + 1 if individual else 2)
    outside = a["outside_option"] or {}

    def cost(i, t, p):
        return grids[i][t] + sum(gamma[i, j] * grids[j][p[j]] for j in range(N) if j != i)

    def payoff(i, t, p):  # type t of agent i at the profile p (p[i] is the report)
        row = np.zeros(nv)
        row[pos[p]] = -sign * shares[i] * cost(i, t, p)
        if individual:
            row[n * (i + 1) + pos[p]] = sign
        else:
            row[n + pos[p]] = sign * shares[i]
        return row

    A, lo = [], []
    for i in range(N):
        r = np.broadcast_to(np.asarray(outside.get(names_of(inst)[i], 0.0), dtype=float), grids[i].shape)
        ante, ante_rhs = np.zeros(nv), 0.0
        for t in range(shape[i]):
            others = [p for p in profiles if p[i] == t]
            mass = sum(joint[p] for p in others)

            def at(s, p, i=i):
                q = list(p)
                q[i] = s
                return tuple(q)

            truth = sum(joint[p] / mass * payoff(i, t, p) for p in others)
            for s in range(shape[i]):
                if s == t:
                    continue
                if a["ic"] == "bayesian":
                    A.append(truth - sum(joint[p] / mass * payoff(i, t, at(s, p)) for p in others))
                    lo.append(0.0)
                else:  # ex-post / dominant: at every profile of the others
                    for p in others:
                        A.append(payoff(i, t, p) - payoff(i, t, at(s, p)))
                        lo.append(0.0)
            if i in vetoes:
                if a["participation"] == "interim":
                    A.append(truth)
                    lo.append(r[t])
                elif a["participation"] == "ex-post":
                    A += [payoff(i, t, p) for p in others]
                    lo += [r[t]] * len(others)
                else:
                    ante += mass * truth
                    ante_rhs += mass * r[t]
        if i in vetoes and a["participation"] == "ex-ante":
            A.append(ante)
            lo.append(ante_rhs)
    pmf = np.array([joint[p] for p in profiles])
    total = np.zeros((n, nv))  # the total transfer m(θ) = Σ_i M_i / ... as a row per profile
    for j in range(n):
        if individual:
            total[j, [n * (i + 1) + j for i in range(N)]] = 1.0
        else:
            total[j, n + j] = 1.0
    if a["no_subsidy"]:
        A += list(total)
        lo += [0.0] * n
    if a["max_transfer"] is not None:
        A += list(-total)
        lo += [-a["max_transfer"]] * n
    if a["budget"] is not None:
        A.append(-(pmf @ total))
        lo.append(-a["budget"])
    if a["min_trade_probability"] is not None:
        row = np.zeros(nv)
        row[:n] = pmf
        A.append(row)
        lo.append(a["min_trade_probability"])
    c = np.zeros(nv)
    c[:n] = -sign * inst.designer_value * pmf
    c[n:] = sign * np.concatenate([pmf] * (N if individual else 1))
    bounds = [(0, 1)] * n + [(None, None)] * (nv - n)
    res = linprog(c, A_ub=-np.array(A), b_ub=-np.array(lo), bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return -res.fun


def names_of(inst):
    return list(inst.names)


# --------------------------------------------------------------------------- the rows
def test_every_row_against_the_reference_lp():
    inst = three(EVERY)
    table = compare(inst)
    rows = [r for r in table.table() if r["key"] not in ("posted_price", "first_best")]
    keys = [r["key"] for r in rows]
    assert keys[0] == "file" and len(set(keys)) == len(keys)
    for key in ("without_limits", "without_budget", "without_outside_options", "private_values",
                "individual_transfers", "bic_ex_ante", "consent_1", "consent_2", "consent_3"):
        assert key in keys
    checked = 0
    for r in rows:
        if r["value"] is None:
            continue
        assert r["value"] == pytest.approx(reference(inst, r["assumes"]), rel=1e-7, abs=1e-9), r["label"]
        checked += 1
    assert checked >= 14
    file_row = table.file_row
    # the file row is the file: every setting as given, and it names the best coalition
    assert file_row["assumes"]["consent"] == 2 and file_row["assumes"]["budget"] == 0.45
    assert file_row["assumes"]["interdependence"] == GAMMA and file_row["differs"] == []
    best = max(itertools.combinations("abc", 2), key=lambda c: reference(inst, {**file_row["assumes"], "consent": None, "veto": list(c)}))
    assert file_row["coalition"] == list(best)
    # each variant changes only what its key says
    by = {r["key"]: r for r in rows}
    assert by["without_budget"]["differs"] == ["budget"]
    assert by["private_values"]["differs"] == ["interdependence"]
    assert by["consent_1"]["differs"] == ["consent"]
    assert set(by["without_limits"]["differs"]) == {"no_subsidy", "max_transfer", "budget", "min_trade_probability"}
    # dropping a constraint cannot lower the value
    for k in ("without_limits", "without_budget", "without_outside_options"):
        assert by[k]["value"] >= file_row["value"] - 1e-9
    # with interdependence: ex-post IC instead of DSIC, no posted price number, and why
    assert [r["ic"] for r in table.rows] == ["bayesian", "bayesian", "ex-post", "ex-post"]
    assert table.posted["value"] is None and "interdependent" in table.posted["note"]
    text = table.summary()
    assert "as in the file" in text and "constraints in force" in text and "E[m] <= 0.45" in text


def test_infeasible_variant_is_na_but_an_infeasible_file_is_an_error():
    from lpmech.errors import SolverError

    tight = Mechanism(budget=0.45, min_trade_probability=0.5, outside_option={"c": [0.0, 0.02, 0.04]})
    table = compare(three(tight))
    na = [r for r in table.table() if r["value"] is None and r["key"] != "posted_price"]
    assert na and all(r["note"] == "HiGHS: Infeasible" for r in na)
    for r in na:  # the reference LP agrees they are infeasible
        with pytest.raises(AssertionError):
            reference(three(tight), r["assumes"])
    with pytest.raises(SolverError) as err:
        compare(three(Mechanism(budget=0.0, min_trade_probability=0.9)))
    assert err.value.status == "Infeasible"


def test_private_values_rows_on_the_sell_side():
    mech = Mechanism(veto=("a", "b"), no_subsidy=True, max_transfer=0.3, outside_option={"a": -0.01})
    inst = three(mech, gamma=None, side="sell")
    table = compare(inst)
    rows = [r for r in table.table() if r["key"] not in ("posted_price", "first_best")]
    assert "every_agent_a_veto" in [r["key"] for r in rows]
    for r in rows:
        assert r["value"] == pytest.approx(reference(inst, r["assumes"]), rel=1e-7, abs=1e-9), r["label"]
    assert [r["ic"] for r in table.rows] == ["bayesian", "bayesian", "dominant", "dominant"]
    p = table.posted
    assert p["value"] == pytest.approx(brute_force_posted(inst)[0], rel=1e-9, abs=1e-12)


def test_json_keeps_the_old_keys_and_adds_the_table():
    table = compare(three(EVERY))
    d = json.loads(json.dumps(table.to_dict()))
    for k in ("instance", "side", "veto", "rows", "extra_rows", "posted_price", "first_best"):
        assert k in d
    assert [r["key"] for r in d["table"]][0] == "file" and d["table"][-1]["key"] == "first_best"
    assert d["file"]["assumes"] == d["file_assumptions"]
    assert len(d["rows"]) == 4


def test_first_best_uses_the_interdependent_costs():
    inst = three(gamma=GAMMA)
    grids, shares, joint = inst.grids, inst.shares, inst.joint_pmf()
    g = np.array(GAMMA)
    total = 0.0
    for p in itertools.product(*[range(k) for k in joint.shape]):
        theta = np.array([grids[i][p[i]] for i in range(3)])
        cost = sum(shares[i] * (theta[i] + g[i] @ theta) for i in range(3))
        total += joint[p] * max(1.5 - cost, 0.0)
    table = compare(inst)
    assert table.first_best == pytest.approx(total, rel=1e-12)
    assert compare(three(gamma=None)).first_best > total  # positive γ raises every cost


# --------------------------------------------------------------------------- posted price
def posted_at(inst, p):
    """(feasible, value, P(trade)) of the posted price p (None: no trade), from the definitions:
    agent i accepts iff σ_i·sign·(p − θ_i) >= r_i(θ_i); x = Π accept, m = p·x; feasible iff
    interim IR (outside options included) holds for every agent and type, no type gains by
    reporting another's at any profile of the others (DSIC), and the transfer and trade
    constraints hold."""
    mech = inst.mechanism
    sign = 1.0 if inst.side == "buy" else -1.0
    joint, grids, shares = inst.joint_pmf(), inst.grids, inst.shares
    opts = mech.outside_options()
    r = [np.broadcast_to(np.asarray(opts.get(nm, 0.0), dtype=float), g.shape) for nm, g in zip(inst.names, grids)]
    if p is None:
        x, price = np.zeros(joint.shape), 0.0
    else:
        acc = [(shares[i] * sign * (p - grids[i]) >= r[i] - 1e-12).astype(float) for i in range(len(grids))]
        x, price = acc[0][:, None, None] * acc[1][None, :, None] * acc[2][None, None, :], p
    m = price * x
    P = float((joint * x).sum())
    ok = True
    for i in range(3):
        X = np.moveaxis(x, i, 0).reshape(len(grids[i]), -1)
        w = np.moveaxis(joint, i, 0).reshape(len(grids[i]), -1)
        w = w / w.sum(axis=1, keepdims=True)
        for t in range(len(grids[i])):
            gain = shares[i] * sign * (price - grids[i][t])
            ok &= gain * (w[t] @ X[t]) >= r[i][t] - 1e-12
            ok &= bool(np.all(gain * X <= gain * X[t] + 1e-12))  # every report s, every profile
    if mech.no_subsidy:
        ok &= bool(np.all(m >= -1e-12))
    if mech.max_transfer is not None:
        ok &= bool(np.all(m <= mech.max_transfer + 1e-12))
    if mech.budget is not None:
        ok &= float((joint * m).sum()) <= mech.budget + 1e-12
    if mech.min_trade_probability is not None:
        ok &= P >= mech.min_trade_probability - 1e-12
    return bool(ok), sign * (inst.designer_value - price) * P, P


STEP = 1 / 256


def brute_force_posted(inst):
    """The best feasible price over a fine grid of step STEP on [-1.5, 1.5], every type (shifted
    by the outside option over the share), 0, and no trade: (value, price, P) or None."""
    opts = inst.mechanism.outside_options()
    sign = 1.0 if inst.side == "buy" else -1.0
    kinks = [
        float(g[k] + sign * np.broadcast_to(np.asarray(opts.get(nm, 0.0), dtype=float), g.shape)[k] / sh)
        for nm, g, sh in zip(inst.names, inst.grids, inst.shares)
        for k in range(g.size)
    ]
    best = None
    for p in [None, 0.0] + kinks + list(np.arange(-1.5, 1.5 + STEP / 2, STEP)):
        ok, value, P = posted_at(inst, p)
        if ok and (best is None or value > best[0] + 1e-12):
            best = (value, p, P)
    return best


@pytest.mark.parametrize(
    "mech",
    [
        Mechanism(),
        Mechanism(max_transfer=0.375),
        Mechanism(max_transfer=0.375, min_trade_probability=0.5),
        Mechanism(budget=0.125),
        Mechanism(no_subsidy=True, outside_option={"a": -0.0625, "b": 0.0}),
        Mechanism(outside_option={"c": [0.0, 0.0, 0.0625]}),
        Mechanism(min_trade_probability=0.99),
    ],
)
def test_posted_price_against_brute_force(mech):
    for side in ("buy", "sell"):
        inst = three(mech, gamma=None, side=side)
        pp = constrained_posted_price(inst)
        bf = brute_force_posted(inst)
        if bf is None:
            assert pp.value is None and pp.note.startswith("n/a")
            continue
        # nothing the brute force finds beats it, it is within a grid step of the brute force,
        # and its price is feasible by the definitions
        assert bf[0] - 1e-12 <= pp.value <= bf[0] + STEP, (side, pp, bf)
        ok, value, P = posted_at(inst, pp.price)
        assert ok and value == pytest.approx(pp.value, abs=1e-12)
        if pp.price is not None:
            assert pp.trade_probability == pytest.approx(bf[2], abs=1e-12)
            assert np.allclose(pp.transfer, pp.price * pp.allocation)


def test_posted_price_na_when_no_price_qualifies():
    # a's outside option is positive at every type: no trade, or a price some type of a rejects,
    # leaves that type below its option; only p >= 1.02 serves every type, above the cap 0.5
    inst = three(Mechanism(outside_option={"a": 0.01}, max_transfer=0.5), gamma=None)
    pp = constrained_posted_price(inst)
    assert brute_force_posted(inst) is None
    assert pp.value is None and "participation" in pp.note
    # without the cap the price serving every type of a is the best one, at a loss if need be
    inst = three(Mechanism(outside_option={"a": 0.5}), gamma=None)
    pp, bf = constrained_posted_price(inst), brute_force_posted(inst)
    assert pp.price == pytest.approx(bf[1]) and pp.value == pytest.approx(bf[0]) and pp.value < 0


def test_posted_price_without_constraints_is_the_classic_one():
    from lpmech.posted import best_posted_price

    inst = three(gamma=None)
    assert constrained_posted_price(inst).value == best_posted_price(inst).value == pytest.approx(brute_force_posted(inst)[0])


# --------------------------------------------------------------------------- Result, describe
def test_result_carries_agent_transfers():
    import lpmech
    from lpmech.general import solve_individual

    inst = three(Mechanism(transfers="individual"), gamma=None)
    res = lpmech.solve(inst)
    direct = solve_individual(inst)
    assert res.agent_transfers.shape == (3, 3, 2, 3)
    assert np.allclose(res.agent_transfers, direct.agent_transfers)
    assert np.allclose(res.agent_transfers.sum(axis=0), res.transfer)
    d = res.to_dict()
    assert np.allclose(np.array(d["agent_transfers"]), res.agent_transfers)
    shared = lpmech.solve(three(Mechanism(participation="ex-post"), gamma=None))
    assert shared.agent_transfers is None and "agent_transfers" not in shared.to_dict()


def test_describe_names_gamma_and_constraints():
    text = three(EVERY).describe()
    assert "γ = [[0, 0.2, 0], [0.1, 0, 0.1], [0, 0.2, 0]]" in text
    for word in ("consent of 2", "no subsidy", "m <= 0.95", "E[m] <= 0.45", "P(trade) >= 0.4", "outside option c"):
        assert word in text
    assert three(gamma=None).describe().endswith("independent types")


# --------------------------------------------------------------------------- the command line
def _run(*args):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "lpmech", *args], capture_output=True, text=True, env=env, timeout=300)


BASE = """side = "buy"
buyer_value = 1.0
{top}
[mechanism]
{mech}
[[agents]]
name = "a"
grid = [0.25, 0.75]
probs = [0.5, 0.5]
{opt}
[[agents]]
name = "b"
grid = [0.25, 0.75]
probs = [0.5, 0.5]
"""


@pytest.mark.integration
@pytest.mark.parametrize(
    "top, mech, opt, field",
    [
        ("interdependence = [[0.0, 0.1, 0.2], [0.1, 0.0, 0.0]]", "", "", "interdependence"),
        ("interdependence = [[0.5, 0.1], [0.1, 0.0]]", "", "", "interdependence"),
        ("interdependence = [[0.0, nan], [0.1, 0.0]]", "", "", "interdependence"),
        ("interdependence = [[0.0, inf], [0.1, 0.0]]", "", "", "interdependence"),
        ("", "consent = 3", "", "consent"),
        ("", "consent = 0", "", "consent"),
        ("", "", "outside_option = [0.1, 0.2, 0.3]", "outside_option"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, top, mech, opt, field):
    f = tmp_path / "bad.toml"
    f.write_text(BASE.format(top=top, mech=mech, opt=opt))
    out = tmp_path / "out.json"
    for command in ("compare",) if field != "interdependence" else ("compare", "solve"):
        proc = _run(command, str(f), "--json", str(out))
        assert proc.returncode == 2, (command, proc.stderr)
        err = proc.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert field in err and str(f) in err
        assert not out.exists()


@pytest.mark.integration
def test_infeasible_budget_exits_1_with_highs_status(tmp_path):
    f = tmp_path / "tight.toml"
    f.write_text(BASE.format(top="", mech="budget = -0.5", opt=""))
    out = tmp_path / "out.json"
    for command in ("compare", "solve"):
        proc = _run(command, str(f), "--json", str(out))
        assert proc.returncode == 1, (command, proc.stderr)
        assert "Infeasible" in proc.stderr and "Traceback" not in proc.stderr
        assert not out.exists()


def test_compare_json_on_the_command_line(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(BASE.format(top="interdependence = [[0.0, 0.25], [0.125, 0.0]]", mech="no_subsidy = true\nconsent = 1", opt=""))
    proc = _run("compare", str(f), "--json", "-")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    keys = [r["key"] for r in d["table"]]
    assert keys[0] == "file" and {"consent_1", "consent_2", "private_values", "without_limits"} <= set(keys)
    inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0,
                    interdependence=[[0.0, 0.25], [0.125, 0.0]])
    for r in d["table"]:
        if r["key"] in ("posted_price", "first_best") or r["value"] is None:
            continue
        assert r["value"] == pytest.approx(reference(inst, r["assumes"]), rel=1e-7, abs=1e-9), r["label"]
