"""The lifecycle mechanism: a named transition table (state, event) -> next state.

Anything not in a table is forbidden and raises InvalidTransition with a message that names both in
Japanese. Each domain declares its own tables beside its operations; every table registers itself in
LIFECYCLES under its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from services.models.base import utcnow
from services.platform.audit import record, snapshot
from services.platform.errors import InvalidTransition
from services.platform.labels import event_label, label, state_label
from services.platform.permissions import Actor

LIFECYCLES: dict[str, Lifecycle] = {}


@dataclass(frozen=True)
class Lifecycle:
    """A named transition table."""

    name: str
    states: type[StrEnum]
    events: type[StrEnum]
    table: dict[tuple[StrEnum, StrEnum], StrEnum]

    def next_state(self, state: StrEnum | str, event: StrEnum | str) -> StrEnum:
        """Return the state after `event`, or raise InvalidTransition."""
        current = self.states(state)
        ev = self.events(event)
        try:
            return self.table[(current, ev)]
        except KeyError:
            raise InvalidTransition(
                f"{label('record', self.name)}が「{state_label(self.name, current)}」の状態では"
                f"「{event_label(self.name, ev)}」はできません。"
            ) from None

    def __post_init__(self) -> None:
        LIFECYCLES[self.name] = self

    def target_of(self, event: StrEnum | str) -> StrEnum | None:
        """The one state `event` leads to from anywhere, or None when it depends on where it starts."""
        ev = self.events(event)
        targets = {state for (_, e), state in self.table.items() if e is ev}
        return targets.pop() if len(targets) == 1 else None

    def allowed_events(self, state: StrEnum | str) -> list[StrEnum]:
        """Events that the table allows from `state`, in declaration order."""
        current = self.states(state)
        return [ev for ev in self.events if (current, ev) in self.table]


def next_state(lifecycle: str, state: StrEnum | str, event: StrEnum | str) -> StrEnum:
    """Return the state after `event` in the named lifecycle, or raise InvalidTransition."""
    return LIFECYCLES[lifecycle].next_state(state, event)


def transition(session: Session, row: Any, lifecycle: Lifecycle, event: StrEnum | str, *, actor: Actor,
               reason: str | None = None, follow: Callable[[Any], None] | None = None) -> None:
    """Move `row` by `event` as its table says, let `follow(row)` move what goes with it, and audit it.

    The one shape of every state change: the caller has locked the row and checked the permission;
    this takes the before-snapshot, sets the next state (InvalidTransition in words if the table forbids
    it) and updated_at, runs `follow`, and writes the audit entry "<lifecycle>.<event>" last (it locks the
    audit chain head), all in the caller's transaction.
    """
    before = snapshot(row)
    row.status = lifecycle.next_state(row.status, event).value
    if hasattr(row, "updated_at"):
        row.updated_at = utcnow()
    if follow is not None:
        follow(row)
    session.add(row)
    record(session, actor, f"{lifecycle.name}.{lifecycle.events(event).value}", row, before=before, reason=reason)
