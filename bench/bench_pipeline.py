"""Dask scale-out of parsing: 40 generated reports, 1 worker process against 2.

For each cluster size (single-threaded worker processes, started and warmed up first):

* parse: a flow that submits the ingest flow's own ``parse-report`` task for every
  report to the DaskTaskRunner (cache bypassed) and waits for all of them — the
  CPU-bound part that scale-out is for; the headline speed-up (goal >= 1.7x on 2 cores);
* ingest: the whole ``ingest`` flow into a fresh store (no suggestions, no routing).
  Storing stays in the flow's process, which already overlaps with one worker, so this
  speed-up is lower on a 2-core machine.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

N_REPORTS = 40
WORKERS = (1, 2)
_TMP = Path(tempfile.mkdtemp(prefix="vivid-bench-pipeline-"))
os.environ.setdefault("PREFECT_HOME", str(_TMP / "prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def make_reports(folder: Path, n: int = N_REPORTS) -> list[Path]:
    """n distinct reports rendered from the sample specs (titles and numbering varied)."""
    from corpus.settings import PROJECT_ROOT
    from corpus.synth import render_spec

    specs = [json.loads(p.read_text(encoding="utf-8"))
             for p in sorted((PROJECT_ROOT / "corpus" / "samples" / "specs").glob("*.json"))]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        spec = copy.deepcopy(specs[i % len(specs)])
        spec["title"] = f"{spec.get('title') or 'Serious Case Review'} ({i + 1})"
        spec["numbered_paragraphs"] = bool(i % 2)
        out.append(render_spec(spec, folder / f"report_{i + 1:02d}.pdf"))
    return out


def _warm() -> None:
    import corpus.parse  # noqa: F401
    import pipeline.flows.ingest  # noqa: F401


def parse_all(paths: list[str]) -> int:
    """Parse every report on the flow's task runner; returns the number of passages."""
    from pipeline.flows.ingest import parse_task
    from pipeline.flows.sources import sha256_file

    parse = parse_task.with_options(refresh_cache=True)
    futures = [parse.submit(p, sha256_file(p), p) for p in paths]
    return sum(len(f.result().passages) for f in futures)


def timed_runs(inbox: Path, workers: int) -> dict[str, float]:
    from distributed import Client, LocalCluster
    from prefect import flow
    from prefect_dask import DaskTaskRunner

    from corpus.settings import reset_settings
    from corpus.store.db import dispose_all
    from pipeline.flows import progress
    from pipeline.flows.ingest import ingest_flow

    os.environ["VIVID_DATA_DIR"] = str(_TMP / f"data-{workers}")
    reset_settings()
    dispose_all()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(_warm)
        marks: dict[str, float] = {}

        def listen(event: str, data: dict) -> None:
            if event == "parsing":
                marks["start"] = time.perf_counter()
            elif event == "report":
                marks["end"] = time.perf_counter()

        runner = DaskTaskRunner(address=cluster.scheduler_address)
        paths = sorted(str(p) for p in inbox.glob("*.pdf"))
        parse_flow = flow(name="bench-parse")(parse_all).with_options(task_runner=runner)
        t0 = time.perf_counter()
        passages = parse_flow(paths)
        t_parse = time.perf_counter() - t0
        t0 = time.perf_counter()
        with progress.listening(listen):
            summary = ingest_flow.with_options(task_runner=runner)(
                inbox=str(inbox), suggest=False, route=False, refresh_cache=True)
        t_ingest = time.perf_counter() - t0
    assert summary["new"] == len(paths) and summary["passages"] == passages, summary
    return {"parse": t_parse, "ingest": t_ingest, "passages": passages,
            "phase": marks.get("end", 0) - marks.get("start", 0)}


def run() -> None:
    from pipeline.flows.runtime import prefect_api, quiet_console

    quiet_console()
    inbox = _TMP / "inbox"
    t0 = time.perf_counter()
    make_reports(inbox)
    print(f"rendered {N_REPORTS} reports in {time.perf_counter() - t0:.1f} s "
          f"({sum(p.stat().st_size for p in inbox.iterdir()) / 1e6:.1f} MB)")
    results = {}
    try:
        with prefect_api():
            for w in WORKERS:
                r = results[w] = timed_runs(inbox, w)
                print(f"{w} worker process(es): parse {r['parse']:6.1f} s "
                      f"({N_REPORTS / r['parse']:.2f} reports/s); whole ingest flow "
                      f"{r['ingest']:6.1f} s ({r['passages']} passages)", flush=True)
    finally:
        shutil.rmtree(_TMP, ignore_errors=True)
    one, two = results[1], results[2]
    print(f"speed-up of 2 workers over 1: parse {one['parse'] / two['parse']:.2f}x "
          f"(goal >= 1.7x), whole ingest flow {one['ingest'] / two['ingest']:.2f}x "
          f"[{os.cpu_count()} cores]")


if __name__ == "__main__":
    run()
