"""lpmech.compact.CompactMechanism: the mechanism as ω, φ̄, the tie set's completion, M_i and T.

Built from the pipeline's own engine quantities (the pieces of lpmech.solver._solve_maximin run
here), its allocation, transfer, user slabs and blocks must equal the full arrays the pipeline
forms bit for bit; the index rule given only the tie band's profiles must reproduce x; and
every entry is compared with a profile-by-profile Python loop (brute force, the same float
operations in agent order)."""

from __future__ import annotations

import itertools
import json
import pathlib

import numpy as np
import pytest
from helpers import examples, random_instance
from hypothesis import given, settings
from hypothesis import strategies as st

import lpmech
from lpmech import solver
from lpmech.compact import FORM, CompactMechanism
from lpmech.tolerances import on_tie
from lpmech.transfers import transfers
from lpmech.virtual import iron, virtual_costs

GRIDS = pathlib.Path(__file__).resolve().parent.parent / "grids"


def maximin_files():
    out = []
    for path in sorted(GRIDS.glob("*.toml")):
        inst = lpmech.load(path)
        if not inst.is_continuous and inst.independent and inst.mechanism.is_default:
            out.append(path.name)
    return out


def engine_pieces(inst, method="lp"):
    """What lpmech.solver._solve_maximin computes before building its result (engine form)."""
    user_problem = inst.engine()
    unit = solver.unit_scale(user_problem)
    problem = solver._normalized(user_problem, unit)
    phi = [virtual_costs(t, p) for t, p in zip(problem.grids, problem.probs)]
    phi_bar = [iron(f, p) for f, p in zip(phi, problem.probs)]
    core = solver._lp_core(problem, phi, phi_bar) if method == "lp" else solver._structured_core(problem, phi, phi_bar)
    tr = transfers(problem, core.x)
    omega = np.clip(core.omega, 0.0, None)
    return unit, problem, phi_bar, core, tr, omega


def bits(a):
    return np.ascontiguousarray(a, dtype=float).view(np.int64)


