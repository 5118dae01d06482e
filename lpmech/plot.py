"""Figures of a solved instance (matplotlib, Agg backend; written atomically by the caller).

N = 2: a heatmap of the trade probability x over the type grid with the theory's boundary
ω·φ̄(θ) = b (sell side: = c) for the canonical ω; for other N: each agent's interim trade
probability X_i against its type.
"""

from __future__ import annotations

import numpy as np

__all__ = ["figure"]


def _edges(grid: np.ndarray) -> np.ndarray:
    if grid.size == 1:
        return np.array([grid[0] - 0.5, grid[0] + 0.5])
    mid = (grid[1:] + grid[:-1]) / 2
    return np.concatenate([[2 * grid[0] - mid[0]], mid, [2 * grid[-1] - mid[-1]]])


def figure(result):
    """A matplotlib Figure showing the optimal allocation of ``result`` (a SolveResult)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    inst = result.instance
    unit = "cost" if inst.side == "buy" else "value"
    w = getattr(result, "omega_canonical", None)          # None for the general LP's results
    posted = getattr(result, "posted", None)
    title_tail = f" (posted price: {posted.value:.6g})" if posted is not None else f" ({result.formulation} LP)"
    if inst.n == 2:
        fig, ax = plt.subplots(figsize=(6.4, 5.4), constrained_layout=True)
        g1, g2 = inst.grids
        mesh = ax.pcolormesh(_edges(g1), _edges(g2), result.allocation.T, cmap="Blues", vmin=0, vmax=1,
                             shading="flat")
        fig.colorbar(mesh, ax=ax, label="trade probability x(θ)")
        if w is not None:
            index = w[0] * result.phi_bar[0][:, None] + w[1] * result.phi_bar[1][None, :]
            level = inst.designer_value
            if index.min() < level < index.max():
                ax.contour(g1, g2, index.T, levels=[level], colors="crimson", linewidths=1.5)
            sym = "b" if inst.side == "buy" else "c"
            ax.plot([], [], color="crimson", label=f"ω·φ̄(θ) = {sym},  ω = ({w[0]:.4f}, {w[1]:.4f})")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_xlabel(f"{inst.names[0]}: per-share {unit} θ₁")
        ax.set_ylabel(f"{inst.names[1]}: per-share {unit} θ₂")
        ax.set_title(f"Optimal allocation, value {result.value:.6g}{title_tail}", fontsize=10)
        return fig
    fig, ax = plt.subplots(figsize=(6.4, 4.4), constrained_layout=True)
    for i, row in enumerate(result.interim):
        label = row["agent"] if w is None else f"{row['agent']} (ω = {w[i]:.4f})"
        ax.step(row["grid"], row["trade_probability"], where="mid", label=label)
    ax.set_xlabel(f"own per-share {unit} θ_i")
    ax.set_ylabel("interim trade probability X_i(θ_i)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    ax.set_title(f"Interim allocations, value {result.value:.6g}{title_tail}", fontsize=10)
    return fig
