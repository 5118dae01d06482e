"""Writing a command's output files: all of them together, atomically, or none.

:func:`write_outputs` writes every output to a hidden temporary file (``.lpmech-*``) beside its
target, flushes each to disk, and only then renames each temporary file onto its target. A
reader never sees a half-written file; a failure (or an interrupt, which Python raises as an
exception) before the renames removes every temporary file and leaves no output behind.
:func:`check_outputs` refuses, before any work is done, an output path that cannot be written,
that names an input file, or that names another output.

The command line (:mod:`lpmech.cli`) turns SIGINT and SIGTERM into an exception while it runs
(and defers them during the renames), so the same clean-up covers both; these functions install
no signal handler.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager

from .errors import OutputError

__all__ = [
    "write_outputs",
    "chunk_writer",
    "write_atomic",
    "check_outputs",
    "check_output_path",
    "make_output_dir",
    "plot_format",
    "PLOT_FORMATS",
    "TEMP_PREFIX",
]

#: Temporary files are named ``.lpmech-<random><suffix>`` in the target's directory.
TEMP_PREFIX = ".lpmech-"
#: Figure formats ``--plot`` writes, chosen by the file's extension.
PLOT_FORMATS = ("png", "pdf", "svg")


def _new_temp(path: str, made: list[str]) -> str:
    """Create an empty temporary file beside ``path``; its name is recorded in ``made`` first,
    so that an interrupt at any point leaves nothing the clean-up does not know about."""
    parent = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    while True:
        tmp = os.path.join(parent, f"{TEMP_PREFIX}{secrets.token_hex(6)}{suffix}")
        made.append(tmp)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            made.pop()
            continue
        os.close(fd)
        return tmp


def _fsync(path: str) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_directory(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. a platform without directory descriptors
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_outputs(
    outputs: Sequence[tuple[str, Callable[[str], None]]], *, hold: AbstractContextManager | None = None
) -> list[str]:
    """Write a set of output files together: every one, or none.

    Parameters
    ----------
    outputs : sequence of (path, write)
        ``write(tmp_path)`` writes the whole content of one output into the file ``tmp_path``
        (it exists, empty); it is called once per output, in order.
    hold : context manager, optional
        Entered around the renames only (after every temporary file is complete). The command
        line passes one that defers its SIGINT/SIGTERM handlers, so that an interrupt cannot
        commit some outputs and not others; by default nothing is held.

    Returns
    -------
    list of str
        The paths written, in order.

    Raises
    ------
    BaseException
        Whatever a ``write`` call (or an interrupt) raises; every temporary file is removed
        first and no output has been replaced. ``OSError`` from the final renames (after
        every temporary file is complete and on disk) likewise removes the temporary files
        not yet renamed.

    Notes
    -----
    Temporary files are created beside their targets (``.lpmech-*``, mode 0644 once complete)
    so that each rename is atomic.
    """
    made: list[str] = []
    pending: list[tuple[str, str]] = []
    try:
        for given, write in outputs:
            path = _target(given)
            tmp = _new_temp(path, made)
            write(tmp)
            _fsync(tmp)
            os.chmod(tmp, 0o644)
            pending.append((tmp, path))
        with hold if hold is not None else contextlib.nullcontext():
            done = []
            for tmp, path in pending:
                os.replace(tmp, path)
                made.remove(tmp)
                done.append(path)
            for parent in {os.path.dirname(os.path.abspath(p)) for p in done}:
                _fsync_directory(parent)
        return done
    except BaseException:
        for tmp in made:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        raise


def chunk_writer(chunks: Callable[[], Iterable[str]], *, buffer: int = 1 << 20) -> Callable[[str], None]:
    """A ``write`` for :func:`write_outputs` that streams text piece by piece into the temporary file.

    For outputs too large to build as one string (``lpmech solve --json PATH --full`` at 10^7
    profiles and more): the pieces go to the temporary file as they are produced, and the
    rename still happens only once every output is complete.

    Parameters
    ----------
    chunks : callable returning an iterable of str
        Called once, when the output is written; its pieces, concatenated, are the file's text.
    buffer : int
        The file's write buffer, in bytes.

    Returns
    -------
    callable
        ``write(tmp_path)``.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> write_outputs([(path, chunk_writer(lambda: (str(i) for i in range(3))))]) == [os.path.realpath(path)]
    True
    >>> open(path).read()
    '012'
    """

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", buffering=buffer) as fh:
            fh.writelines(chunks())  # piece by piece, as the iterable produces them

    return write


def _target(path: str) -> str:
    """The file a write to ``path`` must replace: symbolic links followed (the link stays and
    points to the new file), and anything but a regular file refused."""
    target = os.path.realpath(path)
    if os.path.exists(target) and not os.path.isfile(target):
        raise OutputError(
            f"{path} is not a regular file (a device, a pipe or a socket); lpmech writes its outputs to regular files",
            field="output",
        )
    return target


def make_output_dir(path: str, option: str) -> bool:
    """Create an output directory (its parent must exist); True if it was created here.

    Raises
    ------
    OutputError
        Naming the option, when the directory cannot be created (e.g. a name too long for the
        file system, or no permission).
    """
    if os.path.isdir(path):
        return False
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot create directory {path}: {err.strerror or err}", field=option) from None
    return True


def write_atomic(path: str, write: Callable[[str], None]) -> None:
    """Write one output file atomically (see :func:`write_outputs`).

    Parameters
    ----------
    path : str
        The output file.
    write : callable
        ``write(tmp_path)`` writes the whole content into ``tmp_path``.
    """
    write_outputs([(path, write)])


def plot_format(path: str) -> str:
    """The figure format a ``--plot`` path names by its extension.

    Parameters
    ----------
    path : str
        The output path.

    Returns
    -------
    str
        One of :data:`PLOT_FORMATS`.

    Raises
    ------
    OutputError
        For ``-`` (a figure is not written to standard output) or any other extension.
    """
    if path == "-":
        raise OutputError("a figure cannot go to standard output; name a file (.png, .pdf or .svg)", field="--plot")
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        shown = f"'.{ext}'" if ext else "no extension"
        raise OutputError(
            f"{path}: {shown} is not a figure format lpmech writes (use .png, .pdf or .svg)", field="--plot"
        )
    return ext


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet: compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def check_output_path(path: str | None, option: str, *, directory: bool = False) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    Parameters
    ----------
    path : str or None
        The path (None or ``-``: nothing to check).
    option : str
        The command-line option that named it (``"--json"``), named in the error.
    directory : bool
        The path is an output directory (created if missing; its parent must exist).

    Raises
    ------
    OutputError
        Naming the option (exit status 2 on the command line).
    """
    if path is None:
        return
    if path == "-":
        if directory:
            raise OutputError("names a directory; '-' (standard output) does not apply", field=option)
        return
    target = os.path.abspath(path)
    parent = target if directory and os.path.isdir(target) else os.path.dirname(target)
    if not directory and os.path.isdir(target):
        raise OutputError(f"{path} is a directory", field=option)
    real = os.path.realpath(target)
    if not directory and os.path.exists(real) and not os.path.isfile(real):
        raise OutputError(
            f"{path} is not a regular file (a device, a pipe or a socket); lpmech writes its outputs to regular files",
            field=option,
        )
    if directory and os.path.exists(target) and not os.path.isdir(target):
        raise OutputError(f"{path} exists and is not a directory", field=option)
    if not os.path.isdir(parent):
        raise OutputError(f"directory {parent} does not exist", field=option)
    if not os.access(parent, os.W_OK):
        raise OutputError(f"directory {parent} is not writable", field=option)


def check_outputs(inputs: Iterable[str], outputs: Iterable[tuple[str, str | None]]) -> None:
    """Refuse a set of output paths before any work is done.

    Parameters
    ----------
    inputs : iterable of str
        The files the command reads (an output must not overwrite one of them).
    outputs : iterable of (option, path)
        Each output file and the option that named it; a path of None or ``-`` (standard
        output) is skipped.

    Raises
    ------
    OutputError
        An output that cannot be written (:func:`check_output_path`), that is one of the
        inputs, or that is the same file as another output (real paths are compared:
        symbolic links and ``..`` are resolved, existing files compared with
        :func:`os.path.samefile`).
    """
    inputs = [os.fspath(p) for p in inputs if p is not None]
    seen: list[tuple[str, str]] = []
    for option, path in outputs:
        if path is None or path == "-":
            continue
        path = os.fspath(path)
        check_output_path(path, option)
        for src in inputs:
            if _same_file(path, src):
                raise OutputError(f"{path} is the input file {src}; refusing to overwrite it", field=option)
        for other_option, other in seen:
            if _same_file(path, other):
                raise OutputError(
                    f"{path} is also the output of {other_option}; give each output its own path", field=option
                )
        seen.append((option, path))
