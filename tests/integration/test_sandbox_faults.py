"""Fault injection switched at run time through the admin API, proven on the carrier and the payment
gateway: injected 5xx without effect, timeout after commit, down for N seconds, latency, seeded
reproducibility, duplicated, re-ordered and retried webhooks."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import Counter

import httpx
import pytest

from sandbox.testing import WebhookReceiver

pytestmark = pytest.mark.integration

PROVIDERS = ["carrier", "payment"]  # started by the conftest sandbox fixture
SECRET = "fault-test-secret"


@pytest.fixture()
def carrier(sandbox, receiver):
    """A fresh carrier with one active line 09022220000 (callbacks after 10 ms), an empty receiver."""
    sandbox.reset("carrier", "payment")
    sandbox.configure("carrier", completion_delay_ms=10)
    receiver.clear()
    with httpx.Client(base_url=sandbox.url("carrier"), timeout=5) as client:
        assert post(client, "/lines/09022220000/activate", "act", plan="basic").status_code == 202
        receiver.wait_for(1, "/hooks/carrier")
        receiver.clear()
        yield client


def post(client: httpx.Client, path: str, key: str, timeout: float | None = None, **body) -> httpx.Response:
    return client.post(path, json=body, headers={"Idempotency-Key": key},
                       **({"timeout": timeout} if timeout else {}))


def assert_signed(hook) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, hook.headers["x-sandbox-signature"])


def test_fault_settings_are_read_changed_validated_and_reset(carrier, sandbox):
    url = sandbox.url("carrier") + "/_sandbox/faults"
    changed = sandbox.faults("carrier", latency_ms=5, error_rate=0.25, duplicate_webhooks=True, seed=7)
    bad_rate = httpx.post(url, json={"error_rate": 1.5})
    unknown = httpx.post(url, json={"explode": True})

    assert changed["latency_ms"] == 5 and changed["error_rate"] == 0.25 and changed["seed"] == 7
    assert bad_rate.status_code == 400 and unknown.status_code == 400
    assert httpx.get(url).json() == changed  # refused updates changed nothing
    sandbox.reset("carrier")
    assert httpx.get(url).json()["error_rate"] == 0.0


def test_error_rate_answers_5xx_without_effect_and_the_key_stays_unused(carrier, sandbox):
    sandbox.faults("carrier", error_rate=1.0)
    failures = [post(carrier, "/lines/09022220000/suspend", "sus-err") for _ in range(5)]
    admin_still_works = httpx.get(sandbox.url("carrier") + "/_sandbox/log")

    assert all(500 <= r.status_code < 600 for r in failures)
    assert admin_still_works.status_code == 200
    sandbox.faults("carrier", error_rate=0.0)
    assert carrier.get("/lines/09022220000").json()["state"] == "active"
    assert sandbox.effects("carrier", operation="suspend") == []
    retried = post(carrier, "/lines/09022220000/suspend", "sus-err")
    assert retried.status_code == 202 and "idempotent-replayed" not in retried.headers
    assert len(sandbox.effects("carrier", operation="suspend")) == 1


def test_error_rate_on_the_payment_gateway_charges_nothing(carrier, sandbox):
    payment = sandbox.url("payment")
    sandbox.faults("payment", error_rate=1.0)
    answer = httpx.post(f"{payment}/charges", json={"amount": 3300, "customer_ref": "C-1"},
                        headers={"Idempotency-Key": "charge-err"})

    assert answer.status_code >= 500
    sandbox.faults("payment", error_rate=0.0)
    assert httpx.get(f"{payment}/charges", params={"idempotency_key": "charge-err"}).json()["data"] == []
    assert sandbox.effects("payment") == []


def test_timeout_after_commit_applies_the_effect_but_the_caller_times_out(carrier, sandbox):
    sandbox.faults("carrier", timeout_after_commit_rate=1.0)
    with pytest.raises(httpx.TimeoutException):
        post(carrier, "/lines/09022220000/suspend", "sus-timeout", timeout=0.5)

    suspensions = sandbox.effects("carrier", operation="suspend")
    assert [e["idempotency_key"] for e in suspensions] == ["sus-timeout"]
    assert carrier.get("/lines/09022220000").json()["state"] == "suspended"  # queries are not stalled
    sandbox.faults("carrier", timeout_after_commit_rate=0.0)
    retried = post(carrier, "/lines/09022220000/suspend", "sus-timeout")
    assert retried.status_code == 202 and retried.headers["idempotent-replayed"] == "true"
    assert len(sandbox.effects("carrier", operation="suspend")) == 1


def test_down_for_seconds_answers_503_then_recovers(carrier, sandbox):
    sandbox.faults("carrier", down_for_seconds=1.0)
    down = carrier.get("/lines/09022220000")
    refused = post(carrier, "/lines/09022220000/suspend", "sus-down")

    assert down.status_code == 503 and int(down.headers["retry-after"]) >= 1
    assert refused.status_code == 503 and sandbox.effects("carrier", operation="suspend") == []
    time.sleep(1.1)
    assert carrier.get("/lines/09022220000").status_code == 200
    assert post(carrier, "/lines/09022220000/suspend", "sus-down").status_code == 202


def test_latency_delays_every_api_answer(carrier, sandbox):
    sandbox.faults("carrier", latency_ms=300)
    started = time.monotonic()
    assert carrier.get("/lines/09022220000").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_a_seed_makes_the_injected_errors_reproducible(carrier, sandbox):
    def run() -> list[int]:
        sandbox.faults("carrier", error_rate=0.5, seed=1234)
        return [carrier.get("/lines/09022220000").status_code for _ in range(20)]

    first, second = run(), run()

    assert first == second
    assert 200 in first and any(code >= 500 for code in first)


def test_duplicate_webhooks_arrive_twice_with_the_same_event_id_and_valid_signatures(carrier, sandbox, receiver):
    sandbox.faults("carrier", duplicate_webhooks=True)
    post(carrier, "/lines/09022220000/suspend", "dup-1")
    post(carrier, "/lines/09022220000/resume", "dup-2")

    hooks = receiver.wait_for(4, "/hooks/carrier")
    time.sleep(0.2)  # nothing beyond the duplicates
    hooks = receiver.requests("/hooks/carrier")
    ids = Counter(hook.json()["id"] for hook in hooks)

    assert len(hooks) == 4 and sorted(ids.values()) == [2, 2]
    for hook in hooks:
        assert_signed(hook)
    copies = {}
    for hook in hooks:
        copies.setdefault(hook.json()["id"], set()).add(hook.body)
    assert all(len(bodies) == 1 for bodies in copies.values())  # the very same signed body
    assert len(sandbox.effects("carrier", operation="suspend")) == 1


def test_reordered_webhooks_arrive_out_of_order_and_all_of_them(carrier, sandbox, receiver):
    sandbox.faults("carrier", reorder_webhooks=True, reorder_window_ms=300, seed=99)
    for n in range(6):
        post(carrier, "/lines/09022220000/throttle", f"thr-{n}", enabled=n % 2 == 0)

    hooks = receiver.wait_for(6, "/hooks/carrier")
    sequences = [hook.json()["sequence"] for hook in hooks]

    assert sorted(sequences) == [2, 3, 4, 5, 6, 7]  # 1 was the activation
    assert sequences != sorted(sequences)
    for hook in hooks:
        assert_signed(hook)


def test_a_failed_delivery_is_retried_with_the_same_event_id(sandbox):
    sandbox.reset("carrier")
    sandbox.configure("carrier", completion_delay_ms=10)
    with WebhookReceiver(fail_first=1) as flaky:
        sandbox.configure("carrier", webhook_url=flaky.url("/flaky"))
        response = httpx.post(sandbox.url("carrier") + "/lines/09022220001/activate", json={"plan": "basic"},
                              headers={"Idempotency-Key": "act-flaky"})
        assert response.status_code == 202
        hooks = flaky.wait_for(2, "/flaky", timeout=5)

    assert hooks[0].body == hooks[1].body
    deliveries = httpx.get(sandbox.url("carrier") + "/_sandbox/webhooks").json()["deliveries"]
    assert [(d["attempt"], d["status_code"]) for d in deliveries] == [(1, 500), (2, 200)]
