"""Real servers on loopback for integration tests and load runs: PostgreSQL, Redis, Celery, a webhook endpoint.

Used by the pytest fixtures (tests/integration/conftest.py), the chaos test and `make bench`.
Each server is a throwaway: started on a free port, stopped (and its files removed) afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from services.platform.config import PROJECT_ROOT
from services.workflow import webhooks

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class ServerError(RuntimeError):
    """A local server could not be started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI and developers' machines run as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PostgresServer:
    """A PostgreSQL 15 cluster in a temporary directory, listening on a free loopback port."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise ServerError("PostgreSQL 15 is not installed (make test installs it)")
        self.base = Path(tempfile.mkdtemp(prefix="tsm-pg-"))
        self.data = self.base / "data"
        self.host, self.port = "127.0.0.1", free_port()

    def start(self) -> PostgresServer:
        """initdb and start; returns self."""
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        subprocess.run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                                     "-E", "UTF8", "--locale=C.UTF-8"]), check=True, capture_output=True)
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                                     str(self.base / "log"), "-o", f"-p {self.port} -k {self.base} "
                                     "-c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start"]),
                       check=True, capture_output=True)
        return self

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        import psycopg

        admin = f"host={self.host} port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the cluster and remove its files."""
        subprocess.run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"]),
                       capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


class RedisServer:
    """A Redis server without persistence on a free loopback port; restartable on the same port."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise ServerError("redis-server is not installed (make test installs it)")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The broker URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 15) -> RedisServer:
        """Start and wait until it answers PING; returns self."""
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ServerError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Stop the server (its data is gone: there is no persistence)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port: every queued message is lost."""
        self.stop()
        self.start()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False


class WebhookEndpoint:
    """The app's webhook route for the sandbox to call: POST /api/webhooks/{provider} -> webhooks.accept."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                provider = self.path.rstrip("/").rsplit("/", 1)[-1]
                status, payload = webhooks.accept(provider, body, self.headers.get(webhooks.SIGNATURE_HEADER),
                                                  self.headers.get("Content-Type"))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/api/webhooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class CeleryProcess:
    """`celery -A services.tasks.celery_app <command>` in a subprocess (own process group) with given URLs."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, ready: str):
        self.log, self.ready = log, ready
        self.handle = log.open("a")
        self.proc = subprocess.Popen([sys.executable, "-m", "celery", "-A", "services.tasks.celery_app", *command],
                                     cwd=PROJECT_ROOT, env=env, stdout=self.handle, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until the log shows the ready line (raises with the log if the process ends first)."""
        deadline = time.monotonic() + timeout
        while self.ready not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise ServerError(f"celery did not start:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no acknowledgement, calls cut mid-flight."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.handle.close()

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), SIGKILL after 15 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if not self.handle.closed:
            self.handle.close()


def queue_tasks_on(broker_url: str) -> str:
    """Make this process queue Celery tasks (e.g. webhook processing) on `broker_url`; returns the previous URL.

    Celery keeps the producer pool of the first broker it published to, even after `app.close()`,
    so the pool is dropped here too; the next publish opens one for the new URL.
    """
    from services.tasks.celery_app import app

    previous = app.conf.broker_url
    app.close()
    app.amqp._producer_pool = None  # noqa: SLF001 (no public way to forget it)
    app.conf.broker_url = broker_url
    return previous


@contextmanager
def outbox_stack(base: Path, *, providers: list[str], name: str, env: dict[str, str] | None = None
                 ) -> Iterator[tuple[Any, WebhookEndpoint, CeleryProcess]]:
    """The outbox end to end under `base`: a migrated SQLite ledger used by this process, the sandbox of
    `providers` sending webhooks to a local endpoint, and a Celery worker (4 threads) and beat on a SQLite
    broker. Yields (sandbox, endpoint, worker); everything is stopped afterwards."""
    from sandbox.testing import SandboxProcess
    from services.platform import installation_secrets
    from services.platform.db import make_engine, use_engine
    from tests.integration.test_migrations import _upgrade

    db_url, broker_url = f"sqlite:///{base / 'ledger.db'}", f"sqla+sqlite:///{base / 'broker.db'}"
    _upgrade(db_url)
    engine = make_engine(db_url)
    use_engine(engine)
    previous_broker = queue_tasks_on(broker_url)  # accept() queues webhook processing: onto this broker
    endpoint = WebhookEndpoint()
    sandbox = SandboxProcess(only=providers, webhook_base=endpoint.base,
                             secrets_file=installation_secrets.secrets_file()).start()
    urls = {f"TELECOM_{provider.upper()}_URL": sandbox.url(provider) for provider in providers}
    worker_env = {**os.environ, **(env or {}), **urls, "PYTHONPATH": str(PROJECT_ROOT),
                  "TELECOM_DATABASE_URL": db_url, "TELECOM_BROKER_URL": broker_url}
    worker = CeleryProcess(["worker", "--pool=threads", "--concurrency=4", "--loglevel=INFO", "--without-gossip",
                            "--without-mingle", "--without-heartbeat", "-n", f"{name}@%h"],
                           worker_env, base / "worker.log", "ready.")
    beat = CeleryProcess(["beat", "--loglevel=INFO", "-s", str(base / "beat-schedule")],
                         worker_env, base / "beat.log", "beat: Starting")
    try:
        worker.wait_ready()
        beat.wait_ready()
        yield sandbox, endpoint, worker
    finally:
        beat.stop()
        worker.stop()
        sandbox.stop()
        endpoint.close()
        queue_tasks_on(previous_broker)
        use_engine(None)
        engine.dispose()
