"""Cross-checks run on every solve: the LP's answer is never trusted alone.

For the maximin solution (x, z, ω) of an independent-types instance (theory.md, section 5):

* value: the LP value z, V(x) = min_i E[x(b - φ_i)] of the LP's x, the audited profit of
  (x, m), g(ω) for the LP's ω and for the canonical ω, and V of the closed form x_ω
  (completed on its tie set) must all agree: g is an upper bound on every monotone x
  (weak duality) and x_ω a feasible, audited mechanism, so equality certifies optimality;
* allocation: x equals x_ω = 1{ω·φ̄ <= b} wherever ω·φ̄(θ) != b, for the LP's and the
  canonical ω (any optimal x is a best response to every optimal ω);
* support: every agent with ω_i > 0 has the same, minimal, E[x(b - φ_i)] (the talks'
  condition supp ω ⊆ argmax_i E[φ_i | ω·φ <= b]);
* the weights are a probability vector, the LP's and the canonical ω lie in the reported
  ranges, X_i is monotone;
* the audit of (x, m) by brute force: no IC or IR violation; the posted-price mechanism is
  audited as well and its value may not exceed the optimum.

A gap beyond tolerance raises :class:`CheckError`; it is never a warning.
"""

from __future__ import annotations

__all__ = ["CheckError", "Tolerances"]

from dataclasses import dataclass

from .errors import CheckError


@dataclass(frozen=True)
class Tolerances:
    """Tolerances of one instance, scaled to its units (``scale``: the largest |type| or |b|)."""

    scale: float
    check: float = 1e-7       # value gaps, IC/IR violations, support gap (times scale)
    tie: float = 1e-9         # |ω·φ̄ - b| below this (times the φ scale) is a tie; also the slack
                              # of the optimal face's rows, so the core solver's ties fit the face
    allocation: float = 1e-6  # |x - x_ω| off the tie set

    @property
    def value(self) -> float:
        return self.check * self.scale
