"""`vivid` commands for section typing of headings."""

from __future__ import annotations

import json
import sys

import typer

from corpus.headings import answer_request


def _request_id(line: str) -> object:
    """The id of a request we could not answer, when it can still be read."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    return obj.get("id") if isinstance(obj, dict) else None


def classify_headings_cmd() -> None:
    """Type report headings: JSON Lines in on stdin, one answer line out per input line.

    Each input line is {"id": ..., "headings": ["1 Introduction", "1.1 Terms of
    Reference", ...]} (optionally "levels": [1, 2, ...]); each output line is {"id": ...,
    "types": [...]} with one codebook section type per heading. Blank lines are skipped;
    every other line gets exactly one output line, in input order: a bad line is reported
    on stderr with its line number and answered with {"id": ..., "error": "..."} in its
    place, and the rest carry on. The exit status is 1 if any line was bad.
    """
    failed = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            answer = answer_request(line)
        except ValueError as exc:
            failed += 1
            print(f"stdin line {number}: {exc}", file=sys.stderr)
            answer = {"id": _request_id(line), "error": str(exc)}
        sys.stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    if failed:
        print(f"{failed} bad line(s)", file=sys.stderr)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the app."""
    app.command("classify-headings")(classify_headings_cmd)
