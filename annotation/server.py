"""Run Label Studio as a local service: start, wait for /health, stop cleanly.

Label Studio lives in its own virtual environment (``.ls-venv``, made by
``scripts/labelstudio_env.sh``) so its pins never constrain the app's. It listens on a
loopback address only, keeps its data under ``<data dir>/labelstudio`` and gets its admin
user and API token from the environment (LABEL_STUDIO_USERNAME / LABEL_STUDIO_PASSWORD /
LABEL_STUDIO_USER_TOKEN); legacy API tokens are enabled for the organisation it creates
(LS 1.23 turns them off by default, ``--enable-legacy-api-token`` turns them on).

A fresh data dir needs Label Studio's ~200 database migrations, which take one to two
minutes; the migrated, still empty database is kept once per Label Studio version in a
cache folder and copied into new data dirs, so later first starts take seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from annotation.client import LabelStudioError
from corpus.settings import PROJECT_ROOT, get_settings

DB_NAME = "label_studio.sqlite3"
PID_FILE = "server.json"
LOG_FILE = "server.log"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# variables Label Studio reads under short names that a shell or CI may set for other
# reasons (HOST would become its public URL, CI loads a migration linter)
_STRIP = ("CI", "HOST", "PORT", "USERNAME", "PASSWORD", "USER_TOKEN", "DATABASE_NAME",
          "DJANGO_DB", "DEBUG", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
_MIGRATE = ("from label_studio.server import _apply_database_migrations, _setup_env; "
            "_setup_env(); _apply_database_migrations()")


@dataclass
class ServerInfo:
    """What is known about the local server."""

    url: str
    data_dir: Path
    pid: int | None = None
    running: bool = False  # our process is alive
    healthy: bool = False  # /health answers

    @property
    def log(self) -> Path:
        return self.data_dir / LOG_FILE


def ls_venv() -> Path:
    """Label Studio's virtual environment (VIVID_LS_VENV overrides the project's)."""
    return Path(os.environ.get("VIVID_LS_VENV") or PROJECT_ROOT / ".ls-venv")


def _executable() -> Path:
    exe = ls_venv() / "bin" / "label-studio"
    if not exe.exists():
        raise LabelStudioError(f"Label Studio is not installed in {ls_venv()}: "
                               "run `make labelstudio-env`")
    return exe


def ls_version() -> str:
    """The installed Label Studio version, from its dist-info folder."""
    found = sorted(ls_venv().glob("lib/python*/site-packages/label_studio-*.dist-info"))
    return found[-1].name.removeprefix("label_studio-").removesuffix(".dist-info") if found \
        else "unknown"


def server_dir(data_dir: Path | None = None) -> Path:
    """Where the server keeps its database, media, pid file and log."""
    return Path(data_dir) if data_dir else get_settings().data_dir / "labelstudio"


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if host not in LOOPBACK:
        raise LabelStudioError(f"LABEL_STUDIO_URL {url}: the local server only listens on a "
                               "loopback address (127.0.0.1)")
    return ("127.0.0.1" if host == "localhost" else host), parts.port or 8080


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (for tests and benchmarks)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # a reused pid is not our server
        try:
            text = cmdline.read_bytes().decode(errors="replace")
        except OSError:
            return False
        return "label-studio" in text or "label_studio" in text
    return True


def healthy(url: str, timeout: float = 2.0) -> bool:
    """True when /health answers 200 (the only request made outside the SDK)."""
    try:
        return httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def _read_pid(d: Path) -> dict | None:
    try:
        return json.loads((d / PID_FILE).read_text())
    except (OSError, ValueError):
        return None


def status(data_dir: Path | None = None, url: str | None = None) -> ServerInfo:
    """The state of the server whose data lives in ``data_dir``."""
    d = server_dir(data_dir)
    rec = _read_pid(d) or {}
    url = rec.get("url") or url or get_settings().label_studio_url
    pid = rec.get("pid")
    running = bool(pid) and _alive(int(pid))
    return ServerInfo(url=url, data_dir=d, pid=pid if running else None, running=running,
                      healthy=healthy(url) if running else False)


def _cache_dir() -> Path:
    base = os.environ.get("VIVID_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME") \
        or Path.home() / ".cache"
    return Path(base) / "vivid"


def _child_env(d: Path, username: str, password: str, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in _STRIP and not k.startswith(("LABEL_STUDIO_", "HEARTEX_"))}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(d),
        "LABEL_STUDIO_USERNAME": username,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",  # no network at run time
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _template_db(timeout: float) -> Path:
    """A migrated, empty Label Studio database for this version, built once."""
    template = _cache_dir() / f"labelstudio-{ls_version()}-empty.sqlite3"
    if template.exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=template.parent) as tmp:
        env = _child_env(Path(tmp), "", "", "")
        python = ls_venv() / "bin" / "python"
        proc = subprocess.run([str(python), "-c", _MIGRATE], env=env, cwd=tmp,
                              capture_output=True, text=True, timeout=timeout)
        built = Path(tmp) / DB_NAME
        if proc.returncode != 0 or not built.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            raise LabelStudioError(f"could not prepare Label Studio's database: {tail[0]}")
        os.replace(built, template)  # atomic: a concurrent builder never sees half a file
    return template


def _seed_database(d: Path, timeout: float) -> None:
    if (d / DB_NAME).exists():
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError, LabelStudioError):
        shutil.copyfile(_template_db(timeout), d / DB_NAME)
    # on any failure Label Studio migrates the database itself at start


def _log_tail(log: Path, n: int = 5) -> str:
    try:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])


def _credentials(username: str | None, password: str | None,
                 token: str | None) -> tuple[str, str, str]:
    s = get_settings()
    username = username or s.label_studio_username
    password = password or s.label_studio_password
    token = token or s.label_studio_token
    if not password:
        raise LabelStudioError("LABEL_STUDIO_PASSWORD is not set: the admin user needs one")
    if not token or len(token) < 6:
        raise LabelStudioError("LABEL_STUDIO_USER_TOKEN is not set or shorter than 6 "
                               "characters (Label Studio ignores such tokens)")
    return username, password, token


def start(url: str | None = None, data_dir: Path | None = None, *,
          username: str | None = None, password: str | None = None,
          token: str | None = None, timeout: float = 600.0) -> ServerInfo:
    """Start the server (or find it running) and wait until /health answers."""
    url = (url or get_settings().label_studio_url).rstrip("/")
    host, port = _host_port(url)
    username, password, token = _credentials(username, password, token)
    d = server_dir(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    current = status(d, url)
    if current.running:
        if current.url != url:
            raise LabelStudioError(f"a Label Studio server for {d} already runs at "
                                   f"{current.url}: stop it first")
        return _check_token(wait_until_healthy(current, timeout), token)
    if port_in_use(host, port):
        raise LabelStudioError(f"port {port} on {host} is already used by another program: "
                               "choose another port in LABEL_STUDIO_URL")
    exe = _executable()
    _seed_database(d, timeout)
    log = (d / LOG_FILE).open("ab")
    cmd = [str(exe), "start", "--no-browser", "--internal-host", host, "--port", str(port),
           "--data-dir", str(d), "--enable-legacy-api-token", "--log-level", "WARNING"]
    proc = subprocess.Popen(cmd, cwd=d, env=_child_env(d, username, password, token),
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # outlives the command that started it
    log.close()
    (d / PID_FILE).write_text(json.dumps({"pid": proc.pid, "url": url,
                                          "started": time.time()}))
    info = ServerInfo(url=url, data_dir=d, pid=proc.pid, running=True)
    return _check_token(wait_until_healthy(info, timeout, proc), token)


def _check_token(info: ServerInfo, token: str) -> ServerInfo:
    """The admin token is only applied when the user is first created: a data dir made
    with another token keeps that one, which is better said now than at the first push."""
    from annotation.client import connect

    try:
        connect(info.url, token)
    except LabelStudioError as exc:
        raise LabelStudioError(f"Label Studio runs at {info.url} but {exc} (its data dir "
                               f"{info.data_dir} was set up with another token)") from None
    return info


def wait_until_healthy(info: ServerInfo, timeout: float,
                       proc: subprocess.Popen | None = None) -> ServerInfo:
    """Poll /health; a server that dies while starting is reported with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(info.url):
            info.healthy = True
            return info
        exited = proc.poll() is not None if proc else not _alive(int(info.pid or 0))
        if exited:
            (info.data_dir / PID_FILE).unlink(missing_ok=True)
            raise LabelStudioError(f"Label Studio exited while starting (log {info.log}): "
                                   f"{_log_tail(info.log)}")
        time.sleep(0.5)
    raise LabelStudioError(f"Label Studio did not answer {info.url}/health within "
                           f"{timeout:.0f} s (log {info.log})")


def stop(data_dir: Path | None = None, timeout: float = 30.0) -> bool:
    """Stop our server (SIGTERM, then SIGKILL after ``timeout``); False if none ran."""
    d = server_dir(data_dir)
    rec = _read_pid(d)
    if not rec:
        return False
    pid = int(rec.get("pid") or 0)
    stopped = False
    if pid and _alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            _reap(pid)
            time.sleep(0.2)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.5)
        _reap(pid)
        stopped = True
    _wait_port_closed(rec.get("url"), pid, timeout)
    (d / PID_FILE).unlink(missing_ok=True)
    return stopped


def _wait_port_closed(url: str | None, pgid: int, timeout: float) -> None:
    """Workers of the server can outlive its main process: wait until the port is free."""
    if not url:
        return
    host, port = _host_port(url)
    deadline = time.monotonic() + timeout
    while port_in_use(host, port) and time.monotonic() < deadline:
        time.sleep(0.2)
    if port_in_use(host, port) and pgid:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.5)


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)

