"""Claim consent (docs/model.md, section 11): the value as the number k of agents whose consent
is needed goes from 1 to N on a three-seller instance (a finding); k = N is unanimity."""

from __future__ import annotations

import itertools

import lpmech
from lpmech.general import solve_general

from .common import Context, Entry, close, holds

CLAIM = "consent"


def run(ctx: Context) -> list[Entry]:
    k = 5 if ctx.quick else 8
    agents = [
        lpmech.Agent.from_distribution("s1", "uniform", {}, k, share=0.5),
        lpmech.Agent.from_distribution("s2", "uniform", {"scale": 0.8}, k, share=0.3),
        lpmech.Agent.from_distribution("s3", "beta", {"a": 2.0, "b": 2.0}, k, share=0.2),
    ]
    inst = lpmech.Instance("buy", agents, buyer_value=1.0)
    out, values = [], []
    for c in (1, 2, 3):
        res = solve_general(inst, mechanism={"consent": c})
        values.append(res.value)
        out.append(
            holds(
                CLAIM,
                f"three sellers K={k}, consent k={c}",
                "a finding: the best coalition and its value",
                round(res.value, 8),
                True,
                note=f"best coalition {', '.join(res.vetoes)}; "
                + "; ".join(f"{'+'.join(r['veto'])}: {r['value']:.6g}" for r in res.coalitions),
            )
        )
    out.append(
        holds(
            CLAIM,
            f"three sellers K={k}",
            "value non-increasing in k (more consents, more constraints)",
            [round(v, 8) for v in values],
            all(a >= b - 1e-9 for a, b in itertools.pairwise(values)),
        )
    )
    out.append(
        close(
            CLAIM,
            f"three sellers K={k}, k = N",
            solve_general(inst).value,
            values[-1],
            1e-9,
            note="consent of all N agents against every agent holding a veto",
        )
    )
    return out