def same_bits(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.array_equal(bits(a), bits(b))


def brute_index(omega, phi_bar, shape):
    """Σ_i ω_i φ̄_i(θ_i) profile by profile, in agent order from 0.0 (Python floats)."""
    out = np.empty(shape)
    for k in itertools.product(*(range(s) for s in shape)):
        s = 0.0
        for i, j in enumerate(k):
            s = s + float(omega[i]) * float(phi_bar[i][j])
        out[k] = s
    return out


def brute_transfer(M, T, shape):
    n = len(shape)
    out = np.empty(shape)
    for k in itertools.product(*(range(s) for s in shape)):
        s = -(n - 1) * float(T)
        for i, j in enumerate(k):
            s = s + float(M[i][j])
        out[k] = s
    return out


def check_against_full(inst, unit, problem, phi_bar, x, tr, omega, chunks=(1, 7, 1000)):
    """Every accessor of the compact form equals the full arrays, bit for bit."""
    cm = CompactMechanism.from_allocation(inst, unit, omega, phi_bar, problem.b, x, tr.M, tr.constant)
    full_x = inst.to_user(x)
    full_m = inst.to_user(tr.m * unit, negate=True)
    assert cm.profiles == x.size and cm.shape == x.shape
    assert same_bits(cm.allocation(), full_x)
    assert same_bits(cm.transfer(), full_m)
    for i in range(x.shape[0]):
        sx, sm = cm.user_slab(i)
        assert same_bits(sx, full_x[i]) and same_bits(sm, full_m[i])
    for chunk in chunks:
        got_x, got_m = [], []
        for lo, hi, bx, bm in cm.blocks(chunk):
            assert hi - lo == bx.size == bm.size <= chunk
            got_x.append(bx)
            got_m.append(bm)
        assert same_bits(np.concatenate(got_x), x.reshape(-1))
        assert same_bits(np.concatenate(got_m), tr.m.reshape(-1))
    # the JSON form: valid JSON, and the mechanism comes back from it bit for bit
    data = json.loads(json.dumps(cm.to_dict(), allow_nan=False))
    assert data["form"] == FORM and data["tie_profiles"] == cm.ties == len(data["ties"]["profiles"])
    back = CompactMechanism.from_dict(inst, data)
    assert same_bits(back.allocation(), full_x) and same_bits(back.transfer(), full_m)
    # the user's ties are the profiles where the user's x departs from the rule written in user units
    for k, xv in zip(data["ties"]["profiles"], data["ties"]["allocation"]):
        assert full_x[tuple(k)] == xv
    return cm


# ------------------------------------------------------------------ the grids/ instances
@pytest.mark.parametrize("name", maximin_files())
@pytest.mark.parametrize("method", ["lp", "structured"])
def test_grid_files_bit_for_bit(name, method):
    inst = lpmech.load(GRIDS / name)
    unit, problem, phi_bar, core, tr, omega = engine_pieces(inst, method)
    cm = check_against_full(inst, unit, problem, phi_bar, core.x, tr, omega)
    # off the tie band the pipeline's x is the index rule: the constructor given only the band's
    # profiles (and x there) reproduces x everywhere, and the band is a small part of the grid
    index = lpmech.profiles.weighted_sum(omega, phi_bar)
    band = on_tie(index, problem.b, lpmech.profiles.weighted_sum(omega, [np.abs(f) for f in phi_bar]), core.tie_rtol)
    tie_index = np.flatnonzero(band.reshape(-1))
    given_ties = CompactMechanism(
        inst, unit, omega, phi_bar, problem.b, tie_index, core.x.reshape(-1)[tie_index], tr.M, tr.constant
    )
    assert np.array_equal(given_ties.allocation(), inst.to_user(core.x))  # (the LP may write -0.0)
    rule_there = (index.reshape(-1)[cm.tie_index] < problem.b).astype(float)
    stored = cm.tie_index[cm.tie_x != rule_there]  # (-0.0 departs from the rule's 0.0 in its bits only)
    assert set(stored.tolist()) <= set(tie_index.tolist())
    # against a profile-by-profile loop (independent of numpy's outer operations)
    if core.x.size <= 5000:
        rule = brute_index(omega, phi_bar, core.x.shape) < problem.b
        expect = np.where(rule, 1.0, 0.0)
        expect.reshape(-1)[cm.tie_index] = cm.tie_x
        assert same_bits(expect, core.x)
        assert same_bits(brute_transfer(tr.M, tr.constant, core.x.shape), tr.m)


def test_a_wrong_tie_set_is_seen():
    """The reconstruction can fail: dropping or altering a stored tie changes the allocation."""
    inst = lpmech.load(GRIDS / "land_assembly.toml")
    unit, problem, phi_bar, core, tr, omega = engine_pieces(inst, "lp")
    cm = CompactMechanism.from_allocation(inst, unit, omega, phi_bar, problem.b, core.x, tr.M, tr.constant)
    assert cm.ties > 0
    dropped = CompactMechanism(inst, unit, omega, phi_bar, problem.b, cm.tie_index[1:], cm.tie_x[1:], tr.M, tr.constant)
    assert not same_bits(dropped.allocation(), inst.to_user(core.x))
    changed = cm.tie_x.copy()
    changed[0] = 1.0 - changed[0] if changed[0] in (0.0, 1.0) else 0.5 * changed[0]
    altered = CompactMechanism(inst, unit, omega, phi_bar, problem.b, cm.tie_index, changed, tr.M, tr.constant)
    assert not same_bits(altered.allocation(), inst.to_user(core.x))
    shifted = CompactMechanism(inst, unit, omega, phi_bar, problem.b, cm.tie_index, cm.tie_x, tr.M, tr.constant + 1.0)
    assert not same_bits(shifted.transfer(), inst.to_user(tr.m * unit, negate=True))


# ------------------------------------------------------------------ hypothesis instances
@settings(max_examples=examples(60, 12))
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 4),
    k=st.integers(2, 5),
    side=st.sampled_from(["buy", "sell"]),
    method=st.sampled_from(["lp", "structured"]),
)
def test_random_instances_bit_for_bit(seed, n, k, side, method):
    inst = random_instance(np.random.default_rng(seed), n, k, side)
    unit, problem, phi_bar, core, tr, omega = engine_pieces(inst, method)
    cm = check_against_full(inst, unit, problem, phi_bar, core.x, tr, omega, chunks=(1, 3, 17))
    assert same_bits(brute_transfer(tr.M, tr.constant, core.x.shape), tr.m)
    rule = np.where(brute_index(omega, phi_bar, core.x.shape) < problem.b, 1.0, 0.0)
    off = np.ones(core.x.size, bool)
    off[cm.tie_index] = False
    assert same_bits(rule.reshape(-1)[off], core.x.reshape(-1)[off])


