"""Individual transfers (docs/model.md, section 10): each agent gets its own transfer m_i(θ).

Checked against (a) the closed form g(σ) = E[(b − σ·φ)_+] with discrete virtual costs written
here from the definition (regular draws, so no ironing), and (b) an LP written from the
definitions in this file with scipy.optimize.linprog over (x, m_1, ..., m_N), dense, with loops.
"""

import itertools

import numpy as np
import pytest
from helpers import run_cli
from scipy.optimize import linprog

from lpmech.checks import individual_checks
from lpmech.errors import CheckError, InstanceError
from lpmech.general import solve_general, solve_individual
from lpmech.instance import Agent, Instance, Mechanism


def _virtual_costs(grid, probs):
    """Buy side: φ_k = θ_k + (θ_k − θ_{k−1}) F(θ_{k−1}) / f(θ_k) (rent left to lower costs)."""
    cdf = np.concatenate([[0.0], np.cumsum(probs)[:-1]])
    gaps = np.concatenate([[0.0], np.diff(grid)])
    return grid + gaps * cdf / probs


def _regular_instance(rng, n, k, b=1.0):
    while True:
        agents = []
        for _ in range(n):
            grid = np.sort(rng.choice(np.arange(1, 40), size=k, replace=False)) / 40.0
            probs = rng.dirichlet(np.ones(k) * 2.0)
            agents.append((grid, probs))
        if all(np.all(np.diff(_virtual_costs(g, p)) > 0) for g, p in agents):
            shares = rng.dirichlet(np.ones(n))
            return Instance("buy", [Agent(f"a{i}", g, p, share=s) for i, ((g, p), s) in
                                    enumerate(zip(agents, shares))], buyer_value=b)


def _closed_form(inst):
    phis = [_virtual_costs(np.asarray(g), np.asarray(p)) for g, p in zip(inst.grids, inst.probs)]
    total = 0.0
    for idx in itertools.product(*[range(len(g)) for g in inst.grids]):
        prob = np.prod([p[j] for p, j in zip(inst.probs, idx)])
        cost = sum(s * phi[j] for s, phi, j in zip(inst.shares, phis, idx))
        total += prob * max(inst.designer_value - cost, 0.0)
    return total


def _closed_form_exact(grid, probs, shares, b):
    """g(σ) = E[(b − σ·φ)_+] in Fractions, both agents on one regular grid (no ironing)."""
    from fractions import Fraction as F

    t, p = [F(v) for v in grid], [F(v) for v in probs]
    phi = [t[k] + (t[k] - t[k - 1]) * sum(p[:k]) / p[k] if k else t[0] for k in range(len(t))]
    sig = [F(v) for v in shares]
    return sum((p[i] * p[j] * max(F(b) - sig[0] * phi[i] - sig[1] * phi[j], F(0))
                for i in range(len(t)) for j in range(len(t))), F(0))


def _reference_lp(side, d, grids, shares, joint, ic="bayesian", participation="interim"):
    """max E[sign(d·x − Σ m_i)] s.t. each agent's IC and IR with its own transfer, from the definitions."""
    sign = 1.0 if side == "buy" else -1.0
    shape = tuple(len(g) for g in grids)
    profiles = list(itertools.product(*[range(k) for k in shape]))
    n, N = len(profiles), len(grids)
    pos = {p: j for j, p in enumerate(profiles)}
    nv = n * (N + 1)                               # x, then m_1 .. m_N

    def payoff(i, t, prof):                        # row vector: sign·(m_i − σ_i θ_t x) at prof
        row = np.zeros(nv)
        j = pos[prof]
        row[j] = -sign * shares[i] * grids[i][t]
        row[n * (i + 1) + j] = sign
        return row

    rows = []                                      # each >= 0
    for i in range(N):
        for t in range(shape[i]):
            others = [p for p in profiles if p[i] == t]
            mass = sum(joint[p] for p in others)

            def at(s, p, i=i):
                q = list(p); q[i] = s
                return tuple(q)
            truth = sum(joint[p] / mass * payoff(i, t, p) for p in others) if mass > 0 else None
            if participation == "interim":
                rows.append(truth)
            else:
                rows += [payoff(i, t, p) for p in others]
            for s in range(shape[i]):
                if s == t:
                    continue
                if ic == "bayesian":
                    rows.append(truth - sum(joint[p] / mass * payoff(i, t, at(s, p)) for p in others))
                else:
                    rows += [payoff(i, t, p) - payoff(i, t, at(s, p)) for p in others]
    c = np.zeros(nv)
    for p, j in pos.items():
        c[j] = sign * d * joint[p]
        for i in range(N):
            c[n * (i + 1) + j] = -sign * joint[p]
    res = linprog(-c, A_ub=-np.array(rows), b_ub=np.zeros(len(rows)),
                  bounds=[(0, 1)] * n + [(None, None)] * (n * N), method="highs")
    assert res.status == 0, res.message
    return -res.fun


