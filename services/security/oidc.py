"""Single sign-on for staff through OpenID Connect (authorization code flow with PKCE).

Configured by TELECOM_OIDC_ISSUER, TELECOM_OIDC_CLIENT_ID and TELECOM_OIDC_CLIENT_SECRET; the
redirect URI registered with the provider is TELECOM_APP_URL + /api/auth/oidc/callback.

1. `start_authorization(client)` reads the provider's discovery document and returns the
   authorization URL plus a flow cookie: state, nonce and PKCE verifier, encrypted and
   authenticated with the ledger's Fernet keys (services.platform.crypto), valid for 10 minutes.
2. `finish_authorization(client, code=..., state=..., flow_cookie=...)` checks the state,
   exchanges the code (client secret + PKCE verifier), verifies the ID token against the
   provider's JWKS (signature RS256/ES256, iss, aud, azp, exp, iat, nonce, at_hash) with
   joserfc and Authlib's CodeIDToken rules, and maps the verified email to an ACTIVE existing
   staff user (no auto-provisioning). It returns the user id and whether the provider
   asserted MFA (`amr` contains "mfa" or "otp").

Every failure raises AuthenticationFailed with the same SSO_FAILED message; the reason goes
to the log without codes, tokens or claims. The HTTP routes are in telecom_app/api.py; the
next step (ticket or our own TOTP) is services.security.auth.continue_sso_sign_in.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import func
from sqlmodel import select

from services.models import StaffUser
from services.platform import config, crypto
from services.platform.db import read_session
from services.security.auth import SSO_FAILED, AuthenticationFailed

logger = logging.getLogger(__name__)

CALLBACK_PATH = "/api/auth/oidc/callback"
FLOW_LIFETIME_SECONDS = 600
MFA_METHODS = frozenset({"mfa", "otp"})  # `amr` values that mean the provider did a second factor
ID_TOKEN_ALGORITHMS = ("RS256", "ES256")
CLOCK_LEEWAY_SECONDS = 60
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class SsoFailed(AuthenticationFailed):
    """Single sign-on did not succeed; the message never says why (the log does)."""

    def __init__(self, log_reason: str):
        super().__init__(SSO_FAILED)
        self.log_reason = log_reason


@dataclass(frozen=True)
class OidcClient:
    """This application as a client of one OpenID provider."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str


@dataclass(frozen=True)
class AuthorizationStart:
    """Where to send the browser, and the flow cookie to set (HttpOnly, SameSite=Lax, short-lived)."""

    url: str
    flow_cookie: str


@dataclass(frozen=True)
class OidcIdentity:
    """A staff user the provider vouched for, and whether it asserted multi-factor authentication."""

    staff_user_id: int
    email: str
    mfa_asserted: bool


def configured_client() -> OidcClient | None:
    """The client from settings (TELECOM_OIDC_*), or None while single sign-on is not configured."""
    s = config.settings
    if not (s.oidc_issuer and s.oidc_client_id and s.oidc_client_secret):
        return None
    return OidcClient(issuer=s.oidc_issuer.rstrip("/"), client_id=s.oidc_client_id,
                      client_secret=s.oidc_client_secret,
                      redirect_uri=s.app_url.rstrip("/") + CALLBACK_PATH)


def is_configured() -> bool:
    """True if staff may sign in with single sign-on (the sign-in page shows the button)."""
    return configured_client() is not None


def _fail(reason: str) -> SsoFailed:
    logger.warning("OIDC sign-in refused: %s", reason)
    return SsoFailed(reason)


