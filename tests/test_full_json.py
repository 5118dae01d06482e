"""Results without K^N numbers: Result.compact, allocation/transfer on demand, the compact JSON
form above JSON_FULL_MAX_PROFILES, and ``--full``, which streams every profile slab by slab.

The size thresholds are lowered in these tests so that small grids exercise the large-grid
paths; every streamed document is parsed with json.load and compared with the form written in
one piece (and with the arrays the solver computed)."""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib

import numpy as np
import pytest
from helpers import cli_calls, result_json

import lpmech
from lpmech import result as result_mod
from lpmech import solver
from lpmech.compact import CompactMechanism
from lpmech.files import chunk_writer, write_outputs
from lpmech.transfers import transfers
from lpmech.virtual import iron, virtual_costs

GRIDS = pathlib.Path(__file__).resolve().parent.parent / "grids"
TESTS = pathlib.Path(__file__).resolve().parent


def attach_compact(res):
    """``res`` holding its mechanism in compact form only (allocation and transfer not stored).

    Built independently of the pipeline's internals: the engine x is the user's allocation with
    every axis reversed on the sell side (Instance.to_user is its own inverse on profile arrays),
    the transfers are lpmech.transfers of that x, and any ω serves from_allocation."""
    if res.compact is not None:
        return dataclasses.replace(res, allocation=None, transfer=None)
    inst = res.instance
    user_problem = inst.engine()
    unit = solver.unit_scale(user_problem)
    problem = solver._normalized(user_problem, unit)
    phi_bar = [iron(virtual_costs(t, p), p) for t, p in zip(problem.grids, problem.probs)]
    x = inst.to_user(res.allocation)
    tr = transfers(problem, x)
    cm = CompactMechanism.from_allocation(inst, unit, res.omega, phi_bar, problem.b, x, tr.M, tr.constant)
    return dataclasses.replace(res, allocation=None, transfer=None, compact=cm)


def fresh_copy(res):
    """A copy holding nothing but the compact form (dataclasses.replace alone would read, and so
    compute, the arrays)."""
    return dataclasses.replace(res, allocation=None, transfer=None)


def bits(a):
    return np.ascontiguousarray(a, dtype=float).view(np.int64)


@pytest.fixture(scope="module", params=["uniform_pair.toml", "software_example.toml", "land_assembly.toml"])
def solved(request):
    # the LP's dense x (auto takes the structured solver, whose compact transfers can differ from
    # the dense ones in the last bits: issue 14 report)
    res = lpmech.solve(lpmech.load(GRIDS / request.param), method="lp")
    return res, attach_compact(res)


def test_arrays_on_demand(solved, monkeypatch):
    res, small = solved
    full = fresh_copy(small)
    assert full.__dict__["allocation"] is None
    assert np.array_equal(bits(full.allocation), bits(res.allocation))
    assert np.array_equal(bits(full.transfer), bits(res.transfer))
    assert full.__dict__["allocation"] is not None  # kept: below CACHE_MAX_PROFILES
    monkeypatch.setattr(result_mod, "CACHE_MAX_PROFILES", 0)
    fresh = fresh_copy(small)
    assert np.array_equal(bits(fresh.transfer), bits(res.transfer))
    assert fresh.__dict__["transfer"] is None  # recomputed on each access above the limit
    assert fresh.trade_probability == pytest.approx(res.trade_probability, rel=1e-12)
    assert res.allocation is not None and res.__dict__["allocation"] is res.allocation


def test_small_grids_write_as_before(solved):
    res, small = solved
    before, after = res.to_dict(), small.to_dict()
    assert after["compact"] is not None and after["compact"]["form"] == "index-rule"
    for key in before:
        if key != "compact":
            assert after[key] == before[key], key
    result_json(json.dumps(after))


def test_large_grids_write_the_compact_form(solved, monkeypatch):
    res, small = solved
    monkeypatch.setattr(result_mod, "JSON_FULL_MAX_PROFILES", 10)
    doc = small.to_dict()
    assert doc["allocation"] is None and doc["transfer"] is None
    result_json(json.dumps(doc, allow_nan=False))  # the schema documents the form
    back = CompactMechanism.from_dict(res.instance, doc["compact"])
    assert np.array_equal(bits(back.allocation()), bits(res.allocation))
    assert np.array_equal(bits(back.transfer()), bits(res.transfer))
    assert "tie profiles" in small.summary() and "tie profiles" not in res.summary()
    # full=True and the streamed document: every profile, equal to the one-piece form
    one_piece = small.to_dict(full=True)
    assert np.array_equal(np.array(one_piece["allocation"]), res.allocation)
    streamed = json.loads("".join(small.json_chunks()))
    assert streamed == json.loads(json.dumps(one_piece))
    with_extra = dict(doc, provenance={"note": "x"})
    streamed = json.loads("".join(small.json_chunks(with_extra)))
    assert list(streamed) == list(with_extra)
    assert streamed["allocation"] == one_piece["allocation"] and streamed["transfer"] == one_piece["transfer"]
    assert streamed["provenance"] == {"note": "x"}
    # a result without a compact form streams its stored arrays unchanged
    assert json.loads("".join(res.json_chunks())) == json.loads(json.dumps(res.to_dict()))


