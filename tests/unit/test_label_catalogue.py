"""The one catalogue of labels (services.platform.labels): every label in Japanese and real English, every code
the ledger stores has a label, and look-ups behave as the services expect (an unknown key shows itself)."""

from __future__ import annotations

import re

import pytest

import services.billing.billing_runs  # noqa: F401  (its lifecycle)
import services.registry  # noqa: F401  (registers the providers and the daily report sources)
from services.billing.allocation import InvoicePaymentState
from services.ledger.customers import ID_DOCUMENT_TYPES
from services.ledger.kyc_checks import RESULTS
from services.models.audit import ACTOR_KINDS
from services.models.billing import PAYMENT_METHODS
from services.models.customer import CUSTOMER_KINDS, CUSTOMER_USER_ROLES, KYC_METHODS, KYC_STATUSES
from services.models.staff import STAFF_ROLES
from services.models.support import AUTHOR_KINDS, TICKET_PRIORITIES
from services.models.workflow import (
    ATTEMPT_OUTCOMES,
    INCIDENT_KINDS,
    NOTIFICATION_CHANNELS,
    RECONCILIATION_RUN_STATUSES,
    RECONCILIATION_SOURCES,
    REVIEW_STATUSES,
    SHIPMENT_ITEM_TYPES,
    SHIPMENT_STATUSES,
    ImportBatchEvent,
    ImportBatchStatus,
)
from services.operations.incidents import STATUSES as INCIDENT_STATUSES
from services.platform.labels import (
    CATALOGUE,
    EVENT_LABELS_JA,
    LABELS_JA,
    LANGUAGES,
    LIFECYCLE_NAMES,
    STATE_LABELS_JA,
    label,
    labels,
    state_label,
)
from services.platform.lifecycle import LIFECYCLES
from services.platform.permissions import ROLE_LABELS_JA, Role
from services.workflow.daily_reconciliation import SOURCES
from services.workflow.outbox import PROVIDERS

# kana, kanji, Japanese punctuation and full-width forms (（）、・ ...)
_JAPANESE = re.compile(r"[\u3000-\u30ff\u3400-\u9fff\uff00-\uffef]")
ENTRIES = [pytest.param(group, key, id=f"{group}:{key}") for group, keys in CATALOGUE.items() for key in keys]


def test_languages_are_japanese_then_english():
    assert LANGUAGES == ("ja", "en")


@pytest.mark.parametrize(("group", "key"), ENTRIES)
def test_every_label_has_japanese_and_real_english(group, key):
    entry = CATALOGUE[group][key]
    assert isinstance(entry, tuple) and len(entry) == 2
    ja, en = entry
    assert ja.strip() == ja and en.strip() == en
    assert ja and en
    assert ja != key, "the Japanese label is a code, not a label"
    assert en != key, "the English label is a code, not a label"
    assert not _JAPANESE.search(en), f"Japanese in the English label {en!r}"
    assert en[0].isupper(), f"an English label starts with a capital: {en!r}"
    assert "_" not in en
    assert label(group, key) == ja and label(group, key, "ja") == ja and label(group, key, "en") == en


def test_group_names_are_short_snake_case_and_keys_are_codes():
    for group, keys in CATALOGUE.items():
        assert re.fullmatch(r"(state\.|event\.)?[a-z][a-z_]*", group), group
        assert keys, f"empty group {group}"
        for key in keys:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", key), f"{group}:{key}"


@pytest.mark.parametrize(("group", "key", "lang", "text"), [
    ("state.line", "suspended", "ja", "停止中"),
    ("state.line", "suspended", "en", "Suspended"),
    ("state.line", "needs_review", "en", "Needs review"),
    ("event.line", "suspend", "en", "Suspend"),
    ("state.payment", "matched", "en", "Allocated"),
    ("event.payment", "match", "ja", "消込"),
    ("action", "allocate", "ja", "消込"),
    ("action", "allocate", "en", "Allocation"),
    ("payment_method", "direct_debit", "ja", "口座振替"),
    ("payment_method", "direct_debit", "en", "Direct debit"),
    ("provider", "kyc", "ja", "本人確認"),
    ("provider", "kyc", "en", "ID verification"),
    ("notification_delivery", "unknown", "en", "Needs review"),
    ("kyc_status", "verified", "en", "Verified"),
    ("payment_state", "partially_paid", "en", "Partially paid"),
    ("role", "customer_admin", "ja", "法人管理者"),
    ("role", "auditor", "en", "Auditor"),
    ("record", "sim", "ja", "SIM"),
    ("entity_type", "sim_card", "ja", "SIM"),
    ("id_document", "my_number_card", "en", "My Number card"),
])
def test_hand_picked_translations(group, key, lang, text):
    assert label(group, key, lang) == text


