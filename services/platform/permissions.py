"""Who may do what: the role -> permission matrix (deny by default) and object-level checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.platform.errors import NotFound, PermissionDenied
from services.platform.labels import labels


class Role(StrEnum):
    SALES = "sales"
    SUPPORT = "support"
    ACCOUNTING = "accounting"
    ADMIN = "admin"
    AUDITOR = "auditor"  # 監査担当: reads the ledger and the audit trail, changes nothing
    CUSTOMER_ADMIN = "customer_admin"
    CUSTOMER_USER = "user"


STAFF_ROLES = (Role.SALES, Role.SUPPORT, Role.ACCOUNTING, Role.ADMIN, Role.AUDITOR)
ROLE_LABELS_JA = labels("role")  # role -> 営業, サポート ... (the labels' "role" group, for the screens)

_S, _P, _A, _M, _U = Role.SALES, Role.SUPPORT, Role.ACCOUNTING, Role.ADMIN, Role.AUDITOR
_ALL_STAFF = frozenset(STAFF_ROLES)
_OPERATORS = frozenset({_S, _P, _A, _M})  # everyone but the auditor, who only reads

# The one permission matrix. A permission not listed here is denied to everyone.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "search.use": _ALL_STAFF,
    "customer.view": _ALL_STAFF,
    "customer.create": frozenset({_S, _M}),
    "customer.update": frozenset({_S, _P, _M}),
    "customer.kyc": frozenset({_P, _M}),
    "notification.send": _OPERATORS,           # a message to a customer (通知: mail, LINE, in-app)
    "contract.view": _ALL_STAFF,
    "contract.create": frozenset({_S, _M}),
    "contract.transition": frozenset({_S, _M}),
    "line.view": _ALL_STAFF,
    "line.create": frozenset({_S, _M}),
    "line.activate": frozenset({_S, _P, _M}),
    "line.suspend": frozenset({_P, _M}),
    "line.resume": frozenset({_P, _M}),
    "line.terminate": frozenset({_P, _M}),
    "line.review": frozenset({_P, _M}),
    "inventory.view": _ALL_STAFF,
    "inventory.manage": frozenset({_S, _P, _M}),
    "invoice.view": frozenset({_S, _P, _A, _M, _U}),
    "invoice.manage": frozenset({_A, _M}),
    "payment.view": frozenset({_P, _A, _M, _U}),
    "payment.manage": frozenset({_A, _M}),
    "ticket.view": _ALL_STAFF,
    "ticket.create": _OPERATORS,
    "ticket.update": frozenset({_S, _P, _M}),
    "audit.view": _ALL_STAFF,
    "pii.reveal": _ALL_STAFF,  # which field, by whom: services.security.masking.REVEAL_POLICY
    "audit.verify": frozenset({_M, _U}),
    "audit.export": frozenset({_A, _M, _U}),
    "audit.reveal_sealed": frozenset({_U}),
    "kyc_record.purge": frozenset({_M}),        # the retention job (runs as the system)    # the encrypted before-value of a sensitive change, with a reason
    "catalog.view": _ALL_STAFF,
    "catalog.manage": frozenset({_A, _M}),     # plans, options and rate tables with their dates
    "contract.change_plan": frozenset({_S, _P, _M}),  # plan and option changes (翌月適用 or 日割り)
    "charge.create": frozenset({_S, _P, _A, _M}),     # a one-off charge or discount for the next bill
    "billing.run": frozenset({_A, _M}),        # 請求締め: drafts, review and issue
    "staff.manage": frozenset({_M}),
    "approval.view": _ALL_STAFF,
    "review.view": _ALL_STAFF,                 # the 要確認 queue and external-operation history
    "review.resolve": frozenset({_P, _M}),
    "external.retry": frozenset({_P, _M}),
    "session.own": _ALL_STAFF,
}


@dataclass(frozen=True)
class Actor:
    """The person (or system job) on whose behalf a service runs."""

    kind: str  # "staff" | "customer" | "system"
    id: int | None
    role: Role | None
    label: str
    customer_id: int | None = None
    session_id: int | None = None
    request_id: str | None = field(default=None, compare=False)

    @property
    def is_staff(self) -> bool:
        """True for operator employees."""
        return self.kind == "staff"


SYSTEM = Actor(kind="system", id=None, role=Role.ADMIN, label="system")


def can(actor: Actor | None, permission: str, obj: object | None = None) -> bool:
    """True if `actor` holds `permission` (and, for customer actors, owns `obj`)."""
    if actor is None or actor.role is None:
        return False
    if actor.role not in PERMISSIONS.get(permission, frozenset()):
        return False
    if actor.kind == "customer":
        owner = getattr(obj, "customer_id", None) if obj is not None else None
        return owner is not None and owner == actor.customer_id
    return True


def require(actor: Actor | None, permission: str, obj: object | None = None) -> None:
    """Raise PermissionDenied unless `can(actor, permission, obj)`."""
    if not can(actor, permission, obj):
        raise PermissionDenied()


# Providers whose review items and operations concern money: accounting handles them too.
MONEY_PROVIDERS = frozenset({"payment", "bank"})


def can_handle_external(actor: Actor | None, permission: str, provider: str) -> bool:
    """`permission` on the review queue / an external operation of `provider`: its holders, and for
    money providers (payment gateway, bank) also whoever manages payments (accounting)."""
    return can(actor, permission) or (provider in MONEY_PROVIDERS and can(actor, "payment.manage"))


def require_external(actor: Actor | None, permission: str, provider: str) -> None:
    """Raise PermissionDenied unless `can_handle_external(actor, permission, provider)`."""
    if not can_handle_external(actor, permission, provider):
        raise PermissionDenied()


def get_permitted(session: Any, model: type, record_id: Any, not_found: str, actor: Actor, permission: str) -> Any:
    """Read one record in `session`: NotFound in words when it is missing, then `actor`'s permission on it."""
    record = session.get(model, record_id)
    if record is None:
        raise NotFound(not_found)
    require(actor, permission, record)
    return record
