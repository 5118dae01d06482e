"""Run the benchmarks and print one table: ``python -m benchmarks [--json PATH] [--only SUITE ...]``."""

from __future__ import annotations

import argparse
import importlib
import sys

from .harness import table, write_json

SUITES = ["core", "general", "scaling", "exact", "certified", "stalls"]
#: Suites run only when named in --only ("peers": the peer table's sizes alone; "scaling" measures
#: them too, with the larger sizes and the figure).
ON_REQUEST = ["peers"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    parser.add_argument("--only", nargs="*", choices=SUITES + ON_REQUEST, help="run only these suites")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case (median reported)")
    args = parser.parse_args(argv)
    rows = []
    for suite in args.only or SUITES:
        try:
            module = importlib.import_module(f"benchmarks.{suite}")
        except ImportError as exc:
            print(f"suite {suite}: not available ({exc})", file=sys.stderr)
            continue
        try:
            suite_rows = module.run(repeats=args.repeats)
        except TypeError:
            suite_rows = module.run()
        for r in suite_rows:
            r.setdefault("suite", suite)
        rows += suite_rows
        print(
            table(
                suite_rows,
                [
                    ("instance", "instance", ""),
                    ("profiles", "profiles", ","),
                    ("method", "method", ""),
                    ("seconds", "median s", ".4g"),
                    ("runs", "runs", ""),
                    ("peak_mb", "peak MB", ".0f"),
                    ("ratio_vs_cvxpy", "cvxpy/x", ".4g"),
                    ("ratio_vs_linprog", "linprog/x", ".3g"),
                    ("floor_multiple", "x/floor", ".4g"),
                    ("ref_multiple", "x/ref", ".1f"),
                    ("exponent", "exponent", ".2f"),
                    ("target_seconds", "target s", ".1f"),
                    ("target_ratio", "time/target", ".2f"),
                    ("error", "error", ""),
                ],
            )
        )
        print()
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
