"""Input: continuous instances, extreme and malformed numbers, sizes, strings for lists, exact reading.

Issue 9, kinds 2, 4 (input side) and 6 (veto string); issue 11, item 1 (exact reading). Every
malformed input must be an InstanceError (one line, naming the field), never another exception
type; the exact data are checked against the standard library's Fraction, independently of
lpmech's own conversion.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from helpers import result_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli import GRIDS

from lpmech.continuous import solve_continuous
from lpmech.instance import MAX_POINTS, Agent, Instance, InstanceError, Mechanism
from lpmech.loader import from_dict, load

PAIR = """
side = "buy"
buyer_value = 1.0
[[agents]]
name = "a"
distribution = "uniform"
params = { loc = 0.0, scale = 1.0 }
[[agents]]
name = "b"
distribution = "uniform"
"""


def write(tmp_path, text, name="inst.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def base() -> dict:
    """A valid instance as parsed TOML (fresh each call, so tests may mutate it)."""
    return {"side": "buy", "buyer_value": 1.0, "types": "per-share",
            "agents": [{"name": "a", "share": 0.5, "grid": [0.2, 0.6], "probs": [0.5, 0.5]},
                       {"name": "b", "share": 0.5, "distribution": "beta", "params": {"a": 2.0, "b": 3.0},
                        "points": 3}],
            "mechanism": {"ic": "bayesian", "participation": "interim", "veto": ["a", "b"]}}


# ----------------------------------------------------------------------------- kind 2: continuous instances
def test_file_without_points_is_a_continuous_instance(tmp_path):
    inst = load(write(tmp_path, PAIR))                # before the fix: "field 'points': is required"
    assert inst.is_continuous and all(a.grid is None and a.is_continuous for a in inst.agents)
    assert inst.agents[1].distribution["params"] == {}
    res = solve_continuous(inst)
    assert res.value == pytest.approx(1 / 6, rel=1e-9)   # closed form (N b/2)^N b / (N! (N+1)), N = 2, b = 1
    assert res.to_dict()["formulation"] == "continuous"
    assert "continuous types" in inst.describe()


@pytest.mark.parametrize("op", ["shape", "grids", "n_profiles", "probs", "exact_per_share_grids",
                                "engine()", "joint_pmf()", "check_size()"])
def test_grid_operations_on_a_continuous_instance_say_so(tmp_path, op):
    path = write(tmp_path, PAIR)
    inst = load(path)
    with pytest.raises(InstanceError) as err:
        eval(f"inst.{op}")
    msg = str(err.value)
    assert "continuous" in msg and "points" in msg and str(path) in msg and err.value.agent == "a"


def test_continuous_agents_from_python_and_mixed_with_points():
    cont = Instance("sell", [Agent.from_distribution(n, "uniform", {}, points=None) for n in "ab"],
                    seller_cost=0.0)
    grid = Instance("sell", [Agent.from_distribution(n, "uniform", {}, points=7) for n in "ab"], seller_cost=0.0)
    assert cont.is_continuous and not grid.is_continuous
    a, b = solve_continuous(cont), solve_continuous(grid)     # the grid of the second is ignored
    assert a.value == b.value and a.to_dict()["formulation"] == b.to_dict()["formulation"] == "continuous"
    with pytest.raises(InstanceError, match="probs"):
        Agent("x", None, [1.0], distribution={"name": "uniform", "params": {}})
    with pytest.raises(InstanceError, match="grid"):
        Agent("x")
    with pytest.raises(InstanceError, match="distribution"):
        Agent("x", None, distribution={"name": "unifrom", "params": {}})
    with pytest.raises(InstanceError, match="joint"):
        Instance("buy", [Agent.from_distribution("a", "uniform", {}, points=None), Agent("b", [0.5])],
                 buyer_value=1.0, joint=[[1.0]])


def test_command_line_solves_a_file_without_points_with_continuous(tmp_path, capsys):
    from lpmech.cli import main

    path = write(tmp_path, PAIR)
    out = tmp_path / "c.json"
    code = main(["solve", str(path), "--continuous", "--json", str(out)])
    assert code == 0, capsys.readouterr().err
    data = result_json(out)
    assert data["formulation"] == "continuous" and data["value"] == pytest.approx(1 / 6, rel=1e-9)


# ----------------------------------------------------------------------------- kind 4: huge numbers, sizes
HUGE = 10 ** 400


@pytest.mark.parametrize("path, field", [
    (("buyer_value",), "buyer_value"), (("agents", 0, "grid", 1), "grid"), (("agents", 0, "probs", 0), "probs"),
    (("agents", 0, "share"), "share"), (("agents", 1, "params", "a"), "params"), (("agents", 1, "points"), "points"),
    (("mechanism", "pareto"), "mechanism.pareto")])
@pytest.mark.parametrize("number", [HUGE, -HUGE, 10 ** 101, 1e300], ids=["huge", "minus-huge", "1e101", "1e300"])
def test_huge_integers_name_the_field(path, field, number):
    data = base()
    if field == "mechanism.pareto":
        del data["mechanism"]["veto"]
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = number
    with pytest.raises(InstanceError) as err:
        from_dict(data, source="f.toml")
    assert f"field {field!r}" in str(err.value) and "\n" not in str(err.value)
    assert any(w in str(err.value) for w in ("magnitude", "more than the limit", "> 0", ">= 1", "finite"))


def test_huge_numbers_in_a_file_seller_cost_and_joint(tmp_path):
    digits = "9" * 300
    text = (f'side = "sell"\nseller_cost = {digits}\n[[agents]]\nname = "x"\ngrid = [1.0]\nprobs = [1.0]\n')
    with pytest.raises(InstanceError, match="field 'seller_cost'.*magnitude"):
        load(write(tmp_path, text))
    text = ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname = "x"\ngrid = [1.0, 2.0]\n[[agents]]\nname = "y"\n'
            f'grid = [1.0]\n[joint]\nprobs = [[{digits}], [0.5]]\n')
    with pytest.raises(InstanceError, match="field 'joint.probs'.*magnitude"):
        load(write(tmp_path, text))
    text = 'side = "buy"\nbuyer_value = 1e999999999\n[[agents]]\ngrid = [1.0]\nprobs = [1.0]\n'
    start = time.perf_counter()
    with pytest.raises(InstanceError, match="field 'buyer_value'.*magnitude"):
        load(write(tmp_path, text))
    assert time.perf_counter() - start < 1.0       # the exponent is not expanded


def test_huge_points_are_refused_before_allocating(tmp_path):
    tracemalloc.start()
    try:
        text = PAIR.replace('name = "b"\n', 'name = "b"\npoints = 1000000000000\n')
        with pytest.raises(InstanceError, match=f"field 'points'.*limit of {MAX_POINTS:,}"):
            load(write(tmp_path, text))
        with pytest.raises(InstanceError, match="field 'points'"):
            Agent.from_distribution("a", "uniform", {}, points=10 ** 12)
        four = 'side = "buy"\nbuyer_value = 1.0\n' + "".join(
            f'[[agents]]\nname = "s{i}"\ndistribution = "uniform"\npoints = 1000000\n' for i in range(4))
        with pytest.raises(InstanceError, match="agent 's0': field 'points'.*profiles, more than the limit"):
            load(write(tmp_path, four), max_profiles=20_000_000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6                                 # no grid of 10^6 points (8 MB each) was built


def test_grid_list_longer_than_the_cap_is_refused():
    with pytest.raises(InstanceError, match="field 'grid'.*limit"):
        Agent("x", np.arange(MAX_POINTS + 1, dtype=float))


# ----------------------------------------------------------------------------- kind 4: malformed input, any kind
GARBAGE = [None, True, False, "", "1.0", "x\ny", {}, {"a": 1.0}, [], [[]], [1.0, [2.0]], float("nan"),
           float("inf"), -float("inf"), -0.0, 1e308, -1e308, 1e-300, 5e-324, HUGE, -HUGE, Fraction(1, 10 ** 500),
           Fraction(10 ** 500, 3), 2 ** 64, -1, 0, 10 ** 12, 1j, b"ab", object(), np.nan, np.float32(1.5),
           np.int64(2), np.array([1.0, 2.0]), np.array([[1.0]]), (1.0,), {"name": "uniform"},
           [1e308, 1e308, 1e308], [0.5, 0.5, 1e-300], [True, False], ["a", "b"], "ab"]

# every place a value can go in the base dict
FIELDS = [("side",), ("buyer_value",), ("seller_cost",), ("types",), ("name",), ("description",), ("agents",),
          ("agents", 0), ("agents", 0, "name"), ("agents", 0, "share"), ("agents", 0, "grid"),
          ("agents", 0, "grid", 0), ("agents", 0, "probs"), ("agents", 0, "probs", 1), ("agents", 1, "distribution"),
          ("agents", 1, "params"), ("agents", 1, "params", "a"), ("agents", 1, "points"), ("agents", 1, "grid"),
          ("joint",), ("mechanism",), ("mechanism", "ic"), ("mechanism", "participation"), ("mechanism", "veto"),
          ("mechanism", "veto", 0), ("mechanism", "pareto"), ("mechanism", "objective")]


def _put(data, path, value):
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _expect_instance_error_or_instance(data):
    try:
        inst = from_dict(data, source="f.toml")
    except InstanceError as err:
        msg = str(err)
        assert msg.startswith("f.toml") and "\n" not in msg and len(msg) < 600, msg
        return None
    # accepted: every derived number is finite
    assert math.isfinite(inst.designer_value) and np.all(np.isfinite(inst.shares))
    if not inst.is_continuous:
        assert all(np.all(np.isfinite(g)) for g in inst.grids)
    return inst


@pytest.mark.parametrize("path", FIELDS, ids=lambda p: ".".join(map(str, p)))
def test_every_field_with_every_bad_value_is_an_instance_error(path):
    """A generated list of bad inputs: every value above in every field of a valid instance."""
    for value in GARBAGE:
        data = base()
        _put(data, path, value)
        _expect_instance_error_or_instance(data)


@given(st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(GARBAGE) | st.floats() | st.integers()
                          | st.text(max_size=5) | st.fractions()), min_size=1, max_size=3))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_corruptions_are_instance_errors(changes):
    data = base()
    for path, value in changes:
        try:
            _put(data, path, value)
        except (TypeError, KeyError, IndexError):
            pass                                      # an earlier change replaced the container
    _expect_instance_error_or_instance(data)


@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
@settings(max_examples=150, deadline=None)
def test_random_files_are_instance_errors(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("f") / "x.toml"
    path.write_bytes(raw)
    try:
        load(path)
    except InstanceError as err:
        assert "\n" not in str(err)


@pytest.mark.parametrize("text, needle", [
    ('side = "buy"\nbuyer_value = nan\n[[agents]]\ngrid = [1.0]\nprobs = [1.0]\n',
     "field 'buyer_value': must be finite"),
    ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\ngrid = [1.0, -inf]\nprobs = [0.5, 0.5]\n',
     "field 'grid': entry 2 must be finite"),
    ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\ngrid = [-0.0, 0.0]\nprobs = [0.5, 0.5]\n', "field 'grid'"),
    ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\ngrid = [1.0, 2.0]\nprobs = [1e-300, 1.0]\n', "field 'probs'"),
    ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\ngrid = [1e308, 1.5e308]\nprobs = [0.5, 0.5]\n', "field 'grid'"),
    ('side = "buy"\nbuyer_value = 1.0\nbuyer_value = 2.0\n[[agents]]\ngrid = [1.0]\nprobs = [1.0]\n', "invalid TOML"),
    ('side = "buy"\nbuyer_value = ' + "1" * 5000 + '\n[[agents]]\ngrid = [1.0]\nprobs = [1.0]\n', "invalid TOML"),
    ('side = "buy"\nbuyer_value = 1.' + "1" * 5000 + '\n[[agents]]\ngrid = [1.0]\nprobs = [1.0]\n', "buyer_value"),
    ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\ngrid = ' + "[" * 5000 + "]" * 5000 + '\n', "nested too deeply"),
    ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname = ""\ngrid = [1.0]\nprobs = [1.0]\n', "field 'name'"),
    ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nname = "x"\ngrid = { a = 1.0 }\nprobs = [1.0]\n', "field 'grid'"),
    ('side = "buy"\nbuyer_value = true\n[[agents]]\ngrid = [1.0]\nprobs = [1.0]\n', "field 'buyer_value'"),
    ('side = "buy"\nbuyer_value = 1.0\n[[agents]]\nshare = 1e-300\ngrid = [1.0]\nprobs = [1.0]\n', "field 'share'"),
], ids=["nan", "minus-inf", "negative-zero", "probability-1e-300", "1e308", "duplicated-key", "5000-digit-int",
        "5000-digit-decimal", "deep-nesting", "empty-name", "table-for-list", "boolean", "share-1e-300"])
def test_extreme_numbers_in_files(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(InstanceError) as err:
        load(path)
    assert needle in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "x.toml"
    path.write_bytes(b'side = "buy"\nname = "\xff\xfe"\n')
    with pytest.raises(InstanceError, match="not UTF-8"):
        load(path)


def test_sums_of_large_numbers_do_not_overflow():
    inst = Instance("buy", [Agent(n, [1e99, 9e99], [0.5, 0.5]) for n in "abc"], buyer_value=1e100)
    assert np.all(np.isfinite(inst.grids[0]))
    with pytest.raises(InstanceError, match="magnitude"):       # total types 9e99 / (1/10^3) per share
        Instance("buy", [Agent(n, [1e97, 9e99], [0.5, 0.5], share=s) for n, s in zip("ab", [1e-3, 1 - 1e-3])],
                 buyer_value=1.0, types="total")


def test_profile_probability_underflow_is_refused():
    agents = [Agent(f"a{i}", [0.0, 1.0], [1e-90, 1 - 1e-90]) for i in range(4)]
    with pytest.raises(InstanceError, match="least likely type profile"):
        Instance("buy", agents, buyer_value=1.0)


def test_python_api_rejects_wrong_types():
    for call in [lambda: Instance("buy", None, buyer_value=1.0), lambda: Instance("buy", 5, buyer_value=1.0),
                 lambda: Instance("buy", "ab", buyer_value=1.0), lambda: Instance("buy", [Agent("a", [1.0], [1.0])],
                                                                               buyer_value=1.0, name=3),
                 lambda: Instance("buy", [Agent("a", [1.0], [1.0])], buyer_value=1.0, mechanism={"ic": "x"}),
                 lambda: Agent("a", [1.0], [1.0], share="0.5"), lambda: Agent("a", "12", [1.0]),
                 lambda: Agent("a", [[1.0]], [1.0]), lambda: Agent("a", [1.0], [1.0], distribution="uniform"),
                 lambda: Agent.from_distribution("a", "uniform", {"scale": "1"}, points=3),
                 lambda: Agent.from_distribution("a", "__class__", {}, points=3),
                 lambda: Agent.from_distribution("a", "uniform", {}, points=3.0),
                 lambda: Mechanism(pareto=HUGE), lambda: Mechanism(ic=["bayesian"])]:
        with pytest.raises(InstanceError):
            call()


# ----------------------------------------------------------------------------- kind 6: strings for lists
@pytest.mark.parametrize("veto", ["ab", 5, {"a": 1}, {"a"}, [1], b"ab"])
def test_veto_must_be_a_list_of_names(veto):
    with pytest.raises(InstanceError, match="mechanism.veto"):
        Mechanism(veto=veto)
    data = base()
    data["mechanism"]["veto"] = veto
    with pytest.raises(InstanceError, match="mechanism.veto"):
        from_dict(data)


def test_veto_string_in_a_file_and_unknown_names(tmp_path):
    text = PAIR.replace("distribution", "points = 4\ndistribution") + '[mechanism]\nveto = "ab"\n'
    with pytest.raises(InstanceError, match="field 'mechanism.veto': must be a list of agent names"):
        load(write(tmp_path, text))
    two = [Agent(n, [0.25, 0.75], [0.5, 0.5]) for n in "ab"]
    with pytest.raises(InstanceError) as err:
        Instance("buy", two, buyer_value=1.0, mechanism=Mechanism(veto=("a", "zed")))
    assert err.value.agent == "zed" and err.value.field == "mechanism.veto"
    with pytest.raises(InstanceError, match="twice"):
        Mechanism(veto=["a", "a"])


# ----------------------------------------------------------------------------- exact reading
def test_decimal_in_a_file_is_exact_and_python_float_is_binary(tmp_path):
    text = ('side = "buy"\nbuyer_value = 0.7\n[[agents]]\nname = "x"\nshare = 0.3\ngrid = [0.1, 0.2]\n'
            'probs = [0.3, 0.7]\n[[agents]]\nname = "y"\nshare = 0.7\ngrid = [1, 2]\nprobs = [0.5, 0.5]\n')
    inst = load(write(tmp_path, text))
    x = inst.agents[0]
    assert x.exact_grid == (Fraction(1, 10), Fraction(1, 5)) and x.exact_probs == (Fraction(3, 10), Fraction(7, 10))
    assert x.exact_share == Fraction(3, 10) and inst.exact_designer_value == Fraction(7, 10)
    assert inst.exact_shares == (Fraction(3, 10), Fraction(7, 10))
    assert x.grid.tolist() == [0.1, 0.2] and inst.buyer_value == 0.7
    py = Instance("buy", [Agent("x", [0.1, 0.2], [0.3, 0.7], 0.3), Agent("y", [1, 2], [0.5, 0.5], 0.7)],
                  buyer_value=0.7)
    assert py.agents[0].exact_grid == (Fraction(0.1), Fraction(0.2)) and Fraction(0.1) != Fraction(1, 10)
    assert py.exact_designer_value == Fraction(0.7)
    assert sum(py.exact_shares) == 1 and [float(s) for s in py.exact_shares] == py.shares.tolist()


def test_near_one_sums_are_normalized_exactly_on_both_paths(tmp_path):
    third = "0.3333333333333333"                          # three of these sum to 1 - 1e-16: within PROB_TOL
    text = (f'side = "sell"\nseller_cost = 0.1\n[[agents]]\nname = "x"\ngrid = [1, 2, 3]\n'
            f'probs = [{third}, {third}, {third}]\n')
    inst = load(write(tmp_path, text))
    assert inst.agents[0].exact_probs == (Fraction(1, 3),) * 3      # p / Σp in fractions
    assert inst.agents[0].probs.tolist() == [1 / 3] * 3
    uneven = [0.2, 0.3, 0.5 - 1e-12]
    a = Agent("u", [1.0, 2.0, 3.0], uneven)
    total = sum(Fraction(p) for p in uneven)
    assert a.exact_probs == tuple(Fraction(p) / total for p in uneven) and sum(a.exact_probs) == 1
    assert a.probs.tolist() == [float(Fraction(p) / total) for p in uneven]


def test_total_types_and_joint_exact(tmp_path):
    inst = load(GRIDS / "committee_software.toml")
    assert inst.exact_per_share_grids[1][1] == Fraction(9) / Fraction(3, 10) == 30
    assert inst.grids[1][1] == 30.0                         # the exact quotient, rounded once
    corr = load(GRIDS / "correlated_sellers.toml")
    assert corr.exact_joint[0, 1] == Fraction(425, 10000) and corr.exact_joint.sum() == 1
    assert corr.agents[0].exact_probs is None


def test_exact_data_survive_replace_and_with_mechanism():
    corr = load(GRIDS / "correlated_sellers.toml")
    for copy in (corr.with_mechanism(ic="dominant"), replace(corr, mechanism=Mechanism(ic="dominant"))):
        assert copy.exact_joint[0, 1] == Fraction(425, 10000)
    sell = load(GRIDS / "partial_veto.toml")
    assert sell.with_mechanism(participation="ex-post").exact_designer_value == Fraction(1, 5)
    changed = replace(sell, seller_cost=0.25)
    assert changed.exact_designer_value == Fraction(0.25)


def test_discretized_laws_are_exact_values_of_their_floats():
    a = Agent.from_distribution("a", "beta", {"a": 2, "b": 3}, points=7)
    assert a.exact_grid == tuple(Fraction(g) for g in a.grid.tolist())
    assert a.exact_probs == (Fraction(1, 7),) * 7 and a.probs.tolist() == [1 / 7] * 7


@pytest.mark.parametrize("path", sorted(GRIDS.glob("*.toml")), ids=lambda p: p.name)
def test_every_grid_file_has_exact_data_equal_to_its_floats(path):
    inst = load(path)
    for a in inst.agents:
        assert [float(e) for e in a.exact_grid] == a.grid.tolist()
        if a.probs is not None:
            assert [float(e) for e in a.exact_probs] == a.probs.tolist() and sum(a.exact_probs) == 1
    assert [float(s) for s in inst.exact_shares] == inst.shares.tolist() and sum(inst.exact_shares) == 1
    assert float(inst.exact_designer_value) == inst.designer_value
    for exact, floats in zip(inst.exact_per_share_grids, inst.grids):
        assert [float(e) for e in exact] == floats.tolist()
    if inst.joint is not None:
        assert np.array_equal(inst.exact_joint.astype(float), inst.joint) and inst.exact_joint.sum() == 1
    # decimal text in the file is read exactly: compare with the file's own text, parsed by Fraction
    import re
    import tomllib
    raw = tomllib.loads(path.read_text(), parse_float=Fraction)
    for a, table in zip(inst.agents, raw["agents"]):
        if "grid" in table:
            assert a.exact_grid == tuple(Fraction(v) for v in table["grid"])
    assert re.search(r"\d", path.read_text())


@given(st.integers(1, 4), st.integers(1, 5), st.booleans(), st.booleans(), st.data())
@settings(max_examples=60, deadline=None)
def test_exact_data_round_to_the_float_data(n, k, total, shares_given, data):
    """On random Python instances (per-share and total types, given or equal shares), float(exact) == floats."""
    def pmf():
        w = data.draw(st.lists(st.floats(0.01, 1.0), min_size=k, max_size=k))
        return [x / math.fsum(w) for x in w]                 # sums to 1 only up to rounding
    scale = 10.0 ** data.draw(st.integers(-6, 6))
    raw = [data.draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=1))[0] + 0.1 for _ in range(n)]
    shares = [r / math.fsum(raw) for r in raw] if shares_given else [None] * n
    agents = [Agent(f"a{i}", np.cumsum(np.full(k, 0.37 * scale)) * (i + 1), pmf(), shares[i]) for i in range(n)]
    inst = Instance("buy", agents, buyer_value=0.3 * scale, types="total" if total else "per-share")
    assert sum(inst.exact_shares) == 1 and [float(s) for s in inst.exact_shares] == inst.shares.tolist()
    if not shares_given:
        assert inst.exact_shares == (Fraction(1, n),) * n
    for a, exact, floats in zip(inst.agents, inst.exact_per_share_grids, inst.grids):
        assert sum(a.exact_probs) == 1 and [float(p) for p in a.exact_probs] == a.probs.tolist()
        assert [float(e) for e in exact] == floats.tolist()
        s = inst.exact_shares[inst.agents.index(a)]
        assert exact == tuple(Fraction(g) / s if total else Fraction(g) for g in a.grid.tolist())
