"""The optimal mechanism for continuous, independent types given as scipy.stats laws.

With independent types the designer's problem reduces to one convex program over the
agents' weights (docs/model.md, sections 3-5). With Myerson's virtual costs (Myerson 1981)

    buy side   φ(θ) = θ + F(θ)/f(θ),        sell side   φ(θ) = θ - (1 - F(θ))/f(θ),

ironed where they are not monotone (φ̄ is the derivative of the greatest convex minorant of
H(q) = ∫_0^q φ(F⁻¹(s)) ds, which is q F⁻¹(q) on the buy side; Myerson 1981, section 6), the
optimal allocation trades iff ω·φ̄(θ) <= b (sell side: >= c), where ω minimizes

    g(ω) = E[(b - ω·φ̄(θ))_+]        (sell side: E[(ω·φ̄(θ) - c)_+])

over the simplex, and g(ω*) is the designer's optimal expected profit (Haghpanah,
Kuvalekar and Lipnowski, "Selling to a Group", EC 2021, and "Buying from a Group", 2024).
:func:`solve_continuous` returns ω*, g(ω*) with an error estimate, and the best collective
posted price; :func:`dual_objective`, :func:`virtual_costs` and
:func:`continuous_posted_price` expose the pieces.

Everything runs in the buy-side *engine form* (docs/model.md, section 1): the sell side is the
buy side with types negated and b = -c. Types are per share; ``types = "total"`` laws
describe v_i = σ_i θ_i and are rescaled (θ_i = v_i / σ_i).

Method
------
Only the lower tail of S = ω·φ̄ matters. With c_i the lower end of φ̄_i write
S = Σ ω_i c_i + T, T = Σ_i Y_i with Y_i = ω_i(φ̄_i - c_i) >= 0, and B = b - Σ ω_i c_i:
g = E[(B - T)_+] needs each Y_i on [0, B] only, a sum of nonnegative terms.

* One agent: closed form g = ω q*(λ - θ*), with φ̄(θ*) = λ = c + B/ω and q* = F(θ*)
  (E[(λ - φ̄)_+] = max_p F(p)(λ - p): Myerson 1981; Riley and Zeckhauser 1983).
* Two agents: Gauss-Legendre quadrature over the first agent's types of the second's closed
  form, on panels graded geometrically towards the support ends and the cut, with
  breakpoints at the second agent's kinks.
* Three or more: inversion of the Laplace transform along the Bromwich line through the
  saddle point s0, E[(B - T)_+] = (1/2πi) ∫ e^{sB} Π_i E[e^{-sY_i}] s⁻² ds, by the
  trapezoidal rule (the Fourier-series method of Abate and Whitt 1992, with exponential
  tilting). The tilt makes the integrand positive-dominated at the scale of the answer, so
  relative accuracy survives when trade is astronomically rare (25 iid U[0, 1] agents with
  b = 1/25: trade probability ≈ 1.9e-33, found to ~1e-13); an FFT of whole densities rounds
  that mass to zero. Each E[e^{-sY_i}] is a Gauss-Legendre sum on panels that resolve
  e^{-iuY} up to the cut-off frequency, which is raised until the probed tail of the
  integrand is below the tolerance. Ironing intervals make atoms of φ̄ whose transforms do
  not decay; the agents sitting on atoms are conditioned on (a finite sum of cases).

ω* comes from a root of g' (two agents) or SLSQP on log g from equal weights followed by
Newton steps on the first-order conditions D_i = D_j (three or more), where
D_i = E[φ̄_i 1{ω·φ̄ <= b}] = -∂g/∂ω_i. ``value_error`` adds the change of g between two
resolutions, the estimated u-tail, the suboptimality (the Newton model ½ rᵀJ⁻¹r, or the
Frank-Wolfe gap max_i D_i - ω·D >= g(ω) - min g when smaller or when that is unavailable),
and for laws unbounded below in engine form a bound for clamping their lowest 1e-15 quantile.

Limitations: the relative accuracy of a tail that sits at a support end away from 0 is
limited by the float spacing there, about 1e-16 / (distance of the relevant types from that
end): a sell-side U[0, 1] buyer with seller cost 1 - 1e-9 gets the value to ~1e-7, not
reported in ``value_error`` (ends at 0, as in the buy-side examples, keep full accuracy).
Densities with jumps or singularities at the bottom of the support make the Bromwich
integrand decay slowly, which costs time with three or four agents; beyond MAX_STATES
configurations of agents on ironing atoms, the atoms stay in the transforms and the error
estimate grows accordingly.

Modules
-------
:mod:`~lpmech.continuous.law`
    One agent's law in engine form (F, f, F⁻¹, φ).
:mod:`~lpmech.continuous.ironing`
    Myerson's ironing by the lower convex hull.
:mod:`~lpmech.continuous.quadrature`
    Gauss-Legendre panels.
:mod:`~lpmech.continuous.inversion`
    g(ω) and its gradient (closed form, quadrature, Laplace inversion).
:mod:`~lpmech.continuous.optimise`
    ω* over the simplex.
:mod:`~lpmech.continuous.posted`
    The best collective posted price.
:mod:`~lpmech.continuous.result`
    :class:`ContinuousResult`.
This module holds the public functions.

References
----------
R. B. Myerson, "Optimal auction design", Mathematics of Operations Research 6 (1981).
N. Haghpanah, A. Kuvalekar and E. Lipnowski, "Selling to a Group", ACM EC 2021; "Buying from a
Group", 2024.
J. Abate and W. Whitt, "The Fourier-series method for inverting transforms of probability
distributions", Queueing Systems 10 (1992).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np

from ..instance import Instance, InstanceError
from ..tolerances import CONTINUUM_RTOL
from .inversion import ALIAS_TOL, MAX_STATES
from .ironing import _Virtual
from .law import CLAMP_MASS
from .optimise import _gap, _Model, _optimize, _polish
from .posted import _posted
from .quadrature import GL_POINTS, GRADING, MAX_PANELS, PANEL_PHASE
from .result import ContinuousResult

__all__ = [
    "ContinuousResult",
    "VirtualCost",
    "solve_continuous",
    "virtual_costs",
    "dual_objective",
    "continuous_posted_price",
    # numerical constants, documented where they are used
    "CLAMP_MASS",
    "GL_POINTS",
    "GRADING",
    "PANEL_PHASE",
    "ALIAS_TOL",
    "MAX_PANELS",
    "MAX_STATES",
]


def solve_continuous(instance: Instance, *, rtol: float = CONTINUUM_RTOL) -> ContinuousResult:
    """Optimal weights, value and best posted price for independent continuous types.

    Every agent must come from a scipy.stats law (:meth:`lpmech.Agent.from_distribution`):
    a continuous agent (no ``points``: :attr:`lpmech.Instance.is_continuous`), or a discretized
    one, whose grid (``points``) is ignored. See the module docstring for the method.

    Parameters
    ----------
    instance : Instance
        Independent types, default mechanism.
    rtol : float
        Target relative accuracy of the value (default
        :data:`lpmech.tolerances.CONTINUUM_RTOL`). The status is ``"optimal"`` when
        ``value_error <= rtol * value``, and otherwise says how far off the estimate is. This
        function returns such an inaccurate result (it is the explicit way to ask for one);
        :func:`lpmech.solve` runs :func:`lpmech.checks.continuous_checks` on it and raises
        :class:`~lpmech.errors.CheckError` instead.

    Returns
    -------
    ContinuousResult
        ``to_dict()`` carries ``"formulation": "continuous"``.

    Raises
    ------
    InstanceError
        When an agent has a grid but no law, a law's lower tail in engine form (a cost's lower
        tail, a value's upper tail) is a power law with index <= ``law.MIN_TAIL_INDEX``
        (Cauchy, Student's t with ν <= 1.25), types are correlated, or the mechanism is not
        the default one.

    Examples
    --------
    Two sellers with costs iid U[0, 1] and a buyer with value 1: ω = (1/2, 1/2), trade iff
    θ_1 + θ_2 <= 1, value 1/6, and the best posted price 2/3 earns 4/27.

    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent.from_distribution(n, "uniform", {}, points=5) for n in "ab"],
    ...                 buyer_value=1.0)
    >>> res = solve_continuous(inst)
    >>> round(res.value, 10), res.omega.round(8).tolist(), round(res.posted_price, 8), round(res.ratio, 8)
    (0.1666666667, [0.5, 0.5], 0.66666667, 1.125)
    """
    start = time.perf_counter()
    model = _Model.of(instance, tol=min(1e-10, 0.1 * rtol))
    omega = _optimize(model)
    omega, newton = _polish(model, omega) if instance.n > 2 else (omega, None)
    base = model.moments(omega)
    fine = model.moments(omega, level=1)
    kkt = _gap(fine, omega)
    unused = np.setdiff1d(np.arange(instance.n), np.flatnonzero(omega > 1e-10))
    inactive_ok = unused.size == 0 or np.max(fine.d[unused]) <= np.max(fine.d[omega > 1e-10])
    suboptimal = min(kkt, newton) if newton is not None and inactive_ok else kkt
    error = abs(fine.value - base.value) + fine.tail * fine.value + suboptimal + model.clamp_error(omega)
    p, posted_value = _posted(model)
    value = fine.value
    if posted_value > 0:
        ratio = value / posted_value
    else:
        ratio = math.nan
    price = instance.user_money(p)
    if error <= rtol * value or value == 0:
        status = "optimal"
    else:
        status = f"optimal within estimated relative error {error / value:.1e} (above rtol = {rtol:g})"
    return ContinuousResult(
        status=status,
        value=value,
        omega=omega,
        posted_price=price,
        posted_value=posted_value,
        ratio=ratio,
        value_error=error,
        trade_probability=fine.prob,
        seconds=time.perf_counter() - start,
        names=list(instance.names),
        side=instance.side,
        model=model,
    )


def dual_objective(instance: Instance, omega: Sequence[float]) -> tuple[float, np.ndarray]:
    """g(ω) = E[(b - ω·φ̄)_+] (sell side E[(ω·φ̄ - c)_+]) and its gradient in ω.

    The gradient is -E[φ̄_i 1{ω·φ̄ <= b}] on the buy side (sell side: +E[φ̄_i 1{ω·φ̄ >= c}]
    with the sell-side virtual values). For any ω, g(ω) bounds the optimal value from above.

    Parameters
    ----------
    instance : Instance
        Agents given by laws (continuous types), independent.
    omega : sequence of float, shape (N,)
        Nonnegative weights summing to 1.

    Returns
    -------
    g : float
        g(ω), in the instance's money units (expected profit).
    gradient : ndarray, shape (N,)
        ∂g/∂ω_i, same units.

    Raises
    ------
    InstanceError
        ``omega`` is not N nonnegative weights summing to 1.

    References
    ----------
    N. Haghpanah, A. Kuvalekar, E. Lipnowski, "Selling to a Group", ACM EC 2021, and "Buying from
    a Group" (2024): the optimal value is min_ω g(ω).

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent.from_distribution(n, "uniform", {}, points=5) for n in "ab"],
    ...                 buyer_value=1.0)
    >>> g, grad = dual_objective(inst, [0.5, 0.5])
    >>> round(g, 12), grad.round(12).tolist()
    (0.166666666667, [-0.333333333333, -0.333333333333])
    """
    model = _Model.of(instance)
    w = np.asarray(omega, dtype=float)
    if w.shape != (instance.n,) or np.any(w < 0) or abs(w.sum() - 1) > 1e-9:
        raise InstanceError(f"must be {instance.n} nonnegative weights summing to 1", field="omega")
    m = model.moments(w)
    grad = instance.user_money(-m.d)  # ∂g/∂ω_i = -D_i in engine money, mirrored on the sell side
    return m.value, grad


def continuous_posted_price(instance: Instance) -> tuple[float, float]:
    """The best collective posted price (the total for the whole good) and its expected profit.

    Maximizes (b - p) Π_i F_i(p) (sell side (p - c) Π_i (1 - F_i(p))) in logarithms, so that
    tiny acceptance probabilities keep their relative accuracy.

    Parameters
    ----------
    instance : Instance
        Agents given by laws (continuous types).

    Returns
    -------
    price : float
        The posted price p: the total paid for the whole good (agent i's part is σ_i p).
    value : float
        Its expected profit, in the instance's money units.

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent.from_distribution("a", "uniform", {}, points=5)], buyer_value=1.0)
    >>> p, v = continuous_posted_price(inst)
    >>> round(p, 10), round(v, 10)
    (0.5, 0.25)
    """
    p, value = _posted(_Model.of(instance))
    return instance.user_money(p), value


class VirtualCost:
    """One agent's continuous virtual cost (buy side) or value (sell side), raw and ironed.

    In the user's per-share units (also for ``types = "total"``): buy side
    φ(θ) = θ + F(θ)/f(θ), sell side φ(θ) = θ - (1 - F(θ))/f(θ). ``ironed`` is Myerson's
    ironed version (nondecreasing, constant on each of :attr:`intervals`).

    Examples
    --------
    >>> from lpmech.instance import Agent, Instance
    >>> inst = Instance("buy", [Agent.from_distribution("a", "uniform", {}, points=5)], buyer_value=1.0)
    >>> vc = virtual_costs(inst)[0]
    >>> vc.raw([0.25, 0.5]).tolist(), vc.intervals
    ([0.5, 1.0], [])
    """

    def __init__(self, virtual: _Virtual, side: str):
        self._v, self._sell = virtual, side == "sell"

    def _map(self, fn, theta):
        theta = np.asarray(theta, dtype=float)
        return -fn(-theta) if self._sell else fn(theta)

    def raw(self, theta) -> np.ndarray:
        """φ(θ) before ironing."""
        return self._map(self._v.law.phi, theta)

    def ironed(self, theta) -> np.ndarray:
        """φ̄(θ), constant on each ironing interval."""
        return self._map(self._v.bar, theta)

    __call__ = ironed

    @property
    def intervals(self) -> list[tuple[float, float, float]]:
        """Ironing intervals (θ_lo, θ_hi, level) in user units, increasing θ."""
        p = self._v.pools
        out = [(float(a), float(b), float(lev)) for a, b, lev in zip(p["a"], p["b"], p["level"])]
        if self._sell:
            out = [(-b, -a, -lev) for a, b, lev in reversed(out)]
        return out


def virtual_costs(instance: Instance) -> list[VirtualCost]:
    """The continuous virtual costs (values) of every agent, raw and ironed.

    Parameters
    ----------
    instance : Instance
        Agents given by laws (continuous types).

    Returns
    -------
    list of VirtualCost
        One per agent, in file order; each evaluates φ(θ) and φ̄(θ) in the instance's units.

    References
    ----------
    R. B. Myerson, "Optimal auction design", Mathematics of Operations Research 6(1), 58–73 (1981).
    """
    model = _Model.of(instance)
    return [VirtualCost(v, instance.side) for v in model.virtuals]
