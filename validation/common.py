"""Shared pieces of the validation claims: result entries, the run context, instance builders."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import lpmech


@dataclass
class Entry:
    """One checked statement: what the theory expects, what lpmech measured, and the verdict."""

    claim: str
    instance: str
    expected: Any
    measured: Any
    tolerance: Any
    passed: bool
    note: str = ""

    def to_dict(self) -> dict:
        return _plain(asdict(self))


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else str(v)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def close(
    claim: str, instance: str, expected: float, measured: float, tol: float, *, relative: bool = True, note: str = ""
) -> Entry:
    """An entry that passes when |measured - expected| <= tol (relative to |expected| if ``relative``)."""
    err = abs(measured - expected) / (abs(expected) if relative and expected != 0 else 1.0)
    kind = "relative" if relative else "absolute"
    return Entry(
        claim, instance, expected, measured, f"{tol:g} {kind}", bool(err <= tol), note or f"{kind} error {err:.2e}"
    )


def holds(
    claim: str, instance: str, expected: str, measured: Any, passed: bool, tolerance: Any = "-", note: str = ""
) -> Entry:
    """An entry for a qualitative statement (an ordering, an inequality, a finding)."""
    return Entry(claim, instance, expected, measured, tolerance, bool(passed), note)


@dataclass
class Context:
    """What a claim module gets: the mode and where figures go."""

    quick: bool
    out_dir: str
    progress: bool = True
    figures: list[tuple[str, str]] = field(default_factory=list)  # (file name, caption)

    def save(self, fig, name: str, caption: str) -> None:
        path = os.path.join(self.out_dir, name)
        fig.savefig(path, dpi=120)  # a matplotlib.figure.Figure: no pyplot state to release
        self.figures.append((name, caption))


def uniform_sellers(n: int, k: int, b: float, width: float = 1.0) -> lpmech.Instance:
    """N sellers with per-share costs U[0, width] on K-point midpoint grids."""
    return lpmech.Instance(
        "buy",
        [lpmech.Agent.from_distribution(f"s{i + 1}", "uniform", {"scale": width}, k) for i in range(n)],
        buyer_value=b,
        name=f"U[0,{width:g}]^{n}, b={b:g}, K={k}",
    )


def ratio_formula(n: int) -> float:
    """(N+1)^N / (N! 2^N): optimal over best posted value, iid U[0,1], b <= 2/N (docs/model.md, section 7)."""
    return math.exp(n * math.log(n + 1) - math.lgamma(n + 1) - n * math.log(2))


def uniform_value_formula(n: int, b: float) -> float:
    """(Nb/2)^N b / (N!(N+1)): the optimal value for iid U[0,1] sellers, b <= 2/N."""
    return math.exp(n * math.log(n * b / 2) + math.log(b) - math.lgamma(n + 1) - math.log(n + 1))
