"""The real app (reflex prod build on one port) on a seeded ledger, driven by headless Chromium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from services.config import PROJECT_ROOT
from tests.integration.conftest import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


def _run(cmd: list[str], env: dict) -> None:
    subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="session")
def app_server():
    """Migrate and seed a fresh SQLite ledger, then serve the app on a free port until the session ends."""
    workdir = Path(tempfile.mkdtemp(prefix="tsm-e2e-"))
    db_url = f"sqlite:///{workdir / 'ledger.db'}"
    port = free_port()
    env = {**os.environ, "TELECOM_DATABASE_URL": db_url, "PYTHONPATH": str(PROJECT_ROOT),
           "TELECOM_KEY_FILE": str(workdir / "encryption.keys"), "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    python = sys.executable
    _run([python, "-m", "alembic", "upgrade", "head"], env)
    _run([python, "-m", "services.demo_staff", "provision"], env)
    _run([python, "-m", "services.seed", "--customers", "80", "--lines", "200"], env)
    log = open(workdir / "reflex.log", "w")
    proc = subprocess.Popen(
        [python, "-m", "reflex", "run", "--env", "prod", "--frontend-port", str(port), "--backend-host", "127.0.0.1"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the app exited early:\n{(workdir / 'reflex.log').read_text()[-4000:]}")
            try:
                if urllib.request.urlopen(f"{base}/ping", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"the app did not start:\n{(workdir / 'reflex.log').read_text()[-4000:]}")
            time.sleep(0.5)
        yield {"base": base, "db_url": db_url}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()