@settings(max_examples=examples(60, 15))
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    side=st.sampled_from(["buy", "sell"]),
    data=st.data(),
)
def test_any_allocation_and_any_block(seed, shape, side, data):
    """Arbitrary x (fractional, -0.0, ties anywhere) and arbitrary ranges [lo, hi)."""
    rng = np.random.default_rng(seed)
    agents = [
        lpmech.Agent(f"a{i}", np.cumsum(rng.uniform(0.1, 1.0, k)).round(4), np.full(k, 1.0 / k))
        for i, k in enumerate(shape)
    ]
    kw = {"buyer_value": 1.0} if side == "buy" else {"seller_cost": 0.5}
    inst = lpmech.Instance(side, agents, **kw)
    omega = rng.dirichlet(np.ones(len(shape)))
    phi_bar = [rng.normal(size=k) for k in shape]
    M = [rng.normal(size=k) for k in shape]
    T = float(rng.normal())
    b = float(rng.normal())
    x = (lpmech.profiles.weighted_sum(omega, phi_bar) < b).astype(float)
    flat = x.reshape(-1)
    pick = rng.random(flat.size) < 0.3
    flat[pick] = rng.choice([0.0, -0.0, 0.25, 1.0], size=int(pick.sum()))
    cm = CompactMechanism.from_allocation(inst, 0.5, omega, phi_bar, b, x, M, T)
    m = lpmech.profiles.outer_accumulate(np.add, -(len(shape) - 1) * T, M)
    lo = data.draw(st.integers(0, flat.size))
    hi = data.draw(st.integers(lo, flat.size))
    bx, bm = cm.engine_block(lo, hi)
    assert same_bits(bx, flat[lo:hi]) and same_bits(bm, m.reshape(-1)[lo:hi])
    assert same_bits(cm.index(lo, hi), lpmech.profiles.weighted_sum(omega, phi_bar).reshape(-1)[lo:hi])
    assert same_bits(cm.allocation(), inst.to_user(x))
    assert same_bits(cm.transfer(), inst.to_user(m * 0.5, negate=True))
    pmf = lpmech.profiles.outer_pmf(inst.engine().probs)
    assert cm.trade_probability(chunk=7) == pytest.approx(float(np.sum(pmf * x)), rel=1e-12, abs=1e-15)
    back = CompactMechanism.from_dict(inst, json.loads(json.dumps(cm.to_dict())))
    assert same_bits(back.allocation(), cm.allocation()) and same_bits(back.transfer(), cm.transfer())


def test_user_form_reads_in_the_users_units():
    """The JSON's rule, written in the user's units, gives the user's allocation off the ties."""
    for name, cmp in (("uniform_pair.toml", np.less), ("software_example.toml", np.greater)):
        inst = lpmech.load(GRIDS / name)
        unit, problem, phi_bar, core, tr, omega = engine_pieces(inst, "structured")
        cm = CompactMechanism.from_allocation(inst, unit, omega, phi_bar, problem.b, core.x, tr.M, tr.constant)
        d = cm.to_dict()
        assert d["b"] == inst.designer_value
        idx = lpmech.profiles.weighted_sum(d["omega"], [np.array(v) for v in d["virtual_ironed"]])
        x = cmp(idx, d["b"]).astype(float)
        for k, xv in zip(d["ties"]["profiles"], d["ties"]["allocation"]):
            x[tuple(k)] = xv
        assert np.array_equal(x, cm.allocation())
        m = lpmech.profiles.outer_accumulate(np.add, -(inst.n - 1) * d["constant"], d["interim_transfer"])
        np.testing.assert_allclose(m, cm.transfer(), rtol=1e-12, atol=1e-12 * np.abs(m).max())


def test_bad_arguments_are_refused():
    inst = lpmech.load(GRIDS / "uniform_pair.toml")
    f = [np.zeros(50), np.zeros(50)]
    with pytest.raises(ValueError, match="strictly increasing"):
        CompactMechanism(inst, 1.0, [0.5, 0.5], f, 0.0, [3, 3], [1.0, 1.0], f, 0.0)
    with pytest.raises(ValueError, match="outside"):
        CompactMechanism(inst, 1.0, [0.5, 0.5], f, 0.0, [2500], [1.0], f, 0.0)
    with pytest.raises(ValueError, match="shape"):
        CompactMechanism.from_allocation(inst, 1.0, [0.5, 0.5], f, 0.0, np.zeros((50, 49)), f, 0.0)
    cm = CompactMechanism(inst, 1.0, [0.5, 0.5], f, 0.0, [], [], f, 0.0)
    with pytest.raises(ValueError, match="outside the grid"):
        cm.engine_block(0, 2501)
    with pytest.raises(IndexError):
        cm.user_slab(50)
