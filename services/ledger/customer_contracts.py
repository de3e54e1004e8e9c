"""The contracts and lines a signed-in customer may see and act on: the rule of
services.ledger.customer_users.customer_scope applied to contracts.

- a 法人管理者 sees every contract of the company and may change it;
- a 利用者 sees only the contracts holding a line assigned to them, and changes one (a plan, an option, add-on
  data for their line) only with `can_request`.
A contract or line outside the scope is NotFound in the same words as an id that does not exist; nothing is
written then. A 利用者 without `can_request` gets PermissionDenied for a record they do see.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from services.ledger.customer_users import CustomerScope, customer_scope
from services.models import Contract, Line
from services.platform.errors import NotFound, PermissionDenied
from services.platform.permissions import Actor

CONTRACT_NOT_FOUND = "契約が見つかりません。"
LINE_NOT_FOUND = "回線が見つかりません。"
NO_REQUEST_RIGHT = "お申し込みの権限がありません。法人管理者にご依頼ください。"


def visible_contract_ids(session: Session, scope: CustomerScope) -> list[int]:
    """The ids of the contracts the person sees: all of the company's for a 法人管理者, those holding one of
    their lines for a 利用者 (sorted)."""
    if scope.is_admin:
        return list(session.exec(select(Contract.id).where(Contract.customer_id == scope.customer_id)
                                 .order_by(Contract.id)).all())
    if not scope.line_ids:
        return []
    return sorted(set(session.exec(select(Line.contract_id).where(
        col(Line.id).in_(sorted(scope.line_ids)), Line.customer_id == scope.customer_id)).all()))


def _id(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def customer_contract(session: Session, actor: Actor, contract_id: Any, *, to_change: bool = False) -> Contract:
    """One contract the customer actor sees (NotFound otherwise); with `to_change`, one they may also change
    (PermissionDenied for a 利用者 without can_request)."""
    scope = customer_scope(session, actor)
    key = _id(contract_id)
    contract = session.get(Contract, key) if key is not None else None
    if (contract is None or contract.customer_id != scope.customer_id
            or contract.id not in visible_contract_ids(session, scope)):
        raise NotFound(CONTRACT_NOT_FOUND)
    if to_change and not scope.can_request:
        raise PermissionDenied(NO_REQUEST_RIGHT)
    return contract


def customer_line(session: Session, actor: Actor, line_id: Any, *, to_change: bool = False) -> Line:
    """One line the customer actor sees, locked for update (NotFound otherwise); with `to_change`, one they may
    also act on (PermissionDenied for a 利用者 without can_request)."""
    scope = customer_scope(session, actor)
    key = _id(line_id)
    line = session.exec(select(Line).where(Line.id == key).with_for_update()).first() \
        if key is not None and scope.sees_line(key) else None
    if line is None or line.customer_id != scope.customer_id:
        raise NotFound(LINE_NOT_FOUND)
    if to_change and not scope.can_request:
        raise PermissionDenied(NO_REQUEST_RIGHT)
    return line
