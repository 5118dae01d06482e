"""ω* = argmin g over the simplex for continuous types.

:class:`_Model` holds the agents' ironed virtual costs and evaluates g; :func:`_optimize` finds
ω* (a root of g' for two agents, SLSQP on log g then Newton steps on D_i = D_j for three or
more), :func:`_polish` refines it, :func:`_gap` is the Frank-Wolfe gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from ..instance import Instance, InstanceError
from .inversion import _Moments, _moments
from .ironing import _Virtual
from .law import _agent_law


# ----------------------------------------------------------------------------- the model
@dataclass
class _Model:
    """An instance in engine form: one :class:`_Virtual` per agent (shared by agents whose
    per-share laws coincide), the buyer's value b, and the Bromwich tolerance."""

    virtuals: list[_Virtual]
    b: float
    instance: Instance
    tol: float = 1e-10
    hint: dict = field(default_factory=dict)  # Bromwich resolution that sufficed last time

    @classmethod
    def of(cls, instance: Instance, tol: float = 1e-10) -> _Model:
        if not isinstance(instance, Instance):
            raise TypeError(f"expected an Instance, got {type(instance).__name__}")
        if instance.joint is not None:
            raise InstanceError(
                "the continuous solver needs independent types (no [joint] table)",
                field="joint",
                source=instance.source,
            )
        mech = getattr(instance, "mechanism", None)
        if mech is not None and not mech.is_default:
            raise InstanceError(
                "the continuous solver covers the default mechanism only (Bayesian IC, "
                "interim participation, every agent a veto, profit)",
                field="mechanism",
                source=instance.source,
            )
        cache: dict[tuple, _Virtual] = {}
        virtuals = []
        for i in range(instance.n):
            law = _agent_law(instance, i)
            if law.key not in cache:
                cache[law.key] = _Virtual(law)
            virtuals.append(cache[law.key])
        b = instance.buyer_value if instance.side == "buy" else -instance.seller_cost
        return cls(virtuals, float(b), instance, tol)

    def moments(self, omega, level: int = 0, tol: float | None = None) -> _Moments:
        return _moments(self.virtuals, omega, self.b, self.tol if tol is None else tol, level, self.hint)

    def clamp_error(self, omega) -> float:
        """Bound on |g| change from clamping laws unbounded below (Σ ω_i E[φ̄_i,clamped - φ̄_i])."""
        return float(sum(w * v.shift for w, v in zip(omega, self.virtuals)))


def _optimize(model: _Model) -> np.ndarray:
    """ω* = argmin g over the simplex: closed form (1 agent), root of g' (2), SLSQP on log g (3+)."""
    n = len(model.virtuals)
    cs = np.array([v.c for v in model.virtuals])
    if n == 1:
        return np.ones(1)
    if cs.max() >= model.b:  # some agent never trades below b: g* = 0 there
        return np.eye(n)[int(np.argmax(cs))]
    big = 1e100

    if n == 2:

        def slope(w):
            m = model.moments(np.array([w, 1 - w]))
            return float(np.clip((m.d[1] - m.d[0]) / max(m.value, 1e-300), -big, big))

        if slope(0.0) >= 0:
            return np.array([0.0, 1.0])
        if slope(1.0) <= 0:
            return np.array([1.0, 0.0])
        w = optimize.brentq(slope, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps)
        return np.array([w, 1 - w])

    def fun(x):  # a looser tolerance is enough to find the region
        x = np.clip(x, 0, None)
        m = model.moments(x / x.sum(), tol=max(model.tol, 1e-8))
        val = max(m.value, 1e-300)
        return math.log(val), np.clip(-m.d / val, -big, big)

    res = optimize.minimize(
        fun,
        np.full(n, 1.0 / n),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n,
        constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1.0, "jac": lambda x: np.ones_like(x)}],
        options={"ftol": 1e-12, "maxiter": 200},
    )
    x = np.clip(res.x, 0, None)
    return x / x.sum()


def _polish(model: _Model, omega: np.ndarray, steps: int = 3) -> tuple[np.ndarray, float | None]:
    """Chord-Newton steps on the first-order conditions D_i = D_j over supp ω, and the
    Newton-model estimate ½ rᵀJ⁻¹r of g(ω) - min g (None when not available).

    SLSQP on a flat objective stops while the D_i still differ at ~1e-8 relative; the
    suboptimality is quadratic in that difference, which the Frank-Wolfe gap (linear in it)
    overstates. J, the reduced Hessian of g, is formed once by finite differences.
    """
    supp = np.flatnonzero(omega > 1e-10)
    if supp.size < 2:
        return omega, None
    free, last = supp[:-1], supp[-1]

    def resid(w):
        d = model.moments(w).d
        return d[last] - d[free], float(np.max(np.abs(d[supp])))

    r, scale = resid(omega)
    if np.all(np.abs(r) <= 1e-14 * scale):
        return omega, 0.0
    h = 1e-6
    jac = np.empty((free.size, free.size))
    for col, k in enumerate(free):
        w = omega.copy()
        w[k], w[last] = w[k] + h, w[last] - h
        jac[:, col] = (resid(w)[0] - r) / h
    try:
        solve = lambda res: -np.linalg.solve(jac, res)
        step = solve(r)
    except np.linalg.LinAlgError:
        return omega, None
    for _ in range(steps):
        full = np.zeros_like(omega)
        full[free], full[last] = step, -step.sum()
        shrink = min([1.0] + [0.9 * omega[k] / -full[k] for k in supp if full[k] < 0])
        trial = omega + shrink * full
        r_new, _ = resid(trial)
        if np.max(np.abs(r_new)) >= np.max(np.abs(r)):
            break
        omega, r = trial, r_new
        step = solve(r)
        if np.all(np.abs(r) <= 1e-14 * scale):
            break
    model_gap = float(-r @ step)
    return omega, (0.5 * model_gap if model_gap >= 0 else None)


def _gap(m: _Moments, omega: np.ndarray) -> float:
    """Frank-Wolfe certificate: max_i D_i - ω·D >= g(ω) - min g."""
    d = np.where(np.isfinite(m.d), m.d, 0.0)
    return max(0.0, float(np.max(m.d) - np.dot(omega, d))) if m.d.size > 1 else 0.0
