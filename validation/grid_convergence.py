"""Claim f (grid-convergence): the grid LPs converge to the continuum, with error O(1/K) on
K-point quantile-midpoint grids (docs/model.md, section 8, claim 6): value and ω against K on log-log axes, the
fitted rate, and the Richardson-extrapolated value against the continuous solver."""

from __future__ import annotations

import numpy as np

import lpmech
from lpmech.continuous import solve_continuous

from .common import Context, Entry, close, holds, uniform_value_formula

CLAIM = "grid-convergence"


def _pair(k: int) -> lpmech.Instance:
    return lpmech.Instance(
        "buy",
        [
            lpmech.Agent.from_distribution("uniform", "uniform", {}, k),
            lpmech.Agent.from_distribution("power", "powerlaw", {"a": 2.0}, k),
        ],
        buyer_value=1.0,
        name=f"U[0,1] and F = θ² (b = 1), K = {k}",
    )


def run(ctx: Context) -> list[Entry]:
    ks = [10, 20, 40, 80] if ctx.quick else [10, 20, 40, 80, 160, 320]
    cont = solve_continuous(_pair(4))
    sols = [lpmech.solve(_pair(k)) for k in ks]
    values = np.array([s.value for s in sols])
    omegas = np.array([s.omega_canonical[0] for s in sols])
    verr = np.abs(values - cont.value)
    werr = np.abs(omegas - cont.omega[0])
    rate = float(np.polyfit(np.log(ks), np.log(verr), 1)[0])
    w_rate = float(np.polyfit(np.log(ks), np.log(np.maximum(werr, 1e-16)), 1)[0])
    extrap = 2 * values[-1] - values[-2]
    name = "U[0,1] and F = θ² (b = 1)"
    out = [
        close(
            CLAIM,
            name + ": fitted rate of the value error",
            -1.0,
            rate,
            0.15,
            relative=False,
            note="slope of log|V_K - V| against log K, K = " + ", ".join(map(str, ks)),
        ),
        close(
            CLAIM,
            name + f": Richardson value (K = {ks[-2]}, {ks[-1]}) vs continuous solver",
            cont.value,
            float(extrap),
            2e-3 if ctx.quick else 5e-4,
            note=f"grid values {', '.join(f'{v:.6f}' for v in values)}; continuous {cont.value:.8f}",
        ),
        holds(
            CLAIM,
            name + ": ω error shrinks with K",
            "decreasing",
            [float(e) for e in werr],
            bool(werr[-1] < werr[0]),
            note=f"fitted rate {w_rate:.2f}; continuous ω_1 = {cont.omega[0]:.6f}",
        ),
    ]
    # The uniform pair has a closed form: value (Nb/2)^N b/(N!(N+1)) = 1/6 at b = 1.
    exact = uniform_value_formula(2, 1.0)
    uv = [
        lpmech.solve(
            lpmech.Instance(
                "buy", [lpmech.Agent.from_distribution(f"s{i}", "uniform", {}, k) for i in range(2)], buyer_value=1.0
            )
        ).value
        for k in ks
    ]
    urate = float(np.polyfit(np.log(ks), np.log(np.abs(np.array(uv) - exact)), 1)[0])
    out.append(
        close(
            CLAIM,
            "uniform pair (b = 1): fitted rate against the closed form 1/6",
            -1.0,
            urate,
            0.15,
            relative=False,
            note="values " + ", ".join(f"{v:.6f}" for v in uv),
        )
    )
    _figure(ctx, ks, verr, werr, np.abs(np.array(uv) - exact))
    return out


def _figure(ctx, ks, verr, werr, uerr):
    from matplotlib.figure import Figure  # no pyplot: no backend or global figure state changed

    fig = Figure(figsize=(6, 4.2), constrained_layout=True)
    ax = fig.subplots()
    ax.loglog(ks, verr, "o-", label="|value error|, U[0,1] & θ²")
    ax.loglog(ks, np.maximum(werr, 1e-16), "s-", label="|ω_1 error|, U[0,1] & θ²")
    ax.loglog(ks, uerr, "^-", label="|value error|, uniform pair")
    ref = verr[0] * (np.array(ks) / ks[0]) ** -1.0
    ax.loglog(ks, ref, "--", color="0.5", label="slope -1")
    ax.set_xlabel("grid points per agent K")
    ax.set_ylabel("error against the continuum")
    ax.legend(fontsize=8)
    ax.set_title("Grid LPs converge to the continuum at rate 1/K")
    ctx.save(fig, "grid_convergence.png", "Value and weight error against K (log-log)")
