import numpy as np
import pytest

import lpmech
from helpers import random_instance


@pytest.fixture
def solved():
    inst = random_instance(np.random.default_rng(3), 2, 4, "buy")
    return inst, lpmech.solve(inst)


def test_optimal_mechanism_passes_audit(solved):
    inst, res = solved
    a = lpmech.verify(inst, res.allocation, res.transfer)
    assert a.max_ic_violation < 1e-9 and a.max_ir_violation < 1e-9
    assert a.profit == pytest.approx(res.value, abs=1e-9)


def test_audit_catches_broken_ic(solved):
    inst, res = solved
    g = inst.grids[0]
    spread = g[-1] - g[0]
    m = res.transfer.copy()
    m[0, :] += 2 * spread   # agent a0's lowest cost is paid more than any cost difference: mimic it
    a = lpmech.verify(inst, res.allocation, m)
    # the top type gains at least share * (2 spread - spread) by reporting the lowest cost
    assert a.max_ic_violation >= inst.shares[0] * spread - 1e-12
    assert a.worst_ic["agent"] == "a0"
    assert a.worst_ic["report"] == pytest.approx(g[0])


def test_audit_catches_broken_ir(solved):
    inst, res = solved
    a = lpmech.verify(inst, res.allocation, res.transfer - 0.05)   # everyone paid less
    worst = max(a.per_agent, key=lambda row: row["ir_violation"])     # IR binds for this agent's top type
    assert a.max_ir_violation == pytest.approx(0.05 * inst.shares[inst.names.index(worst["agent"])], rel=1e-6)
    assert a.ir_relative > 1e-7 and not a.ok()
    assert a.max_ic_violation < 1e-9        # a constant shift keeps IC


def test_audit_profit_by_hand():
    inst = lpmech.Instance("sell", [lpmech.Agent(n, [1.0, 3.0], [0.5, 0.5]) for n in "ab"], seller_cost=0.5)
    x = np.array([[0.0, 0.0], [0.0, 1.0]])   # sell only when both value 3, at price 3
    m = 3.0 * x
    a = lpmech.verify(inst, x, m)
    assert a.profit == pytest.approx(0.25 * (3.0 - 0.5))
    assert a.max_ic_violation == 0.0 and a.max_ir_violation == 0.0
    # price 3.5 breaks IR for the top types: each pays half of 3.5 for a value of half of 3
    a = lpmech.verify(inst, x, 3.5 * x)
    assert a.max_ir_violation == pytest.approx(0.5 * 0.5 * 0.5)   # share * P(other high) * 0.5


def test_dominant_and_ex_post_variants():
    inst = lpmech.Instance("buy", [lpmech.Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"], buyer_value=1.0)
    # Trade at total price 1 iff the sum of costs is below 1; pay only when trading (ex post IR holds
    # with equality at the top types), but reporting low is a DSIC deviation when the other is high.
    x = np.array([[1.0, 1.0], [1.0, 0.0]])
    m = np.array([[0.5, 1.0], [1.0, 0.0]])
    bic = lpmech.verify(inst, x, m)
    dsic = lpmech.verify(inst, x, m, ic="dominant")
    assert dsic.max_ic_violation >= bic.max_ic_violation
    post = lpmech.verify(inst, x, m, participation="ex-post")
    assert post.max_ir_violation >= lpmech.verify(inst, x, m).max_ir_violation
    # ex post: agent a at cost .75 facing b at .25 gets .5 * (1 - .75) >= 0; at (.25,.25): .5*(.5-.25)
    assert post.max_ir_violation == 0.0


def test_posted_price_mechanism_passes_audit():
    inst = random_instance(np.random.default_rng(11), 3, 3, "sell")
    pp = lpmech.best_posted_price(inst)
    a = lpmech.verify(inst, pp.allocation, pp.transfer)
    assert a.max_ic_violation < 1e-12 and a.max_ir_violation < 1e-12
    assert a.profit == pytest.approx(pp.value)
