"""A small local OpenID provider for trying and testing staff single sign-on.

    python -m sandbox.oidc_provider --port 9400 --user admin@demo.example --amr pwd,mfa

It serves discovery (/.well-known/openid-configuration), /authorize (auto-approves the
configured test user, no login screen), /token (authorization code -> ID token signed RS256
with a key generated at start; checks the client secret, the redirect URI and PKCE S256) and
/jwks. Codes are single-use and live 60 seconds.

Fault injection for tests: POST /_control with JSON, e.g. {"user": "x@example.jp",
"amr": ["pwd"], "faults": ["wrong_nonce"]}. Faults: wrong_nonce, wrong_aud, wrong_issuer,
bad_signature (signed by another key under the published kid), expired, no_email, deny
(/authorize answers error=access_denied). GET /_control shows the current settings.

Like every sandbox server it is a separate process; the product knows it only by its URL.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

CONFIG_ENV = "OIDC_SANDBOX_CONFIG"
CODE_LIFETIME_SECONDS = 60
ID_TOKEN_LIFETIME_SECONDS = 300
FAULTS = frozenset({"wrong_nonce", "wrong_aud", "wrong_issuer", "bad_signature", "expired", "no_email", "deny"})


@dataclass
class ProviderSettings:
    """What the provider answers: its client, its one test user, the user's amr, injected faults."""

    issuer: str
    client_id: str = "telecom-back-office"
    client_secret: str = "sandbox-client-secret"
    redirect_uris: list[str] = field(default_factory=list)  # empty: any redirect URI is accepted
    user: str = "admin@demo.example"
    amr: list[str] = field(default_factory=lambda: ["pwd", "mfa"])
    faults: list[str] = field(default_factory=list)


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    code_challenge: str
    email: str
    amr: list[str]
    expires_at: float


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _s256(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store"})


class Provider:
    """The provider's state (settings, signing key, outstanding codes) and its HTTP endpoints."""

    def __init__(self, settings: ProviderSettings):
        self.settings = settings
        self.key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True)
        # Another key under the same kid, to forge signatures (fault "bad_signature").
        self.forger = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": "RS256", "kid": self.key.kid})
        self.grants: dict[str, _Grant] = {}
        self.lock = threading.Lock()

    # -- endpoints --

    async def discovery(self, request: Request) -> JSONResponse:
        """The OpenID Provider metadata."""
        issuer = self.settings.issuer
        return JSONResponse({
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "email", "email_verified", "amr"],
            "authorization_response_iss_parameter_supported": True,
        })

    async def jwks(self, request: Request) -> JSONResponse:
        """The public signing key."""
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        """Auto-approve the configured test user and redirect back with a code."""
        q = request.query_params
        s = self.settings
        if q.get("client_id") != s.client_id:
            return PlainTextResponse("unknown client_id", status_code=400)
        redirect_uri = q.get("redirect_uri") or ""
        if not redirect_uri or (s.redirect_uris and redirect_uri not in s.redirect_uris):
            return PlainTextResponse("redirect_uri not registered", status_code=400)

        def back(**params: str) -> RedirectResponse:
            """Redirect to the client with `params`, the state and our issuer (RFC 9207)."""
            params = {k: v for k, v in params.items() if v is not None}
            if q.get("state") is not None:
                params["state"] = q["state"]
            params["iss"] = s.issuer
            sep = "&" if "?" in redirect_uri else "?"
            return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", status_code=302)

        if q.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if "openid" not in (q.get("scope") or "").split():
            return back(error="invalid_scope")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return back(error="invalid_request", error_description="PKCE S256 is required")
        if "deny" in s.faults:
            return back(error="access_denied")
        code = secrets.token_urlsafe(32)
        with self.lock:
            self.grants[code] = _Grant(client_id=s.client_id, redirect_uri=redirect_uri, nonce=q.get("nonce"),
                                       code_challenge=q["code_challenge"], email=s.user, amr=list(s.amr),
                                       expires_at=time.time() + CODE_LIFETIME_SECONDS)
        return back(code=code)

    def _client_credentials(self, request: Request, form) -> tuple[str | None, str | None]:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return None, None
            return unquote(user), unquote(password)
        return form.get("client_id"), form.get("client_secret")

    async def token(self, request: Request) -> JSONResponse:
        """Exchange a code for tokens (client secret and PKCE verifier checked)."""
        form = await request.form()
        s = self.settings
        client_id, client_secret = self._client_credentials(request, form)
        if client_id != s.client_id or not secrets.compare_digest((client_secret or "").encode(),
                                                                  s.client_secret.encode()):
            return _error(401, "invalid_client", "client authentication failed")
        if form.get("grant_type") != "authorization_code":
            return _error(400, "unsupported_grant_type", "only authorization_code")
        with self.lock:
            grant = self.grants.pop(str(form.get("code") or ""), None)  # single use
        if grant is None or grant.expires_at < time.time() or grant.client_id != client_id:
            return _error(400, "invalid_grant", "unknown, used or expired code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _error(400, "invalid_grant", "redirect_uri differs from the authorization request")
        verifier = str(form.get("code_verifier") or "")
        if not verifier or not secrets.compare_digest(_s256(verifier), grant.code_challenge):
            return _error(400, "invalid_grant", "PKCE verification failed")
        access_token = secrets.token_urlsafe(32)
        return JSONResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": 300,
                             "id_token": self._id_token(grant, access_token), "scope": "openid email profile"},
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _id_token(self, grant: _Grant, access_token: str) -> str:
        s = self.settings
        now = int(time.time())
        claims = {
            "iss": s.issuer, "sub": "sub-" + hashlib.sha256(grant.email.lower().encode()).hexdigest()[:20],
            "aud": s.client_id, "iat": now, "exp": now + ID_TOKEN_LIFETIME_SECONDS, "auth_time": now,
            "email": grant.email, "email_verified": True, "amr": grant.amr,
            "at_hash": _b64url(hashlib.sha256(access_token.encode()).digest()[:16]),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        faults = set(s.faults)
        if "wrong_nonce" in faults:
            claims["nonce"] = secrets.token_urlsafe(16)
        if "wrong_aud" in faults:
            claims["aud"] = "another-client"
        if "wrong_issuer" in faults:
            claims["iss"] = s.issuer + "/evil"
        if "expired" in faults:
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        if "no_email" in faults:
            claims.pop("email")
        key = self.forger if "bad_signature" in faults else self.key
        return jwt.encode({"alg": "RS256", "kid": self.key.kid, "typ": "JWT"}, claims, key)

    async def control(self, request: Request) -> JSONResponse:
        """Read (GET) or change (POST JSON: user, amr, faults) what the provider answers."""
        if request.method == "POST":
            body = await request.json()
            unknown = set(body.get("faults", [])) - FAULTS
            if unknown:
                return JSONResponse({"error": f"unknown faults: {sorted(unknown)}"}, status_code=400)
            for name in ("user", "amr", "faults"):
                if name in body:
                    setattr(self.settings, name, body[name])
        return JSONResponse(asdict(self.settings) | {"client_secret": "***"})

    def app(self) -> Starlette:
        """The Starlette application."""
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery, methods=["GET"]),
            Route("/authorize", self.authorize, methods=["GET"]),
            Route("/token", self.token, methods=["POST"]),
            Route("/jwks", self.jwks, methods=["GET"]),
            Route("/_control", self.control, methods=["GET", "POST"]),
        ])


