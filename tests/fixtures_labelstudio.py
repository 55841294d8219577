"""One real Label Studio server per test session, coders who annotate through the API,
and a small store of reports, passages and suggestions to route.

The server starts once (a minute or two the very first time on a machine, while Label
Studio migrates its database; seconds afterwards, from the cached empty database) on a
free loopback port with a temporary data dir. Each test gets its own project title, so
tests never see each other's tasks.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from annotation import server
from annotation.client import LS
from annotation.config import Coded, to_results
from corpus.codebook import load_codebook
from corpus.document import passage_id
from corpus.settings import get_settings, reset_settings
from corpus.store.db import session_scope
from corpus.store.schema import Passage, Report

ADMIN = "admin@vivid.test"
ADMIN_PASSWORD = "vivid-admin-pass-1"
ADMIN_TOKEN = "vivid-test-token-0123456789"
CODER_PASSWORD = "coder-pass-123456"


@dataclass
class LabelStudioServer:
    url: str
    token: str
    data_dir: Path

    def client(self, token: str | None = None) -> LS:
        return LS(self.url, token or self.token)

    def stop(self) -> None:
        server.stop(self.data_dir)

    def start(self) -> None:
        server.start(self.url, self.data_dir, username=ADMIN, password=ADMIN_PASSWORD,
                     token=self.token, timeout=900)

    def ensure_running(self) -> None:
        if not server.healthy(self.url):
            self.start()


@dataclass
class Coder:
    email: str
    token: str
    ls: LS

    def annotate(self, task_id: int, coded: Coded | None = None, *, lead_time: float = 30.0,
                 cancelled: bool = False, result: list[dict] | None = None) -> int:
        """Submit an annotation as this coder (a skip when ``cancelled``)."""
        if result is None:
            codebook = load_codebook(get_settings().codebook_path)
            result = [] if cancelled else to_results(coded or Coded(vivid="no"), codebook)
        ann = self.ls.sdk.annotations.create(task_id, result=result, lead_time=lead_time,
                                             was_cancelled=cancelled)
        return int(ann.id)


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory) -> LabelStudioServer:
    """The session's Label Studio server (stopped at the end of the session)."""
    if not (server.ls_venv() / "bin" / "label-studio").exists():
        pytest.fail(f"Label Studio is not installed in {server.ls_venv()}: "
                    "run `make labelstudio-env`")
    data_dir = tmp_path_factory.mktemp("labelstudio")
    url = f"http://127.0.0.1:{server.free_port()}"
    ls = LabelStudioServer(url=url, token=ADMIN_TOKEN, data_dir=data_dir)
    ls.start()
    yield ls
    ls.stop()


@pytest.fixture
def ls_env(labelstudio, monkeypatch) -> LabelStudioServer:
    """The session server, running, with this test's own project title in the settings."""
    labelstudio.ensure_running()
    monkeypatch.setenv("LABEL_STUDIO_URL", labelstudio.url)
    monkeypatch.setenv("LABEL_STUDIO_USER_TOKEN", labelstudio.token)
    monkeypatch.setenv("LABEL_STUDIO_USERNAME", ADMIN)
    monkeypatch.setenv("LABEL_STUDIO_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("VIVID_LS_PROJECT", f"vivid test {uuid.uuid4().hex[:8]}")
    reset_settings()
    return labelstudio


def sign_up(ls: LabelStudioServer, email: str, password: str = CODER_PASSWORD) -> Coder:
    """Create a Label Studio user the way a coder does (the sign-up form) and fetch the
    user's own API token, so that annotations are made as that user."""
    with httpx.Client(base_url=ls.url, follow_redirects=False, timeout=30) as web:
        web.get("/user/signup/")
        reply = web.post("/user/signup/", data={
            "email": email, "password": password,
            "csrfmiddlewaretoken": web.cookies.get("csrftoken", "")},
            headers={"Referer": f"{ls.url}/user/signup/"})
        if reply.status_code != 302:  # already signed up: log in instead
            web.get("/user/login/")
            reply = web.post("/user/login/", data={
                "email": email, "password": password,
                "csrfmiddlewaretoken": web.cookies.get("csrftoken", "")},
                headers={"Referer": f"{ls.url}/user/login/"})
        assert reply.status_code == 302, f"cannot sign up or log in {email}"
        token = web.get("/api/current-user/token").json()["token"]
    return Coder(email=email, token=token, ls=LS(ls.url, token))


@pytest.fixture(scope="session")
def coders(labelstudio) -> dict[str, Coder]:
    """Two coders and an adjudicator, real Label Studio users with their own tokens."""
    return {name: sign_up(labelstudio, f"{name}@vivid.test")
            for name in ("alice", "bob", "carol")}


# --- store content -------------------------------------------------------------------
def make_store(url: str | None, reports: int = 1, per_report: int = 5) -> list[str]:
    """Reports with passages inserted through the ORM; returns the passage ids in order."""
    ids: list[str] = []
    with session_scope(url) as session:
        for r in range(reports):
            rid = hashlib.sha256(f"report {r} {uuid.uuid4()}".encode()).hexdigest()
            text_parts, passages, pos = [], [], 0
            for n in range(per_report):
                body = (f"Paragraph {n + 1} of report {r + 1}. The school DSL telephoned the "
                        f"MASH about bruising to the child, but the call was logged as "
                        f"information only and no strategy discussion followed ({n}).")
                start, end = pos, pos + len(body)
                text_parts.append(body)
                pos = end + 2
                pid = passage_id(rid, start, end)
                passages.append(Passage(
                    id=pid, report_id=rid, section_id=None, section_type="analysis",
                    heading="Analysis of practice", ordinal=n, number=f"4.{n + 1}",
                    text=body, start_char=start, end_char=end, page_start=3 + n // 3,
                    page_end=3 + n // 3, sentences=[[start, end]]))
                ids.append(pid)
            session.add(Report(id=rid, filename=f"report_{r}.pdf", source=None,
                               title=f"Serious Case Review: Child {chr(65 + r)}",
                               board="Testshire SCB", year=2015 + r, page_count=10,
                               text="\n\n".join(text_parts), meta={}, parser_version="test"))
            session.flush()
            session.add_all(passages)
    return ids


def suggestion(pid: str, *, vivid: float = 0.9, selected: bool = True,
               stage: str = "C", stage_score: float = 0.7, version: str = "test-1",
               pairings: tuple[str, ...] = ("school>csc",), issue: str = "other",
               reasons: tuple[str, ...] = ("roles_unclear",)) -> dict:
    """A suggestion in the `vivid suggest` contract format."""
    cb = load_codebook()
    others = [s for s in cb.stage_ids if s != stage]
    rest = (1.0 - stage_score) / len(others)
    return {
        "id": pid, "model_version": version,
        "vivid": {"score": vivid, "selected": selected},
        "stage": [{"id": stage, "score": stage_score}] + [{"id": s, "score": rest}
                                                          for s in others],
        "pairings": [{"id": p, "score": 0.8, "selected": True} for p in pairings]
        + [{"id": "gp>health_visitor", "score": 0.1, "selected": False}],
        "issue": [{"id": issue, "score": 0.6}] + [{"id": i, "score": 0.4 / 14}
                                                  for i in cb.issue_ids if i != issue][:3],
        "reasons": [{"id": r, "score": 0.7, "selected": True} for r in reasons]
        + [{"id": "workload_capacity", "score": 0.2, "selected": False}],
    }
