"""Staff users (担当者), their MFA recovery codes, sign-in state and server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from services.models.base import utcnow, values_check

STAFF_ROLES = ("sales", "support", "accounting", "admin", "auditor")
CHALLENGE_STAGES = ("mfa", "enroll", "ticket")
AUTH_METHODS = ("password", "oidc")


class StaffUser(SQLModel, table=True):
    """An operator employee with one role; MFA (TOTP) is mandatory."""

    __tablename__ = "staff_user"
    __table_args__ = (values_check("role", STAFF_ROLES, "ck_staff_user_role"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    display_name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    password_hash: str = Field(max_length=255)
    totp_secret: str | None = Field(default=None, max_length=512)  # encrypted at rest
    mfa_enrolled_at: datetime | None = None
    last_totp_step: int | None = None
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: datetime | None = None


class StaffRecoveryCode(SQLModel, table=True):
    """A single-use MFA recovery code (stored hashed)."""

    __tablename__ = "staff_recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    staff_user_id: int = Field(foreign_key="staff_user.id", index=True)
    code_hash: str = Field(max_length=64, unique=True)
    used_at: datetime | None = None


class SignInChallenge(SQLModel, table=True):
    """A short-lived step of sign-in: password accepted (mfa / enroll) or a one-time ticket."""

    __tablename__ = "sign_in_challenge"
    __table_args__ = (values_check("stage", CHALLENGE_STAGES, "ck_sign_in_challenge_stage"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    staff_user_id: int = Field(foreign_key="staff_user.id", index=True)
    stage: str = Field(max_length=8)
    pending_totp_secret: str | None = Field(default=None, max_length=512)  # encrypted at rest
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class SignInAttempt(SQLModel, table=True):
    """One sign-in attempt (password or second factor), for throttling per login name and per network."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (Index("ix_sign_in_attempt_key_at", "login_key", "attempted_at"),
                      Index("ix_sign_in_attempt_network_at", "client_network", "attempted_at"))

    id: int | None = Field(default=None, primary_key=True)
    login_key: str = Field(max_length=254)
    client_ip: str | None = Field(default=None, max_length=64)
    client_network: str | None = Field(default=None, max_length=64)  # 203.0.113.7/32, 2001:db8:1:2::/64
    succeeded: bool
    attempted_at: datetime = Field(default_factory=utcnow)


class StaffSession(SQLModel, table=True):
    """A server-side session; only the SHA-256 of the token is stored."""

    __tablename__ = "staff_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    staff_user_id: int = Field(foreign_key="staff_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    client_ip: str | None = Field(default=None, max_length=64)
