"""One agent's type law in engine form: a frozen scipy.stats law, per share, mirrored for the sell side.

:class:`_Law` gives F, f, F⁻¹ and the raw virtual cost φ = θ + F/f of one agent in the engine's
buy-side per-share form; :func:`_agent_law` builds it from an :class:`lpmech.Instance`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..discretize import frozen_distribution
from ..instance import Instance, InstanceError

#: Quantile mass clamped at the bottom of laws that are unbounded below (engine form).
CLAMP_MASS = 1e-15
#: Laws unbounded below (engine form) whose lower tail decays like a power |θ|^-α with α at or
#: below this are refused: their mean is infinite (α <= 1) or nearly so, φ = θ + F/f is then the
#: difference of two numbers of size |θ| (it tends to 0 for the Cauchy law), and the clamped
#: mass CLAMP_MASS carries a share ~ CLAMP_MASS^(1 - 1/α) of the value that no quadrature sees.
#: α is estimated as (median − θ)/(F/f) at the clamp quantile (1 for Cauchy, ν for Student's t
#: with ν degrees of freedom; 20 to 60 for the normal, logistic and Laplace laws).
MIN_TAIL_INDEX = 1.25


# ----------------------------------------------------------------------------- one agent's law
class _Law:
    """One agent's per-share type law in engine form (buy side costs; sell side negated values).

    ``frozen`` is the scipy.stats law of the stated type (per-share θ, or total v = κθ).
    """

    def __init__(self, frozen: Any, kappa: float, flip: bool, key: tuple):
        self.frozen, self.kappa, self.flip, self.key = frozen, float(kappa), bool(flip), key
        a, b = (float(x) / self.kappa for x in frozen.support())
        self.lower, self.upper = (-b, -a) if flip else (a, b)

    def _arg(self, t):
        return -self.kappa * np.asarray(t, dtype=float) if self.flip else self.kappa * np.asarray(t, dtype=float)

    def cdf(self, t):
        return self.frozen.sf(self._arg(t)) if self.flip else self.frozen.cdf(self._arg(t))

    def sf(self, t):
        return self.frozen.cdf(self._arg(t)) if self.flip else self.frozen.sf(self._arg(t))

    def logcdf(self, t):
        return self.frozen.logsf(self._arg(t)) if self.flip else self.frozen.logcdf(self._arg(t))

    def pdf(self, t):
        return self.kappa * self.frozen.pdf(self._arg(t))

    def logpdf(self, t):
        return math.log(self.kappa) + self.frozen.logpdf(self._arg(t))

    def ppf(self, q):
        q = np.asarray(q, dtype=float)
        return (-self.frozen.isf(q) if self.flip else self.frozen.ppf(q)) / self.kappa

    def isf(self, q):
        q = np.asarray(q, dtype=float)
        return (-self.frozen.ppf(q) if self.flip else self.frozen.isf(q)) / self.kappa

    def phi(self, t):
        """Raw virtual cost t + F(t)/f(t): t where F = 0, inf where only the density vanishes.

        F/f is taken from logarithms where F or f underflow (deep in a tail).
        """
        t = np.asarray(t, dtype=float)
        cdf, pdf = self.cdf(t), self.pdf(t)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = cdf / pdf
        tiny = (cdf < 1e-290) | (pdf < 1e-290)
        if np.any(tiny):
            with np.errstate(invalid="ignore", over="ignore"):
                logs = np.exp(self.logcdf(t[tiny]) - self.logpdf(t[tiny]))
            ratio[tiny] = logs
        ratio = np.where(cdf == 0, 0.0, np.where(np.isnan(ratio), np.inf, ratio))
        return t + ratio


def _agent_law(instance: Instance, i: int) -> _Law:
    agent = instance.agents[i]
    info = agent.distribution
    if not info or "name" not in info:
        raise InstanceError(
            "the continuous solver needs a scipy.stats distribution for every agent (this agent is given by a grid)",
            field="distribution",
            agent=agent.name,
        )
    params = dict(info.get("params") or {})
    frozen = frozen_distribution(info["name"], params, agent=agent.name)
    kappa = float(instance.shares[i]) if instance.types == "total" else 1.0
    flip = instance.flipped  # the engine form mirrors the sell side (Instance.engine)
    # identity of the per-share law: θ = v/κ has loc/κ and scale/κ (agents with equal keys share work)
    shape = tuple(sorted((k, float(v)) for k, v in params.items() if k not in ("loc", "scale")))
    key = (info["name"], shape, float(params.get("loc", 0.0)) / kappa, float(params.get("scale", 1.0)) / kappa, flip)
    law = _Law(frozen, kappa, flip, key)
    _refuse_heavy_tail(law, agent.name, instance)
    return law


def tail_index(law: _Law) -> float:
    """Estimated power-law index α of the law's lower tail in engine form (inf when bounded below).

    Parameters
    ----------
    law : _Law

    Returns
    -------
    float
        (median − θ_c) / (F(θ_c)/f(θ_c)) at θ_c = F⁻¹(CLAMP_MASS): for a tail F(θ) ~ |θ|^-α this
        is α; for lighter (exponential or Gaussian) tails it is large. Unitless.
    """
    if np.isfinite(law.lower):
        return math.inf
    with np.errstate(all="ignore"):
        lo, med = float(law.ppf(CLAMP_MASS)), float(law.ppf(0.5))
        ratio = math.exp(float(law.logcdf(lo)) - float(law.logpdf(lo)))
    if not (math.isfinite(lo) and math.isfinite(med) and med > lo and ratio > 0):
        return 0.0 if not math.isfinite(lo) else math.inf
    return (med - lo) / ratio


def _refuse_heavy_tail(law: _Law, name: str, instance: Instance) -> None:
    alpha = tail_index(law)
    if alpha <= MIN_TAIL_INDEX:
        tail = "upper tail of values" if law.flip else "lower tail of costs"
        raise InstanceError(
            f"heavy-tailed laws whose {tail} decays like a power |θ|^-α with α <= "
            f"{MIN_TAIL_INDEX:g} (here α ≈ {alpha:.3g}: no mean, or nearly none) are not "
            "supported in the continuum; give every agent points to discretize",
            field="distribution",
            agent=name,
            source=instance.source,
        )
