"""Bad input on the public routes (webhooks, sign-in, SSO) gets a 4xx with a short message, never a 5xx.

Named cases first (deep, huge, chunked, wrong type, wrong encoding), then a fuzzing run over the same
routes with bodies, headers and query strings made up by hypothesis.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from services.integrations.http import sign
from services.platform import installation_secrets
from services.workflow import webhooks
from telecom_app.api import build_api
from telecom_app.http_policy import HttpPolicy


@pytest.fixture()
def client(engine, monkeypatch):
    monkeypatch.setattr(webhooks, "_enqueue", lambda row_id: None)
    with TestClient(HttpPolicy(build_api()), raise_server_exceptions=False) as c:
        yield c


def _signed_post(client, body: bytes, provider: str = "carrier", content_type: str | None = "application/json"):
    headers = {webhooks.SIGNATURE_HEADER: sign(body, installation_secrets.webhook_secret(provider))}
    if content_type is not None:
        headers["content-type"] = content_type
    return client.post(f"/api/webhooks/{provider}", content=body, headers=headers)


def test_a_validly_signed_body_nested_100000_levels_deep_gets_400(client):
    response = _signed_post(client, b"[" * 100_000 + b"]" * 100_000)

    assert response.status_code == 400
    assert response.json()["error"] == "too_deep"


def test_an_unsigned_deep_body_is_refused_before_it_is_read_as_json(client):
    response = client.post("/api/webhooks/carrier", content=b"{" * 100_000, headers={"content-type": "application/json"})

    assert response.status_code == 401


def test_a_body_over_the_limit_gets_413_whether_or_not_it_said_its_length(client):
    big = b'{"id": "evt", "type": "x", "pad": "' + b"a" * 300_000 + b'"}'
    said = _signed_post(client, big)
    chunked = client.post("/api/webhooks/carrier", content=iter([big[:100_000], big[100_000:]]),
                          headers={"content-type": "application/json"})

    assert said.status_code == 413 and said.json()["error"] == "too_large"
    assert chunked.status_code == 413


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=shift_jis", None])
def test_a_body_that_is_not_declared_utf8_json_gets_415(client, content_type):
    body = json.dumps({"id": "evt_type", "type": "line.operation.completed"}).encode()

    assert _signed_post(client, body, content_type=content_type).status_code == 415


@pytest.mark.parametrize("body,code", [
    ('{"id": "évt", "type": "x"}'.encode("utf-16"), "invalid_encoding"),
    (b'{"id": "\xff\xfe", "type": "x"}', "invalid_encoding"),
    (b'{"id": "evt_1", "type": ', "invalid_json"),
    (b'["id", "type"]', "not_an_object"),
    (b'"just a string"', "not_an_object"),
    (b'{"id": 12345, "type": "x"}', "invalid_event"),
    (b'{"id": "evt\\u0000nul", "type": "x"}', "invalid_event"),
    (b'{"id": "evt_1", "type": ["list"]}', "invalid_event"),
    (b'{"id": "evt_big", "type": "x", "n": ' + b"9" * 5000 + b"}", "invalid_json"),
])
def test_malformed_wrong_type_and_wrong_encoding_bodies_get_400_naming_the_problem(client, body, code):
    response = _signed_post(client, body)

    assert response.status_code == 400
    assert response.json()["error"] == code


def test_an_overlong_query_string_gets_414(client):
    assert client.get("/api/auth/complete?ticket=" + "a" * 5000, follow_redirects=False).status_code == 414


def test_every_response_carries_the_security_headers(client):
    response = client.get("/api/auth/complete?ticket=nothing", follow_redirects=False)

    assert response.status_code == 303
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp and "'unsafe-inline'" not in csp.split(
        "script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # plain http
    https = TestClient(HttpPolicy(build_api()), base_url="https://telecom.example", raise_server_exceptions=False)
    assert https.get("/api/auth/complete").headers["strict-transport-security"].startswith("max-age=")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)
_bodies = st.one_of(
    st.binary(max_size=300),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["id", "type", "data", "sequence"]), _json_values, max_size=4).map(
        lambda v: json.dumps(v).encode()),
    st.integers(min_value=1, max_value=5000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", errors="surrogatepass")),
)
_content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                  "application/json; charset=latin-1", "", "multipart/form-data; boundary=x"])
_providers = st.sampled_from([*installation_secrets.WEBHOOK_PROVIDERS, "messaging", "nobody", "..", "carrier%00"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(provider=_providers, body=_bodies, content_type=_content_types, signed=st.booleans())
def test_fuzzed_webhooks_never_get_a_5xx(client, provider, body, content_type, signed):
    secret = installation_secrets.webhook_secret(provider) or "x"
    headers = {"content-type": content_type}
    if signed:
        headers[webhooks.SIGNATURE_HEADER] = sign(body, secret)
    response = client.post(f"/api/webhooks/{provider}", content=body, headers=headers)

    assert response.status_code < 500, (response.status_code, response.text[:200])


_query_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(["/api/auth/complete", "/api/auth/oidc/login", "/api/auth/oidc/callback"]),
       params=st.dictionaries(st.sampled_from(["ticket", "code", "state", "error", "iss", "x"]), _query_text,
                              max_size=4),
       cookie=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
def test_fuzzed_sign_in_routes_never_get_a_5xx(client, route, params, cookie):
    response = client.get(route, params=params, headers={"cookie": cookie}, follow_redirects=False)

    assert response.status_code < 500, (response.status_code, response.text[:200])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(origin=st.one_of(st.none(), st.text(max_size=40)), body=st.binary(max_size=100),
       cookie=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80))
def test_fuzzed_sign_out_never_gets_a_5xx(client, origin, body, cookie):
    headers = {"cookie": cookie}
    if origin is not None:
        headers["origin"] = origin.encode("utf-8")  # raw bytes, as any client may send them
    response = client.post("/api/auth/signout", content=body, headers=headers, follow_redirects=False)

    assert response.status_code < 500, (response.status_code, response.text[:200])


# --- safe defaults -------------------------------------------------------------------------------

def _sign_in_cookie(engine, base_url: str) -> str:
    import pyotp

    from demo.staff import DEMO_PASSWORD, DEMO_STAFF
    from services.security import auth

    email, name, secret = DEMO_STAFF["support"]
    auth.provision_demo_staff(email, name, "support", DEMO_PASSWORD, secret)
    ticket = auth.verify_mfa(auth.begin_sign_in(email, DEMO_PASSWORD).challenge_token, pyotp.TOTP(secret).now())
    client = TestClient(HttpPolicy(build_api()), base_url=base_url)
    response = client.get(f"/api/auth/complete?ticket={ticket}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/admin/"
    return response.headers["set-cookie"]


@pytest.mark.parametrize("base_url,secure", [("http://localhost:3000", False), ("http://127.0.0.1:3000", False),
                                             ("https://telecom.example", True), ("http://192.168.1.20:3000", True),
                                             ("http://telecom.example", True)])
def test_the_session_cookie_is_secure_unless_served_over_plain_http_to_this_machine(engine, base_url, secure):
    cookie = _sign_in_cookie(engine, base_url)

    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert ("Secure" in cookie) is secure


@pytest.mark.parametrize("origin,warned", [("http://192.168.1.20:3000", True), ("http://telecom.example", True),
                                           ("http://localhost:3000", False), ("https://telecom.example", False)])
def test_the_sign_in_page_says_so_when_plain_http_would_lose_the_secure_cookie(origin, warned):
    import reflex as rx
    from reflex.istate.data import RouterData
    from reflex_base import constants

    import telecom_app.telecom_app  # noqa: F401  (registers the states)
    from state.auth.login import PLAIN_HTTP, LoginState

    root = rx.State(_reflex_internal_init=True)
    root.router = RouterData.from_router_data({
        constants.RouteVar.HEADERS: {"origin": origin}, constants.RouteVar.CLIENT_IP: "127.0.0.1",
        constants.RouteVar.PATH: "/login", constants.RouteVar.ORIGIN: "/login", constants.RouteVar.QUERY: {}})
    page = root.get_substate(LoginState.get_full_name().split("."))

    LoginState.reset_form.fn(page)

    assert (page.error == PLAIN_HTTP) is warned
