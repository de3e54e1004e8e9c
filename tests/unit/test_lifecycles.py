"""Every lifecycle table, exhaustively: each (state, event) pair either leads where the table
says or is refused with a Japanese message; every state and event has a Japanese label;
no state is an orphan (each is reachable from the initial state)."""

from __future__ import annotations

import re
from collections import deque

import pytest

from services.platform.errors import InvalidTransition
from services.platform.labels import EVENT_LABELS_JA, LABELS_JA, STATE_LABELS_JA, state_label
from services.platform.lifecycle import LIFECYCLES, next_state

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")

PAIRS = [
    pytest.param(name, state, event, id=f"{name}-{state.value}-{event.value}")
    for name, lifecycle in LIFECYCLES.items()
    for state in lifecycle.states
    for event in lifecycle.events
]
NAMES = sorted(LIFECYCLES)


@pytest.mark.parametrize(("name", "state", "event"), PAIRS)
def test_every_state_event_pair_follows_the_table(name, state, event):
    lifecycle = LIFECYCLES[name]
    expected = lifecycle.table.get((state, event))
    if expected is not None:
        assert lifecycle.next_state(state, event) == expected
        assert next_state(name, state.value, event.value) == expected  # plain strings work too
        assert event in lifecycle.allowed_events(state)
    else:
        with pytest.raises(InvalidTransition) as excinfo:
            lifecycle.next_state(state, event)
        message = excinfo.value.message
        assert STATE_LABELS_JA[name][state.value] in message
        assert EVENT_LABELS_JA[name][event.value] in message
        assert LABELS_JA[name] in message
        assert _JAPANESE.search(message)
        assert event not in lifecycle.allowed_events(state)


@pytest.mark.parametrize("name", NAMES)
def test_table_uses_only_its_own_states_and_events(name):
    lifecycle = LIFECYCLES[name]
    assert lifecycle.name == name
    for (state, event), target in lifecycle.table.items():
        assert isinstance(state, lifecycle.states)
        assert isinstance(event, lifecycle.events)
        assert isinstance(target, lifecycle.states)


@pytest.mark.parametrize("name", NAMES)
def test_every_state_and_event_has_a_japanese_label(name):
    lifecycle = LIFECYCLES[name]
    assert _JAPANESE.search(LABELS_JA[name]) or name == "sim"  # 「SIM」 is the Japanese word
    assert set(STATE_LABELS_JA[name]) == {s.value for s in lifecycle.states}
    assert set(EVENT_LABELS_JA[name]) == {e.value for e in lifecycle.events}
    for state in lifecycle.states:
        assert _JAPANESE.search(STATE_LABELS_JA[name][state.value]), f"{name}.{state.value}"
        assert state_label(name, state.value) == STATE_LABELS_JA[name][state.value]
        assert state_label(name, state.value, lang="en")
    for event in lifecycle.events:
        assert _JAPANESE.search(EVENT_LABELS_JA[name][event.value]), f"{name}.{event.value}"


@pytest.mark.parametrize("name", NAMES)
def test_every_state_is_reachable_from_the_initial_state(name):
    lifecycle = LIFECYCLES[name]
    initial = next(iter(lifecycle.states))
    reached, queue = {initial}, deque([initial])
    while queue:
        state = queue.popleft()
        for event in lifecycle.allowed_events(state):
            target = lifecycle.next_state(state, event)
            if target not in reached:
                reached.add(target)
                queue.append(target)
    orphans = sorted(s.value for s in lifecycle.states if s not in reached)
    assert not orphans, f"{name}: unreachable from {initial.value}: {orphans}"


@pytest.mark.parametrize("name", NAMES)
def test_every_event_is_used_somewhere(name):
    lifecycle = LIFECYCLES[name]
    used = {event for (_, event) in lifecycle.table}
    assert used == set(lifecycle.events), f"{name}: events never allowed: {set(lifecycle.events) - used}"


def test_unknown_state_or_event_is_not_silently_accepted():
    with pytest.raises(ValueError):
        next_state("ticket", "no_such_state", "start")
    with pytest.raises(ValueError):
        next_state("ticket", "open", "no_such_event")
