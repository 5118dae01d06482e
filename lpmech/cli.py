"""The ``lpmech`` command line.

``lpmech solve FILE [--json PATH|-] [--plot PNG] [--max-profiles N]``
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


def _cmd_solve(args) -> int:
    from .loader import load
    from .solver import solve

    check_output_path(args.json, "--json")
    check_output_path(args.plot, "--plot")
    instance = load(args.file)
    result = solve(instance, max_profiles=args.max_profiles)
    payload = result.to_dict()   # everything computed before anything is written
    fig = None
    if args.plot:
        from .plot import figure

        fig = figure(result)
    if args.json:
        _write_json(args.json, payload)
    if fig is not None:
        _write_figure(args.plot, fig)
    if args.json != "-":
        print(result.summary())
        for option, path in (("json", args.json), ("plot", args.plot)):
            if path:
                print(f"  wrote {option}: {path}")
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
    p.set_defaults(func=_cmd_solve)
    v = sub.add_parser("validate", help="reproduce the theory's claims numerically and write a report")
    v.add_argument("--quick", action="store_true", help="smaller grids and samples (under 5 minutes)")
    v.add_argument("--out", default="validation-report", metavar="DIR", help="report directory (default %(default)s)")
    v.add_argument("--claim", action="append", metavar="ID", help="run only this claim (repeatable)")
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    v.set_defaults(func=_cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except UsageError as err:
        print(f"{err} (see 'lpmech --help')", file=sys.stderr)
        return 2
    except InstanceError as err:
        print(f"lpmech: error: {err}", file=sys.stderr)
        return 2
    except SolverError as err:
        print(f"lpmech: solver failure: {err}", file=sys.stderr)
        return 1
    except CheckError as err:
        print(f"lpmech: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
