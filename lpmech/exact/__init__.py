"""Exact certificates: optimality proved in rational arithmetic (docs/model.md, section 12).

On a grid every datum is rational, so the optimum is rational and can be proved:

* the maximin path (independent types, the default mechanism): an exact ω and an exact x with
  V(x) = g(ω), the transfers of section 6 and an exact brute-force audit
  (:func:`certify_maximin`, :func:`maximin_bounds`);
* any mechanism option or a joint pmf (every family of sections 9-11: individual transfers,
  ex-ante participation, outside options, consent of k, no subsidy, a transfer cap, a budget, a
  minimum trade probability, ex-post IC, interdependent values): the general LP's optimal basis
  solved exactly for the primal and the duals, up to
  :data:`GENERAL_EXACT_MAX_PROFILES` profiles; plain individual transfers above that by the
  closed form g(σ) (:func:`certify_general`);
* any mechanism (x, m) audited exactly (:func:`verify_exact`).

:func:`certify` computes a :class:`Certificate` (proven or not, with the exact bounds it has);
:func:`prove` does the same and raises :class:`lpmech.errors.CertificateError` (a
:class:`~lpmech.errors.CheckError`: exit status 1), with the exact gap in the message, when the
certificate is not proven.
"""

from __future__ import annotations

import time

from ..errors import CertificateError
from .audit import ExactAudit, verify_exact
from .data import EXACT_MAX_PROFILES, GENERAL_EXACT_MAX_PROFILES, Certificate, ExactData, exact_data, to_fraction
from .general import certify_general
from .maximin import certify_maximin, maximin_bounds

__all__ = [
    "certify",
    "prove",
    "check",
    "float_certificate",
    "certify_maximin",
    "maximin_bounds",
    "certify_general",
    "verify_exact",
    "ExactAudit",
    "Certificate",
    "ExactData",
    "exact_data",
    "to_fraction",
    "EXACT_MAX_PROFILES",
    "GENERAL_EXACT_MAX_PROFILES",
]


def _uses_maximin(instance) -> bool:
    # γ given (even all zero) routes the float solve to the general LP: prove that LP, not the maximin
    return instance.independent and instance.mechanism.is_default and getattr(instance, "interdependence", None) is None


def certify(instance, result=None) -> Certificate:
    """Prove the optimum of an instance in exact arithmetic (computes; does not raise on failure).

    Parameters
    ----------
    instance : lpmech.Instance
    result : lpmech.SolveResult, optional
        The float solution of the maximin path (its ω and allocation are the starting point);
        solved with :func:`lpmech.solve` when omitted. The general LP path (a joint pmf or a
        mechanism option) re-solves its own exact LP's float image and ignores ``result``.

    Returns
    -------
    Certificate
        ``method="exact"``; ``proven`` with the exact ``value``, or the exact bounds found.

    Raises
    ------
    lpmech.errors.InstanceError
        The grid is above what the exact path handles (the message names the limit).
    lpmech.errors.SolverError
        HiGHS failed on the float LP behind a basis.

    Examples
    --------
    >>> import lpmech
    >>> inst = lpmech.Instance("buy", [lpmech.Agent.from_distribution(n, "uniform", {}, 8) for n in "ab"],
    ...                        buyer_value=0.5)
    >>> cert = certify(inst)
    >>> cert.proven, cert.value
    (True, Fraction(15, 512))
    """
    if not _uses_maximin(instance):
        return certify_general(instance)
    if result is None or getattr(result, "formulation", "maximin") != "maximin":
        from ..solver import solve

        result = solve(instance)
    return certify_maximin(instance, result.omega, x=result.allocation)


def check(cert: Certificate) -> Certificate:
    """Return a proven certificate; raise :class:`~lpmech.errors.CertificateError` for any other.

    A certificate that is not proven is a failed check, never a weaker answer: its exact bounds
    did not meet (or one is missing), or the exact audit of its mechanism found a violation.

    Parameters
    ----------
    cert : Certificate
        From :func:`certify`, :func:`certify_general` or :func:`certify_maximin`.

    Returns
    -------
    Certificate
        ``cert`` itself, when ``cert.proven``.

    Raises
    ------
    lpmech.errors.CertificateError
        A subclass of :class:`~lpmech.errors.CheckError` (the command line exits 1); ``failed``
        is ``["exact_certificate"]``, ``checks`` holds ``certificate_gap`` (the gap's float,
        inf when a bound is missing), ``lower``, ``upper`` (exact fractions as text) and
        ``reason``; ``value`` and ``g_value`` are the bounds' floats (nan when missing). The
        message holds the reason, both exact bounds and the exact gap.

    Examples
    --------
    >>> from fractions import Fraction
    >>> c = Certificate.from_bounds(Fraction(1, 4), Fraction(1, 3), seconds=0.0, formulation="general")
    >>> try:
    ...     check(c)
    ... except CertificateError as err:
    ...     print(err.failed, err.checks["upper"])
    ['exact_certificate'] 1/3
    """
    if cert.proven:
        return cert
    gap = "unknown" if cert.gap is None else f"{cert.gap} (≈ {float(cert.gap):.3g})"
    lo = "none" if cert.lower is None else str(cert.lower)
    up = "none" if cert.upper is None else str(cert.upper)
    checks = {
        "certificate_gap": float(cert.gap) if cert.gap is not None else float("inf"),
        "lower": lo,
        "upper": up,
        "reason": cert.reason,
    }
    message = (
        f"the exact certificate ({cert.formulation}) is not proven: {cert.reason}; "
        f"lower {lo}, upper {up}, exact gap {gap}"
    )
    raise CertificateError(
        message,
        value=float("nan") if cert.lower is None else float(cert.lower),
        g_value=float("nan") if cert.upper is None else float(cert.upper),
        failed=["exact_certificate"],
        checks=checks,
        bounds_in_message=False,
    )


def prove(instance, result=None) -> Certificate:
    """:func:`certify`, then :func:`check`: a proven Certificate or a :class:`CheckError` (exit 1).

    Raises
    ------
    lpmech.errors.CertificateError
        A :class:`~lpmech.errors.CheckError`: the exact bounds do not meet (the message holds
        the exact gap), see :func:`check`.
    lpmech.errors.InstanceError
        The grid is above what the exact path handles.
    """
    return check(certify(instance, result))


def float_certificate(result) -> Certificate:
    """The float certificate of a maximin :class:`~lpmech.SolveResult`: V(x) against g(ω) within
    :data:`lpmech.tolerances.CERTIFICATE_RTOL` (both from the solver's own checks).

    ``method="float"``; the bounds are the floats' exact values, ``proven`` means within the
    tolerance only.
    """
    from fractions import Fraction

    from ..tolerances import CERTIFICATE_RTOL, limit

    start = time.perf_counter()
    values = result.checks["values"]
    lower, upper = values["V(x)"], values["g(omega)"]
    tol = limit(lower, upper, rtol=CERTIFICATE_RTOL)
    lo, up = Fraction(lower), Fraction(upper)
    return Certificate(
        method="float",
        proven=abs(upper - lower) <= tol,
        value=lo,
        lower=lo,
        upper=up,
        gap=up - lo,
        seconds=time.perf_counter() - start,
        formulation="maximin",
        reason="" if abs(upper - lower) <= tol else f"float gap {upper - lower:.3g} > {tol:.3g}",
    )
