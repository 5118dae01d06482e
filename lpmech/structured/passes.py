"""The optimal mechanism as an index rule, and the one chunked pass the maximin checks make over it.

An allocation found through the weights ω is x(θ) = 1{ω·φ̄(θ) < b} except on a short list of
profiles (the tie set, completed by the tie LP). :class:`IndexRule` holds it in that form (N
vectors and the list), :class:`DenseSource` wraps an allocation given on the whole grid (the LP
path); both hand out x block by block (:meth:`IndexRule.block_x`), so a pass over 10^8 profiles
holds one block at a time, never a K^N float64 array.

:func:`mechanism_pass` is the one walk over the grid the checks need
(:func:`lpmech.checks.maximin_checks`): per-agent masses Σ P x by θ_i (hence the interim X_i, the
gains E[x(b − φ_i)], E[x] and the audit's interim sums), the bounds of x, and the comparison of x
with the closed form x_ω of a reference ω and of the canonical ω off their tie bands. Everything
else the checks use is a K_i-vector computed from these (:mod:`lpmech.transfers`,
:func:`lpmech.audit.audit_interim`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..profiles import Grid, outer_accumulate
from ..tolerances import tie_band

__all__ = ["CompactSource", "DenseSource", "IndexRule", "Pass", "mechanism_pass"]


@dataclass
class IndexRule:
    """x(θ) = 1{ω·φ̄(θ) < b}, except x = ``tie_x`` at the flat profiles ``tie_index`` (engine form).

    Attributes
    ----------
    omega : ndarray, shape (N,)
        The weights of the rule (nonnegative).
    phi_bar : list of ndarray, shapes (K_i,)
        Ironed virtual costs (engine units).
    b : float
        The buyer's value (engine units).
    tie_index : ndarray of int64, shape (T,)
        Flat C-order indices of the listed profiles, increasing.
    tie_x : ndarray, shape (T,)
        x on them.
    shape : tuple of int
        (K_1, ..., K_N).
    """

    omega: np.ndarray
    phi_bar: list
    b: float
    tie_index: np.ndarray
    tie_x: np.ndarray
    shape: tuple
    #: X_i = E[x | θ_i] per agent when a pass has summed them (:func:`lpmech.transfers.transfers` uses them)
    interim_x: list | None = None
    _dense: np.ndarray | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def block_x(self, block) -> np.ndarray:
        """x on a :class:`lpmech.profiles.Block` (float, the block's shape)."""
        s = block.combine(self.omega, self.phi_bar)  # the floats of fixed_part and weighted_sum
        x = (s < self.b).astype(float)
        lo, hi = np.searchsorted(self.tie_index, [block.start, block.stop])
        if hi > lo:
            x.reshape(-1)[self.tie_index[lo:hi] - block.start] = self.tie_x[lo:hi]
        return x

    def rule_parts(self):
        """(ω, φ̄, b, tie_index, tie_x): the closed form."""
        return self.omega, self.phi_bar, self.b, self.tie_index, self.tie_x

    def dense(self) -> np.ndarray:
        """x over the whole grid, shape (K_1, ..., K_N) (K^N numbers; computed once)."""
        if self._dense is None:
            x = (outer_accumulate(np.add, 0.0, [w * v for w, v in zip(self.omega, self.phi_bar)]) < self.b).astype(
                float
            )
            x.reshape(-1)[self.tie_index] = self.tie_x
            self._dense = x
        return self._dense


@dataclass
class DenseSource:
    """An allocation given on the whole grid, handed out block by block like an :class:`IndexRule`."""

    x: np.ndarray

    def block_x(self, block) -> np.ndarray:
        return self.x.reshape(-1)[block.start : block.stop].reshape(block.shape)

    def dense(self) -> np.ndarray:
        return self.x


@dataclass
class CompactSource:
    """A :class:`lpmech.compact.CompactMechanism` (the result's mechanism) handed out block by block.

    Reads x through the mechanism's own :meth:`~lpmech.compact.CompactMechanism.engine_block`, so a
    pass audits exactly the allocation the result reports.
    """

    mechanism: Any  # lpmech.compact.CompactMechanism

    def block_x(self, block) -> np.ndarray:
        x, _ = self.mechanism.engine_block(block.start, block.stop)
        return x.reshape(block.shape)

    def rule_parts(self):
        """(ω, φ̄, b, tie_index, tie_x): the closed form."""
        m = self.mechanism
        return m.omega, m.phi_bar, m.b, m.tie_index, m.tie_x

    def dense(self) -> np.ndarray:
        x, _ = self.mechanism.engine_block(0, self.mechanism.profiles)
        return x.reshape(self.mechanism.shape)


@dataclass
class Pass:
    """What :func:`mechanism_pass` found (engine form)."""

    mass: list  # per agent, Σ_θ P(θ) x(θ) grouped by θ_i, shape (K_i,)
    abs_mass: list  # the same for |x|
    x_min: float
    x_max: float
    offtie: float  # max |x − 1{ω_ref·φ̄ <= b}| off the reference tie band (0 without a reference)
    tie_probability: float  # P(the reference tie band)
    offtie_canonical: float  # max |x − 1{ω_can·φ̄ <= b}| off the canonical tie band


def _same_rule(source, reference, phi_bar, b):
    """The source's (tie_index, tie_x) when it is the index rule of the reference ω itself, else None."""
    if reference is None or not hasattr(source, "rule_parts"):
        return None
    omega, fb, rb, index, tx = source.rule_parts()
    w = np.clip(np.asarray(reference[0], dtype=float), 0.0, None)
    same = (
        float(rb) == float(b)
        and np.array_equal(np.asarray(omega, dtype=float), w)
        and len(fb) == len(phi_bar)
        and all(np.array_equal(u, v) for u, v in zip(fb, phi_bar))
    )
    return (np.asarray(index, dtype=np.int64), np.asarray(tx, dtype=float)) if same else None


def _at(block, flat, w, abs_bar) -> tuple[np.ndarray, np.ndarray]:
    """Σ_i ω_i |φ̄_i| and Σ_i |φ̄_i| at the block's flat positions ``flat`` (agent order, as Block.combine)."""
    g = block.grid
    coords = np.unravel_index(flat, block.shape)
    per_agent = [block.lead[a][coords[0]] for a in range(g.d)] + [coords[1 + a - g.d] for a in range(g.d, g.m)]
    size = np.zeros(flat.size)
    total = np.zeros(flat.size)
    for a, c in enumerate(per_agent):
        size = size + w[a] * abs_bar[a][c]
        total = total + abs_bar[a][c]
    return size, total


def _listed_band_probability(grid, listed, phi_bar, abs_bar, b, reference) -> float:
    """P(listed profiles inside the reference tie band)."""
    index, _tx = listed
    if index.size == 0:
        return 0.0
    w, rtol, unc = reference
    w = np.clip(np.asarray(w, dtype=float), 0.0, None)
    coords = np.unravel_index(index, grid.shape)
    s = np.zeros(index.size)
    size = np.zeros(index.size)
    total = np.zeros(index.size)
    P = np.ones(index.size)
    for a, c in enumerate(coords):  # in agent order, as Block.combine sums
        s = s + w[a] * phi_bar[a][c]
        size = size + w[a] * abs_bar[a][c]
        total = total + abs_bar[a][c]
        P = P * grid.probs[a][c]
    tie = np.abs(s - b) <= tie_band(b, size, rtol, unc, total)
    return float(P[tie].sum())


def mechanism_pass(
    grid: Grid,
    source,
    phi_bar,
    b: float,
    *,
    reference: tuple | None = None,
    canonical: tuple | None = None,
) -> Pass:
    """One walk over the grid: the masses of x and its agreement with the closed forms x_ω.

    Parameters
    ----------
    grid : Grid
        The engine grid (independent types).
    source : IndexRule or DenseSource
        The allocation.
    phi_bar : list of ndarray, shapes (K_i,)
        Ironed virtual costs (engine units).
    b : float
        The buyer's value (engine units).
    reference, canonical : (omega, rtol, uncertainty), optional
        Weights and tie band (:func:`lpmech.tolerances.tie_band`) of x_ω = 1{ω·φ̄ <= b}, compared
        with x off the band; the reference band's probability is reported too.

    Returns
    -------
    Pass
    """
    abs_bar = [np.abs(f) for f in phi_bar]
    mass = [np.zeros(k) for k in grid.shape]
    abs_mass = [np.zeros(k) for k in grid.shape]
    x_min, x_max = np.inf, -np.inf
    offtie = offtie_can = tie_prob = 0.0
    listed = _same_rule(source, reference, phi_bar, b)
    if listed is not None:
        # the rule's listed profiles are its tie set: their probability in the reference band
        tie_prob = _listed_band_probability(grid, listed, phi_bar, abs_bar, b, reference)
    specs = []
    for which, spec in (("reference", reference), ("canonical", canonical)):
        if spec is not None:
            w, rtol, unc = spec
            specs.append((which, np.clip(np.asarray(w, dtype=float), 0.0, None), rtol, unc))
    for block in grid.blocks():
        P = block.pmf()
        x = source.block_x(block)
        x_min, x_max = min(x_min, float(x.min())), max(x_max, float(x.max()))
        for acc, part in zip(mass, block.marginals(P * x)):
            acc += part
        for which, w, rtol, unc in specs:
            s = block.combine(w, phi_bar)
            off = np.abs(x - (s <= b)).reshape(-1)
            # the band is needed only where x and x_ω differ (for an optimal x: on its ties)
            at = np.flatnonzero(off)
            worst = 0.0
            if at.size:
                size, total = _at(block, at, w, abs_bar)
                band = tie_band(b, size, rtol, unc, total)
                outside = np.abs(s.reshape(-1)[at] - b) > band
                worst = float(off[at][outside].max(initial=0.0))
            if which == "reference":
                offtie = max(offtie, worst)
                if listed is None:
                    size, total = (block.combine(w, abs_bar), block.combine(np.ones(len(abs_bar)), abs_bar))
                    tie = np.abs(s - b) <= tie_band(b, size, rtol, unc, total)
                    tie_prob += float(np.sum(np.broadcast_to(P, block.shape)[tie]))
            else:
                offtie_can = max(offtie_can, worst)
    if x_min >= 0.0:
        abs_mass = [a.copy() for a in mass]
    else:  # |x| differs from x only where x < 0 (an allocation outside [0, 1]): a second walk
        for block in grid.blocks():
            x = source.block_x(block)
            for acc, part in zip(abs_mass, block.marginals(block.pmf() * np.abs(x))):
                acc += part
    return Pass(
        mass=mass,
        abs_mass=abs_mass,
        x_min=float(x_min),
        x_max=float(x_max),
        offtie=offtie,
        tie_probability=tie_prob,
        offtie_canonical=offtie_can,
    )
