"""The lifecycle mechanism: a named transition table (state, event) -> next state.

Anything not in a table is forbidden and raises InvalidTransition with a message that names both in
Japanese. Each domain declares its own tables beside its operations; every table registers itself in
LIFECYCLES under its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.platform.errors import InvalidTransition
from services.platform.labels import EVENT_LABELS_JA, LABELS_JA, STATE_LABELS_JA

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
                f"{LABELS_JA.get(self.name, self.name)}が「{STATE_LABELS_JA[self.name][current]}」の状態では"
                f"「{EVENT_LABELS_JA[self.name][ev]}」はできません。"
            ) from None

    def __post_init__(self) -> None:
        LIFECYCLES[self.name] = self

    def allowed_events(self, state: StrEnum | str) -> list[StrEnum]:
        """Events that the table allows from `state`, in declaration order."""
        current = self.states(state)
        return [ev for ev in self.events if (current, ev) in self.table]


def next_state(lifecycle: str, state: StrEnum | str, event: StrEnum | str) -> StrEnum:
    """Return the state after `event` in the named lifecycle, or raise InvalidTransition."""
    return LIFECYCLES[lifecycle].next_state(state, event)
