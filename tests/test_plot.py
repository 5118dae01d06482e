"""Figures a paper can use (lpmech.plot): formats, units, titles, tie cells, ironing, no global state.

What each figure shows is read back from the artists and compared with independent
computations: closed forms of the tie set (uniform grids), a hand-written pool adjacent
violators for the ironing intervals, and the result's own arrays for the curves.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import lpmech
from lpmech.general import solve_general
from lpmech.plot import figure

GRIDS = Path(__file__).resolve().parent.parent / "grids"
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-", "svg": b"<?xml"}

UNIFORM = {"side": "buy", "agents": [
    {"name": n, "distribution": "uniform", "params": {"loc": 0.0, "scale": 1.0}, "points": 50} for n in "ab"]}
FARM = {"name": "farm", "share": 0.4, "grid": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2],
        "probs": [0.16, 0.16, 0.08, 0.03, 0.02, 0.02, 0.02, 0.03, 0.08, 0.12, 0.14, 0.14]}
ORCHARD_FARM = {"name": "orchard and farm", "side": "buy", "buyer_value": 1.2, "agents": [
    {"name": "orchard", "share": 0.6, "distribution": "uniform", "params": {"loc": 0.2, "scale": 0.8}, "points": 16},
    FARM]}


@pytest.fixture(scope="module")
def results():
    """Every kind of figure: N = 2 with and without ties or ironing, N = 3, sell side, total types,
    general LP."""
    load = lambda name: lpmech.load(GRIDS / f"{name}.toml")
    return {
        "uniform_pair": lpmech.solve(load("uniform_pair")),
        # b = 1.01: ω = (1/2, 1/2) puts 49 profiles exactly on the boundary (see test below)
        # (the LP: its vertex is fractional on those ties; the structured solver's tie LP finds an
        # integral optimum there, and the figure must be tested on fractional cells too)
        "tied_pair": lpmech.solve(lpmech.from_dict({**UNIFORM, "buyer_value": 1.01}), method="lp"),
        "orchard_farm": lpmech.solve(lpmech.from_dict(ORCHARD_FARM)),
        "land_assembly": lpmech.solve(load("land_assembly")),
        "software_example": lpmech.solve(load("software_example")),       # sell side, total types
        "committee_software": lpmech.solve(load("committee_software")),   # N = 3, sell, total types
        "correlated_sellers": solve_general(load("correlated_sellers")),  # general LP, N = 2
        "partial_veto": lpmech.solve(load("partial_veto")),               # general LP, N = 3
    }


def _cell_indices(fig, gid, grids):
    """The grid indices of the cells a PatchCollection ``gid`` covers (read back from its paths)."""
    found = [c for ax in fig.axes for c in ax.collections if c.get_gid() == gid]
    if not found:
        return None
    assert len(found) == 1
    cells = set()
    for path in found[0].get_paths():
        v = path.vertices
        centre = (v[:, 0].min() + v[:, 0].max()) / 2, (v[:, 1].min() + v[:, 1].max()) / 2
        # on the evenly spaced grids used here a cell's centre is its grid point
        cells.add(tuple(int(np.argmin(np.abs(np.asarray(g) - c))) for g, c in zip(grids, centre)))
    return cells


def _spans(ax, gid):
    """(lo, hi) along the data axis of every patch ``gid`` in ``ax`` (axvspan/axhspan read back)."""
    out = []
    for p in ax.patches:
        if p.get_gid() != gid:
            continue
        xy = p.get_patch_transform().transform(p.get_path().vertices)
        out.append(xy)
    return out


def _pava(y, w):
    """Pool adjacent violators (increasing fit), written out: the blocks it pools, as index ranges."""
    blocks = []  # [value, weight, lo, hi]
    for k, (v, q) in enumerate(zip(y, w)):
        blocks.append([v, q, k, k])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, q2, _, hi = blocks.pop()
            v1, q1, lo, _ = blocks.pop()
            blocks.append([(v1 * q1 + v2 * q2) / (q1 + q2), q1 + q2, lo, hi])
    return [(lo, hi) for _, _, lo, hi in blocks if hi > lo]


# ----------------------------------------------------------------------------------- formats
@pytest.mark.parametrize("name", ["uniform_pair", "land_assembly", "correlated_sellers"])
def test_writes_png_pdf_svg_with_text_kept_as_text(results, name, tmp_path):
    fig = figure(results[name])
    for fmt, magic in MAGIC.items():
        path = tmp_path / f"fig.{fmt}"
        fig.savefig(path, format=fmt, dpi=60)
        data = path.read_bytes()
        assert data.startswith(magic), fmt
        if fmt == "svg":
            assert b"<svg" in data[:2000]
            # svg.fonttype = "none": labels are <text>, not glyph outlines in <defs>
            assert b"<text" in data and b"per-share" in data and b"DejaVuSans-" not in data
        if fmt == "pdf":
            # TrueType (Type 42) fonts, never Type 3 bitmaps-by-procedure
            assert b"/Type3" not in data and (b"/CIDFontType2" in data or b"/TrueType" in data)


@pytest.mark.slow
def test_cli_writes_svg_with_text(tmp_path):
    """Through the user's shell: `lpmech solve --plot f.svg` keeps the labels as text. (The
    default run checks this in tests/test_output.py::test_plot_writes_the_format_its_extension_names.)"""
    out = tmp_path / "f.svg"
    proc = subprocess.run([sys.executable, "-m", "lpmech", "solve", str(GRIDS / "uniform_pair.toml"),
                           "--plot", str(out)], check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = out.read_bytes()
    assert data.startswith(b"<?xml") and b"<text" in data and b"DejaVuSans-" not in data


# ------------------------------------------------------------------------------ units, titles
@pytest.mark.parametrize("name,unit", [
    ("uniform_pair", "per-share cost"), ("tied_pair", "per-share cost"), ("land_assembly", "per-share cost"),
    ("software_example", "per-share value (file's total value / share)"),
    ("committee_software", "per-share value (file's total value / share)"),
    ("correlated_sellers", "per-share cost"), ("partial_veto", "per-share value")])
def test_every_type_axis_names_the_unit(results, name, unit):
    res = results[name]
    fig = figure(res)
    main = fig.axes[0]
    if res.instance.n == 2:
        assert unit in main.get_xlabel() and unit in main.get_ylabel()
        assert res.instance.names[0] in main.get_xlabel() and res.instance.names[1] in main.get_ylabel()
        assert "trade probability" in fig.axes[1].get_ylabel()          # the colorbar
    else:
        assert unit in main.get_xlabel() and "interim trade probability" in main.get_ylabel()
    if res.instance.types == "per-share":
        assert "total" not in main.get_xlabel()


@pytest.mark.parametrize("name", ["uniform_pair", "land_assembly", "software_example", "partial_veto"])
def test_title_says_what_each_number_is(results, name):
    res = results[name]
    head = figure(res).axes[0].get_title()
    assert f"optimal expected profit {res.value:.6g}" in head
    posted = getattr(res, "posted", None)
    if posted is None:
        assert "(general LP)" in head
    else:
        assert f"best posted price p = {posted.price:.6g} earns {posted.value:.6g}" in head


def test_uniform_pair_title_reads_as_the_brief_says(results):
    head = figure(results["uniform_pair"]).axes[0].get_title()
    assert "optimal expected profit 0.1717; best posted price p = 0.67 earns 0.152592" in head


# --------------------------------------------------------------------------------- tie cells
def test_tie_cells_on_a_uniform_grid_are_the_closed_form_antidiagonal(results):
    """U{0.01, ..., 0.99} (50 points): φ_k = (4k + 1)/100, ω = (1/2, 1/2), so ω·φ̄ = b = 1.01 iff
    k1 + k2 = 50: the 49 profiles (k, 50 − k), k = 1..49, and no others."""
    res = results["tied_pair"]
    assert np.allclose(res.omega_canonical, 0.5)
    fig = figure(res)
    grids = [row["grid"] for row in res.interim]
    expected = {(k, 50 - k) for k in range(1, 50)}
    assert _cell_indices(fig, "tie-cells", grids) == expected
    x = res.allocation
    fractional = {tuple(int(v) for v in ix) for ix in np.argwhere((x > 1e-6) & (x < 1 - 1e-6))}
    assert _cell_indices(fig, "fractional-cells", grids) == fractional
    assert fractional <= expected                   # x can only be fractional on the tie set


def test_uniform_pair_has_no_tie_cell_for_the_canonical_weights(results):
    """k1 + k2 + 1/2 = 50 has no integer solution: the canonical boundary passes between cells."""
    res = results["uniform_pair"]
    fig = figure(res)
    grids = [row["grid"] for row in res.interim]
    assert _cell_indices(fig, "tie-cells", grids) == set()
    assert _cell_indices(fig, "fractional-cells", grids) == set()
    k = np.arange(50)
    assert np.allclose(res.allocation, (k[:, None] + k[None, :] <= 49), atol=1e-6, rtol=0)
    assert "(0 profiles)" in " ".join(t.get_text() for t in fig.legends[0].get_texts())


@pytest.mark.parametrize("name", ["software_example", "orchard_farm", "tied_pair"])
def test_marked_cells_are_exactly_the_fractional_and_tied_profiles(results, name):
    res = results[name]
    inst = res.instance
    grids = [row["grid"] for row in res.interim]
    w = res.omega_canonical
    x = res.allocation
    expected_tie, expected_frac = set(), set()
    # profile by profile, from the definition: |ω·φ̄ − b| within the solver's band for the
    # canonical ω (10 × the tie tolerance, relative to |b| + Σ ω_i |φ̄_i|)
    rtol = 10 * res.checks["tie_tolerance"]
    for k1 in range(len(grids[0])):
        for k2 in range(len(grids[1])):
            terms = [w[0] * res.phi_bar[0][k1], w[1] * res.phi_bar[1][k2]]
            if abs(sum(terms) - inst.designer_value) <= rtol * (abs(inst.designer_value) + sum(map(abs, terms))):
                expected_tie.add((k1, k2))
            if 1e-6 < x[k1, k2] < 1 - 1e-6:
                expected_frac.add((k1, k2))
    fig = figure(res)
    assert _cell_indices(fig, "tie-cells", grids) == expected_tie
    assert _cell_indices(fig, "fractional-cells", grids) == expected_frac
    assert expected_frac                                # each of these instances has fractional cells
    labels = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "tie cell" in labels and "fractional x(θ)" in labels


def test_general_lp_marks_fractional_and_impossible_profiles_without_weights(results):
    res = results["correlated_sellers"]
    fig = figure(res)
    grids = [row["grid"] for row in res.interim]
    assert _cell_indices(fig, "tie-cells", grids) is None           # no ω, no tie set
    assert _cell_indices(fig, "zero-probability-cells", grids) == {(0, 4), (4, 0)}   # the file's two zeros
    assert not [c for c in fig.axes[0].collections if "Contour" in type(c).__name__]
    labels = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "ω" not in labels and "probability 0" in labels


# --------------------------------------------------------------------------------- ironing
def test_ironing_intervals_are_the_pooled_blocks(results):
    """The result's ironing interval of the farm is the block pool adjacent violators pools."""
    for name, agent in [("land_assembly", 2), ("orchard_farm", 1)]:
        row = results[name].interim[agent]
        blocks = _pava(np.asarray(row["virtual"]), np.asarray(FARM["probs"]))
        assert [[FARM["grid"][lo], FARM["grid"][hi]] for lo, hi in blocks] == row["ironing_intervals"]
        assert row["ironing_intervals"] == [[0.5, 1.1]]


