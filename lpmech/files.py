"""Writing output files atomically: a temporary file in the same directory, then a rename.

A reader never sees a half-written file, and a failure leaves no file behind.
"""

from __future__ import annotations

import os
import tempfile
from typing import Callable

__all__ = ["write_atomic", "check_output_path"]


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)``, flush it to disk, then move the temporary file onto ``path``."""
    parent = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".lpmech-", suffix=suffix, dir=parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)                  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_output_path(path: str | None, option: str, *, directory: bool = False) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    Raises :class:`lpmech.InstanceError` naming the option (exit status 2 on the command line).
    """
    from .instance import InstanceError

    if path is None or path == "-":
        return
    target = os.path.abspath(path)
    parent = target if directory and os.path.isdir(target) else os.path.dirname(target)
    if not directory and os.path.isdir(target):
        raise InstanceError(f"{path} is a directory", field=option)
    if directory and os.path.exists(target) and not os.path.isdir(target):
        raise InstanceError(f"{path} exists and is not a directory", field=option)
    if not os.path.isdir(parent):
        raise InstanceError(f"directory {parent} does not exist", field=option)
    if not os.access(parent, os.W_OK):
        raise InstanceError(f"directory {parent} is not writable", field=option)
