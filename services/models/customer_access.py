"""How customers' people get in: invitations, their lines, second factors, sign-in steps, sessions and
password resets. Separate from the staff tables: a customer and a member of staff never share a row."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from services.models.base import utcnow, values_check
from services.models.customer import CUSTOMER_USER_ROLES

CUSTOMER_CHALLENGE_STAGES = ("mfa", "enroll", "ticket")


class CustomerUserLine(SQLModel, table=True):
    """A line a 利用者 may see and act on (a 法人管理者 sees every line of the company)."""

    __tablename__ = "customer_user_line"
    __table_args__ = (UniqueConstraint("customer_user_id", "line_id", name="uq_customer_user_line"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_user_id: int = Field(foreign_key="customer_user.id", index=True)
    line_id: int = Field(foreign_key="line.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class CustomerInvitation(SQLModel, table=True):
    """A one-time invitation to the self-service app, mailed as a link that expires."""

    __tablename__ = "customer_invitation"
    __table_args__ = (values_check("role", CUSTOMER_USER_ROLES, "ck_customer_invitation_role"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    email: str = Field(max_length=254)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    line_ids: str = Field(default="", max_length=2000)  # comma-separated: the lines a 利用者 will see
    invited_by_staff_id: int | None = Field(default=None, foreign_key="staff_user.id")
    invited_by_customer_user_id: int | None = Field(default=None, foreign_key="customer_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    accepted_at: datetime | None = None
    revoked_at: datetime | None = None
    customer_user_id: int | None = Field(default=None, foreign_key="customer_user.id")


class CustomerRecoveryCode(SQLModel, table=True):
    """A single-use recovery code of a customer's second factor (stored hashed)."""

    __tablename__ = "customer_recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    customer_user_id: int = Field(foreign_key="customer_user.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    used_at: datetime | None = None


class CustomerSignInChallenge(SQLModel, table=True):
    """A short-lived step of a customer's sign-in: password accepted (mfa / enroll) or a one-time ticket."""

    __tablename__ = "customer_sign_in_challenge"
    __table_args__ = (values_check("stage", CUSTOMER_CHALLENGE_STAGES, "ck_customer_sign_in_challenge_stage"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    customer_user_id: int = Field(foreign_key="customer_user.id", index=True)
    stage: str = Field(max_length=8)
    pending_totp_secret: str | None = Field(default=None, max_length=512)  # encrypted at rest
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class CustomerSession(SQLModel, table=True):
    """A customer's server-side session (a signed-in device); only the SHA-256 of the token is stored."""

    __tablename__ = "customer_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    customer_user_id: int = Field(foreign_key="customer_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    client_ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=300)


class CustomerPasswordReset(SQLModel, table=True):
    """A one-time password-reset link sent by mail (only the SHA-256 of its token is stored)."""

    __tablename__ = "customer_password_reset"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    customer_user_id: int = Field(foreign_key="customer_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class CustomerPasskey(SQLModel, table=True):
    """A passkey (WebAuthn credential) a customer registered: signing in with it is both factors at once."""

    __tablename__ = "customer_passkey"

    id: int | None = Field(default=None, primary_key=True)
    customer_user_id: int = Field(foreign_key="customer_user.id", index=True)
    credential_id: str = Field(max_length=1400, unique=True)  # base64url
    public_key: str = Field(max_length=4000)  # base64url COSE key
    sign_count: int = 0
    transports: str = Field(default="", max_length=200)  # comma-separated, as the browser reported them
    name: str = Field(default="", max_length=100)  # what the person called it ("iPhone")
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class CustomerWebAuthnChallenge(SQLModel, table=True):
    """A WebAuthn ceremony's challenge, single use and short-lived (registration or sign-in)."""

    __tablename__ = "customer_webauthn_challenge"
    __table_args__ = (values_check("purpose", ("register", "sign_in"), "ck_customer_webauthn_challenge_purpose"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)  # the handle the page holds
    challenge: str = Field(max_length=200)  # base64url of the random challenge sent to the browser
    purpose: str = Field(max_length=8)
    customer_user_id: int | None = Field(default=None, foreign_key="customer_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
