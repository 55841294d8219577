"""Parse speed and memory on the sample reports, against plain pdfminer text extraction.

Prints per-page times for ``pdfminer.high_level.extract_text`` and for our
read+clean+segment (the same files, interleaved in the same run, best of a few rounds),
their ratio (goal <= 1.5x), the full ``parse_report`` (with passages, sentences and
metadata), and peak memory (tracemalloc for one parse; the process's max RSS).
"""

from __future__ import annotations

import logging
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from pdfminer.high_level import extract_text

from corpus.parse import parse_layout, parse_report
from corpus.pdf import read_pdf

SAMPLES = Path(__file__).resolve().parent.parent / "corpus" / "samples"
ROUNDS = 3


def _sample_pdfs() -> list[Path]:
    pdfs = sorted(SAMPLES.glob("*.pdf"))
    if pdfs:
        return pdfs
    from corpus.synth import load_spec, render_spec

    out = Path(tempfile.mkdtemp(prefix="vivid-bench-"))
    return [render_spec(load_spec(p), out / f"{p.stem}.pdf")
            for p in sorted((SAMPLES / "specs").glob("*.json"))]


def _timed(fn, files: list[Path]) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    for f in files:
        fn(f)
    return time.perf_counter() - t0


def run() -> None:
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    files = _sample_pdfs()
    pages = sum(len(read_pdf(f).pages) for f in files)
    t0 = time.perf_counter()
    parse_report(files[0])  # loads spaCy and the heading typer once
    print(f"first parse (loads spaCy, heading typer): {time.perf_counter() - t0:.2f} s")
    base, ours, full = [], [], []
    for _ in range(ROUNDS):
        base.append(_timed(extract_text, files))
        ours.append(_timed(parse_layout, files))
        full.append(_timed(parse_report, files))
    b, o, f = min(base), min(ours), min(full)
    print(f"{len(files)} sample PDFs, {pages} pages, best of {ROUNDS} rounds")
    print(f"pdfminer extract_text       {1000 * b / pages:7.1f} ms/page")
    print(f"parse+clean+segment         {1000 * o / pages:7.1f} ms/page")
    print(f"parse_report (all of it)    {1000 * f / pages:7.1f} ms/page")
    print(f"ratio parse+clean+segment / extract_text = {o / b:.2f}x (goal <= 1.5x)")
    print(f"ratio parse_report / extract_text        = {f / b:.2f}x")
    biggest = max(files, key=lambda p: p.stat().st_size)
    tracemalloc.start()
    parse_report(biggest)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    extract_text(biggest)
    _, base_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB (bytes on macOS)
    print(f"peak Python memory parsing {biggest.name}: {peak / 2**20:.1f} MiB "
          f"(extract_text: {base_peak / 2**20:.1f} MiB)")
    print(f"process max RSS (spaCy, heading typer and all): "
          f"{rss / (2**20 if sys.platform == 'darwin' else 1024):.0f} MiB")


if __name__ == "__main__":
    run()
