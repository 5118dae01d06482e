"""lpmech's error types: a leaf module (it imports nothing of lpmech's).

Every failure a caller (or the command line) can meet is one of these:

================  =========================================================  ==========
error             meaning                                                    exit status
================  =========================================================  ==========
InstanceError     bad input: names the file, the agent and the field         2
OutputError       an output path that cannot or must not be written          2
SolverError       HiGHS (or cvxpy) did not report an optimum; its status     1
CheckError        a cross-check of an answer failed; the measured gaps       1
CertificateError  a certificate (primal value = dual bound) did not hold     1
MissingDependency an optional dependency (e.g. lpmech[sweep]) is missing     1
================  =========================================================  ==========

All derive from :class:`LpmechError`, so ``except lpmech.LpmechError`` catches every one
of them. :class:`InstanceError` and :class:`OutputError` are also :class:`ValueError`;
:class:`SolverError`, :class:`CheckError` and :class:`CertificateError` are also
:class:`RuntimeError`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LpmechError",
    "InstanceError",
    "OutputError",
    "SolverError",
    "CheckError",
    "CertificateError",
    "MissingDependencyError",
    "EXIT_STATUS",
    "exit_status",
]


class LpmechError(Exception):
    """Base class of every error lpmech raises on purpose."""


class InstanceError(LpmechError, ValueError):
    """Bad input: one line naming the file, the agent and the field, and what is wrong.

    Parameters
    ----------
    message : str
        What is wrong.
    field, agent, source : str, optional
        The field (e.g. ``"probs"``, ``"mechanism.veto"``, an argument name), the agent's name
        and the file it came from; each is named in the message when given.
    """

    def __init__(self, message: str, *, field: str | None = None, agent: str | None = None, source: str | None = None):
        self.message = message
        self.field = field
        self.agent = agent
        self.source = source
        super().__init__(self._render())

    def _render(self) -> str:
        parts = []
        if self.source:
            parts.append(str(self.source))
        if self.agent is not None:
            parts.append(f"agent {self.agent!r}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        parts.append(self.message)
        return ": ".join(parts)

    def with_source(self, source: str | None) -> InstanceError:
        """The same error, attributed to a file."""
        return type(self)(self.message, field=self.field, agent=self.agent, source=source)


class OutputError(InstanceError):
    """An output path that cannot be written, or that would overwrite an input or another output.

    Parameters
    ----------
    message : str
        What is wrong (e.g. ``"could not write out.json (No space left on device)"``).
    field, agent, source : str, optional
        As for :class:`InstanceError`; ``field`` is usually ``"output"``.

    Examples
    --------
    >>> err = OutputError("would overwrite the instance file", field="output", source="a.toml")
    >>> str(err), isinstance(err, ValueError)
    ("a.toml: field 'output': would overwrite the instance file", True)
    """


class SolverError(LpmechError, RuntimeError):
    """The LP solver did not return an optimal solution; ``status`` is its own model status.

    Parameters
    ----------
    what : str
        Which LP failed (e.g. ``"maximin LP"``, ``"general LP (tie-break)"``).
    status : str
        The solver's own model status (HiGHS's ``modelStatusToString``, e.g. ``"Infeasible"``).

    Examples
    --------
    >>> str(SolverError("general LP", "Time limit reached"))
    "general LP: HiGHS model status 'Time limit reached'"
    """

    def __init__(self, what: str, status: str):
        self.what = what
        self.status = status
        super().__init__(f"{what}: HiGHS model status {status!r}")


class CheckError(LpmechError, RuntimeError):
    """A cross-check failed; ``checks`` holds every measured gap, ``failed`` the names that failed.

    Parameters
    ----------
    failed : list of str
        The names of the failed checks.
    checks : dict
        Every measured quantity; ``checks[name]`` is a gap, and ``limits[name]`` (if given) the
        bound it exceeded.
    limits : dict, optional
        The tolerance each failed check was held to.
    """

    def __init__(
        self,
        failed: list[str],
        checks: dict[str, Any],
        limits: dict[str, float] | None = None,
        message: str | None = None,
    ):
        self.failed = list(failed)
        self.checks = checks
        self.limits = dict(limits or {})
        if message is None:
            parts = []
            for k in self.failed:
                v = checks.get(k)
                if isinstance(v, (int, float)):
                    lim = self.limits.get(k)
                    parts.append(f"{k} = {v:.3g}" + (f" > {lim:.3g}" if lim is not None else ""))
                else:
                    parts.append(k)
            message = f"cross-check failed: {', '.join(parts)}"
        super().__init__(message)


class CertificateError(CheckError):
    """A certificate did not hold: the primal value and the dual bound disagree, or x is infeasible.

    Parameters
    ----------
    message : str
        Which certificate failed, and why.
    value : float
        The primal value V(x) of the allocation (or the exact lower bound), in engine money units.
    g_value : float
        The dual bound g(ω) at the certifying weights (or the exact upper bound), same units.
    failed : list of str, optional
        The failed checks' names (default ``["certificate"]``).
    checks : dict, optional
        The measured quantities (default: ``value`` and ``g_value``).
    bounds_in_message : bool, optional
        Append "primal value V(x) = ..., dual bound g(omega) = ..." to the message (default True,
        the maximin certificate's wording); the exact certificates say their bounds themselves.
    """

    def __init__(
        self,
        message: str,
        *,
        value: float,
        g_value: float,
        failed: list[str] | None = None,
        checks: dict | None = None,
        bounds_in_message: bool = True,
    ):
        self.value = value
        self.g_value = g_value
        if bounds_in_message:
            message = f"{message}: primal value V(x) = {value:.17g}, dual bound g(omega) = {g_value:.17g}"
        super().__init__(
            failed or ["certificate"],
            checks if checks is not None else {"value": value, "g_value": g_value},
            message=message,
        )


class MissingDependencyError(LpmechError, ImportError):
    """An optional dependency is not installed; the message names the extra that installs it.

    Parameters
    ----------
    what : str
        The feature that needs it (e.g. ``"lpmech sweep"``).
    extra : str
        The name of the extra that installs it (e.g. ``"sweep"``).
    """

    def __init__(self, what: str, extra: str):
        self.extra = extra
        super().__init__(f"{what} needs the optional dependencies of lpmech[{extra}]: pip install 'lpmech[{extra}]'")


#: Exit status of the command line for each error type (the first match in this order wins).
EXIT_STATUS: tuple[tuple[type[LpmechError], int], ...] = (
    (InstanceError, 2),
    (SolverError, 1),
    (CheckError, 1),
    (LpmechError, 1),
)


def exit_status(err: LpmechError) -> int:
    """The command line's exit status for ``err`` (2 bad input, 1 solver or check failure).

    Parameters
    ----------
    err : LpmechError

    Returns
    -------
    int
        2 for :class:`InstanceError` (and :class:`OutputError`), 1 otherwise.

    Examples
    --------
    >>> exit_status(InstanceError("no such file")), exit_status(SolverError("LP", "Infeasible"))
    (2, 1)
    """
    for kind, status in EXIT_STATUS:
        if isinstance(err, kind):
            return status
    return 1