def test_look_ups():
    assert label("state.line", "no_such_state") == "no_such_state"  # an unknown key shows itself
    assert label("payment_state", "", default="") == ""
    assert label("settlement_type", "chargeback", default="取引") == "取引"
    with pytest.raises(KeyError):
        label("no_such_group", "x")
    with pytest.raises(ValueError):
        label("state.line", "active", "fr")
    assert state_label("line", "suspended") == "停止中"
    assert state_label("line", "suspended", lang="en") == "Suspended"
    ja = labels("payment_method")
    assert ja == {"bank_transfer": "銀行振込", "direct_debit": "口座振替", "card": "クレジットカード",
                  "credit_note": "適格返還請求書による相殺"}
    ja["card"] = "changed"  # a copy: the catalogue stays as it is
    assert label("payment_method", "card") == "クレジットカード"
    assert labels("payment_method", "en") == {"bank_transfer": "Bank transfer", "direct_debit": "Direct debit",
                                              "card": "Credit card", "credit_note": "Settled by credit note"}


def test_japanese_views_are_built_from_the_catalogue():
    # import_batch's table (services.imports.batches) is not loaded by the app yet: its names come from the models
    assert set(LIFECYCLE_NAMES) == set(LIFECYCLES) | {"import_batch"}
    assert set(STATE_LABELS_JA["import_batch"]) == _codes(ImportBatchStatus)
    assert set(EVENT_LABELS_JA["import_batch"]) == _codes(ImportBatchEvent)
    assert {f"event.{name}" for name in LIFECYCLE_NAMES} == {g for g in CATALOGUE if g.startswith("event.")}
    for name in LIFECYCLE_NAMES:
        assert LABELS_JA[name] == label("record", name)
        assert STATE_LABELS_JA[name] == labels(f"state.{name}")
        assert EVENT_LABELS_JA[name] == labels(f"event.{name}")
    assert ROLE_LABELS_JA[Role.SALES] == "営業" and ROLE_LABELS_JA.get("user") == "利用者"


def _codes(*tuples) -> set[str]:
    return {str(code) for codes in tuples for code in codes}


@pytest.mark.parametrize(("group", "codes"), [
    ("role", _codes(STAFF_ROLES, CUSTOMER_USER_ROLES, Role)),
    ("actor_kind", _codes(ACTOR_KINDS, AUTHOR_KINDS)),
    ("customer_kind", _codes(CUSTOMER_KINDS)),
    ("kyc_status", _codes(KYC_STATUSES)),
    ("kyc_method", _codes(KYC_METHODS)),
    ("kyc_result", _codes(RESULTS)),
    ("id_document", _codes(ID_DOCUMENT_TYPES)),
    ("payment_method", _codes(PAYMENT_METHODS)),
    ("payment_state", _codes(InvoicePaymentState)),
    ("ticket_priority", _codes(TICKET_PRIORITIES)),
    ("notification_channel", _codes(NOTIFICATION_CHANNELS)),
    ("attempt_outcome", _codes(ATTEMPT_OUTCOMES)),
    ("review_status", _codes(REVIEW_STATUSES)),
    ("run_status", _codes(RECONCILIATION_RUN_STATUSES)),
    ("report_source", _codes(RECONCILIATION_SOURCES)),
    ("shipment_status", _codes(SHIPMENT_STATUSES)),
    ("incident_kind", _codes(INCIDENT_KINDS)),
    ("incident_status", _codes(*INCIDENT_STATUSES.values())),
])
def test_every_stored_code_has_exactly_its_labels(group, codes):
    assert set(CATALOGUE[group]) == codes


def test_every_registered_provider_report_and_shipped_item_has_a_label():
    assert set(PROVIDERS) <= set(CATALOGUE["provider"])
    assert set(SOURCES) == set(CATALOGUE["report_source"])
    for name, source in SOURCES.items():
        assert source.label == label("report_source", name)
    assert set(SHIPMENT_ITEM_TYPES) <= set(CATALOGUE["record"])
