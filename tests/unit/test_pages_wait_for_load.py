"""Every page keeps its inputs and buttons disabled until it has loaded its data from the server."""

from __future__ import annotations

import pytest

import telecom_app.telecom_app as telecom_app

PAGES = telecom_app.app._unevaluated_pages


@pytest.mark.parametrize("route", sorted(PAGES))
def test_every_page_is_usable_only_once_it_has_loaded(route):
    rendered = str(PAGES[route].component())
    opening = rendered[:rendered.index("jsx(", 1)]  # the outermost element's own props

    assert opening.startswith('jsx("fieldset"'), f"/{route} is not wrapped in usable_once_loaded"
    assert "disabled:!(reflex___state____state.is_hydrated_rx_state_)" in opening
