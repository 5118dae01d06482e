"""Issue 14, item 3: the general LP with rows added lazily, and where ``auto`` sends the maximin stalls.

The lazily solved LP (lpmech.general._LazyRows) is checked against the whole LP written out
independently over profiles (tests/test_expost.py's ``reference_lp``, scipy's linprog on dense
rows built from the definitions), including the tie-break on zero-probability profiles, and
against lpmech's own factored form; a start that leaves binding rows out, or makes the first
LP unbounded, must still reach the same optimum.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_expost import random_correlated, reference_lp

import lpmech
from lpmech import general, solver
from lpmech.general import solve_general

LAZY = [("bayesian", "interim"), ("dominant", "ex-post")]


def _uniform(n, k, correlated=False):
    grid = (np.arange(k) + 0.5) / k
    if not correlated:
        return lpmech.Instance(
            "buy", [lpmech.Agent(f"s{i}", grid, np.full(k, 1.0 / k)) for i in range(n)], buyer_value=1.0
        )
    idx = np.indices((k,) * n)
    joint = np.exp(-(idx.max(axis=0) - idx.min(axis=0)) / 5.0)
    return lpmech.Instance(
        "buy", [lpmech.Agent(f"s{i}", grid) for i in range(n)], buyer_value=1.0, joint=joint / joint.sum()
    )


def _factored(monkeypatch):
    """Solve the next LPs as one model of the factored form (the path every family took before)."""
    monkeypatch.setattr(general, "_lazy_family", lambda lp: False)


@pytest.mark.parametrize("ic, participation", LAZY)
def test_the_fast_families_leave_rows_out_of_the_first_model(ic, participation):
    # the lazy path is what these families take, and it does start from a strict subset
    lp = general.assemble(_uniform(2, 6, correlated=True), mechanism={"ic": ic, "participation": participation})
    assert general._lazy_family(lp)
    lazy = general._LazyRows(lp)
    assert 0 < lazy.have.sum() < lazy.have.size


@pytest.mark.parametrize(
    "ic, participation", [("bayesian", "ex-post"), ("dominant", "interim"), ("bayesian", "ex-ante")]
)
def test_the_other_families_keep_the_factored_form(ic, participation):
    lp = general.assemble(_uniform(2, 4, correlated=True), mechanism={"ic": ic, "participation": participation})
    assert not general._lazy_family(lp)


@settings(deadline=None, max_examples=examples(60, 12), suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6), n=st.integers(2, 3), side=st.sampled_from(["buy", "sell"]), family=st.sampled_from(LAZY)
)
def test_lazy_rows_reach_the_whole_lps_optimum(seed, n, side, family):
    # correlated types with zero-probability profiles, both sides, shares: the value and the
    # smallest Σ|m| over zero-probability profiles are those of the whole LP built from the definitions
    inst = random_correlated(seed, n, side, kmax=4 if n == 2 else 3)
    ic, participation = family
    ref, fines = reference_lp(inst, ic, participation)
    res = solve_general(inst, mechanism={"ic": ic, "participation": participation})
    assert res.value == pytest.approx(ref, rel=1e-9, abs=1e-9)
    zero = inst.joint_pmf() == 0
    assert np.abs(res.transfer[zero]).sum() == pytest.approx(fines, rel=1e-6, abs=1e-7)
    assert lpmech.verify(inst, res.allocation, res.transfer, ic=ic, participation=participation).ok()


@pytest.mark.parametrize("ic, participation", LAZY)
@pytest.mark.parametrize("start", ["participation only", "nothing"])
def test_rows_left_out_join_when_violated(monkeypatch, ic, participation, start):
    # "participation only": the first LP ignores IC, so its optimum violates IC rows that must be
    # added; "nothing": the first LP is unbounded and every row is added. Same optimum either way.
    inst = _uniform(2, 5, correlated=True)
    ref = reference_lp(inst, ic, participation)[0]
    rounds = []
    real_run = general._LazyRows.run

    def counted(self, h, what):
        before = int(self.have.sum())
        out = real_run(self, h, what)
        rounds.append((before, int(self.have.sum())))
        return out

    monkeypatch.setattr(general._LazyRows, "run", counted)
    monkeypatch.setattr(
        general,
        "_start_rows",
        lambda lp, name, block: np.full(block.matrix.shape[0], name == "participation" and start != "nothing"),
    )
    res = solve_general(inst, mechanism={"ic": ic, "participation": participation})
    assert res.value == pytest.approx(ref, rel=1e-9, abs=1e-9)
    assert rounds and rounds[0][1] > rounds[0][0]  # the first solve violated rows left out


@pytest.mark.parametrize(
    "n, k, correlated, mech",
    [
        (2, 12, True, {}),
        (3, 5, True, {}),
        (2, 16, False, {}),
        (2, 16, False, {"ic": "dominant", "participation": "ex-post"}),
        (2, 10, True, {"ic": "dominant", "participation": "ex-post"}),
        (2, 10, True, {"participation": "interim", "pareto": 0.5}),
    ],
)
def test_lazy_and_factored_forms_agree(monkeypatch, n, k, correlated, mech):
    inst = _uniform(n, k, correlated)
    lazy = solve_general(inst, mechanism=mech)
    _factored(monkeypatch)
    whole = solve_general(inst, mechanism=mech)
    assert lazy.value == pytest.approx(whole.value, rel=1e-9)
    for a, b in zip(lazy.interim, whole.interim):
        np.testing.assert_allclose(a["trade_probability"], b["trade_probability"], atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize(
    "n, k, correlated, mech",
    [(2, 40, True, {}), (2, 64, False, {"ic": "dominant", "participation": "ex-post"})],
)
def test_the_benchmark_stalls_keep_their_values(monkeypatch, n, k, correlated, mech):
    # benchmarks/stalls.py's general-LP cases: the value the factored form gives, to 1e-9
    inst = _uniform(n, k, correlated)
    lazy = solve_general(inst, mechanism=mech)
    _factored(monkeypatch)
    assert lazy.value == pytest.approx(solve_general(inst, mechanism=mech).value, rel=1e-9)


# --------------------------------------------------------------------------- the maximin LP's stalls
def _bimodal(k):
    g = np.linspace(0.1, 1.2, k)
    d = np.exp(-(((g - 0.2) / 0.1) ** 2)) + np.exp(-(((g - 1.1) / 0.1) ** 2)) + 0.05
    farm = lpmech.Agent("farm", g, d / d.sum())
    uni = lpmech.Agent.from_distribution("a", "uniform", {"loc": 0.2, "scale": 0.8}, k)
    return lpmech.Instance("buy", [uni, farm], buyer_value=1.5)


def _dirichlet(n, k, seed=0):
    rng = np.random.default_rng(seed)
    grid = (np.arange(k) + 0.5) / k
    agents = [lpmech.Agent(f"s{i}", grid, rng.dirichlet(np.ones(k))) for i in range(n)]
    return lpmech.Instance("buy", agents, buyer_value=min(1.0, 2.0 / n))


STALLS = [
    pytest.param(lambda: _bimodal(1000), id="bimodal N=2 K=1000"),
    pytest.param(lambda: _dirichlet(3, 100), id="dirichlet N=3 K=100"),
]


@pytest.mark.parametrize("make", STALLS)
def test_auto_never_sends_the_stalls_to_the_lp(make):
    inst = make()
    assert solver.choose_method(inst) == ("maximin", "")
    chosen, why = solver._choose("auto", inst, (1.0, "well conditioned"))
    assert chosen == "structured"
    assert f"{inst.n_profiles:,} profiles" in why and f"{solver.AUTO_LP_LIMIT:,}" in why


@pytest.mark.parametrize("make", STALLS)
def test_auto_solves_the_stalls_with_the_structured_solver_and_says_why(make):
    res = lpmech.solve(make())
    assert res.method == "structured"
    assert "profiles >" in res.info["method_reason"]
