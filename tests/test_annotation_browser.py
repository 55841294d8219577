"""The labelling view in a real headless Chromium: a coder opening a routed task finds
the passage with its context and the suggestion already filled in."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from annotation.outbox import enqueue_suggestions
from annotation.routing import route
from corpus.store.db import session_scope
from corpus.store.schema import Task
from tests.fixtures_labelstudio import ADMIN, ADMIN_PASSWORD, make_store, suggestion

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser]


@pytest.fixture
def chrome():
    webdriver = pytest.importorskip("selenium.webdriver")
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        pytest.fail("chromium/chromedriver missing: run `make system-deps`")
    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1600,1200"):
        opts.add_argument(arg)
    opts.binary_location = binary
    drv = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver),
                           options=opts)
    yield drv
    drv.quit()


def test_a_routed_task_opens_prefilled(ls_env, chrome, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    ids = make_store(None, per_report=1)
    enqueue_suggestions([suggestion(ids[0], stage="C", issue="referral_logged_as_information",
                                    pairings=("school>csc", "csc>police"))])
    assert route(overlap=0.0).pushed == 1
    with session_scope() as s:
        task = s.scalars(select(Task)).one()
    chrome.get(f"{ls_env.url}/user/login/")
    chrome.find_element(By.NAME, "email").send_keys(ADMIN)
    chrome.find_element(By.NAME, "password").send_keys(ADMIN_PASSWORD)
    chrome.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
    WebDriverWait(chrome, 60).until(lambda d: "/user/login" not in d.current_url)
    chrome.get(f"{ls_env.url}/projects/{task.ls_project_id}/data?task={task.ls_task_id}")

    def checked(d) -> list[str]:
        out = []
        for el in d.find_elements(By.CSS_SELECTOR, "input:checked"):
            labels = el.find_elements(By.XPATH, "./ancestor::label[1]")
            out.append(labels[0].text if labels else "")
        return out

    WebDriverWait(chrome, 90).until(lambda d: any(t.startswith("C. Making a referral")
                                                  for t in checked(d)))
    chrome.save_screenshot(str(tmp_path / "labelling_view.png"))
    picked = checked(chrome)
    assert any(t.startswith("Yes") for t in picked)
    assert any(t.startswith("C \u00b7 Referring agencies think") for t in picked)
    assert any(t.startswith("Unclear roles or responsibilities") for t in picked)
    body = chrome.find_element(By.TAG_NAME, "body").text
    assert "Serious Case Review: Child A" in body  # the report title
    assert "Section: 4.1 Analysis of practice" in body and "page 3" in body
    assert "The school DSL telephoned the MASH" in body  # the passage
    assert "\u2192 Police" in body  # a pre-filled pairing, sender then receiver
