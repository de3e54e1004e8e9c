"""Who is signed in to /my, and how many notices wait unread (re-read on every page load)."""

from __future__ import annotations

import reflex as rx

from services.read.customer import notices
from services.security import customer_auth
from state.feedback import MessagesMixin
from state.session import CUSTOMER, actor, guarded, public, session_token
from state.session_scope import reset_tab
from telecom_app import routes


class MyShellState(MessagesMixin, rx.State):
    """The signed-in person's name and the unread count on the お知らせ tab."""

    user_name: str = ""
    is_company_admin: bool = False
    unread: int = 0

    @rx.event
    @guarded(CUSTOMER)
    def load(self):
        """Page load of every /my page: the session is checked here first (no session: sign-in, then back)."""
        current = actor()
        self.user_name = current.label.split(" <")[0]
        self.is_company_admin = current.role is not None and current.role.value == "customer_admin"
        self.unread = notices.unread_count(actor=current)

    @rx.event
    @public
    async def sign_out(self):
        """End the session on the server and empty every state of this tab; the API route clears the cookie."""
        customer_auth.sign_out(session_token(self.router, CUSTOMER))
        await reset_tab(self)
        return rx.call_script(
            "sessionStorage.removeItem('token');"
            f"fetch('{routes.API_MY_SIGN_OUT}', {{method: 'POST', credentials: 'same-origin'}})"
            f".finally(() => window.location.replace('{routes.MY_LOGIN}'))"
        )
