"""Figures of a solved instance for a paper (matplotlib's object API with the Agg canvas).

Two agents: a heatmap of the trade probability x(θ) over the type grid (cell edges half way
between grid points) with the theory's boundary ω·φ̄(θ) = b (sell side: = c) for the canonical
ω, each agent's ironing intervals as a translucent band along its axis, and the tie cells marked:
profiles where x is fractional (hatched) and profiles on the tie set of the canonical ω
(outlined). Any other N: each agent's interim trade probability Xᵢ against its own type with
the ironing intervals shaded, beside a panel of the virtual costs (raw dashed, ironed solid),
the level b (sell side: c) and the weights. A general-LP result (no ω) gets the heatmap without
ω (two agents) or the interim panel only.

Types are per-share (θᵢ; with ``types = "total"`` in the file, the total value of agent i's
share divided by its share σ_i), and the axes say so. Titles say what each number is.

No pyplot: making a figure changes no matplotlib state (backend, current figure, rcParams) of
the caller. The figure's ``savefig`` keeps text as text in vector formats (``svg.fonttype =
"none"``, TrueType fonts in pdf) through an ``rc_context`` local to that call.
"""

from __future__ import annotations

import numpy as np

from .tolerances import ALLOCATION_TOL, on_tie

__all__ = ["SAVE_RC", "figure", "new_figure", "tie_cells", "title", "type_label"]

#: rcParams applied (only) while a figure of this module is saved: text stays text in svg
#: (``<text>`` elements, not glyph outlines) and pdf/ps embed TrueType (Type 42) fonts, so a
#: journal's pipeline can search, edit and re-font the labels; svg ids are deterministic.
SAVE_RC = {"svg.fonttype": "none", "pdf.fonttype": 42, "ps.fonttype": 42, "svg.hashsalt": "lpmech"}

#: The solver looks for the canonical ω's ties in a band this many times its tie tolerance (the
#: canonical ω solves a QP over the optimal face whose rows allow that tolerance; see
#: ``offtie_mismatch_canonical`` in lpmech.solver). The figure marks the same band.
CANONICAL_TIE_WIDENING = 10.0  # TODO(tolerances): mirrors lpmech/solver.py's factor for tie_can

#: Above this many cells the heatmap is rasterized inside pdf/svg (lines and text stay vectors).
RASTERIZE_CELLS = 20_000

_BOUNDARY = "crimson"
_TIE = "darkorange"
_FRACTIONAL = "black"
_IRONING = "tab:green"


def _figure_class():
    import matplotlib
    from matplotlib.figure import Figure

    class PaperFigure(Figure):
        """A Figure whose ``savefig`` applies :data:`SAVE_RC` for the duration of the call only."""

        def savefig(self, fname, *args, **kwargs):
            with matplotlib.rc_context(SAVE_RC):
                return super().savefig(fname, *args, **kwargs)

    return PaperFigure


