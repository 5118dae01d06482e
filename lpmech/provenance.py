"""Provenance: how a number was made.

:func:`provenance` records lpmech's version, the versions of HiGHS (through highspy), numpy,
scipy and Python, the platform, the SHA-256 of the input file, the options used and the UTC
time, so that a number in a paper can be traced to the code, the solver and the file that
produced it. Every JSON result, sweep and compare output carries this dictionary under the key
``"provenance"``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
from collections.abc import Mapping
from importlib import metadata
from typing import Any

__all__ = ["provenance", "sha256_file", "highs_version", "package_version"]

#: Files are hashed in blocks of this many bytes (instance files are small; sweep bases too).
_BLOCK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, as 64 hexadecimal digits.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def package_version(name: str) -> str | None:
    """The installed version of a distribution (None when it is not installed).

    Parameters
    ----------
    name : str
        The distribution's name (``"numpy"``).

    Returns
    -------
    str or None
    """
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def highs_version() -> str | None:
    """The version of the HiGHS library highspy wraps (``"1.16.0"``), read from highspy's
    ``HIGHS_VERSION_*`` constants (no Highs object is made: its constructor prints a banner);
    highspy's own version when those are missing, None when highspy is not installed.

    Returns
    -------
    str or None
    """
    try:
        import highspy
    except ImportError:
        return None
    parts = [getattr(highspy, f"HIGHS_VERSION_{k}", None) for k in ("MAJOR", "MINOR", "PATCH")]
    if all(isinstance(p, int) for p in parts):
        return ".".join(str(p) for p in parts)
    return package_version("highspy")


def _lpmech_version() -> str:
    from . import __version__

    return package_version("lpmech") or __version__


def _plain(value: Any) -> Any:
    """Options as JSON-ready values (tuples to lists, numpy scalars to numbers, other objects to str)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _plain(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def provenance(*, source: str | os.PathLike | None = None, options: Mapping[str, Any] | None = None) -> dict:
    """What produced a result: versions, platform, the input file's hash, the options, the time.

    Parameters
    ----------
    source : str or path-like, optional
        The input file (instance or sweep file); its path and SHA-256 are recorded. A path that
        cannot be read is recorded with ``"sha256": None``.
    options : mapping, optional
        The options used (method, mechanism options, ...), recorded as given (JSON-ready).

    Returns
    -------
    dict
        ``lpmech``, ``highs``, ``highspy``, ``numpy``, ``scipy``, ``python`` (versions),
        ``platform``, ``source`` and ``sha256`` (when a source is given), ``options`` and
        ``time`` (UTC, ISO 8601).

    Examples
    --------
    >>> p = provenance(options={"method": "auto"})
    >>> [k for k in ("lpmech", "highs", "numpy", "scipy", "python") if p[k]], p["options"]
    (['lpmech', 'highs', 'numpy', 'scipy', 'python'], {'method': 'auto'})
    """
    import numpy
    import scipy

    out: dict[str, Any] = {
        "lpmech": _lpmech_version(),
        "highs": highs_version(),
        "highspy": package_version("highspy"),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    if source is not None:
        path = os.fspath(source)
        out["source"] = path
        try:
            out["sha256"] = sha256_file(path)
        except OSError:
            out["sha256"] = None
    out["options"] = _plain(dict(options or {}))
    out["time"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return out
