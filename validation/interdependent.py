"""Claim interdependent (docs/model.md, section 11): how the value moves with γ on a two-seller
family (a finding, with a figure); γ = 0 reproduces the private-values (maximin) value."""

from __future__ import annotations

import numpy as np

import lpmech
from lpmech.general import first_best, solve_general

from .common import Context, Entry, close, holds, uniform_sellers

CLAIM = "interdependent"


def run(ctx: Context) -> list[Entry]:
    k = 8 if ctx.quick else 16
    base = uniform_sellers(2, k, 1.0)
    gammas = np.linspace(0.0, 0.5, 3 if ctx.quick else 6)
    values, fbs = [], []
    for g in gammas:
        inst = lpmech.Instance("buy", base.agents, buyer_value=1.0, interdependence=[[0.0, g], [g, 0.0]])
        values.append(solve_general(inst).value)
        fbs.append(first_best(inst))
    out = [
        close(
            CLAIM,
            f"uniform pair K={k}, γ = 0",
            lpmech.solve(base).value,
            values[0],
            1e-7,
            note="general LP with γ = 0 against the maximin LP",
        )
    ]
    drops = bool(np.all(np.diff(values) <= 1e-9))
    out.append(
        holds(
            CLAIM,
            f"uniform pair K={k}, γ_12 = γ_21 = γ in {np.round(gammas, 2).tolist()}",
            "a finding: the value as γ grows",
            [round(v, 6) for v in values],
            True,
            note=("non-increasing in γ" if drops else "not monotone in γ")
            + f"; first best {[round(v, 6) for v in fbs]}",
        )
    )
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(gammas, values, "o-", label="optimal (BIC, interim IR)")
    ax.plot(gammas, fbs, "s--", label="first best")
    ax.set_xlabel("γ (symmetric interdependence)")
    ax.set_ylabel("designer's profit")
    ax.legend()
    fig.tight_layout()
    ctx.save(fig, "interdependent.png", f"Two uniform sellers (K={k}): value and first best against γ.")
    return out
