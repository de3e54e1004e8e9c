"""Test helpers: run the sandbox as a real subprocess on free loopback ports, and receive its webhooks.

    with SandboxProcess(only=["carrier"], webhook_base=receiver.url()) as sandbox:
        httpx.post(sandbox.url("carrier") + "/lines/09012345678/activate", ...)

Used by tests/integration/test_sandbox_*.py and by any integration test of the product that needs the
providers. Imports nothing from the product.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from sandbox.base import PROVIDER_NAMES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PORTS_NEEDED = len(PROVIDER_NAMES) + 1  # + SMTP


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int = PORTS_NEEDED) -> int:
    """A base port such that base .. base+count-1 are all free on 127.0.0.1 right now."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000 - count)
        if all(_port_free(base + i) for i in range(count)):
            return base
    raise RuntimeError("no free block of loopback ports")


class SandboxProcess:
    """`python -m sandbox` in a subprocess on a free block of loopback ports; stop() sends SIGTERM."""

    def __init__(self, *, only: list[str] | None = None, webhook_base: str | None = None,
                 env: dict[str, str] | None = None, extra_args: list[str] | None = None,
                 secrets_file: str | os.PathLike | None = None):
        self.only = list(only or PROVIDER_NAMES)
        self.base_port = free_port_block()
        self.smtp_port = self.base_port + len(PROVIDER_NAMES)
        self.args = [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--base-port", str(self.base_port),
                     "--only", ",".join(self.only), "--exit-with-parent"]
        if webhook_base:
            self.args += ["--webhook-base", webhook_base]
        if secrets_file:
            self.args += ["--secrets-file", str(secrets_file)]
        self.args += extra_args or []
        self.env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.output_file = tempfile.NamedTemporaryFile(prefix="sandbox-", suffix=".log", delete=False)
        self.started_in: float | None = None
        self.final_output: str | None = None

    def url(self, provider: str) -> str:
        """The base URL of `provider`."""
        return f"http://127.0.0.1:{self.base_port + PROVIDER_NAMES.index(provider)}"

    def output(self) -> str:
        """Everything the process printed so far."""
        if self.final_output is not None:
            return self.final_output
        return Path(self.output_file.name).read_text(encoding="utf-8", errors="replace")

    def start(self, timeout: float = 20.0) -> SandboxProcess:
        """Start the process and wait until it printed that every provider is ready."""
        begun = time.monotonic()
        self.proc = subprocess.Popen(self.args, cwd=PROJECT_ROOT, env=self.env, stdout=self.output_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        while "sandbox ready" not in self.output():
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"the sandbox exited during start-up:\n{self.output()}")
            if time.monotonic() - begun > timeout:
                self.stop()
                raise RuntimeError(f"the sandbox did not start within {timeout} s:\n{self.output()}")
            time.sleep(0.05)
        self.started_in = time.monotonic() - begun
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait; SIGKILL the process group if it does not stop. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        if self.final_output is None:
            self.final_output = self.output()
            self.output_file.close()
            Path(self.output_file.name).unlink(missing_ok=True)
        return self.proc.returncode

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- admin shortcuts --

    def faults(self, provider: str, **settings: Any) -> dict[str, Any]:
        """Change `provider`'s fault settings; returns the new settings."""
        response = httpx.post(f"{self.url(provider)}/_sandbox/faults", json=settings, timeout=5)
        response.raise_for_status()
        return response.json()

    def configure(self, provider: str, **settings: Any) -> dict[str, Any]:
        """Change `provider`'s run-time config (webhook_url, delays, outcomes)."""
        response = httpx.post(f"{self.url(provider)}/_sandbox/config", json=settings, timeout=5)
        response.raise_for_status()
        return response.json()

    def reset(self, *providers: str, seed: int | None = None) -> None:
        """Reset `providers` (default: every started one) to their start state."""
        for provider in providers or self.only:
            httpx.post(f"{self.url(provider)}/_sandbox/reset", json={"seed": seed}, timeout=5).raise_for_status()

    def effects(self, provider: str, **filters: str) -> list[dict[str, Any]]:
        """`provider`'s effects log, filtered by field values."""
        response = httpx.get(f"{self.url(provider)}/_sandbox/log", params=filters, timeout=5)
        response.raise_for_status()
        return response.json()["entries"]


@dataclass
class ReceivedWebhook:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)


class WebhookReceiver:
    """A tiny HTTP server on a free loopback port that records every POST and answers 200.

    `fail_first` makes it answer 500 to that many requests first (to see the sender retry).
    """

    def __init__(self, fail_first: int = 0):
        self.received: list[ReceivedWebhook] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    failing = receiver.fail_first > 0
                    if failing:
                        receiver.fail_first -= 1
                    receiver.received.append(ReceivedWebhook(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # bursts of webhooks must not overflow the listen backlog
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hooks") -> str:
        """The receiver's URL with `path`."""
        return f"http://127.0.0.1:{self.port}{path}"

    def requests(self, path: str | None = None) -> list[ReceivedWebhook]:
        """What arrived so far (only at `path` when given)."""
        with self.lock:
            return [r for r in self.received if path is None or r.path == path]

    def wait_for(self, count: int, path: str | None = None, timeout: float = 10.0) -> list[ReceivedWebhook]:
        """Wait until at least `count` requests arrived (at `path`); returns them (AssertionError on time-out)."""
        deadline = time.monotonic() + timeout
        while len(found := self.requests(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} webhooks at {path or 'any path'}, got {len(found)}")
            time.sleep(0.02)
        return found

    def clear(self) -> None:
        """Forget what arrived."""
        with self.lock:
            self.received.clear()

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