def _get_json(http: httpx.Client, url: str) -> dict:
    response = http.get(url, headers={"Accept": "application/json"})
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def discover(http: httpx.Client, issuer: str) -> dict:
    """The provider's discovery document; its `issuer` must be exactly the configured one."""
    metadata = _get_json(http, issuer.rstrip("/") + "/.well-known/openid-configuration")
    if metadata.get("issuer") != issuer:
        raise _fail("discovery document names another issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(metadata.get(key), str):
            raise _fail(f"discovery document lacks {key}")
    return metadata


def start_authorization(client: OidcClient) -> AuthorizationStart:
    """Begin a sign-in at the provider: the authorization URL and the encrypted flow cookie.

    Anyone may call it (the SSO button). Reads the discovery document over HTTP; writes nothing.
    Raises AuthenticationFailed (SSO_FAILED) if the provider cannot be reached.
    """
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT) as http:
            metadata = discover(http, client.issuer)
    except (httpx.HTTPError, ValueError) as exc:
        raise _fail(f"discovery failed: {type(exc).__name__}") from exc
    query = urlencode({
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": client.redirect_uri,
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    })
    endpoint = metadata["authorization_endpoint"]
    flow = crypto.encrypt(json.dumps({"iss": client.issuer, "state": state, "nonce": nonce,
                                      "verifier": verifier, "at": int(time.time())}))
    return AuthorizationStart(url=f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", flow_cookie=flow)


def _open_flow(client: OidcClient, flow_cookie: str | None, state: str | None) -> dict:
    if not flow_cookie:
        raise _fail("no flow cookie (expired or another browser)")
    try:
        flow = json.loads(crypto.decrypt(flow_cookie))
    except (crypto.EncryptionKeyMismatch, ValueError, TypeError) as exc:
        raise _fail("flow cookie not readable") from exc
    if not isinstance(flow, dict) or flow.get("iss") != client.issuer:
        raise _fail("flow cookie of another provider")
    age = time.time() - int(flow.get("at", 0))
    if not 0 <= age <= FLOW_LIFETIME_SECONDS:
        raise _fail("flow expired")
    if not state or not secrets.compare_digest(str(flow.get("state", "")), state):
        raise _fail("state mismatch")
    return flow


def _exchange_code(http: httpx.Client, client: OidcClient, metadata: dict, code: str, verifier: str) -> dict:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": client.redirect_uri,
            "code_verifier": verifier}
    methods = metadata.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    auth = None
    if "client_secret_basic" in methods:
        auth = httpx.BasicAuth(quote(client.client_id, safe=""), quote(client.client_secret, safe=""))
    else:
        form |= {"client_id": client.client_id, "client_secret": client.client_secret}
    response = http.post(metadata["token_endpoint"], data=form, auth=auth,
                         headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise _fail(f"token endpoint answered {response.status_code}")
    token = response.json()
    if not isinstance(token, dict) or not isinstance(token.get("id_token"), str):
        raise _fail("token response without id_token")
    return token


def verify_id_token(id_token: str, *, jwks: dict, client: OidcClient, nonce: str,
                    access_token: str | None = None) -> dict:
    """The claims of an ID token whose signature, iss, aud, azp, exp, iat, nonce and at_hash hold.

    Signature against the provider's JWKS (joserfc), claim rules of Authlib's CodeIDToken with
    iss and aud required to be ours. Raises AuthenticationFailed (SSO_FAILED) otherwise.
    """
    try:
        token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=list(ID_TOKEN_ALGORITHMS))
        claims = CodeIDToken(
            token.claims, token.header,
            {"iss": {"essential": True, "value": client.issuer},
             "aud": {"essential": True, "value": client.client_id},
             "sub": {"essential": True}},
            {"nonce": nonce, "client_id": client.client_id, "access_token": access_token},
        )
        claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise _fail(f"ID token rejected: {type(exc).__name__} {getattr(exc, 'description', '')}".strip()) from exc
    return dict(claims)


def _active_staff_user(email: str) -> StaffUser | None:
    with read_session() as session:
        return session.exec(select(StaffUser).where(func.lower(StaffUser.email) == email,
                                                    StaffUser.is_active == True)).first()  # noqa: E712


def finish_authorization(client: OidcClient, *, code: str | None, state: str | None,
                         flow_cookie: str | None, error: str | None = None,
                         issuer_param: str | None = None) -> OidcIdentity:
    """Complete the provider's redirect: check state, exchange the code, verify the ID token.

    Anyone may call it (the callback route). Returns the active staff user whose email the
    provider verified, and whether it asserted MFA. Unknown or disabled users, a provider
    error, a wrong state / nonce / audience / issuer / signature, an expired token or flow all
    raise the same AuthenticationFailed (SSO_FAILED). Reads only; writes nothing.
    """
    if error:
        raise _fail(f"provider returned error {error[:64]!r}")
    flow = _open_flow(client, flow_cookie, state)
    if issuer_param is not None and issuer_param != client.issuer:  # RFC 9207 mix-up defence
        raise _fail("callback names another issuer")
    if not code:
        raise _fail("callback without code")
    try:
        with httpx.Client(timeout=HTTP_TIMEOUT) as http:
            metadata = discover(http, client.issuer)
            token = _exchange_code(http, client, metadata, code, flow["verifier"])
            jwks = _get_json(http, metadata["jwks_uri"])
    except (httpx.HTTPError, ValueError) as exc:
        raise _fail(f"provider unreachable or malformed answer: {type(exc).__name__}") from exc
    claims = verify_id_token(token["id_token"], jwks=jwks, client=client, nonce=flow["nonce"],
                             access_token=token.get("access_token"))
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        raise _fail("ID token without email")
    if claims.get("email_verified") is False:
        raise _fail("email not verified by the provider")
    user = _active_staff_user(email.strip().lower())
    if user is None:
        raise _fail("no active staff user with that email")
    amr = claims.get("amr") or []
    return OidcIdentity(staff_user_id=user.id, email=user.email,
                        mfa_asserted=bool(MFA_METHODS & {str(m) for m in amr}))