def test_heatmap_shades_each_agents_ironing_intervals_on_its_axis(results):
    res = results["orchard_farm"]
    ax = figure(res).axes[0]
    assert _spans(ax, "ironing:0") == []                     # the orchard is regular
    (farm,) = _spans(ax, "ironing:1")                        # a band along the vertical axis
    ylo, yhi = farm[:, 1].min(), farm[:, 1].max()
    assert [ylo, yhi] == pytest.approx(res.interim[1]["ironing_intervals"][0], abs=1e-12)
    # in axes coordinates along the other axis: a thin strip at the left edge
    assert farm[:, 0].min() == 0 and farm[:, 0].max() < 0.1


@pytest.mark.parametrize("name", ["land_assembly", "committee_software"])
def test_interim_and_virtual_panels(results, name):
    res = results[name]
    fig = figure(res)
    interim_ax, virtual_ax = fig.axes
    for ax in (interim_ax, virtual_ax):
        for i, row in enumerate(res.interim):
            got = [(xy[:, 0].min(), xy[:, 0].max()) for xy in _spans(ax, f"ironing:{i}")]
            assert got == [pytest.approx(tuple(iv), abs=1e-12) for iv in row["ironing_intervals"]]
    # the interim curves are the result's X_i, the virtual curves its φ_i (dashed) and φ̄_i (solid)
    for i, row in enumerate(res.interim):
        line = interim_ax.lines[i]
        assert np.array_equal(line.get_xdata(), row["grid"]) and np.array_equal(line.get_ydata(),
                                                                                  row["trade_probability"])
        raw, ironed = virtual_ax.lines[2 * i], virtual_ax.lines[2 * i + 1]
        assert raw.get_linestyle() == "--" and ironed.get_linestyle() == "-"
        assert np.array_equal(raw.get_ydata(), row["virtual"]) and np.array_equal(ironed.get_ydata(),
                                                                                   row["virtual_ironed"])
        assert f"ω = {res.omega_canonical[i]:.4f}" in ironed.get_label()
    level = virtual_ax.lines[2 * len(res.interim)]
    assert np.allclose(level.get_ydata(), res.instance.designer_value)
    kind = "cost" if res.instance.side == "buy" else "value"
    assert f"virtual {kind}" in virtual_ax.get_ylabel() and "per-share" in virtual_ax.get_ylabel()
    assert "canonical ω" in virtual_ax.get_title()
    if name == "land_assembly":
        assert any("ironed (pooled) types [0.5, 1.1]" in t.get_text() for t in interim_ax.get_legend().get_texts())


