"""The ``tritonhost`` command line.

``tritonhost backends`` prints the discovered backends as a table: which is
selected, whether each can run here, and why not.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tritonhost.errors import TritonhostError
from tritonhost.host import discovery, selection


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def cmd_backends(args: argparse.Namespace) -> int:
    statuses = discovery.registry().statuses
    if not statuses:
        print(
            f"no tritonhost backend is installed (no plugin was loaded from the entry-point group {discovery.ENTRY_POINT_GROUP!r}).\n"
            "Install one: pip install tritonhost-interpreter, or from a checkout pip install -e plugins/interpreter"
        )
        if os.environ.get(discovery.DISABLE_ENV):
            print(f"{discovery.DISABLE_ENV}={os.environ[discovery.DISABLE_ENV]!r} keeps plugins from loading.")
        return 1
    try:
        selected: str | None = selection.select().name
        selection_note = f"selected: {selected} ({selection.ENV_VAR}={selection.requested_backend()})"
    except TritonhostError as exc:
        selected = None
        selection_note = f"selected: none. {exc}"
    rows = [["", "NAME", "DISTRIBUTION", "VERSION", "DEVICES", "USABLE", "WHY NOT"]]
    for status in selection.auto_order(statuses):
        rows.append(
            [
                "*" if status.name == selected else "",
                status.name,
                status.distribution,
                status.version,
                ",".join(status.device_types) or "-",
                "yes" if status.usable else ("broken" if status.error else "no"),
                "" if status.usable else status.reason,
            ]
        )
    print(_table(rows))
    print()
    print(selection_note)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from tritonhost import __version__

    parser = argparse.ArgumentParser(prog="tritonhost", description="Run Triton kernels on pluggable backends.")
    parser.add_argument("--version", action="version", version=f"tritonhost {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    backends = commands.add_parser("backends", help="list the installed backends and whether they run here")
    backends.set_defaults(run=cmd_backends)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except TritonhostError as exc:
        print(f"tritonhost: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
