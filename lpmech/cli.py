"""The ``lpmech`` command line.

``lpmech solve FILE [--json PATH|-] [--plot FILE.png|.pdf|.svg] [--csv DIR] [--max-profiles N]``
``lpmech solve FILE [--method auto|lp|structured|general|continuous] [--continuous] [--certify float|exact]``
``lpmech solve FILE [--ic dominant] [--participation ex-post] [--veto NAME ...] [--pareto λ]
[--transfers individual]``
``lpmech compare FILE [--json PATH|-] [--certify float|exact]``
``lpmech frontier FILE --out DIR [--lambdas λ ...]``
``lpmech validate [--quick] [--out DIR] [--claim ID ...]``
``lpmech sweep SWEEP.toml --out DIR [--scheduler ADDRESS] [--workers N]``
``lpmech --version``

Exit status: 0 on success; 2 on bad input (one line naming the file, agent and field, or the
output option; no traceback, no output file written); 1 when a solver does not report an
optimal solution (HiGHS's status is printed) or a cross-check fails; 128 + the signal number
when interrupted by SIGINT or SIGTERM (no temporary file is left behind).

What the shell sees is lpmech's own: while a command runs, file descriptors 1 and 2 lead to
``os.devnull`` (whatever a C library prints goes nowhere), Python warnings and log records of
dependencies are dropped, and lpmech writes its report, its JSON (``--json -``: nothing else on
standard output), progress bars and its one error line through saved duplicates of the real
streams. Output files are committed together after everything is computed and checked
(:func:`lpmech.files.write_outputs`). All of this is undone when :func:`main` returns.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence

from .errors import CertificateError, InstanceError, LpmechError, OutputError, SolverError, exit_status
from .files import check_output_path, check_outputs, chunk_writer, make_output_dir, plot_format, write_outputs
from .instance import DEFAULT_MAX_PROFILES

__all__ = ["main", "build_parser", "GENERAL_LP_MAX_PROFILES"]

#: The general LP's cap on profiles (defined beside the general LP, applied by :func:`lpmech.solve`).
GENERAL_LP_MAX_PROFILES = 20_000  # equal to lpmech.general.GENERAL_LP_MAX_PROFILES (tests/test_cli.py checks)


class UsageError(Exception):
    pass


class _Interrupted(BaseException):
    """SIGINT or SIGTERM while a command runs (raised by the handlers :func:`main` installs)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # argparse takes "-1e-3" for an option (its matcher knows only -1 and -.5 forms), so
        # "--budget -1e-3" would fail with "expected one argument": accept exponent notation too.
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message):  # one line, exit status 2
        raise UsageError(f"{self.prog}: {message}")


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("lpmech")
    except (ImportError, PackageNotFoundError):  # running from a checkout that is not installed
        from . import __version__

        return __version__


# --------------------------------------------------------------------------- process state
class _Streams:
    """Keep the real standard output and error for lpmech's own writes while a command runs.

    Inside: file descriptors 1 and 2 point at ``os.devnull``; ``sys.stdout`` is a null stream;
    ``sys.stderr`` and :attr:`out` write to the real streams through saved duplicates (or are
    the caller's own stream objects when those are not file descriptors 1 and 2, e.g. under
    pytest's capsys). Everything is restored on exit.
    """

    def __enter__(self):
        self.saved_sys = (sys.stdout, sys.stderr)
        for stream in self.saved_sys:
            self._flush(stream)
        self.saved_fd: dict[int, int] = {}
        self.wrappers: list[io.TextIOWrapper] = []
        self.null = None
        try:
            self.out = self._own(sys.stdout, 1)
            self.err = self._own(sys.stderr, 2)
            self.null = open(os.devnull, "w")
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                for fd in self.saved_fd:
                    os.dup2(null, fd)
            finally:
                os.close(null)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        sys.stdout, sys.stderr = self.null, self.err
        return self

    def _own(self, stream, fd: int):
        try:
            self.saved_fd[fd] = os.dup(fd)
        except OSError:  # the descriptor is closed: nothing to protect
            pass
        try:
            on_fd = stream is not None and stream.fileno() == fd
        except (AttributeError, OSError, ValueError):
            on_fd = False
        if stream is None or (on_fd and fd not in self.saved_fd):
            return open(os.devnull, "w")
        if not on_fd:
            return stream  # a Python-level stream (captured): write to it as it is
        wrapper = io.TextIOWrapper(
            io.FileIO(self.saved_fd[fd], "w", closefd=False),
            encoding=getattr(stream, "encoding", None),
            errors=getattr(stream, "errors", None),
            line_buffering=bool(getattr(stream, "line_buffering", False)),
        )
        self.wrappers.append(wrapper)
        return wrapper

    @staticmethod
    def _flush(stream) -> bool:
        try:
            if stream is not None:
                stream.flush()
            return True
        except (OSError, ValueError):  # e.g. BrokenPipeError: the reader went away
            return False

    def __exit__(self, *exc):
        self.broken_pipe = False
        for w in self.wrappers:
            if not self._flush(w):
                self.broken_pipe = True
        sys.stdout, sys.stderr = self.saved_sys
        if self.null is not None:
            self.null.close()
        for fd, saved in self.saved_fd.items():
            os.dup2(saved, fd)
            os.close(saved)
        for w in self.wrappers:
            try:
                w.close()
            except (OSError, ValueError):
                pass
        return False