def _reference(inst, **kw):
    return _reference_lp(inst.side, inst.designer_value, [np.asarray(g) for g in inst.grids],
                         np.asarray(inst.shares), inst.joint_pmf(), **kw)


@pytest.mark.parametrize("seed", range(4))
def test_closed_form_g_sigma(seed):
    rng = np.random.default_rng(seed)
    inst = _regular_instance(rng, n=2 + seed % 2, k=3)
    res = solve_general(inst, mechanism={"transfers": "individual"})
    expected = _closed_form(inst)
    assert res.value == pytest.approx(expected, rel=1e-8, abs=1e-12)
    assert res.agent_transfers.shape == (inst.n, *inst.shape)
    np.testing.assert_allclose(res.transfer, res.agent_transfers.sum(axis=0), atol=1e-12)
    # fixed shares are a restriction: m_i = σ_i m is feasible with individual transfers
    shares = solve_general(inst)
    assert shares.value <= res.value + 1e-9


def test_fixed_shares_cost_something_with_unequal_shares():
    """Two identical sellers, shares 0.8 / 0.2: g(σ) exceeds the shared-transfer optimum."""
    agents = [Agent(n, [0.2, 0.5, 0.9], [0.3, 0.4, 0.3], share=s) for n, s in (("a", 0.8), ("b", 0.2))]
    inst = Instance("buy", agents, buyer_value=1.0)
    ind = solve_individual(inst)
    assert ind.value == pytest.approx(_closed_form(inst), rel=1e-9)
    assert ind.value > solve_general(inst).value + 1e-3


@pytest.mark.parametrize("ic,participation", [("bayesian", "interim"), ("dominant", "ex-post"),
                                              ("bayesian", "ex-post"), ("dominant", "interim")])
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_against_reference_lp(ic, participation, side):
    rng = np.random.default_rng(7)
    agents = [Agent(n, np.sort(rng.choice(np.arange(1, 20), 3, replace=False)) / 10.0, rng.dirichlet(np.ones(3)),
                    share=s) for n, s in (("a", 0.6), ("b", 0.4))]
    kw = {"buyer_value": 1.5} if side == "buy" else {"seller_cost": 0.4}
    inst = Instance(side, agents, **kw)
    res = solve_general(inst, mechanism={"transfers": "individual", "ic": ic, "participation": participation})
    assert res.value == pytest.approx(_reference(inst, ic=ic, participation=participation), rel=1e-8, abs=1e-12)


def test_correlated_against_reference_lp():
    joint = np.array([[0.3, 0.1, 0.05], [0.1, 0.2, 0.05], [0.05, 0.05, 0.1]])
    agents = [Agent("a", [0.1, 0.4, 0.8], share=0.5), Agent("b", [0.2, 0.3, 0.7], share=0.5)]
    inst = Instance("buy", agents, buyer_value=1.0, joint=joint)
    res = solve_general(inst, mechanism=Mechanism(transfers="individual"))
    assert res.value == pytest.approx(_reference(inst), rel=1e-8, abs=1e-12)


def test_audit_catches_a_wrong_mechanism():
    inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    res = solve_individual(inst)
    ms = res.agent_transfers.copy()
    ms[0] -= 0.01                                 # pay agent a less everywhere: interim IR fails
    with pytest.raises(CheckError):
        individual_checks(res.instance, res.allocation, ms, res.value, res.value)


