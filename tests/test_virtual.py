import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import lpmech
from lpmech.virtual import iron, ironing_intervals, virtual_costs
from helpers import gcm_slopes


def test_virtual_costs_by_hand():
    # grid 1, 2, 4 with pmf 0.5, 0.25, 0.25: φ = 1, 2 + 1*0.5/0.25 = 4, 4 + 2*0.75/0.25 = 10
    phi = virtual_costs(np.array([1.0, 2.0, 4.0]), np.array([0.5, 0.25, 0.25]))
    assert phi == pytest.approx([1.0, 4.0, 10.0])


def test_sell_side_virtual_values_by_hand():
    # Sell side: φ(t_k) = t_k - (t_{k+1} - t_k)(1 - F_k)/p_k, φ(t_K) = t_K.
    # grid 1, 2, 4 pmf 0.25, 0.25, 0.5: φ = 1 - 1*0.75/0.25 = -2, 2 - 2*0.5/0.25 = -2, 4
    inst = lpmech.Instance("sell", [lpmech.Agent("a", [1.0, 2.0, 4.0], [0.25, 0.25, 0.5])], seller_cost=0.0)
    res = lpmech.solve(inst)
    assert res.interim[0]["virtual"] == pytest.approx([-2.0, -2.0, 4.0])


def test_uniform_grid_virtual_cost_is_discrete_2theta():
    # Midpoint grid of U[0,1]: φ(t_k) = t_k + (1/K)(k-1) = 2 t_k - 1/(2K) for k >= 2.
    k = 10
    t = (np.arange(1, k + 1) - 0.5) / k
    phi = virtual_costs(t, np.full(k, 1 / k))
    assert phi[1:] == pytest.approx(2 * t[1:] - 1 / (2 * k))
    assert phi[0] == pytest.approx(t[0])


def test_ironing_by_hand():
    # φ = 1, 3, 2 with pmf .2 .4 .4: pool the last two at (3*.4 + 2*.4)/.8 = 2.5
    phi = np.array([1.0, 3.0, 2.0])
    bar = iron(phi, np.array([0.2, 0.4, 0.4]))
    assert bar == pytest.approx([1.0, 2.5, 2.5])
    assert ironing_intervals(phi, bar) == [(1, 2)]


def test_ironing_of_the_land_assembly_farm():
    inst = lpmech.load(lpmech_grids("land_assembly.toml"))
    farm = inst.agents[2]
    phi = virtual_costs(farm.grid, farm.probs)
    assert np.any(np.diff(phi) < 0), "the farm was chosen to be non-regular"
    bar = iron(phi, farm.probs)
    assert np.all(np.diff(bar) >= -1e-12)
    assert bar == pytest.approx(gcm_slopes(phi, farm.probs))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=9),
       st.lists(st.floats(0.05, 1.0), min_size=9, max_size=9))
def test_ironing_matches_greatest_convex_minorant(values, weights):
    phi = np.array(values)
    probs = np.array(weights[: phi.size])
    probs = probs / probs.sum()
    bar = iron(phi, probs)
    assert bar == pytest.approx(gcm_slopes(phi, probs), abs=1e-9)
    # ironing preserves the mean: Σ p φ̄ = Σ p φ
    assert float(probs @ bar) == pytest.approx(float(probs @ phi), abs=1e-9)


def lpmech_grids(name):
    import pathlib

    return pathlib.Path(__file__).resolve().parent.parent / "grids" / name


# --------------------------------------------------------------------------- the posted-price benchmark
def _reference_posted(inst):
    """INDEPENDENT REFERENCE: the best collective posted price by brute force in the user's own
    form (no engine mirror): every grid point p, P(every agent accepts) summed over profiles,
    margin b - p (buy) or p - c (sell); the lowest price among equally good ones."""
    import itertools

    pmf = inst.joint_pmf()
    best = (0.0, None)
    for p in sorted(set(np.concatenate(inst.grids).tolist())):
        accept = 0.0
        for idx in itertools.product(*[range(g.size) for g in inst.grids]):
            types = [g[k] for g, k in zip(inst.grids, idx)]
            if all((t <= p) if inst.side == "buy" else (t >= p) for t in types):
                accept += pmf[idx]
        value = (inst.buyer_value - p if inst.side == "buy" else p - inst.seller_cost) * accept
        if value > best[0] * (1 + 1e-12) + 1e-15:
            best = (value, p)
    return best


@pytest.mark.parametrize("seed", range(24))
def test_posted_price_matches_brute_force_both_sides(seed):
    # best_posted_price works in the engine's buy-side form and maps back (Instance.user_money,
    # Instance.to_user); uniform grids with round values make exact ties between prices
    rng = np.random.default_rng(seed)
    side = "sell" if seed % 2 else "buy"
    agents = [lpmech.Agent.from_distribution(f"a{i}", "uniform", {}, int(rng.integers(2, 6)))
              for i in range(1 + seed % 3)] if seed % 4 < 2 else \
        [lpmech.Agent(f"a{i}", np.cumsum(rng.uniform(0.1, 1.0, 4)).round(3), rng.dirichlet(np.ones(4)))
         for i in range(1 + seed % 3)]
    top = max(float(a.grid.max()) for a in agents)
    kw = {"buyer_value": round(float(rng.choice([0.5, 1.0, 1.5])) * top, 3)} if side == "buy" else \
        {"seller_cost": round(float(rng.choice([0.0, 0.25, 0.5])) * top, 3)}
    inst = lpmech.Instance(side, agents, **kw)
    pp = lpmech.best_posted_price(inst)
    value, price = _reference_posted(inst)
    assert pp.value == pytest.approx(value, rel=1e-12, abs=1e-15)
    assert pp.price == (None if price is None else pytest.approx(price, rel=1e-15))
    if price is not None:
        accept = np.ones(inst.shape, dtype=bool)
        for i, g in enumerate(inst.grids):
            ok = g <= price if side == "buy" else g >= price
            accept &= ok.reshape([-1 if j == i else 1 for j in range(inst.n)])
        assert np.array_equal(pp.allocation, accept.astype(float))
        assert np.array_equal(pp.transfer, price * accept)


def test_posted_price_tie_goes_to_the_lowest_price_on_the_sell_side():
    # prices 0.625 and 0.75 earn the same (exact dyadic arithmetic); the engine's mirror makes
    # 0.75 its *lowest* engine price, so the tie rule must be stated in the user's terms
    inst = lpmech.Instance("sell", [lpmech.Agent.from_distribution(f"a{i}", "uniform", {}, k)
                                    for i, k in enumerate((3, 2, 4))], seller_cost=0.5)
    value, price = _reference_posted(inst)
    assert price == 0.625
    pp = lpmech.best_posted_price(inst)
    assert pp.price == 0.625 and pp.value == pytest.approx(value, rel=1e-12)
