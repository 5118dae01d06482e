"""The ``lpmech`` command line.

``lpmech solve FILE [--json PATH|-] [--plot PNG] [--max-profiles N]``
``lpmech solve FILE [--ic dominant] [--participation ex-post] [--veto NAME ...] [--pareto λ]``
``lpmech compare FILE [--json PATH|-]``
``lpmech frontier FILE --out DIR [--lambdas λ ...]``
``lpmech validate [--quick] [--out DIR] [--claim ID ...]``

Exit status: 0 on success; 2 on bad input (one line naming the file, agent and field; no
traceback, no output file written); 1 when HiGHS does not report an optimal solution (its
status is printed) or a cross-check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from .checks import CheckError
from .files import check_output_path, write_atomic
from .highs import SolverError
from .instance import DEFAULT_MAX_PROFILES, InstanceError

__all__ = ["main"]


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit status 2
        raise UsageError(f"{self.prog}: {message}")


def _write_json(path: str, data: dict) -> None:
    text = json.dumps(data, indent=1, allow_nan=False)
    if path == "-":
        sys.stdout.write(text + "\n")
        return

    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(text + "\n")

    write_atomic(path, write)


def _write_figure(path: str, fig) -> None:
    import matplotlib.pyplot as plt

    def write(tmp):
        fig.savefig(tmp, dpi=130, format="png")

    try:
        write_atomic(path, write)
    finally:
        plt.close(fig)


def _emit(args, payload: dict, summary: str, files: tuple = ()) -> None:
    """Write the JSON (if asked) and print the summary unless the JSON goes to standard output."""
    if args.json:
        _write_json(args.json, payload)
    if args.json != "-":
        print(summary)
        for option, path in (("json", args.json), *files):
            if path:
                print(f"  wrote {option}: {path}")


def _cmd_solve(args) -> int:
    from .loader import load
    from .solver import solve

    check_output_path(args.json, "--json")
    check_output_path(args.plot, "--plot")
    instance = _with_options(load(args.file), args)
    if args.continuous:
        return _solve_continuous(instance, args)
    result = solve(instance, max_profiles=args.max_profiles, method=args.method)
    payload = result.to_dict()   # everything computed before anything is written
    fig = None
    if args.plot:
        from .plot import figure

        fig = figure(result)
    if fig is not None:
        _write_figure(args.plot, fig)
    _emit(args, payload, result.summary(), (("plot", args.plot),))
    return 0


def _cmd_validate(args) -> int:
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
    entries = validation.run(out, quick=args.quick, claims=claims, progress=not args.no_progress)
    failed = [e for e in entries if not e.passed]
    print(f"lpmech validate: {len(entries)} entries, {len(entries) - len(failed)} passed, {len(failed)} failed; "
          f"report: {os.path.join(out, 'report.md')}")
    for e in failed:
        print(f"  FAILED {e.claim}: {e.instance}: expected {e.expected}, measured {e.measured} ({e.note})")
    return 1 if failed else 0


def _solve_continuous(instance, args) -> int:
    from .continuous import solve_continuous

    if args.plot:
        raise InstanceError("--plot draws grid allocations; it does not go with --continuous", field="--plot")
    result = solve_continuous(instance)
    _emit(args, result.to_dict(), result.summary())
    return 0


def _with_options(instance, args):
    """Apply the command line's mechanism options, which override the file's [mechanism]."""
    return instance.with_mechanism(ic=args.ic, participation=args.participation,
                                   veto=tuple(args.veto) if args.veto else None, pareto=args.pareto)


def _cmd_compare(args) -> int:
    from .compare import compare
    from .loader import load

    check_output_path(args.json, "--json")
    instance = load(args.file)
    instance.check_size(args.max_profiles)
    table = compare(instance)
    _emit(args, table.to_dict(), table.summary())
    return 0


def _cmd_frontier(args) -> int:
    from .compare import frontier
    from .loader import load

    check_output_path(args.out, "--out", directory=True)
    instance = _with_options(load(args.file), args)
    instance.check_size(args.max_profiles)
    result = frontier(instance, lambdas=args.lambdas, progress=not args.no_progress)
    paths = result.write(args.out)
    print(f"lpmech frontier: {len(result.rows)} points (λ from {result.rows[0]['lambda']:g} to "
          f"{result.rows[-1]['lambda']:g}); first best {result.first_best:.6g}")
    print(f"  {'λ':>8} {'profit':>12} {'surplus':>12} {'welfare':>12}")
    for r in result.rows:
        print(f"  {r['lambda']:>8.4g} {r['profit']:>12.6g} {r['surplus']:>12.6g} {r['welfare']:>12.6g}")
    print(f"  wrote {paths['csv']} and {paths['png']}")
    return 0


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
    g.add_argument("--ic", choices=["bayesian", "dominant"], help="incentive constraints")
    g.add_argument("--participation", choices=["interim", "ex-post"], help="participation constraints")
    g.add_argument("--veto", nargs="+", metavar="NAME", help="the agents who hold a veto (default: all)")
    g.add_argument("--pareto", type=_lambda, metavar="λ", help="maximize profit + λ x agents' surplus (0 <= λ <= 1)")


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {v}")
    return v


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lpmech", description="Optimal mechanisms for trading with a group, by linear programming.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("solve", help="solve an instance file and print (or write) the optimal mechanism")
    p.add_argument("file", help="instance file (TOML)")
    p.add_argument("--json", metavar="PATH", help="write the result as JSON to PATH ('-' for standard output)")
    p.add_argument("--plot", metavar="PNG", help="write a figure of the allocation to PNG")
    p.add_argument("--max-profiles", type=_positive_int, default=DEFAULT_MAX_PROFILES, metavar="N",
                   help=f"refuse grids with more than N profiles (default {DEFAULT_MAX_PROFILES:,})")
    p.add_argument("--method", choices=["auto", "lp", "structured"], default="auto",
                   help="core solver: the maximin LP, the structured solver, or auto (by size; default)")
    p.add_argument("--continuous", action="store_true",
                   help="solve in the continuum (agents given by distributions; grid points are ignored)")
    _add_mechanism_options(p)
    p.set_defaults(func=_cmd_solve)
    c = sub.add_parser("compare", help="optimal value under BIC/DSIC x interim/ex-post, posted price, first best")
    c.add_argument("file", help="instance file (TOML)")
    c.add_argument("--json", metavar="PATH", help="write the table as JSON to PATH ('-' for standard output)")
    c.add_argument("--max-profiles", type=_positive_int, default=20_000, metavar="N",
                   help="refuse grids with more than N profiles (default %(default)s; the general LP grows fast)")
    c.set_defaults(func=_cmd_compare)
    f = sub.add_parser("frontier", help="the profit/surplus Pareto frontier, swept over λ")
    f.add_argument("file", help="instance file (TOML)")
    f.add_argument("--out", required=True, metavar="DIR", help="write frontier.csv and frontier.png into DIR")
    f.add_argument("--lambdas", type=_lambda, nargs="+", metavar="λ", help="the weights to solve (default: a grid on [0, 1])")
    f.add_argument("--max-profiles", type=_positive_int, default=20_000, metavar="N",
                   help="refuse grids with more than N profiles (default %(default)s)")
    f.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_mechanism_options(f)
    f.set_defaults(func=_cmd_frontier)
    v = sub.add_parser("validate", help="reproduce the theory's claims numerically and write a report")
    v.add_argument("--quick", action="store_true", help="smaller grids and samples (under 5 minutes)")
    v.add_argument("--out", default="validation-report", metavar="DIR", help="report directory (default %(default)s)")
    v.add_argument("--claim", action="append", metavar="ID", help="run only this claim (repeatable)")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    v.set_defaults(func=_cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except UsageError as err:
        print(f"{err} (see 'lpmech --help')", file=sys.stderr)
        return 2
    except InstanceError as err:
        if err.source is None and getattr(args, "file", None):
            err = err.with_source(args.file)     # raised after loading: name the file all the same
        print(f"lpmech: error: {err}", file=sys.stderr)
        return 2
    except SolverError as err:
        print(f"lpmech: solver failure: {err}", file=sys.stderr)
        return 1
    except CheckError as err:
        print(f"lpmech: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # output piped into e.g. `head`: stop quietly (Python docs, signal notes)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