def test_single_agent_slabs_are_numbers(monkeypatch):
    res = attach_compact(lpmech.solve(lpmech.load(GRIDS / "single_agent.toml")))
    monkeypatch.setattr(result_mod, "JSON_FULL_MAX_PROFILES", 1)
    streamed = json.loads("".join(res.json_chunks()))
    assert streamed["allocation"] == res.allocation.tolist()
    assert streamed["transfer"] == res.transfer.tolist()


def test_streamed_output_is_atomic(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")

    def pieces():
        yield "{"
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_outputs([(str(target), chunk_writer(pieces))])
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["out.json"]
    write_outputs([(str(target), chunk_writer(lambda: iter(["{", '"a": 1', "}"])))])
    assert json.loads(target.read_text()) == {"a": 1}


_PATCH = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import lpmech.solver, lpmech.result
from test_full_json import attach_compact
_solve = lpmech.solver.solve
lpmech.solver.solve = lambda *a, **k: attach_compact(_solve(*a, **k))
lpmech.result.JSON_FULL_MAX_PROFILES = 10
lpmech.result.FULL_JSON_WARN_BYTES = {{warn}}
"""


def test_cli_full(tmp_path):
    src = GRIDS / "software_example.toml"
    plain, full, stdout, quiet = (tmp_path / f"{n}.json" for n in ("plain", "full", "stdout", "quiet"))
    lp = ["--method", "lp"]  # as the fixture above: bit-equal arrays are compared
    calls = [
        (["solve", src, *lp, "--json", plain], _PATCH.format(warn=0)),
        (["solve", src, *lp, "--json", full, "--full"], _PATCH.format(warn=0)),
        (["solve", src, *lp, "--json", "-", "--full"], _PATCH.format(warn=10**12)),
        (["solve", src, *lp, "--json", quiet, "--full"], _PATCH.format(warn=10**12)),
        ["solve", src, *lp, "--json", stdout],
        ["solve", src, "--full"],
    ]
    (c0, out0, err0), (c1, _, err1), (c2, out2, err2), (c3, _, err3), (c4, _, _), (c5, out5, err5) = cli_calls(calls)
    assert (c0, c1, c2, c3, c4) == (0, 0, 0, 0, 0), (err0, err1, err2, err3)
    # --full without --json: a one-line error, exit 2, nothing written
    assert c5 == 2 and "--full" in err5 and err5.count("\n") == 1 and "Traceback" not in err5 and not out5
    ref = result_json(stdout)  # the unpatched solve: full arrays as always
    compact, every = result_json(plain), result_json(full)
    assert compact["allocation"] is None and compact["compact"]["tie_profiles"] >= 0
    assert "tie profiles" in out0 and "warning" not in err0  # the report says; no --full, no warning
    assert every["allocation"] == ref["allocation"] and every["transfer"] == ref["transfer"]
    assert "warning: --full writes all 3,600 profiles" in err1 and err1.count("\n") == 1
    assert "warning" not in err2 and "warning" not in err3
    piped = result_json(out2)
    assert piped["allocation"] == ref["allocation"]
    for doc in (compact, every, piped):
        for key in ("value", "omega", "interim", "checks"):
            assert doc[key] == ref[key] or key == "checks", key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.json", "plain.json", "quiet.json", "stdout.json"]


@pytest.mark.slow
def test_ten_million_profiles_compact_json_is_small_and_fast():
    """N = 7, K = 10 (10^7 profiles): the compact document is KB-MB and written in well under a second."""
    import time

    from benchmarks.core import uniform

    inst = uniform(7, 10)
    user_problem = inst.engine()
    unit = solver.unit_scale(user_problem)
    problem = solver._normalized(user_problem, unit)
    phi = [virtual_costs(t, p) for t, p in zip(problem.grids, problem.probs)]
    phi_bar = [iron(f, p) for f, p in zip(phi, problem.probs)]
    core = solver._structured_core(problem, phi, phi_bar)
    tr = transfers(problem, core.x)
    cm = CompactMechanism.from_allocation(
        inst, unit, np.clip(core.omega, 0, None), phi_bar, problem.b, core.x, tr.M, tr.constant
    )
    start = time.perf_counter()
    text = json.dumps(cm.to_dict(), allow_nan=False)
    seconds = time.perf_counter() - start
    assert len(text) < 20_000_000 and seconds < 1.0, (len(text), seconds)
    back = CompactMechanism.from_dict(inst, json.loads(text))
    for (lo, hi, x, m), (_, _, x2, m2) in zip(cm.blocks(), back.blocks()):
        assert np.array_equal(bits(x), bits(x2)) and np.array_equal(bits(m), bits(m2))
        assert np.array_equal(bits(x), bits(core.x.reshape(-1)[lo:hi]))
