"""HTTP routes served on the app's own port beside the Reflex app (session cookie, staff SSO).

Single sign-on (OpenID Connect, services.security.oidc): /api/auth/oidc/login sends the browser to the
provider with the state / nonce / PKCE flow cookie; /api/auth/oidc/callback verifies the answer
and either signs in at once (the provider asserted MFA: ticket -> /api/auth/complete) or hands
our own TOTP step to the sign-in page through a short-lived HttpOnly challenge cookie.
"""

from __future__ import annotations

from urllib.parse import quote, urlparse

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from services.billing import direct_debit, invoice_documents
from services.platform.config import settings
from services.platform.errors import DomainError, NotFound, PermissionDenied
from services.read.customer import bills
from services.read.staff import receivables
from services.security import auth, customer_auth, oidc
from services.workflow import webhooks
from telecom_app import routes, ticket_uploads
from telecom_app.http_policy import cookie_must_be_secure
from telecom_app.routes import MY_SESSION_COOKIE, OIDC_FLOW_COOKIE, SESSION_COOKIE, SSO_CHALLENGE_COOKIE


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def complete_sign_in(request: Request) -> RedirectResponse:
    """Exchange the one-time sign-in ticket for a session and set the HttpOnly cookie."""
    ticket = request.query_params.get("ticket", "")
    try:
        token = auth.redeem_ticket(ticket, client_ip=_client_ip(request))
    except DomainError:
        return RedirectResponse(routes.LOGIN_EXPIRED, status_code=303)
    response = RedirectResponse(routes.AFTER_SIGN_IN, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=cookie_must_be_secure(request.scope),
        path="/", max_age=settings.session_absolute_hours * 3600,
    )
    response.headers["Cache-Control"] = "no-store"
    response.delete_cookie(SSO_CHALLENGE_COOKIE, path="/", httponly=True, samesite="lax")
    return response


async def my_complete_sign_in(request: Request) -> RedirectResponse:
    """A customer's one-time ticket becomes their session cookie; then the page they came for (a /my path)."""
    ticket = request.query_params.get("ticket", "")
    target = request.query_params.get("next", "")
    try:
        token = await run_in_threadpool(customer_auth.redeem_ticket, ticket, client_ip=_client_ip(request),
                                        user_agent=request.headers.get("user-agent"))
    except DomainError:
        return RedirectResponse(f"{routes.MY_LOGIN}?expired=1", status_code=303)
    response = RedirectResponse(target if routes.is_my_path(target) else routes.MY_HOME, status_code=303)
    # Lax, not Strict: a customer opens notices from mail and LINE, cross-site links that must find the session.
    response.set_cookie(MY_SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=cookie_must_be_secure(request.scope), path="/",
                        max_age=settings.customer_session_absolute_hours * 3600)
    response.headers["Cache-Control"] = "no-store"
    return response


async def my_sign_out(request: Request) -> RedirectResponse | PlainTextResponse:
    """End the customer's session (server side first), then clear their cookie."""
    return await _sign_out(request, customer_auth.sign_out, MY_SESSION_COOKIE, "lax", routes.MY_LOGIN)


def _signed_in(resolve, token: str | None) -> bool:
    try:
        resolve(token)
    except DomainError:
        return False
    return True