def new_figure(**kwargs):
    """A figure with an Agg canvas whose ``savefig`` keeps text as text in pdf and svg.

    Parameters
    ----------
    **kwargs
        Passed to :class:`matplotlib.figure.Figure` (``figsize`` in inches, ``layout``, ...).

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot; ``fig.savefig(path, format=...)`` writes png, pdf or svg with
        :data:`SAVE_RC` in effect during the call (the caller's rcParams are untouched).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = _figure_class()(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def _edges(grid: np.ndarray) -> np.ndarray:
    grid = np.asarray(grid, dtype=float)
    if grid.size == 1:
        return np.array([grid[0] - 0.5, grid[0] + 0.5])
    mid = (grid[1:] + grid[:-1]) / 2
    return np.concatenate([[2 * grid[0] - mid[0]], mid, [2 * grid[-1] - mid[-1]]])


def type_label(instance) -> str:
    """What a type axis shows: ``"per-share cost"`` (buy side) or ``"per-share value"`` (sell
    side), with the conversion when the file gives total values (``types = "total"``).

    Parameters
    ----------
    instance : Instance

    Returns
    -------
    str
        E.g. ``"per-share value (file's total value / share)"``.
    """
    unit = "cost" if instance.side == "buy" else "value"
    label = f"per-share {unit}"
    if getattr(instance, "types", "per-share") == "total":
        label += f" (file's total {unit} / share)"
    return label


def title(result) -> str:
    """What the optimum is worth and what the best posted price is and earns.

    Parameters
    ----------
    result : SolveResult or lpmech.general.GeneralResult

    Returns
    -------
    str
        E.g. ``"optimal expected profit 0.1717; best posted price p = 0.67 earns 0.152592"``
        (money in the file's units, totals for the whole good).
    """
    head = f"optimal expected profit {result.value:.6g}"
    pareto = getattr(getattr(result, "mechanism", None), "pareto", None)
    if pareto is not None:
        head = f"optimal profit + {pareto:g} x surplus {result.value:.6g} (profit {result.profit:.6g})"
    posted = getattr(result, "posted", None)
    if posted is None:
        return f"{head} ({result.formulation} LP)"
    if posted.price is None:
        return f"{head}; no posted price is profitable"
    return f"{head}; best posted price p = {posted.price:.6g} earns {posted.value:.6g}"


def tie_cells(result) -> tuple[np.ndarray, np.ndarray | None]:
    """The profiles the figure marks: where x is fractional, and the tie set of the canonical ω.

    Parameters
    ----------
    result : SolveResult or lpmech.general.GeneralResult

    Returns
    -------
    fractional : ndarray of bool, shape K_1 x ... x K_N
        ALLOCATION_TOL < x(θ) < 1 − ALLOCATION_TOL (file's grid order).
    tied : ndarray of bool, same shape, or None
        |ω·φ̄(θ) − b| within the result's tie band for the canonical ω (sell side: c), the band
        the result's own check of x against x_ω uses (:func:`lpmech.tolerances.on_tie` with the
        tie tolerance ``checks["tie_tolerance"]`` and the weight uncertainty of the structured
        method, both widened by :data:`CANONICAL_TIE_WIDENING`); None when the result has no ω
        (general LP).
    """
    x = np.asarray(result.allocation, dtype=float)
    fractional = (x > ALLOCATION_TOL) & (x < 1 - ALLOCATION_TOL)
    w = getattr(result, "omega_canonical", None)
    if w is None:
        return fractional, None
    n = x.ndim
    index = np.zeros(x.shape)
    weighted_abs = np.zeros(x.shape)
    total_abs = np.zeros(x.shape)
    for i, f in enumerate(result.phi_bar):
        shape = [1] * n
        shape[i] = -1
        f = np.asarray(f, dtype=float).reshape(shape)
        index = index + w[i] * f
        weighted_abs = weighted_abs + w[i] * np.abs(f)
        total_abs = total_abs + np.abs(f)
    size = getattr(result, "lp_size", None) or {}
    rtol = CANONICAL_TIE_WIDENING * float(result.checks["tie_tolerance"])
    uncertainty = CANONICAL_TIE_WIDENING * float(size.get("weight_uncertainty", 0.0))
    tied = on_tie(index, result.instance.designer_value, weighted_abs, rtol, uncertainty, total_abs)
    return fractional, np.broadcast_to(tied, x.shape).copy()


def _count(mask) -> str:
    k = int(np.count_nonzero(mask))
    return f"{k} profile" if k == 1 else f"{k:,} profiles"


def _fmt_interval(lo: float, hi: float) -> str:
    return f"[{lo:.4g}, {hi:.4g}]"


def _cells(ax, mask, e1, e2, gid, **style):
    """Rectangles over the cells where ``mask`` (K_1 x K_2) holds, as one PatchCollection."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    rects = [Rectangle((e1[a], e2[b]), e1[a + 1] - e1[a], e2[b + 1] - e2[b]) for a, b in np.argwhere(mask)]
    coll = PatchCollection(rects, gid=gid, **style)
    ax.add_collection(coll, autolim=False)
    return coll


def _heatmap(result, label: str):
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    inst = result.instance
    w = getattr(result, "omega_canonical", None)
    g1, g2 = (np.asarray(row["grid"], dtype=float) for row in result.interim)
    e1, e2 = _edges(g1), _edges(g2)
    x = np.asarray(result.allocation, dtype=float)
    fig = new_figure(figsize=(6.4, 6.6), layout="constrained")
    ax = fig.add_subplot()
    mesh = ax.pcolormesh(e1, e2, x.T, cmap="Blues", vmin=0, vmax=1, shading="flat")
    if x.size > RASTERIZE_CELLS:
        mesh.set_rasterized(True)
    fig.colorbar(mesh, ax=ax, label="trade probability x(θ)", shrink=0.9)
    handles: list = []
    sym = "b" if inst.side == "buy" else "c"
    if w is not None:
        index = w[0] * np.asarray(result.phi_bar[0])[:, None] + w[1] * np.asarray(result.phi_bar[1])[None, :]
        level = inst.designer_value
        drawn = bool(index.min() < level < index.max()) and min(g1.size, g2.size) > 1
        if drawn:
            ax.contour(g1, g2, index.T, levels=[level], colors=_BOUNDARY, linewidths=1.6)
        lo, hi = result.omega_range[0]
        # the summary's rule for a range worth reporting (lpmech.result.SolveResult.summary)
        rng = "" if hi - lo <= 1e-6 else f"; optimal ω₁ ∈ [{lo:.6f}, {hi:.6f}]"
        where = "" if drawn else " (does not cross the grid)"
        rule = "trade where below" if inst.side == "buy" else "trade where above"
        handles.append(
            Line2D(
                [],
                [],
                color=_BOUNDARY,
                lw=1.6,
                label=f"ω·φ̄(θ) = {sym} = {level:g}{where}: {rule}; canonical ω = ({w[0]:.4f}, {w[1]:.4f}){rng}",
            )
        )
    fractional, tied = tie_cells(result)
    if tied is not None:
        _cells(ax, tied, e1, e2, "tie-cells", facecolor="none", edgecolor=_TIE, linewidth=1.4)
        handles.append(
            Patch(
                facecolor="none",
                edgecolor=_TIE,
                linewidth=1.4,
                label=f"tie cell: |ω·φ̄(θ) − {sym}| within the tie tolerance ({_count(tied)})",
            )
        )
    _cells(
        ax, fractional, e1, e2, "fractional-cells", facecolor="none", edgecolor=_FRACTIONAL, linewidth=0.0, hatch="////"
    )
    handles.append(
        Patch(
            facecolor="none",
            edgecolor=_FRACTIONAL,
            hatch="////",
            linewidth=0.0,
            label=f"fractional x(θ) (0 < x < 1; {_count(fractional)})",
        )
    )
    impossible = np.asarray(inst.joint_pmf()) <= 0
    if impossible.any():
        _cells(
            ax,
            impossible,
            e1,
            e2,
            "zero-probability-cells",
            facecolor="none",
            edgecolor="0.5",
            linewidth=0.0,
            hatch="..",
        )
        handles.append(
            Patch(
                facecolor="none",
                edgecolor="0.5",
                hatch="..",
                linewidth=0.0,
                label=f"profile of probability 0: x there is not determined ({_count(impossible)})",
            )
        )
    for i, row in enumerate(result.interim):
        spans = row.get("ironing_intervals") or []
        for lo, hi in spans:
            if i == 0:
                ax.axvspan(lo, hi, ymin=0, ymax=0.04, color=_IRONING, alpha=0.6, lw=0, gid=f"ironing:{i}")
            else:
                ax.axhspan(lo, hi, xmin=0, xmax=0.04, color=_IRONING, alpha=0.6, lw=0, gid=f"ironing:{i}")
        if spans:
            where = "along the horizontal axis" if i == 0 else "along the vertical axis"
            handles.append(
                Patch(
                    color=_IRONING,
                    alpha=0.6,
                    lw=0,
                    label=f"ironing: {row['agent']}'s pooled types "
                    f"{', '.join(_fmt_interval(a, b) for a, b in spans)} ({where})",
                )
            )
    ax.set_xlim(e1.min(), e1.max())
    ax.set_ylim(e2.min(), e2.max())
    ax.set_xlabel(f"{inst.names[0]}: {label} θ₁")
    ax.set_ylabel(f"{inst.names[1]}: {label} θ₂")
    ax.set_title(f"Optimal allocation x(θ)\n{title(result)}", fontsize=9)
    fig.legend(handles=handles, loc="outside lower center", fontsize=7.5, frameon=False)
    return fig


def _interim(result, label: str):
    inst = result.instance
    w = getattr(result, "omega_canonical", None)
    virtual = w is not None and all("virtual" in row for row in result.interim)
    fig = new_figure(figsize=(11.0, 4.8) if virtual else (6.4, 4.8), layout="constrained")
    axes = fig.subplots(1, 2) if virtual else [fig.add_subplot()]
    colors = [f"C{i % 10}" for i in range(len(result.interim))]
    ax = axes[0]
    for i, row in enumerate(result.interim):
        name = row["agent"] if w is None else f"{row['agent']} (ω = {w[i]:.4f})"
        ax.plot(
            row["grid"],
            row["trade_probability"],
            drawstyle="steps-mid",
            color=colors[i],
            lw=1.5,
            marker="o",
            ms=2.5,
            label=name,
        )
    ax.set_xlabel(f"own {label} θᵢ")
    ax.set_ylabel("interim trade probability Xᵢ(θᵢ) = E[x(θ) | θᵢ]")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Interim allocations\n{title(result)}", fontsize=9)
    sym = "b" if inst.side == "buy" else "c"
    for k, a in enumerate(axes):
        for i, row in enumerate(result.interim):
            spans = row.get("ironing_intervals") or []
            for j, (lo, hi) in enumerate(spans):
                a.axvspan(
                    lo,
                    hi,
                    color=colors[i],
                    alpha=0.15,
                    lw=0,
                    gid=f"ironing:{i}",
                    label=(f"{row['agent']}: ironed (pooled) types {', '.join(_fmt_interval(p, q) for p, q in spans)}")
                    if k == 0 and j == 0
                    else None,
                )
    ax.legend(fontsize=7.5, loc="best")
    if not virtual:
        return fig
    vx = axes[1]
    kind = "cost" if inst.side == "buy" else "value"
    for i, row in enumerate(result.interim):
        vx.plot(row["grid"], row["virtual"], ls="--", lw=1.0, color=colors[i], marker=".", ms=3)
        vx.plot(
            row["grid"], row["virtual_ironed"], ls="-", lw=1.6, color=colors[i], label=f"{row['agent']}, ω = {w[i]:.4f}"
        )
    level = inst.designer_value
    who = "buyer's value for the whole good" if inst.side == "buy" else "seller's cost of the whole good"
    vx.axhline(level, color="0.35", ls=":", lw=1.2, label=f"{sym} = {level:g} ({who})")
    from matplotlib.lines import Line2D

    handles, labels = vx.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.3", ls="--", lw=1.0, marker=".", ms=3),
        Line2D([], [], color="0.3", ls="-", lw=1.6),
    ]
    labels += [f"raw virtual {kind} φᵢ", f"ironed virtual {kind} φ̄ᵢ"]
    vx.legend(handles, labels, fontsize=7.5, loc="best")
    vx.set_xlabel(f"own {label} θᵢ")
    vx.set_ylabel(f"virtual {kind} φᵢ(θᵢ), in {label.split(' (')[0]} units")
    rel = "≤" if inst.side == "buy" else "≥"
    weights = ", ".join(f"{v:.4f}" for v in w)
    vx.set_title(
        f"Virtual {kind}s: trade iff Σᵢ ωᵢ φ̄ᵢ(θᵢ) {rel} {sym} = {level:g}\ncanonical ω = ({weights})", fontsize=9
    )
    return fig