def create_app(settings: ProviderSettings | None = None) -> Starlette:
    """Build the provider app from `settings`, or from the OIDC_SANDBOX_CONFIG JSON (server workers)."""
    if settings is None:
        settings = ProviderSettings(**json.loads(os.environ[CONFIG_ENV]))
    return Provider(settings).app()


def main(argv: list[str] | None = None) -> int:
    """Command line: serve the provider on 127.0.0.1 with granian (one worker, one signing key)."""
    parser = argparse.ArgumentParser(description="ローカル OpenID プロバイダー / local OpenID provider (sandbox)")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--issuer", help="default: http://HOST:PORT")
    parser.add_argument("--client-id", default="telecom-back-office")
    parser.add_argument("--client-secret", default="sandbox-client-secret")
    parser.add_argument("--redirect-uri", action="append", default=[],
                        help="allowed redirect URI (repeatable; none given: any)")
    parser.add_argument("--user", default="admin@demo.example", help="the email /authorize signs in")
    parser.add_argument("--amr", default="pwd,mfa", help='comma-separated amr values, e.g. "pwd" or "pwd,mfa"')
    args = parser.parse_args(argv)
    settings = ProviderSettings(
        issuer=args.issuer or f"http://{args.host}:{args.port}", client_id=args.client_id,
        client_secret=args.client_secret, redirect_uris=args.redirect_uri, user=args.user,
        amr=[m.strip() for m in args.amr.split(",") if m.strip()],
    )
    os.environ[CONFIG_ENV] = json.dumps(asdict(settings))

    from granian.constants import Interfaces
    from granian.server import Server

    Server(
        "sandbox.oidc_provider:create_app", address=args.host, port=args.port, interface=Interfaces.ASGI,
        workers=1, factory=True, working_dir=Path(__file__).resolve().parent.parent, log_access=False,
    ).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
