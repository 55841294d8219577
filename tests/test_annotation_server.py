"""The local Label Studio service: status, a second start, and refusals with clear
messages (busy port, no password, a non-loopback address)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from annotation import server
from annotation.client import LabelStudioError
from corpus.settings import reset_settings
from pipeline.cli import app
from tests.fixtures_labelstudio import ADMIN, ADMIN_PASSWORD, ADMIN_TOKEN


@pytest.mark.labelstudio
def test_status_and_a_second_start_of_the_running_server(labelstudio):
    labelstudio.ensure_running()
    info = server.status(labelstudio.data_dir)
    assert info.running and info.healthy and info.pid and info.url == labelstudio.url
    again = server.start(labelstudio.url, labelstudio.data_dir, username=ADMIN,
                         password=ADMIN_PASSWORD, token=ADMIN_TOKEN)
    assert again.pid == info.pid and again.healthy  # found running, not started twice
    assert (labelstudio.data_dir / "label_studio.sqlite3").exists()


@pytest.mark.labelstudio
def test_start_refuses_a_port_another_program_uses(labelstudio, tmp_path):
    labelstudio.ensure_running()
    with pytest.raises(LabelStudioError, match="already used by another program"):
        server.start(labelstudio.url, tmp_path / "other", username=ADMIN,
                     password=ADMIN_PASSWORD, token=ADMIN_TOKEN)


def test_start_needs_credentials_and_a_loopback_address(tmp_path, monkeypatch):
    monkeypatch.delenv("LABEL_STUDIO_PASSWORD", raising=False)
    with pytest.raises(LabelStudioError, match="LABEL_STUDIO_PASSWORD is not set"):
        server.start("http://127.0.0.1:9", tmp_path, token=ADMIN_TOKEN)
    with pytest.raises(LabelStudioError, match="shorter than 6"):
        server.start("http://127.0.0.1:9", tmp_path, password="pw", token="abc")
    with pytest.raises(LabelStudioError, match="loopback"):
        server.start("http://10.1.2.3:8080", tmp_path, password="pw", token=ADMIN_TOKEN)


def test_status_and_stop_without_a_server(tmp_path):
    assert not server.status(tmp_path).running
    assert server.stop(tmp_path) is False
    out = CliRunner().invoke(app, ["labelstudio", "status"])
    assert out.exit_code == 1 and "not running" in out.output
    out = CliRunner().invoke(app, ["labelstudio", "stop"])
    assert out.exit_code == 0 and "was not running" in out.output
    assert server.ls_version() != "unknown"


@pytest.mark.labelstudio
def test_start_command_reports_problems_in_one_line(labelstudio, monkeypatch, tmp_path):
    labelstudio.ensure_running()
    monkeypatch.setenv("LABEL_STUDIO_PASSWORD", ADMIN_PASSWORD)
    monkeypatch.setenv("LABEL_STUDIO_USER_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("LABEL_STUDIO_URL", labelstudio.url)
    reset_settings()
    out = CliRunner().invoke(app, ["labelstudio", "start"])
    assert out.exit_code == 1 and "already used by another program" in out.output
    monkeypatch.setenv("LABEL_STUDIO_URL", f"http://127.0.0.1:{server.free_port()}")
    monkeypatch.setenv("VIVID_LS_VENV", str(tmp_path / "no-venv"))
    reset_settings()
    out = CliRunner().invoke(app, ["labelstudio", "start"])
    assert out.exit_code == 1 and "make labelstudio-env" in out.output
    assert "Traceback" not in out.output


@pytest.mark.labelstudio
def test_a_second_start_with_another_token_is_refused(labelstudio):
    labelstudio.ensure_running()
    with pytest.raises(LabelStudioError, match="set up with another token"):
        server.start(labelstudio.url, labelstudio.data_dir, username=ADMIN,
                     password=ADMIN_PASSWORD, token="some-other-token-42")
