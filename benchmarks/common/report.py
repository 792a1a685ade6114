"""Plain-text tables, target verdicts and JSON files for benchmark results."""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmarks.common.machine import machine_lines

__all__ = ["finish", "format_table", "print_setup_table", "verdict", "write_json"]


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def format_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """Align ``rows`` under ``columns`` given as (key, heading); missing or None values show as '-'.

    Example:
        >>> print(format_table([{"path": "a", "ms": 12.5}], [("path", "path"), ("ms", "median ms")]))
        path  median ms
        a          12.5
    """
    cells = [[heading for _, heading in columns]] + [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(len(line[index]) for line in cells) for index in range(len(columns))]
    lines = []
    for line in cells:
        # First column (a name) left-aligned, numbers right-aligned so their digits line up.
        parts = [line[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def print_setup_table(results: dict, columns: list[tuple[str, str]]) -> None:
    """Print the machine, the ``setup`` line and the ``rows`` table: the head of most benchmarks' reports."""
    for line in machine_lines(results["machine"]):
        print(line)
    print(f"setup: {results['setup']}")
    print(format_table(results["rows"], columns))


def verdict(name: str, value: float, limit: float, unit: str = "") -> dict:
    """Compare a measured value with an upper-bound target; returns a record with a printable ``line``.

    Example:
        >>> verdict("fast path vs naive", 0.12, 0.15, "x")["line"]
        'fast path vs naive: 0.12x (target <= 0.15x): met'
    """
    met = value <= limit
    line = f"{name}: {value:.3g}{unit} (target <= {limit:g}{unit}): {'met' if met else 'MISSED'}"
    return {"name": name, "value": value, "limit": limit, "met": met, "line": line}


def write_json(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` as indented JSON, creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def finish(results: dict, print_results, json_path: str | None) -> int:
    """Every benchmark's ending: print the report, write ``--json`` when asked, exit status 0."""
    print_results(results)
    if json_path:
        write_json(json_path, results)
    return 0