def figure(result):
    """A figure of the optimal mechanism of ``result``, ready for a paper.

    Parameters
    ----------
    result : SolveResult or lpmech.general.GeneralResult
        A solved instance on a grid; ``result.instance`` must be set.

    Returns
    -------
    matplotlib.figure.Figure
        With an Agg canvas attached and not registered with pyplot: ``fig.savefig(path,
        format=...)`` writes png, pdf or svg (text kept as text in pdf and svg, :data:`SAVE_RC`).
        ``fig.axes[0]`` is the main panel; its title says what the optimum and the best posted
        price are worth. Two agents: the heatmap of x(θ) over the per-share type grid (cell
        edges half way between grid points) with the boundary ω·φ̄(θ) = b (sell side: c) for
        the canonical ω, the ironing intervals as bands along the axes (patches with
        ``gid="ironing:<agent index>"``), and the tie cells marked (PatchCollections with
        ``gid="tie-cells"`` and ``"fractional-cells"``, see :func:`tie_cells`). Otherwise: each
        agent's interim trade probability Xᵢ(θᵢ) with its ironing intervals shaded, and (when
        the result has weights) a panel of the raw (dashed) and ironed (solid) virtual costs,
        the level b (sell side: c) and the canonical ω.

    Raises
    ------
    ValueError
        If ``result.instance`` is not set.
    """
    inst = getattr(result, "instance", None)
    if inst is None:
        raise ValueError("figure() needs a result that carries its instance (result.instance is None)")
    label = type_label(inst)
    if inst.n == 2:
        return _heatmap(result, label)
    return _interim(result, label)