class _Quiet:
    """No Python warnings and no log records from dependencies (lpmech issues neither)."""

    def __enter__(self):
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore")
        self.disabled = logging.root.manager.disable
        logging.disable(logging.CRITICAL)
        return self

    def __exit__(self, *exc):
        logging.disable(self.disabled)
        self.warnings.__exit__(*exc)
        return False


class _Signals:
    """SIGINT and SIGTERM raise :class:`_Interrupted` (so written temporary files are removed);
    inside :meth:`held` (the renames that commit the outputs) they are deferred, and
    :meth:`raise_pending` raises them once the outputs are committed. The previous handlers are restored on exit. Only the main thread can install
    handlers, and a signal the caller ignores stays ignored."""

    SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)

    def __enter__(self):
        self.previous = {}
        self.holding = False
        self.pending: list[int] = []
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in self.SIGNALS:
            old = signal.getsignal(sig)
            if old in (signal.SIG_DFL, signal.default_int_handler):
                self.previous[sig] = old
                signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum, frame):
        if self.holding:
            self.pending.append(signum)
            return
        raise _Interrupted(signum)

    @contextlib.contextmanager
    def held(self):
        """Defer the handlers inside the block; :meth:`raise_pending` raises what arrived."""
        self.holding = True
        try:
            yield
        finally:
            self.holding = False

    def raise_pending(self) -> None:
        if self.pending:
            raise _Interrupted(self.pending[0])

    def __exit__(self, *exc):
        for sig, old in self.previous.items():
            signal.signal(sig, old)
        return False


