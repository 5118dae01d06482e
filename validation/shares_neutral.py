"""Claim e (shares-neutral): identically distributed per-share types get equal weights,
whatever their shares ("Buying from a Group", Ranking weights & land shares)."""

from __future__ import annotations

import numpy as np

import lpmech

from .common import Context, Entry, close

CLAIM = "shares-neutral"

LAWS = [("uniform", {}), ("beta", {"a": 2.0, "b": 3.0}), ("powerlaw", {"a": 2.0}), ("expon", {"scale": 0.5})]


def run(ctx: Context) -> list[Entry]:
    rng = np.random.default_rng(2024)
    out = []
    reps = 2 if ctx.quick else 5
    for law, params in LAWS:
        for _ in range(reps):
            n = int(rng.integers(2, 4))
            k = 10 if n == 3 else 24
            shares = rng.dirichlet(np.ones(n))
            agents = [
                lpmech.Agent.from_distribution(f"a{i}", law, params, k, share=float(s)) for i, s in enumerate(shares)
            ]
            inst = lpmech.Instance(
                "buy", agents, buyer_value=float(rng.uniform(0.6, 1.4)) * float(np.median(agents[0].grid)) * 1.5
            )
            res = lpmech.solve(inst)
            spread = float(np.ptp(res.omega_canonical))
            out.append(
                close(
                    CLAIM,
                    f"{law}{params} N={n} K={k} shares={np.round(shares, 3).tolist()}",
                    0.0,
                    spread,
                    1e-6,
                    relative=False,
                    note=f"canonical ω = {np.round(res.omega_canonical, 6).tolist()} (max - min)",
                )
            )
    return out