def test_general_lp_with_three_agents_gets_the_interim_panel_only(results):
    res = results["partial_veto"]
    fig = figure(res)
    assert len(fig.axes) == 1
    assert [row["agent"] for row in res.interim] == [line.get_label() for line in fig.axes[0].lines]


# ------------------------------------------------------------------------ no global state
def test_figure_and_savefig_leave_matplotlib_state_alone(tmp_path):
    """rcParams, backend and pyplot's figures are the caller's before and after (fresh process)."""
    script = textwrap.dedent(f"""
        import sys, matplotlib
        matplotlib.use("svg")
        import matplotlib.pyplot as plt
        plt.figure()                                   # the caller's own open figure
        snap = lambda: {{k: matplotlib.rcParams._get(k) for k in matplotlib.rcParams}}
        before = snap()
        import lpmech
        from lpmech.plot import figure
        res = lpmech.solve(lpmech.load({str(GRIDS / 'land_assembly.toml')!r}))
        fig = figure(res)
        for fmt in ("svg", "pdf", "png"):
            fig.savefig({str(tmp_path)!r} + "/f." + fmt, format=fmt, dpi=40)
        after = snap()
        changed = sorted(k for k in before if repr(before[k]) != repr(after[k]))
        print("CHANGED", changed)
        print("STATE", matplotlib.get_backend(), plt.get_fignums(), plt.gcf() is not fig)
    """)
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.strip().splitlines())
    assert lines["CHANGED"] == "[]"
    assert lines["STATE"] == "svg [1] True"
    assert b"<text" in (tmp_path / "f.svg").read_bytes()           # the local rc_context did apply


def test_library_call_does_not_import_pyplot():
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import sys, io, lpmech
        from lpmech.plot import figure
        fig = figure(lpmech.solve(lpmech.load({str(GRIDS / 'uniform_pair.toml')!r})))
        fig.savefig(io.BytesIO(), format="svg")
        print("matplotlib.pyplot" in sys.modules)
    """)], check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"
