"""The real app (reflex prod build on one port) on a seeded ledger, driven by headless Chromium.

TELECOM_E2E_MODE picks the running mode: "embedded" (default: SQLite ledger, SQLite broker) or
"scale-out" (PostgreSQL ledger, Redis broker, Reflex state in Redis, two Reflex backend workers;
TELECOM_E2E_BACKEND_WORKERS changes how many). `make test` runs the browser tests in both.
Every page's console and websocket frames are written under the run's work directory; a failed
test's report ends with their last lines and the app log's.
"""

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

from sandbox.testing import SandboxProcess
from services.platform import installation_secrets
from services.platform.config import PROJECT_ROOT
from tests.stack import PostgresServer, RedisServer, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]


def _run(cmd: list[str], env: dict) -> None:
    subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="session")
def app_server():
    """Migrate and seed a fresh SQLite ledger, then serve the app on a free port until the session ends."""
    workdir = Path(tempfile.mkdtemp(prefix="tsm-e2e-"))
    servers: list[PostgresServer | RedisServer] = []
    if os.environ.get("TELECOM_E2E_MODE", "embedded") == "scale-out":
        postgres, redis = PostgresServer().start(), RedisServer().start()
        servers += [postgres, redis]
        db_url, broker_url = postgres.create_database("e2e"), redis.url
        scale_out = {"REFLEX_REDIS_URL": redis.url.removesuffix("/0") + "/1",
                     "GRANIAN_WORKERS": os.environ.get("TELECOM_E2E_BACKEND_WORKERS", "2")}
    else:
        db_url, broker_url, scale_out = f"sqlite:///{workdir / 'ledger.db'}", f"sqla+sqlite:///{workdir / 'broker.db'}", {}
    _trace["dir"], _trace["app_log"] = workdir / "browser", workdir / "reflex.log"
    _trace["dir"].mkdir()
    port = free_port()
    env = {**os.environ, "TELECOM_DATABASE_URL": db_url, "PYTHONPATH": str(PROJECT_ROOT),
           "TELECOM_KEY_FILE": str(workdir / "encryption.keys"), "REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    python = sys.executable
    _run([python, "-m", "alembic", "upgrade", "head"], env)
    _run([python, "-m", "demo.staff", "provision"], env)
    _run([python, "-m", "demo.seed", "--customers", "80", "--lines", "200"], env)
    _run([python, "-m", "demo.customers", "provision"], env)
    sandbox = SandboxProcess(webhook_base=f"http://127.0.0.1:{port}/api/webhooks",
                             secrets_file=installation_secrets.secrets_file(),
                             extra_args=["--carrier-adopt-unknown-lines"]).start()
    env.update({f"TELECOM_{provider.upper()}_URL": sandbox.url(provider)
                for provider in ("carrier", "payment", "bank", "kyc", "logistics", "messaging")})
    _run([python, "scripts/sandbox_load_ledger.py", "--carrier", sandbox.url("carrier")], env)
    env.update({"TELECOM_SMTP_PORT": str(sandbox.smtp_port), "TELECOM_BROKER_URL": broker_url})
    log = open(workdir / "reflex.log", "w")
    worker = subprocess.Popen(
        [python, "-m", "celery", "-A", "services.tasks.celery_app", "worker", "-B", "--pool=threads",
         "--concurrency=2", "--loglevel=warning", "-s", str(workdir / "beat-schedule")],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    proc = subprocess.Popen(
        [python, "-m", "reflex", "run", "--env", "prod", "--frontend-port", str(port), "--backend-host", "127.0.0.1"],
        cwd=PROJECT_ROOT, env={**env, **scale_out}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
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
        if scale_out:  # the supervisor must have started the backend worker processes asked for
            workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            if len(workers) < int(scale_out["GRANIAN_WORKERS"]):
                raise RuntimeError(f"scale-out app runs {len(workers)} backend worker(s), "
                                   f"expected {scale_out['GRANIAN_WORKERS']}")
        yield {"base": base, "db_url": db_url, "env": env, "carrier": sandbox.url("carrier"), "payment": sandbox.url("payment"),
               "monitoring": sandbox.url("monitoring")}
    finally:
        for child in (proc, worker):
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        sandbox.stop()
        log.close()
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
_trace: dict[str, Path] = {}  # where this run writes page traffic, and the app's log
_csp_violations: list[str] = []  # console reports of anything the Content-Security-Policy blocked


@pytest.fixture(autouse=True)
def no_content_security_policy_violation():
    """Every browser test also checks that the app passes its own Content-Security-Policy."""
    seen = len(_csp_violations)
    yield
    assert _csp_violations[seen:] == [], "the page broke its Content-Security-Policy"


def open_context(browser, viewport: str = "desktop", **options):
    """A new browser context whose pages' console messages and websocket frames are written to a file."""
    context = browser.new_context(viewport=VIEWPORTS[viewport], **options)
    if "dir" not in _trace:
        return context
    log = open(_trace["dir"] / f"context-{len(list(_trace['dir'].iterdir())) + 1}.log", "a", encoding="utf-8")

    def write(text: str) -> None:
        log.write(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} {text[:400]}\n")
        log.flush()

    def console(message) -> None:
        write(f"console {message.type}: {message.text}")
        if "Content Security Policy" in message.text:
            _csp_violations.append(message.text)

    def watch(page) -> None:
        page.on("console", console)
        page.on("framenavigated", lambda frame: write(f"page {frame.url}") if frame == page.main_frame else None)

        def socket(ws) -> None:
            write(f"socket open {ws.url}")
            ws.on("framesent", lambda payload: write(f"socket > {payload}"))
            ws.on("framereceived", lambda payload: write(f"socket < {payload}"))
            ws.on("close", lambda _ws: write("socket closed"))
        page.on("websocket", socket)

    context.on("page", watch)
    context.on("close", lambda _context: log.close())
    return context


def ledger_engine(app_server):
    """An engine on the running app's ledger for the tests' own reads and writes. On SQLite every transaction
    starts as BEGIN IMMEDIATE, as the app's writes do: a test that reads and then writes while the app commits
    waits its turn instead of failing at once with 'database is locked' (a read snapshot cannot be upgraded)."""
    from services.platform.db import make_engine

    return make_engine(app_server["db_url"]).execution_options(sqlite_immediate=True)


def query(app_server, fn):
    """Run `fn(session)` against the running app's ledger and return what it returns (for the tests' checks)."""
    from sqlmodel import Session

    engine = ledger_engine(app_server)
    try:
        with Session(engine) as session:
            return fn(session)
    finally:
        engine.dispose()


def sign_in_customer(page, app_server, who: str) -> None:
    """On the /my sign-in page already open: the demo customer `who` ("admin" / "user") signs in with password
    and authenticator code. A code is accepted once per person, and other tests sign the same person in: the
    code used is of a 30-second step newer than the last one the ledger recorded for that person."""
    import pyotp
    from sqlmodel import select

    from demo.customers import DEMO_CUSTOMERS, DEMO_PASSWORD
    from services.models import CustomerUser

    email, _, _, secret = DEMO_CUSTOMERS[who]
    page.get_by_label("メールアドレス").fill(email, timeout=20000)  # the label is tied to its input
    page.get_by_label("パスワード").fill(DEMO_PASSWORD)
    page.click("#my-sign-in")
    page.wait_for_selector("#code", timeout=20000)
    used = query(app_server, lambda s: s.exec(select(CustomerUser.last_totp_step)
                                              .where(CustomerUser.email == email)).one()) or 0
    while int(time.time()) // 30 <= used:
        time.sleep(0.5)
    page.fill("#code", pyotp.TOTP(secret).at(int(time.time()) // 30 * 30))
    page.click("#my-verify")


def _tail(path: Path, lines: int) -> str:
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test's report ends with each page's last traffic and the app log's tail."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call" and "dir" in _trace:
        for path in sorted(_trace["dir"].glob("context-*.log")):
            report.sections.append((f"browser {path.name}", _tail(path, 30)))
        if _trace["app_log"].exists():
            report.sections.append(("app log", _tail(_trace["app_log"], 40)))


_last_totp_step: dict[str, int] = {}


def sign_in(page, base: str, role: str) -> None:
    """Sign in as the demo account of `role` with password and the current TOTP code.

    A TOTP code is accepted once, so a second sign-in of the same person waits for the next code: the
    step is taken when the code is made, not when the sign-in starts (a sign-in can span two steps).
    """
    import re

    import pyotp

    from demo.staff import DEMO_PASSWORD, DEMO_STAFF

    email, _, secret = DEMO_STAFF[role]
    page.goto(f"{base}/login")
    page.fill("#email", email, timeout=20000)  # waits until the page has loaded and enabled its form
    page.fill("#password", DEMO_PASSWORD)
    page.click("#sign-in")
    page.wait_for_selector("#code", timeout=20000)
    while int(time.time()) // 30 == _last_totp_step.get(role):
        time.sleep(0.5)
    step = int(time.time()) // 30
    _last_totp_step[role] = step
    page.fill("#code", pyotp.TOTP(secret).at(step * 30))
    page.click("#verify-code")
    page.wait_for_url(re.compile(r".*/admin/?$"), timeout=20000)
    page.wait_for_selector("#signed-in-user:has-text('@demo.example')", timeout=20000)


@pytest.fixture(scope="session")
def staff_page(app_server, browser):
    """A signed-in page per demo role, kept for the session (a TOTP code works only once)."""
    pages: dict = {}

    def get(role: str, viewport: str = "desktop"):
        if role not in pages:
            context = open_context(browser, viewport, locale="ja-JP")
            page = context.new_page()
            sign_in(page, app_server["base"], role)
            pages[role] = page
        page = pages[role]
        page.set_viewport_size(VIEWPORTS[viewport])
        return page

    yield get
    for page in pages.values():
        page.context.close()
