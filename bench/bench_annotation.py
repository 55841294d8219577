"""A full coder-confirmation cycle for 200 passages against a real Label Studio.

Uses the server at LABEL_STUDIO_URL when it answers with LABEL_STUDIO_USER_TOKEN,
otherwise starts a throwaway one (temporary data dir, free loopback port) and stops it
afterwards. Times: enqueue, push (route, with predictions and 20% overlap), the coders'
annotations (made through the API, reported separately: it is the coders' time, not
ours), pull, reconcile; and push + pull, the figure the issue asks for.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

N_PASSAGES = 200
PER_REPORT = 20


@contextmanager
def _env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _store(n: int) -> list[str]:
    from corpus.document import passage_id
    from corpus.store.db import session_scope
    from corpus.store.schema import Passage, Report

    ids: list[str] = []
    with session_scope() as session:
        for r in range(n // PER_REPORT):
            rid = hashlib.sha256(f"bench {r} {uuid.uuid4()}".encode()).hexdigest()
            session.add(Report(id=rid, filename=f"bench_{r}.pdf", title=f"Bench review {r}",
                               page_count=30, text="", meta={}, parser_version="bench"))
            session.flush()
            for k in range(PER_REPORT):
                body = (f"The health visitor shared concerns with the GP about the baby's "
                        f"weight, but the GP assumed children's social care knew ({r}.{k}).")
                pid = passage_id(rid, k * 1000, k * 1000 + len(body))
                session.add(Passage(id=pid, report_id=rid, section_type="analysis",
                                    heading="Analysis", ordinal=k, number=f"5.{k}", text=body,
                                    start_char=k * 1000, end_char=k * 1000 + len(body),
                                    page_start=5 + k // 4, page_end=5 + k // 4, sentences=[]))
                ids.append(pid)
    return ids


def _suggestion(pid: str, n: int) -> dict:
    from corpus.codebook import load_codebook

    cb = load_codebook()
    stages = cb.stage_ids
    return {"id": pid, "model_version": "bench-1",
            "vivid": {"score": 0.5 + (n % 50) / 100, "selected": True},
            "stage": [{"id": s, "score": (0.6 if i == n % 7 else 0.4 / 6)}
                      for i, s in enumerate(stages)],
            "pairings": [{"id": "health_visitor>gp", "score": 0.8, "selected": True},
                         {"id": "gp>csc", "score": 0.3, "selected": False}],
            "issue": [{"id": "other", "score": 0.7}, {"id": cb.issue_ids[0], "score": 0.2}],
            "reasons": [{"id": "roles_unclear", "score": 0.7, "selected": True}]}


def _cycle(url: str, token: str) -> None:
    from annotation.client import connect
    from annotation.outbox import enqueue_suggestions
    from annotation.pull import pull
    from annotation.reconcile import reconcile
    from annotation.routing import route
    from corpus.settings import reset_settings
    from corpus.store.db import dispose_all, session_scope
    from corpus.store.schema import Task

    with tempfile.TemporaryDirectory() as tmp, _env(
            VIVID_DATA_DIR=str(Path(tmp) / "data"), LABEL_STUDIO_URL=url,
            LABEL_STUDIO_USER_TOKEN=token, VIVID_LS_PROJECT=f"bench {uuid.uuid4().hex[:6]}"):
        os.environ.pop("VIVID_DATABASE_URL", None)
        reset_settings()
        ids = _store(N_PASSAGES)
        t = time.perf_counter()
        queued = enqueue_suggestions([_suggestion(p, n) for n, p in enumerate(ids)])
        t_enqueue = time.perf_counter() - t

        t = time.perf_counter()
        routed = route()
        t_push = time.perf_counter() - t
        assert routed.error is None and routed.pushed == N_PASSAGES, routed

        ls = connect()
        with session_scope() as s:
            tasks = [(x.ls_task_id, x.passage_id) for x in s.query(Task).all()]
        t = time.perf_counter()
        for task_id, _ in tasks:
            predicted = ls.sdk.tasks.get(str(task_id)).predictions[0].result
            ls.sdk.annotations.create(task_id, result=predicted, lead_time=20.0)
        t_annotate = time.perf_counter() - t

        t = time.perf_counter()
        pulled = pull()
        t_pull = time.perf_counter() - t
        assert pulled.error is None and pulled.new == N_PASSAGES, pulled
        t = time.perf_counter()
        rec = reconcile()
        t_reconcile = time.perf_counter() - t
        dispose_all()
    reset_settings()
    print(f"passages: {N_PASSAGES} ({queued} queued), {routed.overlapped} for two coders")
    print(f"enqueue:         {t_enqueue:6.2f} s")
    print(f"push (route):    {t_push:6.2f} s  ({N_PASSAGES / t_push:5.1f} tasks/s)")
    print(f"coders (API):    {t_annotate:6.2f} s  (not ours: {N_PASSAGES} annotations)")
    print(f"pull:            {t_pull:6.2f} s  ({N_PASSAGES / t_pull:5.1f} annotations/s)")
    print(f"reconcile:       {t_reconcile:6.2f} s  ({rec.confirmed} confirmed, "
          f"{rec.pending} waiting for a second coder)")
    print(f"push + pull:     {t_push + t_pull:6.2f} s  (+ reconcile "
          f"{t_push + t_pull + t_reconcile:.2f} s)")


def run() -> None:
    from annotation import server
    from annotation.client import LabelStudioError, connect
    from corpus.settings import get_settings

    s = get_settings()
    if s.label_studio_token and server.healthy(s.label_studio_url):
        try:
            connect()
            print(f"using the running server at {s.label_studio_url}")
            _cycle(s.label_studio_url, s.label_studio_token)
            return
        except LabelStudioError as exc:
            print(f"not using {s.label_studio_url}: {exc}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"http://127.0.0.1:{server.free_port()}"
        token = secrets.token_hex(16)
        t = time.perf_counter()
        server.start(url, Path(tmp) / "labelstudio", username="bench@vivid.local",
                     password=secrets.token_hex(12), token=token, timeout=900)
        print(f"started a throwaway server at {url} in {time.perf_counter() - t:.1f} s")
        try:
            _cycle(url, token)
        finally:
            server.stop(Path(tmp) / "labelstudio")


if __name__ == "__main__":
    run()
