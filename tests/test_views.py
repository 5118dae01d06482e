"""lpmech.views: the xarray and pandas views reproduce the result's arrays, entry by entry, for
a maximin result (types stated as totals, so file units differ from per-share types) and a
general-LP result; the HTML and one-line reprs; the CSV files."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
xr = pytest.importorskip("xarray")

import lpmech  # noqa: E402
from lpmech import views  # noqa: E402


@pytest.fixture(scope="module")
def maximin():
    agents = [lpmech.Agent("<north>", [0.1, 0.25, 0.5], [0.3, 0.3, 0.4], share=0.6),
              lpmech.Agent("south & co", [0.05, 0.2, 0.3, 0.45], [0.25, 0.25, 0.25, 0.25], share=0.4)]
    inst = lpmech.Instance("buy", agents, buyer_value=0.9, types="total", name="total pair")
    res = lpmech.solve(inst)
    assert res.formulation == "maximin"
    return res


@pytest.fixture(scope="module")
def general():
    agents = [lpmech.Agent(n, [0.2, 0.5, 0.8], [0.3, 0.4, 0.3]) for n in ("ann", "ben", "cal")]
    inst = lpmech.Instance("sell", agents, seller_cost=0.1).with_mechanism(ic="dominant")
    res = lpmech.solve(inst)
    assert res.formulation == "general"
    return res


def _outer(probs):
    out = np.ones(())
    for p in probs:
        out = np.multiply.outer(out, np.asarray(p, dtype=float))
    return out


@pytest.mark.parametrize("which", ["maximin", "general"])
def test_xarray_reproduces_the_arrays(which, request):
    res = request.getfixturevalue(which)
    inst = res.instance
    ds = views.to_xarray(res)
    names = inst.names
    assert tuple(ds["allocation"].dims) == tuple(names) == tuple(ds["transfer"].dims)
    # coordinates: the grid points as the file states them (totals when types = "total")
    for a, name in zip(inst.agents, names):
        assert np.array_equal(ds[name].values, np.asarray(a.grid, dtype=float))
    # every entry, looked up by coordinates (not by position)
    for idx in itertools.product(*[range(len(a.grid)) for a in inst.agents]):
        where = {name: float(a.grid[k]) for name, a, k in zip(names, inst.agents, idx)}
        assert float(ds["allocation"].sel(where)) == res.allocation[idx]
        assert float(ds["transfer"].sel(where)) == res.transfer[idx]
        assert float(ds["probability"].sel(where)) == pytest.approx(
            np.prod([a.probs[k] for a, k in zip(inst.agents, idx)]), rel=1e-14)
    assert np.allclose(ds["probability"].values, _outer([a.probs for a in inst.agents]), rtol=1e-14)
    for i, row in enumerate(res.interim):
        for key in views.INTERIM_COLUMNS:
            var = f"{key}_{names[i]}"
            assert set(row) == set(lpmech.result.INTERIM_KEYS)      # one key set, None where undefined
            if row[key] is not None:
                assert ds[var].dims == (names[i],)
                assert np.array_equal(ds[var].values, np.asarray(row[key], dtype=float))
            else:
                assert var not in ds
    assert ds.attrs["value"] == res.value and ds.attrs["formulation"] == res.formulation
    # E[x] from the dataset equals the sum computed by hand over the profiles
    assert ds.attrs["trade_probability"] == pytest.approx(
        float(np.sum(_outer([a.probs for a in inst.agents]) * res.allocation)), rel=1e-12)
    if which == "maximin":
        assert np.array_equal(ds["omega"].values, res.omega)
        assert np.array_equal(ds["omega_lo"].values, res.omega_range[:, 0])
        assert list(ds["agent"].values) == names
        # per-share types beside the file's totals
        for i, name in enumerate(names):
            assert np.allclose(ds[f"{name} per share"].values, inst.grids[i], rtol=1e-15)
            assert np.allclose(ds[name].values, inst.grids[i] * inst.shares[i], rtol=1e-15)
        assert ds.attrs["posted_value"] == res.posted.value
    else:
        assert "omega" not in ds and np.isnan(ds.attrs["ratio"])


@pytest.mark.parametrize("which", ["maximin", "general"])
def test_interim_frame_rows(which, request):
    res = request.getfixturevalue(which)
    inst = res.instance
    frame = views.interim_frame(res)
    assert list(frame.columns[:5]) == ["agent", "share", "type", "type_in_file", "probability"]
    assert len(frame) == sum(len(g) for g in inst.grids)
    for i, row in enumerate(res.interim):
        part = frame[frame["agent"] == inst.names[i]]
        assert np.array_equal(part["type"].to_numpy(), np.asarray(row["grid"], dtype=float))
        assert np.array_equal(part["probability"].to_numpy(), np.asarray(inst.agents[i].probs, dtype=float))
        for key in views.INTERIM_COLUMNS:
            if row[key] is not None:
                assert np.array_equal(part[key].to_numpy(), np.asarray(row[key], dtype=float))
            else:
                assert part[key].isna().all()
    if which == "general":
        assert frame["virtual"].isna().all() and frame["trade_probability"].notna().all()
    else:
        assert frame["virtual_ironed"].notna().all()


def test_reprs(maximin, general):
    line = views.repr_line(maximin)
    assert "\n" not in line and line.startswith("<Result maximin") and f"{maximin.value:.6g}" in line
    gline = views.repr_line(general)
    assert "\n" not in gline and "general" in gline and "ω" not in gline
    page = views.repr_html(maximin)
    assert "&lt;north&gt;" in page and "<north>" not in page and "south &amp; co" in page
    assert f"{maximin.value:.8g}" in page and page.count("<tr>") == 7 + 1 + 2   # key numbers, header, one row per agent
    assert "ω" in views.repr_html(maximin) and "ω" not in views.repr_html(general).split("<thead>")[1]


def test_write_csv(maximin, tmp_path):
    paths = views.write_csv(maximin, tmp_path / "tables")
    assert sorted(os.listdir(tmp_path / "tables")) == ["allocation.csv", "interim.csv"]
    interim = pd.read_csv(paths["interim"])
    pd.testing.assert_frame_equal(interim, views.interim_frame(maximin), check_exact=False, rtol=1e-15)
    long = pd.read_csv(paths["allocation"])
    names = maximin.instance.names
    assert list(long.columns) == names + ["probability", "allocation", "transfer"]
    assert len(long) == maximin.allocation.size
    # row order is the file's grid order (C order over the agents' dimensions)
    assert np.allclose(long["allocation"].to_numpy(), maximin.allocation.ravel(), rtol=0, atol=0)
    assert np.allclose(long["transfer"].to_numpy(), maximin.transfer.ravel(), rtol=1e-15)
    first = maximin.instance.agents[0].grid
    assert np.allclose(long[names[0]].to_numpy(), np.repeat(first, maximin.allocation.shape[1]), rtol=1e-15)
    with pytest.raises(lpmech.OutputError):
        views.write_csv(maximin, paths["interim"])      # a file, not a directory


def test_continuum_views():
    """A continuum result (no grid) has a one-line repr, a per-agent frame and dataset with its ω."""
    inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(n, "uniform", {}, None) for n in "ab"],
                           buyer_value=1.0)
    res = lpmech.solve(inst)
    assert res.formulation == "continuous" and res.allocation is None and res.transfer is None
    line = repr(res)
    assert "\n" not in line and line.startswith("<Result continuous") and "grid continuous" in line
    frame = res.interim_frame()
    assert list(frame["agent"]) == ["a", "b"] and np.array_equal(frame["omega"].to_numpy(), res.omega)
    assert frame["trade_probability"].isna().all()
    ds = res.to_xarray()
    assert np.array_equal(ds["omega"].values, res.omega) and ds.attrs["value"] == res.value
    assert "<table>" in res._repr_html_()
