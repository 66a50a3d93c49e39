"""The class gradebook: one CSV line per entry of the submissions folder, from the results."""

from __future__ import annotations

import csv
import io

#: a spreadsheet reads a cell that starts with one of these as a formula (=HYPERLINK(...), =cmd|...)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def _cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: ids and notes come from file names students chose."""
    return "'" + value if value.startswith(FORMULA_START) else value


def gradebook_csv(rows: list[dict], question_ids: list[str], refused=(), notes=None) -> bytes:
    """One line per entry of the submissions folder: id, score, max score, each question, status, seconds,
    and a note; an entry that was not graded (``refused``: (id, shown name, reason)) has status
    ``refused`` and the reason as its note."""
    notes = notes or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", "score", "max_score", *question_ids, "status", "execution_time", "note"])
    lines = []
    for r in rows:
        extra = r["extra_data"]
        lines.append([extra["student"], f"{r['score']:g}", f"{r['max_score']:g}",
                      *(f"{extra['questions'].get(q, {}).get('score', 0):g}" for q in question_ids),
                      extra["status"], f"{r['execution_time']:g}", notes.get(extra["student"], "")])
    for student, shown, reason in refused:
        lines.append([student, "", "", *("" for _ in question_ids), "refused", "", f"{shown}：{reason}"])
    writer.writerows([_cell(v) for v in line] for line in sorted(lines, key=lambda line: line[0]))
    return buffer.getvalue().encode("utf-8")