# --------------------------------------------------------------------------- outputs
class _Run:
    """What a command writes: its report (``out``), and whether its files were committed."""

    def __init__(self, out, signals: _Signals | None = None):
        self.out = out
        self.signals = signals
        self.committed = False

    def print(self, *text) -> None:
        print(*text, file=self.out)

    def commit(
        self,
        args,
        payload: dict | None,
        summary: str,
        files: Sequence[tuple[str, str, Callable[[str], None]]] = (),
        chunks: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        """Write every output file together, then the JSON to standard output (``--json -``) or
        the report. ``files``: (option, path, write) for each file besides the JSON; ``chunks``:
        the JSON text piece by piece, written as it comes (``solve --full``), instead of ``payload``."""
        json_path = getattr(args, "json", None)
        text = None
        if payload is not None and json_path and chunks is None:
            text = json.dumps(payload, indent=1, allow_nan=False) + "\n"
        outputs = []
        if text is not None and json_path != "-":
            outputs.append((json_path, _text_writer(text)))
        elif chunks is not None and json_path and json_path != "-":
            outputs.append((json_path, chunk_writer(chunks)))
        outputs += [(path, write) for _, path, write in files if path]
        try:
            write_outputs(outputs, hold=None if self.signals is None else self.signals.held())
        except OSError as err:  # disk full, permissions changed meanwhile, ...
            names = ", ".join(path for path, _ in outputs)
            raise OutputError(
                f"could not write {names} ({_one_line(err.strerror or err)}); none was written", field="output"
            ) from err
        self.committed = True
        if self.signals is not None:
            self.signals.raise_pending()  # a signal that arrived while the outputs were renamed
        if json_path == "-":
            for piece in [text] if chunks is None else chunks():
                self.out.write(piece)
            return
        self.print(summary)
        for option, path in (("json", json_path), *((o, p) for o, p, _ in files)):
            if path:
                self.print(f"  wrote {option}: {path}")


def _text_writer(text: str) -> Callable[[str], None]:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return write


def _with_units(summary: str, instance) -> str:
    """Say the units of types and prices (after the first line) if the report does not yet."""
    from .result import units_line

    if "units:" in summary or instance is None:
        return summary
    first, _, rest = summary.partition("\n")
    return f"{first}\n  {units_line(instance)}" + (f"\n{rest}" if rest else "")


def _unit_keys(payload: dict, instance) -> dict:
    payload.setdefault("type_units", "per-share")
    if instance is not None:
        payload.setdefault("types_in_file", getattr(instance, "types", "per-share"))
    return payload


# --------------------------------------------------------------------------- commands
def _cmd_solve(args, run: _Run) -> int:
    from .loader import load
    from .solver import solve

    fmt = plot_format(args.plot) if args.plot else None
    check_outputs([args.file], [("--json", args.json), ("--plot", args.plot)])
    if args.csv:
        check_output_path(args.csv, "--csv", directory=True)
        if os.path.isdir(args.csv):
            check_outputs(
                [args.file],
                [
                    ("--json", args.json),
                    ("--plot", args.plot),
                    ("--csv", os.path.join(args.csv, "interim.csv")),
                    ("--csv", os.path.join(args.csv, "allocation.csv")),
                ],
            )
    instance = _with_options(load(args.file), args)
    if args.method == "continuous" or getattr(instance, "is_continuous", False):
        if args.plot:
            raise InstanceError(
                "--plot draws grid allocations; it does not go with the continuous method", field="--plot"
            )
        if getattr(args, "csv", None):
            raise InstanceError("--csv writes grid tables; it does not go with the continuous method", field="--csv")
    cap = "default" if args.max_profiles is None else args.max_profiles
    result = solve(instance, max_profiles=cap, method=args.method, certify=args.certify)
    payload = _with_provenance(_unit_keys(result.to_dict(), instance), args)
    chunks = _full_json(args, result, payload)
    from .compare import fixed_shares_line

    shares_note = fixed_shares_line(instance, result)  # g(σ) − min_ω g(ω), maximin results only
    if shares_note:
        payload.setdefault("info", {})["fixed_shares_cost"] = shares_note[1]
    files = []
    if args.plot:
        from .plot import figure

        fig = figure(result)
        files.append(("plot", args.plot, lambda tmp: fig.savefig(tmp, format=fmt, dpi=130)))
    created = False
    if args.csv:
        from .views import csv_outputs

        files += [("csv", path, write) for path, write in csv_outputs(result, args.csv)]
        created = make_output_dir(args.csv, "--csv")
    try:
        text = result.summary() + ("\n" + shares_note[0] if shares_note else "")
        run.commit(args, payload, _with_units(text, instance), files, chunks=chunks)
    except BaseException:
        _remove_if_empty(args.csv if created else None)
        raise
    return 0


def _full_json(args, result, payload: dict):
    """``--full`` on a result whose JSON would hold the compact form: the document streamed with
    every profile (slab by slab), after a one-line size warning when it will be large; else None."""
    from .result import FULL_JSON_WARN_BYTES, full_json_bytes

    if not getattr(args, "full", False) or result.compact is None or result.writes_full(None):
        return None
    size = full_json_bytes(result.compact.profiles)
    if size > FULL_JSON_WARN_BYTES:
        print(
            f"lpmech: warning: --full writes all {result.compact.profiles:,} profiles: about "
            f"{size / 1e6:,.0f} MB of JSON (without --full the mechanism is written in compact form)",
            file=sys.stderr,
        )
        sys.stderr.flush()
    return lambda: result.json_chunks(payload)


def _remove_if_empty(directory: str | None) -> None:
    """Remove a directory this command created for its outputs, when nothing was written into it."""
    if directory:
        try:
            os.rmdir(directory)
        except OSError:
            pass


def _progress(args) -> bool:
    """A progress bar only on a terminal (standard error), and never with ``--no-progress``."""
    if getattr(args, "no_progress", False):
        return False
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _options(args) -> dict:
    """The options a command ran with (recorded in the provenance), without the output paths."""
    skip = {"func", "json", "plot", "csv", "out", "file", "no_progress"}
    return {k: v for k, v in sorted(vars(args).items()) if k not in skip and not callable(v)}


def _with_provenance(payload: dict, args) -> dict:
    """Record how the payload was made: versions, the input file's SHA-256, the options."""
    from .provenance import provenance

    payload["provenance"] = provenance(source=getattr(args, "file", None), options=_options(args))
    return payload


def _with_options(instance, args):
    """Apply the command line's mechanism options, which override the file's [mechanism]."""
    return instance.with_mechanism(
        ic=args.ic,
        participation=args.participation,
        veto=tuple(args.veto) if args.veto else None,
        pareto=args.pareto,
        transfers=getattr(args, "transfers", None),
        consent=getattr(args, "consent", None),
        no_subsidy=True if getattr(args, "no_subsidy", False) else None,
        max_transfer=getattr(args, "max_transfer", None),
        budget=getattr(args, "budget", None),
        min_trade_probability=getattr(args, "min_trade_probability", None),
    )


def _cmd_compare(args, run: _Run) -> int:
    from .compare import compare
    from .loader import load

    check_outputs([args.file], [("--json", args.json)])
    instance = load(args.file)
    instance.check_size(args.max_profiles)
    table = compare(instance, certify=args.certify)
    run.commit(
        args, _with_provenance(_unit_keys(table.to_dict(), instance), args), _with_units(table.summary(), instance)
    )
    return 0


def _cmd_frontier(args, run: _Run) -> int:
    from .compare import frontier
    from .loader import load

    out = args.out
    check_output_path(out, "--out", directory=True)
    paths = {"csv": os.path.join(out, "frontier.csv"), "png": os.path.join(out, "frontier.png")}
    if os.path.isdir(out):
        check_outputs([args.file], [("--out", paths["csv"]), ("--out", paths["png"])])
    instance = _with_options(load(args.file), args)
    instance.check_size(args.max_profiles)
    result = frontier(instance, lambdas=args.lambdas, progress=_progress(args))
    lines = [
        f"lpmech frontier: {len(result.rows)} points (λ from {result.rows[0]['lambda']:g} to "
        f"{result.rows[-1]['lambda']:g}); first best {result.first_best:.6g}",
        f"  {'λ':>8} {'profit':>12} {'surplus':>12} {'welfare':>12}",
    ]
    lines += [
        f"  {r['lambda']:>8.4g} {r['profit']:>12.6g} {r['surplus']:>12.6g} {r['welfare']:>12.6g}" for r in result.rows
    ]
    created = make_output_dir(out, "--out")
    try:
        # TODO(compare.py): a public Frontier.outputs(dir) -> [(path, write)] instead of its private writers
        run.commit(
            args,
            None,
            "\n".join(lines),
            [
                ("csv", paths["csv"], lambda tmp: result._to(tmp, result._csv, binary=False)),
                ("png", paths["png"], lambda tmp: result._to(tmp, result._png, binary=True)),
            ],
        )
    except BaseException:
        if created:
            try:
                os.rmdir(out)
            except OSError:
                pass
        raise
    return 0


def _cmd_validate(args, run: _Run) -> int:
    try:
        import lpmech_validation as validation
    except ImportError:  # running from a checkout that is not installed
        import validation
    out = args.out
    check_output_path(out, "--out", directory=True)
    claims = args.claim or None
    known = [c for c, _ in validation.CLAIMS]
    for c in claims or []:
        if c not in known:
            raise InstanceError(f"unknown claim {c!r} (known: {', '.join(known)})", field="--claim")
    entries = validation.run(out, quick=args.quick, claims=claims, progress=_progress(args))
    failed = [e for e in entries if not e.passed]
    run.committed = True
    run.print(
        f"lpmech validate: {len(entries)} entries, {len(entries) - len(failed)} passed, {len(failed)} failed; "
        f"report: {os.path.join(out, 'report.md')}"
    )
    for e in failed:
        run.print(f"  FAILED {e.claim}: {e.instance}: expected {e.expected}, measured {e.measured} ({e.note})")
    return 1 if failed else 0


# --------------------------------------------------------------------------- parser
def _lambda(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1] (λ > 1 makes the LP unbounded), got {v:g}")
    return v


def _add_mechanism_options(p) -> None:
    g = p.add_argument_group("mechanism options (override the file's [mechanism] table)")
    g.add_argument(
        "--ic",
        choices=["bayesian", "dominant", "ex-post"],
        help="incentive constraints (ex-post: a best reply at every profile of truthful others)",
    )
    g.add_argument("--participation", choices=["interim", "ex-post", "ex-ante"], help="participation constraints")
    g.add_argument(
        "--consent",
        type=_positive_int,
        metavar="K",
        help="the mechanism needs any K agents' consent: the designer picks the K veto holders",
    )
    g.add_argument("--veto", nargs="+", metavar="NAME", help="the agents who hold a veto (default: all)")
    g.add_argument("--pareto", type=_lambda, metavar="λ", help="maximize profit + λ x agents' surplus (0 <= λ <= 1)")
    g.add_argument(
        "--no-subsidy",
        action="store_true",
        help="m(θ) >= 0 at every profile (the designer never receives money on the buy side, never pays it "
        "on the sell side)",
    )
    g.add_argument("--max-transfer", type=float, metavar="X", help="m(θ) <= X at every profile")
    g.add_argument("--budget", type=float, metavar="X", help="expected transfer E[m] <= X")
    g.add_argument("--min-trade-probability", type=float, metavar="Q", help="E[x] >= Q")
    g.add_argument(
        "--transfers",
        choices=["shares", "individual"],
        help="one transfer split in fixed shares (default) or each agent its own transfer m_i",
    )


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def _max_profiles(p, default: int | None, help: str) -> None:
    p.add_argument("--max-profiles", type=_positive_int, default=default, metavar="N", help=help)


def build_parser() -> argparse.ArgumentParser:
    """The command line's argument parser (sub-commands solve, compare, frontier, validate)."""
    parser = _Parser(prog="lpmech", description="Optimal mechanisms for trading with a group, by linear programming.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("solve", help="solve an instance file and print (or write) the optimal mechanism")
    p.add_argument("file", help="instance file (TOML)")
    p.add_argument(
        "--json",
        metavar="PATH",
        help="write the result as JSON to PATH ('-': standard output, which then carries the JSON only)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="with --json: write the allocation and transfer over every profile also above "
        "10^6 profiles, where the JSON otherwise holds the mechanism in compact form (written "
        "piece by piece; a warning when the file will exceed about 100 MB)",
    )
    p.add_argument(
        "--plot",
        metavar="FILE",
        help="write a figure of the allocation; the extension names the format: .png, .pdf or .svg",
    )
    p.add_argument(
        "--csv",
        metavar="DIR",
        help="write interim.csv (per agent and type: trade probability, "
        "transfer, payout, utility, virtual costs) and allocation.csv "
        "(one row per profile) into DIR",
    )
    _max_profiles(
        p,
        None,
        f"refuse grids with more than N profiles (default {DEFAULT_MAX_PROFILES:,}; "
        f"{GENERAL_LP_MAX_PROFILES:,} when the instance needs the general LP: correlated "
        f"types or mechanism options other than the default)",
    )
    p.add_argument(
        "--method",
        choices=["auto", "lp", "structured", "general", "continuous"],
        default="auto",
        help="the maximin LP, the structured solver, the general LP, continuous (agents given by "
        "distributions, solved in the continuum; grid points are ignored), or auto (default: "
        "the formulation the instance needs, then by size); a method that cannot serve the "
        "instance is an error",
    )
    p.add_argument(
        "--certify",
        choices=["float", "exact"],
        default="float",
        help="exact: prove the optimum in rational arithmetic (exit 1 if the proof fails; an error "
        "above the exact path's size limit); float (default): floating-point checks only",
    )
    p.add_argument(
        "--continuous", dest="method", action="store_const", const="continuous", help="the same as --method continuous"
    )
    _add_mechanism_options(p)
    p.set_defaults(func=_cmd_solve)
    c = sub.add_parser(
        "compare",
        help="what each assumption of the file is worth: the file's mechanism, BIC/DSIC (ex-post IC) x "
        "ex-ante/interim/ex-post IR, individual transfers, the file's constraints on and off, consent of "
        "k = 1..N, posted price, first best",
    )
    c.add_argument("file", help="instance file (TOML)")
    c.add_argument(
        "--json",
        metavar="PATH",
        help="write the table as JSON to PATH ('-': standard output, which then carries the JSON only)",
    )
    _max_profiles(
        c,
        GENERAL_LP_MAX_PROFILES,
        f"refuse grids with more than N profiles (default {GENERAL_LP_MAX_PROFILES:,}: the general LP's cap)",
    )
    c.add_argument(
        "--certify",
        choices=["float", "exact"],
        default="float",
        help="exact: prove every row the exact path can handle (the report says which rows are proven)",
    )
    c.set_defaults(func=_cmd_compare)
    f = sub.add_parser("frontier", help="the profit/surplus Pareto frontier, swept over λ")
    f.add_argument("file", help="instance file (TOML)")
    f.add_argument("--out", required=True, metavar="DIR", help="write frontier.csv and frontier.png into DIR")
    f.add_argument(
        "--lambdas", type=_lambda, nargs="+", metavar="λ", help="the weights to solve (default: a grid on [0, 1])"
    )
    _max_profiles(
        f,
        GENERAL_LP_MAX_PROFILES,
        f"refuse grids with more than N profiles (default {GENERAL_LP_MAX_PROFILES:,}: the general LP's cap)",
    )
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_mechanism_options(f)
    f.set_defaults(func=_cmd_frontier)
    v = sub.add_parser("validate", help="reproduce the theory's claims numerically and write a report")
    v.add_argument("--quick", action="store_true", help="smaller grids and samples (under 5 minutes)")
    v.add_argument("--out", default="validation-report", metavar="DIR", help="report directory (default %(default)s)")
    v.add_argument("--claim", action="append", metavar="ID", help="run only this claim (repeatable)")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    v.set_defaults(func=_cmd_validate)
    from .sweep import add_parser as add_sweep_parser

    add_sweep_parser(sub)
    return parser


# --------------------------------------------------------------------------- main
def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _foreign_solver_errors() -> tuple[type[BaseException], ...]:
    """cvxpy's solver failure type, if cvxpy has been imported (lpmech imports it lazily)."""
    mod = sys.modules.get("cvxpy.error")
    kind = getattr(mod, "SolverError", None)
    return (kind,) if isinstance(kind, type) else ()


def _error_line(err: LpmechError, args) -> str:
    if isinstance(err, InstanceError):
        if err.source is None and not isinstance(err, OutputError) and getattr(args, "file", None):
            err = err.with_source(args.file)  # raised after loading: name the file all the same
        return f"lpmech: error: {_one_line(err)}"
    if isinstance(err, SolverError):
        return f"lpmech: solver failure: {_one_line(err)}"
    if isinstance(err, CertificateError):
        return f"lpmech: certificate failed: {_one_line(err)}"
    return f"lpmech: {_one_line(err)}"


def _interrupted(err: BaseException, committed: bool) -> tuple[int, str]:
    signum = int(getattr(err, "signum", signal.SIGINT))
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    tail = "" if committed else "; no output written"
    return 128 + signum, f"lpmech: interrupted by {name}{tail}"


def _execute(args, run: _Run) -> tuple[int, str | None]:
    """Run the command; return (exit status, error line or None). Only lpmech's own errors, the
    foreign errors that have a meaning for the user and interrupts are turned into a status: an
    internal bug still raises (and shows its traceback)."""
    try:
        return args.func(args, run), None
    except LpmechError as err:
        return exit_status(err), _error_line(err, args)
    except _foreign_solver_errors() as err:  # cvxpy's solver (canonical weights) failed: a solver failure
        # (lpmech.SolverError's text names HiGHS, so the line is written here)
        return 1, f"lpmech: solver failure: cvxpy: {_one_line(err) or type(err).__name__}"
    except MemoryError:
        error = InstanceError(
            "the instance needs more memory than this machine has (fewer grid points or agents)",
            source=getattr(args, "file", None),
        )
        return exit_status(error), _error_line(error, args)
    except OverflowError as err:
        error = InstanceError(
            f"a number in the instance is too large to compute with ({_one_line(err)})",
            source=getattr(args, "file", None),
        )
        return exit_status(error), _error_line(error, args)
    except (_Interrupted, KeyboardInterrupt) as err:
        return _interrupted(err, run.committed)
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly (Python docs, signal notes)
        return 0, None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 success, 2 bad input, 1 solver or check failure, 128 + signal number
        when interrupted. ``--help`` and ``--version`` exit through ``SystemExit(0)``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "full", False) and not getattr(args, "json", None):  # an option, not a file field
            parser.error("solve: --full writes every profile into the JSON document; give --json PATH")
    except UsageError as err:
        print(f"{err} (see 'lpmech --help')", file=sys.stderr)
        return 2
    run = None
    try:
        with _Signals() as signals, _Streams() as streams, _Quiet():
            run = _Run(streams.out, signals)
            status, message = _execute(args, run)
    except _Interrupted as err:  # a signal between the command's end and the handlers' reset
        status, message = _interrupted(err, run is not None and run.committed)
    if message:
        print(message, file=sys.stderr)
        sys.stderr.flush()
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
