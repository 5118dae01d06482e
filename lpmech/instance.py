"""Instances of the group-trading problem: agents, their type grids, and the designer's side.

An :class:`Instance` is what every solver in lpmech reads. It is built either from a TOML
file (:func:`lpmech.load`) or directly in Python; both paths run the same validation, and
every rejection is an :class:`InstanceError` whose one-line message names the file, the
agent and the field (never another exception type, whatever the input).

Units. Types are kept *per share* (docs/model.md, section 1): on the buy side an agent's
per-share cost, on the sell side its per-share value. Files may give total values of the
agent's whole share (``types = "total"``); they are divided by the share on loading, and the
grid order of the file is kept, so results map back point by point.

Grids and laws. An agent has either a finite type grid with its pmf, or (a *continuous*
agent) a scipy.stats law without a grid (:meth:`Agent.from_distribution` with
``points=None``; in a file, ``distribution`` and ``params`` without ``points``). An instance
with a continuous agent is *continuous* (:attr:`Instance.is_continuous`): it is solved in
the continuum (:func:`lpmech.continuous.solve_continuous`), and every grid operation on it
(:attr:`Instance.shape`, :attr:`Instance.grids`, :meth:`Instance.engine`, ...) raises
:class:`InstanceError`.

Exact data. Every number is also kept exactly, as a :class:`fractions.Fraction`, beside the
floats the solvers use: decimal text in a file is read exactly (``0.1`` is 1/10; see
:func:`exact_float`), Python floats are taken at their exact binary value
(``Fraction(0.1)``), integers exactly, and discretized scipy laws at the exact value of the
floats they produce. Probabilities, a joint pmf and shares that sum to one within
:data:`PROB_TOL` but not exactly are normalized, p / Σp, on both paths: exactly in
fractions on the exact path, and the floats are the exact normalized values rounded to the
nearest double (so ``float(exact) == float data`` always holds). Exact data are computed on
first access (:attr:`Agent.exact_grid`, :attr:`Agent.exact_probs`, :attr:`Agent.exact_share`,
:attr:`Instance.exact_shares`, :attr:`Instance.exact_designer_value`,
:attr:`Instance.exact_joint`, :attr:`Instance.exact_per_share_grids`).

Input limits (so that no derived quantity overflows, and no size is allocated unchecked):
every number has magnitude at most :data:`MAX_MAGNITUDE`; probabilities and shares are at
least :data:`MIN_PROBABILITY`; with independent types the least likely profile has
probability at least :data:`MIN_PROFILE_PROBABILITY`; an agent has at most
:data:`MAX_POINTS` grid points.

The engine. Both sides are solved by one buy-side engine: the sell side is the buy side
with types, designer's value and transfers negated and the grids reversed
(:meth:`Instance.engine`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InstanceError
from .profiles import marginal, outer_pmf
from .tolerances import PROB_TOL

__all__ = [
    "DEFAULT_MAX_PROFILES",
    "MAX_MAGNITUDE",
    "MAX_POINTS",
    "MIN_PROBABILITY",
    "MIN_PROFILE_PROBABILITY",
    "PROB_TOL",
    "Agent",
    "BadNumber",
    "EngineProblem",
    "Instance",
    "InstanceError",
    "Mechanism",
    "exact_float",
    "exact_number",
    "float_number",
]

#: Default cap on the number of type profiles of the grid LP (configurable per call).
DEFAULT_MAX_PROFILES = 20_000_000
#: Largest magnitude of any number in an instance (values, costs, types, per-share types,
#: distribution parameters, the Pareto weight): far inside the float range, so sums, virtual
#: costs and LP coefficients built from them never overflow.
MAX_MAGNITUDE = 1e100
#: Smallest probability of a grid point (and smallest positive [joint] entry, smallest share):
#: virtual costs divide by probabilities, and per-share types divide by shares.
MIN_PROBABILITY = 1e-100
#: With independent types, the least likely profile's probability (the product of every
#: agent's smallest probability) must be at least this, or the profile pmf underflows to 0.
MIN_PROFILE_PROBABILITY = 1e-300
#: Most grid points of one agent (``points`` or the length of ``grid``); checked before
#: anything of that size is allocated.
MAX_POINTS = 1_000_000

_MAX_EXACT = Fraction(MAX_MAGNITUDE)
_LOG10_2 = math.log10(2.0)
_MAX_DIGITS = 4000  # below Python's limit of 4300 digits for int <-> str conversion


# ----------------------------------------------------------------------------- numbers
class BadNumber:
    """A number in a file that is not a finite rational of a size lpmech reads (see :func:`exact_float`).

    It is kept in place of the number, so validation can name the field it stands in.
    """

    __slots__ = ("reason", "text")

    def __init__(self, text: str, reason: str):
        self.text = text
        self.reason = reason

    def __repr__(self) -> str:
        return self.text


_DECIMAL = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?\Z")


def exact_float(text: str) -> Fraction | BadNumber:
    """Read a TOML float exactly: tomllib's ``parse_float`` for instance files.

    Decimal text is an exact rational (``"0.1"`` is 1/10, not the nearest double). Text that
    is not a finite number of reasonable size (``nan``, ``inf``, an exponent or a digit
    string too long to read safely) becomes a :class:`BadNumber`, which validation rejects
    naming the field.

    Parameters
    ----------
    text : str
        The float as written in the file (TOML float syntax).

    Returns
    -------
    Fraction or BadNumber

    Examples
    --------
    >>> exact_float("0.1")
    Fraction(1, 10)
    >>> exact_float("1_000.5e-2")
    Fraction(2001, 200)
    >>> exact_float("nan")
    nan
    """
    clean = text.replace("_", "")
    if clean.lstrip("+-") in ("inf", "nan"):
        return BadNumber(text, "must be finite")
    m = _DECIMAL.match(clean)
    if m is None:
        return BadNumber(text, "is not a number")
    sign, whole, frac, exp = m.groups()
    frac = frac or ""
    mantissa = (whole + frac).lstrip("0")
    digits = mantissa.rstrip("0")
    if not digits:
        return Fraction(0)
    short = text[:40] + ("..." if len(text) > 40 else "")
    if len(digits) > _MAX_DIGITS:
        return BadNumber(short, f"has more than {_MAX_DIGITS} significant digits")
    exp = exp or "0"
    exp_digits = exp.lstrip("+-").lstrip("0") or "0"
    if len(exp_digits) > 6:
        return BadNumber(
            short,
            f"must be a finite number of magnitude at most {MAX_MAGNITUDE:g}"
            if not exp.startswith("-")
            else "is too small to read (magnitude below 1e-400)",
        )
    power = int(exp_digits) * (-1 if exp.startswith("-") else 1) - len(frac) + (len(mantissa) - len(digits))
    order = len(digits) - 1 + power  # the value is digits x 10^power, about 10^order
    if order > 400:
        return BadNumber(short, f"must be a finite number of magnitude at most {MAX_MAGNITUDE:g}")
    if order < -400:
        return BadNumber(short, "is too small to read (magnitude below 1e-400)")
    value = Fraction(int(digits)) * Fraction(10) ** power
    return -value if sign == "-" else value


def _show(value: Any) -> str:
    """A short rendering of a number for a message (huge integers and fractions approximated)."""
    if isinstance(value, (Fraction, int)) and not isinstance(value, bool):
        fr = Fraction(value)
        if fr == 0:
            return "0"
        p, q = abs(fr.numerator), fr.denominator
        order = (p.bit_length() - q.bit_length()) * _LOG10_2
        if -300 < order < 300:
            return f"{float(fr):.6g}"
        return f"about {'-' if fr < 0 else ''}1e{round(order):+d}"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return _kind(value)


def _kind(value: Any) -> str:
    """What a non-number is, for a message."""
    if isinstance(value, (bool, np.bool_)):
        return f"the boolean {str(bool(value)).lower()}"
    if isinstance(value, str):
        return f"the string {value[:30]!r}" + ("..." if len(value) > 30 else "")
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, BadNumber):
        return value.text
    return f"a {type(value).__name__}"


def exact_number(value: Any, *, field: str, agent: str | None = None, entry: int | None = None) -> Fraction:
    """The exact value of one input number, checked to be finite and of magnitude <= MAX_MAGNITUDE.

    Integers are exact, floats (Python or numpy) are taken at their exact binary value,
    fractions and decimals as they are.

    Parameters
    ----------
    value : int, float, Fraction, Decimal or numpy number
    field, agent : str
        Named in the error message.
    entry : int, optional
        0-based position in a list, named (1-based) in the error message.

    Returns
    -------
    Fraction

    Raises
    ------
    InstanceError
        For anything else (booleans, strings, tables, arrays, NaN, inf, too large a magnitude).
    """
    where = "" if entry is None else f"entry {entry + 1} "
    if isinstance(value, (bool, np.bool_)):
        raise InstanceError(f"{where}must be a number, got {_kind(value)}", field=field, agent=agent)
    if isinstance(value, BadNumber):
        raise InstanceError(f"{where}{value.reason}, got {value.text}", field=field, agent=agent)
    if isinstance(value, Fraction):
        fr = value
    elif isinstance(value, (int, np.integer)):
        fr = Fraction(int(value))
    elif isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise InstanceError(f"{where}must be finite, got {float(value)}", field=field, agent=agent)
        fr = Fraction(*value.as_integer_ratio())
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise InstanceError(f"{where}must be finite, got {value}", field=field, agent=agent)
        if value and not -400 <= value.adjusted() <= 400:
            raise InstanceError(
                f"{where}must be a finite number of magnitude at most {MAX_MAGNITUDE:g}, got {value:.3e}",
                field=field,
                agent=agent,
            )
        fr = Fraction(value)
    else:
        raise InstanceError(f"{where}must be a number, got {_kind(value)}", field=field, agent=agent)
    if abs(fr) > _MAX_EXACT:
        raise InstanceError(
            f"{where}must be a finite number of magnitude at most {MAX_MAGNITUDE:g}, got {_show(fr)}",
            field=field,
            agent=agent,
        )
    return fr


def float_number(value: Any, *, field: str, agent: str | None = None) -> float:
    """:func:`exact_number` rounded to the nearest double (-0.0 becomes 0.0).

    Parameters
    ----------
    value : Any
        A number from a file or a caller (int, float, Fraction, or an exact TOML float).
    field : str
        The field named in an error.
    agent : str, optional
        The agent named in an error.

    Returns
    -------
    float
        Finite.

    Raises
    ------
    InstanceError
        Not a number, a boolean, NaN or infinite, or beyond a double's range.
    """
    return float(exact_number(value, field=field, agent=agent)) + 0.0


_finite_number = float_number  # the name older modules use


def _vector(values: Any, *, field: str, agent: str | None) -> tuple[np.ndarray, tuple | None]:
    """A 1-d list of numbers as floats, and its exact values when they are not exactly the floats.

    Returns ``(floats, exact)``; ``exact`` is None when every entry is exactly its float
    (then the exact values are ``Fraction(f)`` of the floats, computed on demand).
    """
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise InstanceError(
                f"must be a 1-d list of numbers, got an array of shape {values.shape}", field=field, agent=agent
            )
    elif not isinstance(values, (list, tuple)):
        raise InstanceError(f"must be a list of numbers, got {_kind(values)}", field=field, agent=agent)
    n = len(values)
    if n == 0:
        raise InstanceError("must not be empty", field=field, agent=agent)
    if n > MAX_POINTS:
        raise InstanceError(
            f"has {n:,} entries, more than the limit of {MAX_POINTS:,} per agent", field=field, agent=agent
        )
    if isinstance(values, np.ndarray) and values.dtype.kind == "f" and values.dtype.itemsize <= 8:
        arr = values.astype(float)
    elif not isinstance(values, np.ndarray) and all(type(v) is float for v in values):
        arr = np.array(values, dtype=float)
    else:
        items = values.tolist() if isinstance(values, np.ndarray) else values
        exact = tuple(exact_number(v, field=field, agent=agent, entry=k) for k, v in enumerate(items))
        return np.array([float(e) for e in exact]) + 0.0, exact
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        k = int(bad[0])
        raise InstanceError(f"entry {k + 1} must be finite, got {arr[k]}", field=field, agent=agent)
    big = np.flatnonzero(np.abs(arr) > MAX_MAGNITUDE)
    if big.size:
        k = int(big[0])
        raise InstanceError(
            f"entry {k + 1} must be a finite number of magnitude at most {MAX_MAGNITUDE:g}, got {arr[k]:g}",
            field=field,
            agent=agent,
        )
    return arr + 0.0, None


def _normalized(floats: np.ndarray, exact: tuple | None) -> tuple[np.ndarray, Any]:
    """p / Σp on both paths. Returns the floats and the exact values (a tuple), or the rule
    giving them on demand: None (the floats are exact and sum to exactly 1) or "uniform"."""
    k = floats.size
    if exact is None:
        if math.fsum([*floats.tolist(), -1.0]) == 0.0:  # fsum is exact-rounded: Σp == 1 exactly
            return floats, None
        if np.all(floats == floats[0]):
            return np.full(k, 1.0 / k), "uniform"  # p / (k p) = 1/k; 1.0/k is correctly rounded
        exact = tuple(Fraction(x) for x in floats.tolist())
    total = sum(exact, Fraction(0))
    if total != 1:
        exact = tuple(e / total for e in exact)
    return np.array([float(e) for e in exact]), exact


def _exact_of(floats: np.ndarray, rule: Any) -> tuple:
    if isinstance(rule, tuple):
        return rule
    if rule == "uniform":
        return (Fraction(1, floats.size),) * floats.size
    return tuple(Fraction(x) for x in floats.tolist())


def _pmf(values: Any, *, field: str = "probs", agent: str | None = None) -> tuple[np.ndarray, Any]:
    """Validate a probability vector (entries >= MIN_PROBABILITY, sum 1 within PROB_TOL); normalize it."""
    floats, exact = _vector(values, field=field, agent=agent)
    bad = np.flatnonzero(floats <= 0) if exact is None else [k for k, e in enumerate(exact) if e <= 0]
    if len(bad):
        k = int(bad[0])
        shown = _show(floats[k] if exact is None else exact[k])
        raise InstanceError(f"entry {k + 1} is {shown}; probabilities must be > 0", field=field, agent=agent)
    small = np.flatnonzero(floats < MIN_PROBABILITY)
    if small.size:
        k = int(small[0])
        shown = _show(floats[k] if exact is None else exact[k])
        raise InstanceError(
            f"entry {k + 1} is {shown}, below the smallest probability lpmech accepts ({MIN_PROBABILITY:g})",
            field=field,
            agent=agent,
        )
    total = math.fsum(floats.tolist())
    if abs(total - 1.0) > PROB_TOL:
        raise InstanceError(f"sum to {total:.12g}, not 1 (tolerance {PROB_TOL:g})", field=field, agent=agent)
    return _normalized(floats, exact)


def check_pmf(probs: Any, *, field: str = "probs", agent: str | None = None) -> np.ndarray:
    """Validate a probability vector: entries > 0 summing to one within :data:`PROB_TOL`; return p / Σp.

    Parameters
    ----------
    probs : array_like, shape (K,)
    field, agent : str, optional
        Named in the error message.

    Returns
    -------
    ndarray, shape (K,)
        The normalized pmf (the exact p / Σp rounded to doubles).

    Raises
    ------
    InstanceError
    """
    return _pmf(probs, field=field, agent=agent)[0]


def _continuous_error(agent: str | None) -> InstanceError:
    return InstanceError(
        "the instance is continuous (this agent has a distribution but no points): give "
        "points = K to discretize it on a grid, or solve it in the continuum "
        '(method "continuous", lpmech solve --continuous)',
        field="points",
        agent=agent,
    )


# ----------------------------------------------------------------------------- agents
@dataclass(frozen=True, eq=False)
class Agent:
    """One agent: a name, a share of the transfer, and a finite type grid with its pmf, or a law.

    Parameters
    ----------
    name : str
        Unique name.
    grid : array_like, shape (K,), or None
        Strictly increasing types (per share, or totals with ``types = "total"``; buy side:
        costs; sell side: values). ``None`` for a *continuous* agent, given by its
        ``distribution`` alone.
    probs : array_like, shape (K,), or None
        The pmf on ``grid`` (entries > 0, summing to 1 within :data:`PROB_TOL`; normalized).
        ``None`` when the instance gives a joint pmf, and for a continuous agent.
    share : float or None
        Share of the transfer (> 0); ``None`` means equal shares, filled in by :class:`Instance`.
    distribution : dict or None
        The scipy.stats law ``{"name", "params", "points"}``: where the grid came from (the
        continuous solver reads it), or, with ``grid = None``, the agent's type law itself
        (``points`` None).

    Raises
    ------
    InstanceError
        For any invalid field, naming the agent and the field.

    Examples
    --------
    >>> a = Agent("ann", grid=[0.25, 0.75], probs=[0.5, 0.5])
    >>> a.grid
    array([0.25, 0.75])
    >>> a.exact_grid
    (Fraction(1, 4), Fraction(3, 4))
    >>> Agent.from_distribution("bob", "uniform", {"loc": 0, "scale": 1}, points=4).grid
    array([0.125, 0.375, 0.625, 0.875])
    >>> Agent.from_distribution("cal", "uniform", {}, points=None).is_continuous
    True
    """

    name: str
    grid: np.ndarray | None = None
    probs: np.ndarray | None = None
    share: float | None = None
    distribution: Mapping[str, Any] | None = field(default=None, repr=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.strip():
            raise InstanceError(f"must be a non-empty string, got {_kind(self.name)}", field="name")
        name = self.name
        if self.distribution is not None and not isinstance(self.distribution, Mapping):
            raise InstanceError(
                f"must be a table {{name, params, points}}, got {_kind(self.distribution)}",
                field="distribution",
                agent=name,
            )
        if self.grid is None:
            self._continuous_law(name)
        else:
            grid, exact = _vector(self.grid, field="grid", agent=name)
            steps = np.diff(grid)
            if np.any(steps <= 0):
                k = int(np.flatnonzero(steps <= 0)[0])
                same = exact is not None and exact[k] < exact[k + 1]
                raise InstanceError(
                    f"must be strictly increasing (entry {k + 2} = {_show(grid[k + 1])} follows "
                    f"{_show(grid[k])}" + (", equal in double precision)" if same else ")"),
                    field="grid",
                    agent=name,
                )
            object.__setattr__(self, "grid", grid)
            self.__dict__["_exact_grid"] = exact
            if self.probs is not None:
                probs, rule = _pmf(self.probs, agent=name)
                if probs.size != grid.size:
                    raise InstanceError(f"has {probs.size} entries but grid has {grid.size}", field="probs", agent=name)
                object.__setattr__(self, "probs", probs)
                self.__dict__["_exact_probs"] = rule
        if self.share is not None:
            share = exact_number(self.share, field="share", agent=name)
            if share <= 0:
                raise InstanceError(f"must be > 0, got {_show(share)}", field="share", agent=name)
            if share < MIN_PROBABILITY:
                raise InstanceError(
                    f"is {_show(share)}, below the smallest share lpmech accepts ({MIN_PROBABILITY:g})",
                    field="share",
                    agent=name,
                )
            object.__setattr__(self, "share", float(share))
            self.__dict__["_exact_share"] = share

    def _continuous_law(self, name: str) -> None:
        from .discretize import frozen_distribution, law_params

        if self.probs is not None:
            raise InstanceError(
                "needs a grid (a continuous agent's masses come from its distribution)", field="probs", agent=name
            )
        info = self.distribution
        if info is None:
            raise InstanceError(
                "is missing: give grid = [...] (with probs) or a distribution", field="grid", agent=name
            )
        if "name" not in info:
            raise InstanceError("has no 'name' (a scipy.stats distribution)", field="distribution", agent=name)
        if info.get("points") is not None:
            raise InstanceError(
                "a distribution with points needs its grid (use Agent.from_distribution)", field="points", agent=name
            )
        params = info.get("params")
        params = law_params(info["name"], {} if params is None else params, agent=name)
        frozen_distribution(info["name"], params, agent=name)
        object.__setattr__(self, "distribution", {"name": info["name"], "params": params, "points": None})

    @classmethod
    def from_distribution(
        cls,
        name: str,
        distribution: str,
        params: Mapping[str, Any] | None = None,
        points: int | None = 50,
        share: float | None = None,
    ) -> Agent:
        """An agent with a scipy.stats continuous law: discretized on ``points`` cells, or continuous.

        Parameters
        ----------
        name : str
        distribution : str
            The name of a scipy.stats continuous distribution (``"uniform"``, ``"beta"``, ...).
        params : dict, optional
            Its shape parameters, ``loc`` and ``scale``.
        points : int or None
            Number of equal-mass cells of the quantile-midpoint grid
            (:func:`lpmech.discretize.quantile_midpoints`), at most :data:`MAX_POINTS`; ``None``
            makes a continuous agent (no grid; solved by :func:`lpmech.continuous.solve_continuous`).
        share : float, optional

        Returns
        -------
        Agent

        Raises
        ------
        InstanceError
        """
        from .discretize import discretize, law_params

        params = {} if params is None else params
        if points is None:
            return cls(name, None, None, share, distribution={"name": distribution, "params": params})
        grid, probs = discretize(distribution, params, points, agent=name)
        info = {"name": distribution, "params": law_params(distribution, params, agent=name), "points": int(points)}
        return cls(name, grid, probs, share, distribution=info)

    @property
    def is_continuous(self) -> bool:
        """True when the agent has a law but no grid."""
        return self.grid is None

    @property
    def size(self) -> int:
        """Number of grid points K (InstanceError for a continuous agent)."""
        if self.grid is None:
            raise _continuous_error(self.name)
        return int(self.grid.size)

    @property
    def exact_grid(self) -> tuple[Fraction, ...] | None:
        """The grid as given, exactly (tuple of Fraction); None for a continuous agent."""
        if self.grid is None:
            return None
        if self.__dict__.get("_exact_grid") is None:
            self.__dict__["_exact_grid"] = tuple(Fraction(x) for x in self.grid.tolist())
        return self.__dict__["_exact_grid"]

    @property
    def exact_probs(self) -> tuple[Fraction, ...] | None:
        """The pmf exactly (normalized exactly when the given one summed to 1 only within
        PROB_TOL); None for a continuous agent or under a joint pmf."""
        if self.probs is None:
            return None
        rule = self.__dict__.get("_exact_probs")
        if not isinstance(rule, tuple):
            rule = _exact_of(self.probs, rule)
            self.__dict__["_exact_probs"] = rule
        return rule

    @property
    def exact_share(self) -> Fraction | None:
        """The share as given, exactly (the instance normalizes shares: :attr:`Instance.exact_shares`)."""
        return self.__dict__.get("_exact_share")


# ----------------------------------------------------------------------------- mechanisms
@dataclass(frozen=True)
class Mechanism:
    """Which mechanisms are allowed, and what the designer maximizes (docs/model.md, section 9).

    Parameters
    ----------
    ic : {"bayesian", "dominant", "ex-post"}
        Bayesian IC, dominant-strategy IC, or ex-post IC (truth-telling a best reply at every
        profile of the others given truthful others; with private values the same rows as
        dominant-strategy IC, with interdependent values the notion to use).
    participation : {"interim", "ex-post", "ex-ante"}
        Interim (every type), ex post (every profile) or ex ante (the expected payoff over the
        agent's own types) participation, for each agent holding a veto.
    veto : list or tuple of str, or None
        Agents whose participation constraint binds (None: all of them). A string is not a
        list of names (``"ab"`` is an error, not the agents a and b).
    pareto : float or None
        None maximizes profit; λ >= 0 maximizes profit + λ x (agents' total expected surplus).
    transfers : {"shares", "individual"}
        ``"shares"`` (default): one total transfer split in the fixed shares σ. ``"individual"``:
        each agent i gets its own transfer m_i(θ) (docs/model.md, section 10; general LP only).
    outside_option : dict of str to float or list of float, or None
        Per agent (by name), the payoff r_i(θ_i) its participation constraint must reach, in the
        agent's payoff units σ_i·sign·(m − θ_i x): a number (every type) or a list over the
        agent's grid (file order). Missing agents have 0 (docs/model.md, section 11).
    consent : int or None
        The mechanism needs the consent of any ``consent`` = k agents: the designer picks the
        coalition of k agents whose participation constraints bind, and the best value over
        coalitions is the answer (k = N: every agent holds a veto). Not with ``veto``.
    no_subsidy : bool
        m(θ) >= 0 at every profile (the total transfer, designer to group on the buy side, group
        to designer on the sell side: the designer never receives money from the group on the
        buy side and never pays it on the sell side).
    max_transfer : float or None
        m(θ) <= X at every profile (money units of the file).
    budget : float or None
        E[m] <= X.
    min_trade_probability : float or None
        E[x] >= q, q in [0, 1].

    The defaults (Bayesian IC, interim participation, every agent a veto, profit) are the
    setting of the talks, solved by the maximin LP when types are independent.

    ``pareto``, ``max_transfer``, ``budget`` and ``min_trade_probability`` are stored as floats
    (what the solvers use) and kept exactly as well (:attr:`exact_pareto`,
    :attr:`exact_max_transfer`, :attr:`exact_budget`, :attr:`exact_min_trade_probability`): a
    Fraction or Decimal given through the API, or a file's decimal text, exactly; a float at its
    exact binary value. ``_exact`` is internal: it carries the exact values through
    :func:`dataclasses.replace` (a value changed by ``replace`` is taken anew).

    Raises
    ------
    InstanceError
        For an unknown option word, a veto that is not a list of names (or names an agent
        twice), or a negative or non-numeric ``pareto``. Veto names are checked against the
        agents by :class:`Instance`.
    """

    ic: str = "bayesian"
    participation: str = "interim"
    veto: tuple[str, ...] | None = None
    pareto: float | None = None
    transfers: str = "shares"
    outside_option: Any = None
    consent: int | None = None
    no_subsidy: bool = False
    max_transfer: float | None = None
    budget: float | None = None
    min_trade_probability: float | None = None
    _exact: Any = field(default=None, repr=False, compare=False, kw_only=True)

    def _exact_value(self, key: str) -> Fraction | None:
        """The exact value of a numeric option (carried by replace while its float is unchanged)."""
        value = getattr(self, key)
        if value is None:
            return None
        carried = self._exact.get(key) if isinstance(self._exact, dict) else None
        if carried is not None and type(value) is float and float(carried) + 0.0 == value:
            return carried
        return exact_number(value, field=f"mechanism.{key}")

    def __post_init__(self):
        if not isinstance(self.no_subsidy, (bool, np.bool_)):
            raise InstanceError(f"must be true or false, got {_kind(self.no_subsidy)}", field="mechanism.no_subsidy")
        object.__setattr__(self, "no_subsidy", bool(self.no_subsidy))
        exact: dict[str, Fraction] = {}
        for key in ("max_transfer", "budget", "min_trade_probability"):
            fr = self._exact_value(key)
            if fr is not None:
                exact[key] = fr
                object.__setattr__(self, key, float(fr) + 0.0)
        q = self.min_trade_probability
        if q is not None and not 0.0 <= q <= 1.0:
            raise InstanceError(f"must lie in [0, 1], got {q:g}", field="mechanism.min_trade_probability")
        if self.outside_option is not None:
            table = self.outside_option
            if isinstance(table, tuple) and all(isinstance(e, tuple) and len(e) == 2 for e in table):
                table = dict(table)
            if not isinstance(table, Mapping):
                raise InstanceError(
                    f"must be a table of agent names to numbers or lists, got {_kind(table)}",
                    field="mechanism.outside_option",
                )
            norm = []
            for name, value in table.items():
                if not isinstance(name, str):
                    raise InstanceError(
                        f"must be keyed by agent names, found {_kind(name)}", field="mechanism.outside_option"
                    )
                if isinstance(value, (list, tuple, np.ndarray)):
                    vals = tuple(float_number(v, field="outside_option", agent=name) for v in value)
                    if not vals:
                        raise InstanceError("is an empty list", field="outside_option", agent=name)
                else:
                    vals = float_number(value, field="outside_option", agent=name)
                norm.append((name, vals))
            object.__setattr__(self, "outside_option", tuple(norm) if norm else None)
        if self.consent is not None:
            if isinstance(self.consent, bool) or not isinstance(self.consent, (int, np.integer)):
                raise InstanceError(
                    f"must be a whole number of agents, got {_kind(self.consent)}", field="mechanism.consent"
                )
            if self.consent < 1:
                raise InstanceError(
                    f"must be between 1 and the number of agents, got {int(self.consent)}", field="mechanism.consent"
                )
            if self.veto is not None:
                raise InstanceError(
                    "give either consent = k (the designer picks the k veto holders) or a fixed veto list, not both",
                    field="mechanism.consent",
                )
            object.__setattr__(self, "consent", int(self.consent))
        if not isinstance(self.transfers, str) or self.transfers not in ("shares", "individual"):
            raise InstanceError(
                f'must be "shares" or "individual", got {_kind(self.transfers)}', field="mechanism.transfers"
            )
        if not isinstance(self.ic, str) or self.ic not in ("bayesian", "dominant", "ex-post"):
            raise InstanceError(
                f'must be "bayesian", "dominant" or "ex-post", got {_kind(self.ic)}', field="mechanism.ic"
            )
        if not isinstance(self.participation, str) or self.participation not in ("interim", "ex-post", "ex-ante"):
            raise InstanceError(
                f'must be "interim", "ex-post" or "ex-ante", got {_kind(self.participation)}',
                field="mechanism.participation",
            )
        if self.veto is not None:
            if not isinstance(self.veto, (list, tuple)):
                raise InstanceError(f"must be a list of agent names, got {_kind(self.veto)}", field="mechanism.veto")
            for v in self.veto:
                if not isinstance(v, str):
                    raise InstanceError(f"must be a list of agent names, found {_kind(v)}", field="mechanism.veto")
            seen = set()
            for v in self.veto:
                if v in seen:
                    raise InstanceError("names this agent twice", field="mechanism.veto", agent=v)
                seen.add(v)
            object.__setattr__(self, "veto", tuple(self.veto))
        if self.pareto is not None:
            exact["pareto"] = self._exact_value("pareto")
            lam = float(exact["pareto"]) + 0.0
            if lam < 0:
                raise InstanceError(f"must be >= 0, got {lam:g}", field="mechanism.pareto")
            object.__setattr__(self, "pareto", lam)
        object.__setattr__(self, "_exact", exact)

    @property
    def exact_pareto(self) -> Fraction | None:
        """λ exactly (None when not set)."""
        return self._exact.get("pareto")

    @property
    def exact_max_transfer(self) -> Fraction | None:
        """The transfer cap exactly (None when not set)."""
        return self._exact.get("max_transfer")

    @property
    def exact_budget(self) -> Fraction | None:
        """The budget exactly (None when not set)."""
        return self._exact.get("budget")

    @property
    def exact_min_trade_probability(self) -> Fraction | None:
        """The minimum trade probability exactly (None when not set)."""
        return self._exact.get("min_trade_probability")

    @property
    def is_default(self) -> bool:
        return (
            self.ic == "bayesian"
            and self.participation == "interim"
            and self.veto is None
            and not self.pareto
            and self.transfers == "shares"
            and self.outside_option is None
            and self.consent is None
            and not self.has_limits
        )

    @property
    def has_limits(self) -> bool:
        """Whether any transfer or trade constraint (no_subsidy, max_transfer, budget,
        min_trade_probability) is set."""
        return (
            self.no_subsidy
            or self.max_transfer is not None
            or self.budget is not None
            or self.min_trade_probability is not None
        )

    def outside_options(self) -> dict:
        """The outside options as a dict of agent name to a float or a tuple over the grid."""
        return dict(self.outside_option or ())

    def check_against(self, names: Sequence[str], sizes: Sequence[int | None]) -> None:
        """Check the options that depend on the agents: consent <= N, outside options' names and lengths.

        Parameters
        ----------
        names : list of str
            The agents' names.
        sizes : list of int or None
            Each agent's grid size (None for an agent given by a law: no length check).

        Raises
        ------
        InstanceError
            Naming the field and the agent.
        """
        if self.consent is not None and self.consent > len(names):
            raise InstanceError(
                f"must be between 1 and the number of agents ({len(names)}), got {self.consent}",
                field="mechanism.consent",
            )
        for name, value in self.outside_options().items():
            if name not in names:
                raise InstanceError(f"names {name!r}, which is not an agent", field="outside_option", agent=name)
            size = sizes[list(names).index(name)]
            if isinstance(value, tuple) and size is not None and len(value) != size:
                raise InstanceError(
                    f"has {len(value)} entries but the agent's grid has {size} (give a number "
                    "or one value per grid point)",
                    field="outside_option",
                    agent=name,
                )


@dataclass(frozen=True)
class EngineProblem:
    """The buy-side form every engine solves: increasing cost grids, pmfs, the buyer's value.

    ``flip`` records that the instance was a sell-side one (types and transfers negated,
    grids reversed); :meth:`Instance.to_user` maps engine arrays back.

    Attributes
    ----------
    grids : tuple of ndarray, shapes (K_i,)
        Increasing costs per share (money per share; negated values on the sell side).
    probs : tuple of ndarray, shapes (K_i,), or None
        Each agent's pmf (independent types), None with a joint pmf.
    joint : ndarray, shape (K_1, ..., K_N), or None
        The joint pmf (correlated types), None when independent.
    b : float
        The buyer's value (−c on the sell side), money per unit of the good.
    flip : bool
        Whether the instance was a sell-side one.
    """

    grids: tuple[np.ndarray, ...]
    probs: tuple[np.ndarray, ...] | None
    joint: np.ndarray | None
    b: float
    flip: bool

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(g.size for g in self.grids)

    @property
    def n(self) -> int:
        return len(self.grids)

    def joint_pmf(self) -> np.ndarray:
        """The pmf over profiles, shape K_1 x ... x K_N (outer product when independent)."""
        return self.joint if self.joint is not None else outer_pmf(self.probs)

    def marginals(self) -> tuple[np.ndarray, ...]:
        """Each agent's pmf, shape (K_i,): ``probs``, or the joint pmf's marginals."""
        if self.probs is not None:
            return tuple(self.probs)
        return tuple(marginal(self.joint, i) for i in range(self.n))

    def unit(self) -> float:
        """The instance's unit (:func:`unit_scale`)."""
        return unit_scale(self)


def unit_scale(problem: EngineProblem) -> float:
    """The instance's unit: the power of two in (s0, 2 s0], s0 = max(|b|, min_i median |θ_i|).

    The one definition of an instance's scale in lpmech. Homogeneous of degree 1 in the
    instance's numbers and blind to far-out types (a median, not a maximum, and the agent whose
    types are nearest zero: the profiles that trade have every type near or below b, so an
    agent who mostly sits at 1e11 does not set the unit), so dividing by it puts every instance
    in the same units: the same instance in cents or in billions is, after the division, the
    same problem, and HiGHS's absolute tolerances mean the same thing for it. A power of two
    makes the division exact. The same in engine and user form (it depends on |θ| and |b|).

    Parameters
    ----------
    problem : EngineProblem
        Grids (money per share), pmfs or a joint pmf, and b.

    Returns
    -------
    float
        A power of two, > 0 (1.0 when every number is 0 or not finite).

    Examples
    --------
    >>> import numpy as np
    >>> p = EngineProblem((np.array([0.1, 0.5, 1e9]),), (np.array([0.05, 0.65, 0.3]),), None, 0.48, False)
    >>> unit_scale(p)        # max(b, median type) = 0.5: the far-out 1e9 does not count
    1.0
    """

    def median(t, p):
        order = np.argsort(np.abs(t))
        cdf = np.cumsum(np.asarray(p, dtype=float)[order])
        return float(np.abs(t)[order][min(int(np.searchsorted(cdf, 0.5 * cdf[-1])), t.size - 1)])

    probs = problem.marginals()
    s0 = max(abs(float(problem.b)), min(median(t, p) for t, p in zip(problem.grids, probs)))
    if not s0 > 0:
        s0 = max(float(np.abs(t) @ p) for t, p in zip(problem.grids, probs))
    if not (s0 > 0 and math.isfinite(s0)):
        return 1.0
    return math.ldexp(1.0, math.frexp(s0)[1])


# ----------------------------------------------------------------------------- instances
def _nested(joint: Any, shape: tuple[int, ...], names: list[str]) -> list:
    """The leaves of a nested list of the given shape, in C order (checked level by level)."""
    flat: list = []

    def walk(obj: Any, depth: int) -> None:
        if depth == len(shape):
            flat.append(obj)
            return
        if not isinstance(obj, (list, tuple)):
            raise InstanceError(
                f"must be a nested array of numbers of shape {shape}, found {_kind(obj)} at nesting level {depth + 1}",
                field="joint.probs",
            )
        if len(obj) != shape[depth]:
            raise InstanceError(
                f"has {len(obj)} entries along axis {depth + 1} (agent {names[depth]!r}), "
                f"but that agent's grid has {shape[depth]}: the agents' grids give shape {shape}",
                field="joint.probs",
            )
        for item in obj:
            walk(item, depth + 1)

    walk(joint, 0)
    return flat


def _interdependence(gamma: Any, n: int) -> np.ndarray:
    """γ as a finite N x N float array with zero diagonal (InstanceError naming the field otherwise)."""
    if isinstance(gamma, np.ndarray):
        gamma = gamma.tolist()
    if (
        not isinstance(gamma, (list, tuple))
        or len(gamma) != n
        or any(not isinstance(row, (list, tuple)) or len(row) != n for row in gamma)
    ):
        raise InstanceError(
            f"must be an N x N matrix (a list of {n} lists of {n} numbers, one row per agent)", field="interdependence"
        )
    out = np.array([[float_number(v, field="interdependence") for v in row] for row in gamma])
    bad = np.flatnonzero(np.diag(out) != 0)
    if bad.size:
        i = int(bad[0])
        raise InstanceError(
            f"must have a zero diagonal (entry {i + 1},{i + 1} is {out[i, i]:g}: an agent's own "
            "type enters its cost once, with weight 1)",
            field="interdependence",
        )
    return out


def _exact_interdependence(gamma: Any) -> tuple[tuple[Fraction, ...], ...]:
    """γ's entries exactly (after :func:`_interdependence` has checked its shape and entries)."""
    if isinstance(gamma, np.ndarray):
        gamma = gamma.tolist()
    return tuple(tuple(exact_number(v, field="interdependence") for v in row) for row in gamma)


def limit_words(mech) -> list[str]:
    """A mechanism's transfer and trade constraints as short words, in this order: "no subsidy",
    "m <= X", "E[m] <= X", "P(trade) >= q" (empty: none). Used by ``describe`` and ``compare``."""
    out = []
    if mech.no_subsidy:
        out.append("no subsidy")
    if mech.max_transfer is not None:
        out.append(f"m <= {mech.max_transfer:g}")
    if mech.budget is not None:
        out.append(f"E[m] <= {mech.budget:g}")
    if mech.min_trade_probability is not None:
        out.append(f"P(trade) >= {mech.min_trade_probability:g}")
    return out


def _describe_options(instance) -> list[str]:
    """The parts of :meth:`Instance.describe` beyond the data: γ (when nonzero) and the mechanism's
    non-default options and constraints (empty when there are none)."""
    parts = []
    if instance.interdependent:
        rows = ", ".join("[" + ", ".join(f"{v:g}" for v in row) + "]" for row in instance.interdependence)
        parts.append(f"interdependent values γ = [{rows}]")
    mech = instance.mechanism
    words = []
    if mech.ic != "bayesian":
        words.append({"dominant": "dominant-strategy IC", "ex-post": "ex-post IC"}[mech.ic])
    if mech.participation != "interim":
        words.append(f"{mech.participation} participation")
    if mech.transfers == "individual":
        words.append("individual transfers")
    if mech.veto is not None:
        words.append("veto " + ", ".join(mech.veto))
    if mech.consent is not None:
        words.append(f"consent of {mech.consent}")
    for name, value in mech.outside_options().items():
        shown = "[" + ", ".join(f"{v:g}" for v in value) + "]" if isinstance(value, tuple) else f"{value:g}"
        words.append(f"outside option {name} {shown}")
    words += limit_words(mech)
    if mech.pareto is not None:
        words.append(f"Pareto weight {mech.pareto:g}")
    if words:
        parts.append("mechanism: " + ", ".join(words))
    return parts


@dataclass(frozen=True, eq=False)
class Instance:
    """A group-trading instance.

    Parameters
    ----------
    side : {"buy", "sell"}
        ``"buy"``: the designer buys a good the agents own jointly; ``"sell"``: the designer
        sells to the group.
    agents : sequence of Agent
    buyer_value : float
        The buyer's value b of the whole good (required on the buy side).
    seller_cost : float
        The seller's cost c (sell side, default 0).
    types : {"per-share", "total"}
        How the agents' grids are stated. ``"total"`` grids are divided by the share.
    joint : array_like, optional
        A joint pmf of shape K_1 x ... x K_N (correlated types); agents then have no probs.
        Entries >= 0, summing to 1 within PROB_TOL (normalized), every type of every agent
        with positive marginal probability.
    source : str, optional
        The file the instance came from, for messages.
    name : str, optional
    mechanism : Mechanism, optional
        Constraints and objective (default: the talks' setting).
    interdependence : array_like, shape N x N, optional
        γ with zero diagonal: agent i's cost per share on the buy side (value on the sell side)
        at profile θ is θ_i + Σ_j γ_ij θ_j (docs/model.md, section 11). None: private values.
        Solved by the general LP only.

    Shares given on the agents must sum to 1 within PROB_TOL; they are normalized
    (σ / Σσ, exactly on the exact path). ``_exact`` is internal: it carries the exact data
    through :func:`dataclasses.replace`.

    Raises
    ------
    InstanceError
        For any invalid field (naming the file, the agent and the field).

    Examples
    --------
    >>> inst = Instance("buy", [Agent("a", [0.25, 0.75], [0.5, 0.5]),
    ...                         Agent("b", [0.25, 0.75], [0.5, 0.5])], buyer_value=1.0)
    >>> inst.shares
    array([0.5, 0.5])
    >>> inst.n_profiles
    4
    >>> inst.exact_designer_value, inst.exact_shares
    (Fraction(1, 1), (Fraction(1, 2), Fraction(1, 2)))
    >>> Instance("buy", [Agent.from_distribution(n, "uniform", {}, points=None) for n in "ab"],
    ...          buyer_value=1.0).is_continuous
    True
    """

    side: str
    agents: Sequence[Agent]
    buyer_value: float | None = None
    seller_cost: float | None = None
    types: str = "per-share"
    joint: np.ndarray | None = None
    source: str | None = None
    name: str | None = None
    mechanism: Mechanism = field(default_factory=Mechanism)
    interdependence: Any = None
    _exact: Any = field(default=None, repr=False, kw_only=True)
    if TYPE_CHECKING:  # set by _validate (object.__setattr__), not dataclass fields
        _grids: tuple[np.ndarray, ...] = field(init=False)
        _shares: np.ndarray = field(init=False)

    def __post_init__(self):
        try:
            self._validate()
        except InstanceError as err:
            if err.source is None and self.source is not None:
                raise err.with_source(self.source) from None
            raise

    def _carried(self, key: str, given: Any) -> Any:
        """Exact data carried over by dataclasses.replace, when ``given`` is what they belong to."""
        record = self._exact if isinstance(self._exact, dict) else {}
        if key not in record:
            return None
        floats, exact = record[key]
        if key in ("joint", "interdependence"):
            return exact if given is floats else None
        return exact if type(given) is float and given == floats else None

    def _designer_value(self, key: str, given: Any) -> tuple[float, Fraction]:
        exact = self._carried(key, given)
        if exact is None:
            exact = exact_number(given, field=key)
        return float(exact) + 0.0, exact

    def _validate(self):
        if not isinstance(self.side, str) or self.side not in ("buy", "sell"):
            raise InstanceError(f'must be "buy" or "sell", got {_kind(self.side)}', field="side")
        if not isinstance(self.types, str) or self.types not in ("per-share", "total"):
            raise InstanceError(f'must be "per-share" or "total", got {_kind(self.types)}', field="types")
        if self.name is not None and not isinstance(self.name, str):
            raise InstanceError(f"must be a string, got {_kind(self.name)}", field="name")
        if self.side == "buy":
            if self.buyer_value is None:
                raise InstanceError('is required when side = "buy"', field="buyer_value")
            if self.seller_cost is not None:
                raise InstanceError(
                    'belongs to side = "sell"; a buy-side instance has buyer_value', field="seller_cost"
                )
            b, exact_dv = self._designer_value("buyer_value", self.buyer_value)
            object.__setattr__(self, "buyer_value", b)
        else:
            if self.buyer_value is not None:
                raise InstanceError(
                    'belongs to side = "buy"; a sell-side instance has seller_cost', field="buyer_value"
                )
            c, exact_dv = self._designer_value("seller_cost", 0.0 if self.seller_cost is None else self.seller_cost)
            object.__setattr__(self, "seller_cost", c)
        if isinstance(self.agents, (str, bytes, Mapping)) or not isinstance(self.agents, (list, tuple, Sequence)):
            raise InstanceError(f"must be a list of Agent objects, got {_kind(self.agents)}", field="agents")
        agents = tuple(self.agents)
        if not agents:
            raise InstanceError("at least one agent is needed", field="agents")
        for a in agents:
            if not isinstance(a, Agent):
                raise InstanceError(f"must be Agent objects, got {_kind(a)}", field="agents")
        names = [a.name for a in agents]
        seen: set[str] = set()
        for nm in names:
            if nm in seen:
                raise InstanceError("the name is used by more than one agent", field="name", agent=nm)
            seen.add(nm)
        exact_shares = self._shares_of(agents)
        shares = np.array([float(s) for s in exact_shares])
        continuous = [a for a in agents if a.grid is None]
        if continuous and self.joint is not None:
            raise InstanceError(
                "cannot be used with agents given by a distribution without points (a joint pmf needs grids)",
                field="joint",
                agent=continuous[0].name,
            )
        joint, exact_joint = None, None
        if self.joint is None:
            for a in agents:
                if a.grid is not None and a.probs is None:
                    raise InstanceError(
                        "is missing (give probs, a distribution, or a [joint] table)", field="probs", agent=a.name
                    )
            grid_agents = [a for a in agents if a.grid is not None]
            if grid_agents:
                logs = [math.log10(float(a.probs.min())) for a in grid_agents]
                if sum(logs) < math.log10(MIN_PROFILE_PROBABILITY):
                    worst = grid_agents[int(np.argmin(logs))]
                    raise InstanceError(
                        f"the least likely type profile has probability about 1e{sum(logs):.0f} "
                        "(the product of every agent's smallest probability), below "
                        f"{MIN_PROFILE_PROBABILITY:g}, which floating point cannot resolve",
                        field="probs",
                        agent=worst.name,
                    )
        else:
            for a in agents:
                if a.probs is not None:
                    raise InstanceError(
                        "cannot be given together with [joint] (beliefs come from the joint pmf)",
                        field="probs",
                        agent=a.name,
                    )
            carried = self._carried("joint", self.joint)
            if carried is not None:
                joint, exact_joint = self.joint, carried
            else:
                joint, exact_joint = self._check_joint(self.joint, agents)
            object.__setattr__(self, "joint", joint)
        # Per-share grids in the file's order.
        per_share = []
        for a, s, xs in zip(agents, shares, exact_shares):
            if a.grid is None:
                per_share.append(None)
                continue
            if self.types == "per-share":
                g = a.grid
            elif a.__dict__.get("_exact_grid") is None and Fraction(float(s)) == xs:
                g = a.grid / s + 0.0  # IEEE division is correctly rounded: = float(exact)
            elif a.__dict__.get("_exact_grid") is None and xs.numerator == 1 and xs.denominator <= 2**53:
                g = a.grid * float(xs.denominator) + 0.0  # g / (1/q) = g q, one correctly rounded product
            else:
                g = np.array([float(e / xs) for e in a.exact_grid]) + 0.0
            if self.types == "total":
                big = np.flatnonzero(np.abs(g) > MAX_MAGNITUDE)
                if big.size:
                    k = int(big[0])
                    raise InstanceError(
                        f"entry {k + 1} divided by the share is {g[k]:g}, beyond the magnitude "
                        f"limit {MAX_MAGNITUDE:g} of per-share types",
                        field="grid",
                        agent=a.name,
                    )
                if np.any(np.diff(g) <= 0):
                    k = int(np.flatnonzero(np.diff(g) <= 0)[0])
                    raise InstanceError(
                        f"entries {k + 1} and {k + 2} divided by the share are equal in double precision",
                        field="grid",
                        agent=a.name,
                    )
            per_share.append(g)
        if not isinstance(self.mechanism, Mechanism):
            raise InstanceError(f"must be a Mechanism, got {_kind(self.mechanism)}", field="mechanism")
        if self.mechanism.veto is not None:
            for v in self.mechanism.veto:
                if v not in seen:
                    listed = ", ".join(repr(nm) for nm in names[:10]) + (", ..." if len(names) > 10 else "")
                    raise InstanceError(
                        f"is not an agent of this instance (agents: {listed})", field="mechanism.veto", agent=v
                    )
        self.mechanism.check_against(names, [None if g is None else g.size for g in per_share])
        exact_gamma = None
        if self.interdependence is not None:
            carried_gamma = self._carried("interdependence", self.interdependence)
            gamma = _interdependence(self.interdependence, len(names))
            exact_gamma = carried_gamma if carried_gamma is not None else _exact_interdependence(self.interdependence)
            object.__setattr__(self, "interdependence", gamma)
        object.__setattr__(self, "agents", agents)
        object.__setattr__(self, "_shares", shares)
        object.__setattr__(self, "_grids", tuple(per_share))
        record = {"buyer_value" if self.side == "buy" else "seller_cost": (self.designer_value, exact_dv)}
        if joint is not None:
            record["joint"] = (joint, exact_joint)
        if exact_gamma is not None:
            record["interdependence"] = (self.interdependence, exact_gamma)
        object.__setattr__(self, "_exact", record)
        self.__dict__["_exact_shares"] = exact_shares
        self.__dict__["_exact_designer_value"] = exact_dv

    @staticmethod
    def _shares_of(agents: tuple[Agent, ...]) -> tuple[Fraction, ...]:
        given = [a.share is not None for a in agents]
        if any(given) and not all(given):
            missing = agents[given.index(False)].name
            raise InstanceError(
                "is missing while other agents give one; give every share or none", field="share", agent=missing
            )
        if not all(given):
            return (Fraction(1, len(agents)),) * len(agents)
        total = math.fsum(a.share for a in agents)
        if abs(total - 1.0) > PROB_TOL:
            raise InstanceError(
                f"shares sum to {total:.12g}, not 1 (tolerance {PROB_TOL:g})", field="share", agent=agents[-1].name
            )
        exact = tuple(a.exact_share for a in agents)
        s = sum(exact, Fraction(0))
        return exact if s == 1 else tuple(e / s for e in exact)

    @staticmethod
    def _check_joint(joint: Any, agents: tuple[Agent, ...]) -> tuple[np.ndarray, Any]:
        shape = tuple(a.size for a in agents)
        names = [a.name for a in agents]
        if isinstance(joint, np.ndarray):
            if joint.shape != shape:
                raise InstanceError(f"has shape {joint.shape}, but the agents' grids give {shape}", field="joint.probs")
            leaves: np.ndarray | list = joint.ravel()
        else:
            leaves = _nested(joint, shape, names)
        count = int(np.prod(shape, dtype=object))
        if isinstance(leaves, np.ndarray) and leaves.dtype.kind == "f" and leaves.dtype.itemsize <= 8:
            floats, exact = leaves.astype(float), None
        elif isinstance(leaves, list) and all(type(v) is float for v in leaves):
            floats, exact = np.array(leaves, dtype=float), None
        else:
            items = leaves.tolist() if isinstance(leaves, np.ndarray) else leaves
            exact = tuple(exact_number(v, field="joint.probs", entry=k) for k, v in enumerate(items))
            floats = np.array([float(e) for e in exact], dtype=float)
        if exact is None and not np.all(np.isfinite(floats)):
            raise InstanceError("entries must be finite", field="joint.probs")
        floats = floats + 0.0
        assert floats.size == count
        neg = np.flatnonzero(floats < 0) if exact is None else [k for k, e in enumerate(exact) if e < 0]
        if len(neg):
            raise InstanceError(f"entries must be >= 0, found {_show(floats[int(neg[0])])}", field="joint.probs")
        small = np.flatnonzero(floats < MIN_PROBABILITY)
        tiny = [k for k in small if (floats[k] > 0 if exact is None else exact[k] > 0)]
        if tiny:
            k = int(tiny[0])
            shown = _show(floats[k] if exact is None else exact[k])
            raise InstanceError(
                f"entry {k + 1} is {shown}, below the smallest positive probability lpmech "
                f"accepts ({MIN_PROBABILITY:g}); write 0 for an impossible profile",
                field="joint.probs",
            )
        total = math.fsum(floats.tolist())
        if abs(total - 1.0) > PROB_TOL:
            raise InstanceError(f"sum to {total:.12g}, not 1 (tolerance {PROB_TOL:g})", field="joint.probs")
        if exact is None and math.fsum([*floats.tolist(), -1.0]) != 0.0:
            exact = tuple(Fraction(x) for x in floats.tolist())
        if exact is not None:
            s = sum(exact, Fraction(0))
            if s != 1:
                exact = tuple(e / s for e in exact)
            floats = np.array([float(e) for e in exact], dtype=float)
        arr = floats.reshape(shape)
        for i, a in enumerate(agents):
            marg = arr.sum(axis=tuple(j for j in range(arr.ndim) if j != i))
            if np.any(marg <= 0):
                k = int(np.flatnonzero(marg <= 0)[0])
                raise InstanceError(
                    f"type {a.grid[k]:g} of this agent has probability 0 (every own type needs positive mass)",
                    field="joint.probs",
                    agent=a.name,
                )
        return arr, exact

    def with_mechanism(self, **changes) -> Instance:
        """A copy with some :class:`Mechanism` options changed (``None`` values are ignored)."""
        from dataclasses import replace

        opts = {k: v for k, v in changes.items() if v is not None}
        try:
            mech = replace(self.mechanism, **opts)
        except InstanceError as err:
            raise err.with_source(self.source) from None
        return replace(self, mechanism=mech, agents=self.agents)

    # ----------------------------------------------------------------- derived data
    def _require_grid(self) -> None:
        for a in self.agents:
            if a.grid is None:
                raise _continuous_error(a.name).with_source(self.source)

    @property
    def is_continuous(self) -> bool:
        """True when some agent has a law but no grid: solve it in the continuum
        (:func:`lpmech.continuous.solve_continuous`); grid operations raise InstanceError."""
        return any(a.grid is None for a in self.agents)

    @property
    def n(self) -> int:
        """Number of agents."""
        return len(self.agents)

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.agents]

    @property
    def shares(self) -> np.ndarray:
        """Shares of the transfer, shape (N,) (equal when the instance gives none; normalized)."""
        return self._shares.copy()

    @property
    def grids(self) -> tuple[np.ndarray, ...]:
        """Per-share type grids in the file's order (increasing)."""
        self._require_grid()
        return self._grids

    @property
    def shape(self) -> tuple[int, ...]:
        self._require_grid()
        return tuple(g.size for g in self._grids)

    @property
    def n_profiles(self) -> int:
        return math.prod(self.shape)

    @property
    def independent(self) -> bool:
        return self.joint is None

    @property
    def probs(self) -> tuple[np.ndarray, ...]:
        """Marginal pmfs of each agent's type."""
        self._require_grid()
        if self.joint is None:
            return self._agent_probs()
        n = self.n
        return tuple(self.joint.sum(axis=tuple(j for j in range(n) if j != i)) for i in range(n))

    def joint_pmf(self) -> np.ndarray:
        """The pmf over profiles in the file's grid order (outer product when independent)."""
        self._require_grid()
        return self.joint if self.joint is not None else outer_pmf(self.probs)

    @property
    def designer_value(self) -> float:
        """b on the buy side, c on the sell side."""
        value = self.buyer_value if self.side == "buy" else self.seller_cost
        assert value is not None  # _validate requires the side's value
        return value

    # ----------------------------------------------------------------- exact data
    @property
    def exact_shares(self) -> tuple[Fraction, ...]:
        """The shares exactly, normalized to sum to exactly 1 (equal shares are exactly 1/N)."""
        return self.__dict__["_exact_shares"]

    @property
    def exact_designer_value(self) -> Fraction:
        """b (buy side) or c (sell side), exactly."""
        return self.__dict__["_exact_designer_value"]

    @property
    def interdependent(self) -> bool:
        """True when γ is given with a nonzero entry: some agent's cost depends on others' types.

        (γ given as all zeros is private values here; the solver still routes any given γ to the
        general LP, which then equals the private-values LP.)
        """
        gamma = self.interdependence
        return gamma is not None and bool(np.any(gamma != 0))

    @property
    def exact_interdependence(self) -> tuple[tuple[Fraction, ...], ...] | None:
        """γ exactly (N rows of N Fractions), None for private values.

        Each entry as given: decimal text in a file exactly (0.1 is 1/10), a Fraction or Decimal
        given through the API exactly, a float at its exact binary value; ``float`` of each
        entry is :attr:`interdependence`. Carried through :func:`dataclasses.replace` while γ
        is the same array.
        """
        if self.interdependence is None:
            return None
        record = self._exact if isinstance(self._exact, dict) else {}
        if "interdependence" not in record:
            return tuple(tuple(Fraction(v) for v in row) for row in self.interdependence.tolist())
        return record["interdependence"][1]

    @property
    def exact_joint(self) -> np.ndarray | None:
        """The joint pmf exactly (object array of Fraction, shape K_1 x ... x K_N, normalized to
        sum to exactly 1), or None for independent types."""
        if self.joint is None:
            return None
        cached = self.__dict__.get("_exact_joint_array")
        if cached is None:
            flat = self._exact.get("joint", (None, None))[1]
            if flat is None:
                flat = tuple(Fraction(x) for x in self.joint.ravel().tolist())
            cached = np.empty(len(flat), dtype=object)
            cached[:] = flat
            cached = cached.reshape(self.joint.shape)
            cached.flags.writeable = False
            self.__dict__["_exact_joint_array"] = cached
        return cached

    @property
    def exact_per_share_grids(self) -> tuple[tuple[Fraction, ...], ...]:
        """Per-share type grids exactly (with ``types = "total"``: the given grid divided by the
        exact normalized share), file order; ``float`` of each entry is :attr:`grids`."""
        self._require_grid()
        cached = self.__dict__.get("_exact_per_share")
        if cached is None:
            if self.types == "total":
                cached = tuple(tuple(e / s for e in a.exact_grid) for a, s in zip(self.agents, self.exact_shares))
            else:
                cached = tuple(a.exact_grid for a in self.agents)
            self.__dict__["_exact_per_share"] = cached
        return cached

    # ----------------------------------------------------------------- checks and views
    def check_size(self, max_profiles: int | None = DEFAULT_MAX_PROFILES) -> None:
        """Raise :class:`InstanceError` if the profile grid exceeds ``max_profiles`` (or the instance is continuous)."""
        if max_profiles is not None and self.n_profiles > max_profiles:
            sizes = " x ".join(str(k) for k in self.shape)
            raise InstanceError(
                f"the grid has {sizes} = {self.n_profiles:,} profiles, more than the limit "
                f"{max_profiles:,} (raise it with --max-profiles / max_profiles=)",
                field="agents",
                source=self.source,
            )

    @property
    def flipped(self) -> bool:
        """Whether the engine form mirrors this instance (the sell side: money negated, grids reversed)."""
        return self.side == "sell"

    @property
    def money_sign(self) -> float:
        """+1.0 on the buy side, -1.0 on the sell side: engine money = ``money_sign`` × user money."""
        return -1.0 if self.flipped else 1.0

    def engine_money(self, value):
        """A per-share amount of money (type, price, virtual cost, value) in engine form.

        Negated on the sell side (:attr:`flipped`), unchanged on the buy side; its own inverse,
        so :meth:`user_money` is the same map. With :meth:`engine` and :meth:`to_user` this is
        the whole side mapping of lpmech. Scalars give floats, arrays arrays.
        """
        if isinstance(value, (int, float, np.floating, np.integer)):
            return -float(value) + 0.0 if self.flipped else float(value)
        value = np.asarray(value, dtype=float)
        return -value + 0.0 if self.flipped else value

    def user_money(self, value):
        """An engine per-share amount of money in the user's form (the inverse of :meth:`engine_money`)."""
        return self.engine_money(value)

    def engine(self) -> EngineProblem:
        """The buy-side form: sell side negates types and the designer's value, reversing grids."""
        self._require_grid()
        if not self.flipped:
            grids = self._grids
            probs = None if self.joint is not None else self._agent_probs()
            joint = self.joint
            return EngineProblem(grids, probs, joint, float(self.designer_value), False)
        grids = tuple(-g[::-1] + 0.0 for g in self._grids)
        probs = None if self.joint is not None else tuple(p[::-1] for p in self._agent_probs())
        joint = None if self.joint is None else self.joint[(slice(None, None, -1),) * self.n].copy()
        return EngineProblem(grids, probs, joint, -float(self.designer_value) + 0.0, True)

    def _agent_probs(self) -> tuple[np.ndarray, ...]:
        """Each grid agent's pmf (every agent has one once :meth:`_require_grid` passed)."""
        probs = tuple(a.probs for a in self.agents)
        assert all(p is not None for p in probs)
        return probs  # type: ignore[return-value]  # narrowed by the assert above

    def to_user(self, arr: np.ndarray, *, axes: str = "profile", negate: bool = False) -> np.ndarray:
        """Map an engine array back to the file's grid order (and sign, for transfers/types).

        ``axes="profile"``: an array over the profile grid (every axis reversed on the sell side);
        ``axes="agent"``: a 1-d array over one agent's grid.
        """
        arr = np.asarray(arr)
        if self.flipped:
            arr = arr[(slice(None, None, -1),) * (arr.ndim if axes == "profile" else 1)]
            if negate:
                arr = -arr
        return np.ascontiguousarray(arr)

    def describe(self) -> str:
        """One line: side, agents, grid (or laws), the designer's value, independence, and, when
        set, the interdependence matrix γ and the mechanism's options and constraints.

        Returns
        -------
        str
            E.g. ``"buy side, 2 agent(s), grid 2 x 2 = 4 profiles, b = 1, independent types;
            interdependent values γ = [[0, 0.2], [0.1, 0]]; mechanism: ex-post IC, consent of 1,
            no subsidy, m <= 0.9"`` (the last two parts only when set).
        """
        dv = f"b = {self.buyer_value:g}" if self.side == "buy" else f"c = {self.seller_cost:g}"
        if self.is_continuous:
            laws = ", ".join(
                a.distribution["name"] if a.grid is None else f"grid of {a.grid.size}" for a in self.agents
            )
            head = f"{self.side} side, {self.n} agent(s), continuous types ({laws}), {dv}, independent types"
        else:
            sizes = " x ".join(str(k) for k in self.shape)
            corr = "independent types" if self.independent else "correlated types (joint pmf)"
            head = f"{self.side} side, {self.n} agent(s), grid {sizes} = {self.n_profiles:,} profiles, {dv}, {corr}"
        return head + "".join(f"; {part}" for part in _describe_options(self))
