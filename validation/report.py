"""Writing the validation report: results.json, report.md and the figures' captions."""

from __future__ import annotations

import json
import os

from .common import Entry


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_cell(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_cell(x)}" for k, x in v.items()) + "}"
    return str(v).replace("|", "\\|")


def markdown_table(entries: list[Entry]) -> str:
    rows = ["| claim | instance | expected | measured | tolerance | passed |", "| --- | --- | --- | --- | --- | --- |"]
    for e in entries:
        rows.append(
            "| "
            + " | ".join(
                [
                    e.claim,
                    _cell(e.instance),
                    _cell(e.expected),
                    _cell(e.measured),
                    _cell(e.tolerance),
                    "yes" if e.passed else "**NO**",
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def write(
    out_dir: str,
    entries: list[Entry],
    figures: list[tuple[str, str]],
    seconds: float,
    quick: bool,
    timings: dict[str, float],
) -> None:
    with open(os.path.join(out_dir, "results.json"), "w") as fh:
        json.dump([e.to_dict() for e in entries], fh, indent=1)
    passed = sum(e.passed for e in entries)
    lines = [
        "# lpmech validation report",
        "",
        f"Mode: {'quick' if quick else 'full'}; {len(entries)} entries, {passed} passed, "
        f"{len(entries) - passed} failed; run time {seconds:.1f} s.",
        "",
        "Each entry compares what the theory (docs/model.md, section 8) expects with what lpmech "
        "measured on the instance named. Notes give the numbers behind each verdict.",
        "",
        markdown_table(entries),
        "",
        "## Notes",
        "",
    ]
    for e in entries:
        if e.note:
            lines.append(f"- **{e.claim}** — {_cell(e.instance)}: {e.note}")
    lines += ["", "## Time per claim", ""]
    lines += [f"- {claim}: {t:.1f} s" for claim, t in timings.items()]
    lines += ["", "## Figures", ""]
    for name, caption in figures:
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    with open(os.path.join(out_dir, "report.md"), "w") as fh:
        fh.write("\n".join(lines) + "\n")
