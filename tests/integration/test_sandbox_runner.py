"""`python -m sandbox` as a real process: every provider on consecutive loopback ports in well under 5 s,
a table of provider -> URL, webhook targets from flags and environment, `--only`, and a clean stop on
SIGTERM."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from sandbox.base import PROVIDER_NAMES
from sandbox.testing import PROJECT_ROOT, SandboxProcess, WebhookReceiver

pytestmark = pytest.mark.integration


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_every_provider_starts_quickly_on_consecutive_ports_and_stops_on_sigterm():
    sandbox = SandboxProcess(webhook_base="http://127.0.0.1:3000/api/webhooks",
                             env={"SANDBOX_WEBHOOK_URL_KYC": "http://127.0.0.1:3999/kyc-hooks"},
                             extra_args=["--webhook-url", "bank=http://127.0.0.1:3998/bank"]).start()
    try:
        table = sandbox.output()
        assert sandbox.started_in < 5
        for index, name in enumerate(PROVIDER_NAMES):
            url = f"http://127.0.0.1:{sandbox.base_port + index}"
            assert sandbox.url(name) == url
            assert any(line.split()[:2] == [name, url] for line in table.splitlines()), table
            health = httpx.get(f"{url}/_sandbox/health", timeout=5).json()
            assert health == {"provider": name, "ok": True}
            assert httpx.get(f"{url}/_sandbox/faults", timeout=5).json()["error_rate"] == 0.0
        assert "http://127.0.0.1:3000/api/webhooks/carrier" in table  # --webhook-base
        assert "http://127.0.0.1:3999/kyc-hooks" in table  # SANDBOX_WEBHOOK_URL_KYC
        assert "http://127.0.0.1:3998/bank" in table  # --webhook-url
        assert "sandbox-dev-webhook-secret" not in table  # no well-known secret any more
        assert "random for this run" in table  # no secrets given: each provider makes up its own
        assert f"smtp://127.0.0.1:{sandbox.smtp_port}" in table
        with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=5) as smtp:
            assert smtp.noop()[0] == 250
        index = httpx.get(sandbox.url("payment") + "/", timeout=5).json()
        assert "POST /charges" in index["endpoints"]
    finally:
        code = sandbox.stop()
    assert code == 0
    assert "sandbox stopped" in sandbox.output()
    assert not any(listening(sandbox.base_port + i) for i in range(len(PROVIDER_NAMES) + 1))


def test_only_starts_the_named_providers_on_their_usual_ports():
    with SandboxProcess(only=["carrier", "messaging"]) as sandbox:
        assert httpx.get(sandbox.url("carrier") + "/_sandbox/health", timeout=5).status_code == 200
        assert httpx.get(sandbox.url("messaging") + "/_sandbox/health", timeout=5).status_code == 200
        assert not listening(sandbox.base_port + PROVIDER_NAMES.index("payment"))
        assert "payment" not in sandbox.output()


def test_an_unknown_provider_is_refused():
    result = subprocess.run([sys.executable, "-m", "sandbox", "--only", "telegraph"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "unknown providers: telegraph" in result.stderr


def test_a_port_already_taken_fails_the_start_instead_of_hanging():
    with socket.socket() as taken:
        sandbox = SandboxProcess(only=["carrier"])
        taken.bind(("127.0.0.1", sandbox.base_port))
        taken.listen()
        with pytest.raises(RuntimeError, match="exited during start-up"):
            sandbox.start(timeout=15)
        assert sandbox.stop() == 1


def test_a_sandbox_stopped_with_open_connections_starts_again_at_once_on_the_same_ports():
    first = SandboxProcess(only=["carrier"]).start()
    with httpx.Client(timeout=5) as keep_alive:  # the server closes this connection when it stops: TIME_WAIT
        assert keep_alive.get(first.url("carrier") + "/_sandbox/health").status_code == 200
        assert first.stop() == 0
    with socket.socket() as plain:  # what a restart right after a stop meets
        with pytest.raises(OSError):
            plain.bind(("127.0.0.1", first.base_port))

    again = SandboxProcess(only=["carrier"])
    again.base_port = first.base_port
    again.args[again.args.index("--base-port") + 1] = str(first.base_port)
    with again:
        assert httpx.get(again.url("carrier") + "/_sandbox/health", timeout=5).status_code == 200


def test_sigterm_does_not_wait_for_a_stalled_request():
    sandbox = SandboxProcess(only=["carrier"]).start()
    sandbox.faults("carrier", timeout_after_commit_rate=1.0, stall_seconds=60)
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(httpx.post(sandbox.url("carrier") + "/lines/09033330000/activate", json={"plan": "x"},
                                      headers={"Idempotency-Key": "stall"}, timeout=30))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while not sandbox.effects("carrier") and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    code = sandbox.stop()
    caller.join(timeout=10)

    assert code == 0 and time.monotonic() - started < 3
    assert outcome and not (isinstance(outcome[0], httpx.Response) and outcome[0].is_success)


def test_a_sandbox_started_by_tests_goes_away_when_its_parent_is_killed(tmp_path):
    script = ("import time\nfrom sandbox.testing import SandboxProcess\n"
              "s = SandboxProcess(only=['kyc']).start()\nprint(s.url('kyc'), flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TMPDIR": str(tmp_path)})
    try:
        url = parent.stdout.readline().strip()
        assert httpx.get(f"{url}/_sandbox/health", timeout=5).status_code == 200
    finally:
        parent.kill()
        parent.wait(timeout=10)
    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 5
    while listening(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not listening(port)


def test_each_provider_signs_its_webhooks_with_its_own_secret_from_the_installation_file(tmp_path):
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"webhook_carrier": "c" * 43, "webhook_monitoring": "m" * 43}))
    with WebhookReceiver() as receiver, SandboxProcess(only=["carrier", "monitoring"], webhook_base=receiver.url(),
                                                       secrets_file=secrets_file) as sandbox:
        activated = httpx.post(sandbox.url("carrier") + "/lines/09011119999/activate", timeout=5,
                               json={"plan": "data-3gb", "iccid": "8981100000000000019"},
                               headers={"Idempotency-Key": "act-secret-file"})
        incident = httpx.post(sandbox.url("monitoring") + "/_sandbox/events", timeout=5,
                              json={"kind": "outage", "title": "テスト"})
        assert activated.status_code == 202 and incident.status_code < 300
        hooks = {hook.path.rsplit("/", 1)[-1]: hook for hook in receiver.wait_for(2)}
        assert "from " + str(secrets_file) in sandbox.output()

    def signed_with(secret: str, hook) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), hook.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, hook.headers["x-sandbox-signature"])

    assert signed_with("c" * 43, hooks["carrier"]) and not signed_with("m" * 43, hooks["carrier"])
    assert signed_with("m" * 43, hooks["monitoring"]) and not signed_with("c" * 43, hooks["monitoring"])
