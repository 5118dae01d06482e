"""Independent computations the tests compare lpmech against (written without lpmech's code)."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linprog


def random_instance(rng: np.random.Generator, n: int, k: int, side: str = "buy", total: bool = False):
    import lpmech

    agents = []
    shares = rng.dirichlet(np.ones(n)) * 0.9 + 0.1 / n
    shares = shares / shares.sum()
    for i in range(n):
        grid = np.cumsum(rng.uniform(0.05, 1.0, size=k))
        probs = rng.dirichlet(np.ones(k)) * 0.8 + 0.2 / k
        agents.append(lpmech.Agent(f"a{i}", grid.round(6), (probs / probs.sum()), float(shares[i])))
    mean_top = float(np.mean([a.grid.mean() for a in agents]))
    if side == "buy":
        return lpmech.Instance("buy", agents, buyer_value=round(float(rng.uniform(0.5, 1.5) * mean_top), 6),
                               types="total" if total else "per-share")
    return lpmech.Instance("sell", agents, seller_cost=round(float(rng.uniform(0.0, 0.8) * mean_top), 6),
                           types="total" if total else "per-share")


def plain_bic_lp(instance) -> float:
    """max E[designer profit] over ex post (x, m) with every BIC and interim IR row, by linprog.

    Written directly from the model's definitions (docs/model.md, section 2), in user units, with
    a loop over profiles: the independent reference for the maximin LP.
    """
    shape = instance.shape
    profiles = list(itertools.product(*[range(k) for k in shape]))
    n_prof = len(profiles)
    probs = instance.probs
    pmf = np.array([np.prod([probs[i][t[i]] for i in range(instance.n)]) for t in profiles])
    sign = 1.0 if instance.side == "buy" else -1.0  # agent's per-share payoff = sign * (m - θ x)
    rows, rhs = [], []
    for i in range(instance.n):
        grid = instance.grids[i]
        # interim operator: E[f(s, θ_-i)] as a row over profiles, for report s
        interim = np.zeros((shape[i], n_prof))
        for col, t in enumerate(profiles):
            interim[t[i], col] = pmf[col] / probs[i][t[i]]
        for t in range(shape[i]):
            u_true = sign * np.concatenate([-grid[t] * interim[t], interim[t]])   # over (x, m)
            rows.append(-u_true)                                                  # IR: u_true >= 0
            rhs.append(0.0)
            for s in range(shape[i]):
                if s != t:
                    u_dev = sign * np.concatenate([-grid[t] * interim[s], interim[s]])
                    rows.append(u_dev - u_true)                                   # IC: u_dev <= u_true
                    rhs.append(0.0)
    if instance.side == "buy":
        c = -np.concatenate([instance.buyer_value * pmf, -pmf])
    else:
        c = -np.concatenate([-instance.seller_cost * pmf, pmf])
    bounds = [(0, 1)] * n_prof + [(None, None)] * n_prof
    res = linprog(c, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    assert res.status == 0, res.message
    return -res.fun


def gcm_slopes(phi: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Ironed φ̄ by the max-min formula for the greatest convex minorant's slopes."""
    F = np.concatenate([[0.0], np.cumsum(probs)])
    H = np.concatenate([[0.0], np.cumsum(probs * phi)])
    k = phi.size
    out = np.empty(k)
    for j in range(k):
        out[j] = max(min((H[hi] - H[lo]) / (F[hi] - F[lo]) for hi in range(j + 1, k + 1)) for lo in range(0, j + 1))
    return out


_VALIDATOR = None


def result_json(source):
    """Parse an lpmech result document (``lpmech solve --json``) and validate it against the
    package's JSON Schema (lpmech/schemas/result.schema.json); return the parsed dict.

    ``source``: the JSON text, or a path (pathlib.Path) to a file holding it. Use this wherever
    a test parses lpmech's result JSON, so every such document is checked against the contract.
    """
    import json
    import pathlib

    import jsonschema

    global _VALIDATOR
    if _VALIDATOR is None:
        from lpmech.schemas import result_schema

        schema = result_schema()
        jsonschema.Draft202012Validator.check_schema(schema)
        _VALIDATOR = jsonschema.Draft202012Validator(schema)
    text = source.read_text() if isinstance(source, pathlib.Path) else source
    data = json.loads(text)
    _VALIDATOR.validate(data)
    return data