def go(request: Request) -> RedirectResponse:
    """A notice's link (/go/<kind>/<key>): the record's page for whoever follows it — a customer's /my page,
    a member of staff's screen — and for someone signed out, sign-in first and then that exact page.
    Invitation and password-reset links open their page directly (they are the way in). A line's link may name
    one of its requests (?request=approval-12): the customer's line page opens on it."""
    kind, key = request.path_params["kind"], request.path_params["key"]
    if not key.replace("-", "").replace("_", "").isalnum():
        key = ""
    mine = routes.my_record(kind, key, request.query_params.get(routes.FOCUS_REQUEST, ""))
    if kind in ("invitation", "password_reset"):
        target = mine
    elif _signed_in(customer_auth.resolve_session, request.cookies.get(MY_SESSION_COOKIE)):
        target = mine
    elif _signed_in(auth.resolve_session, request.cookies.get(SESSION_COOKIE)):
        target = routes.admin_record(kind, int(key) if key.isdigit() else None) or routes.ADMIN_HOME
    else:
        target = routes.my_login(mine)
    response = RedirectResponse(target, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    return response


MANIFEST = {
    "name": "マイページ | 通信サービス管理", "short_name": "マイページ", "lang": "ja", "start_url": routes.MY_HOME,
    "scope": routes.MY_HOME, "display": "standalone", "background_color": "#ffffff", "theme_color": "#0b5cad",
    "icons": [{"src": "/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any maskable"}],
}


def manifest(request: Request) -> JSONResponse:
    """The web-app manifest: the customer app can sit on a phone's home screen and opens at /my."""
    return JSONResponse(MANIFEST, media_type="application/manifest+json")


def oidc_login(request: Request) -> RedirectResponse:
    """Send the browser to the OpenID provider, keeping state, nonce and PKCE verifier in a cookie."""
    client = oidc.configured_client()
    if client is None:
        return RedirectResponse(routes.LOGIN, status_code=303)
    try:
        start = oidc.start_authorization(client)
    except DomainError:
        return RedirectResponse(routes.LOGIN_SSO_FAILED, status_code=303)
    response = RedirectResponse(start.url, status_code=303)
    # Lax, not Strict: the provider's redirect back to the callback is a cross-site navigation.
    response.set_cookie(OIDC_FLOW_COOKIE, start.flow_cookie, httponly=True, samesite="lax",
                        secure=cookie_must_be_secure(request.scope), path=routes.API_OIDC,
                        max_age=oidc.FLOW_LIFETIME_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def oidc_callback(request: Request) -> RedirectResponse:
    """Verify the provider's answer; sign in (MFA asserted) or continue with our own TOTP step."""
    client = oidc.configured_client()
    q = request.query_params
    try:
        if client is None:
            raise auth.AuthenticationFailed(auth.SSO_FAILED)
        identity = oidc.finish_authorization(
            client, code=q.get("code"), state=q.get("state"), error=q.get("error"),
            issuer_param=q.get("iss"), flow_cookie=request.cookies.get(OIDC_FLOW_COOKIE))
        step = auth.continue_sso_sign_in(identity.staff_user_id, mfa_asserted=identity.mfa_asserted)
    except DomainError:
        response = RedirectResponse(routes.LOGIN_SSO_FAILED, status_code=303)
    else:
        if step.stage == "ticket":
            response = RedirectResponse(routes.complete_sign_in(step.challenge_token), status_code=303)
        else:
            response = RedirectResponse(routes.LOGIN, status_code=303)
            response.set_cookie(SSO_CHALLENGE_COOKIE, step.challenge_token, httponly=True, samesite="lax",
                                secure=cookie_must_be_secure(request.scope), path="/",
                                max_age=int(auth.CHALLENGE_LIFETIME.total_seconds()))
    response.delete_cookie(OIDC_FLOW_COOKIE, path=routes.API_OIDC, httponly=True, samesite="lax")
    response.headers["Cache-Control"] = "no-store"
    return response


async def sign_out(request: Request) -> RedirectResponse | PlainTextResponse:
    """End the staff session (server side first), then clear the cookie."""
    return await _sign_out(request, auth.sign_out, SESSION_COOKIE, "strict", routes.LOGIN)


async def _sign_out(request: Request, end, cookie: str, same_site: str, sign_in: str
                    ) -> RedirectResponse | PlainTextResponse:
    """Sign-out for one audience: refused from another site, the server-side session ended first, then its
    cookie cleared and the audience's sign-in page opened."""
    origin = request.headers.get("origin")
    if origin and urlparse(origin).netloc != request.headers.get("host"):
        return PlainTextResponse("forbidden", status_code=403)
    await run_in_threadpool(end, request.cookies.get(cookie))
    response = RedirectResponse(sign_in, status_code=303)
    response.delete_cookie(cookie, path="/", httponly=True, samesite=same_site)
    return response


def _download(request: Request, make, *, customer: bool = False) -> Response:
    """A file for the signed-in staff member (or, with `customer`, the signed-in customer): make(actor) ->
    (file name, bytes, media type). No session of that audience: 401; a record they may not see or that does
    not exist: 404 (the same answer, so ids cannot be probed)."""
    resolve, cookie = ((customer_auth.resolve_session, MY_SESSION_COOKIE) if customer
                       else (auth.resolve_session, SESSION_COOKIE))
    try:
        current = resolve(request.cookies.get(cookie))
    except DomainError:
        return PlainTextResponse("ログインしてください。", status_code=401)
    try:
        name, content, media_type = make(current)
    except (PermissionDenied, NotFound):
        return PlainTextResponse("見つかりません。", status_code=404)
    except DomainError as exc:
        return PlainTextResponse(exc.message, status_code=409)
    return Response(content, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Cache-Control": "no-store"})


def _id(request: Request, name: str) -> int:
    value = request.path_params[name]
    return int(value) if str(value).isdigit() else 0


async def my_invoice_pdf(request: Request) -> Response:
    """A customer's issued bill as the stored PDF (the same bytes staff download)."""
    invoice_id = _id(request, "invoice_id")
    return await run_in_threadpool(_download, request, lambda actor: (
        *bills.my_bill_pdf(invoice_id, actor=actor), "application/pdf"), customer=True)


async def invoice_pdf(request: Request) -> Response:
    """The stored PDF of an issued invoice or credit note (the same bytes every time)."""
    invoice_id = _id(request, "invoice_id")
    return await run_in_threadpool(_download, request, lambda actor: (
        *invoice_documents.invoice_pdf_bytes(invoice_id, actor=actor), "application/pdf"))


async def debit_file(request: Request) -> Response:
    """The 口座振替 request file of a batch, as the bank takes it."""
    batch_id = _id(request, "batch_id")
    return await run_in_threadpool(_download, request, lambda actor: (
        *direct_debit.request_file(batch_id, actor=actor), "application/octet-stream"))


async def aging_csv(request: Request) -> Response:
    """The accounts-receivable aging table as CSV."""
    return await run_in_threadpool(_download, request, lambda actor: (
        *receivables.aging_csv(actor=actor), "text/csv; charset=utf-8"))


async def receive_webhook(request: Request) -> JSONResponse:
    """A provider's webhook: verified, stored once and answered at once; a task processes it."""
    body = await request.body()
    status, payload = await run_in_threadpool(
        webhooks.accept, request.path_params["provider"], body, request.headers.get(webhooks.SIGNATURE_HEADER),
        request.headers.get("content-type"))
    return JSONResponse(payload, status_code=status)


def build_api() -> Starlette:
    """The Starlette app Reflex mounts itself under (our routes match first)."""
    return Starlette(routes=[
        Route(routes.API_COMPLETE_SIGN_IN, complete_sign_in, methods=["GET"]),
        Route(routes.API_SIGN_OUT, sign_out, methods=["POST"]),
        Route(routes.API_OIDC_LOGIN, oidc_login, methods=["GET"]),
        Route(routes.API_OIDC_CALLBACK, oidc_callback, methods=["GET"]),
        Route(routes.API_WEBHOOK, receive_webhook, methods=["POST"]),
        Route(routes.API_INVOICE_PDF, invoice_pdf, methods=["GET"]),
        Route(routes.API_DEBIT_FILE, debit_file, methods=["GET"]),
        Route(routes.API_AGING_CSV, aging_csv, methods=["GET"]),
        Route(routes.API_MY_COMPLETE_SIGN_IN, my_complete_sign_in, methods=["GET"]),
        Route(routes.API_MY_SIGN_OUT, my_sign_out, methods=["POST"]),
        Route(routes.API_MY_INVOICE_PDF, my_invoice_pdf, methods=["GET"]),
        # tickets with files (telecom_app.ticket_uploads): the only way a file comes in
        Route(routes.API_MY_TICKETS, ticket_uploads.my_new_ticket, methods=["POST"]),
        Route(routes.API_MY_TICKET_MESSAGES, ticket_uploads.my_ticket_reply, methods=["POST"]),
        Route(routes.API_MY_ATTACHMENT, ticket_uploads.my_attachment, methods=["GET"]),
        Route(routes.API_TICKET_MESSAGES, ticket_uploads.staff_ticket_message, methods=["POST"]),
        Route(routes.API_ATTACHMENT, ticket_uploads.staff_attachment, methods=["GET"]),
        Route(routes.GO, go, methods=["GET"]),
        Route(routes.MANIFEST, manifest, methods=["GET"]),
    ])