def test_bad_options():
    inst = Instance("buy", [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    with pytest.raises(InstanceError, match=r"shares.*individual"):
        Mechanism(transfers="each")
    with pytest.raises(InstanceError, match="every agent") as err:
        solve_general(inst, mechanism={"transfers": "individual", "veto": ["a"]})
    assert err.value.agent == "b"


# --------------------------------------------------------------------------- compare, solve report, files
def test_g_at_shares_and_fixed_shares_cost_against_closed_form():
    from lpmech.compare import fixed_shares_cost, g_at_shares
    from lpmech.solver import solve

    rng = np.random.default_rng(11)
    inst = _regular_instance(rng, n=3, k=3)
    g, _ = g_at_shares(inst)
    assert g == pytest.approx(_closed_form(inst), rel=1e-10)
    maximin = solve(inst).value
    info = fixed_shares_cost(inst, maximin)
    assert info["cost"] == pytest.approx(_closed_form(inst) - maximin, abs=1e-9)
    assert info["cost"] >= 0.0
    with pytest.raises(CheckError):               # a shared value above g(σ) is impossible
        fixed_shares_cost(inst, g + 0.01)


def test_compare_row_individual_transfers():
    from lpmech.compare import compare

    agents = [Agent(n, [0.2, 0.5, 0.9], [0.3, 0.4, 0.3], share=s) for n, s in (("a", 0.8), ("b", 0.2))]
    inst = Instance("buy", agents, buyer_value=1.0, mechanism=Mechanism(transfers="individual"))
    table = compare(inst)
    assert len(table.rows) == 4
    row = next(r for r in table.extra_rows if r["label"] == "individual transfers")
    assert row["value"] == pytest.approx(_closed_form(inst), rel=1e-9)
    assert row["closed_form"] == pytest.approx(_closed_form(inst), rel=1e-9)
    shared = next(r for r in table.rows if r["label"] == "BIC, interim IR")
    assert shared["value"] == pytest.approx(solve_general(inst, mechanism={"transfers": "shares"}).value, rel=1e-9)
    assert shared["value"] < row["value"] - 1e-3


_FILE = """side = "buy"
buyer_value = 1.0
[mechanism]
transfers = "{transfers}"
[[agents]]
name = "a"
grid = [0.2, 0.5, 0.9]
probs = [0.3, 0.4, 0.3]
share = 0.8
[[agents]]
name = "b"
grid = [0.2, 0.5, 0.9]
probs = [0.3, 0.4, 0.3]
share = 0.2
"""


_run = run_cli


def _valid(doc):
    import json
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("lpmech.schemas").joinpath("result.schema.json").read_text())
    jsonschema.validate(doc, schema)


@pytest.mark.integration
def test_cli_file_key_option_and_errors(tmp_path):
    import json

    from lpmech.loader import load

    path = tmp_path / "pair.toml"
    path.write_text(_FILE.format(transfers="individual"))
    assert load(str(path)).mechanism.transfers == "individual"
    expected = _closed_form(load(str(path)))
    out = tmp_path / "out.json"
    proc = _run("solve", str(path), "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    _valid(data)
    assert data["value"] == pytest.approx(expected, rel=1e-9)
    assert "individual transfers" in proc.stdout
    # the shared-transfer solve of the same file reports what fixed shares cost
    proc = _run("solve", str(path), "--transfers", "shares", "--json", str(tmp_path / "s.json"))
    assert proc.returncode == 0, proc.stderr
    assert "fixed shares cost the designer" in proc.stdout
    info = json.loads((tmp_path / "s.json").read_text())["info"]["fixed_shares_cost"]
    assert info["individual_value"] == pytest.approx(expected, rel=1e-9)
    assert info["cost"] > 1e-3
    _valid(json.loads((tmp_path / "s.json").read_text()))
    # the exact certificate proves individual transfers: its value is the closed form g(σ) in exact
    # arithmetic (the file's decimals as rationals), written here from the definition
    proc = _run("solve", str(path), "--certify", "exact")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    g_exact = _closed_form_exact(["0.2", "0.5", "0.9"], ["0.3", "0.4", "0.3"], ["0.8", "0.2"], "1.0")
    assert float(g_exact) == pytest.approx(expected, rel=1e-12)
    assert f"proven optimal in exact arithmetic (general): value {g_exact}" in proc.stdout, proc.stdout
    # bad word in the file: exit 2, one line, no traceback
    bad = tmp_path / "bad.toml"
    bad.write_text(_FILE.format(transfers="each"))
    proc = _run("solve", str(bad))
    assert proc.returncode == 2 and "mechanism.transfers" in proc.stderr and str(bad) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_cvxpy_model_with_individual_transfers(side):
    from lpmech.model import model

    agents = [Agent(n, [0.2, 0.5, 0.9], [0.3, 0.4, 0.3], share=s) for n, s in (("a", 0.8), ("b", 0.2))]
    kw = {"buyer_value": 1.0} if side == "buy" else {"seller_cost": 0.3}
    inst = Instance(side, agents, mechanism=Mechanism(transfers="individual"), **kw)
    gm = model(inst)
    value = gm.solve()
    assert value == pytest.approx(_reference(inst), rel=1e-7, abs=1e-10)
    ms = gm.agent_transfers()
    individual_checks(inst, gm.allocation(), ms, value, value)        # the brute-force audit passes
    np.testing.assert_allclose(gm.transfer(), ms.sum(axis=0), atol=1e-9)
    # an extra constraint on one agent's own transfer: the model extends
    capped = gm.solve(extra_constraints=[gm.agent_m[1] <= 0.01])
    assert capped <= value + 1e-9
    with pytest.raises(InstanceError):
        model(inst, mechanism={"transfers": "shares"}).agent_transfers()
